//! Audit event validation and the FHIR R4 mapping.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

use std::collections::HashSet;

use portal_audit::{
    AuditAction, AuditActor, AuditEvent, AuditValidationError, Component, Entity, EntityType,
    MAX_EVENT_JSON_LEN, Outcome,
};
use portal_policy::{PatientId, PurposeOfUse, RequestId, Role, UserId};
use serde_json::{Value, json};

/// 2026-03-10T12:00:00.250Z.
const CLAIMED_MS: i64 = 1_773_144_000_250;

fn thread_read() -> AuditEvent {
    AuditEvent {
        actor: AuditActor::User {
            id: UserId::new("user-clinician").unwrap(),
            role: Role::Clinician,
        },
        on_behalf_of: None,
        action: AuditAction::ThreadRead,
        entity: Entity {
            kind: EntityType::Thread,
            id: "thread-1".into(),
        },
        patient: Some(PatientId::new("patient-1").unwrap()),
        outcome: Outcome::Success,
        claimed_time_ms: CLAIMED_MS,
        source_address: Some("203.0.113.7".parse().unwrap()),
        purpose: PurposeOfUse::Treatment,
        component: Component::Messaging,
        request_id: RequestId::new("req-42").unwrap(),
        reason: Some("care_team_member".into()),
        justification: None,
    }
}

fn json_of(event: &AuditEvent) -> Value {
    serde_json::to_value(event).unwrap()
}

fn parse(value: &Value) -> Result<AuditEvent, AuditValidationError> {
    AuditEvent::from_json(value.to_string().as_bytes())
}

fn assert_schema_error(result: Result<AuditEvent, AuditValidationError>) {
    assert!(
        matches!(result, Err(AuditValidationError::Schema(_))),
        "{result:?}"
    );
}

#[test]
fn valid_event_round_trips() {
    let event = thread_read();
    let json = event.to_json().unwrap();
    assert_eq!(AuditEvent::from_json(json.as_bytes()).unwrap(), event);
}

#[test]
fn serialized_form_uses_codes() {
    let value = json_of(&thread_read());
    assert_eq!(value["action"], "messaging.thread_read");
    assert_eq!(value["outcome"], "success");
    assert_eq!(value["purpose"], "TREAT");
    assert_eq!(
        value["actor"],
        json!({"kind": "user", "id": "user-clinician", "role": "clinician"})
    );
    assert_eq!(value["entity"], json!({"type": "thread", "id": "thread-1"}));
}

#[test]
fn message_body_field_is_rejected() {
    let mut value = json_of(&thread_read());
    value["body"] = json!("Patient reports chest pain");
    assert_schema_error(parse(&value));
}

#[test]
fn unknown_entity_field_is_rejected() {
    let mut value = json_of(&thread_read());
    value["entity"]["content"] = json!("JVBERi0xLjQK");
    assert_schema_error(parse(&value));
}

#[test]
fn unknown_action_and_outcome_codes_are_rejected() {
    let mut action = json_of(&thread_read());
    action["action"] = json!("messaging.thread_deleted");
    assert_schema_error(parse(&action));

    let mut outcome = json_of(&thread_read());
    outcome["outcome"] = json!("partial");
    assert_schema_error(parse(&outcome));

    let mut purpose = json_of(&thread_read());
    purpose["purpose"] = json!("MARKETING");
    assert_schema_error(parse(&purpose));
}

#[test]
fn missing_required_fields_are_rejected() {
    for field in [
        "actor",
        "action",
        "entity",
        "outcome",
        "claimed_time_ms",
        "purpose",
        "component",
        "request_id",
    ] {
        let mut value = json_of(&thread_read());
        value.as_object_mut().unwrap().remove(field);
        assert_schema_error(parse(&value));
    }
}

#[test]
fn schema_error_does_not_echo_content() {
    let mut value = json_of(&thread_read());
    value["action"] = json!("Jane Doe tested positive");
    let error = parse(&value).unwrap_err().to_string();
    assert!(!error.contains("Jane"), "{error}");
}

#[test]
fn oversized_event_is_rejected() {
    let body = vec![b' '; MAX_EVENT_JSON_LEN + 1];
    assert_eq!(
        AuditEvent::from_json(&body),
        Err(AuditValidationError::TooLarge)
    );
}

#[test]
fn free_text_entity_id_is_rejected() {
    let mut event = thread_read();
    event.entity.id = "Jane Doe's chest X-ray".into();
    assert!(matches!(
        event.validate(),
        Err(AuditValidationError::InvalidField {
            field: "entity.id",
            ..
        })
    ));
}

#[test]
fn entity_type_must_fit_action() {
    let mut event = thread_read();
    event.entity.kind = EntityType::File;
    assert!(matches!(
        event.validate(),
        Err(AuditValidationError::InvalidField {
            field: "entity.type",
            ..
        })
    ));
}

#[test]
fn patient_is_required_for_patient_data() {
    let mut event = thread_read();
    event.patient = None;
    assert_eq!(
        event.validate(),
        Err(AuditValidationError::MissingField { field: "patient" })
    );
}

#[test]
fn proxy_event_needs_on_behalf_of() {
    let mut event = thread_read();
    event.actor = AuditActor::User {
        id: UserId::new("user-parent").unwrap(),
        role: Role::Proxy,
    };
    event.purpose = PurposeOfUse::FamilyRequested;
    assert_eq!(
        event.validate(),
        Err(AuditValidationError::MissingField {
            field: "on_behalf_of"
        })
    );

    event.on_behalf_of = Some(PatientId::new("patient-2").unwrap());
    assert!(matches!(
        event.validate(),
        Err(AuditValidationError::InvalidField {
            field: "on_behalf_of",
            ..
        })
    ));

    event.on_behalf_of = event.patient.clone();
    assert_eq!(event.validate(), Ok(()));

    // A refused attempt on another patient's record names the patient the proxy acts for.
    event.on_behalf_of = Some(PatientId::new("patient-2").unwrap());
    event.outcome = Outcome::MinorFailure;
    event.reason = Some("no_grant".into());
    assert_eq!(event.validate(), Ok(()));
}

#[test]
fn on_behalf_of_is_rejected_for_non_proxies() {
    let mut event = thread_read();
    event.on_behalf_of = event.patient.clone();
    assert_eq!(
        event.validate(),
        Err(AuditValidationError::UnexpectedField {
            field: "on_behalf_of"
        })
    );
}

#[test]
fn break_the_glass_needs_justification() {
    let mut event = thread_read();
    event.action = AuditAction::BreakTheGlass;
    event.purpose = PurposeOfUse::EmergencyTreatment;
    assert_eq!(
        event.validate(),
        Err(AuditValidationError::MissingField {
            field: "justification"
        })
    );

    event.justification = Some("unconscious\non arrival".into());
    assert!(matches!(
        event.validate(),
        Err(AuditValidationError::InvalidField {
            field: "justification",
            ..
        })
    ));

    event.justification = Some("unconscious on arrival in the emergency department".into());
    assert_eq!(event.validate(), Ok(()));
}

#[test]
fn justification_is_rejected_outside_break_the_glass() {
    let mut event = thread_read();
    event.justification = Some("curious".into());
    assert_eq!(
        event.validate(),
        Err(AuditValidationError::UnexpectedField {
            field: "justification"
        })
    );
}

#[test]
fn invalid_reason_code_is_rejected() {
    let mut event = thread_read();
    event.reason = Some("Access Denied!".into());
    assert!(matches!(
        event.validate(),
        Err(AuditValidationError::InvalidField {
            field: "reason",
            ..
        })
    ));
}

#[test]
fn claimed_time_outside_range_is_rejected() {
    for time in [0, 1_500_000_000_000, 9_000_000_000_000] {
        let mut event = thread_read();
        event.claimed_time_ms = time;
        assert!(
            matches!(
                event.validate(),
                Err(AuditValidationError::InvalidField {
                    field: "claimed_time_ms",
                    ..
                })
            ),
            "{time}"
        );
    }
}

#[test]
fn to_json_refuses_invalid_event() {
    let mut event = thread_read();
    event.patient = None;
    assert!(event.to_json().is_err());
}

#[test]
fn anonymous_failed_sign_in_is_valid() {
    let event = AuditEvent {
        actor: AuditActor::Anonymous,
        action: AuditAction::SignIn,
        entity: Entity {
            kind: EntityType::Session,
            id: "attempt-9".into(),
        },
        patient: None,
        outcome: Outcome::MinorFailure,
        purpose: PurposeOfUse::SystemAdministration,
        component: Component::Auth,
        reason: Some("invalid_credentials".into()),
        ..thread_read()
    };
    assert_eq!(event.validate(), Ok(()));
}

#[test]
fn action_codes_are_unique_and_complete() {
    let codes: HashSet<&str> = AuditAction::ALL
        .iter()
        .map(|action| action.code())
        .collect();
    assert_eq!(codes.len(), AuditAction::ALL.len());
    for action in AuditAction::ALL {
        let serialized = serde_json::to_value(action).unwrap();
        assert_eq!(serialized, json!(action.code()));
        assert!(!action.entity_types().is_empty());
        assert!(["C", "R", "U", "D", "E"].contains(&action.fhir_action()));
    }
}

#[test]
fn fhir_form_follows_balp_patterns() {
    let fhir = thread_read().to_fhir(CLAIMED_MS + 50, "portal-test");

    assert_eq!(fhir["resourceType"], "AuditEvent");
    assert_eq!(fhir["type"]["code"], "rest");
    assert_eq!(fhir["subtype"][0]["code"], "read");
    assert_eq!(
        fhir["subtype"][0]["system"],
        "http://hl7.org/fhir/restful-interaction"
    );
    assert_eq!(fhir["action"], "R");
    assert_eq!(fhir["recorded"], "2026-03-10T12:00:00.3Z");
    assert_eq!(fhir["outcome"], "0");
    assert_eq!(fhir["outcomeDesc"], "care_team_member");
    assert_eq!(fhir["purposeOfEvent"][0]["coding"][0]["code"], "TREAT");
    assert_eq!(
        fhir["purposeOfEvent"][0]["coding"][0]["system"],
        "http://terminology.hl7.org/CodeSystem/v3-ActReason"
    );

    let requestor = &fhir["agent"][0];
    assert_eq!(requestor["requestor"], true);
    assert_eq!(requestor["type"]["coding"][0]["code"], "110153");
    assert_eq!(requestor["who"]["identifier"]["value"], "user-clinician");
    assert_eq!(requestor["role"][0]["coding"][0]["code"], "clinician");
    assert_eq!(
        requestor["network"],
        json!({"address": "203.0.113.7", "type": "2"})
    );
    assert_eq!(fhir["agent"][1]["type"]["coding"][0]["code"], "110152");
    assert_eq!(fhir["source"]["observer"]["display"], "messaging");
    assert_eq!(fhir["source"]["type"][0]["code"], "4");

    let entities = fhir["entity"].as_array().unwrap();
    assert_eq!(entities.len(), 3);
    assert_eq!(entities[0]["role"]["code"], "1");
    assert_eq!(entities[0]["what"]["identifier"]["value"], "patient-1");
    assert_eq!(
        entities[1]["what"]["identifier"]["system"],
        "urn:portal:thread"
    );
    assert_eq!(entities[2]["type"]["code"], "XrequestId");
    assert_eq!(entities[2]["what"]["identifier"]["value"], "req-42");
}

#[test]
fn fhir_form_of_break_the_glass_carries_justification() {
    let mut event = thread_read();
    event.action = AuditAction::BreakTheGlass;
    event.entity = Entity {
        kind: EntityType::Patient,
        id: "patient-1".into(),
    };
    event.purpose = PurposeOfUse::EmergencyTreatment;
    event.justification = Some("unconscious on arrival".into());
    event.outcome = Outcome::Success;

    let fhir = event.to_fhir(CLAIMED_MS, "portal-test");
    assert_eq!(fhir["type"]["code"], "110113");
    assert_eq!(fhir["subtype"][0]["code"], "110127");
    assert_eq!(fhir["purposeOfEvent"][0]["coding"][0]["code"], "ETREAT");
    assert_eq!(fhir["purposeOfEvent"][0]["text"], "unconscious on arrival");
    assert_eq!(
        fhir["entity"].as_array().unwrap().len(),
        2,
        "patient entity is not repeated"
    );
}

#[test]
fn fhir_outcome_codes_follow_r4() {
    let codes: Vec<&str> = [
        Outcome::Success,
        Outcome::MinorFailure,
        Outcome::SeriousFailure,
        Outcome::MajorFailure,
    ]
    .into_iter()
    .map(Outcome::fhir_code)
    .collect();
    assert_eq!(codes, ["0", "4", "8", "12"]);
}
