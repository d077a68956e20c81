//! Differential conformance suite.
//!
//! Every `tests/conformance/NAME.lua` is run as `understudy run NAME.lua` from inside that
//! folder (so chunk names in error messages read `NAME.lua:LINE:`), and its stdout must equal
//! `NAME.expected` byte for byte. The expectations are generated with the reference `lua5.4`;
//! when `lua5.4` is on PATH it is run too, so an expectation that no longer matches the
//! reference (stale or hand-edited) is reported instead of being silently trusted.

use std::env;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Each program takes well under a second under lua5.4, so reaching this means a hang.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Guards against the directory listing silently matching (almost) nothing.
const MIN_PROGRAMS: usize = 80;
/// The programs are small; a few workers are enough to keep a 2-core machine busy.
const MAX_THREADS: usize = 4;
/// How many trailing stderr lines to show for a failing program.
const STDERR_TAIL_LINES: usize = 8;

struct Outcome {
    /// `None` when the process was killed after `TIMEOUT`.
    status: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `exe args...` in `dir`, killing it after `TIMEOUT`.
fn run(exe: &Path, args: &[&str], dir: &Path) -> Result<Outcome, String> {
    let mut child = Command::new(exe)
        .args(args)
        .current_dir(dir)
        // os_lib.lua formats local dates: pin the zone and locale the expectations were made with.
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    // Drain the pipes concurrently: a child blocked on a full pipe would look like a hang.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());

    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= TIMEOUT => {
                // Ignore errors: the child may have exited between the poll and the kill.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => {
                thread::sleep(pause);
                // Back off so short programs finish promptly and long ones cost little CPU.
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("cannot wait for {}: {e}", exe.display())),
        }
    };
    Ok(Outcome {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error just truncates the capture, which the comparison then reports.
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

/// Describes the first line where `got` departs from `expected`; `None` if they are equal.
fn first_difference(expected: &[u8], got: &[u8]) -> Option<String> {
    if expected == got {
        return None;
    }
    // Lines keep their '\n', so a missing final newline shows up as a difference too.
    let expected: Vec<&[u8]> = expected.split_inclusive(|&b| b == b'\n').collect();
    let got: Vec<&[u8]> = got.split_inclusive(|&b| b == b'\n').collect();
    let line = (0..expected.len().max(got.len()))
        .find(|&i| expected.get(i) != got.get(i))
        .unwrap_or(0);
    let show = |l: Option<&&[u8]>| match l {
        Some(bytes) => format!("{:?}", String::from_utf8_lossy(bytes)),
        None => "<end of output>".to_string(),
    };
    Some(format!(
        "line {}\n  expected: {}\n  got:      {}",
        line + 1,
        show(expected.get(line)),
        show(got.get(line))
    ))
}

fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n")
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// Checks one program; the error describes everything that went wrong with it.
fn check(
    name: &str,
    dir: &Path,
    understudy: &Path,
    reference: Option<&Path>,
) -> Result<(), String> {
    let expected_path = dir.join(format!("{name}.expected"));
    let expected = fs::read(&expected_path)
        .map_err(|e| format!("cannot read {}: {e}", expected_path.display()))?;
    let script = format!("{name}.lua");
    let mut problems = Vec::new();

    if let Some(lua) = reference {
        let reference_run = run(lua, &[&script], dir)?;
        if let Some(diff) = first_difference(&expected, &reference_run.stdout) {
            problems.push(format!(
                "stale expectation: lua5.4 output differs from {name}.expected at {diff}"
            ));
        }
    }

    let outcome = run(understudy, &["run", &script], dir)?;
    match outcome.status {
        None => problems.push(format!("timed out after {} s", TIMEOUT.as_secs())),
        // Every program exits 0 under lua5.4, so any other status is a crash or stray error.
        Some(status) if !status.success() => problems.push(format!("understudy {status}")),
        Some(_) => {}
    }
    if let Some(diff) = first_difference(&expected, &outcome.stdout) {
        problems.push(format!("stdout differs at {diff}"));
    }
    if problems.is_empty() {
        return Ok(());
    }
    if !outcome.stderr.is_empty() {
        problems.push(format!(
            "stderr (tail):\n{}",
            indent(&stderr_tail(&outcome.stderr))
        ));
    }
    Err(problems.join("\n"))
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Sorted stems of the `*.lua` files in `dir`.
/// Names listed in `KNOWN_FAILURES` (one per line, `#` starts a comment):
/// programs that do not match lua5.4 yet.
fn known_failures(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("KNOWN_FAILURES"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

fn program_names(dir: &Path) -> Vec<String> {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|entry| entry.expect("cannot read directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "lua"))
        .filter_map(|path| Some(path.file_stem()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    names
}

#[test]
fn conformance() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("conformance");
    let understudy = Path::new(env!("CARGO_BIN_EXE_understudy"));
    let reference = find_on_path("lua5.4");
    let names = program_names(&dir);
    assert!(
        names.len() >= MIN_PROGRAMS,
        "expected at least {MIN_PROGRAMS} programs in {}, found {}",
        dir.display(),
        names.len()
    );

    let threads = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, MAX_THREADS);
    let mut results: Vec<(&str, Result<(), String>)> = thread::scope(|scope| {
        // Deal the programs round-robin so neighbouring (similar-cost) programs spread out.
        let workers: Vec<_> = (0..threads)
            .map(|first| {
                let (names, dir, reference) = (&names, &dir, reference.as_deref());
                scope.spawn(move || {
                    names
                        .iter()
                        .skip(first)
                        .step_by(threads)
                        .map(|name| (name.as_str(), check(name, dir, understudy, reference)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("conformance worker panicked"))
            .collect()
    });
    results.sort_by(|a, b| a.0.cmp(b.0));

    // Known failures still run: one that passes must leave the list, and a
    // stale expectation is never excused.
    let known = known_failures(&dir);
    let mut known_failed = 0;
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(name, result)| {
            let is_known = known.iter().any(|k| k == name);
            match result {
                Ok(()) if is_known => Some(format!(
                    "--- {name}.lua\n    passes now: remove it from KNOWN_FAILURES\n"
                )),
                Ok(()) => None,
                Err(problems) if is_known && !problems.contains("stale expectation") => {
                    known_failed += 1;
                    None
                }
                Err(problems) => Some(format!("--- {name}.lua\n{}", indent(problems))),
            }
        })
        .collect();
    let summary = format!(
        "conformance: {} passed, {} failed, {known_failed} known failures",
        results.len() - failures.len() - known_failed,
        failures.len()
    );
    if reference.is_none() {
        println!("note: lua5.4 is not on PATH, so the expectations were not re-checked");
    }
    println!("{summary}");
    assert!(failures.is_empty(), "\n{}{summary}", failures.concat());
}
