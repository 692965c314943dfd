//! Arbitrary strings as a Redis URL: `Config::from_url` and building the
//! pool never panic (a bad URL is a `CreatePoolError`). Nothing connects:
//! building a pool opens no connection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pool_redis::{Config, Runtime};

fuzz_target!(|data: &[u8]| {
    let url = String::from_utf8_lossy(data).into_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    if let Ok(pool) = Config::from_url(url).create_pool(Some(Runtime::Tokio1)) {
        let _ = pool.status();
    }
});
