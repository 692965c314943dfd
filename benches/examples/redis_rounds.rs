//! End-to-end Redis throughput of every contender in alternating rounds
//! (each round runs each contender once, the starting one rotating), so the
//! machine's slow and fast phases hit all of them alike. Starts its own
//! redis-server on a free loopback port unless `REDIS_URL` is set.
//! `SERVERS=redis-server,valkey-server` starts one server per binary and
//! runs every contender against each in the same alternating rounds, then
//! prints each contender's same-round ratio to itself on the first server.
//!
//! `[SERVERS=redis-server,valkey-server] cargo run --release -p pool-benches --example redis_rounds -- [ROUNDS] [SECONDS] [TASKS,..] [get|set|pipeline:N] [CONTENDER-PREFIX,..]`

use pool_benches::redis_e2e::{Contender, Operation, run};
use pool_benches::rounds::{RoundsArgs, references};

fn main() {
    let mut args = RoundsArgs::from_env(3, 2.0, "1,10,50", "get");
    let op = match args.operation.as_str() {
        "get" => Operation::Get,
        "set" => Operation::Set,
        other => match other.strip_prefix("pipeline:") {
            Some(n) => Operation::Pipeline(n.parse().expect("pipeline:N")),
            None => panic!("operation must be get, set or pipeline:N, not {other:?}"),
        },
    };
    let contenders = args.contenders(&Contender::ALL, Contender::name);

    if let Ok(servers) = std::env::var("SERVERS") {
        let binaries: Vec<&str> = servers.split(',').map(str::trim).collect();
        return side_by_side(&binaries, &contenders, &args, op);
    }
    // TLS=1: every contender over TLS, against a TLS-only redis-server.
    // Certificate checks are off (`#insecure`) for all of them alike:
    // deadpool-redis cannot be given a CA, and verification costs only at
    // the handshake, which `connect_time` measures.
    let tls = std::env::var("TLS").is_ok_and(|v| v == "1");
    let (_server, _tls_server, _certs);
    let url = match std::env::var("REDIS_URL") {
        Ok(url) => url,
        Err(_) if tls => {
            let certs = redis_harness::TestCerts::generate();
            let server = redis_harness::TlsRedisServer::start(
                &certs.ca,
                &certs.server_cert,
                &certs.server_key,
                false,
            );
            let url = format!("{}/0#insecure", server.url());
            eprintln!("started a TLS redis-server on {url}");
            (_tls_server, _certs) = (server, certs);
            url
        }
        Err(_) => {
            let server = redis_harness::RedisServer::start();
            eprintln!("started redis-server on {}", server.url());
            let url = server.url();
            _server = server;
            url
        }
    };
    // pool-redis installs rustls's crypto provider with its first TLS
    // manager; the other contenders' redis-rs needs one too.
    let _ = pool_redis::Manager::new(url.as_str());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(pool_benches::redis_e2e::prepare(&url));

    let names: Vec<&str> = contenders.iter().map(|c| c.name()).collect();
    // Same-round ratios against these, where they ran.
    let references = references(
        &contenders,
        [
            (Contender::Multiplexed, "multiplexed"),
            (Contender::DeadpoolRedis, "deadpool-redis"),
            (Contender::Exclusive, "exclusive"),
        ],
    );
    args.run_and_print(
        &names,
        &references,
        |n| format!("{} at {n} tasks, ops/s", op.name()),
        |i, n| rt.block_on(run(contenders[i], &url, n, op, args.duration())),
    );
}

/// Every contender against every server binary, in the same alternating
/// rounds: a difference between servers is not a phase of the machine.
fn side_by_side(binaries: &[&str], contenders: &[Contender], args: &RoundsArgs, op: Operation) {
    let servers: Vec<redis_harness::RedisServer> = binaries
        .iter()
        .map(|b| redis_harness::RedisServer::start_binary(b, &[]))
        .collect();
    let short = |b: &str| {
        let base = b.rsplit('/').next().unwrap_or(b);
        base.strip_suffix("-server").unwrap_or(base).to_owned()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    for server in &servers {
        eprintln!("started {} on {}", server.binary(), server.url());
        rt.block_on(pool_benches::redis_e2e::prepare(&server.url()));
    }
    // Pairs server-major: pair p is contender p % C on server p / C.
    let pairs: Vec<(usize, Contender)> = (0..servers.len())
        .flat_map(|s| contenders.iter().map(move |&c| (s, c)))
        .collect();
    let names: Vec<String> = pairs
        .iter()
        .map(|&(s, c)| format!("{} @ {}", c.name(), short(binaries[s])))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    for &n in &args.tasks {
        let results = pool_benches::alternate_rounds(&names, args.rounds, |i| {
            let (s, c) = pairs[i];
            rt.block_on(run(c, &servers[s].url(), n, op, args.duration()))
        });
        println!(
            "{} at {n} tasks ({} rounds x {} s), ops/s",
            op.name(),
            args.rounds,
            args.secs
        );
        pool_benches::print_rounds(&names, &results, &[]);
        let first = short(binaries[0]);
        for (i, &(s, c)) in pairs.iter().enumerate().filter(|(_, p)| p.0 > 0) {
            let base = pairs
                .iter()
                .position(|&(s0, c0)| s0 == 0 && c0 == c)
                .unwrap();
            let mut ratios: Vec<f64> = results[i]
                .iter()
                .zip(&results[base])
                .map(|(a, b)| a / b)
                .collect();
            ratios.sort_by(f64::total_cmp);
            println!(
                "  {:<36} {:.2}x itself @ {first} (range {:.2}-{:.2})",
                format!("{} @ {}", c.name(), short(binaries[s])),
                ratios[ratios.len() / 2],
                ratios[0],
                ratios[ratios.len() - 1]
            );
        }
    }
}
