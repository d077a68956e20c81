//! The replication protocol as sans-IO state machines: [`Primary`] and
//! [`Standby`] take messages, images and the time as arguments and answer
//! with messages to send, timers and events. The tokio + quinn drivers
//! (`crate::sender`, the replica crate) only move bytes; the simulator
//! (`tests/simulation.rs`) drives the same machines through seeded faults.
//!
//! The link: one QUIC connection per primary, a bidirectional control
//! stream (Hello, Welcome, heartbeats, acks, fencing) and a
//! unidirectional data stream (frames). Control never waits behind a
//! frame, and both sides count liveness from bytes, not messages.

pub mod primary;
pub mod standby;
pub mod storage;
pub mod wire;

pub use primary::{Primary, PrimaryConfig, PrimaryEvent};
pub use standby::{AckLevel, LinkId, Standby, StandbyConfig, StandbyEvent};
pub use storage::{DirStorage, MemStorage, Storage, StorageError};
pub use wire::{Framer, ToPrimary, ToStandby};
