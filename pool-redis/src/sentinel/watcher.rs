//! Listening to the sentinels: a pub/sub connection to one sentinel at a
//! time (the next one when it goes away) for the events that change which
//! nodes serve, each followed by a discovery. Pub/sub delivers at most
//! once, so every (re)subscription is followed by a discovery too: an
//! event missed while no sentinel was listened to is caught up at once.
//! The task ends when its target (the pool's manager) is gone.
//!
//! A master pool also listens to every sentinel at once for the start of a
//! planned failover (only the sentinel that leads it announces it): from
//! `+selected-slave` on, commands wait behind the target's fence while the
//! selected replica is asked `ROLE` every few milliseconds; the moment it
//! answers master the pool adopts it and the fence lifts. Writes the old
//! master would acknowledge after the promotion (and lose when it is
//! reconfigured) are never sent.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;

use super::SentinelServerType;
use super::discovery::{ASK_TIMEOUT, Sentinels};
use crate::target::{FENCE_LIMIT, Target};

/// Events that start a planned failover's fence (the leader publishes
/// them before it sends `REPLICAOF NO ONE` to the replica), and the
/// pattern of those that end one without a promotion.
const FAILOVER_STARTS: [&str; 2] = ["+selected-slave", "+failover-state-send-slaveof-noone"];
const FAILOVER_ABORTS: &str = "-failover-abort-*";

/// How often the selected replica is asked whether it is master yet.
const PROMOTION_POLL: Duration = Duration::from_millis(10);

/// How often a quiet watcher checks that its pool still exists.
const LIVENESS: Duration = Duration::from_secs(1);

/// Pause after every sentinel failed to take a subscription.
const ALL_FAILED_PAUSE: Duration = Duration::from_millis(500);

/// Events after which the nodes are asked for again. The master pool needs
/// the promotion (the leading sentinel announces it seconds before its own
/// `+switch-master`) and the switch; a replica pool also follows replicas
/// going down, coming back, appearing, and being reconfigured.
fn channels(server_type: SentinelServerType) -> &'static [&'static str] {
    match server_type {
        SentinelServerType::Master => &["+switch-master", "+promoted-slave"],
        SentinelServerType::Replica => &[
            "+switch-master",
            "+promoted-slave",
            "+sdown",
            "-sdown",
            "+odown",
            "-odown",
            "+slave",
            "+convert-to-slave",
            "+role-change",
        ],
    }
}

/// Starts the watcher for `target` in the current runtime (and, for a
/// master pool, one failover listener per sentinel).
pub(crate) fn spawn(target: &Arc<Target>, sentinels: Arc<Sentinels>) {
    let target = Arc::downgrade(target);
    if sentinels.server_type == SentinelServerType::Master {
        for i in 0..sentinels.clients.len() {
            let (target, sentinels) = (Weak::clone(&target), Arc::clone(&sentinels));
            tokio::spawn(async move { watch_failovers(target, sentinels, i).await });
        }
    }
    tokio::spawn(async move { watch(target, sentinels).await });
}

/// Listens to sentinel `i` for the start and the abort of a planned
/// failover, resubscribing while the target lives.
async fn watch_failovers(target: Weak<Target>, sentinels: Arc<Sentinels>, i: usize) {
    loop {
        if target.strong_count() == 0 {
            return;
        }
        let client = &sentinels.clients[i];
        let subscribed = tokio::time::timeout(ASK_TIMEOUT * 2, async {
            let mut pubsub = client.get_async_pubsub().await?;
            for channel in FAILOVER_STARTS {
                pubsub.subscribe(channel).await?;
            }
            pubsub.psubscribe(FAILOVER_ABORTS).await?;
            redis::RedisResult::Ok(pubsub)
        })
        .await;
        let Ok(Ok(pubsub)) = subscribed else {
            tokio::time::sleep(ALL_FAILED_PAUSE).await;
            continue;
        };
        let mut messages = pubsub.into_on_message();
        loop {
            match tokio::time::timeout(LIVENESS, messages.next()).await {
                Ok(Some(msg)) => {
                    let payload: String = msg.get_payload().unwrap_or_default();
                    if !concerns(&payload, &sentinels.master_name) {
                        continue;
                    }
                    let event = msg.get_channel_name();
                    tracing::info!(event, %payload, "sentinel failover event");
                    if event.starts_with("-failover-abort") {
                        if let Some(target) = target.upgrade() {
                            target.lift_fence(target.current_fence());
                        }
                    } else if let Some((host, port)) = instance(&payload) {
                        fence(&target, &sentinels, host.to_owned(), port);
                    }
                }
                Ok(None) => break,
                Err(_) if target.strong_count() == 0 => return,
                Err(_) => {}
            }
        }
    }
}

/// Raises the target's fence for a failover that promotes `host:port`,
/// and asks that node `ROLE` until it answers master (then adopts it and
/// lifts the fence), the fence is lifted otherwise (an abort), or
/// `FENCE_LIMIT` passes (then lifts it and asks the sentinels).
fn fence(target: &Weak<Target>, sentinels: &Arc<Sentinels>, host: String, port: u16) {
    let Some(strong) = target.upgrade() else {
        return;
    };
    let (number, new) = strong.raise_fence();
    if !new {
        return; // this fence's poller already runs
    }
    let (target, sentinels) = (Weak::clone(target), Arc::clone(sentinels));
    tokio::spawn(async move {
        let until = Instant::now() + FENCE_LIMIT;
        loop {
            let Some(target) = target.upgrade() else {
                return;
            };
            if target.current_fence() != number {
                return;
            }
            if Instant::now() >= until {
                tracing::warn!(
                    replica = %format!("{host}:{port}"),
                    "the selected replica did not become master in time: asking the sentinels"
                );
                target.lift_fence(number);
                if let Err(e) = target.refresh(target.refreshes()).await {
                    tracing::warn!(error = %e, "Redis node discovery after a failover fence failed");
                }
                return;
            }
            if let Ok(Ok(node)) =
                tokio::time::timeout_at(until, sentinels.promoted(&host, port)).await
            {
                target.adopt(vec![node]).await;
                target.lift_fence(number);
                return;
            }
            drop(target);
            tokio::time::sleep(PROMOTION_POLL).await;
        }
    });
}

async fn watch(target: Weak<Target>, sentinels: Arc<Sentinels>) {
    loop {
        let mut subscribed_once = false;
        for i in sentinels.order().collect::<Vec<_>>() {
            if target.strong_count() == 0 {
                return;
            }
            let client = &sentinels.clients[i];
            let subscribed = tokio::time::timeout(ASK_TIMEOUT * 2, async {
                let mut pubsub = client.get_async_pubsub().await?;
                for channel in channels(sentinels.server_type) {
                    pubsub.subscribe(*channel).await?;
                }
                redis::RedisResult::Ok(pubsub)
            })
            .await;
            let pubsub = match subscribed {
                Ok(Ok(pubsub)) => pubsub,
                Ok(Err(e)) => {
                    tracing::debug!(sentinel = %client.get_connection_info().addr(), error = %e, "cannot subscribe to sentinel events");
                    continue;
                }
                Err(_) => continue,
            };
            subscribed_once = true;
            tracing::debug!(sentinel = %client.get_connection_info().addr(), "listening to sentinel events");
            refresh(&target).await;
            let mut messages = pubsub.into_on_message();
            loop {
                match tokio::time::timeout(LIVENESS, messages.next()).await {
                    Ok(Some(msg)) => {
                        let payload: String = msg.get_payload().unwrap_or_default();
                        if concerns(&payload, &sentinels.master_name) {
                            let event = msg.get_channel_name();
                            tracing::info!(event, %payload, "sentinel event");
                            match promoted(event, &payload, sentinels.server_type) {
                                Some((host, port)) => adopt(&target, &sentinels, host, port).await,
                                None => refresh(&target).await,
                            }
                        }
                    }
                    Ok(None) => break, // the sentinel went away: the next one
                    Err(_) if target.strong_count() == 0 => return,
                    Err(_) => {}
                }
            }
        }
        if !subscribed_once {
            tokio::time::sleep(ALL_FAILED_PAUSE).await;
        }
    }
}

/// Whether an event's payload is about our master name (`+switch-master`:
/// `<name> <old ip> <old port> <new ip> <new port>`; instance events:
/// `<type> <name> <ip> <port> @ <master name> <ip> <port>`).
fn concerns(payload: &str, master_name: &str) -> bool {
    let words: Vec<&str> = payload.split(' ').collect();
    words.first() == Some(&master_name)
        || words
            .iter()
            .position(|w| *w == "@")
            .is_some_and(|at| words.get(at + 1) == Some(&master_name))
        || (words.first() == Some(&"master") && words.get(1) == Some(&master_name))
}

/// The node a `+promoted-slave` event names, for a master pool.
fn promoted<'a>(
    event: &str,
    payload: &'a str,
    server_type: SentinelServerType,
) -> Option<(&'a str, u16)> {
    if event != "+promoted-slave" || server_type != SentinelServerType::Master {
        return None;
    }
    instance(payload)
}

/// The instance an instance event names (`slave <ip>:<port> <ip> <port> @
/// <master name> <ip> <port>`).
fn instance(payload: &str) -> Option<(&str, u16)> {
    let words: Vec<&str> = payload.split(' ').collect();
    if words.first() != Some(&"slave") {
        return None;
    }
    Some((words.get(2)?, words.get(3)?.parse().ok()?))
}

/// Moves the master pool to a promoted replica once it answers as master;
/// a discovery otherwise.
async fn adopt(target: &Weak<Target>, sentinels: &Sentinels, host: &str, port: u16) {
    let Some(target) = target.upgrade() else {
        return;
    };
    match sentinels.promoted(host, port).await {
        Ok(node) => {
            target.adopt(vec![node]).await;
            target.lift_fence(target.current_fence());
        }
        Err(e) => {
            tracing::debug!(error = %e, "promoted replica not usable yet: asking the sentinels");
            if let Err(e) = target.refresh(target.refreshes()).await {
                tracing::warn!(error = %e, "Redis node discovery after a sentinel event failed");
            }
        }
    }
}

async fn refresh(target: &Weak<Target>) {
    let Some(target) = target.upgrade() else {
        return;
    };
    if let Err(e) = target.refresh(target.refreshes()).await {
        tracing::warn!(error = %e, "Redis node discovery after a sentinel event failed");
    }
}

#[cfg(test)]
mod tests {
    use super::{SentinelServerType, concerns, promoted};

    #[test]
    fn a_promotion_names_the_new_master() {
        let payload = "slave 127.0.0.1:7001 127.0.0.1 7001 @ mymaster 127.0.0.1 7000";
        assert_eq!(
            promoted("+promoted-slave", payload, SentinelServerType::Master),
            Some(("127.0.0.1", 7001))
        );
        assert_eq!(
            promoted("+promoted-slave", payload, SentinelServerType::Replica),
            None
        );
        assert_eq!(
            promoted("+sdown", payload, SentinelServerType::Master),
            None
        );
    }

    #[test]
    fn a_failover_start_names_the_selected_replica() {
        let payload = "slave 127.0.0.1:7002 127.0.0.1 7002 @ mymaster 127.0.0.1 7000";
        assert_eq!(super::instance(payload), Some(("127.0.0.1", 7002)));
        assert_eq!(super::instance("master mymaster 127.0.0.1 7000"), None);
        assert_eq!(super::instance("slave 127.0.0.1:x 127.0.0.1 x @ m"), None);
    }

    #[test]
    fn events_are_matched_by_master_name() {
        assert!(concerns("mymaster 127.0.0.1 1 127.0.0.1 2", "mymaster"));
        assert!(!concerns("other 127.0.0.1 1 127.0.0.1 2", "mymaster"));
        assert!(concerns(
            "slave 127.0.0.1:7 127.0.0.1 7 @ mymaster 127.0.0.1 6",
            "mymaster"
        ));
        assert!(!concerns(
            "slave 127.0.0.1:7 127.0.0.1 7 @ other 127.0.0.1 6",
            "mymaster"
        ));
        assert!(concerns("master mymaster 127.0.0.1 6", "mymaster"));
        assert!(!concerns("sentinel 1 2 @ x", "mymaster"));
    }
}
