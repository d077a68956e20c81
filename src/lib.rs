//! Understudy: a Lua 5.4 runtime whose live state is meant to follow it to a
//! hot-standby replica. This facade re-exports the crates of the workspace.
//!
//! ```
//! use understudy::{Config, Runtime};
//!
//! let mut rt = Runtime::new(Config::default());
//! rt.exec(b"local x = 6 * 7 assert(x == 42)", "=example", &[]).unwrap();
//! ```

pub use understudy_runtime as runtime;
pub use understudy_runtime::{Config, Error, Runtime};

/// The README's Rust examples run as doc tests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
