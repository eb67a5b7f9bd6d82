//! The upload pipeline under the host, next to the same work natively.
//!
//! Under the host, a 10 MB JPEG (with an EXIF block to strip) and a 10 MB PDF go through
//! `POST /files`. That covers receiving, hashing, encrypting into quarantine, sanitizing in the
//! linked component, encrypting the clean copy, storing both in the embedded S3 endpoint and
//! auditing. Natively: the same
//! files through `portal_sanitize::inspect` and one AES-256-GCM encryption of the clean copy.
//!
//! Run one case per process, so each peak resident size is that case's own:
//! `cargo bench -p portal-e2e --bench uploads -- host-jpeg` (or `host-pdf`, `native-jpeg`,
//! `native-pdf`). The figures go in docs/benchmarks.md.
#![expect(
    clippy::expect_used,
    reason = "a benchmark reports a broken set-up by panicking"
)]

use std::time::{Duration, Instant};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce};
use portal_e2e::world::World;

const RUNS: usize = 10;

/// About 10 MB of JPEG: noise encoded at quality 100, with an APP1 EXIF segment after SOI.
fn jpeg() -> Vec<u8> {
    let (width, height) = (1720u16, 1440u16);
    let mut state = 0x2545_f491_u32;
    let pixels: Vec<u8> = (0..usize::from(width) * usize::from(height) * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect();
    let mut encoded = Vec::new();
    jpeg_encoder::Encoder::new(&mut encoded, 100)
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .expect("encodes");
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0".to_vec();
    exif.resize(4000, 0);
    let mut with_exif = encoded[..2].to_vec();
    with_exif.extend_from_slice(&[0xff, 0xe1]);
    with_exif.extend_from_slice(&u16::try_from(exif.len() + 2).expect("fits").to_be_bytes());
    with_exif.extend_from_slice(&exif);
    with_exif.extend_from_slice(&encoded[2..]);
    with_exif
}

/// About 10 MB of PDF: one page whose content stream is 10 MB of incompressible bytes,
/// stored with FlateDecode.
fn pdf() -> Vec<u8> {
    let mut state = 0x9e37_79b9_u32;
    let noise: Vec<u8> = (0..10_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[1]
        })
        .collect();
    let stream = miniz_oxide::deflate::compress_to_vec_zlib(&noise, 1);
    let mut pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
        2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n\
        3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>\nendobj\n"
        .to_vec();
    pdf.extend_from_slice(
        format!(
            "4 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\n",
            stream.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(&stream);
    pdf.extend_from_slice(b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    pdf
}

/// Peak resident size of this process so far, from `/proc/self/status`, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or_default()
}

fn report(case: &str, bytes: usize, samples: &mut [Duration], baseline_mib: f64) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let throughput = bytes as f64 / 1e6 / median.as_secs_f64();
    println!(
        "{case}: {:.1} MB, n={}, median {:.1?}, {:.1} MB/s, peak RSS {:.0} MiB ({:.0} MiB over the set-up)",
        bytes as f64 / 1e6,
        samples.len(),
        median,
        throughput,
        peak_rss_mib(),
        peak_rss_mib() - baseline_mib
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let case = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .unwrap_or_else(|| "host-jpeg".to_owned());
    let (file, name, media_type) = match case.as_str() {
        "host-jpeg" | "native-jpeg" => (jpeg(), "photo.jpg", "image/jpeg"),
        "host-pdf" | "native-pdf" => (pdf(), "scan.pdf", "application/pdf"),
        other => panic!("unknown case {other}: use host-jpeg, host-pdf, native-jpeg or native-pdf"),
    };
    let mut samples = Vec::new();

    if case.starts_with("native") {
        let key = [7u8; 32];
        let cipher = Aes256Gcm::new_from_slice(&key).expect("key");
        let baseline = peak_rss_mib();
        for run in 0..RUNS + 1 {
            let started = Instant::now();
            let outcome = portal_sanitize::inspect(
                name,
                media_type,
                &file,
                &portal_sanitize::Limits::default(),
            );
            let clean = match outcome {
                portal_sanitize::Outcome::Accepted { cleaned, .. } => {
                    cleaned.unwrap_or_else(|| file.clone())
                }
                portal_sanitize::Outcome::Rejected { findings, .. } => {
                    panic!("rejected: {findings:?}")
                }
            };
            let sealed = cipher
                .encrypt(&Nonce::<Aes256Gcm>::from([run as u8; 12]), clean.as_slice())
                .expect("encrypts");
            std::hint::black_box(sealed);
            if run > 0 {
                samples.push(started.elapsed());
            }
        }
        report(&case, file.len(), &mut samples, baseline);
        return;
    }

    let world = World::start(&[("access_token_ttl_secs", "3600")]).await;
    let (patient, _) = world.patient("bench@example.org").await;
    let baseline = peak_rss_mib();
    for run in 0..RUNS + 1 {
        let started = Instant::now();
        let reply = patient
            .send_bytes(
                "POST",
                "/files",
                file.clone(),
                &[("content-type", media_type), ("x-file-name", name)],
            )
            .await;
        let elapsed = started.elapsed();
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        if run > 0 {
            samples.push(elapsed);
        }
    }
    report(&case, file.len(), &mut samples, baseline);
}
