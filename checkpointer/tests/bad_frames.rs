//! Corrupt frames are refused with the right typed error, never a panic,
//! and a refused image changes nothing in the runtime it was offered to.

use proptest::prelude::*;
use understudy_checkpointer::frame::{decode_header, HEADER_LEN};
use understudy_checkpointer::{decode, encode, Compression, FrameError, Position};
use understudy_runtime::image::ImageError;
use understudy_runtime::runtime::SharedBuffer;
use understudy_runtime::{Config, Runtime};

/// A real frame: a program with a task parked on a channel, mid-run.
fn real_frame(compression: Compression) -> Vec<u8> {
    let mut rt = Runtime::new(Config {
        virtual_time: true,
        ..Config::default()
    });
    rt.set_output(Box::new(SharedBuffer::default()));
    rt.load(
        br#"
        local ch = chan.new()
        data = {}
        for i = 1, 200 do data[i] = ("item %d"):format(i) end
        task.spawn(function() print(ch:recv()) end)
        task.sleep(1)
        ch:send("late")
        "#,
        "=frame",
        &[],
    )
    .unwrap();
    assert!(!rt.run_turns(3).unwrap());
    let mut image = rt.checkpoint();
    image.epoch = 3;
    encode(
        &image,
        Position {
            runtime_id: 7,
            term: 1,
        },
        compression,
    )
}

#[test]
fn every_truncation_is_refused_as_truncated() {
    for compression in [Compression::None, Compression::Lz4] {
        let frame = real_frame(compression);
        assert!(decode(&frame).is_ok());
        for len in 0..frame.len() {
            match decode(&frame[..len]) {
                Err(FrameError::Truncated { needed, got }) => {
                    assert_eq!(got, len as u64);
                    assert!(needed > got);
                }
                other => panic!("a frame cut at {len} gave {other:?}"),
            }
        }
        let mut longer = frame.clone();
        longer.push(0);
        assert_eq!(decode(&longer).unwrap_err(), FrameError::TrailingBytes(1));
    }
}

#[test]
fn header_fields_are_checked_by_name() {
    let frame = real_frame(Compression::Lz4);
    let mut bad = frame.clone();
    bad[0] = b'X';
    assert_eq!(decode(&bad).unwrap_err(), FrameError::BadMagic);
    let mut bad = frame.clone();
    bad[4] = 9;
    assert_eq!(
        decode(&bad).unwrap_err(),
        FrameError::UnsupportedVersion { found: 9 }
    );
    let header = decode_header(&frame).unwrap();
    assert_eq!((header.runtime_id, header.term, header.epoch), (7, 1, 3));
}

#[test]
fn bit_flips_anywhere_are_refused() {
    let frame = real_frame(Compression::Lz4);
    // Every bit of the header, and a spread of bits through the body.
    let body_step = ((frame.len() - HEADER_LEN) / 997).max(1);
    let positions = (0..HEADER_LEN).chain((HEADER_LEN..frame.len()).step_by(body_step));
    for byte in positions {
        for bit in 0..8 {
            let mut bad = frame.clone();
            bad[byte] ^= 1 << bit;
            let err = decode(&bad).expect_err("a flipped bit must be noticed");
            if byte >= HEADER_LEN {
                assert!(
                    matches!(err, FrameError::ChecksumMismatch { .. }),
                    "byte {byte} bit {bit}: {err:?}"
                );
            }
        }
    }
}

#[test]
fn a_refused_image_leaves_the_runtime_as_it_was() {
    let frame = real_frame(Compression::None);
    let (_, mut image) = decode(&frame).unwrap();
    // A well-formed frame whose image names a native this runtime lacks.
    for obj in image.objects.values_mut() {
        if let understudy_runtime::image::Object::Native { name, .. } = obj {
            if name == "print" {
                *name = "app.missing".to_owned();
            }
        }
    }
    let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut rt = Runtime::new(Config::default());
    rt.set_output(Box::new(SharedBuffer(out.clone())));
    rt.exec(b"kept = 41", "=before", &[]).unwrap();
    assert_eq!(
        rt.restore(&image).unwrap_err(),
        ImageError::UnknownNative {
            name: "app.missing".to_owned()
        }
    );
    rt.exec(b"print(kept + 1)", "=after", &[]).unwrap();
    assert_eq!(&*out.borrow(), b"42\n");
    // A delta cannot stand alone.
    image.full = false;
    assert_eq!(rt.restore(&image).unwrap_err(), ImageError::NotFull);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn arbitrary_bodies_behind_a_valid_header_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        lz4 in any::<bool>(),
    ) {
        // A header that passes every check, over garbage: the decoder must
        // answer with an error, not panic (the checksum is made to match).
        let mut frame = real_header(body.len() as u64, crc32c_of(&body), lz4);
        frame.extend_from_slice(&body);
        let _ = decode(&frame);
    }
}

fn crc32c_of(b: &[u8]) -> u32 {
    crc32c::crc32c(b)
}

fn real_header(body_len: u64, body_crc: u32, lz4: bool) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(b"USCP");
    h.extend_from_slice(&1u16.to_le_bytes());
    h.push(0);
    h.push(u8::from(lz4));
    for v in [1u64, 1, 1, 0, body_len] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h.extend_from_slice(&body_crc.to_le_bytes());
    let crc = crc32c_of(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(h.len(), HEADER_LEN);
    h
}

#[test]
fn inconsistent_threads_are_refused_before_they_run() {
    use understudy_runtime::image::{FrameRecord, Object};
    let (_, image) = decode(&real_frame(Compression::None)).unwrap();
    let mut broken = 0;
    for (id, obj) in &image.objects {
        let Object::Thread(t) = obj else { continue };
        if !t
            .frames
            .iter()
            .any(|f| matches!(f, FrameRecord::Lua { .. }))
        {
            continue;
        }
        let mut bad = image.clone();
        let Some(Object::Thread(t)) = bad.objects.get_mut(id) else {
            unreachable!()
        };
        for f in &mut t.frames {
            if let FrameRecord::Lua { pc, .. } = f {
                *pc = u32::MAX;
            }
        }
        let mut rt = Runtime::new(Config::default());
        assert!(
            matches!(rt.restore(&bad), Err(ImageError::Invalid(_))),
            "thread {id} with a wild pc was accepted"
        );
        broken += 1;
    }
    assert!(broken > 0);
}
