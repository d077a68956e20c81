//! Understudy: a Lua 5.4 runtime whose live state is meant to follow it to a
//! hot-standby replica. This facade re-exports the crates of the workspace
//! and is the embedding API.
//!
//! ```
//! use understudy::{Config, Runtime};
//!
//! let mut rt = Runtime::new(Config::default());
//! rt.register("app.double", |x: i64| Ok(x * 2));
//! rt.exec(b"function answer() return app.double(21) end", "=example", &[]).unwrap();
//! let n: i64 = rt.call_blocking("answer", ()).unwrap();
//! assert_eq!(n, 42);
//! ```
//!
//! In async code, load a chunk and drive the scheduler on your tokio
//! runtime (a current-thread one: the runtime is not `Send`):
//!
//! ```
//! use understudy::{Config, Runtime};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let mut rt = Runtime::new(Config { virtual_time: true, ..Config::default() });
//! rt.register_async("app.fetch", |key: String| async move {
//!     tokio::task::yield_now().await;
//!     Ok(format!("value of {key}"))
//! });
//! rt.load(b"ticks = 0 task.spawn(function() while true do task.sleep(1) ticks = ticks + 1 end end)", "=main", &[]).unwrap();
//! let v: String = rt.call("app.fetch", "k").await.unwrap();
//! assert_eq!(v, "value of k");
//! // A server runs until told to stop; a later run continues it.
//! rt.run_until(tokio::task::yield_now()).await.unwrap();
//! # });
//! ```

pub use understudy_runtime as runtime;
pub use understudy_runtime::convert::{
    FromLua, FromLuaMulti, IntoLua, IntoLuaMulti, LuaValue, MultiValue,
};
pub use understudy_runtime::runtime::TaskFailure;
pub use understudy_runtime::{Config, Error, Runtime};

/// Stopping the command-line programs cleanly.
pub mod shutdown {
    /// Ctrl-C or SIGTERM, for the command-line programs: the run stops
    /// between two task turns and the process exits cleanly.
    pub struct Signals {
        #[cfg(unix)]
        interrupt: Option<tokio::signal::unix::Signal>,
        #[cfg(unix)]
        terminate: Option<tokio::signal::unix::Signal>,
    }

    impl Signals {
        /// Registers the handlers (inside a tokio runtime).
        pub fn install() -> Signals {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                Signals {
                    interrupt: signal(SignalKind::interrupt()).ok(),
                    terminate: signal(SignalKind::terminate()).ok(),
                }
            }
            #[cfg(not(unix))]
            Signals {}
        }

        pub async fn recv(mut self) {
            #[cfg(unix)]
            {
                async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
                    match s {
                        Some(s) => {
                            s.recv().await;
                        }
                        None => std::future::pending().await,
                    }
                }
                tokio::select! {
                    _ = next(&mut self.interrupt) => {}
                    _ = next(&mut self.terminate) => {}
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// The README's Rust examples run as doc tests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Sends `tracing` output to stderr, at `default` unless `RUST_LOG` says
/// otherwise (both binaries use it).
pub fn init_logging(default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .init();
}
