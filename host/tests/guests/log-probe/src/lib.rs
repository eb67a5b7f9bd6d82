//! Test guest: appends to and reads the audit log's store through Spin key-value.
//!
//! `POST /log/append` (body: entry) returns `{"index","size"}`; `GET /log/entry?index=N`
//! returns the entry; `GET /log/head` returns `{"size","root"}` with the root in hex.

use bytes::Bytes;
use http_body_util::BodyExt;
use portal_auditlog::AuditLog;
use portal_spin::kv::SpinLogStore;
use spin_sdk::http::{FullBody, IntoResponse, Request};
use spin_sdk::http_service;

type Response = http::Response<FullBody<Bytes>>;

fn reply(status: u16, body: String) -> Response {
    let mut response = http::Response::new(FullBody::new(Bytes::from(body)));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let path = request
        .headers()
        .get("spin-path-info")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let index: u64 = request
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("index="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let store = match SpinLogStore::open("default") {
        Ok(store) => store,
        Err(error) => return reply(500, error.to_string()),
    };
    let log = AuditLog::new(store, "audit");
    match path.as_str() {
        "/append" => {
            let body = match request.into_body().collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(error) => return reply(400, format!("{error:?}")),
            };
            match log.append(&body).await {
                Ok(appended) => reply(
                    200,
                    serde_json::json!({"index": appended.index, "size": appended.size}).to_string(),
                ),
                Err(error) => reply(503, error.to_string()),
            }
        }
        "/entry" => match log.entry(index).await {
            Ok(entry) => reply(200, String::from_utf8_lossy(&entry).into_owned()),
            Err(error) => reply(404, error.to_string()),
        },
        "/head" => match log.tree_head().await {
            Ok(head) => reply(
                200,
                serde_json::json!({"size": head.size, "root": hex(&head.root)}).to_string(),
            ),
            Err(error) => reply(500, error.to_string()),
        },
        other => reply(404, format!("no route {other}")),
    }
}
