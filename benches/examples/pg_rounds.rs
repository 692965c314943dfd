//! End-to-end PostgreSQL throughput of every contender in alternating rounds
//! (each round runs each contender once, the starting one rotating), so the
//! machine's slow and fast phases hit all of them alike. Starts its own
//! PostgreSQL (initdb + pg_ctl in a temp dir) unless `PG_URL` is set.
//!
//! `cargo run --release -p pool-benches --example pg_rounds -- [ROUNDS] [SECONDS] [TASKS,..] [select1|param] [CONTENDER-PREFIX,..]`

use pool_benches::pg_e2e::{Contender, Operation, run};
use pool_benches::rounds::{RoundsArgs, references};

fn main() {
    let mut args = RoundsArgs::from_env(3, 2.0, "10,50", "select1");
    let op = match args.operation.as_str() {
        "select1" => Operation::Select1,
        "param" => Operation::Param,
        other => panic!("operation must be select1 or param, not {other:?}"),
    };
    let contenders = args.contenders(&Contender::ALL, Contender::name);

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

    let names: Vec<&str> = contenders.iter().map(|c| c.name()).collect();
    let references = references(
        &contenders,
        [
            (Contender::DeadpoolFast, "deadpool fast"),
            (Contender::DeadpoolVerified, "deadpool verified"),
            (Contender::Dedicated, "dedicated"),
        ],
    );
    args.run_and_print(
        &names,
        &references,
        |n| format!("{} at {n} tasks, ops/s", op.name()),
        |i, n| rt.block_on(run(contenders[i], &url, n, op, args.duration())),
    );
}
