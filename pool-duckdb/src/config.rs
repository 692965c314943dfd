//! `Config`: where the database is, the pool's settings and DuckDB's; its
//! `create_pool` opens the database (on a blocking thread) so a bad path,
//! a file that is not a DuckDB database, a lock another process holds or a
//! setting DuckDB refuses is an error at pool creation, naming it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pool_core::Runtime;

use crate::{AccessMode, Error, Manager, Pool, PoolConfig, Settings};

/// The database, the pool and DuckDB's settings.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Config {
    /// The database file; empty or `:memory:` for an in-memory database
    /// (one per pool, shared by its connections).
    pub path: PathBuf,
    /// Pool settings (`None`: [`Config::default_pool`]).
    pub pool: Option<PoolConfig>,
    /// DuckDB's settings.
    pub settings: Settings,
}

/// Why a configuration did not become a pool.
#[derive(Debug, thiserror::Error)]
pub enum CreatePoolError {
    /// The database could not be opened, named with the reason.
    #[error(transparent)]
    Open(#[from] Error),
    /// The pool settings cannot work.
    #[error(transparent)]
    Build(#[from] pool_core::BuildError),
}

impl Config {
    /// A configuration for the database at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }

    /// A configuration for an in-memory database.
    #[must_use]
    pub fn in_memory() -> Self {
        Self::new(":memory:")
    }

    /// The pool settings when none are given: the tuning guide's DuckDB
    /// preset (10 connections and 5 more under load, 60 s to wait for one,
    /// each replaced after 2 hours).
    #[must_use]
    pub fn default_pool() -> PoolConfig {
        let mut pool = PoolConfig::new(10);
        pool.max_overflow = 5;
        pool.timeouts.wait = Some(Duration::from_secs(60));
        pool.max_lifetime = Some(Duration::from_secs(7200));
        pool
    }

    /// The pool settings: the configured ones, or [`Config::default_pool`].
    #[must_use]
    pub fn get_pool_config(&self) -> PoolConfig {
        self.pool.unwrap_or_else(Self::default_pool)
    }

    fn is_in_memory(&self) -> bool {
        let p = self.path.as_os_str();
        p.is_empty() || p == ":memory:"
    }

    fn shown(&self) -> String {
        if self.is_in_memory() {
            ":memory:".into()
        } else {
            self.path.display().to_string()
        }
    }

    /// Opens the database on a blocking thread and builds the pool; the
    /// connections are made as the pool needs them.
    ///
    /// # Errors
    /// [`CreatePoolError::Open`] names the file or setting that failed;
    /// [`CreatePoolError::Build`] a pool setting that cannot work.
    pub async fn create_pool(&self) -> Result<Pool, CreatePoolError> {
        let shown = self.shown();
        self.settings.check().map_err(|source| Error::Setting {
            path: shown.clone(),
            source,
        })?;
        if !self.is_in_memory()
            && let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(Error::NoDirectory {
                path: shown,
                dir: dir.display().to_string(),
            }
            .into());
        }
        let claim =
            if self.is_in_memory() {
                None
            } else {
                Some(crate::open_files::claim(&self.path).await.map_err(|()| {
                    Error::AlreadyOpen {
                        path: shown.clone(),
                    }
                })?)
            };
        let (path, in_memory, access, pairs, shown_open) = (
            self.path.clone(),
            self.is_in_memory(),
            self.settings.access_mode,
            self.settings.pairs(),
            shown.clone(),
        );
        let (root, per_connection) = tokio::task::spawn_blocking(move || {
            open(&shown_open, &path, in_memory, access, &pairs)
        })
        .await
        .map_err(|e| Error::Interrupted {
            path: shown.clone(),
            reason: e.to_string(),
        })??;
        let root = crate::DbConnection::new(root, claim);
        let manager = Manager::new(shown, root, per_connection, Runtime::Tokio1);
        Ok(Pool::builder(manager)
            .config(self.get_pool_config())
            .runtime(Runtime::Tokio1)
            .build()?)
    }
}

/// DuckDB's answer to `SET GLOBAL` of a setting it scopes per connection.
const NOT_GLOBAL: &str = "cannot be set globally";

/// Opens the database instance in `access` mode, then sets every other
/// setting with `SET GLOBAL` (the database's value, which every
/// connection made later starts with; DuckDB's own message names an
/// unknown setting or a bad value). A setting DuckDB keeps per connection
/// (`enable_progress_bar`, ...) is set on this one and returned, for the
/// manager to set on every new one. Blocking.
fn open(
    shown: &str,
    path: &Path,
    in_memory: bool,
    access: AccessMode,
    pairs: &[(String, String)],
) -> Result<(duckdb::Connection, Vec<String>), Error> {
    let opened = duckdb::Config::default()
        .access_mode(access.duckdb())
        .and_then(|config| {
            if in_memory {
                duckdb::Connection::open_in_memory_with_flags(config)
            } else {
                duckdb::Connection::open_with_flags(path, config)
            }
        });
    let root = opened.map_err(|source| Error::Open {
        path: shown.to_owned(),
        source,
    })?;
    let mut per_connection = Vec::new();
    for (name, value) in pairs {
        let value_sql = format!("'{}'", value.replace('\'', "''"));
        let refused = |source| Error::Refused {
            path: shown.to_owned(),
            setting: format!("{name} = {value}"),
            source,
        };
        match root.execute_batch(&format!("SET GLOBAL {name} = {value_sql}")) {
            Ok(()) => {}
            Err(e) if e.to_string().contains(NOT_GLOBAL) => {
                let set = format!("SET SESSION {name} = {value_sql}");
                root.execute_batch(&set).map_err(refused)?;
                per_connection.push(set);
            }
            Err(e) => return Err(refused(e)),
        }
    }
    Ok((root, per_connection))
}
