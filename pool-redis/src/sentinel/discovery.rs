//! Asking the sentinels where the master (or the replicas) are, and
//! checking the answer with `ROLE` on the node itself: a sentinel that is
//! down, or answers with an old view, is passed over for the next one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ErrorKind, RedisError, RedisResult};

use super::SentinelServerType;
use crate::target::{Discover, Discovery, Node};

/// How long one question to one sentinel or node may take (connect and
/// answer each): a sentinel that does not answer in time is passed over.
pub(crate) const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// Flags in `SENTINEL REPLICAS` that mean a replica cannot serve.
const UNFIT_FLAGS: [&str; 3] = ["s_down", "o_down", "disconnected"];

/// The sentinels of one master name and how to reach the nodes they name.
pub(crate) struct Sentinels {
    pub(crate) clients: Vec<Client>,
    pub(crate) master_name: String,
    pub(crate) server_type: SentinelServerType,
    /// Makes a client for a node at `host:port` (TLS and login applied).
    node_client: Box<dyn Fn(&str, u16) -> RedisResult<Client> + Send + Sync>,
    /// The sentinel that answered last: asked first next time.
    preferred: AtomicUsize,
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
        }
    }

    /// The sentinels' indices, the one that answered last first.
    pub(crate) fn order(&self) -> impl Iterator<Item = usize> + '_ {
        let first = self.preferred.load(Ordering::Relaxed);
        (0..self.clients.len()).map(move |k| (first + k) % self.clients.len())
    }

    /// A connection to sentinel `i`, within [`ASK_TIMEOUT`].
    async fn sentinel(&self, i: usize) -> RedisResult<MultiplexedConnection> {
        connect(&self.clients[i]).await
    }

    /// The master, as the first sentinel whose answer checks out names it.
    async fn master(&self) -> RedisResult<Node> {
        let mut errors = Vec::new();
        for i in self.order() {
            match self.master_from(i).await {
                Ok(node) => {
                    self.preferred.store(i, Ordering::Relaxed);
                    return Ok(node);
                }
                Err(e) => {
                    tracing::debug!(sentinel = %self.clients[i].get_connection_info().addr(), error = %e, "sentinel answer not usable");
                    errors.push(format!(
                        "{}: {e}",
                        self.clients[i].get_connection_info().addr()
                    ));
                }
            }
        }
        Err(RedisError::from((
            ErrorKind::Io,
            "no sentinel named a master that answers as master",
            format!("master name `{}`; {}", self.master_name, errors.join("; ")),
        )))
    }

    async fn master_from(&self, i: usize) -> RedisResult<Node> {
        let mut sentinel = self.sentinel(i).await?;
        let addr: Option<(String, u16)> = ask(
            &mut sentinel,
            redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(&self.master_name),
        )
        .await?;
        let Some((host, port)) = addr else {
            return Err(RedisError::from((
                ErrorKind::MasterNameNotFoundBySentinel,
                "the sentinel does not know this master name",
                self.master_name.clone(),
            )));
        };
        let node = self.node(&host, port)?;
        check_role(&node, "master").await?;
        Ok(node)
    }

    /// The replicas the first answering sentinel lists as fit, each
    /// checked to answer as a replica (none: an empty list).
    async fn replicas(&self) -> RedisResult<Vec<Node>> {
        let mut last_error = None;
        let mut answered = false;
        for i in self.order() {
            let listed = async {
                let mut sentinel = self.sentinel(i).await?;
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
            let mut nodes = Vec::new();
            for replica in listed.iter().filter(|r| is_fit(r)) {
                let (Some(host), Some(port)) = (
                    replica.get("ip"),
                    replica.get("port").and_then(|p| p.parse().ok()),
                ) else {
                    continue;
                };
                let node = self.node(host, port)?;
                match check_role(&node, "slave").await {
                    Ok(()) => nodes.push(node),
                    Err(e) => tracing::debug!(addr = %node.addr, error = %e, "replica not usable"),
                }
            }
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
        })
    }
}

/// A replica Sentinel lists as up and linked to its master.
fn is_fit(replica: &HashMap<String, String>) -> bool {
    let flags = replica.get("flags").map(String::as_str).unwrap_or("");
    !flags.split(',').any(|f| UNFIT_FLAGS.contains(&f))
        && replica
            .get("master-link-status")
            .is_none_or(|s| s == "ok")
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
