//! The base library: print, type, tostring, tonumber, pairs, pcall, load...

use std::io::Write;

use crate::lualib::number;
use crate::native::{Action, Cont, NCtx, NativeFn, RtError};
use crate::state::{Ctx, Event};
use crate::thread::Frame;
use crate::value::{LuaStr, Value};
use crate::vm;

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[
    ("print", print),
    ("type", type_),
    ("tostring", tostring),
    ("tonumber", tonumber),
    ("rawget", rawget),
    ("rawset", rawset),
    ("rawequal", rawequal),
    ("rawlen", rawlen),
    ("setmetatable", setmetatable),
    ("getmetatable", getmetatable),
    ("assert", assert),
    ("error", error),
    ("pcall", pcall),
    ("xpcall", xpcall),
    ("next", next),
    ("pairs", pairs),
    ("ipairs", ipairs),
    ("ipairs.iterator", ipairs_iter),
    ("select", select),
    ("load", load),
    ("loadfile", loadfile),
    ("dofile", dofile),
    ("collectgarbage", collectgarbage),
    ("warn", warn),
];

/// The text an uncaught error shows: strings and numbers as they are,
/// other values by type.
pub fn error_to_string<'gc>(ctx: Ctx<'gc>, v: Value<'gc>) -> String {
    match v {
        Value::String(s) => s.to_str_lossy().into_owned(),
        Value::Integer(_) | Value::Number(_) => {
            vm::tostring_number(ctx, v).to_str_lossy().into_owned()
        }
        Value::Nil => "(error object is a nil value)".into(),
        other => format!("(error object is a {} value)", other.type_name()),
    }
}

/// `tostring` without `__tostring`: None when the value has one.
pub fn tostring_plain<'gc>(ctx: Ctx<'gc>, v: Value<'gc>) -> Option<LuaStr<'gc>> {
    Some(match v {
        Value::String(s) => s,
        Value::Integer(_) | Value::Number(_) => vm::tostring_number(ctx, v),
        Value::Nil => LuaStr::new(ctx, b"nil"),
        Value::Boolean(b) => LuaStr::new(ctx, if b { b"true" } else { b"false" }),
        _ => {
            if !ctx.metamethod(v, Event::ToString).is_nil() {
                return None;
            }
            let kind = match ctx.metamethod(v, Event::Name) {
                Value::String(s) => s.to_str_lossy().into_owned(),
                _ => v.type_name().to_owned(),
            };
            let addr = v.identity().unwrap_or(0);
            let text = format!("{kind}: 0x{addr:014x}");
            LuaStr::new(ctx, text.as_bytes())
        }
    })
}

fn print<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let n = cx.nargs();
    let mut line = Vec::new();
    for i in 0..n {
        let v = cx.arg(i);
        let Some(s) = tostring_plain(cx.ctx, v) else {
            // Some argument has __tostring: the Lua version calls it.
            let slow = cx.ctx.state.registry.get_str(cx.ctx, "print_slow");
            cx.stack.insert(cx.base, slow);
            return Ok(Action::Call {
                at: 0,
                cont: Cont::Return,
            });
        };
        if i > 0 {
            line.push(b'\t');
        }
        line.extend_from_slice(s.as_bytes());
    }
    line.push(b'\n');
    write_stdout(cx.ctx, &line)?;
    cx.ret0()
}

pub fn write_stdout<'gc>(ctx: Ctx<'gc>, bytes: &[u8]) -> Result<(), RtError<'gc>> {
    ctx.state
        .stdout
        .borrow_mut()
        .write_all(bytes)
        .map_err(|e| RtError::msg(e.to_string()))
}

fn type_<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let v = cx.check_any(0)?;
    let s = cx.ctx.str(v.type_name());
    cx.ret1(s)
}

fn tostring<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let v = cx.check_any(0)?;
    match tostring_plain(cx.ctx, v) {
        Some(s) => cx.ret1(Value::String(s)),
        None => {
            let mm = cx.ctx.metamethod(v, Event::ToString);
            cx.clear();
            cx.push(mm);
            cx.push(v);
            Ok(Action::Call {
                at: 0,
                cont: Cont::ToString,
            })
        }
    }
}

fn tonumber<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let v = cx.arg(1);
    if v.is_nil() {
        let v = cx.check_any(0)?;
        let r = match v {
            Value::Integer(_) | Value::Number(_) => v,
            Value::String(s) => number::str_to_number(s.as_bytes())
                .map(Value::from_number)
                .unwrap_or(Value::Nil),
            _ => Value::Nil,
        };
        return cx.ret1(r);
    }
    let base = cx.check_int(1)?;
    let s = match cx.arg(0) {
        Value::String(s) => s,
        _ => return Err(cx.type_error(0, "string")),
    };
    if !(2..=36).contains(&base) {
        return Err(cx.arg_error(1, "base out of range"));
    }
    let r = number::str_to_int_base(s.as_bytes(), base as u32)
        .map(Value::Integer)
        .unwrap_or(Value::Nil);
    cx.ret1(r)
}

fn rawget<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = cx.check_table(0)?;
    let v = t.get(cx.arg(1));
    cx.ret1(v)
}

fn rawset<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = cx.check_table(0)?;
    // Raised by the core inside this native: no position, as lua5.4.
    t.set(cx.ctx, cx.arg(1), cx.arg(2))
        .map_err(|e| RtError::Value(cx.ctx.str(e.message())))?;
    cx.ret1(Value::Table(t))
}

fn rawequal<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let a = cx.check_any(0)?;
    let b = cx.check_any(1)?;
    cx.ret1(Value::Boolean(a.raw_eq(b)))
}

fn rawlen<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let n = match cx.arg(0) {
        Value::Table(t) => t.length(),
        Value::String(s) => s.len() as i64,
        _ => return Err(cx.type_error(0, "table or string")),
    };
    cx.ret1(Value::Integer(n))
}

fn setmetatable<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = cx.check_table(0)?;
    let mt = match cx.arg(1) {
        Value::Nil if cx.nargs() >= 2 => None,
        Value::Table(m) => Some(m),
        _ => return Err(cx.type_error(1, "nil or table")),
    };
    if let Some(old) = t.metatable() {
        if !old
            .get(Value::String(cx.ctx.event(Event::Metatable)))
            .is_nil()
        {
            return Err(RtError::msg("cannot change a protected metatable"));
        }
    }
    t.set_metatable(cx.ctx, mt);
    cx.ret1(Value::Table(t))
}

fn getmetatable<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let v = cx.check_any(0)?;
    let r = match cx.ctx.metatable(v) {
        None => Value::Nil,
        Some(mt) => {
            let protected = mt.get(Value::String(cx.ctx.event(Event::Metatable)));
            if protected.is_nil() {
                Value::Table(mt)
            } else {
                protected
            }
        }
    };
    cx.ret1(r)
}

fn assert<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let v = cx.check_any(0)?;
    if v.is_truthy() {
        return Ok(Action::Return);
    }
    // Like `error(msg)`: a string message gets the caller's position.
    let msg = if cx.nargs() >= 2 {
        cx.arg(1)
    } else {
        cx.ctx.str("assertion failed!")
    };
    match (msg, position(cx.frames, 1)) {
        (Value::String(s), Some(w)) => {
            let mut text = w.into_bytes();
            text.extend_from_slice(s.as_bytes());
            Err(RtError::Value(cx.ctx.bytes(&text)))
        }
        _ => Err(RtError::Value(msg)),
    }
}

fn error<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let v = cx.arg(0);
    let level = cx.opt_int(1, 1)?;
    if let (Value::String(s), true) = (v, level > 0) {
        if let Some(w) = position(cx.frames, level as usize) {
            let mut text = w.into_bytes();
            text.extend_from_slice(s.as_bytes());
            return Err(RtError::Value(cx.ctx.bytes(&text)));
        }
    }
    Err(RtError::Value(v))
}

/// `chunk:line: ` of the Lua function `level` frames up (1: the caller of
/// the running native), or None if that frame is not Lua.
pub fn position(frames: &[Frame<'_>], level: usize) -> Option<String> {
    let f = frames.len().checked_sub(level)?;
    match frames.get(f)? {
        Frame::Lua(f) => Some(vm::where_(f)),
        Frame::Native(_) => None,
    }
}

fn pcall<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    cx.check_any(0)?;
    Ok(Action::Call {
        at: 0,
        cont: Cont::Pcall,
    })
}

fn xpcall<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let handler = cx.arg(1);
    if !handler.is_function() {
        return Err(cx.type_error(1, "function"));
    }
    // Arguments: f, handler, args... -> f, args...
    cx.stack.remove(cx.base + 1);
    Ok(Action::Call {
        at: 0,
        cont: Cont::Xpcall { handler },
    })
}

fn next<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t = cx.check_table(0)?;
    match t.next(cx.arg(1)) {
        Ok(Some((k, v))) => cx.ret2(k, v),
        Ok(None) => cx.ret1(Value::Nil),
        // Raised by the core, not the library: no position, as lua5.4.
        Err(()) => Err(RtError::Value(cx.ctx.str("invalid key to 'next'"))),
    }
}

fn pairs<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let v = cx.check_any(0)?;
    let mm = cx.ctx.metamethod(v, Event::Pairs);
    if !mm.is_nil() {
        cx.clear();
        cx.push(mm);
        cx.push(v);
        return Ok(Action::Call {
            at: 0,
            cont: Cont::Return,
        });
    }
    if !matches!(v, Value::Table(_)) {
        return Err(cx.type_error(0, "table"));
    }
    let next = cx.ctx.state.registry.get_str(cx.ctx, "next");
    cx.clear();
    cx.push(next);
    cx.push(v);
    cx.push(Value::Nil);
    Ok(Action::Return)
}

fn ipairs<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let v = cx.check_any(0)?;
    let iter = cx.ctx.state.registry.get_str(cx.ctx, "ipairs.iterator");
    cx.clear();
    cx.push(iter);
    cx.push(v);
    cx.push(Value::Integer(0));
    Ok(Action::Return)
}

fn ipairs_iter<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let i = cx.check_int(1)?.wrapping_add(1);
    match cx.arg(0) {
        Value::Table(t) if t.metatable().is_none() => {
            let v = t.get_int(i);
            if v.is_nil() {
                cx.ret1(Value::Nil)
            } else {
                cx.ret2(Value::Integer(i), v)
            }
        }
        // Tables with metatables and other values honour __index: the Lua
        // helper does the indexing.
        v => {
            let slow = cx.ctx.state.registry.get_str(cx.ctx, "ipairs_slow");
            cx.clear();
            cx.push(slow);
            cx.push(v);
            cx.push(Value::Integer(i));
            Ok(Action::Call {
                at: 0,
                cont: Cont::Return,
            })
        }
    }
}

fn select<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let n = cx.nargs() as i64 - 1;
    if let Value::String(s) = cx.arg(0) {
        if s.as_bytes() == b"#" {
            return cx.ret1(Value::Integer(n));
        }
    }
    let i = cx.check_int(0)?;
    let start = if i < 0 {
        if -i > n {
            return Err(cx.arg_error(0, "index out of range"));
        }
        n + i
    } else if i == 0 {
        return Err(cx.arg_error(0, "index out of range"));
    } else {
        (i - 1).min(n)
    };
    let from = cx.base + 1 + start as usize;
    cx.stack.drain(cx.base..from);
    Ok(Action::Return)
}

fn load<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let chunk = cx.arg(0);
    let source = match chunk {
        Value::String(s) => s,
        Value::Closure(_) | Value::Native(_) => {
            // Reader functions are gathered by the Lua helper.
            let slow = cx.ctx.state.registry.get_str(cx.ctx, "load_reader");
            cx.stack.insert(cx.base, slow);
            return Ok(Action::Call {
                at: 0,
                cont: Cont::Return,
            });
        }
        _ => return Err(cx.type_error(0, "function")),
    };
    let name = match cx.opt_str(1)? {
        Some(n) => n.to_str_lossy().into_owned(),
        None => String::from_utf8_lossy(source.as_bytes()).into_owned(),
    };
    let mode = match cx.opt_str(2)? {
        Some(m) => m.to_str_lossy().into_owned(),
        None => "bt".into(),
    };
    if !mode.contains('t') {
        let msg = format!("attempt to load a text chunk (mode is '{mode}')");
        return cx.ret2(Value::Nil, cx.ctx.str(&msg));
    }
    match crate::runtime::compile_chunk(source.as_bytes(), &name) {
        Ok(proto) => {
            let env = if cx.nargs() >= 4 {
                cx.arg(3)
            } else {
                Value::Table(cx.ctx.state.globals)
            };
            let f = crate::runtime::load_proto_env(cx.ctx, &proto, env);
            cx.ret1(f)
        }
        Err(msg) => {
            let m = cx.ctx.str(&msg);
            cx.ret2(Value::Nil, m)
        }
    }
}

/// Reads and compiles a file (`None`: standard input) into a function.
fn load_file<'gc>(
    cx: &mut NCtx<'_, 'gc>,
    name: Option<&str>,
    env: Option<Value<'gc>>,
) -> Result<Value<'gc>, String> {
    let (source, chunkname) = match name {
        None => {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            (buf, "=stdin".to_owned())
        }
        Some(name) => {
            if !cx.ctx.state.allow_files.get() {
                return Err(format!("cannot open {name}: file access is disabled"));
            }
            let buf = std::fs::read(name).map_err(|e| {
                let msg = e.to_string();
                let msg = msg.split(" (os error").next().unwrap_or(&msg).to_owned();
                format!("cannot open {name}: {msg}")
            })?;
            (buf, format!("@{name}"))
        }
    };
    let proto = crate::runtime::compile_chunk(crate::runtime::skip_shebang(&source), &chunkname)?;
    let env = env.unwrap_or(Value::Table(cx.ctx.state.globals));
    Ok(crate::runtime::load_proto_env(cx.ctx, &proto, env))
}

fn loadfile<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let name = cx.opt_str(0)?.map(|s| s.to_str_lossy().into_owned());
    let env = (cx.nargs() >= 3).then(|| cx.arg(2));
    match load_file(cx, name.as_deref(), env) {
        Ok(f) => cx.ret1(f),
        Err(msg) => {
            let m = cx.ctx.str(&msg);
            cx.ret2(Value::Nil, m)
        }
    }
}

fn dofile<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let name = cx.opt_str(0)?.map(|s| s.to_str_lossy().into_owned());
    let f = match load_file(cx, name.as_deref(), None) {
        Ok(f) => f,
        Err(msg) => return Err(RtError::Value(cx.ctx.str(&msg))),
    };
    cx.clear();
    cx.push(f);
    Ok(Action::Call {
        at: 0,
        cont: Cont::Return,
    })
}

/// `warn(msg1, ...)`: off by default as in the standalone interpreter;
/// `warn("@on")` / `warn("@off")` switch it.
fn warn<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let mut msg = Vec::new();
    for i in 0..cx.nargs().max(1) {
        msg.extend_from_slice(cx.check_str(i)?.as_bytes());
    }
    let ctx = cx.ctx;
    match msg.as_slice() {
        b"@on" => ctx
            .state
            .registry
            .set_str(ctx, "warn.on", Value::Boolean(true)),
        b"@off" => ctx.state.registry.set_str(ctx, "warn.on", Value::Nil),
        m if m.first() == Some(&b'@') => {}
        m => {
            if ctx.state.registry.get_str(ctx, "warn.on").is_truthy() {
                let _ = ctx.state.stdout.borrow_mut().flush();
                let mut line = b"Lua warning: ".to_vec();
                line.extend_from_slice(m);
                line.push(b'\n');
                let _ = std::io::stderr().write_all(&line);
            }
        }
    }
    cx.ret0()
}

fn collectgarbage<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let opt = match cx.opt_str(0)? {
        Some(s) => s.to_str_lossy().into_owned(),
        None => "collect".into(),
    };
    match opt.as_str() {
        "count" => {
            let kb = cx.ctx.state.meter.used() as f64 / 1024.0;
            cx.ret1(Value::Number(kb))
        }
        // Collection runs between execution slices: "collect" ends this
        // slice and asks the runtime for a full cycle before the next.
        "collect" | "step" | "incremental" | "generational" => {
            if opt == "collect" {
                cx.ctx.state.collect_requested.set(true);
            }
            let r = match opt.as_str() {
                "step" => Value::Boolean(false),
                // The previous mode (the reference build starts in
                // generational mode); the collector itself is incremental.
                "incremental" | "generational" => {
                    let reg = cx.ctx.state.registry;
                    let prev = match reg.get_str(cx.ctx, "gc.mode") {
                        Value::Nil => cx.ctx.str("generational"),
                        m => m,
                    };
                    reg.set_str(cx.ctx, "gc.mode", cx.ctx.str(&opt));
                    prev
                }
                _ => Value::Integer(0),
            };
            cx.ret1(r)
        }
        "isrunning" => {
            let stopped = cx
                .ctx
                .state
                .registry
                .get_str(cx.ctx, "gc.stopped")
                .is_truthy();
            cx.ret1(Value::Boolean(!stopped))
        }
        // The collector keeps running (it must, for the memory limit); the
        // flag only answers "isrunning" as a script expects.
        "stop" | "restart" => {
            let stopped = Value::Boolean(opt == "stop");
            cx.ctx.state.registry.set_str(cx.ctx, "gc.stopped", stopped);
            cx.ret1(Value::Integer(0))
        }
        // The previous value (lua5.4's defaults 200 and 100); recorded only.
        "setpause" | "setstepmul" => {
            let key = if opt == "setpause" {
                "gc.pause"
            } else {
                "gc.stepmul"
            };
            let default = if opt == "setpause" { 200 } else { 100 };
            let reg = cx.ctx.state.registry;
            let prev = match reg.get_str(cx.ctx, key) {
                Value::Nil => Value::Integer(default),
                v => v,
            };
            let new = cx.opt_int(1, 0)?;
            reg.set_str(cx.ctx, key, Value::Integer(new));
            cx.ret1(prev)
        }
        _ => Err(cx.arg_error(0, format!("invalid option '{opt}'"))),
    }
}

/// The parts of the base library written in Lua: the slow paths of natives
/// that must call back into Lua in ways simpler to say in Lua itself.
pub const PRELUDE: &str = r#"
local registry, tostring, select, write, type, error = ...
function registry.print_slow(...)
  local n = select('#', ...)
  local parts = {...}
  for i = 1, n do
    parts[i] = tostring(parts[i])
  end
  write(table.concat(parts, "\t", 1, n), "\n")
end
function registry.ipairs_slow(t, i)
  local v = t[i]
  if v == nil then return nil end
  return i, v
end
function registry.load_reader(f, name, mode, ...)
  local parts = {}
  while true do
    local ok, piece = pcall(f)
    if not ok then return nil, piece end
    if piece == nil or piece == "" then break end
    if type(piece) ~= "string" then
      return nil, "reader function must return a string"
    end
    parts[#parts + 1] = piece
  end
  return registry.load(table.concat(parts), name or "=(load)", mode, ...)
end
"#;

/// Registry entries the natives look up by name.
pub fn open_registry<'gc>(ctx: Ctx<'gc>) {
    let reg = ctx.state.registry;
    for name in ["next", "ipairs.iterator", "load", "concat_raw"] {
        let key = name;
        let v = match name {
            "ipairs.iterator" => super::native(ctx, "ipairs.iterator", ipairs_iter),
            "concat_raw" => super::native(ctx, "table.concat", super::table::concat_native()),
            _ => ctx.state.globals.get_str(ctx, name),
        };
        reg.set_str(ctx, key, v);
    }
}
