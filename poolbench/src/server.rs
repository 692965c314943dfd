//! A throwaway `redis-server` for a run without `--url`: on a free loopback
//! port, in its own temporary directory and process group (a Ctrl-C meant
//! for poolbench must not stop the server under measurement), keeping
//! nothing on disk, stopped when dropped. Every way it can fail is an
//! error saying what to do.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; killed and its directory removed on drop.
pub(crate) struct LocalServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl LocalServer {
    /// Starts one and waits (up to 10 s) until it answers. A missing
    /// `redis-server` is installed first when poolbench runs as root on a
    /// machine with `apt-get` (the demo on a fresh machine); otherwise the
    /// error names the command to run.
    pub(crate) async fn start() -> Result<Self, String> {
        install_if_missing();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port for redis-server: {e}"))?
            .port();
        let dir = std::env::temp_dir().join(format!("poolbench-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {} for redis-server: {e}", dir.display()))?;
        let mut command = Command::new("redis-server");
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let spawned = command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(if e.kind() == std::io::ErrorKind::NotFound {
                    "no --url given and redis-server is not installed to start one: install it \
                     (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) \
                     or pass --url redis://host:port"
                        .to_string()
                } else {
                    format!("cannot start redis-server: {e}; pass --url redis://host:port instead")
                });
            }
        };
        let mut server = Self { child, port, dir };
        server.wait_until_ready().await?;
        Ok(server)
    }

    /// `redis://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn wait_until_ready(&mut self) -> Result<(), String> {
        let client = redis::Client::open(self.url()).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                return Err(format!(
                    "redis-server exited at start ({status}){}; pass --url redis://host:port instead",
                    if stderr.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", stderr.trim())
                    }
                ));
            }
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "redis-server did not answer on port {} within 10 s; pass --url redis://host:port instead",
                    self.port
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `apt-get install redis-server` when it is missing, poolbench runs as root
/// and `apt-get` is on PATH; says so on stderr. Anything else: nothing (the
/// start then fails with the message naming what to do).
fn install_if_missing() {
    let found = |program: &str| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if found("redis-server") || !root || !found("apt-get") {
        return;
    }
    eprintln!("redis-server is not installed: installing it with apt-get (you are root)");
    for args in [
        &["update"][..],
        &["install", "-y", "--no-install-recommends", "redis-server"][..],
    ] {
        let ok = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("apt-get {} failed", args.join(" "));
            return;
        }
    }
}
