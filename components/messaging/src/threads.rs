//! Threads: listing, reading, closing and reopening, and the views every route returns.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64ct::{Base64, Encoding};
use portal_audit::{AuditAction, EntityType};
use portal_policy::{
    Action, CareTeamId, Effect, PatientId, PurposeOfUse, Reason, ThreadId, UserId,
};
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::access::{Caller, CareTeamInfo};
use portal_spin::kv::Update;
use serde_json::{Value, json};
use spin_sdk::http::{Request, StatusCode};

use crate::context::{self, Context, Event};
use crate::model::{self, MessageRecord, ThreadRecord, ThreadState};

/// Shown with every thread: the channel is not watched around the clock.
pub const DISCLAIMER: &str = "Secure messages are not for emergencies and may not be read \
    outside office hours. In an emergency, call 911 or your local emergency number.";

/// Threads per page when the client does not ask.
const DEFAULT_PAGE: usize = 20;

/// Maximum threads per page.
const MAX_PAGE: usize = 50;

/// Messages per read when the client does not ask.
const DEFAULT_MESSAGES: usize = 100;

/// Maximum messages per read.
const MAX_MESSAGES: usize = 200;

/// Care teams looked up during one request.
#[derive(Debug, Default)]
pub struct Teams(HashMap<CareTeamId, CareTeamInfo>);

impl Teams {
    /// Auth's view of `team`, asked once per request.
    pub async fn get(&mut self, cx: &Context, team: &CareTeamId) -> Result<CareTeamInfo, Problem> {
        if let Some(info) = self.0.get(team) {
            return Ok(info.clone());
        }
        let info = portal_spin::access::care_team(&cx.settings.auth_url, team).await?;
        self.0.insert(team.clone(), info.clone());
        Ok(info)
    }
}

/// Loads a thread; `None` when no thread has the id.
pub fn load(cx: &Context, id: &str) -> Result<Option<ThreadRecord>, Problem> {
    let Ok(id) = ThreadId::new(id) else {
        return Ok(None);
    };
    Ok(cx.store.get(&model::thread_key(&id), "thread")?)
}

/// Seals `text` as the subject of `thread`, bound to its patient, care team and category.
pub fn seal_subject(cx: &Context, thread: &ThreadRecord, text: &str) -> Result<String, Problem> {
    let sealed = cx.sealer.seal(
        &cx.store,
        model::SUBJECT_RECORD,
        &model::subject_record_id(thread),
        text.as_bytes(),
    )?;
    Ok(Base64::encode_string(&sealed))
}

/// Seals `text` as the body of `message`, bound to its thread, id and sender.
pub fn seal_body(cx: &Context, message: &MessageRecord, text: &str) -> Result<String, Problem> {
    let sealed = cx.sealer.seal(
        &cx.store,
        model::BODY_RECORD,
        &model::body_record_id(message),
        text.as_bytes(),
    )?;
    Ok(Base64::encode_string(&sealed))
}

fn open_text(
    cx: &Context,
    record_type: &str,
    record_id: &str,
    sealed: &str,
) -> Result<String, Problem> {
    let envelope = Base64::decode_vec(sealed).map_err(|_| Problem::new(ProblemKind::Internal))?;
    let opened = cx.sealer.open(record_type, record_id, &envelope)?;
    String::from_utf8(opened.to_vec()).map_err(|_| Problem::new(ProblemKind::Internal))
}

/// The subject of `thread`, decrypted. It fails if the thread's patient, care team or
/// category was changed in the store.
pub fn subject(cx: &Context, thread: &ThreadRecord) -> Result<String, Problem> {
    open_text(
        cx,
        model::SUBJECT_RECORD,
        &model::subject_record_id(thread),
        &thread.subject,
    )
}

/// How many messages `user` has read in `thread`.
fn read_position(cx: &Context, thread: &ThreadRecord, user: &UserId) -> Result<usize, Problem> {
    Ok(cx
        .store
        .get::<usize>(&model::read_key(&thread.id, user), "read position")?
        .unwrap_or(0))
}

/// Moves `user`'s read position in `thread` forward to `seen` messages; never back.
pub fn mark_read(
    cx: &Context,
    thread: &ThreadId,
    user: &UserId,
    seen: usize,
) -> Result<(), Problem> {
    cx.store.update::<usize, (), Problem>(
        &model::read_key(thread, user),
        "read position",
        |current| match current {
            Some(position) if position >= seen => Ok((Update::Keep, ())),
            _ => Ok((Update::Set(seen), ())),
        },
    )??;
    Ok(())
}

/// Messages others sent after `user`'s read position.
fn unread(cx: &Context, thread: &ThreadRecord, user: &UserId) -> Result<usize, Problem> {
    let position = read_position(cx, thread, user)?;
    Ok(thread
        .messages
        .iter()
        .skip(position)
        .filter(|entry| &entry.sender != user)
        .count())
}

/// The JSON view of a thread. `subject` is `None` when the caller must step up to see it.
pub fn thread_view(
    cx: &Context,
    caller: &Caller,
    thread: &ThreadRecord,
    team: &CareTeamInfo,
    subject: Option<String>,
) -> Result<Value, Problem> {
    let step_up_required = subject.is_none();
    Ok(json!({
        "id": thread.id,
        "patient": thread.patient,
        "care_team": {
            "id": thread.care_team,
            "name": team.name,
            "expected_response_hours": team.response_hours,
        },
        "category": thread.category,
        "state": thread.state,
        "subject": subject,
        "step_up_required": step_up_required,
        "opened_by": thread.opened_by,
        "opened_at": thread.opened_at,
        "updated_at": thread.updated_at,
        "message_count": thread.messages.len(),
        "unread": unread(cx, thread, caller.user())?,
        "expected_response": format!(
            "The care team usually answers within {} hours.",
            team.response_hours
        ),
        "disclaimer": DISCLAIMER,
    }))
}

/// The body of `message`, decrypted.
pub fn body(cx: &Context, message: &MessageRecord) -> Result<String, Problem> {
    open_text(
        cx,
        model::BODY_RECORD,
        &model::body_record_id(message),
        &message.body,
    )
}

/// The JSON view of a message, with its body decrypted.
pub fn message_view(cx: &Context, message: &MessageRecord, seq: usize) -> Result<Value, Problem> {
    let body = body(cx, message)?;
    Ok(json!({
        "id": message.id,
        "thread_id": message.thread,
        "seq": seq,
        "sender": message.sender,
        "sender_role": message.sender_role,
        "sent_at": message.sent_at,
        "body": body,
        "attachments": message.attachments,
    }))
}

/// Loads the message at position `index` of `thread`.
pub fn load_message(
    cx: &Context,
    thread: &ThreadRecord,
    index: usize,
) -> Result<MessageRecord, Problem> {
    let entry = thread
        .messages
        .get(index)
        .ok_or_else(|| Problem::new(ProblemKind::Internal))?;
    cx.store
        .get::<MessageRecord>(&model::message_key(&thread.id, &entry.id), "message")?
        .ok_or_else(|| {
            eprintln!("a thread lists a message that is not stored");
            Problem::new(ProblemKind::Internal)
        })
}

fn query_number(
    request: &Request,
    name: &'static str,
    default: usize,
    max: usize,
) -> Result<usize, Problem> {
    match portal_spin::edge::query(request, name) {
        None => Ok(default),
        Some(value) => value
            .parse::<usize>()
            .ok()
            .filter(|number| *number <= max)
            .ok_or_else(|| Problem::invalid_field(name).with_limit(max as u64)),
    }
}

/// A position in the newest-first order: after the thread updated at `.0` with id `.1`.
fn parse_cursor(text: &str) -> Result<(i64, String), Problem> {
    let (time, id) = text
        .split_once(':')
        .ok_or_else(|| Problem::invalid_field("cursor"))?;
    let time = time.parse().map_err(|_| Problem::invalid_field("cursor"))?;
    Ok((time, id.to_owned()))
}

/// `GET /messages/threads?limit=&cursor=`: the caller's threads, newest activity first, with
/// unread counts. Patients see their own; clinicians see their care teams'. Subjects of
/// sensitive threads are withheld until the caller steps up. Every patient whose threads
/// appear is recorded in the audit log.
pub async fn list(cx: &Context, request: &Request) -> Result<Response, Problem> {
    let caller = cx.caller(request).await?;
    context::refuse_role(cx, &caller, None).await?;
    let limit = query_number(request, "limit", DEFAULT_PAGE, MAX_PAGE)?.max(1);
    let cursor = portal_spin::edge::query(request, "cursor")
        .map(|text| parse_cursor(&text))
        .transpose()?;

    let mut ids = BTreeSet::new();
    let own = context::speaks_for(&caller);
    let mut lists: Vec<String> = match &own {
        Some(patient) => vec![model::patient_threads_key(patient)],
        None => caller
            .care_teams
            .iter()
            .map(model::team_threads_key)
            .collect(),
    };
    // A clinician who broke the glass for a patient sees that patient's threads too.
    lists.extend(
        caller
            .emergency
            .iter()
            .map(|access| model::patient_threads_key(&access.patient)),
    );
    for key in lists {
        let listed: Vec<ThreadId> = cx.store.get(&key, "thread list")?.unwrap_or_default();
        ids.extend(listed);
    }
    let mut threads = Vec::new();
    for id in ids {
        let Some(thread) = cx
            .store
            .get::<ThreadRecord>(&model::thread_key(&id), "thread")?
        else {
            continue;
        };
        let decision = cx.decide(&caller, Action::ReadThread, &thread);
        let visible = match (decision.effect, decision.reason) {
            (Effect::Allow, _) => Some(true),
            (Effect::Deny, Reason::StepUpRequired) => Some(false),
            (Effect::Deny, _) => None,
        };
        if let Some(subject_visible) = visible {
            threads.push((thread, subject_visible, decision.purpose));
        }
    }
    threads.sort_by(|(a, ..), (b, ..)| {
        (b.updated_at, b.id.as_str()).cmp(&(a.updated_at, a.id.as_str()))
    });
    if let Some((time, id)) = &cursor {
        threads
            .retain(|(thread, ..)| (thread.updated_at, thread.id.as_str()) < (*time, id.as_str()));
    }
    let more = threads.len() > limit;
    threads.truncate(limit);

    // Record the listing per patient, with the purpose the policy gave, before any subject
    // leaves the component.
    let mut patients: BTreeMap<&PatientId, PurposeOfUse> = BTreeMap::new();
    for (thread, _, purpose) in &threads {
        patients.entry(&thread.patient).or_insert(*purpose);
    }
    if let Some(patient) = &own {
        patients
            .entry(patient)
            .or_insert_with(|| PurposeOfUse::for_role(caller.role));
    }
    let events = patients
        .into_iter()
        .map(|(patient, purpose)| {
            Event::success(
                AuditAction::ThreadsListed,
                (EntityType::Patient, patient.as_str()),
                patient,
                purpose,
            )
        })
        .collect();
    cx.audit_all(&caller, events).await?;

    let mut teams = Teams::default();
    let mut views = Vec::with_capacity(threads.len());
    for (thread, subject_visible, _) in &threads {
        let team = teams.get(cx, &thread.care_team).await?;
        // The subject is opened for every listed thread, visible or not, so a thread whose
        // binding was tampered with is left out instead of shown under the wrong patient.
        let Ok(opened) = subject(cx, thread) else {
            eprintln!(
                "thread {} left out of a list: its subject does not open",
                thread.id.as_str()
            );
            continue;
        };
        let subject = subject_visible.then_some(opened);
        views.push(thread_view(cx, &caller, thread, &team, subject)?);
    }
    let next_cursor = more
        .then(|| threads.last())
        .flatten()
        .map(|(thread, ..)| format!("{}:{}", thread.updated_at, thread.id.as_str()));
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &json!({ "threads": views, "next_cursor": next_cursor }),
    ))
}

/// Loads the thread `id` for `action` by the caller, recording and refusing a denial.
pub async fn authorize(
    cx: &Context,
    caller: &Caller,
    id: &str,
    action: Action,
    audited_as: AuditAction,
) -> Result<(ThreadRecord, portal_policy::Decision), Problem> {
    let thread = load(cx, id)?;
    context::refuse_role(cx, caller, thread.as_ref()).await?;
    let thread = thread.ok_or_else(context::thread_not_found)?;
    let decision = cx.decide(caller, action, &thread);
    if !decision.is_allowed() {
        return Err(cx.deny(caller, audited_as, &thread, decision).await);
    }
    Ok((thread, decision))
}

/// `GET /messages/threads/<id>?after=&limit=`: the thread and its messages after position
/// `after`, oldest first. Marks them read for the caller. A sensitive thread needs step-up.
pub async fn read(cx: &Context, request: &Request, id: &str) -> Result<Response, Problem> {
    let caller = cx.caller(request).await?;
    let (thread, decision) =
        authorize(cx, &caller, id, Action::ReadThread, AuditAction::ThreadRead).await?;
    let after = query_number(request, "after", 0, model::MAX_MESSAGES_PER_THREAD)?;
    let limit = query_number(request, "limit", DEFAULT_MESSAGES, MAX_MESSAGES)?.max(1);
    cx.audit(
        &caller,
        Event::success(
            AuditAction::ThreadRead,
            (EntityType::Thread, thread.id.as_str()),
            &thread.patient,
            decision.purpose,
        ),
    )
    .await?;
    // The subject opens only if the thread's patient, team and category are as sealed, so
    // it is checked before any body leaves.
    let subject = subject(cx, &thread)?;
    let end = thread.messages.len().min(after.saturating_add(limit));
    let mut messages = Vec::new();
    for index in after.min(end)..end {
        let message = load_message(cx, &thread, index)?;
        messages.push(message_view(cx, &message, index + 1)?);
    }
    mark_read(cx, &thread.id, caller.user(), end)?;
    let team = Teams::default().get(cx, &thread.care_team).await?;
    let view = thread_view(cx, &caller, &thread, &team, Some(subject))?;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &json!({
            "thread": view,
            "messages": messages,
            "next_after": (end < thread.messages.len()).then_some(end),
        }),
    ))
}

/// `POST /messages/threads/<id>/close` and `/reopen`: either participant may close a thread,
/// which then takes no replies, or reopen it. Setting the state it already has changes
/// nothing.
pub async fn set_state(
    cx: &Context,
    request: &Request,
    id: &str,
    state: ThreadState,
) -> Result<Response, Problem> {
    let caller = cx.caller(request).await?;
    let action = match state {
        ThreadState::Closed => AuditAction::ThreadClosed,
        ThreadState::Open => AuditAction::ThreadReopened,
    };
    let (thread, decision) = authorize(cx, &caller, id, Action::SendMessage, action).await?;
    cx.audit(
        &caller,
        Event::success(
            action,
            (EntityType::Thread, thread.id.as_str()),
            &thread.patient,
            decision.purpose,
        ),
    )
    .await?;
    let now = cx.now;
    let updated = cx.store.update::<ThreadRecord, ThreadRecord, Problem>(
        &model::thread_key(&thread.id),
        "thread",
        |current| {
            let mut record = current.ok_or_else(context::thread_not_found)?;
            if record.state == state {
                return Ok((Update::Keep, record));
            }
            record.state = state;
            record.updated_at = now;
            Ok((Update::Set(record.clone()), record))
        },
    )??;
    let team = Teams::default().get(cx, &updated.care_team).await?;
    let subject = cx
        .decide(&caller, Action::ReadThread, &updated)
        .is_allowed()
        .then(|| subject(cx, &updated))
        .transpose()?;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &json!({ "thread": thread_view(cx, &caller, &updated, &team, subject)? }),
    ))
}
