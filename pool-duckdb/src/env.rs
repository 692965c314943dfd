//! `DUCKDB_*` environment variables: a whole [`Config`], each bad value an
//! error naming the variable and the value.
//!
//! | variable | value |
//! |---|---|
//! | `DUCKDB_PATH` | the database file; `:memory:` for in-memory (required) |
//! | `DUCKDB_POOL_SIZE` | the pool's `max_size` (default 10) |
//! | `DUCKDB_POOL_MAX_OVERFLOW` | connections beyond it under load (default 5) |
//! | `DUCKDB_POOL_TIMEOUT` | seconds a checkout waits (default 60) |
//! | `DUCKDB_THREADS` | the database's worker threads |
//! | `DUCKDB_MEMORY_LIMIT`, `DUCKDB_MAX_MEMORY` | the database's memory cap (`4GB`, `75%`) |
//! | `DUCKDB_TEMP_DIRECTORY` | where DuckDB spills |
//! | `DUCKDB_CHECKPOINT_THRESHOLD` | WAL size that triggers a checkpoint |
//! | `DUCKDB_ENABLE_PROFILING`, `DUCKDB_ENABLE_PROGRESS_BAR` | `1` or `0` |
//! | `DUCKDB_ACCESS_MODE` | `automatic`, `read_only`, `read_write` |
//! | `DUCKDB_SETTINGS` | more settings, `name=value;name=value` |

use std::collections::HashMap;
use std::time::Duration;

use crate::{AccessMode, Config};

/// A bad or missing `DUCKDB_*` variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// Not a value the variable accepts.
    #[error("{var}={value:?} is not valid: expected {expected}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What it accepts.
        expected: &'static str,
    },
    /// `DUCKDB_PATH` is not set.
    #[error("DUCKDB_PATH is not set: the database file, or :memory:")]
    NoPath,
    /// A variable of ours whose value is not UTF-8.
    #[error("{var} is not valid UTF-8")]
    NotUnicode {
        /// The variable.
        var: String,
    },
}

impl Config {
    /// A configuration from the process environment's `DUCKDB_*`
    /// variables (the table in this module's docs).
    ///
    /// # Errors
    /// [`EnvError`] names the bad or missing variable.
    pub fn from_env() -> Result<Self, EnvError> {
        let mut ours = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().filter(|n| n.starts_with("DUCKDB_")) else {
                continue;
            };
            let value = value.into_string().map_err(|_| EnvError::NotUnicode {
                var: name.to_owned(),
            })?;
            ours.push((name.to_owned(), value));
        }
        Self::from_vars(ours)
    }

    /// As [`Config::from_env`], from `(name, value)` pairs.
    ///
    /// # Errors
    /// [`EnvError`] names the bad or missing variable.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, EnvError> {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into().trim().to_owned()))
            .collect();
        let get = |var: &str| vars.get(var).map(String::as_str);
        let invalid = |var: &'static str, value: &str, expected: &'static str| EnvError::Invalid {
            var,
            value: value.to_owned(),
            expected,
        };
        let number = |var: &'static str, min: usize| -> Result<Option<usize>, EnvError> {
            get(var)
                .map(|v| {
                    v.parse::<usize>()
                        .ok()
                        .filter(|n| *n >= min)
                        .ok_or_else(|| invalid(var, v, "a whole number (at least 1 for sizes)"))
                })
                .transpose()
        };
        let flag = |var: &'static str| -> Result<Option<bool>, EnvError> {
            get(var)
                .map(|v| match v {
                    "1" => Ok(true),
                    "0" => Ok(false),
                    _ => Err(invalid(var, v, "1 or 0")),
                })
                .transpose()
        };
        let mut config = Config::new(get("DUCKDB_PATH").ok_or(EnvError::NoPath)?);
        let mut pool = Config::default_pool();
        if let Some(n) = number("DUCKDB_POOL_SIZE", 1)? {
            pool.max_size = n;
        }
        if let Some(n) = number("DUCKDB_POOL_MAX_OVERFLOW", 0)? {
            pool.max_overflow = n;
        }
        if let Some(v) = get("DUCKDB_POOL_TIMEOUT") {
            let wait = v
                .parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| invalid("DUCKDB_POOL_TIMEOUT", v, "seconds, such as 0.5 or 60"))?;
            pool.timeouts.wait = Some(wait);
        }
        config.pool = Some(pool);
        let s = &mut config.settings;
        if let Some(n) = number("DUCKDB_THREADS", 1)? {
            s.threads =
                Some(u32::try_from(n).map_err(|_| {
                    invalid("DUCKDB_THREADS", &n.to_string(), "a number of threads")
                })?);
        }
        s.memory_limit = get("DUCKDB_MEMORY_LIMIT").map(str::to_owned);
        s.max_memory = get("DUCKDB_MAX_MEMORY").map(str::to_owned);
        s.temp_directory = get("DUCKDB_TEMP_DIRECTORY").map(Into::into);
        s.checkpoint_threshold = get("DUCKDB_CHECKPOINT_THRESHOLD").map(str::to_owned);
        s.enable_profiling = flag("DUCKDB_ENABLE_PROFILING")?;
        if let Some(on) = flag("DUCKDB_ENABLE_PROGRESS_BAR")? {
            s.enable_progress_bar = on;
        }
        if let Some(v) = get("DUCKDB_ACCESS_MODE") {
            s.access_mode = match v.to_ascii_lowercase().as_str() {
                "automatic" => AccessMode::Automatic,
                "read_only" => AccessMode::ReadOnly,
                "read_write" => AccessMode::ReadWrite,
                _ => {
                    return Err(invalid(
                        "DUCKDB_ACCESS_MODE",
                        v,
                        "automatic, read_only or read_write",
                    ));
                }
            };
        }
        if let Some(list) = get("DUCKDB_SETTINGS") {
            for entry in list.split(';').map(str::trim).filter(|e| !e.is_empty()) {
                let (name, value) = entry.split_once('=').ok_or_else(|| {
                    invalid(
                        "DUCKDB_SETTINGS",
                        entry,
                        "name=value entries separated by `;`",
                    )
                })?;
                s.extra
                    .push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_read() {
        let c = Config::from_vars([
            ("DUCKDB_PATH", "/data/a.duckdb"),
            ("DUCKDB_POOL_SIZE", "20"),
            ("DUCKDB_POOL_MAX_OVERFLOW", "0"),
            ("DUCKDB_POOL_TIMEOUT", "2.5"),
            ("DUCKDB_THREADS", "4"),
            ("DUCKDB_MEMORY_LIMIT", "4GB"),
            ("DUCKDB_TEMP_DIRECTORY", "/tmp/spill"),
            ("DUCKDB_CHECKPOINT_THRESHOLD", "1GB"),
            ("DUCKDB_ENABLE_PROFILING", "0"),
            ("DUCKDB_ENABLE_PROGRESS_BAR", "1"),
            ("DUCKDB_ACCESS_MODE", "read_only"),
            (
                "DUCKDB_SETTINGS",
                "preserve_insertion_order=false; default_order=desc",
            ),
        ])
        .unwrap();
        assert_eq!(c.path, std::path::Path::new("/data/a.duckdb"));
        let pool = c.pool.unwrap();
        assert_eq!((pool.max_size, pool.max_overflow), (20, 0));
        assert_eq!(pool.timeouts.wait, Some(Duration::from_millis(2500)));
        let s = &c.settings;
        assert_eq!(s.threads, Some(4));
        assert_eq!(s.memory_limit.as_deref(), Some("4GB"));
        assert_eq!(
            s.temp_directory.as_deref(),
            Some(std::path::Path::new("/tmp/spill"))
        );
        assert_eq!(s.checkpoint_threshold.as_deref(), Some("1GB"));
        assert_eq!(s.enable_profiling, Some(false));
        assert!(s.enable_progress_bar);
        assert_eq!(s.access_mode, AccessMode::ReadOnly);
        assert_eq!(s.extra.len(), 2);
    }

    #[test]
    fn a_bad_value_names_the_variable_and_the_value() {
        for (var, value) in [
            ("DUCKDB_POOL_SIZE", "0"),
            ("DUCKDB_POOL_TIMEOUT", "soon"),
            ("DUCKDB_THREADS", "many"),
            ("DUCKDB_ENABLE_PROFILING", "yes"),
            ("DUCKDB_ACCESS_MODE", "write"),
            ("DUCKDB_SETTINGS", "threads"),
        ] {
            let e = Config::from_vars([("DUCKDB_PATH", "a.duckdb"), (var, value)])
                .unwrap_err()
                .to_string();
            assert!(e.contains(var) && e.contains(value), "{var}={value}: {e}");
        }
        let e = Config::from_vars::<&str, &str>([]).unwrap_err().to_string();
        assert!(e.contains("DUCKDB_PATH"), "{e}");
    }
}
