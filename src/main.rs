//! The `understudy` command line.

mod inspect;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use understudy_checkpointer::protect::{self, ProtectOptions, Protection};
use understudy_checkpointer::replication::Certs;
use understudy_checkpointer::store;
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
    /// Logical time between checkpoints, e.g. `50ms`, `2s` (default 1s,
    /// or 10ms when replicating).
    #[arg(long, value_parser = parse_duration)]
    checkpoint_every: Option<Duration>,
    /// Stream checkpoints to the replica listening here (QUIC).
    #[arg(long)]
    replicate_to: Option<std::net::SocketAddr>,
    /// Certificates from `understudy certs` (ca.der, primary.der, primary.key).
    #[arg(long, requires = "replicate_to")]
    certs: Option<PathBuf>,
    /// No certificates: the replica is not authenticated. For tests on
    /// 127.0.0.1 only (refused elsewhere).
    #[arg(long, requires = "replicate_to", conflicts_with = "certs")]
    insecure_loopback: bool,
    /// `output-commit`: bytes written to a socket leave only once the
    /// replica holds the epoch that wrote them, so no client sees a reply
    /// the replica could lose. `async`: they leave at once; a failover can
    /// lose the last ~interval of acknowledged writes.
    #[arg(long, value_enum, default_value_t = Consistency::OutputCommit)]
    consistency: Consistency,
    /// Serve Prometheus metrics of the replication on this address
    /// (`GET /metrics`).
    #[arg(long, requires = "replicate_to")]
    metrics: Option<std::net::SocketAddr>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Consistency {
    OutputCommit,
    Async,
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
    /// Make a CA and certificates for a replica and a primary (mutual TLS
    /// of the replication link).
    Certs {
        #[arg(long)]
        out: PathBuf,
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
/// Checkpoint interval when replicating without one.
const DEFAULT_REPLICATION_EVERY: Duration = Duration::from_millis(10);

fn main() -> ExitCode {
    // Warnings (a replica that refused a frame, a link given up) go to
    // stderr; RUST_LOG=info shows more.
    understudy::init_logging("warn");
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
            let protection = start_checkpointing(
                &mut rt,
                &checkpointing,
                understudy_checkpointer::new_runtime_id(),
            )?;
            drive(rt, protection, checkpointing.metrics)
        }
        Command::Resume {
            limits,
            checkpoint_every,
            dir,
        } => {
            // The runtime follows the store's chain frame by frame, as a
            // standby follows its primary: the base is built once and each
            // delta applied to the heap in place, with one frame decoded at
            // a time and no image of the whole heap kept beside it.
            let started = std::time::Instant::now();
            let mut rt = Runtime::new(config(&limits));
            let replayed = store::replay(&dir, &mut |_, image| rt.follow(&image))
                .with_context(|| format!("restoring the checkpoints in {}", dir.display()))?;
            rt.take_over();
            tracing::info!(
                "restored epoch {} ({} frames) in {:.1} ms",
                replayed.epoch,
                replayed.frames.len(),
                started.elapsed().as_secs_f64() * 1e3
            );
            if let Some(why) = &replayed.stopped_at {
                eprintln!(
                    "understudy: resuming at epoch {} (a later frame was unusable: {why})",
                    replayed.epoch
                );
            }
            let checkpointing = Checkpointing {
                checkpoint_dir: Some(dir),
                checkpoint_every,
                replicate_to: None,
                certs: None,
                consistency: Consistency::Async,
                metrics: None,
                insecure_loopback: false,
            };
            let protection = start_checkpointing(&mut rt, &checkpointing, replayed.runtime_id)?;
            drive(rt, protection, None)
        }
        Command::Certs { out } => {
            understudy_checkpointer::replication::make_certs(&out)
                .with_context(|| format!("writing certificates into {}", out.display()))?;
            println!(
                "wrote {0}/ca.der, {0}/replica.der + .key, {0}/primary.der + .key",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect { path, top } => {
            inspect::print(&path, top)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Makes the runtime checkpoint into a directory and/or to a replica, by
/// the interval, starting with one now. None when neither is asked for.
fn start_checkpointing(
    rt: &mut Runtime,
    options: &Checkpointing,
    runtime_id: u64,
) -> anyhow::Result<Option<Protection>> {
    if options.checkpoint_dir.is_none() && options.replicate_to.is_none() {
        return Ok(None);
    }
    let replica = match options.replicate_to {
        Some(addr) => {
            let client = if options.insecure_loopback {
                eprintln!("understudy: insecure loopback mode: the replica is not authenticated");
                understudy_checkpointer::replication::insecure::client_config(addr)?
            } else {
                let dir = options.certs.as_ref().context(
                    "--replicate-to needs --certs DIR (see `understudy certs`) or --insecure-loopback",
                )?;
                let certs = Certs::load(dir, "primary").context("loading certificates")?;
                understudy_checkpointer::replication::client_config(&certs)?
            };
            Some((addr, client))
        }
        None => None,
    };
    let every = options.checkpoint_every.unwrap_or(if replica.is_some() {
        DEFAULT_REPLICATION_EVERY
    } else {
        DEFAULT_CHECKPOINT_EVERY
    });
    let protection = Protection::start(
        rt,
        ProtectOptions {
            runtime_id,
            every,
            checkpoint_dir: options.checkpoint_dir.clone(),
            replica,
            consistency: match options.consistency {
                Consistency::OutputCommit => protect::Consistency::OutputCommit,
                Consistency::Async => protect::Consistency::Async,
            },
        },
    )
    .with_context(|| match &options.checkpoint_dir {
        Some(dir) => format!("checkpointing into {}", dir.display()),
        None => "starting replication".to_owned(),
    })?;
    Ok(Some(protection))
}

/// Runs until every task finishes, a signal, or (replicating) a replica
/// that took over fences this primary. With checkpointing, a last
/// checkpoint is taken at the end so `resume` continues from there.
fn drive(
    mut rt: Runtime,
    protection: Option<Protection>,
    metrics: Option<std::net::SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let io = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the I/O runtime")?;
    let was_fenced = std::cell::Cell::new(false);
    // The handlers go in now: a signal that arrives before the run first
    // looks at them must still stop it cleanly.
    let signals = {
        let _guard = io.enter();
        understudy::shutdown::Signals::install()
    };
    let progress = protection.as_ref().and_then(Protection::progress);
    if let (Some(addr), Some(progress)) = (metrics, progress.clone()) {
        let bound = io
            .block_on(understudy_checkpointer::metrics::serve(
                addr,
                std::sync::Arc::new(move || progress.render()),
            ))
            .with_context(|| format!("serving metrics on {addr}"))?;
        eprintln!("understudy: metrics on http://{bound}/metrics");
    }
    let stop = async {
        let fenced = async {
            match &protection {
                Some(p) => p.fenced().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = signals.recv() => {}
            _ = fenced => was_fenced.set(true),
        }
    };
    let result = io.block_on(rt.run_until(stop));
    if was_fenced.get() {
        eprintln!("understudy: a replica took over with a newer term; this primary stops");
        return Ok(ExitCode::FAILURE);
    }
    if let Some(p) = protection {
        if result.is_ok() {
            rt.checkpoint_now();
        }
        if let Some((n, median, p99)) = progress.as_ref().and_then(|p| p.ack_latency()) {
            eprintln!(
                "understudy: replication: {n} epochs acknowledged; ack latency median {:.2} ms, p99 {:.2} ms",
                median.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            );
        }
        for e in p.errors() {
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
