//! Composition of a component with its capability-free dependencies at load time.
//!
//! A dependency whose imports are all WASI basics (I/O streams, clocks, random numbers, the
//! standard streams, an empty filesystem) has no capability that the importer's state could
//! grant by mistake. It is therefore plugged into the importer with `wac-graph`, as Spin
//! composes dependencies. Calls between the two then copy arguments between their linear
//! memories instead of through the host, so a 25 MiB upload costs 25 MiB, not a dynamic
//! value per byte. A dependency that imports anything else (key-value, variables, HTTP, sockets) keeps
//! a store of its own with no capabilities, see the parent module.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

use crate::manifest::{self, Dependency, Manifest};

/// Import name prefixes a composed dependency may have. `wasi:cli/environment` is allowed only
/// when the importer sets no environment variables, and the host preopens no directories.
const SHARED_IMPORTS: &[&str] = &[
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

/// An importer with its capability-free dependencies plugged in.
pub struct Composed {
    /// The composed component's bytes.
    pub bytes: Vec<u8>,
    /// Import names the composition satisfies, which the linker must not define again.
    pub satisfied: HashSet<String>,
}

/// Plugs every capability-free dependency of `component` into it. Returns `None` when no
/// dependency qualifies, so the component loads from `source` as it is.
pub fn compose(
    id: &str,
    component: &manifest::Component,
    manifest: &Manifest,
    base: &Path,
    source: &Path,
) -> anyhow::Result<Option<Composed>> {
    let mut graph = CompositionGraph::new();
    let mut plugs = Vec::new();
    let mut satisfied = HashSet::new();
    for (index, (import, dependency)) in component.dependencies.iter().enumerate() {
        let (path, export) = match dependency {
            Dependency::AppComponent { component, export } => {
                (base.join(&manifest.components[component].source), export)
            }
            Dependency::Local { path, export } => (base.join(path), export),
        };
        // A renamed export needs an explicit wire; it keeps the forwarding path.
        if export.as_ref().is_some_and(|export| export != import) {
            continue;
        }
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "component {id:?}: failed to read dependency {}",
                path.display()
            )
        })?;
        let package = Package::from_bytes(
            &format!("portal:dependency{index}"),
            None,
            bytes,
            graph.types_mut(),
        )
        .with_context(|| {
            format!(
                "component {id:?}: dependency {} is not a component",
                path.display()
            )
        })?;
        let imports = &graph.types()[package.ty()].imports;
        let capability_free = imports.keys().all(|name| {
            SHARED_IMPORTS.iter().any(|prefix| name.starts_with(prefix))
                || (name.starts_with("wasi:cli/environment") && component.environment.is_empty())
        });
        if !capability_free && !component.dependencies_inherit_configuration {
            continue;
        }
        plugs.push(graph.register_package(package)?);
        satisfied.insert(import.clone());
    }
    if plugs.is_empty() {
        return Ok(None);
    }

    let importer = std::fs::read(source)
        .with_context(|| format!("failed to read component {id:?} from {}", source.display()))?;
    let socket = Package::from_bytes("portal:importer", None, importer, graph.types_mut())
        .with_context(|| format!("component {id:?} is not a component"))?;
    let socket = graph.register_package(socket)?;
    wac_graph::plug(&mut graph, plugs, socket)
        .with_context(|| format!("component {id:?}: failed to plug in its dependencies"))?;
    let bytes = graph
        .encode(EncodeOptions::default())
        .with_context(|| format!("component {id:?}: failed to encode the composition"))?;
    Ok(Some(Composed { bytes, satisfied }))
}
