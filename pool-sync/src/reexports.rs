//! What backend crates built on `pool-sync` re-export (deadpool-sync's
//! `reexports`).

pub use super::{InteractError, SyncGuard};
