//! The listener: HTTP/1.1 and HTTP/2, over rustls when given a certificate, plain only on
//! loopback.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::app::{App, EPOCH_TICK, Origin};
use crate::body::{self, HostBody};
use crate::problem;

/// Path of the test clock control, served only with `--danger-test-clock` on loopback.
pub const TEST_CLOCK_PATH: &str = "/.well-known/portal-host/test-clock";

/// How long shutdown waits for open requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Time a client has to complete a TLS handshake, and to send a request's headers (on a new
/// connection or an idle keep-alive one), before the connection is closed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Open connections the listener serves at once; further clients wait in the kernel's accept
/// queue. Each connection costs a file descriptor, so this stays well below common limits.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Pause after a failed `accept`, such as running out of file descriptors, so the loop does
/// not spin and flood the log.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// A bound listener, ready to serve.
pub struct Server {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    connections: Arc<tokio::sync::Semaphore>,
}

impl Server {
    /// Binds `address`; refuses a plain listener on a non-loopback address.
    pub async fn bind(
        app: Arc<App>,
        address: SocketAddr,
        tls: Option<(&Path, &Path)>,
    ) -> anyhow::Result<Self> {
        if tls.is_none() && !address.ip().is_loopback() {
            bail!(
                "refusing to serve plain HTTP on {address}: give --tls-cert and --tls-key, or \
                 listen on a loopback address"
            );
        }
        if app.test_clock().is_some() && !address.ip().is_loopback() {
            bail!("--danger-test-clock is only allowed on a loopback listener");
        }
        let tls = tls.map(|(cert, key)| tls_acceptor(cert, key)).transpose()?;
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("failed to listen on {address}"))?;
        Ok(Self {
            listener,
            tls,
            app,
            connections: Arc::new(tokio::sync::Semaphore::new(DEFAULT_MAX_CONNECTIONS)),
        })
    }

    /// Returns the bound address, which tells the port when listening on port 0.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` resolves, then waits for open connections.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let ticker = spawn_epoch_ticker(&self.app);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(
            address = %self.local_addr()?,
            scheme,
            app = %self.app.name,
            "serving"
        );
        tokio::pin!(shutdown);

        loop {
            let permit = tokio::select! {
                permit = self.connections.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let (stream, client) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "failed to accept a connection; pausing");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "failed to set TCP_NODELAY");
            }
            let app = self.app.clone();
            let local = self.listener.local_addr()?;
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let app = app.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        serve_request(app, request, client, local, scheme).await,
                    )
                }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT);
            builder
                .http2()
                .timer(hyper_util::rt::TokioTimer::new())
                .keep_alive_interval(Some(HANDSHAKE_TIMEOUT))
                .keep_alive_timeout(HANDSHAKE_TIMEOUT);
            match &self.tls {
                None => {
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        // The automatic protocol detection reads the first bytes before hyper's
                        // header timeout applies, so a client that sends nothing is dropped here.
                        let mut first = [0u8; 1];
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await
                        {
                            Ok(Ok(read)) if read > 0 => {}
                            _ => {
                                tracing::debug!(%client, "connection sent no request in time");
                                return;
                            }
                        }
                        let connection =
                            builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        if let Err(error) = watcher.watch(connection.into_owned()).await {
                            tracing::debug!(%error, "connection ended with an error");
                        }
                        drop(permit);
                    });
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let _permit = permit;
                        let handshake =
                            tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                        let stream = match handshake.await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(error)) => {
                                tracing::debug!(%client, %error, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%client, "TLS handshake timed out");
                                return;
                            }
                        };
                        let connection =
                            builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        if let Err(error) = watcher.watch(connection.into_owned()).await {
                            tracing::debug!(%error, "connection ended with an error");
                        }
                    });
                }
            }
        }

        tracing::info!("shutting down: waiting for open requests");
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("all connections closed"),
            () = tokio::time::sleep(SHUTDOWN_GRACE) => {
                tracing::warn!(grace_s = SHUTDOWN_GRACE.as_secs(), "connections still open after the grace period");
            }
        }
        ticker.abort();
        Ok(())
    }
}

async fn serve_request(
    app: Arc<App>,
    request: Request<Incoming>,
    client: SocketAddr,
    local: SocketAddr,
    scheme: &'static str,
) -> Response<HostBody> {
    let authority = request
        .uri()
        .authority()
        .map(|a| a.to_string())
        .or_else(|| {
            request
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .filter(|host| !host.to_ascii_lowercase().contains(".spin.internal"))
        .unwrap_or_else(|| local.to_string());

    if request.uri().path() == TEST_CLOCK_PATH
        && let Some(clock) = app.test_clock()
    {
        if request.method() != http::Method::POST {
            return problem::response(
                StatusCode::METHOD_NOT_ALLOWED,
                "move the test clock with POST",
            );
        }
        return advance_clock(clock, request.uri().query());
    }

    // The authority becomes part of the guest's URI and `spin-full-url`, so it must be a plain
    // host and port; anything else would let a client rewrite the URL the guest receives.
    if !is_plain_authority(&authority) {
        return problem::response(
            StatusCode::BAD_REQUEST,
            "the Host header is not a valid host",
        );
    }

    let request = request.map(body::boxed);
    let origin = Origin {
        client,
        scheme,
        authority,
    };
    let mut response = app.handle_public(request, origin).await;
    if scheme == "https" {
        // Two years, the preload list's minimum (hstspreload.org).
        response.headers_mut().insert(
            http::header::STRICT_TRANSPORT_SECURITY,
            http::HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    response
}

/// Returns whether `authority` is `host` or `host:port` with no user information, path or query.
fn is_plain_authority(authority: &str) -> bool {
    !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
        && authority.parse::<http::uri::Authority>().is_ok()
}

/// Handles `POST /.well-known/portal-host/test-clock?advance_secs=N`.
fn advance_clock(clock: &crate::clock::TestClock, query: Option<&str>) -> Response<HostBody> {
    let seconds = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("advance_secs="))
        .and_then(|value| value.parse::<u64>().ok());
    let Some(seconds) = seconds else {
        return problem::response(
            StatusCode::BAD_REQUEST,
            "give the number of seconds to advance as ?advance_secs=N",
        );
    };
    let offset = clock.advance(Duration::from_secs(seconds));
    tracing::warn!(
        advanced_s = seconds,
        offset_s = offset.as_secs(),
        "test clock moved"
    );
    let document = serde_json::json!({ "offset_secs": offset.as_secs() });
    let mut response = Response::new(body::full(document.to_string()));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Advances the engine epoch every tick, which makes running guests yield. It runs on a thread
/// of its own: a guest busy on an executor thread must not be able to delay it.
fn spawn_epoch_ticker(app: &Arc<App>) -> EpochTicker {
    let engine = wasmtime::Engine::weak(app.engine());
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = running.clone();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while flag.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .map(|_| ())
        .unwrap_or_else(|error| tracing::error!(%error, "failed to start the epoch ticker"));
    EpochTicker { running }
}

/// Stops the epoch ticker when dropped.
struct EpochTicker {
    running: Arc<std::sync::atomic::AtomicBool>,
}

impl EpochTicker {
    fn abort(&self) {
        self.running
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Builds a TLS 1.2 and 1.3 acceptor. Every TLS 1.2 suite rustls implements uses ECDHE key
/// exchange, so all offered suites are forward secret.
fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert).with_context(|| format!("failed to open {}", cert.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("invalid certificate PEM in {}", cert.display()))?;
    if certs.is_empty() {
        bail!("no certificate found in {}", cert.display());
    }
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(key).with_context(|| format!("failed to open {}", key.display()))?,
    ))
    .with_context(|| format!("invalid private key PEM in {}", key.display()))?
    .with_context(|| format!("no private key found in {}", key.display()))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
