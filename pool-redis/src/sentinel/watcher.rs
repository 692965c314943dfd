//! Listening to the sentinels: a pub/sub connection to one sentinel at a
//! time (the next one when it goes away) for the events that change which
//! nodes serve, each followed by a discovery. Pub/sub delivers at most
//! once, so every (re)subscription is followed by a discovery too: an
//! event missed while no sentinel was listened to is caught up at once.
//! The task ends when its target (the pool's manager) is gone.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;

use super::SentinelServerType;
use super::discovery::{ASK_TIMEOUT, Sentinels};
use crate::target::Target;

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

/// Starts the watcher for `target` in the current runtime.
pub(crate) fn spawn(target: &Arc<Target>, sentinels: Arc<Sentinels>) {
    let target = Arc::downgrade(target);
    tokio::spawn(async move { watch(target, sentinels).await });
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

/// The node a `+promoted-slave` event names (`slave <ip>:<port> <ip>
/// <port> @ <master name> <ip> <port>`), for a master pool.
fn promoted<'a>(
    event: &str,
    payload: &'a str,
    server_type: SentinelServerType,
) -> Option<(&'a str, u16)> {
    if event != "+promoted-slave" || server_type != SentinelServerType::Master {
        return None;
    }
    let words: Vec<&str> = payload.split(' ').collect();
    Some((words.get(2)?, words.get(3)?.parse().ok()?))
}

/// Moves the master pool to a promoted replica once it answers as master;
/// a discovery otherwise.
async fn adopt(target: &Weak<Target>, sentinels: &Sentinels, host: &str, port: u16) {
    let Some(target) = target.upgrade() else {
        return;
    };
    match sentinels.promoted(host, port).await {
        Ok(node) => target.adopt(vec![node]).await,
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
