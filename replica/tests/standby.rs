//! The standby's frame handling: in-order frames are persisted; replayed,
//! out-of-order, foreign and corrupt frames are refused and change
//! nothing; a restarted standby picks up where its disk's chain ends.

use understudy_checkpointer::{encode, store, Compression, Position};
use understudy_replica::Standby;
use understudy_runtime::image::Image;
use understudy_runtime::{Config, Runtime};

/// `image` as a frame of `runtime_id`, restamped at `epoch` after
/// `parent` (to make replayed and out-of-order frames).
fn frame(image: &Image, runtime_id: u64, epoch: u64, parent: u64) -> Vec<u8> {
    let mut image = image.clone();
    image.epoch = epoch;
    image.parent = parent;
    encode(
        &image,
        Position {
            runtime_id,
            term: 1,
        },
        Compression::Lz4,
    )
}

/// Whether the data directory holds the heap `b` describes.
fn holds(dir: &std::path::Path, b: &Image) -> bool {
    store::load(dir).unwrap().image.same_heap(b)
}

#[test]
fn frames_apply_in_order_and_replays_are_refused() {
    let dir = std::env::temp_dir().join(format!("understudy-standby-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut rt = Runtime::new(Config::default());
    rt.exec(b"t = {} for i = 1, 100 do t[i] = i end", "=setup", &[])
        .unwrap();
    let full = rt.checkpoint();
    rt.exec(b"t[1] = 'one'", "=a", &[]).unwrap();
    let d2 = rt.checkpoint_delta();
    rt.exec(b"t[2] = 'two'", "=b", &[]).unwrap();
    let d3 = rt.checkpoint_delta();

    let mut standby = Standby::open(&dir).unwrap();
    assert_eq!(standby.epoch(), 0);
    // A delta before any full image is refused.
    assert!(standby.apply_frame(&frame(&d2, 9, 2, 1)).is_err());
    assert_eq!(standby.apply_frame(&frame(&full, 9, 1, 0)), Ok(1));
    assert_eq!(standby.apply_frame(&frame(&d2, 9, 2, 1)), Ok(2));
    let before = store::load(&dir).unwrap().image;
    // Replayed, out of order, from another runtime, corrupt: refused.
    assert!(standby.apply_frame(&frame(&d2, 9, 2, 1)).is_err());
    assert!(standby.apply_frame(&frame(&d3, 9, 4, 3)).is_err());
    assert!(standby.apply_frame(&frame(&d3, 7, 3, 2)).is_err());
    let mut corrupt = frame(&d3, 9, 3, 2);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    assert!(standby.apply_frame(&corrupt).is_err());
    assert_eq!(standby.epoch(), 2);
    assert!(holds(&dir, &before), "a refused frame changed what is held");
    assert_eq!(standby.apply_frame(&frame(&d3, 9, 3, 2)), Ok(3));
    let now = rt.checkpoint();
    assert!(holds(&dir, &now));
    drop(standby);

    // A restarted standby holds what its disk holds and continues.
    let mut again = Standby::open(&dir).unwrap();
    assert_eq!(again.epoch(), 3);
    assert!(holds(&dir, &now));
    rt.exec(b"t[3] = 'three'", "=c", &[]).unwrap();
    let d4 = rt.checkpoint_delta();
    assert_eq!(again.apply_frame(&frame(&d4, 9, 4, 3)), Ok(4));
    // Promotion raises the term, durably.
    // (A standby that never met a primary holds term 0.)
    assert_eq!(again.promote().unwrap(), 1);
    drop(again);
    assert_eq!(Standby::open(&dir).unwrap().term(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--serve-on`: a followed program's listener re-opens at the new
/// address when it takes over.
#[test]
fn serve_on_moves_a_listener() {
    let listener_addr = |image: &Image| {
        image.objects.values().find_map(|o| match o {
            understudy_runtime::image::Object::UserData {
                kind: understudy_runtime::image::UserKindRecord::Resource { addr, .. },
                ..
            } => Some(addr.clone()),
            _ => None,
        })
    };
    let mut rt = Runtime::new(Config::default());
    rt.exec(
        b"l = assert(net.listen('127.0.0.1:0')) addr = l:addr()",
        "=l",
        &[],
    )
    .unwrap();
    let image = rt.checkpoint();
    let old = listener_addr(&image).unwrap();
    let mut follower = Runtime::new(Config::default());
    follower.follow(&image).unwrap();
    let moved = follower.move_listeners(&[(old.clone(), "127.0.0.1:1".to_owned())]);
    assert_eq!(moved, 1, "listener at {old} not moved");
    assert_eq!(
        listener_addr(&follower.snapshot()).as_deref(),
        Some("127.0.0.1:1")
    );
}
