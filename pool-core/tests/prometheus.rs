//! The `metrics` feature: a pool's figures rendered by the Prometheus
//! exporter under OpenTelemetry's names, with sane values.

mod common;

use std::time::Duration;

use common::Mock;
use metrics_exporter_prometheus::PrometheusBuilder;
use pool_core::Pool;

/// The value of the series whose line starts with `prefix`.
fn value(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no series {prefix} in:\n{text}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn series_are_there_with_sane_values() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let pool: Pool<Mock> = Pool::builder(Mock {
        create_delay: Duration::from_millis(10),
        ..Mock::new()
    })
    .max_size(2)
    .build()
    .unwrap();
    let held = pool.get().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move {
            let a = pool.get().await.unwrap();
            let b = pool.get().await.unwrap(); // waits for `held`
            drop((a, b));
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    metrics::with_local_recorder(&recorder, || pool.publish_metrics("orders"));
    let during = handle.render();
    assert_eq!(
        value(
            &during,
            r#"db_client_connection_pending_requests{pool_name="orders"}"#
        ),
        1.0,
        "{during}"
    );
    assert_eq!(
        value(&during, r#"db_client_connection_max{pool_name="orders"}"#),
        2.0
    );
    drop(held);
    waiter.await.unwrap();
    metrics::with_local_recorder(&recorder, || pool.publish_metrics("orders"));
    let text = handle.render();
    assert_eq!(
        value(
            &text,
            r#"db_client_connection_count{pool_name="orders",state="idle"}"#
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"db_client_connection_count{pool_name="orders",state="used"}"#
        ),
        0.0
    );
    assert_eq!(
        value(&text, r#"pool_creates{pool_name="orders",result="ok"}"#),
        2.0
    );
    assert_eq!(
        value(
            &text,
            r#"pool_gets{pool_name="orders",outcome="served_after_wait"}"#
        ),
        1.0
    );
    // Two creates of 10 ms each: the create-time median is 10 ms, in seconds.
    let median = value(
        &text,
        r#"db_client_connection_create_time{pool_name="orders",quantile="0.5"}"#,
    );
    assert!((median - 0.010).abs() < 0.0005, "{median}");
    assert_eq!(
        value(
            &text,
            r#"db_client_connection_timeouts{pool_name="orders"}"#
        ),
        0.0
    );
}
