//! The primary's side of replication: images go from the VM thread to a
//! sender thread, which encodes them and ships them to the replica. The VM
//! never waits on the network.
//!
//! The sender keeps the image the replica should hold (the last full image
//! with every later delta applied). While the link is busy or down, new
//! deltas are folded into one ([`Image::merge_delta`]) instead of queueing;
//! after a reconnect to a replica that does not hold our last epoch, it
//! sends that merged full image, then deltas again.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use understudy_runtime::image::Image;

use crate::frame::{self, Compression, Position};
use crate::replication::{self, Certs, LinkError, ToPrimary, ToReplica, REPLICA_NAME};

/// How often an idle link says it is alive.
pub const HEARTBEAT: Duration = Duration::from_millis(50);
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

/// What the sender tells the VM side.
#[derive(Default)]
pub struct Progress {
    /// The newest epoch the replica acknowledged.
    pub acked: Arc<AtomicU64>,
    /// Signalled at every acknowledgement (output commit waits on it).
    pub ack_signal: Arc<tokio::sync::Notify>,
    /// The newest epoch submitted.
    pub submitted: AtomicU64,
    /// A replica with a higher term answered: this primary must stop.
    pub fenced: AtomicBool,
    pub connected: AtomicBool,
    /// Frame bytes sent to the replica.
    pub bytes_sent: AtomicU64,
    /// The last checkpoint's pause, microseconds (set by the VM side).
    pub last_pause_us: AtomicU64,
    /// When each epoch not yet acknowledged was submitted, and the time
    /// from submission to acknowledgement of those acknowledged so far.
    latency: std::sync::Mutex<(
        std::collections::BTreeMap<u64, std::time::Instant>,
        Vec<Duration>,
    )>,
}

impl Progress {
    fn submitted_at(&self, epoch: u64) {
        let mut l = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        l.0.insert(epoch, std::time::Instant::now());
    }

    fn acknowledged(&self, epoch: u64) {
        let mut l = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let (pending, done) = &mut *l;
        // One acknowledgement covers every epoch up to it (coalesced).
        let covered: Vec<u64> = pending.range(..=epoch).map(|(e, _)| *e).collect();
        for e in covered {
            if let Some(at) = pending.remove(&e) {
                done.push(at.elapsed());
            }
        }
    }

    /// The primary's metrics in Prometheus text.
    pub fn render(&self) -> String {
        use crate::metrics::metric;
        let mut out = String::new();
        let submitted = self.submitted.load(Ordering::SeqCst);
        let acked = self.acked.load(Ordering::SeqCst);
        metric(
            &mut out,
            "understudy_role",
            "gauge",
            "0 standby, 1 primary",
            1.0,
        );
        metric(
            &mut out,
            "understudy_epochs_sent_total",
            "counter",
            "Checkpoint epochs handed to the replication sender",
            submitted as f64,
        );
        metric(
            &mut out,
            "understudy_epochs_acked",
            "gauge",
            "Newest epoch the replica acknowledged",
            acked as f64,
        );
        metric(
            &mut out,
            "understudy_replication_lag_epochs",
            "gauge",
            "Epochs taken but not yet acknowledged",
            submitted.saturating_sub(acked) as f64,
        );
        metric(
            &mut out,
            "understudy_replication_bytes_sent_total",
            "counter",
            "Frame bytes sent to the replica",
            self.bytes_sent.load(Ordering::SeqCst) as f64,
        );
        metric(
            &mut out,
            "understudy_replication_connected",
            "gauge",
            "1 when the link to the replica is up",
            f64::from(u8::from(self.connected.load(Ordering::SeqCst))),
        );
        metric(
            &mut out,
            "understudy_fenced",
            "gauge",
            "1 when a replica with a newer term took over",
            f64::from(u8::from(self.fenced.load(Ordering::SeqCst))),
        );
        metric(
            &mut out,
            "understudy_checkpoint_pause_seconds",
            "gauge",
            "Pause of the last checkpoint",
            self.last_pause_us.load(Ordering::SeqCst) as f64 / 1e6,
        );
        if let Some((_, median, p99)) = self.ack_latency() {
            metric(
                &mut out,
                "understudy_ack_latency_median_seconds",
                "gauge",
                "Median time from checkpoint to acknowledgement",
                median.as_secs_f64(),
            );
            metric(
                &mut out,
                "understudy_ack_latency_p99_seconds",
                "gauge",
                "99th percentile time from checkpoint to acknowledgement",
                p99.as_secs_f64(),
            );
        }
        out
    }

    /// Acknowledgement latencies so far: (count, median, p99).
    pub fn ack_latency(&self) -> Option<(usize, Duration, Duration)> {
        let l = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let mut v = l.1.clone();
        if v.is_empty() {
            return None;
        }
        v.sort();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Some((v.len(), at(0.5), at(0.99)))
    }
}

/// Handle of the sender thread.
pub struct Sender {
    tx: mpsc::UnboundedSender<Image>,
    pub progress: Arc<Progress>,
}

impl Sender {
    /// Starts the sender thread for `replica`, authenticated with `certs`.
    pub fn start(
        replica: SocketAddr,
        certs: Certs,
        runtime_id: u64,
        term: u64,
    ) -> Result<Sender, LinkError> {
        let client = replication::client_config(&certs)?;
        Self::start_with(replica, client, runtime_id, term)
    }

    /// Starts the sender thread with a given QUIC client config (see
    /// [`replication::insecure`] for loopback tests).
    pub fn start_with(
        replica: SocketAddr,
        client: quinn::ClientConfig,
        runtime_id: u64,
        term: u64,
    ) -> Result<Sender, LinkError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let progress = Arc::new(Progress::default());
        let p = progress.clone();
        std::thread::Builder::new()
            .name("understudy-sender".into())
            .spawn(move || {
                let io = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the sender");
                io.block_on(run(replica, client, runtime_id, term, rx, p));
            })?;
        Ok(Sender { tx, progress })
    }

    /// Hands an image over (the first must be full). Returns its epoch.
    pub fn submit(&self, image: Image) -> u64 {
        let epoch = self.progress.submitted.fetch_add(1, Ordering::SeqCst) + 1;
        self.progress.submitted_at(epoch);
        // The thread only ends when the process does.
        let _ = self.tx.send(image);
        epoch
    }
}

/// The sender's own state.
struct Stream {
    runtime_id: u64,
    term: u64,
    /// What the replica should hold once everything is sent.
    merged: Option<Image>,
    /// Epoch of `merged`.
    epoch: u64,
    /// Deltas not sent yet, folded into one, and the epoch they start from.
    pending: Option<(u64, Image)>,
    /// The epoch the replica holds (as sent on this link).
    sent: u64,
    /// Send the whole image next.
    need_full: bool,
}

impl Stream {
    fn take(&mut self, image: Image) {
        self.epoch += 1;
        if image.full {
            self.merged = Some(image);
            self.pending = None;
            self.need_full = true;
            return;
        }
        let Some(merged) = self.merged.as_mut() else {
            return;
        };
        if merged.apply(&image).is_err() {
            self.need_full = true;
        }
        match self.pending.as_mut() {
            Some((_, p)) => {
                if p.merge_delta(&image).is_err() {
                    self.need_full = true;
                }
            }
            None => self.pending = Some((self.epoch - 1, image)),
        }
    }

    /// The next frame to send, if any.
    fn next_frame(&mut self) -> Option<(u64, Vec<u8>)> {
        let merged = self.merged.as_ref()?;
        let at = |parent| Position {
            runtime_id: self.runtime_id,
            term: self.term,
            epoch: self.epoch,
            parent_epoch: parent,
        };
        if self.need_full {
            self.need_full = false;
            self.pending = None;
            return Some((self.epoch, frame::encode(merged, at(0), Compression::Lz4)));
        }
        let (parent, delta) = self.pending.take()?;
        Some((
            self.epoch,
            frame::encode(&delta, at(parent), Compression::Lz4),
        ))
    }
}

async fn run(
    replica: SocketAddr,
    client: quinn::ClientConfig,
    runtime_id: u64,
    term: u64,
    mut rx: mpsc::UnboundedReceiver<Image>,
    progress: Arc<Progress>,
) {
    let mut stream = Stream {
        runtime_id,
        term,
        merged: None,
        epoch: 0,
        pending: None,
        sent: 0,
        need_full: true,
    };
    let bind: SocketAddr = if replica.is_ipv6() {
        "[::]:0".parse().expect("an address")
    } else {
        "0.0.0.0:0".parse().expect("an address")
    };
    let mut endpoint = match quinn::Endpoint::client(bind) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("replication disabled: no UDP socket: {e}");
            return;
        }
    };
    endpoint.set_default_client_config(client);
    loop {
        if progress.fenced.load(Ordering::SeqCst) {
            return;
        }
        match link(&endpoint, replica, &mut stream, &mut rx, &progress).await {
            Ok(()) => return,
            Err(e) => {
                progress.connected.store(false, Ordering::SeqCst);
                tracing::warn!("replication link to {replica}: {e}; reconnecting");
                // Keep folding images in while the link is down.
                let pause = tokio::time::sleep(RECONNECT_PAUSE);
                tokio::pin!(pause);
                loop {
                    tokio::select! {
                        _ = &mut pause => break,
                        img = rx.recv() => match img {
                            Some(img) => stream.take(img),
                            None => return,
                        },
                    }
                }
            }
        }
    }
}

/// One connection's life: handshake, then frames out and acks in.
async fn link(
    endpoint: &quinn::Endpoint,
    replica: SocketAddr,
    stream: &mut Stream,
    rx: &mut mpsc::UnboundedReceiver<Image>,
    progress: &Progress,
) -> Result<(), LinkError> {
    let conn = endpoint
        .connect(replica, REPLICA_NAME)
        .map_err(|e| LinkError::Quic(e.to_string()))?
        .await
        .map_err(|e| LinkError::Quic(e.to_string()))?;
    let (mut send, mut recv) = conn
        .open_bi()
        .await
        .map_err(|e| LinkError::Quic(e.to_string()))?;
    replication::send(
        &mut send,
        &ToReplica::Hello {
            runtime_id: stream.runtime_id,
            term: stream.term,
        },
    )
    .await?;
    match replication::recv::<ToPrimary>(&mut recv).await? {
        Some(ToPrimary::Welcome {
            runtime_id,
            acked_epoch,
            ..
        }) => {
            // Deltas continue only what the replica holds.
            if runtime_id != stream.runtime_id || acked_epoch != stream.sent || stream.sent == 0 {
                stream.need_full = true;
            }
        }
        Some(ToPrimary::Fenced { term }) => {
            tracing::error!("the replica serves with term {term}: stopping replication");
            progress.fenced.store(true, Ordering::SeqCst);
            return Ok(());
        }
        other => return Err(LinkError::Decode(format!("unexpected greeting {other:?}"))),
    }
    progress.connected.store(true, Ordering::SeqCst);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    loop {
        // Send what is pending before waiting.
        while let Ok(img) = rx.try_recv() {
            stream.take(img);
        }
        if let Some((epoch, bytes)) = stream.next_frame() {
            let len = bytes.len() as u64;
            replication::send(&mut send, &ToReplica::Frame(bytes)).await?;
            progress.bytes_sent.fetch_add(len, Ordering::SeqCst);
            stream.sent = epoch;
            continue;
        }
        tokio::select! {
            img = rx.recv() => match img {
                Some(img) => stream.take(img),
                None => return Ok(()),
            },
            msg = replication::recv::<ToPrimary>(&mut recv) => match msg? {
                Some(ToPrimary::Ack { epoch }) => {
                    progress.acked.fetch_max(epoch, Ordering::SeqCst);
                    progress.acknowledged(epoch);
                    progress.ack_signal.notify_one();
                }
                Some(ToPrimary::Fenced { term }) => {
                    tracing::error!("the replica serves with term {term}: stopping replication");
                    progress.fenced.store(true, Ordering::SeqCst);
                    return Ok(());
                }
                Some(ToPrimary::Refused { reason }) => {
                    tracing::warn!("the replica refused a frame: {reason}; sending a full image");
                    stream.need_full = true;
                }
                Some(ToPrimary::Welcome { .. }) => {}
                None => return Err(LinkError::Quic("the replica closed the link".into())),
            },
            _ = heartbeat.tick() => {
                replication::send(&mut send, &ToReplica::Heartbeat).await?;
            }
        }
    }
}
