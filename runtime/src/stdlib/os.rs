//! The os library: time, clock, date, getenv, difftime. Running commands,
//! exiting and touching files (execute, exit, remove, rename) are left
//! out on purpose: scripts are sandboxed. `tmpname` creates its file as
//! lua5.4's (mkstemp) does, and only when files are allowed.
//!
//! Time zones: there is no libc here, so local time is treated as UTC
//! (`os.date` without `!` and `os.time` with a table behave as on a
//! machine whose zone is UTC, which is what the conformance machine uses).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::lualib::date::{self, Tm};
use crate::native::{Action, NCtx, NativeFn, RtError};
use crate::table::Table;
use crate::value::Value;

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[
    ("os.time", time),
    ("os.clock", clock),
    ("os.date", date_),
    ("os.getenv", getenv),
    ("os.difftime", difftime),
    ("os.tmpname", tmpname),
    ("os.setlocale", setlocale),
    ("os.remove", remove),
    ("os.exit", exit),
    ("os.rename", rename),
];

fn now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Reads a date-table field as lua5.4's `getfield` does: `d` is the
/// default (None: required) and `delta` is subtracted, the result must
/// fit a C int.
fn get_field<'gc>(
    cx: &NCtx<'_, 'gc>,
    t: Table<'gc>,
    key: &str,
    d: Option<i64>,
    delta: i64,
) -> Result<i64, RtError<'gc>> {
    let v = t.get_str(cx.ctx, key);
    match v.to_integer() {
        Some(res) => {
            let ok = if res >= 0 {
                res - delta <= i64::from(i32::MAX)
            } else {
                i64::from(i32::MIN) + delta <= res
            };
            if !ok {
                return Err(RtError::Message(format!("field '{key}' is out-of-bound")));
            }
            Ok(res - delta)
        }
        None if !v.is_nil() => Err(RtError::Message(format!("field '{key}' is not an integer"))),
        None => d.ok_or_else(|| RtError::Message(format!("field '{key}' missing in date table"))),
    }
}

/// lua5.4's `setallfields`.
fn set_all_fields<'gc>(cx: &NCtx<'_, 'gc>, t: Table<'gc>, tm: &Tm) {
    let ctx = cx.ctx;
    for (k, v) in [
        ("year", tm.year),
        ("month", tm.month),
        ("day", tm.day),
        ("hour", tm.hour),
        ("min", tm.min),
        ("sec", tm.sec),
        ("yday", tm.yday + 1),
        ("wday", tm.wday + 1),
    ] {
        t.set_str(ctx, k, Value::Integer(v));
    }
    t.set_str(ctx, "isdst", Value::Boolean(false));
}

fn time<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    if cx.arg(0).is_nil() {
        return cx.ret1(Value::Integer(now()));
    }
    let t = cx.check_table(0)?;
    // Same order as lua5.4, so the same missing field is reported.
    let year = get_field(cx, t, "year", None, 1900)?;
    let month = get_field(cx, t, "month", None, 1)?;
    let day = get_field(cx, t, "day", None, 0)?;
    let hour = get_field(cx, t, "hour", Some(12), 0)?;
    let min = get_field(cx, t, "min", Some(0), 0)?;
    let sec = get_field(cx, t, "sec", Some(0), 0)?;
    let r = date::timegm(year + 1900, month + 1, day, hour, min, sec);
    // mktime's -1 means failure, so lua5.4 refuses that second too.
    let Some(secs) = r.filter(|&s| s != -1) else {
        return Err(RtError::msg(
            "time result cannot be represented in this installation",
        ));
    };
    if let Some(tm) = date::gmtime(secs) {
        set_all_fields(cx, t, &tm);
    }
    cx.ret1(Value::Integer(secs))
}

/// CPU time of the process from /proc (utime + stime in clock ticks,
/// which are 100 Hz on Linux), as C's `clock()` measures. Where /proc is
/// missing, wall time since the first call stands in.
fn cpu_seconds() -> f64 {
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the parenthesised command name (which may hold
        // spaces): state is field 3, utime 14 and stime 15.
        if let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 1..)) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            if let (Some(u), Some(s)) = (f.get(11), f.get(12)) {
                if let (Ok(u), Ok(s)) = (u.parse::<u64>(), s.parse::<u64>()) {
                    return (u + s) as f64 / 100.0;
                }
            }
        }
    }
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

fn clock<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    cx.ret1(Value::Number(cpu_seconds()))
}

fn date_<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let fmt = cx.opt_str(0)?;
    let fmt: &[u8] = fmt.map(|s| s.as_bytes()).unwrap_or(b"%c");
    let t = if cx.arg(1).is_nil() {
        now()
    } else {
        cx.check_int(1)?
    };
    // Local time is UTC here (see the module comment); only `%Z` tells
    // them apart, as glibc names the zones differently.
    let (utc, fmt) = match fmt.split_first() {
        Some((b'!', rest)) => (true, rest),
        _ => (false, fmt),
    };
    let Some(tm) = date::gmtime(t) else {
        return Err(RtError::msg(
            "date result cannot be represented in this installation",
        ));
    };
    // lua5.4 compares with strcmp: the format ends at a NUL.
    let cfmt = &fmt[..fmt.iter().position(|&c| c == 0).unwrap_or(fmt.len())];
    if cfmt == b"*t" {
        let t = Table::new(cx.ctx);
        set_all_fields(cx, t, &tm);
        return cx.ret1(Value::Table(t));
    }
    let out = date::strftime(fmt, &tm, utc).map_err(|m| cx.arg_error(0, m))?;
    let r = cx.ctx.bytes(&out);
    cx.ret1(r)
}

fn getenv<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let name = cx.check_str(0)?;
    let b = name.as_bytes();
    // Names with '=' or NUL cannot be looked up (and would upset the OS).
    if b.is_empty() || b.contains(&0) || b.contains(&b'=') {
        return cx.ret1(Value::Nil);
    }
    match std::env::var_os(std::ffi::OsStr::from_bytes(b)) {
        Some(v) => {
            let r = cx.ctx.bytes(&v.into_vec());
            cx.ret1(r)
        }
        None => cx.ret1(Value::Nil),
    }
}

fn difftime<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let t1 = cx.check_int(0)?;
    let t2 = cx.check_int(1)?;
    cx.ret1(Value::Number(t1 as f64 - t2 as f64))
}

/// `true`, or `nil, "name: message", errno` as lua5.4's `luaL_fileresult`.
fn file_result<'gc>(cx: &mut NCtx<'_, 'gc>, name: &str, r: std::io::Result<()>) -> R<'gc> {
    match r {
        Ok(()) => cx.ret1(Value::Boolean(true)),
        Err(e) => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
            let msg = cx.ctx.str(&format!("{name}: {text}"));
            cx.clear();
            cx.push(Value::Nil);
            cx.push(msg);
            cx.push(Value::Integer(e.raw_os_error().unwrap_or(0) as i64));
            Ok(Action::Return)
        }
    }
}

fn files_allowed<'gc>(cx: &NCtx<'_, 'gc>) -> std::io::Result<()> {
    if cx.ctx.state.allow_files.get() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "file access is disabled",
        ))
    }
}

/// `os.exit([code [, close]])`: ends the program (not the host process:
/// the embedder receives `Error::Exit`). `true` is 0, `false` is 1.
fn exit<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let code = match cx.arg(0) {
        Value::Nil | Value::Boolean(true) => 0,
        Value::Boolean(false) => 1,
        _ => cx.check_int(0)? as i32,
    };
    Ok(Action::Exit(code))
}

fn remove<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let name = cx.check_str(0)?.to_str_lossy().into_owned();
    let r = files_allowed(cx).and_then(|()| {
        // remove(3) deletes files and empty directories alike.
        std::fs::remove_file(&name).or_else(|e| std::fs::remove_dir(&name).map_err(|_| e))
    });
    file_result(cx, &name, r)
}

fn rename<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let from = cx.check_str(0)?.to_str_lossy().into_owned();
    let to = cx.check_str(1)?.to_str_lossy().into_owned();
    let r = files_allowed(cx).and_then(|()| std::fs::rename(&from, &to));
    file_result(cx, &from, r)
}

fn tmpname<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let fail = || RtError::msg("unable to generate a unique filename");
    if !cx.ctx.state.allow_files.get() {
        return Err(fail());
    }
    // mkstemp's "/tmp/lua_XXXXXX": six characters from a mix of the
    // clock, the process id and a counter, retried on collision.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut x = (u64::from(nanos) ^ (u64::from(std::process::id()) << 20))
            .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut name = String::from("/tmp/lua_");
        for _ in 0..6 {
            name.push(char::from(CHARS[(x % CHARS.len() as u64) as usize]));
            x /= CHARS.len() as u64;
        }
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&name);
        if created.is_ok() {
            let r = cx.ctx.str(&name);
            return cx.ret1(r);
        }
    }
    Err(fail())
}

/// Only the C locale exists: asking for it (or for the default, `""`)
/// succeeds, anything else fails as an unknown locale does.
fn setlocale<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let loc = cx.opt_str(0)?;
    let cat = cx.opt_str(1)?;
    if let Some(c) = cat {
        let ok = [
            b"all" as &[u8],
            b"collate",
            b"ctype",
            b"monetary",
            b"numeric",
            b"time",
        ]
        .contains(&c.as_bytes());
        if !ok {
            let msg = format!("invalid option '{}'", c.to_str_lossy());
            return Err(cx.arg_error(1, msg));
        }
    }
    let r = match loc.map(|l| l.as_bytes()) {
        None | Some(b"" | b"C" | b"POSIX") => cx.ctx.str("C"),
        Some(_) => Value::Nil,
    };
    cx.ret1(r)
}
