//! The utf8 library: a port of lutf8lib.c (Lua 5.4.4), including its
//! extended encoding of code points up to 2^31 and the `lax` flags.

use crate::native::{Action, NCtx, NativeFn, RtError};
use crate::state::Ctx;
use crate::value::Value;

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[
    ("utf8.char", char),
    ("utf8.codes", codes),
    ("utf8.codepoint", codepoint),
    ("utf8.len", len),
    ("utf8.offset", offset),
    ("utf8.codes.iterator", codes_iter_strict),
    ("utf8.codes.iteratorlax", codes_iter_lax),
];

const MAXUNICODE: u32 = 0x10FFFF;
const MAXUTF: u32 = 0x7FFF_FFFF;
const MSG_INVALID: &str = "invalid UTF-8 code";

/// Library values that are not functions.
pub fn open(ctx: Ctx<'_>) {
    if let Value::Table(t) = ctx.state.registry.get_str(ctx, "utf8") {
        t.set_str(
            ctx,
            "charpattern",
            ctx.bytes(b"[\x00-\x7F\xC2-\xFD][\x80-\xBF]*"),
        );
        // The iterators are listed in FUNCTIONS only for their stable
        // names; they are not fields of `utf8` in lua5.4.
        let strict = super::native(ctx, "utf8.codes.iterator", codes_iter_strict);
        let lax = super::native(ctx, "utf8.codes.iteratorlax", codes_iter_lax);
        ctx.state
            .registry
            .set_str(ctx, "utf8.codes.iterator", strict);
        ctx.state
            .registry
            .set_str(ctx, "utf8.codes.iteratorlax", lax);
    }
}

/// lutf8lib's `u_posrelat`: negative positions count from the end.
fn posrelat(pos: i64, len: usize) -> i64 {
    if pos >= 0 {
        pos
    } else if pos.unsigned_abs() > len as u64 {
        0
    } else {
        len as i64 + pos + 1
    }
}

fn iscont(s: &[u8], i: usize) -> bool {
    // Past the end reads the terminating NUL, never a continuation.
    s.get(i).is_some_and(|&c| c & 0xC0 == 0x80)
}

/// lutf8lib's `utf8_decode` at `s[i..]`: the code point and the index
/// after it, or None for an invalid sequence.
pub fn decode(s: &[u8], i: usize, strict: bool) -> Option<(u32, usize)> {
    const LIMITS: [u32; 6] = [!0, 0x80, 0x800, 0x10000, 0x20_0000, 0x400_0000];
    let mut c = u32::from(s.get(i).copied().unwrap_or(0));
    let res;
    let mut next = i + 1;
    if c < 0x80 {
        res = c;
    } else {
        let mut count = 0usize;
        let mut r: u32 = 0;
        while c & 0x40 != 0 {
            count += 1;
            let cc = u32::from(s.get(i + count).copied().unwrap_or(0));
            if cc & 0xC0 != 0x80 {
                return None;
            }
            r = (r << 6) | (cc & 0x3F);
            c <<= 1;
        }
        if count > 5 {
            return None;
        }
        r |= (c & 0x7F) << (count * 5);
        if r > MAXUTF || r < LIMITS[count] {
            return None;
        }
        res = r;
        next = i + count + 1;
    }
    if strict && (res > MAXUNICODE || (0xD800..=0xDFFF).contains(&res)) {
        return None;
    }
    Some((res, next))
}

/// lutf8lib's `utfchar`: the (extended) UTF-8 encoding of `x`.
pub fn encode(x: u32, out: &mut Vec<u8>) {
    if x < 0x80 {
        out.push(x as u8);
        return;
    }
    let mut buf = [0u8; 8];
    let mut n = 1;
    let mut x = x;
    let mut mfb: u32 = 0x3f;
    loop {
        buf[8 - n] = 0x80 | (x & 0x3f) as u8;
        n += 1;
        x >>= 6;
        mfb >>= 1;
        if x <= mfb {
            break;
        }
    }
    buf[8 - n] = ((!mfb << 1) | x) as u8;
    out.extend_from_slice(&buf[8 - n..]);
}

fn char<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let n = cx.nargs();
    let mut out = Vec::new();
    for i in 0..n {
        let code = cx.check_int(i)?;
        if code as u64 > u64::from(MAXUTF) {
            return Err(cx.arg_error(i, "value out of range"));
        }
        encode(code as u32, &mut out);
    }
    let r = cx.ctx.bytes(&out);
    cx.ret1(r)
}

fn codepoint<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    let l = s.len();
    let posi = posrelat(cx.opt_int(1, 1)?, l);
    let pose = posrelat(cx.opt_int(2, posi)?, l);
    let strict = !cx.arg(3).is_truthy();
    if posi < 1 {
        return Err(cx.arg_error(1, "out of bounds"));
    }
    if pose > l as i64 {
        return Err(cx.arg_error(2, "out of bounds"));
    }
    cx.clear();
    if posi > pose {
        return Ok(Action::Return);
    }
    if pose - posi >= i64::from(i32::MAX) {
        return Err(RtError::msg("string slice too long"));
    }
    let b = s.as_bytes();
    let mut i = (posi - 1) as usize;
    let end = pose as usize;
    while i < end {
        let Some((code, next)) = decode(b, i, strict) else {
            return Err(RtError::msg(MSG_INVALID));
        };
        cx.push(Value::Integer(i64::from(code)));
        i = next;
    }
    Ok(Action::Return)
}

fn len<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    let l = s.len() as i64;
    let mut posi = posrelat(cx.opt_int(1, 1)?, l as usize);
    let mut posj = posrelat(cx.opt_int(2, -1)?, l as usize);
    let strict = !cx.arg(3).is_truthy();
    posi -= 1;
    if !(0..=l).contains(&posi) {
        return Err(cx.arg_error(1, "initial position out of bounds"));
    }
    posj -= 1;
    if posj >= l {
        return Err(cx.arg_error(2, "final position out of bounds"));
    }
    let b = s.as_bytes();
    let mut n: i64 = 0;
    while posi <= posj {
        match decode(b, posi as usize, strict) {
            Some((_, next)) => posi = next as i64,
            None => return cx.ret2(Value::Nil, Value::Integer(posi + 1)),
        }
        n += 1;
    }
    cx.ret1(Value::Integer(n))
}

fn offset<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    let b = s.as_bytes();
    let l = b.len() as i64;
    let mut n = cx.check_int(1)?;
    let defi = if n >= 0 { 1 } else { l + 1 };
    let mut posi = posrelat(cx.opt_int(2, defi)?, l as usize);
    posi -= 1;
    if !(0..=l).contains(&posi) {
        return Err(cx.arg_error(2, "position out of bounds"));
    }
    let cont = |p: i64| iscont(b, p as usize);
    if n == 0 {
        while posi > 0 && cont(posi) {
            posi -= 1;
        }
    } else {
        if cont(posi) {
            return Err(RtError::msg("initial position is a continuation byte"));
        }
        if n < 0 {
            while n < 0 && posi > 0 {
                loop {
                    posi -= 1;
                    if !(posi > 0 && cont(posi)) {
                        break;
                    }
                }
                n += 1;
            }
        } else {
            n -= 1;
            while n > 0 && posi < l {
                loop {
                    posi += 1;
                    if !cont(posi) {
                        break;
                    }
                }
                n -= 1;
            }
        }
    }
    if n == 0 {
        cx.ret1(Value::Integer(posi + 1))
    } else {
        cx.ret1(Value::Nil)
    }
}

fn codes<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let s = cx.check_str(0)?;
    let lax = cx.arg(1).is_truthy();
    let key = if lax {
        "utf8.codes.iteratorlax"
    } else {
        "utf8.codes.iterator"
    };
    let f = cx.ctx.state.registry.get_str(cx.ctx, key);
    cx.clear();
    cx.push(f);
    cx.push(Value::String(s));
    cx.push(Value::Integer(0));
    Ok(Action::Return)
}

/// lutf8lib's `iter_aux` (as lua5.4 here behaves): the control value is
/// the 1-based position of the previous character, i.e. the 0-based index
/// just after its first byte; continuation bytes from there are skipped.
fn codes_iter<'gc>(cx: &mut NCtx<'_, 'gc>, strict: bool) -> R<'gc> {
    let s = cx.check_str(0)?;
    let b = s.as_bytes();
    let len = b.len() as u64;
    // A negative control value becomes huge, which ends the loop.
    let mut n = match cx.arg(1) {
        Value::Integer(i) => i,
        v => v.to_integer().unwrap_or(0),
    } as u64;
    if n < len {
        while iscont(b, n as usize) {
            n += 1;
        }
    }
    if n >= len {
        return cx.ret0();
    }
    match decode(b, n as usize, strict) {
        Some((code, _)) => cx.ret2(
            Value::Integer(n as i64 + 1),
            Value::Integer(i64::from(code)),
        ),
        _ => Err(RtError::msg(MSG_INVALID)),
    }
}

fn codes_iter_strict<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    codes_iter(cx, true)
}

fn codes_iter_lax<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    codes_iter(cx, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        for x in [
            0u32,
            0x7f,
            0x80,
            0x7ff,
            0x800,
            0xffff,
            0x10000,
            0x10ffff,
            0x7fff_ffff,
        ] {
            let mut v = Vec::new();
            encode(x, &mut v);
            assert_eq!(decode(&v, 0, false), Some((x, v.len())));
        }
        assert_eq!(decode(b"\xff", 0, false), None);
        assert_eq!(decode(b"\xc0\x80", 0, false), None);
    }
}
