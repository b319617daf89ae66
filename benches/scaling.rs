//! What a request costs as services grow: keys per service (1, 2, 5, 10, 50) and services in
//! the in-memory store (10, 10 000, 1 000 000). `scripts/bench-ratios` prints the table.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use notify_auth::core::authenticate;
use notify_auth::token::create_token_at;
use notify_auth::{ApiKey, KeyType, MemoryStore, Secret, ServiceRecord};
use uuid::Uuid;

const NOW: i64 = 1_795_394_922;

fn secret(service: u128, key: usize) -> String {
    format!("{service:016x}-{key:04x}-48ac-975b-e847b4f122b0")
}

fn service(id: u128, keys: usize) -> ServiceRecord {
    (0..keys).fold(ServiceRecord::new(Uuid::from_u128(id), true), |s, k| {
        let key_id = Uuid::from_u128((id << 16) | k as u128);
        s.with_key(ApiKey::new(
            key_id,
            Secret::new(secret(id, k)),
            KeyType::Normal,
        ))
    })
}

fn header(service: u128, key: usize) -> String {
    let iss = Uuid::from_u128(service).to_string();
    format!(
        "Bearer {}",
        create_token_at(&secret(service, key), &iss, NOW).unwrap()
    )
}

fn keys_per_service(c: &mut Criterion) {
    let mut g = c.benchmark_group("keys_per_service");
    for keys in [1usize, 2, 5, 10, 50] {
        let template = service(1, keys);
        let last = header(1, keys - 1);
        // Cold: a copy of the service that never matched, so the matching key (the last) is
        // found by trying every key before it.
        g.bench_function(format!("{keys}/cold"), |b| {
            b.iter_batched_ref(
                || template.clone(),
                |s| authenticate([last.as_bytes()], NOW, |_| Some(&*s)).unwrap(),
                BatchSize::SmallInput,
            )
        });
        // Warm: the service remembers the key that matched last time.
        let warm = template.clone();
        authenticate([last.as_bytes()], NOW, |_| Some(&warm)).unwrap();
        g.bench_function(format!("{keys}/warm"), |b| {
            b.iter(|| authenticate([black_box(last.as_bytes())], NOW, |_| Some(&warm)).unwrap())
        });
    }
    g.finish();
}

fn services_in_store(c: &mut Criterion) {
    let mut g = c.benchmark_group("services_in_store");
    for count in [10u128, 10_000, 1_000_000] {
        let store = (1..=count)
            .fold(MemoryStore::builder(), |b, id| b.service(service(id, 1)))
            .build()
            .unwrap();
        // Requests for services spread over the store, so lookups are not all cache-hot.
        let headers: Vec<String> = (0..64u128)
            .map(|i| header(1 + i * (count / 64).max(1) % count, 0))
            .collect();
        let mut i = 0;
        g.bench_function(count.to_string(), |b| {
            b.iter(|| {
                i = (i + 1) % headers.len();
                authenticate([headers[i].as_bytes()], NOW, |id| {
                    store.get(id).map(|s| &**s)
                })
                .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(scaling, keys_per_service, services_in_store);
criterion_main!(scaling);
