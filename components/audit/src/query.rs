//! Reading the log: searches through secondary indexes, and exports for compliance officers.
//!
//! Each appended event is indexed by patient, by user actor and by action. An index is a
//! counter of slots (`<index>:n`, taken with an atomic increment) and one key per slot holding
//! the log index, so writers never contend on a shared list. Searches walk one index newest
//! first, or the log itself when no indexed filter is given, and apply every other filter to
//! the entries they read.
//!
//! Who may read what: compliance officers every event; patients only events about their own
//! record ("who looked at my chart"); admins only events that concern no patient. Every read is
//! itself recorded before its answer is returned.

use base64ct::Encoding;
use portal_audit::{AuditAction, AuditActor, AuditEvent, Component, Entity, EntityType, Outcome};
use portal_auditlog::AuditLog;
use portal_policy::{PatientId, PurposeOfUse, RequestId, Role};
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::access::Caller;
use portal_spin::kv::{SpinLogStore, Store};
use serde::Deserialize;
use spin_sdk::http::{Request, StatusCode};

use crate::{LOG_PREFIX, STORE};

/// Most events one search returns.
const MAX_PAGE: usize = 100;
/// Most entries one search reads before it returns what it found and a cursor.
const MAX_SCAN: usize = 1_000;
/// Most entries one export returns; larger exports are taken in ranges.
const MAX_EXPORT: u64 = 10_000;

/// A stored entry as the ingest route wrote it.
#[derive(Deserialize)]
struct Entry {
    received_at_ms: i64,
    event: AuditEvent,
}

/// Writes the secondary indexes of an appended event. A failure leaves the event in the log
/// but missing from searches, so it is logged loudly.
///
/// TODO: a reindex job that walks the log and fills index slots a failed write left out.
pub fn index_event(index: u64, event: &AuditEvent) {
    let Ok(store) = Store::open(STORE) else {
        eprintln!("audit index unavailable; entry {index} is not indexed");
        return;
    };
    for key in index_keys(event) {
        let written = store
            .increment(&format!("{key}:n"), 1)
            .and_then(|slot| store.set(&format!("{key}:{slot}"), &index));
        if written.is_err() {
            eprintln!("audit index write failed; entry {index} is missing from one index");
        }
    }
}

fn index_keys(event: &AuditEvent) -> Vec<String> {
    let mut keys = vec![format!("ix:action:{}", event.action.code())];
    if let Some(patient) = &event.patient {
        keys.push(format!("ix:patient:{}", patient.as_str()));
    }
    if let AuditActor::User { id, .. } = &event.actor {
        keys.push(format!("ix:actor:{}", id.as_str()));
    }
    keys
}

/// Search filters, from the query string.
#[derive(Default)]
struct Filters {
    patient: Option<String>,
    actor: Option<String>,
    action: Option<AuditAction>,
    outcome: Option<Outcome>,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
}

fn parse_filters(request: &Request) -> Result<Filters, Problem> {
    let text = |name: &'static str| -> Result<Option<String>, Problem> {
        match portal_spin::edge::query(request, name) {
            None => Ok(None),
            Some(value) if PatientId::new(value.clone()).is_ok() => Ok(Some(value)),
            Some(_) => Err(Problem::invalid_field(name)),
        }
    };
    let number = |name: &'static str| -> Result<Option<i64>, Problem> {
        portal_spin::edge::query(request, name)
            .map(|value| value.parse().map_err(|_| Problem::invalid_field(name)))
            .transpose()
    };
    let quoted =
        |name: &'static str| portal_spin::edge::query(request, name).map(|v| format!("\"{v}\""));
    Ok(Filters {
        patient: text("patient")?,
        actor: text("actor")?,
        action: quoted("action")
            .map(|value| serde_json::from_str(&value).map_err(|_| Problem::invalid_field("action")))
            .transpose()?,
        outcome: quoted("outcome")
            .map(|value| {
                serde_json::from_str(&value).map_err(|_| Problem::invalid_field("outcome"))
            })
            .transpose()?,
        from_ms: number("from")?,
        to_ms: number("to")?,
    })
}

impl Filters {
    fn matches(&self, entry: &Entry) -> bool {
        let event = &entry.event;
        let actor = match &event.actor {
            AuditActor::User { id, .. } => Some(id.as_str()),
            _ => None,
        };
        self.patient
            .as_deref()
            .is_none_or(|patient| event.patient.as_ref().map(PatientId::as_str) == Some(patient))
            && self
                .actor
                .as_deref()
                .is_none_or(|wanted| actor == Some(wanted))
            && self.action.is_none_or(|action| event.action == action)
            && self.outcome.is_none_or(|outcome| event.outcome == outcome)
            && self.from_ms.is_none_or(|from| entry.received_at_ms >= from)
            && self.to_ms.is_none_or(|to| entry.received_at_ms < to)
    }
}

/// Authenticates the caller through auth's session check.
async fn caller(request: &Request, store: &Store) -> Result<Caller, Problem> {
    let auth_url = spin_sdk::variables::get("auth_url")
        .await
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    portal_spin::access::authenticate(request, store, &auth_url, portal_spin::now_secs()).await
}

/// Records a read of the log before its answer is returned.
async fn record_read(
    caller: &Caller,
    action: AuditAction,
    entity: Entity,
    patient: Option<PatientId>,
) -> Result<(), Problem> {
    let purpose = match caller.role {
        Role::Patient | Role::Proxy | Role::Admin => PurposeOfUse::for_role(caller.role),
        _ => PurposeOfUse::Compliance,
    };
    let request_id =
        new_request_id().ok_or_else(|| Problem::new(ProblemKind::ServiceUnavailable))?;
    let event = AuditEvent {
        actor: AuditActor::User {
            id: caller.user().clone(),
            role: caller.role,
        },
        on_behalf_of: (caller.role == Role::Proxy)
            .then(|| patient.clone())
            .flatten(),
        action,
        entity,
        patient,
        outcome: Outcome::Success,
        claimed_time_ms: portal_spin::now_millis(),
        source_address: None,
        purpose,
        component: Component::Audit,
        request_id,
        reason: None,
        justification: None,
    };
    portal_spin::audit::record(&event).await
}

fn new_request_id() -> Option<RequestId> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).ok()?;
    RequestId::new(base64ct::Base64UrlUnpadded::encode_string(&bytes)).ok()
}

/// Returns the patient whose access history a proxy may read: the one the session acts for, when the
/// shared policy lets this proxy view that record's history (a guardian of a child under 12).
fn proxy_history_patient(caller: &Caller) -> Result<PatientId, Problem> {
    let refused = || {
        Problem::new(ProblemKind::Forbidden)
            .with_detail("your access to this record does not include who accessed it")
    };
    let acting = caller.acting_for.as_ref().ok_or_else(refused)?;
    let facts = acting.patient_facts();
    let decision = portal_policy::decide(
        &caller.actor(),
        portal_policy::Action::ViewAccessHistory,
        &portal_policy::Resource::PatientRecord { patient: &facts },
        &portal_policy::Context::at(portal_spin::now_secs()),
    );
    if decision.is_allowed() {
        Ok(acting.patient.clone())
    } else {
        Err(refused())
    }
}

/// `GET /audit/events`: searches the log. Query parameters: `patient`, `actor`, `action`,
/// `outcome`, `from` and `to` (Unix milliseconds of receipt, `to` exclusive), `limit` (up to
/// 100) and `cursor` (from the previous page).
pub async fn search(request: &Request) -> Result<Response, Problem> {
    let store = Store::open(STORE)?;
    let caller = caller(request, &store).await?;
    let mut filters = parse_filters(request)?;
    // The record whose access history a patient, or a proxy acting for one, reads.
    let own_patient = match caller.role {
        Role::Patient => Some(
            PatientId::new(caller.user().as_str())
                .map_err(|_| Problem::new(ProblemKind::Internal))?,
        ),
        Role::Proxy => Some(proxy_history_patient(&caller)?),
        _ => None,
    };
    match (caller.role, &own_patient) {
        (Role::ComplianceOfficer | Role::Admin, _) => {}
        (Role::Patient | Role::Proxy, Some(own_patient)) => {
            if filters
                .patient
                .as_deref()
                .is_some_and(|patient| patient != own_patient.as_str())
            {
                return Err(Problem::new(ProblemKind::Forbidden)
                    .with_detail("patients may read only the events about their own record"));
            }
            filters.patient = Some(own_patient.as_str().to_owned());
        }
        _ => {
            return Err(Problem::new(ProblemKind::Forbidden)
                .with_detail("only compliance officers and patients may read the audit log"));
        }
    }
    let limit = match portal_spin::edge::query(request, "limit") {
        None => 50,
        Some(value) => value
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_PAGE).contains(limit))
            .ok_or_else(|| Problem::invalid_field("limit").with_limit(MAX_PAGE as u64))?,
    };
    let cursor = portal_spin::edge::query(request, "cursor")
        .map(|value| {
            value
                .parse::<u64>()
                .map_err(|_| Problem::invalid_field("cursor"))
        })
        .transpose()?;

    let log = AuditLog::new(
        SpinLogStore::open(STORE).map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?,
        LOG_PREFIX,
    );
    let index_key = if let Some(patient) = &filters.patient {
        Some(format!("ix:patient:{patient}"))
    } else if let Some(actor) = &filters.actor {
        Some(format!("ix:actor:{actor}"))
    } else {
        filters
            .action
            .map(|action| format!("ix:action:{}", action.code()))
    };
    // Positions count down: slots of the chosen index, or log indexes.
    let top = match &index_key {
        Some(key) => u64::try_from(store.counter(&format!("{key}:n"))?).unwrap_or(0),
        None => {
            log.tree_head()
                .await
                .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?
                .size
        }
    };
    let mut position = cursor.unwrap_or(top).min(top);
    let mut events = Vec::new();
    let mut scanned = 0;
    while position > 0 && events.len() < limit && scanned < MAX_SCAN {
        scanned += 1;
        let log_index = match &index_key {
            // Slots start at 1; a slot taken but not yet written is skipped.
            Some(key) => match store.get::<u64>(&format!("{key}:{position}"), "index slot")? {
                Some(index) => index,
                None => {
                    position -= 1;
                    continue;
                }
            },
            None => position - 1,
        };
        position -= 1;
        let bytes = log
            .entry(log_index)
            .await
            .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
        let Ok(entry) = serde_json::from_slice::<Entry>(&bytes) else {
            eprintln!("audit entry {log_index} does not parse");
            continue;
        };
        let visible = match caller.role {
            Role::Admin => !entry.event.action.requires_patient(),
            _ => true,
        };
        if visible && filters.matches(&entry) {
            let mut event = serde_json::to_value(&entry.event)
                .map_err(|_| Problem::new(ProblemKind::Internal))?;
            // A refused attempt by another patient's proxy names the patient that proxy acts
            // for; this record's patient must not learn who that is.
            if let Some(own) = &own_patient
                && entry
                    .event
                    .on_behalf_of
                    .as_ref()
                    .is_some_and(|acting| acting != own)
            {
                event["on_behalf_of"] = serde_json::Value::Null;
            }
            events.push(serde_json::json!({
                "index": log_index,
                "received_at_ms": entry.received_at_ms,
                "event": event,
            }));
        }
    }
    let (action, entity, patient) = if let Some(own_patient) = own_patient {
        (
            AuditAction::AccessHistoryViewed,
            Entity {
                kind: EntityType::Patient,
                id: own_patient.as_str().to_owned(),
            },
            Some(own_patient),
        )
    } else {
        (
            AuditAction::AuditQueried,
            Entity {
                kind: EntityType::AuditLog,
                id: "log".to_owned(),
            },
            None,
        )
    };
    record_read(&caller, action, entity, patient).await?;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &serde_json::json!({
            "events": events,
            "next_cursor": (position > 0).then_some(position),
        }),
    ))
}

/// `GET /audit/export?size=N&format=jsonl|fhir&start=&end=`: entries `start..end` (at most
/// 10,000) with inclusion proofs in the tree of `size` entries, for the checkpoint of that
/// size; or the same entries as a FHIR R4 Bundle of `AuditEvent` resources.
///
/// Compliance officers only, with a second factor in the step-up window. The export is
/// recorded before it is returned.
pub async fn export(request: &Request) -> Result<Response, Problem> {
    let store = Store::open(STORE)?;
    let caller = caller(request, &store).await?;
    if caller.role != Role::ComplianceOfficer {
        return Err(Problem::new(ProblemKind::Forbidden)
            .with_detail("only compliance officers may export the audit log"));
    }
    let window: i64 = spin_sdk::variables::get("step_up_window_secs")
        .await
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(600);
    let authentication = caller.token.authentication();
    if !authentication.multi_factor || portal_spin::now_secs() - authentication.auth_time > window {
        return Err(Problem::new(ProblemKind::StepUpRequired));
    }
    let number = |name: &'static str| -> Result<Option<u64>, Problem> {
        portal_spin::edge::query(request, name)
            .map(|value| {
                value
                    .parse::<u64>()
                    .map_err(|_| Problem::invalid_field(name))
            })
            .transpose()
    };
    let log = AuditLog::new(
        SpinLogStore::open(STORE).map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?,
        LOG_PREFIX,
    );
    let head = log
        .tree_head()
        .await
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    let size = number("size")?.ok_or_else(|| Problem::invalid_field("size"))?;
    if size > head.size {
        return Err(Problem::invalid_field("size").with_detail("the log is not that large yet"));
    }
    let start = number("start")?.unwrap_or(0);
    let end = number("end")?.unwrap_or(size);
    if start > end || end > size {
        return Err(Problem::invalid_field("end"));
    }
    if end - start > MAX_EXPORT {
        return Err(Problem::invalid_field("end")
            .with_limit(MAX_EXPORT)
            .with_detail("export at most 10,000 entries at a time"));
    }
    let fhir = match portal_spin::edge::query(request, "format").as_deref() {
        None | Some("jsonl") => false,
        Some("fhir") => true,
        Some(_) => return Err(Problem::invalid_field("format")),
    };
    let lines = log
        .export(start, end, size)
        .await
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    record_read(
        &caller,
        AuditAction::AuditExported,
        Entity {
            kind: EntityType::AuditLog,
            id: "log".to_owned(),
        },
        None,
    )
    .await?;
    if !fhir {
        let mut body = lines.join("\n");
        body.push('\n');
        let mut response =
            http::Response::new(spin_sdk::http::FullBody::new(bytes::Bytes::from(body)));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/jsonl"),
        );
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        return Ok(response);
    }
    let site = spin_sdk::variables::get("audit_log_origin")
        .await
        .unwrap_or_default();
    let mut resources = Vec::new();
    for line in &lines {
        let Ok(line) = serde_json::from_str::<portal_auditlog::ExportLine>(line) else {
            continue;
        };
        let Ok(entry) = serde_json::from_str::<Entry>(&line.entry) else {
            continue;
        };
        resources.push(
            serde_json::json!({ "resource": entry.event.to_fhir(entry.received_at_ms, &site) }),
        );
    }
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &serde_json::json!({
            "resourceType": "Bundle",
            "type": "collection",
            "total": resources.len(),
            "entry": resources,
        }),
    ))
}

/// `GET /audit/alerts`: stored alerts, newest first, for compliance officers. `limit` up to
/// 100 and `cursor` from the previous page. The read is recorded.
pub async fn alerts(request: &Request) -> Result<Response, Problem> {
    let store = Store::open(STORE)?;
    let caller = caller(request, &store).await?;
    if caller.role != Role::ComplianceOfficer {
        return Err(Problem::new(ProblemKind::Forbidden)
            .with_detail("only compliance officers may read alerts"));
    }
    let limit = match portal_spin::edge::query(request, "limit") {
        None => 50,
        Some(value) => value
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_PAGE).contains(limit))
            .ok_or_else(|| Problem::invalid_field("limit").with_limit(MAX_PAGE as u64))?,
    };
    let cursor = portal_spin::edge::query(request, "cursor")
        .map(|value| {
            value
                .parse::<i64>()
                .map_err(|_| Problem::invalid_field("cursor"))
        })
        .transpose()?;
    let (alerts, next) = crate::alerts::list(&store, cursor, limit)?;
    record_read(
        &caller,
        AuditAction::AuditQueried,
        Entity {
            kind: EntityType::AuditLog,
            id: "alerts".to_owned(),
        },
        None,
    )
    .await?;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &serde_json::json!({ "alerts": alerts, "next_cursor": next }),
    ))
}
