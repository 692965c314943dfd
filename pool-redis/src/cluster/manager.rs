//! Creates and checks cluster connections; holds the pool's shared one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::cluster_read_routing::RandomReplicaStrategy;
use redis::{IntoConnectionInfo, RedisError, RedisResult};

use crate::manager::DEFAULT_HEALTH_CHECK_INTERVAL;

use super::config::ClusterSettings;
use super::managed_cluster::ManagedCluster;
use super::send;
use super::shared::SharedCluster;
use super::{ClusterClient, ClusterClientBuilder, Metrics};

/// Creates and checks cluster connections.
pub struct Manager {
    pub(super) client: ClusterClient,
    pub(super) resend: send::Resend,
    pub(super) ping_number: AtomicUsize,
    /// The shared-mode connection, made at its first command.
    pub(super) shared: Arc<SharedCluster>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager for the cluster some of whose nodes are `params`, with
    /// [`ClusterSettings::default`]'s bounded timeouts.
    ///
    /// # Errors
    /// The redis crate's error for unusable addresses.
    pub fn new<T: IntoConnectionInfo>(
        params: Vec<T>,
        read_from_replicas: bool,
    ) -> RedisResult<Self> {
        Self::with_settings(
            params,
            &ClusterSettings {
                read_from_replicas,
                ..ClusterSettings::default()
            },
        )
    }

    /// A manager with the cluster client's `settings`.
    ///
    /// # Errors
    /// The redis crate's error for unusable addresses or settings.
    pub fn with_settings<T: IntoConnectionInfo>(
        params: Vec<T>,
        settings: &ClusterSettings,
    ) -> RedisResult<Self> {
        // No resends inside redis-rs: it would send anything again, writes
        // and half-run pipelines included; `send` decides instead.
        let mut builder = ClusterClientBuilder::new(params)
            .connection_timeout(settings.connection_timeout)
            .overall_response_timeout(settings.overall_timeout)
            .retries(0)
            .min_retry_wait(duration_ms(settings.min_retry_wait))
            .max_retry_wait(duration_ms(settings.max_retry_wait));
        if let Some(timeout) = settings.response_timeout {
            builder = builder.response_timeout(timeout);
        }
        if settings.read_from_replicas {
            builder = builder.read_routing_strategy(RandomReplicaStrategy);
        }
        if let Some(username) = &settings.username {
            builder = builder.username(username);
        }
        if let Some(password) = &settings.password {
            builder = builder.password(password);
        }
        if let Some(certs) = &settings.certificates {
            crate::tls::check_bytes(certs).map_err(|e| crate::tls::config_error(&e))?;
            #[cfg(any(feature = "tls-rustls", feature = "tls-native-tls"))]
            {
                crate::tls::ensure_crypto_provider();
                builder = builder.certs(crate::tls::to_redis(certs));
            }
            #[cfg(not(any(feature = "tls-rustls", feature = "tls-native-tls")))]
            return Err(RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "TLS is not built in",
                "enable pool-redis's `tls-rustls` feature (or `tls-native-tls`)".to_owned(),
            )));
        }
        let client = builder.build()?;
        let resend = send::Resend {
            retries: settings.retries,
            min_wait: settings.min_retry_wait,
            max_wait: settings.max_retry_wait,
            overall: settings.overall_timeout,
        };
        Ok(Self {
            resend,
            shared: Arc::new(SharedCluster {
                resend,
                client: client.clone(),
                conn: tokio::sync::OnceCell::new(),
            }),
            client,
            ping_number: AtomicUsize::new(0),
        })
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl pool_core::Manager for Manager {
    type Type = ManagedCluster;
    type Error = RedisError;

    async fn create(&self) -> Result<ManagedCluster, RedisError> {
        Ok(ManagedCluster {
            conn: self.client.get_async_connection().await?,
            resend: self.resend,
            session: false,
            in_multi: false,
        })
    }

    async fn recycle(
        &self,
        conn: &mut ManagedCluster,
        _: &Metrics,
    ) -> pool_core::RecycleResult<RedisError> {
        let ping_number = self.ping_number.fetch_add(1, Ordering::Relaxed).to_string();
        let n: String = redis::cmd("PING")
            .arg(&ping_number)
            .query_async(&mut conn.conn)
            .await?;
        if n == ping_number {
            Ok(())
        } else {
            Err(pool_core::RecycleError::message("Invalid PING response"))
        }
    }

    /// [`DEFAULT_HEALTH_CHECK_INTERVAL`]: no PING for a connection used in
    /// the last second.
    fn health_check_interval(&self) -> Duration {
        DEFAULT_HEALTH_CHECK_INTERVAL
    }

    fn is_broken(&self, conn: &mut ManagedCluster) -> bool {
        conn.unusable()
    }
}
