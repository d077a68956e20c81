//! The io library. Files are host resources: the heap holds a small file
//! object (an empty table with the `FILE*` metatable, mapped to a handle
//! id in the registry) and the OS file lives in the host table
//! `State::files`. Opening files is allowed only when the embedder says so
//! (`Config::allow_files`).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};

use crate::native::{Action, NCtx, NativeFn, RtError};
use crate::state::Ctx;
use crate::table::Table;
use crate::value::{Native, Value};

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[
    ("io.write", write),
    ("io.read", read),
    ("io.lines", lines),
    ("io.open", open_file),
    ("io.close", close),
    ("io.type", type_),
    ("io.output", output),
    ("io.flush", flush),
    ("io.input", input),
    ("io.lines.iterator", lines_iter),
    ("io.file.write", file_write),
    ("io.file.read", file_read),
    ("io.file.lines", file_lines),
    ("io.file.close", file_close),
    ("io.file.flush", file_flush),
    ("io.file.setvbuf", file_setvbuf),
    ("io.file.seek", file_seek),
    ("io.file.tostring", file_tostring),
];

/// Handle ids of the standard streams.
const STDIN: i64 = 0;
const STDOUT: i64 = 1;
const STDERR: i64 = 2;

/// An open OS file.
pub enum HostFile {
    Reader(BufReader<File>),
    Writer(BufWriter<File>),
}

/// The host side of file objects: id -> OS file. Ids are never reused.
#[derive(Default)]
pub struct HostFiles {
    next: i64,
    open: HashMap<i64, HostFile>,
}

/// Creates the standard file objects and the file metatable.
pub fn open(ctx: Ctx<'_>) {
    let reg = ctx.state.registry;
    let Value::Table(io) = reg.get_str(ctx, "io") else {
        return;
    };
    let methods = Table::new(ctx);
    for (name, f) in FUNCTIONS {
        if let Some(key) = name.strip_prefix("io.file.") {
            methods.set_str(ctx, key, super::native(ctx, name, *f));
        }
    }
    let meta = Table::new(ctx);
    meta.set_str(ctx, "__index", Value::Table(methods));
    meta.set_str(ctx, "__name", ctx.str("FILE*"));
    meta.set_str(ctx, "__tostring", methods.get_str(ctx, "tostring"));
    reg.set_str(ctx, "io.FILE*", Value::Table(meta));
    reg.set_str(ctx, "io.handles", Value::Table(Table::new(ctx)));
    for (id, name) in [(STDIN, "stdin"), (STDOUT, "stdout"), (STDERR, "stderr")] {
        let f = new_file(ctx, id);
        io.set_str(ctx, name, f);
        reg.set_str(ctx, &format!("io.{name}"), f);
    }
    reg.set_str(ctx, "io.output", reg.get_str(ctx, "io.stdout"));
    reg.set_str(ctx, "io.input", reg.get_str(ctx, "io.stdin"));
    reg.set_str(
        ctx,
        "io.lines.iterator",
        super::native(ctx, "io.lines.iterator", lines_iter),
    );
    ctx.state.files.borrow_mut().next = 3;
}

/// After a restore the OS files are gone (but the standard streams); new
/// handles must not reuse the ids of the file objects still in the heap.
pub fn after_restore(ctx: Ctx<'_>) {
    let mut next = 3;
    if let Value::Table(handles) = ctx.state.registry.get_str(ctx, "io.handles") {
        let mut key = Value::Nil;
        while let Ok(Some((k, v))) = handles.next(key) {
            if let Value::Integer(id) = v {
                next = next.max(id + 1);
            }
            key = k;
        }
    }
    let mut files = ctx.state.files.borrow_mut();
    files.open.clear();
    files.next = next;
}

fn new_file<'gc>(ctx: Ctx<'gc>, id: i64) -> Value<'gc> {
    let t = Table::new(ctx);
    if let Value::Table(meta) = ctx.state.registry.get_str(ctx, "io.FILE*") {
        t.set_metatable(ctx, Some(meta));
    }
    if let Value::Table(handles) = ctx.state.registry.get_str(ctx, "io.handles") {
        // A table key is never nil or NaN.
        let _ = handles.set(ctx, Value::Table(t), Value::Integer(id));
    }
    Value::Table(t)
}

/// The handle id of a file object: Some(Some(id)) open, Some(None) closed.
fn handle_of<'gc>(ctx: Ctx<'gc>, v: Value<'gc>) -> Option<Option<i64>> {
    let Value::Table(handles) = ctx.state.registry.get_str(ctx, "io.handles") else {
        return None;
    };
    match handles.get(v) {
        Value::Integer(id) => Some(Some(id)),
        Value::Boolean(false) => Some(None),
        _ => None,
    }
}

fn check_file<'gc>(cx: &NCtx<'_, 'gc>, i: usize) -> Result<i64, RtError<'gc>> {
    match handle_of(cx.ctx, cx.arg(i)) {
        Some(Some(id)) => Ok(id),
        Some(None) => Err(RtError::msg("attempt to use a closed file")),
        None => Err(cx.type_error(i, "FILE*")),
    }
}

/// `"msg (os error 2)"` -> `"msg"`: the C library's wording, as lua5.4.
fn os_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// `nil, "name: message", errno` as io functions return failures.
fn fail<'gc>(cx: &mut NCtx<'_, 'gc>, what: &str, e: &std::io::Error) -> R<'gc> {
    let msg = cx.ctx.str(&format!("{what}: {}", os_message(e)));
    cx.clear();
    cx.push(Value::Nil);
    cx.push(msg);
    cx.push(Value::Integer(e.raw_os_error().unwrap_or(0) as i64));
    Ok(Action::Return)
}

/// Writes arguments `from..` to file `id`; numbers as `%.14g` / integers.
fn write_args<'gc>(cx: &mut NCtx<'_, 'gc>, id: i64, from: usize) -> Result<(), RtError<'gc>> {
    let mut out = Vec::new();
    for i in from..cx.nargs() {
        match cx.arg(i) {
            Value::String(s) => out.extend_from_slice(s.as_bytes()),
            Value::Integer(n) => crate::lualib::number::fmt_int(n, &mut out),
            Value::Number(f) => crate::lualib::format::fmt_g(f, 14, false, false, &mut out),
            _ => return Err(cx.type_error(i, "string")),
        }
    }
    let ctx = cx.ctx;
    let result = match id {
        STDOUT => ctx.state.stdout.borrow_mut().write_all(&out),
        STDERR => {
            let _ = ctx.state.stdout.borrow_mut().flush();
            std::io::stderr().write_all(&out)
        }
        STDIN => return Err(RtError::msg("file not opened for writing")),
        _ => match ctx.state.files.borrow_mut().open.get_mut(&id) {
            Some(HostFile::Writer(w)) => w.write_all(&out),
            Some(HostFile::Reader(_)) => Err(std::io::Error::from_raw_os_error(9)),
            None => return Err(RtError::msg("attempt to use a closed file")),
        },
    };
    result.map_err(|e| RtError::msg(os_message(&e)))
}

fn write<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let id = default_id(cx, "io.output")?;
    write_args(cx, id, 0)?;
    let f = cx.ctx.state.registry.get_str(cx.ctx, "io.output");
    cx.ret1(f)
}

fn file_write<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let id = check_file(cx, 0)?;
    let f = cx.arg(0);
    write_args(cx, id, 1)?;
    cx.ret1(f)
}

/// Runs `f` on file `id` as a buffered reader.
fn with_reader<'gc, T>(
    ctx: Ctx<'gc>,
    id: i64,
    f: impl FnOnce(&mut dyn BufRead) -> std::io::Result<T>,
) -> Result<T, RtError<'gc>> {
    let _ = ctx.state.stdout.borrow_mut().flush();
    let result = match id {
        STDIN => f(&mut std::io::stdin().lock()),
        STDOUT | STDERR => Err(std::io::Error::from_raw_os_error(9)),
        _ => match ctx.state.files.borrow_mut().open.get_mut(&id) {
            Some(HostFile::Reader(r)) => f(r),
            Some(HostFile::Writer(_)) => Err(std::io::Error::from_raw_os_error(9)),
            None => return Err(RtError::msg("attempt to use a closed file")),
        },
    };
    result.map_err(|e| RtError::msg(os_message(&e)))
}

/// Reads one item of format `fmt` (`l`, `L`, `a`, `n` or a byte count).
fn read_item<'gc>(ctx: Ctx<'gc>, id: i64, fmt: Value<'gc>) -> Result<Value<'gc>, RtError<'gc>> {
    if let Some(n) = match fmt {
        Value::Integer(n) => Some(n),
        Value::Number(f) => crate::lualib::number::float_to_int_exact(f),
        _ => None,
    } {
        let n = n.max(0) as usize;
        let bytes = with_reader(ctx, id, |r| {
            let mut buf = Vec::with_capacity(n.min(1 << 16));
            r.take(n as u64).read_to_end(&mut buf)?;
            Ok(buf)
        })?;
        // `read(0)` tests for end of file: "" unless at the end.
        if bytes.is_empty() && n > 0 {
            return Ok(Value::Nil);
        }
        if n == 0 {
            let at_end = with_reader(ctx, id, |r| Ok(r.fill_buf()?.is_empty()))?;
            return Ok(if at_end { Value::Nil } else { ctx.str("") });
        }
        return Ok(ctx.bytes(&bytes));
    }
    let Value::String(s) = fmt else {
        return Err(RtError::msg("bad argument #1 to 'read' (invalid format)"));
    };
    let f = s.as_bytes();
    let f = f.strip_prefix(b"*").unwrap_or(f);
    match f.first() {
        Some(&c @ (b'l' | b'L')) => {
            let line = with_reader(ctx, id, |r| {
                let mut line = Vec::new();
                r.read_until(b'\n', &mut line)?;
                Ok(line)
            })?;
            if line.is_empty() {
                return Ok(Value::Nil);
            }
            let mut line = line;
            if c == b'l' && line.last() == Some(&b'\n') {
                line.pop();
            }
            Ok(ctx.bytes(&line))
        }
        Some(b'a') => {
            let all = with_reader(ctx, id, |r| {
                let mut all = Vec::new();
                r.read_to_end(&mut all)?;
                Ok(all)
            })?;
            Ok(ctx.bytes(&all))
        }
        Some(b'n') => {
            let word = with_reader(ctx, id, |r| {
                // Skip white space, then take the longest numeral prefix.
                let mut word = Vec::new();
                loop {
                    let buf = r.fill_buf()?;
                    let Some(&b) = buf.first() else { break };
                    let numeric = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-');
                    if word.is_empty() && b.is_ascii_whitespace() {
                        r.consume(1);
                    } else if numeric && word.len() < 200 {
                        word.push(b);
                        r.consume(1);
                    } else {
                        break;
                    }
                }
                Ok(word)
            })?;
            Ok(crate::lualib::number::str_to_number(&word)
                .map(Value::from_number)
                .unwrap_or(Value::Nil))
        }
        _ => Err(RtError::msg("bad argument #1 to 'read' (invalid format)")),
    }
}

fn read_formats<'gc>(cx: &mut NCtx<'_, 'gc>, id: i64, from: usize) -> R<'gc> {
    let fmts: Vec<Value<'gc>> = if cx.nargs() <= from {
        vec![cx.ctx.str("l")]
    } else {
        cx.args()[from..].to_vec()
    };
    let mut results = Vec::with_capacity(fmts.len());
    for f in fmts {
        let v = read_item(cx.ctx, id, f)?;
        let stop = v.is_nil();
        results.push(v);
        if stop {
            break;
        }
    }
    cx.clear();
    for v in results {
        cx.push(v);
    }
    Ok(Action::Return)
}

fn read<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let id = default_id(cx, "io.input")?;
    read_formats(cx, id, 0)
}

fn file_read<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let id = check_file(cx, 0)?;
    read_formats(cx, id, 1)
}

/// A `lines` iterator over file `file`, closing it at the end when `close`.
fn lines_iterator<'gc>(cx: &mut NCtx<'_, 'gc>, file: Value<'gc>, close: bool) -> R<'gc> {
    let f = Native::new(
        cx.ctx,
        "io.lines.iterator",
        lines_iter,
        Box::new([file, Value::Boolean(close)]),
    );
    cx.ret1(Value::Native(f))
}

pub fn lines_iter<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let (file, close) = match cx.upvalues {
        [f, c] => (*f, c.is_truthy()),
        _ => (cx.ctx.state.registry.get_str(cx.ctx, "io.stdin"), false),
    };
    let id = match handle_of(cx.ctx, file) {
        Some(Some(id)) => id,
        _ => return Err(RtError::msg("file is already closed")),
    };
    let line = read_item(cx.ctx, id, cx.ctx.str("l"))?;
    if line.is_nil() && close {
        close_handle(cx.ctx, file, id);
    }
    cx.ret1(line)
}

fn lines<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    if cx.arg(0).is_nil() {
        let input = cx.ctx.state.registry.get_str(cx.ctx, "io.input");
        return lines_iterator(cx, input, false);
    }
    let name = cx.check_str(0)?.to_str_lossy().into_owned();
    match open_host(cx.ctx, &name, "r") {
        Ok(file) => lines_iterator(cx, file, true),
        Err(e) => Err(RtError::Message(format!("{name}: {}", os_message(&e)))),
    }
}

fn file_lines<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    check_file(cx, 0)?;
    let f = cx.arg(0);
    lines_iterator(cx, f, false)
}

fn open_host<'gc>(ctx: Ctx<'gc>, name: &str, mode: &str) -> std::io::Result<Value<'gc>> {
    if !ctx.state.allow_files.get() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "file access is disabled",
        ));
    }
    let mut opts = std::fs::OpenOptions::new();
    let host = match mode.trim_end_matches('b') {
        "r" => HostFile::Reader(BufReader::new(opts.read(true).open(name)?)),
        "w" => HostFile::Writer(BufWriter::new(
            opts.write(true).create(true).truncate(true).open(name)?,
        )),
        "a" => HostFile::Writer(BufWriter::new(opts.append(true).create(true).open(name)?)),
        _ => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "update modes ('+') are not supported",
            ))
        }
    };
    let id = {
        let mut files = ctx.state.files.borrow_mut();
        let id = files.next;
        files.next += 1;
        files.open.insert(id, host);
        id
    };
    Ok(new_file(ctx, id))
}

fn open_file<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let name = cx.check_str(0)?.to_str_lossy().into_owned();
    let mode = match cx.opt_str(1)? {
        Some(m) => m.to_str_lossy().into_owned(),
        None => "r".into(),
    };
    let valid = {
        let m = mode.as_bytes();
        matches!(m.first(), Some(b'r' | b'w' | b'a'))
            && matches!(&m[1..], b"" | b"+" | b"b" | b"+b")
    };
    if !valid {
        return Err(cx.arg_error(1, "invalid mode"));
    }
    match open_host(cx.ctx, &name, &mode) {
        Ok(f) => cx.ret1(f),
        Err(e) => fail(cx, &name, &e),
    }
}

fn close_handle<'gc>(ctx: Ctx<'gc>, file: Value<'gc>, id: i64) {
    if let Some(HostFile::Writer(mut w)) = ctx.state.files.borrow_mut().open.remove(&id) {
        let _ = w.flush();
    }
    if let Value::Table(handles) = ctx.state.registry.get_str(ctx, "io.handles") {
        let _ = handles.set(ctx, file, Value::Boolean(false));
    }
}

fn file_close<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let id = check_file(cx, 0)?;
    if id <= STDERR {
        return cx.ret2(Value::Nil, cx.ctx.str("cannot close standard file"));
    }
    let f = cx.arg(0);
    close_handle(cx.ctx, f, id);
    cx.ret1(Value::Boolean(true))
}

fn close<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    if cx.arg(0).is_nil() {
        let f = cx.ctx.state.registry.get_str(cx.ctx, "io.output");
        cx.clear();
        cx.push(f);
    }
    file_close(cx)
}

fn file_flush<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let id = check_file(cx, 0)?;
    let f = cx.arg(0);
    let ctx = cx.ctx;
    let r = match id {
        STDOUT => ctx.state.stdout.borrow_mut().flush(),
        _ => match ctx.state.files.borrow_mut().open.get_mut(&id) {
            Some(HostFile::Writer(w)) => w.flush(),
            _ => Ok(()),
        },
    };
    r.map_err(|e| RtError::msg(os_message(&e)))?;
    cx.ret1(f)
}

fn file_setvbuf<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    check_file(cx, 0)?;
    cx.ret1(Value::Boolean(true))
}

fn file_seek<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    use std::io::{Seek, SeekFrom};
    let id = check_file(cx, 0)?;
    let whence = match cx.opt_str(1)? {
        Some(w) => w.to_str_lossy().into_owned(),
        None => "cur".into(),
    };
    let offset = cx.opt_int(2, 0)?;
    let pos = match whence.as_str() {
        "set" => SeekFrom::Start(offset.max(0) as u64),
        "cur" => SeekFrom::Current(offset),
        "end" => SeekFrom::End(offset),
        _ => return Err(cx.arg_error(1, format!("invalid option '{whence}'"))),
    };
    let r = match cx.ctx.state.files.borrow_mut().open.get_mut(&id) {
        Some(HostFile::Reader(r)) => r.seek(pos),
        Some(HostFile::Writer(w)) => w.seek(pos),
        None => Err(std::io::Error::from_raw_os_error(29)),
    };
    match r {
        Ok(p) => cx.ret1(Value::Integer(p as i64)),
        Err(e) => fail(cx, "seek", &e),
    }
}

fn file_tostring<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let v = cx.arg(0);
    let text = match handle_of(cx.ctx, v) {
        Some(Some(_)) => format!("file (0x{:014x})", v.identity().unwrap_or(0)),
        _ => "file (closed)".to_owned(),
    };
    let s = cx.ctx.str(&text);
    cx.ret1(s)
}

fn type_<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    cx.check_any(0)?;
    let r = match handle_of(cx.ctx, cx.arg(0)) {
        Some(Some(_)) => cx.ctx.str("file"),
        Some(None) => cx.ctx.str("closed file"),
        None => Value::Nil,
    };
    cx.ret1(r)
}

/// `io.output([file | name])` / `io.input(...)`: sets (opening a named
/// file with `mode`) and returns the default file of `key`.
fn default_file<'gc>(cx: &mut NCtx<'_, 'gc>, key: &str, mode: &str) -> R<'gc> {
    match cx.arg(0) {
        Value::Nil => {}
        Value::String(name) => {
            let name = name.to_str_lossy().into_owned();
            match open_host(cx.ctx, &name, mode) {
                Ok(f) => cx.ctx.state.registry.set_str(cx.ctx, key, f),
                Err(e) => return Err(RtError::Message(format!("{name}: {}", os_message(&e)))),
            }
        }
        f => {
            check_file(cx, 0)?;
            cx.ctx.state.registry.set_str(cx.ctx, key, f);
        }
    }
    let f = cx.ctx.state.registry.get_str(cx.ctx, key);
    cx.ret1(f)
}

fn output<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    default_file(cx, "io.output", "w")
}

fn input<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    default_file(cx, "io.input", "r")
}

/// The handle id of the default file `key` (`io.output`, `io.input`).
fn default_id<'gc>(cx: &NCtx<'_, 'gc>, key: &str) -> Result<i64, RtError<'gc>> {
    let f = cx.ctx.state.registry.get_str(cx.ctx, key);
    match handle_of(cx.ctx, f) {
        Some(Some(id)) => Ok(id),
        _ => Err(RtError::msg(format!(
            "default {} file is closed",
            key.trim_start_matches("io.")
        ))),
    }
}

fn flush<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let f = cx.ctx.state.registry.get_str(cx.ctx, "io.output");
    cx.clear();
    cx.push(f);
    file_flush(cx)
}
