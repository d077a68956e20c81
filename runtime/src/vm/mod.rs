//! The stackless executor.
//!
//! Lua-to-Lua calls push a [`LuaFrame`] onto the running thread and loop;
//! natives run inline and answer with an [`Action`]; metamethods are called
//! as ordinary frames whose [`Ret`] says where their result goes. Nothing
//! here recurses in Rust per Lua call, so the whole execution state is the
//! heap: every instruction boundary is a safepoint.

mod describe;
mod interp;
mod ops;

use gc_arena::Gc;

use crate::compiler::opcode::Op;
use crate::native::{Action, Cont, NCtx, RtError};
use crate::state::{Ctx, Event};
use crate::thread::{
    new_upvalue, Frame, LuaFrame, NativeFrame, Ret, Thread, ThreadState, ThreadStatus, UpvalueState,
};
use crate::value::{Closure, Value};

pub use describe::register as describe_register;
pub use ops::{arith, compare_le, compare_lt, tostring_number};

/// Lua frames per thread before `stack overflow` (PUC-Rio allows about
/// 200,000 nested Lua calls; 150,000 must work).
pub const MAX_FRAMES: usize = 200_000;
/// Stack slots per thread before `stack overflow` (LUAI_MAXSTACK).
pub const MAX_STACK: usize = 1_000_000;
/// Nested metamethod calls and native continuations (pcall, sort, ...)
/// before `C stack overflow`, as PUC-Rio's LUAI_MAXCCALLS.
pub const MAX_C_DEPTH: u32 = 200;
/// Coroutines resumed inside one another before `C stack overflow` (the
/// depth at which lua5.4 5.4.4 stops).
pub const MAX_RESUME_DEPTH: usize = 197;

/// How a run of the executor ended.
pub enum Outcome<'gc> {
    /// Out of fuel for this slice; call again.
    Pending,
    /// The task parked in a native (sleep, channel, join, I/O); what it
    /// waits for will be delivered when it is woken.
    Parked,
    /// The base thread returned; its results are on its stack.
    Done,
    /// An uncaught error, with a traceback of where it was raised.
    Error(Value<'gc>, String),
    /// The script called `os.exit(code)`.
    Exit(i32),
}

/// What made the interpreter leave a thread.
enum Leave<'gc> {
    Fuel,
    Park,
    Exit(i32),
    Finished,
    Yield,
    Resume(Thread<'gc>),
}

/// Result of one step inside a thread.
enum Flow<'gc> {
    Continue,
    Leave(Leave<'gc>),
}

type Res<'gc, T> = Result<T, RtError<'gc>>;

/// Runs the current thread chain (`State::running`, a task's base thread
/// and the coroutines it resumed) until the base thread finishes, an error
/// escapes it, the task parks, or `fuel` runs out.
///
/// `delivery` is handed to the thread on top first: the arguments of a
/// base thread that has not started, or what a parked native waited for.
/// `raise` is an error to raise first in the running thread, at its current
/// instruction (the runtime's limits: memory, instruction budget).
pub fn execute<'gc>(
    ctx: Ctx<'gc>,
    fuel: &mut i64,
    raise: Option<&str>,
    delivery: Option<Result<Vec<Value<'gc>>, Value<'gc>>>,
) -> Outcome<'gc> {
    let mut delivery = delivery;
    let mut raise = raise.map(RtError::msg);
    loop {
        let cur = *ctx
            .state
            .running
            .borrow()
            .last()
            .expect("a task is running");
        ctx.touch_thread(cur);
        let result = {
            let mut th = cur.0.borrow_mut(ctx.mc);
            let mut ex = Exec {
                ctx,
                cur,
                th: &mut th,
                failed_native: None,
            };
            ex.run(delivery.take(), raise.take(), fuel)
        };
        match result {
            Ok(Leave::Fuel) => return Outcome::Pending,
            Ok(Leave::Park) => return Outcome::Parked,
            Ok(Leave::Exit(code)) => return Outcome::Exit(code),
            Ok(Leave::Finished) => {
                if is_base(ctx, cur) {
                    return Outcome::Done;
                }
                let values = {
                    let mut th = cur.0.borrow_mut(ctx.mc);
                    let values = std::mem::take(&mut th.stack);
                    kill_thread(ctx, &mut th);
                    values
                };
                pop_running(ctx);
                delivery = Some(Ok(values));
            }
            Ok(Leave::Yield) => {
                let values = {
                    let mut th = cur.0.borrow_mut(ctx.mc);
                    th.status = ThreadStatus::Suspended;
                    let base = match th.frames.last() {
                        Some(Frame::Native(f)) => f.base,
                        _ => unreachable!("a yield leaves its native frame on top"),
                    };
                    th.stack.split_off(base)
                };
                pop_running(ctx);
                delivery = Some(Ok(values));
            }
            Ok(Leave::Resume(co)) => {
                let args = {
                    let mut th = cur.0.borrow_mut(ctx.mc);
                    let base = match th.frames.last() {
                        Some(Frame::Native(f)) => f.base,
                        _ => unreachable!("a resume leaves its native frame on top"),
                    };
                    th.stack.split_off(base)
                };
                let status = if co == cur {
                    ThreadStatus::Running
                } else {
                    co.status()
                };
                if status != ThreadStatus::Suspended {
                    let msg = if status == ThreadStatus::Dead {
                        "cannot resume dead coroutine"
                    } else {
                        "cannot resume non-suspended coroutine"
                    };
                    delivery = Some(Err(ctx.str(msg)));
                    continue;
                }
                let closing = matches!(
                    cur.0.borrow().frames.last(),
                    Some(Frame::Native(NativeFrame {
                        cont: Cont::CloseThread,
                        ..
                    }))
                );
                if ctx.state.running.borrow().len() >= MAX_RESUME_DEPTH {
                    // Each nested resume is a C level in PUC-Rio Lua.
                    delivery = Some(Err(ctx.str("C stack overflow")));
                    continue;
                }
                cur.0.borrow_mut(ctx.mc).status = ThreadStatus::Normal;
                ctx.touch_thread(co);
                {
                    let mut th = co.0.borrow_mut(ctx.mc);
                    th.status = ThreadStatus::Running;
                    if closing {
                        // `coroutine.close`: drop its frames and run the
                        // pending `__close`s on its own stack.
                        th.frames.clear();
                        let at = th.stack.len();
                        th.frames.push(Frame::Native(NativeFrame {
                            name: "coroutine.close",
                            func: at,
                            base: at,
                            ret: Ret::Values(0),
                            cont: Cont::CloseAll { error: None },
                            cdepth: 0,
                        }));
                    }
                }
                ctx.state.running.borrow_mut(ctx.mc).push(co);
                delivery = Some(Ok(args));
            }
            Err((value, traceback)) => {
                if is_base(ctx, cur) {
                    return Outcome::Error(value, traceback);
                }
                {
                    let mut th = cur.0.borrow_mut(ctx.mc);
                    if !th.tbc.is_empty() {
                        // Close its to-be-closed variables with the error
                        // first; the error comes back when they are done.
                        th.frames.clear();
                        let at = th.stack.len();
                        th.frames.push(Frame::Native(frame_again(
                            "coroutine",
                            at,
                            Cont::CloseAll { error: Some(value) },
                        )));
                        delivery = Some(Ok(Vec::new()));
                        continue;
                    }
                    kill_thread(ctx, &mut th);
                    // `coroutine.close` reports how it died.
                    th.error = Some(value);
                }
                pop_running(ctx);
                delivery = Some(Err(value));
            }
        }
    }
}

/// Whether `t` is the base thread of the running task (where a yield has
/// no resumer to go to and an escaping error ends the task).
pub fn is_base<'gc>(ctx: Ctx<'gc>, t: Thread<'gc>) -> bool {
    ctx.state.running.borrow().first() == Some(&t)
}

/// Marks a finished or failed thread dead, first closing the upvalues
/// that still point into its stack.
pub(crate) fn kill_thread<'gc>(ctx: Ctx<'gc>, th: &mut ThreadState<'gc>) {
    for (slot, u) in th.open_upvalues.drain(..) {
        let v = th.stack.get(slot).copied().unwrap_or(Value::Nil);
        crate::thread::set_upvalue_state(ctx, u, UpvalueState::Closed(v));
    }
    th.status = ThreadStatus::Dead;
    th.stack.clear();
    th.frames.clear();
    th.tbc.clear();
}

fn pop_running(ctx: Ctx<'_>) {
    let mut running = ctx.state.running.borrow_mut(ctx.mc);
    running.pop();
    if let Some(&t) = running.last() {
        ctx.touch_thread(t);
        t.0.borrow_mut(ctx.mc).status = ThreadStatus::Running;
    }
}

/// The executor's view of one running thread.
struct Exec<'a, 'gc> {
    ctx: Ctx<'gc>,
    cur: Thread<'gc>,
    th: &'a mut ThreadState<'gc>,
    /// The native that raised the error being thrown, for the traceback.
    failed_native: Option<&'static str>,
}

/// A native call's bookkeeping while its action is applied.
#[derive(Clone, Copy)]
struct NativeCall {
    name: &'static str,
    func: usize,
    base: usize,
    ret: Ret,
}

impl<'a, 'gc> Exec<'a, 'gc> {
    fn run(
        &mut self,
        delivery: Option<Result<Vec<Value<'gc>>, Value<'gc>>>,
        raise: Option<RtError<'gc>>,
        fuel: &mut i64,
    ) -> Result<Leave<'gc>, (Value<'gc>, String)> {
        let mut step = match (delivery, raise) {
            (Some(d), _) => self.deliver(d),
            (None, Some(e)) => Err(e),
            (None, None) => Ok(Flow::Continue),
        };
        loop {
            match step {
                Ok(Flow::Continue) => {}
                Ok(Flow::Leave(l)) => return Ok(l),
                Err(e) => match self.throw(e) {
                    Ok(flow) => {
                        step = Ok(flow);
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            }
            step = match self.th.frames.last() {
                None => Ok(Flow::Leave(Leave::Finished)),
                Some(Frame::Lua(_)) => self.run_lua(fuel),
                Some(Frame::Native(_)) => {
                    unreachable!("native frames only wait for deliveries")
                }
            };
        }
    }

    /// Hands values (or an error) from another thread to this one.
    fn deliver(&mut self, d: Result<Vec<Value<'gc>>, Value<'gc>>) -> Res<'gc, Flow<'gc>> {
        if self.th.frames.is_empty() {
            // A coroutine's first resume: call its body.
            let args = d.map_err(RtError::Value)?;
            self.th.stack.truncate(1);
            let nargs = args.len();
            self.th.stack.extend(args);
            return self.call_value(0, nargs, Ret::Values(-1));
        }
        let base = match self.th.frames.last() {
            Some(Frame::Native(f)) => f.base,
            _ => unreachable!("a waiting thread has its native frame on top"),
        };
        self.th.stack.truncate(base);
        let status = match d {
            Ok(values) => {
                self.th.stack.extend(values);
                Ok(())
            }
            Err(e) => Err(e),
        };
        self.resume_native(status)
    }

    // ---- calls and returns ---------------------------------------------

    /// Calls `stack[f]` with the `nargs` values above it.
    fn call_value(&mut self, f: usize, nargs: usize, ret: Ret) -> Res<'gc, Flow<'gc>> {
        let mut nargs = nargs;
        loop {
            match self.th.stack[f] {
                Value::Closure(c) => return self.push_lua_frame(c, f, nargs, ret),
                Value::Native(n) => {
                    // A native's arguments are exactly `stack[base..]`.
                    self.th.stack.truncate(f + 1 + nargs);
                    let base = f + 1;
                    // Messages name a native as the caller did; called from
                    // another native, by its qualified name.
                    let from_lua = matches!(
                        self.th.frames.last(),
                        Some(Frame::Lua(f)) if &*f.closure.proto.info.source != "[C]"
                    );
                    let name = if from_lua { n.short_name() } else { n.name };
                    let action = {
                        let mut ncx = NCtx {
                            ctx: self.ctx,
                            thread: self.cur,
                            stack: &mut self.th.stack,
                            base,
                            frames: &self.th.frames,
                            upvalues: &Gc::as_ref(n).upvalues,
                            name,
                            state: Value::Nil,
                        };
                        match (n.func)(&mut ncx) {
                            Ok(action) => action,
                            Err(e) => {
                                self.failed_native = Some(n.name);
                                return Err(e);
                            }
                        }
                    };
                    let call = NativeCall {
                        name: n.name,
                        func: f,
                        base,
                        ret,
                    };
                    let flow = self.apply(action, call)?;
                    if matches!(flow, Flow::Continue) && self.ctx.state.collect_requested.get() {
                        // `collectgarbage()`: end the slice so the runtime
                        // can collect; execution resumes right here.
                        return Ok(Flow::Leave(Leave::Fuel));
                    }
                    return Ok(flow);
                }
                v => {
                    let mm = self.ctx.metamethod(v, Event::Call);
                    if mm.is_nil() {
                        return Err(self.call_error(f, v));
                    }
                    self.th.stack.truncate(f + 1 + nargs);
                    self.th.stack.insert(f, mm);
                    nargs += 1;
                }
            }
        }
    }

    fn push_lua_frame(
        &mut self,
        c: Gc<'gc, Closure<'gc>>,
        f: usize,
        nargs: usize,
        ret: Ret,
    ) -> Res<'gc, Flow<'gc>> {
        let proto = Gc::as_ref(c.proto);
        if self.th.frames.len() >= MAX_FRAMES
            || self.th.stack.len() + proto.max_stack as usize > MAX_STACK
        {
            return Err(RtError::msg("stack overflow"));
        }
        let nparams = proto.num_params as usize;
        let (base, varargs) = if proto.is_vararg {
            let base = f + 1 + nargs;
            self.th.stack.truncate(base);
            self.th
                .stack
                .resize(base + proto.max_stack as usize, Value::Nil);
            for i in 0..nparams.min(nargs) {
                self.th.stack[base + i] = self.th.stack[f + 1 + i];
            }
            (base, nargs.saturating_sub(nparams))
        } else {
            // Registers past the arguments may hold the caller's dead
            // temporaries: the compiler writes every register before
            // reading it, so only missing parameters need clearing.
            let base = f + 1;
            let need = (base + proto.max_stack as usize).max(base + nargs);
            if self.th.stack.len() < need {
                self.th.stack.resize(need, Value::Nil);
            }
            for slot in &mut self.th.stack[base + nargs.min(nparams)..base + nparams] {
                *slot = Value::Nil;
            }
            (base, 0)
        };
        let cdepth = match ret {
            Ret::Values(_) => self.th.frames.last().map_or(0, Frame::cdepth),
            _ => self.nested_depth()?,
        };
        self.th.recharge();
        self.th.frames.push(Frame::Lua(LuaFrame {
            cdepth,
            closure: c,
            base,
            pc: 0,
            func: f,
            ret,
            varargs,
        }));
        Ok(Flow::Continue)
    }

    /// The depth of a frame nested one C level deeper than the top.
    fn nested_depth(&self) -> Res<'gc, u32> {
        let d = self.th.frames.last().map_or(0, Frame::cdepth) + 1;
        if d > MAX_C_DEPTH {
            return Err(RtError::msg("C stack overflow"));
        }
        Ok(d)
    }

    /// Calls a metamethod `f(args)` above the current frame's registers.
    fn call_meta(&mut self, f: Value<'gc>, args: &[Value<'gc>], ret: Ret) -> Res<'gc, Flow<'gc>> {
        let at = self.th.stack.len();
        self.th.stack.push(f);
        self.th.stack.extend_from_slice(args);
        self.call_value(at, args.len(), ret)
    }

    /// Leaves the native's frame on the thread, waiting with `cont` for
    /// what it asked for (a callee's results, a resume, a wake-up).
    fn push_waiting(&mut self, call: NativeCall, cont: Cont<'gc>) -> Res<'gc, ()> {
        let cdepth = self.nested_depth()?;
        self.th.frames.push(Frame::Native(NativeFrame {
            cdepth,
            name: call.name,
            func: call.func,
            base: call.base,
            ret: call.ret,
            cont,
        }));
        Ok(())
    }

    fn apply(&mut self, action: Action<'gc>, call: NativeCall) -> Res<'gc, Flow<'gc>> {
        match action {
            Action::Return => {
                let n = self.th.stack.len() - call.base;
                self.return_values(call.func, call.ret, call.base, n)
            }
            Action::Call { at, cont } => {
                let f = call.base + at;
                let nargs = self.th.stack.len() - f - 1;
                self.push_waiting(call, cont)?;
                self.call_value(f, nargs, Ret::Values(-1))
            }
            Action::Exit(code) => Ok(Flow::Leave(Leave::Exit(code))),
            Action::Park { cont } => {
                self.push_waiting(call, cont)?;
                Ok(Flow::Leave(Leave::Park))
            }
            Action::Yield => {
                if is_base(self.ctx, self.cur) {
                    return Err(RtError::msg("attempt to yield from outside a coroutine"));
                }
                self.push_waiting(call, Cont::Return)?;
                Ok(Flow::Leave(Leave::Yield))
            }
            Action::Resume { thread, cont } => {
                self.push_waiting(call, cont)?;
                Ok(Flow::Leave(Leave::Resume(thread)))
            }
        }
    }

    /// Continues the native frame on top with the results above its base
    /// (or with an error, for the frames that catch).
    fn resume_native(&mut self, status: Result<(), Value<'gc>>) -> Res<'gc, Flow<'gc>> {
        let Some(Frame::Native(frame)) = self.th.frames.pop() else {
            unreachable!("resume_native is called with a native frame on top")
        };
        let call = NativeCall {
            name: frame.name,
            func: frame.func,
            base: frame.base,
            ret: frame.ret,
        };
        let base = frame.base;
        let action = match frame.cont {
            Cont::Return => {
                // A parked native woken with an error raises it.
                if let Err(e) = status {
                    return Err(RtError::Value(e));
                }
                Action::Return
            }
            Cont::Pcall | Cont::Xpcall { .. } | Cont::Resume => {
                match status {
                    Ok(()) => self.th.stack.insert(base, Value::Boolean(true)),
                    Err(e) => {
                        self.th.stack.truncate(base);
                        self.th.stack.push(Value::Boolean(false));
                        self.th.stack.push(e);
                    }
                }
                Action::Return
            }
            Cont::XpcallHandler { frame: catcher } => {
                let v = match status {
                    Ok(()) => self.th.stack.get(base).copied().unwrap_or(Value::Nil),
                    Err(_) => self.ctx.str("error in error handling"),
                };
                return self.finish_unwind(catcher, v);
            }
            Cont::CloseThread => {
                match status {
                    Ok(()) => {
                        self.th.stack.truncate(base);
                        self.th.stack.push(Value::Boolean(true));
                    }
                    Err(e) => {
                        self.th.stack.truncate(base);
                        self.th.stack.push(Value::Boolean(false));
                        self.th.stack.push(e);
                    }
                }
                Action::Return
            }
            Cont::CloseAll { error } => {
                // Inside a coroutine being closed: the next `__close`, or done.
                self.th.stack.truncate(base);
                if let Some(slot) = self.th.tbc.pop() {
                    let v = self.th.stack.get(slot).copied().unwrap_or(Value::Nil);
                    let mm = self.ctx.metamethod(v, Event::Close);
                    self.th.frames.push(Frame::Native(frame_again(
                        frame.name,
                        base,
                        Cont::CloseAll { error },
                    )));
                    self.th.stack.push(mm);
                    self.th.stack.push(v);
                    self.th.stack.push(error.unwrap_or(Value::Nil));
                    return self.call_value(base, 2, Ret::Values(0));
                }
                if let Some(e) = error {
                    return Err(RtError::Value(e));
                }
                Action::Return
            }
            Cont::Unwinding { error } => {
                // One `__close` ran; close the next variable, or deliver.
                let catcher = self.th.frames.len() - 1;
                return self.finish_unwind(catcher, error);
            }
            Cont::Wrap => match status {
                Ok(()) => Action::Return,
                Err(Value::String(s)) => {
                    return Err(RtError::Message(s.to_str_lossy().into_owned()))
                }
                Err(e) => return Err(RtError::Value(e)),
            },
            Cont::ToString => {
                let v = match self.th.stack.get(base).copied().unwrap_or(Value::Nil) {
                    s @ Value::String(_) => s,
                    n @ (Value::Integer(_) | Value::Number(_)) => {
                        Value::String(tostring_number(self.ctx, n))
                    }
                    _ => return Err(RtError::msg("'__tostring' must return a string")),
                };
                self.th.stack.truncate(base);
                self.th.stack.push(v);
                Action::Return
            }
            Cont::Step { step, state } => {
                let mut ncx = NCtx {
                    ctx: self.ctx,
                    thread: self.cur,
                    stack: &mut self.th.stack,
                    base,
                    frames: &self.th.frames,
                    upvalues: &[],
                    // Named as the original call was: from Lua, the short name.
                    name: match self.th.frames.last() {
                        Some(Frame::Lua(f)) if &*f.closure.proto.info.source != "[C]" => {
                            short_name(frame.name)
                        }
                        _ => frame.name,
                    },
                    state,
                };
                step(&mut ncx)?
            }
        };
        self.apply(action, call)
    }

    /// Delivers `n` results at `src` for a call whose function sat at `func`.
    fn return_values(
        &mut self,
        func: usize,
        ret: Ret,
        src: usize,
        n: usize,
    ) -> Res<'gc, Flow<'gc>> {
        let stack = &mut self.th.stack;
        match ret {
            Ret::Values(want) => {
                if src != func {
                    // Usually one or two values: a loop beats memmove.
                    for i in 0..n {
                        stack[func + i] = stack[src + i];
                    }
                }
                let count = if want < 0 { n } else { want as usize };
                self.th.top = func + count;
                if let Some(Frame::Lua(f)) = self.th.frames.last() {
                    // Back in a Lua frame: its register window, plus any
                    // multiple results, is all that needs to stay.
                    let len = (f.base + f.closure.proto.max_stack as usize).max(func + count);
                    let stack = &mut self.th.stack;
                    if stack.len() < len {
                        stack.resize(len, Value::Nil);
                    }
                    for slot in &mut stack[func + n.min(count)..func + count] {
                        *slot = Value::Nil;
                    }
                    stack.truncate(len);
                    return Ok(Flow::Continue);
                }
                let stack = &mut self.th.stack;
                stack.truncate(func + n.min(count));
                stack.resize(func + count, Value::Nil);
                match self.th.frames.last() {
                    None => Ok(Flow::Leave(Leave::Finished)),
                    _ => self.resume_native(Ok(())),
                }
            }
            Ret::Store(slot) => {
                let v = if n > 0 { stack[src] } else { Value::Nil };
                stack.truncate(func);
                stack[slot as usize] = v;
                Ok(Flow::Continue)
            }
            Ret::Cond(k) => {
                let v = n > 0 && stack[src].is_truthy();
                stack.truncate(func);
                if v != k {
                    if let Some(Frame::Lua(f)) = self.th.frames.last_mut() {
                        f.pc += 1;
                    }
                }
                Ok(Flow::Continue)
            }
            Ret::Discard => {
                stack.truncate(func);
                // A `Return` re-run after `__close` reads the top again.
                self.th.top = func;
                Ok(Flow::Continue)
            }
        }
    }

    // ---- errors ----------------------------------------------------------

    /// Turns an error into a value (adding the position of the running Lua
    /// function) and hands it to the nearest catching frame of this thread.
    fn throw(&mut self, e: RtError<'gc>) -> Result<Flow<'gc>, (Value<'gc>, String)> {
        let failed_native = self.failed_native.take();
        let e = match e {
            RtError::Arg { index, func, msg } => {
                RtError::Message(self.arg_message(index, func, msg))
            }
            e => e,
        };
        let value = match e {
            RtError::Value(v) => v,
            RtError::Arg { .. } => unreachable!("converted above"),
            RtError::Message(m) => {
                let text = match self.th.frames.last() {
                    Some(Frame::Lua(f)) => format!("{}{}", where_(f), m),
                    _ => m,
                };
                self.ctx.str(&text)
            }
        };
        let catcher = self
            .th
            .frames
            .iter()
            .rposition(|f| matches!(f, Frame::Native(n) if n.cont.catches_errors()));
        let Some(idx) = catcher else {
            let mut tb = traceback(&self.th.frames);
            if let Some(name) = failed_native {
                // The native that raised is not a frame: name it first.
                tb = tb.replacen(
                    "stack traceback:",
                    &format!("stack traceback:\n\t[C]: in function '{name}'"),
                    1,
                );
            }
            self.unwind_to(0);
            if is_base(self.ctx, self.cur) {
                self.th.tbc.clear();
            }
            return Err((value, tb));
        };
        let handler = match &self.th.frames[idx] {
            Frame::Native(NativeFrame {
                cont: Cont::Xpcall { handler },
                ..
            }) => Some(*handler),
            _ => None,
        };
        let flow = match handler {
            Some(h) => {
                // The handler runs where the error happened, before unwinding.
                let at = self.th.stack.len();
                let cdepth = self.th.frames.last().map_or(0, Frame::cdepth) + 1;
                self.th.frames.push(Frame::Native(NativeFrame {
                    cdepth,
                    name: "xpcall",
                    func: at,
                    base: at,
                    ret: Ret::Discard,
                    cont: Cont::XpcallHandler { frame: idx },
                }));
                self.th.stack.push(h);
                self.th.stack.push(value);
                self.call_value(at, 1, Ret::Values(1))
            }
            None => self.finish_unwind(idx, value),
        };
        match flow {
            Ok(f) => Ok(f),
            Err(e) => self.throw(e),
        }
    }

    /// The text of a bad-argument error, counting as lua5.4 does: when the
    /// native was called as a method, `self` is argument 0.
    fn arg_message(&self, index: usize, func: &str, msg: String) -> String {
        let method = match self.th.frames.last() {
            Some(Frame::Lua(f)) => {
                let code = &f.closure.proto.code;
                match code.get(f.pc.wrapping_sub(1)) {
                    Some(Op::Call { a, .. } | Op::TailCall { a, .. }) => {
                        describe::register(f, *a).is_some_and(|d| d.starts_with("method"))
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        match (method, index) {
            (true, 1) => format!("calling '{func}' on bad self ({msg})"),
            (true, n) => format!("bad argument #{} to '{func}' ({msg})", n - 1),
            (false, n) => format!("bad argument #{n} to '{func}' ({msg})"),
        }
    }

    /// Pops frames until `n` remain, closing the upvalues they leave.
    /// Pops frames until `n` remain, closing the upvalues they leave.
    /// To-be-closed variables stay listed: `finish_unwind` closes them.
    fn unwind_to(&mut self, n: usize) {
        let level = match self.th.frames.get(n) {
            Some(Frame::Lua(f)) => f.func,
            Some(Frame::Native(f)) => f.func,
            None => return,
        };
        self.th.frames.truncate(n);
        self.close_upvalues(level);
    }

    /// Completes an error's unwinding down to the catching native frame at
    /// `catcher`: calls `__close(value, error)` of each to-be-closed
    /// variable above it, innermost first (each as a frame that returns
    /// into `Cont::Unwinding`), then delivers the error to the catcher.
    fn finish_unwind(&mut self, catcher: usize, error: Value<'gc>) -> Res<'gc, Flow<'gc>> {
        self.unwind_to(catcher + 1);
        let level = match &self.th.frames[catcher] {
            Frame::Native(f) => f.base,
            Frame::Lua(_) => unreachable!("catchers are native frames"),
        };
        match self.th.tbc.last().copied() {
            Some(slot) if slot >= level => {
                self.th.tbc.pop();
                let v = self.th.stack[slot];
                let mm = self.ctx.metamethod(v, Event::Close);
                let at = self.th.stack.len();
                let cdepth = self.th.frames[catcher].cdepth();
                self.th.frames.push(Frame::Native(NativeFrame {
                    name: "close",
                    func: at,
                    base: at,
                    ret: Ret::Discard,
                    cont: Cont::Unwinding { error },
                    cdepth,
                }));
                self.th.stack.push(mm);
                self.th.stack.push(v);
                self.th.stack.push(error);
                self.call_value(at, 2, Ret::Values(0))
            }
            _ => {
                self.th.stack.truncate(level);
                self.resume_native(Err(error))
            }
        }
    }

    fn call_error(&self, f: usize, v: Value<'gc>) -> RtError<'gc> {
        let desc = match self.th.frames.last() {
            Some(Frame::Lua(fr)) if f >= fr.base => {
                let at = fr.closure.proto.code.get(fr.pc.wrapping_sub(1));
                if matches!(at, Some(Op::TForCall { .. })) {
                    Some("for iterator 'for iterator'".to_owned())
                } else {
                    describe::register(fr, (f - fr.base) as u8)
                }
            }
            _ => None,
        };
        type_error(self.ctx, "call", v, desc)
    }

    // ---- upvalues --------------------------------------------------------

    fn find_upvalue(&mut self, slot: usize) -> crate::thread::UpvalueRef<'gc> {
        let open = &self.th.open_upvalues;
        let mut i = open.len();
        while i > 0 {
            let (s, u) = open[i - 1];
            if s == slot {
                return u;
            }
            if s < slot {
                break;
            }
            i -= 1;
        }
        let u = new_upvalue(
            self.ctx,
            UpvalueState::Open {
                thread: self.cur,
                slot,
            },
        );
        self.th.open_upvalues.insert(i, (slot, u));
        u
    }

    fn close_upvalues(&mut self, level: usize) {
        while let Some(&(slot, u)) = self.th.open_upvalues.last() {
            if slot < level {
                break;
            }
            let v = self.th.stack.get(slot).copied().unwrap_or(Value::Nil);
            crate::thread::set_upvalue_state(self.ctx, u, UpvalueState::Closed(v));
            self.th.open_upvalues.pop();
        }
    }

    fn get_upvalue(&self, u: crate::thread::UpvalueRef<'gc>) -> Value<'gc> {
        match u.borrow().state {
            UpvalueState::Open { thread, slot } => {
                if thread == self.cur {
                    self.th.stack[slot]
                } else {
                    thread.0.borrow().stack[slot]
                }
            }
            UpvalueState::Closed(v) => v,
        }
    }

    fn set_upvalue(&mut self, u: crate::thread::UpvalueRef<'gc>, v: Value<'gc>) {
        let open = match u.borrow().state {
            UpvalueState::Open { thread, slot } => Some((thread, slot)),
            UpvalueState::Closed(_) => None,
        };
        match open {
            Some((thread, slot)) if thread == self.cur => self.th.stack[slot] = v,
            Some((thread, slot)) => {
                self.ctx.touch_thread(thread);
                thread.0.borrow_mut(self.ctx.mc).stack[slot] = v;
            }
            None => crate::thread::set_upvalue_state(self.ctx, u, UpvalueState::Closed(v)),
        }
    }
}

/// A native frame waiting again at `base` (for loops over calls).
fn frame_again<'gc>(name: &'static str, base: usize, cont: Cont<'gc>) -> NativeFrame<'gc> {
    NativeFrame {
        name,
        func: base,
        base,
        ret: Ret::Values(0),
        cont,
        cdepth: 1,
    }
}

fn short_name(name: &'static str) -> &'static str {
    name.rsplit('.').next().unwrap_or(name)
}

/// `chunk:line: ` of a Lua frame's current instruction.
pub(crate) fn where_(f: &LuaFrame<'_>) -> String {
    let info = &f.closure.proto.info;
    // The library's Lua parts stand in for C functions: no position.
    if &*info.source == "[C]" {
        return String::new();
    }
    let line = info.lines.get(f.pc.saturating_sub(1)).copied().unwrap_or(0);
    format!("{}:{}: ", info.source, line)
}

/// The `stack traceback:` text for `frames`, innermost first.
pub fn traceback(frames: &[Frame<'_>]) -> String {
    let mut out = String::from("stack traceback:");
    for (i, f) in frames.iter().enumerate().rev() {
        match f {
            Frame::Lua(f) => {
                let info = &f.closure.proto.info;
                if &*info.source == "[C]" {
                    // The library's Lua parts read as C functions.
                    out.push_str("\n\t[C]: in ?");
                    continue;
                }
                let w = where_(f);
                if info.line_defined == 0 {
                    out.push_str(&format!("\n\t{w}in main chunk"));
                } else if let Some(name) = i.checked_sub(1).and_then(|c| called_as(&frames[c])) {
                    out.push_str(&format!("\n\t{w}in {name}"));
                } else {
                    out.push_str(&format!(
                        "\n\t{w}in function <{}:{}>",
                        info.source, info.line_defined
                    ));
                }
            }
            Frame::Native(n) => out.push_str(&format!("\n\t[C]: in function '{}'", n.name)),
        }
    }
    out.push_str("\n\t[C]: in ?");
    out
}

/// How the caller named the function it is calling (`local 'f'`,
/// `function 'g'` for a global, `method 'm'`, ...), from its call opcode.
fn called_as(caller: &Frame<'_>) -> Option<String> {
    let Frame::Lua(f) = caller else { return None };
    let a = match f.closure.proto.code.get(f.pc.checked_sub(1)?)? {
        Op::Call { a, .. } | Op::TailCall { a, .. } => *a,
        _ => return None,
    };
    let d = describe::register(f, a)?;
    Some(match d.strip_prefix("global ") {
        Some(name) => format!("function {name}"),
        None => d,
    })
}

/// `attempt to <op> a <type> value (<desc>)`.
fn type_error<'gc>(ctx: Ctx<'gc>, op: &str, v: Value<'gc>, desc: Option<String>) -> RtError<'gc> {
    let t = type_name_of(ctx, v);
    match desc {
        Some(d) => RtError::Message(format!("attempt to {op} a {t} value ({d})")),
        None => RtError::Message(format!("attempt to {op} a {t} value")),
    }
}

/// A value's type for messages: the `__name` metafield when it is a
/// string, as lua5.4's luaT_objtypename.
pub(crate) fn type_name_of<'gc>(ctx: Ctx<'gc>, v: Value<'gc>) -> String {
    match ctx.metamethod(v, Event::Name) {
        Value::String(s) if matches!(v, Value::Table(_)) => s.to_str_lossy().into_owned(),
        _ => v.type_name().to_owned(),
    }
}

/// A table value's raw `t[k]` if `v` is a table without metatable lookup.
#[inline]
fn fast_get<'gc>(v: Value<'gc>, k: Value<'gc>) -> Option<Value<'gc>> {
    match v {
        Value::Table(t) => t.get_plain(k),
        _ => None,
    }
}
