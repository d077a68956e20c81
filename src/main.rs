//! The `understudy` command line.

mod inspect;

use std::cell::RefCell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use understudy::runtime::runtime::{CheckpointInfo, CheckpointPolicy};
use understudy_checkpointer::store::{self, Store};
use understudy_runtime::{Config, Error, Runtime};

#[derive(Parser)]
#[command(
    name = "understudy",
    version,
    about = "A Lua 5.4 runtime whose live state follows it to a standby"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Limits {
    /// Instructions the script may run before it is stopped.
    #[arg(long)]
    fuel: Option<u64>,
    /// Bytes of strings and tables the script may keep alive.
    #[arg(long, default_value_t = 4 << 30)]
    memory_limit: usize,
}

#[derive(Args)]
struct Checkpointing {
    /// Write checkpoints (a base image and deltas) into this directory.
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    /// Logical time between checkpoints, e.g. `50ms`, `2s` (with
    /// --checkpoint-dir; default 1s).
    #[arg(long, value_parser = parse_duration)]
    checkpoint_every: Option<Duration>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a Lua script like `lua5.4 FILE ARGS...` (`-` reads standard input).
    /// Options before the script belong to understudy, arguments after it
    /// to the script.
    Run {
        #[command(flatten)]
        limits: Limits,
        #[command(flatten)]
        checkpointing: Checkpointing,
        /// The script, then its arguments.
        script: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Continue a program from the newest checkpoint in DIR (and keep
    /// checkpointing into it).
    Resume {
        #[command(flatten)]
        limits: Limits,
        /// Logical time between checkpoints (default 1s).
        #[arg(long, value_parser = parse_duration)]
        checkpoint_every: Option<Duration>,
        dir: PathBuf,
    },
    /// Describe a checkpoint directory or frame file: epochs, sizes, object
    /// counts by type, the largest objects and the pauses.
    Inspect {
        /// A checkpoint directory, or a file of frames.
        path: PathBuf,
        /// How many of the largest objects to list.
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
}

/// `250ms`, `2s`, `1m`, or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (like 50ms, 2s, 1m)"))?;
    let scale = match unit {
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        _ => return Err(format!("unknown unit '{unit}' in '{s}' (use ms, s or m)")),
    };
    if !(value * scale).is_finite() || value < 0.0 {
        return Err(format!("'{s}' is not a duration"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// The VM allocates many small objects (tables, strings, closures); mimalloc
/// serves them much faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Stack for the interpreter thread: the VM itself is stackless, but the
/// parser and compiler recurse over nested syntax.
const MAIN_STACK_BYTES: usize = 256 << 20;

/// Checkpoint interval when a directory is given without one.
const DEFAULT_CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let worker = std::thread::Builder::new()
        .name("understudy".into())
        .stack_size(MAIN_STACK_BYTES)
        .spawn(move || run(cli))
        .expect("spawning the interpreter thread");
    match worker.join() {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("understudy: {e:#}");
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::FAILURE,
    }
}

fn config(limits: &Limits) -> Config {
    Config {
        memory_limit: limits.memory_limit,
        fuel: limits.fuel,
        ..Config::default()
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run {
            limits,
            checkpointing,
            script,
            args,
        } => {
            let (source, chunkname) = if script == "-" {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .context("reading standard input")?;
                (buf, "=stdin".to_owned())
            } else {
                let buf =
                    std::fs::read(&script).with_context(|| format!("cannot open {script}"))?;
                (buf, format!("@{script}"))
            };
            let mut rt = Runtime::new(config(&limits));
            // `arg` as lua5.4 sets it: the script at 0, the interpreter below.
            let mut arg: Vec<(i64, Vec<u8>)> =
                vec![(-1, b"understudy".to_vec()), (0, script.into_bytes())];
            arg.extend(
                args.iter()
                    .enumerate()
                    .map(|(i, a)| (i as i64 + 1, a.as_bytes().to_vec())),
            );
            rt.set_global_array("arg", &arg);
            let script_args: Vec<Vec<u8>> = args.into_iter().map(String::into_bytes).collect();
            let source = understudy::runtime::runtime::skip_shebang(&source);
            if let Err(e) = rt.load(source, &chunkname, &script_args) {
                return Ok(report(e));
            }
            let store = match &checkpointing.checkpoint_dir {
                Some(dir) => Some(start_checkpointing(
                    &mut rt,
                    dir,
                    checkpointing.checkpoint_every,
                    new_runtime_id(),
                )?),
                None => None,
            };
            drive(rt, store)
        }
        Command::Resume {
            limits,
            checkpoint_every,
            dir,
        } => {
            let loaded = store::load(&dir)
                .with_context(|| format!("reading checkpoints in {}", dir.display()))?;
            if let Some(why) = &loaded.stopped_at {
                eprintln!(
                    "understudy: resuming at epoch {} (a later frame was unusable: {why})",
                    loaded.epoch
                );
            }
            let mut rt = Runtime::new(config(&limits));
            rt.restore(&loaded.image).with_context(|| {
                format!("restoring epoch {} of {}", loaded.epoch, dir.display())
            })?;
            let store = start_checkpointing(&mut rt, &dir, checkpoint_every, loaded.runtime_id)?;
            drive(rt, Some(store))
        }
        Command::Inspect { path, top } => {
            inspect::print(&path, top)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn new_runtime_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Errors of the checkpoint writer, reported once the run ends.
type WriteErrors = Rc<RefCell<Vec<String>>>;

/// Opens the store in `dir` and makes the runtime write a checkpoint into
/// it by the interval, starting with one now.
fn start_checkpointing(
    rt: &mut Runtime,
    dir: &Path,
    every: Option<Duration>,
    runtime_id: u64,
) -> anyhow::Result<WriteErrors> {
    let store = Store::open(dir, runtime_id)
        .with_context(|| format!("opening the checkpoint directory {}", dir.display()))?;
    let store = Rc::new(RefCell::new(store));
    let errors: WriteErrors = Rc::default();
    let sink_errors = errors.clone();
    rt.set_checkpointing(
        CheckpointPolicy {
            every: Some(every.unwrap_or(DEFAULT_CHECKPOINT_EVERY)),
            every_instructions: None,
        },
        move |image, info: &CheckpointInfo| {
            let mut store = store.borrow_mut();
            let written = store.write(image).and_then(|w| {
                store.record_stats(&format!(
                    "epoch {} {} pause_us {} records {} bytes {}",
                    w.epoch,
                    if info.full { "full" } else { "delta" },
                    info.pause.as_micros(),
                    info.records,
                    w.bytes
                ))
            });
            if let Err(e) = written {
                sink_errors.borrow_mut().push(e.to_string());
            }
        },
    );
    rt.checkpoint_now();
    Ok(errors)
}

/// Runs until every task finishes or a signal; with checkpointing, a last
/// checkpoint is taken at the end so `resume` continues from there.
fn drive(mut rt: Runtime, store: Option<WriteErrors>) -> anyhow::Result<ExitCode> {
    let io = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the I/O runtime")?;
    let result = io.block_on(rt.run_until(shutdown_signal()));
    if let Some(errors) = store {
        if result.is_ok() {
            rt.checkpoint_now();
        }
        for e in errors.borrow().iter() {
            eprintln!("understudy: checkpoint not written: {e}");
        }
    }
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Ok(report(e)),
    }
}

fn report(e: Error) -> ExitCode {
    match e {
        Error::Runtime { message, traceback } => {
            if traceback.is_empty() {
                eprintln!("understudy: {message}");
            } else {
                eprintln!("understudy: {message}\n{traceback}");
            }
            ExitCode::FAILURE
        }
        Error::Exit { code } => ExitCode::from(code as u8),
        e => {
            eprintln!("understudy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM: the run stops between two task turns and the
/// process exits cleanly (output flushed).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
