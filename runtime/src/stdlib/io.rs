//! The io library on standard input and output. Files are opened only when
//! the embedder allows it (`Config::allow_files`).

use std::io::{BufRead, Read, Write};

use crate::native::{Action, NCtx, NativeFn, RtError};
use crate::value::Value;

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[
    ("io.write", write),
    ("io.read", read),
    ("io.lines", lines),
    ("io.lines.iterator", lines_iter),
];

fn write<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let mut out = Vec::new();
    for i in 0..cx.nargs() {
        match cx.arg(i) {
            Value::String(s) => out.extend_from_slice(s.as_bytes()),
            v @ (Value::Integer(_) | Value::Number(_)) => {
                out.extend_from_slice(crate::vm::tostring_number(cx.ctx, v).as_bytes())
            }
            _ => return Err(cx.type_error(i, "string")),
        }
    }
    super::base::write_stdout(cx.ctx, &out)?;
    let stdout = cx.ctx.state.registry.get_str(cx.ctx, "io.stdout");
    cx.ret1(stdout)
}

/// Reads one item of format `fmt` from standard input.
fn read_one<'gc>(cx: &mut NCtx<'_, 'gc>, fmt: &[u8]) -> Result<Value<'gc>, RtError<'gc>> {
    let _ = cx.ctx.state.stdout.borrow_mut().flush();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let fmt = fmt.strip_prefix(b"*").unwrap_or(fmt);
    match fmt.first() {
        Some(b'l') | Some(b'L') => {
            let mut line = Vec::new();
            let n = input
                .read_until(b'\n', &mut line)
                .map_err(|e| RtError::msg(e.to_string()))?;
            if n == 0 {
                return Ok(Value::Nil);
            }
            if fmt[0] == b'l' && line.last() == Some(&b'\n') {
                line.pop();
            }
            Ok(cx.ctx.bytes(&line))
        }
        Some(b'a') => {
            let mut all = Vec::new();
            input
                .read_to_end(&mut all)
                .map_err(|e| RtError::msg(e.to_string()))?;
            Ok(cx.ctx.bytes(&all))
        }
        Some(b'n') => {
            let mut line = Vec::new();
            let n = input
                .read_until(b'\n', &mut line)
                .map_err(|e| RtError::msg(e.to_string()))?;
            if n == 0 {
                return Ok(Value::Nil);
            }
            Ok(crate::lualib::number::str_to_number(&line)
                .map(Value::from_number)
                .unwrap_or(Value::Nil))
        }
        _ => Err(cx.arg_error(0, "invalid format")),
    }
}

fn read<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let fmts: Vec<Value<'gc>> = if cx.nargs() == 0 {
        vec![cx.ctx.str("l")]
    } else {
        cx.args().to_vec()
    };
    let mut results = Vec::with_capacity(fmts.len());
    for (i, f) in fmts.into_iter().enumerate() {
        let v = match f {
            Value::String(s) => read_one(cx, s.as_bytes())?,
            Value::Integer(n) => {
                let mut buf = vec![0u8; n.max(0) as usize];
                let got = std::io::stdin()
                    .lock()
                    .read(&mut buf)
                    .map_err(|e| RtError::msg(e.to_string()))?;
                if got == 0 && n > 0 {
                    Value::Nil
                } else {
                    cx.ctx.bytes(&buf[..got])
                }
            }
            _ => return Err(cx.arg_error(i, "invalid format")),
        };
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

fn lines<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    if !cx.arg(0).is_nil() {
        return Err(RtError::msg(
            "io.lines with a file name is not available here",
        ));
    }
    let iter = cx.ctx.state.registry.get_str(cx.ctx, "io.lines.iterator");
    cx.ret1(iter)
}

pub fn lines_iter<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let v = read_one(cx, b"l")?;
    cx.ret1(v)
}
