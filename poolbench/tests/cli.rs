//! The `poolbench` command end to end, against a real redis-server.

use std::process::Command;
use std::time::{Duration, Instant};

fn poolbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_poolbench"))
}

#[test]
fn an_unreachable_server_fails_fast_naming_the_address() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let started = Instant::now();
    let out = poolbench()
        .args(["--url", &url, "--quiet"])
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&url) && err.contains("refused"), "{err}");
}

#[test]
fn nonsense_flags_get_a_usage_error() {
    let out = poolbench()
        .args(["--operation", "delete"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--operation"));
}

#[test]
fn a_sweep_reports_every_size_and_analyze_merges_reports() {
    let server = redis_harness::RedisServer::start();
    let dir = std::env::temp_dir().join(format!("poolbench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = |name: &str| dir.join(name);
    for (sizes, file) in [("1,2", "a.json"), ("4", "b.json")] {
        let out = poolbench()
            .args(["--url", &server.url(), "--quiet", "--concurrency", "4"])
            .args([
                "--duration",
                "300ms",
                "--warmup",
                "100ms",
                "--operation",
                "get",
            ])
            .args(["--pool-sizes", sizes, "--report"])
            .arg(report(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("recommended pool size"));
    }
    let a: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report("a.json")).unwrap()).unwrap();
    let results = a["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        assert!(r["ops"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["errors"], 0);
        assert!(
            r["latency_us"]["p99"].as_u64().unwrap() >= r["latency_us"]["p50"].as_u64().unwrap()
        );
    }
    // A pool of 1 shared by 4 tasks makes them wait; no connection is
    // opened beyond the pool's size.
    assert!(results[0]["acquire_wait_us"]["count"].as_u64().unwrap() > 0);
    assert!(results[0]["connections_opened"].as_u64().unwrap() <= 1);

    let html = report("all.html");
    let out = poolbench()
        .arg("analyze")
        .arg(report("a.json"))
        .arg(report("b.json"))
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        table
            .lines()
            .filter(|l| l.trim_start().starts_with(['1', '2', '4']))
            .count(),
        3,
        "{table}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("Throughput by pool size"));
    assert!(!page.contains("<script"), "self-contained, no script");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_redis_server_installed_it_says_what_to_do() {
    // No --url, and a PATH where no redis-server can be found.
    let empty = std::env::temp_dir().join(format!("poolbench-empty-path-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = poolbench()
        .args(["--quiet", "--duration", "1s"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&empty);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("redis-server is not installed") && err.contains("--url"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn without_a_url_it_measures_a_server_it_starts_and_stops() {
    let out = poolbench()
        .args(["--quiet", "--concurrency", "2", "--pool-sizes", "2"])
        .args(["--duration", "300ms", "--warmup", "100ms"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let started = err
        .lines()
        .find_map(|l| l.strip_prefix("no --url: started redis-server on "))
        .unwrap_or_else(|| panic!("no start line in: {err}"));
    let port = started
        .split_whitespace()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("recommended pool size"));
    // Stopped with the run: nothing answers on its port any more.
    assert!(std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err());
}

#[test]
fn a_tls_server_with_its_ca_and_the_connect_time_reported() {
    let certs = redis_harness::TestCerts::generate();
    let server = redis_harness::TlsRedisServer::start(
        &certs.ca,
        &certs.server_cert,
        &certs.server_key,
        false,
    );
    let report = certs.dir.join("tls.json");
    let out = poolbench()
        .args(["--url", &server.url(), "--tls-ca"])
        .arg(&certs.ca)
        .args(["--quiet", "--concurrency", "2", "--pool-sizes", "2"])
        .args(["--duration", "300ms", "--warmup", "100ms", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("connect p50"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let connect = &json["results"][0]["connect_us"]["p50"];
    assert!(connect.as_u64().is_some_and(|us| us > 0), "{json}");
    // Without the CA the server's certificate is refused, and it says so.
    let out = poolbench()
        .args(["--url", &server.url(), "--quiet", "--duration", "300ms"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("trusted CA"), "{err}");
}

/// Open loop: a sweep of rates over two sizes keeps up at modest rates
/// (achieved within 1% of requested, start lag reported), and the table,
/// JSON and HTML carry the rates and the knee.
#[test]
fn an_open_loop_sweep_reports_each_rate_and_the_knee() {
    let server = redis_harness::RedisServer::start();
    let dir = std::env::temp_dir().join(format!("poolbench-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, html) = (dir.join("open.json"), dir.join("open.html"));
    let out = poolbench()
        .args(["--url", &server.url(), "--quiet", "--concurrency", "16"])
        .args([
            "--duration",
            "1s",
            "--warmup",
            "200ms",
            "--operation",
            "get",
        ])
        .args(["--pool-sizes", "1,2", "--rates", "300,600"])
        .args(["--target-p99", "1s", "--report"])
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("open loop at 300, 600 ops/s"), "{stderr}");
    assert!(
        stdout.contains("achieved") && stdout.contains("knee"),
        "{stdout}"
    );
    assert!(stdout.contains("size 1: 600 ops/s"), "{stdout}");
    assert!(stdout.contains("recommended pool size: 1"), "{stdout}");
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = rep["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{rep}");
    for (r, (size, rate)) in results
        .iter()
        .zip([(1, 300.0), (1, 600.0), (2, 300.0), (2, 600.0)])
    {
        assert_eq!(r["pool_size"], size);
        assert_eq!(r["requested_rate"].as_f64(), Some(rate));
        let achieved = r["achieved_rate"].as_f64().unwrap();
        assert!(
            (achieved - rate).abs() <= 0.01 * rate,
            "asked {rate}/s, achieved {achieved}/s: {r}"
        );
        assert_eq!(r["lagging"], false);
        assert_eq!(r["errors"], 0);
        // Operations are due every few milliseconds: the lag is the timer's.
        assert!(r["start_lag_us"]["count"].as_u64().unwrap() > 0, "{r}");
    }
    assert_eq!(rep["settings"]["rates"], serde_json::json!([300.0, 600.0]));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("p99 latency by requested rate"),
        "open-loop charts"
    );
    assert!(page.contains("open loop at 300, 600 ops/s"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A rate far above what one task in flight can start is reported as
/// behind, never as a sustained rate.
#[test]
fn an_open_loop_that_falls_behind_says_so() {
    let server = redis_harness::RedisServer::start();
    let out = poolbench()
        .args(["--url", &server.url(), "--quiet", "--concurrency", "1"])
        .args([
            "--duration",
            "300ms",
            "--warmup",
            "100ms",
            "--operation",
            "get",
        ])
        .args(["--pool-sizes", "1", "--rate", "1000000"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(behind)"), "{stdout}");
    assert!(stdout.contains("size 1: none of the rates"), "{stdout}");
    assert!(stdout.contains("no recommendation"), "{stdout}");
}

#[test]
fn a_rate_that_is_not_a_positive_number_is_refused_by_name() {
    for bad in ["0", "-5", "fast", "inf"] {
        let out = poolbench().args(["--rate", bad]).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--rate") && err.contains(bad), "{err}");
    }
}
