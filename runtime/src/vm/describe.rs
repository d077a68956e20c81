//! Names for values in error messages (`global 'x'`, `local 'y'`,
//! `field 'z'`...), recovered from the bytecode as PUC-Rio's `getobjname`
//! does: a register is named by the local it holds or by the opcode that
//! last loaded it.

use crate::compiler::opcode::Op;
use crate::thread::LuaFrame;
use crate::value::Value;

/// Describes register `reg` of `frame` at its current instruction.
pub fn register(frame: &LuaFrame<'_>, reg: u8) -> Option<String> {
    // The library's Lua parts stand in for C functions, which lua5.4
    // describes no variables of.
    if &*frame.closure.proto.info.source == "[C]" {
        return None;
    }
    let pc = frame.pc.saturating_sub(1);
    describe_at(frame, pc, reg, 0)
}

fn describe_at(frame: &LuaFrame<'_>, pc: usize, reg: u8, depth: u32) -> Option<String> {
    let proto = &frame.closure.proto;
    let info = &proto.info;
    if let Some(name) = local_name(frame, pc, reg) {
        return Some(format!("local '{name}'"));
    }
    if depth > 4 {
        return None;
    }
    let code = &proto.code;
    let i = find_set(code, pc, reg)?;
    let op = code[i];
    let kname = |k: usize| match proto.constants.get(k) {
        Some(Value::String(s)) => Some(s.to_str_lossy().into_owned()),
        _ => None,
    };
    match op {
        Op::GetTabUp { u, k, .. } => {
            let env = info
                .upvalues
                .get(u as usize)
                .is_some_and(|d| d.name == "_ENV");
            let name = kname(k as usize)?;
            Some(if env {
                format!("global '{name}'")
            } else {
                format!("field '{name}'")
            })
        }
        Op::GetField { t, k, .. } => {
            let name = kname(k as usize)?;
            Some(field_or_global(frame, i, t, &name))
        }
        // `t[k]` with a string constant loaded into a register (used
        // when the constant's index does not fit the short forms).
        Op::GetTable { t, k, .. } => {
            let name = match last_write(frame, i, k)? {
                (_, Op::LoadK { k: c, .. }) => kname(c as usize)?,
                _ => return None,
            };
            Some(field_or_global(frame, i, t, &name))
        }
        Op::GetUpval { u, .. } => {
            let name = &info.upvalues.get(u as usize)?.name;
            Some(format!("upvalue '{name}'"))
        }
        Op::SelfK { k, .. } => Some(format!("method '{}'", kname(k as usize)?)),
        Op::GetIndex { .. } => Some("field 'integer index'".to_owned()),
        Op::LoadK { k, .. } => kname(k as usize).map(|s| format!("constant '{s}'")),
        Op::Move { b, .. } if b < reg => describe_at(frame, i, b, depth + 1),
        _ => None,
    }
}

/// The opcode that set `reg` for the instruction at `lastpc`, as PUC-Rio's
/// `findsetreg`: the last write before `lastpc`, unless a forward jump
/// lands between it and `lastpc` (then the write may not have happened).
fn find_set(code: &[Op], lastpc: usize, reg: u8) -> Option<usize> {
    let mut setreg = None;
    let mut jump_target = 0usize;
    for (pc, &op) in code.iter().enumerate().take(lastpc) {
        let sets = writes(op) == Some(reg) || clobbers_from(op).is_some_and(|a| reg >= a);
        if sets {
            setreg = if pc < jump_target { None } else { Some(pc) };
        }
        if let Op::Jmp { offset } = op {
            let dest = pc as i64 + 1 + offset.get() as i64;
            if dest > pc as i64 && dest <= lastpc as i64 && dest as usize > jump_target {
                jump_target = dest as usize;
            }
        }
    }
    // A write that clobbers a whole range names nothing.
    setreg.filter(|&i| writes(code[i]) == Some(reg))
}

/// `global 'name'` when the indexed table `t` is `_ENV` (a local of that
/// name, or loaded from the `_ENV` upvalue), else `field 'name'`.
fn field_or_global(frame: &LuaFrame<'_>, pc: usize, t: u8, name: &str) -> String {
    let info = &frame.closure.proto.info;
    let env = local_name(frame, pc, t).is_some_and(|n| n == "_ENV")
        || matches!(
            last_write(frame, pc, t),
            Some((_, Op::GetUpval { u, .. }))
                if info.upvalues.get(u as usize).is_some_and(|d| d.name == "_ENV")
        );
    if env {
        format!("global '{name}'")
    } else {
        format!("field '{name}'")
    }
}

/// The last opcode before `pc` that wrote `reg`, with its index.
fn last_write(frame: &LuaFrame<'_>, pc: usize, reg: u8) -> Option<(usize, Op)> {
    let code = &frame.closure.proto.code;
    (0..pc)
        .rev()
        .map(|i| (i, code[i]))
        .find(|&(_, op)| writes(op) == Some(reg))
}

/// The name of the local variable held in `reg` at `pc`, if any.
fn local_name<'a>(frame: &'a LuaFrame<'_>, pc: usize, reg: u8) -> Option<&'a str> {
    let pc = pc as u32;
    frame
        .closure
        .proto
        .info
        .locals
        .iter()
        .rev()
        .find(|l| l.reg == reg && l.start_pc <= pc && pc < l.end_pc)
        .map(|l| l.name.as_str())
        .filter(|n| !n.starts_with('('))
}

/// The single register an opcode writes.
fn writes(op: Op) -> Option<u8> {
    Some(match op {
        Op::Move { a, .. }
        | Op::LoadK { a, .. }
        | Op::LoadBool { a, .. }
        | Op::LoadInt { a, .. }
        | Op::GetUpval { a, .. }
        | Op::GetTabUp { a, .. }
        | Op::GetTable { a, .. }
        | Op::GetField { a, .. }
        | Op::GetIndex { a, .. }
        | Op::NewTable { a, .. }
        | Op::SelfK { a, .. }
        | Op::Add { a, .. }
        | Op::Sub { a, .. }
        | Op::Mul { a, .. }
        | Op::Div { a, .. }
        | Op::IDiv { a, .. }
        | Op::Mod { a, .. }
        | Op::Pow { a, .. }
        | Op::BAnd { a, .. }
        | Op::BOr { a, .. }
        | Op::BXor { a, .. }
        | Op::Shl { a, .. }
        | Op::Shr { a, .. }
        | Op::AddInt { a, .. }
        | Op::SubInt { a, .. }
        | Op::Concat { a, .. }
        | Op::Unm { a, .. }
        | Op::BNot { a, .. }
        | Op::Not { a, .. }
        | Op::Len { a, .. }
        | Op::Closure { a, .. } => a,
        _ => return None,
    })
}

/// Opcodes that overwrite every register from some point up.
fn clobbers_from(op: Op) -> Option<u8> {
    match op {
        Op::Call { a, .. } | Op::TForCall { a, .. } | Op::VarArg { a, .. } => Some(a),
        Op::LoadNil { a, .. } => Some(a),
        Op::SelfK { a, .. } => Some(a + 1),
        _ => None,
    }
}
