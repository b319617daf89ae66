//! Notify's rate limit through a real Redis (run under `scripts/with-redis`): the crate's
//! script against GOV.UK Notify's own, buckets shared with Notify's Python both ways, two
//! instances on one bucket, and a Redis that stops.
#![cfg(feature = "redis")]

#[path = "rate_limit_py/mod.rs"]
mod rate_limit_py;
#[path = "skip/mod.rs"]
mod skip;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify_auth::KeyType;
use notify_auth::ratelimit::bucket::{self, BucketState};
use notify_auth::ratelimit::{Bucket, BucketKey, RedisBuckets, TALLY_SCRIPT, TokenBuckets};
use proptest::prelude::*;
use rate_limit_py::{oracle_python, rate_limit_py};
use redis::AsyncCommands as _;
use skip::skipped;
use uuid::Uuid;

fn redis_url(test: &str) -> Option<String> {
    match std::env::var("NOTIFY_AUTH_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skipped(&format!(
                "{test}: NOTIFY_AUTH_REDIS_URL is not set (run under scripts/with-redis)"
            ));
            None
        }
    }
}

/// A runtime on the test's thread, with its timers and I/O.
fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn fresh_service() -> Uuid {
    Uuid::new_v4()
}

/// GOV.UK Notify's script, exactly as it registers it.
fn notify_script() -> redis::Script {
    let text = include_str!("../conformance/notify_tally_bucket.lua");
    let lines: Vec<&str> = text
        .split('\n')
        .skip_while(|l| l.starts_with("--"))
        .collect();
    redis::Script::new(&lines.join("\n"))
}

async fn connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// One run of `script` with Notify's arguments, written as Python writes them (`repr` of the
/// floats is their shortest round trip, as Rust's `Display`).
async fn run(
    script: &redis::Script,
    connection: &mut redis::aio::MultiplexedConnection,
    key: &str,
    now: f64,
    bucket: Bucket,
) -> i64 {
    script
        .arg(key)
        .arg(format!("{now}"))
        .arg(format!("{}", bucket.replenish_per_sec()))
        .arg(bucket.max())
        .arg(bucket.min())
        .invoke_async(connection)
        .await
        .unwrap()
}

async fn stored(connection: &mut redis::aio::MultiplexedConnection, key: &str) -> Option<Vec<u8>> {
    connection.get(key).await.unwrap()
}

/// A run of requests against one bucket: a rate limit, what the bucket held before (nothing,
/// a short value, or 12 arbitrary bytes), and the clock's steps (backwards too).
fn runs() -> impl Strategy<Value = (i32, Option<Vec<u8>>, Vec<f64>)> {
    let rate_limit = prop_oneof![
        Just(0),
        Just(1),
        Just(3),
        Just(60),
        Just(1000),
        Just(3000),
        Just(100_000),
        Just(-60),
        1..5000i32,
    ];
    let before = prop_oneof![
        Just(None),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(Some),
        (any::<f64>(), any::<i32>()).prop_map(|(last, tokens)| {
            Some(
                BucketState {
                    last_replenished: last,
                    tokens,
                }
                .to_bytes()
                .to_vec(),
            )
        }),
        (1.7e9..1.8e9f64, -5..1005i32).prop_map(|(last, tokens)| {
            Some(
                BucketState {
                    last_replenished: last,
                    tokens,
                }
                .to_bytes()
                .to_vec(),
            )
        }),
    ];
    let steps = prop::collection::vec(
        prop_oneof![Just(0.0), -5.0..5.0f64, 0.0..120.0f64, Just(0.001)],
        1..25,
    );
    (rate_limit, before, steps)
}

/// The crate's script and Notify's, run side by side on the same arguments, return the same
/// tokens and store the same 12 bytes, which `bucket::tally` computes too.
#[test]
fn the_crates_script_answers_and_stores_as_notifys() {
    let Some(url) = redis_url("the_crates_script_answers_and_stores_as_notifys") else {
        return;
    };
    let runtime = current_thread();
    let shared = runtime.block_on(connection(&url));
    let (notify, ours) = (notify_script(), redis::Script::new(TALLY_SCRIPT));
    let config = ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |((rate_limit, before, steps) in runs())| {
        runtime.block_on(async {
            // A multiplexed connection's clones share it.
            let mut connection = shared.clone();
            let bucket = Bucket::for_rate_limit(rate_limit);
            let (a, b) = (format!("notify-{}", Uuid::new_v4()), format!("crate-{}", Uuid::new_v4()));
            if let Some(bytes) = &before {
                let _: () = connection.set(&a, bytes).await.unwrap();
                let _: () = connection.set(&b, bytes).await.unwrap();
            }
            let mut state = before.as_deref().and_then(BucketState::from_bytes);
            let mut now = 1_764_950_000.125;
            for step in &steps {
                now += step;
                let expected = bucket::tally(state, now, bucket);
                let by_notify = run(&notify, &mut connection, &a, now, bucket).await;
                let by_crate = run(&ours, &mut connection, &b, now, bucket).await;
                let (stored_a, stored_b) = (stored(&mut connection, &a).await, stored(&mut connection, &b).await);
                prop_assert_eq!(by_crate, by_notify);
                prop_assert_eq!(&stored_b, &stored_a);
                let stored = stored_a.unwrap();
                prop_assert_eq!(stored.len(), 12);
                prop_assert_eq!(&stored[..], &expected.state.to_bytes()[..]);
                // Redis's integer of a NaN is the platform's: only its verdict is portable.
                if expected.remaining != i64::MIN {
                    prop_assert_eq!(by_notify, expected.remaining);
                } else {
                    prop_assert!(by_notify < 1);
                }
                state = Some(expected.state);
            }
            let _: () = connection.del(&[&a, &b]).await.unwrap();
            Ok(())
        })?;
    });
}

/// GOV.UK Notify's Python (its validator's function, its script, redis-py) and the crate's
/// backend draw from one bucket, each continuing where the other stopped.
#[test]
fn notify_and_the_crate_share_one_bucket_both_ways() {
    let Some(url) = redis_url("notify_and_the_crate_share_one_bucket_both_ways") else {
        return;
    };
    let Some(python) = oracle_python("notify_and_the_crate_share_one_bucket_both_ways") else {
        return;
    };
    let service = fresh_service().to_string();
    // Notify, through its validator's function: 60 a minute, a bucket of 21.
    let notify_takes = |n: u32| -> Vec<i64> {
        let n = n.to_string();
        rate_limit_py(&python, &[&url, "take", &service, "normal", "60", &n])
    };
    let runtime = current_thread();
    let buckets = RedisBuckets::new(&url).unwrap();
    let key = BucketKey::new(service.parse().unwrap(), KeyType::Normal);
    let bucket = Bucket::for_rate_limit(60);
    let crate_takes = |n: u32| -> Vec<i64> {
        runtime.block_on(async {
            let mut left = Vec::new();
            for _ in 0..n {
                left.push(buckets.tally(&key, bucket, unix_now()).await.unwrap());
            }
            left
        })
    };
    // One token a second: a second passing between the two may grant one back, so each side's
    // first answer is one of two, and the rest follow it.
    let first = notify_takes(5);
    assert_eq!(first, [20, 19, 18, 17, 16]);
    let then = crate_takes(5);
    assert!(
        (then[0] == 15 || then[0] == 16) && then.windows(2).all(|w| w[1] == w[0] - 1),
        "{then:?}"
    );
    let after = notify_takes(3);
    assert!(
        after[0] == then[4] - 1 || after[0] == then[4],
        "{then:?} then {after:?}"
    );
    assert!(after.windows(2).all(|w| w[1] == w[0] - 1), "{after:?}");
}

/// Two instances (two connections, two backends) on one bucket: every token is granted once,
/// whichever asks, however many ask at once.
#[test]
fn two_instances_draw_from_one_bucket() {
    let Some(url) = redis_url("two_instances_draw_from_one_bucket") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (a, b) = (
            Arc::new(RedisBuckets::new(&url).unwrap()),
            Arc::new(RedisBuckets::new(&url).unwrap()),
        );
        let key = BucketKey::new(fresh_service(), KeyType::Team);
        let bucket = Bucket::for_rate_limit(3000); // 1000 tokens
        let now = 1_764_950_000.5;
        let mut tasks = Vec::new();
        for i in 0..200 {
            let instance = if i % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&b)
            };
            tasks.push(tokio::spawn(async move {
                instance.tally(&key, bucket, now).await.unwrap()
            }));
        }
        let mut left = Vec::new();
        for task in tasks {
            left.push(task.await.unwrap());
        }
        left.sort_unstable();
        let expected: Vec<i64> = (800..1000).collect();
        assert_eq!(left, expected, "each token granted once");
    });
}

/// A Redis server of the test's own on a free port, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(binary: &str, port: u16) -> Server {
        let child = Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Redis stopped mid-run: requests are let through, each within the timeout, and at once
/// while Redis rests after a failure; the limit holds again once it is back.
#[test]
fn a_redis_that_stops_lets_requests_through_quickly_and_comes_back() {
    let test = "a_redis_that_stops_lets_requests_through_quickly_and_comes_back";
    if redis_url(test).is_none() {
        return;
    }
    let Some(binary) = std::env::var("NOTIFY_AUTH_REDIS_SERVER")
        .ok()
        .filter(|b| !b.is_empty())
    else {
        skipped(&format!(
            "{test}: NOTIFY_AUTH_REDIS_SERVER is not set (run under scripts/with-redis)"
        ));
        return;
    };
    let port = free_port();
    let server = Server::start(&binary, port);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let timeout = Duration::from_millis(100);
    let buckets = RedisBuckets::new(&server.url())
        .unwrap()
        .timeout(timeout)
        .retry_after(Duration::from_millis(500));
    let key = BucketKey::new(fresh_service(), KeyType::Normal);
    let bucket = Bucket::for_rate_limit(60);
    let tally = |buckets: &RedisBuckets| {
        runtime.block_on(async {
            let started = Instant::now();
            let answer = buckets.tally(&key, bucket, 1_764_950_000.0).await;
            (answer, started.elapsed())
        })
    };
    assert_eq!(tally(&buckets).0.unwrap(), 20);
    drop(server);
    let (answer, took) = tally(&buckets);
    assert!(answer.is_err(), "{answer:?}");
    assert!(took < timeout * 3, "the failed call took {took:?}");
    // Resting: no call to Redis at all.
    for _ in 0..20 {
        let (answer, took) = tally(&buckets);
        assert!(answer.is_err());
        assert!(
            took < Duration::from_millis(10),
            "a resting call took {took:?}"
        );
    }
    // Back (empty: nothing was saved), and asked again once the rest is over.
    let _server = Server::start(&binary, port);
    std::thread::sleep(Duration::from_millis(600));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tally(&buckets).0 {
            Ok(left) => {
                assert_eq!(left, 20, "a new bucket");
                break;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "Redis did not come back: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    assert_eq!(tally(&buckets).0.unwrap(), 19);
}

/// GC Notify's and VA Notify's `exceeded_rate_limit` (their Python, redis-py, conformance/
/// rate_limit.py) and the crate's window in Redis, side by side on the same times: the same
/// verdicts, and the same sorted set after (members and scores written alike); the in-memory
/// window gives the same verdicts.
#[test]
fn the_crates_window_is_gc_notifys_in_redis() {
    let test = "the_crates_window_is_gc_notifys_in_redis";
    let Some(url) = redis_url(test) else {
        return;
    };
    let Some(python) = oracle_python(test) else {
        return;
    };
    let runtime = current_thread();
    let buckets = RedisBuckets::new(&url).unwrap();
    let shared = runtime.block_on(connection(&url));
    let config = ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    // Steps under 30 s either way, so that no set expires (in Redis, by its own clock) within
    // a run; repeated times (a step of 0) included.
    let step = prop_oneof![
        Just(0.0),
        0.0..2.0f64,
        -3.0..0.0f64,
        (0u32..30).prop_map(f64::from),
    ];
    let runs = (-1i32..8, prop::collection::vec(step, 1..30));
    proptest!(config, |((limit, steps) in runs)| {
        let service = fresh_service();
        let key = BucketKey::new(service, KeyType::Normal);
        let python_key = format!("gc-{}", Uuid::new_v4());
        let mut now = 1_764_950_000.125;
        let times: Vec<f64> = steps.iter().map(|step| { now += step; now }).collect();
        let (limit_text, times_text) = (limit.to_string(), times.iter().map(|t| format!("{t}")));
        let mut args = vec![url.clone(), "replay".into(), python_key.clone(), limit_text];
        args.extend(times_text);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let python: serde_json::Value = rate_limit_py(&python, &args);
        let memory = notify_auth::ratelimit::MemoryBuckets::new();
        let (by_crate, by_memory): (Vec<bool>, Vec<bool>) = runtime.block_on(async {
            let mut verdicts = (Vec::new(), Vec::new());
            for &t in &times {
                let count = buckets.window(&key, limit, t).await.unwrap();
                verdicts.0.push(count > i64::from(limit));
                verdicts.1.push(memory.count(&key, limit, t) > i64::from(limit));
            }
            verdicts
        });
        let by_python: Vec<bool> = serde_json::from_value(python["over"].clone()).unwrap();
        prop_assert_eq!(&by_crate, &by_python, "times {:?}", times);
        prop_assert_eq!(&by_memory, &by_python, "times {:?}", times);
        let set: Vec<(String, f64)> = runtime.block_on(async {
            let mut connection = shared.clone();
            let set = connection.zrange_withscores(key.window_key(), 0, -1).await.unwrap();
            let _: () = connection.del(&[key.window_key(), python_key]).await.unwrap();
            set
        });
        let python_set: Vec<(String, String)> = serde_json::from_value(python["set"].clone()).unwrap();
        let python_set: Vec<(String, f64)> = python_set
            .into_iter()
            .map(|(member, score)| (member, score.parse().unwrap()))
            .collect();
        prop_assert_eq!(&set, &python_set);
    });
}

/// GC Notify's Python (its check, its client's pipeline, redis-py) and the crate's backend
/// count in one window, each going on from where the other stopped.
#[test]
fn gc_notify_and_the_crate_share_one_window_both_ways() {
    let test = "gc_notify_and_the_crate_share_one_window_both_ways";
    let Some(url) = redis_url(test) else {
        return;
    };
    let Some(python) = oracle_python(test) else {
        return;
    };
    let service = fresh_service().to_string();
    let gc_sends = |n: u32| -> Vec<bool> {
        let n = n.to_string();
        rate_limit_py(&python, &[&url, "window", &service, "team", "5", &n])
    };
    let runtime = current_thread();
    let buckets = RedisBuckets::new(&url).unwrap();
    let key = BucketKey::new(service.parse().unwrap(), KeyType::Team);
    let crate_counts = |n: u32| -> Vec<i64> {
        runtime.block_on(async {
            let mut counts = Vec::new();
            for _ in 0..n {
                counts.push(buckets.window(&key, 5, unix_now()).await.unwrap());
            }
            counts
        })
    };
    assert_eq!(gc_sends(3), [false, false, false]);
    assert_eq!(crate_counts(3), [4, 5, 6], "the third is over 5");
    assert_eq!(gc_sends(2), [true, true]);
    assert_eq!(crate_counts(1), [9]);
}

/// The system clock in Unix seconds, as Python's `time()`.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A `rediss://` URL reaches a Redis over TLS: with the CA that issued its certificate
/// (`with_ca`), the buckets are kept there; checked against Mozilla's roots, or against a CA
/// that is not its issuer, the certificate is refused and the request goes through, as for any
/// Redis that cannot answer. Certificate checks cannot be turned off.
#[test]
fn a_redis_over_tls_is_reached_with_its_ca_and_refused_without() {
    let test = "a_redis_over_tls_is_reached_with_its_ca_and_refused_without";
    let (Some(url), Ok(ca)) = (
        std::env::var("NOTIFY_AUTH_REDIS_TLS_URL")
            .ok()
            .filter(|u| !u.is_empty()),
        std::env::var("NOTIFY_AUTH_REDIS_CA"),
    ) else {
        skipped(&format!(
            "{test}: NOTIFY_AUTH_REDIS_TLS_URL is not set (run under scripts/with-redis)"
        ));
        return;
    };
    let ca = std::fs::read(ca).unwrap();
    let runtime = current_thread();
    let key = BucketKey::new(fresh_service(), KeyType::Normal);
    let bucket = Bucket::for_rate_limit(60);
    runtime.block_on(async {
        let trusted = RedisBuckets::with_ca(&url, &ca).unwrap();
        assert_eq!(trusted.tally(&key, bucket, 1_000.0).await.unwrap(), 20);
        assert_eq!(trusted.tally(&key, bucket, 1_000.0).await.unwrap(), 19);
        assert_eq!(trusted.window(&key, 5, 1_000.0).await.unwrap(), 1);

        let mozilla = RedisBuckets::new(&url).unwrap();
        let refused = mozilla.tally(&key, bucket, 1_000.0).await.unwrap_err();
        assert!(refused.to_string().contains("certificate"), "{refused}");
    });
    // A CA of the right shape that did not issue the server's certificate.
    let other = std::process::Command::new("openssl")
        .args(["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=another CA", "-keyout", "/dev/null"])
        .output()
        .unwrap();
    assert!(other.status.success());
    runtime.block_on(async {
        let wrong = RedisBuckets::with_ca(&url, &other.stdout).unwrap();
        assert!(wrong.tally(&key, bucket, 1_000.0).await.is_err());
    });
    for refused in [
        RedisBuckets::with_ca(&format!("{url}#insecure"), &ca),
        RedisBuckets::with_ca(&url.replacen("rediss:", "redis:", 1), &ca),
        RedisBuckets::with_ca(&url, b"not a certificate"),
    ] {
        let e = refused.unwrap_err();
        assert!(
            e.to_string().starts_with("the Redis URL is not usable: "),
            "{e}"
        );
    }
}
