//! The standard library. Each module lists its natives with their stable
//! names; [`ALL`] is the registry a checkpoint restore resolves names in.

pub mod base;
pub mod chan;
pub mod coroutine;
pub mod debug;
pub mod io;
pub mod math;
pub mod net;
pub mod os;
pub mod package;
pub mod string;
pub mod table;
pub mod task;
pub mod utf8;

use crate::native::NativeFn;
use crate::runtime::Config;
use crate::state::Ctx;
use crate::table::Table;
use crate::value::{Native, Value};

/// The parts of the library written in Lua, run at startup.
pub const PRELUDES: &[(&str, &str)] = &[
    ("=[C]", base::PRELUDE),
    ("=[C]", table::PRELUDE),
    ("=[C]", package::PRELUDE),
];

/// Every library's natives, by stable name.
pub fn all() -> impl Iterator<Item = &'static (&'static str, NativeFn)> {
    base::FUNCTIONS
        .iter()
        .chain(coroutine::FUNCTIONS)
        .chain(debug::FUNCTIONS)
        .chain(io::FUNCTIONS)
        .chain(math::FUNCTIONS)
        .chain(os::FUNCTIONS)
        .chain(string::FUNCTIONS)
        .chain(string::METAMETHODS)
        .chain(table::FUNCTIONS)
        .chain(utf8::FUNCTIONS)
        .chain(task::FUNCTIONS)
        .chain(task::CHECKPOINT_FUNCTIONS)
        .chain(chan::FUNCTIONS)
        .chain(net::FUNCTIONS)
}

/// Looks a native up by its stable name.
pub fn find(name: &str) -> Option<NativeFn> {
    all().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Creates a native function value.
pub fn native<'gc>(ctx: Ctx<'gc>, name: &'static str, f: NativeFn) -> Value<'gc> {
    Value::Native(Native::new(ctx, name, f, Box::new([])))
}

/// Stores the public `functions` into `table`: `name` for globals (`dots`
/// = 0), `lib.name` for libraries (`dots` = 1). Longer names
/// (`string.gmatch.iterator`) are internal natives, listed only so that
/// they have a stable name.
fn register<'gc>(
    ctx: Ctx<'gc>,
    table: Table<'gc>,
    functions: &'static [(&'static str, NativeFn)],
    dots: usize,
) {
    for (name, f) in functions {
        if name.matches('.').count() != dots {
            continue;
        }
        let key = name.rsplit('.').next().unwrap_or(name);
        table.set_str(ctx, key, native(ctx, name, *f));
    }
}

/// A library table registered as a global and in the registry.
fn library<'gc>(
    ctx: Ctx<'gc>,
    name: &str,
    functions: &'static [(&'static str, NativeFn)],
) -> Table<'gc> {
    let t = Table::new(ctx);
    register(ctx, t, functions, 1);
    ctx.state.globals.set_str(ctx, name, Value::Table(t));
    ctx.state.registry.set_str(ctx, name, Value::Table(t));
    t
}

/// The metatable of a kind of userdata: methods are the `functions` named
/// `{key}.method` (`tostring` becomes `__tostring`), `__name` is `name`.
/// Kept in the registry under `key`.
fn class<'gc>(
    ctx: Ctx<'gc>,
    key: &str,
    name: &str,
    functions: &'static [(&'static str, NativeFn)],
) -> Table<'gc> {
    let methods = Table::new(ctx);
    let meta = Table::new(ctx);
    let prefix = format!("{key}.");
    for (full, f) in functions {
        let Some(method) = full.strip_prefix(&prefix) else {
            continue;
        };
        if method.contains('.') {
            continue;
        }
        if method == "tostring" {
            meta.set_str(ctx, "__tostring", native(ctx, full, *f));
        } else {
            methods.set_str(ctx, method, native(ctx, full, *f));
        }
    }
    meta.set_str(ctx, "__index", Value::Table(methods));
    meta.set_str(ctx, "__name", ctx.str(name));
    ctx.state.registry.set_str(ctx, key, Value::Table(meta));
    meta
}

/// A userdata of the class registered under `meta_key`.
pub fn userdata<'gc>(
    ctx: Ctx<'gc>,
    meta_key: &str,
    kind: crate::sched::UserKind<'gc>,
) -> Value<'gc> {
    let meta = match ctx.state.registry.get_str(ctx, meta_key) {
        Value::Table(t) => t,
        _ => unreachable!("the library registered its class {meta_key}"),
    };
    crate::sched::UserData::new_value(ctx, meta, kind)
}

pub fn open<'gc>(ctx: Ctx<'gc>, config: &Config) {
    ctx.state.allow_files.set(config.allow_files);
    let g = ctx.state.globals;
    register(ctx, g, base::FUNCTIONS, 0);
    g.set_str(ctx, "_G", Value::Table(g));
    g.set_str(ctx, "_VERSION", ctx.str("Lua 5.4"));
    library(ctx, "coroutine", coroutine::FUNCTIONS);
    library(ctx, "io", io::FUNCTIONS);
    io::open(ctx);
    library(ctx, "debug", debug::FUNCTIONS);
    library(ctx, "math", math::FUNCTIONS);
    library(ctx, "os", os::FUNCTIONS);
    library(ctx, "table", table::FUNCTIONS);
    let string = library(ctx, "string", string::FUNCTIONS);
    let meta = Table::new(ctx);
    meta.set(
        ctx,
        Value::String(ctx.event(crate::state::Event::Index)),
        Value::Table(string),
    )
    .expect("a string key");
    for (name, f) in string::METAMETHODS {
        let key = name.rsplit('.').next().unwrap_or(name);
        meta.set_str(ctx, key, native(ctx, name, *f));
    }
    *ctx.state.string_meta.borrow_mut(ctx.mc) = Some(meta);
    library(ctx, "utf8", utf8::FUNCTIONS);
    math::open(ctx);
    string::open(ctx);
    utf8::open(ctx);
    library(ctx, "task", task::FUNCTIONS);
    library(ctx, "checkpoint", task::CHECKPOINT_FUNCTIONS);
    class(ctx, task::HANDLE_META, "task", task::FUNCTIONS);
    library(ctx, "chan", chan::FUNCTIONS);
    class(ctx, chan::META, "channel", chan::FUNCTIONS);
    ctx.state.host.borrow_mut().allow_net = config.allow_net;
    library(ctx, "net", net::FUNCTIONS);
    class(ctx, net::LISTENER_META, "listener", net::FUNCTIONS);
    class(ctx, net::CONN_META, "connection", net::FUNCTIONS);
    base::open_registry(ctx);
}
