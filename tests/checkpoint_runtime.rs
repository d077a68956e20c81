//! Checkpointing from the program's side: the policies that take
//! checkpoints, what each one reports, and what becomes of timers,
//! listeners and connections when a runtime is restored elsewhere.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use understudy::runtime::image::Image;
use understudy::runtime::runtime::{CheckpointInfo, CheckpointPolicy, SharedBuffer};
use understudy::{Config, Runtime};

type Taken = Rc<RefCell<Vec<(Image, CheckpointInfo)>>>;

fn recording(rt: &mut Runtime, policy: CheckpointPolicy) -> Taken {
    let taken: Taken = Rc::default();
    let sink = taken.clone();
    rt.set_checkpointing(policy, move |image, info| {
        sink.borrow_mut().push((image, *info))
    });
    taken
}

#[test]
fn lua_asks_for_checkpoints_and_each_reports_its_cost() {
    let mut rt = Runtime::new(Config::default());
    let taken = recording(&mut rt, CheckpointPolicy::default());
    rt.exec(
        b"x = 1 checkpoint.now() x = 2 checkpoint.now() checkpoint.now()",
        "=main",
        &[],
    )
    .unwrap();
    let taken = taken.borrow();
    assert_eq!(taken.len(), 3);
    assert!(taken[0].1.full && taken[0].0.full);
    assert!(!taken[1].1.full && !taken[2].1.full);
    for (i, (image, info)) in taken.iter().enumerate() {
        assert_eq!(info.sequence, i as u64 + 1);
        assert_eq!(info.records, image.objects.len());
        assert!(info.pause > Duration::ZERO);
    }
    // The second image holds the change made between the two requests.
    let mut base = taken[0].0.clone();
    base.apply(taken[1].0.clone()).unwrap();
    let mut restored = Runtime::new(Config::default());
    restored.restore(&base).unwrap();
    restored.exec(b"assert(x == 2, x)", "=check", &[]).unwrap();
}

/// A restored runtime whose sink holds the image it came from continues
/// with a delta against it; one that has taken an image since, or a new
/// runtime, starts with a full image.
#[test]
fn a_restored_runtime_continues_its_chain_with_a_delta() {
    let mut rt = Runtime::new(Config::default());
    rt.exec(
        b"t = {} for i = 1, 1000 do t[i] = 'v' .. i end",
        "=setup",
        &[],
    )
    .unwrap();
    let image = rt.checkpoint();

    let mut restored = Runtime::new(Config::default());
    restored.restore(&image).unwrap();
    assert_eq!(restored.restored_epoch(), Some(image.epoch));
    let taken: Taken = Rc::default();
    let sink = taken.clone();
    assert!(
        restored.continue_checkpointing(CheckpointPolicy::default(), move |image, info| {
            sink.borrow_mut().push((image, *info))
        })
    );
    restored
        .exec(b"t[7] = 'seven' checkpoint.now()", "=change", &[])
        .unwrap();
    let (delta, info) = taken.borrow()[0].clone();
    assert!(!delta.full && !info.full);
    assert_eq!(delta.parent, image.epoch);
    // The new chunk and its change, not the thousand strings of `t`.
    assert!(delta.objects.len() < 100, "{} records", delta.objects.len());
    // The chunk went on after its request: one more image, then the
    // chain from the restored image equals the heap.
    restored.checkpoint_now().unwrap();
    let mut held = image.clone();
    held.apply(delta).unwrap();
    held.apply(taken.borrow()[1].0.clone()).unwrap();
    assert!(held.same_heap(&restored.snapshot()));
    assert_eq!(restored.restored_epoch(), None, "an image was taken since");

    // Nothing restored: the first image is full.
    let mut fresh = Runtime::new(Config::default());
    let taken: Taken = Rc::default();
    let sink = taken.clone();
    assert!(
        !fresh.continue_checkpointing(CheckpointPolicy::default(), move |image, info| {
            sink.borrow_mut().push((image, *info))
        })
    );
    fresh.exec(b"checkpoint.now()", "=first", &[]).unwrap();
    assert!(taken.borrow()[0].0.full);
}

#[test]
fn instruction_and_time_policies_fire() {
    let mut rt = Runtime::new(Config {
        virtual_time: true,
        ..Config::default()
    });
    let by_count = recording(
        &mut rt,
        CheckpointPolicy {
            every: None,
            every_instructions: Some(50_000),
        },
    );
    rt.exec(
        b"local s = 0 for i = 1, 200000 do s = s + i end",
        "=count",
        &[],
    )
    .unwrap();
    let n = by_count.borrow().len();
    assert!(
        (3..=30).contains(&n),
        "{n} checkpoints for ~800k instructions"
    );

    let mut rt = Runtime::new(Config {
        virtual_time: true,
        ..Config::default()
    });
    let by_time = recording(
        &mut rt,
        CheckpointPolicy {
            every: Some(Duration::from_millis(100)),
            every_instructions: None,
        },
    );
    rt.exec(b"for i = 1, 10 do task.sleep(0.05) end", "=sleep", &[])
        .unwrap();
    // 0.5 s of logical time, one checkpoint per 100 ms.
    let n = by_time.borrow().len();
    assert!((4..=6).contains(&n), "{n} checkpoints over 0.5 s");
}

#[test]
fn timers_continue_and_connections_are_lost_after_a_restore() {
    let out = Rc::new(RefCell::new(Vec::new()));
    let mut rt = Runtime::new(Config::default());
    rt.set_output(Box::new(SharedBuffer(out.clone())));
    rt.load(
        br#"
        local l = assert(net.listen("127.0.0.1:0"))
        addr = l:addr()
        local accepted = chan.new(1)
        task.spawn(function()
          while true do
            local c = l:accept()
            if c then accepted:send(c) end
          end
        end)
        local client = assert(net.connect(addr))
        local server_side = accepted:recv()
        local t0 = task.now()
        task.spawn(function() task.sleep(0.2) print("timer fired after", task.now() - t0 >= 0.2) end)
        checkpoint.now()
        -- After a restore, the old connection is gone: the blocked read
        -- wakes with the failover error.
        print(client:read())
        print(server_side:write("x"))
        -- The listener is back on its address.
        local again = assert(net.connect(addr))
        again:write("hello\n")
        print(accepted:recv():read_line())
        "#,
        "=resources",
        &[],
    )
    .unwrap();
    let image: Rc<RefCell<Option<Image>>> = Rc::default();
    let slot = image.clone();
    rt.set_checkpointing(CheckpointPolicy::default(), move |img, _| {
        if slot.borrow().is_none() {
            *slot.borrow_mut() = Some(img);
        }
    });
    // Run until the checkpoint is taken, then stop this runtime (its
    // sockets close with it).
    for _ in 0..1000 {
        if image.borrow().is_some() {
            break;
        }
        rt.run_turns(1).unwrap();
    }
    let image = image
        .borrow_mut()
        .take()
        .expect("the program asked for a checkpoint");
    drop(rt);

    let mut restored = Runtime::new(Config::default());
    restored.set_output(Box::new(SharedBuffer(out.clone())));
    restored.restore(&image).unwrap();
    let io = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    io.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(10),
            restored.run_until(tokio::time::sleep(Duration::from_millis(600))),
        )
        .await
        .expect("bounded")
        .unwrap();
    });
    let text = String::from_utf8_lossy(&out.borrow()).into_owned();
    assert_eq!(
        text,
        "nil\tconnection lost in failover\n\
         nil\tconnection lost in failover\n\
         hello\n\
         timer fired after\ttrue\n"
    );
}

/// A follower refuses a delta that does not continue its epoch or that
/// refers to objects it does not hold, and keeps the heap it had: the
/// next good delta still applies, and the program takes over from it.
#[test]
fn a_follower_refuses_bad_deltas_and_keeps_its_heap() {
    use understudy::runtime::image::{ImageError, Object, TablePatch, Val};
    let mut primary = Runtime::new(Config::default());
    primary.exec(b"t = {} n = 0", "=main", &[]).unwrap();
    let full = primary.checkpoint();
    primary.exec(b"t.k = 'v' n = n + 1", "=step", &[]).unwrap();
    let delta = primary.checkpoint_delta();
    let mut follower = Runtime::new(Config::default());
    follower.follow(&full).unwrap();
    // Not the next epoch.
    let mut gap = delta.clone();
    gap.parent += 1;
    assert!(matches!(follower.follow(&gap), Err(ImageError::Gap { .. })));
    // A patch of a table nobody holds, and a reference to nothing.
    let mut dangling = delta.clone();
    let missing = dangling.root.next_id - 1 + 1000;
    dangling.root.next_id += 2000;
    dangling.objects.insert(
        missing,
        Object::TablePatch(Box::new(TablePatch {
            meta: None,
            array_len: 0,
            entries_len: 1,
            array: vec![],
            entries: vec![(0, Val::Int(1), Val::Int(2))],
        })),
    );
    assert!(follower.follow(&dangling).is_err());
    let mut dangling = delta.clone();
    dangling.root.globals = dangling.root.next_id + 7;
    assert!(follower.follow(&dangling).is_err());
    assert_eq!(follower.following(), Some(full.epoch));
    assert!(follower.snapshot().same_heap(&full));
    // The good delta still applies; the program continues from it.
    follower.follow(&delta).unwrap();
    assert_eq!(follower.following(), Some(delta.epoch));
    follower.take_over();
    let out = Rc::new(RefCell::new(Vec::new()));
    follower.set_output(Box::new(SharedBuffer(out.clone())));
    follower.exec(b"print(t.k, n)", "=after", &[]).unwrap();
    follower.flush();
    assert_eq!(String::from_utf8_lossy(&out.borrow()), "v\t1\n");
}
