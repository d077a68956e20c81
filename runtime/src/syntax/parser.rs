//! The Lua 5.4 parser: a recursive-descent parser following `lparser.c`,
//! producing the AST of `super::ast` and lua5.4's syntax error messages.
//!
//! Error handling: the first error is recorded and the current token becomes
//! `<eof>`, which makes every parsing routine finish quickly; the partial
//! tree is then taken apart without recursion. (Unwinding with `?` would drop
//! partial trees recursively, and trees built from long left-associative
//! chains such as `1+1+...+1` can be arbitrarily deep.)
//!
//! Nesting is limited like lua5.4's "C stack" (`LUAI_MAXCCALLS`): each
//! statement, each sub-expression and each extra assignment target counts one
//! level, so that Rust recursion stays bounded.

use std::fmt;

use super::ast::{
    Attrib, BinOp, Block, Chunk, Expr, ExprKind, FuncBody, FuncName, Return, Stat, StatKind,
    TableField, UnOp,
};
use super::lexer::{LexError, Lexer, Tok, Token};

/// A syntax error with lua5.4's full message text
/// (`chunk:line: message near 'token'`).
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// lua5.4's `LUAI_MAXCCALLS`.
const MAX_C_LEVELS: u32 = 200;
/// Levels lua5.4 has already used when `load`, called from a Lua chunk,
/// starts parsing; with it, the same nesting depths are accepted.
const BASE_LEVELS: u32 = 2;

/// `luaO_chunkid` with `LUA_IDSIZE` 60: the display name of a chunk
/// (`=name` → `name`, `@file` → `file` (truncated on the left),
/// otherwise `[string "first line..."]`).
pub fn chunkid(source_name: &str) -> String {
    const IDSIZE: usize = 60;
    let src = source_name.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    match src.first() {
        Some(b'=') => {
            let rest = src.get(1..).unwrap_or(&[]);
            let n = rest.len().min(IDSIZE - 1);
            out.extend_from_slice(rest.get(..n).unwrap_or(&[]));
        }
        Some(b'@') => {
            let rest = src.get(1..).unwrap_or(&[]);
            if src.len() <= IDSIZE {
                out.extend_from_slice(rest);
            } else {
                let keep = IDSIZE - 3 - 1;
                out.extend_from_slice(b"...");
                let start = rest.len().saturating_sub(keep);
                out.extend_from_slice(rest.get(start..).unwrap_or(&[]));
            }
        }
        _ => {
            // C string semantics: the source ends at its first NUL.
            let cstr_len = src.iter().position(|&b| b == 0).unwrap_or(src.len());
            let nl = src
                .get(..cstr_len)
                .and_then(|s| s.iter().position(|&b| b == b'\n'));
            let avail = IDSIZE - (9 + 3 + 2) - 1;
            out.extend_from_slice(b"[string \"");
            if src.len() < avail && nl.is_none() {
                out.extend_from_slice(src);
            } else {
                let mut len = nl.unwrap_or(src.len());
                len = len.min(avail);
                out.extend_from_slice(src.get(..len).unwrap_or(&[]));
                out.extend_from_slice(b"...");
            }
            out.extend_from_slice(b"\"]");
        }
    }
    // Lua prints it with "%s", which stops at a NUL byte.
    let end = out.iter().position(|&b| b == 0).unwrap_or(out.len());
    out.truncate(end);
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a whole chunk. `chunkname` is the display name used in messages
/// (see [`chunkid`]).
pub fn parse(source: &[u8], chunkname: &str) -> Result<Chunk, SyntaxError> {
    let mut p = Parser {
        lex: Lexer::new(source),
        chunkname,
        tok: Tok {
            token: Token::Eof,
            line: 1,
        },
        ahead: None,
        err: None,
        level: 0,
        funcs: vec![FuncState {
            is_vararg: true,
            line: 0,
            labels: Vec::new(),
        }],
        block_labels: Vec::new(),
    };
    p.advance();
    let block = p.statlist();
    if p.tok.token != Token::Eof {
        p.error("<eof> expected");
    }
    let chunk = Chunk { block };
    match p.err.take() {
        Some(e) => {
            dismantle(chunk);
            Err(e)
        }
        None => Ok(chunk),
    }
}

/// Drops a chunk without recursion. The derived drop glue of the AST
/// recurses once per nesting level, which overflows the stack for trees
/// built from very long chains (`1+1+...+1` with a million terms, or
/// `a.b.c...`); use this to free such trees safely.
pub fn dismantle(chunk: Chunk) {
    let mut stack = vec![Node::Block(chunk.block)];
    while let Some(node) = stack.pop() {
        match node {
            Node::Expr(e) => match e.kind {
                ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => {
                    stack.push(Node::Expr(*a));
                    stack.push(Node::Expr(*b));
                }
                ExprKind::Unary(_, a) | ExprKind::Paren(a) => stack.push(Node::Expr(*a)),
                ExprKind::Call(f, args) | ExprKind::MethodCall(f, _, args) => {
                    stack.push(Node::Expr(*f));
                    stack.extend(args.into_iter().map(Node::Expr));
                }
                ExprKind::Function(body) => stack.push(Node::Block(body.block)),
                ExprKind::Table(fields) => {
                    for field in fields {
                        match field {
                            TableField::Positional(v) => stack.push(Node::Expr(v)),
                            TableField::Keyed(k, v) => {
                                stack.push(Node::Expr(k));
                                stack.push(Node::Expr(v));
                            }
                        }
                    }
                }
                _ => {}
            },
            Node::Block(b) => {
                for stat in b.stats {
                    push_stat_children(&mut stack, stat);
                }
                if let Some(r) = b.ret {
                    stack.extend(r.exprs.into_iter().map(Node::Expr));
                }
            }
        }
    }
}

/// Moves the children of `s` onto `stack` (for `dismantle`).
fn push_stat_children(stack: &mut Vec<Node>, s: Stat) {
    match s.kind {
        StatKind::Call(e) => stack.push(Node::Expr(e)),
        StatKind::Local { exprs, .. } => stack.extend(exprs.into_iter().map(Node::Expr)),
        StatKind::Assign { targets, exprs } => {
            stack.extend(targets.into_iter().map(Node::Expr));
            stack.extend(exprs.into_iter().map(Node::Expr));
        }
        StatKind::Do(b) => stack.push(Node::Block(b)),
        StatKind::While { cond, block } | StatKind::Repeat { block, cond } => {
            stack.push(Node::Expr(cond));
            stack.push(Node::Block(block));
        }
        StatKind::If { arms, else_block } => {
            for (c, b) in arms {
                stack.push(Node::Expr(c));
                stack.push(Node::Block(b));
            }
            if let Some(b) = else_block {
                stack.push(Node::Block(b));
            }
        }
        StatKind::NumericFor {
            start,
            limit,
            step,
            block,
            ..
        } => {
            stack.push(Node::Expr(start));
            stack.push(Node::Expr(limit));
            if let Some(s) = step {
                stack.push(Node::Expr(s));
            }
            stack.push(Node::Block(block));
        }
        StatKind::GenericFor { exprs, block, .. } => {
            stack.extend(exprs.into_iter().map(Node::Expr));
            stack.push(Node::Block(block));
        }
        StatKind::Function { body, .. } | StatKind::LocalFunction { body, .. } => {
            stack.push(Node::Block(body.block))
        }
        StatKind::Break | StatKind::Goto(_) | StatKind::Label(_) => {}
    }
}

enum Node {
    Expr(Expr),
    Block(Block),
}

struct FuncState {
    is_vararg: bool,
    /// Line where the function was defined (0 for the main chunk).
    line: u32,
    /// Labels visible at this point: (name, line).
    labels: Vec<(String, u32)>,
}

/// What kind of expression `suffixedexp` produced (Lua's `expdesc.k`,
/// as far as the parser cares).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpClass {
    /// A name or an index: assignable.
    Var,
    Call,
    Other,
}

struct Parser<'a> {
    lex: Lexer<'a>,
    chunkname: &'a str,
    tok: Tok,
    ahead: Option<Tok>,
    err: Option<SyntaxError>,
    level: u32,
    funcs: Vec<FuncState>,
    /// For each open block, the number of labels of its function visible
    /// when the block started.
    block_labels: Vec<usize>,
}

const UNARY_PRIORITY: u8 = 12;

/// Binary operators with (left, right) priorities, as in `lparser.c`.
fn binop(t: &Token) -> Option<(BinOp, u8, u8)> {
    Some(match t {
        Token::Char(b'+') => (BinOp::Add, 10, 10),
        Token::Char(b'-') => (BinOp::Sub, 10, 10),
        Token::Char(b'*') => (BinOp::Mul, 11, 11),
        Token::Char(b'%') => (BinOp::Mod, 11, 11),
        Token::Char(b'^') => (BinOp::Pow, 14, 13),
        Token::Char(b'/') => (BinOp::Div, 11, 11),
        Token::IDiv => (BinOp::IDiv, 11, 11),
        Token::Char(b'&') => (BinOp::BAnd, 6, 6),
        Token::Char(b'|') => (BinOp::BOr, 4, 4),
        Token::Char(b'~') => (BinOp::BXor, 5, 5),
        Token::Shl => (BinOp::Shl, 7, 7),
        Token::Shr => (BinOp::Shr, 7, 7),
        Token::Concat => (BinOp::Concat, 9, 8),
        Token::Eq => (BinOp::Eq, 3, 3),
        Token::Char(b'<') => (BinOp::Lt, 3, 3),
        Token::Le => (BinOp::Le, 3, 3),
        Token::Ne => (BinOp::Ne, 3, 3),
        Token::Char(b'>') => (BinOp::Gt, 3, 3),
        Token::Ge => (BinOp::Ge, 3, 3),
        Token::And => (BinOp::And, 2, 2),
        Token::Or => (BinOp::Or, 1, 1),
        _ => return None,
    })
}

fn unop(t: &Token) -> Option<UnOp> {
    match t {
        Token::Not => Some(UnOp::Not),
        Token::Char(b'-') => Some(UnOp::Neg),
        Token::Char(b'~') => Some(UnOp::BNot),
        Token::Char(b'#') => Some(UnOp::Len),
        _ => None,
    }
}

fn expr_at(line: u32, kind: ExprKind) -> Expr {
    Expr { line, kind }
}

fn binary(op: BinOp, line: u32, a: Expr, b: Expr) -> Expr {
    expr_at(line, ExprKind::Binary(op, Box::new(a), Box::new(b)))
}

/// `(e)` at `line`: parentheses only matter around multi-valued
/// expressions (they truncate to one value); elsewhere they are dropped.
fn paren(line: u32, e: Expr) -> Expr {
    match e.kind {
        ExprKind::Call(..) | ExprKind::MethodCall(..) | ExprKind::Vararg => {
            expr_at(line, ExprKind::Paren(Box::new(e)))
        }
        _ => e,
    }
}

impl Parser<'_> {
    // ----- tokens and errors -----

    fn advance(&mut self) {
        if self.err.is_some() {
            self.tok.token = Token::Eof;
            return;
        }
        if let Some(t) = self.ahead.take() {
            self.tok = t;
            return;
        }
        match self.lex.next_token() {
            Ok(t) => self.tok = t,
            Err(e) => self.lex_error(e),
        }
    }

    /// Whether the token after the current one is the byte `c`.
    fn lookahead_is(&mut self, c: u8) -> bool {
        if self.err.is_some() {
            return false;
        }
        if self.ahead.is_none() {
            match self.lex.next_token() {
                Ok(t) => self.ahead = Some(t),
                Err(e) => {
                    self.lex_error(e);
                    return false;
                }
            }
        }
        matches!(&self.ahead, Some(Tok { token: Token::Char(x), .. }) if *x == c)
    }

    fn lex_error(&mut self, e: LexError) {
        let message = format!("{}:{}: {} near {}", self.chunkname, e.line, e.msg, e.near);
        self.poison(message);
    }

    /// Records the first error; the current token becomes `<eof>`, so the
    /// parser winds down without reading anything else.
    fn poison(&mut self, message: String) {
        if self.err.is_none() {
            self.err = Some(SyntaxError { message });
        }
        self.tok.token = Token::Eof;
        self.ahead = None;
    }

    /// `luaX_syntaxerror`: `msg near <current token>`.
    fn error(&mut self, msg: &str) {
        if self.err.is_some() {
            return;
        }
        let message = format!(
            "{}:{}: {} near {}",
            self.chunkname,
            self.tok.line,
            msg,
            self.tok.token.near()
        );
        self.poison(message);
    }

    /// `luaK_semerror`: an error without the `near` part.
    fn sem_error(&mut self, msg: &str) {
        if self.err.is_some() {
            return;
        }
        let message = format!("{}:{}: {}", self.chunkname, self.tok.line, msg);
        self.poison(message);
    }

    fn at(&self, t: &Token) -> bool {
        self.tok.token == *t
    }

    fn at_char(&self, c: u8) -> bool {
        self.tok.token == Token::Char(c)
    }

    fn test_next(&mut self, t: &Token) -> bool {
        if self.at(t) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn test_next_char(&mut self, c: u8) -> bool {
        self.test_next(&Token::Char(c))
    }

    /// `checknext`: `what` is the token as shown in `'x' expected`.
    fn check_next(&mut self, t: &Token, what: &str) {
        if !self.test_next(t) {
            self.error(&format!("{what} expected"));
        }
    }

    fn check_next_char(&mut self, c: u8) {
        if !self.test_next_char(c) {
            self.error(&format!("'{}' expected", c as char));
        }
    }

    fn check_match(&mut self, t: &Token, what: &str, who: &str, line: u32) {
        if !self.test_next(t) {
            if line == self.tok.line {
                self.error(&format!("{what} expected"));
            } else {
                self.error(&format!("{what} expected (to close {who} at line {line})"));
            }
        }
    }

    fn check_name(&mut self) -> String {
        if let Token::Name(n) = &mut self.tok.token {
            let name = std::mem::take(n);
            self.advance();
            name
        } else {
            self.error("<name> expected");
            String::new()
        }
    }

    fn block_follow(&self, with_until: bool) -> bool {
        match self.tok.token {
            Token::Else | Token::Elseif | Token::End | Token::Eof => true,
            Token::Until => with_until,
            _ => false,
        }
    }

    fn enter_level(&mut self) {
        self.level += 1;
        if self.level + BASE_LEVELS >= MAX_C_LEVELS {
            let line = self.funcs.last().map_or(0, |f| f.line);
            let place = if line == 0 {
                "main function".to_string()
            } else {
                format!("function at line {line}")
            };
            self.error(&format!(
                "too many C levels (limit is {MAX_C_LEVELS}) in {place}"
            ));
        }
    }

    fn leave_level(&mut self) {
        self.level = self.level.saturating_sub(1);
    }

    fn cur_func(&mut self) -> Option<&mut FuncState> {
        self.funcs.last_mut()
    }

    // ----- blocks and statements -----

    fn enter_block(&mut self) {
        let n = self.funcs.last().map_or(0, |f| f.labels.len());
        self.block_labels.push(n);
    }

    fn leave_block(&mut self) {
        let n = self.block_labels.pop().unwrap_or(0);
        if let Some(f) = self.cur_func() {
            f.labels.truncate(n);
        }
    }

    fn block(&mut self) -> Block {
        self.enter_block();
        let b = self.statlist();
        self.leave_block();
        b
    }

    fn statlist(&mut self) -> Block {
        let mut block = Block::default();
        while !self.block_follow(true) {
            if self.at(&Token::Return) {
                self.statement(&mut block);
                break; // 'return' must be the last statement
            }
            self.statement(&mut block);
        }
        block
    }

    fn statement(&mut self, block: &mut Block) {
        let line = self.tok.line;
        self.enter_level();
        let out = &mut block.stats;
        match self.tok.token {
            Token::Char(b';') => self.advance(),
            Token::If => self.if_stat(line, out),
            Token::While => self.while_stat(line, out),
            Token::Do => self.do_stat(line, out),
            Token::For => self.for_stat(line, out),
            Token::Repeat => self.repeat_stat(line, out),
            Token::Function => self.func_stat(line, out),
            Token::Local => {
                self.advance();
                if self.test_next(&Token::Function) {
                    self.local_func(line, out);
                } else {
                    self.local_stat(line, out);
                }
            }
            Token::DbColon => self.label_stat(line, out),
            Token::Return => self.ret_stat(line, &mut block.ret),
            Token::Break | Token::Goto => self.jump_stat(line, out),
            _ => self.expr_stat(line, out),
        }
        self.leave_level();
    }

    fn test_then_block(&mut self) -> (Expr, Block) {
        self.advance(); // 'if' or 'elseif'
        let cond = self.expr();
        self.check_next(&Token::Then, "'then'");
        let block = self.block();
        (cond, block)
    }

    fn if_stat(&mut self, line: u32, out: &mut Vec<Stat>) {
        let mut arms = vec![self.test_then_block()];
        while self.at(&Token::Elseif) {
            arms.push(self.test_then_block());
        }
        let else_block = if self.test_next(&Token::Else) {
            Some(self.block())
        } else {
            None
        };
        self.check_match(&Token::End, "'end'", "'if'", line);
        out.push(Stat {
            line,
            kind: StatKind::If { arms, else_block },
        });
    }

    fn while_stat(&mut self, line: u32, out: &mut Vec<Stat>) {
        self.advance();
        let cond = self.expr();
        self.check_next(&Token::Do, "'do'");
        let block = self.block();
        self.check_match(&Token::End, "'end'", "'while'", line);
        out.push(Stat {
            line,
            kind: StatKind::While { cond, block },
        });
    }

    fn do_stat(&mut self, line: u32, out: &mut Vec<Stat>) {
        self.advance();
        let block = self.block();
        self.check_match(&Token::End, "'end'", "'do'", line);
        out.push(Stat {
            line,
            kind: StatKind::Do(block),
        });
    }

    fn for_body(&mut self) -> Block {
        self.check_next(&Token::Do, "'do'");
        self.block()
    }

    fn for_stat(&mut self, line: u32, out: &mut Vec<Stat>) {
        self.advance();
        let var = self.check_name();
        let kind = match self.tok.token {
            Token::Char(b'=') => {
                self.advance();
                let start = self.expr();
                self.check_next_char(b',');
                let limit = self.expr();
                let step = if self.test_next_char(b',') {
                    Some(self.expr())
                } else {
                    None
                };
                let block = self.for_body();
                StatKind::NumericFor {
                    var,
                    start,
                    limit,
                    step,
                    block,
                }
            }
            Token::Char(b',') | Token::In => {
                let mut vars = vec![var];
                while self.test_next_char(b',') {
                    vars.push(self.check_name());
                }
                self.check_next(&Token::In, "'in'");
                let exprs = self.explist();
                let block = self.for_body();
                StatKind::GenericFor { vars, exprs, block }
            }
            _ => {
                self.error("'=' or 'in' expected");
                return;
            }
        };
        self.check_match(&Token::End, "'end'", "'for'", line);
        out.push(Stat { line, kind });
    }

    fn repeat_stat(&mut self, line: u32, out: &mut Vec<Stat>) {
        self.advance();
        self.enter_block();
        let block = self.statlist();
        self.check_match(&Token::Until, "'until'", "'repeat'", line);
        let cond = self.expr(); // inside the scope of the block
        self.leave_block();
        out.push(Stat {
            line,
            kind: StatKind::Repeat { block, cond },
        });
    }

    fn func_stat(&mut self, line: u32, out: &mut Vec<Stat>) {
        self.advance();
        let base = self.check_name();
        let mut fields = Vec::new();
        while self.test_next_char(b'.') {
            fields.push(self.check_name());
        }
        let method = if self.test_next_char(b':') {
            Some(self.check_name())
        } else {
            None
        };
        let body = self.body(method.is_some(), line);
        out.push(Stat {
            line,
            kind: StatKind::Function {
                name: FuncName {
                    base,
                    fields,
                    method,
                },
                body: Box::new(body),
            },
        });
    }

    fn local_func(&mut self, line: u32, out: &mut Vec<Stat>) {
        let name = self.check_name();
        let body_line = self.tok.line;
        let body = self.body(false, body_line);
        out.push(Stat {
            line,
            kind: StatKind::LocalFunction {
                name,
                body: Box::new(body),
            },
        });
    }

    fn attrib(&mut self) -> Attrib {
        if !self.test_next_char(b'<') {
            return Attrib::None;
        }
        let name = self.check_name();
        self.check_next_char(b'>');
        match name.as_str() {
            "const" => Attrib::Const,
            "close" => Attrib::Close,
            _ => {
                self.sem_error(&format!("unknown attribute '{name}'"));
                Attrib::None
            }
        }
    }

    fn local_stat(&mut self, line: u32, out: &mut Vec<Stat>) {
        let mut names = Vec::new();
        let mut has_close = false;
        loop {
            let name = self.check_name();
            let attrib = self.attrib();
            if attrib == Attrib::Close {
                if has_close {
                    self.sem_error("multiple to-be-closed variables in local list");
                }
                has_close = true;
            }
            names.push((name, attrib));
            if !self.test_next_char(b',') {
                break;
            }
        }
        let exprs = if self.test_next_char(b'=') {
            self.explist()
        } else {
            Vec::new()
        };
        out.push(Stat {
            line,
            kind: StatKind::Local { names, exprs },
        });
    }

    /// `::name::`, checking for labels already visible in the function.
    /// Like lua5.4's `labelstat`, the labels and `;` that directly follow
    /// are read first (each label one level deeper), and the labels are
    /// then checked from the last one back.
    fn label_stat(&mut self, line: u32, out: &mut Vec<Stat>) {
        self.advance();
        let name = self.check_name();
        self.check_next(&Token::DbColon, "'::'");
        let mut pending = vec![(name, line)];
        let mut levels = 0;
        loop {
            let l = self.tok.line;
            if self.at_char(b';') {
                self.enter_level();
                self.advance();
                self.leave_level();
            } else if self.at(&Token::DbColon) {
                self.enter_level();
                levels += 1;
                self.advance();
                let name = self.check_name();
                self.check_next(&Token::DbColon, "'::'");
                pending.push((name, l));
            } else {
                break;
            }
        }
        for (name, l) in pending.iter().rev() {
            let found = self
                .funcs
                .last()
                .and_then(|f| f.labels.iter().find(|(n, _)| n == name).map(|x| x.1));
            if let Some(prev) = found {
                self.sem_error(&format!("label '{name}' already defined on line {prev}"));
            } else if let Some(f) = self.cur_func() {
                f.labels.push((name.clone(), *l));
            }
        }
        for _ in 0..levels {
            self.leave_level();
        }
        out.extend(pending.into_iter().map(|(name, line)| Stat {
            line,
            kind: StatKind::Label(name),
        }));
    }

    fn jump_stat(&mut self, line: u32, out: &mut Vec<Stat>) {
        let kind = if self.at(&Token::Break) {
            self.advance();
            StatKind::Break
        } else {
            self.advance();
            StatKind::Goto(self.check_name())
        };
        out.push(Stat { line, kind });
    }

    fn ret_stat(&mut self, line: u32, ret: &mut Option<Return>) {
        self.advance(); // 'return'
        let exprs = if self.block_follow(true) || self.at_char(b';') {
            Vec::new()
        } else {
            self.explist()
        };
        self.test_next_char(b';');
        *ret = Some(Return { exprs, line });
    }

    fn expr_stat(&mut self, line: u32, out: &mut Vec<Stat>) {
        let (first, class) = self.suffixed_exp();
        if self.at_char(b'=') || self.at_char(b',') {
            if class != ExpClass::Var {
                self.error("syntax error");
            }
            let mut targets = vec![first];
            let mut levels = 0;
            while self.test_next_char(b',') {
                let (e, class) = self.suffixed_exp();
                targets.push(e);
                self.enter_level();
                levels += 1;
                if class != ExpClass::Var {
                    self.error("syntax error");
                }
            }
            self.check_next_char(b'=');
            let exprs = self.explist();
            for _ in 0..levels {
                self.leave_level();
            }
            out.push(Stat {
                line,
                kind: StatKind::Assign { targets, exprs },
            });
        } else {
            if class != ExpClass::Call {
                self.error("syntax error");
            }
            out.push(Stat {
                line,
                kind: StatKind::Call(first),
            });
        }
    }

    // ----- functions -----

    /// `body -> '(' parlist ')' block END`; `line` is what lua5.4 records
    /// as the function's `linedefined`.
    fn body(&mut self, is_method: bool, line: u32) -> FuncBody {
        self.funcs.push(FuncState {
            is_vararg: false,
            line,
            labels: Vec::new(),
        });
        let outer_blocks = std::mem::take(&mut self.block_labels);
        let mut params = Vec::new();
        if is_method {
            params.push("self".to_string());
        }
        self.check_next_char(b'(');
        let mut is_vararg = false;
        if !self.at_char(b')') {
            loop {
                match self.tok.token {
                    Token::Name(_) => params.push(self.check_name()),
                    Token::Dots => {
                        self.advance();
                        is_vararg = true;
                    }
                    _ => self.error("<name> or '...' expected"),
                }
                if is_vararg || !self.test_next_char(b',') {
                    break;
                }
            }
        }
        if let Some(f) = self.cur_func() {
            f.is_vararg = is_vararg;
        }
        self.check_next_char(b')');
        let block = self.statlist();
        let end_line = self.tok.line;
        self.check_match(&Token::End, "'end'", "'function'", line);
        self.block_labels = outer_blocks;
        self.funcs.pop();
        FuncBody {
            params,
            is_vararg,
            block,
            line,
            end_line,
        }
    }

    // ----- expressions -----

    fn expr(&mut self) -> Expr {
        self.subexpr(0)
    }

    fn explist(&mut self) -> Vec<Expr> {
        let mut list = Vec::new();
        self.explist_into(&mut list);
        list
    }

    fn explist_into(&mut self, list: &mut Vec<Expr>) {
        loop {
            list.push(self.expr());
            if !self.test_next_char(b',') {
                break;
            }
        }
    }

    /// `subexpr -> (simpleexp | unop subexpr) { binop subexpr }` where each
    /// binop has a left priority above `limit`. Left-associative chains
    /// are built in the loop, without recursion per term.
    fn subexpr(&mut self, limit: u8) -> Expr {
        self.enter_level();
        // (Frames on the recursion path are kept small: in debug builds
        // every temporary gets its own stack slot, so the work is done in
        // helpers that are not on the path.)
        let mut e = match unop(&self.tok.token) {
            Some(op) => self.unary_exp(op),
            None => self.simple_exp(),
        };
        while let Some((op, left, right)) = binop(&self.tok.token) {
            if left <= limit {
                break;
            }
            let line = self.tok.line;
            self.advance();
            let rhs = self.subexpr(right);
            e = binary(op, line, e, rhs);
        }
        self.leave_level();
        e
    }

    fn unary_exp(&mut self, op: UnOp) -> Expr {
        let line = self.tok.line;
        self.advance();
        let operand = self.subexpr(UNARY_PRIORITY);
        expr_at(line, ExprKind::Unary(op, Box::new(operand)))
    }

    fn simple_exp(&mut self) -> Expr {
        // Only the recursive cases stay in this frame (it is on the path of
        // every nesting level); literals are read in `literal`.
        match self.tok.token {
            Token::Char(b'{') => self.constructor(),
            Token::Function => self.function_exp(),
            Token::Flt(..)
            | Token::Int(..)
            | Token::Str(..)
            | Token::Nil
            | Token::True
            | Token::False
            | Token::Dots => self.literal(),
            _ => self.suffixed_exp().0,
        }
    }

    fn literal(&mut self) -> Expr {
        let line = self.tok.line;
        let kind = match &mut self.tok.token {
            Token::Flt(f, _) => ExprKind::Float(*f),
            Token::Int(i, _) => ExprKind::Integer(*i),
            Token::Str(s, _) => ExprKind::String(std::mem::take(s)),
            Token::True => ExprKind::True,
            Token::False => ExprKind::False,
            Token::Dots => {
                if !self.funcs.last().is_some_and(|f| f.is_vararg) {
                    self.error("cannot use '...' outside a vararg function");
                }
                ExprKind::Vararg
            }
            _ => ExprKind::Nil,
        };
        self.advance();
        expr_at(line, kind)
    }

    fn function_exp(&mut self) -> Expr {
        let line = self.tok.line;
        self.advance(); // 'function'
        let body_line = self.tok.line;
        let body = self.body(false, body_line);
        expr_at(line, ExprKind::Function(Box::new(body)))
    }

    fn primary_exp(&mut self) -> (Expr, ExpClass) {
        match self.tok.token {
            Token::Char(b'(') => (self.paren_exp(), ExpClass::Other),
            Token::Name(_) => (self.name_exp(), ExpClass::Var),
            _ => {
                self.error("unexpected symbol");
                (expr_at(self.tok.line, ExprKind::Nil), ExpClass::Other)
            }
        }
    }

    fn name_exp(&mut self) -> Expr {
        let line = self.tok.line;
        let name = self.check_name();
        expr_at(line, ExprKind::Name(name))
    }

    fn paren_exp(&mut self) -> Expr {
        let line = self.tok.line;
        self.advance();
        let inner = self.expr();
        self.check_match(&Token::Char(b')'), "')'", "'('", line);
        paren(line, inner)
    }

    /// `suffixedexp -> primaryexp { '.' NAME | '[' exp ']' | ':' NAME
    /// funcargs | funcargs }`, iteratively.
    fn suffixed_exp(&mut self) -> (Expr, ExpClass) {
        let line = self.tok.line;
        let (mut e, mut class) = self.primary_exp();
        loop {
            e = match self.tok.token {
                Token::Char(b'.') => self.field_suffix(e, line),
                Token::Char(b'[') => self.index_suffix(e, line),
                Token::Char(b':') => self.method_suffix(e, line),
                Token::Char(b'(' | b'{') | Token::Str(..) => self.call_suffix(e, line),
                _ => return (e, class),
            };
            class = match e.kind {
                ExprKind::Index(..) => ExpClass::Var,
                _ => ExpClass::Call,
            };
        }
    }

    /// `e '.' NAME`
    fn field_suffix(&mut self, e: Expr, line: u32) -> Expr {
        self.advance();
        let key_line = self.tok.line;
        let name = self.check_name();
        let key = expr_at(key_line, ExprKind::String(name.into_bytes()));
        expr_at(line, ExprKind::Index(Box::new(e), Box::new(key)))
    }

    /// `e '[' exp ']'`
    fn index_suffix(&mut self, e: Expr, line: u32) -> Expr {
        let key = self.index();
        expr_at(line, ExprKind::Index(Box::new(e), Box::new(key)))
    }

    /// `e ':' NAME funcargs`
    fn method_suffix(&mut self, e: Expr, line: u32) -> Expr {
        self.advance();
        let name = self.check_name();
        let args = self.funcargs(line);
        expr_at(line, ExprKind::MethodCall(Box::new(e), name, args))
    }

    /// `e funcargs`
    fn call_suffix(&mut self, e: Expr, line: u32) -> Expr {
        let args = self.funcargs(line);
        expr_at(line, ExprKind::Call(Box::new(e), args))
    }

    /// `'[' exp ']'`
    fn index(&mut self) -> Expr {
        self.advance();
        let e = self.expr();
        self.check_next_char(b']');
        e
    }

    /// Call arguments; `line` is where the called expression started.
    fn funcargs(&mut self, line: u32) -> Vec<Expr> {
        let mut args = Vec::new();
        match self.tok.token {
            Token::Char(b'(') => {
                self.advance();
                if !self.at_char(b')') {
                    self.explist_into(&mut args);
                }
                self.check_match(&Token::Char(b')'), "')'", "'('", line);
            }
            Token::Char(b'{') => args.push(self.constructor()),
            Token::Str(..) => args.push(self.literal()),
            _ => self.error("function arguments expected"),
        }
        args
    }

    fn constructor(&mut self) -> Expr {
        let line = self.tok.line;
        self.check_next_char(b'{');
        let mut fields = Vec::new();
        loop {
            if self.at_char(b'}') {
                break;
            }
            fields.push(self.field());
            if !(self.test_next_char(b',') || self.test_next_char(b';')) {
                break;
            }
        }
        self.check_match(&Token::Char(b'}'), "'}'", "'{'", line);
        expr_at(line, ExprKind::Table(fields))
    }

    fn field(&mut self) -> TableField {
        let is_name = matches!(self.tok.token, Token::Name(_));
        let key = if is_name && self.lookahead_is(b'=') {
            self.name_key()
        } else if self.at_char(b'[') {
            self.index()
        } else {
            return TableField::Positional(self.expr());
        };
        self.check_next_char(b'=');
        let value = self.expr();
        TableField::Keyed(key, value)
    }

    /// A field name used as a key: `name` in `{ name = e }`.
    fn name_key(&mut self) -> Expr {
        let line = self.tok.line;
        let name = self.check_name();
        expr_at(line, ExprKind::String(name.into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ----- a compact S-expression printer -----

    fn binop_name(op: BinOp) -> &'static str {
        match op {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::IDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Concat => "..",
            BinOp::Eq => "==",
            BinOp::Ne => "~=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::BAnd => "&",
            BinOp::BOr => "|",
            BinOp::BXor => "~",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
        }
    }

    struct Printer {
        lines: bool,
        out: String,
    }

    impl Printer {
        fn line(&mut self, line: u32) {
            if self.lines {
                self.out.push_str(&format!("@{line}"));
            }
        }

        fn exprs(&mut self, es: &[Expr]) {
            for e in es {
                self.out.push(' ');
                self.expr(e);
            }
        }

        fn expr(&mut self, e: &Expr) {
            match &e.kind {
                ExprKind::Nil => self.out.push_str("nil"),
                ExprKind::True => self.out.push_str("true"),
                ExprKind::False => self.out.push_str("false"),
                ExprKind::Vararg => self.out.push_str("..."),
                ExprKind::Integer(i) => self.out.push_str(&i.to_string()),
                ExprKind::Float(f) => self.out.push_str(&format!("{f:?}")),
                ExprKind::String(s) => self
                    .out
                    .push_str(&format!("{:?}", String::from_utf8_lossy(s))),
                ExprKind::Name(n) => self.out.push_str(n),
                ExprKind::Function(body) => {
                    self.out.push_str("(fn");
                    self.line(e.line);
                    self.out.push(' ');
                    self.body(body);
                    self.out.push(')');
                    return;
                }
                ExprKind::Table(fields) => {
                    self.out.push_str("(table");
                    self.line(e.line);
                    for f in fields {
                        self.out.push(' ');
                        match f {
                            TableField::Positional(v) => self.expr(v),
                            TableField::Keyed(k, v) => {
                                self.out.push_str("(= ");
                                self.expr(k);
                                self.out.push(' ');
                                self.expr(v);
                                self.out.push(')');
                            }
                        }
                    }
                    self.out.push(')');
                    return;
                }
                ExprKind::Binary(op, a, b) => {
                    self.out.push('(');
                    self.out.push_str(binop_name(*op));
                    self.line(e.line);
                    self.out.push(' ');
                    self.expr(a);
                    self.out.push(' ');
                    self.expr(b);
                    self.out.push(')');
                    return;
                }
                ExprKind::Unary(op, a) => {
                    let name = match op {
                        UnOp::Neg => "neg",
                        UnOp::Not => "not",
                        UnOp::Len => "#",
                        UnOp::BNot => "bnot",
                    };
                    self.out.push('(');
                    self.out.push_str(name);
                    self.line(e.line);
                    self.out.push(' ');
                    self.expr(a);
                    self.out.push(')');
                    return;
                }
                ExprKind::Index(a, k) => {
                    self.out.push_str("(idx");
                    self.line(e.line);
                    self.out.push(' ');
                    self.expr(a);
                    self.out.push(' ');
                    self.expr(k);
                    self.out.push(')');
                    return;
                }
                ExprKind::Call(f, args) => {
                    self.out.push_str("(call");
                    self.line(e.line);
                    self.out.push(' ');
                    self.expr(f);
                    self.exprs(args);
                    self.out.push(')');
                    return;
                }
                ExprKind::MethodCall(o, m, args) => {
                    self.out.push_str("(mcall");
                    self.line(e.line);
                    self.out.push(' ');
                    self.expr(o);
                    self.out.push(' ');
                    self.out.push_str(m);
                    self.exprs(args);
                    self.out.push(')');
                    return;
                }
                ExprKind::Paren(a) => {
                    self.out.push_str("(paren");
                    self.line(e.line);
                    self.out.push(' ');
                    self.expr(a);
                    self.out.push(')');
                    return;
                }
            }
            self.line(e.line);
        }

        fn body(&mut self, b: &FuncBody) {
            self.out.push('(');
            self.out.push_str(&b.params.join(" "));
            if b.is_vararg {
                if !b.params.is_empty() {
                    self.out.push(' ');
                }
                self.out.push_str("...");
            }
            self.out.push(')');
            if self.lines {
                self.out.push_str(&format!("@{}-{}", b.line, b.end_line));
            }
            self.out.push(' ');
            self.block(&b.block);
        }

        fn block(&mut self, b: &Block) {
            self.out.push('[');
            let mut first = true;
            for s in &b.stats {
                if !first {
                    self.out.push(' ');
                }
                first = false;
                self.stat(s);
            }
            if let Some(r) = &b.ret {
                if !first {
                    self.out.push(' ');
                }
                self.out.push_str("(return");
                self.line(r.line);
                self.exprs(&r.exprs);
                self.out.push(')');
            }
            self.out.push(']');
        }

        fn stat(&mut self, s: &Stat) {
            let head = match &s.kind {
                StatKind::Call(_) => "call-stat",
                StatKind::Local { .. } => "local",
                StatKind::Assign { .. } => "set",
                StatKind::Do(_) => "do",
                StatKind::While { .. } => "while",
                StatKind::Repeat { .. } => "repeat",
                StatKind::If { .. } => "if",
                StatKind::NumericFor { .. } => "for",
                StatKind::GenericFor { .. } => "forin",
                StatKind::Function { .. } => "function",
                StatKind::LocalFunction { .. } => "localfunction",
                StatKind::Break => "break",
                StatKind::Goto(_) => "goto",
                StatKind::Label(_) => "label",
            };
            self.out.push('(');
            self.out.push_str(head);
            self.line(s.line);
            match &s.kind {
                StatKind::Call(e) => self.exprs(std::slice::from_ref(e)),
                StatKind::Local { names, exprs } => {
                    self.out.push_str(" (");
                    let names: Vec<String> = names
                        .iter()
                        .map(|(n, a)| match a {
                            Attrib::None => n.clone(),
                            Attrib::Const => format!("{n}<const>"),
                            Attrib::Close => format!("{n}<close>"),
                        })
                        .collect();
                    self.out.push_str(&names.join(" "));
                    self.out.push(')');
                    self.exprs(exprs);
                }
                StatKind::Assign { targets, exprs } => {
                    self.out.push_str(" (");
                    let mut first = true;
                    for t in targets {
                        if !first {
                            self.out.push(' ');
                        }
                        first = false;
                        self.expr(t);
                    }
                    self.out.push(')');
                    self.exprs(exprs);
                }
                StatKind::Do(b) => {
                    self.out.push(' ');
                    self.block(b);
                }
                StatKind::While { cond, block } => {
                    self.exprs(std::slice::from_ref(cond));
                    self.out.push(' ');
                    self.block(block);
                }
                StatKind::Repeat { block, cond } => {
                    self.out.push(' ');
                    self.block(block);
                    self.exprs(std::slice::from_ref(cond));
                }
                StatKind::If { arms, else_block } => {
                    for (c, b) in arms {
                        self.exprs(std::slice::from_ref(c));
                        self.out.push(' ');
                        self.block(b);
                    }
                    if let Some(b) = else_block {
                        self.out.push_str(" else ");
                        self.block(b);
                    }
                }
                StatKind::NumericFor {
                    var,
                    start,
                    limit,
                    step,
                    block,
                } => {
                    self.out.push(' ');
                    self.out.push_str(var);
                    self.exprs(std::slice::from_ref(start));
                    self.exprs(std::slice::from_ref(limit));
                    if let Some(s) = step {
                        self.exprs(std::slice::from_ref(s));
                    }
                    self.out.push(' ');
                    self.block(block);
                }
                StatKind::GenericFor { vars, exprs, block } => {
                    self.out.push_str(&format!(" ({})", vars.join(" ")));
                    self.exprs(exprs);
                    self.out.push(' ');
                    self.block(block);
                }
                StatKind::Function { name, body } => {
                    self.out.push(' ');
                    self.out.push_str(&name.base);
                    for f in &name.fields {
                        self.out.push('.');
                        self.out.push_str(f);
                    }
                    if let Some(m) = &name.method {
                        self.out.push(':');
                        self.out.push_str(m);
                    }
                    self.out.push(' ');
                    self.body(body);
                }
                StatKind::LocalFunction { name, body } => {
                    self.out.push(' ');
                    self.out.push_str(name);
                    self.out.push(' ');
                    self.body(body);
                }
                StatKind::Break => {}
                StatKind::Goto(n) | StatKind::Label(n) => {
                    self.out.push(' ');
                    self.out.push_str(n);
                }
            }
            self.out.push(')');
        }
    }

    fn print_block(b: &Block, lines: bool) -> String {
        let mut p = Printer {
            lines,
            out: String::new(),
        };
        p.block(b);
        p.out
    }

    fn print_expr(e: &Expr, lines: bool) -> String {
        let mut p = Printer {
            lines,
            out: String::new(),
        };
        p.expr(e);
        p.out
    }

    fn parse_t(src: &str) -> Result<Chunk, SyntaxError> {
        parse(src.as_bytes(), "t")
    }

    /// Parses `return <src>` and prints the single returned expression.
    fn check_exprs(cases: &[(&str, &str)], lines: bool) {
        for (src, want) in cases {
            let chunk =
                parse_t(&format!("return {src}")).unwrap_or_else(|e| panic!("{src:?}: {e}"));
            let ret = chunk.block.ret.expect("return");
            assert_eq!(ret.exprs.len(), 1, "{src:?}");
            assert_eq!(&print_expr(&ret.exprs[0], lines), want, "source: {src:?}");
        }
    }

    fn check_blocks(cases: &[(&str, &str)], lines: bool) {
        for (src, want) in cases {
            let chunk = parse_t(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
            assert_eq!(&print_block(&chunk.block, lines), want, "source: {src:?}");
        }
    }

    fn check_errors(cases: &[(&str, &str)]) {
        for (src, want) in cases {
            match parse_t(src) {
                Ok(c) => panic!("{src:?}: expected error {want:?}, got {c:?}"),
                Err(e) => assert_eq!(&e.message, want, "source: {src:?}"),
            }
        }
    }

    #[test]
    fn precedence_and_associativity() {
        check_exprs(
            &[
                ("1 + 2 * 3", "(+ 1 (* 2 3))"),
                ("1 * 2 + 3", "(+ (* 1 2) 3)"),
                ("1 - 2 - 3", "(- (- 1 2) 3)"),
                ("1 / 2 // 3 % 4 * 5", "(* (% (// (/ 1 2) 3) 4) 5)"),
                ("a .. b .. c", "(.. a (.. b c))"),
                ("a + b .. c + d", "(.. (+ a b) (+ c d))"),
                ("2 ^ 3 ^ 4", "(^ 2 (^ 3 4))"),
                ("-x ^ 2", "(neg (^ x 2))"),
                ("2 ^ -3", "(^ 2 (neg 3))"),
                ("-2 ^ -3 ^ 4", "(neg (^ 2 (neg (^ 3 4))))"),
                ("not a == b", "(== (not a) b)"),
                ("not not a", "(not (not a))"),
                ("- - a", "(neg (neg a))"),
                ("#a + 1", "(+ (# a) 1)"),
                ("~a & b", "(& (bnot a) b)"),
                ("a ~ ~b", "(~ a (bnot b))"),
                ("a or b and c", "(or a (and b c))"),
                ("a and b or c and d", "(or (and a b) (and c d))"),
                ("a or b or c", "(or (or a b) c)"),
                ("a < b == c > d", "(> (== (< a b) c) d)"),
                ("a <= b ~= c >= d", "(>= (~= (<= a b) c) d)"),
                ("a | b ~ c & d", "(| a (~ b (& c d)))"),
                ("a & b << c", "(& a (<< b c))"),
                ("a << b .. c", "(<< a (.. b c))"),
                ("a >> b >> c", "(>> (>> a b) c)"),
                ("a | b < c", "(< (| a b) c)"),
                ("1 .. 2 == '12'", "(== (.. 1 2) \"12\")"),
                ("a + b * c ^ d ^ e * f", "(+ a (* (* b (^ c (^ d e))) f))"),
                ("a and not b or c", "(or (and a (not b)) c)"),
                ("-1", "(neg 1)"),
                ("-1.5", "(neg 1.5)"),
                ("- -1", "(neg (neg 1))"),
                ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
                ("((a))", "a"),
                ("(f())", "(paren (call f))"),
                ("(...)", "(paren ...)"),
                ("(a:m())", "(paren (mcall a m))"),
                ("(f)()", "(call f)"),
                ("((f()))", "(paren (call f))"),
                ("#t[1]", "(# (idx t 1))"),
                ("-a.b", "(neg (idx a \"b\"))"),
                ("a.b.c", "(idx (idx a \"b\") \"c\")"),
                ("a[b][c]", "(idx (idx a b) c)"),
                (
                    "a.b[c]:d(e)(f)",
                    "(call (mcall (idx (idx a \"b\") c) d e) f)",
                ),
                ("f'x'", "(call f \"x\")"),
                ("f[[x]]", "(call f \"x\")"),
                ("f{1}", "(call f (table 1))"),
                ("f{}.x", "(idx (call f (table)) \"x\")"),
                ("a:b'c'", "(mcall a b \"c\")"),
                ("a:b{}", "(mcall a b (table))"),
                ("f(1, 2, ...)", "(call f 1 2 ...)"),
                ("f()", "(call f)"),
            ],
            false,
        );
    }

    #[test]
    fn simple_expressions() {
        check_exprs(
            &[
                ("nil", "nil"),
                ("true", "true"),
                ("false", "false"),
                ("...", "..."),
                ("42", "42"),
                ("0x10", "16"),
                ("1e2", "100.0"),
                ("'a\\tb'", "\"a\\tb\""),
                ("[==[x]==]", "\"x\""),
                ("x", "x"),
                ("function() end", "(fn () [])"),
                ("function(a, b) return a end", "(fn (a b) [(return a)])"),
                ("function(...) end", "(fn (...) [])"),
                (
                    "function(a, ...) return ... end",
                    "(fn (a ...) [(return ...)])",
                ),
                ("{}", "(table)"),
                ("{1, 2; 3,}", "(table 1 2 3)"),
                ("{x = 1, [2] = 3; 4}", "(table (= \"x\" 1) (= 2 3) 4)"),
                ("{x}", "(table x)"),
                ("{x, y = 2}", "(table x (= \"y\" 2))"),
                ("{x == 1}", "(table (== x 1))"),
                ("{f()}", "(table (call f))"),
                ("{...}", "(table ...)"),
                ("{[1]=1;}", "(table (= 1 1))"),
                ("{{}}", "(table (table))"),
            ],
            false,
        );
    }

    #[test]
    fn statements() {
        check_blocks(
            &[
                ("", "[]"),
                (";;;", "[]"),
                ("x = 1", "[(set (x) 1)]"),
                ("x, y.z, w[1] = 1, 2", "[(set (x (idx y \"z\") (idx w 1)) 1 2)]"),
                ("(a).b = 1", "[(set ((idx a \"b\")) 1)]"),
                ("f().x = 1", "[(set ((idx (call f) \"x\")) 1)]"),
                ("f()", "[(call-stat (call f))]"),
                ("a.b:c(1)", "[(call-stat (mcall (idx a \"b\") c 1))]"),
                ("f 'x' 'y'", "[(call-stat (call (call f \"x\") \"y\"))]"),
                ("local a", "[(local (a))]"),
                ("local a, b = 1", "[(local (a b) 1)]"),
                ("local a <const>, b <close> = 1, 2", "[(local (a<const> b<close>) 1 2)]"),
                ("local a<const> = 1", "[(local (a<const>) 1)]"),
                ("local function f() end", "[(localfunction f () [])]"),
                ("function f(a) end", "[(function f (a) [])]"),
                ("function a.b.c() end", "[(function a.b.c () [])]"),
                ("function a.b:m(x, ...) end", "[(function a.b:m (self x ...) [])]"),
                ("function a:m() end", "[(function a:m (self) [])]"),
                ("do end", "[(do [])]"),
                ("do local x end", "[(do [(local (x))])]"),
                ("while x do f() end", "[(while x [(call-stat (call f))])]"),
                ("repeat local x until x", "[(repeat [(local (x))] x)]"),
                ("if a then end", "[(if a [])]"),
                ("if a then x() elseif b then y() else z() end",
                 "[(if a [(call-stat (call x))] b [(call-stat (call y))] else [(call-stat (call z))])]"),
                ("if a then elseif b then end", "[(if a [] b [])]"),
                ("if a then break end", "[(if a [(break)])]"),
                ("if a then break; ; x() end", "[(if a [(break) (call-stat (call x))])]"),
                ("for i = 1, 10 do end", "[(for i 1 10 [])]"),
                ("for i = 1, 10, 2 do end", "[(for i 1 10 2 [])]"),
                ("for k, v in pairs(t) do end", "[(forin (k v) (call pairs t) [])]"),
                ("for k in a, b, c do end", "[(forin (k) a b c [])]"),
                ("goto done ::done::", "[(goto done) (label done)]"),
                ("while 1 do break end", "[(while 1 [(break)])]"),
                ("return", "[(return)]"),
                ("return;", "[(return)]"),
                ("return 1, 2;", "[(return 1 2)]"),
                ("f() return f()", "[(call-stat (call f)) (return (call f))]"),
                ("do return end", "[(do [(return)])]"),
                ("if x then return 1 else return 2 end", "[(if x [(return 1)] else [(return 2)])]"),
                ("repeat return until x", "[(repeat [(return)] x)]"),
                ("::a:: ::b:: ; ::c::", "[(label a) (label b) (label c)]"),
                ("do ::a:: end ::a::", "[(do [(label a)]) (label a)]"),
                ("::a:: function f() ::a:: end", "[(label a) (function f () [(label a)])]"),
                ("local x = ... function f(...) return ... end", "[(local (x) ...) (function f (...) [(return ...)])]"),
                ("x = function(...) return function() end end", "[(set (x) (fn (...) [(return (fn () []))]))]"),
            ],
            false,
        );
    }

    #[test]
    fn line_numbers() {
        check_blocks(
            &[
                ("x =\n1\n+\n2", "[(set@1 (x@1) (+@3 1@2 2@4))]"),
                ("f\n(\n1\n)", "[(call-stat@1 (call@1 f@1 1@3))]"),
                (
                    "a\n.b\n.c\n(1)",
                    "[(call-stat@1 (call@1 (idx@1 (idx@1 a@1 \"b\"@2) \"c\"@3) 1@4))]",
                ),
                ("a\n:m\n'x'", "[(call-stat@1 (mcall@1 a@1 m \"x\"@3))]"),
                (
                    "\n\nlocal function f()\nend",
                    "[(localfunction@3 f ()@3-4 [])]",
                ),
                ("function f\n(\n)\nend", "[(function@1 f ()@1-4 [])]"),
                (
                    "x = function\n(\n)\n\nend",
                    "[(set@1 (x@1) (fn@1 ()@2-5 []))]",
                ),
                (
                    "local x = {\n1,\n-\n2}",
                    "[(local@1 (x) (table@1 1@2 (neg@3 2@4)))]",
                ),
                ("do\nreturn\n1\nend", "[(do@1 [(return@2 1@3)])]"),
                (
                    "x = [[\na\nb]] .. y",
                    "[(set@1 (x@1) (..@3 \"a\\nb\"@3 y@3))]",
                ),
                (
                    "if a then\nelseif b then\nend\nwhile c do end",
                    "[(if@1 a@1 [] b@2 []) (while@4 c@4 [])]",
                ),
                ("::a::\n::b::", "[(label@1 a) (label@2 b)]"),
                ("x = (\nf())", "[(set@1 (x@1) (paren@1 (call@2 f@2)))]"),
            ],
            true,
        );
    }

    #[test]
    fn syntax_errors() {
        // Expected messages obtained from lua5.4 with load(src, "=t").
        check_errors(&[
            ("x = = 1", "t:1: unexpected symbol near '='"),
            ("x", "t:1: syntax error near <eof>"),
            ("1 = 2", "t:1: unexpected symbol near '1'"),
            ("(a) = 1", "t:1: syntax error near '='"),
            ("a.b:c() = 1", "t:1: syntax error near '='"),
            ("f()() = 1", "t:1: syntax error near '='"),
            ("a, f() = 1", "t:1: syntax error near '='"),
            ("a, (b) = 1", "t:1: syntax error near '='"),
            ("x, 1 = 2", "t:1: unexpected symbol near '1'"),
            ("a.b.c", "t:1: syntax error near <eof>"),
            ("f 1", "t:1: syntax error near '1'"),
            ("x y", "t:1: syntax error near 'y'"),
            ("a.1", "t:1: syntax error near '.1'"),
            ("f(", "t:1: unexpected symbol near <eof>"),
            (
                "f(\n\n1",
                "t:3: ')' expected (to close '(' at line 1) near <eof>",
            ),
            (
                "f\n(\n1",
                "t:3: ')' expected (to close '(' at line 1) near <eof>",
            ),
            ("f(1 end", "t:1: ')' expected near 'end'"),
            ("x = (1", "t:1: ')' expected near <eof>"),
            (
                "x = (1\n",
                "t:2: ')' expected (to close '(' at line 1) near <eof>",
            ),
            ("x = a[1", "t:1: ']' expected near <eof>"),
            ("x = {x 1", "t:1: '}' expected near '1'"),
            (
                "x = {\n1,\n2",
                "t:3: '}' expected (to close '{' at line 1) near <eof>",
            ),
            ("x = {[1] 2}", "t:1: '=' expected near '2'"),
            ("local function 1", "t:1: <name> expected near '1'"),
            ("local", "t:1: <name> expected near <eof>"),
            ("local 1", "t:1: <name> expected near '1'"),
            ("goto 1", "t:1: <name> expected near '1'"),
            ("::1::", "t:1: <name> expected near '1'"),
            ("::a", "t:1: '::' expected near <eof>"),
            ("a:1", "t:1: <name> expected near '1'"),
            ("a:b 1", "t:1: function arguments expected near '1'"),
            ("x = 1 + ", "t:1: unexpected symbol near <eof>"),
            ("x = 1 ..", "t:1: unexpected symbol near <eof>"),
            ("x = 2^^", "t:1: unexpected symbol near '^'"),
            ("x = #", "t:1: unexpected symbol near <eof>"),
            ("x = 1 ...", "t:1: unexpected symbol near '...'"),
            ("x = 1 ~= ~ // >>", "t:1: unexpected symbol near '//'"),
            ("x = 1 ::", "t:1: <name> expected near <eof>"),
            ("return 1 print(2)", "t:1: <eof> expected near 'print'"),
            ("x = 1 end", "t:1: <eof> expected near 'end'"),
            ("return return", "t:1: unexpected symbol near 'return'"),
            ("local x <foo> = 1", "t:1: unknown attribute 'foo'"),
            (
                "local x <close>, y <close> = 1",
                "t:1: multiple to-be-closed variables in local list",
            ),
            ("local x <const", "t:1: '>' expected near <eof>"),
            ("local x <1>", "t:1: <name> expected near '1'"),
            (
                "function f(1) end",
                "t:1: <name> or '...' expected near '1'",
            ),
            (
                "x = function(a,) end",
                "t:1: <name> or '...' expected near ')'",
            ),
            ("x = function(...,a) end", "t:1: ')' expected near ','"),
            ("function f", "t:1: '(' expected near <eof>"),
            ("function f.1() end", "t:1: '(' expected near '.1'"),
            ("function f.() end", "t:1: <name> expected near '('"),
            ("for 1", "t:1: <name> expected near '1'"),
            ("for x 1", "t:1: '=' or 'in' expected near '1'"),
            ("for x = 1 do end", "t:1: ',' expected near 'do'"),
            ("for x, y = 1 do end", "t:1: 'in' expected near '='"),
            ("for x = 1, 2 x", "t:1: 'do' expected near 'x'"),
            ("for x in y x", "t:1: 'do' expected near 'x'"),
            ("if x y", "t:1: 'then' expected near 'y'"),
            ("if x then elseif y z", "t:1: 'then' expected near 'z'"),
            ("while x y", "t:1: 'do' expected near 'y'"),
            (
                "function f()\n\n",
                "t:3: 'end' expected (to close 'function' at line 1) near <eof>",
            ),
            (
                "\n\nfunction f()\n",
                "t:4: 'end' expected (to close 'function' at line 3) near <eof>",
            ),
            ("function f() x = 1", "t:1: 'end' expected near <eof>"),
            (
                "if x then\n\n",
                "t:3: 'end' expected (to close 'if' at line 1) near <eof>",
            ),
            (
                "if x then else\n elseif",
                "t:2: 'end' expected (to close 'if' at line 1) near 'elseif'",
            ),
            (
                "while x do\n",
                "t:2: 'end' expected (to close 'while' at line 1) near <eof>",
            ),
            (
                "for i=1,2 do\n",
                "t:2: 'end' expected (to close 'for' at line 1) near <eof>",
            ),
            (
                "for k in x do\n",
                "t:2: 'end' expected (to close 'for' at line 1) near <eof>",
            ),
            (
                "do\n",
                "t:2: 'end' expected (to close 'do' at line 1) near <eof>",
            ),
            ("do x() until", "t:1: 'end' expected near 'until'"),
            (
                "repeat\n",
                "t:2: 'until' expected (to close 'repeat' at line 1) near <eof>",
            ),
            ("repeat x() end", "t:1: 'until' expected near 'end'"),
            ("repeat x", "t:1: syntax error near <eof>"),
            ("repeat until", "t:1: unexpected symbol near <eof>"),
            (
                "function f() return ... end",
                "t:1: cannot use '...' outside a vararg function near '...'",
            ),
            (
                "function f(a) local t = {...} end",
                "t:1: cannot use '...' outside a vararg function near '...'",
            ),
            ("::a:: ::a::", "t:1: label 'a' already defined on line 1"),
            (
                "::a:: ; ::b:: ::a::",
                "t:1: label 'a' already defined on line 1",
            ),
            (
                "::a:: do ::a:: end",
                "t:1: label 'a' already defined on line 1",
            ),
            (
                "::a::\n\n::a:: x = 1",
                "t:3: label 'a' already defined on line 3",
            ),
            (
                "::a:: x = 1\n::a::",
                "t:2: label 'a' already defined on line 1",
            ),
            ("x = 1 'a\\65'", "t:1: unexpected symbol near ''aA''"),
            ("x = 1 [[a\nb]]", "t:2: unexpected symbol near '[[a\nb]]'"),
            ("x = 1 'a\\0b'", "t:1: unexpected symbol near ''a'"),
            ("x = 1 0x10", "t:1: unexpected symbol near '0x10'"),
            ("x = 1 @", "t:1: unexpected symbol near '@'"),
            ("x = 1 \x01", "t:1: unexpected symbol near '<\\1>'"),
            ("{x=1}", "t:1: unexpected symbol near '{'"),
            // Lexical errors reported through the parser.
            ("x = '\\q'", "t:1: invalid escape sequence near ''\\q'"),
            ("x = \"abc", "t:1: unfinished string near <eof>"),
            ("x = \"abc\ny", "t:1: unfinished string near '\"abc'"),
            (
                "x = [==[ abc",
                "t:1: unfinished long string (starting at line 1) near <eof>",
            ),
            (
                "--[==[ abc",
                "t:1: unfinished long comment (starting at line 1) near <eof>",
            ),
            ("x = [=", "t:1: invalid long string delimiter near '[='"),
            ("x = 3x", "t:1: malformed number near '3x'"),
            (
                "x = '\\300'",
                "t:1: decimal escape too large near ''\\300''",
            ),
            (
                "x = '\\u{80000000}'",
                "t:1: UTF-8 value too large near ''\\u{80000000'",
            ),
            ("x = {a 3y}", "t:1: malformed number near '3y'"),
            // The first error wins, even if the lexer would fail later.
            ("x = = 'abc", "t:1: unexpected symbol near '='"),
        ]);
    }

    #[test]
    fn nesting_limit() {
        // lua5.4's load accepts 195 nested parentheses but not 196, and
        // 197 nested `do` blocks but not 198.
        let paren = |n: usize| format!("x = {}1{}", "(".repeat(n), ")".repeat(n));
        assert!(parse_t(&paren(195)).is_ok());
        assert_eq!(
            parse_t(&paren(196)).unwrap_err().message,
            "t:1: too many C levels (limit is 200) in main function near '1'"
        );
        let dos = |n: usize| format!("{}{}", "do ".repeat(n), "end ".repeat(n));
        assert!(parse_t(&dos(197)).is_ok());
        assert!(parse_t(&dos(198)).is_err());
        let err = parse_t(&format!(
            "function f()\n x = {}",
            "-".repeat(300).replace('-', "- ")
        ))
        .unwrap_err();
        assert_eq!(
            err.message,
            "t:2: too many C levels (limit is 200) in function at line 1 near '-'"
        );
    }

    #[test]
    fn chunk_ids() {
        let long70 = "x".repeat(70);
        let cases: Vec<(String, String)> = vec![
            ("=abc".into(), "abc".into()),
            (format!("={long70}"), "x".repeat(59)),
            (format!("={}", "q".repeat(59)), "q".repeat(59)),
            ("=".into(), "".into()),
            ("@file.lua".into(), "file.lua".into()),
            (
                format!("@{}.lua", "d".repeat(70)),
                format!("...{}.lua", "d".repeat(52)),
            ),
            (format!("@{}", "d".repeat(59)), "d".repeat(59)),
            (
                format!("@{}", "d".repeat(60)),
                format!("...{}", "d".repeat(56)),
            ),
            ("@".into(), "".into()),
            ("x=".into(), "[string \"x=\"]".into()),
            ("abc\ndef".into(), "[string \"abc...\"]".into()),
            ("y".repeat(44), format!("[string \"{}\"]", "y".repeat(44))),
            (
                "y".repeat(45),
                format!("[string \"{}...\"]", "y".repeat(45)),
            ),
            (
                "y".repeat(100),
                format!("[string \"{}...\"]", "y".repeat(45)),
            ),
            ("\nabc".into(), "[string \"...\"]".into()),
            ("".into(), "[string \"\"]".into()),
            ("a\rb".into(), "[string \"a\rb\"]".into()),
            (
                format!("{}\n", "z".repeat(40)),
                format!("[string \"{}...\"]", "z".repeat(40)),
            ),
        ];
        for (src, want) in &cases {
            assert_eq!(&chunkid(src), want, "source name {src:?}");
        }
    }

    #[test]
    fn errors_use_the_chunk_name() {
        let e = parse(b"x = = 1", "[string \"x = = 1\"]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[string \"x = = 1\"]:1: unexpected symbol near '='"
        );
    }

    /// The parser must return Ok or Err on any input: no panic, no stack
    /// overflow, whatever the bytes and however deep the nesting.
    mod robustness {
        use super::super::{dismantle, parse};

        /// Stack size for the threads that run the parser here: well below the
        /// 8 MiB of a main thread and the 2 MiB of a default spawned thread.
        const STACK: usize = 1 << 19;

        struct XorShift(u64);

        impl XorShift {
            fn next(&mut self) -> u64 {
                let mut x = self.0;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                self.0 = x;
                x
            }

            fn below(&mut self, n: usize) -> usize {
                (self.next() % n as u64) as usize
            }
        }

        /// Parses in a thread with a small stack, freeing the result without
        /// recursion; returns the error message, if any.
        fn parse_small_stack(src: Vec<u8>) -> Result<(), String> {
            std::thread::Builder::new()
                .stack_size(STACK)
                .spawn(move || match parse(&src, "t") {
                    Ok(chunk) => {
                        dismantle(chunk);
                        Ok(())
                    }
                    Err(e) => Err(e.message),
                })
                .expect("spawn")
                .join()
                .expect("the parser panicked")
        }

        #[test]
        fn arbitrary_bytes() {
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
            let alphabet =
                b"()[]{}=~<>-+*/%^#&|.,;:'\"\\\n\r\t 0123456789abcdefxXpPeEzun_@$\x00\xff";
            for i in 0..20_000 {
                let len = rng.below(120);
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        if i % 2 == 0 {
                            rng.next() as u8
                        } else {
                            alphabet[rng.below(alphabet.len())]
                        }
                    })
                    .collect();
                let _ = parse(&bytes, "t");
            }
        }

        const TOKENS: &[&str] = &[
            "and",
            "break",
            "do",
            "else",
            "elseif",
            "end",
            "false",
            "for",
            "function",
            "goto",
            "if",
            "in",
            "local",
            "nil",
            "not",
            "or",
            "repeat",
            "return",
            "then",
            "true",
            "until",
            "while",
            "+",
            "-",
            "*",
            "/",
            "//",
            "%",
            "^",
            "#",
            "&",
            "~",
            "|",
            "<<",
            ">>",
            "==",
            "~=",
            "<=",
            ">=",
            "<",
            ">",
            "=",
            "(",
            ")",
            "{",
            "}",
            "[",
            "]",
            "::",
            ";",
            ":",
            ",",
            ".",
            "..",
            "...",
            "a",
            "b",
            "x",
            "self",
            "1",
            "0x10",
            "1.5",
            "1e3",
            "'s'",
            "\"q\\n\"",
            "[[long]]",
            "[=[l]=]",
            "\n",
            "--c\n",
            "<const>",
            "<close>",
            "'\\z  '",
            "'\\u{41}'",
            "3x",
            "'\\q'",
            "[=",
            "'open",
        ];

        #[test]
        fn random_token_streams() {
            let mut rng = XorShift(12345);
            for _ in 0..20_000 {
                let n = 1 + rng.below(40);
                let src: Vec<&str> = (0..n).map(|_| TOKENS[rng.below(TOKENS.len())]).collect();
                let _ = parse(src.join(" ").as_bytes(), "t");
            }
            // Long streams, with deep nesting likely.
            for _ in 0..200 {
                let n = 1 + rng.below(3000);
                let src: Vec<&str> = (0..n).map(|_| TOKENS[rng.below(TOKENS.len())]).collect();
                parse_small_stack(src.join(" ").into_bytes()).ok();
            }
        }

        fn expect_too_deep(src: String) {
            let msg = parse_small_stack(src.into_bytes()).expect_err("should be too deep");
            assert!(msg.contains("too many C levels"), "{msg}");
        }

        fn expect_ok(src: String) {
            if let Err(msg) = parse_small_stack(src.into_bytes()) {
                panic!("unexpected error: {msg}");
            }
        }

        const N: usize = 100_000;

        #[test]
        fn deep_nesting_is_rejected_cleanly() {
            expect_too_deep("(".repeat(N));
            expect_too_deep(format!("x = {}1{}", "(".repeat(N), ")".repeat(N)));
            expect_too_deep(format!("a = {}1", "-(".repeat(N)));
            expect_too_deep(format!("a = {}1", "- ".repeat(N)));
            expect_too_deep(format!("a = {}1", "not ".repeat(N)));
            expect_too_deep(format!("a = {}1", "~".repeat(N)));
            expect_too_deep(format!("a = {}1", "#".repeat(N)));
            expect_too_deep("do ".repeat(N));
            expect_too_deep(format!("{}{}", "do ".repeat(N), "end ".repeat(N)));
            expect_too_deep("while x do ".repeat(N));
            expect_too_deep("if x then ".repeat(N));
            expect_too_deep("if x then else ".repeat(N));
            expect_too_deep("for i = 1, 2 do ".repeat(N));
            expect_too_deep("repeat ".repeat(N));
            expect_too_deep("function f() ".repeat(N));
            expect_too_deep(format!("x = {}", "function() return ".repeat(N)));
            expect_too_deep(format!("x = {}", "{".repeat(N)));
            expect_too_deep(format!("x = {}", "{[".repeat(N)));
            expect_too_deep(format!("x = {}", "{a = ".repeat(N)));
            expect_too_deep(format!("x = {}", "f(".repeat(N)));
            expect_too_deep(format!("x = {}", "a[".repeat(N)));
            expect_too_deep(format!("x = {}a", "a..".repeat(N)));
            expect_too_deep(format!("x = {}2", "2^".repeat(N)));
            expect_too_deep(format!("x = {}a", "a .. - ".repeat(N)));
            expect_too_deep(format!("{}a = 1", "a, ".repeat(N)));
            expect_too_deep(format!("{}a = 1", "a.b, ".repeat(N)));
            expect_too_deep(format!("{} x = 1", "::l:: ".repeat(N)));
            expect_too_deep("local function f() ".repeat(N));
            expect_too_deep(format!("f{}", "{".repeat(N)));
        }

        #[test]
        fn long_chains_parse() {
            // Left-associative and suffix chains are built iteratively.
            expect_ok(format!("x = 1{}", "+1".repeat(1_000_000)));
            expect_ok(format!("x = a{}", " or a".repeat(N)));
            expect_ok(format!("x = a{}", ".b".repeat(N)));
            expect_ok(format!("x = a{}", "[1]".repeat(N)));
            expect_ok(format!("f{}", "()".repeat(N)));
            expect_ok(format!("a{}", ":m()".repeat(N)));
            expect_ok(format!("f{}", "'s'".repeat(N)));
            expect_ok(format!("x = a{} = 1", ".b".repeat(N)).replace("x = ", ""));
            expect_ok(format!("x = a{}", " < a".repeat(N)));
            expect_ok(format!("return 1{}", ", 1".repeat(N)));
            expect_ok(format!("x = {{{}}}", "1, ".repeat(N)));
            expect_ok(";".repeat(N));
            expect_ok("x = 1 ".repeat(N));
            expect_ok("::a:: goto a ".replace("::a::", "do ::a:: end").repeat(N));
            // Right-associative chains within the limit parse.
            expect_ok(format!("x = {}a", "a..".repeat(150)));
            expect_ok(format!("x = {}2", "2^".repeat(150)));
        }

        #[test]
        fn long_chains_with_late_errors() {
            // The partial trees must be freed without recursion too.
            let msg = parse_small_stack(format!("x = 1{} +", "+1".repeat(1_000_000)).into_bytes())
                .expect_err("error");
            assert_eq!(msg, "t:1: unexpected symbol near <eof>");
            let msg = parse_small_stack(format!("x = a{} )", ".b".repeat(N)).into_bytes())
                .expect_err("error");
            assert_eq!(msg, "t:1: unexpected symbol near ')'");
            let msg = parse_small_stack(format!("f(a{}, 'open", ".b+c".repeat(N)).into_bytes())
                .expect_err("error");
            assert_eq!(msg, "t:1: unfinished string near <eof>");
            let msg = parse_small_stack(
                format!(
                    "local function f() return {{a{}}} end x y",
                    " or a".repeat(N)
                )
                .into_bytes(),
            )
            .expect_err("error");
            assert_eq!(msg, "t:1: syntax error near 'y'");
        }

        #[test]
        fn deepest_accepted_nesting_fits_a_small_stack() {
            // The deepest nesting the level limit allows, for each kind of
            // construct, and mixtures of them.
            let d = 190;
            expect_ok(format!("x = {}1{}", "(".repeat(d), ")".repeat(d)));
            expect_ok(format!("{}{}", "do ".repeat(d), "end ".repeat(d)));
            expect_ok(format!(
                "x = {}{}",
                "function() return ".repeat(d / 2),
                " end".repeat(d / 2)
            ));
            expect_ok(format!("x = {}{}", "{".repeat(d), "}".repeat(d)));
            expect_ok(format!(
                "x = {}1{}",
                "{f(a[".repeat(d / 3),
                "])}".repeat(d / 3)
            ));
            expect_ok(format!(
                "{}{}",
                "if x then while y do for i=1,2 do repeat local function f() ".repeat(d / 10),
                "end until z end end end ".repeat(d / 10)
            ));
            expect_ok(format!("x = {}a", "a..".repeat(d)));
            expect_ok(format!("x = {}2", "2^".repeat(d)));
            expect_ok(format!("x = {}a", "- ".repeat(d)));
        }
    }
}
