//! The audit component's routes.

use base64ct::{Base64, Encoding};
use http_body_util::{BodyExt, Limited};
use portal_audit::AuditEvent;
use portal_auditlog::{AuditLog, Checkpoint, CheckpointSigner, LogError};
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::kv::SpinLogStore;
use spin_sdk::http::{Method, Request, StatusCode};

use crate::{INFO, LOG_PREFIX, STORE};

/// Largest ingest body read, in bytes: one event of at most `MAX_EVENT_JSON_LEN`.
const MAX_INGEST_BYTES: usize = portal_audit::MAX_EVENT_JSON_LEN;

/// Routes of the private ingest component.
pub async fn ingest_role(request: Request, path: &str) -> Response {
    match (request.method(), path) {
        (&Method::POST, "/ingest") => ingest(request).await,
        (&Method::POST, "/ingest/batch") => ingest_batch(request).await,
        _ => portal_spin::not_found(),
    }
}

/// Routes of the private checkpoint component.
pub async fn checkpoint_role(request: Request, path: &str) -> Response {
    match (request.method(), path) {
        (&Method::POST, "/checkpoint") => checkpoint().await,
        _ => portal_spin::not_found(),
    }
}

/// Routes of the public component under `/audit`.
pub async fn public_role(request: Request, path: &str) -> Response {
    match (request.method(), path) {
        (&Method::GET, "/health") => portal_spin::health(INFO),
        (&Method::GET, "/checkpoint") => checkpoint().await,
        (&Method::GET, "/proof/inclusion") => inclusion(&request).await,
        (&Method::GET, "/proof/consistency") => consistency(&request).await,
        (&Method::GET, "/events") => crate::query::search(&request)
            .await
            .unwrap_or_else(|problem| portal_spin::problem(&problem)),
        (&Method::GET, "/alerts") => crate::query::alerts(&request)
            .await
            .unwrap_or_else(|problem| portal_spin::problem(&problem)),
        (&Method::GET, "/export") => crate::query::export(&request)
            .await
            .unwrap_or_else(|problem| portal_spin::problem(&problem)),
        _ => portal_spin::not_found(),
    }
}

fn open_log() -> Result<AuditLog<SpinLogStore>, Problem> {
    let store =
        SpinLogStore::open(STORE).map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    Ok(AuditLog::new(store, LOG_PREFIX))
}

/// Maps a log error to a problem; `field` names the query parameter a proof error blames.
fn log_problem(error: &LogError, field: &'static str) -> Problem {
    match error {
        LogError::OutOfRange { .. } => Problem::new(ProblemKind::NotFound)
            .with_detail("the requested index or size is beyond the log"),
        LogError::Proof(_) => Problem::invalid_field(field),
        LogError::EntrySize { .. } => Problem::payload_too_large(MAX_INGEST_BYTES as u64),
        LogError::BatchSize => Problem::invalid_field("events")
            .with_limit(portal_auditlog::MAX_BATCH_ENTRIES as u64)
            .with_detail("send 1 to the limit of events in one batch"),
        LogError::Corrupt(reason) => {
            // Corruption can mean tampering with the store, so it is always logged.
            eprintln!("audit log corrupt: {reason}");
            Problem::new(ProblemKind::ServiceUnavailable)
                .with_detail("the audit log failed an integrity check; an operator must act")
        }
        _ => {
            eprintln!("audit log unavailable: {error}");
            Problem::new(ProblemKind::ServiceUnavailable)
                .with_detail("the audit log cannot be written now; the action must be retried")
        }
    }
}

/// Maximum batch body read, in bytes: the maximum number of events at their maximum size.
const MAX_BATCH_INGEST_BYTES: usize =
    portal_audit::MAX_EVENT_JSON_LEN * portal_auditlog::MAX_BATCH_ENTRIES + 1024;

/// Validates an event's JSON and builds the entry the log stores: the host's receipt time, a
/// random nonce and the event.
fn prepare(json: &[u8], received_at_ms: u64) -> Result<(AuditEvent, Vec<u8>), Problem> {
    let event = AuditEvent::from_json(json).map_err(Problem::from)?;
    // A random nonce makes leaf hashes unguessable, so public proofs cannot confirm a guessed
    // event ("did this clinician read that record at that time?").
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    let entry = serde_json::json!({
        "received_at_ms": received_at_ms,
        "nonce": Base64::encode_string(&nonce),
        "event": event,
    });
    let entry = serde_json::to_vec(&entry).map_err(|_| Problem::new(ProblemKind::Internal))?;
    Ok((event, entry))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or_default()
}

/// Indexes the appended events, evaluates the alert rules, and requests a checkpoint if one
/// is due. None of these can fail the append, which is already durable.
async fn after_append(first_index: u64, events: &[AuditEvent], received_at_ms: u64) {
    for (index, event) in (first_index..).zip(events) {
        crate::query::index_event(index, event);
        crate::alerts::evaluate(index, event, received_at_ms as i64).await;
    }
    crate::cadence::after_append(
        first_index + 1..=first_index + events.len() as u64,
        (received_at_ms / 1000) as i64,
    )
    .await;
}

/// Validates one event, stamps it with the host's time, and appends it. The sender gets 201
/// only after the append is durable, so a failure here fails the sender's action.
async fn ingest(request: Request) -> Response {
    let body = match Limited::new(request.into_body(), MAX_INGEST_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return portal_spin::problem(&Problem::payload_too_large(MAX_INGEST_BYTES as u64));
        }
    };
    let received_at_ms = now_ms();
    let (event, entry) = match prepare(&body, received_at_ms) {
        Ok(prepared) => prepared,
        Err(problem) => return portal_spin::problem(&problem),
    };
    let log = match open_log() {
        Ok(log) => log,
        Err(problem) => return portal_spin::problem(&problem),
    };
    match log.append(&entry).await {
        // The leaf hash is the sender's receipt: with an inclusion proof it shows the entry is
        // in any later checkpoint.
        Ok(appended) => {
            after_append(appended.index, std::slice::from_ref(&event), received_at_ms).await;
            portal_spin::json(
                StatusCode::CREATED,
                &serde_json::json!({
                    "index": appended.index,
                    "received_at_ms": received_at_ms,
                    "leaf_hash": Base64::encode_string(&portal_auditlog::leaf_hash(&entry)),
                }),
            )
        }
        Err(error) => portal_spin::problem(&log_problem(&error, "body")),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    events: Vec<serde_json::Value>,
}

/// Validates a batch of events (`{"events": [...]}`, at most `MAX_BATCH_ENTRIES`) and appends
/// them in one commit, in order. One invalid event rejects the whole batch before anything is
/// written, and the sender gets 201 only once every event is durable.
async fn ingest_batch(request: Request) -> Response {
    let body = match Limited::new(request.into_body(), MAX_BATCH_INGEST_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return portal_spin::problem(&Problem::payload_too_large(
                MAX_BATCH_INGEST_BYTES as u64,
            ));
        }
    };
    let Ok(batch) = serde_json::from_slice::<Batch>(&body) else {
        return portal_spin::problem(
            &Problem::invalid_field("events")
                .with_detail("send {\"events\": [...]} with each event in the shared event schema"),
        );
    };
    if batch.events.is_empty() || batch.events.len() > portal_auditlog::MAX_BATCH_ENTRIES {
        return portal_spin::problem(&log_problem(&LogError::BatchSize, "events"));
    }
    let received_at_ms = now_ms();
    let mut events = Vec::with_capacity(batch.events.len());
    let mut entries = Vec::with_capacity(batch.events.len());
    for value in &batch.events {
        let Ok(json) = serde_json::to_vec(value) else {
            return portal_spin::problem(&Problem::new(ProblemKind::Internal));
        };
        match prepare(&json, received_at_ms) {
            Ok((event, entry)) => {
                events.push(event);
                entries.push(entry);
            }
            Err(problem) => return portal_spin::problem(&problem),
        }
    }
    let log = match open_log() {
        Ok(log) => log,
        Err(problem) => return portal_spin::problem(&problem),
    };
    let slices: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    match log.append_batch(&slices).await {
        Ok(appended) => {
            after_append(appended.first_index, &events, received_at_ms).await;
            let leaf_hashes: Vec<String> = entries
                .iter()
                .map(|entry| Base64::encode_string(&portal_auditlog::leaf_hash(entry)))
                .collect();
            portal_spin::json(
                StatusCode::CREATED,
                &serde_json::json!({
                    "first_index": appended.first_index,
                    "count": entries.len(),
                    "received_at_ms": received_at_ms,
                    "leaf_hashes": leaf_hashes,
                }),
            )
        }
        Err(error) => portal_spin::problem(&log_problem(&error, "events")),
    }
}

/// The last checkpoint this component signed: its size and root.
#[derive(serde::Serialize, serde::Deserialize)]
struct Published {
    size: u64,
    root: String,
}

/// Key of the last signed checkpoint's size and root.
const PUBLISHED_KEY: &str = "checkpoint:latest";

/// Signs the current tree head as a C2SP checkpoint, only if the log still extends the last
/// checkpoint signed: a head that is smaller, or whose tree does not contain the last one
/// (checked with a consistency proof), means the store was rolled back or rewritten, and is
/// refused. Each signed note is also kept under a write-once key of its size.
///
/// Each note is also archived in object storage under a write-once key before it is served,
/// so a writer who rewrites the store cannot rewrite the checkpoints already handed out.
async fn checkpoint() -> Response {
    let signer = match checkpoint_signer().await {
        Ok(signer) => signer,
        Err(problem) => return portal_spin::problem(&problem),
    };
    let origin = match spin_sdk::variables::get("audit_log_origin").await {
        Ok(origin) => origin,
        Err(_) => return portal_spin::problem(&Problem::new(ProblemKind::ServiceUnavailable)),
    };
    // The last published checkpoint is read before the head: heads only grow, so a head read
    // afterwards is at least as large, even while other requests append and publish.
    let last = match load_published() {
        Ok(last) => last,
        Err(problem) => return portal_spin::problem(&problem),
    };
    let head = match open_log() {
        Ok(log) => log.tree_head().await,
        Err(problem) => return portal_spin::problem(&problem),
    };
    let head = match head {
        Ok(head) => head,
        Err(error) => return portal_spin::problem(&log_problem(&error, "size")),
    };
    if let Err(problem) = check_extends_published(&head, last).await {
        return portal_spin::problem(&problem);
    }
    let checkpoint = Checkpoint {
        origin,
        size: head.size,
        root: head.root,
    };
    match signer.sign(&checkpoint) {
        Ok(note) => {
            if let Err(problem) = archive(head.size, &note).await {
                return portal_spin::problem(&problem);
            }
            if let Err(problem) = record_published(&head, &note) {
                return portal_spin::problem(&problem);
            }
            let mut response = http::Response::new(spin_sdk::http::FullBody::new(note.into()));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
        Err(_) => portal_spin::problem(&Problem::new(ProblemKind::Internal)),
    }
}

/// Writes `note` to object storage under `audit-checkpoints/<size>` with `If-None-Match: *`.
/// Notes are deterministic for a size and root, so an existing object must be the same note.
/// A different one means the log or the archive was rewritten after that checkpoint was
/// archived.
async fn archive(size: u64, note: &str) -> Result<(), Problem> {
    let objects = portal_spin::objects::ObjectStore::from_variables()
        .await
        .map_err(|error| {
            eprintln!("checkpoint archive unavailable: {error}");
            Problem::new(ProblemKind::ServiceUnavailable)
        })?;
    let key = format!("audit-checkpoints/{size}");
    let unavailable = |error: portal_spin::objects::ObjectError| {
        eprintln!("checkpoint archive failed: {error}");
        Problem::new(ProblemKind::ServiceUnavailable)
    };
    let refused = match objects.put(&key, note.as_bytes().to_vec(), true).await {
        Ok(()) => return Ok(()),
        Err(error) => error,
    };
    // An existing object gets 412, which servers may send before reading the body and then
    // close the connection, so the client can see a reset instead. Either way the archive is
    // right when it already contains this very note; objects are replaced whole, never partly.
    match objects.get(&key).await {
        Ok(Some(archived)) if archived == note.as_bytes() => Ok(()),
        Ok(Some(_)) => Err(log_problem(
            &LogError::Corrupt("the archived checkpoint of this size differs"),
            "size",
        )),
        Ok(None) => Err(unavailable(refused)),
        Err(error) => Err(unavailable(error)),
    }
}

/// Reads the last signed checkpoint's size and root.
fn load_published() -> Result<Option<Published>, Problem> {
    let store = portal_spin::kv::Store::open(STORE)?;
    Ok(store.get::<Published>(PUBLISHED_KEY, "published checkpoint")?)
}

/// Refuses a head that does not extend `last`, the last signed checkpoint.
async fn check_extends_published(
    head: &portal_auditlog::TreeHead,
    last: Option<Published>,
) -> Result<(), Problem> {
    let Some(last) = last else {
        return Ok(());
    };
    let last_root: [u8; 32] = Base64::decode_vec(&last.root)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| log_problem(&LogError::Corrupt("published checkpoint"), "size"))?;
    let rewritten = || {
        log_problem(
            &LogError::Corrupt("the log does not extend its last checkpoint"),
            "size",
        )
    };
    if head.size < last.size || (head.size == last.size && head.root != last_root) {
        return Err(rewritten());
    }
    if head.size > last.size && last.size > 0 {
        let proof = open_log()?
            .consistency_proof(last.size, head.size)
            .await
            .map_err(|error| log_problem(&error, "size"))?;
        portal_merkle::verify_consistency(last.size, head.size, &last_root, &head.root, &proof)
            .map_err(|_| rewritten())?;
    }
    Ok(())
}

/// Records a signed checkpoint: the note under a write-once key of its size, and the size and
/// root as the latest, which only ever grows.
fn record_published(head: &portal_auditlog::TreeHead, note: &str) -> Result<(), Problem> {
    let store = portal_spin::kv::Store::open(STORE)?;
    store.insert_new(&format!("checkpoint:{}", head.size), &note)?;
    let published = Published {
        size: head.size,
        root: Base64::encode_string(&head.root),
    };
    store.update(
        PUBLISHED_KEY,
        "published checkpoint",
        |current: Option<Published>| match current {
            Some(current) if current.size >= published.size => {
                Ok::<_, Problem>((portal_spin::kv::Update::Keep, ()))
            }
            _ => Ok((
                portal_spin::kv::Update::Set(Published {
                    size: published.size,
                    root: published.root.clone(),
                }),
                (),
            )),
        },
    )??;
    Ok(())
}

async fn checkpoint_signer() -> Result<CheckpointSigner, Problem> {
    let unavailable = || Problem::new(ProblemKind::ServiceUnavailable);
    let name = spin_sdk::variables::get("audit_checkpoint_key_name")
        .await
        .map_err(|_| unavailable())?;
    let seed = spin_sdk::variables::get("audit_checkpoint_key")
        .await
        .map_err(|_| unavailable())?;
    let seed: [u8; 32] = Base64::decode_vec(seed.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(unavailable)?;
    CheckpointSigner::from_seed(&name, &seed).map_err(|_| unavailable())
}

fn query_number(request: &Request, name: &'static str) -> Result<u64, Problem> {
    request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| Problem::invalid_field(name))
}

fn proof_response(proof: &[[u8; 32]], fields: serde_json::Value) -> Response {
    let mut body = fields;
    body["proof"] = proof
        .iter()
        .map(|hash| Base64::encode_string(hash))
        .collect::<Vec<_>>()
        .into();
    portal_spin::json(StatusCode::OK, &body)
}

/// `GET /audit/proof/inclusion?index=I&size=N`.
async fn inclusion(request: &Request) -> Response {
    let (index, size) = match (
        query_number(request, "index"),
        query_number(request, "size"),
    ) {
        (Ok(index), Ok(size)) => (index, size),
        (Err(problem), _) | (_, Err(problem)) => return portal_spin::problem(&problem),
    };
    let result = match open_log() {
        Ok(log) => log.inclusion_proof(index, size).await,
        Err(problem) => return portal_spin::problem(&problem),
    };
    match result {
        Ok(proof) => proof_response(&proof, serde_json::json!({ "index": index, "size": size })),
        Err(error) => portal_spin::problem(&log_problem(&error, "index")),
    }
}

/// `GET /audit/proof/consistency?first=M&second=N`.
async fn consistency(request: &Request) -> Response {
    let (first, second) = match (
        query_number(request, "first"),
        query_number(request, "second"),
    ) {
        (Ok(first), Ok(second)) => (first, second),
        (Err(problem), _) | (_, Err(problem)) => return portal_spin::problem(&problem),
    };
    let result = match open_log() {
        Ok(log) => log.consistency_proof(first, second).await,
        Err(problem) => return portal_spin::problem(&problem),
    };
    match result {
        Ok(proof) => proof_response(
            &proof,
            serde_json::json!({ "first": first, "second": second }),
        ),
        Err(error) => portal_spin::problem(&log_problem(&error, "first")),
    }
}
