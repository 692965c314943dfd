//! Asking the sentinels where the master (or the replicas) are, and
//! checking the answer with `ROLE` on the node itself: a sentinel that is
//! down, or answers with an old view, is passed over for the next one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ErrorKind, RedisError, RedisResult};

use super::SentinelServerType;
use crate::target::{Discover, Discovery, Node};

/// How long one question to one sentinel or node may take (connect and
/// answer each): a sentinel that does not answer in time is passed over.
pub(crate) const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// How long one discovery may take in all (every sentinel asked, every
/// node named checked): it runs under the lock every new connection waits
/// on, so a deployment of silent nodes must not hold that lock for a
/// second per node.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Flags in `SENTINEL REPLICAS` that mean a replica cannot serve.
const UNFIT_FLAGS: [&str; 3] = ["s_down", "o_down", "disconnected"];

/// Makes a client for a node at `host:port` (TLS and login applied).
type NodeClient = Box<dyn Fn(&str, u16) -> RedisResult<Client> + Send + Sync>;

/// The sentinels of one master name and how to reach the nodes they name.
pub(crate) struct Sentinels {
    pub(crate) clients: Vec<Client>,
    pub(crate) master_name: String,
    pub(crate) server_type: SentinelServerType,
    node_client: NodeClient,
    /// The sentinel that answered last: asked first next time.
    preferred: AtomicUsize,
    /// The newest configuration epoch of a master the pool used: older
    /// answers are not taken.
    config_epoch: AtomicU64,
}

impl Sentinels {
    pub(crate) fn new(
        clients: Vec<Client>,
        master_name: String,
        server_type: SentinelServerType,
        node_client: impl Fn(&str, u16) -> RedisResult<Client> + Send + Sync + 'static,
    ) -> Self {
        Self {
            clients,
            master_name,
            server_type,
            node_client: Box::new(node_client),
            preferred: AtomicUsize::new(0),
            config_epoch: AtomicU64::new(0),
        }
    }

    /// The sentinels' indices, the one that answered last first.
    pub(crate) fn order(&self) -> impl Iterator<Item = usize> + '_ {
        let first = self.preferred.load(Ordering::Relaxed);
        (0..self.clients.len()).map(move |k| (first + k) % self.clients.len())
    }

    /// The master: every sentinel is asked at once (`SENTINEL MASTER`),
    /// the answers are tried newest configuration epoch first, and the
    /// first whose node answers `ROLE` as master wins. An answer older than
    /// the newest epoch already used is never taken: a sentinel that has
    /// not yet heard of a failover cannot send the pool back to the former
    /// master (which says it is master until it is reconfigured).
    async fn master(&self) -> RedisResult<Node> {
        let mut asks = tokio::task::JoinSet::new();
        for (i, client) in self.clients.iter().enumerate() {
            let client = client.clone();
            let name = self.master_name.clone();
            asks.spawn(async move {
                let answer = async {
                    let mut sentinel = connect(&client).await?;
                    ask::<HashMap<String, String>>(
                        &mut sentinel,
                        redis::cmd("SENTINEL").arg("MASTER").arg(&name),
                    )
                    .await
                }
                .await;
                (i, answer)
            });
        }
        let mut answers = Vec::new();
        let mut errors = Vec::new();
        while let Some(joined) = asks.join_next().await {
            let Ok((i, answer)) = joined else { continue };
            let addr = self.clients[i].get_connection_info().addr().to_string();
            match answer.and_then(|map| master_entry(&map)) {
                Ok(entry) => answers.push((i, entry)),
                Err(e) => errors.push(format!("{addr}: {e}")),
            }
        }
        // Newest configuration first; among equals, the sentinel that
        // answered last time.
        let preferred = self.preferred.load(Ordering::Relaxed);
        answers.sort_by_key(|(i, e)| (std::cmp::Reverse(e.config_epoch), *i != preferred));
        let floor = self.config_epoch.load(Ordering::Relaxed);
        for (i, entry) in answers {
            let sentinel = self.clients[i].get_connection_info().addr().to_string();
            if entry.config_epoch < floor {
                errors.push(format!(
                    "{sentinel}: an older view (configuration epoch {} < {floor})",
                    entry.config_epoch
                ));
                continue;
            }
            let node = self.node(&entry.host, entry.port)?;
            match check_role(&node, "master").await {
                Ok(()) => {
                    self.preferred.store(i, Ordering::Relaxed);
                    self.config_epoch
                        .fetch_max(entry.config_epoch, Ordering::Relaxed);
                    return Ok(node);
                }
                Err(e) => errors.push(format!("{sentinel}: {e}")),
            }
        }
        Err(RedisError::from((
            ErrorKind::Io,
            "no sentinel named a master that answers as master",
            format!("master name `{}`; {}", self.master_name, errors.join("; ")),
        )))
    }

    /// A replica a sentinel announced as promoted (`+promoted-slave`):
    /// the master from now on, once it answers `ROLE` as master, and before
    /// the sentinels publish the switch (the leading sentinel does so only
    /// after reconfiguring the other replicas). Answers from sentinels that
    /// still name the former master are refused from then on.
    pub(crate) async fn promoted(&self, host: &str, port: u16) -> RedisResult<Node> {
        let node = self.node(host, port)?;
        check_role(&node, "master").await?;
        // The failover's epoch is above every earlier configuration's.
        let floor = self.config_epoch.load(Ordering::Relaxed) + 1;
        self.config_epoch.fetch_max(floor, Ordering::Relaxed);
        Ok(node)
    }

    /// The replicas the first answering sentinel lists as fit, each
    /// checked to answer as a replica (none: an empty list).
    async fn replicas(&self) -> RedisResult<Vec<Node>> {
        let mut last_error = None;
        let mut answered = false;
        for i in self.order() {
            let listed = async {
                let mut sentinel = connect(&self.clients[i]).await?;
                ask::<Vec<HashMap<String, String>>>(
                    &mut sentinel,
                    redis::cmd("SENTINEL")
                        .arg("REPLICAS")
                        .arg(&self.master_name),
                )
                .await
            }
            .await;
            let listed = match listed {
                Ok(listed) => {
                    answered = true;
                    listed
                }
                Err(e) => {
                    last_error = Some(e);
                    continue;
                }
            };
            // Every listed replica checked at once: one silent replica
            // costs its own ask timeout, not the others'.
            let mut checks = tokio::task::JoinSet::new();
            for (k, replica) in listed.iter().filter(|r| is_fit(r)).enumerate() {
                let (Some(host), Some(port)) = (
                    replica.get("ip"),
                    replica.get("port").and_then(|p| p.parse().ok()),
                ) else {
                    continue;
                };
                let node = self.node(host, port)?;
                checks.spawn(async move { (k, check_role(&node, "slave").await, node) });
            }
            let mut nodes = Vec::new();
            while let Some(joined) = checks.join_next().await {
                let Ok((k, checked, node)) = joined else {
                    continue;
                };
                match checked {
                    Ok(()) => nodes.push((k, node)),
                    Err(e) => tracing::debug!(addr = %node.addr, error = %e, "replica not usable"),
                }
            }
            // In the sentinel's order, whichever answered first.
            nodes.sort_by_key(|(k, _)| *k);
            let nodes: Vec<Node> = nodes.into_iter().map(|(_, node)| node).collect();
            if !nodes.is_empty() {
                self.preferred.store(i, Ordering::Relaxed);
                return Ok(nodes);
            }
        }
        match last_error {
            Some(e) if !answered => Err(e),
            _ => Ok(Vec::new()),
        }
    }

    fn node(&self, host: &str, port: u16) -> RedisResult<Node> {
        Ok(Node {
            addr: format!("{host}:{port}").into(),
            client: (self.node_client)(host, port)?,
        })
    }
}

impl Discover for Sentinels {
    fn discover(&self) -> Discovery<'_> {
        Box::pin(async move {
            match tokio::time::timeout(DISCOVERY_TIMEOUT, self.discover_unbounded()).await {
                Ok(found) => found,
                Err(_) => Err(RedisError::from((
                    ErrorKind::Io,
                    "Sentinel discovery timed out",
                    format!(
                        "no usable node for master name `{}` within {DISCOVERY_TIMEOUT:?} (sentinels {})",
                        self.master_name,
                        self.clients
                            .iter()
                            .map(|c| c.get_connection_info().addr().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))),
            }
        })
    }
}

impl Sentinels {
    async fn discover_unbounded(&self) -> RedisResult<Vec<Node>> {
        {
            match self.server_type {
                SentinelServerType::Master => Ok(vec![self.master().await?]),
                SentinelServerType::Replica => {
                    let replicas = self.replicas().await?;
                    if !replicas.is_empty() {
                        return Ok(replicas);
                    }
                    tracing::warn!(
                        master_name = %self.master_name,
                        "no replica can serve: replica connections go to the master"
                    );
                    Ok(vec![self.master().await?])
                }
            }
        }
    }
}

/// A master as one sentinel sees it.
struct MasterEntry {
    host: String,
    port: u16,
    config_epoch: u64,
}

/// The address and configuration epoch in a `SENTINEL MASTER` answer.
fn master_entry(map: &HashMap<String, String>) -> RedisResult<MasterEntry> {
    let field = |name: &str| {
        map.get(name).ok_or_else(|| {
            RedisError::from((
                ErrorKind::Parse,
                "SENTINEL MASTER answer without a field",
                name.to_owned(),
            ))
        })
    };
    Ok(MasterEntry {
        host: field("ip")?.clone(),
        port: field("port")?.parse().map_err(|_| {
            RedisError::from((ErrorKind::Parse, "SENTINEL MASTER: bad port", String::new()))
        })?,
        config_epoch: field("config-epoch")?.parse().unwrap_or(0),
    })
}

/// A replica Sentinel lists as up and linked to its master.
fn is_fit(replica: &HashMap<String, String>) -> bool {
    let flags = replica.get("flags").map(String::as_str).unwrap_or("");
    !flags.split(',').any(|f| UNFIT_FLAGS.contains(&f))
        && replica.get("master-link-status").is_none_or(|s| s == "ok")
}

/// Whether `node` answers `ROLE` with `role` ("master" or "slave").
async fn check_role(node: &Node, role: &str) -> RedisResult<()> {
    let mut conn = connect(&node.client).await?;
    let answer: redis::Value = ask(&mut conn, &redis::cmd("ROLE")).await?;
    let actual = match &answer {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(redis::Value::SimpleString(s)) => s.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    if actual == role {
        Ok(())
    } else {
        Err(RedisError::from((
            ErrorKind::Io,
            "the node named by the sentinel has another role",
            format!("{} answers ROLE with `{actual}`, not `{role}`", node.addr),
        )))
    }
}

/// A connection for one question, made and answered within
/// [`ASK_TIMEOUT`] each.
pub(crate) async fn connect(client: &Client) -> RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(ASK_TIMEOUT))
        .set_response_timeout(Some(ASK_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

async fn ask<T: redis::FromRedisValue>(
    conn: &mut MultiplexedConnection,
    cmd: &redis::Cmd,
) -> RedisResult<T> {
    cmd.query_async(conn).await
}
