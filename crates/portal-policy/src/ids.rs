//! Entity id newtypes.
//!
//! Every id is an opaque token chosen by the component that creates the entity (a UUID or
//! ULID in practice). One type per entity means a `ThreadId` cannot be passed where a
//! `FileId` is expected. The character set is restricted so that an id can be written to
//! logs, audit events and key-value keys without escaping. It also rejects free text such as
//! a name or an email address, which must never be stored as an id.

use core::fmt;
use core::str::FromStr;

/// Maximum length of an entity id in bytes. A UUID in text form is 36 bytes, a ULID 26.
pub const MAX_ID_LEN: usize = 64;

/// Error returned when a string is not a valid entity id.
///
/// The rejected value is not included, because a malformed id may be user input that
/// contains personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid {kind}: expected 1 to {MAX_ID_LEN} characters from A-Z, a-z, 0-9, '-', '_' and '.'"
)]
pub struct InvalidId {
    /// The id type that failed to parse, such as `PatientId`.
    pub kind: &'static str,
}

/// Checks the id grammar shared by every entity id type.
fn validate(kind: &'static str, value: &str) -> Result<(), InvalidId> {
    let well_formed = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));

    if well_formed {
        Ok(())
    } else {
        Err(InvalidId { kind })
    }
}

macro_rules! entity_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an id, rejecting values outside the id grammar of this module.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                validate(stringify!($name), &value)?;
                Ok(Self(value))
            }

            /// Returns the id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::new(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }
    };
}

entity_id!(
    /// Id of a patient record. A patient may also have a user account, with a different id.
    PatientId
);
entity_id!(
    /// Id of a user account (patient, proxy, clinician, admin or compliance officer).
    UserId
);
entity_id!(
    /// Id of a care team, the unit that clinicians belong to and patients are assigned to.
    CareTeamId
);
entity_id!(
    /// Id of a secure-messaging thread.
    ThreadId
);
entity_id!(
    /// Id of a message within a thread.
    MessageId
);
entity_id!(
    /// Id of an uploaded file.
    FileId
);
entity_id!(
    /// Id of a sign-in session (the `sid` claim of access tokens).
    SessionId
);
entity_id!(
    /// Id of a proxy grant.
    GrantId
);
entity_id!(
    /// Id of a request, propagated between components for logs and audit events.
    RequestId
);

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_accepted() {
        let id = PatientId::new("7f9c2a4e-1b3d-4c5e-9f00-0123456789ab");
        assert!(id.is_ok());
    }

    #[test]
    fn empty_id_is_rejected() {
        assert_eq!(ThreadId::new(""), Err(InvalidId { kind: "ThreadId" }));
    }

    #[test]
    fn email_address_is_rejected() {
        assert_eq!(
            UserId::new("jane@example.com"),
            Err(InvalidId { kind: "UserId" })
        );
    }

    #[test]
    fn overlong_id_is_rejected() {
        let long = "a".repeat(MAX_ID_LEN + 1);
        assert_eq!(FileId::new(long), Err(InvalidId { kind: "FileId" }));
    }

    #[test]
    fn id_round_trips_through_json_as_a_string() {
        let id = SessionId::new("s-1").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"s-1\"");
        assert_eq!(serde_json::from_str::<SessionId>(&json).unwrap(), id);
    }

    #[test]
    fn invalid_id_in_json_is_rejected() {
        let parsed = serde_json::from_str::<SessionId>("\"two words\"");
        assert!(parsed.is_err());
    }
}
