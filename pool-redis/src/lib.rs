//! A Redis connection pool built on [`pool_core`]. Placeholder until its own
//! issue lands: it only proves the workspace wiring (pool-core without default
//! features, `fast-acquire` forwarded).

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub use pool_core;
