//! Alert rules, evaluated by the ingest role on every appended event.
//!
//! Counting rules keep their counts in the audit store with atomic increments and fire once,
//! when a count first passes its threshold within its window; the other rules fire on every
//! matching event. An alert is stored (for `GET /audit/alerts`) and posted to the
//! `alert_webhook_url` variable with its id, rule name and the event's log index only.

use portal_audit::{AuditAction, AuditActor, AuditEvent, Outcome};
use portal_policy::PurposeOfUse;
use portal_spin::kv::Store;
use serde::{Deserialize, Serialize};

use crate::STORE;

/// A stored alert. It names ids only; the event it points at holds the details.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alert {
    /// Sequence number, from 1.
    pub id: i64,
    /// Rule name, such as `break_the_glass`.
    pub rule: String,
    /// Log index of the event that fired it.
    pub event_index: u64,
    /// Receipt time of that event, Unix milliseconds.
    pub at_ms: i64,
}

/// Thresholds, from variables; each rule fires when its count passes the threshold.
struct Thresholds {
    patients_per_hour: i64,
    exports_per_day: i64,
    failed_sign_ins: i64,
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Window of the failed sign-in rule.
const SIGN_IN_WINDOW_MS: i64 = 15 * 60_000;

async fn threshold(name: &str, default: i64) -> i64 {
    spin_sdk::variables::get(name)
        .await
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .filter(|value: &i64| *value >= 0)
        .unwrap_or(default)
}

/// Counts one occurrence under `key` and reports whether this one passed `limit` first.
fn passes(store: &Store, key: &str, limit: i64) -> bool {
    store
        .increment(key, 1)
        .is_ok_and(|count| count == limit.saturating_add(1))
}

/// Evaluates every rule for the event appended at `index`. Failures are logged; the event is
/// already in the log, which stays the record of truth.
pub async fn evaluate(index: u64, event: &AuditEvent, received_at_ms: i64) {
    let Ok(store) = Store::open(STORE) else {
        eprintln!("alerts unavailable for entry {index}");
        return;
    };
    let limits = Thresholds {
        patients_per_hour: threshold("alert_patients_per_hour", 50).await,
        exports_per_day: threshold("alert_exports_per_day", 5).await,
        failed_sign_ins: threshold("alert_failed_sign_ins", 10).await,
    };
    let actor = match &event.actor {
        AuditActor::User { id, .. } => Some(id.as_str()),
        _ => None,
    };
    let mut fired = Vec::new();

    // One actor reading the records of many distinct patients within an hour.
    if let (Some(actor), Some(patient)) = (actor, &event.patient)
        && event.action.fhir_action() == "R"
        && event.outcome == Outcome::Success
    {
        let hour = received_at_ms.div_euclid(HOUR_MS);
        let seen = format!("al:views:{actor}:{hour}:{}", patient.as_str());
        if store.insert_new(&seen, &true).unwrap_or(false)
            && passes(
                &store,
                &format!("al:views:{actor}:{hour}"),
                limits.patients_per_hour,
            )
        {
            fired.push("excessive_record_views");
        }
    }
    // Many exports by one actor within a day.
    if let Some(actor) = actor
        && matches!(
            event.action,
            AuditAction::AuditExported | AuditAction::RecordExported
        )
    {
        let day = received_at_ms.div_euclid(DAY_MS);
        if passes(
            &store,
            &format!("al:exports:{actor}:{day}"),
            limits.exports_per_day,
        ) {
            fired.push("mass_exports");
        }
    }
    // A clinician refused, or let in by break-the-glass, outside the patient's care teams.
    if event.reason.as_deref() == Some("not_on_care_team") {
        fired.push("access_outside_care_team");
    }
    if event.action == AuditAction::BreakTheGlass
        || event.purpose == PurposeOfUse::EmergencyTreatment
    {
        fired.push("break_the_glass");
    }
    // Bursts of failed sign-ins, per account and per client address.
    if event.action == AuditAction::SignIn && event.outcome != Outcome::Success {
        let window = received_at_ms.div_euclid(SIGN_IN_WINDOW_MS);
        let account = actor.unwrap_or(event.entity.id.as_str());
        if passes(
            &store,
            &format!("al:signin:acct:{account}:{window}"),
            limits.failed_sign_ins,
        ) {
            fired.push("failed_sign_in_burst_account");
        }
        if let Some(address) = event.source_address
            && passes(
                &store,
                &format!("al:signin:addr:{address}:{window}"),
                limits.failed_sign_ins,
            )
        {
            fired.push("failed_sign_in_burst_address");
        }
    }
    if event.action == AuditAction::RefreshReuseDetected && event.outcome == Outcome::SeriousFailure
    {
        fired.push("refresh_token_reuse");
    }
    // A passkey whose signature counter went back: the credential may have been copied.
    if event.reason.as_deref() == Some("signature_counter_regressed") {
        fired.push("passkey_counter_regressed");
    }

    for rule in fired {
        raise(&store, rule, index, received_at_ms).await;
    }
}

async fn raise(store: &Store, rule: &'static str, event_index: u64, at_ms: i64) {
    let Ok(id) = store.increment("alerts:n", 1) else {
        eprintln!("alert {rule} for entry {event_index} could not be stored");
        return;
    };
    let alert = Alert {
        id,
        rule: rule.to_owned(),
        event_index,
        at_ms,
    };
    if store.set(&format!("alert:{id}"), &alert).is_err() {
        eprintln!("alert {rule} for entry {event_index} could not be stored");
    }
    let Ok(url) = spin_sdk::variables::get("alert_webhook_url").await else {
        return;
    };
    if url.is_empty() {
        return;
    }
    let body =
        serde_json::json!({ "alert_id": id, "rule": rule, "event_index": event_index }).to_string();
    for _ in 0..portal_spin::notify::MAX_ATTEMPTS {
        let Ok(request) = http::Request::post(url.as_str())
            .header("content-type", "application/json")
            .body(spin_sdk::http::FullBody::new(bytes::Bytes::from(
                body.clone(),
            )))
        else {
            eprintln!("alert webhook URL is invalid");
            return;
        };
        match spin_sdk::http::send(request).await {
            Ok(response) if response.status().is_success() => return,
            _ => eprintln!("alert webhook delivery failed; retrying"),
        }
    }
    eprintln!("alert {id} was stored but not delivered to the webhook");
}

/// Reads stored alerts newest first, starting below `cursor`.
pub fn list(
    store: &Store,
    cursor: Option<i64>,
    limit: usize,
) -> Result<(Vec<Alert>, Option<i64>), portal_problem::Problem> {
    let top = store.counter("alerts:n")?;
    let mut position = cursor.unwrap_or(top).min(top);
    let mut alerts = Vec::new();
    while position > 0 && alerts.len() < limit {
        if let Some(alert) = store.get::<Alert>(&format!("alert:{position}"), "alert")? {
            alerts.push(alert);
        }
        position -= 1;
    }
    Ok((alerts, (position > 0).then_some(position)))
}
