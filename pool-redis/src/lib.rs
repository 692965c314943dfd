//! A Redis connection pool built on [`pool_core`]: a drop-in replacement for
//! deadpool-redis 0.23 (rename the crate, nothing else), plus what it lacks:
//!
//! - **No PING on every checkout.** The health-check interval is 1 s by
//!   default: a connection used successfully within the last second goes
//!   straight to the caller; an older one is checked (`UNWATCH` + `PING`).
//! - **Passive failure detection.** [`Connection`] sees the result of every
//!   command sent through it; a connection whose command failed with an
//!   unrecoverable or connection-dropped error is marked broken and
//!   dropped when it comes back, never handed out again. The one cost of
//!   skipping the PING: a connection that dies silently within the interval
//!   fails one command before it is replaced.
//! - **Session state never leaks to the next user.** A connection that sent
//!   `WATCH` is recycled (`UNWATCH` + `PING`) at its next checkout even
//!   inside the interval; one left in `MULTI`, or that sent `SELECT` or a
//!   `SUBSCRIBE`, or whose request future was dropped before its answer
//!   arrived, is closed at return, not reused. A connection whose raw
//!   `MultiplexedConnection` was borrowed mutably (`DerefMut`: commands that
//!   bypass the wrapper) is `RESET` before its next use, with its login and
//!   database restored, in one pipelined round trip.
//! - Everything pool-core adds: fair hand-off, a create circuit breaker
//!   with backoff (`PoolError::Unavailable`), `min_idle`, lifetimes.

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod commands;
mod config;
pub mod env;
mod registry;
mod roles;
mod shared;

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, RedisError, RedisResult};

use commands::{Blocking, Kind};

pub use pool_core;
pub use pool_core::managed::reexports::*;
pub use redis;
pub use registry::{
    DEFAULT_CLEANUP_INTERVAL, DEFAULT_IDLE_PERIOD, PoolStats, ProcessMemory, RegistryStats,
    SharedPoolRegistry,
};
pub use roles::{RoleAddrs, RolePools, RolePoolsError};
pub use shared::{DEFAULT_SHARED_DEPTH, SharedConnection, SharedStats};

pub use self::config::{
    Config, ConfigError, ConnectionAddr, ConnectionInfo, DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_HEALTH_CHECK_INTERVAL, ProtocolVersion, RedisConnectionInfo,
};

/// A pool of Redis connections.
pub type Pool = pool_core::Pool<Manager, Connection>;
/// A weak handle to a [`Pool`].
pub type WeakPool = pool_core::WeakPool<Manager, Connection>;
/// Builder of a [`Pool`].
pub type PoolBuilder = pool_core::PoolBuilder<Manager, Connection>;
/// Why a pool could not be built.
pub type BuildError = pool_core::BuildError;
/// Why a [`Config`] could not become a pool.
pub type CreatePoolError = pool_core::CreatePoolError<ConfigError>;
/// Why `get()` failed.
pub type PoolError = pool_core::PoolError<RedisError>;
/// A pooled connection as pool-core sees it (prefer [`Connection`]).
pub type Object = pool_core::Object<Manager>;
/// A hook run on connections.
pub type Hook = pool_core::Hook<Manager>;
/// Error of a hook.
pub type HookError = pool_core::HookError<RedisError>;
/// Reuse order of idle connections.
pub type QueueMode = pool_core::QueueMode;

/// A multiplexed connection plus what the pool learned from its traffic.
pub struct ManagedConnection {
    conn: MultiplexedConnection,
    /// A command failed in a way that leaves the connection unusable, or
    /// the connection carries state a reset cannot undo cheaply.
    broken: bool,
    /// The connection carries session state (`WATCH`) to reset.
    needs_reset: bool,
    /// The raw connection was lent out (`DerefMut`): anything may have been
    /// sent; a full `RESET` (plus re-login and `SELECT`) before reuse.
    exposed: bool,
    /// A request was sent and its future dropped before the answer: the
    /// answer is still on its way, so the connection is closed, not reused.
    in_flight: bool,
    /// `MULTI` sent without its `EXEC`/`DISCARD`.
    in_multi: bool,
    /// `Some`: the connection was made without redis's response timeout and
    /// the wrapper applies this one per command, or, for a blocking command
    /// (`BLPOP key 5`), the command's own timeout plus this margin.
    command_timeout: Option<Duration>,
}

impl std::fmt::Debug for ManagedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedConnection")
            .field("broken", &self.broken)
            .field("needs_reset", &self.needs_reset)
            .finish_non_exhaustive()
    }
}

impl Deref for ManagedConnection {
    type Target = MultiplexedConnection;
    fn deref(&self) -> &MultiplexedConnection {
        &self.conn
    }
}

impl DerefMut for ManagedConnection {
    fn deref_mut(&mut self) -> &mut MultiplexedConnection {
        &mut self.conn
    }
}

impl ManagedConnection {
    fn new(conn: MultiplexedConnection, command_timeout: Option<Duration>) -> Self {
        Self {
            conn,
            command_timeout,
            broken: false,
            needs_reset: false,
            exposed: false,
            in_flight: false,
            in_multi: false,
        }
    }

    /// Notes what a command will leave behind on the connection.
    fn note_command(&mut self, cmd: &redis::Cmd) {
        let name = commands::name(cmd);
        match commands::kind(name) {
            Kind::Watch => self.needs_reset = true,
            Kind::Multi => self.in_multi = true,
            Kind::ExecOrDiscard => self.in_multi = false,
            Kind::Session => {
                tracing::debug!(
                    command = %String::from_utf8_lossy(name),
                    "session-changing command on a pooled connection: it will not be reused"
                );
                self.broken = true;
            }
            Kind::Plain | Kind::Unwatch | Kind::Blocking => {}
        }
    }

    /// Notes the outcome of a request (`timed_out`: we stopped waiting, the
    /// answer is still on its way, so the request stays in flight).
    fn note_result<T>(&mut self, result: &RedisResult<T>, timed_out: bool) {
        self.in_flight = timed_out;
        if let Err(e) = result
            && (e.is_unrecoverable_error() || e.is_connection_dropped())
        {
            tracing::debug!(error = %e, "connection failed: it will be dropped at return");
            self.broken = true;
        }
    }

    /// How long to wait for the answer to `cmds`: `None` waits as redis's
    /// own connection settings say (or forever, for `BLPOP key 0`).
    fn answer_timeout<'c>(&self, cmds: impl Iterator<Item = &'c redis::Cmd>) -> Option<Duration> {
        let base = self.command_timeout?;
        let mut longest = base;
        for cmd in cmds {
            match commands::blocking_timeout(cmd) {
                Some(Blocking::Forever) => return None,
                Some(Blocking::For(t)) => longest = longest.max(t + base),
                None => {}
            }
        }
        Some(longest)
    }

    /// Whether the connection must not go back into the pool.
    fn unusable(&self) -> bool {
        self.broken || self.in_flight || self.in_multi
    }
}

/// A connection checked out of a [`Pool`]; it goes back when dropped.
/// Derefs to `redis::aio::MultiplexedConnection`, and every command sent
/// through it (as a `ConnectionLike`, so every `AsyncCommands` call and
/// `query_async`) is watched for failures.
pub struct Connection {
    conn: Object,
}

impl Connection {
    /// Detaches the connection from the pool, freeing its slot.
    #[must_use]
    pub fn take(this: Self) -> MultiplexedConnection {
        Object::take(this.conn).conn
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("broken", &self.conn.broken)
            .finish_non_exhaustive()
    }
}

impl From<Object> for Connection {
    fn from(conn: Object) -> Self {
        Self { conn }
    }
}

impl Deref for Connection {
    type Target = MultiplexedConnection;
    fn deref(&self) -> &MultiplexedConnection {
        &self.conn.conn
    }
}

impl DerefMut for Connection {
    /// Lends the raw connection: commands sent through it bypass the
    /// wrapper, so the connection is fully reset before its next use.
    fn deref_mut(&mut self) -> &mut MultiplexedConnection {
        let managed: &mut ManagedConnection = &mut self.conn;
        managed.exposed = true;
        &mut managed.conn
    }
}

impl AsRef<MultiplexedConnection> for Connection {
    fn as_ref(&self) -> &MultiplexedConnection {
        self
    }
}

impl AsMut<MultiplexedConnection> for Connection {
    fn as_mut(&mut self) -> &mut MultiplexedConnection {
        self.deref_mut()
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        let inner: &'a mut ManagedConnection = &mut self.conn;
        inner.note_command(cmd);
        inner.in_flight = true;
        let limit = inner.answer_timeout(std::iter::once(cmd));
        Box::pin(async move {
            let (result, timed_out) = with_limit(limit, inner.conn.req_packed_command(cmd)).await;
            inner.note_result(&result, timed_out);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        let inner: &'a mut ManagedConnection = &mut self.conn;
        for cmd in pipeline.cmd_iter() {
            inner.note_command(cmd);
        }
        inner.in_flight = true;
        let limit = inner.answer_timeout(pipeline.cmd_iter());
        Box::pin(async move {
            let (result, timed_out) = with_limit(
                limit,
                inner.conn.req_packed_commands(pipeline, offset, count),
            )
            .await;
            inner.note_result(&result, timed_out);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.conn.get_db()
    }
}

/// What a Redis pool offers beyond deadpool-redis's API. In scope with
/// `use pool_redis::RedisPoolExt;`.
pub trait RedisPoolExt {
    /// A handle on the pool's shared multiplexed connections, for plain
    /// commands at high concurrency: cheap to clone, no checkout. Requests
    /// fill one connection up to [`Manager::shared_depth`] in flight before
    /// the next is opened, up to `max_size` shared connections (their own
    /// budget, beside the exclusive checkouts). A connection that dies is
    /// replaced by one background reconnect while the others keep serving.
    /// Transactions (outside a pipeline), blocking commands and pub/sub
    /// need an exclusive connection: [`Pool::get`] or
    /// [`RedisPoolExt::pubsub`].
    ///
    /// Must be called within a tokio runtime (connections are made in the
    /// background).
    fn shared(&self) -> SharedConnection;

    /// Figures of the shared connections (all zero before the first
    /// `shared()`).
    fn shared_stats(&self) -> SharedStats;

    /// A dedicated pub/sub connection. It takes one of the pool's slots
    /// while it lives (so it counts against `max_size` and `status().size`)
    /// and frees it when dropped.
    ///
    /// # Errors
    /// The pool's error when no slot is free in time, or the connection
    /// error (`PoolError::Backend`).
    fn pubsub(&self) -> impl std::future::Future<Output = Result<PubSub, PoolError>> + Send;
}

impl RedisPoolExt for Pool {
    fn shared(&self) -> SharedConnection {
        self.manager().shared_set(self.status().max_size).handle()
    }

    fn shared_stats(&self) -> SharedStats {
        self.manager()
            .shared
            .get()
            .map(|set| set.stats())
            .unwrap_or_default()
    }

    async fn pubsub(&self) -> Result<PubSub, PoolError> {
        let conn = self.get().await?;
        // The pooled connection gives up its slot to the pub/sub one: it is
        // closed here, and the slot stays taken until the PubSub is dropped.
        let (pooled, slot) = Object::keep_slot(conn.conn);
        drop(pooled);
        let pubsub = self
            .manager()
            .client
            .get_async_pubsub()
            .await
            .map_err(PoolError::Backend)?;
        Ok(PubSub {
            pubsub,
            _slot: slot,
        })
    }
}

/// A dedicated pub/sub connection from [`RedisPoolExt::pubsub`]; derefs to
/// `redis::aio::PubSub` (`subscribe`, `psubscribe`, `on_message`, ...).
/// Dropping it closes the connection and frees its pool slot.
pub struct PubSub {
    pubsub: redis::aio::PubSub,
    _slot: pool_core::KeptSlot<Manager>,
}

impl std::fmt::Debug for PubSub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSub").finish_non_exhaustive()
    }
}

impl Deref for PubSub {
    type Target = redis::aio::PubSub;
    fn deref(&self) -> &redis::aio::PubSub {
        &self.pubsub
    }
}

impl DerefMut for PubSub {
    fn deref_mut(&mut self) -> &mut redis::aio::PubSub {
        &mut self.pubsub
    }
}

/// Creates and checks Redis connections.
pub struct Manager {
    client: Client,
    connection_config: Option<AsyncConnectionConfig>,
    /// See [`Manager::with_command_timeout`].
    command_timeout: Option<Duration>,
    /// See [`Manager::single_use`].
    single_use: bool,
    ping_number: AtomicUsize,
    /// See [`Manager::shared_depth`].
    shared_depth: usize,
    /// The pool's shared connections, made on the first `shared()`.
    shared: OnceLock<Arc<shared::SharedSet>>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("client", &self.client)
            .field("ping_number", &self.ping_number)
            .finish()
    }
}

impl Manager {
    /// A manager for the given URL or connection info.
    ///
    /// # Errors
    /// The redis crate's error for an unusable address.
    pub fn new<T: IntoConnectionInfo>(params: T) -> RedisResult<Self> {
        Ok(Self::with_client(Client::open(params)?))
    }

    /// A manager whose connections honour blocking commands' own timeouts:
    /// they are made without redis's fixed response timeout, and every
    /// command through [`Connection`] waits `timeout` for its answer, a
    /// blocking one (`BLPOP key 5`, `XREAD BLOCK 5000`) its own timeout plus
    /// `timeout`. A command that times out leaves its answer in flight, so
    /// its connection is closed at return. [`Config::create_pool`] uses this
    /// with redis's default 500 ms; `Manager::new` keeps redis's behaviour
    /// (as deadpool-redis, whose tests check that a 1 s `BLPOP` fails there).
    ///
    /// # Errors
    /// The redis crate's error for an unusable address.
    pub fn with_command_timeout<T: IntoConnectionInfo>(
        params: T,
        timeout: Duration,
    ) -> RedisResult<Self> {
        Ok(Self {
            connection_config: Some(AsyncConnectionConfig::new().set_response_timeout(None)),
            command_timeout: Some(timeout),
            ..Self::with_client(Client::open(params)?)
        })
    }

    /// A manager whose connections use `connection_config` (timeouts etc.).
    ///
    /// # Errors
    /// The redis crate's error for an unusable address.
    pub fn new_with_config<T: IntoConnectionInfo>(
        params: T,
        connection_config: AsyncConnectionConfig,
    ) -> RedisResult<Self> {
        Ok(Self {
            connection_config: Some(connection_config),
            ..Self::with_client(Client::open(params)?)
        })
    }
}

impl Manager {
    fn with_client(client: Client) -> Self {
        Self {
            client,
            connection_config: None,
            command_timeout: None,
            single_use: false,
            ping_number: AtomicUsize::new(0),
            shared_depth: DEFAULT_SHARED_DEPTH,
            shared: OnceLock::new(),
        }
    }

    /// Requests in flight on one shared connection (see
    /// [`RedisPoolExt::shared`]) before the next one is opened; default
    /// [`DEFAULT_SHARED_DEPTH`].
    #[must_use]
    pub fn shared_depth(mut self, depth: usize) -> Self {
        self.shared_depth = depth.max(1);
        self
    }

    /// The shared connection set, made on first use with `max_connections`
    /// lanes.
    fn shared_set(&self, max_connections: usize) -> &Arc<shared::SharedSet> {
        self.shared.get_or_init(|| {
            // Shared connections run plain commands only, so redis's own
            // response timeout applies (the configured command timeout when
            // there is one).
            let config = match (self.command_timeout, &self.connection_config) {
                (Some(t), _) => AsyncConnectionConfig::new().set_response_timeout(Some(t)),
                (None, Some(config)) => config.clone(),
                (None, None) => AsyncConnectionConfig::new(),
            };
            Arc::new(shared::SharedSet::new(
                self.client.clone(),
                config,
                max_connections,
                self.shared_depth,
            ))
        })
    }

    /// Connections are never reused: each checkout gets a fresh one, closed
    /// when it comes back (pooling "disabled", as the seeds'
    /// `REDIS_<ROLE>_POOL_ENABLED=0`); `max_size` still bounds how many
    /// exist at once.
    #[must_use]
    pub fn single_use(mut self) -> Self {
        self.single_use = true;
        self
    }
}

impl pool_core::Manager for Manager {
    type Type = ManagedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<ManagedConnection, RedisError> {
        let conn = match &self.connection_config {
            Some(config) => {
                self.client
                    .get_multiplexed_async_connection_with_config(config)
                    .await?
            }
            None => self.client.get_multiplexed_async_connection().await?,
        };
        Ok(ManagedConnection::new(conn, self.command_timeout))
    }

    async fn recycle(
        &self,
        conn: &mut ManagedConnection,
        _: &Metrics,
    ) -> pool_core::RecycleResult<RedisError> {
        // One round trip. UNWATCH resets a transaction's watches; after the
        // raw connection was lent out, RESET clears everything (MULTI,
        // SELECT, subscriptions, client name) and we log in and select the
        // configured database again. A PING with a unique number proves the
        // answer is ours.
        let ping_number = self.ping_number.fetch_add(1, Ordering::Relaxed).to_string();
        let mut pipe = redis::Pipeline::with_capacity(5);
        if conn.exposed {
            let settings = self.client.get_connection_info().redis_settings();
            pipe.cmd("RESET").ignore();
            if let Some(password) = settings.password() {
                let auth = pipe.cmd("AUTH");
                if let Some(user) = settings.username() {
                    auth.arg(user);
                }
                auth.arg(password).ignore();
            }
            pipe.cmd("SELECT").arg(settings.db()).ignore();
        } else {
            pipe.cmd("UNWATCH").ignore();
        }
        let (n,) = pipe
            .cmd("PING")
            .arg(&ping_number)
            .query_async::<(String,)>(&mut conn.conn)
            .await?;
        if n == ping_number {
            conn.needs_reset = false;
            conn.exposed = false;
            Ok(())
        } else {
            Err(pool_core::RecycleError::message("Invalid PING response"))
        }
    }

    /// [`DEFAULT_HEALTH_CHECK_INTERVAL`] (1 s): every command's outcome is
    /// seen by [`Connection`], so a connection used a moment ago needs no
    /// PING.
    fn health_check_interval(&self) -> Duration {
        DEFAULT_HEALTH_CHECK_INTERVAL
    }

    fn needs_recycle(&self, conn: &mut ManagedConnection) -> bool {
        conn.needs_reset || conn.exposed
    }

    fn is_broken(&self, conn: &mut ManagedConnection) -> bool {
        self.single_use || conn.unusable()
    }
}

/// Waits for `fut` at most `limit`; `true` if it gave up waiting.
async fn with_limit<T>(
    limit: Option<Duration>,
    fut: impl std::future::Future<Output = RedisResult<T>>,
) -> (RedisResult<T>, bool) {
    match limit {
        None => (fut.await, false),
        Some(limit) => match tokio::time::timeout(limit, fut).await {
            Ok(result) => (result, false),
            Err(_) => (
                Err(RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer from Redis within {} ms", limit.as_millis()),
                ))),
                true,
            ),
        },
    }
}
