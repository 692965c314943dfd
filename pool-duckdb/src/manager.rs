//! `Manager`: one DuckDB database instance per pool; every pooled object is
//! its own connection to it (so queries on different objects run in
//! parallel inside DuckDB), made on a blocking thread.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pool_core::{Metrics, RecycleError, RecycleResult, Runtime};
use pool_sync::SyncWrapper;

use crate::Error;
use crate::open_files::Claim;

/// One connection to the pool's database: a `duckdb::Connection` (it
/// derefs to one) that also holds the pool's claim on the file, so the
/// file counts as open in this process until its last connection is gone.
///
/// DuckDB cannot say whether a connection is inside a transaction without
/// running a statement. So a checkout marks its connection, and the first
/// use of it (any access through `Deref`, on the blocking thread of the
/// checkout's first `interact`) runs `ROLLBACK` before anything else: a
/// transaction the last user left open (`BEGIN` by hand, a closure that
/// returned early) ends there, and the next user never runs inside it.
/// A checkout that never touches the connection costs nothing.
#[derive(Debug)]
pub struct DbConnection {
    // Declared first, dropped first: the connection closes before the
    // claim is let go.
    conn: duckdb::Connection,
    /// Set at checkout; cleared by the `ROLLBACK` of the first use.
    rollback_pending: Cell<bool>,
    _claim: Option<Arc<Claim>>,
}

impl DbConnection {
    pub(crate) fn new(conn: duckdb::Connection, claim: Option<Arc<Claim>>) -> Self {
        Self {
            conn,
            rollback_pending: Cell::new(false),
            _claim: claim,
        }
    }

    /// Ends a transaction left open, if any: `Ok(true)` if there was one.
    /// `BEGIN` then `ROLLBACK` in the common case: two statements that
    /// succeed cost less than one that fails (DuckDB's error is a C++
    /// exception, whose unwinding serializes threads).
    fn roll_back(&self) -> duckdb::Result<bool> {
        match self.conn.execute_batch("BEGIN") {
            Ok(()) => self.conn.execute_batch("ROLLBACK").map(|()| false),
            Err(e) if e.to_string().contains(IN_TRANSACTION) => {
                self.conn.execute_batch("ROLLBACK").map(|()| true)
            }
            Err(e) => Err(e),
        }
    }

    /// The connection, after the rollback a checkout asked for.
    fn checked(&self) -> &duckdb::Connection {
        if self.rollback_pending.replace(false) {
            match self.roll_back() {
                Ok(true) => tracing::debug!("rolled back a transaction the last user left open"),
                Ok(false) => {}
                // The user's own statement will meet the same trouble and
                // say so.
                Err(e) => tracing::warn!(error = %e, "checking for a transaction left open failed"),
            }
        }
        &self.conn
    }
}

impl Deref for DbConnection {
    type Target = duckdb::Connection;
    fn deref(&self) -> &duckdb::Connection {
        self.checked()
    }
}

impl DerefMut for DbConnection {
    fn deref_mut(&mut self) -> &mut duckdb::Connection {
        self.checked();
        &mut self.conn
    }
}

/// DuckDB's answer to a `BEGIN` inside a transaction.
const IN_TRANSACTION: &str = "within a transaction";

/// Creates and checks the connections of one database instance.
#[derive(Debug)]
pub struct Manager {
    /// The database as shown in errors.
    shown: String,
    /// The connection the database was opened with: kept (never pooled) so
    /// the instance lives as long as the pool, and cloned for each new
    /// object. Locked only on blocking threads, for the clone.
    root: Arc<Mutex<DbConnection>>,
    /// `SET SESSION` statements of the settings DuckDB keeps per
    /// connection, run on every new one.
    per_connection: Arc<[String]>,
    runtime: Runtime,
}

impl Manager {
    pub(crate) fn new(
        shown: String,
        root: DbConnection,
        per_connection: Vec<String>,
        runtime: Runtime,
    ) -> Self {
        Self {
            shown,
            root: Arc::new(Mutex::new(root)),
            per_connection: per_connection.into(),
            runtime,
        }
    }
}

impl pool_core::Manager for Manager {
    type Type = SyncWrapper<DbConnection>;
    type Error = Error;

    async fn create(&self) -> Result<Self::Type, Self::Error> {
        let (root, sets, shown) = (
            self.root.clone(),
            self.per_connection.clone(),
            self.shown.clone(),
        );
        SyncWrapper::new(self.runtime, move || {
            let failed = |source| Error::Connect {
                path: shown.clone(),
                source,
            };
            let root = root.lock().unwrap_or_else(PoisonError::into_inner);
            let conn = root.try_clone().map_err(failed)?;
            for set in sets.iter() {
                conn.execute_batch(set).map_err(failed)?;
            }
            Ok(DbConnection::new(conn, root._claim.clone()))
        })
        .await
    }

    /// Past the health-check interval: a `ROLLBACK` on a blocking thread
    /// (ending a transaction left open, and proving the connection
    /// answers). A connection a closure panicked with is dropped.
    async fn recycle(&self, conn: &mut Self::Type, _: &Metrics) -> RecycleResult<Self::Error> {
        if conn.is_broken() {
            return Err(RecycleError::message(
                "a closure panicked with the connection or still runs: not used again",
            ));
        }
        let rolled_back = conn
            .interact(|c| {
                c.rollback_pending.set(false);
                c.roll_back()
            })
            .await
            .map_err(|e| RecycleError::message(format!("rolling back: {e}")))?
            .map_err(|e| RecycleError::Backend(Error::DuckDb(e)))?;
        if rolled_back {
            tracing::debug!(database = %self.shown, "rolled back a transaction left open");
        }
        Ok(())
    }

    /// Every other checkout: marks the connection so its first use rolls
    /// back a transaction left open ([`DbConnection`]), without a hop to a
    /// blocking thread now. A connection a closure still holds or panicked
    /// with goes to `recycle`, which drops it.
    fn needs_recycle(&self, conn: &mut Self::Type) -> bool {
        if conn.is_broken() {
            return true;
        }
        match conn.try_lock() {
            Ok(c) => {
                c.rollback_pending.set(true);
                false
            }
            Err(_) => true,
        }
    }

    /// A connection to an embedded database does not die on its own:
    /// `recycle` (a statement on a blocking thread) only after an hour
    /// unused; `needs_recycle` covers every other checkout.
    fn health_check_interval(&self) -> Duration {
        Duration::from_secs(3600)
    }

    fn is_broken(&self, conn: &mut Self::Type) -> bool {
        conn.is_broken()
    }
}
