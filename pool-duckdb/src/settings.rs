//! DuckDB's settings by name, checked before the database opens where they
//! can be, and handed to DuckDB when it opens (it refuses an unknown name
//! or a bad value; the error names them).
//!
//! DuckDB's `threads` and `memory_limit` belong to the database instance
//! that every connection of a pool shares, not to a connection: `threads`
//! is the one worker-thread pool all queries run on, `memory_limit` (whose
//! other name is `max_memory`) the one buffer pool's cap. A configuration
//! that gives `memory_limit` and `max_memory` different values (a limit
//! "per connection" and one "for all") asks for something DuckDB does not
//! have, and is refused with that explanation instead of applying one of
//! them silently.

use std::path::PathBuf;

/// `access_mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AccessMode {
    /// DuckDB's default: read-write for a file it can write.
    #[default]
    Automatic,
    /// Read-only: many processes may open the file at once.
    ReadOnly,
    /// Read-write: one process at a time holds the file's lock.
    ReadWrite,
}

impl AccessMode {
    pub(crate) fn duckdb(self) -> duckdb::AccessMode {
        match self {
            Self::Automatic => duckdb::AccessMode::Automatic,
            Self::ReadOnly => duckdb::AccessMode::ReadOnly,
            Self::ReadWrite => duckdb::AccessMode::ReadWrite,
        }
    }
}

/// How the pool's database instance is opened. Every field is optional;
/// unset, DuckDB's own default applies, except `enable_progress_bar`,
/// which is off (a pool serves programs, not a terminal).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[non_exhaustive]
pub struct Settings {
    /// Worker threads of the database instance, shared by every
    /// connection's queries (DuckDB's default: the number of cores).
    pub threads: Option<u32>,
    /// The database instance's memory cap, such as `4GB` or `75%` (DuckDB's
    /// default: 80% of RAM). One cap for all connections together.
    pub memory_limit: Option<String>,
    /// DuckDB's other name for `memory_limit`: accepted if it is the only
    /// one set or equal to it.
    pub max_memory: Option<String>,
    /// Where DuckDB spills what does not fit in memory.
    pub temp_directory: Option<PathBuf>,
    /// WAL size that triggers a checkpoint, such as `1GB`.
    pub checkpoint_threshold: Option<String>,
    /// Query profiling (off by DuckDB's default; costs time when on).
    pub enable_profiling: Option<bool>,
    /// The progress bar (default off here).
    pub enable_progress_bar: bool,
    /// Read-only, read-write, or DuckDB's choice.
    pub access_mode: AccessMode,
    /// More settings, `(name, value)`, passed to DuckDB as they are; an
    /// unknown name or a bad value fails the open, naming it.
    pub extra: Vec<(String, String)>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            threads: None,
            memory_limit: None,
            max_memory: None,
            temp_directory: None,
            checkpoint_threshold: None,
            enable_profiling: None,
            enable_progress_bar: false,
            access_mode: AccessMode::Automatic,
            extra: Vec::new(),
        }
    }
}

/// A setting refused before DuckDB sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// `memory_limit` and `max_memory` differ.
    #[error(
        "memory_limit={memory_limit:?} and max_memory={max_memory:?}: these are one DuckDB setting, the cap of the \
         database instance all connections share (DuckDB has no per-connection memory limit); set one of them"
    )]
    TwoMemoryLimits {
        /// `memory_limit`.
        memory_limit: String,
        /// `max_memory`.
        max_memory: String,
    },
    /// `threads = 0`.
    #[error(
        "threads=0: DuckDB needs at least one worker thread (the database instance's, shared by every connection)"
    )]
    NoThreads,
    /// A memory size DuckDB would not parse.
    #[error(
        "{name}={value:?} is not a memory size: expected a number and a unit (500MB, 4GB, 1.5GiB) or a percentage of RAM (75%)"
    )]
    BadSize {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// An extra setting whose name could not be a DuckDB setting.
    #[error("extra setting {name:?}: a DuckDB setting name is letters, digits and `_`")]
    BadName {
        /// The name.
        name: String,
    },
}

impl Settings {
    /// Checks what can be checked without DuckDB.
    ///
    /// # Errors
    /// The first setting that cannot work, named.
    pub fn check(&self) -> Result<(), SettingError> {
        if let (Some(a), Some(b)) = (&self.memory_limit, &self.max_memory)
            && !a.trim().eq_ignore_ascii_case(b.trim())
        {
            return Err(SettingError::TwoMemoryLimits {
                memory_limit: a.clone(),
                max_memory: b.clone(),
            });
        }
        if self.threads == Some(0) {
            return Err(SettingError::NoThreads);
        }
        for (name, value) in [
            ("memory_limit", &self.memory_limit),
            ("max_memory", &self.max_memory),
            ("checkpoint_threshold", &self.checkpoint_threshold),
        ] {
            if let Some(v) = value
                && !is_memory_size(v)
            {
                return Err(SettingError::BadSize {
                    name,
                    value: v.clone(),
                });
            }
        }
        if let Some((name, _)) = self.extra.iter().find(|(n, _)| {
            n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }) {
            return Err(SettingError::BadName { name: name.clone() });
        }
        Ok(())
    }

    /// The `(name, value)` pairs set once the database is open (the access
    /// mode is the open's own), in order.
    pub(crate) fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        if let Some(n) = self.threads {
            pairs.push(("threads".into(), n.to_string()));
        }
        if let Some(m) = self.memory_limit.as_ref().or(self.max_memory.as_ref()) {
            pairs.push(("memory_limit".into(), m.trim().to_owned()));
        }
        if let Some(dir) = &self.temp_directory {
            pairs.push(("temp_directory".into(), dir.display().to_string()));
        }
        if let Some(t) = &self.checkpoint_threshold {
            pairs.push(("checkpoint_threshold".into(), t.trim().to_owned()));
        }
        if let Some(on) = self.enable_profiling {
            // DuckDB's profiler takes an output format, not a boolean.
            if on {
                pairs.push(("enable_profiling".into(), "json".into()));
            }
        }
        pairs.push((
            "enable_progress_bar".into(),
            self.enable_progress_bar.to_string(),
        ));
        pairs.extend(self.extra.iter().cloned());
        pairs
    }
}

/// `4GB`, `500 MiB`, `1.5GB`, `75%`, `1000000` (bytes): what DuckDB's
/// memory settings take.
fn is_memory_size(v: &str) -> bool {
    let v = v.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    if number.parse::<f64>().map_or(true, |n| !n.is_finite()) {
        return false;
    }
    const UNITS: [&str; 19] = [
        "", "b", "byte", "bytes", "kb", "kib", "mb", "mib", "gb", "gib", "tb", "tib", "k", "m",
        "g", "t", "%", "pb", "pib",
    ];
    UNITS.contains(&unit.trim().to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        for ok in ["4GB", "500 MiB", "1.5GB", "75%", "1000000", "8gb"] {
            assert!(is_memory_size(ok), "{ok}");
        }
        for bad in ["lots", "4 GBs", "GB", "", "-1GB", "4XB"] {
            assert!(!is_memory_size(bad), "{bad}");
        }
    }

    #[test]
    fn a_limit_per_connection_and_one_for_all_is_refused_with_the_reason() {
        let mut s = Settings {
            memory_limit: Some("4GB".into()),
            max_memory: Some("8GB".into()),
            ..Settings::default()
        };
        let e = s.check().unwrap_err().to_string();
        assert!(
            e.contains("memory_limit=\"4GB\"")
                && e.contains("max_memory=\"8GB\"")
                && e.contains("no per-connection memory limit"),
            "{e}"
        );
        s.max_memory = Some("4gb".into());
        assert_eq!(s.check(), Ok(()));
        s.memory_limit = None;
        assert!(s.pairs().contains(&("memory_limit".into(), "4gb".into())));
    }

    #[test]
    fn bad_values_are_named() {
        let s = Settings {
            threads: Some(0),
            ..Settings::default()
        };
        assert!(s.check().unwrap_err().to_string().starts_with("threads=0"));
        let s = Settings {
            checkpoint_threshold: Some("big".into()),
            ..Settings::default()
        };
        assert!(
            s.check()
                .unwrap_err()
                .to_string()
                .contains("checkpoint_threshold=\"big\"")
        );
        let s = Settings {
            extra: vec![("threads; DROP".into(), "1".into())],
            ..Settings::default()
        };
        assert!(
            s.check()
                .unwrap_err()
                .to_string()
                .contains("\"threads; DROP\"")
        );
    }
}
