//! The environment configuration of the role pools (`master`,
//! `replica`, `local`), as settings: what each role's pool should be.
//!
//! | variable | default (balanced) | meaning |
//! |---|---|---|
//! | `REDIS_POOL_PRESET` | `balanced` | `minimal`, `balanced` or `high-performance`: the three presets, the base the variables below override |
//! | `REDIS_MASTER_POOL_ENABLED` | `1` | `0`: no pooling for writes, every checkout opens a fresh connection closed on drop |
//! | `REDIS_MASTER_POOL_SIZE` | `10` | the master pool's `max_size` |
//! | `REDIS_SLAVE_POOL_ENABLED` | `1` | the same for the replica (read) pool (the historical spelling) |
//! | `REDIS_SLAVE_POOL_SIZE` | `20` | the replica pool's `max_size` |
//! | `REDIS_LOCAL_POOL_ENABLED` | `1` | the same for the local pool |
//! | `REDIS_LOCAL_POOL_SIZE` | `5` | the local pool's `max_size` |
//! | `REDIS_ASYNC_POOL_ENABLED` | `1` | `0`: no warming (`min_idle` 0) and no ceiling |
//! | `REDIS_ASYNC_POOL_MIN` | `5` | every pool's `min_idle`, capped at its size |
//! | `REDIS_ASYNC_POOL_MAX` | `20` | a ceiling no role's size may exceed |
//!
//! Presets: `minimal` 5 / 10 / 3, min 3, max 10;
//! `balanced` 10 / 20 / 5, min 5, max 20; `high-performance` 20 / 40 / 10,
//! min 10, max 40.
//!
//! Invariant: a bad value is an error naming the variable and the value;
//! nothing falls back to a default silently. [`RoleSettings::from_vars`]
//! takes the variables as an iterator, so tests never touch the process
//! environment.

use std::collections::HashMap;
use std::fmt;

pub use super::Role;

/// The prefix of a role's variables (`REDIS_SLAVE_POOL`: the replica's
/// variables keep the historical spelling).
fn var_prefix(role: Role) -> &'static str {
    match role {
        Role::Master => "REDIS_MASTER_POOL",
        Role::Replica => "REDIS_SLAVE_POOL",
        Role::Local => "REDIS_LOCAL_POOL",
    }
}

/// One role's pool settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RolePool {
    /// `false`: a fresh connection per checkout, closed on drop.
    pub enabled: bool,
    /// `max_size`.
    pub size: usize,
    /// `min_idle` (the async `MIN`, capped at `size`).
    pub min_idle: usize,
}

/// The presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// Tight resources.
    Minimal,
    /// The default.
    Balanced,
    /// Resource-rich.
    HighPerformance,
}

impl Preset {
    /// (master, replica, local, min, max).
    fn numbers(self) -> (usize, usize, usize, usize, usize) {
        match self {
            Preset::Minimal => (5, 10, 3, 3, 10),
            Preset::Balanced => (10, 20, 5, 5, 20),
            Preset::HighPerformance => (20, 40, 10, 10, 40),
        }
    }
}

/// The settings of the three role pools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSettings {
    /// Per role.
    pub pools: HashMap<Role, RolePool>,
    /// `REDIS_ASYNC_POOL_MAX`, if the async settings are enabled.
    pub ceiling: Option<usize>,
}

/// A bad environment value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvError {
    /// Not a value the variable accepts.
    Invalid {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
        /// What it accepts.
        expected: &'static str,
    },
    /// A role's size above `REDIS_ASYNC_POOL_MAX`.
    AboveCeiling {
        /// The size variable.
        var: String,
        /// Its value.
        size: usize,
        /// The ceiling's value.
        ceiling: usize,
    },
    /// One of the variables read here is set to a value that is not
    /// UTF-8 (a variable of someone else's that is not UTF-8 is ignored).
    NotUnicode {
        /// The variable.
        var: String,
    },
    /// `REDIS_ASYNC_POOL_MIN` above `REDIS_ASYNC_POOL_MAX`.
    MinAboveMax {
        /// The two values.
        min: usize,
        /// The ceiling.
        max: usize,
    },
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::Invalid {
                var,
                value,
                expected,
            } => {
                write!(f, "{var}={value:?} is not valid: expected {expected}")
            }
            EnvError::AboveCeiling { var, size, ceiling } => write!(
                f,
                "{var}={size} exceeds REDIS_ASYNC_POOL_MAX={ceiling}: raise REDIS_ASYNC_POOL_MAX or lower {var}"
            ),
            EnvError::NotUnicode { var } => write!(f, "{var} is not valid UTF-8"),
            EnvError::MinAboveMax { min, max } => write!(
                f,
                "REDIS_ASYNC_POOL_MIN={min} exceeds REDIS_ASYNC_POOL_MAX={max}"
            ),
        }
    }
}

impl std::error::Error for EnvError {}

impl RoleSettings {
    /// From the process environment.
    ///
    /// # Errors
    /// [`EnvError`] names the bad variable and value.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_vars_os(std::env::vars_os())
    }

    /// From `(name, value)` pairs as the OS gives them: a `REDIS_*`
    /// variable whose value is not UTF-8 is an error naming it; any other
    /// variable that is not UTF-8 is none of ours and is skipped.
    ///
    /// # Errors
    /// [`EnvError`] names the bad variable and value.
    pub fn from_vars_os(
        vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    ) -> Result<Self, EnvError> {
        let mut ours = Vec::new();
        for (name, value) in vars {
            let Some(name) = name.to_str().filter(|n| n.starts_with("REDIS_")) else {
                continue;
            };
            match value.into_string() {
                Ok(value) => ours.push((name.to_owned(), value)),
                Err(_) => {
                    return Err(EnvError::NotUnicode {
                        var: name.to_owned(),
                    });
                }
            }
        }
        Self::from_vars(ours)
    }

    /// From `(name, value)` pairs (variables not named above are ignored).
    ///
    /// # Errors
    /// [`EnvError`] names the bad variable and value.
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Self, EnvError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.starts_with("REDIS_"))
            .collect();
        let preset = match vars.get("REDIS_POOL_PRESET").map(|v| v.trim()) {
            None | Some("balanced") => Preset::Balanced,
            Some("minimal") => Preset::Minimal,
            Some("high-performance") => Preset::HighPerformance,
            Some(other) => {
                return Err(EnvError::Invalid {
                    var: "REDIS_POOL_PRESET".into(),
                    value: other.into(),
                    expected: "minimal, balanced or high-performance",
                });
            }
        };
        let (master, replica, local, min, max) = preset.numbers();
        let async_enabled = flag(&vars, "REDIS_ASYNC_POOL_ENABLED")?.unwrap_or(true);
        let min = size(&vars, "REDIS_ASYNC_POOL_MIN", true)?.unwrap_or(min);
        let max = size(&vars, "REDIS_ASYNC_POOL_MAX", false)?.unwrap_or(max);
        if async_enabled && min > max {
            return Err(EnvError::MinAboveMax { min, max });
        }
        let mut pools = HashMap::new();
        for (role, default) in Role::ALL.into_iter().zip([master, replica, local]) {
            let prefix = var_prefix(role);
            let size_var = format!("{prefix}_SIZE");
            let enabled = flag(&vars, &format!("{prefix}_ENABLED"))?.unwrap_or(true);
            let size = size(&vars, &size_var, false)?.unwrap_or(default);
            if async_enabled && size > max {
                return Err(EnvError::AboveCeiling {
                    var: size_var,
                    size,
                    ceiling: max,
                });
            }
            let min_idle = if async_enabled && enabled {
                min.min(size)
            } else {
                0
            };
            pools.insert(
                role,
                RolePool {
                    enabled,
                    size,
                    min_idle,
                },
            );
        }
        Ok(RoleSettings {
            pools,
            ceiling: async_enabled.then_some(max),
        })
    }

    /// One role's settings.
    #[must_use]
    pub fn role(&self, role: Role) -> RolePool {
        self.pools[&role]
    }
}

/// A `0`/`1` flag.
fn flag(vars: &HashMap<String, String>, var: &str) -> Result<Option<bool>, EnvError> {
    match vars.get(var).map(|v| v.trim()) {
        None => Ok(None),
        Some("1") => Ok(Some(true)),
        Some("0") => Ok(Some(false)),
        Some(other) => Err(EnvError::Invalid {
            var: var.into(),
            value: other.into(),
            expected: "0 or 1",
        }),
    }
}

/// A positive integer (or, with `zero_ok`, a non-negative one).
fn size(
    vars: &HashMap<String, String>,
    var: &str,
    zero_ok: bool,
) -> Result<Option<usize>, EnvError> {
    let Some(raw) = vars.get(var) else {
        return Ok(None);
    };
    let invalid = || EnvError::Invalid {
        var: var.into(),
        value: raw.clone(),
        expected: if zero_ok {
            "a whole number, 0 or more"
        } else {
            "a whole number, 1 or more"
        },
    };
    let n: usize = raw.trim().parse().map_err(|_| invalid())?;
    if n == 0 && !zero_ok {
        return Err(invalid());
    }
    if n > pool_core::MAX_POOL_SIZE {
        return Err(invalid());
    }
    Ok(Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Result<RoleSettings, EnvError> {
        RoleSettings::from_vars(pairs.iter().map(|(k, v)| (*k, *v)))
    }

    #[test]
    fn defaults_are_the_balanced_preset() {
        let s = vars(&[]).unwrap();
        assert_eq!(
            s.role(Role::Master),
            RolePool {
                enabled: true,
                size: 10,
                min_idle: 5
            }
        );
        assert_eq!(
            s.role(Role::Replica),
            RolePool {
                enabled: true,
                size: 20,
                min_idle: 5
            }
        );
        assert_eq!(
            s.role(Role::Local),
            RolePool {
                enabled: true,
                size: 5,
                min_idle: 5
            }
        );
        assert_eq!(s.ceiling, Some(20));
    }

    #[test]
    fn presets_carry_their_documented_numbers() {
        let s = vars(&[("REDIS_POOL_PRESET", "minimal")]).unwrap();
        assert_eq!(
            (
                s.role(Role::Master).size,
                s.role(Role::Replica).size,
                s.role(Role::Local).size,
                s.ceiling
            ),
            (5, 10, 3, Some(10))
        );
        assert_eq!(s.role(Role::Local).min_idle, 3);
        let s = vars(&[("REDIS_POOL_PRESET", "high-performance")]).unwrap();
        assert_eq!(
            (
                s.role(Role::Master).size,
                s.role(Role::Replica).size,
                s.role(Role::Local).size,
                s.ceiling
            ),
            (20, 40, 10, Some(40))
        );
        assert_eq!(s.role(Role::Master).min_idle, 10);
    }

    #[test]
    fn variables_override_the_preset_and_min_is_capped_at_size() {
        let s = vars(&[
            ("REDIS_MASTER_POOL_SIZE", "3"),
            ("REDIS_ASYNC_POOL_MIN", "4"),
            ("REDIS_SLAVE_POOL_ENABLED", "0"),
        ])
        .unwrap();
        assert_eq!(
            s.role(Role::Master),
            RolePool {
                enabled: true,
                size: 3,
                min_idle: 3
            }
        );
        assert_eq!(
            s.role(Role::Replica),
            RolePool {
                enabled: false,
                size: 20,
                min_idle: 0
            }
        );
    }

    #[test]
    fn async_disabled_turns_off_warming_and_the_ceiling() {
        let s = vars(&[
            ("REDIS_ASYNC_POOL_ENABLED", "0"),
            ("REDIS_MASTER_POOL_SIZE", "100"),
        ])
        .unwrap();
        assert_eq!(
            s.role(Role::Master),
            RolePool {
                enabled: true,
                size: 100,
                min_idle: 0
            }
        );
        assert_eq!(s.ceiling, None);
    }

    #[test]
    fn bad_values_name_the_variable_and_the_value() {
        let cases = [
            (
                ("REDIS_MASTER_POOL_SIZE", "abc"),
                "REDIS_MASTER_POOL_SIZE=\"abc\"",
            ),
            (
                ("REDIS_MASTER_POOL_SIZE", "0"),
                "REDIS_MASTER_POOL_SIZE=\"0\"",
            ),
            (
                ("REDIS_SLAVE_POOL_SIZE", "-3"),
                "REDIS_SLAVE_POOL_SIZE=\"-3\"",
            ),
            (
                ("REDIS_LOCAL_POOL_ENABLED", "yes"),
                "REDIS_LOCAL_POOL_ENABLED=\"yes\"",
            ),
            (("REDIS_ASYNC_POOL_MIN", "x"), "REDIS_ASYNC_POOL_MIN=\"x\""),
            (
                ("REDIS_POOL_PRESET", "turbo"),
                "REDIS_POOL_PRESET=\"turbo\"",
            ),
        ];
        for ((var, value), expected) in cases {
            let err = vars(&[(var, value)]).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
        }
    }

    #[test]
    fn a_size_above_the_ceiling_names_both_variables() {
        let err = vars(&[("REDIS_SLAVE_POOL_SIZE", "30")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("REDIS_SLAVE_POOL_SIZE=30") && err.contains("REDIS_ASYNC_POOL_MAX=20"),
            "{err}"
        );
    }

    #[test]
    fn min_above_max_is_an_error() {
        let err = vars(&[("REDIS_ASYNC_POOL_MIN", "30")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("REDIS_ASYNC_POOL_MIN=30") && err.contains("REDIS_ASYNC_POOL_MAX=20"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_non_unicode_variable_is_named_if_ours_and_skipped_if_not() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let bad = || OsString::from_vec(vec![0xff, 0xfe]);
        let settings = RoleSettings::from_vars_os([
            (OsString::from("LANG_OF_SOMEONE_ELSE"), bad()),
            (OsString::from_vec(vec![b'X', 0xff]), OsString::from("1")),
            (
                OsString::from("REDIS_MASTER_POOL_SIZE"),
                OsString::from("7"),
            ),
        ])
        .unwrap();
        assert_eq!(settings.role(Role::Master).size, 7);
        let err =
            RoleSettings::from_vars_os([(OsString::from("REDIS_POOL_PRESET"), bad())]).unwrap_err();
        assert_eq!(
            err,
            EnvError::NotUnicode {
                var: "REDIS_POOL_PRESET".into()
            }
        );
        assert!(err.to_string().contains("REDIS_POOL_PRESET"), "{err}");
    }

    #[test]
    fn unrelated_variables_are_ignored() {
        assert!(vars(&[("PATH", "/bin"), ("REDIS_URL", "redis://x")]).is_ok());
    }
}
