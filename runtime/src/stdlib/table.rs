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
/// with PUC-Rio's partitioning, so invalid orders are detected alike.
pub const PRELUDE: &str = r#"
local registry, tostring, select, write, type, error = ...
local function lt(a, b) return a < b end
local function bad_order()
  error("invalid order function for sorting", 0)
end
-- PUC-Rio's quicksort (median of three, middle pivot), so that results and
-- "invalid order function" detection match lua5.4.
local function partition(t, lo, up, less)
  local i, j = lo, up - 1
  local p = t[up - 1]
  while true do
    i = i + 1
    while less(t[i], p) do
      if i == up - 1 then bad_order() end
      i = i + 1
    end
    j = j - 1
    while less(p, t[j]) do
      if j < i then bad_order() end
      j = j - 1
    end
    if j < i then
      t[up - 1], t[i] = t[i], t[up - 1]
      return i
    end
    t[i], t[j] = t[j], t[i]
  end
end
local function auxsort(t, lo, up, less)
  while lo < up do
    if less(t[up], t[lo]) then t[lo], t[up] = t[up], t[lo] end
    if up - lo == 1 then break end
    local p = (lo + up) // 2
    if less(t[p], t[lo]) then
      t[p], t[lo] = t[lo], t[p]
    elseif less(t[up], t[p]) then
      t[p], t[up] = t[up], t[p]
    end
    if up - lo == 2 then break end
    t[p], t[up - 1] = t[up - 1], t[p]
    p = partition(t, lo, up, less)
    if p - lo < up - p then
      auxsort(t, lo, p - 1, less)
      lo = p + 1
    else
      auxsort(t, p + 1, up, less)
      up = p - 1
    end
  end
end
-- Tables with metatables go through these, so that __index, __newindex
-- and __len apply as they do in lua5.4's C library.
function registry.insert_slow(t, ...)
  local e = #t
  if math.type(e) ~= "integer" then error("object length is not an integer", 3) end
  e = e + 1
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
  if math.type(size) ~= "integer" then error("object length is not an integer", 3) end
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
  local n = #t
  if n > 1 then
    if math.type(n) ~= "integer" then error("object length is not an integer", 2) end
    if n >= 0x7fffffff then error("bad argument #1 to 'sort' (array too big)", 2) end
    auxsort(t, 1, n, less or lt)
  end
end
"#;
