//! The heap image: the live state of a runtime as plain records, one per
//! heap object, keyed by the object's stable id.
//!
//! An [`Image`] is taken at a safepoint (between two task turns, when no
//! thread is running) and is either *full* — every object reachable from
//! the roots — or a *delta* against the previous epoch: the objects that
//! changed (tables as the slots that changed) and the objects born since,
//! reached from them. Applying deltas in order to a full image gives the
//! full image of the later epoch ([`Image::apply`]), and a runtime can be
//! rebuilt from any full image ([`crate::Runtime::restore`]).
//!
//! This module knows nothing of bytes: the checkpointer encodes records.
//! Everything a record refers to is an id; [`validate`] checks that every
//! reference resolves to an object of the right kind and every native
//! name is known before anything is built.

mod export;
mod import;

pub use export::{delta, full, snapshot};
pub use import::restore_state;
pub(crate) use import::{follow_delta, ObjectIndex};

use std::collections::BTreeMap;

use gc_arena::lock::RefLock;
use gc_arena::{Collect, Gc, GcWeak, Mutation};
use serde::{Deserialize, Serialize};

use crate::compiler::opcode::Op;
use crate::compiler::proto::{LocalInfo, UpvalueDesc};
use crate::sched::{Channel, ResourceKind, Task, TaskStatus, UserData};
use crate::table::Table;
use crate::thread::{Ret, Thread, ThreadStatus, UpvalueRef};
use crate::value::{Closure, LuaStr, Native, Proto};

/// A heap object of any kind: what a walk over the heap queues, and what a
/// heap rebuilt from images finds by id.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub(crate) enum HeapRef<'gc> {
    Str(LuaStr<'gc>),
    Proto(Gc<'gc, Proto<'gc>>),
    Closure(Gc<'gc, Closure<'gc>>),
    Native(Gc<'gc, Native<'gc>>),
    Upvalue(UpvalueRef<'gc>),
    Table(Table<'gc>),
    Thread(Thread<'gc>),
    UserData(Gc<'gc, UserData<'gc>>),
    Channel(Channel<'gc>),
    Task(Task<'gc>),
}

/// A [`HeapRef`] that does not keep its object alive.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub(crate) enum WeakRef<'gc> {
    Str(GcWeak<'gc, crate::value::StrData>),
    Proto(GcWeak<'gc, Proto<'gc>>),
    Closure(GcWeak<'gc, Closure<'gc>>),
    Native(GcWeak<'gc, Native<'gc>>),
    Upvalue(GcWeak<'gc, RefLock<crate::thread::Upvalue<'gc>>>),
    Table(GcWeak<'gc, RefLock<crate::table::TableData<'gc>>>),
    Thread(GcWeak<'gc, RefLock<crate::thread::ThreadState<'gc>>>),
    UserData(GcWeak<'gc, UserData<'gc>>),
    Channel(GcWeak<'gc, RefLock<crate::sched::chan::ChannelState<'gc>>>),
    Task(GcWeak<'gc, RefLock<crate::sched::TaskState<'gc>>>),
}

impl<'gc> WeakRef<'gc> {
    pub(crate) fn upgrade(self, mc: &Mutation<'gc>) -> Option<HeapRef<'gc>> {
        Some(match self {
            WeakRef::Str(w) => HeapRef::Str(LuaStr(w.upgrade(mc)?)),
            WeakRef::Proto(w) => HeapRef::Proto(w.upgrade(mc)?),
            WeakRef::Closure(w) => HeapRef::Closure(w.upgrade(mc)?),
            WeakRef::Native(w) => HeapRef::Native(w.upgrade(mc)?),
            WeakRef::Upvalue(w) => HeapRef::Upvalue(w.upgrade(mc)?),
            WeakRef::Table(w) => HeapRef::Table(Table(w.upgrade(mc)?)),
            WeakRef::Thread(w) => HeapRef::Thread(Thread(w.upgrade(mc)?)),
            WeakRef::UserData(w) => HeapRef::UserData(w.upgrade(mc)?),
            WeakRef::Channel(w) => HeapRef::Channel(w.upgrade(mc)?),
            WeakRef::Task(w) => HeapRef::Task(w.upgrade(mc)?),
        })
    }

    /// Whether the collector has freed the object.
    pub(crate) fn is_dropped(self) -> bool {
        match self {
            WeakRef::Str(w) => w.is_dropped(),
            WeakRef::Proto(w) => w.is_dropped(),
            WeakRef::Closure(w) => w.is_dropped(),
            WeakRef::Native(w) => w.is_dropped(),
            WeakRef::Upvalue(w) => w.is_dropped(),
            WeakRef::Table(w) => w.is_dropped(),
            WeakRef::Thread(w) => w.is_dropped(),
            WeakRef::UserData(w) => w.is_dropped(),
            WeakRef::Channel(w) => w.is_dropped(),
            WeakRef::Task(w) => w.is_dropped(),
        }
    }
}

impl<'gc> HeapRef<'gc> {
    pub(crate) fn id(self) -> u64 {
        match self {
            HeapRef::Str(s) => s.id(),
            HeapRef::Proto(p) => p.id,
            HeapRef::Closure(c) => c.id,
            HeapRef::Native(n) => n.id,
            HeapRef::Upvalue(u) => u.borrow().id,
            HeapRef::Table(t) => t.id(),
            HeapRef::Thread(t) => t.0.borrow().id,
            HeapRef::UserData(u) => u.id,
            HeapRef::Channel(c) => c.borrow().id,
            HeapRef::Task(t) => t.borrow().oid,
        }
    }

    pub(crate) fn downgrade(self) -> WeakRef<'gc> {
        match self {
            HeapRef::Str(s) => WeakRef::Str(Gc::downgrade(s.0)),
            HeapRef::Proto(p) => WeakRef::Proto(Gc::downgrade(p)),
            HeapRef::Closure(c) => WeakRef::Closure(Gc::downgrade(c)),
            HeapRef::Native(n) => WeakRef::Native(Gc::downgrade(n)),
            HeapRef::Upvalue(u) => WeakRef::Upvalue(Gc::downgrade(u)),
            HeapRef::Table(t) => WeakRef::Table(Gc::downgrade(t.0)),
            HeapRef::Thread(t) => WeakRef::Thread(Gc::downgrade(t.0)),
            HeapRef::UserData(u) => WeakRef::UserData(Gc::downgrade(u)),
            HeapRef::Channel(c) => WeakRef::Channel(Gc::downgrade(c)),
            HeapRef::Task(t) => WeakRef::Task(Gc::downgrade(t)),
        }
    }

    /// The kind, named as [`Object::kind`] names it.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            HeapRef::Str(_) => "string",
            HeapRef::Proto(_) => "prototype",
            HeapRef::Closure(_) => "closure",
            HeapRef::Native(_) => "native",
            HeapRef::Upvalue(_) => "upvalue",
            HeapRef::Table(_) => "table",
            HeapRef::Thread(_) => "thread",
            HeapRef::UserData(_) => "userdata",
            HeapRef::Channel(_) => "channel",
            HeapRef::Task(_) => "task",
        }
    }
}

/// A value in a record: immediate, or a reference to an object by id.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum Val {
    Nil,
    Bool(bool),
    Int(i64),
    Num(f64),
    Ref(u64),
}

/// Records are equal when they would encode to the same bytes: floats
/// compare by their bits (a NaN equals itself, 0.0 differs from -0.0).
impl PartialEq for Val {
    fn eq(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Num(a), Val::Num(b)) => a.to_bits() == b.to_bits(),
            (Val::Nil, Val::Nil) => true,
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Int(a), Val::Int(b)) => a == b,
            (Val::Ref(a), Val::Ref(b)) => a == b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtoRecord {
    pub source: String,
    pub chunkname: String,
    pub line_defined: u32,
    pub last_line: u32,
    pub num_params: u8,
    pub is_vararg: bool,
    pub max_stack: u16,
    pub code: Vec<Op>,
    pub lines: Vec<u32>,
    /// Numbers, and strings by reference (so that a string a constant
    /// shares with the heap is one object).
    pub constants: Vec<Val>,
    /// Nested prototypes, by id.
    pub protos: Vec<u64>,
    pub upvalues: Vec<UpvalueDesc>,
    pub locals: Vec<LocalInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UpvalueRecord {
    Open { thread: u64, slot: u32 },
    Closed(Val),
}

/// A table's contents in its own layout: array part, then the hash part's
/// entries in insertion order, removed ones (value nil) included, so that
/// a traversal in progress continues the same way after a restore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRecord {
    pub meta: Option<u64>,
    pub array: Vec<Val>,
    pub entries: Vec<(Val, Val)>,
}

/// The slots of a table that changed during an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TablePatch {
    pub meta: Option<u64>,
    pub array_len: u32,
    pub entries_len: u32,
    pub array: Vec<(u32, Val)>,
    pub entries: Vec<(u32, Val, Val)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ContRecord {
    Return,
    Pcall,
    Xpcall { handler: Val },
    XpcallHandler { frame: u32 },
    Unwinding { error: Val },
    CloseThread,
    CloseAll { error: Option<Val> },
    Resume,
    Wrap,
    ToString,
    Step { step: String, state: Val },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FrameRecord {
    Lua {
        closure: u64,
        base: u32,
        pc: u32,
        func: u32,
        ret: Ret,
        varargs: u32,
        cdepth: u32,
    },
    Native {
        name: String,
        func: u32,
        base: u32,
        ret: Ret,
        cont: ContRecord,
        cdepth: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadRecord {
    pub status: ThreadStatus,
    pub stack: Vec<Val>,
    pub frames: Vec<FrameRecord>,
    pub open_upvalues: Vec<(u32, u64)>,
    pub tbc: Vec<u32>,
    pub top: u32,
    pub error: Option<Val>,
}

/// A waiter: a task object id, its wait sequence, the select case.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WaiterRecord {
    pub task: u64,
    pub seq: u64,
    pub case: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DeliveryRecord {
    Values(Vec<Val>),
    Error(Val),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub task_id: u64,
    pub chain: Vec<u64>,
    pub status: TaskStatus,
    pub wait_seq: u64,
    pub waiting_on: crate::sched::Wait,
    pub wake: Option<DeliveryRecord>,
    pub outcome: Option<DeliveryRecord>,
    pub joiners: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelRecord {
    pub cap: u64,
    pub buf: Vec<Val>,
    pub closed: bool,
    pub recvq: Vec<WaiterRecord>,
    pub sendq: Vec<(WaiterRecord, Val)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserKindRecord {
    Task(u64),
    Channel(u64),
    Resource {
        kind: ResourceKind,
        addr: String,
        closed: bool,
    },
}

/// One heap object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Object {
    Str(Vec<u8>),
    Proto(Box<ProtoRecord>),
    Closure {
        proto: u64,
        upvalues: Vec<u64>,
    },
    Native {
        name: String,
        upvalues: Vec<Val>,
    },
    Upvalue(UpvalueRecord),
    // The larger records are boxed: an image of a million keys is mostly
    // strings, and every record is as large as the largest variant.
    Table(Box<TableRecord>),
    /// Only in deltas: the changed slots of a table sent before.
    TablePatch(Box<TablePatch>),
    Thread(Box<ThreadRecord>),
    UserData {
        meta: u64,
        kind: UserKindRecord,
    },
    Channel(Box<ChannelRecord>),
    Task(Box<TaskRecord>),
}

impl Object {
    /// The record's kind, for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Object::Str(_) => "string",
            Object::Proto(_) => "prototype",
            Object::Closure { .. } => "closure",
            Object::Native { .. } => "native",
            Object::Upvalue(_) => "upvalue",
            Object::Table(_) | Object::TablePatch(_) => "table",
            Object::Thread(_) => "thread",
            Object::UserData { .. } => "userdata",
            Object::Channel(_) => "channel",
            Object::Task(_) => "task",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedRecord {
    /// Task objects not yet over, in spawn order.
    pub tasks: Vec<u64>,
    pub ready: Vec<u64>,
    pub timers: Vec<(u64, u64, WaiterRecord)>,
    pub timer_seq: u64,
    pub now: u64,
    pub last_task_id: u64,
    pub main_task: Option<u64>,
}

/// The roots of the heap: everything else is reachable from here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootRecord {
    pub globals: u64,
    pub registry: u64,
    pub main_thread: u64,
    pub string_meta: Option<u64>,
    pub event_names: Vec<u64>,
    pub next_id: u64,
    pub sched: SchedRecord,
}

/// A full image, or a delta against the previous epoch.
///
/// The runtime stamps every image with its epoch (1 for a runtime's first
/// image, one more for each image after it, continuing the restored epoch
/// after a restore) and, for a delta, the epoch it applies to. Every
/// consumer checks that the chain is contiguous. On the wire the frame
/// header carries both (the body leaves them out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub full: bool,
    #[serde(skip)]
    pub epoch: u64,
    /// For a delta, the epoch it applies to; 0 for a full image.
    #[serde(skip)]
    pub parent: u64,
    pub root: RootRecord,
    pub objects: BTreeMap<u64, Object>,
}

/// Why an image cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("object {id} is referenced but not in the image")]
    Missing { id: u64 },
    #[error("object {id} is a {found}, where a {expected} is needed")]
    WrongKind {
        id: u64,
        expected: &'static str,
        found: &'static str,
    },
    #[error("unknown native function '{name}' (not registered in this runtime)")]
    UnknownNative { name: String },
    #[error("a delta cannot be restored on its own; apply it to a full image")]
    NotFull,
    #[error("the chain of epochs is broken: expected a delta after epoch {expected}, found one after {found}")]
    Gap { expected: u64, found: u64 },
    #[error("invalid image: {0}")]
    Invalid(String),
}

impl Image {
    /// Whether the image is small: at most `limit` values in all (a record
    /// counts one, plus its table slots, stack slots and string bytes / 16).
    /// Stops counting past the limit, so it costs O(limit). What a driver
    /// asks before encoding in line rather than on another thread.
    pub fn is_small(&self, limit: usize) -> bool {
        let mut weight = 0usize;
        for object in self.objects.values() {
            weight += 1 + match object {
                Object::Str(bytes) => bytes.len() / 16,
                Object::Proto(p) => p.code.len() + p.constants.len(),
                Object::Table(t) => t.array.len() + t.entries.len(),
                Object::TablePatch(p) => p.array.len() + p.entries.len(),
                Object::Thread(t) => t.stack.len() + t.frames.len(),
                Object::Channel(c) => c.buf.len() + c.recvq.len() + c.sendq.len(),
                _ => 0,
            };
            if weight > limit {
                return false;
            }
        }
        true
    }

    /// Applies a delta to this full image, in place: new and changed
    /// objects replace the old records, table patches update them. It
    /// costs O(delta): records the delta left unreachable stay until
    /// [`Image::prune`] (ids are never reused, so they are only garbage).
    /// A delta that fails [`Image::check_delta`] is refused before
    /// anything changes.
    pub fn apply(&mut self, delta: Image) -> Result<(), ImageError> {
        self.check_delta(&delta)?;
        for (id, obj) in delta.objects {
            match obj {
                Object::TablePatch(p) => {
                    let Some(Object::Table(t)) = self.objects.get_mut(&id) else {
                        unreachable!("checked: table {id} is held");
                    };
                    t.meta = p.meta;
                    t.array.resize(p.array_len as usize, Val::Nil);
                    t.entries
                        .resize(p.entries_len as usize, (Val::Nil, Val::Nil));
                    for (i, v) in p.array {
                        t.array[i as usize] = v;
                    }
                    for (i, k, v) in p.entries {
                        t.entries[i as usize] = (k, v);
                    }
                }
                other => {
                    // The record it replaces is dropped here.
                    self.objects.insert(id, other);
                }
            }
        }
        self.root = delta.root;
        self.epoch = delta.epoch;
        Ok(())
    }

    /// Whether `delta` applies to this full image: it continues the
    /// chain, and every table patch names a table held here and slots
    /// inside the sizes it gives.
    pub fn check_delta(&self, delta: &Image) -> Result<(), ImageError> {
        if !self.full {
            return Err(ImageError::NotFull);
        }
        self.check_follows(delta)?;
        for (id, obj) in &delta.objects {
            if let Object::TablePatch(p) = obj {
                if !matches!(self.objects.get(id), Some(Object::Table(_))) {
                    return Err(ImageError::Missing { id: *id });
                }
                if let Some((i, _)) = p.array.iter().find(|(i, _)| *i >= p.array_len) {
                    return Err(ImageError::Invalid(format!(
                        "table {id}: array slot {i} out of range"
                    )));
                }
                if let Some((i, _, _)) = p.entries.iter().find(|(i, _, _)| *i >= p.entries_len) {
                    return Err(ImageError::Invalid(format!(
                        "table {id}: entry {i} out of range"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether `later` is the delta that continues this image's chain.
    pub fn check_follows(&self, later: &Image) -> Result<(), ImageError> {
        if later.full || later.parent != self.epoch {
            return Err(ImageError::Gap {
                expected: self.epoch,
                found: later.parent,
            });
        }
        Ok(())
    }

    /// Whether two images describe the same heap (whatever their epochs,
    /// and whatever unreachable records either still holds). O(heap).
    pub fn same_heap(&self, other: &Image) -> bool {
        if self.full != other.full || self.root != other.root {
            return false;
        }
        let (mine, theirs) = (self.live_ids(), other.live_ids());
        mine == theirs
            && mine
                .iter()
                .all(|id| self.objects.get(id) == other.objects.get(id))
    }

    /// Folds a later delta into this delta, so that applying the result
    /// equals applying both in order (how a sender that fell behind
    /// coalesces epochs).
    pub fn merge_delta(&mut self, later: &Image) -> Result<(), ImageError> {
        if self.full {
            return self.apply(later.clone());
        }
        self.check_follows(later)?;
        for (id, obj) in &later.objects {
            match (self.objects.get_mut(id), obj) {
                (Some(Object::TablePatch(p)), Object::TablePatch(q)) => {
                    p.meta = q.meta;
                    p.array_len = q.array_len;
                    p.entries_len = q.entries_len;
                    let mut array: BTreeMap<u32, Val> = p
                        .array
                        .drain(..)
                        .filter(|(i, _)| *i < q.array_len)
                        .collect();
                    array.extend(q.array.iter().copied());
                    p.array = array.into_iter().collect();
                    let mut entries: BTreeMap<u32, (Val, Val)> = p
                        .entries
                        .drain(..)
                        .filter(|(i, _, _)| *i < q.entries_len)
                        .map(|(i, k, v)| (i, (k, v)))
                        .collect();
                    entries.extend(q.entries.iter().map(|(i, k, v)| (*i, (*k, *v))));
                    p.entries = entries.into_iter().map(|(i, (k, v))| (i, k, v)).collect();
                }
                (Some(Object::Table(t)), Object::TablePatch(q)) => {
                    t.meta = q.meta;
                    t.array.resize(q.array_len as usize, Val::Nil);
                    t.entries
                        .resize(q.entries_len as usize, (Val::Nil, Val::Nil));
                    for (i, v) in &q.array {
                        if let Some(slot) = t.array.get_mut(*i as usize) {
                            *slot = *v;
                        }
                    }
                    for (i, k, v) in &q.entries {
                        if let Some(slot) = t.entries.get_mut(*i as usize) {
                            *slot = (*k, *v);
                        }
                    }
                }
                _ => {
                    self.objects.insert(*id, obj.clone());
                }
            }
        }
        self.root = later.root.clone();
        self.epoch = later.epoch;
        Ok(())
    }

    /// Drops records that nothing reachable refers to. O(heap): holders of
    /// an image that deltas are applied to call it when the image has
    /// grown enough since the last time that the cost is amortised, or
    /// before the image is written or restored.
    pub fn prune(&mut self) {
        let live = self.live_ids();
        self.objects.retain(|id, _| live.contains(id));
    }

    /// The ids reachable from the roots.
    fn live_ids(&self) -> hashbrown::HashSet<u64> {
        let mut live = hashbrown::HashSet::with_capacity(self.objects.len());
        let mut stack = root_refs(&self.root);
        while let Some(id) = stack.pop() {
            if !live.insert(id) {
                continue;
            }
            if let Some(obj) = self.objects.get(&id) {
                refs_of(obj, &mut stack);
            }
        }
        live
    }
}

fn root_refs(root: &RootRecord) -> Vec<u64> {
    let mut out = vec![root.globals, root.registry, root.main_thread];
    out.extend(root.string_meta);
    out.extend(&root.event_names);
    out.extend(&root.sched.tasks);
    out.extend(&root.sched.ready);
    out.extend(root.sched.timers.iter().map(|(_, _, w)| w.task));
    out
}

fn val_ref(v: &Val, out: &mut Vec<u64>) {
    if let Val::Ref(id) = v {
        out.push(*id);
    }
}

fn delivery_refs(d: &DeliveryRecord, out: &mut Vec<u64>) {
    match d {
        DeliveryRecord::Values(vs) => vs.iter().for_each(|v| val_ref(v, out)),
        DeliveryRecord::Error(v) => val_ref(v, out),
    }
}

/// Every id a record refers to.
pub fn refs_of(obj: &Object, out: &mut Vec<u64>) {
    match obj {
        Object::Str(_) => {}
        Object::Proto(p) => {
            out.extend(&p.protos);
            p.constants.iter().for_each(|v| val_ref(v, out));
        }
        Object::Closure { proto, upvalues } => {
            out.push(*proto);
            out.extend(upvalues);
        }
        Object::Native { upvalues, .. } => upvalues.iter().for_each(|v| val_ref(v, out)),
        Object::Upvalue(UpvalueRecord::Open { thread, .. }) => out.push(*thread),
        Object::Upvalue(UpvalueRecord::Closed(v)) => val_ref(v, out),
        Object::Table(t) => {
            out.extend(t.meta);
            t.array.iter().for_each(|v| val_ref(v, out));
            for (k, v) in &t.entries {
                val_ref(k, out);
                val_ref(v, out);
            }
        }
        Object::TablePatch(p) => {
            out.extend(p.meta);
            p.array.iter().for_each(|(_, v)| val_ref(v, out));
            for (_, k, v) in &p.entries {
                val_ref(k, out);
                val_ref(v, out);
            }
        }
        Object::Thread(t) => {
            t.stack.iter().for_each(|v| val_ref(v, out));
            for f in &t.frames {
                match f {
                    FrameRecord::Lua { closure, .. } => out.push(*closure),
                    FrameRecord::Native { cont, .. } => match cont {
                        ContRecord::Xpcall { handler: v }
                        | ContRecord::Unwinding { error: v }
                        | ContRecord::CloseAll { error: Some(v) }
                        | ContRecord::Step { state: v, .. } => val_ref(v, out),
                        _ => {}
                    },
                }
            }
            out.extend(t.open_upvalues.iter().map(|(_, u)| *u));
            if let Some(e) = &t.error {
                val_ref(e, out);
            }
        }
        Object::UserData { meta, kind } => {
            out.push(*meta);
            match kind {
                UserKindRecord::Task(t) => out.push(*t),
                UserKindRecord::Channel(c) => out.push(*c),
                UserKindRecord::Resource { .. } => {}
            }
        }
        Object::Channel(c) => {
            c.buf.iter().for_each(|v| val_ref(v, out));
            out.extend(c.recvq.iter().map(|w| w.task));
            for (w, v) in &c.sendq {
                out.push(w.task);
                val_ref(v, out);
            }
        }
        Object::Task(t) => {
            out.extend(&t.chain);
            if let Some(d) = &t.wake {
                delivery_refs(d, out);
            }
            if let Some(d) = &t.outcome {
                delivery_refs(d, out);
            }
            out.extend(t.joiners.iter().map(|(t, _)| *t));
        }
    }
}

/// What a check of a delta asks about the objects it refers to but does
/// not carry: those of the heap it applies to.
pub(crate) trait Held {
    /// The kind of object `id`, if the heap holds it.
    fn kind(&self, id: u64) -> Option<&'static str>;
    /// For a closure: its prototype's code length and register window.
    fn closure_code(&self, id: u64) -> Option<(usize, u16)>;
    /// The same for a prototype.
    fn proto_code(&self, id: u64) -> Option<(usize, u16)>;
}

/// Nothing held: a full image stands alone.
struct NothingHeld;

impl Held for NothingHeld {
    fn kind(&self, _: u64) -> Option<&'static str> {
        None
    }
    fn closure_code(&self, _: u64) -> Option<(usize, u16)> {
        None
    }
    fn proto_code(&self, _: u64) -> Option<(usize, u16)> {
        None
    }
}

/// Checks that a full image is complete and consistent: every reference
/// resolves to an object of a kind that may stand there, and every native
/// is known (`known_native`).
pub fn validate(image: &Image, known_native: &dyn Fn(&str) -> bool) -> Result<(), ImageError> {
    if !image.full {
        return Err(ImageError::NotFull);
    }
    check_records(image, &NothingHeld, known_native)
}

/// [`validate`] for a delta that applies to a heap holding `held`: every
/// reference resolves in the delta or in `held`, an object the delta
/// carries keeps the kind `held` knows it by, and every table patch names
/// a held table and slots inside the sizes it gives.
pub(crate) fn validate_delta(
    delta: &Image,
    held: &dyn Held,
    known_native: &dyn Fn(&str) -> bool,
) -> Result<(), ImageError> {
    if delta.full {
        return Err(ImageError::Invalid(
            "a full image where a delta was expected".into(),
        ));
    }
    for (&id, obj) in &delta.objects {
        if let Some(found) = held.kind(id) {
            if found != obj.kind() {
                return Err(ImageError::WrongKind {
                    id,
                    expected: found,
                    found: obj.kind(),
                });
            }
        }
    }
    check_records(delta, held, known_native)
}

fn check_records(
    image: &Image,
    held: &dyn Held,
    known_native: &dyn Fn(&str) -> bool,
) -> Result<(), ImageError> {
    let kind_of = |id: u64| -> Result<&'static str, ImageError> {
        image
            .objects
            .get(&id)
            .map(Object::kind)
            .or_else(|| held.kind(id))
            .ok_or(ImageError::Missing { id })
    };
    let expect = |id: u64, expected: &'static str| -> Result<(), ImageError> {
        let found = kind_of(id)?;
        if found == expected {
            Ok(())
        } else {
            Err(ImageError::WrongKind {
                id,
                expected,
                found,
            })
        }
    };
    let root = &image.root;
    expect(root.globals, "table")?;
    expect(root.registry, "table")?;
    expect(root.main_thread, "thread")?;
    if let Some(m) = root.string_meta {
        expect(m, "table")?;
    }
    if root.event_names.len() != crate::state::Event::ALL.len() {
        return Err(ImageError::Invalid("wrong number of event names".into()));
    }
    for &id in &root.event_names {
        expect(id, "string")?;
    }
    for &id in root.sched.tasks.iter().chain(&root.sched.ready) {
        expect(id, "task")?;
    }
    for (_, _, w) in &root.sched.timers {
        expect(w.task, "task")?;
    }
    for (&id, obj) in &image.objects {
        if id >= root.next_id {
            return Err(ImageError::Invalid(format!(
                "object {id} is above the id counter {}",
                root.next_id
            )));
        }
        let mut refs = Vec::new();
        refs_of(obj, &mut refs);
        for r in refs {
            kind_of(r)?;
        }
        match obj {
            Object::Proto(p) => {
                for &c in &p.protos {
                    expect(c, "prototype")?;
                }
                for c in &p.constants {
                    match c {
                        Val::Ref(s) => expect(*s, "string")?,
                        Val::Int(_) | Val::Num(_) => {}
                        _ => {
                            return Err(ImageError::Invalid(format!(
                                "prototype {id}: bad constant"
                            )))
                        }
                    }
                }
            }
            Object::Closure { proto, upvalues } => {
                expect(*proto, "prototype")?;
                for &u in upvalues {
                    expect(u, "upvalue")?;
                }
            }
            Object::Native { name, .. } => {
                if !known_native(name) {
                    return Err(ImageError::UnknownNative { name: name.clone() });
                }
            }
            Object::Upvalue(UpvalueRecord::Open { thread, .. }) => expect(*thread, "thread")?,
            Object::Table(t) => {
                if let Some(m) = t.meta {
                    expect(m, "table")?;
                }
                if t.entries.iter().any(|(k, _)| matches!(k, Val::Nil)) {
                    return Err(ImageError::Invalid(format!("table {id}: a nil key")));
                }
            }
            Object::TablePatch(p) => {
                if image.full {
                    return Err(ImageError::Invalid("patch in a full image".into()));
                }
                if held.kind(id) != Some("table") {
                    return Err(ImageError::Missing { id });
                }
                if let Some(m) = p.meta {
                    expect(m, "table")?;
                }
                if let Some((i, _)) = p.array.iter().find(|(i, _)| *i >= p.array_len) {
                    return Err(ImageError::Invalid(format!(
                        "table {id}: array slot {i} out of range"
                    )));
                }
                if let Some((i, _, _)) = p.entries.iter().find(|(i, _, _)| *i >= p.entries_len) {
                    return Err(ImageError::Invalid(format!(
                        "table {id}: entry {i} out of range"
                    )));
                }
                if p.entries.iter().any(|(_, k, _)| matches!(k, Val::Nil)) {
                    return Err(ImageError::Invalid(format!("table {id}: a nil key")));
                }
            }
            Object::Thread(t) => {
                // The executor indexes the stack by these: they must fit.
                let len = t.stack.len() as u64;
                let bad = |what: &str| {
                    Err(ImageError::Invalid(format!(
                        "thread {id}: {what} outside its stack"
                    )))
                };
                if t.tbc.iter().any(|s| u64::from(*s) >= len) {
                    return bad("a to-be-closed slot");
                }
                if t.open_upvalues.iter().any(|(s, _)| u64::from(*s) >= len) {
                    return bad("an open upvalue");
                }
                for (i, f) in t.frames.iter().enumerate() {
                    let top = i + 1 == t.frames.len();
                    match f {
                        FrameRecord::Lua {
                            closure,
                            base,
                            pc,
                            func,
                            ..
                        } => {
                            expect(*closure, "closure")?;
                            let (code_len, max_stack) = match image.objects.get(closure) {
                                Some(Object::Closure { proto, .. }) => {
                                    match image.objects.get(proto) {
                                        Some(Object::Proto(p)) => (p.code.len(), p.max_stack),
                                        _ => held.proto_code(*proto).ok_or(
                                            ImageError::WrongKind {
                                                id: *proto,
                                                expected: "prototype",
                                                found: kind_of(*proto)?,
                                            },
                                        )?,
                                    }
                                }
                                _ => held
                                    .closure_code(*closure)
                                    .ok_or(ImageError::Missing { id: *closure })?,
                            };
                            // Only the running frame needs its whole register
                            // window; frames below a native may be cut short
                            // and regrow when it returns.
                            let window = if top { u64::from(max_stack) } else { 0 };
                            if *pc as usize > code_len
                                || u64::from(*base) + window > len
                                || u64::from(*func) >= len
                            {
                                return bad("a frame");
                            }
                        }
                        FrameRecord::Native {
                            cont, base, func, ..
                        } => {
                            if u64::from(*base) > len || u64::from(*func) > len {
                                return bad("a native frame");
                            }
                            if let ContRecord::Step { step, .. } = cont {
                                if !known_native(step) {
                                    return Err(ImageError::UnknownNative { name: step.clone() });
                                }
                            }
                        }
                    }
                }
                for &(_, u) in &t.open_upvalues {
                    expect(u, "upvalue")?;
                }
            }
            Object::UserData { meta, kind } => {
                expect(*meta, "table")?;
                match kind {
                    UserKindRecord::Task(t) => expect(*t, "task")?,
                    UserKindRecord::Channel(c) => expect(*c, "channel")?,
                    UserKindRecord::Resource { .. } => {}
                }
            }
            Object::Channel(c) => {
                for w in c.recvq.iter().chain(c.sendq.iter().map(|(w, _)| w)) {
                    expect(w.task, "task")?;
                }
            }
            Object::Task(t) => {
                if t.chain.is_empty() && !t.status.is_over() {
                    return Err(ImageError::Invalid(format!("task {id} has no thread")));
                }
                for &th in &t.chain {
                    expect(th, "thread")?;
                }
                for &(j, _) in &t.joiners {
                    expect(j, "task")?;
                }
            }
            Object::Str(_) | Object::Upvalue(UpvalueRecord::Closed(_)) => {}
        }
    }
    Ok(())
}
