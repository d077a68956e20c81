//! Checkpoint costs against heap size: for live tables of about 1 MB, 100 MB
//! and 1 GB, with 10,000 entries changed per epoch, the pause to capture a
//! delta (median and p99 over the epochs), the delta's bytes, the full
//! image's bytes against the live payload, and the time to restore a
//! runtime from the full image.
//!
//! `cargo bench --bench checkpoint` (`CHECKPOINT_BENCH_SIZES=1,100` in MB
//! to pick sizes, `CHECKPOINT_BENCH_EPOCHS` for epochs per size).

use std::time::{Duration, Instant};

use understudy::{Config, Runtime};
use understudy_checkpointer::{decode, encode, Compression, Position};

/// Bytes of one array slot (a Lua value).
const SLOT_BYTES: usize = 16;
const CHANGES_PER_EPOCH: usize = 10_000;

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("CHECKPOINT_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 100, 1000]);
    let epochs: usize = std::env::var("CHECKPOINT_BENCH_EPOCHS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    println!(
        "| live table data | entries | full image (lz4) | full / payload | full capture | delta pause median | delta pause p99 | delta bytes (lz4) | pause, 10k adjacent entries | restore |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for mb in sizes {
        let n = mb * 1_000_000 / SLOT_BYTES;
        let mut rt = Runtime::new(Config::default());
        rt.exec(
            format!("t = {{}} for i = 1, {n} do t[i] = i end").as_bytes(),
            "=build",
            &[],
        )
        .expect("building the heap");
        let start = Instant::now();
        let full = rt.checkpoint();
        let full_capture = start.elapsed();
        let full_frame = encode(&full, Position::default(), Compression::Lz4);
        let payload = n * SLOT_BYTES;
        drop(full);

        let mut pauses = Vec::with_capacity(epochs);
        let mut delta_bytes = Vec::with_capacity(epochs);
        let change = format!(
            "local s = seed or 1 for _ = 1, {CHANGES_PER_EPOCH} do \
             s = (s * 1103515245 + 12345) % 2147483648 local i = s % {n} + 1 t[i] = t[i] + 1 end seed = s"
        );
        for _ in 0..epochs {
            rt.exec(change.as_bytes(), "=change", &[])
                .expect("changing entries");
            let start = Instant::now();
            let delta = rt.checkpoint_delta();
            pauses.push(start.elapsed());
            delta_bytes.push(encode(&delta, Position::default(), Compression::Lz4).len());
        }
        pauses.sort();
        delta_bytes.sort();
        // The same number of changes to adjacent entries: what the
        // capture costs without a cache miss per entry.
        let adjacent = format!(
            "local s = (seed * 7) % {n} for i = s + 1, math.min(s + {CHANGES_PER_EPOCH}, {n}) do t[i] = t[i] + 1 end seed = seed + 1"
        );
        let mut adjacent_pauses = Vec::with_capacity(epochs);
        for _ in 0..epochs {
            rt.exec(adjacent.as_bytes(), "=adjacent", &[])
                .expect("changing entries");
            let start = Instant::now();
            std::hint::black_box(rt.checkpoint_delta());
            adjacent_pauses.push(start.elapsed());
        }
        adjacent_pauses.sort();

        let (_, image) = decode(&full_frame).expect("decoding the full frame");
        drop(rt);
        let mut restored = Runtime::new(Config::default());
        let start = Instant::now();
        restored.restore(&image).expect("restoring");
        let restore = start.elapsed();
        drop(image);
        restored
            .exec(format!("assert(#t == {n})").as_bytes(), "=check", &[])
            .expect("the restored heap holds the table");

        println!(
            "| {mb} MB | {n} | {:.1} MB | {:.2} | {} ms | {} ms | {} ms | {} | {} ms | {} ms |",
            full_frame.len() as f64 / 1e6,
            full_frame.len() as f64 / payload as f64,
            ms(full_capture),
            ms(percentile(&pauses, 0.5)),
            ms(percentile(&pauses, 0.99)),
            delta_bytes[delta_bytes.len() / 2],
            ms(percentile(&adjacent_pauses, 0.5)),
            ms(restore),
        );
    }
    println!();
    println!(
        "{CHANGES_PER_EPOCH} random entries changed per epoch; pause = time the program is stopped to capture the delta; \
         delta bytes = median lz4 frame; restore = building a runtime from the decoded full image."
    );
}
