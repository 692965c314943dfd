//! Arbitrary text as a Redis or PostgreSQL URL: the masks never panic,
//! and the masked text, parsed by the crate's own parser (redis-rs's,
//! tokio-postgres's), has no password but the mask (or an empty one). That
//! no password the parser reads from a well-formed URL survives the mask
//! is property-tested in the crates (`secret.rs`), where the password's
//! place is known.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let redis_masked = pool_redis::masked_url(&text);
    if let Ok(info) = redis::IntoConnectionInfo::into_connection_info(&*redis_masked) {
        let left = info.redis_settings().password();
        assert!(
            left.is_none_or(|p| p.is_empty() || p == "***"),
            "{text:?} -> {redis_masked:?} still has a password: {left:?}"
        );
    }
    let pg_masked = pool_postgres::masked_url(&text);
    if let Ok(config) = pg_masked.parse::<tokio_postgres::Config>() {
        let left = config.get_password();
        assert!(
            left.is_none_or(|p| p.is_empty() || p == b"***"),
            "{text:?} -> {pg_masked:?} still has a password"
        );
    }
});
