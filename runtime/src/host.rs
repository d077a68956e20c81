//! The host side of resources: OS sockets keyed by id, and the channel
//! through which tokio reports finished operations back to the VM thread.
//!
//! The heap only holds descriptors ([`crate::sched::Resource`]); what
//! cannot be checkpointed (sockets, futures) lives here. An operation that
//! cannot complete at once is spawned on tokio with the waiting task's id
//! and wait sequence; its [`Completion`] wakes the task.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;

use crate::convert::LuaValue;

/// An open connection: the socket, what was read but not consumed, and
/// what was written but not yet taken by the OS.
pub struct HostConn {
    pub stream: Arc<TcpStream>,
    pub rbuf: Vec<u8>,
    /// Consumed prefix of `rbuf`.
    pub rpos: usize,
    pub wbuf: Vec<u8>,
    /// What the parked read (if any) waits to complete.
    pub read_mode: crate::stdlib::net::ReadMode,
    /// Dropped with the connection: every wait holding the socket then
    /// ends, so closing takes effect even for waits not yet polled.
    pub closer: watch::Sender<()>,
    /// Output commit: bytes written during epoch `e`, held until the
    /// replica has acknowledged `e`.
    pub gated: std::collections::VecDeque<(u64, Vec<u8>)>,
    /// Closed by the script while output was still held: dropped once
    /// everything is written.
    pub close_when_flushed: bool,
}

pub struct HostListener {
    pub listener: Arc<TcpListener>,
    /// As [`HostConn::closer`].
    pub closer: watch::Sender<()>,
}

impl HostConn {
    pub fn buffered(&self) -> &[u8] {
        &self.rbuf[self.rpos..]
    }

    pub fn consume(&mut self, n: usize) {
        self.rpos += n;
        if self.rpos == self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        }
    }
}

/// What a finished host operation reports.
pub enum Event {
    /// A connection with released output became writable again (the
    /// completion's `seq` is the connection's host id; no task waits).
    Flush,
    /// The socket became readable or writable: retry the operation.
    Ready,
    Accepted(std::io::Result<(TcpStream, SocketAddr)>),
    Connected(std::io::Result<TcpStream>),
    /// An async native finished.
    Native(Result<Vec<LuaValue>, String>),
}

pub struct Completion {
    pub task: u64,
    pub seq: u64,
    pub event: Event,
}

#[derive(Default)]
pub struct Host {
    next_id: u64,
    pub listeners: HashMap<u64, HostListener>,
    pub conns: HashMap<u64, HostConn>,
    /// Where spawned operations report; set by the runtime.
    pub completions: Option<UnboundedSender<Completion>>,
    /// Operations spawned and not yet reported: while any is out, a run
    /// with every task parked is waiting, not deadlocked.
    pub pending: usize,
    /// Registered Rust functions, by stable name.
    pub functions: HashMap<&'static str, crate::convert::HostFn>,
    pub async_functions: HashMap<&'static str, crate::convert::AsyncHostFn>,
    /// Whether scripts may use `net`.
    pub allow_net: bool,
    /// Output commit: the epoch output written now belongs to (the next
    /// checkpoint's), or None when output goes out at once.
    pub output_epoch: Option<u64>,
}

impl Host {
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Runs `op` on tokio; its event wakes task `task` if it still waits
    /// with `seq`.
    pub fn spawn<F>(&mut self, task: u64, seq: u64, op: F)
    where
        F: std::future::Future<Output = Event> + Send + 'static,
    {
        let Some(tx) = self.completions.clone() else {
            return;
        };
        self.pending += 1;
        tokio::spawn(async move {
            let event = op.await;
            // The runtime may be gone; nothing is waiting then.
            let _ = tx.send(Completion { task, seq, event });
        });
    }
}

/// The native behind every function registered with
/// [`crate::Runtime::register`]: its upvalue is the stable name.
pub fn call_host<'gc>(
    cx: &mut crate::native::NCtx<'_, 'gc>,
) -> Result<crate::native::Action<'gc>, crate::native::RtError<'gc>> {
    let f = {
        let name = registered_name(cx)?;
        let host = cx.ctx.state.host.borrow();
        host.functions.get(name.as_str()).cloned()
    };
    let Some(f) = f else {
        return Err(crate::native::RtError::msg(
            "function not registered in this runtime",
        ));
    };
    let args = cx.args().iter().map(|v| LuaValue::from_value(*v)).collect();
    let results = f(args).map_err(crate::native::RtError::msg)?;
    cx.clear();
    for v in &results {
        let v = v.to_value(cx.ctx);
        cx.push(v);
    }
    Ok(crate::native::Action::Return)
}

/// The native behind functions registered with
/// [`crate::Runtime::register_async`]: parks the task while the future runs.
pub fn call_host_async<'gc>(
    cx: &mut crate::native::NCtx<'_, 'gc>,
) -> Result<crate::native::Action<'gc>, crate::native::RtError<'gc>> {
    let name = registered_name(cx)?;
    let f = cx
        .ctx
        .state
        .host
        .borrow()
        .async_functions
        .get(name.as_str())
        .cloned();
    let Some(f) = f else {
        return Err(crate::native::RtError::msg(
            "function not registered in this runtime",
        ));
    };
    let args = cx.args().iter().map(|v| LuaValue::from_value(*v)).collect();
    let future = f(args);
    let w = crate::stdlib::task::begin_wait(cx, crate::sched::Wait::AsyncFunction)?;
    let task = w.task.borrow().id;
    cx.ctx
        .state
        .host
        .borrow_mut()
        .spawn(task, w.seq, async move { Event::Native(future.await) });
    crate::stdlib::task::park(cx)
}

fn registered_name<'gc>(
    cx: &crate::native::NCtx<'_, 'gc>,
) -> Result<String, crate::native::RtError<'gc>> {
    match cx.upvalues.first() {
        Some(crate::value::Value::String(s)) => Ok(s.to_str_lossy().into_owned()),
        _ => Err(crate::native::RtError::msg(
            "a registered function lost its name",
        )),
    }
}
