//! Property test: random programs, built from statement and expression
//! templates, run to an error or to completion under a fuel and memory
//! budget — the VM never panics, whatever the script does.

use proptest::prelude::*;
use understudy_runtime::runtime::SharedBuffer;
use understudy_runtime::{Config, Runtime};

fn expr() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "1",
        "0",
        "-1",
        "2.5",
        "0/0",
        "1e308",
        "math.maxinteger",
        "'s'",
        "'10'",
        "nil",
        "true",
        "false",
        "x",
        "y",
        "t",
        "t[1]",
        "t.k",
        "f",
        "co",
        "#t",
        "...",
        "{}",
        "{1, 2}",
        "setmetatable({}, mt)",
        "function(a) return a end",
    ])
    .prop_map(str::to_owned);
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec![
                    "+", "-", "*", "/", "//", "%", "^", "..", "==", "~=", "<", "<=", "and", "or",
                    "&", "|", "<<", ">>",
                ]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("(-{a})")),
            inner.clone().prop_map(|a| format!("(not {a})")),
            inner.clone().prop_map(|a| format!("tostring({a})")),
            inner.clone().prop_map(|a| format!("f({a})")),
            inner.clone().prop_map(|a| format!("t[{a}]")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("select('#', {a}, {b})")),
        ]
    })
}

fn stat() -> impl Strategy<Value = String> {
    prop_oneof![
        expr().prop_map(|e| format!("x = {e}")),
        expr().prop_map(|e| format!("y = {e}")),
        (expr(), expr()).prop_map(|(k, v)| format!("t[{k}] = {v}")),
        expr().prop_map(|e| format!("f = function(...) return {e}, ... end")),
        expr().prop_map(|e| format!("if {e} then x = 1 else y = 2 end")),
        expr().prop_map(|e| format!("for i = 1, 3 do t[#t + 1] = {e} end")),
        expr().prop_map(|e| format!("for k, v in pairs(t) do x = {e} end")),
        expr().prop_map(|e| format!("while {e} do break end")),
        expr().prop_map(|e| format!("pcall(function() return {e} end)")),
        expr().prop_map(|e| format!("co = coroutine.wrap(function(a) coroutine.yield({e}) end)")),
        Just("pcall(co, 1)".to_owned()),
        expr().prop_map(|e| format!("mt.__index = {e}")),
        expr().prop_map(|e| format!("mt.__add = {e}")),
        expr().prop_map(|e| format!("mt.__call = {e}")),
        expr().prop_map(|e| format!("do local c <close> = {e} end")),
        expr().prop_map(|e| format!("print(string.format('%s %d', {e}, 1))")),
        Just("table.sort(t, function(a, b) return tostring(a) < tostring(b) end)".to_owned()),
        Just("x = string.rep('ab', 1000)".to_owned()),
    ]
}

fn program() -> impl Strategy<Value = String> {
    prop::collection::vec(stat(), 1..12).prop_map(|stats| {
        let body: Vec<String> = stats
            .into_iter()
            .map(|s| format!("pcall(function(...) {s} end, 1, 2)"))
            .collect();
        format!(
            "local x, y, f, co = 1, 2, print, nil\nlocal t, mt = {{1, 2, 3, k = 'v'}}, {{}}\n{}\n",
            body.join("\n")
        )
    })
}

proptest! {
    // VM_FUZZ_CASES raises the count for a longer local hunt.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("VM_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400)
    ))]

    #[test]
    fn random_programs_never_panic_the_vm(src in program()) {
        let mut rt = Runtime::new(Config {
            memory_limit: 64 << 20,
            fuel: Some(200_000),
            allow_files: false,
            allow_net: false,
            ..Config::default()
        });
        rt.set_output(Box::new(SharedBuffer::default()));
        // Any outcome is fine; a panic fails the test.
        let _ = rt.exec(src.as_bytes(), "=fuzz", &[]);
    }
}
