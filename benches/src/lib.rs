//! Shared code of the benches (and, later, the `poolbench` CLI).

pub mod overhead;
pub mod redis_e2e;
