//! SQLite's own settings, applied to every new connection once, before it
//! is pooled, outside any transaction, and checked.
//!
//! Defaults follow SQLite's advice for a concurrent application: WAL for a
//! file (readers and a writer at once), `synchronous = NORMAL` under WAL
//! (durable at checkpoints, never corrupt), a `busy_timeout` of 5 s (a
//! writer waits for the lock instead of failing at once with
//! `SQLITE_BUSY`), and `PRAGMA optimize` when a connection closes.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// `PRAGMA journal_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[allow(missing_docs)]
pub enum JournalMode {
    Delete,
    Truncate,
    Persist,
    Memory,
    Wal,
    Off,
}

impl JournalMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Delete => "delete",
            Self::Truncate => "truncate",
            Self::Persist => "persist",
            Self::Memory => "memory",
            Self::Wal => "wal",
            Self::Off => "off",
        }
    }
}

/// `PRAGMA synchronous`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[allow(missing_docs)]
pub enum Synchronous {
    Off,
    Normal,
    Full,
    Extra,
}

impl Synchronous {
    fn as_str(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
            Self::Extra => "EXTRA",
        }
    }
}

/// `PRAGMA temp_store`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[allow(missing_docs)]
pub enum TempStore {
    Default,
    File,
    Memory,
}

impl TempStore {
    fn as_str(self) -> &'static str {
        match self {
            Self::Default => "DEFAULT",
            Self::File => "FILE",
            Self::Memory => "MEMORY",
        }
    }
}

/// How every connection of a pool is opened.
///
/// From a config file through serde (every field optional, the defaults
/// below), or from `SQLITE_*` variables with [`Settings::from_env`].
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[non_exhaustive]
pub struct Settings {
    /// `None` (the default): WAL for a file, an in-memory database left
    /// as it is (it cannot do WAL). `Some(mode)`: that mode, checked: a
    /// database that does not take it (`:memory:` and WAL) fails the
    /// connection with an error naming both.
    pub journal_mode: Option<JournalMode>,
    /// Default: `NORMAL` (with WAL); `None`: SQLite's (`FULL`).
    pub synchronous: Option<Synchronous>,
    /// How long a connection waits for a lock before `SQLITE_BUSY`
    /// (default 5 s).
    pub busy_timeout: Duration,
    /// `PRAGMA cache_size` (pages, or KiB when negative).
    pub cache_size: Option<i64>,
    /// `PRAGMA temp_store`.
    pub temp_store: Option<TempStore>,
    /// `PRAGMA mmap_size` (bytes).
    pub mmap_size: Option<u64>,
    /// `PRAGMA foreign_keys`.
    pub foreign_keys: Option<bool>,
    /// `PRAGMA page_size` (bytes, a power of two from 512 to 65536). Set
    /// before the journal mode: a new database takes it, a WAL database
    /// already written keeps its own.
    pub page_size: Option<u32>,
    /// Open read-only (`SQLITE_OPEN_READ_ONLY`); the journal mode is then
    /// left as the file has it.
    pub read_only: bool,
    /// Create the file if it does not exist (default true; never with
    /// `read_only`).
    pub create: bool,
    /// `SQLITE_OPEN_URI`: `path` may be a `file:` URI.
    pub uri: bool,
    /// `SQLITE_OPEN_SHARED_CACHE` (SQLite discourages it; WAL is the
    /// better way to share). Connections are always opened
    /// `SQLITE_OPEN_NO_MUTEX`: a pooled connection is used by one thread at
    /// a time.
    pub shared_cache: bool,
    /// More pragmas, `(name, value)`, applied after the ones above; an
    /// unknown name is an error naming it.
    pub pragmas: Vec<(String, String)>,
    /// `PRAGMA optimize=0x10002` when a connection opens, as SQLite
    /// recommends for long-lived connections (default true; not on a
    /// read-only connection).
    pub optimize_on_open: bool,
    /// `PRAGMA optimize` when a connection closes, as SQLite recommends
    /// (default true).
    pub optimize_on_close: bool,
}

/// Pragmas whose value is a secret (SQLCipher's keys): never shown.
const SECRET_PRAGMAS: [&str; 5] = ["key", "rekey", "hexkey", "hexrekey", "textkey"];

fn is_secret(pragma: &str) -> bool {
    SECRET_PRAGMAS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(pragma.trim()))
}

/// `value`, or `***` when `name` is a pragma whose value is a secret.
pub(crate) fn shown_value<'a>(name: &str, value: &'a str) -> &'a str {
    if is_secret(name) { "***" } else { value }
}

/// As derived, with the values of key pragmas masked.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pragmas: Vec<(&str, &str)> = self
            .pragmas
            .iter()
            .map(|(n, v)| (n.as_str(), shown_value(n, v)))
            .collect();
        f.debug_struct("Settings")
            .field("journal_mode", &self.journal_mode)
            .field("synchronous", &self.synchronous)
            .field("busy_timeout", &self.busy_timeout)
            .field("cache_size", &self.cache_size)
            .field("temp_store", &self.temp_store)
            .field("mmap_size", &self.mmap_size)
            .field("foreign_keys", &self.foreign_keys)
            .field("page_size", &self.page_size)
            .field("read_only", &self.read_only)
            .field("create", &self.create)
            .field("uri", &self.uri)
            .field("shared_cache", &self.shared_cache)
            .field("pragmas", &pragmas)
            .field("optimize_on_open", &self.optimize_on_open)
            .field("optimize_on_close", &self.optimize_on_close)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            journal_mode: None,
            synchronous: Some(Synchronous::Normal),
            busy_timeout: Duration::from_secs(5),
            cache_size: None,
            temp_store: None,
            mmap_size: None,
            foreign_keys: None,
            page_size: None,
            read_only: false,
            create: true,
            uri: false,
            shared_cache: false,
            pragmas: Vec::new(),
            optimize_on_open: true,
            optimize_on_close: true,
        }
    }
}

/// A setting the database refused or would have ignored, naming the
/// database and the setting. The pool's error type is rusqlite's, so it
/// reaches the caller of `get()` inside the one variant rusqlite always
/// has for an error of someone else's (`ToSqlConversionFailure`, whose text
/// is this one's; [`SettingError::into_sqlite`]).
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    /// The file's directory does not exist.
    #[error("{path}: the directory {dir} does not exist")]
    NoDirectory {
        /// The database path.
        path: String,
        /// Its directory.
        dir: String,
    },
    /// The journal mode read back is not the one asked for (`:memory:`
    /// cannot do WAL; neither can a read-only file not already in WAL).
    #[error("{path}: journal_mode {asked} was asked for, the database uses {got}")]
    JournalMode {
        /// The database path.
        path: String,
        /// What was asked for.
        asked: &'static str,
        /// What the database said.
        got: String,
    },
    /// The file cannot be written (its permissions, or a read-only file
    /// system) and the pool was not asked to be read-only: SQLite would
    /// open it read-only without a word and fail the first write.
    #[error("{path}: the file is read-only; open it with `read_only` or make it writable")]
    ReadOnlyFile {
        /// The database path.
        path: String,
    },
    /// A pragma SQLite does not know (it would have ignored it silently).
    #[error("{path}: unknown pragma `{name}`")]
    UnknownPragma {
        /// The database path.
        path: String,
        /// The pragma's name.
        name: String,
    },
    /// SQLite refused a setting.
    #[error("{path}: setting {setting} failed: {source}")]
    Refused {
        /// The database path.
        path: String,
        /// The setting, as `name = value`.
        setting: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

impl SettingError {
    /// As the pool's error type (`rusqlite::Error`), keeping this one as
    /// the source.
    pub fn into_sqlite(self) -> rusqlite::Error {
        rusqlite::Error::ToSqlConversionFailure(Box::new(self))
    }
}

impl Settings {
    fn flags(&self) -> OpenFlags {
        let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if self.read_only {
            flags |= OpenFlags::SQLITE_OPEN_READ_ONLY;
        } else {
            flags |= OpenFlags::SQLITE_OPEN_READ_WRITE;
            if self.create {
                flags |= OpenFlags::SQLITE_OPEN_CREATE;
            }
        }
        if self.uri {
            flags |= OpenFlags::SQLITE_OPEN_URI;
        }
        if self.shared_cache {
            flags |= OpenFlags::SQLITE_OPEN_SHARED_CACHE;
        }
        flags
    }

    /// Opens `path` and applies every setting, checking them. Blocking:
    /// runs on a blocking thread.
    pub(crate) fn open(&self, path: &Path) -> rusqlite::Result<Connection> {
        let shown = path.display().to_string();
        let in_memory = shown == ":memory:" || shown.is_empty();
        if !in_memory
            && !self.uri
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(SettingError::NoDirectory {
                path: shown,
                dir: dir.display().to_string(),
            }
            .into_sqlite());
        }
        if !in_memory && !self.read_only && !self.uri && is_write_protected(path) {
            return Err(SettingError::ReadOnlyFile { path: shown }.into_sqlite());
        }
        let conn = Connection::open_with_flags(path, self.flags())?;
        if !self.read_only && conn.is_readonly(rusqlite::MAIN_DB)? {
            return Err(SettingError::ReadOnlyFile { path: shown }.into_sqlite());
        }
        conn.busy_timeout(self.busy_timeout)?;
        let refused = |setting: String| {
            let path = shown.clone();
            move |source| {
                SettingError::Refused {
                    path,
                    setting,
                    source,
                }
                .into_sqlite()
            }
        };
        let mode = match self.journal_mode {
            Some(mode) => Some(mode),
            None if in_memory || self.read_only => None,
            None => Some(JournalMode::Wal),
        };
        // A key (SQLCipher) comes before anything that reads the file.
        for (name, value) in self.pragmas.iter().filter(|(n, _)| is_secret(n)) {
            conn.pragma_update(None, name, value)
                .map_err(refused(format!("{name} = ***")))?;
        }
        if let Some(size) = self.page_size.filter(|_| !self.read_only) {
            conn.pragma_update(None, "page_size", size)
                .map_err(refused(format!("page_size = {size}")))?;
        }
        if let Some(mode) = mode.filter(|_| !self.read_only) {
            let got: String = conn
                .query_row(
                    &format!("PRAGMA journal_mode = {}", mode.as_str()),
                    [],
                    |r| r.get(0),
                )
                .map_err(refused(format!("journal_mode = {}", mode.as_str())))?;
            if !got.eq_ignore_ascii_case(mode.as_str()) {
                return Err(SettingError::JournalMode {
                    path: shown,
                    asked: mode.as_str(),
                    got,
                }
                .into_sqlite());
            }
        }
        let mut pragmas: Vec<(String, String)> = Vec::new();
        if let Some(s) = self.synchronous {
            pragmas.push(("synchronous".into(), s.as_str().into()));
        }
        if let Some(n) = self.cache_size {
            pragmas.push(("cache_size".into(), n.to_string()));
        }
        if let Some(t) = self.temp_store {
            pragmas.push(("temp_store".into(), t.as_str().into()));
        }
        if let Some(n) = self.mmap_size {
            pragmas.push(("mmap_size".into(), n.to_string()));
        }
        if let Some(on) = self.foreign_keys {
            pragmas.push(("foreign_keys".into(), if on { "ON" } else { "OFF" }.into()));
        }
        for (name, value) in self.pragmas.iter().filter(|(n, _)| !is_secret(n)) {
            if !is_known_pragma(&conn, name) {
                return Err(SettingError::UnknownPragma {
                    path: shown,
                    name: name.clone(),
                }
                .into_sqlite());
            }
            pragmas.push((name.clone(), value.clone()));
        }
        for (name, value) in pragmas {
            conn.pragma_update(None, &name, &value)
                .map_err(refused(format!("{name} = {value}")))?;
        }
        if self.optimize_on_open && !self.read_only {
            conn.execute_batch("PRAGMA optimize = 0x10002")
                .map_err(refused("optimize = 0x10002".into()))?;
        }
        Ok(conn)
    }
}

/// Whether the file exists and its permissions say read-only (no write bit
/// for anyone). Root could still write it, and SQLite would; a file marked
/// read-only is taken as meant so.
fn is_write_protected(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().readonly())
}

/// Whether SQLite knows the pragma `name` (`pragma_pragma_list`); where
/// that list is not compiled in, every name passes.
fn is_known_pragma(conn: &Connection, name: &str) -> bool {
    match conn.query_row(
        "SELECT count(*) FROM pragma_pragma_list WHERE name = ?1",
        [name.to_ascii_lowercase()],
        |r| r.get::<_, i64>(0),
    ) {
        Ok(n) => n > 0,
        Err(e) => {
            tracing::warn!(pragma = name, error = %e, "cannot list SQLite's pragmas: not checked");
            true
        }
    }
}
