//! A dedicated pub/sub connection that holds one of its pool's slots.

use std::ops::{Deref, DerefMut};

/// A dedicated pub/sub connection from [`RedisPoolExt::pubsub`](crate::RedisPoolExt::pubsub); derefs to
/// `redis::aio::PubSub` (`subscribe`, `psubscribe`, `on_message`, ...).
/// Dropping it closes the connection and frees its pool slot.
pub struct PubSub {
    pubsub: redis::aio::PubSub,
    /// The pool slot it holds (`pool_core::KeptSlot` of the pool's
    /// manager), freed on drop.
    _slot: Box<dyn std::any::Any + Send + Sync>,
}

impl PubSub {
    pub(crate) fn new(
        pubsub: redis::aio::PubSub,
        slot: Box<dyn std::any::Any + Send + Sync>,
    ) -> Self {
        Self {
            pubsub,
            _slot: slot,
        }
    }
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
