//! Understudy's hot standby. It accepts one primary over QUIC (mutual TLS),
//! checks and applies each checkpoint frame to its image, persists it in
//! its data directory (the checkpoint store) and acknowledges the epoch.
//! When the primary is silent for longer than the failure timeout, it
//! promotes itself: bumps and persists its term, builds the runtime from
//! its image, and runs the program, whose listeners re-open on their
//! addresses.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use understudy_checkpointer::frame::{self, Kind};
use understudy_checkpointer::replication::{self, Certs, LinkError, ToPrimary, ToReplica};
use understudy_checkpointer::store::{self, Store};
use understudy_runtime::image::{Image, ImageError};
use understudy_runtime::Runtime;

/// The standby's counters, shared with the metrics endpoint.
#[derive(Default)]
pub struct Metrics {
    pub frames_applied: std::sync::atomic::AtomicU64,
    pub frames_refused: std::sync::atomic::AtomicU64,
    pub bytes_received: std::sync::atomic::AtomicU64,
    pub epoch: std::sync::atomic::AtomicU64,
    pub term: std::sync::atomic::AtomicU64,
    /// 0 standby, 1 promoted.
    pub role: std::sync::atomic::AtomicU64,
}

impl Metrics {
    pub fn render(&self) -> String {
        use std::sync::atomic::Ordering::SeqCst;
        use understudy_checkpointer::metrics::metric;
        let mut out = String::new();
        metric(
            &mut out,
            "understudy_role",
            "gauge",
            "0 standby, 1 primary",
            self.role.load(SeqCst) as f64,
        );
        metric(
            &mut out,
            "understudy_term",
            "gauge",
            "Fencing term",
            self.term.load(SeqCst) as f64,
        );
        metric(
            &mut out,
            "understudy_epochs_acked",
            "gauge",
            "Newest epoch held and acknowledged",
            self.epoch.load(SeqCst) as f64,
        );
        metric(
            &mut out,
            "understudy_frames_applied_total",
            "counter",
            "Frames checked, applied and persisted",
            self.frames_applied.load(SeqCst) as f64,
        );
        metric(
            &mut out,
            "understudy_frames_refused_total",
            "counter",
            "Frames refused",
            self.frames_refused.load(SeqCst) as f64,
        );
        metric(
            &mut out,
            "understudy_replication_bytes_received_total",
            "counter",
            "Frame bytes received",
            self.bytes_received.load(SeqCst) as f64,
        );
        out
    }
}

/// What the standby holds.
pub struct Standby {
    dir: PathBuf,
    store: Store,
    image: Option<Image>,
    epoch: u64,
    runtime_id: u64,
    term: u64,
    deltas_since_base: u64,
    pub metrics: std::sync::Arc<Metrics>,
}

/// How long a standby that starts with an image waits for its primary's
/// first connection (the primary needs about a second to give up a link
/// to a replica process that died).
pub const RESTART_GRACE: Duration = Duration::from_secs(3);

/// Deltas kept in the log before the store is compacted into a new base.
pub const COMPACT_EVERY: u64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum StandbyError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How a link with a primary ended.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkEnd {
    /// Nothing from the primary for the failure timeout.
    Silent,
    /// The connection broke or closed.
    Closed,
    /// A primary with a lower term was turned away.
    Fenced,
}

fn term_path(dir: &Path) -> PathBuf {
    dir.join("TERM")
}

impl Standby {
    /// Opens the data directory, picking up the image and term it holds.
    pub fn open(dir: &Path) -> Result<Standby, StandbyError> {
        std::fs::create_dir_all(dir)?;
        let term = std::fs::read_to_string(term_path(dir))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(1);
        let (image, epoch, runtime_id) = match store::load(dir) {
            Ok(l) => (Some(l.image), l.epoch, l.runtime_id),
            Err(store::StoreError::Empty(_)) => (None, 0, 0),
            Err(e) => return Err(e.into()),
        };
        let store = Store::open(dir, runtime_id)?;
        Ok(Standby {
            dir: dir.to_owned(),
            store,
            image,
            epoch,
            runtime_id,
            term,
            deltas_since_base: 0,
            metrics: {
                let m = std::sync::Arc::new(Metrics::default());
                m.term.store(term, std::sync::atomic::Ordering::SeqCst);
                m.epoch.store(epoch, std::sync::atomic::Ordering::SeqCst);
                m
            },
        })
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn term(&self) -> u64 {
        self.term
    }

    pub fn image(&self) -> Option<&Image> {
        self.image.as_ref()
    }

    /// Checks and applies one frame, persists it; returns the new epoch. A
    /// frame that does not follow what the standby holds (a replayed or
    /// out-of-order delta, a delta of another runtime) is refused and
    /// changes nothing.
    pub fn apply_frame(&mut self, bytes: &[u8]) -> Result<u64, String> {
        use std::sync::atomic::Ordering::SeqCst;
        self.metrics
            .bytes_received
            .fetch_add(bytes.len() as u64, SeqCst);
        let r = self.apply_checked(bytes);
        match &r {
            Ok(epoch) => {
                self.metrics.frames_applied.fetch_add(1, SeqCst);
                self.metrics.epoch.store(*epoch, SeqCst);
            }
            Err(_) => {
                self.metrics.frames_refused.fetch_add(1, SeqCst);
            }
        }
        r
    }

    fn apply_checked(&mut self, bytes: &[u8]) -> Result<u64, String> {
        let (header, image) = frame::decode(bytes).map_err(|e| e.to_string())?;
        match header.kind {
            Kind::Full => {
                self.image = Some(image);
                self.runtime_id = header.runtime_id;
                self.store.set_runtime_id(header.runtime_id);
            }
            Kind::Delta => {
                let Some(current) = self.image.as_mut() else {
                    return Err("a delta before any full image".into());
                };
                if header.runtime_id != self.runtime_id || header.parent_epoch != self.epoch {
                    return Err(format!(
                        "delta for epoch {} of runtime {:#x} does not follow epoch {} of {:#x}",
                        header.parent_epoch, header.runtime_id, self.epoch, self.runtime_id
                    ));
                }
                current.apply(&image).map_err(|e| e.to_string())?;
            }
        }
        self.store
            .write_frame(bytes, header.kind == Kind::Full, header.epoch)
            .map_err(|e| e.to_string())?;
        self.epoch = header.epoch;
        self.deltas_since_base = if header.kind == Kind::Full {
            0
        } else {
            self.deltas_since_base + 1
        };
        if self.deltas_since_base >= COMPACT_EVERY {
            // Off the primary's path in effect: the ack waits, the primary
            // does not.
            if let Err(e) = self.store.compact() {
                tracing::warn!("compaction failed: {e}");
            }
            self.deltas_since_base = 0;
        }
        Ok(self.epoch)
    }

    /// Serves one primary connection until it ends or goes silent.
    pub async fn serve(
        &mut self,
        conn: quinn::Connection,
        failure_timeout: Duration,
    ) -> Result<LinkEnd, StandbyError> {
        let quic = |e: quinn::ConnectionError| LinkError::Quic(e.to_string());
        let (mut send, mut recv) =
            match tokio::time::timeout(failure_timeout, conn.accept_bi()).await {
                Ok(r) => r.map_err(quic)?,
                Err(_) => return Ok(LinkEnd::Silent),
            };
        let hello = match tokio::time::timeout(failure_timeout, replication::recv(&mut recv)).await
        {
            Ok(r) => r?,
            Err(_) => return Ok(LinkEnd::Silent),
        };
        let Some(ToReplica::Hello { term, .. }) = hello else {
            return Ok(LinkEnd::Closed);
        };
        if term < self.term {
            replication::send(&mut send, &ToPrimary::Fenced { term: self.term }).await?;
            let _ = send.finish();
            return Ok(LinkEnd::Fenced);
        }
        replication::send(
            &mut send,
            &ToPrimary::Welcome {
                runtime_id: self.runtime_id,
                term: self.term,
                acked_epoch: self.epoch,
            },
        )
        .await?;
        loop {
            let msg =
                match tokio::time::timeout(failure_timeout, replication::recv(&mut recv)).await {
                    Err(_) => return Ok(LinkEnd::Silent),
                    Ok(Err(_)) | Ok(Ok(None)) => return Ok(LinkEnd::Closed),
                    Ok(Ok(Some(m))) => m,
                };
            match msg {
                ToReplica::Heartbeat | ToReplica::Hello { .. } => {}
                ToReplica::Frame(bytes) => match self.apply_frame(&bytes) {
                    Ok(epoch) => {
                        tracing::debug!("acked epoch {epoch}");
                        replication::send(&mut send, &ToPrimary::Ack { epoch }).await?;
                    }
                    Err(reason) => {
                        tracing::warn!("refused a frame: {reason}");
                        replication::send(&mut send, &ToPrimary::Refused { reason }).await?;
                    }
                },
            }
        }
    }

    /// Takes over: a higher term, persisted before anything else, so that
    /// the old primary is fenced from now on.
    pub fn promote(&mut self) -> Result<u64, StandbyError> {
        self.term += 1;
        self.metrics
            .term
            .store(self.term, std::sync::atomic::Ordering::SeqCst);
        self.metrics
            .role
            .store(1, std::sync::atomic::Ordering::SeqCst);
        let tmp = self.dir.join("TERM.tmp");
        std::fs::write(&tmp, format!("{}\n", self.term))?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, term_path(&self.dir))?;
        Ok(self.term)
    }
}

/// What a promotion hands over: the image to resume, the new term, and the
/// endpoint (kept to turn away primaries of older terms).
pub struct Takeover {
    pub image: Image,
    pub term: u64,
    pub epoch: u64,
    endpoint: quinn::Endpoint,
}

impl Takeover {
    /// Restores `rt` from the image: build `rt` first with the same
    /// natives the primary registered (they are bound by name). Also starts
    /// turning away old primaries (needs a tokio runtime).
    pub fn restore_into(&self, rt: &mut Runtime) -> Result<(), ImageError> {
        rt.restore(&self.image)?;
        tokio::spawn(fence(self.endpoint.clone(), self.term));
        Ok(())
    }
}

/// Serves primaries until one is silent for `failure_timeout` after an
/// image arrived, then promotes: returns what to resume. Listeners
/// recorded at an address of `serve_on` (old, new) will re-open at the
/// new one.
pub async fn stand_by(
    mut standby: Standby,
    endpoint: quinn::Endpoint,
    failure_timeout: Duration,
    serve_on: &[(String, String)],
) -> Result<Takeover, StandbyError> {
    // A standby restarted from its disk gives its primary time to notice
    // the old link is gone and reconnect before judging it dead.
    let mut patience = if standby.image().is_some() {
        failure_timeout.max(RESTART_GRACE)
    } else {
        failure_timeout
    };
    loop {
        // Before any image there is nothing to take over: wait as long as
        // it takes. After, a primary gone for the timeout is dead.
        let incoming = if standby.image().is_some() {
            let wait = std::mem::replace(&mut patience, failure_timeout);
            match tokio::time::timeout(wait, endpoint.accept()).await {
                Ok(i) => i,
                Err(_) => break,
            }
        } else {
            endpoint.accept().await
        };
        let Some(incoming) = incoming else {
            return Err(LinkError::Quic("the endpoint closed".into()).into());
        };
        let conn = match incoming.await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("a connection attempt failed: {e}");
                continue;
            }
        };
        tracing::info!("primary connected from {}", conn.remote_address());
        match standby.serve(conn, failure_timeout).await {
            Ok(LinkEnd::Silent) => {
                tracing::warn!("the primary went silent");
                if standby.image().is_some() {
                    break;
                }
            }
            Ok(LinkEnd::Closed) => tracing::warn!("the primary's link closed"),
            Ok(LinkEnd::Fenced) => tracing::warn!("turned away a primary of an older term"),
            Err(e) => tracing::warn!("link error: {e}"),
        }
    }
    let term = standby.promote()?;
    let epoch = standby.epoch();
    let mut image = standby.image.take().expect("promotion with an image");
    serve_on_addresses(&mut image, serve_on);
    tracing::warn!("promoting: term {term}, resuming epoch {epoch}");
    Ok(Takeover {
        image,
        term,
        epoch,
        endpoint,
    })
}

/// Tells every primary that connects the new term (so it stops).
async fn fence(endpoint: quinn::Endpoint, term: u64) {
    while let Some(incoming) = endpoint.accept().await {
        tokio::spawn(async move {
            let Ok(conn) = incoming.await else { return };
            let Ok((mut send, _recv)) = conn.accept_bi().await else {
                return;
            };
            let _ = replication::send(&mut send, &ToPrimary::Fenced { term }).await;
            let _ = send.finish();
            // Let the message reach the peer before the connection drops.
            tokio::time::sleep(Duration::from_millis(200)).await;
        });
    }
}

/// The replica's QUIC endpoint, accepting primaries the CA signed.
pub fn endpoint(listen: SocketAddr, certs: &Certs) -> Result<quinn::Endpoint, StandbyError> {
    let config = replication::server_config(certs)?;
    Ok(quinn::Endpoint::server(config, listen)?)
}

/// The replica's QUIC endpoint in the insecure loopback-only mode.
pub fn insecure_endpoint(listen: SocketAddr) -> Result<quinn::Endpoint, StandbyError> {
    let config = replication::insecure::server_config(listen)?;
    Ok(quinn::Endpoint::server(config, listen)?)
}

/// Moves listeners recorded at an address of `mapping` (old, new) to the
/// new address: they re-open there when the program resumes.
pub fn serve_on_addresses(image: &mut Image, mapping: &[(String, String)]) {
    use understudy_runtime::image::{Object, UserKindRecord};
    use understudy_runtime::sched::ResourceKind;
    for obj in image.objects.values_mut() {
        if let Object::UserData {
            kind:
                UserKindRecord::Resource {
                    kind: ResourceKind::Listener,
                    addr,
                    ..
                },
            ..
        } = obj
        {
            if let Some((_, new)) = mapping.iter().find(|(old, _)| old == addr) {
                tracing::info!("listener {addr} will serve on {new}");
                *addr = new.clone();
            }
        }
    }
}
