//! Reading files: descriptions, lists, download links, downloads, and deletion.

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{KeyInit, Mac};
use portal_audit::{AuditAction, Outcome};
use portal_policy::{Action, CareTeamId, PatientId, PurposeOfUse, Role, UserId};
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::access::Caller;
use portal_spin::kv::Update;
use sha2::{Digest, Sha256};
use spin_sdk::http::{Request, StatusCode};

use crate::context::{Context, LINK_LIFETIME_SECS};
use crate::intake::hex;
use crate::model::{self, FileRecord, FileState};
use crate::vault::{DataKey, ObjectRole};

type HmacSha256 = hmac::Hmac<Sha256>;

/// Most files listed per patient.
const MAX_LISTED: usize = 200;

/// Adds `id` to the patient's file list.
pub fn add_to_patient(cx: &Context, patient: &PatientId, id: &str) -> Result<(), Problem> {
    cx.store.update::<Vec<String>, (), Problem>(
        &model::patient_files_key(patient),
        "file list",
        |list| {
            let mut list = list.unwrap_or_default();
            if !list.iter().any(|existing| existing == id) {
                list.push(id.to_owned());
            }
            Ok((Update::Set(list), ()))
        },
    )??;
    Ok(())
}

/// Builds the JSON description of a file, with its name decrypted.
pub fn view(cx: &Context, record: &FileRecord) -> Result<serde_json::Value, Problem> {
    let name = match &record.name {
        Some(sealed) => {
            let sealed = base64ct::Base64::decode_vec(sealed)
                .map_err(|_| Problem::new(ProblemKind::Internal))?;
            let opened = cx.sealer.open("file-name", &record.id, &sealed)?;
            Some(String::from_utf8_lossy(&opened).into_owned())
        }
        None => None,
    };
    let findings: Vec<serde_json::Value> = record
        .findings
        .iter()
        .map(|finding| serde_json::json!({ "code": finding.code, "message": finding.message }))
        .collect();
    Ok(serde_json::json!({
        "id": record.id,
        "patient": record.patient,
        "uploaded_by": record.uploader,
        "uploaded_at": record.created_at,
        "state": record.state,
        "name": name,
        "media_type": record.detected_type,
        "size": record.clean_size,
        "sha256": record.clean_sha256,
        "received_size": record.size,
        "received_sha256": record.sha256,
        "findings": findings,
    }))
}

/// Returns whether a user may read `record`: its uploader, its patient, clinicians of the patient's
/// care teams now, and the users and care teams it was shared with as an attachment.
pub async fn may_read(
    cx: &Context,
    user: &UserId,
    role: Role,
    care_teams: &[CareTeamId],
    record: &FileRecord,
) -> Result<bool, Problem> {
    if record.state == FileState::Deleted {
        return Ok(false);
    }
    if user == &record.uploader
        || (role == Role::Patient && user.as_str() == record.patient.as_str())
    {
        return Ok(true);
    }
    // A sensitive file is as visible as the sensitive thread it was attached in.
    let granted = record.grants.iter().any(|grant| {
        grant.users.contains(user)
            || (role == Role::Clinician
                && grant
                    .care_team
                    .as_ref()
                    .is_some_and(|team| care_teams.contains(team)))
    });
    if granted {
        return Ok(true);
    }
    if role == Role::Clinician && !record.sensitive {
        let teams =
            portal_spin::access::patient_teams(&cx.settings.auth_url, &record.patient).await?;
        return Ok(teams
            .care_teams
            .iter()
            .any(|team| care_teams.contains(team)));
    }
    Ok(false)
}

/// Loads a file the caller may read, with the purpose its events record when the access is
/// break-the-glass. A file that does not exist and one the caller may not read give the same
/// 404; the refusal is audited.
async fn readable(
    cx: &Context,
    caller: &Caller,
    id: &str,
) -> Result<(FileRecord, Option<PurposeOfUse>), Problem> {
    let not_found =
        || Problem::new(ProblemKind::NotFound).with_detail("no file you may read has this id");
    if id.len() > 64 {
        return Err(not_found());
    }
    let Some(record) = cx.store.get::<FileRecord>(&model::file_key(id), "file")? else {
        return Err(not_found());
    };
    let allowed = if caller.role == Role::Proxy {
        record.state != FileState::Deleted
            && cx.proxy_allows(
                caller,
                Action::ReadFile,
                &record.patient,
                id,
                record.sensitive,
            )
    } else {
        may_read(cx, caller.user(), caller.role, &caller.care_teams, &record).await?
    };
    // A clinician outside the patient's care teams with live emergency access.
    let emergency = !allowed
        && caller.role == Role::Clinician
        && record.state != FileState::Deleted
        && cx.emergency_allows(caller, &record.patient, id);
    let purpose = emergency.then_some(PurposeOfUse::EmergencyTreatment);
    if !allowed && !emergency {
        cx.audit(
            (caller.user(), caller.role),
            AuditAction::FileViewed,
            id,
            &record.patient,
            Outcome::MinorFailure,
            Some("not_permitted"),
        )
        .await?;
        return Err(not_found());
    }
    if record.sensitive && !cx.stepped_up(caller) {
        cx.audit_as(
            purpose,
            (caller.user(), caller.role),
            AuditAction::FileViewed,
            id,
            &record.patient,
            Outcome::MinorFailure,
            Some("step_up_required"),
        )
        .await?;
        return Err(Problem::new(ProblemKind::StepUpRequired).with_detail(
            "this file is in a sensitive thread; confirm your second factor and retry",
        ));
    }
    Ok((record, purpose))
}

/// `GET /files/<id>`: the file's description.
pub async fn describe(cx: &Context, request: &Request, id: &str) -> Result<Response, Problem> {
    let caller = cx.caller(request).await?;
    let (record, purpose) = readable(cx, &caller, id).await?;
    cx.audit_as(
        purpose,
        (caller.user(), caller.role),
        AuditAction::FileViewed,
        id,
        &record.patient,
        Outcome::Success,
        None,
    )
    .await?;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &view(cx, &record)?,
    ))
}

/// `GET /files[?patient=ID]`: the files of a patient's record, newest first. The patient
/// (whose own record is the default) and clinicians of the patient's care teams may list it.
/// Anyone else gets 404, and the refusal is audited.
pub async fn list(cx: &Context, request: &Request) -> Result<Response, Problem> {
    let caller = cx.caller(request).await?;
    let patient = match portal_spin::edge::query(request, "patient") {
        Some(value) => PatientId::new(value).map_err(|_| Problem::invalid_field("patient"))?,
        None if caller.role == Role::Patient => PatientId::new(caller.user().as_str())
            .map_err(|_| Problem::new(ProblemKind::Internal))?,
        None if caller.role == Role::Proxy => caller
            .on_behalf_of()
            .cloned()
            .ok_or_else(|| Problem::invalid_field("patient"))?,
        None => return Err(Problem::invalid_field("patient")),
    };
    // The patient and clinicians of the patient's care teams may list the record; auth is
    // asked once for the list rather than once per file.
    let own = caller.role == Role::Patient && caller.user().as_str() == patient.as_str();
    let on_team = caller.role == Role::Clinician
        && portal_spin::access::patient_teams(&cx.settings.auth_url, &patient)
            .await?
            .care_teams
            .iter()
            .any(|team| caller.care_teams.contains(team));
    let proxy = caller.role == Role::Proxy && caller.on_behalf_of() == Some(&patient);
    let emergency =
        !on_team && caller.role == Role::Clinician && caller.emergency_for(&patient).is_some();
    let purpose = emergency.then_some(PurposeOfUse::EmergencyTreatment);
    if !own && !on_team && !proxy && !emergency {
        cx.audit(
            (caller.user(), caller.role),
            AuditAction::FileViewed,
            "list",
            &patient,
            Outcome::MinorFailure,
            Some("not_permitted"),
        )
        .await?;
        return Err(Problem::new(ProblemKind::NotFound)
            .with_detail("no record whose files you may list has this id"));
    }
    let ids: Vec<String> = cx
        .store
        .get(&model::patient_files_key(&patient), "file list")?
        .unwrap_or_default();
    let mut files = Vec::new();
    for id in ids.iter().rev().take(MAX_LISTED) {
        let Some(record) = cx.store.get::<FileRecord>(&model::file_key(id), "file")? else {
            continue;
        };
        if record.state == FileState::Deleted {
            continue;
        }
        // Sensitive files are left out of the list until the caller steps up.
        if record.sensitive && !cx.stepped_up(&caller) {
            continue;
        }
        let readable = if proxy {
            cx.proxy_allows(&caller, Action::ReadFile, &patient, id, record.sensitive)
        } else if emergency {
            cx.emergency_allows(&caller, &patient, id)
        } else {
            (on_team && !record.sensitive)
                || may_read(cx, caller.user(), caller.role, &caller.care_teams, &record).await?
        };
        if readable {
            files.push(view(cx, &record)?);
        }
    }
    cx.audit_as(
        purpose,
        (caller.user(), caller.role),
        AuditAction::FileViewed,
        "list",
        &patient,
        Outcome::Success,
        None,
    )
    .await?;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &serde_json::json!({ "files": files }),
    ))
}

/// `POST /files/<id>/links`: a download link for the caller, valid for five minutes and once.
pub async fn issue_link(cx: &Context, request: &Request, id: &str) -> Result<Response, Problem> {
    let caller = cx.caller(request).await?;
    let (record, purpose) = readable(cx, &caller, id).await?;
    if record.state != FileState::Available {
        return Err(Problem::new(ProblemKind::Conflict)
            .with_detail("only files that passed the security checks can be downloaded"));
    }
    let nonce = portal_auth::secret::new_id(16)
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    let expires = cx.now.saturating_add(LINK_LIFETIME_SECS);
    let mac = link_mac(cx, id, caller.user(), expires, &nonce)?;
    let token = format!("{nonce}.{expires}.{mac}");
    cx.audit_as(
        purpose,
        (caller.user(), caller.role),
        AuditAction::DownloadLinkIssued,
        id,
        &record.patient,
        Outcome::Success,
        None,
    )
    .await?;
    Ok(portal_spin::json_no_store(
        StatusCode::CREATED,
        &serde_json::json!({
            "url": format!("/files/{id}/content?link={token}"),
            "expires_at": expires,
        }),
    ))
}

/// `GET /files/<id>/content?link=TOKEN`: the clean copy, for the user the link was issued to,
/// once, before it expires. The bytes are decrypted and their hash checked before any is sent.
pub async fn download(cx: &Context, request: &Request, id: &str) -> Result<Response, Problem> {
    let caller = cx.caller(request).await?;
    let link = portal_spin::edge::query(request, "link").unwrap_or_default();
    let refused = || {
        Problem::new(ProblemKind::Forbidden)
            .with_detail("the download link is invalid, used or expired; ask for a new one")
    };
    let mut parts = link.splitn(3, '.');
    let (Some(nonce), Some(expires), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(refused());
    };
    let expires: i64 = expires.parse().map_err(|_| refused())?;
    let (record, purpose) = readable(cx, &caller, id).await?;
    let valid = verify_link(cx, id, caller.user(), expires, nonce, mac)? && expires >= cx.now;
    if !valid || !cx.store.insert_new(&model::link_used_key(nonce), &cx.now)? {
        cx.audit_as(
            purpose,
            (caller.user(), caller.role),
            AuditAction::FileDownloaded,
            id,
            &record.patient,
            Outcome::MinorFailure,
            Some("invalid_link"),
        )
        .await?;
        return Err(refused());
    }
    let (Some(object_key), Some(expected)) = (&record.object_key, &record.clean_sha256) else {
        return Err(Problem::new(ProblemKind::Conflict)
            .with_detail("only files that passed the security checks can be downloaded"));
    };
    let key = DataKey::load(&cx.store, &cx.sealer, id)?
        .ok_or_else(|| Problem::new(ProblemKind::NotFound))?;
    let object = cx
        .objects
        .get(object_key)
        .await
        .map_err(|error| {
            eprintln!("object read failed: {error}");
            Problem::new(ProblemKind::ServiceUnavailable)
        })?
        .ok_or_else(|| {
            eprintln!("a released file's object is missing");
            Problem::new(ProblemKind::Internal)
        })?;
    let contents = key.decrypt(&cx.settings.tenant, id, ObjectRole::Clean, &object)?;
    if &hex(&Sha256::digest(contents.as_slice())) != expected {
        eprintln!("a released file's hash does not match its record");
        return Err(Problem::new(ProblemKind::Internal));
    }
    cx.audit_as(
        purpose,
        (caller.user(), caller.role),
        AuditAction::FileDownloaded,
        id,
        &record.patient,
        Outcome::Success,
        None,
    )
    .await?;

    let media_type = record
        .detected_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let name = view(cx, &record)?
        .get("name")
        .and_then(|name| name.as_str().map(str::to_owned))
        .unwrap_or_else(|| "file".to_owned());
    let mut response = portal_spin::with_body(
        StatusCode::OK,
        "application/octet-stream",
        contents.to_vec(),
    );
    let headers = response.headers_mut();
    if let Ok(value) = http::HeaderValue::from_str(&media_type) {
        headers.insert(http::header::CONTENT_TYPE, value);
    }
    // RFC 8187 percent-encoding: form encoding writes a space as `+`, which is `%20` here.
    let encoded = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{encoded}",
        ascii_fallback(&name),
    );
    if let Ok(value) = http::HeaderValue::from_str(&disposition) {
        headers.insert(http::header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

/// `DELETE /files/<id>`: destroys the data key, removes the objects and leaves a tombstone.
/// The patient and the uploader may delete.
pub async fn delete(cx: &Context, request: &Request, id: &str) -> Result<Response, Problem> {
    let caller = cx.caller(request).await?;
    let (record, purpose) = readable(cx, &caller, id).await?;
    let owner = caller.user() == &record.uploader
        || (caller.role == Role::Patient && caller.user().as_str() == record.patient.as_str());
    if !owner {
        return Err(Problem::new(ProblemKind::Forbidden)
            .with_detail("only the patient and the uploader may delete a file"));
    }
    cx.audit_as(
        purpose,
        (caller.user(), caller.role),
        AuditAction::FileDeleted,
        id,
        &record.patient,
        Outcome::Success,
        None,
    )
    .await?;
    // The key goes first: from here on no copy of the objects, in any backup, can be read.
    DataKey::destroy(&cx.store, id)?;
    let objects = cx.store.update::<FileRecord, Vec<String>, Problem>(
        &model::file_key(id),
        "file",
        |current| {
            let mut record = current.ok_or_else(|| Problem::new(ProblemKind::NotFound))?;
            let objects: Vec<String> = [record.quarantine_key.take(), record.object_key.take()]
                .into_iter()
                .flatten()
                .collect();
            // The tombstone keeps who and when, not what: hashes, sizes, type and findings
            // could confirm a guessed document after its key is gone.
            record.state = FileState::Deleted;
            record.name = None;
            record.grants.clear();
            record.sha256 = String::new();
            record.size = 0;
            record.clean_sha256 = None;
            record.clean_size = None;
            record.detected_type = None;
            record.findings.clear();
            Ok((Update::Set(record), objects))
        },
    )??;
    for object in objects {
        if let Err(error) = cx.objects.delete(&object).await {
            // The key is gone, so the object is unreadable; a later sweep can remove it.
            eprintln!("removing a deleted file's object failed: {error}");
        }
    }
    Ok(portal_spin::empty(StatusCode::NO_CONTENT))
}

fn link_mac(
    cx: &Context,
    id: &str,
    user: &UserId,
    expires: i64,
    nonce: &str,
) -> Result<String, Problem> {
    let mut mac = HmacSha256::new_from_slice(&cx.settings.link_key)
        .map_err(|_| Problem::new(ProblemKind::Internal))?;
    mac.update(link_message(&cx.settings.tenant, id, user, expires, nonce).as_bytes());
    Ok(Base64UrlUnpadded::encode_string(
        &mac.finalize().into_bytes(),
    ))
}

fn verify_link(
    cx: &Context,
    id: &str,
    user: &UserId,
    expires: i64,
    nonce: &str,
    mac: &str,
) -> Result<bool, Problem> {
    let Ok(tag) = Base64UrlUnpadded::decode_vec(mac) else {
        return Ok(false);
    };
    let mut expected = HmacSha256::new_from_slice(&cx.settings.link_key)
        .map_err(|_| Problem::new(ProblemKind::Internal))?;
    expected.update(link_message(&cx.settings.tenant, id, user, expires, nonce).as_bytes());
    Ok(expected.verify_slice(&tag).is_ok())
}

/// Builds the signed content of a link: its purpose, tenant, file, user, expiry and nonce. The
/// purpose label keeps a link's MAC from ever being valid for anything else.
fn link_message(tenant: &str, id: &str, user: &UserId, expires: i64, nonce: &str) -> String {
    format!(
        "portal-download-link-v1\0{tenant}\0{id}\0{}\0{expires}\0{nonce}",
        user.as_str()
    )
}

/// Replaces anything but printable ASCII, and quotes and backslashes, in `name` with `_`, for
/// clients that ignore `filename*`.
fn ascii_fallback(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
