//! The subset of the Spin 4 application manifest (`spin.toml`, manifest version 2) that the
//! portal uses.
//!
//! Unknown fields are rejected rather than ignored, because a setting the host silently skips
//! (an outbound host, a store label) would make local runs differ from `spin up`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// A parsed `spin.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Must be 2.
    pub spin_manifest_version: u32,
    /// Name, version and description of the application.
    pub application: Application,
    /// Application variables: name to declaration.
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    /// Triggers by type; only `http` is supported.
    #[serde(default, rename = "trigger")]
    pub triggers: Triggers,
    /// Components by id.
    #[serde(default, rename = "component")]
    pub components: BTreeMap<String, Component>,
}

/// The `[application]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Application name.
    pub name: String,
    /// Application version.
    #[serde(default)]
    pub version: String,
    /// Free text description.
    #[serde(default)]
    pub description: String,
    /// Authors, unused by the host.
    #[serde(default)]
    pub authors: Vec<String>,
    /// Deployment environments `spin build` checks against; unused by the host.
    #[serde(default)]
    pub targets: Vec<toml::Value>,
    /// Settings for external tools; unused by the host.
    #[serde(default)]
    pub tool: toml::Table,
}

/// One `[variables]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    /// Free text description.
    #[serde(default)]
    pub description: Option<String>,
    /// The host refuses to start when a required variable has no value.
    #[serde(default)]
    pub required: bool,
    /// Value used when no provider supplies one.
    #[serde(default)]
    pub default: Option<String>,
    /// A secret value is never logged or shown in errors.
    #[serde(default)]
    pub secret: bool,
}

/// The `[[trigger.*]]` arrays.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    /// HTTP triggers.
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
}

/// One `[[trigger.http]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTrigger {
    /// Optional trigger id.
    #[serde(default)]
    pub id: Option<String>,
    /// Path pattern, or `{ private = true }` for a component reachable only by chaining.
    pub route: RouteSpec,
    /// Id of the component that handles the route.
    pub component: String,
    /// Executor settings; only the default `spin` executor is supported.
    #[serde(default)]
    pub executor: Option<toml::Table>,
}

/// The `route` of an HTTP trigger.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RouteSpec {
    /// A path pattern such as `/auth/...` or `/health`.
    Path(String),
    /// `{ private = true }`.
    Private {
        /// Must be true.
        private: bool,
    },
}

/// One `[component.NAME]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Path of the `.wasm` file, relative to the manifest.
    pub source: PathBuf,
    /// Free text description.
    #[serde(default)]
    pub description: String,
    /// Component variables: name to template such as `"{{ kek_auth_v1 }}"`.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Environment variables given to the guest.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Outbound network allowlist.
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    /// Key-value store labels this component may open.
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    /// `spin build` settings.
    #[serde(default)]
    pub build: Option<BuildConfig>,
    /// Whether dependencies receive this component's capabilities; default false.
    #[serde(default)]
    pub dependencies_inherit_configuration: bool,
    /// Imported interfaces satisfied by other components.
    #[serde(default)]
    pub dependencies: BTreeMap<String, Dependency>,
}

/// A `[component.NAME.build]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildConfig {
    /// Shell command that builds the component.
    pub command: String,
    /// Directory, relative to the manifest, in which the command runs.
    #[serde(default)]
    pub workdir: Option<PathBuf>,
    /// Paths that `spin watch` observes; unused by the host.
    #[serde(default)]
    pub watch: Vec<String>,
}

/// One entry of `[component.NAME.dependencies]`.
#[derive(Debug, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Dependency {
    /// `{ component = "sanitizer" }`: another component of this application.
    AppComponent {
        /// Id of the exporting component.
        component: String,
        /// Export name when it differs from the import name.
        #[serde(default)]
        export: Option<String>,
    },
    /// `{ path = "x.wasm" }`: a local Wasm file.
    Local {
        /// Path of the exporting component.
        path: PathBuf,
        /// Export name when it differs from the import name.
        #[serde(default)]
        export: Option<String>,
    },
}

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read manifest {}", path.display()))?;
        let manifest: Manifest = toml::from_str(&text)
            .with_context(|| format!("invalid manifest {}", path.display()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Keeps only the components `ids` and the components they depend on, and only the
    /// triggers of `ids`, as `spin up --component-id` does for a selective deployment. An
    /// empty list keeps everything.
    pub fn retain_components(&mut self, ids: &[String]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        for id in ids {
            if !self.components.contains_key(id) {
                bail!("--component-id {id:?} names no component of this application");
            }
        }
        self.triggers
            .http
            .retain(|trigger| ids.contains(&trigger.component));
        let mut kept: Vec<String> = ids.to_vec();
        let mut next = 0;
        while let Some(id) = kept.get(next).cloned() {
            next += 1;
            for dependency in self.components[&id].dependencies.values() {
                if let Dependency::AppComponent { component, .. } = dependency
                    && !kept.contains(component)
                {
                    kept.push(component.clone());
                }
            }
        }
        self.components.retain(|id, _| kept.contains(id));
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.spin_manifest_version != 2 {
            bail!(
                "unsupported spin_manifest_version {}: expected 2",
                self.spin_manifest_version
            );
        }
        for trigger in &self.triggers.http {
            if !self.components.contains_key(&trigger.component) {
                bail!(
                    "trigger route {:?} names unknown component {:?}",
                    trigger.route,
                    trigger.component
                );
            }
            if let RouteSpec::Private { private: false } = trigger.route {
                bail!(
                    "component {:?}: route = {{ private = false }} is not a route",
                    trigger.component
                );
            }
            if trigger.executor.is_some() {
                bail!(
                    "component {:?}: custom HTTP executors are not supported",
                    trigger.component
                );
            }
        }
        for (id, component) in &self.components {
            for template in component.variables.values() {
                for name in crate::variables::template_references(template)? {
                    if !self.variables.contains_key(&name) {
                        bail!("component {id:?} refers to undeclared variable {name:?}");
                    }
                }
            }
            for dependency in component.dependencies.values() {
                if let Dependency::AppComponent { component: dep, .. } = dependency
                    && !self.components.contains_key(dep)
                {
                    bail!("component {id:?} depends on unknown component {dep:?}");
                }
            }
        }
        for (name, decl) in &self.variables {
            if decl.required && decl.default.is_some() {
                bail!("variable {name:?} is required and has a default: choose one");
            }
            if !decl.required && decl.default.is_none() {
                bail!("variable {name:?} needs a default or required = true");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Manifest> {
        let manifest: Manifest = toml::from_str(text)?;
        manifest.validate()?;
        Ok(manifest)
    }

    const MINIMAL: &str = "spin_manifest_version = 2\n[application]\nname = \"a\"\n";

    #[test]
    fn minimal_manifest_parses() {
        assert!(parse(MINIMAL).is_ok());
    }

    #[test]
    fn unknown_application_key_is_rejected() {
        assert!(parse(&format!("{MINIMAL}foo = 1\n")).is_err());
    }

    #[test]
    fn trigger_for_unknown_component_is_rejected() {
        let text = format!("{MINIMAL}[[trigger.http]]\nroute = \"/x\"\ncomponent = \"nope\"\n");
        assert!(parse(&text).is_err());
    }

    #[test]
    fn undeclared_variable_in_template_is_rejected() {
        let text = format!(
            "{MINIMAL}[component.c]\nsource = \"c.wasm\"\n[component.c.variables]\nx = \"{{{{ missing }}}}\"\n"
        );
        let error = parse(&text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("missing"), "{error}");
    }

    #[test]
    fn selective_deployment_keeps_dependencies_and_drops_other_triggers() -> anyhow::Result<()> {
        let text = format!(
            "{MINIMAL}[[trigger.http]]\nroute = \"/a/...\"\ncomponent = \"a\"\n\
             [[trigger.http]]\nroute = \"/b/...\"\ncomponent = \"b\"\n\
             [component.a]\nsource = \"a.wasm\"\n\
             [component.a.dependencies]\n\"x:y/z\" = {{ component = \"dep\" }}\n\
             [component.b]\nsource = \"b.wasm\"\n[component.dep]\nsource = \"d.wasm\"\n"
        );
        let mut manifest = parse(&text)?;
        manifest.retain_components(&["a".to_owned()])?;
        let triggered: Vec<&str> = manifest
            .triggers
            .http
            .iter()
            .map(|trigger| trigger.component.as_str())
            .collect();
        assert_eq!(triggered, ["a"]);
        assert_eq!(manifest.components.keys().collect::<Vec<_>>(), ["a", "dep"]);
        assert!(manifest.retain_components(&["nope".to_owned()]).is_err());
        Ok(())
    }

    #[test]
    fn other_manifest_versions_are_rejected() {
        assert!(parse("spin_manifest_version = 1\n[application]\nname = \"a\"\n").is_err());
    }
}
