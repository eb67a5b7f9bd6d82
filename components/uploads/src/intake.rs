//! `POST /files`: receive, hash, quarantine, sanitize, scan, store the clean copy, release.

use http_body_util::{BodyExt, Limited};
use portal_audit::{AuditAction, Outcome};
use portal_policy::{Action, PatientId, Role};
use portal_problem::{FileRejection, Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::access::Caller;
use portal_spin::kv::Update;
use sha2::{Digest, Sha256};
use spin_sdk::http::{Request, StatusCode};

use crate::clamav::{self, Scan};
use crate::context::Context;
use crate::files;
use crate::model::{self, FileRecord, FileState, Finding};
use crate::vault::{DataKey, ObjectRole};

mod sanitizer {
    wit_bindgen::generate!({
        world: "portal:sanitizer/sanitizer-client",
        path: "../../wit",
    });
}

use sanitizer::portal::sanitizer::sanitize;

/// Maximum length of the name in `X-File-Name`, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// Image and decompression limits handed to the sanitizer. 50 megapixels covers current phone
/// cameras (48 MP); 20,000 pixels per side covers panoramas. 64 MiB bounds what a PDF's or a
/// PNG's compressed streams may inflate to: an object stream is held whole while it is read,
/// so the limit stays well inside the host's default 256 MiB per instance memory.
const LIMITS: sanitize::Limits = sanitize::Limits {
    max_pixels: 50_000_000,
    max_dimension: 20_000,
    max_inflated_bytes: 64 << 20,
};

/// `GET /files/health`: the component, and the linked sanitizer's verdict on a probe text.
pub fn health(info: portal_spin::ComponentInfo) -> Response {
    let report = sanitize::inspect("health.txt", "text/plain", b"health check", LIMITS);
    let verdict = match report.verdict {
        sanitize::Verdict::Clean => "clean",
        sanitize::Verdict::Cleaned => "cleaned",
        sanitize::Verdict::Rejected => "rejected",
    };
    portal_spin::json(
        StatusCode::OK,
        &serde_json::json!({
            "component": info.name,
            "version": info.version,
            "status": "ok",
            "sanitizer": { "verdict": verdict, "detected_type": report.detected_type },
        }),
    )
}

/// `POST /files[?patient=ID]`: the body is the file; `Content-Type` and `X-File-Name` are the
/// client's claims about it. Returns 201 with the available file, or 422 with the reasons it
/// was rejected.
pub async fn upload(cx: &Context, request: Request) -> Result<Response, Problem> {
    let caller = cx.caller(&request).await?;
    let patient = target_patient(cx, &request, &caller).await?;
    let declared_type = portal_spin::edge::header(&request, "content-type")
        .unwrap_or_default()
        .to_owned();
    let name = file_name(&request)?;
    let contents = read_body(request, cx.settings.max_upload_bytes).await?;

    let id = portal_auth::secret::new_id(16)
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    let key = quarantine(cx, &caller, &patient, &id, &contents).await?;

    let report = sanitize::inspect(&name, &declared_type, &contents, LIMITS);
    let mut findings: Vec<Finding> = report
        .findings
        .into_iter()
        .map(|finding| Finding {
            code: finding.code,
            message: finding.message,
        })
        .collect();
    if report.verdict == sanitize::Verdict::Rejected {
        return reject(
            cx,
            &caller,
            &patient,
            &id,
            Some(report.detected_type),
            findings,
        )
        .await;
    }
    let clean = report.cleaned.unwrap_or(contents);
    if let Some(address) = &cx.settings.clamav_address {
        let verdict = clamav::scan(address, &clean);
        if verdict != Scan::Clean {
            if let Scan::Failed(detail) = verdict {
                eprintln!("antivirus scan failed: {detail}");
            }
            findings.push(scan_finding(&verdict));
            return reject(
                cx,
                &caller,
                &patient,
                &id,
                Some(report.detected_type),
                findings,
            )
            .await;
        }
    }
    release(
        cx,
        &caller,
        &patient,
        &id,
        &key,
        Release {
            name: report.name,
            detected_type: report.detected_type,
            clean,
            findings,
        },
    )
    .await
}

/// Returns the patient whose record receives the file: the `patient` query parameter, or the caller
/// when a patient uploads to their own record. Clinicians may upload only to the records of
/// patients of their care teams.
async fn target_patient(
    cx: &Context,
    request: &Request,
    caller: &Caller,
) -> Result<PatientId, Problem> {
    let requested = portal_spin::edge::query(request, "patient");
    match caller.role {
        Role::Patient => match requested {
            Some(patient) if patient != caller.user().as_str() => {
                Err(Problem::new(ProblemKind::Forbidden)
                    .with_detail("patients upload only to their own record"))
            }
            _ => PatientId::new(caller.user().as_str())
                .map_err(|_| Problem::new(ProblemKind::Internal)),
        },
        Role::Clinician => {
            let patient = requested
                .and_then(|value| PatientId::new(value).ok())
                .ok_or_else(|| Problem::invalid_field("patient"))?;
            let teams = portal_spin::access::patient_teams(&cx.settings.auth_url, &patient).await?;
            if teams.patient
                && teams
                    .care_teams
                    .iter()
                    .any(|team| caller.care_teams.contains(team))
            {
                Ok(patient)
            } else {
                Err(Problem::new(ProblemKind::NotFound)
                    .with_detail("no patient of your care teams has this id"))
            }
        }
        Role::Proxy => {
            let patient = caller
                .on_behalf_of()
                .cloned()
                .ok_or_else(|| Problem::new(ProblemKind::Forbidden))?;
            if requested.is_some_and(|value| value != patient.as_str()) {
                return Err(Problem::new(ProblemKind::Forbidden)
                    .with_detail("proxies upload only to the record they act for"));
            }
            // The policy decides per file; a fresh id stands for the file about to exist.
            if cx.proxy_allows(caller, Action::UploadFile, &patient, "new-upload", false) {
                Ok(patient)
            } else {
                Err(Problem::new(ProblemKind::NotFound)
                    .with_detail("your access to this record does not include uploading files"))
            }
        }
        _ => Err(Problem::new(ProblemKind::Forbidden)
            .with_detail("only patients, their proxies and their clinicians upload files")),
    }
}

/// Reads the client's file name from `X-File-Name`, percent-decoded; it is used only to notice a
/// disagreement with the bytes and to name the stored copy.
fn file_name(request: &Request) -> Result<String, Problem> {
    let raw = portal_spin::edge::header(request, "x-file-name").unwrap_or_default();
    if raw.len() > MAX_NAME_BYTES * 3 {
        return Err(Problem::invalid_field("X-File-Name").with_limit(MAX_NAME_BYTES as u64));
    }
    // Percent-decoding only: a `+` in the header is a plus sign, not a space.
    let escaped = raw.replace('+', "%2B");
    let name: String = url::form_urlencoded::parse(format!("n={escaped}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if name.len() > MAX_NAME_BYTES {
        return Err(Problem::invalid_field("X-File-Name").with_limit(MAX_NAME_BYTES as u64));
    }
    Ok(name)
}

/// Reads the body, refusing with 413 as soon as it passes `limit`: a declared length over the
/// limit is refused before any byte is read.
async fn read_body(request: Request, limit: u64) -> Result<Vec<u8>, Problem> {
    let declared = portal_spin::edge::header(&request, "content-length")
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(Problem::payload_too_large(limit));
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let body = Limited::new(request.into_body(), limit_usize)
        .collect()
        .await
        .map_err(|_| Problem::payload_too_large(limit))?
        .to_bytes();
    Ok(body.to_vec())
}

/// Stores the encrypted original under `quarantine/`, writes the quarantined record and audits
/// the receipt. On any failure nothing of the file is left behind.
async fn quarantine(
    cx: &Context,
    caller: &Caller,
    patient: &PatientId,
    id: &str,
    contents: &[u8],
) -> Result<DataKey, Problem> {
    let key = DataKey::generate()?;
    key.save(&cx.store, &cx.sealer, id)?;
    let quarantined = object_name()?;
    let object_key = format!("quarantine/{quarantined}");
    let quarantined = &quarantined;
    let undo = |object: bool| async move {
        if object {
            let _ = cx
                .objects
                .delete(&format!("quarantine/{quarantined}"))
                .await;
        }
        let _ = cx.store.delete(&model::file_key(id));
        let _ = DataKey::destroy(&cx.store, id);
    };

    let sealed = key.encrypt(&cx.settings.tenant, id, ObjectRole::Original, contents)?;
    if let Err(error) = cx.objects.put(&object_key, sealed, true).await {
        eprintln!("quarantine write failed: {error}");
        undo(false).await;
        return Err(Problem::new(ProblemKind::ServiceUnavailable));
    }
    let record = FileRecord {
        id: id.to_owned(),
        patient: patient.clone(),
        uploader: caller.user().clone(),
        created_at: cx.now,
        state: FileState::Quarantined,
        name: None,
        detected_type: None,
        size: contents.len() as u64,
        sha256: hex(&Sha256::digest(contents)),
        clean_size: None,
        clean_sha256: None,
        quarantine_key: Some(object_key.clone()),
        object_key: None,
        findings: Vec::new(),
        grants: Vec::new(),
        sensitive: false,
    };
    let stored = cx.store.insert_new(&model::file_key(id), &record);
    if !matches!(stored, Ok(true)) {
        undo(true).await;
        return Err(Problem::new(ProblemKind::ServiceUnavailable));
    }
    let audited = cx
        .audit(
            (caller.user(), caller.role),
            AuditAction::FileUploaded,
            id,
            patient,
            Outcome::Success,
            None,
        )
        .await;
    if let Err(problem) = audited {
        undo(true).await;
        return Err(problem);
    }
    files::add_to_patient(cx, patient, id)?;
    Ok(key)
}

/// The stored form of a file that passed: its name, type, clean bytes and findings.
struct Release {
    name: String,
    detected_type: String,
    clean: Vec<u8>,
    findings: Vec<Finding>,
}

/// Stores the encrypted clean copy, audits the release, marks the file available and removes
/// the original (which may hold the metadata the sanitizer removed).
async fn release(
    cx: &Context,
    caller: &Caller,
    patient: &PatientId,
    id: &str,
    key: &DataKey,
    release: Release,
) -> Result<Response, Problem> {
    let clean_sha256 = hex(&Sha256::digest(&release.clean));
    let clean_size = release.clean.len() as u64;
    let sealed = key.encrypt(&cx.settings.tenant, id, ObjectRole::Clean, &release.clean)?;
    drop(release.clean);
    let object_key = format!("files/{}", object_name()?);
    cx.objects
        .put(&object_key, sealed, true)
        .await
        .map_err(|error| {
            eprintln!("clean copy write failed: {error}");
            Problem::new(ProblemKind::ServiceUnavailable)
        })?;
    let name = cx
        .sealer
        .seal(&cx.store, "file-name", id, release.name.as_bytes())?;
    let reason = release.findings.first().map(|finding| finding.code.clone());
    if let Err(problem) = cx
        .audit(
            (caller.user(), caller.role),
            AuditAction::FileReleased,
            id,
            patient,
            Outcome::Success,
            reason.as_deref(),
        )
        .await
    {
        let _ = cx.objects.delete(&object_key).await;
        return Err(problem);
    }
    let released = cx
        .store
        .update::<FileRecord, (FileRecord, Option<String>), Problem>(
            &model::file_key(id),
            "file",
            |current| {
                let mut record = current.ok_or_else(|| Problem::new(ProblemKind::Conflict))?;
                if record.state != FileState::Quarantined {
                    return Err(Problem::new(ProblemKind::Conflict));
                }
                record.state = FileState::Available;
                record.name = Some(<base64ct::Base64 as base64ct::Encoding>::encode_string(
                    &name,
                ));
                record.detected_type = Some(release.detected_type.clone());
                record.clean_size = Some(clean_size);
                record.clean_sha256 = Some(clean_sha256.clone());
                record.object_key = Some(object_key.clone());
                record.findings = release.findings.clone();
                let original = record.quarantine_key.take();
                Ok((Update::Set(record.clone()), (record, original)))
            },
        )??;
    let (record, original) = released;
    if let Some(original) = original
        && let Err(error) = cx.objects.delete(&original).await
    {
        // The record no longer points at it and its key still seals it; log and go on.
        eprintln!("removing a released original failed: {error}");
    }
    let mut response = portal_spin::json_no_store(StatusCode::CREATED, &files::view(cx, &record)?);
    if let Ok(location) = http::HeaderValue::from_str(&format!("/files/{id}")) {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    Ok(response)
}

/// Audits the rejection, marks the file rejected (its original stays encrypted in quarantine)
/// and returns 422 with the reasons.
async fn reject(
    cx: &Context,
    caller: &Caller,
    patient: &PatientId,
    id: &str,
    detected_type: Option<String>,
    findings: Vec<Finding>,
) -> Result<Response, Problem> {
    let first = findings
        .first()
        .map(|finding| finding.code.clone())
        .unwrap_or_else(|| "rejected".to_owned());
    cx.audit(
        (caller.user(), caller.role),
        AuditAction::FileRejected,
        id,
        patient,
        Outcome::MinorFailure,
        Some(&first),
    )
    .await?;
    cx.store
        .update::<FileRecord, (), Problem>(&model::file_key(id), "file", |current| {
            let mut record = current.ok_or_else(|| Problem::new(ProblemKind::Conflict))?;
            record.state = FileState::Rejected;
            record.detected_type = detected_type.clone().filter(|value| !value.is_empty());
            record.findings = findings.clone();
            Ok((Update::Set(record), ()))
        })??;

    let problem = Problem::file_rejected(rejection(&first));
    let mut body = problem.to_json();
    if let Some(object) = body.as_object_mut() {
        object.insert("file_id".into(), serde_json::json!(id));
        object.insert(
            "findings".into(),
            serde_json::json!(findings_json(&findings)),
        );
    }
    let mut response = portal_spin::json_no_store(problem.status(), &body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/problem+json"),
    );
    Ok(response)
}

fn findings_json(findings: &[Finding]) -> Vec<serde_json::Value> {
    findings
        .iter()
        .map(|finding| serde_json::json!({ "code": finding.code, "message": finding.message }))
        .collect()
}

/// Maps a finding code to its problem category.
fn rejection(code: &str) -> FileRejection {
    match code {
        "archive" => FileRejection::Archive,
        "malware" => FileRejection::MalwareFound,
        "scan-failed" => FileRejection::MalwareFound,
        "office-macros" => FileRejection::ActiveContent,
        code if code.starts_with("pdf-") => FileRejection::ActiveContent,
        "corrupt-image" | "decompression-limit" | "image-too-large" | "polyglot" => {
            FileRejection::Corrupted
        }
        _ => FileRejection::TypeNotAllowed,
    }
}

fn scan_finding(scan: &Scan) -> Finding {
    match scan {
        Scan::Infected => Finding {
            code: "malware".to_owned(),
            message: "The security scan found malware in this file. Do not open it; upload a \
                      clean copy from its original source."
                .to_owned(),
        },
        _ => Finding {
            code: "scan-failed".to_owned(),
            message: "The file could not be checked for viruses right now. Upload it again later."
                .to_owned(),
        },
    }
}

/// Draws a random object name: 24 random bytes in base64url, unrelated to the patient or the
/// file.
fn object_name() -> Result<String, Problem> {
    portal_auth::secret::new_id(24).map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
