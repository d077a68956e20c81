//! Protecting a running program with one call: checkpoints into a local
//! directory and/or a replica, output commit, and the fencing watch. This
//! is what `understudy run --checkpoint-dir/--replicate-to` does; an
//! embedder gets the same with [`Protection::start`].

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use understudy_runtime::image::Image;
use understudy_runtime::runtime::{CheckpointInfo, CheckpointPolicy};
use understudy_runtime::Runtime;

use crate::protocol::PrimaryConfig;
use crate::replication::LinkError;
use crate::sender::{Progress, Sender};
use crate::store::{Store, StoreError};

/// What a client may see before the replica holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// Socket output of epoch E leaves only once the replica holds E.
    #[default]
    OutputCommit,
    /// Output leaves at once; a failover can lose the last epochs.
    Async,
}

/// Where the checkpoints go.
pub struct ProtectOptions {
    /// The id the frames carry (see [`crate::new_runtime_id`]).
    pub runtime_id: u64,
    /// Logical time between checkpoints.
    pub every: Duration,
    /// A local checkpoint store.
    pub checkpoint_dir: Option<PathBuf>,
    /// A replica, and the QUIC client config that authenticates it.
    pub replica: Option<(SocketAddr, quinn::ClientConfig)>,
    pub consistency: Consistency,
}

#[derive(Debug, thiserror::Error)]
pub enum ProtectError {
    #[error("opening the checkpoint directory: {0}")]
    Store(#[from] StoreError),
    #[error("starting replication: {0}")]
    Link(#[from] LinkError),
}

/// A program under protection.
pub struct Protection {
    /// Errors of the local writer, in order.
    errors: Rc<RefCell<Vec<String>>>,
    sender: Option<Rc<Sender>>,
}

impl Protection {
    /// Makes `rt` checkpoint by `options`, starting with an image now: a
    /// full one, or a delta when `rt` was restored from the newest epoch
    /// of the checkpoint directory and there is no replica.
    pub fn start(rt: &mut Runtime, options: ProtectOptions) -> Result<Protection, ProtectError> {
        let store = match &options.checkpoint_dir {
            Some(dir) => Some(Store::open(dir, options.runtime_id)?),
            None => None,
        };
        let full_wanted = rt.full_image_request();
        let sender = match options.replica {
            Some((addr, client)) => Some(Rc::new(Sender::start_with(
                addr,
                client,
                PrimaryConfig::new(options.runtime_id),
                full_wanted.clone(),
            )?)),
            None => None,
        };
        let errors: Rc<RefCell<Vec<String>>> = Rc::default();
        let sink_errors = errors.clone();
        let sink_sender = sender.clone();
        let mut store = store;
        // A program resumed from this directory continues its chain with
        // a delta (a replica still starts from a full image).
        let continues = sender.is_none()
            && store.as_ref().is_some_and(|s| {
                rt.restored_epoch()
                    .is_some_and(|epoch| s.continues(options.runtime_id, epoch))
            });
        let policy = CheckpointPolicy {
            every: Some(options.every),
            every_instructions: None,
        };
        let sink = move |image: Image, info: &CheckpointInfo| {
            // The replica gets the image first (the local fsync must
            // not delay it); it takes the image itself unless the
            // store needs it after.
            let image = match &sink_sender {
                Some(sender) => {
                    sender
                        .progress
                        .last_pause_us
                        .store(info.pause.as_micros() as u64, Ordering::SeqCst);
                    if store.is_some() {
                        sender.submit(image.clone());
                        image
                    } else {
                        sender.submit(image);
                        return;
                    }
                }
                None => image,
            };
            let Some(store) = store.as_mut() else { return };
            let written = store.write(&image).and_then(|w| {
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
                // The store's chain is broken: it continues from the
                // next full image.
                full_wanted.request();
                sink_errors.borrow_mut().push(e.to_string());
            }
        };
        if continues {
            rt.continue_checkpointing(policy, sink);
        } else {
            rt.set_checkpointing(policy, sink);
        }
        if let (Some(s), Consistency::OutputCommit) = (&sender, options.consistency) {
            rt.set_output_commit(s.progress.acked.clone(), s.progress.ack_signal.clone());
        }
        rt.checkpoint_now();
        Ok(Protection { errors, sender })
    }

    /// The replication's counters (None without a replica).
    pub fn progress(&self) -> Option<Arc<Progress>> {
        self.sender.as_ref().map(|s| s.progress.clone())
    }

    /// Completes when a replica with a newer term has taken over: the
    /// program must stop (its output is no longer released). Never
    /// completes without a replica.
    pub async fn fenced(&self) {
        let Some(progress) = self.progress() else {
            return std::future::pending().await;
        };
        while !progress.fenced.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Errors of the local checkpoint writer so far.
    pub fn errors(&self) -> Vec<String> {
        self.errors.borrow().clone()
    }
}
