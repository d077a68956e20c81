//! The opcode loop for the Lua frame on top of the running thread.
//!
//! Discipline: before anything that can call, throw or leave, the local
//! `pc` is stored back into the frame (`save!`), so the frame always
//! describes a consistent state.

use gc_arena::Gc;

use super::describe;
use super::ops::{append_concat, arith, compare_le, compare_lt};
use super::{fast_get, type_error, type_name_of, Exec, Flow, Leave, Res};
use crate::compiler::opcode::{ArithOp, Op};
use crate::lualib::number;
use crate::native::RtError;
use crate::state::Event;
use crate::table::Table;
use crate::thread::{Frame, Ret};
use crate::value::{Closure, LuaStr, Value};

fn is_number(v: Value<'_>) -> bool {
    matches!(v, Value::Integer(_) | Value::Number(_))
}

/// Which operand of a binary operator to blame in an error.
fn blame<'gc>(a: Value<'gc>, b: Value<'gc>, a_ok: bool) -> (Value<'gc>, bool) {
    if a_ok {
        (b, false)
    } else {
        (a, true)
    }
}

impl<'a, 'gc> Exec<'a, 'gc> {
    pub(super) fn run_lua(&mut self, fuel: &mut i64) -> Res<'gc, Flow<'gc>> {
        // The budget lives in a local while the loop runs (a register once
        // the loop is inlined here) and is written back on every exit.
        let mut left = *fuel;
        let r = self.run_lua_loop(&mut left);
        *fuel = left;
        r
    }

    #[inline(always)]
    fn run_lua_loop(&mut self, fuel: &mut i64) -> Res<'gc, Flow<'gc>> {
        let ctx = self.ctx;
        // Calls and returns between Lua functions stay in this loop: after
        // any step that leaves a Lua frame on top, reload it and go on.
        'reload: loop {
            let (closure, base, mut pc) = match self.th.frames.last() {
                Some(Frame::Lua(f)) => (f.closure, f.base, f.pc),
                _ => return Ok(Flow::Continue),
            };
            let proto = Gc::as_ref(closure.proto);
            let code: &'gc [Op] = &proto.code;
            let constants: &'gc [Value<'gc>] = &proto.constants;

            if *fuel <= 0 {
                return Ok(Flow::Leave(Leave::Fuel));
            }

            // Goes on with whatever frame is on top after a slow path.
            macro_rules! dispatch {
                ($e:expr) => {
                    match $e {
                        Ok(Flow::Continue) => continue 'reload,
                        other => return other,
                    }
                };
            }

            macro_rules! save {
                () => {
                    if let Some(Frame::Lua(f)) = self.th.frames.last_mut() {
                        f.pc = pc;
                    }
                };
            }
            macro_rules! r {
                ($i:expr) => {
                    self.th.stack[base + $i as usize]
                };
            }
            macro_rules! jump {
                ($off:expr) => {
                    pc = (pc as isize + $off as isize) as usize
                };
            }
            // Any arithmetic on numbers (strings coerce); else the metamethod
            // or error path, which leaves the loop.
            macro_rules! arith_general {
                ($op:expr, $a:expr, $b:expr, $c:expr) => {
                    match arith($op, r!($b), r!($c)) {
                        Some(Ok(v)) => r!($a) = v,
                        _ => {
                            save!();
                            dispatch!(self.arith_slow($op, $a, $b, $c));
                        }
                    }
                };
            }
            macro_rules! arith_fast {
            ($op:expr, $a:expr, $b:expr, $c:expr, $iop:ident, $fop:tt) => {
                match (r!($b), r!($c)) {
                    (Value::Integer(x), Value::Integer(y)) => r!($a) = Value::Integer(x.$iop(y)),
                    (Value::Number(x), Value::Number(y)) => r!($a) = Value::Number(x $fop y),
                    _ => arith_general!($op, $a, $b, $c),
                }
            };
        }
            macro_rules! bit_fast {
            ($op:expr, $a:expr, $b:expr, $c:expr, $bop:tt) => {
                match (r!($b), r!($c)) {
                    (Value::Integer(x), Value::Integer(y)) => r!($a) = Value::Integer(x $bop y),
                    _ => arith_general!($op, $a, $b, $c),
                }
            };
        }
            // Comparison of R[a] with a small integer; `swap` puts the integer
            // on the left for the metamethod and error paths (`x > 1` is
            // `1 < x`).
            macro_rules! int_cmp {
            ($a:expr, $i:expr, $k:expr, $cmp:tt, $event:expr, $swap:expr) => {{
                let x = r!($a);
                let res = match x {
                    Value::Integer(v) => Some(v $cmp $i as i64),
                    Value::Number(f) => Some(f $cmp $i as f64),
                    _ => None,
                };
                match res {
                    Some(r) => {
                        if r != $k {
                            pc += 1;
                        }
                    }
                    None => {
                        save!();
                        let iv = Value::Integer($i as i64);
                        dispatch!(if $swap {
                            self.order_slow($event, iv, x, $k)
                        } else {
                            self.order_slow($event, x, iv, $k)
                        });
                    }
                }
            }};
        }

            loop {
                // Every instruction is counted; the budget is checked where
                // execution can repeat (function entry, backward jumps), so
                // a slice overshoots by at most one straight-line run.
                *fuel -= 1;
                let op = code[pc];
                pc += 1;
                match op {
                    Op::Move { a, b } => r!(a) = r!(b),
                    Op::LoadK { a, k } => r!(a) = constants[k as usize],
                    Op::LoadNil { a, n } => {
                        for i in a..=a.saturating_add(n) {
                            r!(i) = Value::Nil;
                        }
                    }
                    Op::LoadBool { a, value } => r!(a) = Value::Boolean(value),
                    Op::LoadInt { a, value } => r!(a) = Value::Integer(value as i64),
                    Op::GetUpval { a, u } => {
                        let v = self.get_upvalue(closure.upvalues[u as usize]);
                        r!(a) = v;
                    }
                    Op::SetUpval { a, u } => {
                        let v = r!(a);
                        self.set_upvalue(closure.upvalues[u as usize], v);
                    }
                    Op::GetTabUp { a, u, k } => {
                        let t = self.get_upvalue(closure.upvalues[u as usize]);
                        let key = constants[k as usize];
                        match fast_get(t, key) {
                            Some(v) => r!(a) = v,
                            None => {
                                save!();
                                let desc = upvalue_desc(closure, u);
                                dispatch!(self.index(t, key, base + a as usize, desc));
                            }
                        }
                    }
                    Op::SetTabUp { u, k, v } => {
                        let t = self.get_upvalue(closure.upvalues[u as usize]);
                        let key = constants[k as usize];
                        let val = r!(v);
                        if !self.fast_set(t, key, val) {
                            save!();
                            let desc = upvalue_desc(closure, u);
                            dispatch!(self.new_index(t, key, val, desc));
                        }
                    }
                    Op::GetTable { a, t, k } => {
                        let (tv, key) = (r!(t), r!(k));
                        // Array slots first: the common `t[i]`.
                        let hit = match (tv, key) {
                            (Value::Table(tab), Value::Integer(i)) => tab.get_array_slot(i),
                            _ => Value::Nil,
                        };
                        if !hit.is_nil() {
                            r!(a) = hit;
                            continue;
                        }
                        match fast_get(tv, key) {
                            Some(v) => r!(a) = v,
                            None => {
                                save!();
                                let desc = self.reg_desc(t);
                                dispatch!(self.index(tv, key, base + a as usize, desc));
                            }
                        }
                    }
                    Op::GetField { a, t, k } => {
                        let (tv, key) = (r!(t), constants[k as usize]);
                        match fast_get(tv, key) {
                            Some(v) => r!(a) = v,
                            None => {
                                save!();
                                let desc = self.reg_desc(t);
                                dispatch!(self.index(tv, key, base + a as usize, desc));
                            }
                        }
                    }
                    Op::GetIndex { a, t, i } => {
                        let tv = r!(t);
                        let v = match tv {
                            Value::Table(tab) => {
                                let v = tab.get_int(i as i64);
                                if v.is_nil() && tab.metatable().is_some() {
                                    None
                                } else {
                                    Some(v)
                                }
                            }
                            _ => None,
                        };
                        match v {
                            Some(v) => r!(a) = v,
                            None => {
                                save!();
                                let desc = self.reg_desc(t);
                                dispatch!(self.index(
                                    tv,
                                    Value::Integer(i as i64),
                                    base + a as usize,
                                    desc,
                                ));
                            }
                        }
                    }
                    Op::SetTable { t, k, v } => {
                        let (tv, key, val) = (r!(t), r!(k), r!(v));
                        if !self.fast_set(tv, key, val) {
                            save!();
                            let desc = self.reg_desc(t);
                            dispatch!(self.new_index(tv, key, val, desc));
                        }
                    }
                    Op::SetField { t, k, v } => {
                        let (tv, key, val) = (r!(t), constants[k as usize], r!(v));
                        if !self.fast_set(tv, key, val) {
                            save!();
                            let desc = self.reg_desc(t);
                            dispatch!(self.new_index(tv, key, val, desc));
                        }
                    }
                    Op::SetIndex { t, i, v } => {
                        let (tv, val) = (r!(t), r!(v));
                        let key = Value::Integer(i as i64);
                        if !self.fast_set(tv, key, val) {
                            save!();
                            let desc = self.reg_desc(t);
                            dispatch!(self.new_index(tv, key, val, desc));
                        }
                    }
                    Op::NewTable { a, array, hash } => {
                        r!(a) =
                            Value::Table(Table::with_capacity(ctx, array as usize, hash as usize));
                        if ctx.state.meter.over_limit() {
                            save!();
                            return Err(RtError::msg("not enough memory"));
                        }
                    }
                    Op::SelfK { a, b, k } => {
                        let obj = r!(b);
                        let key = constants[k as usize];
                        r!(a + 1) = obj;
                        let fast = match obj {
                            Value::String(_) => {
                                let mt = *ctx.state.string_meta.borrow();
                                match mt.map(|m| m.get(Value::String(ctx.event(Event::Index)))) {
                                    Some(Value::Table(t)) => Some(t.get(key)),
                                    _ => None,
                                }
                            }
                            _ => fast_get(obj, key),
                        };
                        match fast {
                            Some(v) => r!(a) = v,
                            None => {
                                save!();
                                let desc = self.reg_desc(b);
                                dispatch!(self.index(obj, key, base + a as usize, desc));
                            }
                        }
                    }
                    Op::Add { a, b, c } => arith_fast!(ArithOp::Add, a, b, c, wrapping_add, +),
                    Op::Sub { a, b, c } => arith_fast!(ArithOp::Sub, a, b, c, wrapping_sub, -),
                    Op::Mul { a, b, c } => arith_fast!(ArithOp::Mul, a, b, c, wrapping_mul, *),
                    Op::Div { a, b, c } => {
                        let (x, y) = (r!(b), r!(c));
                        match (x, y) {
                            (Value::Number(x), Value::Number(y)) => r!(a) = Value::Number(x / y),
                            (Value::Integer(x), Value::Integer(y)) => {
                                r!(a) = Value::Number(x as f64 / y as f64)
                            }
                            _ => arith_general!(ArithOp::Div, a, b, c),
                        }
                    }
                    Op::IDiv { a, b, c } => arith_general!(ArithOp::IDiv, a, b, c),
                    Op::Mod { a, b, c } => {
                        let (x, y) = (r!(b), r!(c));
                        match (x, y) {
                            (Value::Integer(x), Value::Integer(y)) if y != 0 => {
                                r!(a) = Value::Integer(number::int_mod(x, y).unwrap_or(0))
                            }
                            (Value::Number(x), Value::Number(y)) => {
                                r!(a) = Value::Number(number::float_mod(x, y))
                            }
                            _ => arith_general!(ArithOp::Mod, a, b, c),
                        }
                    }
                    Op::Pow { a, b, c } => arith_general!(ArithOp::Pow, a, b, c),
                    Op::BAnd { a, b, c } => bit_fast!(ArithOp::BAnd, a, b, c, &),
                    Op::BOr { a, b, c } => bit_fast!(ArithOp::BOr, a, b, c, |),
                    Op::BXor { a, b, c } => bit_fast!(ArithOp::BXor, a, b, c, ^),
                    Op::Shl { a, b, c } => arith_general!(ArithOp::Shl, a, b, c),
                    Op::Shr { a, b, c } => arith_general!(ArithOp::Shr, a, b, c),
                    Op::AddInt { a, b, i } => match r!(b) {
                        Value::Integer(x) => r!(a) = Value::Integer(x.wrapping_add(i as i64)),
                        Value::Number(x) => r!(a) = Value::Number(x + i as f64),
                        x => {
                            save!();
                            let y = Value::Integer(i as i64);
                            dispatch!(self.arith_values(
                                ArithOp::Add,
                                x,
                                y,
                                base + a as usize,
                                Some(b),
                                None,
                            ));
                        }
                    },
                    Op::SubInt { a, b, i } => match r!(b) {
                        Value::Integer(x) => r!(a) = Value::Integer(x.wrapping_sub(i as i64)),
                        Value::Number(x) => r!(a) = Value::Number(x - i as f64),
                        x => {
                            save!();
                            let y = Value::Integer(i as i64);
                            dispatch!(self.arith_values(
                                ArithOp::Sub,
                                x,
                                y,
                                base + a as usize,
                                Some(b),
                                None,
                            ));
                        }
                    },
                    Op::Concat { a, b, c } => {
                        let (x, y) = (r!(b), r!(c));
                        let mut buf = Vec::new();
                        if append_concat(x, &mut buf) && append_concat(y, &mut buf) {
                            if !ctx.state.meter.allows(buf.len()) {
                                save!();
                                return Err(RtError::msg("not enough memory"));
                            }
                            r!(a) = Value::String(LuaStr::from_boxed(ctx, buf.into_boxed_slice()));
                        } else {
                            save!();
                            let mm = match ctx.metamethod(x, Event::Concat) {
                                Value::Nil => ctx.metamethod(y, Event::Concat),
                                m => m,
                            };
                            if mm.is_nil() {
                                let x_ok = matches!(
                                    x,
                                    Value::String(_) | Value::Integer(_) | Value::Number(_)
                                );
                                let (bad, first) = blame(x, y, x_ok);
                                let desc = self.reg_desc(if first { b } else { c });
                                return Err(type_error(self.ctx, "concatenate", bad, desc));
                            }
                            dispatch!(self.call_meta(
                                mm,
                                &[x, y],
                                Ret::Store((base + a as usize) as u32)
                            ));
                        }
                    }
                    Op::Unm { a, b } => match r!(b) {
                        Value::Integer(x) => r!(a) = Value::Integer(x.wrapping_neg()),
                        Value::Number(x) => r!(a) = Value::Number(-x),
                        x => {
                            save!();
                            dispatch!(self.unary_slow(Event::Unm, x, a, b));
                        }
                    },
                    Op::BNot { a, b } => {
                        let x = r!(b);
                        match x {
                            Value::Integer(i) => r!(a) = Value::Integer(!i),
                            _ => {
                                save!();
                                dispatch!(self.unary_slow(Event::BNot, x, a, b));
                            }
                        }
                    }
                    Op::Not { a, b } => r!(a) = Value::Boolean(!r!(b).is_truthy()),
                    Op::Len { a, b } => {
                        let x = r!(b);
                        match x {
                            Value::String(s) => r!(a) = Value::Integer(s.len() as i64),
                            Value::Table(t) if t.metatable().is_none() => {
                                r!(a) = Value::Integer(t.length())
                            }
                            _ => {
                                save!();
                                dispatch!(self.unary_slow(Event::Len, x, a, b));
                            }
                        }
                    }
                    Op::Jmp { offset } => {
                        let off = offset.get();
                        jump!(off);
                        if off < 0 && *fuel <= 0 {
                            save!();
                            return Ok(Flow::Leave(Leave::Fuel));
                        }
                    }
                    Op::Eq { a, b, k } => {
                        let (x, y) = (r!(a), r!(b));
                        if x.raw_eq(y) {
                            if !k {
                                pc += 1;
                            }
                        } else {
                            let mm = self.eq_metamethod(x, y);
                            if mm.is_nil() {
                                if k {
                                    pc += 1;
                                }
                            } else {
                                save!();
                                dispatch!(self.call_meta(mm, &[x, y], Ret::Cond(k)));
                            }
                        }
                    }
                    Op::EqK { a, c, k } => {
                        let eq = match (r!(a), constants[c as usize]) {
                            (Value::Integer(x), Value::Integer(y)) => x == y,
                            (x, y) => x.raw_eq(y),
                        };
                        if eq != k {
                            pc += 1;
                        }
                    }
                    Op::Lt { a, b, k } => {
                        let (x, y) = (r!(a), r!(b));
                        let res = match (x, y) {
                            (Value::Integer(x), Value::Integer(y)) => Some(x < y),
                            (Value::Number(x), Value::Number(y)) => Some(x < y),
                            _ => compare_lt(x, y),
                        };
                        match res {
                            Some(r) => {
                                if r != k {
                                    pc += 1;
                                }
                            }
                            None => {
                                save!();
                                dispatch!(self.order_slow(Event::Lt, x, y, k));
                            }
                        }
                    }
                    Op::Le { a, b, k } => {
                        let (x, y) = (r!(a), r!(b));
                        let res = match (x, y) {
                            (Value::Integer(x), Value::Integer(y)) => Some(x <= y),
                            (Value::Number(x), Value::Number(y)) => Some(x <= y),
                            _ => compare_le(x, y),
                        };
                        match res {
                            Some(r) => {
                                if r != k {
                                    pc += 1;
                                }
                            }
                            None => {
                                save!();
                                dispatch!(self.order_slow(Event::Le, x, y, k));
                            }
                        }
                    }
                    Op::LtInt { a, i, k } => int_cmp!(a, i, k, <, Event::Lt, false),
                    Op::LeInt { a, i, k } => int_cmp!(a, i, k, <=, Event::Le, false),
                    Op::GtInt { a, i, k } => int_cmp!(a, i, k, >, Event::Lt, true),
                    Op::GeInt { a, i, k } => int_cmp!(a, i, k, >=, Event::Le, true),
                    Op::Test { a, k } => {
                        if r!(a).is_truthy() != k {
                            pc += 1;
                        }
                    }
                    Op::Call { a, b, c } => {
                        let f = base + a as usize;
                        let nargs = if b == 0 {
                            self.th.top - f - 1
                        } else {
                            b as usize - 1
                        };
                        save!();
                        dispatch!(self.call_value(f, nargs, Ret::Values(c as i32 - 1)));
                    }
                    Op::TailCall { a, b } => {
                        let f = base + a as usize;
                        let nargs = if b == 0 {
                            self.th.top - f - 1
                        } else {
                            b as usize - 1
                        };
                        save!();
                        let mut callee = self.th.stack[f];
                        let mut nargs = nargs;
                        if !callee.is_function() {
                            let mm = ctx.metamethod(callee, Event::Call);
                            if mm.is_nil() {
                                // Fail while this frame still names the callee.
                                return Err(self.call_error(f, callee));
                            }
                            // `__call` goes first; the callable becomes argument 1.
                            self.th.stack.truncate(f + 1 + nargs);
                            self.th.stack.insert(f, mm);
                            nargs += 1;
                            callee = mm;
                        }
                        // Natives run above this frame (errors then name the
                        // caller's line, as lua5.4); only Lua callees replace it.
                        if !matches!(callee, Value::Closure(_))
                            || self.th.tbc.last().is_some_and(|&s| s >= base)
                        {
                            // To-be-closed variables need a real return: make
                            // it an ordinary call followed by the Return.
                            dispatch!(self.call_value(f, nargs, Ret::Values(-1)));
                        }
                        let Some(Frame::Lua(frame)) = self.th.frames.pop() else {
                            unreachable!("the running frame is a Lua frame")
                        };
                        self.close_upvalues(base);
                        self.th.stack.copy_within(f..f + 1 + nargs, frame.func);
                        dispatch!(self.call_value(frame.func, nargs, frame.ret));
                    }
                    Op::Return { a, b } => {
                        let src = base + a as usize;
                        let n = if b == 0 {
                            self.th.top - src
                        } else {
                            b as usize - 1
                        };
                        save!();
                        if let Some(&slot) = self.th.tbc.last() {
                            if slot >= base {
                                // Close the innermost to-be-closed variable, then
                                // run this Return again.
                                pc -= 1;
                                save!();
                                if b == 0 {
                                    self.th.stack.truncate(src + n);
                                }
                                dispatch!(self.close_tbc(slot, Value::Nil));
                            }
                        }
                        let Some(Frame::Lua(frame)) = self.th.frames.pop() else {
                            unreachable!("the running frame is a Lua frame")
                        };
                        if !self.th.open_upvalues.is_empty() {
                            self.close_upvalues(base);
                        }
                        dispatch!(self.return_values(frame.func, frame.ret, src, n));
                    }
                    Op::ForPrep { a, skip } => {
                        save!();
                        if !self.for_prep(base + a as usize)? {
                            pc += skip as usize;
                        }
                    }
                    Op::ForLoop { a, back } => {
                        let i = base + a as usize;
                        match (r!(a), r!(a + 2)) {
                            (Value::Integer(idx), Value::Integer(step)) => {
                                // R[a+1] holds the remaining iteration count.
                                let Value::Integer(count) = self.th.stack[i + 1] else {
                                    unreachable!("integer loops keep a count")
                                };
                                if count as u64 > 0 {
                                    let idx = idx.wrapping_add(step);
                                    self.th.stack[i + 1] =
                                        Value::Integer((count as u64 - 1) as i64);
                                    self.th.stack[i] = Value::Integer(idx);
                                    self.th.stack[i + 3] = Value::Integer(idx);
                                    pc -= back as usize;
                                    if *fuel <= 0 {
                                        save!();
                                        return Ok(Flow::Leave(Leave::Fuel));
                                    }
                                }
                            }
                            (Value::Number(idx), Value::Number(step)) => {
                                let Value::Number(limit) = self.th.stack[i + 1] else {
                                    unreachable!("float loops keep a float limit")
                                };
                                let idx = idx + step;
                                let go = if step > 0.0 {
                                    idx <= limit
                                } else {
                                    limit <= idx
                                };
                                if go {
                                    self.th.stack[i] = Value::Number(idx);
                                    self.th.stack[i + 3] = Value::Number(idx);
                                    pc -= back as usize;
                                    if *fuel <= 0 {
                                        save!();
                                        return Ok(Flow::Leave(Leave::Fuel));
                                    }
                                }
                            }
                            _ => unreachable!("ForPrep leaves numbers"),
                        }
                    }
                    Op::TForCall { a, c } => {
                        let i = base + a as usize;
                        self.th.stack.copy_within(i..i + 3, i + 4);
                        save!();
                        dispatch!(self.call_value(i + 4, 2, Ret::Values(c as i32)));
                    }
                    Op::TForLoop { a, back } => {
                        let v = r!(a + 4);
                        if !v.is_nil() {
                            r!(a + 2) = v;
                            pc -= back as usize;
                            if *fuel <= 0 {
                                save!();
                                return Ok(Flow::Leave(Leave::Fuel));
                            }
                        }
                    }
                    Op::SetList { a, n } => {
                        let Op::ExtraArg { value } = code[pc] else {
                            unreachable!("SetList is followed by ExtraArg")
                        };
                        pc += 1;
                        let first = value.get() as i64;
                        let start = base + a as usize + 1;
                        let count = if n == 0 {
                            self.th.top - start
                        } else {
                            n as usize
                        };
                        let Value::Table(t) = r!(a) else {
                            unreachable!("SetList targets a new table")
                        };
                        t.set_list(ctx, first, &self.th.stack[start..start + count]);
                        if n == 0 {
                            let need = base + proto.max_stack as usize;
                            self.th
                                .stack
                                .resize(need.max(self.th.stack.len()), Value::Nil);
                        }
                    }
                    Op::Closure { a, p } => {
                        let child = proto.protos[p as usize];
                        let upvalues = child
                            .info
                            .upvalues
                            .iter()
                            .map(|d| {
                                if d.in_stack {
                                    self.find_upvalue(base + d.index as usize)
                                } else {
                                    closure.upvalues[d.index as usize]
                                }
                            })
                            .collect();
                        let c = Gc::new(
                            ctx.mc,
                            Closure {
                                id: ctx.next_id(),
                                proto: child,
                                upvalues,
                            },
                        );
                        r!(a) = Value::Closure(c);
                    }
                    Op::VarArg { a, n } => {
                        let (func, nvar) = match self.th.frames.last() {
                            Some(Frame::Lua(f)) => (f.func, f.varargs),
                            _ => unreachable!("the running frame is a Lua frame"),
                        };
                        let from = func + 1 + proto.num_params as usize;
                        let dst = base + a as usize;
                        if n == 0 {
                            let need = dst + nvar;
                            if self.th.stack.len() < need {
                                self.th.stack.resize(need, Value::Nil);
                            }
                            self.th.stack.copy_within(from..from + nvar, dst);
                            self.th.top = need;
                        } else {
                            let want = n as usize - 1;
                            for j in 0..want {
                                let v = if j < nvar {
                                    self.th.stack[from + j]
                                } else {
                                    Value::Nil
                                };
                                self.th.stack[dst + j] = v;
                            }
                        }
                    }
                    Op::Close { a } => {
                        let level = base + a as usize;
                        if let Some(&slot) = self.th.tbc.last() {
                            if slot >= level {
                                pc -= 1;
                                save!();
                                dispatch!(self.close_tbc(slot, Value::Nil));
                            }
                        }
                        self.close_upvalues(level);
                    }
                    Op::Tbc { a } => {
                        let v = r!(a);
                        if v.is_truthy() {
                            if ctx.metamethod(v, Event::Close).is_nil() {
                                save!();
                                let name = describe::register(
                                    match self.th.frames.last() {
                                        Some(Frame::Lua(f)) => f,
                                        _ => unreachable!("the running frame is a Lua frame"),
                                    },
                                    a,
                                )
                                .and_then(|d| d.split('\'').nth(1).map(str::to_owned))
                                .unwrap_or_else(|| "?".into());
                                return Err(RtError::Message(format!(
                                    "variable '{name}' got a non-closable value"
                                )));
                            }
                            self.th.tbc.push(base + a as usize);
                        }
                    }
                    Op::ExtraArg { .. } => unreachable!("ExtraArg is consumed by its opcode"),
                }
            }
        }
    }

    /// Calls `__close` of the to-be-closed variable at `slot`, dropping it.
    fn close_tbc(&mut self, slot: usize, err: Value<'gc>) -> Res<'gc, Flow<'gc>> {
        self.th.tbc.pop();
        let v = self.th.stack[slot];
        let mm = self.ctx.metamethod(v, Event::Close);
        self.call_meta(mm, &[v, err], Ret::Discard)
    }

    fn reg_desc(&self, reg: u8) -> Option<String> {
        match self.th.frames.last() {
            Some(Frame::Lua(f)) => describe::register(f, reg),
            _ => None,
        }
    }

    /// Raw store when `t` is a table that needs no `__newindex`.
    #[inline]
    fn fast_set(&mut self, t: Value<'gc>, key: Value<'gc>, val: Value<'gc>) -> bool {
        let Value::Table(tab) = t else { return false };
        if let Value::Integer(i) = key {
            if tab.set_array_slot(self.ctx, i, val) {
                return true;
            }
        }
        if tab.metatable().is_some() && tab.get(key).is_nil() {
            return false;
        }
        tab.set(self.ctx, key, val).is_ok()
    }

    /// `obj[key]` with the `__index` chain; the result goes to `dst`.
    pub(super) fn index(
        &mut self,
        obj: Value<'gc>,
        key: Value<'gc>,
        dst: usize,
        desc: Option<String>,
    ) -> Res<'gc, Flow<'gc>> {
        let mut cur = obj;
        for _ in 0..2000 {
            let mm = match cur {
                Value::Table(t) => {
                    let v = t.get(key);
                    if !v.is_nil() {
                        self.th.stack[dst] = v;
                        return Ok(Flow::Continue);
                    }
                    match t.metatable() {
                        None => Value::Nil,
                        Some(mt) => mt.get(Value::String(self.ctx.event(Event::Index))),
                    }
                }
                _ => {
                    let mm = self.ctx.metamethod(cur, Event::Index);
                    if mm.is_nil() {
                        let desc = if cur.raw_eq(obj) { desc } else { None };
                        return Err(type_error(self.ctx, "index", cur, desc));
                    }
                    mm
                }
            };
            match mm {
                Value::Nil => {
                    self.th.stack[dst] = Value::Nil;
                    return Ok(Flow::Continue);
                }
                Value::Closure(_) | Value::Native(_) => {
                    return self.call_meta(mm, &[cur, key], Ret::Store(dst as u32));
                }
                next => cur = next,
            }
        }
        Err(RtError::msg("'__index' chain too long; possible loop"))
    }

    /// `obj[key] = val` with the `__newindex` chain.
    pub(super) fn new_index(
        &mut self,
        obj: Value<'gc>,
        key: Value<'gc>,
        val: Value<'gc>,
        desc: Option<String>,
    ) -> Res<'gc, Flow<'gc>> {
        let mut cur = obj;
        for _ in 0..2000 {
            let mm = match cur {
                Value::Table(t) => {
                    let mm = match t.metatable() {
                        Some(mt) if t.get(key).is_nil() => {
                            mt.get(Value::String(self.ctx.event(Event::NewIndex)))
                        }
                        _ => Value::Nil,
                    };
                    if mm.is_nil() {
                        t.set(self.ctx, key, val)
                            .map_err(|e| RtError::msg(e.message()))?;
                        return Ok(Flow::Continue);
                    }
                    mm
                }
                _ => {
                    let mm = self.ctx.metamethod(cur, Event::NewIndex);
                    if mm.is_nil() {
                        let desc = if cur.raw_eq(obj) { desc } else { None };
                        return Err(type_error(self.ctx, "index", cur, desc));
                    }
                    mm
                }
            };
            match mm {
                Value::Closure(_) | Value::Native(_) => {
                    return self.call_meta(mm, &[cur, key, val], Ret::Discard);
                }
                next => cur = next,
            }
        }
        Err(RtError::msg("'__newindex' chain too long; possible loop"))
    }

    pub(super) fn arith_slow(&mut self, op: ArithOp, a: u8, b: u8, c: u8) -> Res<'gc, Flow<'gc>> {
        let base = self.frame_base();
        let (x, y) = (
            self.th.stack[base + b as usize],
            self.th.stack[base + c as usize],
        );
        self.arith_values(op, x, y, base + a as usize, Some(b), Some(c))
    }

    fn arith_values(
        &mut self,
        op: ArithOp,
        x: Value<'gc>,
        y: Value<'gc>,
        dst: usize,
        rb: Option<u8>,
        rc: Option<u8>,
    ) -> Res<'gc, Flow<'gc>> {
        match arith(op, x, y) {
            Some(Ok(v)) => {
                self.th.stack[dst] = v;
                Ok(Flow::Continue)
            }
            Some(Err(msg)) if !op.is_bitwise() => Err(RtError::msg(msg)),
            other => {
                let event = arith_event(op);
                let mm = match self.ctx.metamethod(x, event) {
                    Value::Nil => self.ctx.metamethod(y, event),
                    m => m,
                };
                if !mm.is_nil() {
                    return self.call_meta(mm, &[x, y], Ret::Store(dst as u32));
                }
                if op.is_bitwise() {
                    let both_numbers = is_number(x) && is_number(y);
                    if both_numbers || other.is_some() {
                        // Name the operand that is not integral.
                        let x_bad = x.to_integer().is_none();
                        let desc = if x_bad { rb } else { rc }.and_then(|r| self.reg_desc(r));
                        let desc = desc.map(|d| format!(" ({d})")).unwrap_or_default();
                        return Err(RtError::Message(format!(
                            "number{desc} has no integer representation"
                        )));
                    }
                    let (bad, first) = blame(x, y, is_number(x));
                    let desc = if first { rb } else { rc }.and_then(|r| self.reg_desc(r));
                    return Err(type_error(
                        self.ctx,
                        "perform bitwise operation on",
                        bad,
                        desc,
                    ));
                }
                let (bad, first) = blame(x, y, is_number(x));
                let desc = if first { rb } else { rc }.and_then(|r| self.reg_desc(r));
                Err(type_error(self.ctx, "perform arithmetic on", bad, desc))
            }
        }
    }

    fn unary_slow(&mut self, event: Event, x: Value<'gc>, a: u8, b: u8) -> Res<'gc, Flow<'gc>> {
        let base = self.frame_base();
        let dst = base + a as usize;
        if event == Event::BNot && is_number(x) {
            if let Some(i) = x.to_integer() {
                self.th.stack[dst] = Value::Integer(!i);
                return Ok(Flow::Continue);
            }
            // A float without an integer value (numbers have no metatable).
            let desc = self
                .reg_desc(b)
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            return Err(RtError::Message(format!(
                "number{desc} has no integer representation"
            )));
        }
        let mm = self.ctx.metamethod(x, event);
        if !mm.is_nil() {
            return self.call_meta(mm, &[x, x], Ret::Store(dst as u32));
        }
        if let (Event::Len, Value::Table(t)) = (event, x) {
            self.th.stack[dst] = Value::Integer(t.length());
            return Ok(Flow::Continue);
        }
        let desc = self.reg_desc(b);
        let what = match event {
            Event::Unm => "perform arithmetic on",
            Event::BNot => "perform bitwise operation on",
            _ => "get length of",
        };
        Err(type_error(self.ctx, what, x, desc))
    }

    fn eq_metamethod(&self, x: Value<'gc>, y: Value<'gc>) -> Value<'gc> {
        match (x, y) {
            (Value::Table(_), Value::Table(_)) => match self.ctx.metamethod(x, Event::Eq) {
                Value::Nil => self.ctx.metamethod(y, Event::Eq),
                m => m,
            },
            _ => Value::Nil,
        }
    }

    /// `x < y` / `x <= y` through `__lt` / `__le`.
    pub(super) fn order_slow(
        &mut self,
        event: Event,
        x: Value<'gc>,
        y: Value<'gc>,
        k: bool,
    ) -> Res<'gc, Flow<'gc>> {
        let mm = match self.ctx.metamethod(x, event) {
            Value::Nil => self.ctx.metamethod(y, event),
            m => m,
        };
        if !mm.is_nil() {
            return self.call_meta(mm, &[x, y], Ret::Cond(k));
        }
        if event == Event::Le {
            // Without __le, `a <= b` is `not (b < a)` (LUA_COMPAT_LT_LE,
            // as the reference interpreter is built).
            let lt = match self.ctx.metamethod(y, Event::Lt) {
                Value::Nil => self.ctx.metamethod(x, Event::Lt),
                m => m,
            };
            if !lt.is_nil() {
                return self.call_meta(lt, &[y, x], Ret::Cond(!k));
            }
        }
        let (tx, ty) = (type_name_of(self.ctx, x), type_name_of(self.ctx, y));
        Err(if tx == ty {
            RtError::Message(format!("attempt to compare two {tx} values"))
        } else {
            RtError::Message(format!("attempt to compare {tx} with {ty}"))
        })
    }

    fn frame_base(&self) -> usize {
        match self.th.frames.last() {
            Some(Frame::Lua(f)) => f.base,
            _ => unreachable!("the running frame is a Lua frame"),
        }
    }

    /// Prepares a numeric for loop at slot `i`; false when it runs zero
    /// times. Integer loops store their iteration count in `R[i+1]`.
    fn for_prep(&mut self, i: usize) -> Res<'gc, bool> {
        let s = &mut self.th.stack;
        let (init, limit, step) = (s[i], s[i + 1], s[i + 2]);
        if let (Value::Integer(init), Value::Integer(step)) = (init, step) {
            if step == 0 {
                return Err(RtError::msg("'for' step is zero"));
            }
            let limit = match limit {
                Value::Integer(l) => l,
                _ => match for_limit(limit, step)? {
                    Some(l) => l,
                    None => return Ok(false),
                },
            };
            if (step > 0 && init > limit) || (step < 0 && init < limit) {
                return Ok(false);
            }
            let count = if step > 0 {
                (limit as u64).wrapping_sub(init as u64) / step as u64
            } else {
                let step = (step.wrapping_add(1)).unsigned_abs() + 1;
                (init as u64).wrapping_sub(limit as u64) / step
            };
            s[i + 1] = Value::Integer(count as i64);
            s[i + 3] = Value::Integer(init);
            return Ok(true);
        }
        // lua5.4 checks the limit, then the step, then the initial value.
        let Some(limit) = limit.to_float() else {
            return Err(for_error("limit", s[i + 1]));
        };
        let Some(step) = step.to_float() else {
            return Err(for_error("step", s[i + 2]));
        };
        let Some(init) = init.to_float() else {
            return Err(for_error("initial value", s[i]));
        };
        if step == 0.0 {
            return Err(RtError::msg("'for' step is zero"));
        }
        // lua5.4 skips only when `limit < init` (step > 0) or `init <
        // limit` (step < 0): with a NaN bound the loop runs once.
        let ascending = step > 0.0;
        if (ascending && limit < init) || (!ascending && init < limit) {
            return Ok(false);
        }
        s[i] = Value::Number(init);
        s[i + 1] = Value::Number(limit);
        s[i + 2] = Value::Number(step);
        s[i + 3] = Value::Number(init);
        Ok(true)
    }
}

/// The integer limit of an integer loop whose limit is a float or string
/// (Lua's `forlimit`); None when the loop cannot run.
fn for_limit<'gc>(limit: Value<'gc>, step: i64) -> Res<'gc, Option<i64>> {
    // Numeric strings convert, as lua5.4's forlimit does.
    let f = match limit.to_number() {
        Some(Value::Number(f)) => f,
        Some(Value::Integer(i)) => return Ok(Some(i)),
        _ => return Err(for_error("limit", limit)),
    };
    if f.is_nan() {
        // Not coercible and not positive: as a float below the integers.
        return Ok((step < 0).then_some(i64::MIN));
    }
    let l = if step > 0 { f.floor() } else { f.ceil() };
    // A float beyond the integers: the loop cannot run when it lies past
    // the direction of the step, else it is clipped.
    Ok(if l >= 9.223_372_036_854_776e18 {
        (step > 0).then_some(i64::MAX)
    } else if l < -9.223_372_036_854_776e18 {
        (step < 0).then_some(i64::MIN)
    } else {
        Some(l as i64)
    })
}

fn for_error<'gc>(what: &str, v: Value<'gc>) -> RtError<'gc> {
    RtError::Message(format!(
        "bad 'for' {what} (number expected, got {})",
        v.type_name()
    ))
}

fn arith_event(op: ArithOp) -> Event {
    match op {
        ArithOp::Add => Event::Add,
        ArithOp::Sub => Event::Sub,
        ArithOp::Mul => Event::Mul,
        ArithOp::Div => Event::Div,
        ArithOp::IDiv => Event::IDiv,
        ArithOp::Mod => Event::Mod,
        ArithOp::Pow => Event::Pow,
        ArithOp::BAnd => Event::BAnd,
        ArithOp::BOr => Event::BOr,
        ArithOp::BXor => Event::BXor,
        ArithOp::Shl => Event::Shl,
        ArithOp::Shr => Event::Shr,
    }
}

fn upvalue_desc(closure: Gc<'_, Closure<'_>>, u: u8) -> Option<String> {
    let name = &closure.proto.info.upvalues.get(u as usize)?.name;
    Some(format!("upvalue '{name}'"))
}
