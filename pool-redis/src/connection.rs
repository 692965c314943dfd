//! The checkout: [`Connection`], what `pool.get()` hands out. It derefs to
//! the pooled [`ManagedConnection`] (`managed.rs`), so `&mut conn` and
//! `&mut *conn` take the same tracked path.

use std::ops::{Deref, DerefMut};

use redis::aio::{ConnectionLike, MultiplexedConnection};

use crate::managed::{ManagedConnection, Renew, Renewal};
use crate::{Manager, Object};

/// A connection checked out of a [`Pool`](crate::Pool); it goes back when
/// dropped.
///
/// Derefs to [`ManagedConnection`] (which derefs to
/// `redis::aio::MultiplexedConnection`), so deadpool-redis code keeps
/// compiling: `query_async(&mut conn)` and `query_async(&mut *conn)` are the
/// same tracked path, and `&mut conn` or `&mut *conn` still coerce to
/// `&mut MultiplexedConnection` where that type is named (a raw borrow: see
/// [`ManagedConnection`]).
pub struct Connection {
    conn: Object,
}

impl Connection {
    /// Detaches the connection from the pool, freeing its slot. The
    /// connection keeps a fixed response timeout (the command timeout) on
    /// every request.
    #[must_use]
    pub fn take(this: Self) -> MultiplexedConnection {
        Object::take(this.conn).into_raw()
    }

    /// The pool-core object (id, metrics, pool).
    pub(crate) fn into_object(self) -> Object {
        self.conn
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
    fn from(mut conn: Object) -> Self {
        // The pool link a read retry needs, once per connection.
        if conn.pool.is_none() {
            conn.pool = Object::pool(&conn).map(|pool| Box::new(pool.weak()) as Box<dyn Renew>);
        }
        Self { conn }
    }
}

impl Deref for Connection {
    type Target = ManagedConnection;
    fn deref(&self) -> &ManagedConnection {
        &self.conn
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut ManagedConnection {
        &mut self.conn
    }
}

impl AsRef<MultiplexedConnection> for Connection {
    fn as_ref(&self) -> &MultiplexedConnection {
        &self.conn
    }
}

impl AsMut<MultiplexedConnection> for Connection {
    /// A raw borrow (see [`ManagedConnection`]).
    fn as_mut(&mut self) -> &mut MultiplexedConnection {
        &mut self.conn
    }
}

impl ConnectionLike for Connection {
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

impl Renew for pool_core::WeakPool<Manager> {
    fn renew(&self) -> Renewal<'_> {
        Box::pin(async move { Some(self.upgrade()?.create_replacement().await) })
    }
}
