//! The table library. `sort` with a comparator, and anything that must
//! honour metamethods, runs as Lua (see [`PRELUDE`]); the natives cover
//! plain tables.

use crate::native::{Action, Cont, NCtx, NativeFn, RtError};
use crate::value::Value;
use crate::vm::compare_lt;

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[
    ("table.insert", insert),
    ("table.remove", remove),
    ("table.concat", concat),
    ("table.unpack", unpack),
    ("table.pack", pack),
    ("table.move", move_),
    ("table.sort", sort),
];

/// Calls the Lua version `registry[name]` with the same arguments: for
/// tables whose metamethods must be honoured.
fn slow_path<'gc>(cx: &mut NCtx<'_, 'gc>, name: &str) -> R<'gc> {
    let f = cx.ctx.state.registry.get_str(cx.ctx, name);
    cx.stack.insert(cx.base, f);
    Ok(Action::Call {
        at: 0,
        cont: Cont::Return,
    })
}

fn insert<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = cx.check_table(0)?;
    if t.metatable().is_some() {
        return slow_path(cx, "insert_slow");
    }
    let n = t.length();
    match cx.nargs() {
        2 => {
            let v = cx.arg(1);
            t.set_int(cx.ctx, n.wrapping_add(1), v);
        }
        3 => {
            let pos = cx.check_int(1)?;
            // Unsigned comparison catches pos < 1 as Lua's does.
            if (pos as u64).wrapping_sub(1) >= (n as u64).wrapping_add(1) {
                return Err(cx.arg_error(1, "position out of bounds"));
            }
            let v = cx.arg(2);
            if !t.try_array_insert(cx.ctx, pos, v) {
                let mut i = n + 1;
                while i > pos {
                    let prev = t.get_int(i - 1);
                    t.set_int(cx.ctx, i, prev);
                    i -= 1;
                }
                t.set_int(cx.ctx, pos, v);
            }
        }
        _ => return Err(RtError::msg("wrong number of arguments to 'insert'")),
    }
    cx.ret0()
}

fn remove<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = cx.check_table(0)?;
    if t.metatable().is_some() {
        return slow_path(cx, "remove_slow");
    }
    let n = t.length();
    let pos = cx.opt_int(1, n)?;
    if cx.nargs() >= 2 && pos != n && (pos as u64).wrapping_sub(1) > n as u64 {
        return Err(cx.arg_error(0, "position out of bounds"));
    }
    if let Some(v) = t.try_array_remove(cx.ctx, pos) {
        return cx.ret1(v);
    }
    let v = t.get_int(pos);
    let mut i = pos;
    while i < n {
        let next = t.get_int(i + 1);
        t.set_int(cx.ctx, i, next);
        i += 1;
    }
    t.set_int(cx.ctx, i, Value::Nil);
    cx.ret1(v)
}

fn concat<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = cx.check_table(0)?;
    if t.metatable().is_some() {
        return slow_path(cx, "concat_slow");
    }
    let sep = match cx.opt_str(1)? {
        Some(s) => s.as_bytes(),
        None => b"",
    };
    let i = cx.opt_int(2, 1)?;
    let j = if cx.arg(3).is_nil() {
        t.length()
    } else {
        cx.check_int(3)?
    };
    let mut out = Vec::new();
    let mut k = i;
    while k <= j {
        match t.get_int(k) {
            Value::String(s) => out.extend_from_slice(s.as_bytes()),
            v @ (Value::Integer(_) | Value::Number(_)) => {
                out.extend_from_slice(crate::vm::tostring_number(cx.ctx, v).as_bytes())
            }
            v => {
                return Err(RtError::Message(format!(
                    "invalid value ({}) at index {k} in table for 'concat'",
                    v.type_name()
                )))
            }
        }
        if k < j {
            out.extend_from_slice(sep);
        }
        if !cx.ctx.state.meter.allows(out.len()) {
            return Err(RtError::msg("not enough memory"));
        }
        if k == i64::MAX {
            break;
        }
        k += 1;
    }
    let s = cx.ctx.bytes(&out);
    cx.ret1(s)
}

fn unpack<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = match cx.arg(0) {
        Value::Table(t) if t.metatable().is_none() => t,
        // Anything else is indexed (and measured) with metamethods.
        _ => return slow_path(cx, "unpack_slow"),
    };
    let i = cx.opt_int(1, 1)?;
    let j = match cx.arg(2) {
        Value::Nil => t.length(),
        _ => cx.check_int(2)?,
    };
    if i > j {
        return cx.ret0();
    }
    let n = (j as i128 - i as i128 + 1) as u128;
    if n >= 1_000_000 {
        return Err(RtError::msg("too many results to unpack"));
    }
    cx.clear();
    let mut k = i;
    loop {
        let v = t.get_int(k);
        cx.push(v);
        if k == j {
            break;
        }
        k += 1;
    }
    Ok(Action::Return)
}

fn pack<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let n = cx.nargs();
    let t = crate::table::Table::with_capacity(cx.ctx, n, 1);
    for i in 0..n {
        t.set_int(cx.ctx, i as i64 + 1, cx.arg(i));
    }
    t.set_str(cx.ctx, "n", Value::Integer(n as i64));
    cx.ret1(Value::Table(t))
}

fn move_<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    // Argument checks in lua5.4's order: the positions, then the tables.
    let f = cx.check_int(1)?;
    let e = cx.check_int(2)?;
    let t = cx.check_int(3)?;
    let a1 = cx.check_table(0)?;
    let a2 = match cx.arg(4) {
        Value::Nil => a1,
        _ => cx.check_table(4)?,
    };
    if e >= f {
        if !(f > 0 || e < i64::MAX + f) {
            return Err(cx.arg_error(2, "too many elements to move"));
        }
        if t > i64::MAX - (e - f) {
            return Err(cx.arg_error(3, "destination wrap around"));
        }
        if a1.metatable().is_some() || a2.metatable().is_some() {
            cx.stack.truncate(cx.base + 4);
            cx.push(Value::Table(a2));
            return slow_path(cx, "move_slow");
        }
        if t > e || t <= f || a1 != a2 {
            for i in 0..=(e - f) {
                let v = a1.get_int(f + i);
                a2.set_int(cx.ctx, t + i, v);
            }
        } else {
            let mut i = e - f;
            loop {
                let v = a1.get_int(f + i);
                a2.set_int(cx.ctx, t + i, v);
                if i == 0 {
                    break;
                }
                i -= 1;
            }
        }
    }
    cx.ret1(Value::Table(a2))
}

/// The native `table.concat`, which the Lua slow path finishes with.
pub fn concat_native() -> NativeFn {
    concat
}

/// Sorts natively when there is no comparator and the elements are all
/// numbers or all strings; otherwise the Lua version runs.
fn sort<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = cx.check_table(0)?;
    let n = t.length();
    if !cx.arg(1).is_nil() && !cx.arg(1).is_function() {
        return Err(cx.type_error(1, "function"));
    }
    if cx.arg(1).is_nil() && t.metatable().is_none() && n < i32::MAX as i64 {
        let mut items: Vec<Value<'gc>> = (1..=n).map(|i| t.get_int(i)).collect();
        let numbers = items
            .iter()
            .all(|v| matches!(v, Value::Integer(_) | Value::Number(_)));
        let strings = items.iter().all(|v| matches!(v, Value::String(_)));
        let nan = items
            .iter()
            .any(|v| matches!(v, Value::Number(f) if f.is_nan()));
        if (numbers && !nan) || strings {
            items.sort_by(|a, b| match compare_lt(*a, *b) {
                Some(true) => std::cmp::Ordering::Less,
                _ => match compare_lt(*b, *a) {
                    Some(true) => std::cmp::Ordering::Greater,
                    _ => std::cmp::Ordering::Equal,
                },
            });
            for (i, v) in items.into_iter().enumerate() {
                t.set_int(cx.ctx, i as i64 + 1, v);
            }
            return cx.ret0();
        }
    }
    let slow = cx.ctx.state.registry.get_str(cx.ctx, "sort_slow");
    cx.stack.insert(cx.base, slow);
    Ok(Action::Call {
        at: 0,
        cont: Cont::Return,
    })
}

/// `table.sort` in Lua, for comparators and mixed values: a quicksort
/// with median-of-three pivots and an insertion sort for short ranges.
pub const PRELUDE: &str = r#"
local registry, tostring, select, write, type, error = ...
local function lt(a, b) return a < b end
local function check(ok)
  if not ok then error("invalid order function for sorting", 3) end
end
local function insertion(t, lo, hi, less)
  for i = lo + 1, hi do
    local v = t[i]
    local j = i - 1
    while j >= lo and less(v, t[j]) do
      t[j + 1] = t[j]
      j = j - 1
    end
    t[j + 1] = v
  end
end
local function quick(t, lo, hi, less)
  while hi - lo > 12 do
    local mid = (lo + hi) // 2
    if less(t[mid], t[lo]) then t[mid], t[lo] = t[lo], t[mid] end
    if less(t[hi], t[mid]) then
      t[hi], t[mid] = t[mid], t[hi]
      if less(t[mid], t[lo]) then t[mid], t[lo] = t[lo], t[mid] end
    end
    local p = t[mid]
    local i, j = lo, hi
    while i <= j do
      while less(t[i], p) do i = i + 1; check(i <= hi) end
      while less(p, t[j]) do j = j - 1; check(j >= lo) end
      if i <= j then
        t[i], t[j] = t[j], t[i]
        i = i + 1
        j = j - 1
      end
    end
    if j - lo < hi - i then
      quick(t, lo, j, less)
      lo = i
    else
      quick(t, i, hi, less)
      hi = j
    end
  end
  insertion(t, lo, hi, less)
end
-- Tables with metatables go through these, so that __index, __newindex
-- and __len apply as they do in lua5.4's C library.
function registry.insert_slow(t, ...)
  local e = #t + 1
  local n = select('#', ...)
  if n == 1 then
    t[e] = ...
    return
  elseif n ~= 2 then
    error("wrong number of arguments to 'insert'", 3)
  end
  local pos, v = ...
  if math.type(pos) ~= "integer" or pos < 1 or pos > e then
    error("bad argument #2 to 'insert' (position out of bounds)", 3)
  end
  for i = e, pos + 1, -1 do
    t[i] = t[i - 1]
  end
  t[pos] = v
end
function registry.remove_slow(t, pos)
  local size = #t
  if pos == nil then
    pos = size
  elseif pos ~= size and (pos < 1 or pos > size + 1) then
    error("bad argument #1 to 'remove' (position out of bounds)", 3)
  end
  local v = t[pos]
  while pos < size do
    t[pos] = t[pos + 1]
    pos = pos + 1
  end
  t[pos] = nil
  return v
end
function registry.concat_slow(t, sep, i, j)
  sep = sep or ""
  i = i or 1
  j = j or #t
  local parts = {}
  for k = i, j do
    local v = t[k]
    local tv = type(v)
    if tv ~= "string" and tv ~= "number" then
      error("invalid value (" .. tv .. ") at index " .. k .. " in table for 'concat'", 3)
    end
    parts[#parts + 1] = v
  end
  return registry.concat_raw(parts, sep)
end
local function unpack_from(t, i, j)
  if i <= j then
    return t[i], unpack_from(t, i + 1, j)
  end
end
function registry.unpack_slow(t, i, j)
  return unpack_from(t, i or 1, j or #t)
end
function registry.move_slow(a1, f, e, t, a2)
  if t > e or t <= f or a1 ~= a2 then
    for i = 0, e - f do
      a2[t + i] = a1[f + i]
    end
  else
    for i = e - f, 0, -1 do
      a2[t + i] = a1[f + i]
    end
  end
  return a2
end
function registry.sort_slow(t, less)
  quick(t, 1, #t, less or lt)
end
"#;
