//! Lua tables: an array part for keys `1..=n` and an insertion-ordered hash
//! part. All mutation goes through [`Table::set`] and friends, the single
//! place where a later checkpointer marks changed entries.
//!
//! The hash part is a vector of entries plus an index of positions
//! (`hashbrown::HashTable<u32>`), so iteration order is insertion order:
//! deterministic across runs and across checkpoint and restore. Removing a
//! key leaves a tombstone (its value becomes nil) so that `next` keeps
//! working while a traversal clears fields; tombstones are compacted when
//! the part grows.

use std::cell::Cell;
use std::rc::Rc;

use gc_arena::{lock::RefLock, Collect, Gc, Mutation};
use hashbrown::HashTable;

use crate::lualib::number::float_to_int_exact;
use crate::state::{Charge, Ctx, MemoryMeter};
use crate::value::Value;

#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct Table<'gc>(pub(crate) Gc<'gc, RefLock<TableData<'gc>>>);

impl<'gc> PartialEq for Table<'gc> {
    fn eq(&self, other: &Self) -> bool {
        Gc::ptr_eq(self.0, other.0)
    }
}

impl<'gc> std::fmt::Debug for Table<'gc> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "table: {:p}", Gc::as_ptr(self.0))
    }
}

#[derive(Collect)]
#[collect(no_drop)]
pub struct TableData<'gc> {
    pub id: u64,
    array: Vec<Value<'gc>>,
    entries: Vec<(Value<'gc>, Value<'gc>)>,
    #[collect(require_static)]
    index: HashTable<u32>,
    /// Entries whose value is nil.
    tombstones: usize,
    #[collect(require_static)]
    charge: Charge,
    pub metatable: Option<Table<'gc>>,
    /// The epoch this table was last recorded dirty in.
    #[collect(require_static)]
    pub(crate) dirty_stamp: Cell<u64>,
    /// Slots changed since the last heap image (array index `i` as `2i`,
    /// entry `p` as `2p + 1`), unless `whole` says the layout changed or
    /// so much did that sending the whole table is simpler.
    #[collect(require_static)]
    pub(crate) changed: Vec<u32>,
    #[collect(require_static)]
    pub(crate) whole: bool,
}

/// What a mutation touched, for the heap image's per-slot deltas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Touched {
    Nothing,
    Array(usize),
    Entry(usize),
    /// Only the array part's length (a pop from its end).
    Length,
    /// Entries moved: the table is sent whole.
    Layout,
}

/// Why a key cannot be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    Nil,
    NaN,
}

impl KeyError {
    pub fn message(self) -> &'static str {
        match self {
            KeyError::Nil => "table index is nil",
            KeyError::NaN => "table index is NaN",
        }
    }
}

/// Approximate bytes of a table with these capacities.
fn table_bytes(array: usize, hash: usize) -> usize {
    96 + array * 16 + hash * (32 + 8)
}

fn mix(x: u64) -> u64 {
    // A 64-bit finalizer (from MurmurHash3) so sequential integers and
    // aligned addresses spread over the buckets.
    let mut x = x ^ (x >> 33);
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn hash_key(key: Value<'_>) -> u64 {
    match key {
        Value::Nil => 0,
        Value::Boolean(b) => mix(b as u64 + 1),
        Value::Integer(i) => mix(i as u64),
        Value::Number(f) => mix(f.to_bits() ^ 0x5555),
        Value::String(s) => s.hash_code(),
        other => mix(other.identity().unwrap_or(0) as u64),
    }
}

/// Keys are normalised: floats with an integer value are integer keys.
fn normalize(key: Value<'_>) -> Value<'_> {
    if let Value::Number(f) = key {
        if let Some(i) = float_to_int_exact(f) {
            return Value::Integer(i);
        }
    }
    key
}

fn key_eq<'gc>(a: Value<'gc>, b: Value<'gc>) -> bool {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x.to_bits() == y.to_bits() || x == y,
        (Value::Integer(_), Value::Number(_)) | (Value::Number(_), Value::Integer(_)) => false,
        _ => a.raw_eq(b),
    }
}

impl<'gc> TableData<'gc> {
    fn find(&self, key: Value<'gc>) -> Option<usize> {
        let entries = &self.entries;
        // Specialised comparisons for the common key types keep the probe
        // loop tight (short strings are interned: a pointer comparison).
        let found = match key {
            Value::String(s) => self.index.find(
                s.hash_code(),
                |&i| matches!(entries[i as usize].0, Value::String(k) if k == s),
            ),
            Value::Integer(n) => self.index.find(
                hash_key(key),
                |&i| matches!(entries[i as usize].0, Value::Integer(m) if m == n),
            ),
            _ => self
                .index
                .find(hash_key(key), |&i| key_eq(entries[i as usize].0, key)),
        };
        found.map(|&i| i as usize)
    }

    fn get(&self, key: Value<'gc>) -> Value<'gc> {
        match key {
            Value::Integer(i) => self.get_int(i),
            Value::Nil => Value::Nil,
            Value::Number(f) => match float_to_int_exact(f) {
                Some(i) => self.get_int(i),
                None => self.get_hashed(key),
            },
            _ => self.get_hashed(key),
        }
    }

    fn get_hashed(&self, key: Value<'gc>) -> Value<'gc> {
        if self.entries.is_empty() {
            return Value::Nil;
        }
        match self.find(key) {
            Some(i) => self.entries[i].1,
            None => Value::Nil,
        }
    }

    fn get_int(&self, i: i64) -> Value<'gc> {
        if i >= 1 && (i as u64) <= self.array.len() as u64 {
            return self.array[i as usize - 1];
        }
        self.get_hashed(Value::Integer(i))
    }

    fn set(&mut self, key: Value<'gc>, value: Value<'gc>) -> Result<Touched, KeyError> {
        let key = normalize(key);
        match key {
            Value::Nil => return Err(KeyError::Nil),
            Value::Number(f) if f.is_nan() => return Err(KeyError::NaN),
            Value::Integer(i) => {
                if i >= 1 && (i as u64) <= self.array.len() as u64 {
                    self.array[i as usize - 1] = value;
                    return Ok(Touched::Array(i as usize - 1));
                }
                if i as u64 == self.array.len() as u64 + 1 && !value.is_nil() {
                    return Ok(self.push_array(value));
                }
            }
            _ => {}
        }
        Ok(self.set_hashed(key, value))
    }

    fn push_array(&mut self, value: Value<'gc>) -> Touched {
        self.array.push(value);
        let mut touched = Touched::Array(self.array.len() - 1);
        // Keys that now continue the sequence move over from the hash part.
        if self.entries.len() > self.tombstones {
            loop {
                let next = Value::Integer(self.array.len() as i64 + 1);
                match self.find(next) {
                    Some(i) if !self.entries[i].1.is_nil() => {
                        let v = self.entries[i].1;
                        self.entries[i].1 = Value::Nil;
                        self.tombstones += 1;
                        self.array.push(v);
                        touched = Touched::Layout;
                    }
                    _ => break,
                }
            }
        }
        touched
    }

    fn set_hashed(&mut self, key: Value<'gc>, value: Value<'gc>) -> Touched {
        if let Some(i) = self.find(key) {
            let old = self.entries[i].1;
            match (old.is_nil(), value.is_nil()) {
                (false, true) => self.tombstones += 1,
                (true, false) => self.tombstones -= 1,
                _ => {}
            }
            self.entries[i].1 = value;
            return Touched::Entry(i);
        }
        if value.is_nil() {
            return Touched::Nothing;
        }
        let mut layout = false;
        if self.entries.len() == self.entries.capacity() {
            // The hash part is full: first see whether integer keys would
            // rather live in the array part (PUC-Rio's rehash), so `#`
            // and iteration behave as in lua5.4.
            if self.grow_array_if_dense(key) {
                if let Value::Integer(i) = key {
                    if i >= 1 && (i as u64) <= self.array.len() as u64 {
                        self.array[i as usize - 1] = value;
                        return Touched::Layout;
                    }
                }
                layout = true;
            }
            if self.tombstones * 2 > self.entries.len() {
                self.compact();
                layout = true;
            }
        }
        let pos = self.entries.len() as u32;
        self.entries.push((key, value));
        let entries = &self.entries;
        self.index
            .insert_unique(hash_key(key), pos, |&i| hash_key(entries[i as usize].0));
        if layout {
            Touched::Layout
        } else {
            Touched::Entry(pos as usize)
        }
    }

    /// Notes a change for the next delta.
    fn record(&mut self, touched: Touched) {
        if self.whole {
            return;
        }
        match touched {
            Touched::Nothing | Touched::Length => return,
            Touched::Array(i) => self.changed.push((i as u32) << 1),
            Touched::Entry(p) => self.changed.push(((p as u32) << 1) | 1),
            Touched::Layout => self.whole = true,
        }
        let size = self.array.len() + self.entries.len();
        if self.changed.len() > 64usize.max(size / 2) {
            self.whole = true;
        }
        if self.whole {
            self.changed = Vec::new();
        }
    }

    /// PUC-Rio's `computesizes`: the largest power-of-two array size that
    /// would be more than half full of integer keys (counting `incoming`).
    /// Grows the array part to it, moving keys over; true if it grew.
    fn grow_array_if_dense(&mut self, incoming: Value<'gc>) -> bool {
        fn slice(k: u64) -> usize {
            // Keys in (2^(s-1), 2^s] count in slice s.
            (64 - (k - 1).leading_zeros()) as usize
        }
        let mut nums = [0usize; 65];
        let mut total = 0usize;
        let mut count = |k: u64| {
            nums[slice(k)] += 1;
            total += 1;
        };
        for (i, v) in self.array.iter().enumerate() {
            if !v.is_nil() {
                count(i as u64 + 1);
            }
        }
        for (k, v) in &self.entries {
            if let (Value::Integer(n), false) = (k, v.is_nil()) {
                if *n >= 1 {
                    count(*n as u64);
                }
            }
        }
        if let Value::Integer(n) = incoming {
            if n >= 1 {
                count(n as u64);
            }
        }
        let (mut below, mut optimal) = (0usize, 0usize);
        let mut twotoi = 1usize;
        for n in nums.iter() {
            if total <= twotoi / 2 {
                break;
            }
            below += n;
            if below > twotoi / 2 {
                optimal = twotoi;
            }
            twotoi = match twotoi.checked_mul(2) {
                Some(t) => t,
                None => break,
            };
        }
        if optimal <= self.array.len() {
            return false;
        }
        let old_len = self.array.len();
        self.array.resize(optimal, Value::Nil);
        for e in self.entries.iter_mut() {
            if let Value::Integer(n) = e.0 {
                if n > old_len as i64 && n as u64 <= optimal as u64 && !e.1.is_nil() {
                    self.array[n as usize - 1] = e.1;
                    e.1 = Value::Nil;
                    self.tombstones += 1;
                }
            }
        }
        true
    }

    /// Drops tombstones and rebuilds the index. Only done when a new key is
    /// inserted, which Lua forbids during traversal.
    fn compact(&mut self) {
        self.entries.retain(|(_, v)| !v.is_nil());
        self.tombstones = 0;
        self.index.clear();
        for (i, (k, _)) in self.entries.iter().enumerate() {
            let entries = &self.entries;
            self.index
                .insert_unique(hash_key(*k), i as u32, |&j| hash_key(entries[j as usize].0));
        }
    }

    /// The array part and the hash part's entries (removed ones with a
    /// nil value included), in order: what a heap image records.
    pub(crate) fn parts(&self) -> (&[Value<'gc>], &[(Value<'gc>, Value<'gc>)]) {
        (&self.array, &self.entries)
    }

    /// Rebuilds the contents from a heap image's parts.
    pub(crate) fn restore_parts(
        &mut self,
        array: Vec<Value<'gc>>,
        entries: Vec<(Value<'gc>, Value<'gc>)>,
    ) {
        self.array = array;
        self.entries = entries;
        self.restore_index();
        self.charge
            .resize(table_bytes(self.array.capacity(), self.entries.capacity()));
    }

    /// Applies a heap image's patch: the parts take the lengths given and
    /// the slots listed. O(patch) when entries only change value or are
    /// appended, which is what a patch holds (a layout change is sent as
    /// the whole table); a slot that changes key rebuilds the index.
    pub(crate) fn patch_parts(
        &mut self,
        array_len: usize,
        entries_len: usize,
        array: impl IntoIterator<Item = (usize, Value<'gc>)>,
        entries: impl IntoIterator<Item = (usize, Value<'gc>, Value<'gc>)>,
    ) {
        self.array.resize(array_len, Value::Nil);
        for (i, v) in array {
            self.array[i] = v;
        }
        let old_len = self.entries.len();
        // A shorter hash part only comes with a new layout: rebuilt.
        let mut reindex = entries_len < old_len;
        if reindex {
            self.entries.truncate(entries_len);
        } else {
            self.tombstones += entries_len - old_len;
            self.entries.resize(entries_len, (Value::Nil, Value::Nil));
        }
        let mut appended = Vec::new();
        for (i, k, v) in entries {
            let slot = &mut self.entries[i];
            if slot.1.is_nil() {
                self.tombstones = self.tombstones.saturating_sub(1);
            }
            if v.is_nil() {
                self.tombstones += 1;
            }
            if i >= old_len {
                appended.push(i);
            } else if !key_eq(slot.0, k) {
                reindex = true;
            }
            *slot = (k, v);
        }
        if reindex {
            self.restore_index();
        } else {
            for i in appended {
                let entries = &self.entries;
                self.index
                    .insert_unique(hash_key(entries[i].0), i as u32, |&j| {
                        hash_key(entries[j as usize].0)
                    });
            }
        }
        self.charge
            .resize(table_bytes(self.array.capacity(), self.entries.capacity()));
    }

    /// Rebuilds the index and the count of removed entries from the entries.
    fn restore_index(&mut self) {
        self.tombstones = self.entries.iter().filter(|(_, v)| v.is_nil()).count();
        self.index.clear();
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if k.is_nil() {
                continue;
            }
            let entries = &self.entries;
            self.index
                .insert_unique(hash_key(*k), i as u32, |&j| hash_key(entries[j as usize].0));
        }
    }

    /// The border `#t` (any border, as Lua allows; this one matches PUC-Rio
    /// for sequences).
    fn length(&self) -> i64 {
        let n = self.array.len();
        if n > 0 && self.array[n - 1].is_nil() {
            // Binary search for a border inside the array part.
            let (mut lo, mut hi) = (0usize, n);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if self.array[mid - 1].is_nil() {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return lo as i64;
        }
        if self.entries.len() == self.tombstones {
            return n as i64;
        }
        // The sequence may continue in the hash part.
        let mut j = n as i64;
        while !self.get_hashed(Value::Integer(j + 1)).is_nil() {
            j += 1;
        }
        j
    }

    /// The entry after `key` in traversal order, or None at the end.
    fn next(&self, key: Value<'gc>) -> Result<Option<(Value<'gc>, Value<'gc>)>, ()> {
        let key = normalize(key);
        // Position to start scanning: array index or entry index.
        let mut pos = match key {
            Value::Nil => 0,
            Value::Integer(i) if i >= 1 && (i as u64) <= self.array.len() as u64 => i as usize,
            _ => match self.find(key) {
                Some(e) => self.array.len() + e + 1,
                None => return Err(()),
            },
        };
        while pos < self.array.len() {
            let v = self.array[pos];
            if !v.is_nil() {
                return Ok(Some((Value::Integer(pos as i64 + 1), v)));
            }
            pos += 1;
        }
        let mut e = pos - self.array.len();
        while e < self.entries.len() {
            let (k, v) = self.entries[e];
            if !v.is_nil() {
                return Ok(Some((k, v)));
            }
            e += 1;
        }
        Ok(None)
    }
}

impl<'gc> Table<'gc> {
    pub fn new(ctx: Ctx<'gc>) -> Table<'gc> {
        Self::with_capacity(ctx, 0, 0)
    }

    pub fn with_capacity(ctx: Ctx<'gc>, array: usize, hash: usize) -> Table<'gc> {
        let charge = ctx.charge(table_bytes(array, hash));
        Self::alloc(ctx.mc, ctx.next_id(), charge, array, hash)
    }

    /// For the tables made before the state exists.
    pub(crate) fn bootstrap(
        mc: &Mutation<'gc>,
        ids: &Cell<u64>,
        meter: &Rc<MemoryMeter>,
    ) -> Table<'gc> {
        let id = ids.get();
        ids.set(id + 1);
        Self::alloc(mc, id, Charge::new(meter, table_bytes(0, 0)), 0, 0)
    }

    fn alloc(mc: &Mutation<'gc>, id: u64, charge: Charge, array: usize, hash: usize) -> Table<'gc> {
        Table(Gc::new(
            mc,
            RefLock::new(TableData {
                id,
                array: Vec::with_capacity(array),
                entries: Vec::with_capacity(hash),
                index: HashTable::with_capacity(hash),
                tombstones: 0,
                charge,
                metatable: None,
                dirty_stamp: Cell::new(0),
                changed: Vec::new(),
                whole: false,
            }),
        ))
    }

    pub fn id(self) -> u64 {
        self.0.borrow().id
    }

    /// A table with a given id and no contents yet, for restoring an image.
    pub(crate) fn with_id(mc: &Mutation<'gc>, id: u64, meter: &Rc<MemoryMeter>) -> Table<'gc> {
        Self::alloc(mc, id, Charge::new(meter, table_bytes(0, 0)), 0, 0)
    }

    pub(crate) fn data(self) -> std::cell::Ref<'gc, TableData<'gc>> {
        self.0.borrow()
    }

    pub(crate) fn data_mut(self, mc: &Mutation<'gc>) -> std::cell::RefMut<'gc, TableData<'gc>> {
        self.0.borrow_mut(mc)
    }

    pub fn identity(self) -> usize {
        Gc::as_ptr(self.0) as *const () as usize
    }

    pub fn get(self, key: Value<'gc>) -> Value<'gc> {
        self.0.borrow().get(key)
    }

    /// `t[key]` when that needs no metamethod: None when the raw value is
    /// nil and the table has a metatable (so `__index` may apply).
    #[inline]
    pub fn get_plain(self, key: Value<'gc>) -> Option<Value<'gc>> {
        let t = self.0.borrow();
        let v = t.get(key);
        if v.is_nil() && t.metatable.is_some() {
            None
        } else {
            Some(v)
        }
    }

    pub fn get_int(self, i: i64) -> Value<'gc> {
        self.0.borrow().get_int(i)
    }

    pub fn get_str(self, ctx: Ctx<'gc>, key: &str) -> Value<'gc> {
        self.get(ctx.str(key))
    }

    pub fn set(self, ctx: Ctx<'gc>, key: Value<'gc>, value: Value<'gc>) -> Result<(), KeyError> {
        let mut t = self.0.borrow_mut(ctx.mc);
        let before = (t.array.capacity(), t.entries.capacity());
        let touched = t.set(key, value)?;
        let after = (t.array.capacity(), t.entries.capacity());
        if after != before {
            t.charge.resize(table_bytes(after.0, after.1));
        }
        self.note(ctx, &mut t, touched);
        Ok(())
    }

    /// Records a change for the next heap-image delta (when the last
    /// image holds this table).
    #[inline]
    fn note(self, ctx: Ctx<'gc>, t: &mut TableData<'gc>, touched: Touched) {
        if t.id < ctx.state.image_hwm.get() && touched != Touched::Nothing {
            t.record(touched);
            ctx.note_dirty(t.id, &t.dirty_stamp, || crate::state::Dirty::Table(self));
        }
    }

    /// Forgets the recorded changes (they went into an image).
    pub(crate) fn clear_changes(self, mc: &Mutation<'gc>) {
        let mut t = self.0.borrow_mut(mc);
        t.changed.clear();
        t.whole = false;
    }

    /// The value of array slot `i`, nil when absent (then the caller takes
    /// the general path, as a metamethod may apply).
    #[inline]
    pub fn get_array_slot(self, i: i64) -> Value<'gc> {
        let t = self.0.borrow();
        t.array
            .get((i as usize).wrapping_sub(1))
            .copied()
            .unwrap_or(Value::Nil)
    }

    /// Stores into an existing array slot without any metamethod concern:
    /// false when `i` is outside the array part, or when the slot is empty
    /// and the table has a metatable (`__newindex` may apply).
    #[inline]
    pub fn set_array_slot(self, ctx: Ctx<'gc>, i: i64, value: Value<'gc>) -> bool {
        let mut t = self.0.borrow_mut(ctx.mc);
        if i < 1 || i as u64 > t.array.len() as u64 {
            return false;
        }
        let slot = i as usize - 1;
        if t.metatable.is_some() && t.array[slot].is_nil() {
            return false;
        }
        t.array[slot] = value;
        self.note(ctx, &mut t, Touched::Array(slot));
        true
    }

    pub fn set_int(self, ctx: Ctx<'gc>, i: i64, value: Value<'gc>) {
        // Integer keys are never nil or NaN.
        let _ = self.set(ctx, Value::Integer(i), value);
    }

    pub fn set_str(self, ctx: Ctx<'gc>, key: &str, value: Value<'gc>) {
        let _ = self.set(ctx, ctx.str(key), value);
    }

    pub fn length(self) -> i64 {
        self.0.borrow().length()
    }

    /// `next(t, key)`: Err when `key` is not in the table.
    #[allow(clippy::result_unit_err)]
    pub fn next(self, key: Value<'gc>) -> Result<Option<(Value<'gc>, Value<'gc>)>, ()> {
        self.0.borrow().next(key)
    }

    pub fn metatable(self) -> Option<Table<'gc>> {
        self.0.borrow().metatable
    }

    pub fn set_metatable(self, ctx: Ctx<'gc>, mt: Option<Table<'gc>>) {
        let mut t = self.0.borrow_mut(ctx.mc);
        t.metatable = mt;
        // A delta always carries the metatable: only the mark is needed.
        self.note(ctx, &mut t, Touched::Length);
    }

    /// Reserves room for `n` more array entries (`table.move`, `SetList`).
    pub fn reserve_array(self, ctx: Ctx<'gc>, n: usize) {
        self.0.borrow_mut(ctx.mc).array.reserve(n);
    }

    /// A table constructor's positional values: stored in the array part
    /// (nils included, as lua5.4's preallocated array) when they continue
    /// it, so `#{1, nil, 3}` is 3 as there.
    pub fn set_list(self, ctx: Ctx<'gc>, first: i64, values: &[Value<'gc>]) {
        {
            let mut t = self.0.borrow_mut(ctx.mc);
            if first >= 1 && first as u64 <= t.array.len() as u64 + 1 {
                let start = first as usize - 1;
                let end = start + values.len();
                if t.array.len() < end {
                    t.array.resize(end, Value::Nil);
                }
                t.array[start..end].copy_from_slice(values);
                let cap = (t.array.capacity(), t.entries.capacity());
                t.charge.resize(table_bytes(cap.0, cap.1));
                for slot in start..end {
                    self.note(ctx, &mut t, Touched::Array(slot));
                }
                return;
            }
        }
        for (i, v) in values.iter().enumerate() {
            self.set_int(ctx, first + i as i64, *v);
        }
    }

    /// Number of array-part slots, for `table.insert`'s fast path.
    pub fn array_len(self) -> usize {
        self.0.borrow().array.len()
    }

    /// Inserts `value` at `pos` (1-based) shifting up, when the sequence
    /// `1..=len` lives entirely in the array part. Returns false otherwise.
    pub fn try_array_insert(self, ctx: Ctx<'gc>, pos: i64, value: Value<'gc>) -> bool {
        let mut t = self.0.borrow_mut(ctx.mc);
        let n = t.array.len();
        if n == 0 || t.array[n - 1].is_nil() || pos < 1 || pos as u64 > n as u64 + 1 {
            return false;
        }
        if t.entries.len() > t.tombstones && !t.get_hashed(Value::Integer(n as i64 + 1)).is_nil() {
            return false;
        }
        t.array.insert(pos as usize - 1, value);
        let touched = if pos as usize == n + 1 {
            Touched::Array(n)
        } else {
            Touched::Layout
        };
        self.note(ctx, &mut t, touched);
        true
    }

    /// Removes and returns the value at `pos` (1-based) shifting down, when
    /// `1..=len` lives entirely in the array part.
    pub fn try_array_remove(self, ctx: Ctx<'gc>, pos: i64) -> Option<Value<'gc>> {
        let mut t = self.0.borrow_mut(ctx.mc);
        let n = t.array.len();
        if n == 0 || t.array[n - 1].is_nil() || pos < 1 || pos as u64 > n as u64 {
            return None;
        }
        if t.entries.len() > t.tombstones && !t.get_hashed(Value::Integer(n as i64 + 1)).is_nil() {
            return None;
        }
        let v = t.array.remove(pos as usize - 1);
        let touched = if pos as usize == n {
            Touched::Length
        } else {
            Touched::Layout
        };
        self.note(ctx, &mut t, touched);
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::with_test_ctx;

    #[test]
    fn array_and_hash_parts_agree_on_keys() {
        with_test_ctx(|ctx| {
            let t = Table::new(ctx);
            for i in 1..=10 {
                t.set_int(ctx, i, Value::Integer(i * 10));
            }
            t.set(ctx, Value::Number(3.0), Value::Integer(-3)).unwrap();
            assert!(matches!(t.get_int(3), Value::Integer(-3)));
            assert_eq!(t.length(), 10);
            t.set_int(ctx, 20, Value::Integer(1));
            assert_eq!(t.length(), 10);
            assert!(t.set(ctx, Value::Nil, Value::Integer(1)).is_err());
            assert!(t
                .set(ctx, Value::Number(f64::NAN), Value::Integer(1))
                .is_err());
        });
    }

    #[test]
    fn hash_keys_migrate_into_the_array() {
        with_test_ctx(|ctx| {
            let t = Table::new(ctx);
            t.set_int(ctx, 3, Value::Integer(3));
            t.set_int(ctx, 2, Value::Integer(2));
            t.set_int(ctx, 1, Value::Integer(1));
            assert_eq!(t.array_len(), 3);
            assert_eq!(t.length(), 3);
        });
    }

    #[test]
    fn next_survives_clearing_during_traversal() {
        with_test_ctx(|ctx| {
            let t = Table::new(ctx);
            for i in 0..100 {
                t.set(ctx, Value::Number(i as f64 + 0.5), Value::Integer(i))
                    .unwrap();
            }
            let mut key = Value::Nil;
            let mut seen = 0;
            while let Some((k, _)) = t.next(key).unwrap() {
                t.set(ctx, k, Value::Nil).unwrap();
                seen += 1;
                key = k;
            }
            assert_eq!(seen, 100);
            assert!(t.next(Value::Nil).unwrap().is_none());
        });
    }
}
