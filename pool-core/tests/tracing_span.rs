//! With debug logging on, each get runs in a `pool.get` span that records
//! its wait. Alone in its own test binary: tracing caches each callsite's
//! interest process-wide, so tests running in parallel without a
//! subscriber would race this one.

mod common;

use std::time::Duration;

use common::{Mock, quiet_pool};

/// Records the spans opened and the `wait_us` values recorded into them.
#[derive(Default)]
struct Spans {
    names: std::sync::Mutex<Vec<&'static str>>,
    waits: std::sync::Mutex<Vec<u64>>,
    next: std::sync::atomic::AtomicU64,
}

impl tracing::Subscriber for Spans {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        self.names.lock().unwrap().push(span.metadata().name());
        tracing::span::Id::from_u64(
            1 + self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        )
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        struct Wait<'a>(&'a std::sync::Mutex<Vec<u64>>);
        impl tracing::field::Visit for Wait<'_> {
            fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
                if field.name() == "wait_us" {
                    self.0.lock().unwrap().push(value);
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        values.record(&mut Wait(&self.waits));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn with_debug_logging_each_get_runs_in_a_span_with_its_wait() {
    let spans = std::sync::Arc::new(Spans::default());
    let dispatch = tracing::Dispatch::from(spans.clone());
    tracing::dispatcher::with_default(&dispatch, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let pool = quiet_pool(
                Mock {
                    create_delay: Duration::from_millis(30),
                    ..Mock::new()
                },
                1,
            );
            drop(pool.get().await.unwrap());
            drop(pool.get().await.unwrap());
        });
    });
    let names = spans.names.lock().unwrap().clone();
    assert_eq!(
        names.iter().filter(|n| **n == "pool.get").count(),
        2,
        "{names:?}"
    );
    let waits = spans.waits.lock().unwrap().clone();
    // The first get waited for its 30 ms create; the second found it idle.
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(waits[0] >= 30_000 && waits[1] < 30_000, "{waits:?}");
}
