//! What the embedded-database modes (SQLite, DuckDB) share: the options
//! they refuse and where their pool sizes come from.

use crate::load::{self, Operation};

/// What a file database's mode cannot do, refused by name (`db`: its
/// name; `ops`: the operations it takes); its pool sizes: `--pool-sizes`,
/// else the variable `size_var`, else `preset`.
pub fn checks(
    db: &str,
    ops: &str,
    (size_var, preset): (&str, usize),
    mode: load::Mode,
    tls: bool,
    operation: Operation,
    sizes: &[usize],
) -> Result<(Vec<usize>, String), String> {
    if mode == load::Mode::Shared {
        return Err(format!(
            "--mode shared is Redis-only: a {db} connection serves one checkout at a time"
        ));
    }
    if tls {
        return Err(format!(
            "--tls-ca/--tls-cert/--tls-key are for rediss:// servers; {db} is a file"
        ));
    }
    if let Operation::Pipeline(_) = operation {
        return Err(format!(
            "--operation pipeline:N is for servers; {db} has no round trip to save: use {ops}"
        ));
    }
    if let Some(zero) = sizes.iter().find(|&&s| s == 0) {
        return Err(format!("--pool-sizes: {zero} is not a pool size"));
    }
    if !sizes.is_empty() {
        return Ok((sizes.to_vec(), "--pool-sizes".into()));
    }
    match std::env::var(size_var) {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok((vec![n], size_var.into())),
            _ => Err(format!(
                "{size_var}={v:?} is not valid: expected a number of connections, 1 or more"
            )),
        },
        Err(_) => Ok((vec![preset], format!("the {db} preset's size ({preset})"))),
    }
}
