//! Runs the portal's own `spin.toml` in process through `portal-host`, for end-to-end tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portal_host::app::{App, Limits, LoadOptions};
use portal_host::server::Server;
use tokio::sync::oneshot;

/// The portal served on a loopback port until dropped.
pub struct Portal {
    /// Bound address.
    pub address: SocketAddr,
    /// State directory, deleted on drop.
    pub state_dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
}

/// Root of the repository.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl Portal {
    /// Loads `spin.toml` and `runtime-config.toml` from the repository and serves them.
    pub async fn start() -> anyhow::Result<Portal> {
        let root = repository_root();
        let state_dir = tempfile::tempdir()?;
        let options = LoadOptions {
            manifest: root.join("spin.toml"),
            runtime_config: Some(root.join("runtime-config.toml")),
            state_dir: state_dir.path().to_path_buf(),
            limits: Limits::default(),
            danger_test_clock: false,
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
