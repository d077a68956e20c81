//! Short-string interning. Every string of at most [`SHORT_MAX`] bytes
//! exists once per runtime, so comparing two short strings (table keys,
//! field names) is a pointer comparison, as in PUC-Rio Lua.
//!
//! The interner holds weak references: an interned string dies like any
//! other when unreachable; dead entries are dropped when the table grows.

use gc_arena::{lock::RefLock, Collect, Gc, GcWeak, Mutation};

use crate::value::StrData;

/// Strings up to this length are interned (LUAI_MAXSHORTLEN).
pub const SHORT_MAX: usize = 40;

/// The content hash of a string (FNV-1a, never 0).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

/// An open-addressing set of weak string references keyed by hash.
#[derive(Collect, Default)]
#[collect(no_drop)]
pub struct Interner<'gc> {
    slots: Vec<Option<(u64, GcWeak<'gc, StrData>)>>,
    used: usize,
}

pub type InternerRef<'gc> = Gc<'gc, RefLock<Interner<'gc>>>;

impl<'gc> Interner<'gc> {
    /// The live interned string with these bytes, if any.
    pub fn find(&self, mc: &Mutation<'gc>, hash: u64, bytes: &[u8]) -> Option<Gc<'gc, StrData>> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while let Some((h, weak)) = self.slots[i] {
            if h == hash {
                // A string being swept away fails to upgrade: then a new
                // one is made, and the old one is unreachable anyway.
                if let Some(s) = weak.upgrade(mc) {
                    if s.bytes() == bytes {
                        return Some(s);
                    }
                }
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Records a new string (not already present).
    pub fn insert(&mut self, hash: u64, s: Gc<'gc, StrData>) {
        if (self.used + 1) * 4 > self.slots.len() * 3 {
            self.rebuild();
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while self.slots[i].is_some() {
            i = (i + 1) & mask;
        }
        self.slots[i] = Some((hash, Gc::downgrade(s)));
        self.used += 1;
    }

    /// Grows the table (or just sheds dropped entries) to keep probes short.
    fn rebuild(&mut self) {
        let live: Vec<(u64, GcWeak<'gc, StrData>)> = self
            .slots
            .iter()
            .flatten()
            .filter(|(_, w)| !w.is_dropped())
            .copied()
            .collect();
        let size = (live.len() * 2 + 2).next_power_of_two().max(1024);
        self.slots = vec![None; size];
        self.used = 0;
        let mask = size - 1;
        for (h, w) in live {
            let mut i = h as usize & mask;
            while self.slots[i].is_some() {
                i = (i + 1) & mask;
            }
            self.slots[i] = Some((h, w));
            self.used += 1;
        }
    }
}
