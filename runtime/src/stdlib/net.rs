//! The `net` library: TCP listeners and connections as resources. The
//! heap holds a descriptor ([`Resource`]); the socket lives in the host
//! table ([`crate::host::Host`]).
//!
//! Convention: every operation returns its result on success and
//! `nil, message` on failure (refused, reset, end of stream as
//! `"closed"`), like the io library. Misuse (a wrong argument, an already
//! closed handle) raises an error.
//!
//! An operation that cannot finish at once parks the task and waits on
//! tokio for the socket to become ready, then retries: the VM thread never
//! blocks, and other tasks run meanwhile.

use std::io::ErrorKind;
use std::sync::Arc;

use gc_arena::{lock::RefLock, Gc};
use tokio::io::Interest;
use tokio::net::{TcpListener, TcpStream};

use crate::host::{Event, HostConn, HostListener};
use crate::native::{Action, Cont, NCtx, NativeFn, RtError};
use crate::sched::{Resource, ResourceKind, UserKind, Wait};
use crate::state::Ctx;
use crate::value::Value;

use super::task::begin_wait;

type R<'gc> = Result<Action<'gc>, RtError<'gc>>;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[
    ("net.listen", listen),
    ("net.connect", connect),
    ("net.listener.accept", accept),
    ("net.listener.addr", addr),
    ("net.listener.close", close),
    ("net.listener.tostring", tostring),
    ("net.conn.read", read),
    ("net.conn.read_line", read_line),
    ("net.conn.read_exact", read_exact),
    ("net.conn.write", write),
    ("net.conn.close", close),
    ("net.conn.peer", addr),
    ("net.conn.tostring", tostring),
    ("net.conn.read.retry", read_retry),
    ("net.conn.write.retry", write_retry),
    ("net.listener.accept.done", accept_done),
];

pub const LISTENER_META: &str = "net.listener";
pub const CONN_META: &str = "net.conn";

/// The message of operations on connections a failover cut.
pub const LOST: &str = "connection lost in failover";

/// Largest single read (bytes).
const READ_CHUNK: usize = 64 * 1024;

type ResourceRef<'gc> = Gc<'gc, RefLock<Resource>>;

fn check_resource<'gc>(
    cx: &NCtx<'_, 'gc>,
    i: usize,
    kind: ResourceKind,
) -> Result<ResourceRef<'gc>, RtError<'gc>> {
    let expected = match kind {
        ResourceKind::Listener => "listener",
        ResourceKind::Conn => "connection",
    };
    let r = match cx.arg(i) {
        Value::UserData(u) => match &u.kind {
            UserKind::Resource(r) if r.borrow().kind == kind => *r,
            _ => return Err(cx.type_error(i, expected)),
        },
        _ => return Err(cx.type_error(i, expected)),
    };
    if r.borrow().closed {
        return Err(RtError::msg(format!("attempt to use a closed {expected}")));
    }
    Ok(r)
}

/// Records that a resource's descriptor changed (closed, re-opened).
fn touch<'gc>(ctx: Ctx<'gc>, v: Value<'gc>) {
    if let Value::UserData(u) = v {
        ctx.note_dirty(u.id, &u.dirty_stamp, || crate::state::Dirty::UserData(u));
    }
}

fn check_net<'gc>(cx: &NCtx<'_, 'gc>) -> Result<(), RtError<'gc>> {
    if cx.ctx.state.host.borrow().allow_net {
        Ok(())
    } else {
        Err(RtError::msg("network access is disabled in this runtime"))
    }
}

fn fail<'gc>(cx: &mut NCtx<'_, 'gc>, msg: &str) -> R<'gc> {
    let m = cx.ctx.str(msg);
    cx.ret2(Value::Nil, m)
}

pub fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        ErrorKind::ConnectionReset => "connection reset".to_owned(),
        ErrorKind::BrokenPipe | ErrorKind::NotConnected => "closed".to_owned(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_owned(),
                None => s,
            }
        }
    }
}

fn descriptor<'gc>(ctx: Ctx<'gc>, kind: ResourceKind, host_id: u64, addr: String) -> Value<'gc> {
    let meta = match kind {
        ResourceKind::Listener => LISTENER_META,
        ResourceKind::Conn => CONN_META,
    };
    let r = Gc::new(
        ctx.mc,
        RefLock::new(Resource {
            kind,
            host_id,
            addr,
            closed: false,
        }),
    );
    super::userdata(ctx, meta, UserKind::Resource(r))
}

/// Registers an accepted or connected stream and makes its descriptor.
pub fn new_conn<'gc>(ctx: Ctx<'gc>, stream: TcpStream) -> Value<'gc> {
    let _ = stream.set_nodelay(true);
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let id = {
        let mut host = ctx.state.host.borrow_mut();
        let id = host.next_id();
        host.conns.insert(
            id,
            HostConn {
                stream: Arc::new(stream),
                rbuf: Vec::new(),
                rpos: 0,
                wbuf: Vec::new(),
                read_mode: ReadMode::Any(0),
                closer: tokio::sync::watch::channel(()).0,
                gated: Default::default(),
                close_when_flushed: false,
            },
        );
        id
    };
    descriptor(ctx, ResourceKind::Conn, id, peer)
}

fn listen<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    check_net(cx)?;
    let addr = cx.check_str(0)?.to_str_lossy().into_owned();
    match bind(cx.ctx, &addr) {
        Ok((id, local)) => {
            let v = descriptor(cx.ctx, ResourceKind::Listener, id, local);
            cx.ret1(v)
        }
        Err(e) => fail(cx, &format!("cannot listen on {addr}: {}", io_message(&e))),
    }
}

/// Binds `addr` and registers the listener; returns its host id and the
/// address it got.
fn bind(ctx: Ctx<'_>, addr: &str) -> std::io::Result<(u64, String)> {
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    let local = l.local_addr()?.to_string();
    let listener = TcpListener::from_std(l)?;
    let mut host = ctx.state.host.borrow_mut();
    let id = host.next_id();
    host.listeners.insert(
        id,
        HostListener {
            listener: Arc::new(listener),
            closer: tokio::sync::watch::channel(()).0,
        },
    );
    Ok((id, local))
}

fn accept<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let listener_value = cx.arg(0);
    let r = check_resource(cx, 0, ResourceKind::Listener)?;
    let mut host_id = r.borrow().host_id;
    if !cx.ctx.state.host.borrow().listeners.contains_key(&host_id) {
        // Restored from an image: re-open on the recorded address.
        let addr = r.borrow().addr.clone();
        match bind(cx.ctx, &addr) {
            Ok((id, _)) => {
                touch(cx.ctx, listener_value);
                r.borrow_mut(cx.ctx.mc).host_id = id;
                host_id = id;
            }
            Err(e) => return fail(cx, &format!("cannot listen on {addr}: {}", io_message(&e))),
        }
    }
    let Some((listener, closer)) = cx
        .ctx
        .state
        .host
        .borrow()
        .listeners
        .get(&host_id)
        .map(|l| (l.listener.clone(), l.closer.subscribe()))
    else {
        return fail(cx, LOST);
    };
    let w = begin_wait(cx, Wait::Accept)?;
    let id = w.task.borrow().id;
    cx.ctx.state.host.borrow_mut().spawn(id, w.seq, async move {
        tokio::select! {
            r = listener.accept() => Event::Accepted(r),
            _ = closed(closer) => Event::Accepted(Err(ErrorKind::NotConnected.into())),
        }
    });
    cx.clear();
    Ok(Action::Park {
        cont: Cont::Step {
            step: accept_done,
            state: listener_value,
        },
    })
}

/// An accept's wait ended: with the new connection (or `nil, message`),
/// or with nothing when a restore woke it, and then it accepts again.
fn accept_done<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    if cx.nargs() > 0 {
        return Ok(Action::Return);
    }
    let listener = cx.state;
    cx.push(listener);
    accept(cx)
}

fn connect<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    check_net(cx)?;
    let addr = cx.check_str(0)?.to_str_lossy().into_owned();
    let w = begin_wait(cx, Wait::Connect)?;
    let id = w.task.borrow().id;
    cx.ctx.state.host.borrow_mut().spawn(id, w.seq, async move {
        Event::Connected(TcpStream::connect(addr).await)
    });
    cx.clear();
    Ok(Action::Park { cont: Cont::Return })
}

/// Argument `i` as a listener or connection, open or closed.
fn any_resource<'gc>(cx: &NCtx<'_, 'gc>, i: usize) -> Result<ResourceRef<'gc>, RtError<'gc>> {
    match cx.arg(i) {
        Value::UserData(u) => match &u.kind {
            UserKind::Resource(r) => Ok(*r),
            _ => Err(cx.type_error(i, "connection")),
        },
        _ => Err(cx.type_error(i, "connection")),
    }
}

fn addr<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let r = any_resource(cx, 0)?;
    let a = r.borrow().addr.clone();
    let v = cx.ctx.str(&a);
    cx.ret1(v)
}

fn close<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let r = any_resource(cx, 0)?;
    touch(cx.ctx, cx.arg(0));
    let (kind, id, was_closed) = {
        let mut res = r.borrow_mut(cx.ctx.mc);
        let was = res.closed;
        res.closed = true;
        (res.kind, res.host_id, was)
    };
    if !was_closed {
        let mut host = cx.ctx.state.host.borrow_mut();
        match kind {
            ResourceKind::Listener => {
                // Dropping it ends the accept waiting on it.
                host.listeners.remove(&id);
            }
            ResourceKind::Conn => {
                let held = host
                    .conns
                    .get(&id)
                    .is_some_and(|c| !c.gated.is_empty() || !c.wbuf.is_empty());
                if held && host.output_epoch.is_some() {
                    // Held output still goes out, then the socket closes.
                    if let Some(c) = host.conns.get_mut(&id) {
                        c.close_when_flushed = true;
                    }
                } else {
                    // Dropping it ends the waits holding the socket.
                    host.conns.remove(&id);
                }
            }
        }
    }
    cx.ret1(Value::Boolean(true))
}

fn tostring<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let r = any_resource(cx, 0)?;
    let r = r.borrow();
    let kind = match r.kind {
        ResourceKind::Listener => "listener",
        ResourceKind::Conn => "connection",
    };
    let state = if r.closed { " (closed)" } else { "" };
    let text = format!("{kind} {}{state}", r.addr);
    drop(r);
    let v = cx.ctx.str(&text);
    cx.ret1(v)
}

/// What a parked read is waiting to complete.
#[derive(Debug, Clone, Copy)]
pub enum ReadMode {
    /// Up to n bytes (at least one).
    Any(usize),
    /// A line, without its `\n` (or `\r\n`).
    Line,
    /// Exactly n bytes.
    Exact(usize),
}

enum ReadResult {
    Data(Vec<u8>),
    Closed,
    Failed(String),
    WouldBlock,
}

/// Serves `mode` from the buffer, reading from the socket (without
/// blocking) as long as it needs more.
fn try_read(conn: &mut HostConn, mode: ReadMode) -> ReadResult {
    loop {
        let buf = conn.buffered();
        let ready = match mode {
            ReadMode::Any(n) if !buf.is_empty() => Some((n.min(buf.len()), 0)),
            ReadMode::Line => buf.iter().position(|&b| b == b'\n').map(|i| {
                let cr = usize::from(i > 0 && buf[i - 1] == b'\r');
                (i - cr, cr + 1)
            }),
            ReadMode::Exact(n) if buf.len() >= n => Some((n, 0)),
            _ => None,
        };
        if let Some((take, skip)) = ready {
            let data = buf[..take].to_vec();
            conn.consume(take + skip);
            return ReadResult::Data(data);
        }
        // Reading into spare capacity spares zeroing a chunk per read.
        conn.rbuf.reserve(READ_CHUNK);
        let r = conn.stream.try_read_buf(&mut conn.rbuf);
        match r {
            Ok(0) => {
                let rest = conn.buffered();
                if matches!(mode, ReadMode::Line) && !rest.is_empty() {
                    let data = rest.to_vec();
                    conn.consume(data.len());
                    return ReadResult::Data(data);
                }
                return ReadResult::Closed;
            }
            Ok(_) => {}
            Err(e) => {
                if e.kind() == ErrorKind::WouldBlock {
                    return ReadResult::WouldBlock;
                }
                return ReadResult::Failed(io_message(&e));
            }
        }
    }
}

fn read_with<'gc>(cx: &mut NCtx<'_, 'gc>, conn_value: Value<'gc>, mode: ReadMode) -> R<'gc> {
    let r = check_resource(cx, 0, ResourceKind::Conn)?;
    let id = r.borrow().host_id;
    let result = {
        let mut host = cx.ctx.state.host.borrow_mut();
        match host.conns.get_mut(&id) {
            Some(conn) => try_read(conn, mode),
            None => ReadResult::Failed(LOST.to_owned()),
        }
    };
    match result {
        ReadResult::Data(d) => {
            let v = cx.ctx.bytes(&d);
            cx.ret1(v)
        }
        ReadResult::Closed => fail(cx, "closed"),
        ReadResult::Failed(m) => fail(cx, &m),
        ReadResult::WouldBlock => {
            if let Some(conn) = cx.ctx.state.host.borrow_mut().conns.get_mut(&id) {
                conn.read_mode = mode;
            }
            park_until_ready(cx, id, conn_value, Interest::READABLE, read_retry)
        }
    }
}

/// Completes when the resource whose closer `rx` watches is dropped.
async fn closed(mut rx: tokio::sync::watch::Receiver<()>) {
    while rx.changed().await.is_ok() {}
}

/// Parks the task until connection `id` is ready for `interest` (or is
/// closed), then `retry` runs with the connection as its state.
fn park_until_ready<'gc>(
    cx: &mut NCtx<'_, 'gc>,
    id: u64,
    conn_value: Value<'gc>,
    interest: Interest,
    retry: NativeFn,
) -> R<'gc> {
    let what = if interest.is_readable() {
        Wait::Read
    } else {
        Wait::Write
    };
    let w = begin_wait(cx, what)?;
    let task = w.task.borrow().id;
    let mut host = cx.ctx.state.host.borrow_mut();
    let Some(conn) = host.conns.get(&id) else {
        drop(host);
        return fail(cx, LOST);
    };
    let stream = conn.stream.clone();
    let closer = conn.closer.subscribe();
    host.spawn(task, w.seq, async move {
        tokio::select! {
            _ = stream.ready(interest) => {}
            _ = closed(closer) => {}
        }
        Event::Ready
    });
    drop(host);
    cx.clear();
    Ok(Action::Park {
        cont: Cont::Step {
            step: retry,
            state: conn_value,
        },
    })
}

/// Continues a parked read: the socket is readable (or closed).
fn read_retry<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let conn = cx.state;
    cx.clear();
    cx.push(conn);
    let mode = match check_resource(cx, 0, ResourceKind::Conn) {
        Ok(r) => {
            let id = r.borrow().host_id;
            let host = cx.ctx.state.host.borrow();
            match host.conns.get(&id) {
                Some(c) => c.read_mode,
                None => return fail(cx, LOST),
            }
        }
        Err(_) => return fail(cx, "closed"),
    };
    read_with(cx, conn, mode)
}

fn read<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let max = cx.opt_int(1, READ_CHUNK as i64)?;
    if max <= 0 {
        return Err(cx.arg_error(1, "size must be positive"));
    }
    read_with(cx, cx.arg(0), ReadMode::Any(max as usize))
}

fn read_line<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    read_with(cx, cx.arg(0), ReadMode::Line)
}

fn read_exact<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let n = cx.check_int(1)?;
    let n = usize::try_from(n).map_err(|_| cx.arg_error(1, "size must be >= 0"))?;
    read_with(cx, cx.arg(0), ReadMode::Exact(n))
}

enum WriteResult {
    Done,
    Failed(String),
    WouldBlock,
}

/// Writes what is queued without blocking.
fn flush_queued(conn: &mut HostConn) -> WriteResult {
    while !conn.wbuf.is_empty() {
        match conn.stream.try_write(&conn.wbuf) {
            Ok(0) => return WriteResult::Failed("closed".to_owned()),
            Ok(n) => {
                conn.wbuf.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return WriteResult::WouldBlock,
            Err(e) => {
                conn.wbuf.clear();
                return WriteResult::Failed(io_message(&e));
            }
        }
    }
    WriteResult::Done
}

fn write_queued<'gc>(cx: &mut NCtx<'_, 'gc>, conn_value: Value<'gc>, id: u64) -> R<'gc> {
    let result = {
        let mut host = cx.ctx.state.host.borrow_mut();
        match host.conns.get_mut(&id) {
            Some(conn) => flush_queued(conn),
            None => WriteResult::Failed(LOST.to_owned()),
        }
    };
    match result {
        WriteResult::Done => cx.ret1(Value::Boolean(true)),
        WriteResult::Failed(m) => fail(cx, &m),
        WriteResult::WouldBlock => {
            park_until_ready(cx, id, conn_value, Interest::WRITABLE, write_retry)
        }
    }
}

/// `conn:write(s, ...)`: writes every argument (strings or numbers);
/// returns true once all of it is handed to the OS.
fn write<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let r = check_resource(cx, 0, ResourceKind::Conn)?;
    let id = r.borrow().host_id;
    let conn_value = cx.arg(0);
    {
        let mut parts = Vec::with_capacity(cx.nargs().saturating_sub(1));
        for i in 1..cx.nargs() {
            parts.push(cx.check_str(i)?);
        }
        let mut host = cx.ctx.state.host.borrow_mut();
        let gate = host.output_epoch;
        if let Some(conn) = host.conns.get_mut(&id) {
            match gate {
                // Output commit: held until the replica has this epoch;
                // for the script the write is done.
                Some(epoch) => {
                    if conn.gated.back().is_none_or(|(e, _)| *e != epoch) {
                        conn.gated.push_back((epoch, Vec::new()));
                    }
                    let (_, held) = conn.gated.back_mut().expect("just ensured");
                    for p in parts {
                        held.extend_from_slice(p.as_bytes());
                    }
                    drop(host);
                    return cx.ret1(Value::Boolean(true));
                }
                None => {
                    for p in parts {
                        conn.wbuf.extend_from_slice(p.as_bytes());
                    }
                }
            }
        }
    }
    write_queued(cx, conn_value, id)
}

/// Output commit: moves the output of epochs up to `acked` to the sockets.
pub fn release_output(ctx: Ctx<'_>, acked: u64) {
    let ids: Vec<u64> = {
        let mut host = ctx.state.host.borrow_mut();
        let mut ids = Vec::new();
        for (id, conn) in host.conns.iter_mut() {
            let mut moved = false;
            while conn.gated.front().is_some_and(|(e, _)| *e <= acked) {
                let (_, bytes) = conn.gated.pop_front().expect("just checked");
                conn.wbuf.extend_from_slice(&bytes);
                moved = true;
            }
            if moved || (conn.close_when_flushed && conn.gated.is_empty()) {
                ids.push(*id);
            }
        }
        ids
    };
    for id in ids {
        flush_released(ctx, id);
    }
}

/// Writes released output of connection `id` without a task: what the
/// socket does not take now goes out when it becomes writable.
pub fn flush_released(ctx: Ctx<'_>, id: u64) {
    let mut host = ctx.state.host.borrow_mut();
    let Some(conn) = host.conns.get_mut(&id) else {
        return;
    };
    match flush_queued(conn) {
        WriteResult::WouldBlock => {
            let stream = conn.stream.clone();
            let closer = conn.closer.subscribe();
            host.spawn(0, id, async move {
                tokio::select! {
                    _ = stream.writable() => {}
                    _ = closed(closer) => {}
                }
                Event::Flush
            });
        }
        WriteResult::Done | WriteResult::Failed(_) => {
            let done = conn.gated.is_empty() && conn.wbuf.is_empty();
            if conn.close_when_flushed && done {
                host.conns.remove(&id);
            }
        }
    }
}

/// Whether output is held for an epoch later than `taken` (the last
/// checkpoint): then a checkpoint is due to let it out.
pub fn output_waiting(ctx: Ctx<'_>, taken: u64) -> bool {
    ctx.state
        .host
        .borrow()
        .conns
        .values()
        .any(|c| c.gated.back().is_some_and(|(e, _)| *e > taken))
}

/// Continues a parked write: the socket is writable (or closed).
fn write_retry<'gc>(cx: &mut NCtx<'_, 'gc>) -> R<'gc> {
    let conn = cx.state;
    cx.clear();
    cx.push(conn);
    match check_resource(cx, 0, ResourceKind::Conn) {
        Ok(r) => {
            let id = r.borrow().host_id;
            write_queued(cx, conn, id)
        }
        Err(_) => fail(cx, "closed"),
    }
}
