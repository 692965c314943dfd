//! Arbitrary arguments to the blocking commands whose timeout the pool
//! reads (`BLPOP q inf`, `XREAD BLOCK 1e300 ...`, `WAITAOF ...`): through
//! shared mode, which reads the timeout before anything is sent, never a
//! panic. Input: a command index byte, then arguments separated by spaces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pool_redis::redis::aio::ConnectionLike;
use pool_redis::{Config, RedisPoolExt, Runtime};

const BLOCKING: &[&str] = &[
    "BLPOP",
    "BRPOP",
    "BRPOPLPUSH",
    "BLMOVE",
    "BZPOPMIN",
    "BZPOPMAX",
    "BLMPOP",
    "BZMPOP",
    "XREAD",
    "XREADGROUP",
    "WAIT",
    "WAITAOF",
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let mut cmd = pool_redis::redis::cmd(BLOCKING[usize::from(which) % BLOCKING.len()]);
    for arg in rest.split(|&b| b == b' ') {
        cmd.arg(arg);
    }
    // Paused time: a connect retry's wait passes at once.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        // Nothing listens on port 1: a command that is not refused fails to
        // connect at once.
        let pool = Config::from_url("redis://127.0.0.1:1/0")
            .create_pool(Some(Runtime::Tokio1))
            .unwrap();
        let mut shared = pool.shared();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            shared.req_packed_command(&cmd),
        )
        .await;
    });
});
