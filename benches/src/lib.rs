//! Shared code of the benches (and, later, the `poolbench` CLI).

pub mod overhead;
