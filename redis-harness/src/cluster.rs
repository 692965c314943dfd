//! A Redis Cluster for tests: six `redis-server --cluster-enabled yes`
//! nodes on free loopback ports (each in its own temp dir), joined with
//! `redis-cli --cluster create ... --cluster-replicas 1`, killed on drop.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::RedisServer;
pub use crate::{query, role};

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

impl ClusterSet {
    /// Moves the slot of `key` from its master to another master the way an
    /// operator reshards (`SETSLOT IMPORTING`/`MIGRATING`, `MIGRATE` of its
    /// keys, `SETSLOT NODE` on both), pausing 300 ms around the key moves so
    /// clients meet `ASK` redirects. Returns (slot, from port, to port).
    /// Blocking: call it from a blocking thread.
    pub fn migrate_slot_of(&self, key: &str) -> (i64, u16, u16) {
        let masters = self.masters();
        let slot: i64 = query(
            self.nodes[0].port,
            redis::cmd("CLUSTER").arg("KEYSLOT").arg(key),
        )
        .unwrap();
        let owner = *masters
            .iter()
            .find(|&&m| {
                query::<i64>(m, redis::cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(slot))
                    .is_ok_and(|n| n > 0)
            })
            .expect("a master holding keys of the slot");
        let dest = *masters.iter().find(|&&m| m != owner).unwrap();
        let id = |p: u16| -> String { query(p, redis::cmd("CLUSTER").arg("MYID")).unwrap() };
        let (owner_id, dest_id) = (id(owner), id(dest));
        let set_slot = |port: u16, how: &str, node: &str| {
            let _: () = query(
                port,
                redis::cmd("CLUSTER")
                    .arg("SETSLOT")
                    .arg(slot)
                    .arg(how)
                    .arg(node),
            )
            .unwrap();
        };
        set_slot(dest, "IMPORTING", &owner_id);
        set_slot(owner, "MIGRATING", &dest_id);
        std::thread::sleep(Duration::from_millis(300));
        loop {
            let keys: Vec<String> = query(
                owner,
                redis::cmd("CLUSTER")
                    .arg("GETKEYSINSLOT")
                    .arg(slot)
                    .arg(100),
            )
            .unwrap();
            if keys.is_empty() {
                break;
            }
            let _: () = query(
                owner,
                redis::cmd("MIGRATE")
                    .arg("127.0.0.1")
                    .arg(dest)
                    .arg("")
                    .arg(0)
                    .arg(5000)
                    .arg("KEYS")
                    .arg(&keys),
            )
            .unwrap();
        }
        std::thread::sleep(Duration::from_millis(300));
        set_slot(dest, "NODE", &dest_id);
        set_slot(owner, "NODE", &dest_id);
        (slot, owner, dest)
    }

    /// The port of the replica of the master on `master`.
    pub fn replica_of(&self, master: u16) -> u16 {
        self.nodes
            .iter()
            .map(|n| n.port)
            .find(|&p| {
                query::<String>(p, redis::cmd("INFO").arg("replication")).is_ok_and(|i| {
                    i.contains("role:slave") && i.contains(&format!("master_port:{master}"))
                })
            })
            .unwrap_or_else(|| panic!("no replica of {master}"))
    }
}
