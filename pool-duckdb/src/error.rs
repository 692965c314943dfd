//! The pool's error: what went wrong opening the database or a connection,
//! naming the file or the setting.

use crate::SettingError;

/// Why the database or a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file's directory does not exist.
    #[error("{path}: the directory {dir} does not exist")]
    NoDirectory {
        /// The database path.
        path: String,
        /// Its directory.
        dir: String,
    },
    /// Another pool of this process has the file open. DuckDB would open
    /// it again as a second, independent instance (two caches and two
    /// write-ahead logs over one file, blind to each other's writes);
    /// clone the pool that has it instead.
    #[error(
        "{path}: already open by another pool of this process; clone that pool (a second DuckDB instance on one file would not see the first's writes)"
    )]
    AlreadyOpen {
        /// The database path.
        path: String,
    },
    /// A setting refused before DuckDB saw it.
    #[error("{path}: {source}")]
    Setting {
        /// The database path.
        path: String,
        /// What is wrong with it.
        source: SettingError,
    },
    /// DuckDB refused to open the database: not a DuckDB file, locked by
    /// another process, an unknown setting or a bad value (DuckDB's message
    /// names which).
    #[error("{path}: cannot open the database: {source}")]
    Open {
        /// The database path.
        path: String,
        /// DuckDB's error.
        source: duckdb::Error,
    },
    /// DuckDB refused a setting: an unknown name or a bad value (its
    /// message names which, and suggests the name meant).
    #[error("{path}: setting {setting} refused: {source}")]
    Refused {
        /// The database path.
        path: String,
        /// The setting, as `name = value`.
        setting: String,
        /// DuckDB's error.
        source: duckdb::Error,
    },
    /// A new connection to the open database failed.
    #[error("{path}: new connection: {source}")]
    Connect {
        /// The database path.
        path: String,
        /// DuckDB's error.
        source: duckdb::Error,
    },
    /// Opening ran on a blocking thread that panicked or was cancelled.
    #[error("{path}: opening did not finish: {reason}")]
    Interrupted {
        /// The database path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A query of the pool's own (the check at checkout) failed.
    #[error(transparent)]
    DuckDb(#[from] duckdb::Error),
}
