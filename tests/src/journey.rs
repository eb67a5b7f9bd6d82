//! The whole portal in one journey, as the README walks a newcomer through it. An admin sets
//! up a care team. A patient signs up with TOTP, uploads a photo and a PDF, and writes to the
//! team. The clinician replies and downloads the photo, and an outsider is refused. The patient
//! sees who read their record, a compliance officer exports the audit log and verifies it
//! offline, and after the patient signs out, their old token is rejected everywhere.
//!
//! The end-to-end test runs it against the host in process over HTTPS with the test clock.
//! The `walkthrough` binary runs the same steps against a portal started from the README.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail, ensure};
use portal_auditlog::{CheckpointSigner, CheckpointVerifier, ExportFailure, verify_export};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::client::{Client, Clock, Reply};
use crate::sink::Sink;

/// The password every account in the journey uses.
pub const PASSWORD: &str = "correct horse battery staple";

/// The audit log's origin line in the repository's `spin.toml`.
pub const LOG_ORIGIN: &str = "portal.local/audit";

const SUBJECT: &str = "Rash on my forearm";
const BODY: &str = "The rash in the photo appeared on Monday and itches at night.";
const REPLY: &str = "Thank you. It looks like contact dermatitis; use the cream I prescribed.";

/// How the journey moves past a used TOTP time step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    /// Advance the host's test clock by 30 seconds.
    TestClock,
    /// Sleep until the next 30-second step, as a person at a real portal would.
    Wall,
}

/// Where the journey runs.
#[derive(Debug)]
pub struct Settings {
    /// Base URL of the portal, such as `https://localhost:3443`.
    pub base: String,
    /// The clock and HTTP client every participant shares.
    pub clock: Clock,
    /// The portal's `bootstrap_secret`.
    pub bootstrap_secret: String,
    /// How to pass a used TOTP step.
    pub time: Time,
    /// The checkpoint verifier key, `name+id+base64` as `audit-verify --key` takes it.
    pub verifier_key: String,
    /// Where to write the export, the checkpoint and the key for `audit-verify`, if anywhere.
    pub output: Option<PathBuf>,
    /// Print each step as it runs.
    pub narrate: bool,
}

/// What the journey left behind for the caller to check further.
#[derive(Debug)]
pub struct Outcome {
    /// The exported audit log (JSON Lines).
    pub export: String,
    /// The signed checkpoint the export verified against.
    pub checkpoint: String,
    /// Entries the verifier checked.
    pub verified: u64,
    /// The entry the journey altered, and the index the verifier reported.
    pub altered_index: u64,
    /// Notices the gateway received.
    pub notices: Vec<Value>,
    /// Ids of the participants and records, by name.
    pub ids: Ids,
    /// The patient's TOTP secret (`pat@example.org`), to sign in again later.
    pub patient_totp: Option<portal_auth::totp::TotpSecret>,
}

/// Ids of the journey's participants and records.
#[derive(Debug, Default)]
pub struct Ids {
    /// The first admin.
    pub admin: String,
    /// The clinician on the care team.
    pub clinician: String,
    /// The clinician on another team.
    pub outsider: String,
    /// The patient.
    pub patient: String,
    /// The compliance officer.
    pub officer: String,
    /// The care team.
    pub team: String,
    /// The photo.
    pub photo: String,
    /// The PDF.
    pub pdf: String,
    /// The thread.
    pub thread: String,
}

/// Reads a fixture from `tests/fixtures`.
pub fn fixture(relative: &str) -> anyhow::Result<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

/// A one-page PDF letter with a correct cross-reference table, as a scanner or word
/// processor writes one.
pub fn letter_pdf() -> Vec<u8> {
    let content = b"BT /F1 12 Tf 72 720 Td (Referral letter: dermatology, routine.) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{}\nendstream",
            content.len(),
            String::from_utf8_lossy(content)
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", index + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The verifier key of the development checkpoint key in `runtime-config.toml`.
pub fn development_verifier_key() -> anyhow::Result<String> {
    let path = crate::repository_root().join("runtime-config.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let config: toml::Table = toml::from_str(&text).context("parsing runtime-config.toml")?;
    let providers = config
        .get("variables_provider")
        .and_then(toml::Value::as_array)
        .context("runtime-config.toml has no variables_provider")?;
    let seed = providers
        .iter()
        .find_map(|provider| {
            provider
                .get("values")?
                .get("audit_checkpoint_key")?
                .as_str()
        })
        .context("runtime-config.toml sets no audit_checkpoint_key")?;
    let seed: [u8; 32] = <base64ct::Base64 as base64ct::Encoding>::decode_vec(seed)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .context("audit_checkpoint_key is not base64 of 32 bytes")?;
    let signer = CheckpointSigner::from_seed("portal-audit", &seed)
        .map_err(|error| anyhow::anyhow!("invalid checkpoint key: {error:?}"))?;
    Ok(signer.verifier_key())
}

/// Fails with the step, the status and the problem's title and detail when `reply` is not
/// `status`.
fn expect(reply: &Reply, status: u16, what: &str) -> anyhow::Result<()> {
    ensure!(
        reply.status == status,
        "{what}: expected status {status}, got {} ({} {})",
        reply.status,
        reply.body["title"].as_str().unwrap_or_default(),
        reply.body["detail"].as_str().unwrap_or_default()
    );
    Ok(())
}

fn text(value: &Value, what: &str) -> anyhow::Result<String> {
    value
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{what} is missing"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The journey's participants and settings.
struct Run<'a> {
    settings: &'a Settings,
    ids: Ids,
}

impl Run<'_> {
    fn say(&self, line: &str) {
        if self.settings.narrate {
            println!("{line}");
        }
    }

    fn client(&self) -> Client {
        Client::new(&self.settings.base, &self.settings.clock)
    }

    /// Moves past the current TOTP step, so a user who just used a code can use the next.
    async fn next_totp_step(&self) {
        match self.settings.time {
            Time::TestClock => self.settings.clock.advance(&self.settings.base, 30).await,
            Time::Wall => {
                let now = self.settings.clock.now();
                let wait = 30 - now.rem_euclid(30) + 1;
                self.say(&format!("   (waiting {wait} s for the next TOTP code)"));
                tokio::time::sleep(std::time::Duration::from_secs(wait.unsigned_abs())).await;
            }
        }
    }

    /// Invites a user with `role`, who accepts, signs in and enrols TOTP.
    async fn invite(
        &self,
        admin: &Client,
        email: &str,
        role: &str,
    ) -> anyhow::Result<(Client, String)> {
        let invitation = admin
            .send(
                "POST",
                "/auth/invitations",
                Some(json!({ "email": email, "role": role })),
            )
            .await;
        expect(&invitation, 201, "invite")?;
        let mut user = self.client();
        let accepted = user
            .send(
                "POST",
                "/auth/invitations/accept",
                Some(json!({ "invitation": invitation.body["invitation"], "password": PASSWORD })),
            )
            .await;
        expect(&accepted, 201, "accept the invitation")?;
        expect(&user.login(email, PASSWORD).await, 200, "first sign-in")?;
        expect(&user.enrol_totp().await, 200, "TOTP enrolment")?;
        let id = text(
            &user.send("GET", "/auth/me", None).await.body["user_id"],
            "user id",
        )?;
        Ok((user, id))
    }

    async fn add_member(&self, admin: &Client, team: &str, user: &str) -> anyhow::Result<()> {
        let added = admin
            .send(
                "PUT",
                &format!("/auth/care-teams/{team}/members/{user}"),
                None,
            )
            .await;
        expect(&added, 200, "add a care-team member")
    }

    /// Uploads `bytes` and checks that the file is available.
    async fn upload(
        &self,
        patient: &Client,
        name: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        let uploaded = patient
            .send_bytes(
                "POST",
                "/files",
                bytes,
                &[("content-type", media_type), ("x-file-name", name)],
            )
            .await;
        expect(&uploaded, 201, &format!("upload {name}"))?;
        ensure!(
            uploaded.body["state"] == "available",
            "{name} is not available"
        );
        Ok(uploaded)
    }

    /// Downloads a file through a fresh link.
    async fn download(&self, client: &Client, file: &str) -> anyhow::Result<Vec<u8>> {
        let link = client
            .send("POST", &format!("/files/{file}/links"), None)
            .await;
        expect(&link, 201, "issue a download link")?;
        let (status, _, bytes) = client.fetch(&text(&link.body["url"], "link url")?).await;
        ensure!(status == 200, "download: status {status}");
        Ok(bytes)
    }
}

/// Runs the journey against the portal in `settings`, with `sink` as the notification
/// gateway the portal was configured with.
pub async fn run(settings: &Settings, sink: &Sink) -> anyhow::Result<Outcome> {
    let mut run = Run {
        settings,
        ids: Ids::default(),
    };
    let base = settings.base.as_str();

    // 1. The operator bootstraps the first admin, who enrols TOTP, creates a care team and
    //    invites a clinician.
    run.say("1. bootstrap the first admin; create a care team; invite a clinician");
    let mut admin = run.client();
    let bootstrap = admin
        .send(
            "POST",
            "/auth/bootstrap",
            Some(json!({
                "bootstrap_secret": settings.bootstrap_secret,
                "email": "admin@example.org",
                "password": PASSWORD,
            })),
        )
        .await;
    expect(
        &bootstrap,
        201,
        "bootstrap (it works once per portal: start from an empty state directory)",
    )?;
    expect(
        &admin.login("admin@example.org", PASSWORD).await,
        200,
        "admin sign-in",
    )?;
    expect(&admin.enrol_totp().await, 200, "admin TOTP enrolment")?;
    run.ids.admin = text(
        &admin.send("GET", "/auth/me", None).await.body["user_id"],
        "admin id",
    )?;
    let team = admin
        .send(
            "POST",
            "/auth/care-teams",
            Some(json!({ "name": "Dermatology", "response_hours": 48 })),
        )
        .await;
    expect(&team, 201, "create the care team")?;
    run.ids.team = text(&team.body["id"], "care team id")?;
    let (clinician, clinician_id) = run
        .invite(&admin, "dr.lee@example.org", "clinician")
        .await?;
    run.ids.clinician = clinician_id;
    run.add_member(&admin, &run.ids.team, &run.ids.clinician)
        .await?;

    // 2. A patient registers, enrols TOTP, signs in with password and code, and is assigned
    //    to the care team.
    run.say("2. register a patient, enrol TOTP, sign in with password and code");
    let mut patient = run.client();
    let registered = patient
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "pat@example.org", "password": PASSWORD })),
        )
        .await;
    expect(&registered, 202, "register")?;
    expect(
        &patient.login("pat@example.org", PASSWORD).await,
        200,
        "patient sign-in",
    )?;
    expect(&patient.enrol_totp().await, 200, "patient TOTP enrolment")?;
    run.next_totp_step().await;
    let signed_in = patient.login("pat@example.org", PASSWORD).await;
    expect(&signed_in, 200, "sign-in with password and TOTP code")?;
    run.ids.patient = text(&signed_in.body["user_id"], "patient id")?;
    run.add_member(&admin, &run.ids.team, &run.ids.patient)
        .await?;

    // 3. The patient uploads a camera photo with GPS data and a PDF.
    run.say("3. upload a camera photo with GPS data and a PDF letter");
    let original = fixture("samples/DSCN0010.jpg")?;
    let metadata = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(&original))
        .context("the sample photo should carry EXIF")?;
    ensure!(
        metadata
            .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some(),
        "the sample photo should carry a GPS position"
    );
    let photo = run
        .upload(&patient, "forearm.jpg", "image/jpeg", original)
        .await?;
    run.ids.photo = text(&photo.body["id"], "photo id")?;
    let photo_hash = text(&photo.body["sha256"], "photo hash")?;
    let stored = run.download(&patient, &run.ids.photo).await?;
    ensure!(
        exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&stored))
            .is_err(),
        "the stored photo still has EXIF"
    );

    let pdf = run
        .upload(&patient, "referral.pdf", "application/pdf", letter_pdf())
        .await?;
    run.ids.pdf = text(&pdf.body["id"], "PDF id")?;

    // 4. The patient opens a thread with the photo; the gateway gets a notice without PHI.
    run.say("4. open a thread to the care team with the photo attached");
    let before = sink.received().len();
    let opened = patient
        .send(
            "POST",
            "/messages/threads",
            Some(json!({
                "care_team": run.ids.team,
                "subject": SUBJECT,
                "category": "clinical",
                "body": BODY,
                "attachments": [run.ids.photo],
            })),
        )
        .await;
    expect(&opened, 201, "open a thread")?;
    run.ids.thread = text(&opened.body["thread"]["id"], "thread id")?;
    let thread_path = format!("/messages/threads/{}", run.ids.thread);
    let notices: Vec<Value> = sink.received().split_off(before);
    ensure!(
        notices.len() == 1,
        "expected one notice to the clinician, got {}",
        notices.len()
    );
    for notice in &notices {
        let flat = notice.to_string();
        for phi in [
            SUBJECT,
            BODY,
            "pat@example.org",
            run.ids.patient.as_str(),
            run.ids.thread.as_str(),
            "Dermatology",
        ] {
            ensure!(!flat.contains(phi), "a notice contains {phi:?}");
        }
    }

    // 5. The clinician lists, reads and replies, and downloads the photo through a link.
    run.say("5. the clinician reads, replies and downloads the photo");
    let listed = clinician.send("GET", "/messages/threads", None).await;
    expect(&listed, 200, "clinician lists threads")?;
    ensure!(
        listed.body["threads"][0]["unread"] == 1,
        "the thread shows one unread message"
    );
    let read = clinician.send("GET", &thread_path, None).await;
    expect(&read, 200, "clinician reads the thread")?;
    ensure!(
        read.body["messages"][0]["body"] == BODY,
        "the clinician sees the message"
    );
    let replied = clinician
        .send(
            "POST",
            &format!("{thread_path}/messages"),
            Some(json!({ "body": REPLY })),
        )
        .await;
    expect(&replied, 201, "clinician replies")?;
    let downloaded = run.download(&clinician, &run.ids.photo).await?;
    ensure!(
        hex(&Sha256::digest(&downloaded)) == photo_hash,
        "the downloaded photo does not match the cleaned file's hash"
    );

    // 6. A clinician outside the care team is refused.
    run.say("6. a clinician outside the care team is refused");
    let (outsider, outsider_id) = run.invite(&admin, "dr.ng@example.org", "clinician").await?;
    run.ids.outsider = outsider_id;
    let other_team = admin
        .send(
            "POST",
            "/auth/care-teams",
            Some(json!({ "name": "Cardiology", "response_hours": 24 })),
        )
        .await;
    expect(&other_team, 201, "create a second care team")?;
    run.add_member(
        &admin,
        &text(&other_team.body["id"], "team id")?,
        &run.ids.outsider,
    )
    .await?;
    expect(
        &outsider.send("GET", &thread_path, None).await,
        404,
        "outsider reads the thread",
    )?;
    let link = outsider
        .send("POST", &format!("/files/{}/links", run.ids.photo), None)
        .await;
    expect(&link, 404, "outsider asks for a download link")?;

    // 7. The patient reads the reply and sees who accessed their record.
    run.say("7. the patient reads the reply and sees who accessed the record");
    let read = patient.send("GET", &thread_path, None).await;
    expect(&read, 200, "patient reads the thread")?;
    ensure!(
        read.body["messages"][1]["body"] == REPLY,
        "the patient sees the reply"
    );
    let history = patient.send("GET", "/audit/events?limit=100", None).await;
    expect(&history, 200, "patient lists who accessed the record")?;
    let clinician_read = history.body["events"]
        .as_array()
        .context("events")?
        .iter()
        .any(|entry| {
            entry["event"]["action"] == "messaging.thread_read"
                && entry["event"]["actor"]["id"] == run.ids.clinician.as_str()
        });
    ensure!(
        clinician_read,
        "the clinician's read is missing from the patient's history"
    );

    // 8. A compliance officer steps up, exports the audit log and verifies it offline.
    run.say("8. a compliance officer steps up, exports the audit log and verifies it");
    let (mut officer, officer_id) = run
        .invite(&admin, "audit@example.org", "compliance_officer")
        .await?;
    run.ids.officer = officer_id;
    run.next_totp_step().await;
    let code = officer.totp_code();
    let stepped = officer
        .send("POST", "/auth/step-up", Some(json!({ "totp_code": code })))
        .await;
    expect(&stepped, 200, "step-up")?;
    officer.keep_tokens(&stepped);
    let (status, checkpoint) = officer.send_text("/audit/checkpoint").await;
    ensure!(status == 200, "checkpoint: status {status}");
    let size: u64 = checkpoint
        .lines()
        .nth(1)
        .and_then(|line| line.parse().ok())
        .context("the checkpoint has no tree size")?;
    let (status, export) = officer
        .send_text(&format!("/audit/export?size={size}"))
        .await;
    ensure!(status == 200, "export: status {status}");
    let verifier = CheckpointVerifier::from_verifier_key(&settings.verifier_key)
        .map_err(|error| anyhow::anyhow!("invalid verifier key: {error:?}"))?;
    let report = verify_export(&export, &checkpoint, &verifier, LOG_ORIGIN)
        .map_err(|error| anyhow::anyhow!("the checkpoint does not verify: {error:?}"))?;
    ensure!(
        report.is_intact(),
        "the export does not verify: {:?}",
        report.failures
    );
    ensure!(
        report.verified == size,
        "verified {} of {size} entries",
        report.verified
    );
    if let Some(directory) = &settings.output {
        std::fs::create_dir_all(directory)?;
        std::fs::write(directory.join("export.jsonl"), &export)?;
        std::fs::write(directory.join("checkpoint.txt"), &checkpoint)?;
        std::fs::write(directory.join("key.txt"), &settings.verifier_key)?;
    }
    // Altering one entry is reported at its index.
    let altered_index = size / 2;
    let mut lines: Vec<String> = export.lines().map(str::to_owned).collect();
    let line = lines
        .get_mut(usize::try_from(altered_index)?)
        .context("the export is shorter than its checkpoint")?;
    let mut entry: Value = serde_json::from_str(line)?;
    let original_entry = text(&entry["entry"], "exported entry")?;
    // Turn a refusal into a success, or a success into a refusal, as someone covering their
    // tracks would.
    let forged = if original_entry.contains("\"outcome\":\"minor_failure\"") {
        original_entry.replacen(
            "\"outcome\":\"minor_failure\"",
            "\"outcome\":\"success\"",
            1,
        )
    } else {
        original_entry.replacen(
            "\"outcome\":\"success\"",
            "\"outcome\":\"minor_failure\"",
            1,
        )
    };
    ensure!(
        forged != original_entry,
        "entry {altered_index} has no outcome to alter"
    );
    entry["entry"] = json!(forged);
    *line = entry.to_string();
    let tampered = lines.join("\n") + "\n";
    if let Some(directory) = &settings.output {
        std::fs::write(directory.join("export-altered.jsonl"), &tampered)?;
    }
    let altered = verify_export(&tampered, &checkpoint, &verifier, LOG_ORIGIN)
        .map_err(|error| anyhow::anyhow!("the checkpoint does not verify: {error:?}"))?;
    match altered.failures.as_slice() {
        [ExportFailure::Altered { index }] if *index == altered_index => {}
        other => bail!("the altered entry {altered_index} was reported as {other:?}"),
    }

    // 9. The patient signs out; the old access token works nowhere.
    run.say("9. the patient signs out; the old token is rejected everywhere");
    let logout = patient.send("POST", "/auth/logout", None).await;
    expect(&logout, 204, "sign-out")?;
    for path in ["/messages/threads", "/files", "/audit/events"] {
        let reply = patient.send("GET", path, None).await;
        expect(&reply, 401, &format!("{path} with the old token"))?;
    }

    run.say(&format!(
        "done: {size} audit entries verified against {base}"
    ));
    Ok(Outcome {
        export,
        checkpoint,
        verified: report.verified,
        altered_index,
        notices,
        ids: run.ids,
        patient_totp: patient.totp.clone(),
    })
}
