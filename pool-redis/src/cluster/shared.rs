//! Shared mode for cluster pools: one `ClusterConnection` per pool,
//! cloned into each handle.

use std::sync::Arc;

use redis::RedisResult;
use redis::aio::ConnectionLike;

use crate::commands::shared_policy::{refuse_pipeline, refuse_single};

use super::send;
use super::{ClusterClient, ClusterConnection, Pool};

/// A cluster pool's shared connection and where it comes from.
pub(super) struct SharedCluster {
    pub(super) client: ClusterClient,
    pub(super) resend: send::Resend,
    pub(super) conn: tokio::sync::OnceCell<ClusterConnection>,
}

/// Shared mode for cluster pools. In scope with
/// `use pool_redis::cluster::ClusterPoolExt;`.
pub trait ClusterPoolExt {
    /// A cheap, cloneable handle on the pool's one shared
    /// `ClusterConnection` (one connection per node), for plain commands
    /// and pipelines without a checkout. Commands that hold or change a
    /// connection's session (`WATCH`, a bare `MULTI`, `SUBSCRIBE`, blocking
    /// commands) are refused with an error naming the command, as in
    /// [`RedisPoolExt::shared`](crate::RedisPoolExt::shared).
    fn shared(&self) -> ClusterShared;
}

impl ClusterPoolExt for Pool {
    fn shared(&self) -> ClusterShared {
        ClusterShared {
            shared: Arc::clone(&self.manager().shared),
            conn: None,
        }
    }
}

/// A handle on a cluster pool's shared connection (see
/// [`ClusterPoolExt::shared`]).
#[derive(Clone)]
pub struct ClusterShared {
    pub(super) shared: Arc<SharedCluster>,
    /// This handle's clone of the connection, once made.
    pub(super) conn: Option<ClusterConnection>,
}

impl std::fmt::Debug for ClusterShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterShared")
            .field("connected", &self.shared.conn.initialized())
            .finish_non_exhaustive()
    }
}

impl ClusterShared {
    pub(super) async fn connection(&mut self) -> RedisResult<&mut ClusterConnection> {
        if self.conn.is_none() {
            let shared = &*self.shared;
            let conn = shared
                .conn
                .get_or_try_init(|| shared.client.get_async_connection())
                .await?;
            self.conn = Some(conn.clone());
        }
        Ok(self.conn.as_mut().expect("set above"))
    }
}

impl ConnectionLike for ClusterShared {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            refuse_single(cmd)?;
            let resend = self.shared.resend;
            let conn = self.connection().await?;
            send::single(conn, cmd, resend).await
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            refuse_pipeline(pipeline)?;
            let resend = self.shared.resend;
            let conn = self.connection().await?;
            send::pipeline(conn, pipeline, offset, count, resend).await
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}
