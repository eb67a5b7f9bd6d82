//! Records of the messaging store and their keys.
//!
//! - `thread:<id>`: a [`ThreadRecord`], with the ordered list of its messages; every change
//!   is a compare-and-swap, so two replies never overwrite each other.
//! - `message:<thread>:<id>`: a [`MessageRecord`], written once before the thread lists it.
//! - `patient-threads:<patient>` and `team-threads:<care team>`: thread ids, for listing.
//! - `read:<thread>:<user>`: how many of the thread's messages the user has read.
//! - `idempotency:<user>:<sha256 of the key>`: an [`IdempotencyRecord`].
//! - `send-count:<user>:<hour>`: how many messages the user sent in that hour.
//!
//! Subjects and bodies are sealed with the messaging domain's keys. The associated data binds
//! the tenant and the thread, plus the patient, care team and category for subjects and the
//! message and sender for bodies, so a sealed value copied to another record fails to open.

use portal_policy::{
    CareTeamId, FileId, MessageId, PatientId, Role, Sensitivity, ThreadId, UserId,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Label of the component's key-value store.
pub const STORE: &str = "messaging";

/// Record type of a sealed subject.
pub const SUBJECT_RECORD: &str = "thread-subject";

/// Record type of a sealed body.
pub const BODY_RECORD: &str = "message-body";

/// Maximum number of messages in one thread. Past it, participants open a new thread.
pub const MAX_MESSAGES_PER_THREAD: usize = 1000;

/// What a thread is about, which decides who may see it and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Questions that fit no other category.
    General,
    /// Bills and payments.
    Billing,
    /// Symptoms, results, medication and care.
    Clinical,
    /// A confidential matter: reading needs step-up.
    Sensitive,
}

impl Category {
    /// The policy's sensitivity of the category.
    pub fn sensitivity(self) -> Sensitivity {
        match self {
            Category::Sensitive => Sensitivity::Sensitive,
            Category::General | Category::Billing | Category::Clinical => Sensitivity::Normal,
        }
    }

    /// The code used in JSON and FHIR.
    pub fn code(self) -> &'static str {
        match self {
            Category::General => "general",
            Category::Billing => "billing",
            Category::Clinical => "clinical",
            Category::Sensitive => "sensitive",
        }
    }
}

/// Whether a thread takes replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadState {
    /// Takes replies.
    Open,
    /// Closed by a participant; reopening makes it take replies again.
    Closed,
}

/// One message in a thread's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEntry {
    /// The message.
    pub id: MessageId,
    /// Who sent it, for unread counts.
    pub sender: UserId,
    /// When, in Unix seconds.
    pub sent_at: i64,
}

/// A thread between a patient and a care team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRecord {
    /// Random id.
    pub id: ThreadId,
    /// The patient the thread is about.
    pub patient: PatientId,
    /// The care team that replies in the thread.
    pub care_team: CareTeamId,
    /// Category.
    pub category: Category,
    /// Open or closed.
    pub state: ThreadState,
    /// The subject, sealed for this thread (standard base64).
    pub subject: String,
    /// Who opened it.
    pub opened_by: UserId,
    /// When, in Unix seconds.
    pub opened_at: i64,
    /// When the last message arrived or the state changed, in Unix seconds.
    pub updated_at: i64,
    /// The messages, oldest first. A message's sequence number is its position plus one.
    pub messages: Vec<MessageEntry>,
}

/// A message. Immutable once written: a correction is a new message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Random id.
    pub id: MessageId,
    /// The thread.
    pub thread: ThreadId,
    /// The sender.
    pub sender: UserId,
    /// The sender's role when it was sent.
    pub sender_role: Role,
    /// When, in Unix seconds.
    pub sent_at: i64,
    /// The body, sealed for this thread and message (standard base64).
    pub body: String,
    /// Files attached, each shared with the thread's participants.
    #[serde(default)]
    pub attachments: Vec<FileId>,
}

/// What a request carrying an `Idempotency-Key` did, so a retry gets the first result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// SHA-256 of the method, path and body of the first request, hex, sealed with the
    /// messaging keys (standard base64).
    pub fingerprint: String,
    /// When the key was first used, in Unix seconds.
    pub created_at: i64,
    /// When the request holding the key started, in Unix seconds; a stale start means it
    /// crashed and a retry may take over.
    pub started_at: i64,
    /// The thread the request writes to.
    pub thread: ThreadId,
    /// The message the request writes.
    pub message: MessageId,
    /// Whether the request completed.
    pub done: bool,
}

/// Key of a thread record.
pub fn thread_key(thread: &ThreadId) -> String {
    format!("thread:{}", thread.as_str())
}

/// Key of a message record.
pub fn message_key(thread: &ThreadId, message: &MessageId) -> String {
    format!("message:{}:{}", thread.as_str(), message.as_str())
}

/// Key of a patient's thread list.
pub fn patient_threads_key(patient: &PatientId) -> String {
    format!("patient-threads:{}", patient.as_str())
}

/// Key of a care team's thread list.
pub fn team_threads_key(team: &CareTeamId) -> String {
    format!("team-threads:{}", team.as_str())
}

/// Key of a user's read position in a thread.
pub fn read_key(thread: &ThreadId, user: &UserId) -> String {
    format!("read:{}:{}", thread.as_str(), user.as_str())
}

/// Key of a user's count of sends in one hour (`hour` is Unix time divided by 3600).
pub fn send_count_key(user: &UserId, hour: i64) -> String {
    format!("send-count:{}:{hour}", user.as_str())
}

/// Key of an idempotency record; the client's key is hashed, so any text is safe in it.
pub fn idempotency_key(user: &UserId, hashed_key: &str) -> String {
    format!("idempotency:{}:{hashed_key}", user.as_str())
}

/// The record id a subject is sealed for: the thread, and a digest of its patient, care team
/// and category. Changing any of them in the store makes the subject fail to open, so a
/// thread cannot be moved to another patient or team, or out of the sensitive category,
/// without the keys.
pub fn subject_record_id(thread: &ThreadRecord) -> String {
    let mut hasher = Sha256::new();
    for part in [
        thread.patient.as_str(),
        thread.care_team.as_str(),
        thread.category.code(),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let short: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{}/{short}", thread.id.as_str())
}

/// The record id a body is sealed for: the thread, the message, and who sent it in which
/// role, so a body cannot be moved or attributed to someone else without the keys.
pub fn body_record_id(message: &MessageRecord) -> String {
    format!(
        "{}/{}/{}/{}",
        message.thread.as_str(),
        message.id.as_str(),
        message.sender.as_str(),
        message.sender_role.as_str()
    )
}
