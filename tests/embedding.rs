//! The embedding API: calling Lua from Rust, Rust functions (sync and
//! async) under stable names, tasks driven from a tokio runtime, and the
//! capabilities a config turns off.

use std::cell::RefCell;
use std::rc::Rc;

use understudy::runtime::runtime::SharedBuffer;
use understudy::{Config, Error, LuaValue, MultiValue, Runtime};

/// What `rt`'s scripts print, from now on.
fn capture(rt: &mut Runtime) -> Rc<RefCell<Vec<u8>>> {
    let out = Rc::new(RefCell::new(Vec::new()));
    rt.set_output(Box::new(SharedBuffer(out.clone())));
    out
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn call_converts_arguments_and_results() {
    let mut rt = Runtime::new(Config::default());
    rt.exec(
        br#"
        function stats(xs, label)
          local sum, max = 0, -math.huge
          for _, x in ipairs(xs) do sum = sum + x; max = math.max(max, x) end
          return label .. ":" .. #xs, sum, max, nil
        end
        lib = { twice = function(s) return s:rep(2) end }
        "#,
        "=setup",
        &[],
    )
    .unwrap();
    let (label, sum, max, missing): (String, i64, f64, Option<bool>) =
        rt.call_blocking("stats", (vec![3i64, 9, 4], "n")).unwrap();
    assert_eq!((label.as_str(), sum, max, missing), ("n:3", 16, 9.0, None));
    let twice: Vec<u8> = rt.call_blocking("lib.twice", "ab").unwrap();
    assert_eq!(twice, b"abab");
    let all: MultiValue = rt.call_blocking("stats", (vec![1i64], "x")).unwrap();
    assert_eq!(
        all.0,
        vec![
            LuaValue::String(b"x:1".to_vec()),
            LuaValue::Integer(1),
            LuaValue::Integer(1),
            LuaValue::Nil
        ]
    );
    // Errors come back typed.
    match rt.call_blocking::<_, ()>("nope", ()) {
        Err(Error::NoFunction(name)) => assert_eq!(name, "nope"),
        other => panic!("{other:?}"),
    }
    match rt.call_blocking::<_, i64>("lib.twice", "ab") {
        Err(Error::Conversion(msg)) => assert_eq!(msg, "integer expected, got string"),
        other => panic!("{other:?}"),
    }
    match rt.call_blocking::<_, ()>("error", "raised") {
        Err(Error::Runtime { message, .. }) => assert_eq!(message, "raised"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn registered_functions_are_called_by_their_stable_names() {
    let mut rt = Runtime::new(Config::default());
    let calls = Rc::new(RefCell::new(Vec::new()));
    let log = calls.clone();
    rt.register("app.log", move |(level, msg): (String, String)| {
        log.borrow_mut().push(format!("{level}: {msg}"));
        Ok(())
    });
    rt.register("app.checked_div", |(a, b): (i64, i64)| {
        if b == 0 {
            Err("division by zero".to_owned())
        } else {
            Ok(a / b)
        }
    });
    let out = capture(&mut rt);
    rt.exec(
        br#"
        app.log("info", "starting")
        print(app.checked_div(7, 2))
        print(pcall(app.checked_div, 1, 0))
        print(pcall(app.checked_div, "x", 1))
        print(app.log)
        "#,
        "=main",
        &[],
    )
    .unwrap();
    assert_eq!(*calls.borrow(), vec!["info: starting".to_owned()]);
    let text = String::from_utf8_lossy(&out.borrow()).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "3");
    assert_eq!(lines[1], "false\tdivision by zero");
    assert_eq!(lines[2], "false\tinteger expected, got string");
    assert!(lines[3].starts_with("function: "), "{}", lines[3]);
}

#[test]
fn async_functions_park_only_their_task() {
    let mut rt = Runtime::new(Config::default());
    rt.register_async("app.slow_upper", |s: String| async move {
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        Ok(s.to_uppercase())
    });
    rt.register_async("app.fails", |()| async {
        Err::<(), _>("backend down".to_owned())
    });
    let out = capture(&mut rt);
    current_thread().block_on(async {
        rt.load(
            br#"
            task.spawn(function() print("other task runs while the call waits") end)
            print(app.slow_upper("done"))
            print(pcall(app.fails))
            "#,
            "=main",
            &[],
        )
        .unwrap();
        rt.run().await.unwrap();
    });
    assert_eq!(
        String::from_utf8_lossy(&out.borrow()),
        "other task runs while the call waits\nDONE\nfalse\tbackend down\n"
    );
}

#[test]
fn run_until_stops_a_server_and_a_later_run_continues_it() {
    let mut rt = Runtime::new(Config::default());
    rt.load(
        br#"
        ticks = 0
        function get_ticks() return ticks end
        task.spawn(function() while true do task.sleep(0.01) ticks = ticks + 1 end end)
        "#,
        "=server",
        &[],
    )
    .unwrap();
    let io = current_thread();
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(100));
    io.block_on(async { rt.run_until(pause()).await }).unwrap();
    let first: i64 = io.block_on(rt.call("get_ticks", ())).unwrap();
    assert!(first >= 1, "the ticker ran ({first} ticks)");
    io.block_on(async { rt.run_until(pause()).await }).unwrap();
    let second: i64 = io.block_on(rt.call("get_ticks", ())).unwrap();
    assert!(
        second > first,
        "the ticker continued ({first} then {second})"
    );
}

#[test]
fn spawned_functions_run_as_tasks() {
    let mut rt = Runtime::new(Config {
        virtual_time: true,
        ..Config::default()
    });
    let out = capture(&mut rt);
    rt.exec(
        b"function worker(name, d) task.sleep(d) print(name, task.now()) end",
        "=setup",
        &[],
    )
    .unwrap();
    let a = rt.spawn("worker", ("slow", 2.0)).unwrap();
    let b = rt.spawn("worker", ("fast", 1.0)).unwrap();
    assert_ne!(a, b);
    current_thread().block_on(rt.run()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.borrow()),
        "fast\t1.0\nslow\t2.0\n"
    );
}

#[test]
fn capabilities_can_be_turned_off() {
    let mut rt = Runtime::new(Config {
        allow_files: false,
        allow_net: false,
        ..Config::default()
    });
    rt.exec(
        br#"
        function try_net() return pcall(net.listen, "127.0.0.1:0") end
        function try_file() return io.open("/etc/hostname") end
        "#,
        "=setup",
        &[],
    )
    .unwrap();
    let (ok, msg): (bool, String) = rt.call_blocking("try_net", ()).unwrap();
    assert!(!ok);
    assert_eq!(msg, "network access is disabled in this runtime");
    let (file, msg): (Option<String>, String) = rt.call_blocking("try_file", ()).unwrap();
    assert_eq!(file, None);
    assert!(msg.contains("disabled"), "{msg}");
}

#[test]
fn net_connects_tasks_over_loopback() {
    let mut rt = Runtime::new(Config::default());
    let out = capture(&mut rt);
    rt.exec(
        br#"
        local l = assert(net.listen("127.0.0.1:0"))
        task.spawn(function()
          local c = assert(l:accept())
          local line = c:read_line()
          c:write("echo: ", line, "\n")
          c:write(c:read_exact(5))
          c:close()
        end)
        local c = assert(net.connect(l:addr()))
        c:write("hello\r\n", "12345")
        print(c:read_line())
        print(c:read(100))
        print(c:read(100))
        print(pcall(c.read, c))
        c:close()
        print(pcall(c.read, c))
        print(net.connect("127.0.0.1:1"))
        print(pcall(l.accept, 42))
        l:close()
        print(tostring(l):match("%(closed%)"))
        "#,
        "=net",
        &[],
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.borrow()),
        "echo: hello\n12345\nnil\tclosed\ntrue\tnil\tclosed\n\
         false\tattempt to use a closed connection\n\
         nil\tconnection refused\n\
         false\tbad argument #1 to 'net.listener.accept' (listener expected, got number)\n\
         (closed)\n"
    );
}

#[test]
fn closing_a_connection_ends_the_waits_on_it() {
    let mut rt = Runtime::new(Config::default());
    let out = capture(&mut rt);
    rt.exec(
        br#"
        local l = assert(net.listen("127.0.0.1:0"))
        local accepted = chan.new(1)
        task.spawn(function() accepted:send(l:accept()) end)
        local c = assert(net.connect(l:addr()))
        local server_side = accepted:recv()
        -- The reader parks; the close comes before tokio ever polls its wait.
        local reader = task.spawn(function() return c:read() end)
        task.yield()
        c:close()
        print(task.join(reader))
        -- The socket really closed: the peer reads end of stream.
        print(server_side:read())
        -- A pending accept ends when its listener closes.
        local acceptor = task.spawn(function() return l:accept() end)
        task.yield()
        l:close()
        print(task.join(acceptor))
        "#,
        "=close",
        &[],
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.borrow()),
        "nil\tclosed\nnil\tclosed\nnil\tclosed\n"
    );
}
