//! What shared mode refuses: commands that would change or hold the
//! session of every task sharing a multiplexed connection. Decided from
//! the classifier in `super`; runs on every shared request, so it
//! allocates only when it refuses.

use redis::{ErrorKind, RedisError, RedisResult};

use super::Kind;

fn refused(name: &[u8], why: &str) -> RedisError {
    RedisError::from((
        ErrorKind::Client,
        "command not allowed on a shared connection",
        format!(
            "{} {why}; use an exclusive connection (pool.get()) or pool.pubsub()",
            String::from_utf8_lossy(name).to_ascii_uppercase()
        ),
    ))
}

/// Runs on every request: allocation-free unless it refuses.
pub(crate) fn refuse_single(cmd: &redis::Cmd) -> RedisResult<()> {
    let name = super::name(cmd);
    match super::kind_of(cmd) {
        Kind::Multi | Kind::ExecOrDiscard => Err(refused(
            name,
            "outside a pipeline would interleave with other tasks' commands",
        )),
        kind => refuse_session_or_blocking(cmd, name, kind),
    }
}

fn refuse_session_or_blocking(cmd: &redis::Cmd, name: &[u8], kind: Kind) -> RedisResult<()> {
    match kind {
        Kind::Watch | Kind::Unwatch | Kind::Session => Err(refused(
            name,
            "changes the session of every task sharing the connection",
        )),
        Kind::Blocking if super::blocking_timeout(cmd).is_some() => Err(refused(
            name,
            "would block every task sharing the connection",
        )),
        _ => Ok(()),
    }
}

/// A pipeline is written as one unit, so a transaction inside it (`MULTI`
/// ... `EXEC`, as `pipe().atomic()` sends) is safe as long as it is closed
/// within the pipeline; a blocking command inside a transaction does not
/// block.
pub(crate) fn refuse_pipeline(pipeline: &redis::Pipeline) -> RedisResult<()> {
    let mut in_multi = false;
    for cmd in pipeline.cmd_iter() {
        let name = super::name(cmd);
        match super::kind_of(cmd) {
            Kind::Plain => {}
            Kind::Multi if !in_multi => in_multi = true,
            Kind::ExecOrDiscard if in_multi => in_multi = false,
            Kind::Multi | Kind::ExecOrDiscard => {
                return Err(refused(name, "unbalanced in the pipeline"));
            }
            Kind::Blocking if in_multi => {}
            kind => refuse_session_or_blocking(cmd, name, kind)?,
        }
    }
    if in_multi {
        return Err(refused(b"MULTI", "without EXEC in the pipeline"));
    }
    Ok(())
}
