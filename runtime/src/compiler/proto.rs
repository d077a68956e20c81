//! The compiler's output: plain Rust data, no heap references. The runtime
//! turns a `FunctionProto` into a heap prototype when it loads a chunk.

use std::rc::Rc;

use super::opcode::Op;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Constant {
    Integer(i64),
    Float(f64),
    String(Box<[u8]>),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpvalueDesc {
    pub name: String,
    /// True when the upvalue is a local (register `index`) of the enclosing
    /// function; false when it is the enclosing function's upvalue `index`.
    pub in_stack: bool,
    pub index: u8,
}

/// A local variable's debug record: register `reg` holds `name` while
/// `start_pc <= pc < end_pc`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LocalInfo {
    pub name: String,
    pub reg: u8,
    pub start_pc: u32,
    pub end_pc: u32,
}

impl FunctionProto {
    /// Records the chunk name in this prototype and all nested ones.
    pub fn set_chunkname(&mut self, name: &str) {
        let name: Rc<str> = Rc::from(name);
        let mut stack: Vec<&mut FunctionProto> = vec![self];
        while let Some(p) = stack.pop() {
            p.chunkname = name.clone();
            for child in &mut p.protos {
                if let Some(c) = Rc::get_mut(child) {
                    stack.push(c);
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionProto {
    /// The chunk's display name (`file.lua`, `stdin`, `[string "..."]`).
    pub source: Rc<str>,
    /// The chunk name as given (`@file.lua`, `=stdin`, source text), as
    /// `debug.getinfo` reports it.
    pub chunkname: Rc<str>,
    pub line_defined: u32,
    pub last_line: u32,
    pub num_params: u8,
    pub is_vararg: bool,
    pub max_stack: u16,
    pub code: Vec<Op>,
    /// The source line of each opcode.
    pub lines: Vec<u32>,
    pub constants: Vec<Constant>,
    pub protos: Vec<Rc<FunctionProto>>,
    pub upvalues: Vec<UpvalueDesc>,
    pub locals: Vec<LocalInfo>,
}
