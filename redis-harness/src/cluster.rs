//! A Redis Cluster for tests: six `redis-server --cluster-enabled yes`
//! nodes on free loopback ports (each in its own temp dir), joined with
//! `redis-cli --cluster create ... --cluster-replicas 1`, killed on drop.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::RedisServer;

/// How long a node may be unreachable before the cluster fails it over.
pub const NODE_TIMEOUT_MS: u64 = 1000;

/// Three masters, each with one replica. Nodes keep their index whatever
/// their role becomes; ask [`ClusterSet::masters`] for the current masters.
#[derive(Debug)]
pub struct ClusterSet {
    pub nodes: Vec<RedisServer>,
}

impl ClusterSet {
    /// Starts six nodes, creates the cluster, and waits until every node
    /// reports `cluster_state:ok` and agrees on three masters.
    pub fn start() -> Self {
        let timeout = NODE_TIMEOUT_MS.to_string();
        let nodes: Vec<RedisServer> = (0..6)
            .map(|_| {
                // The bus port too: by default it is the port + 10000, out
                // of range for ports above 55535.
                let bus = crate::free_port().to_string();
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    &timeout,
                    "--cluster-port",
                    &bus,
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let output = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-cli ({e}): the Cluster tests need it. Install it with \
                     `apt-get install -y redis-tools` (Debian/Ubuntu; redis-server brings it)"
                )
            });
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let set = Self { nodes };
        set.wait_until_ok(Duration::from_secs(30));
        set
    }

    /// `redis://127.0.0.1:<port>` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The ports of the current masters, as the live nodes report them.
    pub fn masters(&self) -> Vec<u16> {
        let mut masters: Vec<u16> = self
            .nodes
            .iter()
            .filter(|n| role(n.port).as_deref() == Some("master"))
            .map(|n| n.port)
            .collect();
        masters.sort_unstable();
        masters
    }

    /// The node listening on `port`.
    pub fn node(&mut self, port: u16) -> &mut RedisServer {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .unwrap_or_else(|| panic!("no node on port {port}"))
    }

    /// Waits until every live node reports `cluster_state:ok` and three
    /// live masters serve all slots.
    pub fn wait_until_ok(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let live: Vec<&RedisServer> = self
                .nodes
                .iter()
                .filter(|n| role(n.port).is_some())
                .collect();
            let ok = live.iter().all(|n| {
                query::<String>(n.port, redis::cmd("CLUSTER").arg("INFO"))
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            }) && self.masters().len() == 3;
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not reach cluster_state:ok within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `ROLE`'s first word on `port` (`None`: nothing answers).
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

/// A reply from the node on `port` (plain connection, 2 s timeouts).
pub fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(1))?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    cmd.query(&mut conn)
}
