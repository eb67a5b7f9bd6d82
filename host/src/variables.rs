//! Application variables: declarations from the manifest, values from providers, and the
//! per-component templates that `spin:variables` and `wasi:config/store` expose.
//!
//! Resolution order follows Spin 4: each provider from `runtime-config.toml` in the order
//! written, then `SPIN_VARIABLE_<NAME>` environment variables, then the manifest default.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::bail;

use crate::manifest::Manifest;
use crate::runtime_config::VariablesProvider;

/// A resolved variable value. Secret values print as `<redacted>`.
#[derive(Clone)]
pub struct Value {
    text: Arc<str>,
    secret: bool,
}

impl Value {
    /// Exposes the value, for handing it to a guest.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.secret {
            f.write_str("<redacted>")
        } else {
            write!(f, "{:?}", self.text)
        }
    }
}

/// All application variables, resolved once at start-up.
#[derive(Debug, Default)]
pub struct Resolved {
    values: HashMap<String, Value>,
}

impl Resolved {
    /// Resolves every declared variable, failing with the names of required ones that have no
    /// value. `host_defaults` (the embedded services' addresses) rank below the providers and
    /// the environment and above the manifest's defaults.
    pub fn resolve(
        manifest: &Manifest,
        providers: &[VariablesProvider],
        environment: &dyn Fn(&str) -> Option<String>,
        host_defaults: &HashMap<String, String>,
    ) -> anyhow::Result<Self> {
        let mut values = HashMap::new();
        let mut missing = Vec::new();

        for (name, decl) in &manifest.variables {
            let value = provided(name, providers, environment)
                .or_else(|| host_defaults.get(name).cloned())
                .or_else(|| decl.default.clone());

            match value {
                Some(text) => {
                    values.insert(
                        name.clone(),
                        Value {
                            text: text.into(),
                            secret: decl.secret,
                        },
                    );
                }
                None => missing.push(name.clone()),
            }
        }

        if !missing.is_empty() {
            bail!(
                "required variables have no value: {}; set them in runtime-config.toml or as \
                 SPIN_VARIABLE_<NAME> environment variables",
                missing.join(", ")
            );
        }
        Ok(Self { values })
    }

    /// Returns the value of application variable `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(Value::expose)
    }

    /// Expands a component's variable templates into their values.
    pub fn component_values(
        &self,
        templates: &BTreeMap<String, String>,
    ) -> anyhow::Result<BTreeMap<String, Value>> {
        let mut out = BTreeMap::new();
        for (name, template) in templates {
            let mut secret = false;
            let text = expand(template, |reference| {
                let value = self.values.get(reference)?;
                secret |= value.secret;
                Some(value.text.to_string())
            })?;
            out.insert(
                name.clone(),
                Value {
                    text: text.into(),
                    secret,
                },
            );
        }
        Ok(out)
    }
}

/// Returns the value of variable `name` from the providers, in order, then from a
/// `SPIN_VARIABLE_<NAME>` environment variable; `None` when neither sets it.
pub fn provided(
    name: &str,
    providers: &[VariablesProvider],
    environment: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let from_providers = providers.iter().find_map(|provider| match provider {
        VariablesProvider::Static { values } => values.get(name).cloned(),
        VariablesProvider::Env { prefix } => {
            environment(&format!("{prefix}_{}", name.to_ascii_uppercase()))
        }
    });
    from_providers.or_else(|| environment(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())))
}

impl Resolved {
    /// Returns whether a template refers to a variable declared secret.
    pub fn template_is_secret(&self, template: &str) -> bool {
        template_references(template)
            .unwrap_or_default()
            .iter()
            .any(|name| self.values.get(name).is_some_and(|value| value.secret))
    }

    /// Expands one template, such as an `allowed_outbound_hosts` entry, against the
    /// application variables.
    pub fn expand_template(&self, template: &str) -> anyhow::Result<String> {
        expand(template, |name| {
            self.values.get(name).map(|v| v.text.to_string())
        })
    }
}

/// Lists the variable names a template such as `"https://{{ host }}:{{port}}"` refers to.
pub fn template_references(template: &str) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    expand(template, |name| {
        names.push(name.to_owned());
        Some(String::new())
    })?;
    Ok(names)
}

/// Replaces each `{{ name }}` with `lookup(name)`; `{{` cannot be escaped, as in Spin.
fn expand(
    template: &str,
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> anyhow::Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            bail!("unterminated '{{{{' in variable template");
        };
        let name = after[..end].trim();
        if !is_variable_name(name) {
            bail!("invalid variable name {name:?} in template: use lower_snake_case");
        }
        match lookup(name) {
            Some(value) => out.push_str(&value),
            None => bail!("template refers to variable {name:?}, which has no value"),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Returns whether `name` is a valid Spin variable name: lower snake case starting with a letter.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && !name.ends_with('_')
        && !name.contains("__")
}

/// Per-instance variable state: the component's expanded variables.
pub struct VariablesState {
    values: Arc<BTreeMap<String, Value>>,
}

impl VariablesState {
    /// Exposes `values` to one instance.
    pub fn new(values: Arc<BTreeMap<String, Value>>) -> Self {
        Self { values }
    }

    /// State with no variables, for capability-free dependency components.
    pub fn empty() -> Self {
        Self::new(Arc::default())
    }

    fn lookup(&self, name: &str) -> Result<String, spin_variables::Error> {
        if !is_variable_name(name) {
            return Err(spin_variables::Error::InvalidName(format!(
                "invalid variable name {name:?}: use lower_snake_case"
            )));
        }
        self.values
            .get(name)
            .map(|value| value.expose().to_owned())
            .ok_or_else(|| {
                spin_variables::Error::Undefined(format!(
                    "no variable {name:?} is declared for this component"
                ))
            })
    }
}

use crate::bindings::spin::variables::variables as spin_variables;
use crate::bindings::wasi::config::store as config_store;
use wasmtime::component::{Accessor, HasData, Linker};

/// The `HasData` marker for the variables bindings.
pub struct VariablesData;

impl HasData for VariablesData {
    type Data<'a> = &'a mut VariablesState;
}

/// Adds `spin:variables` and `wasi:config/store` to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut VariablesState,
) -> anyhow::Result<()> {
    spin_variables::add_to_linker::<T, VariablesData>(linker, get)?;
    config_store::add_to_linker::<T, VariablesData>(linker, get)?;
    Ok(())
}

impl spin_variables::Host for VariablesState {}

impl<T> spin_variables::HostWithStore<T> for VariablesData {
    async fn get(
        accessor: &Accessor<T, Self>,
        name: String,
    ) -> Result<String, spin_variables::Error> {
        accessor.with(|mut access| access.get().lookup(&name))
    }
}

impl config_store::Host for VariablesState {
    async fn get(&mut self, key: String) -> Result<Option<String>, config_store::Error> {
        Ok(self.lookup(&key).ok())
    }

    async fn get_all(&mut self) -> Result<Vec<(String, String)>, config_store::Error> {
        Ok(self
            .values
            .iter()
            .map(|(name, value)| (name.clone(), value.expose().to_owned()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_expands_several_references() {
        let text = expand("{{ a }}-{{b}}", |name| Some(name.to_uppercase()));
        assert_eq!(text.ok().as_deref(), Some("A-B"));
    }

    #[test]
    fn template_with_bad_name_is_rejected() {
        assert!(expand("{{ Bad }}", |_| Some(String::new())).is_err());
        assert!(expand("{{ open", |_| Some(String::new())).is_err());
    }

    #[test]
    fn secret_value_debug_is_redacted() {
        let value = Value {
            text: "hunter2".into(),
            secret: true,
        };
        assert_eq!(format!("{value:?}"), "<redacted>");
    }
}
