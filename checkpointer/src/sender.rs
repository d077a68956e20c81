//! The primary's side of replication: images go from the VM thread to a
//! sender thread, which drives the protocol machine
//! ([`crate::protocol::Primary`]) over one QUIC connection to the replica:
//! a control stream (handshake, heartbeats, acks) and a data stream
//! (frames). The VM never waits on the network. This file only moves
//! bytes and time between quinn and the machine; every decision is the
//! machine's.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use understudy_runtime::image::Image;
use understudy_runtime::runtime::FullImageRequest;

use crate::protocol::primary::OutgoingFrame;
use crate::protocol::wire::{self, Framer, ToPrimary};
use crate::protocol::{Primary, PrimaryConfig, PrimaryEvent};
use crate::replication::{self, Certs, LinkError, REPLICA_NAME};

const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

/// Deltas up to this weight ([`Image::is_small`]) are encoded on the
/// sender's loop (tens of microseconds), larger images on the blocking pool.
const INLINE_ENCODE_LIMIT: usize = 16 << 10;

/// What the sender tells the VM side.
#[derive(Default)]
pub struct Progress {
    /// The newest epoch the replica acknowledged.
    pub acked: Arc<AtomicU64>,
    /// Signalled at every acknowledgement (output commit waits on it).
    pub ack_signal: Arc<tokio::sync::Notify>,
    /// The newest epoch submitted.
    pub submitted: AtomicU64,
    /// The term this primary holds (0 until the replica assigns one).
    pub term: AtomicU64,
    /// Raised when the replica needs a full image (the runtime's
    /// [`understudy_runtime::Runtime::full_image_request`]).
    pub full_wanted: Arc<FullImageRequest>,
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
    /// The same latencies counted into [`ACK_LATENCY_BUCKETS`] (the last
    /// counter: above them all), so that a scraper can tell the latencies
    /// of any window from two scrapes.
    latency_buckets: [AtomicU64; ACK_LATENCY_BUCKETS.len() + 1],
}

/// Upper bounds of the acknowledgement latency histogram, in seconds.
pub const ACK_LATENCY_BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

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
                let latency = at.elapsed();
                let bucket = ACK_LATENCY_BUCKETS
                    .iter()
                    .position(|le| latency.as_secs_f64() <= *le)
                    .unwrap_or(ACK_LATENCY_BUCKETS.len());
                self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
                done.push(latency);
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
        // A cumulative histogram, as Prometheus has it.
        {
            use std::fmt::Write;
            let name = "understudy_ack_latency_seconds";
            let _ = writeln!(
                out,
                "# HELP {name} Time from checkpoint to acknowledgement\n# TYPE {name} histogram"
            );
            let mut count = 0;
            for (i, le) in ACK_LATENCY_BUCKETS.iter().enumerate() {
                count += self.latency_buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {count}");
            }
            count += self.latency_buckets[ACK_LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
            let _ = writeln!(out, "{name}_count {count}");
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
        config: PrimaryConfig,
        full_wanted: Arc<FullImageRequest>,
    ) -> Result<Sender, LinkError> {
        let client = replication::client_config(&certs)?;
        Self::start_with(replica, client, config, full_wanted)
    }

    /// Starts the sender thread with a given QUIC client config (see
    /// [`replication::insecure`] for loopback tests). `full_wanted` is
    /// raised when the replica needs a full image.
    pub fn start_with(
        replica: SocketAddr,
        client: quinn::ClientConfig,
        config: PrimaryConfig,
        full_wanted: Arc<FullImageRequest>,
    ) -> Result<Sender, LinkError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let progress = Arc::new(Progress {
            full_wanted,
            ..Progress::default()
        });
        progress.term.store(config.term, Ordering::SeqCst);
        let p = progress.clone();
        std::thread::Builder::new()
            .name("understudy-sender".into())
            .spawn(move || {
                let io = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the sender");
                io.block_on(run(replica, client, config, rx, p));
            })?;
        Ok(Sender { tx, progress })
    }

    /// Hands an image over (in the runtime's epoch order).
    pub fn submit(&self, image: Image) {
        let epoch = image.epoch;
        self.progress.submitted.store(epoch, Ordering::SeqCst);
        self.progress.submitted_at(epoch);
        // The thread only ends when the process does.
        let _ = self.tx.send(image);
    }
}

/// Why a connection ended.
enum LinkEnd {
    /// Images stopped coming: the program is over.
    Done,
    Fenced,
    Lost(String),
}

async fn run(
    replica: SocketAddr,
    client: quinn::ClientConfig,
    config: PrimaryConfig,
    mut rx: mpsc::UnboundedReceiver<Image>,
    progress: Arc<Progress>,
) {
    let mut machine = Primary::new(config, Instant::now());
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
        match link(&endpoint, replica, &mut machine, &mut rx, &progress).await {
            LinkEnd::Done | LinkEnd::Fenced => return,
            LinkEnd::Lost(why) => {
                machine.handle_disconnected();
                progress.connected.store(false, Ordering::SeqCst);
                tracing::warn!("replication link to {replica}: {why}; reconnecting");
                // Keep taking images while the link is down.
                let pause = tokio::time::sleep(RECONNECT_PAUSE);
                tokio::pin!(pause);
                loop {
                    tokio::select! {
                        _ = &mut pause => break,
                        img = rx.recv() => match img {
                            Some(img) => machine.submit(img),
                            None => return,
                        },
                    }
                }
                act(&mut machine, &progress, None);
            }
        }
    }
}

/// The writers of one connection: each stream is written by its own task,
/// so the loop never waits on a write and never cancels one.
struct Writers {
    control: mpsc::UnboundedSender<Vec<u8>>,
    data: mpsc::Sender<OutgoingFrame>,
}

/// Carries out what the machine asks for; returns how the link ends, if
/// it does.
fn act(machine: &mut Primary, progress: &Progress, writers: Option<&Writers>) -> Option<LinkEnd> {
    let mut end = None;
    while let Some(event) = machine.poll_event() {
        match event {
            PrimaryEvent::Acked(epoch) => {
                progress.acked.fetch_max(epoch, Ordering::SeqCst);
                progress.acknowledged(epoch);
                progress.ack_signal.notify_one();
            }
            PrimaryEvent::NeedFullImage => {
                progress.full_wanted.request();
            }
            PrimaryEvent::Fenced(term) => {
                tracing::error!("the replica serves with term {term}: stopping replication");
                progress.fenced.store(true, Ordering::SeqCst);
                progress.ack_signal.notify_one();
                end = Some(LinkEnd::Fenced);
            }
            PrimaryEvent::LinkUp { term } => {
                progress.term.store(term, Ordering::SeqCst);
                progress.connected.store(true, Ordering::SeqCst);
            }
            PrimaryEvent::CloseLink(why) => end = end.or(Some(LinkEnd::Lost(why))),
        }
    }
    if let Some(w) = writers {
        while let Some(msg) = machine.poll_control() {
            if w.control.send(wire::encode(&msg)).is_err() {
                return Some(LinkEnd::Lost("the control stream closed".into()));
            }
        }
        if w.data.capacity() > 0 {
            if let Some(frame) = machine.poll_data() {
                if w.data.try_send(frame).is_err() {
                    return Some(LinkEnd::Lost("the data stream closed".into()));
                }
            }
        }
    }
    end
}

/// One connection's life: handshake, then frames out and acks in.
async fn link(
    endpoint: &quinn::Endpoint,
    replica: SocketAddr,
    machine: &mut Primary,
    rx: &mut mpsc::UnboundedReceiver<Image>,
    progress: &Arc<Progress>,
) -> LinkEnd {
    let quic = |e: &dyn std::fmt::Display| LinkEnd::Lost(e.to_string());
    let connecting = match endpoint.connect(replica, REPLICA_NAME) {
        Ok(c) => c,
        Err(e) => return quic(&e),
    };
    tokio::pin!(connecting);
    // Images keep coming while the handshake runs.
    let conn = loop {
        tokio::select! {
            c = &mut connecting => match c {
                Ok(c) => break c,
                Err(e) => return quic(&e),
            },
            img = rx.recv() => match img {
                Some(img) => machine.submit(img),
                None => return LinkEnd::Done,
            },
        }
    };
    let (mut control_send, mut control_recv) = match conn.open_bi().await {
        Ok(s) => s,
        Err(e) => return quic(&e),
    };
    let mut data_send = match conn.open_uni().await {
        Ok(s) => s,
        Err(e) => return quic(&e),
    };
    // Control first: a heartbeat or an ack never waits behind a frame.
    let _ = control_send.set_priority(1);
    let (control_tx, mut control_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (data_tx, mut data_rx) = mpsc::channel::<OutgoingFrame>(1);
    let (written_tx, mut written_rx) = mpsc::unbounded_channel::<()>();
    let writers = Writers {
        control: control_tx,
        data: data_tx,
    };
    let control_writer = tokio::spawn(async move {
        while let Some(bytes) = control_rx.recv().await {
            if control_send.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let sent = progress.clone();
    let data_writer = tokio::spawn(async move {
        while let Some(mut frame) = data_rx.recv().await {
            // Encoding a large image takes long: off the loop, so that
            // heartbeats and acks go on meanwhile. A small one (the usual
            // delta) is encoded here: another thread's wake-up would cost
            // more than the encoding, on the output-commit path.
            let bytes = if !frame.image.full && frame.image.is_small(INLINE_ENCODE_LIMIT) {
                frame.encode()
            } else {
                match tokio::task::spawn_blocking(move || frame.encode()).await {
                    Ok(bytes) => bytes,
                    Err(_) => break,
                }
            };
            sent.bytes_sent
                .fetch_add(bytes.len() as u64, Ordering::SeqCst);
            if data_send
                .write_all(&wire::frame_bytes(&bytes))
                .await
                .is_err()
            {
                break;
            }
            let _ = written_tx.send(());
        }
    });
    machine.handle_connected(Instant::now());
    let mut framer = Framer::default();
    let end = loop {
        if let Some(end) = act(machine, progress, Some(&writers)) {
            break end;
        }
        let wake = machine.poll_timeout();
        tokio::select! {
            img = rx.recv() => match img {
                Some(img) => machine.submit(img),
                None => break LinkEnd::Done,
            },
            chunk = control_recv.read_chunk(1 << 16, true) => match chunk {
                Ok(Some(chunk)) => {
                    let now = Instant::now();
                    machine.handle_bytes(now);
                    framer.push(&chunk.bytes);
                    loop {
                        match framer.next_message::<ToPrimary>() {
                            Ok(Some(msg)) => machine.handle_control(msg, now),
                            Ok(None) => break,
                            Err(e) => {
                                machine.handle_disconnected();
                                return LinkEnd::Lost(e.to_string());
                            }
                        }
                    }
                }
                Ok(None) => break LinkEnd::Lost("the replica closed the link".into()),
                Err(e) => break LinkEnd::Lost(e.to_string()),
            },
            Some(()) = written_rx.recv() => machine.data_written(),
            _ = tokio::time::sleep_until(wake.map_or_else(tokio::time::Instant::now, Into::into)),
                if wake.is_some() => machine.handle_timeout(Instant::now()),
        }
    };
    // The writers end with their channels; the connection with `conn`.
    drop(writers);
    if matches!(end, LinkEnd::Fenced) {
        // Let the writers finish before the connection drops.
        let _ = control_writer.await;
        let _ = data_writer.await;
    }
    conn.close(0u32.into(), b"");
    end
}
