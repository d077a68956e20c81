//! The interface between the VM and functions written in Rust.
//!
//! A native receives its arguments in its window of the thread's stack
//! (`stack[base..]`), leaves its results there, and answers with an
//! [`Action`]. To call back into Lua it answers `Action::Call` with a
//! [`Cont`]: plain data saying how to continue when the callee returns, so
//! a thread suspended inside a native is still just data.

use gc_arena::Collect;

use crate::state::Ctx;
use crate::table::Table;
use crate::thread::{Frame, Thread};
use crate::value::{LuaStr, Value};

pub type NativeFn = for<'a, 'gc> fn(&mut NCtx<'a, 'gc>) -> Result<Action<'gc>, RtError<'gc>>;

/// An error raised by a native or by the VM.
#[derive(Debug, Clone, Collect)]
#[collect(no_drop)]
pub enum RtError<'gc> {
    /// A message that gets the current position (`chunk:line:`) prefixed.
    Message(#[collect(require_static)] String),
    /// A Lua value raised as is.
    Value(Value<'gc>),
    /// `bad argument #index to 'func' (msg)`: kept apart so the message can
    /// be worded for method calls (`obj:func()` counts `self` as #0).
    Arg {
        index: usize,
        #[collect(require_static)]
        func: &'static str,
        #[collect(require_static)]
        msg: String,
    },
}

impl<'gc> RtError<'gc> {
    pub fn msg(s: impl Into<String>) -> RtError<'gc> {
        RtError::Message(s.into())
    }
}

/// What a native asks the VM to do next.
pub enum Action<'gc> {
    /// Return `stack[base..]`.
    Return,
    /// Call `stack[base + at]` with `stack[base + at + 1..]`; its results
    /// replace `stack[base + at..]` and `cont` continues.
    Call { at: usize, cont: Cont<'gc> },
    /// Yield `stack[base..]` to the resumer; the values passed to the next
    /// resume become this native's results.
    Yield,
    /// `os.exit(code)`: stop the whole program; the embedder gets
    /// `Error::Exit` (the host process is never terminated by a script).
    Exit(i32),
    /// Park the running task until something wakes it (see
    /// [`crate::sched`]); what it is woken with continues `cont` as a
    /// callee's results would.
    Park { cont: Cont<'gc> },
    /// Resume `thread` with `stack[base..]`; its yield or return values (or
    /// error) go to `cont`.
    Resume {
        thread: Thread<'gc>,
        cont: Cont<'gc>,
    },
}

/// How a native continues after a call it made returns (or fails).
#[derive(Collect)]
#[collect(no_drop)]
pub enum Cont<'gc> {
    /// Return the callee's results as ours.
    Return,
    /// `pcall`: prepend `true`, or return `false, error`.
    Pcall,
    /// `xpcall`: like pcall, but an error first goes through `handler`.
    Xpcall { handler: Value<'gc> },
    /// The running xpcall message handler of the xpcall frame at `frame`.
    XpcallHandler { frame: usize },
    /// An error unwinding to the catcher just below: after this `__close`
    /// returns, close the next to-be-closed variable or deliver `error`.
    Unwinding { error: Value<'gc> },
    /// `coroutine.close` of a suspended coroutine: `true`, or `false, error`
    /// when one of its `__close` metamethods fails.
    CloseThread,
    /// Runs the pending `__close`s of a coroutine being closed (`error`
    /// None) or dying of `error`, which it re-raises when done.
    CloseAll { error: Option<Value<'gc>> },
    /// `coroutine.resume`: prepend `true`, or return `false, error`.
    Resume,
    /// `coroutine.wrap`: return the values, or raise the error.
    Wrap,
    /// `tostring` calling `__tostring`: the result must be a string.
    ToString,
    /// A library function written with a step function: `step` is called
    /// again with the callee's results above `stack[base..base+keep]`.
    Step {
        #[collect(require_static)]
        step: NativeFn,
        state: Value<'gc>,
    },
}

impl<'gc> Cont<'gc> {
    /// Whether an error below this frame is delivered to it.
    pub fn catches_errors(&self) -> bool {
        matches!(
            self,
            Cont::Pcall | Cont::Xpcall { .. } | Cont::XpcallHandler { .. }
        )
    }
}

/// A native's view of the VM while it runs.
pub struct NCtx<'a, 'gc> {
    pub ctx: Ctx<'gc>,
    pub thread: Thread<'gc>,
    pub stack: &'a mut Vec<Value<'gc>>,
    pub base: usize,
    /// The calling thread's frames (the native itself is not among them).
    pub frames: &'a [Frame<'gc>],
    pub upvalues: &'gc [Value<'gc>],
    /// The short name for error messages, e.g. `insert`.
    pub name: &'static str,
    /// Saved continuation state when a `Cont::Step` resumes.
    pub state: Value<'gc>,
}

impl<'a, 'gc> NCtx<'a, 'gc> {
    pub fn nargs(&self) -> usize {
        self.stack.len() - self.base
    }

    /// Argument `i` (0-based), nil when absent.
    pub fn arg(&self, i: usize) -> Value<'gc> {
        self.stack.get(self.base + i).copied().unwrap_or(Value::Nil)
    }

    pub fn args(&self) -> &[Value<'gc>] {
        &self.stack[self.base..]
    }

    /// `bad argument #i to 'name' (msg)` (i is 0-based here, 1-based in
    /// the message).
    pub fn arg_error(&self, i: usize, msg: impl std::fmt::Display) -> RtError<'gc> {
        RtError::Arg {
            index: i + 1,
            func: self.name,
            msg: msg.to_string(),
        }
    }

    pub fn type_error(&self, i: usize, expected: &str) -> RtError<'gc> {
        let got = if self.base + i >= self.stack.len() {
            "no value".to_owned()
        } else {
            let v = self.arg(i);
            // A `__name` string in the metatable names the type, as luaL_typeerror.
            match self.ctx.metamethod(v, crate::state::Event::Name) {
                Value::String(s) => s.to_str_lossy().into_owned(),
                _ => v.type_name().to_owned(),
            }
        };
        self.arg_error(i, format!("{expected} expected, got {got}"))
    }

    pub fn check_any(&self, i: usize) -> Result<Value<'gc>, RtError<'gc>> {
        if self.base + i >= self.stack.len() {
            return Err(self.arg_error(i, "value expected"));
        }
        Ok(self.arg(i))
    }

    pub fn check_table(&self, i: usize) -> Result<Table<'gc>, RtError<'gc>> {
        match self.arg(i) {
            Value::Table(t) => Ok(t),
            _ => Err(self.type_error(i, "table")),
        }
    }

    pub fn check_int(&self, i: usize) -> Result<i64, RtError<'gc>> {
        let v = self.arg(i);
        match v {
            Value::Integer(n) => Ok(n),
            _ => match v.to_number() {
                Some(Value::Integer(n)) => Ok(n),
                Some(Value::Number(f)) => crate::lualib::number::float_to_int_exact(f)
                    .ok_or_else(|| self.arg_error(i, "number has no integer representation")),
                _ => Err(self.type_error(i, "number")),
            },
        }
    }

    pub fn opt_int(&self, i: usize, default: i64) -> Result<i64, RtError<'gc>> {
        if self.arg(i).is_nil() {
            Ok(default)
        } else {
            self.check_int(i)
        }
    }

    pub fn check_number(&self, i: usize) -> Result<Value<'gc>, RtError<'gc>> {
        self.arg(i)
            .to_number()
            .ok_or_else(|| self.type_error(i, "number"))
    }

    pub fn check_float(&self, i: usize) -> Result<f64, RtError<'gc>> {
        self.arg(i)
            .to_float()
            .ok_or_else(|| self.type_error(i, "number"))
    }

    /// A string argument; numbers are converted as Lua does.
    pub fn check_str(&mut self, i: usize) -> Result<LuaStr<'gc>, RtError<'gc>> {
        match self.arg(i) {
            Value::String(s) => Ok(s),
            v @ (Value::Integer(_) | Value::Number(_)) => {
                let s = crate::vm::tostring_number(self.ctx, v);
                Ok(s)
            }
            _ => Err(self.type_error(i, "string")),
        }
    }

    pub fn opt_str(&mut self, i: usize) -> Result<Option<LuaStr<'gc>>, RtError<'gc>> {
        if self.arg(i).is_nil() {
            Ok(None)
        } else {
            self.check_str(i).map(Some)
        }
    }

    /// Replaces the arguments with no results.
    pub fn ret0(&mut self) -> Result<Action<'gc>, RtError<'gc>> {
        self.stack.truncate(self.base);
        Ok(Action::Return)
    }

    /// Replaces the arguments with one result.
    pub fn ret1(&mut self, v: Value<'gc>) -> Result<Action<'gc>, RtError<'gc>> {
        self.stack.truncate(self.base);
        self.stack.push(v);
        Ok(Action::Return)
    }

    pub fn ret2(&mut self, a: Value<'gc>, b: Value<'gc>) -> Result<Action<'gc>, RtError<'gc>> {
        self.stack.truncate(self.base);
        self.stack.push(a);
        self.stack.push(b);
        Ok(Action::Return)
    }

    /// Clears the arguments so results can be pushed.
    pub fn clear(&mut self) {
        self.stack.truncate(self.base);
    }

    pub fn push(&mut self, v: Value<'gc>) {
        self.stack.push(v);
    }
}
