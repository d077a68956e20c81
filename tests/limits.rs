//! Runaway and hostile scripts end in Lua errors or typed host errors,
//! never in a panic, an abort or unbounded growth.

use std::cell::RefCell;
use std::rc::Rc;

use understudy::runtime::runtime::SharedBuffer;
use understudy::{Config, Error, Runtime};

/// Runs `source` with `config`; returns the outcome and what it printed.
fn run(config: Config, source: &str) -> (Result<(), Error>, String) {
    let mut rt = Runtime::new(config);
    let out = Rc::new(RefCell::new(Vec::new()));
    rt.set_output(Box::new(SharedBuffer(out.clone())));
    let result = rt.exec(source.as_bytes(), "=limits", &[]);
    let printed = String::from_utf8_lossy(&out.borrow()).into_owned();
    (result, printed)
}

fn with_memory(bytes: usize) -> Config {
    Config {
        memory_limit: bytes,
        ..Config::default()
    }
}

fn with_fuel(instructions: u64) -> Config {
    Config {
        fuel: Some(instructions),
        ..Config::default()
    }
}

#[test]
fn growing_a_table_past_the_memory_limit_is_a_catchable_error() {
    let (result, out) = run(
        with_memory(32 << 20),
        r#"
        local ok, err = pcall(function()
          local t = {}
          for i = 1, 1e9 do t[i] = {i} end
        end)
        print(ok, err)
        collectgarbage()
        print(#string.rep("ab", 10))
        "#,
    );
    assert_eq!(result, Ok(()));
    assert_eq!(out, "false\tlimits:4: not enough memory\n20\n");
}

#[test]
fn one_huge_string_is_refused_before_it_is_built() {
    let (result, out) = run(
        with_memory(16 << 20),
        r#"
        print(pcall(string.rep, "x", 1 << 40))
        local ok = pcall(function() local s = "x" for i = 1, 40 do s = s .. s end end)
        print(ok)
        "#,
    );
    assert_eq!(result, Ok(()));
    assert_eq!(out, "false\tresulting string too large\nfalse\n");
}

#[test]
fn an_infinite_loop_ends_when_the_budget_runs_out() {
    let (result, _) = run(
        with_fuel(100_000),
        "local n = 0 while true do n = n + 1 end",
    );
    match result {
        Err(Error::Runtime { message, .. }) => {
            assert_eq!(message, "limits:1: instruction budget exhausted")
        }
        other => panic!("expected a runtime error, got {other:?}"),
    }
}

#[test]
fn catching_the_budget_error_only_buys_a_grace_period() {
    let (result, out) = run(
        with_fuel(100_000),
        r#"
        while true do
          local ok, err = pcall(function() while true do end end)
          if not ok then print(err) end
        end
        "#,
    );
    assert_eq!(result, Err(Error::FuelExhausted));
    assert_eq!(out, "limits:3: instruction budget exhausted\n");
}

#[test]
fn unbounded_recursion_is_a_catchable_stack_overflow() {
    let (result, out) = run(
        Config::default(),
        r#"
        local function down(n) return 1 + down(n + 1) end
        local ok, err = pcall(down, 1)
        print(ok, (err:gsub("^.-: ", "")))
        local function deep(n) if n == 0 then return 0 end return 1 + deep(n - 1) end
        print(deep(150000))
        local t = setmetatable({}, {})
        getmetatable(t).__index = function(self, k) return self[k] end
        print(pcall(function() return t.x end))
        "#,
    );
    assert_eq!(result, Ok(()));
    assert_eq!(
        out,
        "false\tstack overflow\n150000\nfalse\tlimits:8: C stack overflow\n"
    );
}

#[test]
fn pathological_source_is_a_syntax_error() {
    for source in [
        "x = ".to_owned() + &"(".repeat(100_000),
        "x = ".to_owned() + &"{".repeat(100_000),
        "do ".repeat(100_000),
    ] {
        let (result, _) = run(Config::default(), &source);
        assert!(
            matches!(result, Err(Error::Syntax(_))),
            "expected a syntax error for {}..., got {result:?}",
            &source[..12]
        );
    }
}

#[test]
fn long_operator_chains_compile_without_deep_recursion() {
    let source = "print(1".to_owned() + &" + 1".repeat(100_000) + ")";
    let (result, out) = run(Config::default(), &source);
    assert_eq!(result, Ok(()));
    assert_eq!(out, "100001\n");
}

#[test]
fn memory_growth_after_the_error_is_stopped() {
    // Each coroutine dies of `not enough memory`, but the loop ignores it
    // and keeps going: the run must end before the host runs out.
    let (result, _) = run(
        with_memory(32 << 20),
        r#"
        local keep = {}
        local function deep(n) if n == 0 then coroutine.yield() return 0 end return 1 + deep(n - 1) end
        for i = 1, 1e6 do
          local co = coroutine.create(deep)
          coroutine.resume(co, 20000)
          keep[#keep + 1] = co
        end
        "#,
    );
    assert_eq!(result, Err(Error::MemoryExhausted));
}

#[test]
fn os_exit_ends_the_script_not_the_host() {
    let (result, out) = run(
        Config::default(),
        r#"io.write("before ") os.exit(7) print("after")"#,
    );
    assert_eq!(result, Err(Error::Exit { code: 7 }));
    assert_eq!(out, "before ");
}

#[test]
fn files_stay_closed_when_the_embedder_says_so() {
    let (result, out) = run(
        Config {
            allow_files: false,
            ..Config::default()
        },
        r#"
        print(io.open("/etc/hostname"))
        print(pcall(dofile, "/etc/hostname"))
        "#,
    );
    assert_eq!(result, Ok(()));
    assert!(
        out.starts_with("nil\t/etc/hostname: file access is disabled"),
        "{out}"
    );
    assert!(
        out.contains("false\tcannot open /etc/hostname: file access is disabled"),
        "{out}"
    );
}
