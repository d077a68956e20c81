//! The `understudy` command line.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
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

#[derive(Subcommand)]
enum Command {
    /// Run a Lua script like `lua5.4 FILE ARGS...` (`-` reads standard input).
    Run {
        /// Instructions the script may run before it is stopped.
        #[arg(long)]
        fuel: Option<u64>,
        /// Bytes of strings and tables the script may keep alive.
        #[arg(long, default_value_t = 4 << 30)]
        memory_limit: usize,
        /// The script, then its arguments.
        script: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// The VM allocates many small objects (tables, strings, closures); mimalloc
/// serves them much faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Stack for the interpreter thread: the VM itself is stackless, but the
/// parser and compiler recurse over nested syntax.
const MAIN_STACK_BYTES: usize = 256 << 20;

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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run {
            fuel,
            memory_limit,
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
            let mut rt = Runtime::new(Config {
                memory_limit,
                fuel,
                ..Config::default()
            });
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
            let io = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the I/O runtime")?;
            let result = rt
                .load(source, &chunkname, &script_args)
                .and_then(|()| io.block_on(rt.run_until(shutdown_signal())));
            match result {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(Error::Runtime { message, traceback }) => {
                    if traceback.is_empty() {
                        eprintln!("understudy: {message}");
                    } else {
                        eprintln!("understudy: {message}\n{traceback}");
                    }
                    Ok(ExitCode::FAILURE)
                }
                Err(Error::Exit { code }) => Ok(ExitCode::from(code as u8)),
                Err(e) => {
                    eprintln!("understudy: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
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
