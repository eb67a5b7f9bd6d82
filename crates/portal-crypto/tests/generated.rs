//! Generated tests: encrypt/decrypt round trips and random bit flips.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

mod common;

use common::{binding, ring_with};
use portal_crypto::{CryptoError, InMemoryCounter, KeyRing, Rewrap};
use proptest::prelude::*;

fn record_id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._:-]{1,128}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_plaintext_round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..4096), id in record_id()) {
        let ring = ring_with(1, 1);
        let record = binding("message", &id);
        let envelope = ring.encrypt(&InMemoryCounter::new(), &record, &plaintext).unwrap();

        let decrypted = ring.decrypt(&record, &envelope).unwrap();
        prop_assert_eq!(decrypted.as_slice(), plaintext.as_slice());
    }

    #[test]
    fn rewrapped_envelope_round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let counter = InMemoryCounter::new();
        let record = binding("file_chunk", "file-1.0");
        let old = ring_with(1, 1).encrypt(&counter, &record, &plaintext).unwrap();

        let rotated = ring_with(2, 1);
        let Rewrap::Rewrapped(new) = rotated.rewrap(&counter, &record, &old).unwrap() else {
            panic!("expected a rewrap");
        };
        prop_assert_eq!(KeyRing::envelope_kek_id(&new).unwrap().version, 2);
        let decrypted = ring_with(2, 2).decrypt(&record, &new).unwrap();
        prop_assert_eq!(decrypted.as_slice(), plaintext.as_slice());
    }

    #[test]
    fn any_flipped_bit_is_rejected(
        plaintext in proptest::collection::vec(any::<u8>(), 0..512),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let ring = ring_with(1, 1);
        let record = binding("message", "msg-1");
        let mut envelope = ring.encrypt(&InMemoryCounter::new(), &record, &plaintext).unwrap();

        let index = position.index(envelope.len());
        envelope[index] ^= 1 << bit;
        let error = ring.decrypt(&record, &envelope).unwrap_err();
        prop_assert!(matches!(
            error,
            CryptoError::BadMagic
                | CryptoError::UnsupportedFormatVersion { .. }
                | CryptoError::UnsupportedSuite { .. }
                | CryptoError::MalformedHeader { .. }
                | CryptoError::Truncated
                | CryptoError::BindingMismatch { .. }
                | CryptoError::UnknownKey { .. }
                | CryptoError::KeyUnwrapFailed
                | CryptoError::DecryptionFailed
        ), "byte {} bit {} gave {:?}", index, bit, error);
    }

    #[test]
    fn other_record_id_is_rejected(id in record_id(), other in record_id()) {
        prop_assume!(id != other);
        let ring = ring_with(1, 1);
        let envelope = ring.encrypt(&InMemoryCounter::new(), &binding("message", &id), b"x").unwrap();

        let error = ring.decrypt(&binding("message", &other), &envelope).unwrap_err();
        prop_assert_eq!(error, CryptoError::KeyUnwrapFailed);
    }

    #[test]
    fn arbitrary_bytes_never_decrypt(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let ring = ring_with(1, 1);
        prop_assert!(ring.decrypt(&binding("message", "m"), &bytes).is_err());
    }
}
