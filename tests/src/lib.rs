//! Runs the portal's own `spin.toml` in process through `portal-host`, for end-to-end tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portal_host::app::{App, Limits, LoadOptions};
use portal_host::server::Server;
use tokio::sync::oneshot;

pub mod client;
pub mod sink;

/// The portal served on a loopback port until dropped.
pub struct Portal {
    /// Bound address.
    pub address: SocketAddr,
    /// State directory, deleted when the last portal using it is dropped.
    pub state_dir: Arc<tempfile::TempDir>,
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
        Self::start_in(Arc::new(tempfile::tempdir()?), overrides, test_clock).await
    }

    /// Starts another portal on this one's state directory (its stores), as a restart or a
    /// second replica would see them.
    pub async fn start_sharing(
        &self,
        overrides: &[(&str, &str)],
        test_clock: bool,
    ) -> anyhow::Result<Portal> {
        Self::start_in(self.state_dir.clone(), overrides, test_clock).await
    }

    async fn start_in(
        state_dir: Arc<tempfile::TempDir>,
        overrides: &[(&str, &str)],
        test_clock: bool,
    ) -> anyhow::Result<Portal> {
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
        };
        let app: Arc<App> = App::load(&options).await?;
        let server = Server::bind(app, ([127, 0, 0, 1], 0).into(), None).await?;
        let address = server.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Ok(Portal {
            address,
            state_dir,
            stop: Some(stop),
        })
    }

    /// `http://ADDRESS` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
