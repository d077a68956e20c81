//! Arithmetic, comparison and number-to-string conversions on values, as
//! Lua 5.4 defines them. Metamethods are the caller's business: these
//! return `None` when an operand is not a number (or string, for order).

use crate::compiler::opcode::ArithOp;
use crate::lualib::number;
use crate::state::Ctx;
use crate::value::{LuaStr, Value};

/// `a op b` on numbers (strings coerce), or None when the operands are
/// not numbers. Integer division or modulo by zero is an error.
pub fn arith<'gc>(
    op: ArithOp,
    a: Value<'gc>,
    b: Value<'gc>,
) -> Option<Result<Value<'gc>, &'static str>> {
    if op.is_bitwise() {
        let (x, y) = (strict_number(a)?, strict_number(b)?);
        let (Some(x), Some(y)) = (x.to_integer(), y.to_integer()) else {
            return Some(Err("number has no integer representation"));
        };
        return Some(Ok(Value::Integer(match op {
            ArithOp::BAnd => x & y,
            ArithOp::BOr => x | y,
            ArithOp::BXor => x ^ y,
            ArithOp::Shl => number::shift_left(x, y),
            ArithOp::Shr => number::shift_left(x, y.wrapping_neg()),
            _ => unreachable!("bitwise operators only"),
        })));
    }
    let (x, y) = (strict_number(a)?, strict_number(b)?);
    Some(match (x, y) {
        (Value::Integer(x), Value::Integer(y)) => int_arith(op, x, y),
        _ => {
            let (x, y) = (x.to_float()?, y.to_float()?);
            Ok(Value::Number(float_arith(op, x, y)))
        }
    })
}

/// Numbers only: Lua 5.4 leaves string coercion to the string metatable.
fn strict_number(v: Value<'_>) -> Option<Value<'_>> {
    matches!(v, Value::Integer(_) | Value::Number(_)).then_some(v)
}

pub fn int_arith<'gc>(op: ArithOp, x: i64, y: i64) -> Result<Value<'gc>, &'static str> {
    Ok(match op {
        ArithOp::Add => Value::Integer(x.wrapping_add(y)),
        ArithOp::Sub => Value::Integer(x.wrapping_sub(y)),
        ArithOp::Mul => Value::Integer(x.wrapping_mul(y)),
        ArithOp::Div => Value::Number(x as f64 / y as f64),
        ArithOp::Pow => Value::Number((x as f64).powf(y as f64)),
        ArithOp::IDiv => {
            Value::Integer(number::int_floor_div(x, y).ok_or("attempt to divide by zero")?)
        }
        ArithOp::Mod => Value::Integer(number::int_mod(x, y).ok_or("attempt to perform 'n%0'")?),
        _ => unreachable!("arithmetic operators only"),
    })
}

pub fn float_arith(op: ArithOp, x: f64, y: f64) -> f64 {
    match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div => x / y,
        ArithOp::Pow => {
            if y == 2.0 {
                x * x
            } else {
                x.powf(y)
            }
        }
        ArithOp::IDiv => number::float_floor_div(x, y),
        ArithOp::Mod => number::float_mod(x, y),
        _ => unreachable!("arithmetic operators only"),
    }
}

/// `a < b` for numbers and strings; None otherwise.
pub fn compare_lt(a: Value<'_>, b: Value<'_>) -> Option<bool> {
    Some(match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x < y,
        (Value::Number(x), Value::Number(y)) => x < y,
        (Value::Integer(x), Value::Number(y)) => number::lt_int_float(x, y),
        (Value::Number(x), Value::Integer(y)) => number::lt_float_int(x, y),
        (Value::String(x), Value::String(y)) => x.as_bytes() < y.as_bytes(),
        _ => return None,
    })
}

/// `a <= b` for numbers and strings; None otherwise.
pub fn compare_le(a: Value<'_>, b: Value<'_>) -> Option<bool> {
    Some(match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x <= y,
        (Value::Number(x), Value::Number(y)) => x <= y,
        (Value::Integer(x), Value::Number(y)) => number::le_int_float(x, y),
        (Value::Number(x), Value::Integer(y)) => number::le_float_int(x, y),
        (Value::String(x), Value::String(y)) => x.as_bytes() <= y.as_bytes(),
        _ => return None,
    })
}

/// A number's string form, as `tostring` gives it.
pub fn tostring_number<'gc>(ctx: Ctx<'gc>, v: Value<'gc>) -> LuaStr<'gc> {
    let mut buf = Vec::with_capacity(24);
    match v {
        Value::Integer(i) => number::fmt_int(i, &mut buf),
        Value::Number(f) => number::fmt_float(f, &mut buf),
        _ => unreachable!("tostring_number is given numbers"),
    }
    LuaStr::new(ctx, &buf)
}

/// Appends the string form of a string or number; false for other types.
pub fn append_concat(v: Value<'_>, out: &mut Vec<u8>) -> bool {
    match v {
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Integer(i) => number::fmt_int(i, out),
        Value::Number(f) => number::fmt_float(f, out),
        _ => return false,
    }
    true
}
