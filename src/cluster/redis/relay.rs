//! The pub/sub side of a node: relays other owners' events into the local
//! hub, serves forwarded commands, matches replies and canaries. Reconnects
//! with jittered backoff; a connection that hears nothing (not even its own
//! canaries) for a while is treated as dead.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use rand::Rng;
use tokio::sync::watch;

use super::messages::{EventsMessage, ForwardedReply, IdentityMessage, NodeMessage};
use super::RedisCluster;
use crate::auction::view::{EncodedEvent, EventBatch};
use crate::store::StoredEvent;
use crate::sync::lock;

/// A self-addressed canary goes out this often on an idle connection.
const CANARY_EVERY: Duration = Duration::from_secs(2);
/// Silence longer than this means the connection is dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(6);
/// Events read per auction when catching up after a reconnect.
const CATCH_UP_LIMIT: i64 = 1000;

pub(super) async fn run(cluster: Arc<RedisCluster>, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listen(&cluster, &mut shutdown).await {
            Listen::Shutdown => return,
            Listen::Lost(reason) => {
                tracing::warn!(node = %cluster.config.node_id, reason = %reason, "Redis pub/sub lost; reconnecting");
            }
            Listen::Ended => {
                backoff = Duration::from_millis(100);
            }
        }
        let jitter = rand::thread_rng().gen_range(0..=backoff.as_millis() as u64 / 2);
        let pause = backoff + Duration::from_millis(jitter);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(3));
    }
}

enum Listen {
    Shutdown,
    Lost(String),
    Ended,
}

async fn listen(cluster: &Arc<RedisCluster>, shutdown: &mut watch::Receiver<bool>) -> Listen {
    let connect = tokio::time::timeout(Duration::from_secs(2), cluster.client.get_async_pubsub());
    let mut pubsub = match connect.await {
        Ok(Ok(pubsub)) => pubsub,
        Ok(Err(error)) => return Listen::Lost(error.to_string()),
        Err(_) => return Listen::Lost("connect timed out".into()),
    };
    let prefix = &cluster.config.prefix;
    let own_channel = cluster.node_channel(&cluster.config.node_id);
    if let Err(error) = pubsub.psubscribe(format!("{prefix}ev:*")).await {
        return Listen::Lost(error.to_string());
    }
    if let Err(error) = pubsub.subscribe(&own_channel).await {
        return Listen::Lost(error.to_string());
    }
    let identity_channel = cluster.identity_channel();
    if let Err(error) = pubsub.subscribe(&identity_channel).await {
        return Listen::Lost(error.to_string());
    }
    cluster
        .last_heard_ms
        .store(Utc::now().timestamp_millis(), Ordering::SeqCst);
    tracing::info!(node = %cluster.config.node_id, "Redis pub/sub connected");
    catch_up(cluster).await;

    let mut stream = pubsub.on_message();
    let mut canary = tokio::time::interval(CANARY_EVERY);
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    return Listen::Lost("pub/sub stream ended".into());
                };
                cluster.last_heard_ms.store(Utc::now().timestamp_millis(), Ordering::SeqCst);
                let channel = message.get_channel_name().to_owned();
                let payload = message.get_payload_bytes().to_vec();
                if channel == own_channel {
                    on_node_message(cluster, &payload);
                } else if channel == identity_channel {
                    on_identity_change(cluster, &payload);
                } else {
                    on_events(cluster, &payload).await;
                }
            }
            _ = canary.tick() => {
                let heard = cluster.last_heard_ms.load(Ordering::SeqCst);
                let silent_ms = Utc::now().timestamp_millis() - heard;
                if silent_ms > SILENCE_LIMIT.as_millis() as i64 {
                    return Listen::Lost(format!("silent for {silent_ms} ms"));
                }
                let cluster = Arc::clone(cluster);
                tokio::spawn(async move {
                    let nonce = format!("keepalive-{}", uuid::Uuid::new_v4());
                    cluster.send_canary(&nonce).await;
                });
            }
            _ = shutdown.changed() => {
                drop(stream);
                return if *shutdown.borrow() { Listen::Shutdown } else { Listen::Ended };
            }
        }
    }
}

async fn on_events(cluster: &RedisCluster, payload: &[u8]) {
    let Ok(message) = serde_json::from_slice::<EventsMessage>(payload) else {
        tracing::warn!("unreadable events message on Redis");
        return;
    };
    if message.node == cluster.config.node_id {
        return; // delivered locally when published
    }
    if let Some(first) = message.events.first() {
        // A seq gap is filled from the store before relaying.
        cluster.fill_before(message.auction, first.seq).await;
    }
    if let Some(last) = message.events.last() {
        cluster.note_seen(message.auction, last.seq);
    }
    let events = message
        .events
        .iter()
        .map(|event| {
            EncodedEvent::encode(message.auction, &wire_to_stored(event), message.server_time)
        })
        .collect();
    cluster.hub.deliver(Arc::new(EventBatch {
        auction_id: message.auction,
        events,
    }));
}

fn on_identity_change(cluster: &RedisCluster, payload: &[u8]) {
    match serde_json::from_slice::<IdentityMessage>(payload) {
        // Delivered locally when announced.
        Ok(message) if message.node == cluster.config.node_id => {}
        Ok(message) => cluster.hub.identity.deliver(message.change),
        Err(_) => tracing::warn!("unreadable identity message on Redis"),
    }
}

fn wire_to_stored(event: &super::messages::WireEvent) -> StoredEvent {
    StoredEvent {
        seq: event.seq,
        name: event.name.clone(),
        at: Utc::now(),
        bidder: None,
        amount: None,
        bid_kind: None,
        ceiling: None,
        req_amount: None,
        req_max: None,
        hash: None,
        data: event.data.clone(),
    }
}

fn on_node_message(cluster: &Arc<RedisCluster>, payload: &[u8]) {
    let Ok(message) = serde_json::from_slice::<NodeMessage>(payload) else {
        tracing::warn!("unreadable node message on Redis");
        return;
    };
    match message {
        NodeMessage::Reply { corr, reply } => {
            if let Some(waiter) = lock(&cluster.pending).remove(&corr) {
                let _ = waiter.send(reply);
            }
        }
        NodeMessage::Canary { nonce } => {
            if let Some(waiter) = lock(&cluster.canaries).remove(&nonce) {
                let _ = waiter.send(());
            }
        }
        NodeMessage::Request {
            corr,
            from,
            auction,
            command,
        } => {
            let cluster = Arc::clone(cluster);
            tokio::spawn(async move {
                let handler = cluster.handler.get().and_then(std::sync::Weak::upgrade);
                let reply = match handler {
                    Some(handler) => handler.handle_forwarded(auction, command).await,
                    None => ForwardedReply::Unavailable,
                };
                let payload =
                    serde_json::to_string(&NodeMessage::Reply { corr, reply }).unwrap_or_default();
                let channel = cluster.node_channel(&from);
                let _ = cluster.outbox.send((channel, payload));
            });
        }
    }
}

/// After (re)connecting, delivers from the store what local subscribers may
/// have missed while the connection was down; their cursors drop repeats.
async fn catch_up(cluster: &RedisCluster) {
    for auction in cluster.hub.subscribed_auctions() {
        let known = lock(&cluster.last_seen).get(&auction).copied();
        let after = match known {
            Some(seq) => seq,
            None => match cluster.store.auction(auction).await {
                Ok(Some(record)) => (record.auction.state.seq - CATCH_UP_LIMIT).max(0),
                _ => continue,
            },
        };
        match cluster
            .store
            .events_after(auction, after, CATCH_UP_LIMIT)
            .await
        {
            Ok(events) if !events.is_empty() => {
                if let Some(last) = events.last() {
                    cluster.note_seen(auction, last.seq);
                }
                cluster
                    .hub
                    .deliver(super::encode_batch(auction, &events, Utc::now()));
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(auction.id = %auction, error = ?error, "catch-up after reconnect failed")
            }
        }
    }
}
