//! Lexer, parser and AST of Lua 5.4.

pub mod ast;
pub mod lexer;
pub mod parser;

pub use parser::{chunkid, parse, SyntaxError};
