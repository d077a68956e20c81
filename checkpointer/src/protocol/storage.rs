//! Where a standby keeps what it acknowledges: the frames and the term.
//! [`DirStorage`] is the real one (a checkpoint store and a TERM file);
//! [`MemStorage`] keeps the same in memory, for the simulator, where a
//! "restart" reopens it with exactly what was made durable.

use std::path::{Path, PathBuf};

use understudy_runtime::image::Image;

use super::standby::AckLevel;
use crate::frame::{self, Header, Kind};
use crate::store::{self, Store};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

/// What a standby stores. Every call returns once its effect is durable,
/// except [`Storage::append`] at [`AckLevel::Received`].
pub trait Storage {
    /// The persisted term (0 for a new standby).
    fn term(&self) -> u64;
    fn set_term(&mut self, term: u64) -> Result<(), StorageError>;
    /// The image held, with its runtime id (None for a new standby).
    fn load(&mut self) -> Result<Option<(u64, Image)>, StorageError>;
    /// Where the chain held ends, without building its image: the runtime
    /// id and the newest epoch (None for a new standby).
    fn position(&mut self) -> Result<Option<(u64, u64)>, StorageError>;
    /// Stores a frame that was checked to follow what is held; at
    /// `Received` it returns once a crash of this process would keep the
    /// frame, at `Fsynced` once it is on disk.
    fn append(
        &mut self,
        header: &Header,
        frame: &[u8],
        level: AckLevel,
    ) -> Result<(), StorageError>;
}

/// A standby's data directory: a checkpoint store and `TERM`.
pub struct DirStorage {
    dir: PathBuf,
    store: Store,
    term: u64,
}

fn term_path(dir: &Path) -> PathBuf {
    dir.join("TERM")
}

impl DirStorage {
    pub fn open(dir: &Path) -> Result<DirStorage, StorageError> {
        let err = |e: std::io::Error| StorageError(format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(err)?;
        let term = match std::fs::read_to_string(term_path(dir)) {
            Ok(t) => t
                .trim()
                .parse()
                .map_err(|_| StorageError(format!("{}: not a term", term_path(dir).display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(err(e)),
        };
        let store = Store::open(dir, 0).map_err(|e| StorageError(e.to_string()))?;
        Ok(DirStorage {
            dir: dir.to_owned(),
            store,
            term,
        })
    }

    /// The checkpoint store, open at the newest frame held: what a
    /// promoted standby's program writes its own checkpoints to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn into_store(self) -> Store {
        self.store
    }
}

impl Storage for DirStorage {
    fn term(&self) -> u64 {
        self.term
    }

    fn set_term(&mut self, term: u64) -> Result<(), StorageError> {
        let err = |e: std::io::Error| StorageError(format!("{}: {e}", self.dir.display()));
        let tmp = self.dir.join("TERM.tmp");
        std::fs::write(&tmp, format!("{term}\n")).map_err(err)?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(err)?;
        std::fs::rename(&tmp, term_path(&self.dir)).map_err(err)?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
        self.term = term;
        Ok(())
    }

    fn load(&mut self) -> Result<Option<(u64, Image)>, StorageError> {
        match store::load(&self.dir) {
            Ok(l) => {
                self.store.set_runtime_id(l.runtime_id);
                Ok(Some((l.runtime_id, l.image)))
            }
            Err(store::StoreError::Empty(_)) => Ok(None),
            Err(e) => Err(StorageError(e.to_string())),
        }
    }

    fn position(&mut self) -> Result<Option<(u64, u64)>, StorageError> {
        let chain = self.store.chain();
        if let Some((runtime_id, _)) = chain {
            self.store.set_runtime_id(runtime_id);
        }
        Ok(chain)
    }

    fn append(
        &mut self,
        header: &Header,
        frame: &[u8],
        level: AckLevel,
    ) -> Result<(), StorageError> {
        match level {
            AckLevel::Received => self.store.write_frame_batched(frame, header),
            AckLevel::Fsynced => self.store.write_frame(frame, header),
        }
        .map_err(|e| StorageError(e.to_string()))?;
        // The store compacts itself in the background.
        Ok(())
    }
}

/// In-memory storage: the frames since the last full one, and the term.
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    pub term: u64,
    pub frames: Vec<Vec<u8>>,
}

impl Storage for MemStorage {
    fn term(&self) -> u64 {
        self.term
    }

    fn set_term(&mut self, term: u64) -> Result<(), StorageError> {
        self.term = term;
        Ok(())
    }

    fn load(&mut self) -> Result<Option<(u64, Image)>, StorageError> {
        let mut held: Option<(u64, Image)> = None;
        for bytes in &self.frames {
            let (header, image) = frame::decode(bytes).map_err(|e| StorageError(e.to_string()))?;
            match held.as_mut() {
                None => held = Some((header.runtime_id, image)),
                Some((_, base)) => base.apply(image).map_err(|e| StorageError(e.to_string()))?,
            }
        }
        if let Some((_, image)) = held.as_mut() {
            image.prune();
        }
        Ok(held)
    }

    /// Both levels alike: a simulated restart is of the process, which
    /// keeps what was written.
    fn position(&mut self) -> Result<Option<(u64, u64)>, StorageError> {
        let header = |bytes: &Vec<u8>| frame::check(bytes).map_err(|e| StorageError(e.to_string()));
        match (self.frames.first(), self.frames.last()) {
            (Some(first), Some(last)) => Ok(Some((header(first)?.runtime_id, header(last)?.epoch))),
            _ => Ok(None),
        }
    }

    fn append(&mut self, header: &Header, frame: &[u8], _: AckLevel) -> Result<(), StorageError> {
        if header.kind == Kind::Full {
            self.frames.clear();
        }
        self.frames.push(frame.to_vec());
        Ok(())
    }
}
