//! The embedded S3-compatible endpoint, so a fresh checkout needs no object storage service.
//!
//! It serves the S3 protocol with `s3s` (request parsing, SigV4 checks) over `s3s-fs`
//! (objects as files under the state directory), on a loopback port chosen at start-up. Each
//! start draws new random credentials and hands them, with the endpoint, to the components
//! through the `s3_*` variables, ranked below every runtime-config provider and environment
//! variable, so an operator who names another endpoint (AWS S3, R2, MinIO, Garage) wins.
//!
//! NOTE: this is for development and tests. `s3s-fs` calls itself experimental and keeps no
//! object versions; production points the components at a real object store.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use hyper_util::rt::{TokioExecutor, TokioIo};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Bucket the embedded endpoint creates and the components use by default.
pub const BUCKET: &str = "portal";

/// Region the embedded endpoint signs for; S3-compatible servers accept any fixed name.
pub const REGION: &str = "us-east-1";

/// A running embedded S3 endpoint; it stops when dropped.
pub struct EmbeddedS3 {
    address: SocketAddr,
    access_key_id: String,
    secret_access_key: String,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for EmbeddedS3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedS3")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl EmbeddedS3 {
    /// Starts the endpoint on a free loopback port, storing objects under `root` and creating
    /// [`BUCKET`] there.
    pub async fn start(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join(BUCKET))
            .with_context(|| format!("failed to create {}", root.display()))?;
        let filesystem = s3s_fs::FileSystem::new(root)
            .map_err(|error| anyhow::anyhow!("failed to open the object directory: {error:?}"))?;

        let access_key_id = format!("PORTAL{}", random_token(10)?);
        let secret_access_key = random_token(30)?;
        let mut builder = S3ServiceBuilder::new(filesystem);
        builder.set_auth(SimpleAuth::from_single(
            access_key_id.clone(),
            secret_access_key.clone(),
        ));
        let service = builder.build();

        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("failed to bind the embedded S3 endpoint")?;
        let address = listener.local_addr()?;
        let (stop, mut stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let connections = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            loop {
                let socket = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((socket, _)) => socket,
                        Err(error) => {
                            tracing::warn!(%error, "embedded S3 accept failed");
                            continue;
                        }
                    },
                    _ = &mut stopped => break,
                };
                let connection = connections
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        });
        tracing::info!(%address, "embedded S3 endpoint ready");
        Ok(Self {
            address,
            access_key_id,
            secret_access_key,
            stop: Some(stop),
        })
    }

    /// Returns the endpoint's URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The access key id requests must be signed with.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key requests must be signed with. Tests use it to read objects
    /// straight from the endpoint.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// Returns the `s3_*` variable values that point the components at this endpoint.
    pub fn variables(&self) -> HashMap<String, String> {
        [
            ("s3_endpoint", self.endpoint()),
            ("s3_bucket", BUCKET.to_owned()),
            ("s3_region", REGION.to_owned()),
            ("s3_access_key_id", self.access_key_id.clone()),
            ("s3_secret_access_key", self.secret_access_key.clone()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `length` random characters from the base32 alphabet (`A-Z`, `2-7`).
fn random_token(length: usize) -> anyhow::Result<String> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bytes = vec![0u8; length];
    getrandom::fill(&mut bytes).map_err(|_| anyhow::anyhow!("the system random source failed"))?;
    Ok(bytes
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(byte & 31)]))
        .collect())
}
