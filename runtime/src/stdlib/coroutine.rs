//! The coroutine library. Resuming and yielding are actions the executor
//! carries out; these natives only check arguments.

use crate::native::{Action, Cont, NCtx, NativeFn, RtError};
use crate::thread::{Thread, ThreadStatus};
use crate::value::{Native, Value};

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[
    ("coroutine.create", create),
    ("coroutine.resume", resume),
    ("coroutine.yield", yield_),
    ("coroutine.status", status),
    ("coroutine.running", running),
    ("coroutine.isyieldable", isyieldable),
    ("coroutine.wrap", wrap),
    ("coroutine.wrap.resumer", wrap_resume),
    ("coroutine.close", close),
];

fn check_thread<'gc>(cx: &NCtx<'_, 'gc>, i: usize) -> Result<Thread<'gc>, RtError<'gc>> {
    match cx.arg(i) {
        Value::Thread(t) => Ok(t),
        _ => Err(cx.type_error(i, "thread")),
    }
}

fn new_coroutine<'gc>(cx: &NCtx<'_, 'gc>, f: Value<'gc>) -> Thread<'gc> {
    let t = Thread::new(cx.ctx);
    t.0.borrow_mut(cx.ctx.mc).stack.push(f);
    t
}

fn create<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let f = cx.arg(0);
    if !f.is_function() {
        return Err(cx.type_error(0, "function"));
    }
    let t = new_coroutine(cx, f);
    cx.ret1(Value::Thread(t))
}

fn resume<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let thread = check_thread(cx, 0)?;
    cx.stack.remove(cx.base);
    Ok(Action::Resume {
        thread,
        cont: Cont::Resume,
    })
}

fn yield_<'gc>(_cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    Ok(Action::Yield)
}

fn status_of<'gc>(cx: &NCtx<'_, 'gc>, t: Thread<'gc>) -> &'static str {
    if t == cx.thread {
        return "running";
    }
    match t.status() {
        ThreadStatus::Suspended => "suspended",
        ThreadStatus::Running => "running",
        ThreadStatus::Normal => "normal",
        ThreadStatus::Dead => "dead",
    }
}

fn status<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = check_thread(cx, 0)?;
    let s = cx.ctx.str(status_of(cx, t));
    cx.ret1(s)
}

fn running<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let main = crate::vm::is_base(cx.ctx, cx.thread);
    cx.ret2(Value::Thread(cx.thread), Value::Boolean(main))
}

fn isyieldable<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = match cx.arg(0) {
        Value::Thread(t) => t,
        _ => cx.thread,
    };
    cx.ret1(Value::Boolean(!crate::vm::is_base(cx.ctx, t)))
}

fn wrap<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let f = cx.arg(0);
    if !f.is_function() {
        return Err(cx.type_error(0, "function"));
    }
    let t = new_coroutine(cx, f);
    let n = Native::new(
        cx.ctx,
        "coroutine.wrap.resumer",
        wrap_resume,
        Box::new([Value::Thread(t)]),
    );
    cx.ret1(Value::Native(n))
}

fn wrap_resume<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let Some(Value::Thread(thread)) = cx.upvalues.first().copied() else {
        return Err(RtError::msg("corrupt coroutine.wrap function"));
    };
    Ok(Action::Resume {
        thread,
        cont: Cont::Wrap,
    })
}

fn close<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = check_thread(cx, 0)?;
    match status_of(cx, t) {
        "dead" => {
            cx.ctx.touch_thread(t);
            let error = t.0.borrow_mut(cx.ctx.mc).error.take();
            match error {
                Some(e) => cx.ret2(Value::Boolean(false), e),
                None => cx.ret1(Value::Boolean(true)),
            }
        }
        "suspended" => {
            // The executor switches to it to run its pending `__close`s.
            cx.clear();
            Ok(Action::Resume {
                thread: t,
                cont: Cont::CloseThread,
            })
        }
        s => Err(RtError::Message(format!("cannot close a {s} coroutine"))),
    }
}
