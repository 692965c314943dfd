//! deadpool's pool type aliases, as a macro: the crate root's (`pool.rs`),
//! `sentinel`'s and `cluster`'s each name their own manager and checkout.

/// deadpool's pool type aliases for one manager, its checkout type and
/// its configuration error (the crate root, `sentinel`, `cluster`).
macro_rules! pool_aliases {
    ($manager:ty, $connection:ty, $config_error:ty) => {
        /// A pool of connections.
        pub type Pool = pool_core::Pool<$manager, $connection>;
        /// A weak handle to a [`Pool`].
        pub type WeakPool = pool_core::WeakPool<$manager, $connection>;
        /// Builder of a [`Pool`].
        pub type PoolBuilder = pool_core::PoolBuilder<$manager, $connection>;
        /// Why a pool could not be built.
        pub type BuildError = pool_core::BuildError;
        /// Why a configuration could not become a pool.
        pub type CreatePoolError = pool_core::CreatePoolError<$config_error>;
        /// Why `get()` failed.
        pub type PoolError = pool_core::PoolError<redis::RedisError>;
        /// A pooled connection as pool-core sees it (prefer the checkout type).
        pub type Object = pool_core::Object<$manager>;
        /// A hook run on connections.
        pub type Hook = pool_core::Hook<$manager>;
        /// Error of a hook.
        pub type HookError = pool_core::HookError<redis::RedisError>;
        /// Reuse order of idle connections.
        pub type QueueMode = pool_core::QueueMode;
    };
}
