//! The `poolbench` command's DuckDB mode end to end, on a database file in
//! a temp dir and in memory.

use std::path::PathBuf;
use std::process::Command;

fn poolbench() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_poolbench"));
    // The test's settings only, never the caller's.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("DUCKDB_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("poolbench-duckdb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sweep(url: &str, operation: &str, json: &std::path::Path) -> serde_json::Value {
    let out = poolbench()
        .args(["--url", url, "--quiet", "--concurrency", "4"])
        .args(["--duration", "400ms", "--warmup", "100ms"])
        .args(["--operation", operation, "--pool-sizes", "1,2", "--report"])
        .arg(json)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("recommended pool size"));
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

fn assert_every_size_ran(rep: &serde_json::Value) {
    let results = rep["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for (r, size) in results.iter().zip([1, 2]) {
        assert!(r["ops"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        assert!(r["connections_opened"].as_u64().unwrap() <= size, "{r}");
    }
}

#[test]
fn a_duckdb_file_sweep_reports_point_reads_as_table_json_and_html() {
    let dir = temp_dir("file");
    let url = format!("duckdb://{}", dir.join("bench.duckdb").display());
    let html = dir.join("d.html");
    let out = poolbench()
        .args(["--url", &url, "--quiet", "--concurrency", "4"])
        .args(["--duration", "400ms", "--warmup", "100ms"])
        .args(["--operation", "mixed", "--pool-sizes", "1,2", "--html"])
        .arg(&html)
        .arg("--report")
        .arg(dir.join("d.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("d.json")).unwrap()).unwrap();
    assert_every_size_ran(&rep);
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_in_memory_duckdb_sweep_runs_the_analytic_query() {
    let dir = temp_dir("memory");
    let rep = sweep("duckdb::memory:", "scan", &dir.join("m.json"));
    assert_every_size_ran(&rep);
    assert_eq!(rep["settings"]["operation"], "scan");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_duckdb_setting_is_named() {
    let out = poolbench()
        .args(["--url", "duckdb::memory:", "--quiet"])
        .env("DUCKDB_SETTINGS", "threadz=2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("threadz"), "{stderr}");
}

#[test]
fn the_scan_operation_is_refused_for_other_servers() {
    let out = poolbench()
        .args([
            "--url",
            "redis://127.0.0.1:1",
            "--operation",
            "scan",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--operation scan is DuckDB's"));
}
