//! Outbound TLS settings from the runtime config's `[[client_tls]]` tables, as Spin reads
//! them: for the listed components and hosts, trust a private CA (`ca_roots_file`) instead of,
//! or besides, the public web roots. Separately deployed apps of the portal reach each other
//! over HTTPS with certificates from an internal CA this way.
//!
//! Requests to every other host go through `wasmtime-wasi-http`'s default sender, which trusts
//! the public web roots only.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// How long a connection and its TLS handshake may take when the guest sets no timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// One `[[client_tls]]` table, with its trust roots loaded.
#[derive(Clone)]
pub struct ClientTls {
    /// Components the settings apply to.
    pub component_ids: Vec<String>,
    /// `host:port` authorities the settings apply to.
    pub hosts: Vec<String>,
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("component_ids", &self.component_ids)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Builds the settings: the PEM certificates in `ca_roots_file`, plus the public web roots
    /// when `use_webpki_roots` is set.
    pub fn new(
        component_ids: Vec<String>,
        hosts: Vec<String>,
        ca_roots_file: Option<&Path>,
        use_webpki_roots: bool,
    ) -> anyhow::Result<Self> {
        if component_ids.is_empty() || hosts.is_empty() {
            bail!("a [[client_tls]] table needs component_ids and hosts");
        }
        for host in &hosts {
            if !host.contains(':') {
                bail!("client_tls host {host:?} needs a port, such as {host}:443");
            }
        }
        let mut roots = rustls::RootCertStore::empty();
        if use_webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if let Some(path) = ca_roots_file {
            let file = std::fs::File::open(path)
                .with_context(|| format!("failed to open ca_roots_file {}", path.display()))?;
            for certificate in rustls_pemfile::certs(&mut std::io::BufReader::new(file)) {
                let certificate =
                    certificate.with_context(|| format!("invalid PEM in {}", path.display()))?;
                roots
                    .add(certificate)
                    .with_context(|| format!("unusable CA certificate in {}", path.display()))?;
            }
        }
        if roots.is_empty() {
            bail!(
                "a [[client_tls]] table trusts no root: set ca_roots_file or ca_use_webpki_roots"
            );
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .context("TLS protocol versions")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            component_ids,
            hosts,
            config: Arc::new(config),
        })
    }

    /// Returns whether these settings cover requests from `component` to `host:port`.
    pub fn applies(&self, component: &str, host: &str, port: u16) -> bool {
        let authority = format!("{host}:{port}");
        self.component_ids.iter().any(|id| id == component)
            && self
                .hosts
                .iter()
                .any(|entry| entry.eq_ignore_ascii_case(&authority))
    }
}

/// Future that drives the connection after the response head arrived.
pub type ResponseIo = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

/// Sends `request` over HTTPS to `host:port`, verifying the server against `tls`'s roots.
pub async fn send(
    tls: &ClientTls,
    host: &str,
    port: u16,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<(http::Response<WasiBody>, ResponseIo), HttpError> {
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(CONNECT_TIMEOUT);
    let server_name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(HttpError::InvalidDnsNameError)?;
    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
    let connect = async {
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(HttpError::Connect)?;
        connector
            .connect(server_name, tcp)
            .await
            .map_err(HttpError::Tls)
    };
    let stream = tokio::time::timeout(connect_timeout, connect)
        .await
        .map_err(|_| HttpError::ConnectionTimeout)??;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, WasiBody>(TokioIo::new(stream)).await?;
    let (done, finished) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _ = done.send(connection.await);
    });
    // The request line carries the path only; the authority travels in the Host header.
    if !request.headers().contains_key(http::header::HOST) {
        let authority = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or(HttpError::HttpRequestUriInvalid)?;
        let value =
            http::HeaderValue::try_from(authority).map_err(|_| HttpError::HttpRequestUriInvalid)?;
        request.headers_mut().insert(http::header::HOST, value);
    }
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let response = sender.send_request(request).await?;
    let io = async move {
        match finished.await {
            Ok(Ok(())) | Err(_) => Ok(()),
            Ok(Err(error)) => Err(HttpError::from(error)),
        }
    };
    Ok((
        response.map(|body| body.map_err(HttpError::from).boxed_unsync()),
        Box::new(io) as ResponseIo,
    ))
}
