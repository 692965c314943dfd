//! A throwaway PostgreSQL server for tests and benchmarks: `initdb` into a
//! temp dir, `pg_ctl start` on a free loopback port, stopped and removed on
//! drop. The server refuses to run as root, so under root every server
//! command runs as the `postgres` user (`runuser`).
//!
//! Authentication: the superuser `postgres` is trusted from loopback (tests
//! administer through it); every other role must give its password
//! (SCRAM), so wrong-password paths are real.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What to install when the server binaries are missing (Debian).
pub const INSTALL_HINT: &str = "apt-get update && apt-get install -y postgresql";

/// A PostgreSQL server this process started. Stopped (immediately) and its
/// directory removed on drop.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    run_as: Option<String>,
}

impl PgServer {
    /// initdb + start on a free loopback port. Panics with what to install
    /// when the binaries are missing, and with the server's log when it does
    /// not start (tests want a loud failure, never a skip).
    pub fn start() -> PgServer {
        Self::start_with(&[])
    }

    /// As [`PgServer::start`], with extra `postgresql.conf` lines.
    pub fn start_with(conf: &[&str]) -> PgServer {
        let bin = find_bin_dir().unwrap_or_else(|e| panic!("{e}"));
        let run_as = running_as_root().then(|| "postgres".to_string());
        let dir = temp_dir();
        std::fs::create_dir_all(&dir).expect("create the server's temp dir");
        if let Some(user) = &run_as {
            chown_to(&dir, user);
        }
        let server = PgServer {
            bin,
            dir,
            port: free_port(),
            run_as,
        };
        let data = server.data_dir();
        let out = server.run(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ],
        );
        assert!(out.status.success(), "initdb failed: {}", output_text(&out));
        let hba = "local all all trust\n\
                   host all postgres 127.0.0.1/32 trust\n\
                   host all all 127.0.0.1/32 scram-sha-256\n";
        std::fs::write(data.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
        let mut lines = vec![
            "fsync = off".to_string(),
            "synchronous_commit = off".to_string(),
            "full_page_writes = off".to_string(),
            "max_connections = 200".to_string(),
            "listen_addresses = '127.0.0.1'".to_string(),
            format!("unix_socket_directories = '{}'", path_str(&server.dir)),
        ];
        lines.extend(conf.iter().map(|l| l.to_string()));
        let mut conf_file = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        conf_file.push_str(&lines.join("\n"));
        conf_file.push('\n');
        std::fs::write(data.join("postgresql.conf"), conf_file).expect("write postgresql.conf");
        server.start_again();
        server
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for `user` (no password) and database `db`.
    pub fn url(&self, user: &str, db: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{db}", self.port)
    }

    /// The superuser's URL for database `db`.
    pub fn admin_url(&self, db: &str) -> String {
        self.url("postgres", db)
    }

    /// A superuser connection to database `postgres` (its connection task
    /// is spawned on the current runtime).
    pub async fn admin(&self) -> tokio_postgres::Client {
        self.admin_in("postgres").await
    }

    /// A superuser connection to database `db`.
    pub async fn admin_in(&self, db: &str) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.admin_url(db), tokio_postgres::NoTls)
            .await
            .expect("superuser connection to the test server");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    /// Stops the server at once (`-m immediate`: every client sees its
    /// connection drop), leaving the data for [`PgServer::start_again`].
    pub fn stop(&self) {
        let data = self.data_dir();
        let out = self.run(
            "pg_ctl",
            &["-D", path_str(&data), "-m", "immediate", "-w", "stop"],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            output_text(&out)
        );
    }

    /// Starts the (stopped) server again on the same port.
    pub fn start_again(&self) {
        let data = self.data_dir();
        let log = self.dir.join("server.log");
        let port = self.port.to_string();
        let opts = format!("-p {port}");
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&data),
                "-l",
                path_str(&log),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        if !out.status.success() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!(
                "pg_ctl start failed: {}\nserver log:\n{log}",
                output_text(&out)
            );
        }
        wait_for_port(self.port, Duration::from_secs(30));
    }

    /// Sends `pg_terminate_backend` to every backend of `application_name`
    /// through `admin`, without waiting for them to go: the moment just
    /// after a mass terminate. Returns how many were signalled.
    pub async fn terminate_backends_now(
        admin: &tokio_postgres::Client,
        application_name: &str,
    ) -> usize {
        admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
                &[&application_name],
            )
            .await
            .expect("pg_terminate_backend")
            .len()
    }

    /// Kills every backend of `application_name` with
    /// `pg_terminate_backend` and waits until `pg_stat_activity` shows none.
    /// Returns how many were terminated.
    pub async fn terminate_backends(&self, application_name: &str) -> usize {
        let admin = self.admin().await;
        let killed = Self::terminate_backends_now(&admin, application_name).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = self.backends(&admin, application_name).await;
            if left == 0 {
                return killed;
            }
            assert!(
                Instant::now() < deadline,
                "{left} backends of {application_name} still there after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Backends of `application_name` in `pg_stat_activity`.
    pub async fn backends(&self, admin: &tokio_postgres::Client, application_name: &str) -> usize {
        let row = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&application_name],
            )
            .await
            .expect("count backends");
        row.get::<_, i64>(0) as usize
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(args).current_dir(&self.dir);
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e} ({INSTALL_HINT})", exe.display()))
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self.run(
            "pg_ctl",
            &["-D", path_str(&data), "-m", "immediate", "-w", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `/usr/lib/postgresql/<newest>/bin` (Debian keeps the server binaries off
/// PATH), or the directory of an `initdb` on PATH.
pub fn find_bin_dir() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
                return Ok(dir);
            }
        }
    }
    Err(format!(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on PATH: {INSTALL_HINT}"
    ))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn chown_to(dir: &Path, user: &str) {
    let out = Command::new("chown")
        .arg(format!("{user}:"))
        .arg(dir)
        .output()
        .expect("run chown");
    assert!(
        out.status.success(),
        "chown {user} {} failed (the server refuses root and runs as {user}): {}",
        dir.display(),
        output_text(&out)
    );
}

fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "pg-harness.{}.{}.{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free loopback port")
}

fn wait_for_port(port: u16, limit: Duration) {
    let deadline = Instant::now() + limit;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing answers on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
