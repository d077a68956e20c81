//! Rebuilding a heap from a full image. The image has been validated
//! ([`super::validate`]), so every reference resolves and every native is
//! known: building cannot fail half-way.
//!
//! Objects are made with their recorded ids in an order that respects
//! construction: strings; then shells of the mutable objects (tables,
//! threads, upvalues, channels, tasks); then the immutable ones that point
//! at them (prototypes, closures, natives, userdata); then every mutable
//! object is filled in.

use std::cell::Cell;
use std::collections::HashMap as StdHashMap;
use std::rc::Rc;
use std::sync::{Mutex, OnceLock};

use gc_arena::{lock::RefLock, Gc, Mutation};
use hashbrown::HashMap;

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

struct Build<'gc, 'a> {
    mc: &'gc Mutation<'gc>,
    image: &'a Image,
    resolve: NativeResolver<'a>,
    meter: Rc<MemoryMeter>,
    interner: InternerRef<'gc>,
    next_id: Cell<u64>,
    strings: HashMap<u64, LuaStr<'gc>>,
    tables: HashMap<u64, Table<'gc>>,
    threads: HashMap<u64, Thread<'gc>>,
    upvalues: HashMap<u64, UpvalueRef<'gc>>,
    channels: HashMap<u64, Channel<'gc>>,
    tasks: HashMap<u64, Task<'gc>>,
    protos: HashMap<u64, Gc<'gc, Proto<'gc>>>,
    closures: HashMap<u64, Gc<'gc, Closure<'gc>>>,
    natives: HashMap<u64, Gc<'gc, Native<'gc>>>,
    userdata: HashMap<u64, Gc<'gc, UserData<'gc>>>,
}

impl<'gc, 'a> Build<'gc, 'a> {
    fn val(&self, v: Val) -> Value<'gc> {
        match v {
            Val::Nil => Value::Nil,
            Val::Bool(b) => Value::Boolean(b),
            Val::Int(i) => Value::Integer(i),
            Val::Num(f) => Value::Number(f),
            Val::Ref(id) => {
                if let Some(s) = self.strings.get(&id) {
                    Value::String(*s)
                } else if let Some(t) = self.tables.get(&id) {
                    Value::Table(*t)
                } else if let Some(c) = self.closures.get(&id) {
                    Value::Closure(*c)
                } else if let Some(n) = self.natives.get(&id) {
                    Value::Native(*n)
                } else if let Some(t) = self.threads.get(&id) {
                    Value::Thread(*t)
                } else if let Some(u) = self.userdata.get(&id) {
                    Value::UserData(*u)
                } else {
                    // Only prototypes, upvalues, channels and tasks are not
                    // values; a reference to one in a value slot reads as nil.
                    Value::Nil
                }
            }
        }
    }

    fn vals(&self, vs: &[Val]) -> Vec<Value<'gc>> {
        vs.iter().map(|v| self.val(*v)).collect()
    }

    fn proto(&mut self, id: u64) -> Gc<'gc, Proto<'gc>> {
        if let Some(p) = self.protos.get(&id) {
            return *p;
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
        self.protos.insert(id, p);
        p
    }

    /// Natives may hold other natives as upvalues: made on demand.
    fn native(&mut self, id: u64) -> Gc<'gc, Native<'gc>> {
        if let Some(n) = self.natives.get(&id) {
            return *n;
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
        self.natives.insert(id, n);
        n
    }

    fn waiter(&self, w: &WaiterRecord) -> Waiter<'gc> {
        Waiter {
            task: self.tasks[&w.task],
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
        // Strings, then shells of everything mutable.
        for (&id, obj) in &image.objects {
            let mc = self.mc;
            match obj {
                Object::Str(bytes) => {
                    let s = LuaStr::restore(mc, self.interner, &self.meter, id, bytes);
                    self.strings.insert(id, s);
                }
                Object::Table(_) => {
                    self.tables.insert(id, Table::with_id(mc, id, &self.meter));
                }
                Object::Thread(_) => {
                    self.threads
                        .insert(id, Thread::with_id(mc, id, &self.meter));
                }
                Object::Upvalue(_) => {
                    let u = Gc::new(
                        mc,
                        RefLock::new(Upvalue {
                            id,
                            state: UpvalueState::Closed(Value::Nil),
                            dirty_stamp: Default::default(),
                        }),
                    );
                    self.upvalues.insert(id, u);
                }
                Object::Channel(c) => {
                    let ch = Gc::new(
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
                    );
                    self.channels.insert(id, ch);
                }
                Object::Task(t) => {
                    let task = Gc::new(
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
                    );
                    self.tasks.insert(id, task);
                }
                _ => {}
            }
        }
        // Immutable objects pointing at the shells.
        for (&id, obj) in &image.objects {
            match obj {
                Object::Proto(_) => {
                    self.proto(id);
                }
                Object::Closure { proto, upvalues } => {
                    let proto = self.proto(*proto);
                    let c = Gc::new(
                        self.mc,
                        Closure {
                            id,
                            proto,
                            upvalues: upvalues.iter().map(|u| self.upvalues[u]).collect(),
                        },
                    );
                    self.closures.insert(id, c);
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
                    let kind = match kind {
                        UserKindRecord::Task(t) => UserKind::Task(self.tasks[t]),
                        UserKindRecord::Channel(c) => UserKind::Channel(self.channels[c]),
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
                            meta: self.tables[meta],
                            kind,
                            dirty_stamp: Default::default(),
                        },
                    );
                    self.userdata.insert(id, u);
                }
                _ => {}
            }
        }
        // Fill in the mutable objects.
        for (&id, obj) in &image.objects {
            let mc = self.mc;
            match obj {
                Object::Table(r) => {
                    let t = self.tables[&id];
                    let array = self.vals(&r.array);
                    let entries = r
                        .entries
                        .iter()
                        .map(|(k, v)| (self.val(*k), self.val(*v)))
                        .collect();
                    let mut data = t.data_mut(mc);
                    data.metatable = r.meta.map(|m| self.tables[&m]);
                    data.restore_parts(array, entries);
                }
                Object::Upvalue(r) => {
                    let state = match r {
                        UpvalueRecord::Open { thread, slot } => UpvalueState::Open {
                            thread: self.threads[thread],
                            slot: *slot as usize,
                        },
                        UpvalueRecord::Closed(v) => UpvalueState::Closed(self.val(*v)),
                    };
                    self.upvalues[&id].borrow_mut(mc).state = state;
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
                                closure: self.closures[closure],
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
                    let mut th = self.threads[&id].0.borrow_mut(mc);
                    th.status = r.status;
                    th.stack = self.vals(&r.stack);
                    th.frames = frames;
                    th.open_upvalues = r
                        .open_upvalues
                        .iter()
                        .map(|(slot, u)| (*slot as usize, self.upvalues[u]))
                        .collect();
                    th.tbc = r.tbc.iter().map(|s| *s as usize).collect();
                    th.top = r.top as usize;
                    th.error = r.error.map(|e| self.val(e));
                    th.recharge();
                }
                Object::Channel(r) => {
                    let mut c = self.channels[&id].borrow_mut(mc);
                    c.buf = r.buf.iter().map(|v| self.val(*v)).collect();
                    c.recvq = r.recvq.iter().map(|w| self.waiter(w)).collect();
                    c.sendq = r
                        .sendq
                        .iter()
                        .map(|(w, v)| (self.waiter(w), self.val(*v)))
                        .collect();
                }
                Object::Task(r) => {
                    let mut t = self.tasks[&id].borrow_mut(mc);
                    t.chain = r.chain.iter().map(|th| self.threads[th]).collect();
                    t.wake = r.wake.as_ref().map(|d| self.delivery(d));
                    t.outcome = r.outcome.as_ref().map(|d| self.delivery(d));
                    t.joiners = r
                        .joiners
                        .iter()
                        .map(|(j, seq)| (self.tasks[j], *seq))
                        .collect();
                }
                _ => {}
            }
        }
    }
}

/// Builds the arena root from a validated full image. `state` is a fresh
/// state whose roots are replaced (its own objects become garbage).
pub fn restore_state<'gc>(
    mc: &'gc Mutation<'gc>,
    mut state: State<'gc>,
    image: &Image,
    resolve: NativeResolver<'_>,
) -> State<'gc> {
    let interner: InternerRef<'gc> = Gc::new(mc, RefLock::new(Interner::default()));
    let mut b = Build {
        mc,
        image,
        resolve,
        meter: state.meter.clone(),
        interner,
        next_id: Cell::new(image.root.next_id),
        strings: HashMap::with_capacity(
            image
                .objects
                .values()
                .filter(|o| matches!(o, Object::Str(_)))
                .count(),
        ),
        tables: HashMap::new(),
        threads: HashMap::new(),
        upvalues: HashMap::new(),
        channels: HashMap::new(),
        tasks: HashMap::new(),
        protos: HashMap::new(),
        closures: HashMap::new(),
        natives: HashMap::new(),
        userdata: HashMap::new(),
    };
    b.build();
    let root = &image.root;
    state.strings = interner;
    state.globals = b.tables[&root.globals];
    state.registry = b.tables[&root.registry];
    state.main_thread = b.threads[&root.main_thread];
    state.running = Gc::new(mc, RefLock::new(Vec::new()));
    state.string_meta = Gc::new(mc, RefLock::new(root.string_meta.map(|m| b.tables[&m])));
    state.event_names = root.event_names.iter().map(|s| b.strings[s]).collect();
    {
        let mut s = state.sched.borrow_mut(mc);
        s.tasks = root
            .sched
            .tasks
            .iter()
            .map(|t| {
                let task = b.tasks[t];
                let id = task.borrow().id;
                (id, task)
            })
            .collect();
        s.ready = root.sched.ready.iter().map(|t| b.tasks[t]).collect();
        s.timers = root
            .sched
            .timers
            .iter()
            .map(|(deadline, seq, w)| ((*deadline, *seq), b.waiter(w)))
            .collect();
        s.timer_seq = root.sched.timer_seq;
        s.now = root.sched.now;
        s.last_task_id = root.sched.last_task_id;
        s.main_task = root.sched.main_task;
        s.current = None;
    }
    state.next_id.set(b.next_id.get());
    state
}
