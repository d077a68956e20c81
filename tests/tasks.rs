//! Task, channel and timer semantics. Programs run on a virtual clock, so
//! sleeps take no real time and every run is the same; each test states
//! the exact output the semantics call for.

use std::cell::RefCell;
use std::rc::Rc;

use understudy::runtime::runtime::{SharedBuffer, TaskFailure};
use understudy::{Config, Error, Runtime};

fn runtime() -> (Runtime, Rc<RefCell<Vec<u8>>>) {
    let mut rt = Runtime::new(Config {
        virtual_time: true,
        ..Config::default()
    });
    let out = Rc::new(RefCell::new(Vec::new()));
    rt.set_output(Box::new(SharedBuffer(out.clone())));
    (rt, out)
}

/// Runs `source` to the end; returns its output and how it ended.
fn run(source: &str) -> (String, Result<(), Error>) {
    let (mut rt, out) = runtime();
    let result = rt.exec(source.as_bytes(), "=test", &[]);
    let text = String::from_utf8_lossy(&out.borrow()).into_owned();
    (text, result)
}

#[track_caller]
fn check(source: &str, expected: &str) {
    let (out, result) = run(source);
    if let Err(e) = result {
        panic!("the program failed: {e}\noutput so far:\n{out}");
    }
    assert_eq!(out, expected);
}

#[test]
fn tasks_run_in_spawn_order_and_interleave_at_yields() {
    check(
        r#"
        for name in ("abc"):gmatch(".") do
          task.spawn(function()
            for i = 1, 3 do print(name .. i) task.yield() end
          end)
        end
        print("main")
        "#,
        "main\na1\nb1\nc1\na2\nb2\nc2\na3\nb3\nc3\n",
    );
}

#[test]
fn spawn_passes_arguments_and_join_returns_results() {
    check(
        r#"
        local t = task.spawn(function(a, b) task.yield() return a + b, "sum" end, 2, 3)
        print(task.join(t))
        print(t:join())
        print(t:status(), task.status(t))
        print(math.type(task.id()), task.id() ~= t:id())
        "#,
        "5\tsum\n5\tsum\nfinished\tfinished\ninteger\ttrue\n",
    );
}

#[test]
fn unbuffered_channel_is_a_rendezvous() {
    // The sender cannot finish `send` before a receiver takes the value.
    check(
        r#"
        local ch = chan.new()
        task.spawn(function()
          print("sending")
          ch:send("x")
          print("sent")
        end)
        task.yield()
        print("receiver waits", ch:len())
        print(ch:recv())
        task.yield()
        "#,
        "sending\nreceiver waits\t0\nx\ttrue\nsent\n",
    );
}

#[test]
fn buffered_channel_blocks_only_when_full() {
    check(
        r#"
        local ch = chan.new(2)
        local t = task.spawn(function()
          for i = 1, 3 do ch:send(i) print("sent " .. i) end
        end)
        task.yield()
        print(t:status(), ch:len(), ch:cap())
        print(ch:recv())
        task.yield()
        print(t:status(), ch:len())
        print(ch:recv()) print(ch:recv())
        "#,
        "sent 1\nsent 2\nwaiting\t2\t2\n1\ttrue\nsent 3\nfinished\t2\n2\ttrue\n3\ttrue\n",
    );
}

#[test]
fn closed_channels_drain_then_report_closed() {
    check(
        r#"
        local ch = chan.new(3)
        ch:send("a") ch:send("b")
        ch:close()
        print(ch:recv()) print(ch:recv()) print(ch:recv()) print(ch:recv())
        print(pcall(ch.send, ch, "c"))
        print(pcall(ch.close, ch))
        -- Receivers waiting when the channel closes wake with nil, false;
        -- senders waiting on it fail.
        local u = chan.new()
        local r = task.spawn(function() return u:recv() end)
        task.spawn(function() u:close() end)
        task.yield()
        print(task.join(r))
        local full = chan.new()
        local sender = task.spawn(function() full:send(1) end)
        task.yield()
        full:close()
        print(pcall(task.join, sender))
        "#,
        "a\ttrue\nb\ttrue\nnil\tfalse\nnil\tfalse\n\
         false\tsend on closed channel\nfalse\tclose of closed channel\n\
         nil\tfalse\nfalse\tsend on closed channel\n",
    );
}

#[test]
fn select_picks_a_ready_case_or_times_out() {
    check(
        r#"
        local a, b = chan.new(1), chan.new(1)
        b:send("from b")
        print(chan.select{ {a, "recv"}, {b, "recv"} })
        print(chan.select{ {a, "send", 1}, {b, "recv"} })
        print(a:recv())
        -- Nothing ready: the timeout fires on the logical clock.
        local t0 = task.now()
        print(chan.select{ {a, "recv"}, timeout = 0.5 })
        print(task.now() - t0)
        -- timeout = 0 polls.
        print(chan.select{ {a, "recv"}, timeout = 0 })
        -- A case that becomes ready later wins over the timeout.
        task.spawn(function() task.sleep(1) b:send("late") end)
        print(chan.select{ {a, "recv"}, {b, "recv"}, timeout = 2 })
        print(task.now() - t0)
        -- The losing cases leave nothing behind: a later send to `a` is
        -- not taken by the finished select.
        a:send("kept")
        print(a:len(), a:recv())
        "#,
        "2\tfrom b\ttrue\n1\n1\ttrue\n\n0.5\n\n2\tlate\ttrue\n1.5\n1\tkept\ttrue\n",
    );
}

#[test]
fn sleeps_wake_in_deadline_order_on_the_logical_clock() {
    check(
        r#"
        local start = task.now()
        for _, d in ipairs{0.3, 0.1, 0.2, 0.1} do
          task.spawn(function() task.sleep(d) print(d, task.now() - start) end)
        end
        task.sleep(1)
        print("main", task.now() - start)
        "#,
        "0.1\t0.1\n0.1\t0.1\n0.2\t0.2\n0.3\t0.3\nmain\t1.0\n",
    );
}

#[test]
fn cancel_stops_a_task_and_its_joiners_get_the_error() {
    check(
        r#"
        local ch = chan.new()
        local t = task.spawn(function() ch:recv() print("never") end)
        local sleeper = task.spawn(function() task.sleep(5) print("never either") end)
        task.yield()
        print(task.cancel(t), t:status())
        print(task.cancel(t))
        print(pcall(task.join, t))
        print(sleeper:cancel(), sleeper:status())
        -- The cancelled receiver no longer takes values.
        task.spawn(function() ch:send("v") end)
        print(ch:recv())
        -- A task can cancel itself.
        local me
        me = task.spawn(function() task.yield() task.cancel(me) print("not reached") end)
        task.sleep(1)
        print(me:status())
        "#,
        "true\tcancelled\nfalse\nfalse\ttask cancelled\ntrue\tcancelled\nv\ttrue\ncancelled\n",
    );
}

#[test]
fn an_error_in_a_task_does_not_stop_the_others() {
    let (mut rt, out) = runtime();
    let failures = Rc::new(RefCell::new(Vec::<TaskFailure>::new()));
    let seen = failures.clone();
    rt.on_task_error(move |f| seen.borrow_mut().push(f));
    rt.exec(
        br#"
        task.spawn(function() task.yield() error("boom") end)
        task.spawn(function() for i = 1, 3 do task.yield() end print("survivor done") end)
        local joined = task.spawn(function() error({code = 7}) end)
        print(select(2, pcall(task.join, joined)).code)
        print("main done")
        "#,
        "=test",
        &[],
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.borrow()),
        "7\nmain done\nsurvivor done\n"
    );
    let failures = failures.borrow();
    // The joined task's error went to its joiner, not to the handler.
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].message, "test:2: boom");
    assert!(failures[0].traceback.contains("stack traceback:"));
}

#[test]
fn an_error_in_the_main_task_ends_the_run() {
    let (out, result) = run("task.spawn(function() print('never') end) error('main failed')");
    match result {
        Err(Error::Runtime { message, .. }) => assert_eq!(message, "test:1: main failed"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(out, "");
}

#[test]
fn deadlock_is_an_error_naming_the_waits() {
    let (out, result) = run(r#"
        local a, b = chan.new(), chan.new()
        task.spawn(function() a:recv() end)
        print("waiting")
        b:recv()
        "#);
    assert_eq!(out, "waiting\n");
    match result {
        Err(Error::Deadlock(waits)) => {
            assert_eq!(waits, "task 1 in chan recv, task 2 in chan recv")
        }
        other => panic!("expected a deadlock, got {other:?}"),
    }
    // Joining a task that waits forever is a deadlock too.
    let (_, result) = run("local t = task.spawn(function() chan.new():recv() end) task.join(t)");
    assert!(matches!(result, Err(Error::Deadlock(_))), "{result:?}");
}

#[test]
fn a_busy_task_cannot_starve_the_others() {
    // The spinning task never yields; fuel slices preempt it, so the
    // other task gets to run and stop it.
    check(
        r#"
        local stop = false
        local spins = 0
        task.spawn(function() while not stop do spins = spins + 1 end print("spinner stopped") end)
        task.spawn(function() print("other runs") stop = true end)
        "#,
        "other runs\nspinner stopped\n",
    );
}

#[test]
fn coroutines_inside_tasks_can_wait() {
    // A task may park from inside a coroutine it resumed; the coroutine
    // chain is saved with the task.
    check(
        r#"
        local ch = chan.new()
        task.spawn(function()
          local co = coroutine.wrap(function()
            coroutine.yield(ch:recv())
            return "after"
          end)
          print(co())
          print(co())
        end)
        task.yield()
        ch:send("through the coroutine")
        task.yield()
        print(pcall(coroutine.yield))
        "#,
        "through the coroutine\ttrue\nafter\nfalse\tattempt to yield from outside a coroutine\n",
    );
}

#[test]
fn argument_errors_are_lua_errors() {
    check(
        r#"
        print(pcall(task.spawn, 1))
        print(pcall(chan.new, -1))
        print(pcall(chan.select, { {} }))
        print(pcall(chan.select, { {chan.new(), "peek"} }))
        print(pcall(task.join, {}))
        print(pcall(task.join, task.spawn(function() end)))
        "#,
        "false\tbad argument #1 to 'task.spawn' (function expected, got number)\n\
         false\tbad argument #1 to 'chan.new' (capacity must be >= 0)\n\
         false\tbad argument #1 to 'chan.select' (case 1 has no channel)\n\
         false\tbad argument #1 to 'chan.select' (case 1: operation must be 'recv' or 'send')\n\
         false\tbad argument #1 to 'task.join' (task expected, got table)\n\
         true\n",
    );
}
