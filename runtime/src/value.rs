//! Lua values and the immutable heap objects: strings, prototypes, closures
//! and native functions.

use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use gc_arena::{Collect, Gc, Mutation};

use crate::compiler::opcode::Op;
use crate::compiler::proto::FunctionProto;
use crate::native::NativeFn;
use crate::state::{Charge, Ctx, MemoryMeter};
use crate::strings::{hash_bytes, InternerRef, SHORT_MAX};
use crate::table::Table;
use crate::thread::{Thread, UpvalueRef};

/// A Lua value. Sixteen bytes: a tag and one word.
#[derive(Debug, Clone, Copy, Collect, Default)]
#[collect(no_drop)]
pub enum Value<'gc> {
    #[default]
    Nil,
    Boolean(bool),
    Integer(i64),
    Number(f64),
    String(LuaStr<'gc>),
    Table(Table<'gc>),
    Closure(Gc<'gc, Closure<'gc>>),
    Native(Gc<'gc, Native<'gc>>),
    Thread(Thread<'gc>),
    /// Runtime objects with a metatable: task handles, channels, network
    /// resources.
    UserData(Gc<'gc, crate::sched::UserData<'gc>>),
}

impl<'gc> Value<'gc> {
    pub fn is_truthy(self) -> bool {
        !matches!(self, Value::Nil | Value::Boolean(false))
    }

    pub fn is_nil(self) -> bool {
        matches!(self, Value::Nil)
    }

    pub fn type_name(self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Boolean(_) => "boolean",
            Value::Integer(_) | Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Table(_) => "table",
            Value::Closure(_) | Value::Native(_) => "function",
            Value::Thread(_) => "thread",
            Value::UserData(_) => "userdata",
        }
    }

    pub fn is_function(self) -> bool {
        matches!(self, Value::Closure(_) | Value::Native(_))
    }

    /// Raw equality (no `__eq`): numbers by value across subtypes, strings
    /// by content, the rest by identity.
    pub fn raw_eq(self, other: Value<'gc>) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Boolean(a), Value::Boolean(b)) => a == b,
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::Integer(i), Value::Number(f)) | (Value::Number(f), Value::Integer(i)) => {
                crate::lualib::number::eq_int_float(i, f)
            }
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Table(a), Value::Table(b)) => a == b,
            (Value::Closure(a), Value::Closure(b)) => Gc::ptr_eq(a, b),
            (Value::Native(a), Value::Native(b)) => Gc::ptr_eq(a, b),
            (Value::Thread(a), Value::Thread(b)) => a == b,
            (Value::UserData(a), Value::UserData(b)) => Gc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The number this value converts to for arithmetic (strings coerce).
    pub fn to_number(self) -> Option<Value<'gc>> {
        match self {
            Value::Integer(_) | Value::Number(_) => Some(self),
            Value::String(s) => {
                crate::lualib::number::str_to_number(s.as_bytes()).map(Value::from_number)
            }
            _ => None,
        }
    }

    pub fn from_number(n: crate::lualib::number::Number) -> Value<'gc> {
        match n {
            crate::lualib::number::Number::Int(i) => Value::Integer(i),
            crate::lualib::number::Number::Float(f) => Value::Number(f),
        }
    }

    /// Float view of a number (strings coerce).
    pub fn to_float(self) -> Option<f64> {
        match self.to_number()? {
            Value::Integer(i) => Some(i as f64),
            Value::Number(f) => Some(f),
            _ => None,
        }
    }

    /// Integer view of a number with an exact integer value (strings
    /// coerce), as bitwise operators and integer arguments need.
    pub fn to_integer(self) -> Option<i64> {
        match self.to_number()? {
            Value::Integer(i) => Some(i),
            Value::Number(f) => crate::lualib::number::float_to_int_exact(f),
            _ => None,
        }
    }

    /// A stable identity for reference values, used for hashing and for
    /// `%p`-style printing.
    pub fn identity(self) -> Option<usize> {
        match self {
            Value::String(s) => Some(Gc::as_ptr(s.0) as usize),
            Value::Table(t) => Some(t.identity()),
            Value::Closure(c) => Some(Gc::as_ptr(c) as usize),
            Value::Native(n) => Some(Gc::as_ptr(n) as usize),
            Value::Thread(t) => Some(t.identity()),
            Value::UserData(u) => Some(Gc::as_ptr(u) as usize),
            _ => None,
        }
    }
}

impl<'gc> From<bool> for Value<'gc> {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl<'gc> From<i64> for Value<'gc> {
    fn from(i: i64) -> Self {
        Value::Integer(i)
    }
}

impl<'gc> From<f64> for Value<'gc> {
    fn from(f: f64) -> Self {
        Value::Number(f)
    }
}

impl<'gc> From<LuaStr<'gc>> for Value<'gc> {
    fn from(s: LuaStr<'gc>) -> Self {
        Value::String(s)
    }
}

impl<'gc> From<Table<'gc>> for Value<'gc> {
    fn from(t: Table<'gc>) -> Self {
        Value::Table(t)
    }
}

/// An immutable byte string on the heap.
#[derive(Debug, Collect)]
#[collect(require_static)]
pub struct StrData {
    id: u64,
    /// The epoch this string was last re-interned in while old: the
    /// interner can hand out a string the last image did not hold.
    dirty_stamp: Cell<u64>,
    _charge: Charge,
    /// Computed on first use: long strings that never become keys are
    /// never hashed.
    hash: Cell<u64>,
    bytes: Box<[u8]>,
}

#[derive(Debug, Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct LuaStr<'gc>(pub(crate) Gc<'gc, StrData>);

impl StrData {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl<'gc> LuaStr<'gc> {
    pub fn new(ctx: Ctx<'gc>, bytes: &[u8]) -> LuaStr<'gc> {
        if bytes.len() <= SHORT_MAX {
            return Self::intern_short(ctx, bytes);
        }
        Self::from_boxed(ctx, bytes.into())
    }

    pub fn from_boxed(ctx: Ctx<'gc>, bytes: Box<[u8]>) -> LuaStr<'gc> {
        if bytes.len() <= SHORT_MAX {
            return Self::intern_short(ctx, &bytes);
        }
        Self::alloc(
            ctx.mc,
            ctx.next_id(),
            ctx.charge(bytes.len() + 32),
            0,
            bytes,
        )
    }

    fn intern_short(ctx: Ctx<'gc>, bytes: &[u8]) -> LuaStr<'gc> {
        let st = ctx.state;
        let s = Self::intern(ctx.mc, st.strings, &st.next_id, &st.meter, bytes);
        // An old string found again may have been unreachable (and so
        // left out) when the last image was taken: send it again.
        ctx.note_dirty(s.0.id, &s.0.dirty_stamp, || crate::state::Dirty::Str(s));
        s
    }

    /// The one short string with these bytes: found, or made and recorded.
    pub(crate) fn intern(
        mc: &Mutation<'gc>,
        strings: InternerRef<'gc>,
        ids: &Cell<u64>,
        meter: &Rc<MemoryMeter>,
        bytes: &[u8],
    ) -> LuaStr<'gc> {
        let hash = hash_bytes(bytes);
        if let Some(s) = strings.borrow().find(mc, hash, bytes) {
            return LuaStr(s);
        }
        let id = ids.get();
        ids.set(id + 1);
        let s = Self::alloc(
            mc,
            id,
            Charge::new(meter, bytes.len() + 32),
            hash,
            bytes.into(),
        );
        strings.borrow_mut(mc).insert(hash, s.0);
        s
    }

    /// A string of a heap image, with its recorded id (short ones are
    /// interned, as every short string is).
    pub(crate) fn restore(
        mc: &Mutation<'gc>,
        strings: InternerRef<'gc>,
        meter: &Rc<MemoryMeter>,
        id: u64,
        bytes: &[u8],
    ) -> LuaStr<'gc> {
        let charge = Charge::new(meter, bytes.len() + 32);
        if bytes.len() <= SHORT_MAX {
            let hash = hash_bytes(bytes);
            let s = Self::alloc(mc, id, charge, hash, bytes.into());
            strings.borrow_mut(mc).insert(hash, s.0);
            s
        } else {
            Self::alloc(mc, id, charge, 0, bytes.into())
        }
    }

    fn alloc(
        mc: &Mutation<'gc>,
        id: u64,
        charge: Charge,
        hash: u64,
        bytes: Box<[u8]>,
    ) -> LuaStr<'gc> {
        LuaStr(Gc::new(
            mc,
            StrData {
                id,
                dirty_stamp: Cell::new(0),
                _charge: charge,
                hash: Cell::new(hash),
                bytes,
            },
        ))
    }

    pub fn as_bytes(&self) -> &'gc [u8] {
        &Gc::as_ref(self.0).bytes
    }

    pub fn len(&self) -> usize {
        self.0.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.bytes.is_empty()
    }

    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The content hash (FNV-1a, never 0 so that 0 can mean "not yet").
    pub fn hash_code(&self) -> u64 {
        let h = self.0.hash.get();
        if h != 0 {
            return h;
        }
        let h = hash_bytes(&self.0.bytes);
        self.0.hash.set(h);
        h
    }

    pub fn to_str_lossy(&self) -> std::borrow::Cow<'gc, str> {
        String::from_utf8_lossy(self.as_bytes())
    }
}

impl<'gc> PartialEq for LuaStr<'gc> {
    fn eq(&self, other: &Self) -> bool {
        // Short strings are interned: equal content is the same object.
        Gc::ptr_eq(self.0, other.0)
            || (self.len() > SHORT_MAX
                && self.len() == other.len()
                && self.as_bytes() == other.as_bytes())
    }
}

impl<'gc> Eq for LuaStr<'gc> {}

impl<'gc> Hash for LuaStr<'gc> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash_code());
    }
}

/// A function prototype on the heap: the compiler's output with its
/// constants turned into values.
#[derive(Collect)]
#[collect(no_drop)]
pub struct Proto<'gc> {
    pub id: u64,
    /// Copied from `info`: the call path reads them on every call.
    pub max_stack: u16,
    pub num_params: u8,
    pub is_vararg: bool,
    #[collect(require_static)]
    pub code: Box<[Op]>,
    pub constants: Box<[Value<'gc>]>,
    pub protos: Box<[Gc<'gc, Proto<'gc>>]>,
    /// Everything else the compiler produced (lines, names, upvalue
    /// descriptors), shared with it.
    #[collect(require_static)]
    pub info: Rc<FunctionProto>,
}

impl<'gc> Proto<'gc> {
    pub fn load(ctx: Ctx<'gc>, proto: &Rc<FunctionProto>) -> Gc<'gc, Proto<'gc>> {
        use crate::compiler::proto::Constant;
        let constants = proto
            .constants
            .iter()
            .map(|c| match c {
                Constant::Integer(i) => Value::Integer(*i),
                Constant::Float(f) => Value::Number(*f),
                Constant::String(s) => Value::String(LuaStr::new(ctx, s)),
            })
            .collect();
        let protos = proto.protos.iter().map(|p| Proto::load(ctx, p)).collect();
        Gc::new(
            ctx.mc,
            Proto {
                id: ctx.next_id(),
                max_stack: proto.max_stack,
                num_params: proto.num_params,
                is_vararg: proto.is_vararg,
                code: proto.code.clone().into_boxed_slice(),
                constants,
                protos,
                info: proto.clone(),
            },
        )
    }
}

/// A Lua function: a prototype and its upvalues. Immutable; the upvalue
/// cells are the mutable part.
#[derive(Collect)]
#[collect(no_drop)]
pub struct Closure<'gc> {
    pub id: u64,
    pub proto: Gc<'gc, Proto<'gc>>,
    pub upvalues: Box<[UpvalueRef<'gc>]>,
}

impl std::fmt::Debug for Closure<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "function: {:p}", self as *const Self)
    }
}

impl std::fmt::Debug for Native<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "builtin {}", self.name)
    }
}

/// A native function, known by its registered stable name, with optional
/// upvalues (as `coroutine.wrap` needs).
#[derive(Collect)]
#[collect(no_drop)]
pub struct Native<'gc> {
    pub id: u64,
    /// The stable name a checkpoint refers to, e.g. `string.format`.
    #[collect(require_static)]
    pub name: &'static str,
    #[collect(require_static)]
    pub func: NativeFn,
    pub upvalues: Box<[Value<'gc>]>,
}

impl<'gc> Native<'gc> {
    pub fn new(
        ctx: Ctx<'gc>,
        name: &'static str,
        func: NativeFn,
        upvalues: Box<[Value<'gc>]>,
    ) -> Gc<'gc, Native<'gc>> {
        Gc::new(
            ctx.mc,
            Native {
                id: ctx.next_id(),
                name,
                func,
                upvalues,
            },
        )
    }

    /// The short name used in messages: `format` for `string.format`.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('.').next().unwrap_or(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_is_two_words() {
        assert_eq!(std::mem::size_of::<Value<'static>>(), 16);
    }
}
