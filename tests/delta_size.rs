//! Deltas are deltas: after changing k entries of a table of n entries, the
//! delta holds O(k) records and bytes whatever n is; garbage made and
//! dropped within an epoch is not in it; a full image is within a stated
//! factor of the live data.

use proptest::prelude::*;
use understudy::runtime::image::Object;
use understudy::{Config, Runtime};
use understudy_checkpointer::{encode, Compression, Position};

fn runtime_with_table(n: usize) -> Runtime {
    let mut rt = Runtime::new(Config::default());
    rt.exec(
        format!("t = {{}} for i = 1, {n} do t[i] = i end names = {{}} for i = 1, 1000 do names['k' .. i] = i end")
            .as_bytes(),
        "=setup",
        &[],
    )
    .unwrap();
    rt
}

fn encoded_len(image: &understudy::runtime::image::Image) -> usize {
    encode(image, Position::default(), Compression::None).len()
}

#[test]
fn ten_changes_to_a_million_entry_table_make_a_small_delta() {
    let mut rt = runtime_with_table(1_000_000);
    let full = rt.checkpoint();
    let full_bytes = encoded_len(&full);
    rt.exec(
        b"for i = 1, 10 do t[i * 99991] = -i end names.k7 = 'seven'",
        "=change",
        &[],
    )
    .unwrap();
    let delta = rt.checkpoint_delta();
    let bytes = encoded_len(&delta);
    let patch = delta
        .objects
        .values()
        .find_map(|o| match o {
            Object::TablePatch(p) if p.array_len == 1_000_000 => Some(p),
            _ => None,
        })
        .expect("the big table is sent as a patch");
    assert_eq!(patch.array.len(), 10);
    assert!(
        bytes < 4096,
        "delta is {bytes} bytes (full image {full_bytes})"
    );
    assert!(full_bytes > 1_000_000, "the full image holds the table");
}

#[test]
fn garbage_of_an_epoch_is_not_in_its_delta() {
    let mut rt = runtime_with_table(1000);
    rt.checkpoint();
    rt.exec(
        b"local g = {} for i = 1, 20000 do g[i] = { i, tostring(i) .. 'x' } end t[1] = #g",
        "=garbage",
        &[],
    )
    .unwrap();
    let delta = rt.checkpoint_delta();
    let tables = delta
        .objects
        .values()
        .filter(|o| matches!(o, Object::Table(_)))
        .count();
    assert!(tables < 10, "{tables} whole tables in the delta");
    assert!(
        delta.objects.len() < 50,
        "{} records in the delta",
        delta.objects.len()
    );
    assert!(encoded_len(&delta) < 4096);
}

#[test]
fn a_full_image_is_close_to_the_live_data() {
    // 200,000 strings of 24 bytes: 4.8 MB of payload.
    let mut rt = Runtime::new(Config::default());
    rt.exec(
        b"data = {} for i = 1, 200000 do data[i] = ('%024d'):format(i) end",
        "=setup",
        &[],
    )
    .unwrap();
    let payload = 200_000 * 24;
    let bytes = encoded_len(&rt.checkpoint());
    // Per string: the bytes, a length, an id and a reference in the table.
    assert!(
        bytes < payload * 2,
        "full image {bytes} bytes for {payload} bytes of strings"
    );
    let lz4 = encode(&rt.checkpoint(), Position::default(), Compression::Lz4).len();
    assert!(lz4 < bytes, "lz4 {lz4} vs {bytes}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// The delta after k changes does not grow with n.
    #[test]
    fn delta_bytes_depend_on_changes_not_on_size(
        n in prop::sample::select(vec![1_000usize, 10_000, 100_000]),
        k in 1usize..40,
        seed in any::<u32>(),
    ) {
        let mut rt = runtime_with_table(n);
        rt.checkpoint();
        let script = format!(
            "local s = {seed} for _ = 1, {k} do s = (s * 1103515245 + 12345) % 2147483648 \
             local i = s % {n} + 1 t[i] = -i end"
        );
        rt.exec(script.as_bytes(), "=change", &[]).unwrap();
        let bytes = encoded_len(&rt.checkpoint_delta());
        // A fixed part (roots, the main thread, the chunk) plus a few
        // bytes per changed entry.
        prop_assert!(bytes < 2500 + 40 * k, "n={} k={} delta={}", n, k, bytes);
    }
}
