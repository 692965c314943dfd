//! A Sentinel set-up for failover tests: one master, replicas, and
//! sentinels (`redis-server sentinel.conf --sentinel`), each a real process
//! on a free loopback port in its own temp dir, killed on drop.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::{RedisServer, free_port, server_pid};

/// The master name the sentinels monitor.
pub const MASTER_NAME: &str = "mymaster";

/// One sentinel process.
#[derive(Debug)]
pub struct SentinelProcess {
    child: Child,
    pub port: u16,
    dir: std::path::PathBuf,
}

impl SentinelProcess {
    /// Kills the sentinel (SIGKILL).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for SentinelProcess {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A master, its replicas and the sentinels watching them. Nodes keep
/// their index whatever their role becomes after a failover: ask
/// [`SentinelSet::master_port`] who the master is.
#[derive(Debug)]
pub struct SentinelSet {
    pub nodes: Vec<RedisServer>,
    pub sentinels: Vec<SentinelProcess>,
}

impl SentinelSet {
    /// Starts a master, `replicas` replicas and `sentinels` sentinels
    /// (quorum 2, a node is down after 1 s without an answer, failover
    /// timeout 5 s), and waits until every sentinel sees every replica and
    /// the other sentinels.
    pub fn start(replicas: usize, sentinels: usize) -> Self {
        Self::start_with(replicas, sentinels, &[])
    }

    /// As [`SentinelSet::start`], each replica started with `replica_args`
    /// too (say, a command renamed away).
    pub fn start_with(replicas: usize, sentinels: usize, replica_args: &[&str]) -> Self {
        let master = RedisServer::start();
        let mut nodes = vec![];
        let master_port = master.port.to_string();
        for _ in 0..replicas {
            let mut args = vec!["--replicaof", "127.0.0.1", &master_port];
            args.extend_from_slice(replica_args);
            nodes.push(RedisServer::start_with(&args));
        }
        nodes.insert(0, master);
        let sentinels = (0..sentinels)
            .map(|_| start_sentinel(nodes[0].port))
            .collect();
        let set = Self { nodes, sentinels };
        set.wait_until_settled(Duration::from_secs(30));
        set
    }

    /// The sentinels' URLs, in order.
    pub fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels.iter().map(SentinelProcess::url).collect()
    }

    /// The master's port as the first live sentinel reports it.
    pub fn master_port(&self) -> u16 {
        for s in &self.sentinels {
            if let Ok((_, port)) = query_sentinel::<(String, u16)>(
                s.port,
                redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(MASTER_NAME),
            ) {
                return port;
            }
        }
        panic!("no sentinel answers");
    }

    /// The node listening on `port`.
    pub fn node(&mut self, port: u16) -> &mut RedisServer {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .unwrap_or_else(|| panic!("no node on port {port}"))
    }

    /// Waits until every live sentinel agrees on the master, sees the
    /// other nodes as its replicas (none down) and the other live
    /// sentinels, and every replica's link to the master is up.
    pub fn wait_until_settled(&self, within: Duration) {
        let deadline = Instant::now() + within;
        let live: Vec<&SentinelProcess> = self
            .sentinels
            .iter()
            .filter(|s| server_pid(s.port).is_some())
            .collect();
        loop {
            match self.settled(&live) {
                Ok(()) => return,
                Err(why) if Instant::now() > deadline => {
                    panic!("the Sentinel set-up did not settle within {within:?}: {why}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn settled(&self, live: &[&SentinelProcess]) -> Result<(), String> {
        let mut master = None;
        for s in live {
            let (_, port): (String, u16) = query_sentinel(
                s.port,
                redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(MASTER_NAME),
            )
            .map_err(|e| e.to_string())?;
            if *master.get_or_insert(port) != port {
                return Err("sentinels disagree on the master".into());
            }
            let info: std::collections::HashMap<String, String> = query_sentinel(
                s.port,
                redis::cmd("SENTINEL").arg("MASTER").arg(MASTER_NAME),
            )
            .map_err(|e| e.to_string())?;
            let flags = info.get("flags").cloned().unwrap_or_default();
            if flags != "master" {
                return Err(format!("master flags {flags}"));
            }
            let replicas: Vec<std::collections::HashMap<String, String>> = query_sentinel(
                s.port,
                redis::cmd("SENTINEL").arg("REPLICAS").arg(MASTER_NAME),
            )
            .map_err(|e| e.to_string())?;
            let good = replicas
                .iter()
                .filter(|r| {
                    r.get("flags").is_some_and(|f| f == "slave")
                        && r.get("master-link-status").is_some_and(|s| s == "ok")
                        && r.get("master-port").is_some_and(|p| *p == port.to_string())
                })
                .count();
            let live_nodes = self
                .nodes
                .iter()
                .filter(|n| server_pid(n.port).is_some())
                .count();
            if good + 1 != live_nodes {
                return Err(format!("{good} good replicas of {live_nodes} live nodes"));
            }
            let others: usize = info
                .get("num-other-sentinels")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if others + 1 < live.len() {
                return Err(format!("{others} other sentinels"));
            }
        }
        Ok(())
    }
}

/// A reply from the sentinel on `port`.
pub fn query_sentinel<T: redis::FromRedisValue>(
    port: u16,
    cmd: &redis::Cmd,
) -> redis::RedisResult<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(1))?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    cmd.query(&mut conn)
}

/// A sentinel speaking only TLS (serving `cert`/`key`, trusting `ca`),
/// monitoring the TLS master on `master_port` over TLS, quorum 1.
pub fn start_tls_sentinel(
    master_port: u16,
    ca: &std::path::Path,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> SentinelProcess {
    let tls = format!(
        "port 0\ntls-port {{port}}\ntls-cert-file {}\ntls-key-file {}\n\
         tls-ca-cert-file {}\ntls-auth-clients no\ntls-replication yes\n",
        cert.display(),
        key.display(),
        ca.display()
    );
    spawn_sentinel(master_port, 1, &tls, |port| {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
}

/// A sentinel (quorum 2) monitoring the master on `master_port` as
/// [`MASTER_NAME`].
pub fn start_sentinel(master_port: u16) -> SentinelProcess {
    spawn_sentinel(master_port, 2, "port {port}\n", |port| {
        server_pid(port).is_some()
    })
}

/// Starts a sentinel whose listening lines are `listen` (`{port}` replaced
/// by a free port), waiting until `ready(port)`.
fn spawn_sentinel(
    master_port: u16,
    quorum: u32,
    listen: &str,
    ready: impl Fn(u16) -> bool,
) -> SentinelProcess {
    for _ in 0..10 {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("pool-redis-sentinel-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir for a sentinel");
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "{listen}bind 127.0.0.1\ndir {dir}\n\
                 sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} {quorum}\n\
                 sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                 sentinel failover-timeout {MASTER_NAME} 5000\n\
                 sentinel parallel-syncs {MASTER_NAME} 2\n",
                listen = listen.replace("{port}", &port.to_string()),
                dir = dir.display()
            ),
        )
        .expect("a writable sentinel.conf");
        let mut child = crate::server_command()
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} (as a sentinel)", crate::missing_server(&e)));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break; // lost the port: try another
            }
            if ready(port) {
                // A plain sentinel proves it is ours by its pid; a TLS one
                // by still running (it would have exited on a taken port).
                if server_pid(port).is_none_or(|pid| pid == child.id())
                    && matches!(child.try_wait(), Ok(None))
                {
                    return SentinelProcess { child, port, dir };
                }
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a sentinel did not answer on port {port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    panic!("could not start a sentinel on a free loopback port in 10 tries");
}
