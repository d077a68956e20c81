//! `understudy inspect`: where the bytes of a checkpoint go.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use understudy::runtime::image::{Image, Object};
use understudy_checkpointer::store::{self, FrameInfo};
use understudy_checkpointer::Kind;

/// Records and encoded bytes per object kind, of records with their sizes.
fn by_kind<'a>(
    sized: impl IntoIterator<Item = (usize, &'a Object)>,
) -> BTreeMap<&'static str, (usize, usize)> {
    let mut out: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    for (bytes, obj) in sized {
        let e = out.entry(obj.kind()).or_default();
        e.0 += 1;
        e.1 += bytes;
    }
    out
}

/// A record's encoded size (before compression), counted without encoding.
fn record_bytes(obj: &Object) -> usize {
    postcard::experimental::serialized_size(obj).unwrap_or(0)
}

fn describe(obj: &Object) -> String {
    match obj {
        Object::Str(b) => {
            let text = String::from_utf8_lossy(&b[..b.len().min(40)]);
            format!("string of {} bytes {:?}", b.len(), text)
        }
        Object::Table(t) => format!(
            "table: {} array slots, {} hash entries",
            t.array.len(),
            t.entries.len()
        ),
        Object::TablePatch(p) => format!(
            "table changes: {} array slots, {} entries",
            p.array.len(),
            p.entries.len()
        ),
        Object::Proto(p) => format!(
            "function prototype {}:{} ({} instructions)",
            p.source,
            p.line_defined,
            p.code.len()
        ),
        Object::Thread(t) => format!(
            "thread: {} stack slots, {} frames",
            t.stack.len(),
            t.frames.len()
        ),
        Object::Native { name, .. } => format!("native {name}"),
        Object::Channel(c) => format!("channel: {} buffered", c.buf.len()),
        Object::Task(t) => format!("task {} ({:?})", t.task_id, t.status),
        other => other.kind().to_owned(),
    }
}

fn print_frame(out: &mut impl Write, info: &FrameInfo, image: &Image) -> std::io::Result<()> {
    let h = &info.header;
    writeln!(
        out,
        "  epoch {:>6}  {:<5}  {:>10} bytes  {:>8} records  term {}  parent {}",
        h.epoch,
        match h.kind {
            Kind::Full => "full",
            Kind::Delta => "delta",
        },
        info.bytes,
        image.objects.len(),
        h.term,
        h.parent_epoch
    )?;
    let kinds: Vec<String> = by_kind(image.objects.values().map(|o| (record_bytes(o), o)))
        .into_iter()
        .map(|(k, (n, b))| format!("{k} {n} ({b} B)"))
        .collect();
    if !kinds.is_empty() {
        writeln!(out, "      {}", kinds.join(", "))?;
    }
    Ok(())
}

fn print_image(out: &mut impl Write, image: &Image, top: usize) -> std::io::Result<()> {
    // Each record is sized once.
    let mut sized: Vec<(usize, u64, &Object)> = image
        .objects
        .iter()
        .map(|(id, o)| (record_bytes(o), *id, o))
        .collect();
    let total: usize = sized.iter().map(|(b, _, _)| b).sum();
    writeln!(
        out,
        "{} live objects, {} bytes of records (before compression); logical clock {:.3}s; {} tasks",
        image.objects.len(),
        total,
        image.root.sched.now as f64 / 1e9,
        image.root.sched.tasks.len()
    )?;
    writeln!(out, "by type:")?;
    for (kind, (n, bytes)) in by_kind(sized.iter().map(|(b, _, o)| (*b, *o))) {
        let share = (bytes * 100).checked_div(total).unwrap_or(0);
        writeln!(
            out,
            "  {kind:<10} {n:>9} records {bytes:>12} bytes {share:>3} %"
        )?;
    }
    sized.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    writeln!(out, "largest objects:")?;
    for (bytes, id, obj) in sized.into_iter().take(top) {
        writeln!(out, "  #{id:<10} {bytes:>12} bytes  {}", describe(obj))?;
    }
    Ok(())
}

pub fn print(path: &Path, top: usize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match report(&mut out, path, top) {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) => match e.downcast_ref::<std::io::Error>() {
            Some(io) if io.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            _ => Err(e),
        },
        Ok(()) => Ok(()),
    }
}

fn report(out: &mut impl Write, path: &Path, top: usize) -> anyhow::Result<()> {
    if path.is_dir() {
        // One pass over the chain: each frame is described as it is
        // read, then applied to the newest state.
        writeln!(out, "checkpoint directory {}", path.display())?;
        writeln!(out, "frames (base, then the deltas applied to it):")?;
        let mut newest: Option<Image> = None;
        let mut printed = Ok(());
        let replayed = store::replay(path, &mut |info, image| {
            if printed.is_ok() {
                printed = print_frame(out, info, &image);
            }
            match newest.as_mut() {
                None => {
                    newest = Some(image);
                    Ok(())
                }
                Some(held) => held.apply(image),
            }
        })
        .with_context(|| format!("reading {}", path.display()))?;
        printed?;
        let mut image = newest.expect("a replay visits the base");
        image.prune();
        if let Some(why) = &replayed.stopped_at {
            writeln!(out, "  (stopped at an unusable frame: {why})")?;
        }
        writeln!(
            out,
            "newest state, epoch {} (runtime {:#x}, term {}):",
            replayed.epoch, replayed.runtime_id, replayed.term
        )?;
        print_image(out, &image, top)?;
        let stats = path.join("stats.log");
        if let Ok(text) = std::fs::read_to_string(&stats) {
            let mut pauses: Vec<u64> = text
                .lines()
                .filter_map(|l| {
                    let mut words = l.split_whitespace();
                    words.position(|w| w == "pause_us")?;
                    words.next()?.parse().ok()
                })
                .collect();
            if !pauses.is_empty() {
                pauses.sort_unstable();
                let p = |q: f64| pauses[((pauses.len() - 1) as f64 * q).round() as usize];
                writeln!(
                    out,
                    "pauses over {} checkpoints: median {} us, p99 {} us, max {} us",
                    pauses.len(),
                    p(0.5),
                    p(0.99),
                    pauses[pauses.len() - 1]
                )?;
                writeln!(out, "last checkpoints:")?;
                for line in text
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                {
                    writeln!(out, "  {line}")?;
                }
            }
        }
    } else {
        let (frames, stopped) =
            store::read_frames(path).with_context(|| format!("reading {}", path.display()))?;
        writeln!(out, "{}: {} frames", path.display(), frames.len())?;
        for (info, image) in &frames {
            print_frame(out, info, image)?;
        }
        if let Some(why) = stopped {
            writeln!(out, "  (stopped at an unusable frame: {why})")?;
        }
        if let Some((_, image)) = frames.last() {
            print_image(out, image, top)?;
        }
    }
    Ok(())
}
