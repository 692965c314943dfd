//! Loom model checks of pool-core live in `tests/`. Run them with
//! `ci/loom.sh` (or `RUSTFLAGS="--cfg loom" cargo test -p loom-tests --release`).
