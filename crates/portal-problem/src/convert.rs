//! Conversions from the other shared crates' errors. Each keeps the internal cause out of
//! the response: components log the original error before converting it.

use portal_audit::AuditValidationError;
use portal_crypto::CryptoError;
use portal_policy::Reason;
use portal_tokens::{DpopError, TokenError};

use crate::kind::ProblemKind;
use crate::problem::Problem;

impl From<TokenError> for Problem {
    /// Every token failure becomes a sign-in prompt. The log keeps the cause.
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::IssueFailed => Problem::new(ProblemKind::Internal),
            _ => Problem::new(ProblemKind::Unauthenticated),
        }
    }
}

impl From<DpopError> for Problem {
    fn from(error: DpopError) -> Self {
        match error {
            DpopError::ReplayStore(_) => Problem::new(ProblemKind::ServiceUnavailable),
            _ => Problem::new(ProblemKind::Unauthenticated),
        }
    }
}

impl From<CryptoError> for Problem {
    /// Field validation errors name the field, and counter and randomness failures are
    /// temporary. Every other failure is an integrity or configuration error that the user
    /// cannot fix, so its cause stays in the log.
    fn from(error: CryptoError) -> Self {
        match error {
            CryptoError::InvalidField { kind, .. } => {
                Problem::invalid_field(field_name(kind)).with_detail(field_detail(kind))
            }
            CryptoError::Counter(_)
            | CryptoError::Randomness
            | CryptoError::CeilingReached { .. } => Problem::new(ProblemKind::ServiceUnavailable),
            _ => Problem::new(ProblemKind::Internal),
        }
    }
}

impl From<AuditValidationError> for Problem {
    /// For the audit ingest route: the sending component gets the field at fault.
    fn from(error: AuditValidationError) -> Self {
        match error {
            AuditValidationError::TooLarge => {
                Problem::payload_too_large(portal_audit::MAX_EVENT_JSON_LEN as u64)
            }
            AuditValidationError::MissingField { field }
            | AuditValidationError::InvalidField { field, .. } => Problem::invalid_field(field),
            AuditValidationError::UnexpectedField { field } => Problem::unknown_field(field),
            _ => Problem::new(ProblemKind::BadRequest),
        }
    }
}

impl Problem {
    /// Converts a policy denial. Step-up becomes a 401, to which the client responds by
    /// re-authenticating. A clinician outside the care team is pointed to break-the-glass.
    /// Every other denial is a plain 403 that does not reveal which rule applied.
    pub fn from_denial(reason: Reason) -> Self {
        match reason {
            Reason::StepUpRequired => Problem::new(ProblemKind::StepUpRequired),
            Reason::BreakGlassReasonMissing => Problem::invalid_field("break_glass_reason")
                .with_detail("Give a reason of at least 10 characters for emergency access."),
            Reason::NotOnCareTeam => Problem::new(ProblemKind::Forbidden).with_detail(
                "You are not on this patient's care team. In an emergency, request break-the-glass access and give a reason.",
            ),
            _ => Problem::new(ProblemKind::Forbidden),
        }
    }
}

fn field_name(kind: portal_crypto::FieldKind) -> &'static str {
    match kind {
        portal_crypto::FieldKind::Email => "email",
        portal_crypto::FieldKind::Ssn => "ssn",
        portal_crypto::FieldKind::Phone => "phone",
        portal_crypto::FieldKind::PaymentToken => "payment_token",
        portal_crypto::FieldKind::MedicalRecordNumber => "medical_record_number",
    }
}

fn field_detail(kind: portal_crypto::FieldKind) -> &'static str {
    match kind {
        portal_crypto::FieldKind::Email => "Enter an email address such as name@example.com.",
        portal_crypto::FieldKind::Ssn => "Enter the 9 digits of the Social Security number.",
        portal_crypto::FieldKind::Phone => {
            "Enter the phone number with its country code, such as +1 415 555 0100."
        }
        portal_crypto::FieldKind::PaymentToken => {
            "The payment could not be saved. Start the payment again."
        }
        portal_crypto::FieldKind::MedicalRecordNumber => {
            "Enter the medical record number using letters and digits only."
        }
    }
}
