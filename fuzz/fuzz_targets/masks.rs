//! Arbitrary text as a Redis or PostgreSQL URL: the masks never panic,
//! and whatever password the crate's own parser would read from the text
//! (redis-rs's, tokio-postgres's) is gone from the masked text: it shows
//! there fewer times than in the text (the same characters may also be,
//! say, the database's name).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let redis_masked = pool_redis::masked_url(&text);
    if let Ok(info) = redis::IntoConnectionInfo::into_connection_info(&*text)
        && let Some(password) = info.redis_settings().password()
        && password.len() >= 4
    {
        assert!(
            shown_less(&redis_masked, &text, password),
            "{text:?} -> {redis_masked:?} shows {password:?}"
        );
    }
    let pg_masked = pool_postgres::masked_url(&text);
    if let Ok(config) = text.parse::<tokio_postgres::Config>()
        && let Some(password) = config.get_password()
        && password.len() >= 4
    {
        let password = String::from_utf8_lossy(password);
        assert!(
            shown_less(&pg_masked, &text, &password),
            "{text:?} -> {pg_masked:?} shows {password:?}"
        );
    }
});

/// The password is not in the masked text, or shows there fewer times than
/// in the text (where the same characters stand for something else too).
fn shown_less(masked: &str, text: &str, password: &str) -> bool {
    let shown = masked.matches(password).count();
    shown == 0 || shown < text.matches(password).count()
}
