//! The checkout of a cluster pool.

use std::ops::{Deref, DerefMut};

use redis::aio::ConnectionLike;

use super::managed_cluster::ManagedCluster;
use super::{ClusterConnection, Metrics, Object, ObjectId};

/// A connection checked out of a cluster [`Pool`](super::Pool); it goes back when
/// dropped. Derefs to [`ManagedCluster`] (which derefs to
/// `ClusterConnection`).
pub struct Connection {
    pub(super) conn: Object,
}

impl Connection {
    /// Detaches the connection from the pool, freeing its slot.
    #[must_use]
    pub fn take(this: Self) -> ClusterConnection {
        Object::take(this.conn).conn
    }

    /// The pooled object's id.
    #[must_use]
    pub fn id(this: &Self) -> ObjectId {
        Object::id(&this.conn)
    }

    /// The pooled object's metrics.
    pub fn metrics(this: &Self) -> &Metrics {
        Object::metrics(&this.conn)
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl From<Object> for Connection {
    fn from(conn: Object) -> Self {
        Self { conn }
    }
}

impl Deref for Connection {
    type Target = ManagedCluster;
    fn deref(&self) -> &ManagedCluster {
        &self.conn
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut ManagedCluster {
        &mut self.conn
    }
}

impl AsRef<ClusterConnection> for Connection {
    fn as_ref(&self) -> &ClusterConnection {
        &self.conn
    }
}

impl AsMut<ClusterConnection> for Connection {
    fn as_mut(&mut self) -> &mut ClusterConnection {
        &mut self.conn
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        let managed: &'a mut ManagedCluster = &mut self.conn;
        managed.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        let managed: &'a mut ManagedCluster = &mut self.conn;
        managed.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}
