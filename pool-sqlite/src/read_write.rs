//! Readers in parallel, one writer: how a WAL database wants to be used
//! from many tasks. SQLite lets any number of readers run beside one
//! writer; a second writer waits on the file lock (`busy_timeout`) or fails
//! with `SQLITE_BUSY`. So writes queue, first come first served, for the
//! pool's one writing connection, and reads go to read-only connections
//! that never take the write lock.

use crate::{BuildError, Config, Connection, JournalMode, Pool, PoolError, Runtime, Settings};

/// A pool of read-only connections and a pool of exactly one writing
/// connection to one WAL database file.
#[derive(Clone, Debug)]
pub struct ReadWritePool {
    readers: Pool,
    writer: Pool,
}

impl ReadWritePool {
    /// `readers` read-only connections and one writer to `config.path`,
    /// opened with `settings` (WAL is asked for and checked: without it
    /// readers and the writer would block each other). The writer opens
    /// first, so the file and its WAL exist before any reader opens.
    ///
    /// # Errors
    /// The writer's first connection's error (naming the file or the
    /// setting), or a pool setting that cannot work.
    pub async fn new(
        config: &Config,
        readers: usize,
        settings: &Settings,
    ) -> Result<Self, PoolError> {
        let mut write_settings = settings.clone();
        write_settings.journal_mode = Some(JournalMode::Wal);
        write_settings.read_only = false;
        let writer = Self::pool(config, 1, &write_settings)?;
        drop(writer.get().await?);
        let mut read_settings = write_settings;
        read_settings.read_only = true;
        read_settings.create = false;
        let readers = Self::pool(config, readers.max(1), &read_settings)?;
        Ok(Self { readers, writer })
    }

    fn pool(config: &Config, max_size: usize, settings: &Settings) -> Result<Pool, PoolError> {
        let mut pool_config = config.get_pool_config();
        pool_config.max_size = max_size;
        let builder = config
            .builder_with(Runtime::Tokio1, settings)
            .unwrap_or_else(|never| match never {});
        builder
            .config(pool_config)
            .build()
            .map_err(|e: BuildError| PoolError::Backend(pool_sqlite_build_error(e)))
    }

    /// A read-only connection (many at once).
    ///
    /// # Errors
    /// As `Pool::get`.
    pub async fn read(&self) -> Result<Connection, PoolError> {
        self.readers.get().await
    }

    /// The writing connection, when the writes queued before this one are
    /// done.
    ///
    /// # Errors
    /// As `Pool::get`.
    pub async fn write(&self) -> Result<Connection, PoolError> {
        self.writer.get().await
    }

    /// The readers' pool (status, metrics, resize).
    #[must_use]
    pub fn readers(&self) -> &Pool {
        &self.readers
    }

    /// The writer's pool.
    #[must_use]
    pub fn writer(&self) -> &Pool {
        &self.writer
    }
}

/// A build error in the pool's error type (rusqlite's), with its text.
fn pool_sqlite_build_error(e: BuildError) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}
