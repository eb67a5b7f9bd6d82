//! HTTPS: TLS 1.2 and 1.3 with forward-secret suites only, HTTP/2 by ALPN, and HSTS.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use support::{Host, probe_options};

struct Certificate {
    _dir: tempfile::TempDir,
    cert_path: std::path::PathBuf,
    key_path: std::path::PathBuf,
    der: rustls::pki_types::CertificateDer<'static>,
}

fn self_signed() -> Certificate {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .unwrap_or_else(|e| panic!("rcgen: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, generated.cert.pem()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&key_path, generated.signing_key.serialize_pem())
        .unwrap_or_else(|e| panic!("{e}"));
    Certificate {
        _dir: dir,
        cert_path,
        key_path,
        der: generated.cert.der().clone(),
    }
}

fn tls_host(certificate: &Certificate) -> Host {
    let mut options = probe_options();
    options.args = vec![
        "--tls-cert".into(),
        certificate.cert_path.display().to_string(),
        "--tls-key".into(),
        certificate.key_path.display().to_string(),
    ];
    Host::start(options)
}

/// Performs a handshake limited to `version` and sends one HTTP/1.1 request.
fn request_with_version(
    host: &Host,
    certificate: &Certificate,
    version: &'static rustls::SupportedProtocolVersion,
) -> Result<String, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(certificate.der.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name =
        rustls::pki_types::ServerName::try_from("localhost").unwrap_or_else(|e| panic!("{e}"));
    let mut connection =
        rustls::ClientConnection::new(Arc::new(config), name).unwrap_or_else(|e| panic!("{e}"));
    let mut socket = TcpStream::connect(host.address).unwrap_or_else(|e| panic!("{e}"));
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stream = rustls::Stream::new(&mut connection, &mut socket);
    stream
        .write_all(b"GET /probe/hello HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .map_err(|e| rustls::Error::General(e.to_string()))?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    Ok(response)
}

#[test]
fn tls12_and_tls13_handshakes_succeed() {
    let certificate = self_signed();
    let host = tls_host(&certificate);
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let response = request_with_version(&host, &certificate, version)
            .unwrap_or_else(|e| panic!("{version:?}: {e}"));
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "{version:?}: {response}"
        );
        assert!(response.contains("hello from probe"), "{response}");
        assert!(
            response
                .to_ascii_lowercase()
                .contains("strict-transport-security: max-age="),
            "no HSTS header: {response}"
        );
    }
}

/// Builds a TLS ClientHello record offering at most `version` and only `suites`.
fn client_hello(version: [u8; 2], suites: &[[u8; 2]]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version);
    body.extend_from_slice(&[7u8; 32]);
    body.push(0);
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for suite in suites {
        body.extend_from_slice(suite);
    }
    body.extend_from_slice(&[1, 0]);
    // supported_groups (x25519, secp256r1), ec_point_formats (uncompressed),
    // signature_algorithms (rsa_pkcs1_sha256, ecdsa_secp256r1_sha256).
    let extensions: &[u8] = &[
        0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17, //
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, //
        0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x01, 0x04, 0x03,
    ];
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(extensions);

    let mut handshake = vec![0x01];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);

    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Sends a raw ClientHello and returns the content type of the server's first record, or
/// `None` when the server closed the connection without one.
fn first_record_type(host: &Host, hello: &[u8]) -> Option<u8> {
    let mut socket = TcpStream::connect(host.address).unwrap_or_else(|e| panic!("{e}"));
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("{e}"));
    socket.write_all(hello).unwrap_or_else(|e| panic!("{e}"));
    let mut first = [0u8; 1];
    match socket.read(&mut first) {
        Ok(1) => Some(first[0]),
        _ => None,
    }
}

const HANDSHAKE: u8 = 0x16;
const ALERT: u8 = 0x15;
const ECDHE_RSA_AES128_GCM: [u8; 2] = [0xc0, 0x2f];
const ECDHE_ECDSA_AES128_GCM: [u8; 2] = [0xc0, 0x2b];
const ECDHE_RSA_AES128_CBC_SHA: [u8; 2] = [0xc0, 0x13];
const RSA_AES128_GCM: [u8; 2] = [0x00, 0x9c];
const RSA_AES128_CBC_SHA: [u8; 2] = [0x00, 0x2f];

#[test]
fn tls10_and_tls11_handshakes_fail() {
    let certificate = self_signed();
    let host = tls_host(&certificate);
    let suites = [
        ECDHE_ECDSA_AES128_GCM,
        ECDHE_RSA_AES128_GCM,
        ECDHE_RSA_AES128_CBC_SHA,
        RSA_AES128_CBC_SHA,
    ];

    // The same hello offering TLS 1.2 gets a ServerHello, so the probe itself is sound.
    assert_eq!(
        first_record_type(&host, &client_hello([3, 3], &suites)),
        Some(HANDSHAKE)
    );

    for (name, version) in [("TLS 1.0", [3, 1]), ("TLS 1.1", [3, 2])] {
        let answer = first_record_type(&host, &client_hello(version, &suites));
        assert_ne!(answer, Some(HANDSHAKE), "{name} was negotiated");
        assert!(
            matches!(answer, Some(ALERT) | None),
            "{name}: unexpected {answer:?}"
        );
    }
}

#[test]
fn suites_without_forward_secrecy_are_refused() {
    let certificate = self_signed();
    let host = tls_host(&certificate);
    let answer = first_record_type(
        &host,
        &client_hello([3, 3], &[RSA_AES128_GCM, RSA_AES128_CBC_SHA]),
    );
    assert_ne!(answer, Some(HANDSHAKE), "a static-RSA suite was negotiated");
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_is_negotiated_over_tls() {
    let certificate = self_signed();
    let host = tls_host(&certificate);
    let root = reqwest::Certificate::from_der(&certificate.der).unwrap_or_else(|e| panic!("{e}"));
    let client = reqwest::Client::builder()
        .add_root_certificate(root)
        .resolve("localhost", host.address)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let response = client
        .get(format!(
            "https://localhost:{}/probe/hello",
            host.address.port()
        ))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status().as_u16(), 200);
}
