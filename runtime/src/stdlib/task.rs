//! The `task` library: Go-like tasks on the runtime's scheduler
//! ([`crate::sched`]). Waiting natives register a waiter and park.

use crate::native::{Action, Cont, NCtx, NativeFn, RtError};
use crate::sched::{self, Task, TaskStatus, UserKind, Wait, Waiter};
use crate::thread::Thread;
use crate::value::Value;

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[
    ("task.spawn", spawn),
    ("task.yield", yield_),
    ("task.sleep", sleep),
    ("task.now", now),
    ("task.id", id),
    ("task.join", join),
    ("task.cancel", cancel),
    ("task.status", status),
    ("task.handle.join", join),
    ("task.handle.cancel", cancel),
    ("task.handle.id", handle_id),
    ("task.handle.status", status),
    ("task.handle.tostring", tostring),
];

/// The `checkpoint` library.
pub const CHECKPOINT_FUNCTIONS: &[(&str, NativeFn)] = &[("checkpoint.now", checkpoint_now)];

/// Registry key of the task handles' metatable.
pub const HANDLE_META: &str = "task.handle";

fn check_task<'gc>(cx: &NCtx<'_, 'gc>, i: usize) -> Result<Task<'gc>, RtError<'gc>> {
    match cx.arg(i) {
        Value::UserData(u) => match &u.kind {
            UserKind::Task(t) => Ok(*t),
            _ => Err(cx.type_error(i, "task")),
        },
        _ => Err(cx.type_error(i, "task")),
    }
}

/// The running task and a new wait sequence for it.
pub fn begin_wait<'gc>(cx: &NCtx<'_, 'gc>, what: Wait) -> Result<Waiter<'gc>, RtError<'gc>> {
    let (task, seq) = sched::begin_wait(cx.ctx, what)
        .ok_or_else(|| RtError::msg("attempt to wait outside a task"))?;
    Ok(Waiter { task, seq, case: 0 })
}

pub fn park<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    cx.clear();
    Ok(Action::Park { cont: Cont::Return })
}

fn spawn<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let f = cx.arg(0);
    if !f.is_function() {
        return Err(cx.type_error(0, "function"));
    }
    let args = cx.args()[1..].to_vec();
    let task = sched::spawn(cx.ctx, Thread::new(cx.ctx), f, args);
    let handle = super::userdata(cx.ctx, HANDLE_META, UserKind::Task(task));
    cx.ret1(handle)
}

fn yield_<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let w = begin_wait(cx, Wait::Yield)?;
    sched::wake(cx.ctx, w, Ok(Vec::new()));
    park(cx)
}

/// `checkpoint.now()`: asks for a checkpoint and lets the turn end, so the
/// image is taken before the task goes on.
fn checkpoint_now<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    cx.ctx.state.checkpoint_requested.set(true);
    yield_(cx)
}

fn sleep<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let seconds = cx.check_float(0)?;
    if seconds.is_nan() || seconds <= 0.0 {
        return yield_(cx);
    }
    let w = begin_wait(cx, Wait::Sleep)?;
    let deadline = sched::deadline_after(cx.ctx, seconds);
    sched::add_timer(cx.ctx, deadline, w);
    park(cx)
}

fn now<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let ns = cx.ctx.state.sched.borrow().now;
    cx.ret1(Value::Number(ns as f64 / 1e9))
}

fn id<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let task = match cx.arg(0) {
        Value::Nil => sched::current(cx.ctx).ok_or_else(|| RtError::msg("not in a task"))?,
        _ => check_task(cx, 0)?,
    };
    let id = task.borrow().id;
    cx.ret1(Value::Integer(id as i64))
}

fn handle_id<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let task = check_task(cx, 0)?;
    let id = task.borrow().id;
    cx.ret1(Value::Integer(id as i64))
}

/// Delivers a finished task's results, or raises its error.
fn outcome_of<'gc>(cx: &mut NCtx<'_, 'gc>, task: Task<'gc>) -> R<'gc> {
    let outcome = task.borrow().outcome.clone();
    match outcome {
        Some(Ok(values)) => {
            cx.clear();
            cx.stack.extend(values);
            Ok(Action::Return)
        }
        Some(Err(e)) => Err(RtError::Value(e)),
        None => unreachable!("a task that is over has an outcome"),
    }
}

fn join<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let target = check_task(cx, 0)?;
    if target.borrow().status.is_over() {
        return outcome_of(cx, target);
    }
    let w = begin_wait(cx, Wait::Join)?;
    if gc_arena::Gc::ptr_eq(w.task, target) {
        return Err(RtError::msg("a task cannot join itself"));
    }
    sched::touch_task(cx.ctx, target);
    target.borrow_mut(cx.ctx.mc).joiners.push((w.task, w.seq));
    park(cx)
}

fn cancel<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let target = check_task(cx, 0)?;
    if target.borrow().status.is_over() {
        return cx.ret1(Value::Boolean(false));
    }
    let running = sched::current(cx.ctx).is_some_and(|t| gc_arena::Gc::ptr_eq(t, target));
    let error = cx.ctx.str("task cancelled");
    sched::finish(cx.ctx, target, TaskStatus::Cancelled, Err(error));
    if running {
        // The scheduler drops the task's threads when the park takes effect.
        return park(cx);
    }
    discard_threads(cx.ctx, target);
    cx.ret1(Value::Boolean(true))
}

/// Kills the threads of a task that will never run again, closing the
/// upvalues that point into their stacks.
pub fn discard_threads<'gc>(ctx: crate::state::Ctx<'gc>, task: Task<'gc>) {
    sched::touch_task(ctx, task);
    let chain = std::mem::take(&mut task.borrow_mut(ctx.mc).chain);
    for t in chain {
        ctx.touch_thread(t);
        crate::vm::kill_thread(ctx, &mut t.0.borrow_mut(ctx.mc));
    }
}

pub fn status_name(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Ready => "ready",
        TaskStatus::Running => "running",
        TaskStatus::Parked => "waiting",
        TaskStatus::Finished => "finished",
        TaskStatus::Failed => "failed",
        TaskStatus::Cancelled => "cancelled",
    }
}

fn status<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let task = check_task(cx, 0)?;
    let s = status_name(task.borrow().status);
    let v = cx.ctx.str(s);
    cx.ret1(v)
}

fn tostring<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let task = check_task(cx, 0)?;
    let text = format!("task {}", task.borrow().id);
    let v = cx.ctx.str(&text);
    cx.ret1(v)
}

/// The handle a task's Lua code would see, for the embedder.
pub fn handle<'gc>(ctx: crate::state::Ctx<'gc>, task: Task<'gc>) -> Value<'gc> {
    super::userdata(ctx, HANDLE_META, UserKind::Task(task))
}
