//! Understudy's Lua 5.4 runtime: front end, compiler, stackless VM on
//! gc-arena and the standard library.
//!
//! All execution state — globals, threads, frames, registers, upvalues and
//! native continuations — lives in one gc-arena heap, so execution can stop
//! at any instruction boundary and the heap then describes it completely.

pub mod compiler;
pub mod convert;
pub mod host;
pub mod image;
pub mod lualib;
pub mod native;
pub mod runtime;
pub mod sched;
pub mod state;
pub mod stdlib;
pub mod strings;
pub mod syntax;
pub mod table;
pub mod thread;
pub mod value;
pub mod vm;

pub use runtime::{Config, Error, Runtime};
