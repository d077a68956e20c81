//! The local checkpoint store: a directory holding a base image and the
//! log of deltas that follow it.
//!
//! ```text
//! DIR/MANIFEST            which base and log are current (replaced atomically)
//! DIR/base-<E>.ckpt       a full frame at epoch E
//! DIR/deltas-<E>.log      delta frames E+1, E+2, ... appended in order
//! DIR/stats.log           one line per checkpoint: epoch kind pause records bytes
//! ```
//!
//! Compaction runs in the background once the log has grown to half the
//! base (and [`COMPACT_MIN_LOG`]): a thread builds `base-<E>.ckpt` from
//! the base and the log up to epoch E while deltas go on being appended;
//! then the writer copies the deltas after E into `deltas-<E>.log` and
//! switches the manifest. Loading costs about one and a half bases.
//!
//! Crash safety: a delta is appended and fsynced (or, with
//! [`Store::write_frame_batched`], fsynced in batches soon after); a torn
//! last frame (the process or machine killed mid-write) fails its checks
//! and loading stops at the epoch before it. A new base is written to a
//! temporary file, fsynced and renamed, and only then does a new MANIFEST (also written to a temporary
//! file, fsynced and renamed, then the directory fsynced) point to it; the
//! old files are removed last. At every instant the manifest names a
//! complete base.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use understudy_runtime::image::{Image, ImageError};

use crate::frame::{self, Compression, FrameError, Header, Kind, Position};
use crate::log_sync::LogSyncer;

const MANIFEST: &str = "MANIFEST";
const MANIFEST_HEADER: &str = "understudy checkpoint store 1";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} at byte {offset}: {source}")]
    Frame {
        path: PathBuf,
        offset: u64,
        #[source]
        source: FrameError,
    },
    #[error("{0}: no checkpoint here (no MANIFEST)")]
    Empty(PathBuf),
    #[error("{path}: bad manifest: {why}")]
    BadManifest { path: PathBuf, why: String },
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("{dir}: epoch {epoch} (after {parent}) does not continue the stored epoch {held}")]
    Gap {
        dir: PathBuf,
        held: u64,
        epoch: u64,
        parent: u64,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What one stored frame is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    pub header: Header,
    pub file: PathBuf,
    pub offset: u64,
    pub bytes: u64,
}

/// The newest state of a store.
#[derive(Debug)]
pub struct Loaded {
    /// The base with every valid delta applied.
    pub image: Image,
    pub epoch: u64,
    pub runtime_id: u64,
    pub term: u64,
    pub frames: Vec<FrameInfo>,
    /// Set when loading stopped at a frame that failed its checks (a torn
    /// write at the end of the log): why.
    pub stopped_at: Option<String>,
}

struct Manifest {
    runtime_id: u64,
    base: String,
    log: String,
}

impl Manifest {
    fn parse(path: &Path, text: &str) -> Result<Manifest, StoreError> {
        let bad = |why: &str| StoreError::BadManifest {
            path: path.to_owned(),
            why: why.to_owned(),
        };
        let mut lines = text.lines();
        if lines.next() != Some(MANIFEST_HEADER) {
            return Err(bad("unknown format"));
        }
        let mut field = |name: &str| -> Result<String, StoreError> {
            let line = lines
                .next()
                .ok_or_else(|| bad(&format!("missing {name}")))?;
            line.strip_prefix(name)
                .and_then(|r| r.strip_prefix(' '))
                .map(str::to_owned)
                .ok_or_else(|| bad(&format!("expected {name}")))
        };
        let runtime_id = field("runtime")?
            .parse()
            .map_err(|_| bad("runtime id is not a number"))?;
        let base = field("base")?;
        let log = field("log")?;
        for name in [&base, &log] {
            if name.contains('/') || name.contains("..") {
                return Err(bad("file names must be plain"));
            }
        }
        Ok(Manifest {
            runtime_id,
            base,
            log,
        })
    }

    fn text(&self) -> String {
        format!(
            "{MANIFEST_HEADER}\nruntime {}\nbase {}\nlog {}\n",
            self.runtime_id, self.base, self.log
        )
    }
}

/// Writes `bytes` to `path` durably: temporary file, fsync, rename, fsync
/// of the directory.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    let target = dir.join(name);
    fs::rename(&tmp, &target).map_err(io(&target))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// A log shorter than this is never compacted (replaying it is cheap).
pub const COMPACT_MIN_LOG: u64 = 8 << 20;

/// A checkpoint store being written.
pub struct Store {
    dir: PathBuf,
    runtime_id: u64,
    term: u64,
    /// The epoch of the last frame written (0: none yet).
    epoch: u64,
    /// The runtime whose chain of frames the store holds (None: empty).
    chain_runtime_id: Option<u64>,
    log: Option<(String, Arc<File>)>,
    /// Fsyncs the deltas of [`Store::write_frame_batched`] in batches, on a
    /// thread of its own (started by the first such write).
    syncer: Option<LogSyncer>,
    pub compression: Compression,
    /// Bytes of the current base and log.
    base_bytes: u64,
    log_bytes: u64,
    /// The log length past which a background compaction starts (None:
    /// never on its own).
    pub compact_min_log: Option<u64>,
    compaction: Option<Compaction>,
}

/// A base being built in the background: the state at `epoch`, which is
/// where the log `log` stood at byte `offset`.
struct Compaction {
    epoch: u64,
    log: String,
    offset: u64,
    started: std::time::Instant,
    done: std::sync::mpsc::Receiver<Result<(String, u64), StoreError>>,
}

/// What writing one checkpoint cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub epoch: u64,
    pub kind: Kind,
    pub bytes: u64,
}

impl Store {
    /// Opens (creating it if needed) a store in `dir` for writing. An
    /// existing store continues at its newest epoch; the next image written
    /// must then be full or a delta against that epoch.
    pub fn open(dir: &Path, runtime_id: u64) -> Result<Store, StoreError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut store = Store {
            dir: dir.to_owned(),
            runtime_id,
            term: 1,
            epoch: 0,
            chain_runtime_id: None,
            log: None,
            syncer: None,
            compression: Compression::Lz4,
            base_bytes: 0,
            log_bytes: 0,
            compact_min_log: Some(COMPACT_MIN_LOG),
            compaction: None,
        };
        if dir.join(MANIFEST).exists() {
            // Where the chain ends, from the frames' headers and checksums:
            // the image is not built here.
            let scanned = scan(dir)?;
            let last = scanned.frames.last().expect("a base");
            store.epoch = last.header.epoch;
            store.chain_runtime_id = Some(scanned.frames[0].header.runtime_id);
            store.term = last.header.term.max(1);
            store.base_bytes = scanned.frames[0].bytes;
            store.log_bytes = scanned.frames[1..].iter().map(|f| f.bytes).sum();
            if let Some(why) = &scanned.stopped_at {
                // A torn last write: what follows the valid frames is cut,
                // so that new deltas follow the last valid one.
                let log = dir.join(read_manifest(dir)?.log);
                tracing::warn!(
                    "{}: cutting the log after its last valid frame ({why})",
                    log.display()
                );
                OpenOptions::new()
                    .write(true)
                    .open(&log)
                    .and_then(|f| f.set_len(store.log_bytes).and_then(|_| f.sync_all()))
                    .map_err(io(&log))?;
            }
        }
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The epoch of the newest frame written.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The runtime whose chain the store holds and the epoch of its newest
    /// frame (None: empty). Read from the frames' headers at open.
    pub fn chain(&self) -> Option<(u64, u64)> {
        self.chain_runtime_id.map(|id| (id, self.epoch))
    }

    /// Whether the newest frame held is runtime `runtime_id`'s image of
    /// `epoch`, so that its next delta can follow (a resumed or promoted
    /// program that continues the chain instead of writing a full image).
    pub fn continues(&self, runtime_id: u64, epoch: u64) -> bool {
        epoch > 0 && self.epoch == epoch && self.chain_runtime_id == Some(runtime_id)
    }

    /// Frames written from now on carry `term` (a promoted standby's), or
    /// the store's own if that is higher.
    pub fn raise_term(&mut self, term: u64) {
        self.term = self.term.max(term);
    }

    /// Writes `image`: a full one becomes the new base (and starts a new
    /// log), a delta is appended to the current log. The image's epochs
    /// must continue the store's chain.
    pub fn write(&mut self, image: &Image) -> Result<Written, StoreError> {
        let at = Position {
            runtime_id: self.runtime_id,
            term: self.term,
        };
        let frame = frame::encode(image, at, self.compression);
        let header = frame::decode_header(&frame).expect("a frame just encoded");
        self.write_frame(&frame, &header)
    }

    /// Stores an encoded frame as it came (a replica keeps the primary's
    /// epochs): a full one becomes the new base, a delta is appended. A
    /// delta that does not follow the newest epoch, or a full image that
    /// would go back in time, is refused and changes nothing.
    pub fn write_frame(&mut self, frame: &[u8], header: &Header) -> Result<Written, StoreError> {
        self.write_frame_synced(frame, header, true)
    }

    /// [`Store::write_frame`], except that a delta is durable soon after
    /// this returns, not before: it returns once the OS holds the bytes,
    /// and a thread fsyncs the log in batches. A crash of the process
    /// loses nothing written this way; a crash of the machine may lose the
    /// last deltas (loading then stops at the last complete one). A full
    /// image is durable before this returns, as with `write_frame`.
    pub fn write_frame_batched(
        &mut self,
        frame: &[u8],
        header: &Header,
    ) -> Result<Written, StoreError> {
        if self.syncer.is_none() {
            let syncer = LogSyncer::start().map_err(io(&self.dir))?;
            if let Some((_, f)) = &self.log {
                syncer.set_file(f.clone());
            }
            self.syncer = Some(syncer);
        }
        self.write_frame_synced(frame, header, false)
    }

    fn write_frame_synced(
        &mut self,
        frame: &[u8],
        header: &Header,
        sync_now: bool,
    ) -> Result<Written, StoreError> {
        let full = header.kind == Kind::Full;
        let follows = if full {
            header.epoch > self.epoch || header.runtime_id != self.runtime_id
        } else {
            self.continues(header.runtime_id, header.parent_epoch)
        };
        if !follows {
            return Err(StoreError::Gap {
                dir: self.dir.clone(),
                held: self.epoch,
                epoch: header.epoch,
                parent: header.parent_epoch,
            });
        }
        let epoch = header.epoch;
        if full {
            self.runtime_id = header.runtime_id;
            self.chain_runtime_id = Some(header.runtime_id);
            self.write_base(epoch, frame)?;
        } else {
            if self.log.is_none() {
                // Continuing a store opened after a restart: append to the
                // log its manifest names.
                let manifest = read_manifest(&self.dir)?;
                let path = self.dir.join(&manifest.log);
                let f = OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&path)
                    .map_err(io(&path))?;
                self.set_log(manifest.log, f);
            }
            let (name, f) = self.log.as_ref().expect("a log is open");
            let path = self.dir.join(name);
            (&**f).write_all(frame).map_err(io(&path))?;
            match &self.syncer {
                Some(syncer) if !sync_now => syncer
                    .appended()
                    .map_err(|e| io(&path)(std::io::Error::other(e)))?,
                _ => f.sync_data().map_err(io(&path))?,
            }
            self.log_bytes += frame.len() as u64;
        }
        self.epoch = epoch;
        self.term = self.term.max(header.term);
        self.compact_in_background();
        Ok(Written {
            epoch,
            kind: header.kind,
            bytes: frame.len() as u64,
        })
    }

    fn set_log(&mut self, name: String, f: File) {
        let f = Arc::new(f);
        if let Some(syncer) = &self.syncer {
            syncer.set_file(f.clone());
        }
        self.log = Some((name, f));
    }

    /// Adopts the runtime id of the primary whose images this store keeps.
    pub fn set_runtime_id(&mut self, id: u64) {
        self.runtime_id = id;
    }

    /// Finishes a background compaction that is done, or starts one when
    /// the log has outgrown the base. A failed compaction is only logged:
    /// the store stays as it was, and a later one tries again.
    fn compact_in_background(&mut self) {
        if let Some(c) = self.compaction.take() {
            match c.done.try_recv() {
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    self.compaction = Some(c);
                    return;
                }
                Ok(result) => self.finish(c, result),
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {}
            }
        }
        // Half the base: a resume reads the base and then replays the
        // log, so the log (and what it grows by while a compaction runs)
        // costs it at most about half again the base's time.
        let due = self
            .compact_min_log
            .is_some_and(|min| self.log_bytes >= min.max(self.base_bytes / 2));
        let Some((log, _)) = self.log.as_ref().filter(|_| due) else {
            return;
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let job = (self.dir.clone(), log.clone(), self.log_bytes, self.epoch);
        let at = Position {
            runtime_id: self.runtime_id,
            term: self.term,
        };
        let compression = self.compression;
        let spawned = std::thread::Builder::new()
            .name("understudy-compact".into())
            .spawn(move || {
                run_when_idle();
                let (dir, log, offset, epoch) = job;
                let _ = tx.send(build_base(&dir, &log, offset, epoch, at, compression));
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start a compaction: {e}");
            return;
        }
        self.compaction = Some(Compaction {
            epoch: self.epoch,
            log: log.clone(),
            offset: self.log_bytes,
            started: std::time::Instant::now(),
            done: rx,
        });
    }

    fn finish(&mut self, c: Compaction, result: Result<(String, u64), StoreError>) {
        let (epoch, folded, took) = (c.epoch, c.offset, c.started.elapsed());
        match result.and_then(|(base, bytes)| self.switch_to(c, base, bytes)) {
            Ok(false) => {}
            Ok(true) => tracing::info!(
                "{}: compacted to epoch {epoch} in {:.1} s ({folded} bytes of log folded into a base of {} bytes)",
                self.dir.display(),
                took.as_secs_f64(),
                self.base_bytes
            ),
            Err(e) => tracing::warn!("{}: compaction failed: {e}", self.dir.display()),
        }
    }

    /// Waits for a background compaction, if one runs, and makes its base
    /// current (for tests, and before a clean shutdown).
    pub fn finish_compaction(&mut self) {
        if let Some(c) = self.compaction.take() {
            if let Ok(result) = c.done.recv() {
                self.finish(c, result);
            }
        }
    }

    /// Makes the base a finished compaction built current: the deltas
    /// after its epoch move to a new log, then the manifest switches.
    fn switch_to(
        &mut self,
        c: Compaction,
        base: String,
        base_bytes: u64,
    ) -> Result<bool, StoreError> {
        let current = self.log.as_ref().map(|(name, _)| name.clone());
        if current.as_deref() != Some(c.log.as_str()) {
            // A full image replaced the base meanwhile: this one is stale.
            let _ = fs::remove_file(self.dir.join(&base));
            return Ok(false);
        }
        let old_path = self.dir.join(&c.log);
        let tail = {
            let bytes = fs::read(&old_path).map_err(io(&old_path))?;
            bytes[c.offset as usize..].to_vec()
        };
        self.start_log(base, base_bytes, c.epoch, &tail)?;
        Ok(true)
    }

    fn write_base(&mut self, epoch: u64, frame: &[u8]) -> Result<(), StoreError> {
        let base = format!("base-{epoch}.ckpt");
        write_atomically(&self.dir, &base, frame)?;
        self.start_log(base, frame.len() as u64, epoch, &[])
    }

    /// Makes `base` (written and durable, of epoch `epoch`) current with a
    /// new log holding `deltas`: the log is written and fsynced, then the
    /// manifest switches to both, then the old files go.
    fn start_log(
        &mut self,
        base: String,
        base_bytes: u64,
        epoch: u64,
        deltas: &[u8],
    ) -> Result<(), StoreError> {
        let log = format!("deltas-{epoch}.log");
        let log_path = self.dir.join(&log);
        let mut f = File::create(&log_path).map_err(io(&log_path))?;
        f.write_all(deltas).map_err(io(&log_path))?;
        f.sync_all().map_err(io(&log_path))?;
        let manifest = Manifest {
            runtime_id: self.runtime_id,
            base,
            log: log.clone(),
        };
        write_atomically(&self.dir, MANIFEST, manifest.text().as_bytes())?;
        self.set_log(log, f);
        self.base_bytes = base_bytes;
        self.log_bytes = deltas.len() as u64;
        // Only now are the old files (and any a crash left) unreferenced.
        remove_unreferenced(&self.dir)
    }

    /// Appends a line to `stats.log` (what `inspect` reports).
    pub fn record_stats(&self, line: &str) -> Result<(), StoreError> {
        let path = self.dir.join("stats.log");
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io(&path))?;
        writeln!(f, "{line}").map_err(io(&path))
    }

    /// Replaces the base and its deltas with one full image of the newest
    /// epoch.
    pub fn compact(&mut self) -> Result<u64, StoreError> {
        let loaded = load(&self.dir)?;
        let at = Position {
            runtime_id: self.runtime_id,
            term: self.term,
        };
        let frame = frame::encode(&loaded.image, at, self.compression);
        self.log = None;
        self.write_base(loaded.epoch, &frame)?;
        self.epoch = loaded.epoch;
        Ok(frame.len() as u64)
    }
}

/// Lowers the calling thread to the idle scheduling class: a compaction
/// costs O(base), and on a busy machine it must take only the CPU that
/// serving the program leaves (the log it shortens is only replayed at a
/// restart). Best effort: where it fails, the thread runs as it was.
fn run_when_idle() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sched_setscheduler reads `param` during the call only;
        // pid 0 is the calling thread.
        let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
        if r != 0 {
            tracing::debug!(
                "compaction at normal priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// The base of the state at `epoch`: the store's base with the frames of
/// `log` before byte `offset` applied, pruned, written as
/// `base-<epoch>-compacted.ckpt` (not yet named by the manifest). Returns its name
/// and size.
fn build_base(
    dir: &Path,
    log: &str,
    offset: u64,
    epoch: u64,
    at: Position,
    compression: Compression,
) -> Result<(String, u64), StoreError> {
    let manifest = read_manifest(dir)?;
    let base_path = dir.join(&manifest.base);
    let bytes = fs::read(&base_path).map_err(io(&base_path))?;
    let (_, mut image) = frame::decode(&bytes).map_err(|source| StoreError::Frame {
        path: base_path.clone(),
        offset: 0,
        source,
    })?;
    let log_path = dir.join(log);
    let log_bytes = fs::read(&log_path).map_err(io(&log_path))?;
    let mut at_byte = 0usize;
    while (at_byte as u64) < offset {
        let (_, delta, used) =
            frame::decode_prefix(&log_bytes[at_byte..offset as usize]).map_err(|source| {
                StoreError::Frame {
                    path: log_path.clone(),
                    offset: at_byte as u64,
                    source,
                }
            })?;
        image.apply(delta)?;
        at_byte += used;
    }
    if image.epoch != epoch {
        return Err(StoreError::Gap {
            dir: dir.to_owned(),
            held: epoch,
            epoch: image.epoch,
            parent: image.epoch,
        });
    }
    image.prune();
    let frame = frame::encode(&image, at, compression);
    // Not base-<E>.ckpt: a full image of another runtime at the same epoch
    // may become the base meanwhile under that name.
    let name = format!("base-{epoch}-compacted.ckpt");
    write_atomically(dir, &name, &frame)?;
    Ok((name, frame.len() as u64))
}

/// Removes bases, logs and temporary files the manifest does not name.
fn remove_unreferenced(dir: &Path) -> Result<(), StoreError> {
    let manifest = read_manifest(dir)?;
    for e in fs::read_dir(dir).map_err(io(dir))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours =
            name.starts_with("base-") || name.starts_with("deltas-") || name.ends_with(".tmp");
        if ours && name != manifest.base && name != manifest.log {
            let _ = fs::remove_file(e.path());
        }
    }
    Ok(())
}

fn read_manifest(dir: &Path) -> Result<Manifest, StoreError> {
    let path = dir.join(MANIFEST);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::Empty(dir.to_owned()))
        }
        Err(e) => return Err(io(&path)(e)),
    };
    Manifest::parse(&path, &text)
}

/// The frames of a file that passed their checks, in order, and why
/// reading stopped early (if it did).
pub type Frames = (Vec<(FrameInfo, Image)>, Option<String>);

/// Every frame of a file, checked, in order; stops at the first bad one
/// and says why.
pub fn read_frames(path: &Path) -> Result<Frames, StoreError> {
    let bytes = fs::read(path).map_err(io(path))?;
    let mut out = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        match frame::decode_prefix(&bytes[offset..]) {
            Ok((header, image, used)) => {
                out.push((
                    FrameInfo {
                        header,
                        file: path.to_owned(),
                        offset: offset as u64,
                        bytes: used as u64,
                    },
                    image,
                ));
                offset += used;
            }
            Err(e) => return Ok((out, Some(format!("byte {offset}: {e}")))),
        }
    }
    Ok((out, None))
}

/// The frames of a store that continue its base, found from their headers
/// and checksums, and why the scan stopped early (if it did).
struct Scanned {
    frames: Vec<FrameInfo>,
    stopped_at: Option<String>,
}

fn scan(dir: &Path) -> Result<Scanned, StoreError> {
    let manifest = read_manifest(dir)?;
    let base_path = dir.join(&manifest.base);
    let bytes = fs::read(&base_path).map_err(io(&base_path))?;
    let (header, used) = frame::check_prefix(&bytes).map_err(|source| StoreError::Frame {
        path: base_path.clone(),
        offset: 0,
        source,
    })?;
    let mut frames = vec![FrameInfo {
        header,
        file: base_path,
        offset: 0,
        bytes: used as u64,
    }];
    let log_path = dir.join(&manifest.log);
    let log = match fs::read(&log_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(&log_path)(e)),
    };
    let mut offset = 0usize;
    let mut stopped_at = None;
    while offset < log.len() {
        let epoch = frames.last().expect("a base").header.epoch;
        match frame::check_prefix(&log[offset..]) {
            Ok((h, used)) if h.kind == Kind::Delta && h.parent_epoch == epoch => {
                frames.push(FrameInfo {
                    header: h,
                    file: log_path.clone(),
                    offset: offset as u64,
                    bytes: used as u64,
                });
                offset += used;
            }
            Ok((h, _)) => {
                let e = FrameError::WrongParent {
                    expected: epoch,
                    found: h.parent_epoch,
                };
                stopped_at = Some(format!("byte {offset}: {e}"));
                break;
            }
            Err(e) => {
                stopped_at = Some(format!("byte {offset}: {e}"));
                break;
            }
        }
    }
    Ok(Scanned { frames, stopped_at })
}

/// What [`replay`] went through.
#[derive(Debug)]
pub struct Replayed {
    pub epoch: u64,
    pub runtime_id: u64,
    pub term: u64,
    pub frames: Vec<FrameInfo>,
    /// Set when the replay stopped at a frame that failed its checks (a
    /// torn write at the end of the log): why.
    pub stopped_at: Option<String>,
}

/// Goes through the store's chain in order, one frame at a time: the base
/// (a full image), then every delta of the log that continues it, each
/// handed to `visit` (the next deltas are decoded meanwhile). Stops
/// quietly at a torn or foreign frame (`stopped_at` says why); an error of
/// `visit` stops it with that error. O(base + log), with the base or at
/// most three deltas decoded in memory at a time.
pub fn replay(
    dir: &Path,
    visit: &mut dyn FnMut(&FrameInfo, Image) -> Result<(), ImageError>,
) -> Result<Replayed, StoreError> {
    let manifest = read_manifest(dir)?;
    let base_path = dir.join(&manifest.base);
    let started = std::time::Instant::now();
    let (header, image, used) = {
        let bytes = map(&base_path)?;
        frame::decode_prefix(&bytes).map_err(|source| StoreError::Frame {
            path: base_path.clone(),
            offset: 0,
            source,
        })?
    };
    if header.kind != Kind::Full {
        return Err(StoreError::Frame {
            path: base_path,
            offset: 0,
            source: FrameError::KindMismatch {
                header: header.kind,
                body: Kind::Full,
            },
        });
    }
    let base = FrameInfo {
        header,
        file: base_path,
        offset: 0,
        bytes: used as u64,
    };
    tracing::debug!("base decoded in {:?}", started.elapsed());
    visit(&base, image)?;
    tracing::debug!("base visited at {:?}", started.elapsed());
    let mut replayed = Replayed {
        epoch: header.epoch,
        runtime_id: manifest.runtime_id,
        term: header.term,
        frames: vec![base],
        stopped_at: None,
    };
    let log_path = dir.join(&manifest.log);
    if !log_path.exists() {
        return Ok(replayed);
    }
    // Read, not mapped: a store opened after a torn write cuts its log.
    let log = fs::read(&log_path).map_err(io(&log_path))?;
    // The next delta is decoded on a thread of its own while `visit`
    // takes the one before (decoding is a third of the replay's work).
    // Bounded: at most two decoded frames wait.
    std::thread::scope(|scope| -> Result<(), StoreError> {
        let (decoded_tx, decoded) = std::sync::mpsc::sync_channel(2);
        let log = &log;
        scope.spawn(move || {
            let mut offset = 0usize;
            while offset < log.len() {
                let result = frame::decode_prefix(&log[offset..]);
                let used = result.as_ref().map_or(0, |(_, _, used)| *used);
                let failed = result.is_err();
                if decoded_tx.send((offset, result)).is_err() || failed {
                    return;
                }
                offset += used;
            }
        });
        for (offset, result) in decoded {
            let (header, delta, used) = match result {
                Ok(decoded) => decoded,
                Err(e) => {
                    replayed.stopped_at = Some(format!("byte {offset}: {e}"));
                    break;
                }
            };
            if header.parent_epoch != replayed.epoch || header.kind != Kind::Delta {
                replayed.stopped_at = Some(format!(
                    "byte {offset}: {}",
                    FrameError::WrongParent {
                        expected: replayed.epoch,
                        found: header.parent_epoch
                    }
                ));
                break;
            }
            let info = FrameInfo {
                header,
                file: log_path.clone(),
                offset: offset as u64,
                bytes: used as u64,
            };
            visit(&info, delta)?;
            replayed.epoch = header.epoch;
            replayed.term = header.term;
            replayed.frames.push(info);
        }
        // Dropping `decoded` here ends the decoder if it is still ahead.
        Ok(())
    })?;
    tracing::debug!("log visited at {:?}", started.elapsed());
    Ok(replayed)
}

/// A read-only mapping of a base file.
fn map(path: &Path) -> Result<memmap2::Mmap, StoreError> {
    let file = File::open(path).map_err(io(path))?;
    // SAFETY: a base is never modified in place (a new base is written to
    // a temporary file and renamed over), so the mapping stays valid and
    // unchanged while it is read.
    unsafe { memmap2::Mmap::map(&file) }.map_err(io(path))
}

/// Loads the newest state of the store in `dir`: its base with every valid
/// delta applied in order.
pub fn load(dir: &Path) -> Result<Loaded, StoreError> {
    let mut held: Option<Image> = None;
    let replayed = replay(dir, &mut |_, image| match held.as_mut() {
        None => {
            held = Some(image);
            Ok(())
        }
        Some(base) => base.apply(image),
    })?;
    let mut image = held.expect("a replay visits the base");
    // Once, not per delta: loading costs O(base + log).
    image.prune();
    Ok(Loaded {
        image,
        epoch: replayed.epoch,
        runtime_id: replayed.runtime_id,
        term: replayed.term,
        frames: replayed.frames,
        stopped_at: replayed.stopped_at,
    })
}
