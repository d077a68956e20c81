//! The local checkpoint store (placeholder until the store lands).
