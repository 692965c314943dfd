#![doc = include_str!("../README.md")]
// Every public item says what it is for.
#![warn(missing_docs)]

pub mod reexports;

use std::any::Any;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use pool_core::{Runtime, SpawnBlockingError, spawn_blocking, spawn_blocking_background};

/// Why [`SyncWrapper::interact`] gave no result (deadpool-sync's error).
pub enum InteractError {
    /// The closure panicked; the payload. The wrapper is broken from then
    /// on ([`SyncWrapper::is_broken`]).
    Panic(Box<dyn Any + Send + 'static>),
    /// The closure did not run to its end: the runtime shut down, or the
    /// object was already gone.
    Cancelled,
}

impl fmt::Debug for InteractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panic(p) => f
                .debug_tuple("Panic")
                .field(&panic_text(p.as_ref()))
                .finish(),
            Self::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl fmt::Display for InteractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panic(p) => write!(f, "Panic: {}", panic_text(p.as_ref())),
            Self::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl std::error::Error for InteractError {}

impl From<SpawnBlockingError> for InteractError {
    fn from(value: SpawnBlockingError) -> Self {
        match value {
            SpawnBlockingError::Panic(p) => Self::Panic(p),
            SpawnBlockingError::Cancelled => Self::Cancelled,
        }
    }
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-text payload")
}

/// An object with only blocking methods, used from async code through
/// [`SyncWrapper::interact`] (deadpool-sync's `SyncWrapper`).
///
/// **Invariant:** the object lives in an `Arc<Mutex<Option<T>>>`; the
/// wrapper holds one reference and each running `interact` closure one
/// more, so a reference count above one means a closure still runs (its
/// future may have been dropped).
#[must_use]
pub struct SyncWrapper<T: Send + 'static> {
    obj: Arc<Mutex<Option<T>>>,
    runtime: Runtime,
    /// Runs with the object on the blocking thread that closes it.
    on_close: Option<OnClose<T>>,
}

/// What runs with the object before it is closed.
type OnClose<T> = Box<dyn FnOnce(&mut T) + Send + Sync + 'static>;

impl<T: fmt::Debug + Send + 'static> fmt::Debug for SyncWrapper<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncWrapper")
            .field("obj", &self.obj)
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl<T: Send + 'static> SyncWrapper<T> {
    /// Makes the object with `f` on a blocking thread.
    ///
    /// # Errors
    /// `f`'s error.
    ///
    /// # Panics
    /// If `f` panics (deadpool-sync's behaviour: a manager's `create` has no
    /// error of its own for it).
    pub async fn new<F, E>(runtime: Runtime, f: F) -> Result<Self, E>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        E: Send + 'static,
    {
        let made = match spawn_blocking(runtime, f).await {
            Ok(made) => made,
            Err(SpawnBlockingError::Panic(p)) => std::panic::resume_unwind(p),
            Err(SpawnBlockingError::Cancelled) => panic!("the runtime shut down while creating"),
        };
        made.map(|obj| Self {
            obj: Arc::new(Mutex::new(Some(obj))),
            runtime,
            on_close: None,
        })
    }

    /// Runs `f` with the object on a blocking thread (never on a runtime
    /// worker) and returns its result.
    ///
    /// # Errors
    /// [`InteractError::Panic`] if `f` panicked (the wrapper is broken from
    /// then on); [`InteractError::Cancelled`] if it could not run.
    pub async fn interact<F, R>(&self, f: F) -> Result<R, InteractError>
    where
        F: FnOnce(&mut T) -> R + Send + 'static,
        R: Send + 'static,
    {
        let obj = Arc::clone(&self.obj);
        #[cfg(feature = "tracing")]
        let span = tracing::Span::current();
        spawn_blocking(self.runtime, move || {
            // A poisoned mutex: an earlier closure panicked with the object
            // half-changed. Not used again.
            let mut guard = obj.lock().map_err(|_| InteractError::Cancelled)?;
            let obj: &mut T = guard.as_mut().ok_or(InteractError::Cancelled)?;
            #[cfg(feature = "tracing")]
            let _span = span.enter();
            Ok(f(obj))
        })
        .await
        .map_err(InteractError::from)?
    }

    /// Runs `f` with the object on the blocking thread that closes it,
    /// just before (`PRAGMA optimize` for a SQLite connection): blocking
    /// work at close never runs on a runtime worker. Not after a closure
    /// panicked with the object.
    pub fn on_close(&mut self, f: impl FnOnce(&mut T) + Send + Sync + 'static) {
        self.on_close = Some(Box::new(f));
    }

    /// Whether a closure panicked while holding the object.
    pub fn is_mutex_poisoned(&self) -> bool {
        self.obj.is_poisoned()
    }

    /// Whether the object must not be handed to anyone again: a closure
    /// panicked with it, or an `interact` whose caller gave up still runs.
    /// A manager returns this from `Manager::is_broken` (and fails its
    /// `recycle` on it) so the pool drops such an object.
    pub fn is_broken(&self) -> bool {
        self.is_mutex_poisoned() || Arc::strong_count(&self.obj) > 1
    }

    /// The object, locked, for code that must reach it directly (any
    /// blocking call on it belongs on a blocking thread).
    ///
    /// # Errors
    /// The poison error if a closure panicked with the object.
    pub fn lock(&self) -> Result<SyncGuard<'_, T>, PoisonError<MutexGuard<'_, Option<T>>>> {
        self.obj.lock().map(SyncGuard)
    }

    /// As [`SyncWrapper::lock`], without waiting.
    ///
    /// # Errors
    /// `WouldBlock` while a closure holds it, or the poison error.
    pub fn try_lock(&self) -> Result<SyncGuard<'_, T>, TryLockError<MutexGuard<'_, Option<T>>>> {
        self.obj.try_lock().map(SyncGuard)
    }
}

impl<T: Send + 'static> Drop for SyncWrapper<T> {
    /// The object is dropped on a blocking thread: closing a database
    /// connection can block (a checkpoint, an fsync).
    fn drop(&mut self) {
        let obj = Arc::clone(&self.obj);
        let on_close = self.on_close.take();
        let _ = spawn_blocking_background(self.runtime, move || match obj.lock() {
            Ok(mut guard) => {
                if let (Some(f), Some(obj)) = (on_close, guard.as_mut()) {
                    f(obj);
                }
                drop(guard.take());
            }
            Err(poisoned) => drop(poisoned.into_inner().take()),
        });
    }
}

/// The locked object (deadpool-sync's `SyncGuard`).
#[derive(Debug)]
pub struct SyncGuard<'a, T: Send>(MutexGuard<'a, Option<T>>);

impl<T: Send> Deref for SyncGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0
            .as_ref()
            .expect("the object is there until the wrapper is dropped")
    }
}

impl<T: Send> DerefMut for SyncGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0
            .as_mut()
            .expect("the object is there until the wrapper is dropped")
    }
}

impl<T: Send> AsRef<T> for SyncGuard<'_, T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: Send> AsMut<T> for SyncGuard<'_, T> {
    fn as_mut(&mut self) -> &mut T {
        self
    }
}
