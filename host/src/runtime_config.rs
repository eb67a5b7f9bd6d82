//! The subset of Spin's `runtime-config.toml` the host understands: key-value stores on SQLite
//! (`type = "spin"`) or Redis, and `static` and `env` variables providers.
//!
//! A setting the host cannot honour (a Vault provider, a DynamoDB store) stops start-up with a
//! message, instead of running with a different backend than the operator wrote down.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::client_tls::ClientTls;

/// A parsed runtime configuration.
#[derive(Debug, Default)]
pub struct RuntimeConfig {
    /// Key-value store backends by label.
    pub key_value_stores: BTreeMap<String, KeyValueBackend>,
    /// Variables providers in resolution order.
    pub variables_providers: Vec<VariablesProvider>,
    /// Outbound TLS settings for particular components and hosts.
    pub client_tls: Vec<ClientTls>,
}

/// Backend of one key-value store label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyValueBackend {
    /// A SQLite file. Relative paths resolve against the state directory.
    Sqlite {
        /// Database file.
        path: PathBuf,
    },
    /// A Redis server.
    Redis {
        /// Connection URL, such as `redis://127.0.0.1:6379`.
        url: String,
    },
}

/// A source of variable values.
#[derive(Clone)]
pub enum VariablesProvider {
    /// Literal values written in the runtime configuration.
    Static {
        /// Values by variable name.
        values: HashMap<String, String>,
    },
    /// Environment variables named `<prefix>_<NAME>`.
    Env {
        /// Prefix; Spin's default is `SPIN_VARIABLE`.
        prefix: String,
    },
}

impl std::fmt::Debug for VariablesProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Static { values } => f
                .debug_struct("Static")
                .field("names", &values.keys().collect::<Vec<_>>())
                .finish_non_exhaustive(),
            Self::Env { prefix } => f.debug_struct("Env").field("prefix", prefix).finish(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    key_value_store: BTreeMap<String, StoreEntry>,
    #[serde(default)]
    variables_provider: Vec<ProviderEntry>,
    #[serde(default)]
    config_provider: Vec<ProviderEntry>,
    #[serde(default)]
    client_tls: Vec<ClientTlsEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientTlsEntry {
    component_ids: Vec<String>,
    hosts: Vec<String>,
    #[serde(default)]
    ca_use_webpki_roots: Option<bool>,
    #[serde(default)]
    ca_roots_file: Option<PathBuf>,
    // Parsed only to reject client certificates with a useful message.
    #[serde(default)]
    cert_chain_file: Option<PathBuf>,
    #[serde(default)]
    private_key_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum StoreEntry {
    Spin {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    Redis {
        url: String,
    },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ProviderEntry {
    Static {
        values: HashMap<String, String>,
    },
    Env {
        #[serde(default)]
        prefix: Option<String>,
    },
    // The tables are parsed only to reject them with a useful message.
    Vault(#[expect(dead_code, reason = "rejected unread")] toml::Table),
    AzureKeyVault(#[expect(dead_code, reason = "rejected unread")] toml::Table),
}

/// Default SQLite file of a store label, inside the state directory, as Spin names it.
const DEFAULT_SQLITE_FILE: &str = "sqlite_key_value.db";

impl RuntimeConfig {
    /// Reads a runtime configuration; `None` means the defaults (every label on one SQLite file).
    pub fn load(path: Option<&Path>, state_dir: &Path) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read runtime config {}", path.display()))?;
        Self::parse_in(&text, state_dir, path.parent())
            .with_context(|| format!("invalid runtime config {}", path.display()))
    }

    /// Parses runtime configuration text; relative file paths resolve against the current
    /// directory.
    pub fn parse(text: &str, state_dir: &Path) -> anyhow::Result<Self> {
        Self::parse_in(text, state_dir, None)
    }

    /// Parses runtime configuration text read from a file in `config_dir`, against which
    /// relative `ca_roots_file` paths resolve, as Spin resolves them.
    fn parse_in(text: &str, state_dir: &Path, config_dir: Option<&Path>) -> anyhow::Result<Self> {
        let file: File = toml::from_str(text).map_err(redacted_parse_error)?;

        let mut key_value_stores = BTreeMap::new();
        for (label, entry) in file.key_value_store {
            let backend = match entry {
                StoreEntry::Spin { path } => {
                    let path = path.unwrap_or_else(|| PathBuf::from(DEFAULT_SQLITE_FILE));
                    KeyValueBackend::Sqlite {
                        path: state_dir.join(path),
                    }
                }
                StoreEntry::Redis { url } => KeyValueBackend::Redis { url },
            };
            key_value_stores.insert(label, backend);
        }

        let mut variables_providers = Vec::new();
        for entry in file
            .variables_provider
            .into_iter()
            .chain(file.config_provider)
        {
            let provider = match entry {
                ProviderEntry::Static { values } => VariablesProvider::Static { values },
                ProviderEntry::Env { prefix } => VariablesProvider::Env {
                    prefix: prefix.unwrap_or_else(|| "SPIN_VARIABLE".to_owned()),
                },
                ProviderEntry::Vault(_) | ProviderEntry::AzureKeyVault(_) => bail!(
                    "portal-host does not implement the vault and azure_key_vault variables \
                     providers: run this configuration under `spin up`, or use a static or env \
                     provider locally"
                ),
            };
            variables_providers.push(provider);
        }

        let mut client_tls = Vec::new();
        for entry in file.client_tls {
            if entry.cert_chain_file.is_some() || entry.private_key_file.is_some() {
                bail!(
                    "portal-host does not present client certificates: remove cert_chain_file \
                     and private_key_file, or run this configuration under `spin up`"
                );
            }
            let roots = entry
                .ca_roots_file
                .map(|path| config_dir.map_or(path.clone(), |dir| dir.join(&path)));
            client_tls.push(ClientTls::new(
                entry.component_ids,
                entry.hosts,
                roots.as_deref(),
                entry.ca_use_webpki_roots.unwrap_or(true),
            )?);
        }

        Ok(Self {
            key_value_stores,
            variables_providers,
            client_tls,
        })
    }

    /// Returns the backend of a store label: the configured one, or for `default` the SQLite
    /// file Spin uses when nothing is configured.
    pub fn backend_for(&self, label: &str, state_dir: &Path) -> Option<KeyValueBackend> {
        if let Some(backend) = self.key_value_stores.get(label) {
            return Some(backend.clone());
        }
        (label == "default").then(|| KeyValueBackend::Sqlite {
            path: state_dir.join(DEFAULT_SQLITE_FILE),
        })
    }
}

/// Describes a parse error by position and cause only: the runtime config contains secret values,
/// and both the source snippet and quoted values in the message could repeat them.
fn redacted_parse_error(error: toml::de::Error) -> anyhow::Error {
    let mut message = String::new();
    let mut quoted = false;
    for c in error.message().chars() {
        match c {
            '"' | '`' => {
                quoted = !quoted;
                if quoted {
                    message.push_str("<redacted>");
                }
            }
            _ if !quoted => message.push(c),
            _ => {}
        }
    }
    match error.span() {
        Some(span) => anyhow::anyhow!("{message} (at byte offset {})", span.start),
        None => anyhow::anyhow!("{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_providers_parse() -> anyhow::Result<()> {
        let config = RuntimeConfig::parse(
            r#"
            [key_value_store.auth]
            type = "spin"
            path = "auth.db"

            [key_value_store.audit]
            type = "redis"
            url = "redis://127.0.0.1:6379"

            [[variables_provider]]
            type = "static"
            values = { tenant = "demo" }
            "#,
            Path::new("/state"),
        )?;
        assert_eq!(
            config.key_value_stores.get("auth"),
            Some(&KeyValueBackend::Sqlite {
                path: PathBuf::from("/state/auth.db")
            })
        );
        assert!(matches!(
            config.key_value_stores.get("audit"),
            Some(KeyValueBackend::Redis { .. })
        ));
        assert_eq!(config.variables_providers.len(), 1);
        Ok(())
    }

    #[test]
    fn vault_provider_is_rejected_with_advice() {
        let error = RuntimeConfig::parse(
            "[[variables_provider]]\ntype = \"vault\"\nurl = \"https://vault\"\n",
            Path::new("/state"),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(error.contains("spin up"), "{error}");
    }

    #[test]
    fn parse_errors_do_not_repeat_values() {
        for text in [
            "[[variables_provider]]\ntype = \"static\"\nvalues = { key = \"SUPER\\qSECRET\" }\n",
            "[[variables_provider]]\ntype = \"static\"\nvalues = \"SUPERSECRET\"\n",
        ] {
            let error = RuntimeConfig::parse(text, Path::new("/s"))
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            assert!(!error.is_empty(), "{text}");
            assert!(!error.contains("SECRET"), "{error}");
        }
    }

    #[test]
    fn undeclared_label_has_no_backend() {
        let config = RuntimeConfig::default();
        assert!(config.backend_for("audit", Path::new("/s")).is_none());
        assert!(config.backend_for("default", Path::new("/s")).is_some());
    }
}
