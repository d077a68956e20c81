//! The arena root and the context every heap operation receives.

use std::cell::{Cell, RefCell};
use std::io::{BufWriter, Write};
use std::rc::Rc;

use gc_arena::{lock::RefLock, Collect, Gc, Mutation};

use crate::strings::{Interner, InternerRef};
use crate::table::Table;
use crate::thread::Thread;
use crate::value::{LuaStr, Value};

/// Live bytes of strings and table storage, with the configured limit.
/// Each charged object holds a [`Charge`] that gives its bytes back when
/// the collector frees it.
#[derive(Debug)]
pub struct MemoryMeter {
    used: Cell<usize>,
    pub limit: usize,
}

impl MemoryMeter {
    pub fn new(limit: usize) -> Rc<MemoryMeter> {
        Rc::new(MemoryMeter {
            used: Cell::new(0),
            limit,
        })
    }

    pub fn used(&self) -> usize {
        self.used.get()
    }

    pub fn over_limit(&self) -> bool {
        self.used.get() > self.limit
    }

    /// Whether `extra` more bytes would stay within the limit.
    pub fn allows(&self, extra: usize) -> bool {
        self.used.get().saturating_add(extra) <= self.limit
    }
}

/// Bytes charged to the meter on behalf of one heap object.
#[derive(Debug)]
pub struct Charge {
    meter: Rc<MemoryMeter>,
    bytes: Cell<usize>,
}

impl Charge {
    pub fn new(meter: &Rc<MemoryMeter>, bytes: usize) -> Charge {
        meter.used.set(meter.used.get().saturating_add(bytes));
        Charge {
            meter: meter.clone(),
            bytes: Cell::new(bytes),
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes.get()
    }

    pub fn resize(&self, bytes: usize) {
        let used = self.meter.used.get() - self.bytes.get();
        self.meter.used.set(used.saturating_add(bytes));
        self.bytes.set(bytes);
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.meter
            .used
            .set(self.meter.used.get().saturating_sub(self.bytes.get()));
    }
}

/// Metamethod events, in the order of [`State::event_names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Index,
    NewIndex,
    Call,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Unm,
    IDiv,
    BAnd,
    BOr,
    BXor,
    Shl,
    Shr,
    BNot,
    Concat,
    Len,
    Eq,
    Lt,
    Le,
    Close,
    ToString,
    Name,
    Pairs,
    Metatable,
}

impl Event {
    pub const ALL: [Event; 27] = [
        Event::Index,
        Event::NewIndex,
        Event::Call,
        Event::Add,
        Event::Sub,
        Event::Mul,
        Event::Div,
        Event::Mod,
        Event::Pow,
        Event::Unm,
        Event::IDiv,
        Event::BAnd,
        Event::BOr,
        Event::BXor,
        Event::Shl,
        Event::Shr,
        Event::BNot,
        Event::Concat,
        Event::Len,
        Event::Eq,
        Event::Lt,
        Event::Le,
        Event::Close,
        Event::ToString,
        Event::Name,
        Event::Pairs,
        Event::Metatable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Event::Index => "__index",
            Event::NewIndex => "__newindex",
            Event::Call => "__call",
            Event::Add => "__add",
            Event::Sub => "__sub",
            Event::Mul => "__mul",
            Event::Div => "__div",
            Event::Mod => "__mod",
            Event::Pow => "__pow",
            Event::Unm => "__unm",
            Event::IDiv => "__idiv",
            Event::BAnd => "__band",
            Event::BOr => "__bor",
            Event::BXor => "__bxor",
            Event::Shl => "__shl",
            Event::Shr => "__shr",
            Event::BNot => "__bnot",
            Event::Concat => "__concat",
            Event::Len => "__len",
            Event::Eq => "__eq",
            Event::Lt => "__lt",
            Event::Le => "__le",
            Event::Close => "__close",
            Event::ToString => "__tostring",
            Event::Name => "__name",
            Event::Pairs => "__pairs",
            Event::Metatable => "__metatable",
        }
    }
}

/// Everything the runtime keeps: the arena root.
#[derive(Collect)]
#[collect(no_drop)]
pub struct State<'gc> {
    pub globals: Table<'gc>,
    /// Library tables by name (`string`, `table`, ...), as `package.loaded`.
    pub registry: Table<'gc>,
    pub main_thread: Thread<'gc>,
    /// The chain of running coroutines; the last one is executing.
    pub running: Gc<'gc, RefLock<Vec<Thread<'gc>>>>,
    /// The metatable shared by all strings.
    pub string_meta: Gc<'gc, RefLock<Option<Table<'gc>>>>,
    pub event_names: Box<[LuaStr<'gc>]>,
    /// The short-string interner.
    pub strings: InternerRef<'gc>,
    #[collect(require_static)]
    pub next_id: Cell<u64>,
    #[collect(require_static)]
    pub meter: Rc<MemoryMeter>,
    /// Where `print` and `io.write` go (buffered; flushed at exit and
    /// before reading input).
    #[collect(require_static)]
    pub stdout: RefCell<Box<dyn Write>>,
    #[collect(require_static)]
    pub allow_files: Cell<bool>,
    /// Set by `collectgarbage("collect")`: the runtime runs a full cycle
    /// after the current slice, which ends early.
    #[collect(require_static)]
    pub collect_requested: Cell<bool>,
    /// Host side of io file objects.
    #[collect(require_static)]
    pub files: RefCell<crate::stdlib::io::HostFiles>,
    /// Tasks, timers and the logical clock.
    pub sched: crate::sched::SchedRef<'gc>,
    /// Host side of network resources and of async natives.
    #[collect(require_static)]
    pub host: RefCell<crate::host::Host>,
    /// Objects with an id below this were in the last heap image; their
    /// changes are recorded (0: no image yet, nothing is recorded).
    #[collect(require_static)]
    pub image_hwm: Cell<u64>,
    /// The current epoch (images taken so far + 1); objects stamp the
    /// epoch they were last recorded dirty in.
    #[collect(require_static)]
    pub epoch: Cell<u64>,
    /// Old objects changed since the last image.
    pub dirty: Gc<'gc, RefLock<Vec<Dirty<'gc>>>>,
    /// Set by `checkpoint.now()`: the runtime takes one at the next
    /// safepoint.
    #[collect(require_static)]
    pub checkpoint_requested: Cell<bool>,
    /// Every object by id, while the heap follows a primary's images (a
    /// hot standby); empty otherwise.
    pub(crate) index: Gc<'gc, RefLock<crate::image::ObjectIndex<'gc>>>,
}

/// An object changed since the last image.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub enum Dirty<'gc> {
    Str(LuaStr<'gc>),
    Table(Table<'gc>),
    Thread(Thread<'gc>),
    Upvalue(crate::thread::UpvalueRef<'gc>),
    Channel(crate::sched::Channel<'gc>),
    Task(crate::sched::Task<'gc>),
    UserData(Gc<'gc, crate::sched::UserData<'gc>>),
}

/// What every heap operation needs: the mutation handle and the root.
#[derive(Clone, Copy)]
pub struct Ctx<'gc> {
    pub mc: &'gc Mutation<'gc>,
    pub state: &'gc State<'gc>,
}

impl<'gc> Ctx<'gc> {
    /// A fresh object id: monotonic, never reused.
    pub fn next_id(self) -> u64 {
        let id = self.state.next_id.get();
        self.state.next_id.set(id + 1);
        id
    }

    pub fn charge(self, bytes: usize) -> Charge {
        Charge::new(&self.state.meter, bytes)
    }

    pub fn str(self, s: &str) -> Value<'gc> {
        Value::String(LuaStr::new(self, s.as_bytes()))
    }

    pub fn bytes(self, s: &[u8]) -> Value<'gc> {
        Value::String(LuaStr::new(self, s))
    }

    pub fn event(self, e: Event) -> LuaStr<'gc> {
        self.state.event_names[e as usize]
    }

    /// Records that the object `id` (stamped with `stamp`) changed, if the
    /// last heap image holds it and it is not recorded yet this epoch.
    #[inline]
    pub fn note_dirty(self, id: u64, stamp: &Cell<u64>, object: impl FnOnce() -> Dirty<'gc>) {
        if id < self.state.image_hwm.get() {
            let epoch = self.state.epoch.get();
            if stamp.get() != epoch {
                stamp.set(epoch);
                self.state.dirty.borrow_mut(self.mc).push(object());
            }
        }
    }

    /// Records that thread `t` changed (it ran, or something wrote to it).
    #[inline]
    pub fn touch_thread(self, t: Thread<'gc>) {
        if self.state.image_hwm.get() == 0 {
            return;
        }
        let th = t.0.borrow();
        self.note_dirty(th.id, &th.dirty_stamp, || Dirty::Thread(t));
    }

    /// The metatable of any value.
    pub fn metatable(self, v: Value<'gc>) -> Option<Table<'gc>> {
        match v {
            Value::Table(t) => t.metatable(),
            Value::String(_) => *self.state.string_meta.borrow(),
            Value::UserData(u) => Some(u.meta),
            _ => None,
        }
    }

    /// The metamethod `e` of `v`, or nil.
    pub fn metamethod(self, v: Value<'gc>, e: Event) -> Value<'gc> {
        match self.metatable(v) {
            Some(mt) => mt.get(Value::String(self.event(e))),
            None => Value::Nil,
        }
    }
}

impl<'gc> State<'gc> {
    pub fn new(mc: &'gc Mutation<'gc>, meter: Rc<MemoryMeter>) -> State<'gc> {
        // Ids are needed before the state exists; bootstrap with a counter
        // that the state then continues.
        let next_id = Cell::new(1);
        let strings: InternerRef<'gc> = Gc::new(mc, RefLock::new(Interner::default()));
        let names: Vec<LuaStr<'gc>> = Event::ALL
            .iter()
            .map(|e| LuaStr::intern(mc, strings, &next_id, &meter, e.name().as_bytes()))
            .collect();
        let globals = Table::bootstrap(mc, &next_id, &meter);
        let registry = Table::bootstrap(mc, &next_id, &meter);
        let main_thread = Thread::bootstrap(mc, &next_id, &meter);
        State {
            globals,
            registry,
            main_thread,
            running: Gc::new(mc, RefLock::new(vec![main_thread])),
            string_meta: Gc::new(mc, RefLock::new(None)),
            event_names: names.into_boxed_slice(),
            strings,
            next_id,
            meter,
            stdout: RefCell::new(Box::new(BufWriter::new(std::io::stdout()))),
            allow_files: Cell::new(true),
            files: RefCell::new(Default::default()),
            collect_requested: Cell::new(false),
            sched: Gc::new(mc, RefLock::new(Default::default())),
            host: RefCell::new(Default::default()),
            image_hwm: Cell::new(0),
            epoch: Cell::new(1),
            dirty: Gc::new(mc, RefLock::new(Vec::new())),
            checkpoint_requested: Cell::new(false),
            index: Gc::new(mc, RefLock::new(Default::default())),
        }
    }
}

/// Runs `f` with a context over a fresh arena (for unit tests).
#[cfg(test)]
pub fn with_test_ctx(f: impl for<'gc> FnOnce(Ctx<'gc>)) {
    use gc_arena::{Arena, Rootable};
    let meter = MemoryMeter::new(usize::MAX);
    let arena = Arena::<Rootable![State<'_>]>::new(|mc| State::new(mc, meter));
    arena.mutate(|mc, state| f(Ctx { mc, state }));
}
