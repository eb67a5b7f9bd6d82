//! Argon2id at the production parameters, natively: the ceiling for logins per second per
//! core that the auth component can approach inside WebAssembly.

use criterion::{Criterion, criterion_group, criterion_main};
use portal_auth::password::{HashParams, PasswordHasher};

fn argon2id(c: &mut Criterion) {
    let Ok(hasher) = PasswordHasher::new(HashParams::OWASP_MINIMUM) else {
        panic!("OWASP's minimum parameters must be accepted");
    };
    let Ok(stored) = hasher.hash("quiet-harbor-lantern") else {
        panic!("hashing failed");
    };
    let mut group = c.benchmark_group("argon2id_m19456_t2_p1");
    group.sample_size(20);
    group.bench_function("verify", |b| {
        b.iter(|| hasher.verify("quiet-harbor-lantern", &stored))
    });
    group.finish();
}

criterion_group!(benches, argon2id);
criterion_main!(benches);
