//! How a cluster request is sent, and sent again: the one place that
//! decides, for the exclusive and the shared mode alike.
//!
//! redis-rs's cluster client resends a request on its own after a
//! redirect, a timeout or a dropped connection, whatever the command, and
//! a pipeline whole even when some of its commands already ran. So the
//! pool builds it with no retries of its own (`retries(0)`: it still
//! refreshes its slot map on `MOVED` and reconnects a broken node), and
//! this module sends again only what provably did not run, or only reads:
//!
//! - a single command refused with `MOVED` (sent to the node named), `ASK`
//!   (sent there after `ASKING`, the two written together), `TRYAGAIN`,
//!   `CLUSTERDOWN`, `MASTERDOWN`, `LOADING` or `READONLY` (after a pause):
//!   the node answered with the refusal instead of running it;
//! - a transaction (an atomic pipeline) refused the same way, `ASK`
//!   excepted: its queued commands were refused, so `EXEC` aborted;
//! - any request that never reached a node (no connection to it, the
//!   connection refused);
//! - a read-only command or pipeline (the read table) whose connection
//!   broke.
//!
//! Everything else goes to the caller: a write that timed out or whose
//! connection broke may have run, and a non-atomic pipeline refused in
//! part ran in part. All of it within the overall timeout and the retry
//! count of [`ClusterSettings`](super::ClusterSettings).

use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{ErrorKind, RedisError, RedisResult, Value};

use crate::commands::read_only::{is_read_only, pipeline_is_read_only};
use crate::retry::connection_broke;

/// The bounds on sending one request again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resend {
    /// Sends after the first.
    pub(crate) retries: u32,
    pub(crate) min_wait: Duration,
    pub(crate) max_wait: Duration,
    /// All sends of one request together (`None`: unbounded).
    pub(crate) overall: Option<Duration>,
}

impl Resend {
    /// The pause before the `n`th resend (from 0): doubling from the
    /// shortest wait to the longest.
    fn pause(&self, n: u32) -> Duration {
        self.min_wait
            .saturating_mul(1 << n.min(16))
            .min(self.max_wait)
    }
}

/// Where a refusal says to send the request next.
enum Next {
    /// As the slot map says.
    Routed,
    /// The node a `MOVED` named.
    Moved(String, u16),
    /// The node an `ASK` named, after `ASKING`.
    Ask(String, u16),
}

/// Whether the node refused `e`'s request without running any of it.
fn refused(e: &RedisError) -> bool {
    matches!(
        e.code(),
        Some("MOVED" | "ASK" | "TRYAGAIN" | "CLUSTERDOWN" | "MASTERDOWN" | "LOADING" | "READONLY")
    )
}

/// Whether the request never reached a node.
fn never_sent(e: &RedisError) -> bool {
    e.kind() == ErrorKind::ClusterConnectionNotFound
        || std::error::Error::source(e)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// The node a `MOVED` or `ASK` names.
fn redirect(e: &RedisError) -> Option<(String, u16)> {
    let (addr, _slot) = e.redirect_node()?;
    let (host, port) = addr.rsplit_once(':')?;
    Some((host.trim_matches(['[', ']']).to_owned(), port.parse().ok()?))
}

fn timed_out(overall: Duration) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("cluster request: no answer within the overall timeout of {overall:?}"),
    ))
}

/// The count of one request's sends.
struct Sends {
    policy: Resend,
    done: u32,
}

impl Sends {
    /// After a failed send: where to send next, if `again` allows it and
    /// the count is not used up (after a pause unless a redirect names the
    /// node); else the error for the caller.
    async fn next(&mut self, e: RedisError, again: Option<Next>) -> Result<Next, RedisError> {
        let Some(again) = again.filter(|_| self.done < self.policy.retries) else {
            return Err(e);
        };
        tracing::debug!(error = %e, resend = self.done + 1, "cluster request sent again");
        if matches!(again, Next::Routed) {
            tokio::time::sleep(self.policy.pause(self.done)).await;
        }
        self.done += 1;
        Ok(again)
    }
}

/// `request` within the overall timeout.
async fn bounded<T>(
    overall: Option<Duration>,
    request: impl std::future::Future<Output = RedisResult<T>>,
) -> RedisResult<T> {
    match overall {
        Some(overall) => tokio::time::timeout(overall, request)
            .await
            .unwrap_or_else(|_| Err(timed_out(overall))),
        None => request.await,
    }
}

/// One command, sent again only as the module docs say.
pub(crate) async fn single(
    conn: &mut ClusterConnection,
    cmd: &redis::Cmd,
    policy: Resend,
) -> RedisResult<Value> {
    bounded(policy.overall, single_unbounded(conn, cmd, policy)).await
}

async fn single_unbounded(
    conn: &mut ClusterConnection,
    cmd: &redis::Cmd,
    policy: Resend,
) -> RedisResult<Value> {
    let read = is_read_only(cmd);
    let mut sends = Sends { policy, done: 0 };
    let mut next = Next::Routed;
    loop {
        let result = match &next {
            Next::Routed => conn.req_packed_command(cmd).await,
            Next::Moved(host, port) => {
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                });
                conn.route_command(cmd.clone(), route).await
            }
            Next::Ask(host, port) => {
                // ASKING and the command in one write on the node's
                // connection: nothing of another request can come between.
                let mut asking = redis::pipe();
                asking.cmd("ASKING").ignore().add_command(cmd.clone());
                let route = SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                };
                conn.route_pipeline(asking, 1, 1, route)
                    .await
                    .and_then(|mut values| values.pop().ok_or_else(no_reply))
                    .and_then(Value::extract_error)
            }
        };
        let e = match result {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let again = if refused(&e) {
            Some(match (e.code(), redirect(&e)) {
                (Some("MOVED"), Some((host, port))) => Next::Moved(host, port),
                (Some("ASK"), Some((host, port))) => Next::Ask(host, port),
                _ => Next::Routed,
            })
        } else if never_sent(&e) || (read && connection_broke(&e)) {
            Some(Next::Routed)
        } else {
            None
        };
        next = sends.next(e, again).await?;
    }
}

/// A pipeline, sent again only as the module docs say.
pub(crate) async fn pipeline(
    conn: &mut ClusterConnection,
    pipeline: &redis::Pipeline,
    offset: usize,
    count: usize,
    policy: Resend,
) -> RedisResult<Vec<Value>> {
    bounded(
        policy.overall,
        pipeline_unbounded(conn, pipeline, offset, count, policy),
    )
    .await
}

async fn pipeline_unbounded(
    conn: &mut ClusterConnection,
    pipeline: &redis::Pipeline,
    offset: usize,
    count: usize,
    policy: Resend,
) -> RedisResult<Vec<Value>> {
    let read = pipeline_is_read_only(pipeline);
    let atomic = pipeline.is_transaction();
    let mut sends = Sends { policy, done: 0 };
    loop {
        let e = match conn.req_packed_commands(pipeline, offset, count).await {
            Ok(values) => return Ok(values),
            Err(e) => e,
        };
        let aborted = atomic && refused(&e) && e.code() != Some("ASK");
        let again = (aborted || never_sent(&e) || (read && (connection_broke(&e) || refused(&e))))
            .then_some(Next::Routed);
        sends.next(e, again).await?;
    }
}

fn no_reply() -> RedisError {
    RedisError::from((
        ErrorKind::Client,
        "cluster request",
        "no reply to the redirected command".to_owned(),
    ))
}
