//! Values crossing between Rust and Lua: [`LuaValue`] is an owned copy of
//! a Lua value, and the traits convert the common Rust types to and from
//! it (one value, or several as a tuple).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use crate::state::Ctx;
use crate::table::Table;
use crate::value::Value;

/// An owned Lua value. Tables are copied as their key-value pairs (in
/// iteration order, nested tables up to a depth of 32); functions, threads
/// and userdata cannot leave the heap and are described by their type.
#[derive(Debug, Clone, PartialEq)]
pub enum LuaValue {
    Nil,
    Boolean(bool),
    Integer(i64),
    Number(f64),
    String(Vec<u8>),
    Table(Vec<(LuaValue, LuaValue)>),
    /// A function, thread or userdata: only its type name.
    Opaque(&'static str),
}

/// A registered Rust function.
pub type HostFn = Rc<dyn Fn(Vec<LuaValue>) -> Result<Vec<LuaValue>, String>>;
/// A registered async Rust function: the future runs on tokio while the
/// calling task is parked.
pub type AsyncHostFn = Rc<
    dyn Fn(Vec<LuaValue>) -> Pin<Box<dyn Future<Output = Result<Vec<LuaValue>, String>> + Send>>,
>;

const MAX_DEPTH: usize = 32;

impl LuaValue {
    pub fn from_value(v: Value<'_>) -> LuaValue {
        Self::from_value_depth(v, 0)
    }

    fn from_value_depth(v: Value<'_>, depth: usize) -> LuaValue {
        match v {
            Value::Nil => LuaValue::Nil,
            Value::Boolean(b) => LuaValue::Boolean(b),
            Value::Integer(i) => LuaValue::Integer(i),
            Value::Number(f) => LuaValue::Number(f),
            Value::String(s) => LuaValue::String(s.as_bytes().to_vec()),
            Value::Table(t) if depth < MAX_DEPTH => {
                let mut pairs = Vec::new();
                let mut key = Value::Nil;
                while let Ok(Some((k, v))) = t.next(key) {
                    pairs.push((
                        Self::from_value_depth(k, depth + 1),
                        Self::from_value_depth(v, depth + 1),
                    ));
                    key = k;
                }
                LuaValue::Table(pairs)
            }
            other => LuaValue::Opaque(other.type_name()),
        }
    }

    pub fn to_value<'gc>(&self, ctx: Ctx<'gc>) -> Value<'gc> {
        match self {
            LuaValue::Nil | LuaValue::Opaque(_) => Value::Nil,
            LuaValue::Boolean(b) => Value::Boolean(*b),
            LuaValue::Integer(i) => Value::Integer(*i),
            LuaValue::Number(f) => Value::Number(*f),
            LuaValue::String(s) => ctx.bytes(s),
            LuaValue::Table(pairs) => {
                let t = Table::new(ctx);
                for (k, v) in pairs {
                    // Nil and NaN keys cannot be stored; they are skipped.
                    let _ = t.set(ctx, k.to_value(ctx), v.to_value(ctx));
                }
                Value::Table(t)
            }
        }
    }

    /// The value's Lua type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            LuaValue::Nil => "nil",
            LuaValue::Boolean(_) => "boolean",
            LuaValue::Integer(_) | LuaValue::Number(_) => "number",
            LuaValue::String(_) => "string",
            LuaValue::Table(_) => "table",
            LuaValue::Opaque(t) => t,
        }
    }
}

/// A Rust value that becomes one Lua value.
pub trait IntoLua {
    fn into_lua(self) -> LuaValue;
}

/// A Rust value made from one Lua value; the error says what was expected.
pub trait FromLua: Sized {
    fn from_lua(v: LuaValue) -> Result<Self, String>;
}

fn expected(what: &str, got: &LuaValue) -> String {
    format!("{what} expected, got {}", got.type_name())
}

impl IntoLua for LuaValue {
    fn into_lua(self) -> LuaValue {
        self
    }
}

impl FromLua for LuaValue {
    fn from_lua(v: LuaValue) -> Result<Self, String> {
        Ok(v)
    }
}

impl IntoLua for bool {
    fn into_lua(self) -> LuaValue {
        LuaValue::Boolean(self)
    }
}

impl FromLua for bool {
    /// Lua truthiness: only nil and false are false.
    fn from_lua(v: LuaValue) -> Result<Self, String> {
        Ok(!matches!(v, LuaValue::Nil | LuaValue::Boolean(false)))
    }
}

macro_rules! integer_conversions {
    ($($t:ty),*) => {$(
        impl IntoLua for $t {
            fn into_lua(self) -> LuaValue {
                match i64::try_from(self) {
                    Ok(i) => LuaValue::Integer(i),
                    Err(_) => LuaValue::Number(self as f64),
                }
            }
        }

        impl FromLua for $t {
            fn from_lua(v: LuaValue) -> Result<Self, String> {
                let i = match &v {
                    LuaValue::Integer(i) => *i,
                    LuaValue::Number(f) if f.fract() == 0.0 && f.abs() < 9.3e18 => *f as i64,
                    LuaValue::String(s) => std::str::from_utf8(s)
                        .ok()
                        .and_then(|s| s.trim().parse().ok())
                        .ok_or_else(|| expected("integer", &v))?,
                    _ => return Err(expected("integer", &v)),
                };
                <$t>::try_from(i).map_err(|_| format!("integer {i} out of range"))
            }
        }
    )*};
}

integer_conversions!(i64, i32, u32, u64, usize);

impl IntoLua for f64 {
    fn into_lua(self) -> LuaValue {
        LuaValue::Number(self)
    }
}

impl FromLua for f64 {
    fn from_lua(v: LuaValue) -> Result<Self, String> {
        match &v {
            LuaValue::Integer(i) => Ok(*i as f64),
            LuaValue::Number(f) => Ok(*f),
            LuaValue::String(s) => std::str::from_utf8(s)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| expected("number", &v)),
            _ => Err(expected("number", &v)),
        }
    }
}

impl IntoLua for &str {
    fn into_lua(self) -> LuaValue {
        LuaValue::String(self.as_bytes().to_vec())
    }
}

impl IntoLua for String {
    fn into_lua(self) -> LuaValue {
        LuaValue::String(self.into_bytes())
    }
}

impl FromLua for String {
    /// Strings, and numbers as Lua's `tostring` would write integers.
    fn from_lua(v: LuaValue) -> Result<Self, String> {
        match v {
            LuaValue::String(s) => Ok(String::from_utf8_lossy(&s).into_owned()),
            LuaValue::Integer(i) => Ok(i.to_string()),
            other => Err(expected("string", &other)),
        }
    }
}

impl IntoLua for Vec<u8> {
    fn into_lua(self) -> LuaValue {
        LuaValue::String(self)
    }
}

impl FromLua for Vec<u8> {
    fn from_lua(v: LuaValue) -> Result<Self, String> {
        match v {
            LuaValue::String(s) => Ok(s),
            other => Err(expected("string", &other)),
        }
    }
}

impl<T: IntoLua> IntoLua for Option<T> {
    fn into_lua(self) -> LuaValue {
        self.map_or(LuaValue::Nil, IntoLua::into_lua)
    }
}

impl<T: FromLua> FromLua for Option<T> {
    fn from_lua(v: LuaValue) -> Result<Self, String> {
        match v {
            LuaValue::Nil => Ok(None),
            v => T::from_lua(v).map(Some),
        }
    }
}

/// Rust sequences are Lua arrays (1-based).
impl<T: IntoLua> IntoLua for Vec<T> {
    fn into_lua(self) -> LuaValue {
        LuaValue::Table(
            self.into_iter()
                .enumerate()
                .map(|(i, v)| (LuaValue::Integer(i as i64 + 1), v.into_lua()))
                .collect(),
        )
    }
}

impl<T: FromLua> FromLua for Vec<T> {
    /// The array part `t[1..n]` of a table.
    fn from_lua(v: LuaValue) -> Result<Self, String> {
        let LuaValue::Table(mut pairs) = v else {
            return Err(expected("table", &v));
        };
        pairs.retain(|(k, _)| matches!(k, LuaValue::Integer(i) if *i >= 1));
        pairs.sort_by_key(|(k, _)| match k {
            LuaValue::Integer(i) => *i,
            _ => 0,
        });
        let mut out = Vec::with_capacity(pairs.len());
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            if k != LuaValue::Integer(i as i64 + 1) {
                break;
            }
            out.push(T::from_lua(v)?);
        }
        Ok(out)
    }
}

/// Several Lua values: function arguments and results.
pub trait IntoLuaMulti {
    fn into_lua_multi(self) -> Vec<LuaValue>;
}

/// Several Lua values converted at once; missing values are nil.
pub trait FromLuaMulti: Sized {
    fn from_lua_multi(values: Vec<LuaValue>) -> Result<Self, String>;
}

impl<T: IntoLua> IntoLuaMulti for T {
    fn into_lua_multi(self) -> Vec<LuaValue> {
        vec![self.into_lua()]
    }
}

impl<T: FromLua> FromLuaMulti for T {
    fn from_lua_multi(values: Vec<LuaValue>) -> Result<Self, String> {
        T::from_lua(values.into_iter().next().unwrap_or(LuaValue::Nil))
    }
}

/// No values: no arguments, or results that are ignored.
impl IntoLuaMulti for () {
    fn into_lua_multi(self) -> Vec<LuaValue> {
        Vec::new()
    }
}

impl FromLuaMulti for () {
    fn from_lua_multi(_: Vec<LuaValue>) -> Result<Self, String> {
        Ok(())
    }
}

/// All the values, unconverted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MultiValue(pub Vec<LuaValue>);

impl IntoLuaMulti for MultiValue {
    fn into_lua_multi(self) -> Vec<LuaValue> {
        self.0
    }
}

impl FromLuaMulti for MultiValue {
    fn from_lua_multi(values: Vec<LuaValue>) -> Result<Self, String> {
        Ok(MultiValue(values))
    }
}

macro_rules! tuple_conversions {
    ($($name:ident),+) => {
        impl<$($name: IntoLua),+> IntoLuaMulti for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_lua_multi(self) -> Vec<LuaValue> {
                let ($($name,)+) = self;
                vec![$($name.into_lua()),+]
            }
        }

        impl<$($name: FromLua),+> FromLuaMulti for ($($name,)+) {
            fn from_lua_multi(values: Vec<LuaValue>) -> Result<Self, String> {
                let mut it = values.into_iter();
                Ok(($($name::from_lua(it.next().unwrap_or(LuaValue::Nil))?,)+))
            }
        }
    };
}

tuple_conversions!(A);
tuple_conversions!(A, B);
tuple_conversions!(A, B, C);
tuple_conversions!(A, B, C, D);
tuple_conversions!(A, B, C, D, E);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_and_options_convert_both_ways() {
        let v = (1i64, "two", Some(3.5f64), None::<bool>).into_lua_multi();
        assert_eq!(v.len(), 4);
        let (a, b, c, d): (i64, String, Option<f64>, Option<bool>) =
            FromLuaMulti::from_lua_multi(v).unwrap();
        assert_eq!((a, b.as_str(), c, d), (1, "two", Some(3.5), None));
        assert!(i32::from_lua(LuaValue::Integer(1 << 40)).is_err());
        assert_eq!(
            String::from_lua(LuaValue::Boolean(true)).unwrap_err(),
            "string expected, got boolean"
        );
    }

    #[test]
    fn vectors_are_arrays() {
        let v = vec![10i64, 20, 30].into_lua();
        assert_eq!(Vec::<i64>::from_lua(v).unwrap(), vec![10, 20, 30]);
    }
}
