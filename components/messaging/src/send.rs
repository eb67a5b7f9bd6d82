//! Sending: opening a thread with its first message, and replying in one.
//!
//! Each send runs in this order, so a failure leaves either nothing or a message that a retry
//! with the same `Idempotency-Key` completes:
//! 1. authorize, validate, and claim the idempotency key with the ids to write;
//! 2. share the attachments with the thread's participants through uploads;
//! 3. record the send in the audit log (a failure here fails the send);
//! 4. write the message, then list it in the thread with compare-and-swap;
//! 5. mark the key done, then ask auth to notify the recipients. A notification failure is
//!    logged and never undoes or delays the message beyond the gateway's bounded retries.

use portal_audit::{AuditAction, EntityType};
use portal_policy::text::{is_deceptive, is_invisible};
use portal_policy::{
    Action, CareTeamId, FileId, MessageId, PatientId, PurposeOfUse, Role, ThreadId, UserId,
};
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::access::Caller;
use portal_spin::kv::Update;
use serde::Deserialize;
use serde_json::json;
use spin_sdk::http::{Request, StatusCode};

use crate::context::{self, Context, Event};
use crate::idempotency::{self, Claim};
use crate::model::{self, Category, MessageEntry, MessageRecord, ThreadRecord, ThreadState};
use crate::threads::{self, Teams};

/// Maximum subject length, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// Maximum messages one user may send per hour, threads opened included.
pub const MAX_SENDS_PER_HOUR: i64 = 120;

/// Maximum number of files attached to one message.
pub const MAX_ATTACHMENTS: usize = 10;

#[derive(Debug, Deserialize)]
struct OpenRequest {
    care_team: CareTeamId,
    subject: String,
    category: Category,
    body: String,
    #[serde(default)]
    patient: Option<PatientId>,
    #[serde(default)]
    attachments: Vec<FileId>,
}

const OPEN_FIELDS: &[&str] = &[
    "care_team",
    "subject",
    "category",
    "body",
    "patient",
    "attachments",
];

#[derive(Debug, Deserialize)]
struct ReplyRequest {
    body: String,
    #[serde(default)]
    attachments: Vec<FileId>,
}

const REPLY_FIELDS: &[&str] = &["body", "attachments"];

/// Maximum request body size: the longest message with every character written as a JSON
/// surrogate-pair escape (12 bytes, such as an escaped emoji), and room for the other fields.
fn request_limit(cx: &Context) -> usize {
    cx.settings.max_body_chars.saturating_mul(12) + 16 * 1024
}

/// Plain text of at most the configured length; line breaks and tabs are the only control
/// characters allowed.
fn check_body(cx: &Context, text: &str) -> Result<(), Problem> {
    if text.chars().count() > cx.settings.max_body_chars {
        return Err(Problem::new(ProblemKind::PayloadTooLarge)
            .with_field("body")
            .with_limit(cx.settings.max_body_chars as u64)
            .with_detail("the message is longer than the limit in characters; shorten it or send it in parts"));
    }
    if text.chars().all(is_invisible) {
        return Err(Problem::invalid_field("body").with_detail("write a message"));
    }
    if text.chars().any(is_deceptive) {
        return Err(Problem::invalid_field("body").with_detail(
            "remove direction-override and tag characters; they can make text read differently than it is stored",
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Problem::invalid_field("body").with_detail(
            "send plain text; control characters other than line breaks and tabs are not allowed",
        ));
    }
    Ok(())
}

fn check_subject(text: &str) -> Result<(), Problem> {
    let chars = text.chars().count();
    if text.chars().all(is_invisible)
        || chars > MAX_SUBJECT_CHARS
        || text.chars().any(|c| c.is_control() || is_deceptive(c))
    {
        return Err(Problem::invalid_field("subject")
            .with_limit(MAX_SUBJECT_CHARS as u64)
            .with_detail("give a subject of one line, at most the limit in characters"));
    }
    Ok(())
}

fn check_attachments(files: &[FileId]) -> Result<(), Problem> {
    if files.len() > MAX_ATTACHMENTS {
        return Err(Problem::invalid_field("attachments").with_limit(MAX_ATTACHMENTS as u64));
    }
    let mut seen = std::collections::BTreeSet::new();
    if !files.iter().all(|file| seen.insert(file)) {
        return Err(Problem::invalid_field("attachments").with_detail("list each file once"));
    }
    Ok(())
}

fn new_ids() -> Result<(ThreadId, MessageId), Problem> {
    let id = || {
        portal_auth::secret::new_id(16).map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))
    };
    let thread = ThreadId::new(id()?).map_err(|_| Problem::new(ProblemKind::Internal))?;
    let message = MessageId::new(id()?).map_err(|_| Problem::new(ProblemKind::Internal))?;
    Ok((thread, message))
}

/// `POST /messages/threads`: opens a thread with its first message. A patient opens one to
/// a care team they are assigned to; a clinician opens one to a patient of their care team,
/// naming the patient.
pub async fn open(cx: &Context, request: Request) -> Result<Response, Problem> {
    let caller = cx.caller(&request).await?;
    context::refuse_role(cx, &caller, None).await?;
    let key = idempotency::key_of(&request, caller.user())?;
    let path = portal_spin::edge::path(&request);
    let raw = portal_spin::edge::read_json_bytes(request, request_limit(cx)).await?;
    let body: OpenRequest = portal_spin::edge::parse_json(&raw, OPEN_FIELDS)?;
    check_subject(&body.subject)?;
    check_body(cx, &body.body)?;
    check_attachments(&body.attachments)?;

    let own = context::speaks_for(&caller);
    let patient = match (&own, body.patient) {
        (Some(own), None) => own.clone(),
        (Some(own), Some(named)) if &named == own => named,
        (Some(_), Some(_)) => {
            return Err(Problem::invalid_field("patient").with_detail(
                "threads are opened about your own record, or the one you act for; leave patient out",
            ));
        }
        (None, Some(named)) => named,
        (None, None) => {
            return Err(Problem::invalid_field("patient")
                .with_detail("name the patient the thread is with"));
        }
    };
    let (fresh_thread, fresh_message) = new_ids()?;
    let draft = ThreadRecord {
        id: fresh_thread.clone(),
        patient: patient.clone(),
        care_team: body.care_team.clone(),
        category: body.category,
        state: ThreadState::Open,
        subject: String::new(),
        opened_by: caller.user().clone(),
        opened_at: cx.now,
        updated_at: cx.now,
        messages: Vec::new(),
    };

    // The patient must be assigned to the care team, whoever opens the thread.
    let assigned = if own.is_some() {
        context::teams_spoken_for(&caller).contains(&body.care_team)
    } else {
        portal_spin::access::patient_teams(&cx.settings.auth_url, &patient)
            .await?
            .care_teams
            .contains(&body.care_team)
    };
    let decision = cx.decide(&caller, Action::SendMessage, &draft);
    if !assigned && own.is_some() {
        return Err(Problem::invalid_field("care_team")
            .with_detail("choose one of the care teams you are assigned to"));
    }
    if !assigned || !decision.is_allowed() {
        let mut decision = decision;
        if decision.is_allowed() {
            decision = portal_policy::Decision {
                effect: portal_policy::Effect::Deny,
                reason: portal_policy::Reason::NotOnCareTeam,
                ..decision
            };
        }
        let denied = cx
            .deny(&caller, AuditAction::ThreadOpened, &draft, decision)
            .await;
        return Err(if denied.kind() == ProblemKind::NotFound {
            Problem::new(ProblemKind::NotFound)
                .with_detail("no patient of this care team has this id")
        } else {
            denied
        });
    }

    let fingerprint = idempotency::fingerprint("POST", &path, &raw);
    take_send_allowance(cx, &caller)?;
    let claim = idempotency::claim(cx, key, &fingerprint, (fresh_thread, fresh_message))?;
    let (thread_id, message_id, key) = match claim {
        Claim::Replay { thread, message } => {
            return created(cx, &caller, &thread, &message).await;
        }
        Claim::Proceed {
            thread,
            message,
            key,
        } => (thread, message, key),
    };
    let draft = ThreadRecord {
        id: thread_id.clone(),
        ..draft
    };

    let prepared = async {
        share(cx, &caller, &draft, &body.attachments).await?;
        cx.audit(
            &caller,
            Event::success(
                AuditAction::ThreadOpened,
                (EntityType::Thread, thread_id.as_str()),
                &patient,
                decision.purpose,
            ),
        )
        .await?;
        record_sent(cx, &caller, &draft, &message_id, decision.purpose).await
    }
    .await;
    if let Err(problem) = prepared {
        idempotency::release(&cx.store, key.as_deref());
        return Err(problem);
    }

    let message = write_message(
        cx,
        &caller,
        &draft,
        &message_id,
        &body.body,
        body.attachments,
    )?;
    let mut record = ThreadRecord {
        messages: vec![MessageEntry {
            id: message.id.clone(),
            sender: message.sender.clone(),
            sent_at: message.sent_at,
        }],
        ..draft
    };
    record.subject = threads::seal_subject(cx, &record, &body.subject)?;
    // A retry after a crash finds the thread written and keeps it.
    cx.store
        .insert_new(&model::thread_key(&thread_id), &record)?;
    add_to_list(cx, &model::patient_threads_key(&patient), &thread_id)?;
    add_to_list(cx, &model::team_threads_key(&record.care_team), &thread_id)?;
    threads::mark_read(cx, &thread_id, caller.user(), 1)?;
    idempotency::finish(&cx.store, key.as_deref())?;
    notify(cx, &caller, &record).await;
    created(cx, &caller, &thread_id, &message_id).await
}

/// `POST /messages/threads/<id>/messages`: replies in an open thread.
pub async fn reply(cx: &Context, request: Request, id: &str) -> Result<Response, Problem> {
    let caller = cx.caller(&request).await?;
    let (thread, decision) = threads::authorize(
        cx,
        &caller,
        id,
        Action::SendMessage,
        AuditAction::MessageSent,
    )
    .await?;
    if matches!(caller.role, Role::Patient | Role::Proxy)
        && !context::teams_spoken_for(&caller).contains(&thread.care_team)
    {
        return Err(Problem::new(ProblemKind::Conflict).with_detail(
            "you are no longer assigned to this care team; open a thread to one of your current care teams",
        ));
    }
    let key = idempotency::key_of(&request, caller.user())?;
    let path = portal_spin::edge::path(&request);
    let raw = portal_spin::edge::read_json_bytes(request, request_limit(cx)).await?;
    let body: ReplyRequest = portal_spin::edge::parse_json(&raw, REPLY_FIELDS)?;
    check_body(cx, &body.body)?;
    check_attachments(&body.attachments)?;

    let (_, fresh_message) = new_ids()?;
    let fingerprint = idempotency::fingerprint("POST", &path, &raw);
    take_send_allowance(cx, &caller)?;
    let claim = idempotency::claim(cx, key, &fingerprint, (thread.id.clone(), fresh_message))?;
    let (message_id, key) = match claim {
        Claim::Replay { thread, message } => {
            return created(cx, &caller, &thread, &message).await;
        }
        Claim::Proceed { message, key, .. } => (message, key),
    };
    if thread.state == ThreadState::Closed {
        idempotency::release(&cx.store, key.as_deref());
        return Err(closed());
    }

    let prepared = async {
        share(cx, &caller, &thread, &body.attachments).await?;
        record_sent(cx, &caller, &thread, &message_id, decision.purpose).await
    }
    .await;
    if let Err(problem) = prepared {
        idempotency::release(&cx.store, key.as_deref());
        return Err(problem);
    }

    let message = write_message(
        cx,
        &caller,
        &thread,
        &message_id,
        &body.body,
        body.attachments,
    )?;
    let entry = MessageEntry {
        id: message.id.clone(),
        sender: message.sender.clone(),
        sent_at: message.sent_at,
    };
    let now = cx.now;
    let appended = cx.store.update::<ThreadRecord, ThreadRecord, Problem>(
        &model::thread_key(&thread.id),
        "thread",
        |current| {
            let mut record = current.ok_or_else(context::thread_not_found)?;
            if record.messages.iter().any(|listed| listed.id == entry.id) {
                return Ok((Update::Keep, record));
            }
            if record.state == ThreadState::Closed {
                return Err(closed());
            }
            if record.messages.len() >= model::MAX_MESSAGES_PER_THREAD {
                return Err(Problem::new(ProblemKind::Conflict)
                    .with_limit(model::MAX_MESSAGES_PER_THREAD as u64)
                    .with_detail("this thread has reached its message limit; open a new thread"));
            }
            record.messages.push(entry.clone());
            record.updated_at = now;
            Ok((Update::Set(record.clone()), record))
        },
    )?;
    let record = match appended {
        Ok(appended) => appended,
        Err(problem) => {
            idempotency::release(&cx.store, key.as_deref());
            return Err(problem);
        }
    };
    // The sender's read position stays where it was: their own message never counts as
    // unread, and messages they have not opened (in a sensitive thread, say) stay unread.
    idempotency::finish(&cx.store, key.as_deref())?;
    notify(cx, &caller, &record).await;
    created(cx, &caller, &thread.id, &message_id).await
}

/// Counts a send against the caller's hourly allowance, so one account cannot flood a care
/// team with threads and notices.
fn take_send_allowance(cx: &Context, caller: &Caller) -> Result<(), Problem> {
    let hour = cx.now.div_euclid(3600);
    // NOTE: the hourly counters are never deleted; a sweep of old hours is not built yet.
    let sent = cx
        .store
        .increment(&model::send_count_key(caller.user(), hour), 1)?;
    if sent > MAX_SENDS_PER_HOUR {
        let retry_after = 3600 - cx.now.rem_euclid(3600);
        return Err(
            Problem::rate_limited(retry_after.unsigned_abs()).with_detail(
                "you have sent the maximum number of messages for this hour; try again later",
            ),
        );
    }
    Ok(())
}

fn closed() -> Problem {
    Problem::new(ProblemKind::Conflict)
        .with_detail("this thread is closed; reopen it to reply, or open a new thread")
}

async fn record_sent(
    cx: &Context,
    caller: &Caller,
    thread: &ThreadRecord,
    message: &MessageId,
    purpose: PurposeOfUse,
) -> Result<(), Problem> {
    cx.audit(
        caller,
        Event::success(
            AuditAction::MessageSent,
            (EntityType::Message, message.as_str()),
            &thread.patient,
            purpose,
        ),
    )
    .await
}

/// Seals and stores a message once; a retry finds it stored and keeps the first copy.
fn write_message(
    cx: &Context,
    caller: &Caller,
    thread: &ThreadRecord,
    id: &MessageId,
    body: &str,
    attachments: Vec<FileId>,
) -> Result<MessageRecord, Problem> {
    let key = model::message_key(&thread.id, id);
    if let Some(existing) = cx.store.get::<MessageRecord>(&key, "message")? {
        return Ok(existing);
    }
    let mut message = MessageRecord {
        id: id.clone(),
        thread: thread.id.clone(),
        sender: caller.user().clone(),
        sender_role: caller.role,
        sent_at: cx.now,
        body: String::new(),
        attachments,
    };
    message.body = threads::seal_body(cx, &message, body)?;
    if !cx.store.insert_new(&key, &message)? {
        return cx
            .store
            .get::<MessageRecord>(&key, "message")?
            .ok_or_else(|| Problem::new(ProblemKind::ServiceUnavailable));
    }
    Ok(message)
}

fn add_to_list(cx: &Context, key: &str, thread: &ThreadId) -> Result<(), Problem> {
    cx.store
        .update::<Vec<ThreadId>, (), Problem>(key, "thread list", |list| {
            let mut list = list.unwrap_or_default();
            if list.contains(thread) {
                return Ok((Update::Keep, ()));
            }
            list.push(thread.clone());
            Ok((Update::Set(list), ()))
        })??;
    Ok(())
}

/// Builds the 201 response to a send, also returned to a replayed request.
async fn created(
    cx: &Context,
    caller: &Caller,
    thread: &ThreadId,
    message: &MessageId,
) -> Result<Response, Problem> {
    let record = threads::load(cx, thread.as_str())?.ok_or_else(|| {
        Problem::new(ProblemKind::ServiceUnavailable)
            .with_detail("the message is being written; retry with the same Idempotency-Key")
    })?;
    let index = record
        .messages
        .iter()
        .position(|entry| &entry.id == message)
        .ok_or_else(|| {
            Problem::new(ProblemKind::ServiceUnavailable)
                .with_detail("the message is being written; retry with the same Idempotency-Key")
        })?;
    let stored = threads::load_message(cx, &record, index)?;
    let team = Teams::default().get(cx, &record.care_team).await?;
    let subject = cx
        .decide(caller, Action::ReadThread, &record)
        .is_allowed()
        .then(|| threads::subject(cx, &record))
        .transpose()?;
    let mut response = portal_spin::json_no_store(
        StatusCode::CREATED,
        &json!({
            "thread": threads::thread_view(cx, caller, &record, &team, subject)?,
            "message": threads::message_view(cx, &stored, index + 1)?,
        }),
    );
    if let Ok(location) =
        http::HeaderValue::from_str(&format!("/messages/threads/{}", record.id.as_str()))
    {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    Ok(response)
}

/// Lets the thread's participants read the attached files, through uploads' private grant
/// route. uploads checks every file before it grants any, and rejects files the sender may
/// not read (404) and files that have not passed its checks (409). Files attached in a
/// sensitive thread become sensitive in uploads too.
async fn share(
    cx: &Context,
    caller: &Caller,
    thread: &ThreadRecord,
    files: &[FileId],
) -> Result<(), Problem> {
    if files.is_empty() {
        return Ok(());
    }
    let patient_user =
        UserId::new(thread.patient.as_str()).map_err(|_| Problem::new(ProblemKind::Internal))?;
    let body = json!({
        "file_ids": files,
        "thread_id": thread.id,
        "patient": thread.patient,
        "sender": caller.user(),
        "sender_role": caller.role,
        "sender_care_teams": caller.care_teams,
        "care_team": thread.care_team,
        "users": [patient_user],
        "sensitive": thread.category == Category::Sensitive,
        "sender_acting_for": caller.acting_for,
    });
    let response = portal_spin::service::call(
        "uploads-internal",
        &cx.settings.uploads_url,
        http::Method::POST,
        "/grants",
        Some(body.to_string()),
    )
    .await
    .map_err(|_| {
        eprintln!("uploads grant route unreachable");
        Problem::new(ProblemKind::ServiceUnavailable)
    })?;
    match response.status().as_u16() {
        201 => Ok(()),
        404 => Err(Problem::invalid_field("attachments")
            .with_detail("an attachment is not a file you may read; upload it first")),
        409 => Err(Problem::new(ProblemKind::Conflict)
            .with_field("attachments")
            .with_detail("an attachment has not passed the security checks; wait for them or choose another file")),
        status => {
            eprintln!("uploads grant route returned status {status}");
            Err(Problem::new(ProblemKind::ServiceUnavailable))
        }
    }
}

/// Asks auth to tell the other side of the thread that a message arrived: the care team's
/// clinicians when a patient writes, the patient when a clinician does. The notice is one
/// fixed text with no name, subject, body or id.
async fn notify(cx: &Context, caller: &Caller, thread: &ThreadRecord) {
    if cx.settings.notify_url.is_empty() {
        return;
    }
    let recipients: Vec<UserId> = if matches!(caller.role, Role::Patient | Role::Proxy) {
        match Teams::default().get(cx, &thread.care_team).await {
            Ok(team) => team.clinicians,
            Err(_) => {
                eprintln!("message notice skipped: care team lookup failed");
                return;
            }
        }
    } else {
        UserId::new(thread.patient.as_str()).into_iter().collect()
    };
    let recipients: Vec<UserId> = recipients
        .into_iter()
        .filter(|user| user != caller.user())
        .collect();
    if recipients.is_empty() {
        return;
    }
    let body = json!({ "kind": "new_message", "users": recipients }).to_string();
    let sent = portal_spin::service::call(
        "auth-notify",
        &cx.settings.notify_url,
        http::Method::POST,
        "/notify",
        Some(body),
    )
    .await;
    match sent {
        Ok(response) if response.status() == StatusCode::ACCEPTED => {}
        Ok(response) => eprintln!(
            "notice route returned status {}",
            response.status().as_u16()
        ),
        Err(_) => eprintln!("notice route unreachable"),
    }
}
