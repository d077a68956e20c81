//! Checkpoint equivalence, the central property: a program checkpointed at
//! any safepoint and restored into a fresh runtime (through the frame
//! format, bytes and all) finishes with exactly the output of an
//! uninterrupted run.
//!
//! Programs: every conformance program and the task/coroutine programs of
//! `tests/checkpoint/`. Turns are short (a few dozen instructions), so
//! safepoints land inside calls, loops, pcalls, coroutines and parked
//! tasks; which turns are checkpointed is drawn from a seeded generator
//! (`CHECKPOINT_SEED` to vary it, `CHECKPOINT_POINTS` for how many per
//! program).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use understudy::runtime::runtime::SharedBuffer;
use understudy::{Config, Runtime};
use understudy_checkpointer::{decode, encode, Compression, Position};

/// Instructions per turn: small, so that there are many safepoints.
const SLICE: u32 = 61;

fn config() -> Config {
    Config {
        virtual_time: true,
        slice: SLICE,
        allow_net: false,
        ..Config::default()
    }
}

/// xorshift64*: reproducible picks without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Programs whose output cannot be the same after a restore, and why.
const EXCLUDED: &[(&str, &str)] = &[
    // Open files are host resources: like connections they do not survive
    // a restore (the handle then reads as closed).
    (
        "conformance/io_write_read.lua",
        "keeps files open across turns",
    ),
    (
        "conformance/base_dofile_loadfile.lua",
        "keeps files open across turns",
    ),
    // Prints a table's address, which differs in every runtime.
    ("conformance/weak_tables.lua", "prints an address"),
];

struct Program {
    name: String,
    source: Vec<u8>,
}

fn programs() -> Vec<Program> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut out = Vec::new();
    for dir in ["conformance", "checkpoint"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "lua"))
            .collect();
        paths.sort();
        for p in paths {
            let name = format!("{dir}/{}", p.file_name().unwrap().to_string_lossy());
            if EXCLUDED.iter().any(|(n, _)| *n == name) {
                continue;
            }
            out.push(Program {
                name,
                source: std::fs::read(&p).unwrap(),
            });
        }
    }
    assert!(out.len() > 100, "found only {} programs", out.len());
    out
}

/// A runtime writing into `out`, with the program loaded.
fn start(program: &Program, out: &Rc<RefCell<Vec<u8>>>) -> Runtime {
    let mut rt = Runtime::new(config());
    rt.set_output(Box::new(SharedBuffer(out.clone())));
    rt.on_task_error(|_| {});
    let chunkname = format!("@{}", program.name.rsplit('/').next().unwrap());
    let source = understudy::runtime::runtime::skip_shebang(&program.source);
    rt.load(source, &chunkname, &[]).unwrap();
    rt
}

/// Output and final result (as text) of a whole run, and its turn count.
fn uninterrupted(program: &Program) -> (Vec<u8>, String, u64) {
    let out = Rc::new(RefCell::new(Vec::new()));
    let mut rt = start(program, &out);
    let mut turns = 0;
    let result = loop {
        match rt.run_turns(1) {
            Ok(true) => break "ok".to_owned(),
            Ok(false) => turns += 1,
            Err(e) => break format!("error: {e}"),
        }
        assert!(turns < 5_000_000, "{} does not finish", program.name);
    };
    let bytes = out.borrow().clone();
    (bytes, result, turns)
}

/// Runs `turns` turns, checkpoints through the frame format, restores into
/// a fresh runtime and finishes there.
fn with_restore_at(program: &Program, turns: u64) -> (Vec<u8>, String) {
    let out = Rc::new(RefCell::new(Vec::new()));
    let mut rt = start(program, &out);
    match rt.run_turns(turns) {
        Ok(true) => return (out.borrow().clone(), "ok".to_owned()),
        Ok(false) => {}
        Err(e) => return (out.borrow().clone(), format!("error: {e}")),
    }
    let image = rt.checkpoint();
    let bytes = encode(&image, Position::default(), Compression::Lz4);
    drop(rt);
    let (_, decoded) = decode(&bytes).expect("a frame we just encoded decodes");
    // (Compared as bytes: NaN registers make `==` on images false.)
    assert!(
        encode(&decoded, Position::default(), Compression::Lz4) == bytes,
        "{}: the image survives the frame",
        program.name
    );
    let mut restored = Runtime::new(config());
    restored.set_output(Box::new(SharedBuffer(out.clone())));
    restored.on_task_error(|_| {});
    restored
        .restore(&decoded)
        .unwrap_or_else(|e| panic!("{}: restore at turn {turns}: {e}", program.name));
    let result = match restored.run_turns(u64::MAX) {
        Ok(true) => "ok".to_owned(),
        Ok(false) => "stopped".to_owned(),
        Err(e) => format!("error: {e}"),
    };
    let bytes = out.borrow().clone();
    (bytes, result)
}

#[test]
fn restored_runs_finish_like_uninterrupted_ones() {
    let seed = std::env::var("CHECKPOINT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_u64);
    let points: u64 = std::env::var("CHECKPOINT_POINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let mut rng = Rng(seed | 1);
    let mut failures = Vec::new();
    let mut checked = 0;
    for program in programs() {
        let (expected, result, turns) = uninterrupted(&program);
        let mut at: Vec<u64> = vec![1];
        for _ in 0..points {
            at.push(1 + rng.below(turns.max(1)));
        }
        for t in at {
            let (got, got_result) = with_restore_at(&program, t);
            checked += 1;
            if got != expected || got_result != result {
                failures.push(format!(
                    "{} restored at turn {t} of {turns}: result {got_result:?} vs {result:?}\n\
                     --- expected output (tail)\n{}\n--- got (tail)\n{}",
                    program.name,
                    tail(&expected),
                    tail(&got)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} restores differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn tail(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

/// Full image at one turn, deltas at two later ones: the base with the
/// deltas applied equals a full image taken at the last point, record for
/// record, and restoring it finishes the program as an uninterrupted run.
fn through_deltas(program: &Program, points: [u64; 3]) -> Result<(Vec<u8>, String), String> {
    let out = Rc::new(RefCell::new(Vec::new()));
    let mut rt = start(program, &out);
    let mut base = None;
    let mut deltas = Vec::new();
    let mut first = None;
    let mut last_full = None;
    let mut prev = 0;
    for (i, t) in points.iter().enumerate() {
        match rt.run_turns(t - prev) {
            Ok(false) => {}
            // Finished (or failed) before the point: nothing to compare.
            Ok(true) | Err(_) => return Ok((Vec::new(), "skipped".into())),
        }
        prev = *t;
        let bytes = if i == 0 {
            encode(&rt.checkpoint(), Position::default(), Compression::Lz4)
        } else {
            let delta = rt.checkpoint_delta();
            assert!(!delta.full);
            encode(&delta, Position::default(), Compression::Lz4)
        };
        let (_, image) = decode(&bytes).map_err(|e| e.to_string())?;
        if i > 0 {
            deltas.push(image.clone());
        } else {
            first = Some(image.clone());
        }
        match base.as_mut() {
            None => base = Some(image),
            Some(b) => understudy::runtime::image::Image::apply(b, image)
                .map_err(|e| format!("apply: {e}"))?,
        }
        if i == 2 {
            last_full = Some(rt.snapshot());
        }
    }
    let base = base.unwrap();
    let full = last_full.unwrap();
    // The two deltas folded into one apply to the same result.
    let mut merged = deltas[0].clone();
    merged.merge_delta(&deltas[1]).map_err(|e| e.to_string())?;
    let mut via_merged: understudy::runtime::image::Image = first.unwrap();
    via_merged.apply(merged).map_err(|e| e.to_string())?;
    if !via_merged.same_heap(&full) {
        let differing: Vec<_> = full
            .objects
            .iter()
            .filter(|(k, v)| via_merged.objects.get(k) != Some(v))
            .map(|(k, v)| format!("{k}: {v:?} vs {:?}", via_merged.objects.get(k)))
            .take(3)
            .collect();
        return Err(format!(
            "merged deltas differ from a full image at {points:?}: {differing:?}, roots equal {}",
            via_merged.root == full.root
        ));
    }
    if !base.same_heap(&full) || base.epoch != full.epoch {
        let missing: Vec<_> = full
            .objects
            .keys()
            .filter(|k| !base.objects.contains_key(k))
            .take(5)
            .collect();
        let extra: Vec<_> = base
            .objects
            .keys()
            .filter(|k| !full.objects.contains_key(k))
            .take(5)
            .collect();
        let differing: Vec<_> = full
            .objects
            .iter()
            .filter(|(k, v)| {
                base.objects
                    .get(k)
                    .is_some_and(|w| format!("{w:?}") != format!("{v:?}"))
            })
            .map(|(k, v)| format!("{k}: {}", v.kind()))
            .take(5)
            .collect();
        return Err(format!(
            "base+deltas differs from a full image at turn {}: missing {missing:?}, extra {extra:?}, differing {differing:?}",
            points[2]
        ));
    }
    drop(rt);
    let mut restored = Runtime::new(config());
    restored.set_output(Box::new(SharedBuffer(out.clone())));
    restored.on_task_error(|_| {});
    restored.restore(&base).map_err(|e| e.to_string())?;
    let result = match restored.run_turns(u64::MAX) {
        Ok(true) => "ok".to_owned(),
        Ok(false) => "stopped".to_owned(),
        Err(e) => format!("error: {e}"),
    };
    let bytes = out.borrow().clone();
    Ok((bytes, result))
}

#[test]
fn base_plus_deltas_equals_a_full_image_and_restores() {
    let seed = std::env::var("CHECKPOINT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xde17a_u64);
    let mut rng = Rng(seed | 1);
    let mut failures = Vec::new();
    let mut checked = 0;
    for program in programs() {
        let (expected, result, turns) = uninterrupted(&program);
        if turns < 3 {
            continue;
        }
        for _ in 0..3 {
            let mut p = [
                1 + rng.below(turns),
                1 + rng.below(turns),
                1 + rng.below(turns),
            ];
            p.sort_unstable();
            if p[0] == p[1] || p[1] == p[2] {
                continue;
            }
            checked += 1;
            match through_deltas(&program, p) {
                Ok((_, skipped)) if skipped == "skipped" => {}
                Ok((got, got_result)) => {
                    if got != expected || got_result != result {
                        failures.push(format!(
                            "{} via deltas at {p:?}: {got_result:?} vs {result:?}\n{}\n---\n{}",
                            program.name,
                            tail(&expected),
                            tail(&got)
                        ));
                    }
                }
                Err(e) => failures.push(format!("{} at {p:?}: {e}", program.name)),
            }
        }
    }
    assert!(checked > 100, "only {checked} delta chains checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} delta chains fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A delta after every turn of the task programs: base + deltas equals a
/// full image at each one, so no change to a task, channel, thread or
/// table escapes the dirty tracking, whichever turn a capture falls after.
#[test]
fn a_delta_after_every_turn_tracks_every_change() {
    let mut checked = 0;
    for program in programs()
        .into_iter()
        .filter(|p| p.name.starts_with("checkpoint/"))
    {
        let out = Rc::new(RefCell::new(Vec::new()));
        let mut rt = start(&program, &out);
        let mut held = rt.checkpoint();
        for turn in 1..=2000 {
            let done = rt.run_turns(1).unwrap_or(true);
            held.apply(rt.checkpoint_delta()).unwrap();
            assert!(
                held.same_heap(&rt.snapshot()),
                "{} after turn {turn}: base + deltas differs from a full image",
                program.name
            );
            checked += 1;
            if done {
                break;
            }
        }
    }
    assert!(checked > 50, "only {checked} turns checked");
}

/// A hot standby: a runtime that follows a primary's images (a full one,
/// then a delta at seeded random turns, through the frame format) holds
/// the primary's heap after every one (with its garbage collected in
/// between), and, taking over at a random point, finishes the program with
/// the output of an uninterrupted run.
#[test]
fn a_followed_heap_equals_the_primary_and_takes_over_like_a_restore() {
    let seed = std::env::var("CHECKPOINT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xf0110_u64);
    let mut rng = Rng(seed | 1);
    let mut failures = Vec::new();
    let mut followed = 0;
    let through_frame = |image: &understudy::runtime::image::Image| {
        let bytes = encode(image, Position::default(), Compression::Lz4);
        decode(&bytes).expect("a frame we just encoded decodes").1
    };
    for program in programs() {
        let (expected, result, turns) = uninterrupted(&program);
        let out = Rc::new(RefCell::new(Vec::new()));
        let mut primary = start(&program, &out);
        let mut follower = Runtime::new(config());
        follower.set_output(Box::new(SharedBuffer(out.clone())));
        follower.on_task_error(|_| {});
        let step = (turns / 20).max(1);
        let take_over_after = rng.below(20);
        let mut finished = false;
        for i in 0.. {
            let image = if i == 0 {
                primary.checkpoint()
            } else {
                primary.checkpoint_delta()
            };
            let epoch = image.epoch;
            if let Err(e) = follower.follow(&through_frame(&image)) {
                failures.push(format!("{}: following epoch {epoch}: {e}", program.name));
                break;
            }
            followed += 1;
            assert_eq!(follower.following(), Some(epoch));
            // What the program dropped is freed on the follower too; what
            // later deltas refer to must not be.
            if i % 2 == 1 {
                follower.collect_garbage();
            }
            if !follower.snapshot().same_heap(&primary.snapshot()) {
                failures.push(format!(
                    "{}: the followed heap differs from the primary's at epoch {epoch}",
                    program.name
                ));
                break;
            }
            if i >= take_over_after {
                break;
            }
            match primary.run_turns(1 + rng.below(step)) {
                Ok(false) => {}
                // Over (a failed run is not at a safepoint): nothing left
                // to follow or to take over.
                Ok(true) | Err(_) => {
                    finished = true;
                    break;
                }
            }
        }
        if failures.iter().any(|f| f.starts_with(&program.name)) {
            continue;
        }
        // The primary dies; the follower continues without a rebuild.
        drop(primary);
        follower.take_over();
        let got_result = match follower.run_turns(u64::MAX) {
            Ok(true) => "ok".to_owned(),
            Ok(false) => "stopped".to_owned(),
            Err(e) => format!("error: {e}"),
        };
        let got = out.borrow().clone();
        if !finished && (got != expected || got_result != result) {
            failures.push(format!(
                "{} taken over: {got_result:?} vs {result:?}\n{}\n---\n{}",
                program.name,
                tail(&expected),
                tail(&got)
            ));
        }
    }
    assert!(followed > 500, "only {followed} images followed");
    assert!(
        failures.is_empty(),
        "{} programs fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
