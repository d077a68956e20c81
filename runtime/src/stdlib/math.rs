//! The math library, with Lua 5.4's xoshiro256** generator. The generator
//! state lives in the heap (a registry table) so a checkpoint carries it.

use crate::lualib::number::{self, float_to_int_exact};
use crate::native::{Action, NCtx, NativeFn, RtError};
use crate::state::Ctx;
use crate::table::Table;
use crate::value::Value;

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[
    ("math.abs", abs),
    ("math.ceil", ceil),
    ("math.floor", floor),
    ("math.fmod", fmod),
    ("math.modf", modf),
    ("math.sqrt", sqrt),
    ("math.exp", exp),
    ("math.log", log),
    ("math.sin", sin),
    ("math.cos", cos),
    ("math.tan", tan),
    ("math.asin", asin),
    ("math.acos", acos),
    ("math.atan", atan),
    ("math.tointeger", tointeger),
    ("math.type", type_),
    ("math.ult", ult),
    ("math.max", max),
    ("math.min", min),
    ("math.random", random),
    ("math.deg", deg),
    ("math.rad", rad),
    ("math.randomseed", randomseed),
];

pub fn open(ctx: Ctx<'_>) {
    let Value::Table(m) = ctx.state.registry.get_str(ctx, "math") else {
        return;
    };
    m.set_str(ctx, "pi", Value::Number(std::f64::consts::PI));
    m.set_str(ctx, "huge", Value::Number(f64::INFINITY));
    m.set_str(ctx, "maxinteger", Value::Integer(i64::MAX));
    m.set_str(ctx, "mininteger", Value::Integer(i64::MIN));
    let state = Table::new(ctx);
    ctx.state
        .registry
        .set_str(ctx, "math.random.state", Value::Table(state));
    // Like lua5.4, a fresh runtime starts from a random seed; the state
    // then lives in the heap, so a restored runtime continues its sequence.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x2545_f491_4f6c_dd1d);
    seed(ctx, state, nanos, std::process::id() as u64);
}

fn float_op<'gc>(cx: &mut NCtx<'_, 'gc>, f: fn(f64) -> f64) -> R<'gc> {
    let x = cx.check_float(0)?;
    cx.ret1(Value::Number(f(x)))
}

fn abs<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    // Only true integers stay integers: `math.abs("-2")` is 2.0 in lua5.4.
    let v = match cx.arg(0) {
        Value::Integer(i) => Value::Integer(i.wrapping_abs()),
        _ => Value::Number(cx.check_float(0)?.abs()),
    };
    cx.ret1(v)
}

fn round<'gc>(cx: &mut NCtx<'_, 'gc>, f: fn(f64) -> f64) -> R<'gc> {
    // Only true integers pass through; strings convert to floats first,
    // as lua5.4's luaL_checknumber.
    let v = match cx.arg(0) {
        i @ Value::Integer(_) => i,
        _ => {
            let r = f(cx.check_float(0)?);
            match float_to_int_exact(r) {
                Some(i) => Value::Integer(i),
                None => Value::Number(r),
            }
        }
    };
    cx.ret1(v)
}

fn ceil<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    round(cx, f64::ceil)
}

fn floor<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    round(cx, f64::floor)
}

fn fmod<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    // Only true integers take the integer path (strings convert to
    // floats); lua5.4's build checks the second argument first.
    if let (Value::Integer(_), Value::Integer(_)) = (cx.arg(0), cx.arg(1)) {
    } else {
        cx.check_number(1)?;
    }
    let (a, b) = match (cx.arg(0), cx.arg(1)) {
        (a @ Value::Integer(_), b @ Value::Integer(_)) => (a, b),
        _ => (
            Value::Number(cx.check_float(0)?),
            Value::Number(cx.check_float(1)?),
        ),
    };
    let v = match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => {
            if y == 0 {
                return Err(cx.arg_error(1, "zero"));
            }
            // C's `%` truncates; -1 avoids overflow on mininteger.
            Value::Integer(if y == -1 { 0 } else { x % y })
        }
        _ => Value::Number(a.to_float().unwrap_or(0.0) % b.to_float().unwrap_or(0.0)),
    };
    cx.ret1(v)
}

fn modf<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    if let Value::Integer(i) = cx.arg(0) {
        return cx.ret2(Value::Integer(i), Value::Number(0.0));
    }
    let x = cx.check_float(0)?;
    let ip = if x.is_infinite() { x } else { x.trunc() };
    let frac = if x.is_infinite() { 0.0 } else { x - ip };
    // The integral part is an integer when it fits, as lua5.4 pushes it.
    let ipv = float_to_int_exact(ip).map_or(Value::Number(ip), Value::Integer);
    cx.ret2(ipv, Value::Number(frac))
}

fn deg<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    float_op(cx, |x| x * (180.0 / std::f64::consts::PI))
}

fn rad<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    float_op(cx, |x| x * (std::f64::consts::PI / 180.0))
}

fn sqrt<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    float_op(cx, f64::sqrt)
}
fn exp<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    float_op(cx, f64::exp)
}
fn sin<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    float_op(cx, f64::sin)
}
fn cos<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    float_op(cx, f64::cos)
}
fn tan<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    float_op(cx, f64::tan)
}
fn asin<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    float_op(cx, f64::asin)
}
fn acos<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    float_op(cx, f64::acos)
}

fn atan<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let y = cx.check_float(0)?;
    let x = if cx.arg(1).is_nil() {
        1.0
    } else {
        cx.check_float(1)?
    };
    cx.ret1(Value::Number(y.atan2(x)))
}

fn log<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let x = cx.check_float(0)?;
    let r = match cx.arg(1) {
        Value::Nil => x.ln(),
        _ => {
            let b = cx.check_float(1)?;
            if b == 2.0 {
                x.log2()
            } else if b == 10.0 {
                x.log10()
            } else {
                x.ln() / b.ln()
            }
        }
    };
    cx.ret1(Value::Number(r))
}

fn tointeger<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let v = match cx.arg(0) {
        Value::Integer(i) => Value::Integer(i),
        Value::Number(f) => float_to_int_exact(f).map_or(Value::Nil, Value::Integer),
        Value::String(s) => match number::str_to_number(s.as_bytes()) {
            Some(number::Number::Int(i)) => Value::Integer(i),
            Some(number::Number::Float(f)) => {
                float_to_int_exact(f).map_or(Value::Nil, Value::Integer)
            }
            None => Value::Nil,
        },
        _ => {
            cx.check_any(0)?;
            Value::Nil
        }
    };
    cx.ret1(v)
}

fn type_<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let v = cx.check_any(0)?;
    let r = match v {
        Value::Integer(_) => cx.ctx.str("integer"),
        Value::Number(_) => cx.ctx.str("float"),
        _ => Value::Nil,
    };
    cx.ret1(r)
}

fn ult<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let (a, b) = (cx.check_int(0)?, cx.check_int(1)?);
    cx.ret1(Value::Boolean((a as u64) < (b as u64)))
}

fn extremum<'gc>(cx: &mut NCtx<'_, 'gc>, want_max: bool) -> R<'gc> {
    if cx.nargs() == 0 {
        return Err(cx.arg_error(0, "value expected"));
    }
    // lua5.4 compares with `<` and converts nothing: strings compare as
    // strings, mixed types are an error.
    let mut best = cx.arg(0);
    for i in 1..cx.nargs() {
        let v = cx.arg(i);
        let (a, b) = if want_max { (best, v) } else { (v, best) };
        match crate::vm::compare_lt(a, b) {
            Some(true) => best = v,
            Some(false) => {}
            None => return Err(compare_error(cx.ctx, a, b)),
        }
    }
    cx.ret1(best)
}

/// Raised by the core's comparison inside a library function: lua5.4
/// gives it no position.
fn compare_error<'gc>(ctx: crate::state::Ctx<'gc>, a: Value<'gc>, b: Value<'gc>) -> RtError<'gc> {
    let (ta, tb) = (a.type_name(), b.type_name());
    let msg = if ta == tb {
        format!("attempt to compare two {ta} values")
    } else {
        format!("attempt to compare {ta} with {tb}")
    };
    RtError::Value(ctx.str(&msg))
}

fn max<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    extremum(cx, true)
}

fn min<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    extremum(cx, false)
}

// ---- xoshiro256** -----------------------------------------------------------

fn state_table<'gc>(ctx: Ctx<'gc>) -> Result<Table<'gc>, RtError<'gc>> {
    match ctx.state.registry.get_str(ctx, "math.random.state") {
        Value::Table(t) => Ok(t),
        _ => Err(RtError::msg("random state is missing")),
    }
}

fn read_state(t: Table<'_>) -> [u64; 4] {
    let mut s = [0u64; 4];
    for (i, w) in s.iter_mut().enumerate() {
        if let Value::Integer(v) = t.get_int(i as i64 + 1) {
            *w = v as u64;
        }
    }
    s
}

fn write_state<'gc>(ctx: Ctx<'gc>, t: Table<'gc>, s: [u64; 4]) {
    for (i, w) in s.iter().enumerate() {
        t.set_int(ctx, i as i64 + 1, Value::Integer(*w as i64));
    }
}

fn next_rand(s: &mut [u64; 4]) -> u64 {
    let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
    let t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3].rotate_left(45);
    result
}

fn seed<'gc>(ctx: Ctx<'gc>, t: Table<'gc>, n1: u64, n2: u64) {
    let mut s = [n1, 0xff, n2, 0];
    for _ in 0..16 {
        next_rand(&mut s);
    }
    write_state(ctx, t, s);
}

/// A uniform integer in `0..=n`, by rejection as Lua 5.4's `project`.
fn project(ran: u64, n: u64, s: &mut [u64; 4]) -> u64 {
    if n & n.wrapping_add(1) == 0 {
        return ran & n;
    }
    let mut lim = n;
    lim |= lim >> 1;
    lim |= lim >> 2;
    lim |= lim >> 4;
    lim |= lim >> 8;
    lim |= lim >> 16;
    lim |= lim >> 32;
    let mut r = ran & lim;
    while r > n {
        r = next_rand(s) & lim;
    }
    r
}

fn random<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = state_table(cx.ctx)?;
    let mut s = read_state(t);
    let rv = next_rand(&mut s);
    let (low, up) = match cx.nargs() {
        0 => {
            write_state(cx.ctx, t, s);
            return cx.ret1(Value::Number((rv >> 11) as f64 * (0.5f64).powi(53)));
        }
        1 => {
            let up = cx.check_int(0)?;
            if up == 0 {
                write_state(cx.ctx, t, s);
                return cx.ret1(Value::Integer(rv as i64));
            }
            (1, up)
        }
        2 => (cx.check_int(0)?, cx.check_int(1)?),
        _ => return Err(RtError::msg("wrong number of arguments")),
    };
    if low > up {
        // lua5.4.4 names argument 1 whatever the arity.
        return Err(cx.arg_error(0, "interval is empty"));
    }
    let r = project(rv, (up as u64).wrapping_sub(low as u64), &mut s);
    write_state(cx.ctx, t, s);
    cx.ret1(Value::Integer(r.wrapping_add(low as u64) as i64))
}

fn randomseed<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = state_table(cx.ctx)?;
    let (n1, n2) = if cx.nargs() == 0 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        (nanos, cx.ctx.state.next_id.get())
    } else {
        let n1 = match cx.check_number(0)? {
            Value::Integer(i) => i as u64,
            Value::Number(f) => f.to_bits(),
            _ => 0,
        };
        (n1, cx.opt_int(1, 0)? as u64)
    };
    seed(cx.ctx, t, n1, n2);
    cx.ret2(Value::Integer(n1 as i64), Value::Integer(n2 as i64))
}
