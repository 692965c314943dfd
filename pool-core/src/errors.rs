//! Errors of `get()` and of `recycle`, with deadpool's variants.

use std::borrow::Cow;

use crate::hooks::HookError;

/// Why `Manager::recycle` refused an object.
#[derive(Debug, thiserror::Error)]
pub enum RecycleError<E> {
    /// A message from the manager.
    #[error("Error occurred while recycling an object: {0}")]
    Message(Cow<'static, str>),
    /// The backend's error.
    #[error("Error occurred while recycling an object: {0}")]
    Backend(E),
}

impl<E> RecycleError<E> {
    /// A `Message` error.
    pub fn message(msg: impl Into<Cow<'static, str>>) -> Self {
        Self::Message(msg.into())
    }
}

impl<E> From<E> for RecycleError<E> {
    fn from(e: E) -> Self {
        Self::Backend(e)
    }
}

/// Which phase of a `get()` timed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutType {
    /// Waiting for an object or a free slot.
    Wait,
    /// Creating an object.
    Create,
    /// Recycling an object.
    Recycle,
}

/// Why `get()` failed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError<E> {
    /// A phase of `get()` took longer than its timeout.
    #[error("{}", timeout_message(.0))]
    Timeout(TimeoutType),
    /// `Manager::create` failed.
    #[error("Error occurred while creating a new object: {0}")]
    Backend(E),
    /// The pool was closed.
    #[error("Pool has been closed")]
    Closed,
    /// Kept for deadpool compatibility; tokio is always the runtime here, so
    /// this is never returned.
    #[error("No runtime specified")]
    NoRuntimeSpecified,
    /// A `post_create` hook failed.
    #[error("`post_create` hook failed: {0}")]
    PostCreateHook(HookError<E>),
}

fn timeout_message(t: &TimeoutType) -> &'static str {
    match t {
        TimeoutType::Wait => "Timeout occurred while waiting for a slot to become available",
        TimeoutType::Create => "Timeout occurred while creating a new object",
        TimeoutType::Recycle => "Timeout occurred while recycling an object",
    }
}

impl<E> From<E> for PoolError<E> {
    fn from(e: E) -> Self {
        Self::Backend(e)
    }
}
