//! The utf8 library.

use crate::native::NativeFn;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[];

/// Library values that are not functions.
pub fn open(_ctx: crate::state::Ctx<'_>) {}
