//! How long pool-redis takes to open a connection over TLS (certificate
//! verified against a CA) and over plaintext, alternating, against servers
//! on this machine it starts: the price of the handshake.
//!
//! `cargo run --release -p pool-benches --example connect_time -- [ROUNDS] [CONNECTS]`

use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(5);
    let connects: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(100);
    let certs = redis_harness::TestCerts::generate();
    let tls_server = redis_harness::TlsRedisServer::start(
        &certs.ca,
        &certs.server_cert,
        &certs.server_key,
        false,
    );
    let plain_server = redis_harness::RedisServer::start();
    let tls_url = format!("{}/0?tls_ca={}", tls_server.url(), certs.ca.display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let manager = |url: &str| {
        pool_redis::Config::from_url(url)
            .builder()
            .expect("a pool-redis config")
            .build()
            .expect("a pool")
    };
    let tls = manager(&tls_url);
    let plain = manager(&plain_server.url());
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    rt.block_on(async {
        for _ in 0..rounds {
            for (i, pool) in [&tls, &plain].into_iter().enumerate() {
                for _ in 0..connects {
                    let started = Instant::now();
                    let conn = pool_core::Manager::create(pool.manager())
                        .await
                        .expect("a connection");
                    times[i].push(started.elapsed());
                    drop(conn);
                }
            }
        }
    });
    for (name, t) in ["TLS (verified)", "plaintext"].iter().zip(&mut times) {
        t.sort();
        let at = |q: f64| t[((t.len() - 1) as f64 * q) as usize];
        println!(
            "{name:<16} {} connects: p50 {:?}  p90 {:?}  p99 {:?}",
            t.len(),
            at(0.5),
            at(0.9),
            at(0.99)
        );
    }
    let ratio =
        times[0][times[0].len() / 2].as_secs_f64() / times[1][times[1].len() / 2].as_secs_f64();
    println!("TLS / plaintext, p50: {ratio:.1}x");
}
