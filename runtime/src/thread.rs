//! Lua threads (coroutines and the main thread): a value stack, a frame
//! stack and the open upvalues, all plain heap data so that a suspended
//! thread is fully described by its fields.

use gc_arena::{lock::RefLock, Collect, Gc, Mutation};

use crate::native::Cont;
use crate::state::{Charge, Ctx};
use crate::value::{Closure, Value};

#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct Thread<'gc>(pub(crate) Gc<'gc, RefLock<ThreadState<'gc>>>);

impl<'gc> PartialEq for Thread<'gc> {
    fn eq(&self, other: &Self) -> bool {
        Gc::ptr_eq(self.0, other.0)
    }
}

impl<'gc> std::fmt::Debug for Thread<'gc> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "thread: {:p}", Gc::as_ptr(self.0))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Collect, serde::Serialize, serde::Deserialize)]
#[collect(require_static)]
pub enum ThreadStatus {
    /// Created or yielded: can be resumed.
    Suspended,
    Running,
    /// Resumed another coroutine and waits for it.
    Normal,
    Dead,
}

/// How a finished call's results are delivered to the frame below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Collect, serde::Serialize, serde::Deserialize)]
#[collect(require_static)]
pub enum Ret {
    /// Copy to the function's slot, adjusted to `n` values (-1: all, and
    /// set the top).
    Values(i32),
    /// A metamethod's first result goes to this absolute stack slot.
    Store(u32),
    /// A comparison metamethod: if truthy(result) ~= k then skip the next
    /// opcode of the caller.
    Cond(bool),
    /// Results are dropped (`__newindex`, `__close`).
    Discard,
}

#[derive(Collect)]
#[collect(no_drop)]
pub struct LuaFrame<'gc> {
    pub closure: Gc<'gc, Closure<'gc>>,
    /// Register 0.
    pub base: usize,
    pub pc: usize,
    /// The called function's slot: results are delivered here.
    pub func: usize,
    pub ret: Ret,
    /// Extra arguments of a vararg function live at `func + 1 + nparams`.
    pub varargs: usize,
    /// Nesting of metamethod and native-continuation frames up to here:
    /// what PUC-Rio counts as C calls (limit [`crate::vm::MAX_C_DEPTH`]).
    pub cdepth: u32,
}

#[derive(Collect)]
#[collect(no_drop)]
pub struct NativeFrame<'gc> {
    /// The native's name, for tracebacks.
    #[collect(require_static)]
    pub name: &'static str,
    pub func: usize,
    /// Start of the native's working area (its arguments at entry).
    pub base: usize,
    pub ret: Ret,
    /// What to do with the results of the call it is waiting for.
    pub cont: Cont<'gc>,
    pub cdepth: u32,
}

#[derive(Collect)]
#[collect(no_drop)]
pub enum Frame<'gc> {
    Lua(LuaFrame<'gc>),
    Native(NativeFrame<'gc>),
}

impl Frame<'_> {
    pub fn cdepth(&self) -> u32 {
        match self {
            Frame::Lua(f) => f.cdepth,
            Frame::Native(f) => f.cdepth,
        }
    }
}

#[derive(Collect)]
#[collect(no_drop)]
pub struct ThreadState<'gc> {
    pub id: u64,
    pub status: ThreadStatus,
    pub stack: Vec<Value<'gc>>,
    pub frames: Vec<Frame<'gc>>,
    /// Open upvalues, sorted by stack slot.
    /// (slot, upvalue): the slot is kept beside the cell so that returns
    /// can check "anything to close?" without touching the cells.
    pub open_upvalues: Vec<(usize, UpvalueRef<'gc>)>,
    /// Slots of to-be-closed variables, ascending.
    pub tbc: Vec<usize>,
    /// End of the values produced by the last multi-result operation.
    pub top: usize,
    /// The error a dead coroutine died with, until `coroutine.close` takes it.
    pub error: Option<Value<'gc>>,
    /// The stack's and frames' memory, charged to the memory meter (so
    /// many deep coroutines count against the limit).
    #[collect(require_static)]
    pub charge: Charge,
    /// The epoch this thread was last recorded dirty in.
    #[collect(require_static)]
    pub dirty_stamp: std::cell::Cell<u64>,
}

impl ThreadState<'_> {
    /// Brings the charge up to date after the stack or frames grew.
    #[inline]
    pub fn recharge(&self) {
        let bytes = self.stack.capacity() * std::mem::size_of::<Value>()
            + self.frames.capacity() * std::mem::size_of::<Frame>();
        if bytes != self.charge.bytes() {
            self.charge.resize(bytes);
        }
    }
}

impl<'gc> Thread<'gc> {
    pub fn new(ctx: Ctx<'gc>) -> Thread<'gc> {
        Self::alloc(ctx.mc, ctx.next_id(), ctx.charge(0))
    }

    /// For the main thread, made before the state exists.
    pub(crate) fn bootstrap(
        mc: &Mutation<'gc>,
        ids: &std::cell::Cell<u64>,
        meter: &std::rc::Rc<crate::state::MemoryMeter>,
    ) -> Thread<'gc> {
        let id = ids.get();
        ids.set(id + 1);
        Self::alloc(mc, id, Charge::new(meter, 0))
    }

    /// A thread with a given id and nothing in it, for restoring an image.
    pub(crate) fn with_id(
        mc: &Mutation<'gc>,
        id: u64,
        meter: &std::rc::Rc<crate::state::MemoryMeter>,
    ) -> Thread<'gc> {
        Self::alloc(mc, id, Charge::new(meter, 0))
    }

    fn alloc(mc: &Mutation<'gc>, id: u64, charge: Charge) -> Thread<'gc> {
        Thread(Gc::new(
            mc,
            RefLock::new(ThreadState {
                id,
                status: ThreadStatus::Suspended,
                stack: Vec::new(),
                frames: Vec::new(),
                open_upvalues: Vec::new(),
                tbc: Vec::new(),
                top: 0,
                error: None,
                charge,
                dirty_stamp: Default::default(),
            }),
        ))
    }

    pub fn identity(self) -> usize {
        Gc::as_ptr(self.0) as *const () as usize
    }

    pub fn status(self) -> ThreadStatus {
        self.0.borrow().status
    }
}

#[derive(Collect)]
#[collect(no_drop)]
pub enum UpvalueState<'gc> {
    /// Still a live register of `thread` at `slot`.
    Open {
        thread: Thread<'gc>,
        slot: usize,
    },
    Closed(Value<'gc>),
}

#[derive(Collect)]
#[collect(no_drop)]
pub struct Upvalue<'gc> {
    pub id: u64,
    pub state: UpvalueState<'gc>,
    /// The epoch this upvalue was last recorded dirty in.
    #[collect(require_static)]
    pub dirty_stamp: std::cell::Cell<u64>,
}

/// Sets a closed upvalue's value (or closes it), recording the change.
pub fn set_upvalue_state<'gc>(ctx: Ctx<'gc>, u: UpvalueRef<'gc>, state: UpvalueState<'gc>) {
    let mut cell = u.borrow_mut(ctx.mc);
    cell.state = state;
    ctx.note_dirty(cell.id, &cell.dirty_stamp, || {
        crate::state::Dirty::Upvalue(u)
    });
}

pub type UpvalueRef<'gc> = Gc<'gc, RefLock<Upvalue<'gc>>>;

pub fn new_upvalue<'gc>(ctx: Ctx<'gc>, state: UpvalueState<'gc>) -> UpvalueRef<'gc> {
    Gc::new(
        ctx.mc,
        RefLock::new(Upvalue {
            id: ctx.next_id(),
            state,
            dirty_stamp: Default::default(),
        }),
    )
}
