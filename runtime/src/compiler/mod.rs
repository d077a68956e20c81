//! AST to register bytecode.
//!
//! Registers are allocated like PUC-Rio Lua's: active locals occupy the low
//! registers in declaration order and temporaries are stacked above them
//! (`free_reg`). A call's function register is always the top of the active
//! registers, so everything above it is free for its arguments and results.

pub mod opcode;
pub mod proto;

use std::collections::HashMap;
use std::rc::Rc;

use crate::syntax::ast::{
    Attrib, BinOp, Block, Chunk, Expr, ExprKind, FuncBody, FuncName, Stat, StatKind, TableField,
    UnOp,
};
use opcode::{ArithOp, Extra, Jump, Op};
pub use proto::{Constant, FunctionProto, LocalInfo, UpvalueDesc};

/// Registers available to one function, as in PUC-Rio Lua.
const MAX_REGISTERS: usize = 250;
/// Upvalues per function (an upvalue index is one byte).
const MAX_UPVALUES: usize = 255;
/// Active local variables per function, as in PUC-Rio Lua.
const MAX_LOCALS: usize = 200;
/// Positional fields stored per `SetList`.
const FIELDS_PER_FLUSH: usize = 50;
/// Nesting limit of functions and blocks, so that deep input cannot
/// overflow the compiler's own stack.
const MAX_NESTING: usize = 400;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    pub message: String,
}

/// Compiles a parsed chunk into the prototype of its main function.
pub fn compile(chunk: &Chunk, source: &str) -> std::result::Result<FunctionProto, CompileError> {
    let mut c = Compiler {
        source: Rc::from(source),
        funcs: Vec::new(),
        depth: 0,
    };
    let mut main = FuncState::new(c.source.clone(), 0, true);
    // The main chunk's only upvalue is _ENV, bound to the globals at load.
    main.proto.upvalues.push(UpvalueDesc {
        name: "_ENV".into(),
        in_stack: true,
        index: 0,
    });
    c.funcs.push(main);
    c.block(&chunk.block, BlockKind::Plain)?;
    let last_line = last_line_of(&chunk.block);
    c.finish_function(last_line)
}

fn last_line_of(block: &Block) -> u32 {
    block
        .ret
        .as_ref()
        .map(|r| r.line)
        .or_else(|| block.stats.last().map(|s| s.line))
        .unwrap_or(1)
}

struct Compiler {
    source: Rc<str>,
    funcs: Vec<FuncState>,
    depth: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Plain,
    Loop,
}

struct ActiveLocal {
    name: String,
    reg: u8,
    attrib: Attrib,
    /// Index into `FuncState::locals` (debug records).
    info: usize,
}

struct BlockState {
    kind: BlockKind,
    /// Active locals when the block started.
    nactive: usize,
    /// Some local of this block is captured by a closure or is to-be-closed:
    /// leaving the block must close it.
    needs_close: bool,
    /// Labels declared directly in this block.
    labels: Vec<Label>,
    /// First entry in `FuncState::pending` that belongs to this block.
    first_pending: usize,
}

struct Label {
    name: String,
    pc: usize,
    nactive: usize,
    line: u32,
}

/// A forward `goto` (or `break`, named "break") waiting for its label.
struct PendingGoto {
    name: String,
    jump_pc: usize,
    nactive: usize,
    line: u32,
    needs_close: bool,
}

#[derive(PartialEq, Eq, Hash)]
enum ConstKey {
    Integer(i64),
    Float(u64),
    String(Box<[u8]>),
}

struct FuncState {
    proto: FunctionProto,
    const_index: HashMap<ConstKey, usize>,
    actives: Vec<ActiveLocal>,
    blocks: Vec<BlockState>,
    pending: Vec<PendingGoto>,
    free_reg: usize,
}

impl FuncState {
    fn new(source: Rc<str>, line: u32, is_vararg: bool) -> FuncState {
        FuncState {
            proto: FunctionProto {
                chunkname: source.clone(),
                source,
                line_defined: line,
                last_line: line,
                num_params: 0,
                is_vararg,
                max_stack: 2,
                code: Vec::new(),
                lines: Vec::new(),
                constants: Vec::new(),
                protos: Vec::new(),
                upvalues: Vec::new(),
                locals: Vec::new(),
            },
            const_index: HashMap::new(),
            actives: Vec::new(),
            blocks: Vec::new(),
            pending: Vec::new(),
            free_reg: 0,
        }
    }
}

enum VarLoc {
    Local(u8),
    Upvalue(u8),
    Global,
}

/// Where an assignment stores its value.
enum Target {
    Local(u8),
    Upvalue(u8),
    /// Table register and key register.
    Index(u8, u8),
    /// Table register and string-constant index.
    Field(u8, u8),
    /// `_ENV` upvalue and string-constant index.
    GlobalUp(u8, u8),
}

type Result<T> = std::result::Result<T, CompileError>;

impl Compiler {
    fn fs(&mut self) -> &mut FuncState {
        self.funcs
            .last_mut()
            .expect("a function is always being compiled")
    }

    fn error(&self, line: u32, msg: impl std::fmt::Display) -> CompileError {
        CompileError {
            message: format!("{}:{}: {}", self.source, line, msg),
        }
    }

    // ---- code emission -------------------------------------------------

    fn emit(&mut self, op: Op, line: u32) -> usize {
        let fs = self.fs();
        fs.proto.code.push(op);
        fs.proto.lines.push(line);
        fs.proto.code.len() - 1
    }

    fn pc(&mut self) -> usize {
        self.fs().proto.code.len()
    }

    fn emit_jump(&mut self, line: u32) -> usize {
        self.emit(
            Op::Jmp {
                offset: Jump::new(0).expect("zero fits"),
            },
            line,
        )
    }

    /// Points the jump at `jump_pc` to `target`.
    fn patch_jump(&mut self, jump_pc: usize, target: usize) -> Result<()> {
        let offset = target as i64 - (jump_pc as i64 + 1);
        let line = self.fs().proto.lines[jump_pc];
        let offset = i32::try_from(offset)
            .ok()
            .and_then(Jump::new)
            .ok_or_else(|| self.error(line, "control structure too long"))?;
        self.fs().proto.code[jump_pc] = Op::Jmp { offset };
        Ok(())
    }

    fn patch_here(&mut self, jumps: &[usize]) -> Result<()> {
        let here = self.pc();
        for &j in jumps {
            self.patch_jump(j, here)?;
        }
        Ok(())
    }

    fn emit_jump_to(&mut self, target: usize, line: u32) -> Result<()> {
        let j = self.emit_jump(line);
        self.patch_jump(j, target)
    }

    fn constant(&mut self, c: Constant, line: u32) -> Result<usize> {
        let key = match &c {
            Constant::Integer(i) => ConstKey::Integer(*i),
            Constant::Float(f) => ConstKey::Float(f.to_bits()),
            Constant::String(s) => ConstKey::String(s.clone()),
        };
        if let Some(&i) = self.fs().const_index.get(&key) {
            return Ok(i);
        }
        let fs = self.fs();
        let i = fs.proto.constants.len();
        if i > u16::MAX as usize {
            return Err(self.error(line, "too many constants"));
        }
        let fs = self.fs();
        fs.proto.constants.push(c);
        fs.const_index.insert(key, i);
        Ok(i)
    }

    fn string_constant(&mut self, s: &[u8], line: u32) -> Result<usize> {
        self.constant(Constant::String(s.into()), line)
    }

    // ---- registers -----------------------------------------------------

    fn alloc_regs(&mut self, n: usize, line: u32) -> Result<u8> {
        let fs = self.fs();
        let first = fs.free_reg;
        let top = first + n;
        if top > MAX_REGISTERS {
            return Err(self.error(line, "function or expression needs too many registers"));
        }
        let fs = self.fs();
        fs.free_reg = top;
        if top > fs.proto.max_stack as usize {
            fs.proto.max_stack = top as u16;
        }
        Ok(first as u8)
    }

    fn alloc_reg(&mut self, line: u32) -> Result<u8> {
        self.alloc_regs(1, line)
    }

    fn free_reg(&mut self) -> usize {
        self.fs().free_reg
    }

    fn set_free_reg(&mut self, r: usize) {
        self.fs().free_reg = r;
    }

    // ---- scopes ----------------------------------------------------------

    fn enter_block(&mut self, kind: BlockKind) {
        let fs = self.fs();
        let block = BlockState {
            kind,
            nactive: fs.actives.len(),
            needs_close: false,
            labels: Vec::new(),
            first_pending: fs.pending.len(),
        };
        fs.blocks.push(block);
    }

    /// Declares a local in the next free register (already allocated by the
    /// caller at `reg`).
    fn add_local(&mut self, name: &str, reg: u8, attrib: Attrib) {
        let pc = self.pc() as u32;
        let fs = self.fs();
        fs.proto.locals.push(LocalInfo {
            name: name.to_owned(),
            reg,
            start_pc: pc,
            end_pc: u32::MAX,
        });
        let info = fs.proto.locals.len() - 1;
        fs.actives.push(ActiveLocal {
            name: name.to_owned(),
            reg,
            attrib,
            info,
        });
        if attrib == Attrib::Close {
            if let Some(b) = fs.blocks.last_mut() {
                b.needs_close = true;
            }
        }
    }

    fn remove_locals_to(&mut self, n: usize) {
        let pc = self.pc() as u32;
        let fs = self.fs();
        while fs.actives.len() > n {
            let l = fs.actives.pop().expect("len > n");
            fs.proto.locals[l.info].end_pc = pc;
        }
    }

    fn leave_block(&mut self, line: u32) -> Result<()> {
        let block = self.fs().blocks.pop().expect("block stack is balanced");
        let base_reg = self.reg_level(block.nactive);
        if block.kind == BlockKind::Loop && block.needs_close {
            // `break` must also run the loop's own close (the generic
            // for's closing value): land on it.
            let here = self.pc();
            self.patch_breaks(block.first_pending, here)?;
        }
        if block.needs_close && !self.fs().blocks.is_empty() {
            self.emit(Op::Close { a: base_reg }, line);
        }
        self.remove_locals_to(block.nactive);
        self.set_free_reg(base_reg as usize);
        // Pending gotos of this block now belong to the enclosing one.
        let fs = self.fs();
        for g in &mut fs.pending[block.first_pending..] {
            if g.nactive > block.nactive {
                g.nactive = block.nactive;
                g.needs_close |= block.needs_close;
            }
        }
        if block.kind == BlockKind::Loop {
            self.resolve_breaks(block.first_pending, block.nactive)?;
        }
        if self.fs().blocks.is_empty() {
            // Function end: anything still pending has no label.
            if let Some(g) = self.fs().pending.first() {
                let (name, line) = (g.name.clone(), g.line);
                return Err(if name == "break" {
                    self.error(line, format!("break outside loop at line {line}"))
                } else {
                    self.error(
                        line,
                        format!("no visible label '{name}' for <goto> at line {line}"),
                    )
                });
            }
        }
        Ok(())
    }

    /// Register level below which `n` active locals live.
    fn reg_level(&mut self, n: usize) -> u8 {
        let fs = self.fs();
        if n == 0 {
            0
        } else {
            fs.actives[n - 1].reg + 1
        }
    }

    /// Points the pending `break`s of a loop at `target`.
    fn patch_breaks(&mut self, first_pending: usize, target: usize) -> Result<()> {
        let mut i = first_pending;
        while i < self.fs().pending.len() {
            if self.fs().pending[i].name == "break" {
                let g = self.fs().pending.remove(i);
                self.patch_jump(g.jump_pc, target)?;
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    fn resolve_breaks(&mut self, first_pending: usize, nactive: usize) -> Result<()> {
        let here = self.pc();
        let mut close = false;
        let mut i = first_pending;
        while i < self.fs().pending.len() {
            if self.fs().pending[i].name == "break" {
                let g = self.fs().pending.remove(i);
                close |= g.needs_close;
                self.patch_jump(g.jump_pc, here)?;
            } else {
                i += 1;
            }
        }
        if close {
            let level = self.reg_level(nactive);
            self.emit(Op::Close { a: level }, 0);
        }
        Ok(())
    }

    // ---- variables -----------------------------------------------------

    fn resolve(&mut self, name: &str) -> Result<VarLoc> {
        let depth = self.funcs.len() - 1;
        self.resolve_in(depth, name)
    }

    fn resolve_in(&mut self, level: usize, name: &str) -> Result<VarLoc> {
        let fs = &mut self.funcs[level];
        if let Some(l) = fs.actives.iter().rev().find(|l| l.name == name) {
            return Ok(VarLoc::Local(l.reg));
        }
        if let Some(i) = fs.proto.upvalues.iter().position(|u| u.name == name) {
            return Ok(VarLoc::Upvalue(i as u8));
        }
        if level == 0 {
            return Ok(VarLoc::Global);
        }
        let (in_stack, index) = match self.resolve_in(level - 1, name)? {
            VarLoc::Global => return Ok(VarLoc::Global),
            VarLoc::Local(reg) => {
                self.mark_captured(level - 1, reg);
                (true, reg)
            }
            VarLoc::Upvalue(i) => (false, i),
        };
        let fs = &mut self.funcs[level];
        if fs.proto.upvalues.len() >= MAX_UPVALUES {
            let line = fs.proto.line_defined;
            return Err(self.error(
                line,
                format!("too many upvalues (limit is {MAX_UPVALUES}) in function at line {line}"),
            ));
        }
        let fs = &mut self.funcs[level];
        fs.proto.upvalues.push(UpvalueDesc {
            name: name.to_owned(),
            in_stack,
            index,
        });
        Ok(VarLoc::Upvalue((fs.proto.upvalues.len() - 1) as u8))
    }

    /// The block declaring register `reg` of function `level` must close
    /// its upvalues when it ends.
    fn mark_captured(&mut self, level: usize, reg: u8) {
        let fs = &mut self.funcs[level];
        let Some(pos) = fs.actives.iter().rposition(|l| l.reg == reg) else {
            return;
        };
        if let Some(b) = fs.blocks.iter_mut().rev().find(|b| b.nactive <= pos) {
            b.needs_close = true;
        }
    }

    /// The attribute of the innermost local called `name`, looking through
    /// enclosing functions (an upvalue keeps its local's attribute).
    fn local_attrib(&self, name: &str) -> Option<Attrib> {
        self.funcs.iter().rev().find_map(|fs| {
            fs.actives
                .iter()
                .rev()
                .find(|l| l.name == name)
                .map(|l| l.attrib)
        })
    }

    // ---- functions -----------------------------------------------------

    fn finish_function(&mut self, last_line: u32) -> Result<FunctionProto> {
        self.emit(Op::Return { a: 0, b: 1 }, last_line);
        let mut fs = self.funcs.pop().expect("function stack is balanced");
        fs.proto.last_line = last_line;
        Ok(fs.proto)
    }

    fn function_body(&mut self, body: &FuncBody) -> Result<FunctionProto> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(body.line, "chunk has too many syntax levels"));
        }
        let mut fs = FuncState::new(self.source.clone(), body.line, body.is_vararg);
        fs.proto.num_params = u8::try_from(body.params.len())
            .map_err(|_| self.error(body.line, "too many parameters"))?;
        self.funcs.push(fs);
        self.enter_block(BlockKind::Plain);
        for p in &body.params {
            let r = self.alloc_reg(body.line)?;
            self.add_local(p, r, Attrib::None);
        }
        self.block_body(&body.block, true)?;
        self.leave_block(body.end_line)?;
        self.depth -= 1;
        self.finish_function(body.end_line)
    }

    fn closure(&mut self, body: &FuncBody, dst: u8) -> Result<()> {
        let proto = self.function_body(body)?;
        let fs = self.fs();
        let p = fs.proto.protos.len();
        fs.proto.protos.push(Rc::new(proto));
        let p = u16::try_from(p).map_err(|_| self.error(body.line, "too many functions"))?;
        self.emit(Op::Closure { a: dst, p }, body.line);
        Ok(())
    }

    // ---- statements ----------------------------------------------------

    fn block(&mut self, block: &Block, kind: BlockKind) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let line = block.stats.first().map_or(1, |s| s.line);
            return Err(self.error(line, "chunk has too many syntax levels"));
        }
        self.enter_block(kind);
        self.block_body(block, true)?;
        let line = last_line_of(block);
        self.leave_block(line)?;
        self.depth -= 1;
        Ok(())
    }

    /// `labels_can_end`: false for a `repeat` body, whose `until` condition
    /// is still in the scope of the body's locals.
    fn block_body(&mut self, block: &Block, labels_can_end: bool) -> Result<()> {
        for (i, stat) in block.stats.iter().enumerate() {
            // A label followed only by labels up to the end of a block without
            // `return` is outside the scope of the block's locals (5.4 rule).
            let label_at_end = labels_can_end
                && block.ret.is_none()
                && block.stats[i + 1..]
                    .iter()
                    .all(|s| matches!(s.kind, StatKind::Label(_)));
            self.stat(stat, label_at_end)?;
            let nactive = self.fs().actives.len();
            let level = self.reg_level(nactive);
            self.set_free_reg(level as usize);
        }
        if let Some(ret) = &block.ret {
            self.return_stat(&ret.exprs, ret.line)?;
        }
        Ok(())
    }

    fn stat(&mut self, stat: &Stat, label_at_end: bool) -> Result<()> {
        let line = stat.line;
        match &stat.kind {
            StatKind::Call(e) => {
                let base = self.free_reg();
                self.call(e, base as u8, 0, false)?;
            }
            StatKind::Local { names, exprs } => self.local_stat(names, exprs, line)?,
            StatKind::Assign { targets, exprs } => self.assign(targets, exprs, line)?,
            StatKind::Do(b) => self.block(b, BlockKind::Plain)?,
            StatKind::While { cond, block } => {
                // The loop scope holds no locals; it is where `break` lands.
                self.enter_block(BlockKind::Loop);
                let start = self.pc();
                let exits = self.cond_jump(cond, false)?;
                self.block(block, BlockKind::Plain)?;
                self.emit_jump_to(start, line)?;
                self.patch_here(&exits)?;
                self.leave_block(line)?;
            }
            StatKind::Repeat { block, cond } => self.repeat(block, cond, line)?,
            StatKind::If { arms, else_block } => {
                let mut ends = Vec::new();
                for (i, (cond, body)) in arms.iter().enumerate() {
                    let skip = self.cond_jump(cond, false)?;
                    self.block(body, BlockKind::Plain)?;
                    if i + 1 < arms.len() || else_block.is_some() {
                        ends.push(self.emit_jump(line));
                    }
                    self.patch_here(&skip)?;
                }
                if let Some(b) = else_block {
                    self.block(b, BlockKind::Plain)?;
                }
                self.patch_here(&ends)?;
            }
            StatKind::NumericFor {
                var,
                start,
                limit,
                step,
                block,
            } => self.numeric_for(var, start, limit, step.as_ref(), block, line)?,
            StatKind::GenericFor { vars, exprs, block } => {
                self.generic_for(vars, exprs, block, line)?
            }
            StatKind::Function { name, body } => self.function_stat(name, body, line)?,
            StatKind::LocalFunction { name, body } => {
                let r = self.alloc_reg(line)?;
                self.add_local(name, r, Attrib::None);
                self.closure(body, r)?;
            }
            StatKind::Break => {
                if !self.fs().blocks.iter().any(|b| b.kind == BlockKind::Loop) {
                    return Err(self.error(line, format!("break outside loop at line {line}")));
                }
                let j = self.emit_jump(line);
                let nactive = self.fs().actives.len();
                self.fs().pending.push(PendingGoto {
                    name: "break".into(),
                    jump_pc: j,
                    nactive,
                    line,
                    needs_close: false,
                });
            }
            StatKind::Goto(name) => self.goto(name, line)?,
            StatKind::Label(name) => self.label(name, line, label_at_end)?,
        }
        Ok(())
    }

    fn local_stat(&mut self, names: &[(String, Attrib)], exprs: &[Expr], line: u32) -> Result<()> {
        // PUC-Rio's limit of 200 active locals per function, reported at
        // the token after the name that exceeds it.
        let room = MAX_LOCALS.saturating_sub(self.fs().actives.len());
        if names.len() > room {
            let near = if room + 1 < names.len() {
                " near ','"
            } else if !exprs.is_empty() {
                " near '='"
            } else {
                ""
            };
            let place = match self.fs().proto.line_defined {
                0 => "main function".to_owned(),
                l => format!("function at line {l}"),
            };
            return Err(self.error(
                line,
                format!("too many local variables (limit is {MAX_LOCALS}) in {place}{near}"),
            ));
        }
        let base = self.free_reg() as u8;
        self.expr_list(exprs, base, names.len() as i32, line)?;
        for (i, (name, attrib)) in names.iter().enumerate() {
            let reg = base + i as u8;
            self.add_local(name, reg, *attrib);
            if *attrib == Attrib::Close {
                self.emit(Op::Tbc { a: reg }, line);
            }
        }
        Ok(())
    }

    fn function_stat(&mut self, name: &FuncName, body: &FuncBody, line: u32) -> Result<()> {
        let save = self.free_reg();
        let path: Vec<&String> = name.fields.iter().chain(name.method.iter()).collect();
        let value = self.alloc_reg(line)?;
        if path.is_empty() {
            self.closure(body, value)?;
            let target = self.name_target(&name.base, line)?;
            self.store(target, value, line);
        } else {
            let mut table = self.alloc_reg(line)?;
            let base = Expr {
                line,
                kind: ExprKind::Name(name.base.clone()),
            };
            self.expr(&base, table)?;
            for field in &path[..path.len() - 1] {
                let k = self.field_key(field.as_bytes(), line)?;
                let next = table;
                self.get_field(next, table, k, line)?;
                table = next;
            }
            self.closure(body, value)?;
            let last = path[path.len() - 1];
            let k = self.field_key(last.as_bytes(), line)?;
            self.set_field(table, k, value, line)?;
        }
        self.set_free_reg(save);
        Ok(())
    }

    fn repeat(&mut self, block: &Block, cond: &Expr, line: u32) -> Result<()> {
        let start = self.pc();
        self.depth += 1;
        self.enter_block(BlockKind::Loop);
        self.block_body(block, false)?;
        let exits_false = self.cond_jump(cond, false)?;
        let captured = self.fs().blocks.last().is_some_and(|b| b.needs_close);
        if captured {
            // The body's upvalues are fresh per iteration: close them both
            // when looping back and when leaving.
            let nactive = self.fs().blocks.last().map_or(0, |b| b.nactive);
            let level = self.reg_level(nactive);
            let done = self.emit_jump(line);
            self.patch_here(&exits_false)?;
            self.emit(Op::Close { a: level }, line);
            self.emit_jump_to(start, line)?;
            self.patch_here(&[done])?;
        } else {
            for j in exits_false {
                self.patch_jump(j, start)?;
            }
        }
        self.leave_block(line)?;
        self.depth -= 1;
        Ok(())
    }

    fn numeric_for(
        &mut self,
        var: &str,
        start: &Expr,
        limit: &Expr,
        step: Option<&Expr>,
        block: &Block,
        line: u32,
    ) -> Result<()> {
        let save = self.free_reg();
        let base = self.alloc_regs(3, line)?;
        self.expr(start, base)?;
        self.expr(limit, base + 1)?;
        match step {
            Some(s) => self.expr(s, base + 2)?,
            None => {
                self.emit(
                    Op::LoadInt {
                        a: base + 2,
                        value: 1,
                    },
                    line,
                );
            }
        }
        // The three control registers are hidden locals of the loop.
        self.enter_block(BlockKind::Loop);
        self.add_local("(for state)", base, Attrib::None);
        self.add_local("(for state)", base + 1, Attrib::None);
        self.add_local("(for state)", base + 2, Attrib::None);
        let prep = self.emit(Op::ForPrep { a: base, skip: 0 }, line);
        let var_reg = self.alloc_reg(line)?;
        self.enter_block(BlockKind::Plain);
        self.add_local(var, var_reg, Attrib::None);
        self.block(block, BlockKind::Plain)?;
        self.leave_block(line)?;
        let lp = self.pc();
        let dist =
            u16::try_from(lp - prep).map_err(|_| self.error(line, "control structure too long"))?;
        self.emit(
            Op::ForLoop {
                a: base,
                back: dist,
            },
            line,
        );
        self.fs().proto.code[prep] = Op::ForPrep {
            a: base,
            skip: dist,
        };
        self.leave_block(line)?;
        self.set_free_reg(save);
        Ok(())
    }

    fn generic_for(
        &mut self,
        vars: &[String],
        exprs: &[Expr],
        block: &Block,
        line: u32,
    ) -> Result<()> {
        let save = self.free_reg();
        let base = self.free_reg() as u8;
        self.expr_list(exprs, base, 4, line)?;
        self.enter_block(BlockKind::Loop);
        for i in 0..3 {
            self.add_local("(for state)", base + i, Attrib::None);
        }
        // The fourth value is closed when the loop ends, however it ends.
        self.add_local("(for state)", base + 3, Attrib::Close);
        self.emit(Op::Tbc { a: base + 3 }, line);
        let to_call = self.emit_jump(line);
        let body_start = self.pc();
        let first_var = self.alloc_regs(vars.len(), line)?;
        // TForCall stages the iterator call in R[a+4..a+7].
        let fs = self.fs();
        fs.proto.max_stack = fs.proto.max_stack.max(base as u16 + 7);
        self.enter_block(BlockKind::Plain);
        for (i, v) in vars.iter().enumerate() {
            self.add_local(v, first_var + i as u8, Attrib::None);
        }
        self.block(block, BlockKind::Plain)?;
        self.leave_block(line)?;
        self.patch_here(&[to_call])?;
        let nvars = u8::try_from(vars.len()).map_err(|_| self.error(line, "too many variables"))?;
        self.emit(Op::TForCall { a: base, c: nvars }, line);
        let here = self.pc();
        let back = u16::try_from(here + 1 - body_start)
            .map_err(|_| self.error(line, "control structure too long"))?;
        self.emit(Op::TForLoop { a: base, back }, line);
        self.leave_block(line)?;
        self.set_free_reg(save);
        Ok(())
    }

    fn goto(&mut self, name: &str, line: u32) -> Result<()> {
        let nactive = self.fs().actives.len();
        // A visible label already defined: a backward jump.
        let found = self
            .fs()
            .blocks
            .iter()
            .rev()
            .flat_map(|b| b.labels.iter())
            .find(|l| l.name == name)
            .map(|l| (l.pc, l.nactive));
        if let Some((pc, label_nactive)) = found {
            if label_nactive < nactive {
                let level = self.reg_level(label_nactive);
                self.emit(Op::Close { a: level }, line);
            }
            return self.emit_jump_to(pc, line);
        }
        let j = self.emit_jump(line);
        self.fs().pending.push(PendingGoto {
            name: name.to_owned(),
            jump_pc: j,
            nactive,
            line,
            needs_close: false,
        });
        Ok(())
    }

    fn label(&mut self, name: &str, line: u32, at_end: bool) -> Result<()> {
        let existing = self
            .fs()
            .blocks
            .iter()
            .flat_map(|b| b.labels.iter())
            .find(|l| l.name == name)
            .map(|l| l.line);
        if let Some(prev) = existing {
            return Err(self.error(
                line,
                format!("label '{name}' already defined on line {prev}"),
            ));
        }
        let block_nactive = self.fs().blocks.last().map_or(0, |b| b.nactive);
        let nactive = if at_end {
            block_nactive
        } else {
            self.fs().actives.len()
        };
        let pc = self.pc();
        let first_pending = self.fs().blocks.last().map_or(0, |b| b.first_pending);
        let mut close = false;
        let mut i = first_pending;
        while i < self.fs().pending.len() {
            if self.fs().pending[i].name != name {
                i += 1;
                continue;
            }
            let g = self.fs().pending.remove(i);
            if g.nactive < nactive {
                let local = self.fs().actives[g.nactive].name.clone();
                return Err(self.error(
                    g.line,
                    format!(
                        "<goto {name}> at line {} jumps into the scope of local '{local}'",
                        g.line
                    ),
                ));
            }
            close |= g.needs_close;
            self.patch_jump(g.jump_pc, pc)?;
        }
        if close {
            let level = self.reg_level(nactive);
            self.emit(Op::Close { a: level }, line);
        }
        let fs = self.fs();
        if let Some(b) = fs.blocks.last_mut() {
            b.labels.push(Label {
                name: name.to_owned(),
                pc,
                nactive,
                line,
            });
        }
        Ok(())
    }

    fn return_stat(&mut self, exprs: &[Expr], line: u32) -> Result<()> {
        if let [e] = exprs {
            if let ExprKind::Call(..) | ExprKind::MethodCall(..) = e.kind {
                let base = self.free_reg() as u8;
                self.call(e, base, -1, true)?;
                return Ok(());
            }
            if let ExprKind::Name(n) = &e.kind {
                if let VarLoc::Local(r) = self.resolve(n)? {
                    self.emit(Op::Return { a: r, b: 2 }, line);
                    return Ok(());
                }
            }
        }
        let base = self.free_reg() as u8;
        let multi = exprs.last().is_some_and(is_multi);
        let n = exprs.len() as i32;
        self.expr_list(exprs, base, if multi { -1 } else { n }, line)?;
        let b = if multi { 0 } else { (n + 1) as u8 };
        self.emit(Op::Return { a: base, b }, line);
        Ok(())
    }

    // ---- assignment ------------------------------------------------------

    fn name_target(&mut self, name: &str, line: u32) -> Result<Target> {
        if self.local_attrib(name).is_some_and(|a| a != Attrib::None) {
            return Err(self.error(
                line,
                format!("attempt to assign to const variable '{name}'"),
            ));
        }
        Ok(match self.resolve(name)? {
            VarLoc::Local(r) => Target::Local(r),
            VarLoc::Upvalue(u) => Target::Upvalue(u),
            VarLoc::Global => {
                let k = self.string_constant(name.as_bytes(), line)?;
                match self.env_location(line)? {
                    EnvLoc::Upvalue(u) if k <= u8::MAX as usize => Target::GlobalUp(u, k as u8),
                    env => {
                        let t = self.env_to_reg(env, line)?;
                        let kr = self.alloc_reg(line)?;
                        self.emit(Op::LoadK { a: kr, k: k as u16 }, line);
                        Target::Index(t, kr)
                    }
                }
            }
        })
    }

    fn target(&mut self, e: &Expr) -> Result<Target> {
        match &e.kind {
            ExprKind::Name(n) => self.name_target(n, e.line),
            ExprKind::Index(t, k) => {
                let tr = self.expr_any(t)?;
                if let ExprKind::String(s) = &k.kind {
                    let ki = self.string_constant(s, k.line)?;
                    if ki <= u8::MAX as usize {
                        return Ok(Target::Field(tr, ki as u8));
                    }
                }
                let kr = self.expr_any(k)?;
                Ok(Target::Index(tr, kr))
            }
            _ => Err(self.error(e.line, "syntax error (cannot assign to this expression)")),
        }
    }

    fn store(&mut self, target: Target, value: u8, line: u32) {
        match target {
            Target::Local(r) => {
                if r != value {
                    self.emit(Op::Move { a: r, b: value }, line);
                }
            }
            Target::Upvalue(u) => {
                self.emit(Op::SetUpval { a: value, u }, line);
            }
            Target::Index(t, k) => {
                self.emit(Op::SetTable { t, k, v: value }, line);
            }
            Target::Field(t, k) => {
                self.emit(Op::SetField { t, k, v: value }, line);
            }
            Target::GlobalUp(u, k) => {
                self.emit(Op::SetTabUp { u, k, v: value }, line);
            }
        }
    }

    fn assign(&mut self, targets: &[Expr], exprs: &[Expr], line: u32) -> Result<()> {
        if let ([t], [e]) = (targets, exprs) {
            if let ExprKind::Name(n) = &t.kind {
                let target = self.name_target(n, line)?;
                if let Target::Local(r) = target {
                    return self.expr(e, r);
                }
                let v = self.expr_any(e)?;
                self.store(target, v, line);
                return Ok(());
            }
        }
        let mut resolved = Vec::with_capacity(targets.len());
        for t in targets {
            resolved.push(self.target(t)?);
        }
        // A local assigned here may also be the table or key of another
        // target (`a.x, a = 1, 2`): stores run last to first, so such
        // operands must be copied before any store.
        let assigned: Vec<u8> = resolved
            .iter()
            .filter_map(|t| match t {
                Target::Local(r) => Some(*r),
                _ => None,
            })
            .collect();
        for t in resolved.iter_mut() {
            let (tab, key) = match t {
                Target::Index(tab, key) => (tab, Some(key)),
                Target::Field(tab, _) => (tab, None),
                _ => continue,
            };
            if assigned.contains(tab) {
                let r = self.alloc_reg(line)?;
                self.emit(Op::Move { a: r, b: *tab }, line);
                *tab = r;
            }
            if let Some(key) = key {
                if assigned.contains(key) {
                    let r = self.alloc_reg(line)?;
                    self.emit(Op::Move { a: r, b: *key }, line);
                    *key = r;
                }
            }
        }
        let base = self.free_reg() as u8;
        self.expr_list(exprs, base, targets.len() as i32, line)?;
        for (i, target) in resolved.into_iter().enumerate().rev() {
            self.store(target, base + i as u8, line);
        }
        Ok(())
    }

    // ---- expressions -----------------------------------------------------

    /// Evaluates `exprs` into consecutive registers from `base` (which must be
    /// the free register), adjusted to `want` values (-1: all, setting the
    /// top). Leaves those registers allocated: the free register ends at
    /// `base + want`.
    fn expr_list(&mut self, exprs: &[Expr], base: u8, want: i32, line: u32) -> Result<()> {
        debug_assert_eq!(base as usize, self.free_reg());
        let n = exprs.len();
        for (i, e) in exprs.iter().enumerate() {
            let reg = base + i as u8;
            let last = i + 1 == n;
            if last && is_multi(e) {
                let extra = if want < 0 { -1 } else { want - i as i32 };
                if extra != 0 || want < 0 {
                    self.multi(e, reg, extra)?;
                    return Ok(());
                }
            }
            if want >= 0 && i as i32 >= want {
                // Evaluated for side effects only.
                let save = self.free_reg();
                self.expr_any(e)?;
                self.set_free_reg(save);
                continue;
            }
            self.alloc_reg(e.line)?;
            self.expr(e, reg)?;
        }
        if want > n as i32 {
            let first = base + n as u8;
            let missing = want as usize - n;
            self.alloc_regs(missing, line)?;
            self.emit(
                Op::LoadNil {
                    a: first,
                    n: (missing - 1) as u8,
                },
                line,
            );
        }
        Ok(())
    }

    /// A call or `...` producing `want` values at `base` (-1: all).
    fn multi(&mut self, e: &Expr, base: u8, want: i32) -> Result<()> {
        match &e.kind {
            ExprKind::Vararg => {
                let n = if want < 0 { 0 } else { want as u8 + 1 };
                if want > 0 {
                    self.alloc_regs(want as usize, e.line)?;
                }
                self.emit(Op::VarArg { a: base, n }, e.line);
                Ok(())
            }
            _ => {
                self.call(e, base, want, false)?;
                if want > 0 {
                    self.set_free_reg(base as usize + want as usize);
                    let top = self.free_reg();
                    if top as u16 > self.fs().proto.max_stack {
                        self.fs().proto.max_stack = top as u16;
                    }
                }
                Ok(())
            }
        }
    }

    /// Evaluates `e` into a register and returns it: a local's own register
    /// when `e` names one, else a new temporary.
    fn expr_any(&mut self, e: &Expr) -> Result<u8> {
        if let ExprKind::Name(n) = &e.kind {
            if let VarLoc::Local(r) = self.resolve(n)? {
                return Ok(r);
            }
        }
        let r = self.alloc_reg(e.line)?;
        self.expr(e, r)?;
        Ok(r)
    }

    /// Evaluates `e` to exactly one value in register `dst`.
    fn expr(&mut self, e: &Expr, dst: u8) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(e.line, "chunk has too many syntax levels"));
        }
        let save = self.free_reg().max(dst as usize + 1);
        if self.free_reg() <= dst as usize {
            let missing = dst as usize + 1 - self.free_reg();
            self.alloc_regs(missing, e.line)?;
        }
        let line = e.line;
        match &e.kind {
            ExprKind::Nil => {
                self.emit(Op::LoadNil { a: dst, n: 0 }, line);
            }
            ExprKind::True => {
                self.emit(
                    Op::LoadBool {
                        a: dst,
                        value: true,
                    },
                    line,
                );
            }
            ExprKind::False => {
                self.emit(
                    Op::LoadBool {
                        a: dst,
                        value: false,
                    },
                    line,
                );
            }
            ExprKind::Integer(i) => self.load_int(dst, *i, line)?,
            ExprKind::Float(f) => {
                let k = self.constant(Constant::Float(*f), line)?;
                self.emit(
                    Op::LoadK {
                        a: dst,
                        k: k as u16,
                    },
                    line,
                );
            }
            ExprKind::String(s) => {
                let k = self.string_constant(s, line)?;
                self.emit(
                    Op::LoadK {
                        a: dst,
                        k: k as u16,
                    },
                    line,
                );
            }
            ExprKind::Vararg => {
                if !self.fs().proto.is_vararg {
                    return Err(self.error(line, "cannot use '...' outside a vararg function"));
                }
                self.emit(Op::VarArg { a: dst, n: 2 }, line);
            }
            ExprKind::Function(body) => self.closure(body, dst)?,
            ExprKind::Table(fields) => self.table(fields, dst, line)?,
            ExprKind::Name(n) => match self.resolve(n)? {
                VarLoc::Local(r) => {
                    if r != dst {
                        self.emit(Op::Move { a: dst, b: r }, line);
                    }
                }
                VarLoc::Upvalue(u) => {
                    self.emit(Op::GetUpval { a: dst, u }, line);
                }
                VarLoc::Global => self.global_get(n, dst, line)?,
            },
            ExprKind::Index(t, k) => {
                let tr = self.expr_any(t)?;
                self.index(tr, k, dst, line)?;
            }
            ExprKind::Call(..) | ExprKind::MethodCall(..) => {
                let base = self.free_reg() as u8;
                self.call(e, base, 1, false)?;
                if base != dst {
                    self.emit(Op::Move { a: dst, b: base }, line);
                }
            }
            ExprKind::Paren(inner) => self.expr(inner, dst)?,
            ExprKind::Unary(UnOp::Not, _)
            | ExprKind::Binary(
                BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge,
                ..,
            ) => self.bool_value(e, dst)?,
            ExprKind::Unary(op, operand) => self.unary(*op, operand, dst, line)?,
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, dst, line)?,
        }
        self.set_free_reg(save);
        self.depth -= 1;
        Ok(())
    }

    fn load_int(&mut self, dst: u8, i: i64, line: u32) -> Result<()> {
        if let Ok(value) = i16::try_from(i) {
            self.emit(Op::LoadInt { a: dst, value }, line);
        } else {
            let k = self.constant(Constant::Integer(i), line)?;
            self.emit(
                Op::LoadK {
                    a: dst,
                    k: k as u16,
                },
                line,
            );
        }
        Ok(())
    }

    fn field_key(&mut self, name: &[u8], line: u32) -> Result<usize> {
        self.string_constant(name, line)
    }

    fn get_field(&mut self, dst: u8, t: u8, k: usize, line: u32) -> Result<()> {
        if let Ok(k) = u8::try_from(k) {
            self.emit(Op::GetField { a: dst, t, k }, line);
        } else {
            let kr = self.alloc_reg(line)?;
            self.emit(Op::LoadK { a: kr, k: k as u16 }, line);
            self.emit(Op::GetTable { a: dst, t, k: kr }, line);
        }
        Ok(())
    }

    fn set_field(&mut self, t: u8, k: usize, v: u8, line: u32) -> Result<()> {
        if let Ok(k) = u8::try_from(k) {
            self.emit(Op::SetField { t, k, v }, line);
        } else {
            let kr = self.alloc_reg(line)?;
            self.emit(Op::LoadK { a: kr, k: k as u16 }, line);
            self.emit(Op::SetTable { t, k: kr, v }, line);
        }
        Ok(())
    }

    fn index(&mut self, t: u8, key: &Expr, dst: u8, line: u32) -> Result<()> {
        match &key.kind {
            ExprKind::String(s) => {
                let k = self.string_constant(s, line)?;
                self.get_field(dst, t, k, line)
            }
            ExprKind::Integer(i) if (0..=255).contains(i) => {
                self.emit(
                    Op::GetIndex {
                        a: dst,
                        t,
                        i: *i as u8,
                    },
                    line,
                );
                Ok(())
            }
            _ => {
                let kr = self.expr_any(key)?;
                self.emit(Op::GetTable { a: dst, t, k: kr }, line);
                Ok(())
            }
        }
    }

    fn global_get(&mut self, name: &str, dst: u8, line: u32) -> Result<()> {
        let k = self.string_constant(name.as_bytes(), line)?;
        match self.env_location(line)? {
            EnvLoc::Upvalue(u) if k <= u8::MAX as usize => {
                self.emit(
                    Op::GetTabUp {
                        a: dst,
                        u,
                        k: k as u8,
                    },
                    line,
                );
            }
            env => {
                let t = self.env_to_reg(env, line)?;
                self.get_field(dst, t, k, line)?;
            }
        }
        Ok(())
    }

    fn env_location(&mut self, _line: u32) -> Result<EnvLoc> {
        Ok(match self.resolve("_ENV")? {
            VarLoc::Local(r) => EnvLoc::Local(r),
            VarLoc::Upvalue(u) => EnvLoc::Upvalue(u),
            // The main chunk always has _ENV as upvalue 0, so every function
            // resolves it; this arm is unreachable in well-formed state.
            VarLoc::Global => EnvLoc::Upvalue(0),
        })
    }

    fn env_to_reg(&mut self, env: EnvLoc, line: u32) -> Result<u8> {
        Ok(match env {
            EnvLoc::Local(r) => r,
            EnvLoc::Upvalue(u) => {
                let r = self.alloc_reg(line)?;
                self.emit(Op::GetUpval { a: r, u }, line);
                r
            }
        })
    }

    fn table(&mut self, fields: &[TableField], dst: u8, line: u32) -> Result<()> {
        let npos = fields
            .iter()
            .filter(|f| matches!(f, TableField::Positional(_)))
            .count();
        let nhash = fields.len() - npos;
        self.emit(
            Op::NewTable {
                a: dst,
                array: npos.min(255) as u8,
                hash: nhash.min(255) as u8,
            },
            line,
        );
        // Positional values are staged in registers above `dst` and stored in
        // groups; the table itself must be the register right below them.
        // A local's own register cannot be the table: `x = {x}` reads x.
        let nactive = self.fs().actives.len();
        let dst_is_local = dst < self.reg_level(nactive);
        let table = if dst as usize + 1 == self.free_reg() && !dst_is_local {
            dst
        } else {
            let t = self.alloc_reg(line)?;
            self.emit(Op::Move { a: t, b: dst }, line);
            t
        };
        let mut pending = 0usize;
        let mut stored = 0usize;
        for (i, field) in fields.iter().enumerate() {
            match field {
                TableField::Positional(e) => {
                    let last = i + 1 == fields.len();
                    let reg = table + 1 + pending as u8;
                    if last && is_multi(e) {
                        self.multi(e, reg, -1)?;
                        self.emit_setlist(table, 0, stored + 1, line)?;
                        pending = 0;
                        break;
                    }
                    self.alloc_reg(e.line)?;
                    self.expr(e, reg)?;
                    pending += 1;
                    if pending == FIELDS_PER_FLUSH {
                        self.emit_setlist(table, pending as u8, stored + 1, line)?;
                        stored += pending;
                        pending = 0;
                        self.set_free_reg(table as usize + 1);
                    }
                }
                TableField::Keyed(k, v) => {
                    let save = self.free_reg();
                    if let ExprKind::String(s) = &k.kind {
                        let ki = self.string_constant(s, k.line)?;
                        let vr = self.expr_any(v)?;
                        self.set_field(table, ki, vr, k.line)?;
                    } else {
                        let kr = self.expr_any(k)?;
                        let vr = self.expr_any(v)?;
                        self.emit(
                            Op::SetTable {
                                t: table,
                                k: kr,
                                v: vr,
                            },
                            k.line,
                        );
                    }
                    self.set_free_reg(save);
                }
            }
        }
        if pending > 0 {
            self.emit_setlist(table, pending as u8, stored + 1, line)?;
        }
        if table != dst {
            self.emit(Op::Move { a: dst, b: table }, line);
        }
        Ok(())
    }

    fn emit_setlist(&mut self, table: u8, n: u8, first: usize, line: u32) -> Result<()> {
        let value = u32::try_from(first)
            .ok()
            .and_then(Extra::new)
            .ok_or_else(|| self.error(line, "table constructor too long"))?;
        self.emit(Op::SetList { a: table, n }, line);
        self.emit(Op::ExtraArg { value }, line);
        Ok(())
    }

    /// Emits a call with its function at `base` (the free register).
    /// `want`: results wanted (-1: all). `tail`: the call is `return f(...)`.
    fn call(&mut self, e: &Expr, base: u8, want: i32, tail: bool) -> Result<()> {
        debug_assert_eq!(base as usize, self.free_reg());
        let line = e.line;
        let (args, nfixed) = match &e.kind {
            ExprKind::Call(f, args) => {
                self.alloc_reg(line)?;
                self.expr(f, base)?;
                (args, 1)
            }
            ExprKind::MethodCall(obj, name, args) => {
                let objr = self.expr_any(obj)?;
                self.set_free_reg(base as usize);
                self.alloc_regs(2, line)?;
                let k = self.string_constant(name.as_bytes(), line)?;
                if let Ok(k) = u8::try_from(k) {
                    self.emit(
                        Op::SelfK {
                            a: base,
                            b: objr,
                            k,
                        },
                        line,
                    );
                } else {
                    self.emit(
                        Op::Move {
                            a: base + 1,
                            b: objr,
                        },
                        line,
                    );
                    let kr = self.alloc_reg(line)?;
                    self.emit(Op::LoadK { a: kr, k: k as u16 }, line);
                    self.emit(
                        Op::GetTable {
                            a: base,
                            t: base + 1,
                            k: kr,
                        },
                        line,
                    );
                    self.set_free_reg(base as usize + 2);
                }
                (args, 2)
            }
            _ => unreachable!("call() is only given call expressions"),
        };
        let first_arg = base + nfixed;
        debug_assert_eq!(first_arg as usize, self.free_reg());
        let multi = args.last().is_some_and(is_multi);
        self.expr_list(
            args,
            first_arg,
            if multi { -1 } else { args.len() as i32 },
            line,
        )?;
        let b = if multi {
            0
        } else {
            (args.len() + nfixed as usize) as u8
        };
        let call_line = e.line;
        if tail {
            self.emit(Op::TailCall { a: base, b }, call_line);
            self.emit(Op::Return { a: base, b: 0 }, call_line);
        } else {
            self.emit(
                Op::Call {
                    a: base,
                    b,
                    c: (want + 1) as u8,
                },
                call_line,
            );
        }
        self.set_free_reg(base as usize);
        Ok(())
    }

    fn unary(&mut self, op: UnOp, operand: &Expr, dst: u8, line: u32) -> Result<()> {
        // Fold negated numerals, as PUC-Rio Lua does.
        if op == UnOp::Neg {
            match operand.kind {
                ExprKind::Integer(i) => return self.load_int(dst, i.wrapping_neg(), line),
                ExprKind::Float(f) => {
                    let k = self.constant(Constant::Float(-f), line)?;
                    self.emit(
                        Op::LoadK {
                            a: dst,
                            k: k as u16,
                        },
                        line,
                    );
                    return Ok(());
                }
                _ => {}
            }
        }
        let b = self.expr_any(operand)?;
        let op = match op {
            UnOp::Neg => Op::Unm { a: dst, b },
            UnOp::Len => Op::Len { a: dst, b },
            UnOp::BNot => Op::BNot { a: dst, b },
            UnOp::Not => unreachable!("`not` is compiled by bool_value"),
        };
        self.emit(op, line);
        Ok(())
    }

    fn bool_value(&mut self, e: &Expr, dst: u8) -> Result<()> {
        if let ExprKind::Unary(UnOp::Not, inner) = &e.kind {
            if !is_condition(inner) {
                let b = self.expr_any(inner)?;
                self.emit(Op::Not { a: dst, b }, e.line);
                return Ok(());
            }
        }
        let false_jumps = self.cond_jump(e, false)?;
        self.emit(
            Op::LoadBool {
                a: dst,
                value: true,
            },
            e.line,
        );
        let end = self.emit_jump(e.line);
        self.patch_here(&false_jumps)?;
        self.emit(
            Op::LoadBool {
                a: dst,
                value: false,
            },
            e.line,
        );
        self.patch_here(&[end])
    }

    fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr, dst: u8, line: u32) -> Result<()> {
        if let Some(arith) = arith_of(op) {
            return self.arith_chain(arith, l, r, dst, line);
        }
        match op {
            BinOp::Pow => self.arith_chain(ArithOp::Pow, l, r, dst, line),
            BinOp::Concat => {
                let b = self.left_operand(l, dst)?;
                let c = self.expr_any(r)?;
                self.emit(Op::Concat { a: dst, b, c }, line);
                Ok(())
            }
            BinOp::And | BinOp::Or => {
                // dst := l; if dst decides the result, skip r.
                let save = self.free_reg();
                let tmp = if self.is_temporary(dst) {
                    dst
                } else {
                    self.alloc_reg(line)?
                };
                self.expr(l, tmp)?;
                self.emit(
                    Op::Test {
                        a: tmp,
                        k: op == BinOp::Or,
                    },
                    line,
                );
                let done = self.emit_jump(line);
                self.expr(r, tmp)?;
                self.patch_here(&[done])?;
                if tmp != dst {
                    self.emit(Op::Move { a: dst, b: tmp }, line);
                }
                self.set_free_reg(save);
                Ok(())
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                unreachable!("comparisons are compiled by bool_value")
            }
            _ => unreachable!("arithmetic operators are handled above"),
        }
    }

    /// An arithmetic operator and the left-associative chain below it
    /// (`a + b - c * ...` parses as a left spine), compiled in a loop so
    /// that chains of any length need neither Rust recursion nor more
    /// than one accumulator register.
    fn arith_chain(&mut self, op: ArithOp, l: &Expr, r: &Expr, dst: u8, line: u32) -> Result<()> {
        let mut steps: Vec<(ArithOp, &Expr, u32)> = vec![(op, r, line)];
        let mut left = l;
        while let ExprKind::Binary(bop, ll, rr) = &left.kind {
            match arith_of(*bop) {
                Some(a) => {
                    steps.push((a, rr, left.line));
                    left = ll;
                }
                None => break,
            }
        }
        let save = self.free_reg();
        // Intermediate results may not go to a local's register: the
        // right operands may still read it.
        let acc = if self.is_temporary(dst) {
            dst
        } else {
            self.alloc_reg(line)?
        };
        let mut b = self.left_operand(left, acc)?;
        let n = steps.len();
        for (i, &(aop, rhs, ln)) in steps.iter().rev().enumerate() {
            let target = if i + 1 == n { dst } else { acc };
            let before = self.free_reg();
            self.arith_step(aop, target, b, rhs, ln)?;
            self.set_free_reg(before);
            b = target;
        }
        self.set_free_reg(save);
        Ok(())
    }

    /// `target := b op rhs`.
    fn arith_step(&mut self, op: ArithOp, target: u8, b: u8, rhs: &Expr, line: u32) -> Result<()> {
        if matches!(op, ArithOp::Add | ArithOp::Sub) {
            if let ExprKind::Integer(i) = rhs.kind {
                if let Ok(i) = i8::try_from(i) {
                    let opcode = if op == ArithOp::Sub {
                        Op::SubInt { a: target, b, i }
                    } else {
                        Op::AddInt { a: target, b, i }
                    };
                    self.emit(opcode, line);
                    return Ok(());
                }
            }
        }
        let c = self.expr_any(rhs)?;
        self.emit(Op::arith(op, target, b, c), line);
        Ok(())
    }

    /// Whether `reg` is a temporary (above every active local), so an
    /// expression may use it before its final value is stored there.
    fn is_temporary(&mut self, reg: u8) -> bool {
        let nactive = self.fs().actives.len();
        reg >= self.reg_level(nactive)
    }

    /// Evaluates the left operand of a binary operator whose result goes
    /// to `dst`: into `dst` itself when that is a temporary, so long
    /// operator chains need a constant number of registers.
    fn left_operand(&mut self, l: &Expr, dst: u8) -> Result<u8> {
        if let ExprKind::Name(n) = &l.kind {
            if let VarLoc::Local(r) = self.resolve(n)? {
                return Ok(r);
            }
        }
        if self.is_temporary(dst) {
            self.expr(l, dst)?;
            Ok(dst)
        } else {
            self.expr_any(l)
        }
    }

    /// Emits code that jumps when `e`'s truth equals `jump_when` and falls
    /// through otherwise; returns the jumps to patch.
    fn cond_jump(&mut self, e: &Expr, jump_when: bool) -> Result<Vec<usize>> {
        let line = e.line;
        let save = self.free_reg();
        let jumps = match &e.kind {
            ExprKind::True | ExprKind::Integer(_) | ExprKind::Float(_) | ExprKind::String(_) => {
                if jump_when {
                    vec![self.emit_jump(line)]
                } else {
                    vec![]
                }
            }
            ExprKind::Nil | ExprKind::False => {
                if jump_when {
                    vec![]
                } else {
                    vec![self.emit_jump(line)]
                }
            }
            ExprKind::Unary(UnOp::Not, inner) => self.cond_jump(inner, !jump_when)?,
            ExprKind::Paren(inner) if is_condition(inner) => self.cond_jump(inner, jump_when)?,
            ExprKind::Binary(BinOp::And, l, r) => {
                if jump_when {
                    let skip = self.cond_jump(l, false)?;
                    let j = self.cond_jump(r, true)?;
                    self.patch_here(&skip)?;
                    j
                } else {
                    let mut j = self.cond_jump(l, false)?;
                    j.extend(self.cond_jump(r, false)?);
                    j
                }
            }
            ExprKind::Binary(BinOp::Or, l, r) => {
                if jump_when {
                    let mut j = self.cond_jump(l, true)?;
                    j.extend(self.cond_jump(r, true)?);
                    j
                } else {
                    let skip = self.cond_jump(l, true)?;
                    let j = self.cond_jump(r, false)?;
                    self.patch_here(&skip)?;
                    j
                }
            }
            ExprKind::Binary(
                op @ (BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge),
                l,
                r,
            ) => {
                self.comparison(*op, l, r, jump_when, line)?;
                vec![self.emit_jump(line)]
            }
            _ => {
                let r = self.expr_any(e)?;
                self.emit(Op::Test { a: r, k: jump_when }, line);
                vec![self.emit_jump(line)]
            }
        };
        self.set_free_reg(save);
        Ok(jumps)
    }

    /// Emits the comparison opcode of `l op r`, with `k` = `jump_when`.
    fn comparison(&mut self, op: BinOp, l: &Expr, r: &Expr, k: bool, line: u32) -> Result<()> {
        // Small integer constants on the right avoid a register.
        if let ExprKind::Integer(i) = r.kind {
            if let Ok(i) = i8::try_from(i) {
                let a = self.expr_any(l)?;
                let opcode = match op {
                    BinOp::Lt => Some(Op::LtInt { a, i, k }),
                    BinOp::Le => Some(Op::LeInt { a, i, k }),
                    BinOp::Gt => Some(Op::GtInt { a, i, k }),
                    BinOp::Ge => Some(Op::GeInt { a, i, k }),
                    _ => None,
                };
                if let Some(opcode) = opcode {
                    self.emit(opcode, line);
                    return Ok(());
                }
                let c = self.constant(Constant::Integer(i as i64), line)?;
                if let Ok(c) = u8::try_from(c) {
                    let k = if op == BinOp::Eq { k } else { !k };
                    self.emit(Op::EqK { a, c, k }, line);
                    return Ok(());
                }
            }
        }
        if let (ExprKind::String(s), BinOp::Eq | BinOp::Ne) = (&r.kind, op) {
            let c = self.string_constant(s, line)?;
            if let Ok(c) = u8::try_from(c) {
                let a = self.expr_any(l)?;
                let k = if op == BinOp::Eq { k } else { !k };
                self.emit(Op::EqK { a, c, k }, line);
                return Ok(());
            }
        }
        let a = self.expr_any(l)?;
        let b = self.expr_any(r)?;
        let opcode = match op {
            BinOp::Eq => Op::Eq { a, b, k },
            BinOp::Ne => Op::Eq { a, b, k: !k },
            BinOp::Lt => Op::Lt { a, b, k },
            BinOp::Le => Op::Le { a, b, k },
            BinOp::Gt => Op::Lt { a: b, b: a, k },
            BinOp::Ge => Op::Le { a: b, b: a, k },
            _ => unreachable!("comparison() is only given comparison operators"),
        };
        self.emit(opcode, line);
        Ok(())
    }
}

enum EnvLoc {
    Local(u8),
    Upvalue(u8),
}

/// The arithmetic operator of a binary operator, if it is one (`^` is
/// right-associative, so it never forms a left spine).
fn arith_of(op: BinOp) -> Option<ArithOp> {
    Some(match op {
        BinOp::Add => ArithOp::Add,
        BinOp::Sub => ArithOp::Sub,
        BinOp::Mul => ArithOp::Mul,
        BinOp::Div => ArithOp::Div,
        BinOp::IDiv => ArithOp::IDiv,
        BinOp::Mod => ArithOp::Mod,
        BinOp::BAnd => ArithOp::BAnd,
        BinOp::BOr => ArithOp::BOr,
        BinOp::BXor => ArithOp::BXor,
        BinOp::Shl => ArithOp::Shl,
        BinOp::Shr => ArithOp::Shr,
        _ => return None,
    })
}

/// Expressions that can produce several values.
fn is_multi(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Call(..) | ExprKind::MethodCall(..) | ExprKind::Vararg
    )
}

/// Expressions best compiled as jumps rather than values.
fn is_condition(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Binary(op, ..) => matches!(
            op,
            BinOp::Eq
                | BinOp::Ne
                | BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge
                | BinOp::And
                | BinOp::Or
        ),
        ExprKind::Unary(UnOp::Not, _) => true,
        ExprKind::Paren(inner) => is_condition(inner),
        _ => false,
    }
}
