//! `Manager`: one DuckDB database instance per pool; every pooled object is
//! its own connection to it (so queries on different objects run in
//! parallel inside DuckDB), made on a blocking thread.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};

use pool_core::{Metrics, RecycleError, RecycleResult, Runtime};
use pool_sync::SyncWrapper;

use crate::Error;
use crate::open_files::Claim;

/// One connection to the pool's database: a `duckdb::Connection` (it
/// derefs to one) that also holds the pool's claim on the file, so the
/// file counts as open in this process until its last connection is gone.
#[derive(Debug)]
pub struct DbConnection {
    // Declared first, dropped first: the connection closes before the
    // claim is let go.
    conn: duckdb::Connection,
    _claim: Option<Arc<Claim>>,
}

impl DbConnection {
    pub(crate) fn new(conn: duckdb::Connection, claim: Option<Arc<Claim>>) -> Self {
        Self {
            conn,
            _claim: claim,
        }
    }
}

impl Deref for DbConnection {
    type Target = duckdb::Connection;
    fn deref(&self) -> &duckdb::Connection {
        &self.conn
    }
}

impl DerefMut for DbConnection {
    fn deref_mut(&mut self) -> &mut duckdb::Connection {
        &mut self.conn
    }
}

/// DuckDB's answer to a `ROLLBACK` outside a transaction.
const NO_TRANSACTION: &str = "no transaction is active";

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

    /// DuckDB cannot say whether a connection is inside a transaction
    /// without a statement, so every checkout sends one, `ROLLBACK`, on a
    /// blocking thread: "no transaction is active" is the answer of a
    /// clean connection; a transaction someone left open (`BEGIN` by hand,
    /// a closure that returned early) is rolled back, and the next user
    /// never starts inside it. A connection a closure panicked with is
    /// dropped.
    async fn recycle(&self, conn: &mut Self::Type, _: &Metrics) -> RecycleResult<Self::Error> {
        if conn.is_broken() {
            return Err(RecycleError::message(
                "a closure panicked with the connection or still runs: not used again",
            ));
        }
        let outcome = conn
            .interact(|c| c.execute_batch("ROLLBACK"))
            .await
            .map_err(|e| RecycleError::message(format!("rolling back: {e}")))?;
        match outcome {
            Ok(()) => {
                tracing::debug!(database = %self.shown, "rolled back a transaction left open");
                Ok(())
            }
            Err(e) if e.to_string().contains(NO_TRANSACTION) => Ok(()),
            Err(e) => Err(RecycleError::Backend(Error::DuckDb(e))),
        }
    }

    /// Every checkout runs `recycle` (its `ROLLBACK` is the only way to
    /// know), whatever the health-check interval.
    fn needs_recycle(&self, _: &mut Self::Type) -> bool {
        true
    }

    fn is_broken(&self, conn: &mut Self::Type) -> bool {
        conn.is_broken()
    }
}
