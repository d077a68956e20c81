//! Taking an image: a walk over the heap from the roots.
//!
//! A full image visits everything reachable. A delta starts from the roots,
//! the objects marked dirty during the epoch (tasks among them), and
//! follows references only into objects born since the previous epoch (id
//! at or above its high-water mark): clean old objects are never entered,
//! and objects born and dead within the epoch are never seen.

use std::collections::BTreeMap;

use hashbrown::HashSet;

use super::*;
use crate::native::Cont;
use crate::sched::{Delivery, Task, UserKind, Waiter};
use crate::state::{Ctx, Dirty};
use crate::table::Table;
use crate::thread::{Frame, UpvalueState};
use crate::value::Value;

/// The name of a continuation step function, from the natives' registry.
fn step_name(step: crate::native::NativeFn) -> String {
    crate::stdlib::all()
        .find(|(_, f)| std::ptr::fn_addr_eq(*f, step))
        .map(|(n, _)| (*n).to_owned())
        .unwrap_or_else(|| "<unregistered step>".to_owned())
}

/// One walk over the heap.
struct Walk<'gc> {
    /// Objects with an id below this are old: entered only when dirty.
    hwm: u64,
    seen: HashSet<u64>,
    queue: Vec<HeapRef<'gc>>,
    objects: BTreeMap<u64, Object>,
}

impl<'gc> Walk<'gc> {
    fn new(hwm: u64) -> Walk<'gc> {
        Walk {
            hwm,
            seen: HashSet::new(),
            queue: Vec::new(),
            objects: BTreeMap::new(),
        }
    }

    fn reach(&mut self, p: HeapRef<'gc>) -> u64 {
        let id = p.id();
        if id >= self.hwm && self.seen.insert(id) {
            self.queue.push(p);
        }
        id
    }

    /// Records `p` whatever its age (a dirty old object).
    fn force(&mut self, p: HeapRef<'gc>) {
        if self.seen.insert(p.id()) {
            self.queue.push(p);
        }
    }

    fn val(&mut self, v: Value<'gc>) -> Val {
        match v {
            Value::Nil => Val::Nil,
            Value::Boolean(b) => Val::Bool(b),
            Value::Integer(i) => Val::Int(i),
            Value::Number(f) => Val::Num(f),
            Value::String(s) => Val::Ref(self.reach(HeapRef::Str(s))),
            Value::Table(t) => Val::Ref(self.reach(HeapRef::Table(t))),
            Value::Closure(c) => Val::Ref(self.reach(HeapRef::Closure(c))),
            Value::Native(n) => Val::Ref(self.reach(HeapRef::Native(n))),
            Value::Thread(t) => Val::Ref(self.reach(HeapRef::Thread(t))),
            Value::UserData(u) => Val::Ref(self.reach(HeapRef::UserData(u))),
        }
    }

    fn vals(&mut self, vs: &[Value<'gc>]) -> Vec<Val> {
        vs.iter().map(|v| self.val(*v)).collect()
    }

    fn task(&mut self, t: Task<'gc>) -> u64 {
        self.reach(HeapRef::Task(t))
    }

    fn waiter(&mut self, w: &Waiter<'gc>) -> WaiterRecord {
        WaiterRecord {
            task: self.task(w.task),
            seq: w.seq,
            case: w.case,
        }
    }

    fn delivery(&mut self, d: &Delivery<'gc>) -> DeliveryRecord {
        match d {
            Ok(vs) => DeliveryRecord::Values(self.vals(vs)),
            Err(e) => DeliveryRecord::Error(self.val(*e)),
        }
    }

    fn drain(&mut self) {
        while let Some(p) = self.queue.pop() {
            let id = p.id();
            let obj = self.record(p);
            self.objects.insert(id, obj);
        }
    }

    fn table_record(&mut self, t: Table<'gc>) -> TableRecord {
        let data = t.data();
        let (array, entries) = data.parts();
        TableRecord {
            meta: data.metatable.map(|m| self.reach(HeapRef::Table(m))),
            array: array.iter().map(|v| self.val(*v)).collect(),
            entries: entries
                .iter()
                .map(|(k, v)| (self.val(*k), self.val(*v)))
                .collect(),
        }
    }

    /// The slots of `t` that changed since the last image.
    fn table_patch(&mut self, t: Table<'gc>) -> TablePatch {
        let data = t.data();
        let (array, entries) = data.parts();
        let mut slots = data.changed.clone();
        slots.sort_unstable();
        slots.dedup();
        let mut patch = TablePatch {
            meta: data.metatable.map(|m| self.reach(HeapRef::Table(m))),
            array_len: array.len() as u32,
            entries_len: entries.len() as u32,
            array: Vec::new(),
            entries: Vec::new(),
        };
        for s in slots {
            let i = (s >> 1) as usize;
            if s & 1 == 0 {
                if let Some(v) = array.get(i) {
                    patch.array.push((i as u32, self.val(*v)));
                }
            } else if let Some((k, v)) = entries.get(i) {
                patch.entries.push((i as u32, self.val(*k), self.val(*v)));
            }
        }
        patch
    }

    fn record(&mut self, p: HeapRef<'gc>) -> Object {
        match p {
            HeapRef::Str(s) => Object::Str(s.as_bytes().to_vec()),
            HeapRef::Proto(p) => {
                let info = &p.info;
                Object::Proto(Box::new(ProtoRecord {
                    source: info.source.to_string(),
                    chunkname: info.chunkname.to_string(),
                    line_defined: info.line_defined,
                    last_line: info.last_line,
                    num_params: info.num_params,
                    is_vararg: info.is_vararg,
                    max_stack: info.max_stack,
                    code: info.code.clone(),
                    lines: info.lines.clone(),
                    constants: p.constants.iter().map(|c| self.val(*c)).collect(),
                    protos: p
                        .protos
                        .iter()
                        .map(|c| self.reach(HeapRef::Proto(*c)))
                        .collect(),
                    upvalues: info.upvalues.clone(),
                    locals: info.locals.clone(),
                }))
            }
            HeapRef::Closure(c) => Object::Closure {
                proto: self.reach(HeapRef::Proto(c.proto)),
                upvalues: c
                    .upvalues
                    .iter()
                    .map(|u| self.reach(HeapRef::Upvalue(*u)))
                    .collect(),
            },
            HeapRef::Native(n) => Object::Native {
                name: n.name.to_owned(),
                upvalues: self.vals(&n.upvalues),
            },
            HeapRef::Upvalue(u) => Object::Upvalue(match &u.borrow().state {
                UpvalueState::Open { thread, slot } => UpvalueRecord::Open {
                    thread: self.reach(HeapRef::Thread(*thread)),
                    slot: *slot as u32,
                },
                UpvalueState::Closed(v) => UpvalueRecord::Closed(self.val(*v)),
            }),
            HeapRef::Table(t) => Object::Table(Box::new(self.table_record(t))),
            HeapRef::Thread(t) => {
                let th = t.0.borrow();
                let frames = th
                    .frames
                    .iter()
                    .map(|f| match f {
                        Frame::Lua(f) => FrameRecord::Lua {
                            closure: self.reach(HeapRef::Closure(f.closure)),
                            base: f.base as u32,
                            pc: f.pc as u32,
                            func: f.func as u32,
                            ret: f.ret,
                            varargs: f.varargs as u32,
                            cdepth: f.cdepth,
                        },
                        Frame::Native(f) => FrameRecord::Native {
                            name: f.name.to_owned(),
                            func: f.func as u32,
                            base: f.base as u32,
                            ret: f.ret,
                            cont: self.cont(&f.cont),
                            cdepth: f.cdepth,
                        },
                    })
                    .collect();
                Object::Thread(Box::new(ThreadRecord {
                    status: th.status,
                    stack: self.vals(&th.stack),
                    frames,
                    open_upvalues: th
                        .open_upvalues
                        .iter()
                        .map(|(slot, u)| (*slot as u32, self.reach(HeapRef::Upvalue(*u))))
                        .collect(),
                    tbc: th.tbc.iter().map(|s| *s as u32).collect(),
                    top: th.top as u32,
                    error: th.error.map(|e| self.val(e)),
                }))
            }
            HeapRef::UserData(u) => Object::UserData {
                meta: self.reach(HeapRef::Table(u.meta)),
                kind: match &u.kind {
                    UserKind::Task(t) => UserKindRecord::Task(self.task(*t)),
                    UserKind::Channel(c) => {
                        UserKindRecord::Channel(self.reach(HeapRef::Channel(*c)))
                    }
                    UserKind::Resource(r) => {
                        let r = r.borrow();
                        UserKindRecord::Resource {
                            kind: r.kind,
                            addr: r.addr.clone(),
                            closed: r.closed,
                        }
                    }
                },
            },
            HeapRef::Channel(c) => {
                let c = c.borrow();
                Object::Channel(Box::new(ChannelRecord {
                    cap: c.cap as u64,
                    buf: c.buf.iter().map(|v| self.val(*v)).collect(),
                    closed: c.closed,
                    recvq: c.recvq.iter().map(|w| self.waiter(w)).collect(),
                    sendq: c
                        .sendq
                        .iter()
                        .map(|(w, v)| (self.waiter(w), self.val(*v)))
                        .collect(),
                }))
            }
            HeapRef::Task(t) => {
                let t = t.borrow();
                Object::Task(Box::new(TaskRecord {
                    task_id: t.id,
                    chain: t
                        .chain
                        .iter()
                        .map(|th| self.reach(HeapRef::Thread(*th)))
                        .collect(),
                    status: t.status,
                    wait_seq: t.wait_seq,
                    waiting_on: t.waiting_on,
                    wake: t.wake.as_ref().map(|d| self.delivery(d)),
                    outcome: t.outcome.as_ref().map(|d| self.delivery(d)),
                    joiners: t
                        .joiners
                        .iter()
                        .map(|(j, seq)| (self.task(*j), *seq))
                        .collect(),
                }))
            }
        }
    }

    fn cont(&mut self, c: &Cont<'gc>) -> ContRecord {
        match c {
            Cont::Return => ContRecord::Return,
            Cont::Pcall => ContRecord::Pcall,
            Cont::Xpcall { handler } => ContRecord::Xpcall {
                handler: self.val(*handler),
            },
            Cont::XpcallHandler { frame } => ContRecord::XpcallHandler {
                frame: *frame as u32,
            },
            Cont::Unwinding { error } => ContRecord::Unwinding {
                error: self.val(*error),
            },
            Cont::CloseThread => ContRecord::CloseThread,
            Cont::CloseAll { error } => ContRecord::CloseAll {
                error: error.map(|e| self.val(e)),
            },
            Cont::Resume => ContRecord::Resume,
            Cont::Wrap => ContRecord::Wrap,
            Cont::ToString => ContRecord::ToString,
            Cont::Step { step, state } => ContRecord::Step {
                step: step_name(*step),
                state: self.val(*state),
            },
        }
    }
}

/// A full image of everything reachable. Must be called at a safepoint
/// (no task running). Starts recording changes for the next delta.
pub fn full(ctx: Ctx<'_>) -> Image {
    let mut image = snapshot(ctx);
    image.epoch = ctx.state.epoch.get();
    let dirty = std::mem::take(&mut *ctx.state.dirty.borrow_mut(ctx.mc));
    next_epoch(ctx, dirty, image.root.next_id);
    image
}

/// A full image of everything reachable that leaves the recording of
/// changes alone: the next delta is still against the last image taken.
/// It is stamped with that last image's epoch (taken right after it, the
/// two describe the same heap). For checks that compare what a replica
/// holds with the heap itself (at a safepoint).
pub fn snapshot(ctx: Ctx<'_>) -> Image {
    let mut walk = Walk::new(0);
    let root = root_record(ctx, &mut walk);
    walk.drain();
    Image {
        full: true,
        epoch: ctx.state.epoch.get() - 1,
        parent: 0,
        root,
        objects: walk.objects,
    }
}

/// What changed since the last image (full or delta): the old objects
/// recorded dirty (tables as their changed slots; tasks that ran, waited,
/// woke or ended), and
/// the new objects reachable from those and from the roots. The first
/// image of a runtime is full.
pub fn delta<'gc>(ctx: Ctx<'gc>) -> Image {
    // Objects below the last image's id counter are old.
    let hwm = ctx.state.image_hwm.get();
    if hwm == 0 {
        return full(ctx);
    }
    let mut walk = Walk::new(hwm);
    let root = root_record(ctx, &mut walk);
    // The walk only reads: nothing is marked dirty while it runs.
    let dirty = std::mem::take(&mut *ctx.state.dirty.borrow_mut(ctx.mc));
    for d in &dirty {
        match *d {
            Dirty::Table(t) => {
                let id = t.id();
                if walk.seen.insert(id) {
                    let record = if t.data().whole {
                        Object::Table(Box::new(walk.table_record(t)))
                    } else {
                        Object::TablePatch(Box::new(walk.table_patch(t)))
                    };
                    walk.objects.insert(id, record);
                }
            }
            Dirty::Str(s) => walk.force(HeapRef::Str(s)),
            Dirty::Thread(t) => walk.force(HeapRef::Thread(t)),
            Dirty::Upvalue(u) => walk.force(HeapRef::Upvalue(u)),
            Dirty::Channel(c) => walk.force(HeapRef::Channel(c)),
            Dirty::Task(t) => walk.force(HeapRef::Task(t)),
            Dirty::UserData(u) => walk.force(HeapRef::UserData(u)),
        }
    }
    walk.drain();
    let epoch = ctx.state.epoch.get();
    next_epoch(ctx, dirty, root.next_id);
    Image {
        full: false,
        epoch,
        parent: epoch - 1,
        root,
        objects: walk.objects,
    }
}

/// Closes the epoch: the recorded table slots are forgotten, and changes
/// from now on go into the next delta.
fn next_epoch<'gc>(ctx: Ctx<'gc>, recorded: Vec<Dirty<'gc>>, next_id: u64) {
    for d in recorded {
        if let Dirty::Table(t) = d {
            t.clear_changes(ctx.mc);
        }
    }
    ctx.state.image_hwm.set(next_id);
    ctx.state.epoch.set(ctx.state.epoch.get() + 1);
}

fn root_record<'gc>(ctx: Ctx<'gc>, walk: &mut Walk<'gc>) -> RootRecord {
    let state = ctx.state;
    debug_assert!(
        state.running.borrow().is_empty(),
        "images are taken between turns"
    );
    let globals = walk.reach(HeapRef::Table(state.globals));
    let registry = walk.reach(HeapRef::Table(state.registry));
    let main_thread = walk.reach(HeapRef::Thread(state.main_thread));
    let string_meta = state
        .string_meta
        .borrow()
        .map(|m| walk.reach(HeapRef::Table(m)));
    let event_names = state
        .event_names
        .iter()
        .map(|s| walk.reach(HeapRef::Str(*s)))
        .collect();
    let sched = state.sched.borrow();
    let tasks = sched.tasks.values().map(|t| walk.task(*t)).collect();
    let ready = sched.ready.iter().map(|t| walk.task(*t)).collect();
    let timers = sched
        .timers
        .iter()
        .map(|(&(deadline, seq), w)| (deadline, seq, walk.waiter(w)))
        .collect();
    RootRecord {
        globals,
        registry,
        main_thread,
        string_meta,
        event_names,
        next_id: state.next_id.get(),
        sched: SchedRecord {
            tasks,
            ready,
            timers,
            timer_seq: sched.timer_seq,
            now: sched.now,
            last_task_id: sched.last_task_id,
            main_task: sched.main_task,
        },
    }
}
