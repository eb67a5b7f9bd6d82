//! WebAuthn assertion checks natively, for ES256 and EdDSA: the cost a passkey sign-in adds
//! to the auth component beyond its store reads.

use criterion::{Criterion, criterion_group, criterion_main};
use portal_auth::webauthn::software::SoftwareAuthenticator;
use portal_auth::webauthn::{RelyingParty, verify_assertion, verify_registration};

const ORIGIN: &str = "https://portal.example.org";

fn assertions(c: &mut Criterion) {
    let Some(rp) = RelyingParty::for_origin(ORIGIN) else {
        panic!("the origin parses");
    };
    let challenge = [7u8; 32];
    let mut group = c.benchmark_group("webauthn_verify_assertion");
    for (name, mut device) in [
        ("es256", SoftwareAuthenticator::es256(&rp.id, ORIGIN)),
        ("eddsa", SoftwareAuthenticator::eddsa(&rp.id, ORIGIN)),
    ] {
        let registration = device.register(&challenge, b"user");
        let Ok(credential) = verify_registration(
            &rp,
            &challenge,
            &registration.client_data_json,
            &registration.attestation_object,
            true,
        ) else {
            panic!("the registration verifies");
        };
        let assertion = device.assert(&challenge);
        group.bench_function(name, |b| {
            b.iter(|| {
                verify_assertion(
                    &rp,
                    &credential,
                    &challenge,
                    &assertion.client_data_json,
                    &assertion.authenticator_data,
                    &assertion.signature,
                    true,
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, assertions);
criterion_main!(benches);
