//! Understudy's checkpoints: the versioned frame format that carries heap
//! images ([`frame`]), and the local store of a base image and its deltas
//! ([`store`]). The runtime takes and restores images
//! (`understudy_runtime::image`); this crate turns them into bytes and
//! back, checking everything before anything is applied.

pub mod frame;
mod log_sync;
pub mod metrics;
pub mod protect;
pub mod protocol;
pub mod replication;
pub mod sender;
pub mod store;

pub use frame::{decode, encode, Compression, FrameError, Header, Kind, Position};
pub use store::{Store, StoreError};

/// A fresh runtime id for the frames of a new run (time and process id:
/// distinct across runs and machines in practice).
pub fn new_runtime_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    nanos ^ (u64::from(std::process::id()) << 32)
}
