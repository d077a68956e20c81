//! The abstract syntax tree the parser produces and the compiler consumes.
//!
//! Lines are 1-based source lines, kept on every statement and expression so
//! that runtime errors can name `chunk:line:`.

/// A whole chunk: the body of the implicit vararg main function.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub block: Block,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    pub stats: Vec<Stat>,
    /// A trailing `return` statement, if any.
    pub ret: Option<Return>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Return {
    pub exprs: Vec<Expr>,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub line: u32,
    pub kind: StatKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attrib {
    None,
    Const,
    Close,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StatKind {
    /// A function or method call used as a statement.
    Call(Expr),
    Local {
        names: Vec<(String, Attrib)>,
        exprs: Vec<Expr>,
    },
    /// Targets are `Name` or `Index` expressions only.
    Assign {
        targets: Vec<Expr>,
        exprs: Vec<Expr>,
    },
    Do(Block),
    While {
        cond: Expr,
        block: Block,
    },
    /// The condition is inside the scope of the block's locals.
    Repeat {
        block: Block,
        cond: Expr,
    },
    If {
        /// `if c then b elseif c then b ...`: at least one pair.
        arms: Vec<(Expr, Block)>,
        else_block: Option<Block>,
    },
    NumericFor {
        var: String,
        start: Expr,
        limit: Expr,
        step: Option<Expr>,
        block: Block,
    },
    GenericFor {
        vars: Vec<String>,
        exprs: Vec<Expr>,
        block: Block,
    },
    /// `function a.b.c:m() ... end`
    Function {
        name: FuncName,
        body: Box<FuncBody>,
    },
    /// `local function f() ... end` (f is in scope inside its own body).
    LocalFunction {
        name: String,
        body: Box<FuncBody>,
    },
    Break,
    Goto(String),
    Label(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FuncName {
    pub base: String,
    pub fields: Vec<String>,
    /// `a.b:m`: the method name; the body then has an implicit `self` first
    /// parameter (the parser already inserted it into `params`).
    pub method: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FuncBody {
    pub params: Vec<String>,
    pub is_vararg: bool,
    pub block: Block,
    /// Line of the `function` keyword.
    pub line: u32,
    /// Line of the closing `end`.
    pub end_line: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// For binary operators: the operator's line. For calls: the line where
    /// the called expression starts. Otherwise the line of the first token.
    pub line: u32,
    pub kind: ExprKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Nil,
    True,
    False,
    Vararg,
    Integer(i64),
    Float(f64),
    String(Vec<u8>),
    Function(Box<FuncBody>),
    Table(Vec<TableField>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Name(String),
    /// `a.b` is `Index(a, String("b"))`; `a[k]` is `Index(a, k)`.
    Index(Box<Expr>, Box<Expr>),
    Call(Box<Expr>, Vec<Expr>),
    /// `obj:name(args)`
    MethodCall(Box<Expr>, String, Vec<Expr>),
    /// `(e)`: truncates a multi-valued expression to one value.
    Paren(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum TableField {
    /// `{ e }`: the next array slot.
    Positional(Expr),
    /// `{ name = e }` (key is a `String` expression) or `{ [k] = e }`.
    Keyed(Expr, Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    IDiv,
    Mod,
    Pow,
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    BAnd,
    BOr,
    BXor,
    Shl,
    Shr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
    Len,
    BNot,
}
