//! Loom model checks of pool-core live in `tests/`. Run them with
//! `ci/loom.sh` (or `RUSTFLAGS="--cfg loom" cargo test -p loom-tests --release`).

#[cfg(loom)]
pub use models::{model, spawn};

#[cfg(loom)]
mod models {
    use loom::thread;

    /// `loom::model`, with the body on a thread whose stack fits the pool's
    /// futures (loom's coroutines default to a small stack).
    pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
        let f = std::sync::Arc::new(f);
        loom::model(move || {
            let f = f.clone();
            spawn(move || f()).join().unwrap();
        });
    }

    /// A loom thread with that stack.
    pub fn spawn<T: Send + 'static>(
        f: impl FnOnce() -> T + Send + 'static,
    ) -> thread::JoinHandle<T> {
        thread::Builder::new().stack_size(1 << 20).spawn(f).unwrap()
    }
}
