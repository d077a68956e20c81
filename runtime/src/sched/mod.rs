//! Tasks, channels and timers: the scheduler's state, all of it heap data.
//!
//! A task is a chain of Lua threads (its base thread plus the coroutines
//! it is resuming). Tasks run one at a time on the VM thread, a fuel slice
//! per turn, round robin. A task that must wait (sleep, channel, join, I/O)
//! parks: its native returns [`Action::Park`](crate::native::Action::Park)
//! after registering a *waiter* `(task, seq)` wherever the wake-up will come
//! from. Waking checks `seq` against the task's current wait sequence, so
//! a waiter left behind in another queue (the losing cases of a `select`,
//! the timer of a receive that succeeded) is simply stale and ignored.
//!
//! Time is the runtime's logical monotonic clock, [`Sched::now`] in
//! nanoseconds, which the runtime advances (from the host's monotonic
//! clock, or straight to the next timer when the clock is virtual) and
//! which a restored runtime continues.

pub mod chan;

use std::collections::{BTreeMap, VecDeque};

use gc_arena::{lock::RefLock, Collect, Gc};

use crate::state::Ctx;
use crate::table::Table;
use crate::thread::Thread;
use crate::value::Value;

pub use chan::Channel;

/// A heap object with a metatable whose payload the runtime defines.
#[derive(Collect)]
#[collect(no_drop)]
pub struct UserData<'gc> {
    pub id: u64,
    pub meta: Table<'gc>,
    pub kind: UserKind<'gc>,
    /// The epoch this userdata was last recorded dirty in (its resource
    /// descriptor is the part that changes).
    #[collect(require_static)]
    pub dirty_stamp: std::cell::Cell<u64>,
}

#[derive(Collect)]
#[collect(no_drop)]
pub enum UserKind<'gc> {
    Task(Task<'gc>),
    Channel(Channel<'gc>),
    Resource(Gc<'gc, RefLock<Resource>>),
}

impl std::fmt::Debug for UserData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "userdata {}", self.id)
    }
}

impl<'gc> UserData<'gc> {
    pub fn new_value(ctx: Ctx<'gc>, meta: Table<'gc>, kind: UserKind<'gc>) -> Value<'gc> {
        Value::UserData(Gc::new(
            ctx.mc,
            UserData {
                id: ctx.next_id(),
                meta,
                kind,
                dirty_stamp: Default::default(),
            },
        ))
    }
}

/// What kind of OS object a resource stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ResourceKind {
    Listener,
    Conn,
}

/// The heap part of a host I/O object: a descriptor. The OS object lives
/// in the host table under `host_id`.
#[derive(Debug, Collect)]
#[collect(require_static)]
pub struct Resource {
    pub kind: ResourceKind,
    pub host_id: u64,
    /// The listener's local address, or the connection's peer.
    pub addr: String,
    pub closed: bool,
}

pub type Task<'gc> = Gc<'gc, RefLock<TaskState<'gc>>>;

/// What a parked task waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Collect, serde::Serialize, serde::Deserialize)]
#[collect(require_static)]
pub enum Wait {
    Nothing,
    Yield,
    Sleep,
    Join,
    ChanSend,
    ChanRecv,
    Select,
    Read,
    Write,
    Accept,
    Connect,
    AsyncFunction,
}

impl Wait {
    /// How deadlock reports name it.
    pub fn describe(self) -> &'static str {
        match self {
            Wait::Nothing => "nothing",
            Wait::Yield => "yield",
            Wait::Sleep => "task.sleep",
            Wait::Join => "task.join",
            Wait::ChanSend => "chan send",
            Wait::ChanRecv => "chan recv",
            Wait::Select => "chan.select",
            Wait::Read => "read",
            Wait::Write => "write",
            Wait::Accept => "accept",
            Wait::Connect => "connect",
            Wait::AsyncFunction => "async function",
        }
    }

    /// What wakes a task parked on this wait after a restore lost the host
    /// operation it waited for; None for waits the heap itself resolves.
    /// Reads, writes and accepts retry (finding their connection lost, or
    /// re-opening their listener); connects and async functions fail.
    pub fn after_restore<'gc>(self, ctx: Ctx<'gc>) -> Option<Delivery<'gc>> {
        let lost = || ctx.str(crate::stdlib::net::LOST);
        match self {
            Wait::Read | Wait::Write | Wait::Accept => Some(Ok(Vec::new())),
            Wait::Connect => Some(Ok(vec![Value::Nil, lost()])),
            Wait::AsyncFunction => Some(Err(lost())),
            _ => None,
        }
    }
}

/// Values (or an error) handed to a task when it next runs.
pub type Delivery<'gc> = Result<Vec<Value<'gc>>, Value<'gc>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Collect, serde::Serialize, serde::Deserialize)]
#[collect(require_static)]
pub enum TaskStatus {
    Ready,
    Running,
    Parked,
    Finished,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub fn is_over(self) -> bool {
        matches!(
            self,
            TaskStatus::Finished | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

#[derive(Collect)]
#[collect(no_drop)]
pub struct TaskState<'gc> {
    /// The task id scripts see (`task.id()`), counting from 1.
    pub id: u64,
    /// The object id, as every heap object has.
    pub oid: u64,
    /// The base thread and the coroutines it is resuming, saved while the
    /// task is not running.
    pub chain: Vec<Thread<'gc>>,
    pub status: TaskStatus,
    /// Bumped at every park and wake; waiters carry the value they saw.
    pub wait_seq: u64,
    /// What the task is waiting for.
    pub waiting_on: Wait,
    /// Handed to the task's top native when it next runs.
    pub wake: Option<Delivery<'gc>>,
    /// Its results or error, once over.
    pub outcome: Option<Delivery<'gc>>,
    /// Tasks parked in `task.join` on this one.
    pub joiners: Vec<(Task<'gc>, u64)>,
    /// The epoch this task was last recorded dirty in.
    #[collect(require_static)]
    pub dirty_stamp: std::cell::Cell<u64>,
}

/// A waiter registered in a queue: the task and the wait it belongs to.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct Waiter<'gc> {
    pub task: Task<'gc>,
    pub seq: u64,
    /// For `select`: the index of the case this waiter stands for.
    pub case: u32,
}

impl<'gc> Waiter<'gc> {
    pub fn is_live(&self) -> bool {
        let t = self.task.borrow();
        t.wait_seq == self.seq && !t.status.is_over()
    }
}

#[derive(Collect, Default)]
#[collect(no_drop)]
pub struct Sched<'gc> {
    /// Every task not yet over, by id (spawn order).
    pub tasks: BTreeMap<u64, Task<'gc>>,
    pub ready: VecDeque<Task<'gc>>,
    /// (deadline ns, sequence) -> the waiter to wake.
    pub timers: BTreeMap<(u64, u64), Waiter<'gc>>,
    pub timer_seq: u64,
    /// The logical clock, nanoseconds.
    pub now: u64,
    pub current: Option<Task<'gc>>,
    /// The last task id given out (task ids count from 1, apart from
    /// object ids, so that users see small numbers).
    pub last_task_id: u64,
    /// The task whose error ends the run (the main chunk's).
    pub main_task: Option<u64>,
}

pub type SchedRef<'gc> = Gc<'gc, RefLock<Sched<'gc>>>;

/// Creates a task that will call `f(args)` on `thread` (fresh, or the
/// main thread for the main chunk) and queues it.
pub fn spawn<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    f: Value<'gc>,
    args: Vec<Value<'gc>>,
) -> Task<'gc> {
    ctx.touch_thread(thread);
    {
        let mut th = thread.0.borrow_mut(ctx.mc);
        th.stack.clear();
        th.frames.clear();
        th.stack.push(f);
        th.status = crate::thread::ThreadStatus::Suspended;
    }
    let id = {
        let mut s = ctx.state.sched.borrow_mut(ctx.mc);
        s.last_task_id += 1;
        s.last_task_id
    };
    let task = Gc::new(
        ctx.mc,
        RefLock::new(TaskState {
            id,
            oid: ctx.next_id(),
            chain: vec![thread],
            status: TaskStatus::Ready,
            wait_seq: 0,
            waiting_on: Wait::Nothing,
            wake: Some(Ok(args)),
            outcome: None,
            joiners: Vec::new(),
            dirty_stamp: Default::default(),
        }),
    );
    let mut s = ctx.state.sched.borrow_mut(ctx.mc);
    s.tasks.insert(id, task);
    s.ready.push_back(task);
    task
}

/// The running task.
pub fn current<'gc>(ctx: Ctx<'gc>) -> Option<Task<'gc>> {
    ctx.state.sched.borrow().current
}

/// Records that `task` changes (it runs, waits, wakes, ends, gains a
/// joiner or loses its threads): the next delta carries its record, as it
/// stands at that capture. Every write to a `TaskState` outside a restore
/// has one of these within the same turn.
pub fn touch_task<'gc>(ctx: Ctx<'gc>, task: Task<'gc>) {
    let t = task.borrow();
    ctx.note_dirty(t.oid, &t.dirty_stamp, || crate::state::Dirty::Task(task));
}

/// Starts a wait of the running task on `what`; returns the sequence its
/// waiters must carry. The native then registers them and parks.
pub fn begin_wait<'gc>(ctx: Ctx<'gc>, what: Wait) -> Option<(Task<'gc>, u64)> {
    let task = current(ctx)?;
    touch_task(ctx, task);
    let mut t = task.borrow_mut(ctx.mc);
    t.wait_seq += 1;
    t.waiting_on = what;
    Some((task, t.wait_seq))
}

/// Wakes the waiter with `delivery` if its wait is still the task's
/// current one. Returns whether it woke.
pub fn wake<'gc>(ctx: Ctx<'gc>, w: Waiter<'gc>, delivery: Delivery<'gc>) -> bool {
    {
        let mut t = w.task.borrow_mut(ctx.mc);
        if t.wait_seq != w.seq || t.status.is_over() {
            return false;
        }
        t.wait_seq += 1;
        t.wake = Some(delivery);
        t.waiting_on = Wait::Nothing;
        // A task woken before its park took effect (it woke itself, as
        // task.yield does) stays Running until the scheduler sees the park.
        if t.status == TaskStatus::Parked {
            t.status = TaskStatus::Ready;
        }
    }
    touch_task(ctx, w.task);
    ctx.state.sched.borrow_mut(ctx.mc).ready.push_back(w.task);
    true
}

/// Arms a timer that wakes `w` (with no values) at `deadline`.
pub fn add_timer<'gc>(ctx: Ctx<'gc>, deadline: u64, w: Waiter<'gc>) {
    let mut s = ctx.state.sched.borrow_mut(ctx.mc);
    s.timer_seq += 1;
    let key = (deadline, s.timer_seq);
    s.timers.insert(key, w);
}

/// Seconds (as Lua gives them) to a deadline on the logical clock.
pub fn deadline_after(ctx: Ctx<'_>, seconds: f64) -> u64 {
    let now = ctx.state.sched.borrow().now;
    let ns = if seconds.is_nan() || seconds <= 0.0 {
        0.0
    } else {
        (seconds * 1e9).min(u64::MAX as f64 / 2.0)
    };
    now.saturating_add(ns as u64)
}

/// Wakes the waiters of every timer due at `now`. Returns how many tasks
/// woke.
pub fn fire_timers(ctx: Ctx<'_>, now: u64) -> usize {
    let mut woke = 0;
    loop {
        let due = {
            let mut s = ctx.state.sched.borrow_mut(ctx.mc);
            match s.timers.first_key_value() {
                Some((&(deadline, _), _)) if deadline <= now => s.timers.pop_first(),
                _ => None,
            }
        };
        let Some((_, w)) = due else { break };
        if wake(ctx, w, Ok(Vec::new())) {
            woke += 1;
        }
    }
    woke
}

/// Drops timers whose waits are over, and answers the earliest live
/// deadline.
pub fn next_deadline(ctx: Ctx<'_>) -> Option<u64> {
    let mut s = ctx.state.sched.borrow_mut(ctx.mc);
    while let Some((&key, w)) = s.timers.first_key_value() {
        if w.is_live() {
            return Some(key.0);
        }
        s.timers.remove(&key);
    }
    None
}

/// Ends a task with `outcome`: its joiners wake with it. Returns whether
/// anyone was joining (else an error is the embedder's to report).
pub fn finish<'gc>(
    ctx: Ctx<'gc>,
    task: Task<'gc>,
    status: TaskStatus,
    outcome: Delivery<'gc>,
) -> bool {
    touch_task(ctx, task);
    let joiners = {
        let mut t = task.borrow_mut(ctx.mc);
        t.status = status;
        t.wait_seq += 1;
        t.wake = None;
        t.outcome = Some(outcome.clone());
        std::mem::take(&mut t.joiners)
    };
    {
        let mut s = ctx.state.sched.borrow_mut(ctx.mc);
        let id = task.borrow().id;
        s.tasks.remove(&id);
        s.ready.retain(|t| !Gc::ptr_eq(*t, task));
    }
    let mut joined = false;
    for (t, seq) in joiners {
        joined |= wake(
            ctx,
            Waiter {
                task: t,
                seq,
                case: 0,
            },
            outcome.clone(),
        );
    }
    joined
}

/// Wakes the tasks a restore left waiting on host operations that no
/// longer exist (see [`Wait::after_restore`]).
pub fn wake_lost_waits(ctx: Ctx<'_>) {
    let tasks: Vec<Task<'_>> = ctx.state.sched.borrow().tasks.values().copied().collect();
    for task in tasks {
        let (status, wait, seq) = {
            let t = task.borrow();
            (t.status, t.waiting_on, t.wait_seq)
        };
        if status != TaskStatus::Parked {
            continue;
        }
        if let Some(delivery) = wait.after_restore(ctx) {
            wake(ctx, Waiter { task, seq, case: 0 }, delivery);
        }
    }
}
