//! End-to-end PostgreSQL throughput of every contender in alternating rounds
//! (each round runs each contender once, the starting one rotating), so the
//! machine's slow and fast phases hit all of them alike. Starts its own
//! PostgreSQL (initdb + pg_ctl in a temp dir) unless `PG_URL` is set.
//!
//! `cargo run --release -p pool-benches --example pg_rounds -- [ROUNDS] [SECONDS] [TASKS,..] [select1|param] [CONTENDER-PREFIX,..]`

use std::time::Duration;

use pool_benches::pg_e2e::{Contender, Operation, run};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(3);
    let secs: f64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(2.0);
    let tasks: Vec<usize> = args
        .next()
        .unwrap_or_else(|| "10,50".into())
        .split(',')
        .map(|t| t.parse().expect("TASKS: comma-separated numbers"))
        .collect();
    let op = match args.next().as_deref().unwrap_or("select1") {
        "select1" => Operation::Select1,
        "param" => Operation::Param,
        other => panic!("operation must be select1 or param, not {other:?}"),
    };
    let only: Option<Vec<String>> = args
        .next()
        .map(|s| s.split(',').map(str::to_owned).collect());
    let contenders: Vec<Contender> = Contender::ALL
        .into_iter()
        .filter(|c| {
            only.as_ref()
                .is_none_or(|o| o.iter().any(|p| c.name().starts_with(p.as_str())))
        })
        .collect();

    let _server;
    let url = match std::env::var("PG_URL") {
        Ok(url) => url,
        Err(_) => {
            let server = pg_harness::PgServer::start();
            let url = server.admin_url("postgres");
            eprintln!("started PostgreSQL on {url}");
            _server = server;
            url
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    for &n in &tasks {
        let names: Vec<&str> = contenders.iter().map(|c| c.name()).collect();
        let results = pool_benches::alternate_rounds(&names, rounds, |i| {
            rt.block_on(run(
                contenders[i],
                &url,
                n,
                op,
                Duration::from_secs_f64(secs),
            ))
        });
        println!(
            "{} at {n} tasks ({rounds} rounds x {secs} s), ops/s",
            op.name()
        );
        let references: Vec<(usize, &str)> = [
            (Contender::DeadpoolFast, "deadpool fast"),
            (Contender::DeadpoolVerified, "deadpool verified"),
            (Contender::Dedicated, "dedicated"),
        ]
        .into_iter()
        .filter_map(|(r, label)| contenders.iter().position(|&x| x == r).map(|i| (i, label)))
        .collect();
        pool_benches::print_rounds(&names, &results, &references);
    }
}
