//! The one audit event type every portal component sends, its validation, and its FHIR R4
//! `AuditEvent` form.
//!
//! Components build an [`AuditEvent`] for each audited action, serialize it with
//! [`AuditEvent::to_json`] and post it to the audit component's private ingest route, which
//! parses it with [`AuditEvent::from_json`]. Parsing rejects unknown fields, unknown action
//! and outcome codes, oversized bodies and inconsistent events, so an event can never carry
//! a message body or file content. [`AuditEvent::to_fhir`] maps an event to FHIR R4 for
//! exports.

mod action;
mod event;
mod fhir;
mod validate;

pub use action::{AuditAction, Coding};
pub use event::{AuditActor, AuditEvent, Component, Entity, EntityType, Outcome};
pub use fhir::identifier_system;
pub use validate::{
    AuditValidationError, MAX_CLAIMED_TIME_MS, MAX_ENTITY_ID_LEN, MAX_EVENT_JSON_LEN,
    MAX_JUSTIFICATION_CHARS, MAX_REASON_LEN, MIN_CLAIMED_TIME_MS,
};
