//! Property tests: arbitrary bytes and random token streams through the
//! parser *and* the compiler end in `Ok` or an error, never a panic.

use proptest::prelude::*;
use understudy_runtime::runtime::compile_chunk;

/// Tokens that make random streams look like Lua often enough to reach the
/// compiler: keywords, operators, names, literals and brackets.
const TOKENS: &[&str] = &[
    "local", "function", "end", "if", "then", "else", "elseif", "while", "do", "repeat", "until",
    "for", "in", "return", "break", "goto", "::l::", "nil", "true", "false", "and", "or", "not",
    "x", "y", "t", "f", "_ENV", "...", "=", "==", "~=", "<", "<=", ">", ">=", "+", "-", "*", "/",
    "//", "%", "^", "..", "#", "&", "|", "~", "<<", ">>", "(", ")", "{", "}", "[", "]", ";", ",",
    ".", ":", "1", "0x10", "2.5", "1e3", "\"s\"", "[[long]]", "<const>", "<close>", "\n",
];

fn token_stream() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..120).prop_map(|t| t.join(" "))
}

/// Small valid-looking programs built from statement templates, so that
/// many inputs get through the parser into the compiler.
fn statement_soup() -> impl Strategy<Value = String> {
    let stats = prop::sample::select(vec![
        "local a, b = 1, 2",
        "x = x and y or f(x)",
        "for i = 1, 10 do t[i] = i end",
        "for k, v in pairs(t) do x = k end",
        "while x do break end",
        "repeat local z = 1 until z",
        "goto l",
        "::l::",
        "do local c <close> = nil end",
        "local function g(...) return ... end",
        "t = {1, 2, x = 3, [4] = 5, f()}",
        "if x then y = 1 elseif y then x = 2 else f() end",
        "return",
        "x, t.y, t[1] = f()",
        "local k <const> = 1; k = 2",
    ]);
    prop::collection::vec(stats, 0..12).prop_map(|s| s.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = compile_chunk(&bytes, "=fuzz");
    }

    #[test]
    fn random_token_streams_never_panic(src in token_stream()) {
        let _ = compile_chunk(src.as_bytes(), "=fuzz");
    }

    #[test]
    fn statement_soup_compiles_or_errors(src in statement_soup()) {
        match compile_chunk(src.as_bytes(), "=fuzz") {
            Ok(_) => {}
            Err(msg) => prop_assert!(msg.starts_with("fuzz:"), "unexpected error form: {msg}"),
        }
    }
}
