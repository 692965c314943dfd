//! `Manager`: opens connections on blocking threads with the pool's
//! [`Settings`], and checks them at checkout without a query.

use std::path::PathBuf;
use std::time::Duration;

use pool_core::{Metrics, RecycleError, RecycleResult, Runtime};
use pool_sync::SyncWrapper;

use crate::{Config, Settings};

/// Creates and checks SQLite connections (deadpool-sqlite's `Manager`).
#[derive(Debug)]
pub struct Manager {
    path: PathBuf,
    settings: Settings,
    runtime: Runtime,
}

impl Manager {
    /// A manager for `config`'s database with [`Settings::default`].
    #[must_use]
    pub fn from_config(config: &Config, runtime: Runtime) -> Self {
        Self::with_settings(config, Settings::default(), runtime)
    }

    /// A manager whose connections are opened with `settings`.
    #[must_use]
    pub fn with_settings(config: &Config, settings: Settings, runtime: Runtime) -> Self {
        Self {
            path: config.path.clone(),
            settings,
            runtime,
        }
    }

    /// The settings connections are opened with.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// Whether a checked-in connection is inside a transaction, read without
/// leaving the async thread (`sqlite3_get_autocommit` is a field read);
/// `None` while a closure holds it.
fn in_transaction(conn: &SyncWrapper<rusqlite::Connection>) -> Option<bool> {
    conn.try_lock().ok().map(|c| !c.is_autocommit())
}

impl pool_core::Manager for Manager {
    type Type = SyncWrapper<rusqlite::Connection>;
    type Error = rusqlite::Error;

    async fn create(&self) -> Result<Self::Type, Self::Error> {
        let (path, settings) = (self.path.clone(), self.settings.clone());
        let mut conn = SyncWrapper::new(self.runtime, move || settings.open(&path)).await?;
        if self.settings.optimize_on_close && !self.settings.read_only {
            // On the blocking thread that closes the connection: `optimize`
            // may run `ANALYZE`, never on a runtime worker.
            conn.on_close(|c| {
                let _ = c.execute_batch("PRAGMA optimize");
            });
        }
        Ok(conn)
    }

    /// No query: an embedded connection does not die. What can be wrong is
    /// a closure that panicked with it or still runs (it is dropped), or a
    /// transaction someone left open (rolled back here, on a blocking
    /// thread; the next user never starts inside it).
    async fn recycle(&self, conn: &mut Self::Type, _: &Metrics) -> RecycleResult<Self::Error> {
        if conn.is_broken() {
            return Err(RecycleError::message(
                "a closure panicked with the connection or still runs: not used again",
            ));
        }
        if in_transaction(conn) != Some(false) {
            conn.interact(|c| c.execute_batch("ROLLBACK"))
                .await
                .map_err(|e| RecycleError::message(format!("rolling back: {e}")))??;
        }
        Ok(())
    }

    /// At a checkout the health-check TTL would let skip `recycle`: only a
    /// connection that needs its rollback (or is broken) goes through it.
    fn needs_recycle(&self, conn: &mut Self::Type) -> bool {
        conn.is_broken() || in_transaction(conn) != Some(false)
    }

    fn is_broken(&self, conn: &mut Self::Type) -> bool {
        conn.is_broken()
    }

    /// `recycle` only after an hour unused: `needs_recycle`, which costs no
    /// query, is the check of every other checkout.
    fn health_check_interval(&self) -> Duration {
        Duration::from_secs(3600)
    }
}
