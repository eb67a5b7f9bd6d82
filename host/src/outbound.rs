//! Outbound network policy: each component's `allowed_outbound_hosts`, deny by default.
//!
//! Entries use Spin's syntax, `scheme://host[:port]`. The scheme may be `*`, and the host may
//! be `*` or start with `*.`. The port may be `*`, a number or a range `lo..hi` (exclusive end),
//! and defaults to the scheme's well-known port. Entries may contain `{{ variable }}`
//! templates, which are expanded at start-up.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};

use anyhow::{Context, bail};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::app::App;
use crate::body;
use crate::client_tls::{self, ClientTls, ResponseIo};

/// A component's parsed outbound allowlist.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    scheme: Option<String>,
    host: HostPattern,
    ports: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com` matches `a.example.com` and `a.b.example.com`, not `example.com`.
    Subdomain(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    /// Inclusive start, exclusive end.
    Range(u16, u32),
    /// The well-known port of whatever scheme the request uses.
    SchemeDefault,
}

/// Suffix of the hostnames that address another component of the same application.
pub const SERVICE_CHAINING_SUFFIX: &str = ".spin.internal";

impl AllowedHosts {
    /// Parses allowlist entries, already expanded from templates.
    pub fn parse(entries: &[String]) -> anyhow::Result<Self> {
        let rules = entries
            .iter()
            .map(|entry| {
                parse_rule(entry)
                    .with_context(|| format!("invalid allowed_outbound_hosts entry {entry:?}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { rules })
    }

    /// Returns whether a request to `scheme://host:port` is allowed.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        self.rules
            .iter()
            .any(|rule| rule.matches(scheme, &host, port))
    }

    /// Whether a TCP connection to `address` is allowed by a `tcp://` or `*://` entry that
    /// names an IP address, `localhost`, or `*`, as Spin checks raw sockets under `tcp`.
    ///
    /// NOTE: entries that name a DNS host do not grant raw socket access, because the socket
    /// check receives only the resolved address.
    pub fn allows_socket(&self, address: SocketAddr) -> bool {
        let allowed = self.rules.iter().any(|rule| {
            if rule.scheme.as_deref().is_some_and(|scheme| scheme != "tcp") {
                return false;
            }
            let host_matches = match &rule.host {
                HostPattern::Any => true,
                HostPattern::Exact(host) if host == "localhost" => address.ip().is_loopback(),
                HostPattern::Exact(host) => host.parse::<IpAddr>().ok() == Some(address.ip()),
                HostPattern::Subdomain(_) => false,
            };
            host_matches && rule.ports.matches_explicit(address.port())
        });
        if !allowed {
            tracing::warn!(%address, "TCP connection denied: destination not in allowed_outbound_hosts");
        }
        allowed
    }
}

impl Rule {
    fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if let Some(expected) = &self.scheme
            && expected != scheme
        {
            return false;
        }
        let host_matches = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(expected) => expected == host,
            HostPattern::Subdomain(suffix) => {
                host.ends_with(suffix.as_str()) && host.len() > suffix.len()
            }
        };
        let port_matches = match self.ports {
            PortPattern::SchemeDefault => default_port(scheme) == Some(port),
            _ => self.ports.matches_explicit(port),
        };
        host_matches && port_matches
    }
}

impl PortPattern {
    fn matches_explicit(&self, port: u16) -> bool {
        match *self {
            PortPattern::Any => true,
            PortPattern::Range(start, end) => port >= start && u32::from(port) < end,
            PortPattern::SchemeDefault => false,
        }
    }
}

fn parse_rule(entry: &str) -> anyhow::Result<Rule> {
    let Some((scheme, rest)) = entry.split_once("://") else {
        bail!("expected scheme://host[:port]");
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        bail!("paths are not allowed; give only scheme://host[:port]");
    }
    let scheme = match scheme {
        "*" => None,
        s if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            Some(s.to_ascii_lowercase())
        }
        _ => bail!("invalid scheme {scheme:?}"),
    };

    let (host, port) = split_host_port(rest)?;
    let host = host.to_ascii_lowercase();
    let host = if host == "*" {
        HostPattern::Any
    } else if let Some(domain) = host.strip_prefix("*.") {
        if domain.is_empty() || domain.contains('*') {
            bail!("invalid wildcard host");
        }
        HostPattern::Subdomain(format!(".{domain}"))
    } else if host.is_empty() || host.contains('*') {
        bail!("invalid host {host:?}");
    } else {
        HostPattern::Exact(host)
    };

    let ports = match port {
        None => {
            if scheme.as_deref().and_then(default_port).is_none() {
                bail!("a port is required for this scheme");
            }
            PortPattern::SchemeDefault
        }
        Some("*") => PortPattern::Any,
        Some(range) if range.contains("..") => {
            let (start, end) = range.split_once("..").unwrap_or_default();
            let start: u16 = start.parse().context("invalid port range start")?;
            let end: u32 = end.parse().context("invalid port range end")?;
            if u32::from(start) >= end || end > 65536 {
                bail!("empty or out-of-range port range");
            }
            PortPattern::Range(start, end)
        }
        Some(port) => {
            let port: u16 = port.parse().context("invalid port")?;
            PortPattern::Range(port, u32::from(port) + 1)
        }
    };
    Ok(Rule {
        scheme,
        host,
        ports,
    })
}

fn split_host_port(authority: &str) -> anyhow::Result<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            bail!("unterminated IPv6 address");
        };
        return Ok(match after.strip_prefix(':') {
            Some(port) => (ip, Some(port)),
            None if after.is_empty() => (ip, None),
            None => bail!("unexpected text after IPv6 address"),
        });
    }
    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

/// Well-known port of a scheme.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "redis" => Some(6379),
        "tcp" => None,
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "mqtt" => Some(1883),
        _ => None,
    }
}

/// The `wasi:http` hooks of one instance: enforce the allowlist, dispatch `*.spin.internal`
/// in process, and send everything else over the network.
pub struct OutboundHooks {
    component: String,
    allowed: Arc<AllowedHosts>,
    client_tls: Arc<Vec<ClientTls>>,
    app: Weak<App>,
}

impl OutboundHooks {
    /// Hooks for an instance of `component` with allowlist `allowed` and the outbound TLS
    /// settings that name it.
    pub fn new(
        component: &str,
        allowed: Arc<AllowedHosts>,
        client_tls: Arc<Vec<ClientTls>>,
        app: Weak<App>,
    ) -> Self {
        Self {
            component: component.to_owned(),
            allowed,
            client_tls,
            app,
        }
    }
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, ResponseIo), HttpError>> + Send>
    {
        drop(fut);
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let port = uri
            .port_u16()
            .or_else(|| default_port(&scheme))
            .unwrap_or(0);
        // The connection is made to the whole authority, so user information (`a@b`) would
        // make it differ from the host checked here.
        let has_userinfo = uri.authority().is_some_and(|a| a.as_str().contains('@'));
        let allowed = !has_userinfo && self.allowed.allows(&scheme, &host, port);
        let tls = (scheme == "https")
            .then(|| {
                self.client_tls
                    .iter()
                    .find(|tls| tls.applies(&self.component, &host, port))
                    .cloned()
            })
            .flatten();
        let component = self.component.clone();
        let app = self.app.clone();

        Box::new(async move {
            if !allowed {
                tracing::warn!(
                    component,
                    scheme,
                    host,
                    port,
                    "outbound request denied: destination not in allowed_outbound_hosts"
                );
                return Err(HttpError::HttpRequestDenied);
            }
            if let Some(target) = host.strip_suffix(SERVICE_CHAINING_SUFFIX) {
                return send_internal(app, target, request).await;
            }
            if let Some(tls) = tls {
                return client_tls::send(&tls, &host, port, request, options).await;
            }
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as ResponseIo,
            ))
        })
    }
}

/// Runs a chained request through component `target` of the same application.
async fn send_internal(
    app: Weak<App>,
    target: &str,
    request: http::Request<WasiBody>,
) -> Result<(http::Response<WasiBody>, ResponseIo), HttpError> {
    let app = app.upgrade().ok_or(HttpError::DestinationUnavailable)?;
    let request = request.map(body::boxed);
    let response = app
        .handle_internal(target, request)
        .await
        .ok_or(HttpError::DestinationNotFound)?;
    let response = response.map(|b| {
        b.map_err(|e| HttpError::InternalError(Some(e.to_string())))
            .boxed_unsync()
    });
    Ok((response, Box::new(async { Ok(()) }) as ResponseIo))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        let entries: Vec<String> = entries.iter().map(|s| (*s).to_owned()).collect();
        match AllowedHosts::parse(&entries) {
            Ok(hosts) => hosts,
            Err(error) => panic!("{error:#}"),
        }
    }

    #[test]
    fn exact_host_uses_scheme_default_port() {
        let allowed = hosts(&["https://api.example.com"]);
        assert!(allowed.allows("https", "api.example.com", 443));
        assert!(!allowed.allows("https", "api.example.com", 8443));
        assert!(!allowed.allows("http", "api.example.com", 80));
        assert!(!allowed.allows("https", "evil.example.com", 443));
    }

    #[test]
    fn wildcard_subdomain_excludes_apex_and_lookalikes() {
        let allowed = hosts(&["http://*.spin.internal"]);
        assert!(allowed.allows("http", "audit.spin.internal", 80));
        assert!(!allowed.allows("http", "spin.internal", 80));
        assert!(!allowed.allows("http", "audit.spin.internal.evil.com", 80));
        assert!(!allowed.allows("http", "evilspin.internal", 80));
    }

    #[test]
    fn port_ranges_and_wildcards() {
        let allowed = hosts(&["http://127.0.0.1:8000..8002", "*://localhost:*"]);
        assert!(allowed.allows("http", "127.0.0.1", 8001));
        assert!(!allowed.allows("http", "127.0.0.1", 8002));
        assert!(allowed.allows("https", "localhost", 1));
    }

    #[test]
    fn empty_allowlist_denies_everything() {
        let allowed = AllowedHosts::default();
        assert!(!allowed.allows("https", "example.com", 443));
        assert!(!allowed.allows_socket("127.0.0.1:80".parse().unwrap_or_else(|_| unreachable!())));
    }

    #[test]
    fn malformed_entries_are_rejected() {
        for entry in [
            "example.com",
            "https://example.com/path",
            "https://a*b.com",
            "ftp://x",
        ] {
            assert!(AllowedHosts::parse(&[entry.to_owned()]).is_err(), "{entry}");
        }
    }

    #[test]
    fn socket_check_matches_ip_entries_only() {
        let allowed = hosts(&["tcp://127.0.0.1:6379", "tcp://cache.internal:6379"]);
        let redis: SocketAddr = "127.0.0.1:6379".parse().unwrap_or_else(|_| unreachable!());
        let other: SocketAddr = "127.0.0.1:6380".parse().unwrap_or_else(|_| unreachable!());
        assert!(allowed.allows_socket(redis));
        assert!(!allowed.allows_socket(other));
    }

    #[test]
    fn http_entry_grants_no_raw_tcp() {
        let allowed = hosts(&["http://127.0.0.1:8080"]);
        let address: SocketAddr = "127.0.0.1:8080".parse().unwrap_or_else(|_| unreachable!());
        assert!(allowed.allows("http", "127.0.0.1", 8080));
        assert!(!allowed.allows_socket(address));
    }
}
