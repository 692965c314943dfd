//! Serves a pool's metrics as Prometheus text on http://127.0.0.1:9187/
//! while a small load runs: `cargo run -p pool-core --features metrics
//! --example prometheus`, then `curl 127.0.0.1:9187`. (A plain TCP
//! responder: the exporter's own HTTP listener would pull in hyper.)

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use pool_core::{Manager, Metrics, Pool, RecycleResult};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Sleepy;

impl Manager for Sleepy {
    type Type = ();
    type Error = std::convert::Infallible;
    async fn create(&self) -> Result<(), Self::Error> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(())
    }
    async fn recycle(&self, _: &mut (), _: &Metrics) -> RecycleResult<Self::Error> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("no other recorder");
    let pool: Pool<Sleepy> = Pool::builder(Sleepy).max_size(4).build().expect("pool");
    // Load: 16 tasks over 4 objects, each holding one for a few ms.
    for _ in 0..16 {
        let pool = pool.clone();
        tokio::spawn(async move {
            loop {
                let obj = pool.get().await.expect("infallible");
                tokio::time::sleep(Duration::from_millis(3)).await;
                drop(obj);
            }
        });
    }
    let publisher = pool.clone();
    tokio::spawn(async move {
        loop {
            publisher.publish_metrics("example");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:9187").await?;
    eprintln!("serving Prometheus text on http://127.0.0.1:9187/");
    loop {
        let (mut socket, _) = listener.accept().await?;
        let mut request = [0u8; 1024];
        let _ = socket.read(&mut request).await?;
        let body = handle.render();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await?;
    }
}
