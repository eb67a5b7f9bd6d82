//! The upload pipeline through the host with the real wasm. Camera photos lose their metadata
//! and dangerous files are rejected with reasons. Objects are ciphertext at rest, download
//! links are bound to one user and five minutes, access follows the care team, and deletion
//! destroys the key.
#![expect(
    clippy::expect_used,
    reason = "a test reports a missing value by panicking"
)]

use std::path::{Path, PathBuf};

use portal_e2e::client::Client;
use portal_e2e::world::World;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/samples")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

async fn upload(
    client: &Client,
    name: &str,
    content_type: &str,
    body: Vec<u8>,
) -> portal_e2e::client::Reply {
    client
        .send_bytes(
            "POST",
            "/files",
            body,
            &[("content-type", content_type), ("x-file-name", name)],
        )
        .await
}

fn codes(reply: &Value) -> Vec<String> {
    reply["findings"]
        .as_array()
        .map(|findings| {
            findings
                .iter()
                .map(|finding| finding["code"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Issues a link and downloads through it.
async fn download(client: &Client, id: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let link = client
        .send("POST", &format!("/files/{id}/links"), None)
        .await;
    assert_eq!(link.status, 201, "{:?}", link.body);
    let url = link.body["url"].as_str().expect("link url");
    client.fetch(url).await
}

/// Lists the file objects in the embedded S3 bucket (originals in `quarantine/`, clean copies
/// in `files/`), as paths relative to the bucket.
fn stored_objects(state_dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(relative) = path.strip_prefix(root) {
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    let root: PathBuf = state_dir.join("objects").join("portal");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    // The audit log archives its checkpoints in the same bucket; only file objects count here.
    out.retain(|path| !path.contains(".s3s") && !path.starts_with("audit-checkpoints/"));
    out.sort();
    out
}

fn pixels(jpeg: &[u8]) -> Vec<u8> {
    jpeg_decoder::Decoder::new(jpeg).decode().expect("decodes")
}

#[tokio::test(flavor = "multi_thread")]
async fn photos_lose_exif_keep_pixels() {
    let world = World::start(&[]).await;
    let (patient, patient_id) = world.patient("ann@example.org").await;

    for name in ["DSCN0010.jpg", "DSCN0021.jpg", "Canon_40D.jpg"] {
        let original = sample(name);
        assert!(
            exif::Reader::new()
                .read_from_container(&mut std::io::Cursor::new(&original))
                .is_ok()
        );
        let uploaded = upload(&patient, name, "image/jpeg", original.clone()).await;
        assert_eq!(uploaded.status, 201, "{name}: {:?}", uploaded.body);
        assert_eq!(uploaded.body["state"], "available");
        assert_eq!(uploaded.body["media_type"], "image/jpeg");
        assert_eq!(uploaded.body["patient"], patient_id.as_str());
        assert!(codes(&uploaded.body).contains(&"metadata-removed".to_owned()));
        let id = uploaded.body["id"].as_str().expect("id");

        let (status, headers, stored) = download(&patient, id).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "image/jpeg");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(
            headers["content-disposition"]
                .to_str()
                .expect("ascii")
                .starts_with("attachment;")
        );
        assert_eq!(
            Sha256::digest(&stored)
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>(),
            uploaded.body["sha256"].as_str().expect("hash")
        );
        assert!(
            exif::Reader::new()
                .read_from_container(&mut std::io::Cursor::new(&stored))
                .is_err(),
            "{name} still has EXIF"
        );
        assert!(!stored.windows(6).any(|window| window == b"Exif\0\0"));
        assert!(!stored.windows(4).any(|window| window == b"GPS\0"));
        assert_eq!(pixels(&stored), pixels(&original), "{name} pixels changed");
    }

    let corrupted = upload(
        &patient,
        "corrupted.jpg",
        "image/jpeg",
        sample("corrupted.jpg"),
    )
    .await;
    assert_eq!(corrupted.status, 422, "{:?}", corrupted.body);
    assert_eq!(corrupted.body["reason"], "file_corrupted");
    assert_eq!(codes(&corrupted.body), ["corrupt-image"]);
    assert!(
        corrupted.body["findings"][0]["message"]
            .as_str()
            .expect("message")
            .len()
            > 20
    );
}

fn stored_zip(entries: &[(&str, &[u8])], declared_size: Option<u32>) -> Vec<u8> {
    let mut zip = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = zip.len() as u32;
        let size = data.len() as u32;
        let declared = declared_size.unwrap_or(size);
        let header = |signature: &[u8], central: bool| {
            let mut bytes = signature.to_vec();
            if central {
                bytes.extend_from_slice(&20u16.to_le_bytes());
            }
            bytes.extend_from_slice(&20u16.to_le_bytes());
            bytes.extend_from_slice(&0u16.to_le_bytes());
            bytes
                .extend_from_slice(&(if declared_size.is_some() { 8u16 } else { 0 }).to_le_bytes());
            bytes.extend_from_slice(&[0; 8]);
            bytes.extend_from_slice(&size.to_le_bytes());
            bytes.extend_from_slice(&declared.to_le_bytes());
            bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
            bytes.extend_from_slice(&0u16.to_le_bytes());
            if central {
                // Comment length, disk, internal and external attributes, then the offset.
                bytes.extend_from_slice(&[0; 10]);
                bytes.extend_from_slice(&offset.to_le_bytes());
            }
            bytes.extend_from_slice(name.as_bytes());
            bytes
        };
        zip.extend(header(b"PK\x03\x04", false));
        zip.extend_from_slice(data);
        central.extend(header(b"PK\x01\x02", true));
    }
    let central_offset = zip.len() as u32;
    let central_size = central.len() as u32;
    zip.extend(central);
    zip.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    zip.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    zip.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    zip.extend_from_slice(&central_size.to_le_bytes());
    zip.extend_from_slice(&central_offset.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    chunk.extend_from_slice(&crc.finalize().to_be_bytes());
    chunk
}

fn small_png() -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, 4, 4);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().expect("header");
        writer.write_image_data(&[200; 48]).expect("pixels");
    }
    bytes
}

fn pdf(catalog_extra: &str, objects: &str) -> Vec<u8> {
    format!(
        "%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R {catalog_extra} >>\nendobj\n\
         2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n{objects}\
         trailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn dangerous_files_rejected_in_quarantine() {
    let world = World::start(&[]).await;
    let (patient, _) = world.patient("ann@example.org").await;

    let mut huge = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = 100_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    huge.extend(png_chunk(b"IHDR", &ihdr));
    huge.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    huge.extend(png_chunk(b"IEND", &[]));

    let mut polyglot = sample("Canon_40D.jpg");
    polyglot.extend(stored_zip(&[("run.sh", b"echo hi\n")], None));

    // Name, declared type, bytes, expected finding codes, expected problem reason.
    type Case = (
        &'static str,
        &'static str,
        Vec<u8>,
        &'static [&'static str],
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "letter.pdf",
            "application/pdf",
            pdf(
                "/Names << /JavaScript 3 0 R >>",
                "3 0 obj\n<< /S /JavaScript /JS (app.alert(1)) >>\nendobj\n",
            ),
            &["pdf-javascript"],
            "file_active_content",
        ),
        (
            "form.pdf",
            "application/pdf",
            pdf(
                "/OpenAction 3 0 R",
                "3 0 obj\n<< /S /Launch /F (cmd.exe) >>\nendobj\n",
            ),
            &["pdf-open-action", "pdf-launch"],
            "file_active_content",
        ),
        (
            "report.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            stored_zip(
                &[
                    ("[Content_Types].xml", b"<Types/>"),
                    ("word/vbaProject.bin", b"macro"),
                ],
                None,
            ),
            &["office-macros"],
            "file_active_content",
        ),
        (
            "photo.jpg",
            "image/jpeg",
            polyglot,
            &["polyglot"],
            "file_corrupted",
        ),
        (
            "chart.svg",
            "image/svg+xml",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(),
            &["svg"],
            "file_type_not_allowed",
        ),
        (
            "photo.png",
            "image/png",
            b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>".to_vec(),
            &["html"],
            "file_type_not_allowed",
        ),
        (
            "records.zip",
            "application/zip",
            stored_zip(&[("a.txt", &[0u8; 600])], Some(u32::MAX)),
            &["archive"],
            "file_is_archive",
        ),
        (
            "scan.png",
            "image/png",
            huge,
            &["image-too-large"],
            "file_corrupted",
        ),
        (
            "setup.pdf",
            "application/pdf",
            b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".to_vec(),
            &["executable"],
            "file_type_not_allowed",
        ),
    ];
    for (name, content_type, body, expected, reason) in cases {
        let reply = upload(&patient, name, content_type, body).await;
        assert_eq!(reply.status, 422, "{name}: {:?}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
        assert_eq!(reply.body["reason"], reason, "{name}: {:?}", reply.body);
        let found = codes(&reply.body);
        for code in expected {
            assert!(found.iter().any(|f| f == code), "{name}: {found:?}");
        }
        let id = reply.body["file_id"].as_str().expect("file id");
        let described = patient.send("GET", &format!("/files/{id}"), None).await;
        assert_eq!(described.body["state"], "rejected");
        let link = patient
            .send("POST", &format!("/files/{id}/links"), None)
            .await;
        assert_eq!(link.status, 409, "a rejected file has no download link");
    }

    let objects = stored_objects(world.portal.state_dir.path());
    assert_eq!(objects.len(), 9, "{objects:?}");
    assert!(
        objects.iter().all(|key| key.starts_with("quarantine/")),
        "{objects:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_over_limit_gets_413() {
    let world = World::start(&[("upload_max_bytes", "1048576")]).await;
    let (patient, _) = world.patient("ann@example.org").await;
    let reply = upload(&patient, "big.txt", "text/plain", vec![b'a'; 2 << 20]).await;
    assert_eq!(reply.status, 413, "{:?}", reply.body);
    assert_eq!(reply.body["limit"], 1_048_576);
    assert!(stored_objects(world.portal.state_dir.path()).is_empty());
    let listed = patient.send("GET", "/files", None).await;
    assert_eq!(listed.body["files"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn png_named_pdf_served_as_png() {
    let world = World::start(&[]).await;
    let (patient, _) = world.patient("ann@example.org").await;
    let image = small_png();
    let reply = upload(&patient, "scan.pdf", "application/pdf", image.clone()).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["media_type"], "image/png");
    assert_eq!(reply.body["name"], "scan.png");
    assert!(codes(&reply.body).contains(&"type-mismatch".to_owned()));
    let id = reply.body["id"].as_str().expect("id");
    let (status, headers, bytes) = download(&patient, id).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/png");
    assert!(
        headers["content-disposition"]
            .to_str()
            .expect("ascii")
            .contains("scan.png")
    );
    assert_eq!(bytes, image);

    // Read the stored objects straight from the S3 endpoint: only ciphertext, under a key that
    // names neither the patient nor the file, and the original was removed after release.
    let objects = stored_objects(world.portal.state_dir.path());
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert!(objects[0].starts_with("files/"));
    assert!(!objects[0].contains("scan"));
    assert!(!objects[0].contains(id));
    let (endpoint, access_key, secret) = world.portal.object_store().expect("embedded S3");
    let url = format!("{endpoint}/portal/{}", objects[0]);
    let unsigned = reqwest::get(&url).await.expect("S3 reachable");
    assert_eq!(
        unsigned.status(),
        403,
        "the endpoint refuses unsigned reads"
    );
    let object = s3_get(&url, &access_key, &secret).await;
    assert!(object.starts_with(b"PFO1"));
    assert!(!object.windows(8).any(|window| window == &image[..8]));
    assert!(
        !object
            .windows(16)
            .any(|window| image.windows(16).any(|w| w == window))
    );
}

async fn s3_get(url: &str, access_key: &str, secret: &str) -> Vec<u8> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
    };
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let identity =
        aws_credential_types::Credentials::new(access_key, secret, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()
        .expect("params")
        .into();
    let signable = SignableRequest::new("GET", url, std::iter::empty(), SignableBody::Bytes(&[]))
        .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
    let mut request = http::Request::get(url).body(()).expect("request");
    instructions.apply_to_request_http1x(&mut request);
    let mut builder = reqwest::Client::new().get(url);
    for (name, value) in request.headers() {
        builder = builder.header(name.as_str(), value.to_str().expect("ascii"));
    }
    let response = builder.send().await.expect("S3 reachable");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("object").to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn download_links_single_use_per_user() {
    let world = World::start(&[("access_token_ttl_secs", "3600")]).await;
    let (patient, patient_id) = world.patient("ann@example.org").await;
    let (clinician, clinician_id) = world.staff("dr.lee@example.org", "clinician").await;
    let (outsider, _) = world.staff("dr.out@example.org", "clinician").await;
    let (admin_reader, _) = world.staff("ops@example.org", "admin").await;
    let team = world
        .care_team("Dermatology", &[&clinician_id, &patient_id])
        .await;

    let uploaded = upload(
        &patient,
        "rash.txt",
        "text/plain",
        b"itchy since Monday".to_vec(),
    )
    .await;
    assert_eq!(uploaded.status, 201, "{:?}", uploaded.body);
    let id = uploaded.body["id"].as_str().expect("id").to_owned();

    // The care team's clinician reads; a clinician outside it and an admin get 404.
    assert_eq!(
        clinician
            .send("GET", &format!("/files/{id}"), None)
            .await
            .status,
        200
    );
    let (status, _, bytes) = download(&clinician, &id).await;
    assert_eq!(
        (status, bytes.as_slice()),
        (200, b"itchy since Monday".as_slice())
    );
    assert_eq!(
        outsider
            .send("GET", &format!("/files/{id}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        outsider
            .send("POST", &format!("/files/{id}/links"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        admin_reader
            .send("GET", &format!("/files/{id}"), None)
            .await
            .status,
        404
    );
    let listing = format!("/files?patient={patient_id}");
    assert_eq!(outsider.send("GET", &listing, None).await.status, 404);
    assert_eq!(admin_reader.send("GET", &listing, None).await.status, 404);
    let listed = clinician.send("GET", &listing, None).await;
    assert_eq!(listed.body["files"][0]["id"], id.as_str());

    // A link works once, for the user it was issued to.
    let link = patient
        .send("POST", &format!("/files/{id}/links"), None)
        .await;
    let url = link.body["url"].as_str().expect("url").to_owned();
    assert!(link.body["expires_at"].as_i64().expect("expiry") <= world.clock.now() + 300);
    assert_eq!(clinician.fetch(&url).await.0, 403, "another user's link");
    assert_eq!(patient.fetch(&url).await.0, 200);
    assert_eq!(patient.fetch(&url).await.0, 403, "a spent link");
    let mut forged = url.clone();
    forged.push('A');
    assert_eq!(patient.fetch(&forged).await.0, 403);
    let other_file = url.replace(&id, "AAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(patient.fetch(&other_file).await.0, 404);

    // An expired link is refused.
    let late = patient
        .send("POST", &format!("/files/{id}/links"), None)
        .await;
    let late_url = late.body["url"].as_str().expect("url").to_owned();
    world.clock.advance(&world.portal.url(""), 301).await;
    assert_eq!(patient.fetch(&late_url).await.0, 403);

    // Removal from the care team applies on the next request.
    world.remove_member(&team, &clinician_id).await;
    assert_eq!(
        clinician
            .send("GET", &format!("/files/{id}"), None)
            .await
            .status,
        404
    );

    // Deleting destroys the key and the objects; the file is gone for everyone.
    assert_eq!(
        clinician
            .send("DELETE", &format!("/files/{id}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        patient
            .send("DELETE", &format!("/files/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        patient
            .send("GET", &format!("/files/{id}"), None)
            .await
            .status,
        404
    );
    assert!(stored_objects(world.portal.state_dir.path()).is_empty());
}

#[test]
fn sanitizer_manifest_grants_nothing() {
    let manifest: toml::Value = toml::from_str(
        &std::fs::read_to_string(portal_e2e::repository_root().join("spin.toml"))
            .expect("manifest"),
    )
    .expect("toml");
    let sanitizer = manifest["component"]["sanitizer"]
        .as_table()
        .expect("sanitizer entry");
    let keys: Vec<&String> = sanitizer.keys().collect();
    for capability in [
        "key_value_stores",
        "allowed_outbound_hosts",
        "variables",
        "files",
        "environment",
        "sqlite_databases",
        "ai_models",
        "dependencies",
    ] {
        assert!(
            !sanitizer.contains_key(capability),
            "sanitizer has {capability}: {keys:?}"
        );
    }
    let triggers = manifest["trigger"]["http"].as_array().expect("triggers");
    assert!(
        triggers
            .iter()
            .all(|trigger| trigger["component"].as_str() != Some("sanitizer"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attachment_grant_lets_thread_team_read() {
    let world = World::start(&[]).await;
    let (patient, patient_id) = world.patient("ann@example.org").await;
    let (_, clinician_id) = world.staff("dr.lee@example.org", "clinician").await;
    let (radiologist, radiologist_id) = world.staff("dr.kim@example.org", "clinician").await;
    world
        .care_team("Dermatology", &[&clinician_id, &patient_id])
        .await;
    let radiology = world.care_team("Radiology", &[&radiologist_id]).await;

    let uploaded = upload(&patient, "rash.txt", "text/plain", b"itchy".to_vec()).await;
    let id = uploaded.body["id"].as_str().expect("id").to_owned();
    let path = format!("/files/{id}");
    assert_eq!(radiologist.send("GET", &path, None).await.status, 404);

    let grant = |sender: &str, role: &str, teams: &[&str], file: &str| {
        serde_json::json!({
            "file_ids": [file],
            "thread_id": "thread-1",
            "patient": patient_id,
            "sender": sender,
            "sender_role": role,
            "sender_care_teams": teams,
            "care_team": radiology,
        })
    };
    let portal = &world.portal;

    // A sender who may not read the file cannot share it.
    let (status, _) = portal
        .call_private(
            "uploads-internal",
            "POST",
            "/grants",
            &grant(&radiologist_id, "clinician", &[&radiology], &id),
        )
        .await
        .expect("private route");
    assert_eq!(status, 404);
    assert_eq!(radiologist.send("GET", &path, None).await.status, 404);

    // The patient attaches it in a thread with Radiology, whose clinicians may then read it.
    let (status, body) = portal
        .call_private(
            "uploads-internal",
            "POST",
            "/grants",
            &grant(&patient_id, "patient", &[], &id),
        )
        .await
        .expect("private route");
    assert_eq!(status, 201, "{body:?}");
    assert_eq!(radiologist.send("GET", &path, None).await.status, 200);

    // Leaving the team ends that access on the next request.
    world.remove_member(&radiology, &radiologist_id).await;
    assert_eq!(radiologist.send("GET", &path, None).await.status, 404);

    // A rejected file cannot be attached.
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>x()</script></svg>".to_vec();
    let rejected = upload(&patient, "chart.svg", "image/svg+xml", svg).await;
    let rejected_id = rejected.body["file_id"].as_str().expect("file id");
    let (status, _) = portal
        .call_private(
            "uploads-internal",
            "POST",
            "/grants",
            &grant(&patient_id, "patient", &[], rejected_id),
        )
        .await
        .expect("private route");
    assert_eq!(status, 409);

    // The private route is not reachable from outside.
    let outside = patient
        .send(
            "POST",
            "/grants",
            Some(grant(&patient_id, "patient", &[], &id)),
        )
        .await;
    assert_eq!(outside.status, 404);

    // Every step is in the patient's access history.
    let history = patient.send("GET", "/audit/events?limit=100", None).await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    let seen: Vec<(String, String)> = history.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|entry| {
            (
                entry["event"]["action"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                entry["event"]["outcome"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    for (action, outcome) in [
        ("uploads.file_uploaded", "success"),
        ("uploads.file_released", "success"),
        ("uploads.file_rejected", "minor_failure"),
        ("uploads.file_access_granted", "success"),
        ("uploads.file_access_granted", "minor_failure"),
        ("uploads.file_viewed", "minor_failure"),
        ("uploads.file_viewed", "success"),
    ] {
        assert!(
            seen.iter().any(|(a, o)| a == action && o == outcome),
            "{action} {outcome} missing from {seen:?}"
        );
    }
}
