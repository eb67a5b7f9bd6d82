//! Envelope encryption and decryption throughput at 1 KiB and 1 MiB.
//!
//! Run with `cargo bench -p portal-crypto --bench envelope`.

#![expect(
    clippy::expect_used,
    reason = "a benchmark stops on a setup error by panicking"
)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portal_crypto::{
    Domain, DomainKeys, InMemoryCounter, KeyRing, RecordBinding, SecretKey, TenantId,
};
use std::hint::black_box;
use std::time::Duration;

fn ring() -> KeyRing {
    let tenant = TenantId::new("acme").expect("valid tenant");
    let keys = DomainKeys::new(
        tenant,
        Domain::Messaging,
        1,
        1,
        [(1, SecretKey::from_bytes([7; 32]))],
    )
    .expect("valid key set");
    let mut ring = KeyRing::new();
    ring.insert(keys);
    ring
}

fn envelope(c: &mut Criterion) {
    let ring = ring();
    let counter = InMemoryCounter::new();
    let tenant = TenantId::new("acme").expect("valid tenant");
    let binding = RecordBinding::new(tenant, Domain::Messaging, "message", "msg-0001")
        .expect("valid binding");

    let mut group = c.benchmark_group("envelope");
    for (label, size) in [("1KiB", 1024usize), ("1MiB", 1024 * 1024)] {
        let plaintext = vec![0x5A; size];
        let sealed = ring
            .encrypt(&counter, &binding, &plaintext)
            .expect("encryption succeeds");
        group.throughput(Throughput::Bytes(size as u64));

        group.bench_with_input(
            BenchmarkId::new("encrypt", label),
            &plaintext,
            |b, input| b.iter(|| ring.encrypt(&counter, &binding, black_box(input))),
        );
        group.bench_with_input(BenchmarkId::new("decrypt", label), &sealed, |b, input| {
            b.iter(|| ring.decrypt(&binding, black_box(input)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = envelope
}
criterion_main!(benches);
