//! Key-usage recording: batched, at most one write per key per interval, bounded memory,
//! written off the request's path.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use notify_auth::usage::{KeyUsage, UsageSink};
use notify_auth::{KeyStoreError, NotifyAuthLayer};
use tower::{Layer, ServiceExt};
use uuid::Uuid;

/// One batch of key uses.
type Batch = Vec<(Uuid, i64)>;

/// Keeps every batch it is given.
#[derive(Clone, Default)]
struct Batches(Arc<Mutex<Vec<Batch>>>);

#[notify_auth::async_trait]
impl UsageSink for Batches {
    async fn write(&self, uses: &[(Uuid, i64)]) -> Result<(), KeyStoreError> {
        let mut batch = uses.to_vec();
        batch.sort();
        self.0.lock().unwrap().push(batch);
        Ok(())
    }
}

/// Waits until `batches` has `n` batches (for up to 5 s).
async fn until(batches: &Batches, n: usize) {
    for _ in 0..500 {
        if batches.0.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} batches, not {n}", batches.0.lock().unwrap().len());
}

#[tokio::test]
async fn each_key_is_written_once_per_interval_in_one_batch() {
    let batches = Batches::default();
    let (usage, task) = KeyUsage::builder(batches.clone())
        .interval(Duration::from_millis(100))
        .build();
    let task = tokio::spawn(task);
    for at in [NOW, NOW + 3, NOW + 1] {
        usage.record(K1, at);
    }
    usage.record(K2, NOW + 2);
    until(&batches, 1).await;
    usage.record(K1, NOW + 20);
    until(&batches, 2).await;
    assert_eq!(
        *batches.0.lock().unwrap(),
        vec![vec![(K1, NOW + 3), (K2, NOW + 2)], vec![(K1, NOW + 20)]]
    );
    // The task ends, after a last write, with its handles.
    usage.record(K2, NOW + 30);
    drop(usage);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        batches.0.lock().unwrap().last(),
        Some(&vec![(K2, NOW + 30)])
    );
}

#[tokio::test]
async fn at_most_max_pending_keys_wait() {
    let batches = Batches::default();
    let (usage, task) = KeyUsage::builder(batches.clone())
        .interval(Duration::from_millis(200))
        .max_pending(100)
        .build();
    tokio::spawn(task);
    for i in 0..10_000u128 {
        usage.record(Uuid::from_u128(i), NOW);
    }
    // A key already waiting is never dropped.
    usage.record(Uuid::from_u128(5), NOW + 1);
    let stats = usage.stats();
    assert_eq!((stats.recorded, stats.dropped), (10_001, 9_900));
    until(&batches, 1).await;
    let written = batches.0.lock().unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].len(), 100);
    assert!(written[0].contains(&(Uuid::from_u128(5), NOW + 1)));
}

#[tokio::test]
async fn the_layer_records_successes_only() {
    let batches = Batches::default();
    let (usage, task) = KeyUsage::builder(batches.clone())
        .interval(Duration::from_millis(20))
        .build();
    tokio::spawn(task);
    let service = NotifyAuthLayer::new(store())
        .clock(|| NOW)
        .record_key_usage(usage.clone())
        .layer(answering("ok"));
    for header in [bearer(&valid()), bearer(&token(S, NOW, WRONG_SECRET))] {
        let request = request("/v2/x", &[header.as_bytes()]);
        service.clone().oneshot(request).await.unwrap();
    }
    until(&batches, 1).await;
    assert_eq!(*batches.0.lock().unwrap(), vec![vec![(K1, NOW)]]);
    assert_eq!(usage.stats().recorded, 1);
}
