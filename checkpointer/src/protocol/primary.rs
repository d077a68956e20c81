//! The primary's side of the replication protocol, as a state machine
//! with no sockets, threads or clock: the driver hands it images, the
//! messages it hears and the time; it answers with messages to send, the
//! next instant it wants to be woken at, and events.
//!
//! ```text
//! driver                         Primary
//!   submit(image)           ->   chain check, fold into the unsent frame
//!   handle_connected(now)   ->   queue Hello
//!   handle_control(msg,now) ->   Welcome / Ack / Fenced / Refused
//!   handle_bytes(now)       ->   the standby is alive
//!   handle_timeout(now)     ->   heartbeat, or give up a silent link
//!   poll_control()          <-   ToStandby to write on the control stream
//!   poll_data()             <-   a frame to write on the data stream
//!   poll_event()            <-   Acked(E), NeedFullImage, Fenced, CloseLink
//!   poll_timeout()          <-   when to call handle_timeout
//! ```
//!
//! Frames go one at a time: while one is being written, later images are
//! folded into a single unsent delta, so a slow link costs lag, never
//! memory per epoch. When the chain breaks (an image lost before it got
//! here, a refused frame, a reconnect to a standby that lacks the frames in
//! flight), the machine asks the runtime for a fresh full image and drops
//! deltas until it arrives.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use understudy_runtime::image::Image;

use super::wire::{ToPrimary, ToStandby};
use crate::frame::{self, Compression, Position};

/// How the primary behaves on its link.
#[derive(Debug, Clone, Copy)]
pub struct PrimaryConfig {
    pub runtime_id: u64,
    /// The term this primary holds, 0 for a new program (the standby
    /// assigns one at the first handshake).
    pub term: u64,
    /// How often an idle link says it is alive.
    pub heartbeat: Duration,
    /// Silence from the standby after which the link is given up (and a
    /// new one made by the driver). A standby busy with a large frame, a
    /// prune or a starved CPU may not answer for seconds, and giving up
    /// its link then only makes it start over; a standby that is gone is
    /// noticed by the transport (QUIC's idle timeout, 1 s) long before.
    pub link_timeout: Duration,
    pub compression: Compression,
}

impl PrimaryConfig {
    pub fn new(runtime_id: u64) -> PrimaryConfig {
        PrimaryConfig {
            runtime_id,
            term: 0,
            heartbeat: Duration::from_millis(50),
            link_timeout: Duration::from_secs(10),
            compression: Compression::Lz4,
        }
    }
}

/// What the driver must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrimaryEvent {
    /// The standby holds every epoch up to this one: output of those
    /// epochs may be released.
    Acked(u64),
    /// The chain broke: the runtime must take a full image next.
    NeedFullImage,
    /// A standby with a higher term took over: stop releasing output, and
    /// stop.
    Fenced(u64),
    /// The handshake finished; frames flow.
    LinkUp { term: u64 },
    /// Give up this link (the standby went silent, or broke the protocol).
    CloseLink(String),
}

/// A frame to write on the data stream, not yet encoded.
pub struct OutgoingFrame {
    pub image: Image,
    pub at: Position,
    pub compression: Compression,
    /// Deltas were folded into this full image: it holds garbage.
    folded: bool,
}

impl OutgoingFrame {
    pub fn epoch(&self) -> u64 {
        self.image.epoch
    }

    /// The frame's bytes. A full image that deltas were folded into while
    /// it waited is pruned first (folding leaves garbage records; a fresh
    /// capture holds none).
    pub fn encode(&mut self) -> Vec<u8> {
        if std::mem::take(&mut self.folded) {
            self.image.prune();
        }
        frame::encode(&self.image, self.at, self.compression)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Down,
    /// Hello sent, Welcome awaited.
    Greeting,
    Up,
}

pub struct Primary {
    config: PrimaryConfig,
    term: u64,
    link: Link,
    /// The newest epoch submitted (0: none yet).
    head: u64,
    /// The newest epoch the standby acknowledged.
    acked: u64,
    /// What the standby lacks and is not being written: a full image, or
    /// the deltas after the last frame handed out, folded into one.
    unsent: Option<Image>,
    /// Deltas were folded into `unsent` while it was a full image.
    unsent_folded: bool,
    /// Waiting for a full image: deltas are dropped until it comes.
    resync: bool,
    /// A frame was handed to the driver and is not written yet.
    data_busy: bool,
    last_heard: Instant,
    next_heartbeat: Instant,
    fenced: Option<u64>,
    control: VecDeque<ToStandby>,
    events: VecDeque<PrimaryEvent>,
}

impl Primary {
    pub fn new(config: PrimaryConfig, now: Instant) -> Primary {
        Primary {
            config,
            term: config.term,
            link: Link::Down,
            head: 0,
            acked: 0,
            unsent: None,
            unsent_folded: false,
            resync: false,
            data_busy: false,
            last_heard: now,
            next_heartbeat: now,
            fenced: None,
            control: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The term frames carry (0 before the first handshake).
    pub fn term(&self) -> u64 {
        self.term
    }

    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// The newest epoch submitted.
    pub fn head(&self) -> u64 {
        self.head
    }

    pub fn is_up(&self) -> bool {
        self.link == Link::Up
    }

    pub fn fenced(&self) -> Option<u64> {
        self.fenced
    }

    /// Takes the runtime's next image (full or delta, in epoch order).
    pub fn submit(&mut self, image: Image) {
        if self.fenced.is_some() {
            return;
        }
        if image.full {
            self.head = image.epoch;
            self.unsent = Some(image);
            self.unsent_folded = false;
            self.resync = false;
            return;
        }
        let follows = image.parent == self.head && self.head > 0;
        self.head = image.epoch;
        if self.resync {
            // The full image asked for covers it.
            return;
        }
        if !follows {
            self.start_resync();
            return;
        }
        match self.unsent.as_mut() {
            None => self.unsent = Some(image),
            Some(u) => {
                self.unsent_folded |= u.full;
                if u.merge_delta(&image).is_err() {
                    self.start_resync();
                }
            }
        }
    }

    fn start_resync(&mut self) {
        self.unsent = None;
        if !self.resync {
            self.resync = true;
            self.events.push_back(PrimaryEvent::NeedFullImage);
        }
    }

    /// The driver made a new connection to the standby.
    pub fn handle_connected(&mut self, now: Instant) {
        if self.fenced.is_some() {
            return;
        }
        self.link = Link::Greeting;
        self.data_busy = false;
        self.last_heard = now;
        self.control.clear();
        self.control.push_back(ToStandby::Hello {
            runtime_id: self.config.runtime_id,
            term: self.term,
        });
    }

    /// The connection is gone (closed, broken, or given up).
    pub fn handle_disconnected(&mut self) {
        self.link = Link::Down;
        self.data_busy = false;
        self.control.clear();
    }

    /// Some bytes arrived from the standby (liveness counts from bytes,
    /// never from whole messages).
    pub fn handle_bytes(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// A whole control message from the standby.
    pub fn handle_control(&mut self, msg: ToPrimary, now: Instant) {
        self.last_heard = now;
        if self.fenced.is_some() || self.link == Link::Down {
            return;
        }
        match msg {
            ToPrimary::Welcome {
                runtime_id,
                term,
                epoch,
            } => {
                if self.link != Link::Greeting {
                    return;
                }
                if self.term == 0 || term == self.term {
                    self.term = term;
                } else {
                    // A standby answers Welcome with the primary's own term
                    // (or fences it); anything else breaks the protocol.
                    self.close(format!(
                        "welcome for term {term}, this primary holds {}",
                        self.term
                    ));
                    return;
                }
                self.link = Link::Up;
                self.next_heartbeat = now + self.config.heartbeat;
                self.events.push_back(PrimaryEvent::LinkUp { term });
                let ours = runtime_id == self.config.runtime_id && epoch > 0;
                if ours && epoch > self.acked && epoch <= self.head {
                    self.acked = epoch;
                    self.events.push_back(PrimaryEvent::Acked(epoch));
                }
                let continues = ours
                    && match &self.unsent {
                        Some(u) if u.full => true,
                        Some(u) => u.parent == epoch,
                        None => self.head == epoch,
                    };
                let full_pending = self.unsent.as_ref().is_some_and(|u| u.full);
                if !continues && !full_pending && self.head > 0 {
                    self.start_resync();
                }
            }
            ToPrimary::Ack { term, epoch } => {
                if self.link == Link::Up
                    && term == self.term
                    && epoch > self.acked
                    && epoch <= self.head
                {
                    self.acked = epoch;
                    self.events.push_back(PrimaryEvent::Acked(epoch));
                }
            }
            ToPrimary::Fenced { term } => {
                self.fenced = Some(term);
                self.link = Link::Down;
                self.unsent = None;
                self.control.clear();
                self.events.push_back(PrimaryEvent::Fenced(term));
            }
            // Liveness only, counted above.
            ToPrimary::Alive { .. } => {}
            ToPrimary::Refused { epoch, reason } => {
                tracing::warn!("the standby refused epoch {epoch}: {reason}; sending a full image");
                if self.link == Link::Up {
                    self.start_resync();
                }
            }
        }
    }

    fn close(&mut self, why: String) {
        self.handle_disconnected();
        self.events.push_back(PrimaryEvent::CloseLink(why));
    }

    /// The driver's timer fired (or any time: it is idempotent).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.link == Link::Down || self.fenced.is_some() {
            return;
        }
        if now >= self.last_heard + self.config.link_timeout {
            self.close(format!(
                "nothing heard from the standby for {:?}",
                self.config.link_timeout
            ));
            return;
        }
        if self.link == Link::Up && now >= self.next_heartbeat {
            self.control.push_back(ToStandby::Heartbeat {
                term: self.term,
                epoch: self.head,
            });
            self.next_heartbeat = now + self.config.heartbeat;
        }
    }

    /// When [`Primary::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.link {
            _ if self.fenced.is_some() => None,
            Link::Down => None,
            Link::Greeting => Some(self.last_heard + self.config.link_timeout),
            Link::Up => Some(
                self.next_heartbeat
                    .min(self.last_heard + self.config.link_timeout),
            ),
        }
    }

    /// The next control message to write.
    pub fn poll_control(&mut self) -> Option<ToStandby> {
        self.control.pop_front()
    }

    /// The next frame to write on the data stream, if the link is up and
    /// the previous one is written ([`Primary::data_written`]). The driver
    /// encodes it ([`OutgoingFrame::encode`]) where the encoding does not
    /// hold up the link (a large image takes long).
    pub fn poll_data(&mut self) -> Option<OutgoingFrame> {
        if self.link != Link::Up || self.data_busy || self.fenced.is_some() {
            return None;
        }
        let image = self.unsent.take()?;
        self.data_busy = true;
        Some(OutgoingFrame {
            folded: std::mem::take(&mut self.unsent_folded) && image.full,
            image,
            at: Position {
                runtime_id: self.config.runtime_id,
                term: self.term,
            },
            compression: self.config.compression,
        })
    }

    /// The frame from [`Primary::poll_data`] is written.
    pub fn data_written(&mut self) {
        self.data_busy = false;
    }

    pub fn poll_event(&mut self) -> Option<PrimaryEvent> {
        self.events.pop_front()
    }
}
