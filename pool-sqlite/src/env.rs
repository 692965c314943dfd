//! `SQLITE_*` environment variables: the database, the pool and SQLite's
//! settings, each variable read by one name, each bad value an error naming
//! the variable and the value (a key pragma's value is never shown).
//!
//! | variable | value |
//! |---|---|
//! | `SQLITE_PATH` | the database file (required by [`Config::from_env`]) |
//! | `SQLITE_POOL_SIZE` | the pool's `max_size` |
//! | `SQLITE_POOL_TIMEOUT` | seconds a checkout waits for a connection |
//! | `SQLITE_JOURNAL_MODE` | `delete`, `truncate`, `persist`, `memory`, `wal`, `off` |
//! | `SQLITE_SYNCHRONOUS` | `off`, `normal`, `full`, `extra`, `default` (SQLite's) |
//! | `SQLITE_BUSY_TIMEOUT` | seconds (`0.5`, `30`) |
//! | `SQLITE_CACHE_SIZE` | pages, or KiB when negative |
//! | `SQLITE_TEMP_STORE` | `default`, `file`, `memory` |
//! | `SQLITE_MMAP_SIZE` | bytes |
//! | `SQLITE_PAGE_SIZE` | bytes, a power of two from 512 to 65536 |
//! | `SQLITE_FOREIGN_KEYS`, `SQLITE_READ_ONLY`, `SQLITE_CREATE`, `SQLITE_URI`, `SQLITE_SHARED_CACHE`, `SQLITE_OPTIMIZE_ON_OPEN`, `SQLITE_OPTIMIZE_ON_CLOSE` | `1` or `0` |
//! | `SQLITE_PRAGMAS` | more pragmas, `name=value;name=value` |

use std::collections::HashMap;
use std::time::Duration;

use crate::{Config, JournalMode, PoolConfig, Settings, Synchronous, TempStore};

/// A bad `SQLITE_*` variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// Not a value the variable accepts.
    #[error("{var}={value:?} is not valid: expected {expected}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Its value (masked where it is a key).
        value: String,
        /// What it accepts.
        expected: &'static str,
    },
    /// A variable that must be set is not.
    #[error("{var} is not set: {what}")]
    Missing {
        /// The variable.
        var: &'static str,
        /// What it gives.
        what: &'static str,
    },
    /// A variable of ours whose value is not UTF-8.
    #[error("{var} is not valid UTF-8")]
    NotUnicode {
        /// The variable.
        var: String,
    },
    /// Two variables that cannot both hold.
    #[error("{0}")]
    Conflict(&'static str),
}

/// The `SQLITE_*` variables, UTF-8 checked.
struct Vars(HashMap<String, String>);

impl Vars {
    fn from_os(
        vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    ) -> Result<Self, EnvError> {
        let mut ours = HashMap::new();
        for (name, value) in vars {
            let Some(name) = name.to_str().filter(|n| n.starts_with("SQLITE_")) else {
                continue;
            };
            let value = value.into_string().map_err(|_| EnvError::NotUnicode {
                var: name.to_owned(),
            })?;
            ours.insert(name.to_owned(), value);
        }
        Ok(Self(ours))
    }

    fn from_pairs<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(k, _)| k.starts_with("SQLITE_"))
                .collect(),
        )
    }

    fn get(&self, var: &str) -> Option<&str> {
        self.0.get(var).map(|v| v.trim())
    }

    fn parse<T>(
        &self,
        var: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, EnvError> {
        match self.get(var) {
            None => Ok(None),
            Some(value) => parse(value).map(Some).ok_or_else(|| EnvError::Invalid {
                var,
                value: value.to_owned(),
                expected,
            }),
        }
    }

    fn flag(&self, var: &'static str) -> Result<Option<bool>, EnvError> {
        self.parse(var, "1 or 0", |v| match v {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        })
    }

    fn seconds(&self, var: &'static str) -> Result<Option<Duration>, EnvError> {
        self.parse(var, "seconds, such as 0.5 or 30", |v| {
            v.parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
        })
    }
}

impl Settings {
    /// The defaults, changed by the `SQLITE_*` variables of the process
    /// environment that are set (the table in this module's docs).
    ///
    /// # Errors
    /// [`EnvError`] names the bad variable and its value.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_vars_os(std::env::vars_os())
    }

    /// As [`Settings::from_env`], from `(name, value)` pairs as the OS
    /// gives them (a `SQLITE_*` value that is not UTF-8 is an error).
    ///
    /// # Errors
    /// [`EnvError`] names the bad variable and its value.
    pub fn from_vars_os(
        vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    ) -> Result<Self, EnvError> {
        Self::from(&Vars::from_os(vars)?)
    }

    /// As [`Settings::from_env`], from `(name, value)` pairs.
    ///
    /// # Errors
    /// [`EnvError`] names the bad variable and its value.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, EnvError> {
        Self::from(&Vars::from_pairs(vars))
    }

    fn from(vars: &Vars) -> Result<Self, EnvError> {
        let mut s = Settings::default();
        if let Some(mode) = vars.parse(
            "SQLITE_JOURNAL_MODE",
            "delete, truncate, persist, memory, wal or off",
            |v| {
                Some(match v.to_ascii_lowercase().as_str() {
                    "delete" => JournalMode::Delete,
                    "truncate" => JournalMode::Truncate,
                    "persist" => JournalMode::Persist,
                    "memory" => JournalMode::Memory,
                    "wal" => JournalMode::Wal,
                    "off" => JournalMode::Off,
                    _ => return None,
                })
            },
        )? {
            s.journal_mode = Some(mode);
        }
        if let Some(sync) = vars.parse(
            "SQLITE_SYNCHRONOUS",
            "off, normal, full, extra or default",
            |v| {
                Some(match v.to_ascii_lowercase().as_str() {
                    "off" => Some(Synchronous::Off),
                    "normal" => Some(Synchronous::Normal),
                    "full" => Some(Synchronous::Full),
                    "extra" => Some(Synchronous::Extra),
                    "default" => None,
                    _ => return None,
                })
            },
        )? {
            s.synchronous = sync;
        }
        if let Some(t) = vars.seconds("SQLITE_BUSY_TIMEOUT")? {
            s.busy_timeout = t;
        }
        s.cache_size = vars.parse("SQLITE_CACHE_SIZE", "an integer", |v| v.parse().ok())?;
        s.temp_store = vars.parse("SQLITE_TEMP_STORE", "default, file or memory", |v| {
            Some(match v.to_ascii_lowercase().as_str() {
                "default" => TempStore::Default,
                "file" => TempStore::File,
                "memory" => TempStore::Memory,
                _ => return None,
            })
        })?;
        s.mmap_size = vars.parse("SQLITE_MMAP_SIZE", "bytes, a whole number", |v| {
            v.parse().ok()
        })?;
        s.page_size = vars.parse(
            "SQLITE_PAGE_SIZE",
            "a power of two from 512 to 65536",
            |v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| n.is_power_of_two() && (512..=65536).contains(n))
            },
        )?;
        s.foreign_keys = vars.flag("SQLITE_FOREIGN_KEYS")?;
        let flag = |var, default| vars.flag(var).map(|v| v.unwrap_or(default));
        s.read_only = flag("SQLITE_READ_ONLY", s.read_only)?;
        let create = vars.flag("SQLITE_CREATE")?;
        if s.read_only && create == Some(true) {
            return Err(EnvError::Conflict(
                "SQLITE_READ_ONLY=1 and SQLITE_CREATE=1: a read-only pool cannot create the file",
            ));
        }
        s.create = create.unwrap_or(s.create);
        s.uri = flag("SQLITE_URI", s.uri)?;
        s.shared_cache = flag("SQLITE_SHARED_CACHE", s.shared_cache)?;
        s.optimize_on_open = flag("SQLITE_OPTIMIZE_ON_OPEN", s.optimize_on_open)?;
        s.optimize_on_close = flag("SQLITE_OPTIMIZE_ON_CLOSE", s.optimize_on_close)?;
        if let Some(list) = vars.get("SQLITE_PRAGMAS") {
            for entry in list.split(';').map(str::trim).filter(|e| !e.is_empty()) {
                let Some((name, value)) = entry.split_once('=') else {
                    return Err(EnvError::Invalid {
                        var: "SQLITE_PRAGMAS",
                        value: entry.to_owned(),
                        expected: "name=value entries separated by `;`",
                    });
                };
                let name = name.trim();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(EnvError::Invalid {
                        var: "SQLITE_PRAGMAS",
                        value: format!("{name}=..."),
                        expected: "a pragma name of letters, digits and `_`",
                    });
                }
                s.pragmas.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        Ok(s)
    }
}

impl Config {
    /// The database (`SQLITE_PATH`) and the pool (`SQLITE_POOL_SIZE`,
    /// `SQLITE_POOL_TIMEOUT`) from the process environment; SQLite's own
    /// settings are [`Settings::from_env`].
    ///
    /// # Errors
    /// [`EnvError`] names the bad or missing variable.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_vars(
            Vars::from_os(std::env::vars_os())?
                .0
                .into_iter()
                .collect::<Vec<_>>(),
        )
    }

    /// As [`Config::from_env`], from `(name, value)` pairs.
    ///
    /// # Errors
    /// [`EnvError`] names the bad or missing variable.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, EnvError> {
        let vars = Vars::from_pairs(vars);
        let path = vars
            .get("SQLITE_PATH")
            .filter(|p| !p.is_empty())
            .ok_or(EnvError::Missing {
                var: "SQLITE_PATH",
                what: "the database file",
            })?;
        let mut config = Config::new(path);
        let size = vars.parse(
            "SQLITE_POOL_SIZE",
            "a number of connections, 1 or more",
            |v| v.parse::<usize>().ok().filter(|n| *n > 0),
        )?;
        let wait = vars.seconds("SQLITE_POOL_TIMEOUT")?;
        if size.is_some() || wait.is_some() {
            let mut pool = PoolConfig::default();
            if let Some(n) = size {
                pool.max_size = n;
            }
            if let Some(w) = wait {
                pool.timeouts.wait = Some(w);
            }
            config.pool = Some(pool);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_read() {
        let s = Settings::from_vars([
            ("SQLITE_JOURNAL_MODE", "truncate"),
            ("SQLITE_SYNCHRONOUS", "full"),
            ("SQLITE_BUSY_TIMEOUT", "0.25"),
            ("SQLITE_CACHE_SIZE", "-64000"),
            ("SQLITE_TEMP_STORE", "memory"),
            ("SQLITE_MMAP_SIZE", "268435456"),
            ("SQLITE_PAGE_SIZE", "8192"),
            ("SQLITE_FOREIGN_KEYS", "1"),
            ("SQLITE_URI", "1"),
            ("SQLITE_SHARED_CACHE", "1"),
            ("SQLITE_OPTIMIZE_ON_OPEN", "0"),
            ("SQLITE_OPTIMIZE_ON_CLOSE", "0"),
            (
                "SQLITE_PRAGMAS",
                "recursive_triggers=ON; analysis_limit = 400",
            ),
            ("OTHER", "x"),
        ])
        .unwrap();
        assert_eq!(s.journal_mode, Some(JournalMode::Truncate));
        assert_eq!(s.synchronous, Some(Synchronous::Full));
        assert_eq!(s.busy_timeout, Duration::from_millis(250));
        assert_eq!(s.cache_size, Some(-64000));
        assert_eq!(s.temp_store, Some(TempStore::Memory));
        assert_eq!(s.mmap_size, Some(268_435_456));
        assert_eq!(s.page_size, Some(8192));
        assert_eq!(s.foreign_keys, Some(true));
        assert!(s.uri && s.shared_cache && !s.optimize_on_open && !s.optimize_on_close);
        assert_eq!(
            s.pragmas,
            [
                ("recursive_triggers".to_owned(), "ON".to_owned()),
                ("analysis_limit".to_owned(), "400".to_owned())
            ]
        );
        assert_eq!(
            Settings::from_vars::<&str, &str>([]).unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn a_bad_value_names_the_variable_and_the_value() {
        for (var, value) in [
            ("SQLITE_JOURNAL_MODE", "wall"),
            ("SQLITE_SYNCHRONOUS", "2"),
            ("SQLITE_BUSY_TIMEOUT", "-1"),
            ("SQLITE_BUSY_TIMEOUT", "5s"),
            ("SQLITE_CACHE_SIZE", "lots"),
            ("SQLITE_PAGE_SIZE", "1000"),
            ("SQLITE_PAGE_SIZE", "131072"),
            ("SQLITE_FOREIGN_KEYS", "yes"),
            ("SQLITE_PRAGMAS", "recursive_triggers"),
        ] {
            let e = Settings::from_vars([(var, value)]).unwrap_err().to_string();
            assert!(e.contains(var) && e.contains(value), "{var}={value}: {e}");
        }
        let e = Settings::from_vars([("SQLITE_READ_ONLY", "1"), ("SQLITE_CREATE", "1")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SQLITE_READ_ONLY") && e.contains("SQLITE_CREATE"),
            "{e}"
        );
    }

    #[test]
    fn a_key_pragma_is_never_shown() {
        let s = Settings::from_vars([("SQLITE_PRAGMAS", "key='hunter2'")]).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"), "{s:?}");
        let e = Settings::from_vars([("SQLITE_PRAGMAS", "key here='hunter2'")])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn the_config_reads_path_and_pool() {
        let c = Config::from_vars([
            ("SQLITE_PATH", "/var/lib/app.db"),
            ("SQLITE_POOL_SIZE", "5"),
            ("SQLITE_POOL_TIMEOUT", "30"),
        ])
        .unwrap();
        assert_eq!(c.path, std::path::Path::new("/var/lib/app.db"));
        let pool = c.pool.unwrap();
        assert_eq!(pool.max_size, 5);
        assert_eq!(pool.timeouts.wait, Some(Duration::from_secs(30)));
        let e = Config::from_vars::<&str, &str>([]).unwrap_err().to_string();
        assert!(e.contains("SQLITE_PATH"), "{e}");
        let e = Config::from_vars([("SQLITE_PATH", "a.db"), ("SQLITE_POOL_SIZE", "0")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("SQLITE_POOL_SIZE=\"0\""), "{e}");
    }
}
