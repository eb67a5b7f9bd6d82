//! Runs the portal's own `spin.toml` in process through `portal-host`, for end-to-end tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portal_host::app::{App, Limits, LoadOptions};
use portal_host::server::Server;
use tokio::sync::oneshot;

pub mod client;
pub mod journey;
pub mod process;
pub mod sink;
pub mod world;

/// The portal served on a loopback port until dropped.
pub struct Portal {
    /// Bound address.
    pub address: SocketAddr,
    /// `http://ADDRESS`, or `https://localhost:PORT` when serving HTTPS.
    pub origin: String,
    /// The self-signed certificate (PEM) when serving HTTPS.
    pub certificate: Option<String>,
    /// State directory, deleted when the last portal using it is dropped.
    pub state_dir: Arc<tempfile::TempDir>,
    app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
}

/// Root of the repository.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl Portal {
    /// Loads `spin.toml` and `runtime-config.toml` from the repository and serves them.
    pub async fn start() -> anyhow::Result<Portal> {
        Self::start_with(&[], false).await
    }

    /// Like [`Portal::start`], with `overrides` (variable name and value) taking precedence
    /// over the repository's runtime config, and the host's test clock enabled if asked.
    pub async fn start_with(
        overrides: &[(&str, &str)],
        test_clock: bool,
    ) -> anyhow::Result<Portal> {
        Self::start_in(Arc::new(tempfile::tempdir()?), overrides, test_clock, false).await
    }

    /// Like [`Portal::start_with`], over HTTPS with a new self-signed certificate for
    /// `localhost`; [`Portal::https_client`] trusts it.
    pub async fn start_https(
        overrides: &[(&str, &str)],
        test_clock: bool,
    ) -> anyhow::Result<Portal> {
        Self::start_in(Arc::new(tempfile::tempdir()?), overrides, test_clock, true).await
    }

    /// An HTTP client that trusts this portal's certificate, for a [`client::Clock`].
    pub fn https_client(&self) -> anyhow::Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = &self.certificate {
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes())?);
        }
        Ok(builder.build()?)
    }

    /// Like [`Portal::start_with`], on an existing state directory, such as one a backup was
    /// restored into.
    pub async fn start_in_dir(
        state_dir: Arc<tempfile::TempDir>,
        overrides: &[(&str, &str)],
        test_clock: bool,
    ) -> anyhow::Result<Portal> {
        Self::start_in(state_dir, overrides, test_clock, false).await
    }

    /// Starts another portal on this one's state directory (its stores), as a restart or a
    /// second replica would see them.
    pub async fn start_sharing(
        &self,
        overrides: &[(&str, &str)],
        test_clock: bool,
    ) -> anyhow::Result<Portal> {
        Self::start_in(self.state_dir.clone(), overrides, test_clock, false).await
    }

    async fn start_in(
        state_dir: Arc<tempfile::TempDir>,
        overrides: &[(&str, &str)],
        test_clock: bool,
        https: bool,
    ) -> anyhow::Result<Portal> {
        // `PORTAL_TEST_LOG=info` shows the host's and the guests' logs beside a failing test.
        if let Ok(filter) = std::env::var("PORTAL_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let root = repository_root();
        let mut runtime_config = String::new();
        if !overrides.is_empty() {
            runtime_config.push_str(
                "[[variables_provider]]\ntype = \"static\"\n[variables_provider.values]\n",
            );
            for (name, value) in overrides {
                runtime_config.push_str(&format!("{name} = {value:?}\n"));
            }
        }
        runtime_config.push_str(&std::fs::read_to_string(root.join("runtime-config.toml"))?);
        let runtime_config_path = state_dir.path().join("runtime-config.toml");
        std::fs::write(&runtime_config_path, runtime_config)?;
        let options = LoadOptions {
            manifest: root.join("spin.toml"),
            runtime_config: Some(runtime_config_path),
            state_dir: state_dir.path().to_path_buf(),
            limits: Limits::default(),
            danger_test_clock: test_clock,
            embedded_s3: true,
            components: Vec::new(),
        };
        let app: Arc<App> = App::load(&options).await?;
        let certificate = if https {
            let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
            let cert_path = state_dir.path().join("tls-cert.pem");
            let key_path = state_dir.path().join("tls-key.pem");
            std::fs::write(&cert_path, generated.cert.pem())?;
            std::fs::write(&key_path, generated.signing_key.serialize_pem())?;
            Some((generated.cert.pem(), cert_path, key_path))
        } else {
            None
        };
        let tls = certificate
            .as_ref()
            .map(|(_, cert, key)| (cert.as_path(), key.as_path()));
        let server = Server::bind(app.clone(), ([127, 0, 0, 1], 0).into(), tls).await?;
        let address = server.local_addr()?;
        let origin = if https {
            format!("https://localhost:{}", address.port())
        } else {
            format!("http://{address}")
        };
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Ok(Portal {
            address,
            origin,
            certificate: certificate.map(|(pem, ..)| pem),
            state_dir,
            app,
            stop: Some(stop),
        })
    }

    /// Returns the embedded S3 endpoint's URL, access key id and secret.
    pub fn object_store(&self) -> Option<(String, String, String)> {
        self.app.embedded_s3().map(|s3| {
            (
                s3.endpoint(),
                s3.access_key_id().to_owned(),
                s3.secret_access_key().to_owned(),
            )
        })
    }

    /// Sends a JSON request to a component's private route, as service chaining from another
    /// component of the application would, and returns the status and the JSON body.
    pub async fn call_private(
        &self,
        component: &str,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("http://{component}.spin.internal{path}"))
            .header("content-type", "application/json")
            .body(portal_host::body::full(body.to_string()))?;
        let response = self
            .app
            .handle_internal(component, request)
            .await
            .ok_or_else(|| anyhow::anyhow!("no component {component:?}"))?;
        let status = response.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .map_err(|_| anyhow::anyhow!("unreadable response body"))?
            .to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        ))
    }

    /// The portal's origin followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
