//! The checkout: [`Connection`], what `pool.get()` hands out. It derefs to
//! the pooled [`ManagedConnection`] (`managed_connection.rs`), so `&mut conn` and
//! `&mut *conn` take the same tracked path.

use std::ops::{Deref, DerefMut};

use redis::aio::{ConnectionLike, MultiplexedConnection};

use crate::managed_connection::{ManagedConnection, Renew, Renewal};
use crate::manager::Manager;
use crate::manager::RedisManager;

/// A connection checked out of a [`Pool`](crate::Pool); it goes back when
/// dropped.
///
/// Derefs to [`ManagedConnection`] (which derefs to
/// `redis::aio::MultiplexedConnection`), so deadpool-redis code keeps
/// compiling: `query_async(&mut conn)` and `query_async(&mut *conn)` are the
/// same tracked path, and `&mut conn` or `&mut *conn` still coerce to
/// `&mut MultiplexedConnection` where that type is named (a raw borrow: see
/// [`ManagedConnection`]).
///
/// `M` is the pool's manager: [`Manager`] for one server, or Sentinel's
/// (`pool_redis::sentinel::Connection`).
pub struct Connection<M: RedisManager = Manager> {
    conn: pool_core::Object<M>,
}

impl<M: RedisManager> Connection<M> {
    /// Detaches the connection from the pool, freeing its slot. The
    /// connection keeps a fixed response timeout (the command timeout) on
    /// every request.
    #[must_use]
    pub fn take(this: Self) -> MultiplexedConnection {
        pool_core::Object::take(this.conn).into_raw()
    }

    /// The pool-core object (id, metrics, pool).
    pub(crate) fn into_object(self) -> pool_core::Object<M> {
        self.conn
    }
}

impl<M: RedisManager> std::fmt::Debug for Connection<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("broken", &self.conn.broken)
            .finish_non_exhaustive()
    }
}

impl<M: RedisManager> From<pool_core::Object<M>> for Connection<M> {
    fn from(mut conn: pool_core::Object<M>) -> Self {
        // The pool link a read retry needs, once per connection.
        if conn.pool.is_none()
            && let Some(pool) = pool_core::Object::pool(&conn)
        {
            conn.pool = Some(Box::new(pool.weak()) as Box<dyn Renew>);
            // A followed pool closes its idle connections to a former node
            // as soon as it learns of the change (registered once).
            if let Some(target) = conn.stamp.as_ref().map(|s| s.target().clone()) {
                pool.manager()
                    .redis_manager()
                    .watch_idle(&target, pool.weak());
            }
        }
        Self { conn }
    }
}

impl<M: RedisManager> Deref for Connection<M> {
    type Target = ManagedConnection;
    fn deref(&self) -> &ManagedConnection {
        &self.conn
    }
}

impl<M: RedisManager> DerefMut for Connection<M> {
    fn deref_mut(&mut self) -> &mut ManagedConnection {
        &mut self.conn
    }
}

impl<M: RedisManager> AsRef<MultiplexedConnection> for Connection<M> {
    fn as_ref(&self) -> &MultiplexedConnection {
        &self.conn
    }
}

impl<M: RedisManager> AsMut<MultiplexedConnection> for Connection<M> {
    /// A raw borrow (see [`ManagedConnection`]).
    fn as_mut(&mut self) -> &mut MultiplexedConnection {
        &mut self.conn
    }
}

impl<M: RedisManager> ConnectionLike for Connection<M> {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        let managed: &'a mut ManagedConnection = &mut self.conn;
        managed.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        let managed: &'a mut ManagedConnection = &mut self.conn;
        managed.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        let managed: &ManagedConnection = &self.conn;
        managed.get_db()
    }
}

impl<M: RedisManager> Renew for pool_core::WeakPool<M> {
    fn renew(&self) -> Renewal<'_> {
        Box::pin(async move { Some(self.upgrade()?.create_replacement().await) })
    }
}
