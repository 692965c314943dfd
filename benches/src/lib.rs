//! Shared helpers of the benches (and, later, the `poolbench` CLI).
