//! The standby's frame handling: in-order frames are applied and
//! persisted; replayed, out-of-order and foreign frames are refused and
//! change nothing; a restarted standby picks up what its disk holds.

use understudy_checkpointer::{encode, Compression, Position};
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

fn same(a: &Image, b: &Image) -> bool {
    a.same_heap(b)
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
    assert!(standby.image().is_none());
    // A delta before any full image is refused.
    assert!(standby.apply_frame(&frame(&d2, 9, 2, 1)).is_err());
    assert_eq!(standby.apply_frame(&frame(&full, 9, 1, 0)), Ok(1));
    assert_eq!(standby.apply_frame(&frame(&d2, 9, 2, 1)), Ok(2));
    let before = standby.image().unwrap().clone();
    // Replayed, out of order, from another runtime, corrupt: refused.
    assert!(standby.apply_frame(&frame(&d2, 9, 2, 1)).is_err());
    assert!(standby.apply_frame(&frame(&d3, 9, 4, 3)).is_err());
    assert!(standby.apply_frame(&frame(&d3, 7, 3, 2)).is_err());
    let mut corrupt = frame(&d3, 9, 3, 2);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    assert!(standby.apply_frame(&corrupt).is_err());
    assert_eq!(standby.epoch(), 2);
    assert!(
        same(standby.image().unwrap(), &before),
        "a refused frame changed the image"
    );
    assert_eq!(standby.apply_frame(&frame(&d3, 9, 3, 2)), Ok(3));
    let now = rt.checkpoint();
    assert!(same(standby.image().unwrap(), &now));
    drop(standby);

    // A restarted standby holds what its disk holds and continues.
    let mut again = Standby::open(&dir).unwrap();
    assert_eq!(again.epoch(), 3);
    assert!(same(again.image().unwrap(), &now));
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

#[test]
fn serve_on_moves_a_listener() {
    let mut rt = Runtime::new(Config::default());
    rt.exec(
        b"l = assert(net.listen('127.0.0.1:0')) addr = l:addr()",
        "=l",
        &[],
    )
    .unwrap();
    let mut image = rt.checkpoint();
    let old = image
        .objects
        .values()
        .find_map(|o| match o {
            understudy_runtime::image::Object::UserData {
                kind: understudy_runtime::image::UserKindRecord::Resource { addr, .. },
                ..
            } => Some(addr.clone()),
            _ => None,
        })
        .unwrap();
    understudy_replica::serve_on_addresses(&mut image, &[(old.clone(), "127.0.0.1:1".to_owned())]);
    let moved = image.objects.values().any(|o| {
        matches!(o, understudy_runtime::image::Object::UserData {
            kind: understudy_runtime::image::UserKindRecord::Resource { addr, .. },
            ..
        } if addr == "127.0.0.1:1")
    });
    assert!(moved, "listener at {old} not moved");
}
