//! Validation of audit events: required fields, consistency and size limits.

use portal_policy::Role;

use crate::event::{AuditActor, AuditEvent};

/// Largest serialized event the ingest route accepts, in bytes. A valid event with every
/// field at its maximum is under 1.5 KiB.
pub const MAX_EVENT_JSON_LEN: usize = 4 * 1024;
/// Maximum length of an entity id, as for `portal_policy` ids.
pub const MAX_ENTITY_ID_LEN: usize = 64;
/// Maximum length of a reason code.
pub const MAX_REASON_LEN: usize = 64;
/// Maximum length of a break-the-glass justification, in characters, as in
/// `portal_policy::MAX_BREAK_GLASS_REASON_CHARS`.
pub const MAX_JUSTIFICATION_CHARS: usize = portal_policy::MAX_BREAK_GLASS_REASON_CHARS;
/// Earliest accepted claimed time: 2020-01-01T00:00:00Z, in Unix milliseconds.
pub const MIN_CLAIMED_TIME_MS: i64 = 1_577_836_800_000;
/// Latest accepted claimed time: 2200-01-01T00:00:00Z, in Unix milliseconds.
pub const MAX_CLAIMED_TIME_MS: i64 = 7_258_118_400_000;

/// The reason an audit event was rejected. The ingest route returns it to the sending
/// component, which treats it as a bug, so the action fails closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditValidationError {
    /// The JSON is larger than [`MAX_EVENT_JSON_LEN`].
    #[error("audit event is larger than {MAX_EVENT_JSON_LEN} bytes")]
    TooLarge,
    /// The JSON does not parse as an event: a missing or unknown field, or an unknown code.
    #[error("audit event does not match the schema: {0}")]
    Schema(String),
    /// A field is missing for this action.
    #[error("audit event field {field} is required for this action")]
    MissingField {
        /// The field name.
        field: &'static str,
    },
    /// A field is present but must not be for this action or actor.
    #[error("audit event field {field} is not allowed here")]
    UnexpectedField {
        /// The field name.
        field: &'static str,
    },
    /// A field has an invalid value.
    #[error("audit event field {field} is invalid: {problem}")]
    InvalidField {
        /// The field name.
        field: &'static str,
        /// The problem, without the value.
        problem: &'static str,
    },
}

impl AuditEvent {
    /// Parses and validates an event from the ingest route's request body.
    pub fn from_json(body: &[u8]) -> Result<Self, AuditValidationError> {
        if body.len() > MAX_EVENT_JSON_LEN {
            return Err(AuditValidationError::TooLarge);
        }
        let event: AuditEvent = serde_json::from_slice(body)
            .map_err(|error| AuditValidationError::Schema(schema_problem(&error)))?;
        event.validate()?;
        Ok(event)
    }

    /// Serializes the event after validating it, for the sending component.
    pub fn to_json(&self) -> Result<String, AuditValidationError> {
        self.validate()?;
        serde_json::to_string(self).map_err(|error| AuditValidationError::Schema(error.to_string()))
    }

    /// Checks the rules the types alone cannot express.
    pub fn validate(&self) -> Result<(), AuditValidationError> {
        use AuditValidationError::{InvalidField, MissingField, UnexpectedField};

        if !is_id(&self.entity.id) {
            return Err(InvalidField {
                field: "entity.id",
                problem: "expected 1 to 64 characters from A-Z, a-z, 0-9, '-', '_' and '.'",
            });
        }
        if !self.action.entity_types().contains(&self.entity.kind) {
            return Err(InvalidField {
                field: "entity.type",
                problem: "entity type does not fit the action",
            });
        }
        if !(MIN_CLAIMED_TIME_MS..MAX_CLAIMED_TIME_MS).contains(&self.claimed_time_ms) {
            return Err(InvalidField {
                field: "claimed_time_ms",
                problem: "expected Unix milliseconds between 2020 and 2200",
            });
        }

        if self.action.requires_patient() && self.patient.is_none() {
            return Err(MissingField { field: "patient" });
        }
        let is_proxy = matches!(
            self.actor,
            AuditActor::User {
                role: Role::Proxy,
                ..
            }
        );
        match (&self.on_behalf_of, is_proxy && self.patient.is_some()) {
            (None, true) => {
                return Err(MissingField {
                    field: "on_behalf_of",
                });
            }
            (Some(_), false) => {
                return Err(UnexpectedField {
                    field: "on_behalf_of",
                });
            }
            // A refused attempt may touch another patient's record than the one acted for.
            (Some(patient), true)
                if Some(patient) != self.patient.as_ref()
                    && self.outcome == crate::Outcome::Success =>
            {
                return Err(InvalidField {
                    field: "on_behalf_of",
                    problem: "must equal patient when the action succeeded",
                });
            }
            _ => {}
        }

        if let Some(reason) = &self.reason
            && !is_reason_code(reason)
        {
            return Err(InvalidField {
                field: "reason",
                problem: "expected 1 to 64 characters from a-z, 0-9 and '_'",
            });
        }

        let break_the_glass = self.action == crate::AuditAction::BreakTheGlass;
        match (&self.justification, break_the_glass) {
            (None, true) => {
                return Err(MissingField {
                    field: "justification",
                });
            }
            (Some(_), false) => {
                return Err(UnexpectedField {
                    field: "justification",
                });
            }
            (Some(text), true) if !is_justification(text) => {
                return Err(InvalidField {
                    field: "justification",
                    problem: "expected 1 to 500 characters without control characters",
                });
            }
            _ => {}
        }
        Ok(())
    }
}

fn is_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_ENTITY_ID_LEN
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
}

fn is_reason_code(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REASON_LEN
        && value
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

fn is_justification(value: &str) -> bool {
    let length = value.trim().chars().count();
    (1..=MAX_JUSTIFICATION_CHARS).contains(&length) && !value.chars().any(char::is_control)
}

/// Describes a serde error by category and position only, because the message of an
/// unknown-variant or invalid-type error quotes the offending value, which may be content
/// that was never meant for the audit log.
fn schema_problem(error: &serde_json::Error) -> String {
    let category = match error.classify() {
        serde_json::error::Category::Io => "unreadable input",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Data => "missing, unknown or invalid field",
    };
    format!(
        "{category} at line {} column {}",
        error.line(),
        error.column()
    )
}
