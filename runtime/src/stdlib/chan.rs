//! The `chan` library: channels between tasks ([`crate::sched::chan`]).

use crate::native::{Action, NCtx, NativeFn, RtError};
use crate::sched::chan::{self, Channel, SendOutcome};
use crate::sched::{self, UserKind, Wait, Waiter};
use crate::value::Value;

use super::task::{begin_wait, park};

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[
    ("chan.new", new),
    ("chan.select", select),
    ("chan.channel.send", send),
    ("chan.channel.recv", recv),
    ("chan.channel.close", close),
    ("chan.channel.len", len),
    ("chan.channel.cap", cap),
    ("chan.channel.tostring", tostring),
];

/// Registry key of the channels' metatable.
pub const META: &str = "chan.channel";

fn as_channel<'gc>(v: Value<'gc>) -> Option<Channel<'gc>> {
    match v {
        Value::UserData(u) => match &u.kind {
            UserKind::Channel(c) => Some(*c),
            _ => None,
        },
        _ => None,
    }
}

fn check_channel<'gc>(cx: &NCtx<'_, 'gc>, i: usize) -> Result<Channel<'gc>, RtError<'gc>> {
    as_channel(cx.arg(i)).ok_or_else(|| cx.type_error(i, "channel"))
}

fn new<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let cap = cx.opt_int(0, 0)?;
    let cap = usize::try_from(cap).map_err(|_| cx.arg_error(0, "capacity must be >= 0"))?;
    let ch = chan::new(cx.ctx, cap);
    let v = super::userdata(cx.ctx, META, UserKind::Channel(ch));
    cx.ret1(v)
}

fn closed_error<'gc>() -> RtError<'gc> {
    RtError::msg("send on closed channel")
}

fn send<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let ch = check_channel(cx, 0)?;
    let v = cx.arg(1);
    match chan::try_send(cx.ctx, ch, v) {
        SendOutcome::Sent => cx.ret0(),
        SendOutcome::Closed => Err(closed_error()),
        SendOutcome::WouldBlock => {
            let w = begin_wait(cx, Wait::ChanSend)?;
            chan::state_mut(cx.ctx, ch).sendq.push_back((w, v));
            park(cx)
        }
    }
}

fn recv<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let ch = check_channel(cx, 0)?;
    match chan::try_recv(cx.ctx, ch) {
        Some((v, ok)) => cx.ret2(v, Value::Boolean(ok)),
        None => {
            let w = begin_wait(cx, Wait::ChanRecv)?;
            chan::state_mut(cx.ctx, ch).recvq.push_back(w);
            park(cx)
        }
    }
}

fn close<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let ch = check_channel(cx, 0)?;
    chan::close(cx.ctx, ch).map_err(RtError::msg)?;
    cx.ret0()
}

fn len<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let ch = check_channel(cx, 0)?;
    let n = ch.borrow().buf.len();
    cx.ret1(Value::Integer(n as i64))
}

fn cap<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let ch = check_channel(cx, 0)?;
    let n = ch.borrow().cap;
    cx.ret1(Value::Integer(n as i64))
}

fn tostring<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    check_channel(cx, 0)?;
    let Value::UserData(u) = cx.arg(0) else {
        unreachable!("checked above")
    };
    let text = format!("channel {}", u.id);
    let v = cx.ctx.str(&text);
    cx.ret1(v)
}

/// One case of a select.
enum Case<'gc> {
    Recv(Channel<'gc>),
    Send(Channel<'gc>, Value<'gc>),
}

/// `chan.select{ {ch, "recv"}, {ch2, "send", v}, timeout = secs }`: waits
/// until one case can proceed and runs it (the first ready one, in order).
/// Returns `i, value, ok` for a receive, `i` for a send, nothing (nil)
/// when the timeout passed first. `timeout = 0` never waits.
fn select<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let spec = cx.check_table(0)?;
    let mut cases = Vec::new();
    for i in 1..=spec.length() {
        let Value::Table(c) = spec.get_int(i) else {
            return Err(cx.arg_error(0, format!("case {i} is not a table")));
        };
        let Some(ch) = as_channel(c.get_int(1)) else {
            return Err(cx.arg_error(0, format!("case {i} has no channel")));
        };
        let op = c.get_int(2);
        let case = match op {
            Value::String(s) if s.as_bytes() == b"recv" => Case::Recv(ch),
            Value::String(s) if s.as_bytes() == b"send" => Case::Send(ch, c.get_int(3)),
            _ => {
                return Err(cx.arg_error(0, format!("case {i}: operation must be 'recv' or 'send'")))
            }
        };
        cases.push(case);
    }
    let timeout = match spec.get_str(cx.ctx, "timeout") {
        Value::Nil => None,
        v => Some(
            v.to_float()
                .ok_or_else(|| cx.arg_error(0, "timeout must be a number"))?,
        ),
    };
    for (i, case) in cases.iter().enumerate() {
        let index = Value::Integer(i as i64 + 1);
        match *case {
            Case::Recv(ch) => {
                if let Some((v, ok)) = chan::try_recv(cx.ctx, ch) {
                    cx.clear();
                    cx.push(index);
                    cx.push(v);
                    cx.push(Value::Boolean(ok));
                    return Ok(Action::Return);
                }
            }
            Case::Send(ch, v) => match chan::try_send(cx.ctx, ch, v) {
                SendOutcome::Sent => return cx.ret1(index),
                SendOutcome::Closed => return Err(closed_error()),
                SendOutcome::WouldBlock => {}
            },
        }
    }
    if timeout.is_some_and(|t| t.is_nan() || t <= 0.0) {
        return cx.ret0();
    }
    let w = begin_wait(cx, Wait::Select)?;
    for (i, case) in cases.iter().enumerate() {
        let waiter = Waiter {
            case: i as u32 + 1,
            ..w
        };
        match *case {
            Case::Recv(ch) => chan::state_mut(cx.ctx, ch).recvq.push_back(waiter),
            Case::Send(ch, v) => chan::state_mut(cx.ctx, ch).sendq.push_back((waiter, v)),
        }
    }
    if let Some(t) = timeout {
        let deadline = sched::deadline_after(cx.ctx, t);
        sched::add_timer(cx.ctx, deadline, w);
    }
    park(cx)
}
