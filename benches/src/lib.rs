//! Shared code of the benches and the `poolbench` command.

pub mod cli;
pub mod overhead;
pub mod redis_e2e;
