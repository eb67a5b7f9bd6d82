//! The FHIR R4 `AuditEvent` form of an event, following IHE Basic Audit Log Patterns
//! (BALP). Type and subtype use DICOM and HL7 codes. The requesting agent carries its
//! network address and purpose of use, and the server is the source. Entities are the
//! patient, the data record, and the request id as a BALP `XrequestId` entity.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::action::Coding;
use crate::event::{AuditActor, AuditEvent, EntityType};

const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
const NETWORK_TYPE_IP: &str = "2";
const BALP_ENTITY_TYPE: &str = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType";

/// Returns the identifier system for portal ids of a kind, such as `urn:portal:thread`.
pub fn identifier_system(kind: &str) -> String {
    format!("urn:portal:{kind}")
}

impl AuditEvent {
    /// Returns the FHIR R4 `AuditEvent` resource for this event, with `recorded_ms` (Unix
    /// milliseconds, the audit component's receipt time) as `recorded`. `site` names the
    /// deployment, such as `portal-production`.
    pub fn to_fhir(&self, recorded_ms: i64, site: &str) -> Value {
        let purpose = json!([{
            "coding": [coding_json(&Coding {
                system: portal_policy::PurposeOfUse::SYSTEM,
                code: self.purpose.code(),
                display: self.purpose.display(),
            })],
        }]);
        let mut resource = json!({
            "resourceType": "AuditEvent",
            "type": coding_json(&self.action.fhir_type()),
            "subtype": [coding_json(&self.action.fhir_subtype())],
            "action": self.action.fhir_action(),
            "recorded": rfc3339(recorded_ms),
            "outcome": self.outcome.fhir_code(),
            "purposeOfEvent": purpose,
            "agent": [self.requestor_agent(&purpose), self.server_agent()],
            "source": {
                "site": site,
                "observer": {"display": self.component.as_str()},
                "type": [{
                    "system": SOURCE_TYPE,
                    "code": "4",
                    "display": "Application Server",
                }],
            },
            "entity": self.entities(),
        });

        if let Some(reason) = &self.reason {
            resource["outcomeDesc"] = json!(reason);
        }
        if let Some(justification) = &self.justification {
            resource["purposeOfEvent"][0]["text"] = json!(justification);
        }
        resource
    }

    fn requestor_agent(&self, purpose: &Value) -> Value {
        let mut agent = json!({
            "type": {"coding": [coding_json(&Coding {
                system: DICOM,
                code: "110153",
                display: "Source Role ID",
            })]},
            "requestor": true,
            "purposeOfUse": purpose,
        });
        match &self.actor {
            AuditActor::User { id, role } => {
                agent["who"] = identifier("user", id.as_str());
                agent["role"] = json!([{"coding": [{
                    "system": identifier_system("role"),
                    "code": role.as_str(),
                }]}]);
            }
            AuditActor::Service { component } => {
                agent["who"] = json!({"display": component.as_str()});
            }
            AuditActor::Anonymous => {
                agent["who"] = json!({"display": "anonymous"});
            }
        }
        if let Some(address) = self.source_address {
            agent["network"] = json!({"address": address.to_string(), "type": NETWORK_TYPE_IP});
        }
        agent
    }

    fn server_agent(&self) -> Value {
        json!({
            "type": {"coding": [coding_json(&Coding {
                system: DICOM,
                code: "110152",
                display: "Destination Role ID",
            })]},
            "who": {"display": self.component.as_str()},
            "requestor": false,
        })
    }

    fn entities(&self) -> Value {
        let mut entities = Vec::new();

        if let Some(patient) = &self.patient {
            entities.push(json!({
                "what": identifier("patient", patient.as_str()),
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }));
        }
        if self.entity.kind != EntityType::Patient {
            entities.push(json!({
                "what": identifier(self.entity.kind.as_str(), &self.entity.id),
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
            }));
        }
        entities.push(json!({
            "what": {"identifier": {"value": self.request_id.as_str()}},
            "type": {
                "system": BALP_ENTITY_TYPE,
                "code": "XrequestId",
                "display": "transport specific unique identifier where http X-Request-Id is used",
            },
        }));
        Value::Array(entities)
    }
}

fn coding_json(coding: &Coding) -> Value {
    json!({"system": coding.system, "code": coding.code, "display": coding.display})
}

fn identifier(kind: &str, value: &str) -> Value {
    json!({"identifier": {"system": identifier_system(kind), "value": value}})
}

/// Formats Unix milliseconds as RFC 3339 in UTC, such as `2026-03-10T12:00:00.5Z`. Times
/// outside the range of `time` fall back to the Unix epoch.
fn rfc3339(unix_ms: i64) -> String {
    let nanos = i128::from(unix_ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}
