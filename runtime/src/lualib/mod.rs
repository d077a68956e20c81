//! Pure helpers behind the string, number and os libraries: no heap, no
//! VM, just bytes and numbers, each checked against lua5.4.

pub mod date;
pub mod format;
pub mod number;
pub mod pack;
pub mod pattern;
