//! The standby's side of the replication protocol, as a state machine
//! over a [`Storage`]: no sockets, threads or clock.
//!
//! ```text
//! driver                               Standby
//!   handle_connected(link, now)   ->   a primary's connection
//!   handle_bytes(link, now)       ->   any bytes: the primary is alive
//!   handle_control(link, msg, now)->   Hello / Heartbeat
//!   handle_frame(link, bytes, now)->   check, persist, apply, ack
//!   handle_timeout(now)           ->   promote after the failure timeout
//!   poll_transmit()               <-   (link, ToPrimary)
//!   poll_event()                  <-   Promote, CloseLink
//!   poll_timeout()                <-   when the primary would be judged dead
//! ```
//!
//! Terms: a primary that holds none (a new program) is given the next
//! term; one with a term at least the standby's is followed (the term
//! persisted before the Welcome says it); a lower one is fenced. A
//! promotion persists term + 1 before anything runs, and from then on
//! every primary that connects is fenced.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use understudy_runtime::image::Image;

use super::storage::{Storage, StorageError};
use super::wire::{ToPrimary, ToStandby};
use crate::frame::{self, FrameError, Header, Kind};

/// The driver's name for one connection.
pub type LinkId = u64;

/// When the standby acknowledges a frame, which is what an acknowledged
/// epoch (and, under output commit, a reply a client saw) survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckLevel {
    /// Checked, applied to the image held in memory and written to the
    /// OS; fsynced in the background a moment later (PostgreSQL's
    /// `remote_write`). Survives the primary dying and the standby process
    /// crashing, alone or together; the last epochs can be lost only if
    /// the standby's machine loses power before its fsync and the primary
    /// dies too.
    #[default]
    Received,
    /// Also fsynced before the acknowledgement: survives the standby's
    /// machine losing power. Costs a disk flush per frame on the
    /// acknowledgement path.
    Fsynced,
}

#[derive(Debug, Clone, Copy)]
pub struct StandbyConfig {
    /// Silence from the primary after which the standby takes over.
    pub failure_timeout: Duration,
    /// How long a standby that starts with an image waits for its
    /// primary's first bytes (the primary needs about a second to give up
    /// a link to a standby process that died).
    pub restart_grace: Duration,
    pub ack: AckLevel,
}

impl Default for StandbyConfig {
    fn default() -> Self {
        StandbyConfig {
            failure_timeout: Duration::from_millis(300),
            restart_grace: Duration::from_secs(3),
            ack: AckLevel::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StandbyEvent {
    /// Take over: the term is persisted; resume the image at `epoch`.
    Promote { term: u64, epoch: u64 },
    /// The driver should close this connection.
    CloseLink(LinkId),
    /// A frame was held and acknowledged.
    Applied { epoch: u64, bytes: u64 },
    /// A frame was refused.
    Refused { reason: String },
}

struct Link {
    id: LinkId,
    /// Set by the handshake: the term this link's frames must carry.
    term: Option<u64>,
}

/// Below this many records an image is not worth pruning.
const MIN_PRUNED: usize = 1024;

pub struct Standby<S: Storage> {
    storage: S,
    config: StandbyConfig,
    term: u64,
    /// The epoch held (None: nothing yet).
    epoch: Option<u64>,
    /// The image of that epoch, for a standby that keeps its own
    /// ([`Standby::open`]); None for one whose records are kept by a runtime
    /// following the frames it accepts ([`Standby::open_for_follower`]).
    image: Option<Image>,
    keeps_image: bool,
    /// Records the image held right after it was last pruned (or
    /// arrived whole): deltas leave garbage behind, and it is pruned once
    /// it has doubled, so pruning costs O(1) per record applied.
    pruned_len: usize,
    runtime_id: u64,
    promoted: bool,
    link: Option<Link>,
    /// The primary is judged dead at this instant without more bytes.
    deadline: Instant,
    transmits: VecDeque<(LinkId, ToPrimary)>,
    events: VecDeque<StandbyEvent>,
}

impl<S: Storage> Standby<S> {
    /// Opens the standby on what `storage` holds.
    pub fn open(mut storage: S, config: StandbyConfig, now: Instant) -> Result<Self, StorageError> {
        let held = storage.load()?;
        let term = storage.term();
        let grace = Self::grace(config, held.is_some());
        let (runtime_id, image) = match held {
            Some((id, image)) => (id, Some(image)),
            None => (0, None),
        };
        Ok(Standby {
            storage,
            config,
            term,
            epoch: image.as_ref().map(|i| i.epoch),
            pruned_len: image.as_ref().map_or(0, |i| i.objects.len()),
            image,
            keeps_image: true,
            runtime_id,
            promoted: false,
            link: None,
            deadline: now + grace,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// How long the primary has to show itself after the standby opens: a
    /// standby that holds a program gives a restarting primary the grace.
    fn grace(config: StandbyConfig, holds: bool) -> Duration {
        if holds {
            config.restart_grace.max(config.failure_timeout)
        } else {
            config.failure_timeout
        }
    }

    /// Opens the standby on what `storage` holds, keeping only where its
    /// chain ends: the records are kept by a runtime that follows every
    /// frame the standby accepts (a hot standby), which checks each
    /// delta's references as it applies it. The standby checks what a
    /// frame says of itself (checksum, runtime, term, parent epoch), never
    /// decodes a body, and holds no image: no record is kept twice, and
    /// nothing is pruned on the acknowledgement path.
    pub fn open_for_follower(
        mut storage: S,
        config: StandbyConfig,
        now: Instant,
    ) -> Result<Self, StorageError> {
        let held = storage.position()?;
        let (runtime_id, epoch) = held.map_or((0, None), |(id, epoch)| (id, Some(epoch)));
        let term = storage.term();
        Ok(Standby {
            storage,
            config,
            term,
            epoch,
            image: None,
            keeps_image: false,
            pruned_len: 0,
            runtime_id,
            promoted: false,
            link: None,
            deadline: now + Self::grace(config, epoch.is_some()),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    pub fn term(&self) -> u64 {
        self.term
    }

    /// The epoch held (0: none).
    pub fn epoch(&self) -> u64 {
        self.epoch.unwrap_or(0)
    }

    /// Whether the standby decodes frames and keeps their image
    /// ([`Standby::open`]), or leaves the records to a follower
    /// ([`Standby::open_for_follower`]).
    pub fn keeps_image(&self) -> bool {
        self.keeps_image
    }

    pub fn runtime_id(&self) -> u64 {
        self.runtime_id
    }

    pub fn image(&self) -> Option<&Image> {
        self.image.as_ref()
    }

    /// Takes the image out for a promotion. It may still hold records
    /// that nothing reaches ([`Image::prune`] drops them).
    pub fn take_image(&mut self) -> Option<Image> {
        self.image.take()
    }

    pub fn is_promoted(&self) -> bool {
        self.promoted
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The storage, for a promoted standby to keep writing to.
    pub fn into_storage(self) -> S {
        self.storage
    }

    fn is_current(&self, link: LinkId) -> bool {
        self.link.as_ref().is_some_and(|l| l.id == link)
    }

    fn alive(&mut self, now: Instant) {
        self.deadline = self.deadline.max(now + self.config.failure_timeout);
    }

    /// A primary connected. The newest connection is the one served.
    pub fn handle_connected(&mut self, link: LinkId, now: Instant) {
        if let Some(old) = self.link.take() {
            self.events.push_back(StandbyEvent::CloseLink(old.id));
        }
        self.link = Some(Link {
            id: link,
            term: None,
        });
        if !self.promoted {
            self.alive(now);
        }
    }

    pub fn handle_disconnected(&mut self, link: LinkId) {
        if self.is_current(link) {
            self.link = None;
        }
    }

    /// Bytes arrived on `link`: liveness counts from them, whether or not
    /// they finish a message.
    pub fn handle_bytes(&mut self, link: LinkId, now: Instant) {
        if self.is_current(link) && !self.promoted {
            self.alive(now);
        }
    }

    fn fence(&mut self, link: LinkId) {
        self.transmits
            .push_back((link, ToPrimary::Fenced { term: self.term }));
        if self.is_current(link) {
            self.link = None;
        }
        self.events.push_back(StandbyEvent::CloseLink(link));
    }

    pub fn handle_control(&mut self, link: LinkId, msg: ToStandby, now: Instant) {
        if !self.is_current(link) {
            return;
        }
        if !self.promoted {
            self.alive(now);
        }
        match msg {
            ToStandby::Hello { term, .. } => {
                if self.promoted || (term != 0 && term < self.term) {
                    return self.fence(link);
                }
                let term = if term == 0 { self.term + 1 } else { term };
                if term > self.term {
                    // Persisted before any frame of the term is accepted.
                    if let Err(e) = self.storage.set_term(term) {
                        tracing::error!("cannot persist term {term}: {e}");
                        self.link = None;
                        return self.events.push_back(StandbyEvent::CloseLink(link));
                    }
                    self.term = term;
                }
                if let Some(l) = self.link.as_mut() {
                    l.term = Some(term);
                }
                let epoch = self.epoch();
                self.transmits.push_back((
                    link,
                    ToPrimary::Welcome {
                        runtime_id: self.runtime_id,
                        term,
                        epoch,
                    },
                ));
            }
            ToStandby::Heartbeat { term, .. } => {
                if self.promoted || term < self.term {
                    self.fence(link);
                } else {
                    self.transmits
                        .push_back((link, ToPrimary::Alive { term: self.term }));
                }
            }
        }
    }

    /// A whole frame arrived on the data stream of `link`.
    pub fn handle_frame(&mut self, link: LinkId, bytes: &[u8], now: Instant) {
        let received = self.receive(bytes);
        self.handle_received(link, bytes, received, now);
    }

    /// What the standby needs of a frame: its image decoded if it keeps
    /// one, else only its header checked (length and checksum too).
    fn receive(&self, bytes: &[u8]) -> Result<(Header, Option<Image>), FrameError> {
        if self.keeps_image {
            frame::decode(bytes).map(|(header, image)| (header, Some(image)))
        } else {
            frame::check(bytes).map(|header| (header, None))
        }
    }

    /// [`Standby::handle_frame`] for a driver that decoded the frame
    /// already, away from the loop that answers the primary (decoding a
    /// large image takes long); `decoded` is `frame::decode(bytes)`.
    pub fn handle_decoded_frame(
        &mut self,
        link: LinkId,
        bytes: &[u8],
        decoded: Result<(Header, Image), FrameError>,
        now: Instant,
    ) {
        let received = decoded.map(|(header, image)| (header, Some(image)));
        self.handle_received(link, bytes, received, now);
    }

    fn handle_received(
        &mut self,
        link: LinkId,
        bytes: &[u8],
        received: Result<(Header, Option<Image>), FrameError>,
        now: Instant,
    ) {
        if !self.is_current(link) {
            return;
        }
        if self.promoted {
            return self.fence(link);
        }
        self.alive(now);
        let Some(link_term) = self.link.as_ref().and_then(|l| l.term) else {
            // Frames before the handshake break the protocol.
            self.link = None;
            return self.events.push_back(StandbyEvent::CloseLink(link));
        };
        match self.hold(bytes, received, Some(link_term)) {
            Ok(epoch) => {
                self.transmits.push_back((
                    link,
                    ToPrimary::Ack {
                        term: link_term,
                        epoch,
                    },
                ));
                self.events.push_back(StandbyEvent::Applied {
                    epoch,
                    bytes: bytes.len() as u64,
                });
            }
            Err(reason) => {
                tracing::warn!("refused a frame: {reason}");
                let epoch = frame::decode_header(bytes).map_or(0, |h| h.epoch);
                self.transmits.push_back((
                    link,
                    ToPrimary::Refused {
                        epoch,
                        reason: reason.clone(),
                    },
                ));
                self.events.push_back(StandbyEvent::Refused { reason });
            }
        }
    }

    /// Checks a frame against what is held, persists it, then applies it:
    /// a refused frame changes nothing.
    fn hold(
        &mut self,
        bytes: &[u8],
        received: Result<(Header, Option<Image>), FrameError>,
        link_term: Option<u64>,
    ) -> Result<u64, String> {
        let (header, image) = received.map_err(|e| e.to_string())?;
        if self.keeps_image != image.is_some() {
            return Err("a frame handed over without its image".into());
        }
        if let Some(term) = link_term.filter(|t| *t != header.term) {
            return Err(format!(
                "frame of term {} on a link of term {term}",
                header.term
            ));
        }
        match header.kind {
            Kind::Full => {
                if header.runtime_id == self.runtime_id && header.epoch <= self.epoch() {
                    return Err(format!(
                        "a full image of epoch {} does not go past the epoch {} held",
                        header.epoch,
                        self.epoch()
                    ));
                }
                self.storage
                    .append(&header, bytes, self.config.ack)
                    .map_err(|e| e.to_string())?;
                self.runtime_id = header.runtime_id;
                self.pruned_len = image.as_ref().map_or(0, |i| i.objects.len());
                self.image = image;
            }
            Kind::Delta => {
                let Some(held) = self.epoch else {
                    return Err("a delta before any full image".into());
                };
                if header.runtime_id != self.runtime_id {
                    return Err(format!(
                        "delta of runtime {:#x}, the image held is of {:#x}",
                        header.runtime_id, self.runtime_id
                    ));
                }
                if header.parent_epoch != held {
                    return Err(format!(
                        "delta of epoch {} continues epoch {}, the standby holds epoch {held}",
                        header.epoch, header.parent_epoch
                    ));
                }
                if let (Some(current), Some(delta)) = (&self.image, &image) {
                    current.check_delta(delta).map_err(|e| e.to_string())?;
                }
                self.storage
                    .append(&header, bytes, self.config.ack)
                    .map_err(|e| e.to_string())?;
                if let (Some(current), Some(delta)) = (self.image.as_mut(), image) {
                    current
                        .apply(delta)
                        .expect("a delta that passed its checks applies");
                    if current.objects.len() >= 2 * self.pruned_len.max(MIN_PRUNED) {
                        current.prune();
                        self.pruned_len = current.objects.len();
                    }
                }
            }
        }
        self.epoch = Some(header.epoch);
        Ok(header.epoch)
    }

    /// Checks, persists and applies a frame that came outside any link
    /// (its own term is taken as it is); returns its epoch.
    pub fn apply_frame(&mut self, bytes: &[u8]) -> Result<u64, String> {
        let received = self.receive(bytes);
        self.hold(bytes, received, None)
    }

    /// Changes the timeouts (a driver that opened the machine early and
    /// starts serving at `now`): the primary is given as long from `now` as
    /// from opening (the restart grace if the standby holds a program,
    /// else the failure timeout), or what it had, whichever is later.
    pub fn set_config(&mut self, config: StandbyConfig, now: Instant) {
        self.config = config;
        self.deadline = self
            .deadline
            .max(now + Self::grace(config, self.epoch.is_some()));
    }

    /// Takes over now, whatever the primary does: term + 1, persisted.
    pub fn promote_now(&mut self) -> Result<u64, StorageError> {
        let term = self.term + 1;
        self.storage.set_term(term)?;
        self.term = term;
        self.promoted = true;
        Ok(term)
    }

    /// The driver's timer fired (or any time: it is idempotent).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.promoted || self.epoch.is_none() || now < self.deadline {
            return;
        }
        let term = match self.promote_now() {
            Ok(term) => term,
            Err(e) => {
                // Without a persisted term there is no fencing: do not serve.
                tracing::error!("cannot persist term {} to promote: {e}", self.term + 1);
                self.deadline = now + self.config.failure_timeout;
                return;
            }
        };
        if let Some(l) = self.link.take() {
            self.events.push_back(StandbyEvent::CloseLink(l.id));
        }
        self.events.push_back(StandbyEvent::Promote {
            term,
            epoch: self.epoch(),
        });
    }

    /// When the primary would be judged dead (None: never, as there is
    /// nothing to take over, or already promoted).
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.promoted && self.epoch.is_some()).then_some(self.deadline)
    }

    pub fn poll_transmit(&mut self) -> Option<(LinkId, ToPrimary)> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<StandbyEvent> {
        self.events.pop_front()
    }
}
