//! Hooks run after `create` and around `recycle`, as deadpool's.

use std::{fmt, future::Future, pin::Pin};

use crate::errors::HookError;
use crate::manager::Manager;
use crate::metrics::Metrics;

/// Result of a hook.
pub type HookResult<E> = Result<(), HookError<E>>;

/// Future returned by an async hook.
pub type HookFuture<'a, E> = Pin<Box<dyn Future<Output = HookResult<E>> + Send + 'a>>;

type SyncFn<M> =
    dyn Fn(&mut <M as Manager>::Type, &Metrics) -> HookResult<<M as Manager>::Error> + Sync + Send;

type AsyncFn<M> = dyn for<'a> Fn(&'a mut <M as Manager>::Type, &'a Metrics) -> HookFuture<'a, <M as Manager>::Error>
    + Sync
    + Send;

/// A function run on an object at a point of its life.
pub enum Hook<M: Manager> {
    /// A synchronous hook.
    Fn(Box<SyncFn<M>>),
    /// An asynchronous hook.
    AsyncFn(Box<AsyncFn<M>>),
}

impl<M: Manager> Hook<M> {
    /// A synchronous hook.
    pub fn sync_fn(
        f: impl Fn(&mut M::Type, &Metrics) -> HookResult<M::Error> + Sync + Send + 'static,
    ) -> Self {
        Self::Fn(Box::new(f))
    }

    /// An asynchronous hook.
    pub fn async_fn(
        f: impl for<'a> Fn(&'a mut M::Type, &'a Metrics) -> HookFuture<'a, M::Error>
        + Sync
        + Send
        + 'static,
    ) -> Self {
        Self::AsyncFn(Box::new(f))
    }
}

impl<M: Manager> fmt::Debug for Hook<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fn(_) => f.write_str("Hook::Fn"),
            Self::AsyncFn(_) => f.write_str("Hook::AsyncFn"),
        }
    }
}

/// The hooks of one point, run in the order they were added.
pub(crate) struct HookVec<M: Manager>(Vec<Hook<M>>);

impl<M: Manager> HookVec<M> {
    pub(crate) async fn apply(&self, obj: &mut M::Type, metrics: &Metrics) -> HookResult<M::Error> {
        for hook in &self.0 {
            match hook {
                Hook::Fn(f) => f(obj, metrics)?,
                Hook::AsyncFn(f) => f(obj, metrics).await?,
            }
        }
        Ok(())
    }

    pub(crate) fn push(&mut self, hook: Hook<M>) {
        self.0.push(hook);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<M: Manager> Default for HookVec<M> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

/// All hooks of a pool.
pub(crate) struct Hooks<M: Manager> {
    pub(crate) post_create: HookVec<M>,
    pub(crate) pre_recycle: HookVec<M>,
    pub(crate) post_recycle: HookVec<M>,
}

impl<M: Manager> Default for Hooks<M> {
    fn default() -> Self {
        Self {
            post_create: HookVec::default(),
            pre_recycle: HookVec::default(),
            post_recycle: HookVec::default(),
        }
    }
}

impl<M: Manager> fmt::Debug for Hooks<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("post_create", &self.post_create.0.len())
            .field("pre_recycle", &self.pre_recycle.0.len())
            .field("post_recycle", &self.post_recycle.0.len())
            .finish()
    }
}
