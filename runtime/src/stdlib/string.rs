//! The string library. Byte-level work is done by the pure helpers in
//! `lualib` (patterns, format specs, pack); this module only checks
//! arguments, moves values in and out of the VM, and calls back into Lua
//! (for `__tostring` in `%s`, and for function replacements in `gsub`)
//! through `Cont::Step` continuations, so no Lua-side helper is needed.

use crate::compiler::opcode::ArithOp;
use crate::lualib::format::{self, Piece, Pieces};
use crate::lualib::pack;
use crate::lualib::pattern::{self, CaptureValue, Match};
use crate::native::{Action, Cont, NCtx, NativeFn, RtError};
use crate::state::{Ctx, Event};
use crate::table::Table;
use crate::value::{Native, Value};

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[
    ("string.len", len),
    ("string.sub", sub),
    ("string.upper", upper),
    ("string.lower", lower),
    ("string.rep", rep),
    ("string.reverse", reverse),
    ("string.byte", byte),
    ("string.char", char),
    ("string.format", format),
    ("string.find", find),
    ("string.match", match_),
    ("string.gmatch", gmatch),
    ("string.gsub", gsub),
    ("string.dump", dump),
    ("string.pack", pack_),
    ("string.unpack", unpack),
    ("string.packsize", packsize),
    // Not library fields (`open` removes them): listed so that every
    // native a closure or a suspended `Cont::Step` refers to has a stable
    // name.
    ("string.gmatch.iterator", gmatch_iter),
    ("string.gsub.step", gsub_step),
    ("string.format.step", format_after_tostring),
];

/// The string metatable's arithmetic metamethods: Lua 5.4 converts
/// strings to numbers for arithmetic here, in the library, not in the VM
/// (so a script may replace them; bitwise operators do not convert).
pub const METAMETHODS: &[(&str, NativeFn)] = &[
    ("string.meta.__add", arith_add),
    ("string.meta.__sub", arith_sub),
    ("string.meta.__mul", arith_mul),
    ("string.meta.__div", arith_div),
    ("string.meta.__mod", arith_mod),
    ("string.meta.__pow", arith_pow),
    ("string.meta.__idiv", arith_idiv),
    ("string.meta.__unm", arith_unm),
];

/// lstrlib's `arith`: both operands as numbers, or the other operand's
/// metamethod, or an error naming both types.
fn string_arith<'gc>(cx: &mut NCtx<'_, 'gc>, op: ArithOp, event: &str) -> R<'gc> {
    let (a, b) = (cx.arg(0), cx.arg(1));
    if let (Some(x), Some(y)) = (a.to_number(), b.to_number()) {
        if let Some(r) = crate::vm::arith(op, x, y) {
            // Raised by the core inside this metamethod: no position, as
            // lua5.4 (e.g. `"5" // 0`).
            let v = r.map_err(|m| RtError::Value(cx.ctx.str(m)))?;
            return cx.ret1(v);
        }
    }
    let mm = if matches!(b, Value::String(_)) {
        Value::Nil
    } else {
        match cx.ctx.metatable(b) {
            Some(mt) => mt.get_str(cx.ctx, event),
            None => Value::Nil,
        }
    };
    if mm.is_nil() {
        return Err(RtError::Message(format!(
            "attempt to {} a '{}' with a '{}'",
            &event[2..],
            a.type_name(),
            b.type_name()
        )));
    }
    cx.clear();
    cx.push(mm);
    cx.push(a);
    cx.push(b);
    Ok(Action::Call {
        at: 0,
        cont: Cont::Return,
    })
}

fn arith_add<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    string_arith(cx, ArithOp::Add, ArithOp::Add.event())
}
fn arith_sub<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    string_arith(cx, ArithOp::Sub, ArithOp::Sub.event())
}
fn arith_mul<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    string_arith(cx, ArithOp::Mul, ArithOp::Mul.event())
}
fn arith_div<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    string_arith(cx, ArithOp::Div, ArithOp::Div.event())
}
fn arith_mod<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    string_arith(cx, ArithOp::Mod, ArithOp::Mod.event())
}
fn arith_pow<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    string_arith(cx, ArithOp::Pow, ArithOp::Pow.event())
}
fn arith_idiv<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    string_arith(cx, ArithOp::IDiv, ArithOp::IDiv.event())
}
fn arith_unm<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    // `-s` arrives as (s, s); negate as `0 - s` keeping the integer type.
    let a = cx.arg(0);
    match a.to_number() {
        Some(Value::Integer(i)) => cx.ret1(Value::Integer(i.wrapping_neg())),
        Some(Value::Number(f)) => cx.ret1(Value::Number(-f)),
        _ => string_arith(cx, ArithOp::Sub, "__unm"),
    }
}

/// Library values that are not functions.
pub fn open(ctx: Ctx<'_>) {
    let _ = ctx;
}

/// lstrlib's MAXSIZE: lua5.4 keeps `rep` and friends within `int`.
const MAX_SIZE: usize = i32::MAX as usize;

/// lstrlib's `posrelatI`: a start position, clipped to 1 on the left.
fn posrelat_start(pos: i64, len: usize) -> usize {
    if pos > 0 {
        pos as usize
    } else if pos == 0 || pos < -(len as i64) {
        1
    } else {
        (len as i64 + pos + 1) as usize
    }
}

/// lstrlib's `getendpos`: an end position, clipped to `[0, len]`.
fn posrelat_end(pos: i64, len: usize) -> usize {
    if pos > len as i64 {
        len
    } else if pos >= 0 {
        pos as usize
    } else if pos < -(len as i64) {
        0
    } else {
        (len as i64 + pos + 1) as usize
    }
}

fn new_str<'gc>(cx: &NCtx<'_, 'gc>, bytes: &[u8]) -> Value<'gc> {
    cx.ctx.bytes(bytes)
}

/// Refuses to build a string of `n` bytes that the memory limit forbids.
fn check_size<'gc>(cx: &NCtx<'_, 'gc>, n: usize) -> Result<(), RtError<'gc>> {
    if n > MAX_SIZE || !cx.ctx.state.meter.allows(n) {
        return Err(RtError::msg("resulting string too large"));
    }
    Ok(())
}

fn len<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    cx.ret1(Value::Integer(s.len() as i64))
}

fn sub<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    let l = s.len();
    let start = posrelat_start(cx.check_int(1)?, l);
    let end = posrelat_end(cx.opt_int(2, -1)?, l);
    let r = if start > end {
        new_str(cx, b"")
    } else if start == 1 && end == l {
        Value::String(s)
    } else {
        new_str(cx, s.as_bytes().get(start - 1..end).unwrap_or(&[]))
    };
    cx.ret1(r)
}

fn upper<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    // C locale: only ASCII letters change.
    let v = s.as_bytes().to_ascii_uppercase();
    let r = new_str(cx, &v);
    cx.ret1(r)
}

fn lower<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    let v = s.as_bytes().to_ascii_lowercase();
    let r = new_str(cx, &v);
    cx.ret1(r)
}

fn rep<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    let n = cx.check_int(1)?;
    let sep = cx.opt_str(2)?;
    let sep = sep.map(|s| s.as_bytes()).unwrap_or(&[]);
    if n <= 0 {
        return cx.ret1(new_str(cx, b""));
    }
    let s = s.as_bytes();
    let unit = s.len().saturating_add(sep.len());
    if unit > MAX_SIZE / (n as u64).min(MAX_SIZE as u64) as usize {
        return Err(RtError::msg("resulting string too large"));
    }
    let total = unit * n as usize - sep.len();
    if total == 0 {
        // Empty pieces: nothing to repeat (lua5.4 would loop n times).
        return cx.ret1(new_str(cx, b""));
    }
    check_size(cx, total)?;
    let mut out = Vec::with_capacity(total);
    for i in 0..n {
        out.extend_from_slice(s);
        if i + 1 < n {
            out.extend_from_slice(sep);
        }
    }
    let r = new_str(cx, &out);
    cx.ret1(r)
}

fn reverse<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    let mut v = s.as_bytes().to_vec();
    v.reverse();
    let r = new_str(cx, &v);
    cx.ret1(r)
}

fn byte<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    let l = s.len();
    // The end defaults to the start as given, before adjusting it.
    let raw = cx.opt_int(1, 1)?;
    let pi = posrelat_start(raw, l);
    let pe = posrelat_end(cx.opt_int(2, raw)?, l);
    cx.clear();
    if pi > pe {
        return Ok(Action::Return);
    }
    if pe - pi >= i32::MAX as usize {
        return Err(RtError::msg("string slice too long"));
    }
    for &b in s.as_bytes().get(pi - 1..pe).unwrap_or(&[]) {
        cx.push(Value::Integer(i64::from(b)));
    }
    Ok(Action::Return)
}

fn char<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let n = cx.nargs();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let c = cx.check_int(i)?;
        if !(0..=255).contains(&c) {
            return Err(cx.arg_error(i, "value out of range"));
        }
        out.push(c as u8);
    }
    let r = new_str(cx, &out);
    cx.ret1(r)
}

/// There is no bytecode format to dump to: every function is refused as
/// lua5.4 refuses C functions.
fn dump<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    if !cx.arg(0).is_function() {
        return Err(cx.type_error(0, "function"));
    }
    Err(RtError::msg("unable to dump given function"))
}

// ---------------------------------------------------------------- format

/// `%p`: the address tostring shows, or `(null)` for non-reference values.
fn pointer_text(v: Value<'_>) -> Vec<u8> {
    match v {
        Value::Table(_)
        | Value::Closure(_)
        | Value::Native(_)
        | Value::Thread(_)
        | Value::UserData(_)
        | Value::String(_) => format!("0x{:014x}", v.identity().unwrap_or(0)).into_bytes(),
        _ => b"(null)".to_vec(),
    }
}

fn format<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let fmt = cx.check_str(0)?;
    let top = cx.nargs();
    let mut out: Vec<u8> = Vec::with_capacity(fmt.len() + 16);
    let mut arg = 0usize;
    for piece in Pieces::new(fmt.as_bytes()) {
        let spec = match piece {
            Ok(Piece::Literal(b)) => {
                out.extend_from_slice(b);
                continue;
            }
            Ok(Piece::Spec(spec)) => spec,
            Err(msg) => {
                // lua5.4 checks that the argument exists before it
                // validates the spec.
                if arg + 1 >= top {
                    return Err(cx.arg_error(arg + 1, "no value"));
                }
                return Err(RtError::msg(msg));
            }
        };
        arg += 1;
        if arg >= top {
            return Err(cx.arg_error(arg, "no value"));
        }
        match spec.conv {
            b'c' | b'd' | b'i' | b'u' | b'o' | b'x' | b'X' => {
                let v = cx.check_int(arg)?;
                format::format_int(&spec, v, &mut out);
            }
            b'a' | b'A' | b'e' | b'E' | b'f' | b'g' | b'G' => {
                let v = cx.check_float(arg)?;
                format::format_float(&spec, v, &mut out);
            }
            b'p' => {
                let text = pointer_text(cx.arg(arg));
                format::format_str(&spec, &text, &mut out).map_err(|m| cx.arg_error(arg, m))?;
            }
            b'q' => match cx.arg(arg) {
                Value::Integer(i) => format::format_quoted_int(i, &mut out),
                Value::Number(f) => format::format_quoted_float(f, &mut out),
                Value::String(s) => format::format_quoted_str(s.as_bytes(), &mut out),
                Value::Nil => out.extend_from_slice(b"nil"),
                Value::Boolean(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
                _ => return Err(cx.arg_error(arg, "value has no literal form")),
            },
            _ => {
                // b's'
                let v = cx.arg(arg);
                let Some(s) = super::base::tostring_plain(cx.ctx, v) else {
                    return call_tostring(cx, arg, top);
                };
                format::format_str(&spec, s.as_bytes(), &mut out)
                    .map_err(|m| cx.arg_error(arg, m))?;
            }
        }
        if !cx.ctx.state.meter.allows(out.len()) {
            return Err(RtError::msg("resulting string too large"));
        }
    }
    let r = new_str(cx, &out);
    cx.ret1(r)
}

/// Argument `arg` of `string.format` has `__tostring`: call it above the
/// arguments, then [`format_after_tostring`] puts the result in its place
/// and formats again.
fn call_tostring<'gc>(cx: &mut NCtx<'_, 'gc>, arg: usize, top: usize) -> R<'gc> {
    let v = cx.arg(arg);
    let mm = cx.ctx.metamethod(v, Event::ToString);
    cx.push(mm);
    cx.push(v);
    Ok(Action::Call {
        at: top,
        cont: Cont::Step {
            step: format_after_tostring,
            state: Value::Integer(((top as i64) << 32) | arg as i64),
        },
    })
}

fn format_after_tostring<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let Value::Integer(st) = cx.state else {
        return Err(RtError::msg("corrupt string.format state"));
    };
    let top = (st >> 32) as usize;
    let arg = (st & 0xffff_ffff) as usize;
    // Like luaL_tolstring, numbers are accepted (and converted).
    let r = match cx.arg(top) {
        r @ Value::String(_) => r,
        r @ (Value::Integer(_) | Value::Number(_)) => {
            Value::String(crate::vm::tostring_number(cx.ctx, r))
        }
        _ => return Err(RtError::msg("'__tostring' must return a string")),
    };
    cx.stack.truncate(cx.base + top);
    if let Some(slot) = cx.stack.get_mut(cx.base + arg) {
        *slot = r;
    }
    format(cx)
}

// --------------------------------------------------------------- find etc.

fn capture_value<'gc>(ctx: Ctx<'gc>, c: CaptureValue<'_>) -> Value<'gc> {
    match c {
        CaptureValue::Str(s) => ctx.bytes(s),
        CaptureValue::Pos(p) => Value::Integer(p as i64),
    }
}

fn push_captures<'gc>(
    cx: &mut NCtx<'_, 'gc>,
    subject: &[u8],
    m: &Match,
    whole_if_none: bool,
) -> Result<(), RtError<'gc>> {
    let caps = pattern::captures(subject, m, whole_if_none).map_err(RtError::msg)?;
    for c in caps {
        let v = capture_value(cx.ctx, c);
        cx.push(v);
    }
    Ok(())
}

fn find_aux<'gc>(cx: &mut NCtx<'_, 'gc>, find: bool) -> R<'gc> {
    let s = cx.check_str(0)?;
    let p = cx.check_str(1)?;
    let ls = s.len();
    let init = posrelat_start(cx.opt_int(2, 1)?, ls) - 1;
    if init > ls {
        return cx.ret1(Value::Nil);
    }
    let (sb, pb) = (s.as_bytes(), p.as_bytes());
    if find && (cx.arg(3).is_truthy() || !pattern::has_specials(pb)) {
        return match pattern::find_plain(sb, pb, init) {
            Some(i) => cx.ret2(
                Value::Integer(i as i64 + 1),
                Value::Integer((i + pb.len()) as i64),
            ),
            None => cx.ret1(Value::Nil),
        };
    }
    match pattern::find(sb, pb, init).map_err(RtError::msg)? {
        None => cx.ret1(Value::Nil),
        Some(m) => {
            cx.clear();
            if find {
                cx.push(Value::Integer(m.start as i64 + 1));
                cx.push(Value::Integer(m.end as i64));
            }
            push_captures(cx, sb, &m, !find)?;
            Ok(Action::Return)
        }
    }
}

fn find<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    find_aux(cx, true)
}

fn match_<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    find_aux(cx, false)
}

fn gmatch<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    let p = cx.check_str(1)?;
    let ls = s.len();
    let mut init = posrelat_start(cx.opt_int(2, 1)?, ls) - 1;
    if init > ls {
        init = ls + 1;
    }
    // The position and the end of the last match change on every call:
    // they live in a small table (upvalues of natives are immutable).
    let st = Table::new(cx.ctx);
    st.set_int(cx.ctx, 1, Value::Integer(init as i64));
    st.set_int(cx.ctx, 2, Value::Integer(-1));
    let f = Native::new(
        cx.ctx,
        "string.gmatch.iterator",
        gmatch_iter,
        Box::new([Value::String(s), Value::String(p), Value::Table(st)]),
    );
    cx.ret1(Value::Native(f))
}

fn gmatch_iter<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let (Some(Value::String(s)), Some(Value::String(p)), Some(Value::Table(st))) = (
        cx.upvalues.first().copied(),
        cx.upvalues.get(1).copied(),
        cx.upvalues.get(2).copied(),
    ) else {
        return Err(RtError::msg("corrupt gmatch iterator"));
    };
    let src = match st.get_int(1) {
        Value::Integer(i) if i >= 0 => i as usize,
        _ => return cx.ret1(Value::Nil),
    };
    let last = match st.get_int(2) {
        Value::Integer(i) if i >= 0 => Some(i as usize),
        _ => None,
    };
    let sb = s.as_bytes();
    match pattern::gmatch_next(sb, p.as_bytes(), src, last).map_err(RtError::msg)? {
        None => {
            // Exhausted: later calls find nothing either. lua5.4 returns
            // no values at all here, not nil.
            st.set_int(cx.ctx, 1, Value::Integer(sb.len() as i64 + 1));
            cx.ret0()
        }
        Some(m) => {
            st.set_int(cx.ctx, 1, Value::Integer(m.end as i64));
            st.set_int(cx.ctx, 2, Value::Integer(m.end as i64));
            cx.clear();
            push_captures(cx, sb, &m, true)?;
            Ok(Action::Return)
        }
    }
}

// ------------------------------------------------------------------- gsub

/// Slots of the gsub state table (a function or `__index` replacement
/// runs as a sequence of steps, one call into Lua per match).
const G_SUBJECT: i64 = 1;
const G_PATTERN: i64 = 2;
const G_REPL: i64 = 3;
const G_MAX: i64 = 4;
const G_SRC: i64 = 5;
const G_LAST: i64 = 6;
const G_COUNT: i64 = 7;
const G_ANCHOR: i64 = 8;
const G_MSTART: i64 = 9;
const G_MEND: i64 = 10;
const G_NPIECES: i64 = 11;
/// Output pieces are stored from this index on.
const G_PIECES: i64 = 16;

fn int_of(v: Value<'_>) -> i64 {
    match v {
        Value::Integer(i) => i,
        _ => 0,
    }
}

/// Appends a replacement value (string or number) to `out`; false/nil
/// keep the original match.
fn add_value<'gc>(
    ctx: Ctx<'gc>,
    v: Value<'gc>,
    whole: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    match v {
        Value::Nil | Value::Boolean(false) => out.extend_from_slice(whole),
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Integer(_) | Value::Number(_) => {
            out.extend_from_slice(crate::vm::tostring_number(ctx, v).as_bytes())
        }
        other => {
            return Err(format!(
                "invalid replacement value (a {})",
                other.type_name()
            ))
        }
    }
    Ok(())
}

/// What a table replacement gives for `key` without calling Lua, or the
/// `__index` function (and the table it belongs to) to call.
enum Lookup<'gc> {
    Value(Value<'gc>),
    Call(Value<'gc>, Value<'gc>),
}

fn table_lookup<'gc>(
    ctx: Ctx<'gc>,
    mut t: Table<'gc>,
    key: Value<'gc>,
) -> Result<Lookup<'gc>, RtError<'gc>> {
    // Follow `__index` tables as the VM would, up to lua's loop limit.
    for _ in 0..2000 {
        let v = t.get(key);
        if !v.is_nil() {
            return Ok(Lookup::Value(v));
        }
        let h = ctx.metamethod(Value::Table(t), Event::Index);
        match h {
            Value::Nil => return Ok(Lookup::Value(Value::Nil)),
            Value::Table(n) => t = n,
            f if f.is_function() => return Ok(Lookup::Call(f, Value::Table(t))),
            // Indexing a non-table through `__index`: only strings have
            // a metatable among the rest, and their `__index` is `string`.
            Value::String(_) => return Ok(Lookup::Value(Value::Nil)),
            other => {
                return Err(RtError::Message(format!(
                    "attempt to index a {} value",
                    other.type_name()
                )))
            }
        }
    }
    Err(RtError::msg("'__index' chain too long; possible loop"))
}

fn gsub<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    let p = cx.check_str(1)?;
    let repl = cx.arg(2);
    let repl = match repl {
        Value::Integer(_) | Value::Number(_) => {
            Value::String(crate::vm::tostring_number(cx.ctx, repl))
        }
        Value::String(_) | Value::Table(_) | Value::Closure(_) | Value::Native(_) => repl,
        _ => return Err(cx.type_error(2, "string/function/table")),
    };
    let max_n = cx.opt_int(3, s.len() as i64 + 1)?;
    let (sb, pb) = (s.as_bytes(), p.as_bytes());
    // Fast paths: string replacements and plain tables need no calls.
    let simple = match repl {
        Value::String(_) => true,
        Value::Table(t) => t.metatable().is_none(),
        _ => false,
    };
    if simple {
        let ctx = cx.ctx;
        let (out, n) = pattern::gsub(sb, pb, max_n, |m, out| -> Result<(), String> {
            match repl {
                Value::String(r) => pattern::expand_replacement(r.as_bytes(), sb, m, out),
                Value::Table(t) => {
                    let key = pattern::get_capture(sb, m, 0)?;
                    let v = t.get(capture_value(ctx, key));
                    add_value(ctx, v, sb.get(m.start..m.end).unwrap_or(&[]), out)
                }
                _ => Ok(()),
            }
        })
        .map_err(RtError::Message)?;
        check_size(cx, out.len())?;
        let r = new_str(cx, &out);
        return cx.ret2(r, Value::Integer(n as i64));
    }
    let (anchor, pat) = match pb.split_first() {
        Some((b'^', rest)) => (true, rest),
        _ => (false, pb),
    };
    let ctx = cx.ctx;
    let st = Table::new(ctx);
    st.set_int(ctx, G_SUBJECT, Value::String(s));
    st.set_int(ctx, G_PATTERN, ctx.bytes(pat));
    st.set_int(ctx, G_REPL, repl);
    st.set_int(ctx, G_MAX, Value::Integer(max_n));
    st.set_int(ctx, G_SRC, Value::Integer(0));
    st.set_int(ctx, G_LAST, Value::Integer(-1));
    st.set_int(ctx, G_COUNT, Value::Integer(0));
    st.set_int(ctx, G_ANCHOR, Value::Boolean(anchor));
    st.set_int(ctx, G_NPIECES, Value::Integer(0));
    gsub_run(cx, st, Vec::new())
}

fn push_piece<'gc>(ctx: Ctx<'gc>, st: Table<'gc>, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let n = int_of(st.get_int(G_NPIECES));
    st.set_int(ctx, G_PIECES + n, ctx.bytes(bytes));
    st.set_int(ctx, G_NPIECES, Value::Integer(n + 1));
}

/// Continues a gsub from the state in `st`, with `pending` output not yet
/// stored; stops at the next match that needs a call into Lua.
fn gsub_run<'gc>(cx: &mut NCtx<'_, 'gc>, st: Table<'gc>, mut pending: Vec<u8>) -> R<'gc> {
    let ctx = cx.ctx;
    let (Value::String(s), Value::String(p)) = (st.get_int(G_SUBJECT), st.get_int(G_PATTERN))
    else {
        return Err(RtError::msg("corrupt gsub state"));
    };
    let repl = st.get_int(G_REPL);
    let max_n = int_of(st.get_int(G_MAX));
    let anchor = st.get_int(G_ANCHOR).is_truthy();
    let mut src = int_of(st.get_int(G_SRC)) as usize;
    let mut last = match st.get_int(G_LAST) {
        Value::Integer(i) if i >= 0 => Some(i as usize),
        _ => None,
    };
    let mut n = int_of(st.get_int(G_COUNT));
    let (sb, pb) = (s.as_bytes(), p.as_bytes());
    // After a call with an anchored pattern, there is nothing more to do.
    let mut done = anchor && n > 0;
    while !done && n < max_n {
        let m = pattern::match_at(sb, pb, src).map_err(RtError::msg)?;
        match m {
            Some(m) if Some(m.end) != last => {
                n += 1;
                src = m.end;
                last = Some(m.end);
                let whole = sb.get(m.start..m.end).unwrap_or(&[]);
                // Work out what to call: the function, or a table's
                // `__index` function.
                let (f, args): (Value<'gc>, Vec<Value<'gc>>) = match repl {
                    Value::Table(t) => {
                        let key = pattern::get_capture(sb, &m, 0).map_err(RtError::msg)?;
                        let key = capture_value(ctx, key);
                        match table_lookup(ctx, t, key)? {
                            Lookup::Value(v) => {
                                add_value(ctx, v, whole, &mut pending).map_err(RtError::Message)?;
                                if anchor {
                                    break;
                                }
                                continue;
                            }
                            Lookup::Call(f, t) => (f, vec![t, key]),
                        }
                    }
                    f => {
                        let caps = pattern::captures(sb, &m, true).map_err(RtError::msg)?;
                        (f, caps.into_iter().map(|c| capture_value(ctx, c)).collect())
                    }
                };
                push_piece(ctx, st, &pending);
                st.set_int(ctx, G_SRC, Value::Integer(src as i64));
                st.set_int(ctx, G_LAST, Value::Integer(m.end as i64));
                st.set_int(ctx, G_COUNT, Value::Integer(n));
                st.set_int(ctx, G_MSTART, Value::Integer(m.start as i64));
                st.set_int(ctx, G_MEND, Value::Integer(m.end as i64));
                cx.clear();
                cx.push(f);
                for a in args {
                    cx.push(a);
                }
                return Ok(Action::Call {
                    at: 0,
                    cont: Cont::Step {
                        step: gsub_step,
                        state: Value::Table(st),
                    },
                });
            }
            _ => {
                if let Some(&c) = sb.get(src) {
                    pending.push(c);
                    src += 1;
                } else {
                    break;
                }
            }
        }
        if anchor {
            done = true;
        }
    }
    if let Some(rest) = sb.get(src..) {
        pending.extend_from_slice(rest);
    }
    let pieces = int_of(st.get_int(G_NPIECES));
    let mut out = Vec::new();
    for i in 0..pieces {
        if let Value::String(piece) = st.get_int(G_PIECES + i) {
            out.extend_from_slice(piece.as_bytes());
        }
    }
    out.extend_from_slice(&pending);
    check_size(cx, out.len())?;
    let r = new_str(cx, &out);
    cx.ret2(r, Value::Integer(n))
}

fn gsub_step<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let Value::Table(st) = cx.state else {
        return Err(RtError::msg("corrupt gsub state"));
    };
    let Value::String(s) = st.get_int(G_SUBJECT) else {
        return Err(RtError::msg("corrupt gsub state"));
    };
    let a = int_of(st.get_int(G_MSTART)) as usize;
    let b = int_of(st.get_int(G_MEND)) as usize;
    let whole = s.as_bytes().get(a..b).unwrap_or(&[]);
    let mut pending = Vec::new();
    add_value(cx.ctx, cx.arg(0), whole, &mut pending).map_err(RtError::Message)?;
    gsub_run(cx, st, pending)
}

// ------------------------------------------------------------------- pack

fn pack_error<'gc>(cx: &NCtx<'_, 'gc>, arg: usize, e: pack::PutError) -> RtError<'gc> {
    match e {
        pack::PutError::Arg(m) => cx.arg_error(arg, m),
        pack::PutError::Fmt(m) => cx.arg_error(0, m),
        pack::PutError::Plain(m) => RtError::Message(m),
    }
}

fn pack_<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let fmt = cx.check_str(0)?;
    // lstrlib pushes a nil above the arguments (to separate them from its
    // buffer), so a first missing argument is reported as "got nil".
    cx.push(Value::Nil);
    let mut packer = pack::Packer::new(fmt.as_bytes());
    let mut arg = 0usize;
    loop {
        let item = packer.next_item().map_err(|e| pack_error(cx, arg, e))?;
        let Some(item) = item else { break };
        if !item.takes_arg() {
            packer
                .put(&item, pack::Arg::None)
                .map_err(|e| pack_error(cx, arg, e))?;
            continue;
        }
        arg += 1;
        let a = match item.kind {
            pack::Kind::Int | pack::Kind::Uint => pack::Arg::Int(cx.check_int(arg)?),
            pack::Kind::Float | pack::Kind::Double | pack::Kind::Number => {
                pack::Arg::Float(cx.check_float(arg)?)
            }
            _ => {
                let s = cx.check_str(arg)?;
                pack::Arg::Str(s.as_bytes())
            }
        };
        packer.put(&item, a).map_err(|e| pack_error(cx, arg, e))?;
        check_size(cx, packer.len())?;
    }
    let out = packer.finish();
    let r = new_str(cx, &out);
    cx.ret1(r)
}

fn packsize<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let fmt = cx.check_str(0)?;
    match pack::packsize(fmt.as_bytes()) {
        Ok(n) => cx.ret1(Value::Integer(n as i64)),
        Err(e) => Err(pack_error(cx, 0, e)),
    }
}

fn unpack<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let fmt = cx.check_str(0)?;
    let data = cx.check_str(1)?;
    let ld = data.len();
    let pos = posrelat_start(cx.opt_int(2, 1)?, ld) - 1;
    if pos > ld {
        return Err(cx.arg_error(2, "initial position out of string"));
    }
    let (values, next) =
        pack::unpack(fmt.as_bytes(), data.as_bytes(), pos).map_err(|e| pack_error(cx, 1, e))?;
    cx.clear();
    let ctx = cx.ctx;
    for v in values {
        let v = match v {
            pack::Out::Int(i) => Value::Integer(i),
            pack::Out::Float(f) => Value::Number(f),
            pack::Out::Str(a, b) => ctx.bytes(data.as_bytes().get(a..b).unwrap_or(&[])),
        };
        cx.push(v);
    }
    cx.push(Value::Integer(next as i64 + 1));
    Ok(Action::Return)
}
