//! The bytecode. One line per opcode with its exact semantics; `R[x]` is a
//! register of the current frame, `K[x]` a constant, `U[x]` an upvalue.
//!
//! Notes:
//! - Comparison and test opcodes are always followed by a `Jmp`: when the
//!   condition differs from `k`, the jump is skipped (`pc += 1`).
//! - `Call` argument and result counts are biased by one: `0` means "up to
//!   the stack top" for arguments and "all results, setting the top" for
//!   results.
//! - `SetList` is always followed by `ExtraArg` holding the first index.
//! - Every opcode fits in four bytes (see the size test).

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    /// R[a] := R[b]
    Move {
        a: u8,
        b: u8,
    },
    /// R[a] := K[k]
    LoadK {
        a: u8,
        k: u16,
    },
    /// R[a] .. R[a + n] := nil
    LoadNil {
        a: u8,
        n: u8,
    },
    /// R[a] := value
    LoadBool {
        a: u8,
        value: bool,
    },
    /// R[a] := value (an integer)
    LoadInt {
        a: u8,
        value: i16,
    },
    /// R[a] := U[u]
    GetUpval {
        a: u8,
        u: u8,
    },
    /// U[u] := R[a]
    SetUpval {
        a: u8,
        u: u8,
    },
    /// R[a] := U[u][K[k]] (K[k] is a string)
    GetTabUp {
        a: u8,
        u: u8,
        k: u8,
    },
    /// U[u][K[k]] := R[v]
    SetTabUp {
        u: u8,
        k: u8,
        v: u8,
    },
    /// R[a] := R[t][R[k]]
    GetTable {
        a: u8,
        t: u8,
        k: u8,
    },
    /// R[a] := R[t][K[k]] (K[k] is a string)
    GetField {
        a: u8,
        t: u8,
        k: u8,
    },
    /// R[a] := R[t][i]
    GetIndex {
        a: u8,
        t: u8,
        i: u8,
    },
    /// R[t][R[k]] := R[v]
    SetTable {
        t: u8,
        k: u8,
        v: u8,
    },
    /// R[t][K[k]] := R[v]
    SetField {
        t: u8,
        k: u8,
        v: u8,
    },
    /// R[t][i] := R[v]
    SetIndex {
        t: u8,
        i: u8,
        v: u8,
    },
    /// R[a] := {} with size hints
    NewTable {
        a: u8,
        array: u8,
        hash: u8,
    },
    /// R[a + 1] := R[b]; R[a] := R[b][K[k]]
    SelfK {
        a: u8,
        b: u8,
        k: u8,
    },
    /// R[a] := R[b] + R[c] (and likewise for the other arithmetic and
    /// bitwise operators; see [`Op::arith`])
    Add {
        a: u8,
        b: u8,
        c: u8,
    },
    Sub {
        a: u8,
        b: u8,
        c: u8,
    },
    Mul {
        a: u8,
        b: u8,
        c: u8,
    },
    Div {
        a: u8,
        b: u8,
        c: u8,
    },
    IDiv {
        a: u8,
        b: u8,
        c: u8,
    },
    Mod {
        a: u8,
        b: u8,
        c: u8,
    },
    Pow {
        a: u8,
        b: u8,
        c: u8,
    },
    BAnd {
        a: u8,
        b: u8,
        c: u8,
    },
    BOr {
        a: u8,
        b: u8,
        c: u8,
    },
    BXor {
        a: u8,
        b: u8,
        c: u8,
    },
    Shl {
        a: u8,
        b: u8,
        c: u8,
    },
    Shr {
        a: u8,
        b: u8,
        c: u8,
    },
    /// R[a] := R[b] + i
    AddInt {
        a: u8,
        b: u8,
        i: i8,
    },
    /// R[a] := R[b] - i (apart from AddInt so that `__sub` sees `i`)
    SubInt {
        a: u8,
        b: u8,
        i: i8,
    },
    /// R[a] := R[b] .. R[c]
    Concat {
        a: u8,
        b: u8,
        c: u8,
    },
    /// R[a] := -R[b]
    Unm {
        a: u8,
        b: u8,
    },
    /// R[a] := ~R[b]
    BNot {
        a: u8,
        b: u8,
    },
    /// R[a] := not R[b]
    Not {
        a: u8,
        b: u8,
    },
    /// R[a] := #R[b]
    Len {
        a: u8,
        b: u8,
    },
    /// pc += offset
    Jmp {
        offset: Jump,
    },
    /// if (R[a] == R[b]) ~= k then pc++
    Eq {
        a: u8,
        b: u8,
        k: bool,
    },
    /// if (R[a] < R[b]) ~= k then pc++
    Lt {
        a: u8,
        b: u8,
        k: bool,
    },
    /// if (R[a] <= R[b]) ~= k then pc++
    Le {
        a: u8,
        b: u8,
        k: bool,
    },
    /// if (R[a] == K[c]) ~= k then pc++
    EqK {
        a: u8,
        c: u8,
        k: bool,
    },
    /// if (R[a] < i) ~= k then pc++
    LtInt {
        a: u8,
        i: i8,
        k: bool,
    },
    /// if (R[a] <= i) ~= k then pc++
    LeInt {
        a: u8,
        i: i8,
        k: bool,
    },
    /// if (R[a] > i) ~= k then pc++
    GtInt {
        a: u8,
        i: i8,
        k: bool,
    },
    /// if (R[a] >= i) ~= k then pc++
    GeInt {
        a: u8,
        i: i8,
        k: bool,
    },
    /// if truthy(R[a]) ~= k then pc++
    Test {
        a: u8,
        k: bool,
    },
    /// R[a], ... ,R[a+c-2] := R[a](R[a+1], ... ,R[a+b-1])
    Call {
        a: u8,
        b: u8,
        c: u8,
    },
    /// return R[a](R[a+1], ... ,R[a+b-1])
    TailCall {
        a: u8,
        b: u8,
    },
    /// return R[a], ... ,R[a+b-2]
    Return {
        a: u8,
        b: u8,
    },
    /// Numeric for: prepare R[a] (start), R[a+1] (limit), R[a+2] (step);
    /// R[a+3] is the control variable. Skips the loop (pc += skip + 1)
    /// when it runs zero times.
    ForPrep {
        a: u8,
        skip: u16,
    },
    /// Numeric for: advance; if the loop continues, pc -= back.
    ForLoop {
        a: u8,
        back: u16,
    },
    /// Generic for: R[a+4], ... ,R[a+3+c] := R[a](R[a+1], R[a+2])
    TForCall {
        a: u8,
        c: u8,
    },
    /// Generic for: if R[a+4] ~= nil then { R[a+2] := R[a+4]; pc -= back }
    TForLoop {
        a: u8,
        back: u16,
    },
    /// R[a][first + i - 1] := R[a + i], 1 <= i <= n (n = 0: up to the top);
    /// `first` is in the following ExtraArg.
    SetList {
        a: u8,
        n: u8,
    },
    /// R[a] := closure(protos[p])
    Closure {
        a: u8,
        p: u16,
    },
    /// R[a], ..., R[a+n-2] = vararg (n = 0: all, setting the top)
    VarArg {
        a: u8,
        n: u8,
    },
    /// Close upvalues and to-be-closed variables at or above R[a].
    Close {
        a: u8,
    },
    /// Mark R[a] as a to-be-closed variable.
    Tbc {
        a: u8,
    },
    /// An argument for the previous opcode.
    ExtraArg {
        value: Extra,
    },
}

impl Op {
    /// The arithmetic opcode for `op`.
    pub fn arith(op: ArithOp, a: u8, b: u8, c: u8) -> Op {
        match op {
            ArithOp::Add => Op::Add { a, b, c },
            ArithOp::Sub => Op::Sub { a, b, c },
            ArithOp::Mul => Op::Mul { a, b, c },
            ArithOp::Div => Op::Div { a, b, c },
            ArithOp::IDiv => Op::IDiv { a, b, c },
            ArithOp::Mod => Op::Mod { a, b, c },
            ArithOp::Pow => Op::Pow { a, b, c },
            ArithOp::BAnd => Op::BAnd { a, b, c },
            ArithOp::BOr => Op::BOr { a, b, c },
            ArithOp::BXor => Op::BXor { a, b, c },
            ArithOp::Shl => Op::Shl { a, b, c },
            ArithOp::Shr => Op::Shr { a, b, c },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    IDiv,
    Mod,
    Pow,
    BAnd,
    BOr,
    BXor,
    Shl,
    Shr,
}

impl ArithOp {
    /// The metamethod event consulted when an operand is not a number.
    pub fn event(self) -> &'static str {
        match self {
            ArithOp::Add => "__add",
            ArithOp::Sub => "__sub",
            ArithOp::Mul => "__mul",
            ArithOp::Div => "__div",
            ArithOp::IDiv => "__idiv",
            ArithOp::Mod => "__mod",
            ArithOp::Pow => "__pow",
            ArithOp::BAnd => "__band",
            ArithOp::BOr => "__bor",
            ArithOp::BXor => "__bxor",
            ArithOp::Shl => "__shl",
            ArithOp::Shr => "__shr",
        }
    }

    pub fn is_bitwise(self) -> bool {
        matches!(
            self,
            ArithOp::BAnd | ArithOp::BOr | ArithOp::BXor | ArithOp::Shl | ArithOp::Shr
        )
    }
}

/// A signed 24-bit jump offset, packed so that `Op` stays four bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Jump([u8; 3]);

impl Jump {
    pub const MAX: i32 = (1 << 23) - 1;

    pub fn new(offset: i32) -> Option<Jump> {
        if !(-Self::MAX..=Self::MAX).contains(&offset) {
            return None;
        }
        let b = offset.to_le_bytes();
        Some(Jump([b[0], b[1], b[2]]))
    }

    pub fn get(self) -> i32 {
        let [a, b, c] = self.0;
        // Sign-extend from 24 bits.
        (i32::from_le_bytes([a, b, c, 0]) << 8) >> 8
    }
}

/// An unsigned 24-bit argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Extra([u8; 3]);

impl Extra {
    pub const MAX: u32 = (1 << 24) - 1;

    pub fn new(value: u32) -> Option<Extra> {
        if value > Self::MAX {
            return None;
        }
        let b = value.to_le_bytes();
        Some(Extra([b[0], b[1], b[2]]))
    }

    pub fn get(self) -> u32 {
        let [a, b, c] = self.0;
        u32::from_le_bytes([a, b, c, 0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_is_four_bytes() {
        assert_eq!(std::mem::size_of::<Op>(), 4);
    }

    #[test]
    fn jump_round_trips() {
        for off in [0, 1, -1, 255, -256, 65536, -70000, Jump::MAX, -Jump::MAX] {
            assert_eq!(Jump::new(off).map(Jump::get), Some(off));
        }
        assert!(Jump::new(Jump::MAX + 1).is_none());
    }
}
