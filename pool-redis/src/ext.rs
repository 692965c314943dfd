//! [`RedisPoolExt`]: what a Redis pool offers beyond deadpool-redis's API
//! (shared mode, its stats, pub/sub).

use crate::connection::Connection;
use crate::manager::RedisManager;
use crate::pool::PoolError;
use crate::pubsub::PubSub;
use crate::retry::{RetryPolicy, RetryStats};
use crate::shared::{SharedConnection, SharedStats};

/// What a Redis pool offers beyond deadpool-redis's API. In scope with
/// `use pool_redis::RedisPoolExt;`.
pub trait RedisPoolExt {
    /// A handle on the pool's shared multiplexed connections, for plain
    /// commands at high concurrency: cheap to clone, no checkout. Requests
    /// fill one connection up to [`Manager::shared_depth`](crate::Manager::shared_depth) in flight before
    /// the next is opened, up to `max_size` shared connections (their own
    /// budget, beside the exclusive checkouts). A connection that dies is
    /// replaced by one background reconnect while the others keep serving.
    /// Transactions (outside a pipeline), blocking commands and pub/sub
    /// need an exclusive connection: [`Pool::get`](pool_core::Pool::get) or
    /// [`RedisPoolExt::pubsub`].
    ///
    /// Must be called within a tokio runtime (connections are made in the
    /// background).
    fn shared(&self) -> SharedConnection;

    /// Figures of the shared connections (all zero before the first
    /// `shared()`).
    fn shared_stats(&self) -> SharedStats;

    /// Changes how reads whose connection broke are retried (see
    /// [`RetryPolicy`]); applies to requests that fail from now on.
    fn set_read_retry(&self, policy: RetryPolicy);

    /// What read retries did so far.
    fn retry_stats(&self) -> RetryStats;

    /// A dedicated pub/sub connection. It takes one of the pool's slots
    /// while it lives (so it counts against `max_size` and `status().size`)
    /// and frees it when dropped.
    ///
    /// # Errors
    /// The pool's error when no slot is free in time, or the connection
    /// error (`PoolError::Backend`).
    fn pubsub(&self) -> impl std::future::Future<Output = Result<PubSub, PoolError>> + Send;
}

/// How long [`RedisPoolExt::pubsub`] may take to connect and subscribe-ready
/// its dedicated connection (TCP, TLS, `HELLO`/`AUTH`).
pub const PUBSUB_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl<M: RedisManager> RedisPoolExt for pool_core::Pool<M, Connection<M>> {
    fn shared(&self) -> SharedConnection {
        self.manager()
            .redis_manager()
            .shared_set(self.status().max_size)
            .handle()
    }

    fn shared_stats(&self) -> SharedStats {
        self.manager()
            .redis_manager()
            .shared
            .get()
            .map(|set| set.stats())
            .unwrap_or_default()
    }

    fn set_read_retry(&self, policy: RetryPolicy) {
        self.manager().redis_manager().retry.set_policy(policy);
    }

    fn retry_stats(&self) -> RetryStats {
        self.manager().redis_manager().retry.stats()
    }

    async fn pubsub(&self) -> Result<PubSub, PoolError> {
        let conn = self.get().await?;
        // The pooled connection gives up its slot to the pub/sub one: it is
        // closed here, and the slot stays taken until the PubSub is dropped.
        let (pooled, slot) = pool_core::Object::keep_slot(conn.into_object());
        drop(pooled);
        let (client, _) = self
            .manager()
            .redis_manager()
            .next_client()
            .await
            .map_err(PoolError::Backend)?;
        // redis-rs's pub/sub connect has no timeout of its own; the slot
        // is held meanwhile, so a server that accepts and never answers
        // must not keep it.
        let pubsub =
            match tokio::time::timeout(PUBSUB_CONNECT_TIMEOUT, client.get_async_pubsub()).await {
                Ok(connected) => connected.map_err(PoolError::Backend)?,
                Err(_) => {
                    return Err(PoolError::Backend(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "pub/sub connect timed out",
                        format!(
                            "no answer from {} within {PUBSUB_CONNECT_TIMEOUT:?}",
                            client.get_connection_info().addr()
                        ),
                    ))));
                }
            };
        Ok(PubSub::new(pubsub, Box::new(slot)))
    }
}
