//! The pooled cluster connection and what its traffic showed.

use std::ops::{Deref, DerefMut};

use redis::aio::ConnectionLike;

use crate::commands::{self, Kind};

use super::ClusterConnection;
use super::send;

/// A pooled cluster connection plus what its traffic showed. Implements
/// `ConnectionLike` (the tracked path, so `query_async(&mut *conn)` is
/// tracked like `query_async(&mut conn)`) and derefs to redis-rs's
/// `ClusterConnection` for code that names that type (untracked, as in
/// deadpool-redis).
pub struct ManagedCluster {
    pub(super) conn: ClusterConnection,
    /// What may be sent again, and for how long.
    pub(super) resend: send::Resend,
    /// `WATCH` or a session-changing command was sent: closed at return.
    pub(super) session: bool,
    /// A bare `MULTI` without its `EXEC`/`DISCARD`.
    pub(super) in_multi: bool,
}

impl std::fmt::Debug for ManagedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedCluster")
            .field("session", &self.session)
            .field("in_multi", &self.in_multi)
            .finish_non_exhaustive()
    }
}

impl ManagedCluster {
    pub(super) fn note(&mut self, cmd: &redis::Cmd) {
        match commands::kind_of(cmd) {
            // UNWATCH would go to whichever node redis-rs picks, not the
            // one holding the watch: the connection is closed instead.
            Kind::Watch | Kind::Session => self.session = true,
            Kind::Multi => self.in_multi = true,
            Kind::ExecOrDiscard => self.in_multi = false,
            Kind::Plain | Kind::Unwatch | Kind::Blocking => {}
        }
    }

    pub(super) fn unusable(&self) -> bool {
        self.session || self.in_multi
    }
}

impl Deref for ManagedCluster {
    type Target = ClusterConnection;
    fn deref(&self) -> &ClusterConnection {
        &self.conn
    }
}

impl DerefMut for ManagedCluster {
    /// The raw connection: commands sent through it are not tracked.
    fn deref_mut(&mut self) -> &mut ClusterConnection {
        &mut self.conn
    }
}

impl ConnectionLike for ManagedCluster {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        self.note(cmd);
        Box::pin(send::single(&mut self.conn, cmd, self.resend))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        for cmd in pipeline.cmd_iter() {
            self.note(cmd);
        }
        Box::pin(send::pipeline(
            &mut self.conn,
            pipeline,
            offset,
            count,
            self.resend,
        ))
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}
