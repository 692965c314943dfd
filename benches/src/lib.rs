//! Shared code of the criterion benches and the side-by-side examples.

pub mod overhead;
pub mod redis_e2e;
