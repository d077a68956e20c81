//! An application that embeds Understudy, with a native function of its
//! own, replicates to a standby run through the library; when the primary
//! stops, the standby resumes the program with the same native registered.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use understudy_checkpointer::protocol::PrimaryConfig;
use understudy_checkpointer::replication::{make_certs, Certs};
use understudy_checkpointer::sender::Sender;
use understudy_replica::Standby;
use understudy_runtime::runtime::{CheckpointPolicy, SharedBuffer};
use understudy_runtime::{Config, Runtime};

/// The application's runtime: the same natives on both sides.
fn app_runtime(out: SharedBuffer) -> Runtime {
    let mut rt = Runtime::new(Config::default());
    rt.register("app.tag", |n: i64| Ok(format!("tick-{n}")));
    rt.set_output(Box::new(out));
    rt
}

const PROGRAM: &[u8] = br#"
n = n or 0
while n < 60 do
  n = n + 1
  if n % 10 == 0 then print(app.tag(n)) end
  task.sleep(0.01)
end
print("done at", n)
"#;

/// A standby on its own thread (its own tokio runtime): once it takes
/// over, it resumes the program in the runtime `build` makes (with the
/// application's natives) and returns what the program printed. Also
/// returns the address primaries connect to.
fn spawn_standby(
    certs: PathBuf,
    data: PathBuf,
    build: fn(SharedBuffer) -> Runtime,
) -> (std::thread::JoinHandle<String>, SocketAddr) {
    let (addr_tx, addr_rx) = mpsc::channel();
    let standby = std::thread::spawn(move || {
        let io = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        io.block_on(async move {
            let certs = Certs::load(&certs, "replica").unwrap();
            let endpoint =
                understudy_replica::endpoint("127.0.0.1:0".parse().unwrap(), &certs).unwrap();
            addr_tx.send(endpoint.local_addr().unwrap()).unwrap();
            let out = SharedBuffer::default();
            let mut rt = build(out.clone());
            let mut takeover = understudy_replica::stand_by(
                Standby::open(&data).unwrap(),
                endpoint,
                understudy_checkpointer::protocol::StandbyConfig::default(),
                &[],
                &mut rt,
            )
            .await
            .unwrap();
            let resumed = takeover.resume(&mut rt).unwrap();
            // The runtime followed the standby: nothing was rebuilt.
            assert!(resumed.hot, "the program was rebuilt at takeover");
            tokio::time::timeout(Duration::from_secs(20), rt.run())
                .await
                .expect("the resumed program finishes")
                .unwrap();
            let text = String::from_utf8_lossy(&out.0.borrow()).into_owned();
            text
        })
    });
    (standby, addr_rx.recv().unwrap())
}

#[test]
fn an_embedded_program_with_its_natives_fails_over() {
    let dir = std::env::temp_dir().join(format!("understudy-embedded-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    make_certs(&dir.join("certs")).unwrap();
    let data = dir.join("data");

    // The standby, on its own thread.
    let (standby, replica_addr) = spawn_standby(dir.join("certs"), data, app_runtime);

    // The primary: runs part of the program, replicating, then stops dead.
    let primary_out = SharedBuffer::default();
    let mut rt = app_runtime(primary_out.clone());
    let certs = Certs::load(&dir.join("certs"), "primary").unwrap();
    let sender = Sender::start(
        replica_addr,
        certs,
        PrimaryConfig::new(42),
        rt.full_image_request(),
    )
    .unwrap();
    let acked = sender.progress.acked.clone();
    rt.set_checkpointing(
        CheckpointPolicy {
            every: Some(Duration::from_millis(5)),
            every_instructions: None,
        },
        move |image, _| {
            sender.submit(image);
        },
    );
    rt.load(PROGRAM, "=app", &[]).unwrap();
    rt.checkpoint_now();
    let io = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Run until the program has printed twice, and the replica holds it.
    io.block_on(async {
        let printed_twice = async {
            while primary_out.0.borrow().split(|b| *b == b'\n').count() < 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        rt.run_until(printed_twice).await.unwrap();
    });
    rt.checkpoint_now();
    let target = acked.load(std::sync::atomic::Ordering::SeqCst);
    let mut waited = 0;
    while acked.load(std::sync::atomic::Ordering::SeqCst) <= target && waited < 400 {
        std::thread::sleep(Duration::from_millis(5));
        waited += 1;
    }
    // The primary dies: its runtime and sender are gone.
    drop(rt);
    drop(io);

    let resumed = standby.join().unwrap();
    let before = String::from_utf8_lossy(&primary_out.0.borrow()).into_owned();
    assert_eq!(before, "tick-10\ntick-20\n");
    // The standby continues from where the primary's last image stood,
    // calling the application's native.
    assert!(resumed.ends_with("tick-60\ndone at\t60\n"), "{resumed}");
    assert!(
        !resumed.contains("tick-10\n"),
        "the standby started over: {resumed}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Short turns on a virtual clock: many safepoints, reproducible output.
fn fidelity_config() -> Config {
    Config {
        virtual_time: true,
        slice: 61,
        ..Config::default()
    }
}

/// Resume fidelity through the replica: a program with tasks sleeping,
/// channels holding values and coroutines suspended, stopped on the primary
/// at a safepoint after its checkpoint is acknowledged, finishes on the
/// standby with exactly the output of an uninterrupted run.
#[test]
fn programs_resume_on_the_standby_as_if_never_interrupted() {
    let dir = std::env::temp_dir().join(format!("understudy-fidelity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    make_certs(&dir.join("certs")).unwrap();
    let programs = ["tasks_and_channels.lua", "suspended_everywhere.lua"];
    for (p, name) in programs.iter().enumerate() {
        let path = format!("{}/../tests/checkpoint/{name}", env!("CARGO_MANIFEST_DIR"));
        let source = std::fs::read(&path).unwrap();
        // Uninterrupted, counting turns.
        let expected = SharedBuffer::default();
        let mut rt = Runtime::new(fidelity_config());
        rt.set_output(Box::new(expected.clone()));
        rt.load(&source, "=program", &[]).unwrap();
        let mut turns = 0u64;
        while !rt.run_turns(1).unwrap() {
            turns += 1;
        }
        let expected = String::from_utf8_lossy(&expected.0.borrow()).into_owned();
        for (k, stop_at) in [turns / 4, turns / 2, turns * 3 / 4]
            .into_iter()
            .enumerate()
        {
            let stop_at = stop_at.max(1);
            let data = dir.join(format!("data-{p}-{k}"));
            let (standby, replica_addr) = spawn_standby(dir.join("certs"), data, |out| {
                let mut rt = Runtime::new(fidelity_config());
                rt.set_output(Box::new(out));
                rt
            });
            let out = SharedBuffer::default();
            let mut rt = Runtime::new(fidelity_config());
            rt.set_output(Box::new(out.clone()));
            let sender = Sender::start(
                replica_addr,
                Certs::load(&dir.join("certs"), "primary").unwrap(),
                PrimaryConfig::new(7),
                rt.full_image_request(),
            )
            .unwrap();
            let progress = sender.progress.clone();
            rt.set_checkpointing(CheckpointPolicy::default(), move |image, _| {
                sender.submit(image);
            });
            rt.load(&source, "=program", &[]).unwrap();
            rt.checkpoint_now();
            assert!(
                !rt.run_turns(stop_at).unwrap(),
                "{name} ended before turn {stop_at}"
            );
            rt.checkpoint_now();
            let submitted = progress.submitted.load(std::sync::atomic::Ordering::SeqCst);
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while progress.acked.load(std::sync::atomic::Ordering::SeqCst) < submitted {
                assert!(std::time::Instant::now() < deadline, "no acknowledgement");
                std::thread::sleep(Duration::from_millis(2));
            }
            let before = String::from_utf8_lossy(&out.0.borrow()).into_owned();
            drop(rt); // the primary stops here
            let after = standby.join().unwrap();
            assert_eq!(
                format!("{before}{after}"),
                expected,
                "{name} stopped at turn {stop_at} of {turns}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
