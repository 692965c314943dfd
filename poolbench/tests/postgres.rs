//! The `poolbench` command's PostgreSQL mode end to end, against a
//! PostgreSQL server the test starts (initdb + pg_ctl in a temp dir).

use std::process::Command;

fn poolbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_poolbench"))
}

#[test]
fn a_postgres_sweep_reports_every_size_as_table_json_and_html() {
    let server = pg_harness::PgServer::start();
    let dir = std::env::temp_dir().join(format!("poolbench-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, html) = (dir.join("pg.json"), dir.join("pg.html"));
    let url = server.admin_url("postgres");
    let out = poolbench()
        .args(["--url", &url, "--quiet", "--concurrency", "4"])
        .args([
            "--duration",
            "400ms",
            "--warmup",
            "100ms",
            "--operation",
            "mixed",
        ])
        .args(["--pool-sizes", "1,3", "--report"])
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("recommended pool size"));
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = rep["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        assert!(r["ops"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
    }
    // A pool of 1 under 4 tasks: they wait, and it opens one connection.
    assert!(results[0]["acquire_wait_us"]["count"].as_u64().unwrap() > 0);
    assert_eq!(results[0]["connections_opened"].as_u64().unwrap(), 1);
    assert!(results[1]["connections_opened"].as_u64().unwrap() <= 3);
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));

    // Shared mode is Redis-only: refused by name.
    let out = poolbench()
        .args(["--url", &url, "--quiet", "--mode", "shared"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mode shared"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreachable_postgres_fails_fast_naming_the_address_not_the_password() {
    let port = pg_harness::free_port();
    let url = format!("postgres://app:pw-s3cret@127.0.0.1:{port}/app");
    let started = std::time::Instant::now();
    let out = poolbench()
        .args(["--url", &url, "--quiet"])
        .output()
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(6));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("refused"),
        "{err}"
    );
    assert!(!err.contains("pw-s3cret"), "{err}");
}

#[test]
fn the_url_from_poolbench_url_is_used_and_its_password_never_shown() {
    let port = pg_harness::free_port();
    for url in [
        format!("postgres://app:pw/s3cret@127.0.0.1:{port}/app"),
        format!("postgres://app@127.0.0.1:{port}/app?password=pw-s3cret"),
    ] {
        let out = poolbench()
            .env("POOLBENCH_URL", &url)
            .args(["--quiet"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
