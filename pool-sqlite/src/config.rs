//! deadpool-sqlite's `Config`, field for field (struct literals of it keep
//! compiling), and the builders that add [`Settings`].

use std::convert::Infallible;
use std::path::PathBuf;

use crate::{CreatePoolError, Manager, Pool, PoolBuilder, PoolConfig, Runtime, Settings};

/// Where the database is, and the pool's settings. SQLite's own settings
/// (journal mode, `busy_timeout`, pragmas) are [`Settings`], given with
/// [`Config::builder_with`]; without them the defaults of
/// [`Settings::default`] apply (WAL for a file, `busy_timeout` 5 s, ...).
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct Config {
    /// The database file (`:memory:` for a private in-memory database per
    /// connection).
    pub path: PathBuf,
    /// Pool settings (`None`: the defaults).
    pub pool: Option<PoolConfig>,
}

/// deadpool-sqlite's: a configuration never fails to become a pool (bad
/// paths and settings are errors of the first connection, naming them).
pub type ConfigError = Infallible;

impl Config {
    /// A configuration for the database at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            pool: None,
        }
    }

    /// Builds the pool with [`Settings::default`].
    ///
    /// # Errors
    /// [`CreatePoolError::Build`] for pool settings that cannot work.
    pub fn create_pool(&self, runtime: Runtime) -> Result<Pool, CreatePoolError> {
        self.builder(runtime)
            .map_err(CreatePoolError::Config)?
            .build()
            .map_err(CreatePoolError::Build)
    }

    /// A builder with [`Settings::default`].
    ///
    /// # Errors
    /// None (deadpool-sqlite's signature).
    pub fn builder(&self, runtime: Runtime) -> Result<PoolBuilder, ConfigError> {
        self.builder_with(runtime, &Settings::default())
    }

    /// A builder whose connections are opened with `settings`.
    ///
    /// # Errors
    /// None (deadpool-sqlite's signature).
    pub fn builder_with(
        &self,
        runtime: Runtime,
        settings: &Settings,
    ) -> Result<PoolBuilder, ConfigError> {
        let manager = Manager::with_settings(self, settings.clone(), runtime);
        Ok(Pool::builder(manager)
            .config(self.get_pool_config())
            .runtime(runtime))
    }

    /// The pool settings: the configured ones, or the defaults.
    #[must_use]
    pub fn get_pool_config(&self) -> PoolConfig {
        self.pool.unwrap_or_default()
    }
}
