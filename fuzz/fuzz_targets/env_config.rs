//! Arbitrary `REDIS_*_POOL_*` variable maps into `RolePools::from_vars`:
//! always pools or an error naming one of the variables given, never a
//! panic. Input: lines of `NAME=value`; names without the `REDIS_` prefix
//! get one of the real variable names (so most inputs hit the parser).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pool_redis::{RoleAddrs, RolePools};

const NAMES: &[&str] = &[
    "REDIS_POOL_PRESET",
    "REDIS_MASTER_POOL_ENABLED",
    "REDIS_MASTER_POOL_SIZE",
    "REDIS_SLAVE_POOL_ENABLED",
    "REDIS_SLAVE_POOL_SIZE",
    "REDIS_LOCAL_POOL_ENABLED",
    "REDIS_LOCAL_POOL_SIZE",
    "REDIS_ASYNC_POOL_MIN",
    "REDIS_ASYNC_POOL_MAX",
    "REDIS_ASYNC_POOL_ENABLED",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let vars: Vec<(String, String)> = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let (name, value) = line.split_once('=').unwrap_or(("", line));
            let name = if name.starts_with("REDIS_") {
                name.to_owned()
            } else {
                NAMES[i % NAMES.len()].to_owned()
            };
            (name, value.to_owned())
        })
        .collect();
    let addrs = RoleAddrs {
        master: "redis://127.0.0.1:1/".into(),
        replica: "redis://127.0.0.1:2/".into(),
        local: "redis://127.0.0.1:3/".into(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    if let Err(e) = RolePools::from_vars(vars.clone(), &addrs) {
        let message = e.to_string();
        assert!(
            vars.iter().any(|(name, _)| message.contains(name.as_str())),
            "the error names none of the variables given: {message}"
        );
    }
});
