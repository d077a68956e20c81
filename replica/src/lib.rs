//! Understudy's hot standby. It accepts a primary over QUIC (mutual TLS),
//! and runs the protocol's standby machine
//! ([`understudy_checkpointer::protocol::Standby`]) over its data
//! directory: each frame is checked, persisted and acknowledged, and a
//! runtime follows it, so that the program's heap is held materialised,
//! once. When the primary is silent for longer than the failure timeout
//! (no bytes at all, on either stream), the machine promotes: the term is
//! bumped and persisted, and the program resumes where it stood, its
//! listeners re-opening on their addresses.
//!
//! This file is the driver: it moves bytes between quinn and the machine
//! and carries out its events; it decides nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use understudy_checkpointer::frame;
use understudy_checkpointer::protocol::wire::{self, Framer, ToPrimary, ToStandby};
use understudy_checkpointer::protocol::{
    self, DirStorage, LinkId, StandbyConfig, StandbyEvent, StorageError,
};
use understudy_checkpointer::replication::{self, Certs, LinkError};
use understudy_checkpointer::store::{self, Store, StoreError};
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

/// What the standby holds: the protocol machine over the data directory,
/// which keeps where the chain ends (the records are kept by the runtime
/// that [`stand_by`] makes follow it).
pub struct Standby {
    machine: protocol::Standby<DirStorage>,
    pub metrics: std::sync::Arc<Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum StandbyError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Standby {
    /// Opens the data directory, picking up where its chain ends and the
    /// term (the records are read by [`stand_by`], into the runtime).
    pub fn open(dir: &Path) -> Result<Standby, StandbyError> {
        let machine = protocol::Standby::open_for_follower(
            DirStorage::open(dir)?,
            StandbyConfig::default(),
            Instant::now(),
        )?;
        let metrics = std::sync::Arc::new(Metrics::default());
        metrics.term.store(machine.term(), SeqCst);
        metrics.epoch.store(machine.epoch(), SeqCst);
        Ok(Standby { machine, metrics })
    }

    pub fn epoch(&self) -> u64 {
        self.machine.epoch()
    }

    pub fn term(&self) -> u64 {
        self.machine.term()
    }

    /// Checks and persists one frame outside any link (its own term is
    /// taken as is); returns the new epoch. A frame that does not
    /// follow what the standby holds (a replayed or out-of-order delta, a
    /// delta of another runtime) is refused and changes nothing.
    pub fn apply_frame(&mut self, bytes: &[u8]) -> Result<u64, String> {
        self.metrics
            .bytes_received
            .fetch_add(bytes.len() as u64, SeqCst);
        let r = self.machine.apply_frame(bytes);
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

    /// Takes over now: a higher term, persisted before anything else.
    pub fn promote(&mut self) -> Result<u64, StandbyError> {
        let term = self.machine.promote_now()?;
        self.metrics.term.store(term, SeqCst);
        self.metrics.role.store(1, SeqCst);
        Ok(term)
    }
}

/// What a promotion hands over: the term, the epoch taken over, the store
/// to keep writing to (and to rebuild the program from, should the runtime
/// not hold that epoch), and the endpoint (kept to turn away primaries of
/// older terms).
pub struct Takeover {
    pub term: u64,
    pub epoch: u64,
    /// The primary's runtime, whose chain of images the store holds.
    pub runtime_id: u64,
    /// The standby's checkpoint store, open at `epoch`.
    pub store: Store,
    serve_on: Vec<(String, String)>,
    endpoint: quinn::Endpoint,
}

/// How a takeover resumed the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resumed {
    /// The runtime already held the epoch (it followed the standby): nothing
    /// was rebuilt.
    pub hot: bool,
    /// `--serve-on` moved listeners: the program no longer equals the
    /// stored epoch, and its checkpoints start a new chain.
    pub rewritten: bool,
}

impl Takeover {
    /// Makes the program in `rt` runnable at the epoch taken over. `rt`
    /// is the runtime [`stand_by`] kept following the standby's frames; if
    /// it does not hold that epoch (a delta it could not follow), it is
    /// rebuilt from the store, with the same natives the primary
    /// registered (they are bound by name). Also starts turning away old
    /// primaries (needs a tokio runtime).
    pub fn resume(&mut self, rt: &mut Runtime) -> Result<Resumed, StandbyError> {
        let hot = rt.following() == Some(self.epoch);
        if !hot {
            tracing::warn!(
                "the program followed epoch {}, not {}: rebuilding it from the store",
                rt.following().unwrap_or(0),
                self.epoch
            );
            self.store.finish_compaction();
            follow_store(self.store.dir(), self.epoch, rt)?;
        }
        let moved = rt.move_listeners(&self.serve_on);
        rt.take_over();
        tokio::spawn(fence(self.endpoint.clone(), self.term));
        Ok(Resumed {
            hot,
            rewritten: moved > 0,
        })
    }
}

/// Makes `rt` follow the chain a store in `dir` holds, up to `epoch`.
fn follow_store(dir: &Path, epoch: u64, rt: &mut Runtime) -> Result<(), StandbyError> {
    let started = Instant::now();
    let replayed = store::replay(dir, &mut |_, image| rt.follow(&image))?;
    if replayed.epoch != epoch {
        return Err(StandbyError::Storage(StorageError(format!(
            "{}: the chain replays to epoch {}, the standby holds epoch {epoch}{}",
            dir.display(),
            replayed.epoch,
            replayed
                .stopped_at
                .map(|why| format!(" (stopped at {why})"))
                .unwrap_or_default()
        ))));
    }
    tracing::info!(
        "the program follows epoch {epoch} ({} frames read in {:.1} ms)",
        replayed.frames.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// Applies a frame the standby accepted to the runtime following it: the
/// frame is decoded here, on the follower's thread, and its references
/// are checked as it is applied. One the runtime cannot follow leaves it
/// at the epoch it held; the program is then rebuilt from the store at
/// takeover.
fn follow_frame(rt: &mut Runtime, bytes: Vec<u8>) {
    let result = frame::decode(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|(_, image)| rt.follow(&image).map_err(|e| e.to_string()));
    if let Err(e) = result {
        tracing::warn!(
            "the program could not follow a frame (it will be rebuilt at takeover): {e}"
        );
    }
}

/// What the connection tasks tell the standby's loop.
enum Input {
    Connected {
        link: LinkId,
        conn: quinn::Connection,
        control: mpsc::UnboundedSender<Vec<u8>>,
    },
    Bytes(LinkId, Instant),
    Control(LinkId, ToStandby, Instant),
    /// A whole frame.
    Frame(LinkId, Vec<u8>, Instant),
    Closed(LinkId, String),
    /// The endpoint stopped accepting connections.
    EndpointClosed,
}

/// Serves primaries by `config` (failure timeout, restart grace,
/// acknowledgement level) until the machine promotes, then returns what to
/// resume ([`Takeover::resume`]). First `rt` reads what the data directory
/// holds; then it follows every frame the standby accepts, so that the
/// program is held materialised and resumes without a rebuild (a hot
/// standby): build it with the natives the primary registered. The
/// serving runs as a task of its own (a frame is acknowledged once it is
/// checked and persisted, without waiting for `rt`), so call this inside
/// a tokio runtime. Listeners recorded at an address of `serve_on` (old,
/// new) will re-open at the new one.
pub async fn stand_by(
    standby: Standby,
    endpoint: quinn::Endpoint,
    config: StandbyConfig,
    serve_on: &[(String, String)],
    rt: &mut Runtime,
) -> Result<Takeover, StandbyError> {
    if standby.epoch() > 0 {
        follow_store(standby.machine.storage().dir(), standby.epoch(), rt)?;
    }
    let (accepted_tx, mut accepted) = mpsc::unbounded_channel::<Vec<u8>>();
    let mut serving = tokio::spawn(serve(standby, endpoint, config, accepted_tx));
    let served = loop {
        tokio::select! {
            biased;
            done = &mut serving => break done,
            Some(frame) = accepted.recv() => follow_frame(rt, frame),
        }
    };
    let mut takeover = served.map_err(|e| StandbyError::Io(std::io::Error::other(e)))??;
    // Frames accepted before the promotion, not yet followed.
    while let Ok(frame) = accepted.try_recv() {
        follow_frame(rt, frame);
    }
    takeover.serve_on = serve_on.to_vec();
    Ok(takeover)
}

/// The standby's loop: serves primaries until the machine promotes;
/// every frame it accepts goes to `accepted`.
async fn serve(
    standby: Standby,
    endpoint: quinn::Endpoint,
    config: StandbyConfig,
    accepted: mpsc::UnboundedSender<Vec<u8>>,
) -> Result<Takeover, StandbyError> {
    let Standby {
        mut machine,
        metrics,
    } = standby;
    machine.set_config(config, Instant::now());
    let (input_tx, mut input_rx) = mpsc::unbounded_channel::<Input>();
    let mut links: HashMap<LinkId, (quinn::Connection, mpsc::UnboundedSender<Vec<u8>>)> =
        HashMap::new();
    // Connections are accepted apart from the loop, so that a primary can
    // reconnect while the loop is busy with a large frame.
    let acceptor = tokio::spawn({
        let endpoint = endpoint.clone();
        let input_tx = input_tx.clone();
        async move {
            let mut next_link: LinkId = 0;
            while let Some(incoming) = endpoint.accept().await {
                next_link += 1;
                tokio::spawn(serve_link(next_link, incoming, input_tx.clone()));
            }
            let _ = input_tx.send(Input::EndpointClosed);
        }
    });
    let served = 'serve: loop {
        // Carry out what the machine asks for.
        while let Some((link, msg)) = machine.poll_transmit() {
            if let Some((_, control)) = links.get(&link) {
                let _ = control.send(wire::encode(&msg));
            }
        }
        while let Some(event) = machine.poll_event() {
            match event {
                StandbyEvent::Promote { term, epoch } => break 'serve Ok((term, epoch)),
                StandbyEvent::CloseLink(link) => {
                    if let Some((conn, _)) = links.remove(&link) {
                        close_soon(conn);
                    }
                }
                StandbyEvent::Applied { epoch, bytes } => {
                    metrics.frames_applied.fetch_add(1, SeqCst);
                    metrics.bytes_received.fetch_add(bytes, SeqCst);
                    metrics.epoch.store(epoch, SeqCst);
                    tracing::debug!("acked epoch {epoch}");
                }
                StandbyEvent::Refused { .. } => {
                    metrics.frames_refused.fetch_add(1, SeqCst);
                }
            }
        }
        metrics.term.store(machine.term(), SeqCst);
        let wake = machine.poll_timeout();
        tokio::select! {
            // Inputs first: bytes that arrived count before any judgement.
            biased;
            input = input_rx.recv() => {
                let Some(input) = input else { unreachable!("the loop holds a sender") };
                match input {
                    Input::Connected { link, conn, control } => {
                        tracing::info!("primary connected from {}", conn.remote_address());
                        links.insert(link, (conn, control));
                        machine.handle_connected(link, Instant::now());
                    }
                    Input::Bytes(link, at) => machine.handle_bytes(link, at),
                    Input::Control(link, msg, at) => machine.handle_control(link, msg, at),
                    Input::Frame(link, bytes, at) => {
                        let held = (machine.runtime_id(), machine.epoch());
                        machine.handle_frame(link, &bytes, at);
                        let header = frame::decode_header(&bytes).ok();
                        let now = (machine.runtime_id(), machine.epoch());
                        if now != held && header.map(|h| (h.runtime_id, h.epoch)) == Some(now) {
                            let _ = accepted.send(bytes);
                        }
                    }
                    Input::Closed(link, why) => {
                        if links.remove(&link).is_some() {
                            tracing::warn!("the primary's link closed: {why}");
                        }
                        machine.handle_disconnected(link);
                    }
                    Input::EndpointClosed => {
                        break 'serve Err(LinkError::Quic("the endpoint closed".into()));
                    }
                }
            }
            _ = tokio::time::sleep_until(wake.map_or_else(tokio::time::Instant::now, Into::into)),
                if wake.is_some() => {
                // The loop may have been busy (a large frame): let the
                // I/O driver and the readers hand over what arrived
                // meanwhile before judging.
                tokio::time::sleep(Duration::from_millis(10)).await;
                if input_rx.is_empty() {
                    machine.handle_timeout(Instant::now());
                }
            }
        }
    };
    acceptor.abort();
    let (term, epoch) = served?;
    for (_, (conn, _)) in links.drain() {
        conn.close(0u32.into(), b"promoted");
    }
    metrics.term.store(term, SeqCst);
    metrics.role.store(1, SeqCst);
    let runtime_id = machine.runtime_id();
    let store = machine.into_storage().into_store();
    tracing::warn!("the primary went silent; promoting: term {term}, resuming epoch {epoch}");
    Ok(Takeover {
        term,
        epoch,
        runtime_id,
        store,
        serve_on: Vec::new(),
        endpoint,
    })
}

/// Closes a connection once what was written to it had time to leave
/// (a Fenced message must reach the old primary).
fn close_soon(conn: quinn::Connection) {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        conn.close(0u32.into(), b"");
    });
}

/// One primary connection: the control stream (read and written) and the
/// data stream (read), every piece of bytes reported as it arrives.
async fn serve_link(link: LinkId, incoming: quinn::Incoming, input: mpsc::UnboundedSender<Input>) {
    let closed = |why: String| Input::Closed(link, why);
    let conn = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("a connection attempt failed: {e}");
            return;
        }
    };
    let (mut control_send, mut control_recv) = match conn.accept_bi().await {
        Ok(s) => s,
        Err(e) => {
            let _ = input.send(closed(e.to_string()));
            return;
        }
    };
    let (control_tx, mut control_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let _ = input.send(Input::Connected {
        link,
        conn: conn.clone(),
        control: control_tx,
    });
    tokio::spawn(async move {
        while let Some(bytes) = control_rx.recv().await {
            if control_send.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    // The data stream appears with its first frame: read it alongside.
    let data_input = input.clone();
    let data_conn = conn.clone();
    let data = tokio::spawn(async move {
        let mut recv = match data_conn.accept_uni().await {
            Ok(r) => r,
            Err(e) => return e.to_string(),
        };
        let mut framer = Framer::default();
        loop {
            match recv.read_chunk(1 << 20, true).await {
                Ok(Some(chunk)) => {
                    let at = Instant::now();
                    let _ = data_input.send(Input::Bytes(link, at));
                    framer.push(&chunk.bytes);
                    loop {
                        match framer.next_bytes() {
                            Ok(Some(frame)) => {
                                let _ = data_input.send(Input::Frame(link, frame, at));
                            }
                            Ok(None) => break,
                            Err(e) => return e.to_string(),
                        }
                    }
                }
                Ok(None) => return "the data stream ended".to_owned(),
                Err(e) => return e.to_string(),
            }
        }
    });
    let mut framer = Framer::default();
    let why = loop {
        match control_recv.read_chunk(1 << 16, true).await {
            Ok(Some(chunk)) => {
                let at = Instant::now();
                let _ = input.send(Input::Bytes(link, at));
                framer.push(&chunk.bytes);
                let mut bad = None;
                loop {
                    match framer.next_message::<ToStandby>() {
                        Ok(Some(msg)) => {
                            let _ = input.send(Input::Control(link, msg, at));
                        }
                        Ok(None) => break,
                        Err(e) => {
                            bad = Some(e.to_string());
                            break;
                        }
                    }
                }
                if let Some(why) = bad {
                    break why;
                }
            }
            Ok(None) => break "the control stream ended".to_owned(),
            Err(e) => break e.to_string(),
        }
    };
    data.abort();
    let _ = input.send(closed(why));
}

/// Tells every primary that connects the new term (so it stops).
async fn fence(endpoint: quinn::Endpoint, term: u64) {
    while let Some(incoming) = endpoint.accept().await {
        tokio::spawn(async move {
            let Ok(conn) = incoming.await else { return };
            let Ok((mut send, _recv)) = conn.accept_bi().await else {
                return;
            };
            let _ = send
                .write_all(&wire::encode(&ToPrimary::Fenced { term }))
                .await;
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
