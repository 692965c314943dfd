//! The async runtime, as deadpool names it, and the blocking work it runs
//! for crates whose objects have only blocking methods (`pool-sync` and the
//! backends on it): deadpool-runtime's `spawn_blocking` and
//! `spawn_blocking_background`, as free functions and as methods.

use std::any::Any;
use std::fmt;

/// The async runtime. tokio is the only one; the enum exists so that
/// deadpool code naming `Runtime::Tokio1` compiles unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// tokio 1.x.
    Tokio1,
}

impl Runtime {
    /// Runs `f` on tokio's blocking threads and waits for its result.
    ///
    /// # Errors
    /// [`SpawnBlockingError::Panic`] if `f` panicked,
    /// [`SpawnBlockingError::Cancelled`] if the runtime shut down first.
    pub async fn spawn_blocking<F, R>(self, f: F) -> Result<R, SpawnBlockingError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        spawn_blocking(self, f).await
    }

    /// Runs `f` on tokio's blocking threads without waiting for it.
    ///
    /// # Errors
    /// None on tokio (the `Result` is deadpool's signature).
    pub fn spawn_blocking_background<F>(self, f: F) -> Result<(), SpawnBlockingError>
    where
        F: FnOnce() + Send + 'static,
    {
        spawn_blocking_background(self, f)
    }
}

/// Runs `f` on `runtime`'s blocking threads and waits for its result
/// (deadpool-runtime's function).
///
/// # Errors
/// [`SpawnBlockingError::Panic`] if `f` panicked,
/// [`SpawnBlockingError::Cancelled`] if the runtime shut down first.
pub async fn spawn_blocking<F, R>(runtime: Runtime, f: F) -> Result<R, SpawnBlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match runtime {
        Runtime::Tokio1 => tokio::task::spawn_blocking(f).await.map_err(|e| {
            if e.is_cancelled() {
                SpawnBlockingError::Cancelled
            } else {
                SpawnBlockingError::Panic(e.into_panic())
            }
        }),
    }
}

/// Runs `f` on `runtime`'s blocking threads without waiting for it
/// (deadpool-runtime's function). Called outside any runtime (a pool
/// dropped after its runtime, or from a plain thread), `f` runs in place:
/// that thread is no async worker, so blocking it stalls nobody, and the
/// work (closing a connection) is not lost.
///
/// # Errors
/// None on tokio (the `Result` is deadpool's signature).
pub fn spawn_blocking_background<F>(runtime: Runtime, f: F) -> Result<(), SpawnBlockingError>
where
    F: FnOnce() + Send + 'static,
{
    match runtime {
        Runtime::Tokio1 => {
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => drop(handle.spawn_blocking(f)),
                Err(_) => f(),
            }
            Ok(())
        }
    }
}

/// Why blocking work gave no result (deadpool-runtime's error).
pub enum SpawnBlockingError {
    /// The work panicked; the payload.
    Panic(Box<dyn Any + Send + 'static>),
    /// The runtime shut down before the work ran to its end.
    Cancelled,
}

impl fmt::Debug for SpawnBlockingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panic(p) => f
                .debug_tuple("Panic")
                .field(&panic_message(p.as_ref()))
                .finish(),
            Self::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl fmt::Display for SpawnBlockingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panic(p) => write!(
                f,
                "SpawnBlockingError: Panic: {}",
                panic_message(p.as_ref())
            ),
            Self::Cancelled => f.write_str("SpawnBlockingError: Cancelled"),
        }
    }
}

impl std::error::Error for SpawnBlockingError {}

/// A panic payload's text, when it is one (`panic!("...")`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-text payload")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blocking_work_returns_its_result_or_its_panic() {
        assert_eq!(Runtime::Tokio1.spawn_blocking(|| 6 * 7).await.unwrap(), 42);
        let err = spawn_blocking(Runtime::Tokio1, || -> u32 { panic!("boom") })
            .await
            .unwrap_err();
        assert!(matches!(err, SpawnBlockingError::Panic(_)));
        assert!(err.to_string().contains("boom"), "{err}");
        let (tx, rx) = std::sync::mpsc::channel();
        Runtime::Tokio1
            .spawn_blocking_background(move || tx.send(7).unwrap())
            .unwrap();
        assert_eq!(
            tokio::task::spawn_blocking(move || rx.recv().unwrap())
                .await
                .unwrap(),
            7
        );
    }
}
