//! The debug library: only what programs use for diagnostics.

use crate::compiler::opcode::Op;
use crate::native::{Action, NCtx, NativeFn, RtError};
use crate::table::Table;
use crate::thread::Frame;
use crate::value::Value;

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] =
    &[("debug.traceback", traceback), ("debug.getinfo", getinfo)];

/// `debug.getinfo([thread,] f | level [, what])` for the current thread:
/// source, line, name, parameter and function fields.
fn getinfo<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let first = usize::from(matches!(cx.arg(0), Value::Thread(_)));
    let what = match cx.opt_str(first + 1)? {
        Some(w) => w.to_str_lossy().into_owned(),
        None => "flnSrtu".to_owned(),
    };
    if let Some(bad) = what.chars().find(|c| !"SlnrutfL".contains(*c)) {
        return Err(cx.arg_error(first + 1, format!("invalid option '{bad}'")));
    }
    let ctx = cx.ctx;
    let t = Table::new(ctx);
    // (function, frame index when given a level)
    let (func, frame) = match cx.arg(first) {
        f @ (Value::Closure(_) | Value::Native(_)) => (f, None),
        _ => {
            let level = cx.check_int(first)?;
            let n = cx.frames.len() as i64;
            if level < 0 || level > n {
                return cx.ret1(Value::Nil);
            }
            if level == 0 {
                // Level 0 is getinfo itself.
                (Value::Nil, None)
            } else {
                let i = (n - level) as usize;
                let f = match &cx.frames[i] {
                    Frame::Lua(f) => Value::Closure(f.closure),
                    Frame::Native(_) => Value::Nil,
                };
                (f, Some(i))
            }
        }
    };
    let lua = match func {
        Value::Closure(c) => Some(c),
        _ => None,
    };
    if what.contains('S') {
        match lua {
            Some(c) => {
                let info = &c.proto.info;
                let src: &str = &info.source;
                t.set_str(ctx, "source", ctx.str(&info.chunkname));
                t.set_str(ctx, "short_src", ctx.str(src));
                let main = info.line_defined == 0;
                t.set_str(ctx, "what", ctx.str(if main { "main" } else { "Lua" }));
                t.set_str(ctx, "linedefined", Value::Integer(info.line_defined as i64));
                let last = if main { 0 } else { info.last_line as i64 };
                t.set_str(ctx, "lastlinedefined", Value::Integer(last));
            }
            None => {
                t.set_str(ctx, "source", ctx.str("=[C]"));
                t.set_str(ctx, "short_src", ctx.str("[C]"));
                t.set_str(ctx, "what", ctx.str("C"));
                t.set_str(ctx, "linedefined", Value::Integer(-1));
                t.set_str(ctx, "lastlinedefined", Value::Integer(-1));
            }
        }
    }
    if what.contains('l') {
        let line = match frame.map(|i| &cx.frames[i]) {
            Some(Frame::Lua(f)) => {
                let info = &f.closure.proto.info;
                info.lines
                    .get(f.pc.saturating_sub(1))
                    .map_or(-1, |&l| l as i64)
            }
            _ => -1,
        };
        t.set_str(ctx, "currentline", Value::Integer(line));
    }
    if what.contains('u') {
        let (nups, nparams, vararg) = match lua {
            Some(c) => (
                c.upvalues.len(),
                c.proto.num_params as usize,
                c.proto.is_vararg,
            ),
            None => match func {
                Value::Native(n) => (n.upvalues.len(), 0, true),
                _ => (0, 0, true),
            },
        };
        t.set_str(ctx, "nups", Value::Integer(nups as i64));
        t.set_str(ctx, "nparams", Value::Integer(nparams as i64));
        t.set_str(ctx, "isvararg", Value::Boolean(vararg));
    }
    if what.contains('n') {
        // The name the caller used, recovered from its call instruction.
        let described = frame
            .and_then(|i| i.checked_sub(1))
            .and_then(|c| match &cx.frames[c] {
                Frame::Lua(f) => match f.closure.proto.code.get(f.pc.saturating_sub(1)) {
                    Some(Op::Call { a, .. } | Op::TailCall { a, .. }) => {
                        crate::vm::describe_register(f, *a)
                    }
                    _ => None,
                },
                Frame::Native(_) => None,
            });
        if let Some(d) = described {
            let mut parts = d.splitn(2, ' ');
            let kind = parts.next().unwrap_or("");
            let name = parts.next().unwrap_or("").trim_matches('\'');
            let kind = if kind == "constant" { "" } else { kind };
            t.set_str(ctx, "name", ctx.str(name));
            t.set_str(ctx, "namewhat", ctx.str(kind));
        } else {
            t.set_str(ctx, "namewhat", ctx.str(""));
        }
    }
    if what.contains('f') {
        t.set_str(ctx, "func", func);
    }
    if what.contains('t') {
        t.set_str(ctx, "istailcall", Value::Boolean(false));
    }
    cx.ret1(Value::Table(t))
}

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
