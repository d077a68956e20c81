//! The table library.

use crate::native::NativeFn;

pub const FUNCTIONS: &[(&str, NativeFn)] = &[];
