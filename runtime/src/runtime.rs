//! The embedding entry point: a [`Runtime`] owns the arena and the
//! scheduler's host side, and drives tasks in fuel slices, collecting
//! garbage between them and waiting on tokio when every task waits.

use std::future::Future;
use std::io::Write;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gc_arena::{Arena, Rootable};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::compiler;
use crate::convert::{FromLuaMulti, IntoLuaMulti, LuaValue};
use crate::host::{Completion, Event};
use crate::sched::{self, TaskStatus, Waiter};
use crate::state::{Ctx, MemoryMeter, State};
use crate::syntax;
use crate::thread::{Thread, ThreadStatus};
use crate::value::{Closure, Native, Proto, Value};
use crate::vm::{self, Outcome};

/// Limits and capabilities of a runtime.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bytes of strings and tables the script may keep alive.
    pub memory_limit: usize,
    /// Instructions the script may run in total (None: unlimited).
    pub fuel: Option<u64>,
    /// Whether `io.open`, `dofile` and `loadfile` may touch files.
    pub allow_files: bool,
    /// Whether the `net` library may listen and connect.
    pub allow_net: bool,
    /// Whether the logical clock is virtual: it stands still while tasks
    /// run and jumps to the next timer when every task waits, so sleeps
    /// cost no real time and runs are reproducible. Off, it follows the
    /// host's monotonic clock.
    pub virtual_time: bool,
    /// Instructions a task runs per turn (its fuel slice). Turns end at
    /// safepoints, where images can be taken.
    pub slice: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            memory_limit: 4 << 30,
            fuel: None,
            allow_files: true,
            allow_net: true,
            virtual_time: false,
            slice: SLICE as u32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Syntax(String),
    #[error("{message}")]
    Runtime { message: String, traceback: String },
    #[error("instruction budget exhausted")]
    FuelExhausted,
    /// The script kept allocating past the memory limit after `not enough
    /// memory` was raised.
    #[error("not enough memory (the script kept allocating past the limit)")]
    MemoryExhausted,
    /// The script called `os.exit(code)`.
    #[error("the script exited with status {code}")]
    Exit { code: i32 },
    /// Every task waits for another task, and no timer or I/O can wake
    /// any of them.
    #[error("deadlock: every task is waiting ({0})")]
    Deadlock(String),
    /// A function the embedder named is not a global function.
    #[error("no function '{0}'")]
    NoFunction(String),
    /// Values returned by Lua did not convert to the Rust types asked for.
    #[error("bad result: {0}")]
    Conversion(String),
}

/// When the runtime takes checkpoints by itself (see
/// [`Runtime::set_checkpointing`]). Lua's `checkpoint.now()` and
/// [`Runtime::request_checkpoint`] ask for one in any case.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckpointPolicy {
    /// Every so much logical time.
    pub every: Option<Duration>,
    /// Every so many instructions.
    pub every_instructions: Option<u64>,
}

/// What one checkpoint cost the program.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointInfo {
    /// Images taken by this runtime so far, this one included.
    pub sequence: u64,
    /// The image's epoch (see [`crate::image::Image`]).
    pub epoch: u64,
    pub full: bool,
    /// How long the program was stopped to capture the image.
    pub pause: Duration,
    pub records: usize,
}

type CheckpointSink = Box<dyn FnMut(crate::image::Image, &CheckpointInfo)>;

/// Checkpoints taken by the runtime itself.
struct Checkpointing {
    policy: CheckpointPolicy,
    sink: CheckpointSink,
    /// Logical time of the last image.
    last_at: u64,
    instructions: u64,
    taken: u64,
    /// The sink holds the image of the epoch before the first one it is
    /// given, so that first one may be a delta.
    continues: bool,
}

/// A task that ended with an error nobody joined.
#[derive(Debug, Clone)]
pub struct TaskFailure {
    pub task: u64,
    pub message: String,
    pub traceback: String,
}

type Root = Rootable![State<'_>];

/// Instructions a task runs per turn before the next ready task gets the
/// VM (and garbage collection gets a step), unless configured.
const SLICE: i64 = 4096;
/// Instructions granted after `instruction budget exhausted` is raised, for
/// error handlers to finish.
const FUEL_GRACE: i64 = 10_000;
/// Turns between two chances for tokio to make I/O progress while tasks
/// keep the VM busy.
const TURNS_PER_POLL: u32 = 32;

/// Where the runtime stands with its limits.
#[derive(Default)]
struct Limits {
    /// Instructions left (None: unlimited).
    budget: Option<i64>,
    in_grace: bool,
    /// An error to raise in the next task that runs.
    raise: Option<&'static str>,
    /// Live bytes after the last full collection forced by the limit.
    collected_at: usize,
}

/// A Lua 5.4 runtime: one heap, its tasks and its standard library.
///
/// ```
/// use understudy_runtime::{Config, Runtime};
///
/// let mut rt = Runtime::new(Config::default());
/// let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
/// rt.set_output(Box::new(understudy_runtime::runtime::SharedBuffer(out.clone())));
/// rt.exec(b"local t = {} for i = 1, 3 do t[i] = i * i end print(table.concat(t, ','))", "=example", &[])
///     .unwrap();
/// assert_eq!(String::from_utf8_lossy(&out.borrow()), "1,4,9\n");
/// ```
pub struct Runtime {
    arena: Arena<Root>,
    config: Config,
    completions: UnboundedReceiver<Completion>,
    /// The logical clock reads `clock_base` at `clock_origin`.
    clock_origin: Instant,
    clock_base: u64,
    limits: Limits,
    on_task_error: Box<dyn FnMut(TaskFailure)>,
    /// Turns left before the run pauses (see [`Runtime::run_turns`]).
    turns_left: Option<u64>,
    checkpointing: Option<Checkpointing>,
    /// See [`Runtime::blocking_io`].
    io: Option<tokio::runtime::Runtime>,
    output_commit: Option<OutputCommit>,
    full_wanted: Arc<FullImageRequest>,
    /// The epoch of the image this runtime was last restored from.
    restored_from: Option<u64>,
    /// The epoch of the last image followed ([`Runtime::follow`]).
    following: Option<u64>,
    /// Objects the followed heap's index held after its last pruning.
    followed_len: usize,
}

/// A checkpoint consumer's request for a full image, made when its chain
/// broke (a replica that needs a resync, a store write that failed): the
/// runtime takes one at its next safepoint, and an idle runtime wakes up
/// for it (a standby must not wait for the next client request to get an
/// image).
#[derive(Debug, Default)]
pub struct FullImageRequest {
    wanted: AtomicBool,
    wake: tokio::sync::Notify,
}

impl FullImageRequest {
    pub fn request(&self) {
        self.wanted.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    pub fn is_wanted(&self) -> bool {
        self.wanted.load(Ordering::SeqCst)
    }

    fn take(&self) -> bool {
        self.wanted.swap(false, Ordering::SeqCst)
    }
}

/// Output commit: socket output is held until the epoch that produced it
/// is acknowledged by the replica.
struct OutputCommit {
    /// The newest acknowledged epoch, advanced by the replication sender.
    acked: Arc<AtomicU64>,
    /// Signalled by the sender on every acknowledgement.
    notify: Arc<tokio::sync::Notify>,
    released: u64,
}

/// How a task's turn ended, for the driver.
enum Turn {
    Continue,
    Fatal(Error),
}

/// Registry key of the task an embedder's `call` waits for (a root, so
/// its outcome survives until it is taken).
const AWAITED: &str = "embedder.awaited";

impl Runtime {
    pub fn new(config: Config) -> Runtime {
        let meter = MemoryMeter::new(config.memory_limit);
        let arena = Arena::<Root>::new(|mc| State::new(mc, meter));
        let (tx, rx) = unbounded_channel();
        let mut rt = Runtime {
            arena,
            config,
            completions: rx,
            clock_origin: Instant::now(),
            clock_base: 0,
            limits: Limits::default(),
            turns_left: None,
            checkpointing: None,
            io: None,
            output_commit: None,
            full_wanted: Arc::default(),
            restored_from: None,
            following: None,
            followed_len: 0,
            on_task_error: Box::new(|f: TaskFailure| {
                if f.traceback.is_empty() {
                    eprintln!("understudy: task {} failed: {}", f.task, f.message);
                } else {
                    eprintln!(
                        "understudy: task {} failed: {}\n{}",
                        f.task, f.message, f.traceback
                    );
                }
            }),
        };
        rt.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            crate::stdlib::open(ctx, &rt.config);
            state.host.borrow_mut().completions = Some(tx);
        });
        rt.run_prelude();
        rt.limits.budget = rt.config.fuel.map(|f| f as i64);
        rt
    }

    /// Runs the parts of the standard library written in Lua. Each prelude
    /// receives `registry, tostring, select, io.write, type, error`.
    fn run_prelude(&mut self) {
        for (name, source) in crate::stdlib::PRELUDES {
            let proto = compile_chunk(source.as_bytes(), name).expect("the preludes compile");
            let id = self.arena.mutate(|mc, state| {
                let ctx = Ctx { mc, state };
                let f = load_proto(ctx, &proto);
                let g = state.globals;
                let write = match state.registry.get_str(ctx, "io") {
                    Value::Table(t) => t.get_str(ctx, "write"),
                    _ => Value::Nil,
                };
                let args = vec![
                    Value::Table(state.registry),
                    g.get_str(ctx, "tostring"),
                    g.get_str(ctx, "select"),
                    write,
                    g.get_str(ctx, "type"),
                    g.get_str(ctx, "error"),
                ];
                let task = sched::spawn(ctx, state.main_thread, f, args);
                let id = task.borrow().id;
                id
            });
            self.set_main_task(Some(id));
            self.run_ready().expect("the preludes run");
        }
        self.set_main_task(None);
        // The scripts' tasks count from 1.
        self.arena
            .mutate(|mc, state| state.sched.borrow_mut(mc).last_task_id = 0);
    }

    fn set_main_task(&mut self, id: Option<u64>) {
        self.arena
            .mutate(|mc, state| state.sched.borrow_mut(mc).main_task = id);
    }

    /// Registers a Rust function under a stable `name` (`"app.greet"`
    /// becomes the global table `app`'s field `greet`). The name is what a
    /// checkpoint refers to, so it must not change between versions.
    ///
    /// Arguments and results convert with [`FromLuaMulti`] and
    /// [`IntoLuaMulti`]; an `Err(message)` is raised as a Lua error.
    pub fn register<A, R, F>(&mut self, name: &'static str, f: F)
    where
        A: FromLuaMulti,
        R: IntoLuaMulti,
        F: Fn(A) -> Result<R, String> + 'static,
    {
        let f: crate::convert::HostFn = Rc::new(move |args| {
            let a = A::from_lua_multi(args)?;
            f(a).map(IntoLuaMulti::into_lua_multi)
        });
        self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            state.host.borrow_mut().functions.insert(name, f);
            let native = Native::new(ctx, name, crate::host::call_host, Box::new([ctx.str(name)]));
            set_global_path(ctx, name, Value::Native(native));
        });
    }

    /// Registers an async Rust function under a stable `name`: the calling
    /// task parks while the future runs on tokio, and other tasks go on.
    pub fn register_async<A, R, F, Fut>(&mut self, name: &'static str, f: F)
    where
        A: FromLuaMulti,
        R: IntoLuaMulti,
        F: Fn(A) -> Fut + 'static,
        Fut: Future<Output = Result<R, String>> + Send + 'static,
    {
        let f: crate::convert::AsyncHostFn = Rc::new(move |args| match A::from_lua_multi(args) {
            Ok(a) => {
                let fut = f(a);
                Box::pin(async move { fut.await.map(IntoLuaMulti::into_lua_multi) })
            }
            Err(e) => Box::pin(std::future::ready(Err(e))),
        });
        self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            state.host.borrow_mut().async_functions.insert(name, f);
            let native = Native::new(
                ctx,
                name,
                crate::host::call_host_async,
                Box::new([ctx.str(name)]),
            );
            set_global_path(ctx, name, Value::Native(native));
        });
    }

    /// Reports tasks that fail with nobody joining them (the default
    /// prints the error and traceback to stderr).
    pub fn on_task_error(&mut self, handler: impl FnMut(TaskFailure) + 'static) {
        self.on_task_error = Box::new(handler);
    }

    /// Compiles `source` and queues it as the main task, with `args` as
    /// its `...`; [`Runtime::run`] runs it. An error escaping the main
    /// task ends the run (other tasks' errors go to the task error
    /// handler).
    pub fn load(&mut self, source: &[u8], chunkname: &str, args: &[Vec<u8>]) -> Result<(), Error> {
        let proto = compile_chunk(source, chunkname).map_err(Error::Syntax)?;
        let id = self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            let f = load_proto(ctx, &proto);
            let args: Vec<Value> = args.iter().map(|a| ctx.bytes(a)).collect();
            let main = state.main_thread;
            let thread = if main.status() == ThreadStatus::Dead || main.0.borrow().stack.is_empty()
            {
                main
            } else {
                Thread::new(ctx)
            };
            let task = sched::spawn(ctx, thread, f, args);
            let id = task.borrow().id;
            id
        });
        self.set_main_task(Some(id));
        Ok(())
    }

    /// Compiles `source`, runs it as the main task and keeps running until
    /// every task has finished. Drives its own single-threaded tokio
    /// runtime for timers and I/O, so it must not be called from async
    /// code: there, use [`Runtime::load`] and [`Runtime::run`].
    pub fn exec(&mut self, source: &[u8], chunkname: &str, args: &[Vec<u8>]) -> Result<(), Error> {
        self.load(source, chunkname, args)?;
        self.block_on_run()
    }

    fn block_on_run(&mut self) -> Result<(), Error> {
        let io = self.blocking_io();
        let r = io.block_on(self.run());
        self.io = Some(io);
        r
    }

    /// The tokio runtime of the blocking API, kept for the runtime's
    /// life: sockets and timers belong to the tokio runtime they were made
    /// on, so every blocking run must use the same one.
    fn blocking_io(&mut self) -> tokio::runtime::Runtime {
        self.io.take().unwrap_or_else(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a single-threaded tokio runtime starts")
        })
    }

    /// Calls the global function `function` (a dotted path such as
    /// `"app.handle"` works too) as a new task and waits for its results;
    /// other tasks run meanwhile.
    pub async fn call<A: IntoLuaMulti, R: FromLuaMulti>(
        &mut self,
        function: &str,
        args: A,
    ) -> Result<R, Error> {
        let id = self.spawn(function, args)?;
        self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            if let Some(task) = state.sched.borrow().tasks.get(&id) {
                let handle = crate::stdlib::task::handle(ctx, *task);
                state.registry.set_str(ctx, AWAITED, handle);
            }
        });
        let outcome = self.drive(Some(id), std::future::pending::<()>()).await?;
        let values = outcome.ok_or_else(|| Error::Deadlock(String::new()))?;
        R::from_lua_multi(values).map_err(Error::Conversion)
    }

    /// [`Runtime::call`] for code that is not async (it drives its own
    /// single-threaded tokio runtime).
    pub fn call_blocking<A: IntoLuaMulti, R: FromLuaMulti>(
        &mut self,
        function: &str,
        args: A,
    ) -> Result<R, Error> {
        let io = self.blocking_io();
        let r = io.block_on(self.call(function, args));
        self.io = Some(io);
        r
    }

    /// Starts the global function `function` with `args` as a new task;
    /// returns its id. It runs when the runtime runs.
    pub fn spawn<A: IntoLuaMulti>(&mut self, function: &str, args: A) -> Result<u64, Error> {
        let args = args.into_lua_multi();
        self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            let f = get_global_path(ctx, function);
            if !f.is_function() {
                return Err(Error::NoFunction(function.to_owned()));
            }
            let args = args.iter().map(|a| a.to_value(ctx)).collect();
            let task = sched::spawn(ctx, Thread::new(ctx), f, args);
            let id = task.borrow().id;
            Ok(id)
        })
    }

    /// Runs tasks until none is left. Timers and I/O progress on the
    /// tokio runtime this is awaited on.
    pub async fn run(&mut self) -> Result<(), Error> {
        self.run_until(std::future::pending::<()>()).await
    }

    /// Runs tasks until none is left or `shutdown` completes (then the
    /// tasks stay as they are and a later run continues them).
    pub async fn run_until<F: Future>(&mut self, shutdown: F) -> Result<(), Error> {
        self.drive(None, shutdown).await.map(|_| ())
    }

    /// The scheduler loop. With `until`, returns that task's results as
    /// soon as it is over.
    async fn drive<F: Future>(
        &mut self,
        until: Option<u64>,
        shutdown: F,
    ) -> Result<Option<Vec<LuaValue>>, Error> {
        tokio::pin!(shutdown);
        let mut turns = 0u32;
        let mut polled_before_cut = false;
        let result = loop {
            while let Ok(c) = self.completions.try_recv() {
                self.complete(c);
            }
            let now = self.observe_clock();
            self.maybe_checkpoint();
            self.release_acked_output();
            let ready = self.arena.mutate(|mc, state| {
                let ctx = Ctx { mc, state };
                sched::fire_timers(ctx, now);
                !state.sched.borrow().ready.is_empty()
            });
            if ready {
                match self.turn(until) {
                    Turn::Continue => {}
                    Turn::Fatal(e) => break Err(e),
                }
                if let Some(n) = self.turns_left.as_mut() {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        break Ok(None);
                    }
                }
                if let Some(values) = self.awaited_outcome(until) {
                    break values.map(Some);
                }
                turns += 1;
                if turns.is_multiple_of(TURNS_PER_POLL) {
                    tokio::select! {
                        biased;
                        _ = &mut shutdown => break Ok(None),
                        _ = tokio::task::yield_now() => {}
                    }
                }
                continue;
            }
            let (tasks, deadline, pending) = self.arena.mutate(|mc, state| {
                let ctx = Ctx { mc, state };
                let tasks = state.sched.borrow().tasks.len();
                let deadline = sched::next_deadline(ctx);
                let pending = state.host.borrow().pending;
                (tasks, deadline, pending)
            });
            // Output commit: replies wait for an epoch; take it now that the
            // program is idle (one epoch covers everything this burst did).
            // First let the I/O driver hand over what arrived meanwhile
            // (once per epoch): requests already in the sockets then join
            // this epoch instead of each costing one of their own.
            if self.output_needs_checkpoint() {
                if !polled_before_cut {
                    polled_before_cut = true;
                    tokio::task::yield_now().await;
                    if !self.completions.is_empty() {
                        continue;
                    }
                }
                polled_before_cut = false;
                self.checkpoint_now();
                continue;
            }
            if tasks == 0 && !self.output_held() {
                break Ok(None);
            }
            if tasks > 0 && deadline.is_none() && pending == 0 && !self.output_held() {
                break Err(Error::Deadlock(self.describe_waits()));
            }
            if self.config.virtual_time {
                if let Some(d) = deadline {
                    // Time passes only when nothing can run: first let
                    // tokio finish the I/O that is ready, then jump.
                    if pending > 0 {
                        tokio::task::yield_now().await;
                        if let Ok(c) = self.completions.try_recv() {
                            self.complete(c);
                            continue;
                        }
                    }
                    self.arena
                        .mutate(|mc, state| state.sched.borrow_mut(mc).now = d);
                    continue;
                }
            }
            // An idle program is still checkpointed on time: what its last
            // turns changed must not wait for the next request.
            let checkpoint_due = self
                .checkpointing
                .as_ref()
                .filter(|c| c.instructions > 0)
                .and_then(|c| {
                    c.policy
                        .every
                        .map(|every| c.last_at.saturating_add(every.as_nanos() as u64))
                });
            let wake = match (deadline, checkpoint_due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep = wake.map(|d| Duration::from_nanos(d.saturating_sub(now)));
            tokio::select! {
                biased;
                _ = &mut shutdown => break Ok(None),
                c = self.completions.recv() => {
                    if let Some(c) = c {
                        self.complete(c);
                    }
                }
                _ = tokio::time::sleep(sleep.unwrap_or_default()), if sleep.is_some() => {}
                _ = acked_signal(&self.output_commit) => {}
                _ = self.full_wanted.wake.notified() => {}
            }
        };
        self.flush();
        result
    }

    /// Takes checkpoints at safepoints by `policy` (and whenever asked),
    /// handing each image to `sink` (which owns it: no copy is made): the
    /// first is full, the others deltas against the previous one.
    pub fn set_checkpointing(
        &mut self,
        policy: CheckpointPolicy,
        sink: impl FnMut(crate::image::Image, &CheckpointInfo) + 'static,
    ) {
        self.start_checkpointing(policy, Box::new(sink), false);
    }

    /// [`Runtime::set_checkpointing`] for a sink that already holds the
    /// image this runtime was restored from (the directory `resume` loaded,
    /// the standby's store after a promotion): the first image is a delta
    /// against it, so a large heap is not captured and written whole
    /// again. Returns whether it will be; when the runtime was not
    /// restored, or has taken an image since, the first one is full as
    /// with `set_checkpointing`.
    pub fn continue_checkpointing(
        &mut self,
        policy: CheckpointPolicy,
        sink: impl FnMut(crate::image::Image, &CheckpointInfo) + 'static,
    ) -> bool {
        let continues = self.restored_epoch().is_some();
        self.start_checkpointing(policy, Box::new(sink), continues);
        continues
    }

    /// The epoch of the image this runtime was restored from, while it is
    /// still the last image of this runtime (none taken since): the next
    /// delta would apply to it.
    pub fn restored_epoch(&self) -> Option<u64> {
        let next = self.arena.mutate(|_, state| state.epoch.get());
        self.restored_from.filter(|e| e + 1 == next)
    }

    fn start_checkpointing(
        &mut self,
        policy: CheckpointPolicy,
        sink: CheckpointSink,
        continues: bool,
    ) {
        let now = self.arena.mutate(|_, state| state.sched.borrow().now);
        self.checkpointing = Some(Checkpointing {
            policy,
            sink,
            last_at: now,
            instructions: 0,
            taken: 0,
            continues,
        });
    }

    /// What a checkpoint consumer uses to ask for a full image (instead of
    /// the next delta); see [`FullImageRequest`].
    pub fn full_image_request(&self) -> Arc<FullImageRequest> {
        self.full_wanted.clone()
    }

    /// Turns on output commit: bytes a task writes to a socket during
    /// epoch E (the checkpoint sequence) reach the socket only once
    /// `acked` reaches E; `notify` is signalled when it advances. A
    /// checkpoint is taken as soon as the program goes idle with output
    /// held, so replies wait for one epoch and its acknowledgement.
    pub fn set_output_commit(&mut self, acked: Arc<AtomicU64>, notify: Arc<tokio::sync::Notify>) {
        self.arena.mutate(|_, state| {
            state.host.borrow_mut().output_epoch = Some(state.epoch.get());
        });
        self.output_commit = Some(OutputCommit {
            acked,
            notify,
            released: 0,
        });
    }

    /// Output commit: lets out what the replica has acknowledged.
    fn release_acked_output(&mut self) {
        let Some(oc) = self.output_commit.as_mut() else {
            return;
        };
        let acked = oc.acked.load(Ordering::SeqCst);
        if acked > oc.released {
            oc.released = acked;
            self.arena
                .mutate(|mc, state| crate::stdlib::net::release_output(Ctx { mc, state }, acked));
        }
    }

    /// Output commit: whether output waits for a checkpoint not yet taken.
    fn output_needs_checkpoint(&self) -> bool {
        if self.output_commit.is_none() {
            return false;
        }
        self.arena.mutate(|mc, state| {
            // The newest epoch taken is the one before the current.
            let taken = state.epoch.get() - 1;
            crate::stdlib::net::output_waiting(Ctx { mc, state }, taken)
        })
    }

    /// Output commit: whether any output still waits for its epoch.
    fn output_held(&self) -> bool {
        self.output_commit.is_some()
            && self.arena.mutate(|_, state| {
                state
                    .host
                    .borrow()
                    .conns
                    .values()
                    .any(|c| !c.gated.is_empty())
            })
    }

    /// Asks for a checkpoint at the next safepoint.
    pub fn request_checkpoint(&mut self) {
        self.arena
            .mutate(|_, state| state.checkpoint_requested.set(true));
    }

    /// Takes a checkpoint now (a safepoint: between runs) and hands it to
    /// the sink set by [`Runtime::set_checkpointing`]; returns what it
    /// cost, or None without a sink.
    pub fn checkpoint_now(&mut self) -> Option<CheckpointInfo> {
        let mut c = self.checkpointing.take()?;
        let start = Instant::now();
        let image = if (c.taken == 0 && !c.continues) || self.full_wanted.take() {
            self.checkpoint()
        } else {
            self.checkpoint_delta()
        };
        let pause = start.elapsed();
        c.taken += 1;
        c.instructions = 0;
        c.last_at = self.arena.mutate(|_, state| {
            state.checkpoint_requested.set(false);
            state.sched.borrow().now
        });
        let info = CheckpointInfo {
            sequence: c.taken,
            epoch: image.epoch,
            full: image.full,
            pause,
            records: image.objects.len(),
        };
        (c.sink)(image, &info);
        if self.output_commit.is_some() {
            // Output from now on belongs to the next epoch.
            self.arena.mutate(|_, state| {
                state.host.borrow_mut().output_epoch = Some(state.epoch.get());
            });
        }
        self.checkpointing = Some(c);
        Some(info)
    }

    fn maybe_checkpoint(&mut self) {
        let Some(c) = self.checkpointing.as_ref() else {
            return;
        };
        let (requested, now) = self
            .arena
            .mutate(|_, state| (state.checkpoint_requested.get(), state.sched.borrow().now));
        // Nothing ran, nothing changed: no image to take.
        let by_time = c.instructions > 0
            && c.policy
                .every
                .is_some_and(|d| now.saturating_sub(c.last_at) >= d.as_nanos() as u64);
        let by_count = c
            .policy
            .every_instructions
            .is_some_and(|n| c.instructions >= n);
        let full_wanted = self.full_wanted.is_wanted();
        if requested || by_time || by_count || full_wanted {
            self.checkpoint_now();
        }
    }

    /// Runs at most `turns` task turns (then stops at a safepoint, where
    /// [`Runtime::checkpoint`] may be called). Returns whether every task
    /// has finished. Drives its own single-threaded tokio runtime.
    pub fn run_turns(&mut self, turns: u64) -> Result<bool, Error> {
        self.turns_left = Some(turns.max(1));
        let r = self.block_on_run();
        self.turns_left = None;
        r?;
        Ok(self.task_count() == 0)
    }

    /// Tasks not yet over.
    pub fn task_count(&self) -> usize {
        self.arena
            .mutate(|_, state| state.sched.borrow().tasks.len())
    }

    /// A full image of the heap. Call it between runs (a safepoint: no
    /// task is running then).
    pub fn checkpoint(&mut self) -> crate::image::Image {
        self.flush();
        self.arena
            .mutate(|mc, state| crate::image::full(Ctx { mc, state }))
    }

    /// A full image of the heap as it is now that does not start a new
    /// epoch: the next delta still follows the last image taken, whose
    /// epoch it carries. For checks and inspection.
    pub fn snapshot(&mut self) -> crate::image::Image {
        self.flush();
        self.arena
            .mutate(|mc, state| crate::image::snapshot(Ctx { mc, state }))
    }

    /// What changed since the last image ([`Runtime::checkpoint`] or
    /// `checkpoint_delta`), as a delta image; the first call gives a full
    /// image. Deltas applied in order to the full image
    /// ([`crate::image::Image::apply`]) give the heap as it is now.
    pub fn checkpoint_delta(&mut self) -> crate::image::Image {
        self.flush();
        self.arena
            .mutate(|mc, state| crate::image::delta(Ctx { mc, state }))
    }

    /// Replaces this runtime's heap with the one `image` describes; the
    /// program continues where the image was taken when the runtime runs
    /// again. Natives are bound by name to the standard library and to the
    /// functions registered on this runtime; the image is checked whole
    /// before anything changes, and refused with a typed error.
    ///
    /// Connections and listeners in the image are gone: operations on them
    /// answer `nil, "connection lost in failover"`.
    pub fn restore(&mut self, image: &crate::image::Image) -> Result<(), crate::image::ImageError> {
        if !image.full {
            return Err(crate::image::ImageError::NotFull);
        }
        self.follow(image)?;
        self.take_over();
        Ok(())
    }

    /// Follows a primary without running anything (a hot standby): a full
    /// image replaces the heap, as [`Runtime::restore`] does, and each
    /// delta that continues the epoch followed is applied to the heap in
    /// place, in O(delta). Every image is checked before anything changes:
    /// one refused leaves the heap at the epoch it held. Then
    /// [`Runtime::take_over`] makes the program runnable where the last
    /// image was taken, without rebuilding it.
    pub fn follow(&mut self, image: &crate::image::Image) -> Result<(), crate::image::ImageError> {
        let (functions, async_functions) = self.arena.mutate(|_, state| {
            let host = state.host.borrow();
            (host.functions.clone(), host.async_functions.clone())
        });
        let resolve = |name: &str| -> Option<(&'static str, crate::native::NativeFn)> {
            if let Some((n, f)) = crate::stdlib::all().find(|(n, _)| *n == name) {
                return Some((*n, *f));
            }
            if let Some((n, _)) = functions.get_key_value(name) {
                return Some((*n, crate::host::call_host as crate::native::NativeFn));
            }
            if let Some((n, _)) = async_functions.get_key_value(name) {
                return Some((*n, crate::host::call_host_async as crate::native::NativeFn));
            }
            None
        };
        if !image.full {
            if self.following != Some(image.parent) {
                return Err(crate::image::ImageError::Gap {
                    expected: self.following.unwrap_or(0),
                    found: image.parent,
                });
            }
            self.arena
                .mutate(|mc, state| crate::image::follow_delta(mc, state, image, &resolve))?;
            self.following = Some(image.epoch);
            self.prune_followed();
            self.arena.collect_debt();
            return Ok(());
        }
        crate::image::validate(image, &|name| resolve(name).is_some())?;
        self.flush();
        let meter = MemoryMeter::new(self.config.memory_limit);
        let arena = Arena::<Root>::new(|mc| {
            crate::image::restore_state(mc, State::new(mc, meter), image, &resolve)
        });
        let old = std::mem::replace(&mut self.arena, arena);
        // The host side carries over: output, registered functions,
        // capabilities, the completion channel.
        let (stdout, host) = old.mutate(|_, state| {
            let out = std::mem::replace(&mut *state.stdout.borrow_mut(), Box::new(std::io::sink()));
            (out, std::mem::take(&mut *state.host.borrow_mut()))
        });
        drop(old);
        let allow_files = self.config.allow_files;
        self.arena.mutate(|_, state| {
            *state.stdout.borrow_mut() = stdout;
            let mut h = state.host.borrow_mut();
            h.functions = host.functions;
            h.async_functions = host.async_functions;
            h.allow_net = host.allow_net;
            h.completions = host.completions;
            drop(h);
            state.allow_files.set(allow_files);
        });
        self.following = Some(image.epoch);
        self.followed_len = self.arena.mutate(|_, state| state.index.borrow().len());
        Ok(())
    }

    /// The epoch of the last image [`Runtime::follow`] applied, until
    /// [`Runtime::take_over`].
    pub fn following(&self) -> Option<u64> {
        self.following
    }

    /// The index of a followed heap keeps an entry for every object it
    /// held until it is swept: once it has doubled, the entries of objects
    /// the collector freed are dropped. O(index) then, O(1) amortised per
    /// object added.
    fn prune_followed(&mut self) {
        const MIN_SWEPT: usize = 1 << 16;
        let len = self.arena.mutate(|_, state| state.index.borrow().len());
        if len < 2 * self.followed_len.max(MIN_SWEPT) {
            return;
        }
        self.followed_len = self
            .arena
            .mutate(|mc, state| state.index.borrow_mut(mc).sweep());
    }

    /// Listeners recorded at an address of `mapping` (old, new) re-open
    /// at the new one when the followed program takes over; how many
    /// moved. Only while following.
    pub fn move_listeners(&mut self, mapping: &[(String, String)]) -> usize {
        if mapping.is_empty() {
            return 0;
        }
        self.arena.mutate(|mc, state| {
            let mut moved = 0;
            for r in state.index.borrow().objects(mc) {
                let crate::image::HeapRef::UserData(u) = r else {
                    continue;
                };
                let crate::sched::UserKind::Resource(res) = &u.kind else {
                    continue;
                };
                let mut res = res.borrow_mut(mc);
                if res.kind != crate::sched::ResourceKind::Listener {
                    continue;
                }
                if let Some((_, new)) = mapping.iter().find(|(old, _)| *old == res.addr) {
                    res.addr = new.clone();
                    moved += 1;
                }
            }
            moved
        })
    }

    /// Ends following: the program becomes runnable where the last image
    /// followed was taken (what [`Runtime::restore`] does after building
    /// the heap). The next image this runtime takes continues that epoch.
    /// Does nothing when not following.
    pub fn take_over(&mut self) {
        let Some(epoch) = self.following.take() else {
            return;
        };
        self.arena.mutate(|mc, state| {
            // The index held what deltas refer to; from here on the
            // collector alone decides what lives.
            *state.index.borrow_mut(mc) = Default::default();
            crate::stdlib::io::after_restore(Ctx { mc, state });
        });
        // Operations spawned for the old heap must not reach the new one.
        let (tx, rx) = unbounded_channel();
        self.completions = rx;
        let now = self.arena.mutate(|mc, state| {
            let mut host = state.host.borrow_mut();
            host.completions = Some(tx);
            host.pending = 0;
            drop(host);
            sched::wake_lost_waits(Ctx { mc, state });
            // Changes from here on are relative to the image followed, and
            // the epochs continue its own.
            state.image_hwm.set(state.next_id.get());
            state.epoch.set(epoch + 1);
            state.sched.borrow().now
        });
        self.clock_base = now;
        self.clock_origin = Instant::now();
        self.restored_from = Some(epoch);
    }

    /// The outcome of the task a `call` waits for, once it is over.
    fn awaited_outcome(&mut self, until: Option<u64>) -> Option<Result<Vec<LuaValue>, Error>> {
        until?;
        self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            let Value::UserData(u) = state.registry.get_str(ctx, AWAITED) else {
                return None;
            };
            let crate::sched::UserKind::Task(task) = &u.kind else {
                return None;
            };
            let outcome = task.borrow().outcome.clone()?;
            state.registry.set_str(ctx, AWAITED, Value::Nil);
            Some(match outcome {
                Ok(values) => Ok(values.into_iter().map(LuaValue::from_value).collect()),
                Err(e) => Err(Error::Runtime {
                    message: crate::stdlib::base::error_to_string(ctx, e),
                    traceback: String::new(),
                }),
            })
        })
    }

    /// Advances the logical clock from the host's (unless it is virtual).
    fn observe_clock(&mut self) -> u64 {
        let real = self
            .clock_base
            .saturating_add(self.clock_origin.elapsed().as_nanos() as u64);
        let virtual_time = self.config.virtual_time;
        self.arena.mutate(|mc, state| {
            let mut s = state.sched.borrow_mut(mc);
            if !virtual_time && real > s.now {
                s.now = real;
            }
            s.now
        })
    }

    /// Hands a finished host operation to the task waiting for it.
    fn complete(&mut self, c: Completion) {
        self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            {
                let mut host = state.host.borrow_mut();
                host.pending = host.pending.saturating_sub(1);
            }
            if let Event::Flush = c.event {
                crate::stdlib::net::flush_released(ctx, c.seq);
                return;
            }
            let Some(task) = state.sched.borrow().tasks.get(&c.task).copied() else {
                return;
            };
            let w = Waiter {
                task,
                seq: c.seq,
                case: 0,
            };
            if !w.is_live() {
                return;
            }
            let delivery = match c.event {
                Event::Ready | Event::Flush => Ok(Vec::new()),
                Event::Accepted(Ok((stream, _))) | Event::Connected(Ok(stream)) => {
                    Ok(vec![crate::stdlib::net::new_conn(ctx, stream)])
                }
                Event::Accepted(Err(e)) | Event::Connected(Err(e)) => Ok(vec![
                    Value::Nil,
                    ctx.str(&crate::stdlib::net::io_message(&e)),
                ]),
                Event::Native(Ok(values)) => Ok(values.iter().map(|v| v.to_value(ctx)).collect()),
                Event::Native(Err(message)) => Err(ctx.str(&message)),
            };
            sched::wake(ctx, w, delivery);
        });
    }

    /// Runs ready tasks until none is ready, without waiting for timers or
    /// I/O (the preludes, error descriptions).
    fn run_ready(&mut self) -> Result<(), Error> {
        loop {
            let ready = self
                .arena
                .mutate(|_, state| !state.sched.borrow().ready.is_empty());
            if !ready {
                return Ok(());
            }
            if let Turn::Fatal(e) = self.turn(None) {
                return Err(e);
            }
        }
    }

    /// Gives the first ready task one slice of fuel, then collects
    /// garbage and enforces the limits.
    ///
    /// Limits become Lua errors raised where the script stands: past the
    /// memory limit (after a full collection confirms it) `not enough
    /// memory`; when the instruction budget runs out, `instruction budget
    /// exhausted`, with a small grace budget for handlers, after which the
    /// run ends with [`Error::FuelExhausted`] whatever the script does.
    fn turn(&mut self, awaited: Option<u64>) -> Turn {
        // A followed heap runs only as the program taking over.
        self.take_over();
        let limits = &mut self.limits;
        if limits.budget.is_some_and(|b| b <= 0) {
            if limits.in_grace {
                return Turn::Fatal(Error::FuelExhausted);
            }
            limits.in_grace = true;
            limits.budget = Some(FUEL_GRACE);
            limits.raise = Some("instruction budget exhausted");
        }
        let per_turn = i64::from(self.config.slice.max(1));
        let slice = limits.budget.map_or(per_turn, |b| b.min(per_turn));
        let mut fuel = slice;
        let raise = limits.raise.take();
        let mut failure: Option<TaskFailure> = None;
        let mut describe_object = false;
        let fatal = self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            let task = loop {
                let t = state.sched.borrow_mut(mc).ready.pop_front()?;
                if !t.borrow().status.is_over() {
                    break t;
                }
            };
            sched::touch_task(ctx, task);
            let (id, chain, delivery) = {
                let mut t = task.borrow_mut(mc);
                t.status = TaskStatus::Running;
                (t.id, std::mem::take(&mut t.chain), t.wake.take())
            };
            for t in &chain {
                ctx.touch_thread(*t);
            }
            if let Some(top) = chain.last() {
                top.0.borrow_mut(mc).status = ThreadStatus::Running;
            }
            *state.running.borrow_mut(mc) = chain;
            state.sched.borrow_mut(mc).current = Some(task);
            let outcome = vm::execute(ctx, &mut fuel, raise, delivery);
            state.sched.borrow_mut(mc).current = None;
            let chain = std::mem::take(&mut *state.running.borrow_mut(mc));
            let base = chain[0];
            let status = task.borrow().status;
            match outcome {
                Outcome::Pending | Outcome::Parked if status.is_over() => {
                    // Cancelled by itself: it never runs again.
                    task.borrow_mut(mc).chain = chain;
                    crate::stdlib::task::discard_threads(ctx, task);
                }
                Outcome::Pending => {
                    let mut t = task.borrow_mut(mc);
                    t.chain = chain;
                    t.status = TaskStatus::Ready;
                    drop(t);
                    state.sched.borrow_mut(mc).ready.push_back(task);
                }
                Outcome::Parked => {
                    let mut t = task.borrow_mut(mc);
                    t.chain = chain;
                    // Woken already (task.yield): it is queued again.
                    t.status = if t.wake.is_some() {
                        TaskStatus::Ready
                    } else {
                        TaskStatus::Parked
                    };
                }
                Outcome::Done => {
                    let values = {
                        let mut th = base.0.borrow_mut(mc);
                        let values = std::mem::take(&mut th.stack);
                        vm::kill_thread(ctx, &mut th);
                        values
                    };
                    sched::finish(ctx, task, TaskStatus::Finished, Ok(values));
                }
                Outcome::Exit(code) => return Some(Error::Exit { code }),
                Outcome::Error(v, traceback) => {
                    vm::kill_thread(ctx, &mut base.0.borrow_mut(mc));
                    let joined = sched::finish(ctx, task, TaskStatus::Failed, Err(v));
                    let main_task = state.sched.borrow().main_task;
                    let ends_run = Some(id) == main_task || Some(id) == awaited;
                    if ends_run && !ctx.metamethod(v, crate::state::Event::ToString).is_nil() {
                        // Described by its __tostring, which must run.
                        state.registry.set_str(ctx, "error.object", v);
                        describe_object = true;
                        return None;
                    }
                    let message = crate::stdlib::base::error_to_string(ctx, v);
                    if ends_run {
                        return Some(Error::Runtime { message, traceback });
                    }
                    if !joined {
                        failure = Some(TaskFailure {
                            task: id,
                            message,
                            traceback,
                        });
                    }
                }
            }
            None
        });
        if let Some(b) = self.limits.budget.as_mut() {
            *b -= slice - fuel;
        }
        if let Some(c) = self.checkpointing.as_mut() {
            c.instructions += (slice - fuel).max(0) as u64;
        }
        if describe_object {
            return Turn::Fatal(self.describe_error_object());
        }
        if let Some(e) = fatal {
            return Turn::Fatal(e);
        }
        if let Some(f) = failure {
            (self.on_task_error)(f);
        }
        self.collect_and_check_memory()
    }

    /// A collection step (or the full collection a script asked for),
    /// then the memory limit.
    fn collect_and_check_memory(&mut self) -> Turn {
        let requested = self
            .arena
            .mutate(|_, state| state.collect_requested.replace(false));
        if requested {
            self.full_collect();
        } else {
            self.arena.collect_debt();
        }
        let (used, limit) = self.arena.mutate(|_, s| (s.meter.used(), s.meter.limit));
        let limits = &mut self.limits;
        if used > limit {
            // Only live data counts: collect fully before deciding, but
            // not again until the heap has grown noticeably.
            if used > limits.collected_at.saturating_add(limit / 8) || used < limits.collected_at {
                self.full_collect();
                self.limits.collected_at = self.arena.mutate(|_, s| s.meter.used());
            }
            let collected_at = self.limits.collected_at;
            if collected_at > limit.saturating_add(limit / 2) {
                // The script went on allocating after `not enough
                // memory`: stop it before the host runs out.
                return Turn::Fatal(Error::MemoryExhausted);
            }
            if collected_at > limit {
                self.limits.raise = Some("not enough memory");
            }
        } else {
            limits.collected_at = used;
        }
        Turn::Continue
    }

    /// Which task waits for what, for a deadlock report.
    fn describe_waits(&self) -> String {
        self.arena.mutate(|_, state| {
            let s = state.sched.borrow();
            let waits: Vec<String> = s
                .tasks
                .values()
                .map(|t| {
                    let t = t.borrow();
                    format!("task {} in {}", t.id, t.waiting_on.describe())
                })
                .collect();
            waits.join(", ")
        })
    }

    /// Sets the global `name` to an array of strings (the CLI's `arg`).
    pub fn set_global_array(&mut self, name: &str, items: &[(i64, Vec<u8>)]) {
        self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            let t = crate::table::Table::new(ctx);
            for (i, s) in items {
                t.set_int(ctx, *i, ctx.bytes(s));
            }
            state.globals.set_str(ctx, name, Value::Table(t));
        });
    }

    /// Sends what the script prints (`print`, `io.write`) to `out` instead
    /// of standard output.
    pub fn set_output(&mut self, out: Box<dyn Write>) {
        self.arena.mutate(|_, state| {
            let mut cur = state.stdout.borrow_mut();
            let _ = cur.flush();
            *cur = out;
        });
    }

    /// An uncaught error object with `__tostring` is reported by its
    /// string, without a traceback, as lua5.4's standalone interpreter does.
    fn describe_error_object(&mut self) -> Error {
        let fallback = || Error::Runtime {
            message: "(error object is not a string)".to_owned(),
            traceback: String::new(),
        };
        let id = self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            let obj = state.registry.get_str(ctx, "error.object");
            state.registry.set_str(ctx, "error.object", Value::Nil);
            let tostring = state.globals.get_str(ctx, "tostring");
            let task = sched::spawn(ctx, Thread::new(ctx), tostring, vec![obj]);
            state
                .registry
                .set_str(ctx, AWAITED, crate::stdlib::task::handle(ctx, task));
            let id = task.borrow().id;
            id
        });
        // A bounded run: __tostring is the script's code too.
        for _ in 0..1000 {
            if let Turn::Fatal(_) = self.turn(Some(id)) {
                return fallback();
            }
            match self.awaited_outcome(Some(id)) {
                Some(Ok(values)) => {
                    return match values.first() {
                        Some(LuaValue::String(s)) => Error::Runtime {
                            message: String::from_utf8_lossy(s).into_owned(),
                            traceback: String::new(),
                        },
                        _ => fallback(),
                    }
                }
                Some(Err(_)) => return fallback(),
                None => {}
            }
        }
        fallback()
    }

    /// Collects all garbage now (what `collectgarbage("collect")` does
    /// from Lua), for a host between runs, or a heap that follows a
    /// primary.
    pub fn collect_garbage(&mut self) {
        self.full_collect();
    }

    /// A complete collection. Finishing the cycle in progress is not
    /// enough: objects allocated during it survive it, so a second, whole
    /// cycle follows.
    fn full_collect(&mut self) {
        self.arena.finish_cycle();
        self.arena.finish_cycle();
    }

    /// Flushes buffered standard output.
    pub fn flush(&self) {
        self.arena.mutate(|_, state| {
            let _ = state.stdout.borrow_mut().flush();
        });
    }

    /// Bytes of strings and tables currently alive.
    pub fn memory_used(&self) -> usize {
        self.arena.mutate(|_, state| state.meter.used())
    }
}

/// Completes when the replica acknowledges an epoch (never without
/// output commit).
async fn acked_signal(oc: &Option<OutputCommit>) {
    match oc {
        Some(oc) => oc.notify.notified().await,
        None => std::future::pending().await,
    }
}

/// The value at a dotted global path (`"app.handle"`), or nil.
fn get_global_path<'gc>(ctx: Ctx<'gc>, path: &str) -> Value<'gc> {
    let mut v = Value::Table(ctx.state.globals);
    for part in path.split('.') {
        let Value::Table(t) = v else {
            return Value::Nil;
        };
        v = t.get_str(ctx, part);
    }
    v
}

/// Stores `value` at a dotted global path, creating the tables on the way.
fn set_global_path<'gc>(ctx: Ctx<'gc>, path: &str, value: Value<'gc>) {
    let mut t = ctx.state.globals;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            t.set_str(ctx, part, value);
            return;
        }
        t = match t.get_str(ctx, part) {
            Value::Table(inner) => inner,
            _ => {
                let inner = crate::table::Table::new(ctx);
                t.set_str(ctx, part, Value::Table(inner));
                inner
            }
        };
    }
}

/// A `Write` into a shared byte buffer, for capturing a script's output.
#[derive(Clone, Default)]
pub struct SharedBuffer(pub std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Parses and compiles a chunk; the error is lua-style text.
///
/// `chunkname` follows Lua's convention: `@file` for a file, `=name` for
/// a name shown as is, anything else is the source text itself (shown as
/// `[string "..."]`).
pub fn compile_chunk(
    source: &[u8],
    chunkname: &str,
) -> Result<Rc<compiler::FunctionProto>, String> {
    let display = syntax::chunkid(chunkname);
    let chunk = syntax::parse(source, &display).map_err(|e| e.to_string())?;
    let proto = compiler::compile(&chunk, &display).map_err(|e| e.message);
    // Long operator chains make deep trees; free them without recursion.
    syntax::parser::dismantle(chunk);
    let mut proto = proto?;
    proto.set_chunkname(chunkname);
    Ok(Rc::new(proto))
}

/// A first line starting with `#` is ignored in script files (not in
/// `load`ed strings), as lua5.4 does.
pub fn skip_shebang(source: &[u8]) -> &[u8] {
    if source.first() == Some(&b'#') {
        let end = source
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(source.len());
        // Keep the newline so line numbers stay right.
        &source[end..]
    } else {
        source
    }
}

/// Instantiates a main-chunk prototype as a closure whose `_ENV` is the
/// globals table.
pub fn load_proto<'gc>(ctx: Ctx<'gc>, proto: &Rc<compiler::FunctionProto>) -> Value<'gc> {
    load_proto_env(ctx, proto, Value::Table(ctx.state.globals))
}

pub fn load_proto_env<'gc>(
    ctx: Ctx<'gc>,
    proto: &Rc<compiler::FunctionProto>,
    env: Value<'gc>,
) -> Value<'gc> {
    let p = Proto::load(ctx, proto);
    let env = crate::thread::new_upvalue(ctx, crate::thread::UpvalueState::Closed(env));
    let upvalues = p.info.upvalues.iter().map(|_| env).collect();
    Value::Closure(gc_arena::Gc::new(
        ctx.mc,
        Closure {
            id: ctx.next_id(),
            proto: p,
            upvalues,
        },
    ))
}
