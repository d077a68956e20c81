//! The embedding entry point: a [`Runtime`] owns the arena and drives the
//! executor in slices, collecting garbage between them.

use std::io::Write;
use std::rc::Rc;

use gc_arena::{Arena, Rootable};

use crate::compiler;
use crate::state::{Ctx, MemoryMeter, State};
use crate::syntax;
use crate::value::{Closure, Proto, Value};
use crate::vm::{self, Outcome};

/// Limits and capabilities of a runtime.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bytes of strings and tables the script may keep alive.
    pub memory_limit: usize,
    /// Instructions the script may run in total (None: unlimited).
    pub fuel: Option<u64>,
    /// Whether `io.open`, `dofile` and `loadfile` may touch files.
    pub allow_files: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            memory_limit: 4 << 30,
            fuel: None,
            allow_files: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Syntax(String),
    #[error("{message}")]
    Runtime { message: String, traceback: String },
    #[error("instruction budget exhausted")]
    FuelExhausted,
    /// The script kept allocating past the memory limit after `not enough
    /// memory` was raised.
    #[error("not enough memory (the script kept allocating past the limit)")]
    MemoryExhausted,
    /// The script called `os.exit(code)`.
    #[error("the script exited with status {code}")]
    Exit { code: i32 },
}

type Root = Rootable![State<'_>];

/// Instructions run between two garbage-collection steps.
const SLICE: i64 = 4096;
/// Instructions granted after `instruction budget exhausted` is raised, for
/// error handlers to finish.
const FUEL_GRACE: i64 = 10_000;

/// A Lua 5.4 runtime: one heap, its threads and its standard library.
///
/// ```
/// use understudy_runtime::{Config, Runtime};
///
/// let mut rt = Runtime::new(Config::default());
/// let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
/// rt.set_output(Box::new(understudy_runtime::runtime::SharedBuffer(out.clone())));
/// rt.exec(b"local t = {} for i = 1, 3 do t[i] = i * i end print(table.concat(t, ','))", "=example", &[])
///     .unwrap();
/// assert_eq!(String::from_utf8_lossy(&out.borrow()), "1,4,9\n");
/// ```
pub struct Runtime {
    arena: Arena<Root>,
    config: Config,
}

impl Runtime {
    pub fn new(config: Config) -> Runtime {
        let meter = MemoryMeter::new(config.memory_limit);
        let arena = Arena::<Root>::new(|mc| State::new(mc, meter));
        let mut rt = Runtime { arena, config };
        rt.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            crate::stdlib::open(ctx, &rt.config);
        });
        rt.run_prelude();
        rt
    }

    /// Runs the parts of the standard library written in Lua. Each prelude
    /// receives `registry, tostring, select, io.write, type, error`.
    fn run_prelude(&mut self) {
        for (name, source) in crate::stdlib::PRELUDES {
            let proto = compile_chunk(source.as_bytes(), name).expect("the preludes compile");
            self.arena.mutate(|mc, state| {
                let ctx = Ctx { mc, state };
                let f = load_proto(ctx, &proto);
                let g = state.globals;
                let write = match state.registry.get_str(ctx, "io") {
                    Value::Table(t) => t.get_str(ctx, "write"),
                    _ => Value::Nil,
                };
                let args = [
                    Value::Table(state.registry),
                    g.get_str(ctx, "tostring"),
                    g.get_str(ctx, "select"),
                    write,
                    g.get_str(ctx, "type"),
                    g.get_str(ctx, "error"),
                ];
                vm::start_call(ctx, f, &args);
            });
            let fuel = self.config.fuel.take();
            self.run().expect("the preludes run");
            self.config.fuel = fuel;
        }
    }

    /// Compiles `source` and runs it as the main chunk with `args` as its
    /// `...`, until it returns. `chunkname` follows Lua's convention
    /// (`@file.lua`, `=name`), see [`compile_chunk`].
    pub fn exec(&mut self, source: &[u8], chunkname: &str, args: &[Vec<u8>]) -> Result<(), Error> {
        let proto = compile_chunk(source, chunkname).map_err(Error::Syntax)?;
        self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            let f = load_proto(ctx, &proto);
            let args: Vec<Value> = args.iter().map(|a| ctx.bytes(a)).collect();
            vm::start_call(ctx, f, &args);
        });
        self.run()
    }

    /// Sets the global `name` to an array of strings (the CLI's `arg`).
    pub fn set_global_array(&mut self, name: &str, items: &[(i64, Vec<u8>)]) {
        self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            let t = crate::table::Table::new(ctx);
            for (i, s) in items {
                t.set_int(ctx, *i, ctx.bytes(s));
            }
            state.globals.set_str(ctx, name, Value::Table(t));
        });
    }

    /// Drives the executor in slices until the main thread finishes.
    ///
    /// Limits become Lua errors raised where the script stands: past the
    /// memory limit (after a full collection confirms it) `not enough
    /// memory`; when the instruction budget runs out, `instruction budget
    /// exhausted`, with a small grace budget for handlers, after which the
    /// run ends with [`Error::FuelExhausted`] whatever the script does.
    fn run(&mut self) -> Result<(), Error> {
        let mut budget = self.config.fuel.map(|f| f as i64);
        let mut in_grace = false;
        let mut raise: Option<&str> = None;
        // Live bytes after the last full collection forced by the limit.
        let mut collected_at = 0usize;
        let result = loop {
            if budget.is_some_and(|b| b <= 0) {
                if in_grace {
                    break Err(Error::FuelExhausted);
                }
                in_grace = true;
                budget = Some(FUEL_GRACE);
                raise = Some("instruction budget exhausted");
            }
            let slice = budget.map_or(SLICE, |b| b.min(SLICE));
            let mut fuel = slice;
            let mut describe_object = false;
            let describe_object_flag = &mut describe_object;
            let outcome = self.arena.mutate(|mc, state| {
                let describe_object = describe_object_flag;
                let ctx = Ctx { mc, state };
                match vm::execute(ctx, &mut fuel, raise.take()) {
                    Outcome::Pending => None,
                    Outcome::Done => Some(Ok(())),
                    Outcome::Exit(code) => Some(Err(Error::Exit { code })),
                    Outcome::Error(v, traceback) => {
                        if !ctx.metamethod(v, crate::state::Event::ToString).is_nil() {
                            // Described by its __tostring, which must run.
                            state.registry.set_str(ctx, "error.object", v);
                            *describe_object = true;
                            return Some(Ok(()));
                        }
                        Some(Err(Error::Runtime {
                            message: crate::stdlib::base::error_to_string(ctx, v),
                            traceback,
                        }))
                    }
                }
            });
            if let Some(b) = budget.as_mut() {
                *b -= slice - fuel;
            }
            if let Some(r) = outcome {
                if describe_object {
                    break Err(self.describe_error_object());
                }
                break r;
            }
            let requested = self
                .arena
                .mutate(|_, state| state.collect_requested.replace(false));
            if requested {
                self.full_collect();
            } else {
                self.arena.collect_debt();
            }
            let (used, limit) = self.arena.mutate(|_, s| (s.meter.used(), s.meter.limit));
            if used > limit {
                // Only live data counts: collect fully before deciding, but
                // not again until the heap has grown noticeably.
                if used > collected_at.saturating_add(limit / 8) || used < collected_at {
                    self.full_collect();
                    collected_at = self.arena.mutate(|_, s| s.meter.used());
                }
                if collected_at > limit.saturating_add(limit / 2) {
                    // The script went on allocating after `not enough
                    // memory`: stop it before the host runs out.
                    break Err(Error::MemoryExhausted);
                }
                if collected_at > limit {
                    raise = Some("not enough memory");
                }
            } else {
                collected_at = used;
            }
        };
        self.flush();
        result
    }

    /// Sends what the script prints (`print`, `io.write`) to `out` instead
    /// of standard output.
    pub fn set_output(&mut self, out: Box<dyn Write>) {
        self.arena.mutate(|_, state| {
            let mut cur = state.stdout.borrow_mut();
            let _ = cur.flush();
            *cur = out;
        });
    }

    /// An uncaught error object with `__tostring` is reported by its
    /// string, without a traceback, as lua5.4's standalone interpreter does.
    fn describe_error_object(&mut self) -> Error {
        self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            let obj = state.registry.get_str(ctx, "error.object");
            state.registry.set_str(ctx, "error.object", Value::Nil);
            vm::start_call(ctx, state.globals.get_str(ctx, "tostring"), &[obj]);
        });
        // A bounded run: __tostring is the script's code too.
        for _ in 0..1000 {
            let mut fuel = SLICE;
            let done = self.arena.mutate(|mc, state| {
                let ctx = Ctx { mc, state };
                match vm::execute(ctx, &mut fuel, None) {
                    Outcome::Pending => None,
                    Outcome::Done => {
                        let s = state.main_thread.0.borrow().stack.first().copied();
                        Some(match s {
                            Some(Value::String(s)) => s.to_str_lossy().into_owned(),
                            _ => "(error object is not a string)".to_owned(),
                        })
                    }
                    _ => Some("(error object is not a string)".to_owned()),
                }
            });
            if let Some(message) = done {
                return Error::Runtime {
                    message,
                    traceback: String::new(),
                };
            }
            self.arena.collect_debt();
        }
        Error::Runtime {
            message: "(error object is not a string)".to_owned(),
            traceback: String::new(),
        }
    }

    /// A complete collection. Finishing the cycle in progress is not
    /// enough: objects allocated during it survive it, so a second, whole
    /// cycle follows.
    fn full_collect(&mut self) {
        self.arena.finish_cycle();
        self.arena.finish_cycle();
    }

    /// Flushes buffered standard output.
    pub fn flush(&self) {
        self.arena.mutate(|_, state| {
            let _ = state.stdout.borrow_mut().flush();
        });
    }

    /// Bytes of strings and tables currently alive.
    pub fn memory_used(&self) -> usize {
        self.arena.mutate(|_, state| state.meter.used())
    }
}

/// A `Write` into a shared byte buffer, for capturing a script's output.
#[derive(Clone, Default)]
pub struct SharedBuffer(pub std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Parses and compiles a chunk; the error is lua-style text.
///
/// `chunkname` follows Lua's convention: `@file` for a file, `=name` for
/// a name shown as is, anything else is the source text itself (shown as
/// `[string "..."]`).
pub fn compile_chunk(
    source: &[u8],
    chunkname: &str,
) -> Result<Rc<compiler::FunctionProto>, String> {
    let display = syntax::chunkid(chunkname);
    let chunk = syntax::parse(source, &display).map_err(|e| e.to_string())?;
    let proto = compiler::compile(&chunk, &display).map_err(|e| e.message);
    // Long operator chains make deep trees; free them without recursion.
    syntax::parser::dismantle(chunk);
    let mut proto = proto?;
    proto.set_chunkname(chunkname);
    Ok(Rc::new(proto))
}

/// A first line starting with `#` is ignored in script files (not in
/// `load`ed strings), as lua5.4 does.
pub fn skip_shebang(source: &[u8]) -> &[u8] {
    if source.first() == Some(&b'#') {
        let end = source
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(source.len());
        // Keep the newline so line numbers stay right.
        &source[end..]
    } else {
        source
    }
}

/// Instantiates a main-chunk prototype as a closure whose `_ENV` is the
/// globals table.
pub fn load_proto<'gc>(ctx: Ctx<'gc>, proto: &Rc<compiler::FunctionProto>) -> Value<'gc> {
    load_proto_env(ctx, proto, Value::Table(ctx.state.globals))
}

pub fn load_proto_env<'gc>(
    ctx: Ctx<'gc>,
    proto: &Rc<compiler::FunctionProto>,
    env: Value<'gc>,
) -> Value<'gc> {
    let p = Proto::load(ctx, proto);
    let env = crate::thread::new_upvalue(ctx, crate::thread::UpvalueState::Closed(env));
    let upvalues = p.info.upvalues.iter().map(|_| env).collect();
    Value::Closure(gc_arena::Gc::new(
        ctx.mc,
        Closure {
            id: ctx.next_id(),
            proto: p,
            upvalues,
        },
    ))
}
