//! `SyncWrapper` in a pool-core pool: blocking work off the runtime's
//! workers, a panic or a cancelled `interact` never reaching the next user.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pool_core::{Manager, Metrics, Pool, RecycleError, RecycleResult, Runtime};
use pool_sync::{InteractError, SyncWrapper};

/// Objects are counters; each new one gets the next number.
#[derive(Default)]
struct Counters {
    made: AtomicUsize,
}

struct Counted(Arc<Counters>);

impl Manager for Counted {
    type Type = SyncWrapper<usize>;
    type Error = ();

    async fn create(&self) -> Result<SyncWrapper<usize>, ()> {
        let n = self.0.made.fetch_add(1, Ordering::SeqCst);
        SyncWrapper::new(Runtime::Tokio1, move || Ok(n)).await
    }

    async fn recycle(&self, obj: &mut SyncWrapper<usize>, _: &Metrics) -> RecycleResult<()> {
        if obj.is_broken() {
            return Err(RecycleError::message("broken"));
        }
        Ok(())
    }

    fn is_broken(&self, obj: &mut SyncWrapper<usize>) -> bool {
        obj.is_broken()
    }
}

fn pool() -> (Pool<Counted>, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let pool = Pool::builder(Counted(counters.clone()))
        .max_size(1)
        .build()
        .unwrap();
    (pool, counters)
}

/// On a runtime with a single thread, a timer keeps ticking while an
/// `interact` blocks for 300 ms: the closure is not on the runtime's thread.
#[tokio::test(flavor = "current_thread")]
async fn interact_never_blocks_the_runtime() {
    let (pool, _) = pool();
    let obj = pool.get().await.unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let got = obj
        .interact(|n| {
            std::thread::sleep(Duration::from_millis(300));
            *n + 40
        })
        .await
        .unwrap();
    ticker.abort();
    assert_eq!(got, 40);
    assert!(
        ticks.load(Ordering::SeqCst) >= 5,
        "the runtime's thread was blocked"
    );
}

/// A panic in `interact` is `InteractError::Panic`, and the object does not
/// go back into the pool: the next checkout gets a new one.
#[tokio::test]
async fn a_panic_is_an_error_and_the_object_leaves_the_pool() {
    let (pool, counters) = pool();
    let obj = pool.get().await.unwrap();
    let err = obj
        .interact(|_| -> usize { panic!("half-done write") })
        .await
        .unwrap_err();
    assert!(matches!(err, InteractError::Panic(_)), "{err:?}");
    assert!(err.to_string().contains("half-done write"), "{err}");
    assert!(obj.is_broken());
    drop(obj);
    let next = pool.get().await.unwrap();
    assert_eq!(next.interact(|n| *n).await.unwrap(), 1, "a new object");
    assert_eq!(counters.made.load(Ordering::SeqCst), 2);
}

/// An `interact` given up (its future dropped) while its closure still
/// runs: the object is not handed to the next user, who gets a new one at
/// once instead of waiting for the closure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_interact_keeps_its_object_from_the_next_user() {
    let (pool, counters) = pool();
    let obj = pool.get().await.unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
    let slow = obj.interact(move |n| {
        started_tx.send(()).unwrap();
        finish_rx.recv().unwrap();
        *n
    });
    tokio::select! {
        _ = slow => panic!("finished while held"),
        _ = async {
            tokio::task::spawn_blocking(move || started_rx.recv().unwrap()).await.unwrap();
        } => {}
    }
    assert!(obj.is_broken(), "busy with a closure nobody waits for");
    drop(obj);
    let next = async {
        let next = pool.get().await.unwrap();
        next.interact(|n| *n).await.unwrap()
    };
    let served = tokio::time::timeout(Duration::from_secs(5), next)
        .await
        .expect("the next user waited for the closure: it got the busy object");
    assert_eq!(served, 1, "a new object");
    assert_eq!(counters.made.load(Ordering::SeqCst), 2);
    finish_tx.send(()).unwrap();
}

/// `on_close` runs with the object when the wrapper is dropped, on a
/// blocking thread, not on the runtime's.
#[tokio::test(flavor = "current_thread")]
async fn on_close_runs_with_the_object_off_the_runtime_thread() {
    let mut wrapped = SyncWrapper::new(Runtime::Tokio1, || Ok::<_, ()>(41usize))
        .await
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    wrapped.on_close(move |n| {
        *n += 1;
        tx.send((*n, std::thread::current().id())).unwrap();
    });
    drop(wrapped);
    let (seen, thread) = tokio::task::spawn_blocking(move || {
        rx.recv_timeout(Duration::from_secs(5))
            .expect("on_close never ran")
    })
    .await
    .unwrap();
    assert_eq!(seen, 42);
    assert_ne!(
        thread,
        std::thread::current().id(),
        "ran on the runtime's thread"
    );
}

/// A wrapper dropped after its runtime is gone (a pool outliving the
/// runtime that made it) closes its object in place: no panic for want of
/// a runtime, and `on_close` still runs.
#[test]
fn dropped_outside_any_runtime_it_closes_in_place() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut wrapped = rt
        .block_on(SyncWrapper::new(Runtime::Tokio1, || Ok::<_, ()>(41usize)))
        .unwrap();
    drop(rt);
    let (tx, rx) = std::sync::mpsc::channel();
    wrapped.on_close(move |n| tx.send(*n + 1).unwrap());
    drop(wrapped);
    assert_eq!(rx.try_recv(), Ok(42), "on_close ran in place");
}
