//! Measuring a pool through a Sentinel failover: writer tasks that record
//! every write's outcome and the node that acknowledged it, a clock that
//! is the test's own subscription to `+switch-master`, and the figures
//! drawn from both. Shared by pool-redis's Sentinel tests and the benches'
//! side-by-side run against deadpool-redis.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::sentinel::MASTER_NAME;

/// A write (`INCR failover:counter`) and `CONFIG GET port` in one
/// non-atomic pipeline: one node answers both, so the reply (decoded as
/// `((String, u16),)`) names the node that acknowledged the write.
pub fn write_naming_node() -> redis::Pipeline {
    write_naming_node_to("failover:counter")
}

/// [`write_naming_node`] on a key of the caller's (one per contender, so
/// each one's acknowledged writes can be counted against the new master).
pub fn write_naming_node_to(key: &str) -> redis::Pipeline {
    naming_node(redis::cmd("INCR").arg(key).clone())
}

/// A read of the same key, naming the node that answered it.
pub fn read_naming_node() -> redis::Pipeline {
    naming_node(redis::cmd("GET").arg("failover:counter").clone())
}

fn naming_node(cmd: redis::Cmd) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    pipe.add_command(cmd)
        .ignore()
        .cmd("CONFIG")
        .arg("GET")
        .arg("port");
    pipe
}

/// One write: when it ended and which node acknowledged it (its port), or
/// the kind of error it failed with.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub at: Instant,
    /// How long the write took.
    pub took: Duration,
    pub result: Result<u16, String>,
}

/// Tasks writing in a loop until stopped.
#[derive(Debug)]
pub struct Writers {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Outcome>>>,
}

impl Writers {
    /// Starts `tasks` tasks, each calling `write` in a loop with a 1 ms
    /// pause (so the servers and sentinels keep CPU on a small machine).
    /// `write` returns the port of the node that acknowledged the write.
    pub fn start<F, Fut>(tasks: usize, write: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + Clone + 'static,
        Fut: Future<Output = Result<u16, String>> + Send,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..tasks)
            .map(|_| {
                let stop = Arc::clone(&stop);
                let write = write.clone();
                tokio::spawn(async move {
                    let mut outcomes = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let start = Instant::now();
                        let result = write().await;
                        outcomes.push(Outcome {
                            at: Instant::now(),
                            took: start.elapsed(),
                            result,
                        });
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    outcomes
                })
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops the tasks and returns every outcome, in time order.
    pub async fn stop(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for task in self.tasks {
            all.extend(task.await.expect("a writer task"));
        }
        all.sort_by_key(|o| o.at);
        all
    }
}

/// The test's own subscription to `+switch-master` on one sentinel.
#[derive(Debug)]
pub struct SwitchClock {
    rx: tokio::sync::oneshot::Receiver<(Instant, u16)>,
}

impl SwitchClock {
    /// Subscribes on the sentinel at `sentinel_port`; returns once the
    /// subscription is in place.
    pub async fn start(sentinel_port: u16) -> Self {
        use futures_util::StreamExt;
        let client = redis::Client::open(format!("redis://127.0.0.1:{sentinel_port}"))
            .expect("a sentinel URL");
        let mut pubsub = client
            .get_async_pubsub()
            .await
            .expect("a pub/sub connection to the sentinel");
        pubsub
            .subscribe("+switch-master")
            .await
            .expect("a subscription to +switch-master");
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut messages = pubsub.into_on_message();
            while let Some(msg) = messages.next().await {
                let payload: String = msg.get_payload().unwrap_or_default();
                let words: Vec<&str> = payload.split(' ').collect();
                if words.first() == Some(&MASTER_NAME)
                    && let Some(port) = words.get(4).and_then(|p| p.parse().ok())
                {
                    let _ = tx.send((Instant::now(), port));
                    return;
                }
            }
        });
        Self { rx }
    }

    /// When the switch was seen and the new master's port.
    pub async fn wait(self, within: Duration) -> (Instant, u16) {
        tokio::time::timeout(within, self.rx)
            .await
            .unwrap_or_else(|_| panic!("no +switch-master within {within:?}"))
            .expect("the switch clock")
    }
}

/// What a pool did through a failover, timed from the switch.
#[derive(Debug)]
pub struct Report {
    /// From the trouble (the failover command, the kill) to the first
    /// write the new master acknowledged: what the application saw.
    pub resumed: Option<Duration>,
    /// From the switch to the first write the new master acknowledged.
    pub first_success: Option<Duration>,
    /// From the switch to the last failed write (zero: none failed after
    /// it), i.e. when success became steady.
    pub steady: Duration,
    /// Failed writes from `from` on, by kind.
    pub errors: BTreeMap<String, usize>,
    /// Failed writes begun in the `quiet` window after the first success
    /// (a write already under way when another one first succeeded is
    /// part of the outage, not after it).
    pub errors_after_first_success: usize,
    /// The first of those, if any: when it began after the first success,
    /// how long it took and its error.
    pub first_error_after_success: Option<(Duration, Duration, String)>,
    /// Writes the old master acknowledged more than `grace` after the
    /// switch.
    pub late_old_master_acks: usize,
    /// Writes acknowledged in all.
    pub successes: usize,
}

impl Report {
    /// Draws the figures: errors are counted from `from` (the moment the
    /// trouble began: the failover command or the kill).
    pub fn new(
        outcomes: &[Outcome],
        from: Instant,
        switch: Instant,
        old_port: u16,
        new_port: u16,
        quiet: Duration,
        grace: Duration,
    ) -> Self {
        let first = outcomes
            .iter()
            .find(|o| o.at >= switch && o.result == Ok(new_port))
            .map(|o| o.at);
        let mut errors = BTreeMap::new();
        let mut last_error = None;
        for o in outcomes.iter().filter(|o| o.at >= from) {
            if let Err(kind) = &o.result {
                *errors.entry(kind.clone()).or_insert(0) += 1;
                last_error = Some(o.at);
            }
        }
        let resumed = outcomes
            .iter()
            .find(|o| o.at >= from && o.result == Ok(new_port))
            .map(|o| o.at - from);
        let late_errors = || {
            outcomes.iter().filter(move |o| {
                let began = o.at - o.took;
                first.is_some_and(|first| began >= first && began <= first + quiet)
                    && o.result.is_err()
            })
        };
        Self {
            resumed,
            first_success: first.map(|t| t - switch),
            steady: last_error.map_or(Duration::ZERO, |t| t.saturating_duration_since(switch)),
            errors,
            errors_after_first_success: late_errors().count(),
            first_error_after_success: late_errors().min_by_key(|o| o.at - o.took).map(|o| {
                let began = o.at - o.took;
                let kind = o.result.clone().err().unwrap_or_default();
                (began - first.unwrap_or(began), o.took, kind)
            }),
            late_old_master_acks: outcomes
                .iter()
                .filter(|o| o.at > switch + grace && o.result == Ok(old_port))
                .count(),
            successes: outcomes.iter().filter(|o| o.result.is_ok()).count(),
        }
    }
}

/// The ids of `port`'s clients that a pool could own: normal clients (not
/// replication links, not sentinels' named links).
pub async fn pool_clients(port: u16) -> Vec<i64> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("a URL");
    let Ok(mut admin) = client.get_multiplexed_async_connection().await else {
        return Vec::new();
    };
    let own: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut admin)
        .await
        .unwrap_or(-1);
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut admin)
        .await
        .unwrap_or_default();
    list.lines()
        .filter_map(|line| {
            let fields: BTreeMap<&str, &str> =
                line.split(' ').filter_map(|f| f.split_once('=')).collect();
            let id: i64 = fields.get("id")?.parse().ok()?;
            let flags = fields.get("flags").copied().unwrap_or("");
            let name = fields.get("name").copied().unwrap_or("");
            (id != own && flags == "N" && !name.starts_with("sentinel-")).then_some(id)
        })
        .collect()
}
