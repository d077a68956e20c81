//! The `understudy` command line as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn understudy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_understudy"))
}

#[test]
fn hello_runs_to_completion() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = understudy()
        .args(["run", &format!("{root}/examples/hello.lua")])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("item 1: square 1\n"), "{text}");
    assert!(
        text.ends_with("Hello from Lua 5.4!\ntick 1\ntick 2\ntick 3\nchannel closed\n"),
        "{text}"
    );
}

#[test]
fn the_run_waits_for_every_task_and_reports_a_deadlock() {
    let out = understudy()
        .args(["run", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(
                b"task.spawn(function() task.sleep(0.05) print('late task') end) print('main done')
                  local c = chan.new() task.spawn(function() task.sleep(0.1) c:recv() end)",
            )?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "main done\nlate task\n"
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "understudy: deadlock: every task is waiting (task 3 in chan recv)\n"
    );
}

#[test]
fn sigterm_stops_a_server_cleanly() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = understudy()
        .args([
            "run",
            &format!("{root}/examples/kv-cache/main.lua"),
            "--port",
            "0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("kv-cache listening on 127.0.0.1:"),
        "{line}"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `understudy-replica` as a user can get it wrong: bad flag values are
/// refused by name with what was expected, and a damaged data directory
/// with the file and the reason, never a panic.
#[test]
fn the_replica_refuses_bad_flags_and_a_damaged_directory() {
    let dir = std::env::temp_dir().join(format!("understudy-cli-replica-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let replica = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_understudy-replica"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--insecure-loopback",
                "--data-dir",
            ])
            .arg(&dir)
            .args(extra)
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for (flags, expected) in [
        (
            &["--ack", "bogus"][..],
            "[possible values: received, fsynced]",
        ),
        (&["--failure-timeout", "abc"][..], "'abc' is not a duration"),
        (&["--serve-on", "x"][..], "'x' is not OLD_ADDR=NEW_ADDR"),
    ] {
        let (code, err) = replica(flags);
        assert_eq!(code, Some(2), "{flags:?}: {err}");
        assert!(err.contains(expected), "{flags:?}: {err}");
    }
    std::fs::write(dir.join("MANIFEST"), "garbage\n").unwrap();
    let (code, err) = replica(&["--ack", "fsynced"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("MANIFEST: bad manifest"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
