//! Batched fsync of an append-only log, on a thread of its own: writers
//! append and return; the thread makes everything appended so far durable
//! with one `fdatasync` per batch, at most one every [`SYNC_INTERVAL`] (a
//! flush per frame costs a standby more CPU than the frame itself). A
//! standby that acknowledges frames once they are written to the OS (the
//! `received` level) uses it to keep fsyncs off its acknowledgement path.

use std::fs::File;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The shortest time between two syncs: what a frame written waits, at
/// most, before its sync starts.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(20);

#[derive(Default)]
struct State {
    /// The log being appended to.
    file: Option<Arc<File>>,
    /// Bytes were appended since the last sync began.
    pending: bool,
    stop: bool,
    /// The first failed sync: every later append reports it.
    failed: Option<String>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// The handle the log's writer holds; dropping it stops the thread after
/// a last sync.
pub struct LogSyncer {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LogSyncer {
    pub fn start() -> std::io::Result<LogSyncer> {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("understudy-log-sync".into())
            .spawn(move || run(&s))?;
        Ok(LogSyncer {
            shared,
            thread: Some(thread),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends go to `file` from now on (a new log after a base).
    pub fn set_file(&self, file: Arc<File>) {
        let mut s = self.state();
        if let Some(old) = s.file.replace(file) {
            // Whatever the old log still holds unsynced is copied or
            // superseded by durable files already; sync it anyway, so a
            // reader of the old file after a crash sees what was appended.
            if s.pending {
                drop(s);
                let _ = old.sync_data();
            }
        }
    }

    /// Bytes were appended: sync them soon. Err if an earlier sync failed
    /// (the log can no longer promise anything).
    pub fn appended(&self) -> Result<(), String> {
        let mut s = self.state();
        if let Some(e) = &s.failed {
            return Err(e.clone());
        }
        s.pending = true;
        self.shared.wake.notify_one();
        Ok(())
    }
}

impl Drop for LogSyncer {
    fn drop(&mut self) {
        self.state().stop = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(shared: &Shared) {
    let mut s = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        while !s.pending && !s.stop {
            s = shared.wake.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if !s.pending {
            return;
        }
        if !s.stop {
            // Let a batch gather.
            drop(s);
            std::thread::sleep(SYNC_INTERVAL);
            s = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        }
        s.pending = false;
        let file = s.file.clone();
        drop(s);
        // Appends that land while this runs set `pending` again and are
        // covered by the next round.
        let result = file.map_or(Ok(()), |f| f.sync_data());
        s = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = result {
            tracing::error!("syncing the log: {e}");
            s.failed
                .get_or_insert_with(|| format!("syncing the log: {e}"));
        }
    }
}
