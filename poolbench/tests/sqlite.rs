//! The `poolbench` command's SQLite mode end to end, on a database file in
//! a temp dir.

use std::path::PathBuf;
use std::process::Command;

fn poolbench() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_poolbench"));
    // The test's settings only, never the caller's.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SQLITE_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("poolbench-sqlite-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_sqlite_sweep_reports_every_size_as_table_json_and_html() {
    let dir = temp_dir("sweep");
    let (json, html) = (dir.join("s.json"), dir.join("s.html"));
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let out = poolbench()
        .args(["--url", &url, "--quiet", "--concurrency", "6"])
        .args(["--duration", "400ms", "--warmup", "100ms"])
        .args(["--operation", "mixed", "--pool-sizes", "1,3", "--report"])
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
    for (r, readers) in results.iter().zip([1, 3]) {
        assert!(r["ops"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        // The readers under test and the one writer, never more.
        assert!(
            r["connections_opened"].as_u64().unwrap() <= readers + 1,
            "{r}"
        );
    }
    // One reader under 6 tasks: they wait for it.
    assert!(results[0]["acquire_wait_us"]["count"].as_u64().unwrap() > 0);
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_in_memory_database_is_refused_with_the_reason() {
    let out = poolbench()
        .args(["--url", "sqlite::memory:", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sqlite::memory:") && stderr.contains("give a file"),
        "{stderr}"
    );
}

#[test]
fn a_bad_sqlite_setting_is_named_with_its_value() {
    let dir = temp_dir("bad-setting");
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let out = poolbench()
        .args(["--url", &url, "--quiet"])
        .env("SQLITE_BUSY_TIMEOUT", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SQLITE_BUSY_TIMEOUT=\"soon\""), "{stderr}");
    assert!(!dir.join("bench.db").exists(), "nothing is created");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_path_in_a_missing_directory_is_named() {
    let dir = temp_dir("bad-path");
    let missing = dir.join("no-such-dir").join("bench.db");
    let out = poolbench()
        .args([
            "--url",
            &format!("sqlite://{}", missing.display()),
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no-such-dir") && stderr.contains("does not exist"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
