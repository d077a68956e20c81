//! The debug library: only what programs use for diagnostics.

use crate::native::{Action, NCtx, NativeFn, RtError};
use crate::value::Value;

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[("debug.traceback", traceback)];

fn traceback<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    // An optional thread argument comes first; tracebacks of other threads
    // show only their message.
    let (msg, level_arg) = match cx.arg(0) {
        Value::Thread(_) => (cx.arg(1), 2),
        v => (v, 1),
    };
    if !matches!(
        msg,
        Value::Nil | Value::String(_) | Value::Integer(_) | Value::Number(_)
    ) {
        return cx.ret1(msg);
    }
    let level = cx.opt_int(level_arg, 1)?.max(0) as usize;
    let frames = &cx.frames[..cx.frames.len().saturating_sub(level.saturating_sub(1))];
    let tb = crate::vm::traceback(frames);
    let text = match msg {
        Value::Nil => tb,
        v => {
            let s = cx.check_str(level_arg - 1)?;
            let _ = v;
            format!("{}\n{}", s.to_str_lossy(), tb)
        }
    };
    let s = cx.ctx.str(&text);
    cx.ret1(s)
}
