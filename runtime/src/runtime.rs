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
    /// The script called `os.exit(code)`.
    #[error("the script exited with status {code}")]
    Exit { code: i32 },
}

type Root = Rootable![State<'_>];

/// Instructions run between two garbage-collection steps.
const SLICE: i64 = 4096;

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
    /// `...`, until it returns.
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

    fn run(&mut self) -> Result<(), Error> {
        let mut budget = self.config.fuel.map(|f| f as i64);
        let result = loop {
            let slice = budget.map_or(SLICE, |b| b.min(SLICE));
            if slice <= 0 {
                break Err(Error::FuelExhausted);
            }
            let mut fuel = slice;
            let outcome = self.arena.mutate(|mc, state| {
                let ctx = Ctx { mc, state };
                match vm::execute(ctx, &mut fuel) {
                    Outcome::Pending => None,
                    Outcome::Done => Some(Ok(())),
                    Outcome::Exit(code) => Some(Err(Error::Exit { code })),
                    Outcome::Error(v, traceback) => Some(Err(Error::Runtime {
                        message: crate::stdlib::base::error_to_string(ctx, v),
                        traceback,
                    })),
                }
            });
            if let Some(b) = budget.as_mut() {
                *b -= slice - fuel;
            }
            if let Some(r) = outcome {
                break r;
            }
            self.arena.collect_debt();
        };
        self.flush();
        result
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

/// Parses and compiles a chunk; the error is lua-style text.
pub fn compile_chunk(
    source: &[u8],
    chunkname: &str,
) -> Result<Rc<compiler::FunctionProto>, String> {
    let source = skip_shebang(source);
    let chunk = syntax::parse(source, chunkname).map_err(|e| e.to_string())?;
    let proto = compiler::compile(&chunk, chunkname).map_err(|e| e.message)?;
    Ok(Rc::new(proto))
}

/// A first line starting with `#` is ignored, as lua5.4 does.
fn skip_shebang(source: &[u8]) -> &[u8] {
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
