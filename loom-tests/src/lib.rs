//! Loom model checks of pool-core live in `tests/`. Run them with
//! `bin/loom.sh` (or `RUSTFLAGS="--cfg loom" cargo test -p loom-tests --release`).
