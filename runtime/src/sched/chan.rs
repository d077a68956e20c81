//! Channels: Go's semantics. A buffered channel holds up to `cap` values;
//! an unbuffered one (cap 0) hands a value over only when a sender and a
//! receiver meet. Receivers of a closed channel drain the buffer, then get
//! `nil, false`; senders on a closed channel fail.

use std::collections::VecDeque;

use gc_arena::{lock::RefLock, Collect, Gc};

use super::{wake, Waiter};
use crate::state::Ctx;
use crate::value::Value;

pub type Channel<'gc> = Gc<'gc, RefLock<ChannelState<'gc>>>;

#[derive(Collect)]
#[collect(no_drop)]
pub struct ChannelState<'gc> {
    pub id: u64,
    pub cap: usize,
    pub buf: VecDeque<Value<'gc>>,
    pub closed: bool,
    pub recvq: VecDeque<Waiter<'gc>>,
    pub sendq: VecDeque<(Waiter<'gc>, Value<'gc>)>,
    /// The epoch this channel was last recorded dirty in.
    #[collect(require_static)]
    pub dirty_stamp: std::cell::Cell<u64>,
}

/// The channel's state for changing it; the change is recorded for the
/// next heap-image delta.
pub fn state_mut<'gc>(
    ctx: Ctx<'gc>,
    ch: Channel<'gc>,
) -> std::cell::RefMut<'gc, ChannelState<'gc>> {
    let c = ch.borrow_mut(ctx.mc);
    ctx.note_dirty(c.id, &c.dirty_stamp, || crate::state::Dirty::Channel(ch));
    c
}

pub fn new<'gc>(ctx: Ctx<'gc>, cap: usize) -> Channel<'gc> {
    Gc::new(
        ctx.mc,
        RefLock::new(ChannelState {
            id: ctx.next_id(),
            cap,
            buf: VecDeque::new(),
            closed: false,
            recvq: VecDeque::new(),
            sendq: VecDeque::new(),
            dirty_stamp: Default::default(),
        }),
    )
}

/// What a waiter of case `case` receives: `v, ok` for a plain receive
/// (case 0), `case, v, ok` for a select.
fn recv_delivery<'gc>(case: u32, v: Value<'gc>, ok: bool) -> Vec<Value<'gc>> {
    if case == 0 {
        vec![v, Value::Boolean(ok)]
    } else {
        vec![Value::Integer(case as i64), v, Value::Boolean(ok)]
    }
}

fn send_delivery<'gc>(case: u32) -> Vec<Value<'gc>> {
    if case == 0 {
        Vec::new()
    } else {
        vec![Value::Integer(case as i64)]
    }
}

pub enum SendOutcome {
    Sent,
    Closed,
    WouldBlock,
}

/// Sends without waiting: to a waiting receiver, else into the buffer.
pub fn try_send<'gc>(ctx: Ctx<'gc>, ch: Channel<'gc>, v: Value<'gc>) -> SendOutcome {
    if ch.borrow().closed {
        return SendOutcome::Closed;
    }
    loop {
        let w = state_mut(ctx, ch).recvq.pop_front();
        match w {
            Some(w) => {
                if wake(ctx, w, Ok(recv_delivery(w.case, v, true))) {
                    return SendOutcome::Sent;
                }
            }
            None => break,
        }
    }
    let mut c = state_mut(ctx, ch);
    if c.buf.len() < c.cap {
        c.buf.push_back(v);
        SendOutcome::Sent
    } else {
        SendOutcome::WouldBlock
    }
}

/// Receives without waiting: `Some((v, true))`, `Some((nil, false))` when
/// closed and drained, None when a receive would block.
pub fn try_recv<'gc>(ctx: Ctx<'gc>, ch: Channel<'gc>) -> Option<(Value<'gc>, bool)> {
    let buffered = state_mut(ctx, ch).buf.pop_front();
    // A parked sender moves its value into the freed slot, or hands it
    // over directly on an unbuffered channel.
    loop {
        let s = state_mut(ctx, ch).sendq.pop_front();
        let Some((w, v)) = s else { break };
        if !w.is_live() {
            continue;
        }
        wake(ctx, w, Ok(send_delivery(w.case)));
        match buffered {
            Some(b) => {
                state_mut(ctx, ch).buf.push_back(v);
                return Some((b, true));
            }
            None => return Some((v, true)),
        }
    }
    if let Some(b) = buffered {
        return Some((b, true));
    }
    if ch.borrow().closed {
        return Some((Value::Nil, false));
    }
    None
}

/// Closes the channel: receivers wake with `nil, false`, senders with an
/// error. Err when it was already closed.
pub fn close<'gc>(ctx: Ctx<'gc>, ch: Channel<'gc>) -> Result<(), &'static str> {
    let (recvq, sendq) = {
        let mut c = state_mut(ctx, ch);
        if c.closed {
            return Err("close of closed channel");
        }
        c.closed = true;
        (std::mem::take(&mut c.recvq), std::mem::take(&mut c.sendq))
    };
    for w in recvq {
        wake(ctx, w, Ok(recv_delivery(w.case, Value::Nil, false)));
    }
    for (w, _) in sendq {
        wake(ctx, w, Err(ctx.str("send on closed channel")));
    }
    Ok(())
}
