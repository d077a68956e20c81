//! The local checkpoint store: round trips, compaction, a torn log tail,
//! and `kill -9` of a real `understudy run --checkpoint-dir` process in
//! the middle of its writes, after which the store still loads (at the
//! epoch before the interrupted write) and the program resumes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use understudy::{Config, Runtime};
use understudy_checkpointer::store::{self, Store};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "understudy-{name}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A runtime holding a global table `t` of `n` integers.
fn runtime_with_table(n: usize) -> Runtime {
    let mut rt = Runtime::new(Config::default());
    let setup = format!("t = {{}} for i = 1, {n} do t[i] = i end");
    rt.exec(setup.as_bytes(), "=setup", &[]).unwrap();
    rt
}

fn same(a: &understudy::runtime::image::Image, b: &understudy::runtime::image::Image) -> bool {
    a.same_heap(b)
}

/// With a low threshold the store compacts itself in the background while
/// deltas go on: the base moves forward, the log holds only what came
/// after it, and the state loaded is always the newest one.
#[test]
fn the_store_compacts_itself_in_the_background() {
    let dir = temp_dir("autocompact");
    let mut rt = runtime_with_table(2000);
    let mut store = Store::open(&dir, 7).unwrap();
    store.compact_min_log = Some(1);
    let base = store.write(&rt.checkpoint()).unwrap();
    let mut bases = std::collections::BTreeSet::new();
    for round in 0..200 {
        let code =
            format!("for i = 1, 40 do t[(i * 131 + {round}) % 2000 + 1] = 'v{round}' .. i end");
        rt.exec(code.as_bytes(), "=change", &[]).unwrap();
        store.write(&rt.checkpoint_delta()).unwrap();
        let loaded = store::load(&dir).unwrap();
        assert_eq!(loaded.epoch, base.epoch + round + 1);
        assert!(loaded.stopped_at.is_none());
        bases.insert(loaded.frames[0].header.epoch);
        if round % 50 == 0 {
            assert!(same(&loaded.image, &rt.snapshot()), "round {round}");
        }
    }
    store.finish_compaction();
    let loaded = store::load(&dir).unwrap();
    assert!(same(&loaded.image, &rt.snapshot()));
    assert!(bases.len() > 2, "the base never moved: {bases:?}");
    let log: u64 = loaded.frames[1..].iter().map(|f| f.bytes).sum();
    assert!(
        log <= loaded.frames[0].bytes * 2,
        "the log ({log} bytes) outgrew the base ({})",
        loaded.frames[0].bytes
    );
    // Only the files the manifest names (and the stats) are left.
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert!(files <= 4, "{files} files left");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Deltas written with their fsync batched in the background (a standby
/// acknowledging at `received`) are in the store as soon as the write
/// returns, through background compactions, and after the store is
/// closed and opened again the chain continues where it was.
#[test]
fn batched_deltas_load_at_once_and_the_chain_continues_after_a_reopen() {
    use understudy_checkpointer::frame::{self, Compression, Position};
    let dir = temp_dir("batched");
    let mut rt = runtime_with_table(500);
    let at = Position {
        runtime_id: 9,
        term: 1,
    };
    let write = |store: &mut Store, image: &understudy::runtime::image::Image| {
        let bytes = frame::encode(image, at, Compression::Lz4);
        let header = frame::decode_header(&bytes).unwrap();
        store.write_frame_batched(&bytes, &header).unwrap()
    };
    let mut store = Store::open(&dir, 9).unwrap();
    store.compact_min_log = Some(1);
    let base = write(&mut store, &rt.checkpoint());
    for round in 1..=60u64 {
        if round == 30 {
            // Closed (its syncer finishes) and opened again.
            drop(store);
            store = Store::open(&dir, 9).unwrap();
            store.compact_min_log = Some(1);
        }
        let code = format!("for i = 1, 20 do t[(i * 7 + {round}) % 500 + 1] = 'r{round}' end");
        rt.exec(code.as_bytes(), "=change", &[]).unwrap();
        write(&mut store, &rt.checkpoint_delta());
        let loaded = store::load(&dir).unwrap();
        assert_eq!(loaded.epoch, base.epoch + round, "round {round}");
        assert!(loaded.stopped_at.is_none());
    }
    store.finish_compaction();
    assert!(same(&store::load(&dir).unwrap().image, &rt.snapshot()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn base_and_deltas_round_trip_and_compact() {
    let dir = temp_dir("roundtrip");
    let mut rt = Runtime::new(Config::default());
    rt.exec(b"t = {} for i = 1, 5000 do t[i] = i end", "=setup", &[])
        .unwrap();
    let mut store = Store::open(&dir, 42).unwrap();
    store.write(&rt.checkpoint()).unwrap();
    for round in 0..5 {
        let code = format!("for i = 1, 50 do t[i * 97 % 5000 + 1] = {round} end t.round = {round}");
        rt.exec(code.as_bytes(), "=change", &[]).unwrap();
        let w = store.write(&rt.checkpoint_delta()).unwrap();
        assert_eq!(w.epoch, round + 2);
    }
    let expected = rt.snapshot();
    let loaded = store::load(&dir).unwrap();
    assert_eq!(loaded.epoch, 6);
    assert_eq!(loaded.runtime_id, 42);
    assert_eq!(loaded.frames.len(), 6);
    assert!(loaded.stopped_at.is_none());
    assert!(same(&loaded.image, &expected));

    let bytes = store.compact().unwrap();
    assert!(bytes > 0);
    let compacted = store::load(&dir).unwrap();
    assert_eq!(compacted.epoch, 6);
    assert_eq!(compacted.frames.len(), 1);
    assert!(same(&compacted.image, &expected));
    // Deltas continue after a compaction, and after reopening the store.
    rt.exec(b"t.after = true", "=more", &[]).unwrap();
    store.write(&rt.checkpoint_delta()).unwrap();
    drop(store);
    let mut reopened = Store::open(&dir, 42).unwrap();
    assert_eq!(reopened.epoch(), 7);
    rt.exec(b"t.reopened = true", "=more", &[]).unwrap();
    assert_eq!(reopened.write(&rt.checkpoint_delta()).unwrap().epoch, 8);
    let last = store::load(&dir).unwrap();
    assert_eq!(last.epoch, 8);
    assert!(same(&last.image, &rt.snapshot()));
    let mut restored = Runtime::new(Config::default());
    restored.restore(&last.image).unwrap();
    restored
        .exec(
            b"assert(t.after and t.reopened and t.round == 4)",
            "=check",
            &[],
        )
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_torn_log_tail_loads_at_the_epoch_before_it() {
    let dir = temp_dir("torn");
    let mut rt = Runtime::new(Config::default());
    rt.exec(b"x = 0", "=setup", &[]).unwrap();
    let mut store = Store::open(&dir, 1).unwrap();
    store.write(&rt.checkpoint()).unwrap();
    let mut at_epoch_3 = None;
    for i in 1..=3 {
        rt.exec(format!("x = {i}").as_bytes(), "=set", &[]).unwrap();
        store.write(&rt.checkpoint_delta()).unwrap();
        if i == 2 {
            at_epoch_3 = Some(store::load(&dir).unwrap().image);
        }
    }
    drop(store);
    let log = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("deltas-"))
        .unwrap()
        .path();
    let full = std::fs::read(&log).unwrap();
    let (frames, _) = store::read_frames(&log).unwrap();
    let last = frames.last().unwrap().0.clone();
    // Cut the last frame short at every byte, as a kill in the middle of
    // its write does: the store loads at the epoch before it.
    for cut in last.offset..last.offset + last.bytes {
        std::fs::write(&log, &full[..cut as usize]).unwrap();
        let loaded = store::load(&dir).unwrap();
        assert_eq!(loaded.epoch, 3, "cut at {cut}");
        if cut > last.offset {
            assert!(loaded.stopped_at.as_deref().unwrap().contains("truncated"));
        }
        assert!(same(&loaded.image, at_epoch_3.as_ref().unwrap()));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The replay hands frames over in chain order while the next ones are
/// decoded ahead: a visitor's error stops it with that error, and a
/// damaged frame in the middle of a long log stops it quietly at the epoch
/// before, with nothing of what follows visited (and no hang while the
/// decoder is ahead).
#[test]
fn a_replay_stops_where_the_visitor_or_a_damaged_frame_says() {
    let dir = temp_dir("replay-stops");
    let mut rt = Runtime::new(Config::default());
    rt.exec(b"x = 0", "=setup", &[]).unwrap();
    let mut store = Store::open(&dir, 1).unwrap();
    store.write(&rt.checkpoint()).unwrap();
    for i in 1..=20 {
        rt.exec(format!("x = {i}").as_bytes(), "=set", &[]).unwrap();
        store.write(&rt.checkpoint_delta()).unwrap();
    }
    drop(store);
    let mut seen = Vec::new();
    let replayed = store::replay(&dir, &mut |info, image| {
        assert_eq!(info.header.epoch, image.epoch);
        seen.push(image.epoch);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, (1..=21).collect::<Vec<u64>>());
    assert_eq!(replayed.epoch, 21);

    let mut visited = 0;
    let failed = store::replay(&dir, &mut |_, _| {
        visited += 1;
        if visited == 4 {
            return Err(understudy::runtime::image::ImageError::Invalid(
                "told to stop".into(),
            ));
        }
        Ok(())
    });
    assert!(failed.unwrap_err().to_string().contains("told to stop"));
    assert_eq!(visited, 4);

    // Flip a byte inside the body of the 6th delta.
    let log = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("deltas-"))
        .unwrap()
        .path();
    let (frames, _) = store::read_frames(&log).unwrap();
    let sixth = &frames[5].0;
    let mut bytes = std::fs::read(&log).unwrap();
    let at = (sixth.offset + sixth.bytes - 1) as usize;
    bytes[at] ^= 0xff;
    std::fs::write(&log, &bytes).unwrap();
    let mut seen = Vec::new();
    let replayed = store::replay(&dir, &mut |_, image| {
        seen.push(image.epoch);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, (1..=6).collect::<Vec<u64>>());
    assert_eq!(replayed.epoch, 6);
    assert!(replayed.stopped_at.is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A program whose every epoch rewrites a large table, so that writes
/// are long enough for kills to land inside them.
const BUSY: &str = r#"
t = {}
for i = 1, 100000 do t[i] = i end
local round = 0
while true do
  round = round + 1
  for i = 1, #t do t[i] = t[i] + 1 end
  task.sleep(0.001)
end
"#;

fn understudy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_understudy"))
}

#[test]
fn kill_9_during_checkpoint_writes_leaves_a_readable_store() {
    let script_dir = temp_dir("kill-script");
    std::fs::create_dir_all(&script_dir).unwrap();
    let script = script_dir.join("busy.lua");
    std::fs::write(&script, BUSY).unwrap();
    let mut seed = 0x9e37_79b9_u64;
    let mut checked = 0;
    for round in 0..8 {
        let dir = temp_dir(&format!("kill-{round}"));
        let mut child = understudy()
            .arg("run")
            .arg("--checkpoint-dir")
            .arg(&dir)
            .args(["--checkpoint-every", "5ms"])
            .arg(&script)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Kill at a pseudo-random moment once checkpoints are flowing.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let deadline = Instant::now() + Duration::from_secs(20);
        while !dir.join("MANIFEST").exists() {
            assert!(Instant::now() < deadline, "no checkpoint written");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50 + seed % 400));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let loaded = store::load(&dir).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(loaded.epoch >= 1);
        let mut rt = Runtime::new(Config::default());
        rt.restore(&loaded.image)
            .unwrap_or_else(|e| panic!("round {round}: restoring epoch {}: {e}", loaded.epoch));
        checked += 1;
        if round == 0 {
            resume_continues(&dir, loaded.epoch);
        }
        if round == 1 {
            inspect_describes(&dir, &loaded);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    assert_eq!(checked, 8);
    std::fs::remove_dir_all(&script_dir).unwrap();
}

/// `understudy inspect` lists every frame of the chain and the newest
/// state; a damaged base is an error naming the file.
fn inspect_describes(dir: &Path, loaded: &store::Loaded) {
    let out = understudy().arg("inspect").arg(dir).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let frames = text
        .lines()
        .filter(|l| l.contains(" records  term "))
        .count();
    assert_eq!(frames, loaded.frames.len(), "{text}");
    assert!(
        text.contains(&format!("newest state, epoch {} ", loaded.epoch)),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} live objects", loaded.image.objects.len())),
        "{text}"
    );
    let base = &loaded.frames[0].file;
    let mut bytes = std::fs::read(base).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(base, &bytes).unwrap();
    let out = understudy().arg("inspect").arg(dir).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&base.display().to_string()), "{err}");
}

/// `understudy resume` picks the program up and keeps checkpointing.
fn resume_continues(dir: &Path, epoch: u64) {
    let mut child = understudy()
        .arg("resume")
        .args(["--checkpoint-every", "5ms"])
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Running (and so past its restore) once it writes new epochs.
    let deadline = Instant::now() + Duration::from_secs(30);
    while store::load(dir).map_or(true, |l| l.epoch <= epoch + 1) {
        assert!(Instant::now() < deadline, "resume wrote no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "resume ended with {exit:?}");
    let after = store::load(dir).unwrap();
    assert!(
        after.epoch > epoch,
        "resume went on checkpointing ({epoch} then {})",
        after.epoch
    );
    // It continued the chain with deltas: the base is still the one it
    // resumed from (or older), not a full image of the resumed heap.
    assert!(
        after.frames[0].header.epoch <= epoch,
        "resume wrote a full image at epoch {} (resumed at {epoch})",
        after.frames[0].header.epoch
    );
}
