//! Role pools: a master pool for writes, a replica pool for reads, a local
//! pool, sized from the `REDIS_*_POOL_*` environment variables.
//!
//! `Role` is defined here and used by both halves: [`env`] reads each
//! role's settings, `pools` builds and routes the pools from them.

pub mod env;
mod pools;

pub use pools::{RoleAddrs, RolePools, RolePoolsError};

/// A role pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Writes.
    Master,
    /// Reads (`SLAVE` in the variables' names).
    Replica,
    /// A Redis on this host.
    Local,
}

impl Role {
    /// The three roles.
    pub const ALL: [Role; 3] = [Role::Master, Role::Replica, Role::Local];
}
