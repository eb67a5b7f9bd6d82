//! Records of the uploads store and their keys.
//!
//! - `file:<id>`: a [`FileRecord`], updated with compare-and-swap.
//! - `file-key:<id>`: the file's data key, sealed under the uploads KEK. Deleting it destroys
//!   every object of the file (crypto-shredding).
//! - `patient-files:<patient>`: the ids of a patient's files, newest last.
//! - `link-used:<nonce>`: a download link already spent.

use portal_policy::{CareTeamId, PatientId, UserId};
use serde::{Deserialize, Serialize};

/// Label of the component's key-value store.
pub const STORE: &str = "uploads";

/// The pipeline state of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// Received and stored encrypted in quarantine; not yet known to be safe.
    Quarantined,
    /// Passed the sanitizer (and the antivirus scan, when configured); readable.
    Available,
    /// Rejected; `findings` lists why. The original stays encrypted in quarantine.
    Rejected,
    /// Deleted: the data key is destroyed and the objects removed.
    Deleted,
}

/// One observation of the pipeline: a rejection reason or a change made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code, such as `pdf-javascript`.
    pub code: String,
    /// A sentence the patient can act on.
    pub message: String,
}

/// Read access given to a thread's participants when the file was attached to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The thread the file was attached in.
    pub thread: String,
    /// Clinicians of this care team may read the file while they are on the team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub care_team: Option<CareTeamId>,
    /// These users may read the file.
    #[serde(default)]
    pub users: Vec<UserId>,
    /// The user who attached the file.
    pub granted_by: UserId,
    /// When, in Unix seconds.
    pub granted_at: i64,
}

/// A file of a patient's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Random id.
    pub id: String,
    /// The patient whose record contains the file.
    pub patient: PatientId,
    /// The user who uploaded it.
    pub uploader: UserId,
    /// When it was received, in Unix seconds.
    pub created_at: i64,
    /// Pipeline state.
    pub state: FileState,
    /// The display name, sealed for this record (base64), once the sanitizer corrected it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Media type detected from the bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_type: Option<String>,
    /// Size of the received bytes.
    pub size: u64,
    /// SHA-256 of the received bytes, hex.
    pub sha256: String,
    /// Size of the stored clean copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_size: Option<u64>,
    /// SHA-256 of the stored clean copy, hex; checked on every download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_sha256: Option<String>,
    /// Object key of the encrypted original, under `quarantine/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine_key: Option<String>,
    /// Object key of the encrypted clean copy, under `files/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_key: Option<String>,
    /// Reasons for a rejection, or changes made.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Access given through message attachments.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Set once the file is attached in a sensitive thread. Reading it then needs a recent
    /// second factor, and clinicians reach it only through a grant's care team.
    #[serde(default)]
    pub sensitive: bool,
}

/// Key of a file record.
pub fn file_key(id: &str) -> String {
    format!("file:{id}")
}

/// Key of a file's sealed data key.
pub fn data_key_key(id: &str) -> String {
    format!("file-key:{id}")
}

/// Key of a patient's file list.
pub fn patient_files_key(patient: &PatientId) -> String {
    format!("patient-files:{}", patient.as_str())
}

/// Key that marks a download link spent.
pub fn link_used_key(nonce: &str) -> String {
    format!("link-used:{nonce}")
}
