//! A thread exported for the clinical record as a FHIR R4 `Bundle` of `Communication`
//! resources, one per message.

use portal_audit::{AuditAction, EntityType, Outcome};
use portal_policy::{Action, Reason, Role};
use portal_problem::Problem;
use portal_spin::Response;
use serde_json::{Value, json};
use spin_sdk::http::{Request, StatusCode};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::context::{self, Context, Event};
use crate::model::{Category, MessageRecord, ThreadRecord};
use crate::threads;

/// The code system of the portal's thread categories.
const CATEGORY_SYSTEM: &str = "urn:portal:messaging-category";

fn instant(unix_secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn identifier(kind: &str, value: &str) -> Value {
    json!({ "system": format!("urn:portal:{kind}"), "value": value })
}

/// A reference by identifier to a user, typed by the role they wrote in.
fn user_reference(user: &str, role: Role) -> Value {
    let kind = match role {
        Role::Patient => "Patient",
        // A parent, guardian or caregiver writing for the patient.
        Role::Proxy => "RelatedPerson",
        _ => "Practitioner",
    };
    json!({ "type": kind, "identifier": identifier("user", user) })
}

fn category(category: Category) -> Value {
    let display = match category {
        Category::General => "General",
        Category::Billing => "Billing",
        Category::Clinical => "Clinical",
        Category::Sensitive => "Sensitive",
    };
    json!([{ "coding": [{ "system": CATEGORY_SYSTEM, "code": category.code(), "display": display }] }])
}

/// The `Communication` resource of one message.
fn communication(
    thread: &ThreadRecord,
    subject: &str,
    message: &MessageRecord,
    body: &str,
    previous: Option<&MessageRecord>,
) -> Value {
    let recipient = if matches!(message.sender_role, Role::Patient | Role::Proxy) {
        json!({ "type": "CareTeam", "identifier": identifier("care_team", thread.care_team.as_str()) })
    } else {
        json!({ "type": "Patient", "identifier": identifier("patient", thread.patient.as_str()) })
    };
    let mut payload = vec![json!({ "contentString": body })];
    payload.extend(message.attachments.iter().map(|file| {
        json!({ "contentReference": {
            "type": "DocumentReference",
            "identifier": identifier("file", file.as_str()),
        } })
    }));
    let mut resource = json!({
        "resourceType": "Communication",
        "id": message.id,
        "identifier": [identifier("message", message.id.as_str())],
        "status": "completed",
        "category": category(thread.category),
        "subject": { "type": "Patient", "identifier": identifier("patient", thread.patient.as_str()) },
        "topic": { "text": subject },
        "sent": instant(message.sent_at),
        "sender": user_reference(message.sender.as_str(), message.sender_role),
        "recipient": [recipient],
        "payload": payload,
    });
    if let Some(previous) = previous {
        resource["inResponseTo"] =
            json!([{ "reference": format!("Communication/{}", previous.id.as_str()) }]);
    }
    resource
}

/// `GET /messages/threads/<id>/export`: the thread as a FHIR R4 `Bundle` (type `collection`)
/// of `Communication` resources, oldest first. Needs step-up; the export is recorded before
/// it is returned.
pub async fn export(cx: &Context, request: &Request, id: &str) -> Result<Response, Problem> {
    let caller = cx.caller(request).await?;
    let (thread, decision) = threads::authorize(
        cx,
        &caller,
        id,
        Action::ReadThread,
        AuditAction::ThreadExported,
    )
    .await?;
    // A proxy exports only where the policy lets them export the record (a guardian of a
    // child under 12); reading a thread is not enough.
    if caller.role == Role::Proxy {
        let patient = context::patient_facts(&caller, &thread.patient);
        let mut policy = portal_policy::Context::at(cx.now);
        policy.step_up_window_secs = cx.settings.step_up_window_secs;
        let record = portal_policy::decide(
            &caller.actor(),
            Action::ExportRecord,
            &portal_policy::Resource::PatientRecord { patient: &patient },
            &policy,
        );
        if !record.is_allowed() && record.reason != Reason::StepUpRequired {
            return Err(cx
                .deny(&caller, AuditAction::ThreadExported, &thread, record)
                .await);
        }
    }
    if !cx.stepped_up(&caller) {
        cx.audit(
            &caller,
            Event {
                action: AuditAction::ThreadExported,
                entity: (EntityType::Thread, thread.id.as_str()),
                patient: Some(&thread.patient),
                outcome: Outcome::MinorFailure,
                reason: Some(Reason::StepUpRequired.code()),
                purpose: Some(decision.purpose),
            },
        )
        .await?;
        return Err(context::denial_problem(Reason::StepUpRequired)
            .with_detail("exporting a thread needs a recent second factor; confirm it and retry"));
    }
    cx.audit(
        &caller,
        Event::success(
            AuditAction::ThreadExported,
            (EntityType::Thread, thread.id.as_str()),
            &thread.patient,
            decision.purpose,
        ),
    )
    .await?;
    let subject = threads::subject(cx, &thread)?;
    let mut entries = Vec::with_capacity(thread.messages.len());
    let mut previous: Option<MessageRecord> = None;
    for index in 0..thread.messages.len() {
        let message = threads::load_message(cx, &thread, index)?;
        let body = threads::body(cx, &message)?;
        let resource = communication(&thread, &subject, &message, &body, previous.as_ref());
        entries.push(json!({
            "fullUrl": format!("urn:portal:message:{}", message.id.as_str()),
            "resource": resource,
        }));
        previous = Some(message);
    }
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "collection",
        "identifier": identifier("thread", thread.id.as_str()),
        "timestamp": instant(cx.now),
        "entry": entries,
    });
    let mut response = portal_spin::json_no_store(StatusCode::OK, &bundle);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/fhir+json"),
    );
    Ok(response)
}
