//! `portal-host build`: runs each component's `[component.NAME.build]` command, as `spin build`
//! does.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::manifest::Manifest;

/// Runs the build command of every component (or of the listed ones) in manifest order.
pub fn run(manifest_path: &Path, only: &[String]) -> anyhow::Result<()> {
    let manifest = Manifest::load(manifest_path)?;
    let base = manifest_path.parent().unwrap_or(Path::new("."));
    for name in only {
        if !manifest.components.contains_key(name) {
            bail!("no component named {name:?} in {}", manifest_path.display());
        }
    }
    for (id, component) in &manifest.components {
        if !only.is_empty() && !only.contains(id) {
            continue;
        }
        let Some(build) = &component.build else {
            tracing::info!(component = %id, "no build command; skipping");
            continue;
        };
        let workdir = base.join(build.workdir.as_deref().unwrap_or(Path::new(".")));
        tracing::info!(component = %id, command = %build.command, "building");
        let status = Command::new("sh")
            .arg("-c")
            .arg(&build.command)
            .current_dir(&workdir)
            .status()
            .with_context(|| format!("failed to run the build command of {id:?}"))?;
        if !status.success() {
            bail!("build of component {id:?} failed with {status}");
        }
    }
    Ok(())
}
