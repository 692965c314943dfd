//! The pool's errors, with deadpool's variants: of `get()`, of `recycle`,
//! of a hook, of building a pool; and how they are named in logs.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

// An error shared with callers, not protocol state: never loom's types.
use crate::sync::{HandleArc as Arc, StdMutex};

/// The create error that opened the breaker, shared by every caller it
/// refuses. An `Arc` (so `E` need not be `Clone`) around a mutex (so the
/// pool stays `Send + Sync` for an `E` that is only `Send`, as deadpool
/// requires of `Manager::Error`). Its `Display` is the manager's
/// [`describe_error`](crate::Manager::describe_error) when it gave one.
pub struct SharedError<E>(Arc<StdMutex<E>>, Option<Arc<str>>);

impl<E> SharedError<E> {
    pub(crate) fn new(error: E, description: Option<String>) -> Self {
        Self(Arc::new(StdMutex::new(error)), description.map(Into::into))
    }

    /// Runs `f` on the error.
    pub fn with<R>(&self, f: impl FnOnce(&E) -> R) -> R {
        f(&self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl<E> Clone for SharedError<E> {
    fn clone(&self) -> Self {
        Self(self.0.clone(), self.1.clone())
    }
}

impl<E: fmt::Debug> fmt::Debug for SharedError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with(|e| e.fmt(f))
    }
}

impl<E: fmt::Display> fmt::Display for SharedError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.1 {
            Some(description) => f.write_str(description),
            None => self.with(|e| e.fmt(f)),
        }
    }
}

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

/// Why `get()` failed. deadpool's variants plus one: `Unavailable`.
#[derive(Debug)]
pub enum PoolError<E> {
    /// A phase of `get()` took longer than its timeout.
    Timeout(TimeoutType),
    /// `Manager::create` failed.
    Backend(E),
    /// The pool was closed.
    Closed,
    /// Kept for deadpool compatibility; tokio is always the runtime here, so
    /// this is never returned.
    NoRuntimeSpecified,
    /// A `post_create` hook failed.
    PostCreateHook(HookError<E>),
    /// Not in deadpool: no object could be had because creates keep failing
    /// (the circuit breaker is open). Returned at once instead of after a
    /// timeout, and by a waiter whose wait ran out while creates failed.
    Unavailable {
        /// The create error that opened the breaker (`None`: creates timed
        /// out).
        last_error: Option<SharedError<E>>,
        /// Consecutive failed creates.
        failures: u32,
        /// When the next create will be tried (zero: a probe is running).
        retry_in: Duration,
    },
}

impl<E: fmt::Display> fmt::Display for PoolError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(t) => f.write_str(timeout_message(t)),
            Self::Backend(e) => write!(f, "Error occurred while creating a new object: {e}"),
            Self::Closed => f.write_str("Pool has been closed"),
            Self::NoRuntimeSpecified => f.write_str("No runtime specified"),
            Self::PostCreateHook(e) => write!(f, "`post_create` hook failed: {e}"),
            Self::Unavailable {
                last_error,
                failures,
                retry_in,
            } => {
                write!(
                    f,
                    "no object available: the last {failures} creates failed; last error: "
                )?;
                match last_error {
                    Some(e) => write!(f, "{e}")?,
                    None => f.write_str("create timed out")?,
                }
                if retry_in.is_zero() {
                    f.write_str("; a probe create is running")
                } else {
                    write!(f, "; next attempt in {} ms", retry_in.as_millis())
                }
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for PoolError<E> {
    // `Unavailable`'s error sits behind a lock and cannot be lent out; its
    // text is in this error's own message.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Backend(e) => Some(e),
            Self::PostCreateHook(e) => Some(e),
            _ => None,
        }
    }
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

/// Error of a hook.
#[derive(Debug, thiserror::Error)]
pub enum HookError<E> {
    /// A message.
    #[error("{0}")]
    Message(Cow<'static, str>),
    /// The backend's error.
    #[error("{0}")]
    Backend(E),
}

impl<E> HookError<E> {
    /// A `Message` error.
    pub fn message(msg: impl Into<Cow<'static, str>>) -> Self {
        Self::Message(msg.into())
    }
}

/// Why a pool could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// Kept for deadpool compatibility: tokio is always the runtime here, so
    /// timeouts never need one to be named and this is never returned.
    #[error("Error occurred while building the pool: Timeouts require a runtime")]
    NoRuntimeSpecified,
    /// `max_size` is larger than the pool can count.
    #[error("max_size {max_size} is too large: the limit is {limit}")]
    MaxSizeTooLarge {
        /// The value given.
        max_size: usize,
        /// The largest value accepted.
        limit: usize,
    },
    /// `QueueMode::Lifo` was combined with `Store::LockFree`, a FIFO queue.
    #[error(
        "queue_mode Lifo cannot be served by store LockFree (a FIFO queue): use Store::Mutex, or leave the store unset to get it"
    )]
    LifoNeedsMutexStore,
    /// The breaker's backoff base is longer than its cap.
    #[error("breaker base {base:?} is longer than its cap {cap:?}")]
    BreakerBaseAboveCap {
        /// `BreakerConfig::base`.
        base: std::time::Duration,
        /// `BreakerConfig::cap`.
        cap: std::time::Duration,
    },
}

/// The error of a backend crate's `create_pool`: its own config error, or a
/// build error.
#[derive(Debug, thiserror::Error)]
pub enum CreatePoolError<C> {
    /// The backend's configuration was invalid.
    #[error("Config: {0}")]
    Config(C),
    /// The pool could not be built.
    #[error("Build: {0}")]
    Build(BuildError),
}

// Log formatting, beside the types it formats.

/// Formats a hook error without requiring `E: Display`.
pub(crate) struct DisplayHook<'a, E>(pub(crate) &'a HookError<E>);

impl<E> fmt::Display for DisplayHook<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            HookError::Message(msg) => f.write_str(msg),
            HookError::Backend(_) => f.write_str("backend error"),
        }
    }
}

/// Names a `PoolError` in logs without requiring `E: Display`.
pub(crate) struct DisplayKind<'a, E>(pub(crate) &'a PoolError<E>);

impl<E> fmt::Display for DisplayKind<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            PoolError::Timeout(t) => write!(f, "timeout ({t:?})"),
            PoolError::Backend(_) => f.write_str("create failed"),
            PoolError::Closed => f.write_str("closed"),
            PoolError::NoRuntimeSpecified => f.write_str("no runtime"),
            PoolError::PostCreateHook(_) => f.write_str("post_create hook failed"),
            PoolError::Unavailable {
                failures, retry_in, ..
            } => {
                write!(
                    f,
                    "unavailable after {failures} failed creates, retry in {retry_in:?}"
                )
            }
        }
    }
}
