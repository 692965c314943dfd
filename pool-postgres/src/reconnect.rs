//! Opening connections, for the manager's creates and for a checked-out
//! connection found dead before its checkout's first statement ran.
//!
//! A pooled connection can be ended by the server (`pg_terminate_backend`,
//! a failover, a restart) a moment before it is handed out: the checkout's
//! checks pass (the client has not read the server's farewell yet) and the
//! caller's first statement gets `FATAL: terminating connection due to
//! administrator command` as its reply. Nothing of that checkout ran, so
//! [`ClientWrapper`](crate::ClientWrapper) opens a replacement through the
//! [`Connector`] and runs the statement there, invisibly. The rule that
//! keeps this safe:
//!
//! - only the checkout's **first** statement (nothing of the checkout was
//!   sent: not a statement, not a raw borrow of the client);
//! - only when the connection was already closed before sending, or the
//!   first reply is `57P01` (administrator shutdown), `57P02` (crash
//!   shutdown) or `57P03` (cannot connect now): the backend had ended
//!   before the statement could run;
//! - never a statement prepared on the old connection, and at most one
//!   replacement per checkout (a second death goes to the caller,
//!   and the pool drops the connection at its return).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::task::JoinHandle;
use tokio_postgres::{
    Client as PgClient, Config as PgConfig, Error, Socket,
    error::SqlState,
    tls::{MakeTlsConnect, TlsConnect},
};

/// How long a new connection may take, TCP connect and the startup
/// exchange (TLS, login) together, when `connect_timeout` is not set:
/// tokio-postgres's own `connect_timeout` bounds only the TCP connect, so a
/// server that accepts and never answers would hold `get()` forever.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Opens a connection (deadpool-postgres's `Connect`): implement it to
/// connect your own way.
pub trait Connect: Sync + Send {
    /// A client and the task driving its connection.
    fn connect(
        &self,
        pg_config: &PgConfig,
    ) -> BoxFuture<'_, Result<(PgClient, JoinHandle<()>), Error>>;
}

/// [`Connect`] through [`tokio_postgres::Config::connect`] with a TLS
/// connector.
#[derive(Debug)]
pub struct ConfigConnectImpl<T>
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    /// The TLS connector (`tokio_postgres::NoTls` for none).
    pub tls: T,
}

impl<T> Connect for ConfigConnectImpl<T>
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn connect(
        &self,
        pg_config: &PgConfig,
    ) -> BoxFuture<'_, Result<(PgClient, JoinHandle<()>), Error>> {
        let tls = self.tls.clone();
        let pg_config = pg_config.clone();
        Box::pin(async move {
            let (client, connection) = pg_config.connect(tls).await?;
            let task = tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(target: "pool_postgres", "connection ended: {e}");
                }
            });
            Ok((client, task))
        })
    }
}

/// A connection's future, not yet spawned: the [`Connector`] drives it, to
/// see how it ended.
type Driver = BoxFuture<'static, Result<(), Error>>;

/// Opens a connection and hands over its future unspawned: the built-in
/// way ([`ConfigConnectImpl`]), for which the pool can tell how the
/// connection ended. A custom [`Connect`] spawns its own task, and its
/// connections get only the replacement of one closed before sending.
trait Dial: Sync + Send {
    fn dial<'a>(
        &'a self,
        pg_config: &'a PgConfig,
    ) -> BoxFuture<'a, Result<(PgClient, Driver), Error>>;
}

impl<T> Dial for ConfigConnectImpl<T>
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn dial<'a>(
        &'a self,
        pg_config: &'a PgConfig,
    ) -> BoxFuture<'a, Result<(PgClient, Driver), Error>> {
        Box::pin(async move {
            let (client, connection) = pg_config.connect(self.tls.clone()).await?;
            Ok((client, Box::pin(connection) as Driver))
        })
    }
}

/// How a [`Connector`] opens connections.
enum How {
    Dial(Box<dyn Dial>),
    Custom(Box<dyn Connect>),
}

/// A connection just opened.
pub(crate) struct Opened {
    pub(crate) client: PgClient,
    pub(crate) task: JoinHandle<()>,
    /// Set when the server ended the session with no request awaiting a
    /// reply (`None`: a custom [`Connect`], which does not tell).
    pub(crate) ended_by_server: Option<Arc<AtomicBool>>,
}

/// Whether `e` is the server ending the session: `57P01` administrator
/// shutdown, `57P02` crash shutdown, `57P03` cannot connect now.
pub(crate) fn is_server_shutdown(e: &Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::ADMIN_SHUTDOWN
            || *c == SqlState::CRASH_SHUTDOWN
            || *c == SqlState::CANNOT_CONNECT_NOW
    })
}

/// How to open a connection: the manager's [`Connect`] and configuration,
/// shared with every connection it made.
pub(crate) struct Connector {
    how: How,
    pub(crate) pg_config: PgConfig,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokio-postgres's `Config` hides the password in its `Debug`.
        f.debug_struct("Connector")
            .field("pg_config", &self.pg_config)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// The built-in way: tokio-postgres's connect with `tls`.
    pub(crate) fn with_tls<T>(pg_config: PgConfig, tls: T) -> Self
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        Self {
            how: How::Dial(Box::new(ConfigConnectImpl { tls })),
            pg_config,
        }
    }

    /// A custom [`Connect`].
    pub(crate) fn custom(pg_config: PgConfig, connect: impl Connect + 'static) -> Self {
        Self {
            how: How::Custom(Box::new(connect)),
            pg_config,
        }
    }

    /// The bound on one connect, TCP and login together.
    pub(crate) fn limit(&self) -> Duration {
        self.pg_config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }

    /// A new connection within [`Connector::limit`].
    pub(crate) async fn open(&self) -> Result<Opened, Error> {
        let limit = self.limit();
        match tokio::time::timeout(limit, self.open_unbounded()).await {
            Ok(opened) => opened,
            Err(_) => {
                tracing::warn!(
                    target: "pool_postgres",
                    server = %self.addresses(),
                    ?limit,
                    "no connection within the connect timeout"
                );
                Err(Error::__private_api_timeout())
            }
        }
    }

    async fn open_unbounded(&self) -> Result<Opened, Error> {
        match &self.how {
            How::Custom(connect) => {
                let (client, task) = connect.connect(&self.pg_config).await?;
                Ok(Opened {
                    client,
                    task,
                    ended_by_server: None,
                })
            }
            How::Dial(dial) => {
                let (client, mut driver) = dial.dial(&self.pg_config).await?;
                let ended = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&ended);
                let task = tokio::spawn(async move {
                    if let Err(e) = (&mut driver).await {
                        // tokio-postgres ends a connection with the
                        // server's error only when no request awaits a
                        // reply (one that did would have received it), and
                        // it reads before it writes: a request still queued
                        // was never sent.
                        if is_server_shutdown(&e) {
                            // Release pairs with the Acquire in
                            // `ClientWrapper`: set before the queued requests
                            // learn "closed", which happens when `driver`
                            // (their queue) is dropped below.
                            flag.store(true, Ordering::Release);
                        }
                        tracing::debug!(target: "pool_postgres", "connection ended: {e}");
                    }
                    drop(driver);
                });
                Ok(Opened {
                    client,
                    task,
                    ended_by_server: Some(ended),
                })
            }
        }
    }

    /// The servers connected to, as `host:port` (for errors).
    pub(crate) fn addresses(&self) -> String {
        use tokio_postgres::config::Host;
        let ports = self.pg_config.get_ports();
        let port = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        let hosts: Vec<String> = self
            .pg_config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| match host {
                Host::Tcp(name) => format!("{name}:{}", port(i)),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}/.s.PGSQL.{}", path.display(), port(i)),
            })
            .collect();
        if hosts.is_empty() {
            let addrs: Vec<String> = self
                .pg_config
                .get_hostaddrs()
                .iter()
                .enumerate()
                .map(|(i, a)| format!("{a}:{}", port(i)))
                .collect();
            return addrs.join(", ");
        }
        hosts.join(", ")
    }
}
