//! The deterministic simulator of replication: the protocol's real state
//! machines (`understudy_checkpointer::protocol`), a real runtime running a
//! small key-value program that writes and replies, an in-memory network
//! and a simulated clock, all driven from one seed.
//!
//! The network gives each connection a reliable, ordered data stream with
//! latency and a bandwidth limit (frames arrive in pieces, through the real
//! framer), and a control channel whose messages can be lost, duplicated
//! and reordered. Partitions stall the data and drop control messages; a
//! connection silent for a second breaks. Either side crashes at seeded
//! moments; a standby restarts from its storage; a promoted standby serves
//! and is protected by a new standby; stale frames are replayed at the
//! standby; an image can be lost between the runtime and the sender.
//!
//! After every step the simulator checks:
//! - every reply released under output commit is backed by an epoch the
//!   standby's storage holds;
//! - terms never decrease, on any node;
//! - at most one node releases output in any term;
//! - no promotion while the serving primary's bytes keep arriving within
//!   the failure timeout;
//! - the standby's image equals the full image the primary took at that
//!   epoch (on even seeds the standby is hot, as `understudy-replica` is:
//!   its machine keeps only the chain's position and a runtime follows
//!   every frame it accepts; there the followed heap is compared, and the
//!   promoted program is that runtime);
//! - the reliable data stream never fails to frame.
//!
//! and at the end, after a quiet second with no faults, that the standby
//! caught up with the primary (liveness).
//!
//! `SIM_SEEDS=N` runs seeds 1..=N; `SIM_SEED=S` replays one seed. A
//! failing seed prints the command that replays it.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use understudy::runtime::image::Image;
use understudy::runtime::runtime::CheckpointPolicy;
use understudy::{Config, Runtime};
use understudy_checkpointer::protocol::wire::{self, Framer, ToPrimary, ToStandby};
use understudy_checkpointer::protocol::{
    AckLevel, MemStorage, Primary, PrimaryConfig, PrimaryEvent, Standby, StandbyConfig,
    StandbyEvent, Storage,
};

const FAILURE_TIMEOUT: Duration = Duration::from_millis(300);
const RESTART_GRACE: Duration = Duration::from_millis(1000);
const LINK_TIMEOUT: Duration = Duration::from_millis(1000);
const HEARTBEAT: Duration = Duration::from_millis(50);
/// A connection with nothing delivered either way for this long breaks
/// (QUIC's idle timeout).
const IDLE_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long the standby may take to catch up once the clients stop.
const CATCH_UP: Duration = Duration::from_secs(30);
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);
/// Steps of a seed's faulty phase (about 2 s of simulated time).
const STEPS: usize = 1000;
/// Failovers a seed may go through before faults that cause them stop.
const FAILOVERS_MAX: usize = 3;

/// The program: a key-value store that answers requests the simulator
/// queues, one reply per request.
const PROGRAM: &str = r#"
local store = {}
while true do
  local id, op, key, value = sim.next()
  if id == nil then
    task.yield()
  elseif op == "set" then
    store[key] = value
    sim.reply(id, "OK")
  elseif op == "incr" then
    store[key] = (tonumber(store[key]) or 0) + 1
    sim.reply(id, tostring(store[key]))
  else
    sim.reply(id, tostring(store[key]))
  end
end
"#;

/// Where the simulation stands, for failure reports.
#[derive(Clone, Copy)]
struct At {
    seed: u64,
    t: Duration,
}

impl At {
    fn fail(self, what: String) -> ! {
        panic!(
            "seed {} failed at t={:?}: {what}\nreplay: SIM_SEED={} cargo test --release --test simulation",
            self.seed, self.t, self.seed
        );
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() as f64 / u64::MAX as f64) < p
    }
    fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = (hi - lo).as_micros() as u64;
        lo + Duration::from_micros(self.below(span + 1))
    }
}

/// The network's character for one seed.
#[derive(Debug)]
struct Faults {
    latency: (Duration, Duration),
    /// Data bytes per millisecond.
    bandwidth: u64,
    control_loss: f64,
    control_dup: f64,
    partition_per_step: f64,
    primary_crash_per_step: f64,
    standby_crash_per_step: f64,
    replay_per_step: f64,
    lost_image: f64,
}

type Request = (i64, String, String, String);

/// A node serving the program.
struct Server {
    rt: Runtime,
    machine: Primary,
    runtime_id: u64,
    images: Rc<RefCell<Vec<Image>>>,
    requests: Rc<RefCell<VecDeque<Request>>>,
    replies: Rc<RefCell<Vec<(i64, String)>>>,
    /// Replies of the epoch being run, and of captured epochs awaiting
    /// their acknowledgement.
    untagged: Vec<(i64, String)>,
    held: VecDeque<(u64, i64, String)>,
    /// The heap right after each capture, by epoch.
    snapshots: BTreeMap<u64, Image>,
    target: usize,
    conn: Option<u64>,
    next_connect: Instant,
    want_full: bool,
}

/// A hot standby's program: a runtime following every frame its
/// machine accepts, with the natives' queues it serves with once
/// promoted.
struct Follower {
    rt: Runtime,
    requests: Rc<RefCell<VecDeque<Request>>>,
    replies: Rc<RefCell<Vec<(i64, String)>>>,
    /// The (runtime, epoch) of the last frame followed.
    held: Option<(u64, u64)>,
}

impl Follower {
    /// Follows the frame `standby` just accepted, if it did.
    fn follow_accepted(&mut self, standby: &Standby<MemStorage>) -> Result<(), String> {
        let held = (standby.runtime_id(), standby.epoch());
        if standby.epoch() == 0 || self.held == Some(held) {
            return Ok(());
        }
        let bytes = standby.storage().frames.last().expect("an accepted frame");
        self.follow(bytes)
            .map_err(|e| format!("could not follow a frame its machine accepted: {e}"))?;
        if self.held != Some(held) {
            return Err(format!("holds {:?}, its machine {held:?}", self.held));
        }
        Ok(())
    }

    /// A runtime that followed every frame of `storage`, in order.
    fn replaying(storage: &MemStorage) -> Result<Follower, String> {
        let requests: Rc<RefCell<VecDeque<Request>>> = Rc::default();
        let replies: Rc<RefCell<Vec<(i64, String)>>> = Rc::default();
        let mut follower = Follower {
            rt: program_runtime(&requests, &replies),
            requests,
            replies,
            held: None,
        };
        for bytes in &storage.frames {
            follower.follow(bytes)?;
        }
        Ok(follower)
    }

    fn follow(&mut self, bytes: &[u8]) -> Result<(), String> {
        let (header, image) =
            understudy_checkpointer::frame::decode(bytes).map_err(|e| e.to_string())?;
        self.rt
            .follow(&image)
            .map_err(|e| format!("epoch {}: {e}", header.epoch))?;
        self.held = Some((header.runtime_id, header.epoch));
        Ok(())
    }
}

struct Node {
    alive: bool,
    standby: Option<Standby<MemStorage>>,
    /// The hot standby's program (even seeds).
    follower: Option<Follower>,
    /// A crashed standby's storage, as it was durable.
    disk: Option<MemStorage>,
    restart_at: Option<Instant>,
    server: Option<Server>,
    /// The highest term seen on this node.
    term: u64,
}

struct Conn {
    primary: usize,
    standby: usize,
    /// Control messages in flight (bytes with their arrival).
    up: Vec<(Instant, Vec<u8>)>,
    down: Vec<(Instant, Vec<u8>)>,
    /// Data bytes written, not yet on the wire, and how many of them end
    /// the frame being written (then `data_written`).
    data_queue: VecDeque<u8>,
    frame_ends: VecDeque<usize>,
    data_in_flight: VecDeque<(Instant, Vec<u8>)>,
    framer: Framer,
    standby_knows: bool,
    last_activity: Instant,
    close_at: Option<Instant>,
    /// One end crashed: nothing is delivered any more.
    dead: bool,
}

struct Sim {
    seed: u64,
    rng: Rng,
    faults: Faults,
    t0: Instant,
    now: Instant,
    nodes: Vec<Node>,
    conns: HashMap<u64, Conn>,
    next_conn: u64,
    next_request: i64,
    partition_until: Instant,
    failovers: usize,
    /// Which node released output in each term.
    releasers: BTreeMap<u64, usize>,
    /// When bytes of a serving primary last reached each standby node on
    /// its newest link.
    last_bytes_at: HashMap<usize, Instant>,
    /// What each standby held when last compared with its primary.
    compared: HashMap<usize, (u64, u64)>,
    quiet: bool,
    /// Clients have stopped: nothing new is captured.
    drained: bool,
    released: usize,
    promotions: usize,
}

fn program_runtime(
    requests: &Rc<RefCell<VecDeque<Request>>>,
    replies: &Rc<RefCell<Vec<(i64, String)>>>,
) -> Runtime {
    let mut rt = Runtime::new(Config {
        virtual_time: true,
        ..Config::default()
    });
    let q = requests.clone();
    rt.register("sim.next", move |()| {
        Ok(match q.borrow_mut().pop_front() {
            Some((id, op, k, v)) => (Some(id), Some(op), Some(k), Some(v)),
            None => (None, None, None, None),
        })
    });
    let r = replies.clone();
    rt.register("sim.reply", move |(id, text): (i64, String)| {
        r.borrow_mut().push((id, text));
        Ok(())
    });
    rt
}

impl Server {
    fn with(
        mut rt: Runtime,
        requests: Rc<RefCell<VecDeque<Request>>>,
        replies: Rc<RefCell<Vec<(i64, String)>>>,
        runtime_id: u64,
        term: u64,
        target: usize,
        now: Instant,
    ) -> Server {
        let images: Rc<RefCell<Vec<Image>>> = Rc::default();
        let sink = images.clone();
        rt.set_checkpointing(CheckpointPolicy::default(), move |image, _| {
            sink.borrow_mut().push(image)
        });
        let config = PrimaryConfig {
            runtime_id,
            term,
            heartbeat: HEARTBEAT,
            link_timeout: LINK_TIMEOUT,
            compression: understudy_checkpointer::Compression::Lz4,
        };
        Server {
            rt,
            machine: Primary::new(config, now),
            runtime_id,
            images,
            requests,
            replies,
            untagged: Vec::new(),
            held: VecDeque::new(),
            snapshots: BTreeMap::new(),
            target,
            conn: None,
            next_connect: now,
            want_full: false,
        }
    }
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut rng = Rng(seed);
        let lat_lo = Duration::from_micros(50 + rng.below(2000));
        let faults = Faults {
            latency: (lat_lo, lat_lo + Duration::from_micros(rng.below(5000))),
            // 4 KB/s to 16 MB/s: at the low end a full image takes
            // seconds, past the failure timeout and the link timeout.
            bandwidth: 4 << rng.below(13),
            control_loss: [0.0, 0.01, 0.1][rng.below(3) as usize],
            control_dup: [0.0, 0.02, 0.1][rng.below(3) as usize],
            partition_per_step: [0.0, 0.001, 0.004][rng.below(3) as usize],
            primary_crash_per_step: [0.0, 0.0003, 0.001][rng.below(3) as usize],
            standby_crash_per_step: [0.0, 0.0005, 0.002][rng.below(3) as usize],
            replay_per_step: [0.0, 0.005][rng.below(2) as usize],
            lost_image: [0.0, 0.01, 0.05][rng.below(3) as usize],
        };
        trace(|| format!("seed {seed}: {faults:?}"));
        let t0 = Instant::now();
        let requests: Rc<RefCell<VecDeque<Request>>> = Rc::default();
        let replies: Rc<RefCell<Vec<(i64, String)>>> = Rc::default();
        let mut rt = program_runtime(&requests, &replies);
        rt.load(PROGRAM.as_bytes(), "=kv", &[])
            .expect("the program loads");
        let server = Server::with(rt, requests, replies, 1000 + seed, 0, 1, t0);
        let mut sim = Sim {
            seed,
            rng,
            faults,
            t0,
            now: t0,
            nodes: Vec::new(),
            conns: HashMap::new(),
            next_conn: 1,
            next_request: 1,
            partition_until: t0,
            failovers: 0,
            releasers: BTreeMap::new(),
            last_bytes_at: HashMap::new(),
            compared: HashMap::new(),
            quiet: false,
            drained: false,
            released: 0,
            promotions: 0,
        };
        sim.nodes.push(Node {
            alive: true,
            standby: None,
            disk: None,
            restart_at: None,
            server: Some(server),
            term: 0,
            follower: None,
        });
        sim.add_standby_node();
        // The first image, as `run` takes it when protection starts.
        let s = sim.nodes[0].server.as_mut().unwrap();
        s.rt.checkpoint_now();
        sim.capture_done(0);
        sim
    }

    /// Whether the standbys of this seed are hot (`understudy-replica`'s
    /// way) or keep an image of their own in the machine.
    fn hot(&self) -> bool {
        self.seed.is_multiple_of(2)
    }

    /// A standby on `storage`, with its follower if the seed's are hot.
    fn open_standby(
        &self,
        storage: MemStorage,
        now: Instant,
    ) -> Result<(Standby<MemStorage>, Option<Follower>), String> {
        if !self.hot() {
            let standby =
                Standby::open(storage, self.standby_config(), now).map_err(|e| e.to_string())?;
            return Ok((standby, None));
        }
        let follower = Follower::replaying(&storage)?;
        let standby = Standby::open_for_follower(storage, self.standby_config(), now)
            .map_err(|e| e.to_string())?;
        if follower.held.map(|(_, e)| e).unwrap_or(0) != standby.epoch() {
            return Err(format!(
                "the follower replayed to {:?}, the machine holds epoch {}",
                follower.held,
                standby.epoch()
            ));
        }
        Ok((standby, Some(follower)))
    }

    fn add_standby_node(&mut self) -> usize {
        let (standby, follower) = self
            .open_standby(MemStorage::default(), self.now)
            .expect("an empty standby opens");
        self.nodes.push(Node {
            alive: true,
            standby: Some(standby),
            follower,
            disk: None,
            restart_at: None,
            server: None,
            term: 0,
        });
        self.nodes.len() - 1
    }

    fn standby_config(&self) -> StandbyConfig {
        StandbyConfig {
            failure_timeout: FAILURE_TIMEOUT,
            restart_grace: RESTART_GRACE,
            ack: AckLevel::Received,
        }
    }

    fn at(&self) -> At {
        At {
            seed: self.seed,
            t: self.now - self.t0,
        }
    }

    fn fail(&self, what: String) -> ! {
        self.at().fail(what)
    }

    fn latency(&mut self) -> Duration {
        let (lo, hi) = self.faults.latency;
        self.rng.between(lo, hi)
    }

    fn partitioned(&self) -> bool {
        self.now < self.partition_until
    }

    /// Feeds the images the runtime captured to the sender's machine, as
    /// the checkpoint sink does, and tags the replies of those epochs.
    fn capture_done(&mut self, node: usize) {
        let lose = !self.quiet && self.rng.chance(self.faults.lost_image);
        let s = self.nodes[node].server.as_mut().unwrap();
        let images: Vec<Image> = s.images.borrow_mut().drain(..).collect();
        for image in images {
            let epoch = image.epoch;
            s.snapshots.insert(epoch, s.rt.snapshot());
            for (id, text) in s.untagged.drain(..) {
                s.held.push_back((epoch, id, text));
            }
            trace(|| {
                format!(
                    "node {node} captured {} (after {}) full {} lost {}",
                    image.epoch,
                    image.parent,
                    image.full,
                    lose && !image.full
                )
            });
            if lose && !image.full {
                // The hand-off failed: the machine must notice the gap.
                continue;
            }
            s.machine.submit(image);
        }
    }

    fn step(&mut self) {
        // Once the clients stop, time moves in larger steps.
        let dt = if self.drained {
            self.rng
                .between(Duration::from_millis(5), Duration::from_millis(20))
        } else {
            self.rng
                .between(Duration::from_micros(200), Duration::from_millis(4))
        };
        self.now += dt;
        self.faults_now();
        self.deliver(dt);
        self.timeouts();
        self.work();
        self.pump();
        self.check();
    }

    fn faults_now(&mut self) {
        if self.quiet {
            return;
        }
        let storms = self.failovers < FAILOVERS_MAX;
        if storms && !self.partitioned() && self.rng.chance(self.faults.partition_per_step) {
            let long = self.rng.chance(0.3);
            let d = if long {
                self.rng
                    .between(Duration::from_millis(400), Duration::from_millis(2500))
            } else {
                self.rng
                    .between(Duration::from_millis(10), Duration::from_millis(250))
            };
            self.partition_until = self.now + d;
            trace(|| format!("t={:?} partition for {d:?}", self.now - self.t0));
        }
        // Crash the serving primary.
        if storms && self.rng.chance(self.faults.primary_crash_per_step) {
            if let Some(n) = self.serving() {
                self.crash(n);
            }
        }
        // Crash a standby; it restarts from its storage.
        if self.rng.chance(self.faults.standby_crash_per_step) {
            let standbys: Vec<usize> = (0..self.nodes.len())
                .filter(|&n| {
                    self.nodes[n].alive
                        && self.nodes[n]
                            .standby
                            .as_ref()
                            .is_some_and(|s| !s.is_promoted())
                })
                .collect();
            if let Some(&n) = standbys.first() {
                let disk = self.nodes[n].standby.take().unwrap().storage().clone();
                self.nodes[n].disk = Some(disk);
                self.nodes[n].follower = None;
                self.nodes[n].alive = false;
                let back = self
                    .rng
                    .between(Duration::from_millis(5), Duration::from_millis(800));
                self.nodes[n].restart_at = Some(self.now + back);
                trace(|| {
                    format!(
                        "t={:?} standby {n} crashes for {back:?}",
                        self.now - self.t0
                    )
                });
                self.drop_conns_of(n);
            }
        }
        // Replay an old frame at a standby on its newest link.
        if self.rng.chance(self.faults.replay_per_step) {
            self.replay();
        }
    }

    fn serving(&self) -> Option<usize> {
        (0..self.nodes.len()).rev().find(|&n| {
            self.nodes[n].alive
                && self.nodes[n]
                    .server
                    .as_ref()
                    .is_some_and(|s| s.machine.fenced().is_none())
        })
    }

    fn crash(&mut self, n: usize) {
        trace(|| format!("t={:?} node {n} crashes", self.now - self.t0));
        self.nodes[n].alive = false;
        self.nodes[n].server = None;
        if let Some(s) = self.nodes[n].standby.take() {
            self.nodes[n].disk = Some(s.storage().clone());
        }
        self.nodes[n].follower = None;
        self.drop_conns_of(n);
    }

    /// A crashed process's connections go silent: nothing more is
    /// delivered on them, and the peer notices by its timeouts.
    fn drop_conns_of(&mut self, n: usize) {
        for c in self.conns.values_mut() {
            if c.primary == n || c.standby == n {
                c.dead = true;
                c.close_at.get_or_insert(self.now + IDLE_TIMEOUT);
            }
        }
    }

    /// Hands the standby a stale frame on its current link, as if a
    /// stream had carried it twice: it must not take the standby back.
    fn replay(&mut self) {
        let at = self.at();
        let Some(n) = self.serving() else { return };
        let s = self.nodes[n].server.as_ref().unwrap();
        let Some((_, snap)) = s.snapshots.iter().next() else {
            return;
        };
        let mut image = snap.clone();
        if self.rng.chance(0.5) {
            image.full = false;
            image.parent = image.epoch.saturating_sub(1);
        }
        let frame = understudy_checkpointer::encode(
            &image,
            understudy_checkpointer::Position {
                runtime_id: s.runtime_id,
                term: s.machine.term(),
            },
            understudy_checkpointer::Compression::None,
        );
        let Some(conn) = s.conn else { return };
        let Some(target) = self.conns.get(&conn).map(|c| c.standby) else {
            return;
        };
        let node = &mut self.nodes[target];
        let Some(standby) = node.standby.as_mut() else {
            return;
        };
        let before = standby.epoch();
        standby.handle_frame(conn, &frame, self.now);
        if standby.epoch() < before {
            at.fail(format!(
                "a replayed frame of epoch {} took the standby back from {before}",
                image.epoch
            ));
        }
        if let Some(f) = node.follower.as_mut() {
            if let Err(e) = f.follow_accepted(standby) {
                at.fail(format!("node {target}'s follower {e}"));
            }
        }
    }

    fn deliver(&mut self, dt: Duration) {
        let at = self.at();
        let now = self.now;
        let partitioned = self.partitioned();
        let budget = (self.faults.bandwidth as f64 * dt.as_secs_f64() * 1000.0).max(1.0) as usize;
        let ids: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.dead)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            // Data: bytes move onto the wire at the bandwidth, and arrive
            // after the latency.
            if !partitioned {
                let latency = self.latency();
                let c = self.conns.get_mut(&id).unwrap();
                let n = budget.min(c.data_queue.len());
                if n > 0 {
                    let chunk: Vec<u8> = c.data_queue.drain(..n).collect();
                    c.data_in_flight.push_back((now + latency, chunk));
                    let mut left = n;
                    while let Some(end) = c.frame_ends.front_mut() {
                        if *end <= left {
                            left -= *end;
                            c.frame_ends.pop_front();
                            let p = c.primary;
                            if let Some(s) = self.nodes[p].server.as_mut() {
                                if s.conn == Some(id) {
                                    s.machine.data_written();
                                }
                            }
                        } else {
                            *end -= left;
                            break;
                        }
                    }
                }
            }
            let c = self.conns.get_mut(&id).unwrap();
            let (p, sb) = (c.primary, c.standby);
            let mut data = Vec::new();
            while !partitioned && c.data_in_flight.front().is_some_and(|(at, _)| *at <= now) {
                data.push(c.data_in_flight.pop_front().unwrap().1);
            }
            let mut up = Vec::new();
            let mut down = Vec::new();
            c.up.retain(|(at, m)| {
                let due = *at <= now;
                if due {
                    up.push(m.clone());
                }
                !due
            });
            c.down.retain(|(at, m)| {
                let due = *at <= now;
                if due {
                    down.push(m.clone());
                }
                !due
            });
            if !data.is_empty() || !up.is_empty() || !down.is_empty() {
                c.last_activity = now;
            }
            let first_contact = !c.standby_knows && (!up.is_empty() || !data.is_empty());
            if first_contact {
                c.standby_knows = true;
            }
            // At the standby.
            let serving = self.serving();
            let node = &mut self.nodes[sb];
            if let Some(standby) = node.standby.as_mut() {
                if first_contact {
                    standby.handle_connected(id, now);
                }
                let newest = self
                    .conns
                    .iter()
                    .filter(|(_, c)| c.standby == sb && c.standby_knows)
                    .map(|(i, _)| *i)
                    .max();
                let from_serving = serving == Some(p) && newest == Some(id);
                for m in up {
                    standby.handle_bytes(id, now);
                    let mut f = Framer::default();
                    f.push(&m);
                    match f.next_message::<ToStandby>() {
                        Ok(Some(msg)) => standby.handle_control(id, msg, now),
                        other => at.fail(format!("a control message did not frame: {other:?}")),
                    }
                    if from_serving {
                        self.last_bytes_at.insert(sb, now);
                    }
                }
                for chunk in data {
                    standby.handle_bytes(id, now);
                    if from_serving {
                        self.last_bytes_at.insert(sb, now);
                    }
                    let c = self.conns.get_mut(&id).unwrap();
                    c.framer.push(&chunk);
                    loop {
                        match c.framer.next_bytes() {
                            Ok(Some(frame)) => {
                                standby.handle_frame(id, &frame, now);
                                if let Some(f) = node.follower.as_mut() {
                                    if let Err(e) = f.follow_accepted(standby) {
                                        at.fail(format!("node {sb}'s follower {e}"));
                                    }
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                let e = e.to_string();
                                at.fail(format!("the reliable data stream failed to frame: {e}"))
                            }
                        }
                    }
                }
            }
            // At the primary.
            if let Some(server) = self.nodes[p].server.as_mut() {
                if server.conn == Some(id) {
                    for m in down {
                        server.machine.handle_bytes(now);
                        let mut f = Framer::default();
                        f.push(&m);
                        match f.next_message::<ToPrimary>() {
                            Ok(Some(msg)) => server.machine.handle_control(msg, now),
                            other => at.fail(format!("a control message did not frame: {other:?}")),
                        }
                    }
                }
            }
        }
        // Connections that broke: idle past QUIC's timeout, or closed.
        let broken: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                now >= c.last_activity + IDLE_TIMEOUT || c.close_at.is_some_and(|t| now >= t)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in broken {
            self.break_conn(id);
        }
    }

    fn break_conn(&mut self, id: u64) {
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        if let Some(s) = self.nodes[c.primary].server.as_mut() {
            if s.conn == Some(id) {
                s.conn = None;
                s.machine.handle_disconnected();
                s.next_connect = self.now + RECONNECT_PAUSE;
            }
        }
        if let Some(s) = self.nodes[c.standby].standby.as_mut() {
            s.handle_disconnected(id);
        }
    }

    fn timeouts(&mut self) {
        let now = self.now;
        for n in 0..self.nodes.len() {
            // A crashed standby comes back from its disk.
            if !self.nodes[n].alive && self.nodes[n].restart_at.is_some_and(|t| now >= t) {
                let disk = self.nodes[n].disk.take().unwrap_or_default();
                match self.open_standby(disk, now) {
                    Ok((s, follower)) => {
                        self.nodes[n].standby = Some(s);
                        self.nodes[n].follower = follower;
                    }
                    Err(e) => self.fail(format!("a standby's storage does not reopen: {e}")),
                }
                self.nodes[n].alive = true;
                self.nodes[n].restart_at = None;
            }
            if let Some(s) = self.nodes[n].standby.as_mut() {
                if s.poll_timeout().is_some_and(|t| now >= t) {
                    s.handle_timeout(now);
                }
            }
            if let Some(s) = self.nodes[n].server.as_mut() {
                if s.machine.poll_timeout().is_some_and(|t| now >= t) {
                    s.machine.handle_timeout(now);
                }
            }
        }
    }

    /// Clients send requests; the serving runtimes run them and capture
    /// epochs (on a timer, and at once when replies wait: group commit).
    fn work(&mut self) {
        for n in 0..self.nodes.len() {
            if !self.nodes[n].alive {
                continue;
            }
            let Some(s) = self.nodes[n].server.as_mut() else {
                continue;
            };
            if s.machine.fenced().is_some() {
                continue;
            }
            if self.drained {
                // No more clients; an idle runtime still takes a full
                // image it is asked for (the request wakes it).
                if std::mem::take(&mut s.want_full) {
                    s.rt.full_image_request().request();
                    s.rt.checkpoint_now();
                    self.capture_done(n);
                }
                continue;
            }
            let k = self.rng.below(4);
            for _ in 0..k {
                let id = self.next_request;
                self.next_request += 1;
                let key = format!("k{}", self.rng.below(40));
                let op = ["set", "incr", "get"][self.rng.below(3) as usize];
                s.requests
                    .borrow_mut()
                    .push_back((id, op.into(), key, format!("v{id}")));
            }
            let turns = 1 + self.rng.below(3);
            if let Err(e) = s.rt.run_turns(turns) {
                self.fail(format!("the program failed: {e}"));
            }
            let new: Vec<(i64, String)> = s.replies.borrow_mut().drain(..).collect();
            s.untagged.extend(new);
            let due = !s.untagged.is_empty() || self.rng.chance(0.2);
            if due || s.want_full {
                if std::mem::take(&mut s.want_full) {
                    s.rt.full_image_request().request();
                }
                s.rt.checkpoint_now();
                self.capture_done(n);
            }
        }
    }

    fn pump(&mut self) {
        for n in 0..self.nodes.len() {
            self.pump_server(n);
            self.pump_standby(n);
        }
    }

    fn pump_server(&mut self, n: usize) {
        let now = self.now;
        if !self.nodes[n].alive {
            return;
        }
        let Some(s) = self.nodes[n].server.as_ref() else {
            return;
        };
        // Connect when there is no link.
        if s.conn.is_none() && s.machine.fenced().is_none() && now >= s.next_connect {
            let target = s.target;
            let reachable = self.nodes[target].alive && now >= self.partition_until;
            if reachable {
                let id = self.next_conn;
                self.next_conn += 1;
                self.conns.insert(
                    id,
                    Conn {
                        primary: n,
                        standby: target,
                        up: Vec::new(),
                        down: Vec::new(),
                        data_queue: VecDeque::new(),
                        frame_ends: VecDeque::new(),
                        data_in_flight: VecDeque::new(),
                        framer: Framer::default(),
                        standby_knows: false,
                        last_activity: now,
                        close_at: None,
                        dead: false,
                    },
                );
                let s = self.nodes[n].server.as_mut().unwrap();
                s.conn = Some(id);
                s.machine.handle_connected(now);
                trace(|| {
                    format!(
                        "t={:?} node {n} connects to {target}: conn {id}",
                        now - self.t0
                    )
                });
            } else {
                let s = self.nodes[n].server.as_mut().unwrap();
                s.next_connect = now + RECONNECT_PAUSE + LINK_TIMEOUT;
            }
        }
        let s = self.nodes[n].server.as_mut().unwrap();
        let mut events = Vec::new();
        while let Some(event) = s.machine.poll_event() {
            events.push(event);
        }
        let mut close = false;
        for event in events {
            let s = self.nodes[n].server.as_mut().unwrap();
            match event {
                PrimaryEvent::Acked(epoch) => {
                    let (term, runtime_id, target) = (s.machine.term(), s.runtime_id, s.target);
                    let mut released = Vec::new();
                    while s.held.front().is_some_and(|(e, _, _)| *e <= epoch) {
                        released.push(s.held.pop_front().unwrap().0);
                    }
                    for e in released {
                        self.released += 1;
                        self.check_release(n, term, runtime_id, target, e);
                    }
                }
                // Raised at the simulator's next capture (the runtime
                // would take it at its next safepoint; here the
                // simulator picks the safepoints, to snapshot them).
                PrimaryEvent::NeedFullImage => s.want_full = true,
                PrimaryEvent::Fenced(_) | PrimaryEvent::CloseLink(_) => {
                    trace(|| format!("t={:?} node {n}: {event:?}", now - self.t0));
                    close = true;
                }
                PrimaryEvent::LinkUp { term } => {
                    if term < self.nodes[n].term {
                        self.fail(format!(
                            "node {n}'s term went from {} to {term}",
                            self.nodes[n].term
                        ));
                    }
                    self.nodes[n].term = term;
                }
            }
        }
        let s = self.nodes[n].server.as_mut().unwrap();
        let Some(id) = s.conn else { return };
        if close {
            s.conn = None;
            s.machine.handle_disconnected();
            s.next_connect = now + RECONNECT_PAUSE;
            if let Some(c) = self.conns.get_mut(&id) {
                c.close_at = Some(now);
            }
            return;
        }
        let mut control = Vec::new();
        while let Some(msg) = s.machine.poll_control() {
            control.push(wire::encode(&msg));
        }
        let data = s.machine.poll_data();
        let partitioned = self.partitioned();
        for bytes in control {
            self.send_control(id, bytes, partitioned, true);
        }
        if let Some(mut frame) = data {
            let encoded = frame.encode();
            trace(|| {
                format!(
                    "node {n} sends epoch {} (full {}) on conn {id}: {} bytes",
                    frame.epoch(),
                    frame.image.full,
                    encoded.len()
                )
            });
            let c = self.conns.get_mut(&id).unwrap();
            let framed = wire::frame_bytes(&encoded);
            c.frame_ends.push_back(framed.len());
            c.data_queue.extend(framed);
        }
    }

    fn send_control(&mut self, conn: u64, bytes: Vec<u8>, partitioned: bool, up: bool) {
        if partitioned || (!self.quiet && self.rng.chance(self.faults.control_loss)) {
            return;
        }
        let copies = if !self.quiet && self.rng.chance(self.faults.control_dup) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            // Reordering: each copy gets its own latency.
            let at = self.now + self.latency();
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if up {
                c.up.push((at, bytes.clone()));
            } else {
                c.down.push((at, bytes.clone()));
            }
        }
    }

    fn pump_standby(&mut self, n: usize) {
        if !self.nodes[n].alive {
            return;
        }
        let now = self.now;
        let partitioned = self.partitioned();
        let Some(s) = self.nodes[n].standby.as_mut() else {
            return;
        };
        let mut sends = Vec::new();
        while let Some((link, msg)) = s.poll_transmit() {
            sends.push((link, wire::encode(&msg)));
        }
        let mut events = Vec::new();
        while let Some(e) = s.poll_event() {
            events.push(e);
        }
        let term = s.term();
        if term < self.nodes[n].term {
            self.fail(format!(
                "node {n}'s term went from {} to {term}",
                self.nodes[n].term
            ));
        }
        self.nodes[n].term = term;
        for (link, bytes) in sends {
            self.send_control(link, bytes, partitioned, false);
        }
        for e in events {
            match e {
                StandbyEvent::CloseLink(link) => {
                    if let Some(c) = self.conns.get_mut(&link) {
                        c.close_at.get_or_insert(now + Duration::from_millis(200));
                    }
                }
                StandbyEvent::Promote { term, epoch } => self.promote(n, term, epoch),
                StandbyEvent::Applied { .. } | StandbyEvent::Refused { .. } => {}
            }
        }
    }

    /// The standby on node `n` took over: it serves the program from its
    /// image, protected by a new standby.
    fn promote(&mut self, n: usize, term: u64, epoch: u64) {
        self.promotions += 1;
        // No false failover: the serving primary's bytes must have been
        // silent for the timeout.
        if let Some(at) = self.last_bytes_at.get(&n) {
            let serving_alive = self
                .serving()
                .is_some_and(|p| self.nodes[p].server.as_ref().is_some_and(|s| s.target == n));
            if serving_alive && self.now < *at + FAILURE_TIMEOUT {
                self.fail(format!(
                    "node {n} promoted {:?} after the primary's last bytes (timeout {FAILURE_TIMEOUT:?})",
                    self.now - *at
                ));
            }
        }
        self.failovers += 1;
        let (rt, requests, replies) = match self.nodes[n].follower.take() {
            // A hot standby: the followed program is taken over.
            Some(mut f) => {
                if f.rt.following() != Some(epoch) {
                    self.fail(format!(
                        "node {n} promoted at epoch {epoch}, its follower holds {:?}",
                        f.rt.following()
                    ));
                }
                f.rt.take_over();
                (f.rt, f.requests, f.replies)
            }
            None => {
                let standby = self.nodes[n].standby.as_mut().unwrap();
                let image = standby.image().cloned().expect("promotion with an image");
                assert_eq!(image.epoch, epoch);
                let requests: Rc<RefCell<VecDeque<Request>>> = Rc::default();
                let replies: Rc<RefCell<Vec<(i64, String)>>> = Rc::default();
                let mut rt = program_runtime(&requests, &replies);
                if let Err(e) = rt.restore(&image) {
                    self.fail(format!("the promoted image does not restore: {e}"));
                }
                (rt, requests, replies)
            }
        };
        let next = self.add_standby_node();
        let mut server = Server::with(
            rt,
            requests,
            replies,
            2000 + self.seed * 10 + self.failovers as u64,
            term,
            next,
            self.now,
        );
        server.rt.checkpoint_now();
        self.nodes[n].server = Some(server);
        self.capture_done(n);
    }

    fn check_release(
        &mut self,
        node: usize,
        term: u64,
        runtime_id: u64,
        target: usize,
        epoch: u64,
    ) {
        match self.releasers.get(&term) {
            Some(&other) if other != node => self.fail(format!(
                "nodes {other} and {node} both released output in term {term}"
            )),
            _ => {
                self.releasers.insert(term, node);
            }
        }
        // The standby's durable storage holds the epoch.
        let t = &self.nodes[target];
        let storage = match (&t.standby, &t.disk) {
            (Some(s), _) => s.storage().clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => self.fail(format!("output of epoch {epoch} released with no standby")),
        };
        let last = storage
            .frames
            .last()
            .map(|f| understudy_checkpointer::frame::decode_header(f).unwrap());
        match last {
            Some(h) if h.runtime_id == runtime_id && h.epoch >= epoch => {}
            other => self.fail(format!(
                "output of epoch {epoch} (runtime {runtime_id}, term {term}) released, the standby holds {:?}",
                other.map(|h| (h.runtime_id, h.epoch, h.term))
            )),
        }
        if storage.term() < term {
            self.fail(format!(
                "output of term {term} released, the standby persisted term {}",
                storage.term()
            ));
        }
    }

    fn check(&mut self) {
        // The standby's image equals the primary's heap at that epoch.
        for n in 0..self.nodes.len() {
            let Some(s) = self.nodes[n].server.as_ref() else {
                continue;
            };
            let t = s.target;
            let Some(standby) = self.nodes[t].standby.as_ref() else {
                continue;
            };
            if standby.runtime_id() != s.runtime_id || standby.epoch() == 0 {
                continue;
            }
            let held = (standby.runtime_id(), standby.epoch());
            if self.compared.get(&t) == Some(&held) {
                continue;
            }
            // What the standby holds: the machine's image, or (hot) the
            // heap its follower keeps. A snapshot of a runtime carries no
            // epoch: it holds the one it followed last.
            let cold = standby.image().is_some();
            let followed = match self.nodes[t].follower.as_mut() {
                Some(f) if !cold => {
                    let mut image = f.rt.snapshot();
                    image.epoch = f.held.map_or(0, |(_, epoch)| epoch);
                    Some(image)
                }
                _ => None,
            };
            let node = &self.nodes[t];
            let Some(image) = node
                .standby
                .as_ref()
                .and_then(|s| s.image())
                .or(followed.as_ref())
            else {
                continue;
            };
            self.compared.insert(t, held);
            let s = self.nodes[n].server.as_ref().unwrap();
            match s.snapshots.get(&image.epoch) {
                Some(snap) if snap.same_heap(image) => {}
                Some(snap) => {
                    let differing: Vec<String> = snap
                        .objects
                        .iter()
                        .filter(|(k, v)| image.objects.get(k) != Some(v))
                        .map(|(k, v)| {
                            format!(
                                "{k}: {} {:?}",
                                v.kind(),
                                image.objects.get(k).map(|o| o.kind())
                            )
                        })
                        .take(4)
                        .collect();
                    let extra = image
                        .objects
                        .keys()
                        .filter(|k| !snap.objects.contains_key(k))
                        .count();
                    self.fail(format!(
                        "the standby's image of epoch {} differs from the primary's: {differing:?}, {extra} extra, roots equal: {}",
                        image.epoch,
                        snap.root == image.root
                    ))
                }
                None => self.fail(format!(
                    "the standby holds epoch {} the primary never took",
                    image.epoch
                )),
            }
        }
        // Snapshots below what the standby holds are no longer needed.
        for n in 0..self.nodes.len() {
            let held = self.nodes[n].server.as_ref().and_then(|s| {
                let t = &self.nodes[s.target];
                t.standby
                    .as_ref()
                    .filter(|sb| sb.runtime_id() == s.runtime_id)
                    .map(|sb| sb.epoch())
            });
            if let (Some(held), Some(s)) = (held, self.nodes[n].server.as_mut()) {
                let keep = s.snapshots.split_off(&held);
                s.snapshots = keep;
            }
        }
    }

    fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            self.step();
        }
        // A quiet second: no new faults, the network heals.
        self.quiet = true;
        self.partition_until = self.now;
        for n in 0..self.nodes.len() {
            if !self.nodes[n].alive && self.nodes[n].restart_at.is_some() {
                self.nodes[n].restart_at = Some(self.now);
            }
        }
        let end = self.now + Duration::from_millis(1000);
        while self.now < end {
            self.step();
        }
        // Then the clients stop, and the standby must catch up (a full
        // image on the slowest link takes several seconds).
        self.drained = true;
        let end = self.now + CATCH_UP;
        while self.now < end && !self.caught_up() {
            self.step();
        }
        let Some(p) = self.serving() else { return };
        let s = self.nodes[p].server.as_ref().unwrap();
        let t = s.target;
        let Some(standby) = self.nodes[t].standby.as_ref() else {
            return;
        };
        if !self.caught_up() {
            self.fail(format!(
                "after a quiet time the standby holds epoch {} of {:#x}; the primary is at {} of {:#x} (acked {})",
                standby.epoch(),
                standby.runtime_id(),
                s.machine.head(),
                s.runtime_id,
                s.machine.acked()
            ));
        }
    }

    /// The serving node's standby holds its newest epoch (or there is no
    /// one to catch up with).
    fn caught_up(&self) -> bool {
        let Some(p) = self.serving() else { return true };
        let s = self.nodes[p].server.as_ref().unwrap();
        match self.nodes[s.target].standby.as_ref() {
            Some(standby) => {
                standby.runtime_id() == s.runtime_id && standby.epoch() >= s.machine.head()
            }
            None => true,
        }
    }
}

/// With `SIM_TRACE` set, what happens is printed as it happens.
fn trace(what: impl FnOnce() -> String) {
    thread_local!(static ON: bool = std::env::var_os("SIM_TRACE").is_some());
    if ON.with(|on| *on) {
        eprintln!("{}", what());
    }
}

fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![seed];
    }
    let default = if cfg!(debug_assertions) { 8 } else { 300 };
    let n = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    (1..=n).collect()
}

/// Seeds are independent, so they run on every core; each worker takes the
/// next seed until none is left or one has failed (its panic reports the
/// seed and the replay command).
#[test]
fn replication_survives_seeded_faults() {
    let seeds = seeds();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let totals: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.min(seeds.len()))
            .map(|_| {
                scope.spawn(|| {
                    let (mut released, mut promotions) = (0, 0);
                    while !failed.load(Ordering::Relaxed) {
                        let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) else {
                            break;
                        };
                        let outcome = std::panic::catch_unwind(|| {
                            let mut sim = Sim::new(seed);
                            sim.run(STEPS);
                            (sim.released, sim.promotions)
                        });
                        match outcome {
                            Ok((r, p)) => {
                                released += r;
                                promotions += p;
                            }
                            Err(panic) => {
                                failed.store(true, Ordering::Relaxed);
                                std::panic::resume_unwind(panic);
                            }
                        }
                    }
                    (released, promotions)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let released: usize = totals.iter().map(|t| t.0).sum();
    let promotions: usize = totals.iter().map(|t| t.1).sum();
    eprintln!(
        "{} seeds on {workers} threads: {released} replies released, {promotions} promotions",
        seeds.len()
    );
    assert!(released > 0, "no reply was ever released");
}
