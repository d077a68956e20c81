//! Rebuilding a heap from images: from a full image, and then, for a heap
//! that follows a primary (a hot standby), from each delta applied in
//! place. The image has been validated ([`super::validate`],
//! [`super::validate_delta`]), so every reference resolves and every
//! native is known: building cannot fail half-way.
//!
//! Objects are made with their recorded ids in an order that respects
//! construction: strings; then shells of the mutable objects (tables,
//! threads, upvalues, channels, tasks); then the immutable ones that point
//! at them (prototypes, closures, natives, userdata); then every mutable
//! object is filled in. Objects are found by id in the state's
//! [`ObjectIndex`]; one that a delta carries and the heap holds is
//! updated in place when mutable, and kept when immutable (ids are never
//! reused, so its record is the same).

use std::collections::HashMap as StdHashMap;
use std::rc::Rc;
use std::sync::{Mutex, OnceLock};

use gc_arena::{lock::RefLock, Collect, Gc, Mutation};

use super::*;
use crate::compiler::proto::{Constant, FunctionProto};
use crate::native::{Cont, NativeFn};
use crate::sched::chan::ChannelState;
use crate::sched::{Channel, Delivery, Resource, Task, TaskState, UserData, UserKind, Waiter};
use crate::state::{MemoryMeter, State};
use crate::strings::{Interner, InternerRef};
use crate::table::Table;
use crate::thread::{Frame, LuaFrame, NativeFrame, Thread, Upvalue, UpvalueRef, UpvalueState};
use crate::value::{Closure, LuaStr, Native, Proto, Value};

/// Finds a native by its stable name: the name as a static string (what
/// native values and frames hold) and the function.
pub type NativeResolver<'a> = &'a dyn Fn(&str) -> Option<(&'static str, NativeFn)>;

/// A static copy of a frame name. Frame names are few (natives' names and
/// a handful of internal ones), so each is leaked once per process.
fn static_name(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<StdHashMap<String, &'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(s) = names.get(name) {
        return s;
    }
    let s: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(name.to_owned(), s);
    s
}

/// Every object of a heap rebuilt from images, by id: what deltas refer
/// to. Held only while the heap follows a primary. It does not keep the
/// objects alive: the collector frees what the program no longer reaches
/// (a delta never refers to such an object again: ids are never reused),
/// and [`ObjectIndex::sweep`] drops their entries.
#[derive(Default, Collect)]
#[collect(no_drop)]
pub(crate) struct ObjectIndex<'gc> {
    map: std::collections::HashMap<u64, WeakRef<'gc>, hashbrown::DefaultHashBuilder>,
}

impl<'gc> ObjectIndex<'gc> {
    pub(crate) fn get(&self, mc: &Mutation<'gc>, id: u64) -> Option<HeapRef<'gc>> {
        self.map.get(&id)?.upgrade(mc)
    }

    fn insert(&mut self, id: u64, object: HeapRef<'gc>) {
        self.map.insert(id, object.downgrade());
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Drops the entries of objects the collector freed; how many remain.
    /// O(index).
    pub(crate) fn sweep(&mut self) -> usize {
        self.map.retain(|_, w| !w.is_dropped());
        self.map.len()
    }

    /// The objects still alive.
    pub(crate) fn objects<'a>(
        &'a self,
        mc: &'a Mutation<'gc>,
    ) -> impl Iterator<Item = HeapRef<'gc>> + 'a {
        self.map.values().filter_map(move |w| w.upgrade(mc))
    }
}

/// The index as a check of deltas sees it.
struct IndexView<'a, 'gc> {
    index: &'a ObjectIndex<'gc>,
    mc: &'a Mutation<'gc>,
}

impl<'gc> Held for IndexView<'_, 'gc> {
    fn kind(&self, id: u64) -> Option<&'static str> {
        self.index.get(self.mc, id).map(|r| r.kind())
    }

    fn closure_code(&self, id: u64) -> Option<(usize, u16)> {
        match self.index.get(self.mc, id) {
            Some(HeapRef::Closure(c)) => Some((c.proto.code.len(), c.proto.max_stack)),
            _ => None,
        }
    }

    fn proto_code(&self, id: u64) -> Option<(usize, u16)> {
        match self.index.get(self.mc, id) {
            Some(HeapRef::Proto(p)) => Some((p.code.len(), p.max_stack)),
            _ => None,
        }
    }
}

struct Build<'gc, 'a> {
    mc: &'gc Mutation<'gc>,
    image: &'a Image,
    resolve: NativeResolver<'a>,
    meter: Rc<MemoryMeter>,
    interner: InternerRef<'gc>,
    index: &'a mut ObjectIndex<'gc>,
}

/// A typed lookup in the index of an object validation checked the kind of.
macro_rules! held {
    ($name:ident, $variant:ident, $ty:ty) => {
        fn $name(&self, id: u64) -> $ty {
            match self.index.get(self.mc, id) {
                Some(HeapRef::$variant(x)) => x,
                _ => unreachable!("validated: {id} is a {}", stringify!($name)),
            }
        }
    };
}

impl<'gc, 'a> Build<'gc, 'a> {
    held!(table, Table, Table<'gc>);
    held!(thread, Thread, Thread<'gc>);
    held!(upvalue, Upvalue, UpvalueRef<'gc>);
    held!(channel, Channel, Channel<'gc>);
    held!(task, Task, Task<'gc>);
    held!(closure, Closure, Gc<'gc, Closure<'gc>>);
    held!(string, Str, LuaStr<'gc>);

    fn val(&self, v: Val) -> Value<'gc> {
        match v {
            Val::Nil => Value::Nil,
            Val::Bool(b) => Value::Boolean(b),
            Val::Int(i) => Value::Integer(i),
            Val::Num(f) => Value::Number(f),
            Val::Ref(id) => match self.index.get(self.mc, id) {
                Some(HeapRef::Str(s)) => Value::String(s),
                Some(HeapRef::Table(t)) => Value::Table(t),
                Some(HeapRef::Closure(c)) => Value::Closure(c),
                Some(HeapRef::Native(n)) => Value::Native(n),
                Some(HeapRef::Thread(t)) => Value::Thread(t),
                Some(HeapRef::UserData(u)) => Value::UserData(u),
                // Only prototypes, upvalues, channels and tasks are not
                // values; a reference to one in a value slot reads as nil.
                _ => Value::Nil,
            },
        }
    }

    fn vals(&self, vs: &[Val]) -> Vec<Value<'gc>> {
        vs.iter().map(|v| self.val(*v)).collect()
    }

    fn proto(&mut self, id: u64) -> Gc<'gc, Proto<'gc>> {
        if let Some(HeapRef::Proto(p)) = self.index.get(self.mc, id) {
            return p;
        }
        let Some(Object::Proto(r)) = self.image.objects.get(&id) else {
            unreachable!("validated: {id} is a prototype")
        };
        let children: Box<[_]> = r.protos.iter().map(|c| self.proto(*c)).collect();
        let constants: Box<[Value<'gc>]> = r.constants.iter().map(|c| self.val(*c)).collect();
        let info_constants = constants
            .iter()
            .map(|c| match c {
                Value::Integer(i) => Constant::Integer(*i),
                Value::Number(f) => Constant::Float(*f),
                Value::String(s) => Constant::String(s.as_bytes().into()),
                _ => unreachable!("validated: constants are numbers and strings"),
            })
            .collect();
        let info = Rc::new(FunctionProto {
            source: Rc::from(r.source.as_str()),
            chunkname: Rc::from(r.chunkname.as_str()),
            line_defined: r.line_defined,
            last_line: r.last_line,
            num_params: r.num_params,
            is_vararg: r.is_vararg,
            max_stack: r.max_stack,
            code: r.code.clone(),
            lines: r.lines.clone(),
            constants: info_constants,
            protos: Vec::new(),
            upvalues: r.upvalues.clone(),
            locals: r.locals.clone(),
        });
        let p = Gc::new(
            self.mc,
            Proto {
                id,
                max_stack: info.max_stack,
                num_params: info.num_params,
                is_vararg: info.is_vararg,
                code: info.code.clone().into_boxed_slice(),
                constants,
                protos: children,
                info,
            },
        );
        self.index.insert(id, HeapRef::Proto(p));
        p
    }

    /// Natives may hold other natives as upvalues: made on demand.
    fn native(&mut self, id: u64) -> Gc<'gc, Native<'gc>> {
        if let Some(HeapRef::Native(n)) = self.index.get(self.mc, id) {
            return n;
        }
        let Some(Object::Native { name, upvalues }) = self.image.objects.get(&id) else {
            unreachable!("validated: {id} is a native")
        };
        for v in upvalues {
            if let Val::Ref(r) = v {
                if matches!(self.image.objects.get(r), Some(Object::Native { .. })) {
                    self.native(*r);
                }
            }
        }
        let (name, func) = (self.resolve)(name).expect("validated: the native is known");
        let n = Gc::new(
            self.mc,
            Native {
                id,
                name,
                func,
                upvalues: self.vals(upvalues).into_boxed_slice(),
            },
        );
        self.index.insert(id, HeapRef::Native(n));
        n
    }
    fn waiter(&self, w: &WaiterRecord) -> Waiter<'gc> {
        Waiter {
            task: self.task(w.task),
            seq: w.seq,
            case: w.case,
        }
    }

    fn delivery(&self, d: &DeliveryRecord) -> Delivery<'gc> {
        match d {
            DeliveryRecord::Values(vs) => Ok(self.vals(vs)),
            DeliveryRecord::Error(e) => Err(self.val(*e)),
        }
    }

    fn cont(&self, c: &ContRecord) -> Cont<'gc> {
        match c {
            ContRecord::Return => Cont::Return,
            ContRecord::Pcall => Cont::Pcall,
            ContRecord::Xpcall { handler } => Cont::Xpcall {
                handler: self.val(*handler),
            },
            ContRecord::XpcallHandler { frame } => Cont::XpcallHandler {
                frame: *frame as usize,
            },
            ContRecord::Unwinding { error } => Cont::Unwinding {
                error: self.val(*error),
            },
            ContRecord::CloseThread => Cont::CloseThread,
            ContRecord::CloseAll { error } => Cont::CloseAll {
                error: error.map(|e| self.val(e)),
            },
            ContRecord::Resume => Cont::Resume,
            ContRecord::Wrap => Cont::Wrap,
            ContRecord::ToString => Cont::ToString,
            ContRecord::Step { step, state } => Cont::Step {
                step: (self.resolve)(step)
                    .expect("validated: the step is known")
                    .1,
                state: self.val(*state),
            },
        }
    }

    fn build(&mut self) {
        let image = self.image;
        // Strings, then shells of everything mutable not held yet.
        for (&id, obj) in &image.objects {
            if self.index.get(self.mc, id).is_some() {
                continue;
            }
            let mc = self.mc;
            let made = match obj {
                Object::Str(bytes) => {
                    HeapRef::Str(LuaStr::restore(mc, self.interner, &self.meter, id, bytes))
                }
                Object::Table(_) => HeapRef::Table(Table::with_id(mc, id, &self.meter)),
                Object::Thread(_) => HeapRef::Thread(Thread::with_id(mc, id, &self.meter)),
                Object::Upvalue(_) => HeapRef::Upvalue(Gc::new(
                    mc,
                    RefLock::new(Upvalue {
                        id,
                        state: UpvalueState::Closed(Value::Nil),
                        dirty_stamp: Default::default(),
                    }),
                )),
                Object::Channel(c) => HeapRef::Channel(Gc::new(
                    mc,
                    RefLock::new(ChannelState {
                        id,
                        cap: c.cap as usize,
                        buf: Default::default(),
                        closed: c.closed,
                        recvq: Default::default(),
                        sendq: Default::default(),
                        dirty_stamp: Default::default(),
                    }),
                )),
                Object::Task(t) => HeapRef::Task(Gc::new(
                    mc,
                    RefLock::new(TaskState {
                        id: t.task_id,
                        oid: id,
                        chain: Vec::new(),
                        status: t.status,
                        wait_seq: t.wait_seq,
                        waiting_on: t.waiting_on,
                        wake: None,
                        outcome: None,
                        joiners: Vec::new(),
                        dirty_stamp: Default::default(),
                    }),
                )),
                _ => continue,
            };
            self.index.insert(id, made);
        }
        // Immutable objects pointing at the shells.
        for (&id, obj) in &image.objects {
            match obj {
                Object::Proto(_) => {
                    self.proto(id);
                }
                Object::Closure { proto, upvalues } if self.index.get(self.mc, id).is_none() => {
                    let proto = self.proto(*proto);
                    let c = Gc::new(
                        self.mc,
                        Closure {
                            id,
                            proto,
                            upvalues: upvalues.iter().map(|u| self.upvalue(*u)).collect(),
                        },
                    );
                    self.index.insert(id, HeapRef::Closure(c));
                }
                _ => {}
            }
        }
        for (&id, obj) in &image.objects {
            match obj {
                Object::Native { .. } => {
                    self.native(id);
                }
                Object::UserData { meta, kind } => {
                    if let Some(HeapRef::UserData(held)) = self.index.get(self.mc, id) {
                        // Only a resource's state changes.
                        if let (UserKind::Resource(r), UserKindRecord::Resource { closed, .. }) =
                            (&held.kind, kind)
                        {
                            r.borrow_mut(self.mc).closed = *closed;
                        }
                        continue;
                    }
                    let kind = match kind {
                        UserKindRecord::Task(t) => UserKind::Task(self.task(*t)),
                        UserKindRecord::Channel(c) => UserKind::Channel(self.channel(*c)),
                        UserKindRecord::Resource { kind, addr, closed } => {
                            UserKind::Resource(Gc::new(
                                self.mc,
                                RefLock::new(Resource {
                                    kind: *kind,
                                    // The OS object is gone: no host id
                                    // resolves, so operations report the
                                    // failover.
                                    host_id: 0,
                                    addr: addr.clone(),
                                    closed: *closed,
                                }),
                            ))
                        }
                    };
                    let u = Gc::new(
                        self.mc,
                        UserData {
                            id,
                            meta: self.table(*meta),
                            kind,
                            dirty_stamp: Default::default(),
                        },
                    );
                    self.index.insert(id, HeapRef::UserData(u));
                }
                _ => {}
            }
        }
        // Fill in the mutable objects.
        for (&id, obj) in &image.objects {
            let mc = self.mc;
            match obj {
                Object::Table(r) => {
                    let t = self.table(id);
                    let array = self.vals(&r.array);
                    let entries = r
                        .entries
                        .iter()
                        .map(|(k, v)| (self.val(*k), self.val(*v)))
                        .collect();
                    let mut data = t.data_mut(mc);
                    data.metatable = r.meta.map(|m| self.table(m));
                    data.restore_parts(array, entries);
                }
                Object::TablePatch(p) => {
                    let t = self.table(id);
                    let array = p.array.iter().map(|(i, v)| (*i as usize, self.val(*v)));
                    let entries = p
                        .entries
                        .iter()
                        .map(|(i, k, v)| (*i as usize, self.val(*k), self.val(*v)));
                    let mut data = t.data_mut(mc);
                    data.metatable = p.meta.map(|m| self.table(m));
                    data.patch_parts(p.array_len as usize, p.entries_len as usize, array, entries);
                }
                Object::Upvalue(r) => {
                    let state = match r {
                        UpvalueRecord::Open { thread, slot } => UpvalueState::Open {
                            thread: self.thread(*thread),
                            slot: *slot as usize,
                        },
                        UpvalueRecord::Closed(v) => UpvalueState::Closed(self.val(*v)),
                    };
                    self.upvalue(id).borrow_mut(mc).state = state;
                }
                Object::Thread(r) => {
                    let frames = r
                        .frames
                        .iter()
                        .map(|f| match f {
                            FrameRecord::Lua {
                                closure,
                                base,
                                pc,
                                func,
                                ret,
                                varargs,
                                cdepth,
                            } => Frame::Lua(LuaFrame {
                                closure: self.closure(*closure),
                                base: *base as usize,
                                pc: *pc as usize,
                                func: *func as usize,
                                ret: *ret,
                                varargs: *varargs as usize,
                                cdepth: *cdepth,
                            }),
                            FrameRecord::Native {
                                name,
                                func,
                                base,
                                ret,
                                cont,
                                cdepth,
                            } => Frame::Native(NativeFrame {
                                name: static_name(name),
                                func: *func as usize,
                                base: *base as usize,
                                ret: *ret,
                                cont: self.cont(cont),
                                cdepth: *cdepth,
                            }),
                        })
                        .collect();
                    let mut th = self.thread(id).0.borrow_mut(mc);
                    th.status = r.status;
                    th.stack = self.vals(&r.stack);
                    th.frames = frames;
                    th.open_upvalues = r
                        .open_upvalues
                        .iter()
                        .map(|(slot, u)| (*slot as usize, self.upvalue(*u)))
                        .collect();
                    th.tbc = r.tbc.iter().map(|s| *s as usize).collect();
                    th.top = r.top as usize;
                    th.error = r.error.map(|e| self.val(e));
                    th.recharge();
                }
                Object::Channel(r) => {
                    let mut c = self.channel(id).borrow_mut(mc);
                    c.cap = r.cap as usize;
                    c.closed = r.closed;
                    c.buf = r.buf.iter().map(|v| self.val(*v)).collect();
                    c.recvq = r.recvq.iter().map(|w| self.waiter(w)).collect();
                    c.sendq = r
                        .sendq
                        .iter()
                        .map(|(w, v)| (self.waiter(w), self.val(*v)))
                        .collect();
                }
                Object::Task(r) => {
                    let mut t = self.task(id).borrow_mut(mc);
                    t.status = r.status;
                    t.wait_seq = r.wait_seq;
                    t.waiting_on = r.waiting_on;
                    t.chain = r.chain.iter().map(|th| self.thread(*th)).collect();
                    t.wake = r.wake.as_ref().map(|d| self.delivery(d));
                    t.outcome = r.outcome.as_ref().map(|d| self.delivery(d));
                    t.joiners = r
                        .joiners
                        .iter()
                        .map(|(j, seq)| (self.task(*j), *seq))
                        .collect();
                }
                _ => {}
            }
        }
    }

    /// The roots a delta may change: the string metatable, the scheduler
    /// and the id counter.
    fn set_roots(&self, state: &State<'gc>) {
        let root = &self.image.root;
        *state.string_meta.borrow_mut(self.mc) = root.string_meta.map(|m| self.table(m));
        let mut s = state.sched.borrow_mut(self.mc);
        s.tasks = root
            .sched
            .tasks
            .iter()
            .map(|t| {
                let task = self.task(*t);
                let id = task.borrow().id;
                (id, task)
            })
            .collect();
        s.ready = root.sched.ready.iter().map(|t| self.task(*t)).collect();
        s.timers = root
            .sched
            .timers
            .iter()
            .map(|(deadline, seq, w)| ((*deadline, *seq), self.waiter(w)))
            .collect();
        s.timer_seq = root.sched.timer_seq;
        s.now = root.sched.now;
        s.last_task_id = root.sched.last_task_id;
        s.main_task = root.sched.main_task;
        s.current = None;
        drop(s);
        state.next_id.set(root.next_id);
    }
}

/// Builds the arena root from a validated full image. `state` is a fresh
/// state whose roots are replaced (its own objects become garbage). Its
/// index holds every object built, for deltas to follow.
pub fn restore_state<'gc>(
    mc: &'gc Mutation<'gc>,
    mut state: State<'gc>,
    image: &Image,
    resolve: NativeResolver<'_>,
) -> State<'gc> {
    let interner: InternerRef<'gc> = Gc::new(mc, RefLock::new(Interner::default()));
    let index = state.index;
    let mut index = index.borrow_mut(mc);
    *index = ObjectIndex::default();
    index.map.reserve(image.objects.len());
    let mut b = Build {
        mc,
        image,
        resolve,
        meter: state.meter.clone(),
        interner,
        index: &mut index,
    };
    b.build();
    let root = &image.root;
    state.strings = interner;
    state.globals = b.table(root.globals);
    state.registry = b.table(root.registry);
    state.main_thread = b.thread(root.main_thread);
    state.running = Gc::new(mc, RefLock::new(Vec::new()));
    state.event_names = root.event_names.iter().map(|s| b.string(*s)).collect();
    b.set_roots(&state);
    drop(index);
    state
}

/// Applies a delta to a heap rebuilt from images (its index held): checks
/// it first, against the delta itself and what the heap holds, so that a
/// delta refused changes nothing. O(delta).
pub(crate) fn follow_delta<'gc>(
    mc: &'gc Mutation<'gc>,
    state: &State<'gc>,
    delta: &Image,
    resolve: NativeResolver<'_>,
) -> Result<(), ImageError> {
    let mut index = state.index.borrow_mut(mc);
    let view = IndexView { index: &index, mc };
    super::validate_delta(delta, &view, &|name| resolve(name).is_some())?;
    let root = &delta.root;
    let same = |held: u64, now: u64| held == now;
    if !same(state.globals.id(), root.globals)
        || !same(state.registry.id(), root.registry)
        || !same(state.main_thread.0.borrow().id, root.main_thread)
        || state
            .event_names
            .iter()
            .map(|s| s.id())
            .ne(root.event_names.iter().copied())
    {
        return Err(ImageError::Invalid(
            "the delta replaces the program's globals, registry or main thread".into(),
        ));
    }
    let mut b = Build {
        mc,
        image: delta,
        resolve,
        meter: state.meter.clone(),
        interner: state.strings,
        index: &mut index,
    };
    b.build();
    b.set_roots(state);
    Ok(())
}
