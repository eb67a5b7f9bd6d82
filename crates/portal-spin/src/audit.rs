//! Sends audit events to the audit component's private ingest routes.

use portal_audit::AuditEvent;
use portal_problem::{Problem, ProblemKind};

/// Records `event` through the ingest route at the `audit_url` variable. Succeeds only when
/// the audit component confirms the append (201), so a caller that must fail closed can
/// return the error as is.
pub async fn record(event: &AuditEvent) -> Result<(), Problem> {
    let body = event
        .to_json()
        .map_err(|_| Problem::new(ProblemKind::Internal))?;
    post("/ingest", body).await
}

/// Records `events` in one commit through the batch ingest route at the `audit_url` variable,
/// so they get consecutive indexes. Succeeds only when the audit component confirms the whole
/// batch (201). An empty list records nothing.
pub async fn record_batch(events: &[AuditEvent]) -> Result<(), Problem> {
    if events.is_empty() {
        return Ok(());
    }
    let mut values = Vec::with_capacity(events.len());
    for event in events {
        let json = event
            .to_json()
            .map_err(|_| Problem::new(ProblemKind::Internal))?;
        let value: serde_json::Value =
            serde_json::from_str(&json).map_err(|_| Problem::new(ProblemKind::Internal))?;
        values.push(value);
    }
    post(
        "/ingest/batch",
        serde_json::json!({ "events": values }).to_string(),
    )
    .await
}

/// Posts `body` to `path` under the `audit_url` variable and requires 201.
async fn post(path: &str, body: String) -> Result<(), Problem> {
    let base = spin_sdk::variables::get("audit_url").await.map_err(|_| {
        eprintln!("variable audit_url is not set");
        Problem::new(ProblemKind::ServiceUnavailable)
    })?;
    match crate::service::call("audit-ingest", &base, http::Method::POST, path, Some(body)).await {
        Ok(response) if response.status() == http::StatusCode::CREATED => Ok(()),
        Ok(response) => {
            eprintln!(
                "audit ingest {path} returned status {}",
                response.status().as_u16()
            );
            Err(unavailable())
        }
        Err(_) => {
            eprintln!("audit ingest {path} unreachable");
            Err(unavailable())
        }
    }
}

fn unavailable() -> Problem {
    Problem::new(ProblemKind::ServiceUnavailable).with_detail(
        "the action could not be recorded in the audit log, so it was not done; retry later",
    )
}
