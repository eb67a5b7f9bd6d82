//! Generated tests: sign/verify round trips and tampered tokens.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

mod common;

use common::{ClientKey, NOW, URL, issuer, proof, proof_claims, verifier};
use portal_policy::{PatientId, Role, SessionId, UserId};
use portal_tokens::{AccessGrant, DpopPolicy, DpopRequest, InMemoryReplayGuard, verify_dpop_proof};
use proptest::prelude::*;

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._-]{1,64}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn issued_access_token_round_trips(
        user in id(),
        session in id(),
        role in role(),
        amr in prop::collection::vec("[a-z]{2,5}", 0..4),
        patient in prop::option::of(id()),
        offset in 0i64..=900,
    ) {
        let key = ClientKey::es256(7);
        let grant = AccessGrant {
            user: UserId::new(user).unwrap(),
            role,
            session: SessionId::new(session).unwrap(),
            amr,
            auth_time: NOW - 5,
            acr: "urn:portal:acr:pwd".into(),
            dpop_jkt: key.thumbprint(),
            on_behalf_of: patient.map(|p| PatientId::new(p).unwrap()),
        };
        let token = issuer().issue_access(&grant, NOW).unwrap();
        let now = NOW + offset;
        let proof = proof(&key, &proof_claims(Some(&token), "generated-proof-0001"));

        let access = verifier()
            .verify_access(&token, now)
            .unwrap()
            .confirm(&proof, &DpopRequest::new("GET", URL), NOW, &DpopPolicy::default(), &InMemoryReplayGuard::new())
            .unwrap();
        prop_assert_eq!(access.user, grant.user);
        prop_assert_eq!(access.role, grant.role);
        prop_assert_eq!(access.session, grant.session);
        prop_assert_eq!(access.amr, grant.amr);
        prop_assert_eq!(access.on_behalf_of, grant.on_behalf_of);
        prop_assert_eq!(access.expires_at, NOW + 900);
    }

    #[test]
    fn any_changed_token_character_is_rejected(position in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_-]") {
        let key = ClientKey::es256(7);
        let token = issuer().issue_access(&common::access_grant(&key.thumbprint()), NOW).unwrap();
        let index = position.index(token.len());
        let original = &token[index..=index];
        prop_assume!(original != "." && original != replacement.as_str());

        let mut tampered = token.clone();
        tampered.replace_range(index..=index, &replacement);
        prop_assert!(verifier().verify_access(&tampered, NOW).is_err());
    }

    #[test]
    fn proof_with_any_jti_verifies_once(jti in "[A-Za-z0-9_-]{16,128}", eddsa in any::<bool>()) {
        let key = if eddsa { ClientKey::eddsa(8) } else { ClientKey::es256(7) };
        let proof = proof(&key, &proof_claims(None, &jti));
        let guard = InMemoryReplayGuard::new();
        let request = DpopRequest::new("GET", URL);
        let policy = DpopPolicy::default();

        let verified = verify_dpop_proof(&proof, &request, NOW, &policy, &guard).unwrap();
        prop_assert_eq!(verified.jti, jti);
        prop_assert!(verify_dpop_proof(&proof, &request, NOW, &policy, &guard).is_err());
    }
}
