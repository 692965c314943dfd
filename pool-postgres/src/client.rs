//! The pooled connection: a `tokio_postgres::Client`, its connection task,
//! its statement cache, and what it may have left open ([`crate::session`]).
//!
//! The methods users call most (`query`, `execute`, `batch_execute`, ...)
//! are shadowed here with the same signatures, so that calls through the
//! pooled object are followed and a stale cached plan is handled; anything
//! else reaches the raw client through `Deref`, which marks the session as
//! unknown (and costs a `ROLLBACK` at the next checkout).

use std::{
    fmt,
    future::Future,
    ops::{Deref, DerefMut},
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Waker},
};

use tokio::task::JoinHandle;
use tokio_postgres::{
    Client as PgClient, Error, IsolationLevel, Row, RowStream, SimpleQueryMessage, Statement,
    ToStatement, Transaction as PgTransaction, TransactionBuilder as PgTransactionBuilder,
    error::SqlState,
    types::{BorrowToSql, ToSql, Type},
};

use crate::{
    reconnect::{Connector, Opened, is_server_shutdown},
    session::Session,
    statement_cache::{DEFAULT_STATEMENT_CACHE_SIZE, StatementCache},
};

mod sealed {
    pub trait Sealed {}
}

/// What tokio-postgres accepts as a statement (`str`, `String`,
/// `Statement`: its sealed `ToStatement`), seen by the wrapper: the SQL text
/// to follow transaction control, or the prepared statement to evict when
/// its cached plan went stale. Implemented for exactly those three types.
pub trait Query: ToStatement + sealed::Sealed {
    /// The SQL text, unless this is a prepared statement.
    fn sql(&self) -> Option<&str>;
    /// The prepared statement, if this is one.
    fn prepared(&self) -> Option<&Statement>;
}

impl sealed::Sealed for str {}
impl Query for str {
    fn sql(&self) -> Option<&str> {
        Some(self)
    }
    fn prepared(&self) -> Option<&Statement> {
        None
    }
}
impl sealed::Sealed for String {}
impl Query for String {
    fn sql(&self) -> Option<&str> {
        Some(self)
    }
    fn prepared(&self) -> Option<&Statement> {
        None
    }
}
impl sealed::Sealed for Statement {}
impl Query for Statement {
    fn sql(&self) -> Option<&str> {
        None
    }
    fn prepared(&self) -> Option<&Statement> {
        Some(self)
    }
}

/// PostgreSQL refuses to run a prepared statement whose result type a
/// schema change altered ("cached plan must not change result type").
fn is_stale_plan(e: &Error) -> bool {
    e.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED)
        && e.as_db_error().is_some_and(|db| {
            db.message()
                .contains("cached plan must not change result type")
        })
}

/// A pooled connection (deadpool-postgres's `ClientWrapper`).
pub struct ClientWrapper {
    client: PgClient,
    conn_task: JoinHandle<()>,
    /// The connection that took over from `client` when that one was found
    /// dead at a checkout's first statement (see [`crate::reconnect`]).
    replacement: OnceLock<Opened>,
    /// Set when the server ended `client`'s session with nothing in flight
    /// (see [`crate::reconnect`]; `None`: not known).
    ended_by_server: Option<Arc<AtomicBool>>,
    /// How to open that replacement (`None`: a wrapper made by hand).
    reconnect: Option<Arc<Connector>>,
    /// Nothing of the current checkout has been sent yet.
    fresh: AtomicBool,
    /// This connection's prepared statements.
    pub statement_cache: Arc<StatementCache>,
    pub(crate) session: Session,
}

impl fmt::Debug for ClientWrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientWrapper")
            .field("closed", &self.client().is_closed())
            .field("replaced", &self.replacement.get().is_some())
            .field("statement_cache", &self.statement_cache)
            .field("session", &self.session)
            .finish()
    }
}

/// Runs `$call` with the statement. The checkout's first statement, on a
/// connection found dead before it ran anything, runs on a replacement
/// (see [`crate::reconnect`]); a stale cached plan is evicted and, outside
/// a transaction, prepared and run once more.
/// Runs `$call` (an expression that uses `self.client()`): as the
/// checkout's first statement, once more on a replacement when the first
/// reply says the connection had already ended (see `followed!`).
macro_rules! once_more_if_ended {
    ($self:ident, $call:expr) => {{
        let first_of_checkout = $self.begin_statement().await;
        match $call.await {
            Err(e) if first_of_checkout && $self.replaced_after(&e).await => $call.await,
            other => other,
        }
    }};
}

macro_rules! followed {
    ($self:ident, $statement:ident, |$s:ident| $call:expr) => {{
        let first_of_checkout = $self.begin_statement().await;
        $self.saw($statement);
        let first = {
            let $s = $statement;
            $call.await
        };
        let first = match first {
            Err(e)
                if first_of_checkout
                    && $statement.prepared().is_none()
                    && $self.replaced_after(&e).await =>
            {
                $self.saw($statement);
                let $s = $statement;
                $call.await
            }
            other => other,
        };
        match first {
            Err(e) => match $self.after_error($statement, &e).await {
                Some(fresh) => {
                    let $s = &fresh;
                    $call.await
                }
                None => Err(e),
            },
            ok => ok,
        }
    }};
}

impl ClientWrapper {
    /// Wraps a client and the task driving its connection (aborted when the
    /// wrapper is dropped).
    #[must_use]
    pub fn new(client: PgClient, conn_task: JoinHandle<()>) -> Self {
        Self::with_cache(client, conn_task, DEFAULT_STATEMENT_CACHE_SIZE)
    }

    pub(crate) fn with_cache(client: PgClient, conn_task: JoinHandle<()>, capacity: usize) -> Self {
        Self {
            client,
            conn_task,
            replacement: OnceLock::new(),
            ended_by_server: None,
            reconnect: None,
            fresh: AtomicBool::new(true),
            statement_cache: Arc::new(StatementCache::new(capacity)),
            session: Session::default(),
        }
    }

    pub(crate) fn with_reconnect(
        mut self,
        connector: Arc<Connector>,
        ended_by_server: Option<Arc<AtomicBool>>,
    ) -> Self {
        self.reconnect = Some(connector);
        self.ended_by_server = ended_by_server;
        self
    }

    /// The connection in use: the replacement once there is one.
    fn client(&self) -> &PgClient {
        self.replacement.get().map_or(&self.client, |o| &o.client)
    }

    fn client_mut(&mut self) -> &mut PgClient {
        match self.replacement.get_mut() {
            Some(o) => &mut o.client,
            None => &mut self.client,
        }
    }

    /// Whether the server ended the connection in use with no request in
    /// flight, so a request that met "connection closed" was never sent.
    fn ended_by_server(&self) -> bool {
        let flag = match self.replacement.get() {
            Some(o) => o.ended_by_server.as_ref(),
            None => self.ended_by_server.as_ref(),
        };
        // Acquire pairs with the Release in `Connector::open`.
        flag.is_some_and(|f| f.load(Ordering::Acquire))
    }

    /// The raw client, for the manager's own checks (not marked as raw use).
    pub(crate) fn raw(&self) -> &PgClient {
        self.client()
    }

    /// A checkout starts: a replacement made during the last one becomes
    /// the connection (so each checkout may replace once), and the first
    /// statement may be moved to a replacement if the connection turns out
    /// dead (see `followed!`).
    pub(crate) fn checked_out(&mut self) {
        if let Some(replacement) = self.replacement.take() {
            self.conn_task.abort();
            self.client = replacement.client;
            self.conn_task = replacement.task;
            self.ended_by_server = replacement.ended_by_server;
        }
        self.fresh.store(true, Ordering::Relaxed);
    }

    /// Before a statement: whether it is the checkout's first; if so and
    /// the connection is already closed, the replacement is opened before
    /// anything is sent.
    async fn begin_statement(&self) -> bool {
        let first = self.fresh.swap(false, Ordering::Relaxed);
        if first && self.client().is_closed() {
            self.replace().await;
        }
        first
    }

    /// After the checkout's first statement failed with `e`: whether `e`
    /// says the server had ended the connection before that statement ran
    /// (`57P01` administrator shutdown, `57P02` crash shutdown, `57P03`
    /// cannot connect now, as the first reply; or "connection closed" on a
    /// connection the server ended with nothing in flight) and a
    /// replacement is now in place to run it.
    async fn replaced_after(&self, e: &Error) -> bool {
        let ended_before = is_server_shutdown(e) || (e.is_closed() && self.ended_by_server());
        ended_before && self.replace().await
    }

    /// Opens the replacement (once per checkout: a second death goes to the
    /// caller, and the pool drops the connection at its return).
    async fn replace(&self) -> bool {
        let Some(connector) = &self.reconnect else {
            return false;
        };
        if self.replacement.get().is_some() {
            return false;
        }
        match connector.open().await {
            Ok(fresh) => {
                if let Err(lost) = self.replacement.set(fresh) {
                    // Another statement of this checkout won the race.
                    lost.task.abort();
                }
                // Statements prepared on the dead connection mean nothing
                // on the new one; the new session starts clean.
                self.statement_cache.clear();
                self.session.mark_clean();
                tracing::debug!(target: "pool_postgres", "dead connection replaced before the checkout's first statement ran");
                true
            }
            Err(e) => {
                tracing::debug!(target: "pool_postgres", error = %e, "replacing a dead connection failed");
                false
            }
        }
    }

    /// Ends whatever transaction the last user may have left open, ahead of
    /// anything the next user sends, without waiting for the answer (as
    /// tokio-postgres's own `Transaction` does when dropped): requests on
    /// one connection run in order, so the next user's first statement runs
    /// after it. The first poll of `batch_execute` hands the request to the
    /// connection task; dropping the future then only discards the answer.
    pub(crate) fn rollback_ahead(&self) {
        let rollback = std::pin::pin!(self.client().batch_execute("ROLLBACK"));
        let _ = rollback.poll(&mut Context::from_waker(Waker::noop()));
        self.session.mark_clean();
    }

    fn saw<T: ?Sized + Query>(&self, statement: &T) {
        if let Some(sql) = statement.sql() {
            self.session.saw_sql(sql);
        }
    }

    /// After an error: a stale cached plan is evicted; outside a transaction
    /// it is prepared again and returned for one more try.
    async fn after_error<T: ?Sized + Query>(&self, statement: &T, e: &Error) -> Option<Statement> {
        if !is_stale_plan(e) {
            return None;
        }
        let (query, types) = self.statement_cache.evict(statement.prepared()?)?;
        tracing::debug!(target: "pool_postgres", %query, "cached plan went stale: evicted");
        if !self.session.is_clean() {
            return None;
        }
        self.statement_cache
            .prepare_typed(self.client(), &query, &types)
            .await
            .ok()
    }

    /// A prepared statement from this connection's cache (prepared on a
    /// miss).
    ///
    /// # Errors
    /// The server's error when preparing fails.
    pub async fn prepare_cached(&self, query: &str) -> Result<Statement, Error> {
        once_more_if_ended!(self, self.statement_cache.prepare(self.client(), query))
    }

    /// As [`ClientWrapper::prepare_cached`], with parameter types.
    ///
    /// # Errors
    /// The server's error when preparing fails.
    pub async fn prepare_typed_cached(
        &self,
        query: &str,
        types: &[Type],
    ) -> Result<Statement, Error> {
        once_more_if_ended!(
            self,
            self.statement_cache
                .prepare_typed(self.client(), query, types)
        )
    }

    /// Starts a transaction (rolled back if dropped unfinished).
    ///
    /// # Errors
    /// The server's error.
    pub async fn transaction(&mut self) -> Result<Transaction<'_>, Error> {
        // A connection already closed is replaced before `BEGIN`; one whose
        // `BEGIN` meets the server's shutdown reply is not (the borrow the
        // returned transaction holds rules out a second try here), and the
        // caller sees that error.
        self.begin_statement().await;
        let session = &self.session;
        session.mark_open();
        let txn = match self.replacement.get_mut() {
            Some(o) => o.client.transaction().await?,
            None => self.client.transaction().await?,
        };
        Ok(Transaction {
            txn,
            statement_cache: self.statement_cache.clone(),
            ends: SessionEnd(Some(session)),
        })
    }

    /// A transaction with options.
    pub fn build_transaction(&mut self) -> TransactionBuilder<'_> {
        TransactionBuilder {
            builder: match self.replacement.get_mut() {
                Some(o) => o.client.build_transaction(),
                None => self.client.build_transaction(),
            },
            statement_cache: self.statement_cache.clone(),
            session: &self.session,
        }
    }

    /// See [`tokio_postgres::Client::prepare`].
    ///
    /// # Errors
    /// The server's error.
    pub async fn prepare(&self, query: &str) -> Result<Statement, Error> {
        once_more_if_ended!(self, self.client().prepare(query))
    }

    /// See [`tokio_postgres::Client::prepare_typed`].
    ///
    /// # Errors
    /// The server's error.
    pub async fn prepare_typed(&self, query: &str, types: &[Type]) -> Result<Statement, Error> {
        once_more_if_ended!(self, self.client().prepare_typed(query, types))
    }

    /// See [`tokio_postgres::Client::query`].
    ///
    /// # Errors
    /// The server's error.
    pub async fn query<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error>
    where
        T: ?Sized + Query,
    {
        followed!(self, statement, |s| self.client().query(s, params))
    }

    /// See [`tokio_postgres::Client::query_one`].
    ///
    /// # Errors
    /// The server's error, or no row / more than one.
    pub async fn query_one<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, Error>
    where
        T: ?Sized + Query,
    {
        followed!(self, statement, |s| self.client().query_one(s, params))
    }

    /// See [`tokio_postgres::Client::query_opt`].
    ///
    /// # Errors
    /// The server's error, or more than one row.
    pub async fn query_opt<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error>
    where
        T: ?Sized + Query,
    {
        followed!(self, statement, |s| self.client().query_opt(s, params))
    }

    /// See [`tokio_postgres::Client::query_raw`]. A stale cached plan is
    /// evicted, not retried (the parameters are consumed).
    ///
    /// # Errors
    /// The server's error.
    pub async fn query_raw<T, P, I>(&self, statement: &T, params: I) -> Result<RowStream, Error>
    where
        T: ?Sized + Query,
        P: BorrowToSql,
        I: IntoIterator<Item = P>,
        I::IntoIter: ExactSizeIterator,
    {
        self.run_consuming(statement, self.client().query_raw(statement, params))
            .await
    }

    /// See [`tokio_postgres::Client::execute`].
    ///
    /// # Errors
    /// The server's error.
    pub async fn execute<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, Error>
    where
        T: ?Sized + Query,
    {
        followed!(self, statement, |s| self.client().execute(s, params))
    }

    /// See [`tokio_postgres::Client::execute_raw`]. A stale cached plan is
    /// evicted, not retried (the parameters are consumed).
    ///
    /// # Errors
    /// The server's error.
    pub async fn execute_raw<T, P, I>(&self, statement: &T, params: I) -> Result<u64, Error>
    where
        T: ?Sized + Query,
        P: BorrowToSql,
        I: IntoIterator<Item = P>,
        I::IntoIter: ExactSizeIterator,
    {
        self.run_consuming(statement, self.client().execute_raw(statement, params))
            .await
    }

    /// A statement whose parameters are consumed: followed, and a stale
    /// cached plan evicted, but never run again.
    async fn run_consuming<T: ?Sized + Query, R>(
        &self,
        statement: &T,
        run: impl std::future::Future<Output = Result<R, Error>>,
    ) -> Result<R, Error> {
        self.saw(statement);
        let result = run.await;
        if let Err(e) = &result {
            self.evict_stale(statement, e);
        }
        result
    }

    /// See [`tokio_postgres::Client::simple_query`].
    ///
    /// # Errors
    /// The server's error.
    pub async fn simple_query(&self, query: &str) -> Result<Vec<SimpleQueryMessage>, Error> {
        once_more_if_ended!(self, {
            self.session.saw_sql(query);
            self.client().simple_query(query)
        })
    }

    /// See [`tokio_postgres::Client::batch_execute`].
    ///
    /// # Errors
    /// The server's error.
    pub async fn batch_execute(&self, query: &str) -> Result<(), Error> {
        once_more_if_ended!(self, {
            self.session.saw_sql(query);
            self.client().batch_execute(query)
        })
    }

    /// See [`tokio_postgres::Client::is_closed`].
    pub fn is_closed(&self) -> bool {
        self.client().is_closed()
    }

    fn evict_stale<T: ?Sized + Query>(&self, statement: &T, e: &Error) {
        if let Some(s) = statement.prepared().filter(|_| is_stale_plan(e)) {
            drop(self.statement_cache.evict(s));
        }
    }
}

impl Deref for ClientWrapper {
    type Target = PgClient;

    /// The raw client: what goes through it cannot be followed, so the
    /// session becomes unknown (a `ROLLBACK` at the next checkout).
    fn deref(&self) -> &PgClient {
        self.session.mark_unknown();
        self.fresh.store(false, Ordering::Relaxed);
        self.client()
    }
}

impl DerefMut for ClientWrapper {
    fn deref_mut(&mut self) -> &mut PgClient {
        self.session.mark_unknown();
        self.fresh.store(false, Ordering::Relaxed);
        self.client_mut()
    }
}

impl Drop for ClientWrapper {
    fn drop(&mut self) {
        self.conn_task.abort();
        if let Some(o) = self.replacement.get() {
            o.task.abort();
        }
    }
}

/// Marks the session clean when the outermost transaction is over (commit,
/// rollback or drop, after which tokio-postgres sends `ROLLBACK`); a
/// forgotten transaction never runs this, so the mark stays.
struct SessionEnd<'a>(Option<&'a Session>);

impl Drop for SessionEnd<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.0 {
            session.mark_clean();
        }
    }
}

/// A transaction (deadpool-postgres's `Transaction`): tokio-postgres's, with
/// the connection's statement cache.
pub struct Transaction<'a> {
    txn: PgTransaction<'a>,
    /// The connection's prepared statements.
    pub statement_cache: Arc<StatementCache>,
    ends: SessionEnd<'a>,
}

impl fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("statement_cache", &self.statement_cache)
            .finish()
    }
}

impl Transaction<'_> {
    /// A prepared statement from the connection's cache.
    ///
    /// # Errors
    /// The server's error when preparing fails.
    pub async fn prepare_cached(&self, query: &str) -> Result<Statement, Error> {
        self.statement_cache.prepare(self.txn.client(), query).await
    }

    /// As [`Transaction::prepare_cached`], with parameter types.
    ///
    /// # Errors
    /// The server's error when preparing fails.
    pub async fn prepare_typed_cached(
        &self,
        query: &str,
        types: &[Type],
    ) -> Result<Statement, Error> {
        self.statement_cache
            .prepare_typed(self.txn.client(), query, types)
            .await
    }

    /// Commits.
    ///
    /// # Errors
    /// The server's error.
    pub async fn commit(self) -> Result<(), Error> {
        let Self { txn, ends, .. } = self;
        let result = txn.commit().await;
        drop(ends);
        result
    }

    /// Rolls back.
    ///
    /// # Errors
    /// The server's error.
    pub async fn rollback(self) -> Result<(), Error> {
        let Self { txn, ends, .. } = self;
        let result = txn.rollback().await;
        drop(ends);
        result
    }

    /// A nested transaction (a savepoint).
    ///
    /// # Errors
    /// The server's error.
    pub async fn transaction(&mut self) -> Result<Transaction<'_>, Error> {
        Ok(Transaction {
            txn: self.txn.transaction().await?,
            statement_cache: self.statement_cache.clone(),
            ends: SessionEnd(None),
        })
    }

    /// A nested transaction with a savepoint name.
    ///
    /// # Errors
    /// The server's error.
    pub async fn savepoint<I: Into<String>>(&mut self, name: I) -> Result<Transaction<'_>, Error> {
        Ok(Transaction {
            txn: self.txn.savepoint(name).await?,
            statement_cache: self.statement_cache.clone(),
            ends: SessionEnd(None),
        })
    }

    /// See [`tokio_postgres::Transaction::query`]; a stale cached statement
    /// is evicted (and the error returned: the transaction is aborted).
    ///
    /// # Errors
    /// The server's error.
    pub async fn query<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error>
    where
        T: ?Sized + ToStatement + Query,
    {
        self.evicting(statement, self.txn.query(statement, params))
            .await
    }

    /// See [`tokio_postgres::Transaction::query_one`]; a stale cached
    /// statement is evicted.
    ///
    /// # Errors
    /// The server's error.
    pub async fn query_one<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, Error>
    where
        T: ?Sized + ToStatement + Query,
    {
        self.evicting(statement, self.txn.query_one(statement, params))
            .await
    }

    /// See [`tokio_postgres::Transaction::execute`]; a stale cached
    /// statement is evicted.
    ///
    /// # Errors
    /// The server's error.
    pub async fn execute<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, Error>
    where
        T: ?Sized + ToStatement + Query,
    {
        self.evicting(statement, self.txn.execute(statement, params))
            .await
    }

    /// Runs a statement; a cached plan a schema change made stale is
    /// evicted (and the error returned: the transaction is aborted anyway).
    async fn evicting<T: ?Sized + Query, R>(
        &self,
        statement: &T,
        run: impl std::future::Future<Output = Result<R, Error>>,
    ) -> Result<R, Error> {
        let result = run.await;
        if let (Err(e), Some(s)) = (&result, statement.prepared())
            && is_stale_plan(e)
        {
            drop(self.statement_cache.evict(s));
        }
        result
    }
}

impl<'a> Deref for Transaction<'a> {
    type Target = PgTransaction<'a>;

    fn deref(&self) -> &PgTransaction<'a> {
        &self.txn
    }
}

impl DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.txn
    }
}

/// Options of a transaction before it starts (deadpool-postgres's
/// `TransactionBuilder`).
#[must_use = "builder does nothing itself, use `.start()` to use it"]
pub struct TransactionBuilder<'a> {
    builder: PgTransactionBuilder<'a>,
    statement_cache: Arc<StatementCache>,
    session: &'a Session,
}

impl fmt::Debug for TransactionBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransactionBuilder")
            .field("statement_cache", &self.statement_cache)
            .finish()
    }
}

impl<'a> TransactionBuilder<'a> {
    /// The isolation level.
    pub fn isolation_level(self, isolation_level: IsolationLevel) -> Self {
        Self {
            builder: self.builder.isolation_level(isolation_level),
            ..self
        }
    }

    /// Read-only or not.
    pub fn read_only(self, read_only: bool) -> Self {
        Self {
            builder: self.builder.read_only(read_only),
            ..self
        }
    }

    /// Deferrable or not.
    pub fn deferrable(self, deferrable: bool) -> Self {
        Self {
            builder: self.builder.deferrable(deferrable),
            ..self
        }
    }

    /// Starts the transaction.
    ///
    /// # Errors
    /// The server's error.
    pub async fn start(self) -> Result<Transaction<'a>, Error> {
        self.session.mark_open();
        Ok(Transaction {
            txn: self.builder.start().await?,
            statement_cache: self.statement_cache,
            ends: SessionEnd(Some(self.session)),
        })
    }
}

impl<'a> Deref for TransactionBuilder<'a> {
    type Target = PgTransactionBuilder<'a>;

    fn deref(&self) -> &Self::Target {
        &self.builder
    }
}

impl DerefMut for TransactionBuilder<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.builder
    }
}
