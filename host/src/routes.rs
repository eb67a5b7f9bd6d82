//! HTTP trigger routing with Spin's rules: an exact route beats a wildcard, a longer wildcard
//! prefix beats a shorter one, and `:name` segments capture one segment each.

use anyhow::bail;

use crate::manifest::{HttpTrigger, RouteSpec};

/// The routing table of the public listener.
#[derive(Debug, Default)]
pub struct Router {
    routes: Vec<Route>,
    /// Components whose only trigger is `{ private = true }`.
    private: Vec<String>,
}

#[derive(Debug, Clone)]
struct Route {
    raw: String,
    segments: Vec<Segment>,
    wildcard: bool,
    component: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Named(String),
}

/// A successful route lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// Component that handles the request.
    pub component: String,
    /// The route as written in the manifest, such as `/auth/...`.
    pub raw_route: String,
    /// The route without a trailing `/...`.
    pub route_prefix: String,
    /// The path after the matched prefix, starting with `/` or empty (`spin-path-info`).
    pub path_info: String,
    /// Values of `:name` segments.
    pub named: Vec<(String, String)>,
}

impl Router {
    /// Builds the table from the manifest's HTTP triggers.
    pub fn build(triggers: &[HttpTrigger]) -> anyhow::Result<Self> {
        let mut router = Router::default();
        for trigger in triggers {
            match &trigger.route {
                RouteSpec::Private { .. } => router.private.push(trigger.component.clone()),
                RouteSpec::Path(raw) => {
                    let route = parse(raw, &trigger.component)?;
                    if let Some(existing) = router.routes.iter().find(|r| r.shadows(&route)) {
                        bail!(
                            "route {raw:?} is declared for both {:?} and {:?}",
                            existing.component,
                            route.component
                        );
                    }
                    router.routes.push(route);
                }
            }
        }
        // Most specific first: exact routes, then longer prefixes, then fewer captures.
        router.routes.sort_by_key(|route| {
            let captures = route
                .segments
                .iter()
                .filter(|s| matches!(s, Segment::Named(_)))
                .count();
            (
                route.wildcard,
                std::cmp::Reverse(route.segments.len()),
                captures,
            )
        });
        Ok(router)
    }

    /// Finds the component for a request path.
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let parts: Vec<&str> = split(path);
        self.routes.iter().find_map(|route| route.matches(&parts))
    }

    /// Lists every component reachable from the public listener or by chaining.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.routes
            .iter()
            .map(|r| r.component.as_str())
            .chain(self.private.iter().map(String::as_str))
    }
}

impl Route {
    /// Returns whether two routes match exactly the same paths (`/a/:id` and `/a/:name`, `/a` and
    /// `/a/`), so that one of them could never be reached.
    fn shadows(&self, other: &Route) -> bool {
        self.wildcard == other.wildcard
            && self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Named(_), Segment::Named(_)) => true,
                    _ => false,
                })
    }

    fn matches(&self, parts: &[&str]) -> Option<RouteMatch> {
        if parts.len() < self.segments.len()
            || (!self.wildcard && parts.len() != self.segments.len())
        {
            return None;
        }
        let mut named = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                Segment::Named(name) => named.push((name.clone(), (*part).to_owned())),
            }
        }
        let rest = &parts[self.segments.len()..];
        let path_info = if rest.is_empty() {
            String::new()
        } else {
            format!("/{}", rest.join("/"))
        };
        Some(RouteMatch {
            component: self.component.clone(),
            raw_route: self.raw.clone(),
            route_prefix: self.raw.trim_end_matches("/...").to_owned(),
            path_info,
            named,
        })
    }
}

fn parse(raw: &str, component: &str) -> anyhow::Result<Route> {
    if !raw.starts_with('/') {
        bail!("route {raw:?} of component {component:?} must start with '/'");
    }
    let (body, wildcard) = match raw.strip_suffix("/...") {
        Some(body) => (body, true),
        None if raw == "/..." => ("", true),
        None => (raw, false),
    };
    let mut segments = Vec::new();
    for part in split(body) {
        if part == "..." {
            bail!("route {raw:?}: '...' may only end a route");
        }
        match part.strip_prefix(':') {
            Some("") => bail!("route {raw:?}: ':' needs a name"),
            Some(name) => segments.push(Segment::Named(name.to_owned())),
            None => segments.push(Segment::Literal(part.to_owned())),
        }
    }
    Ok(Route {
        raw: raw.to_owned(),
        segments,
        wildcard,
        component: component.to_owned(),
    })
}

fn split(path: &str) -> Vec<&str> {
    path.split('/').filter(|part| !part.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let triggers: Vec<HttpTrigger> = routes
            .iter()
            .map(|(route, component)| HttpTrigger {
                id: None,
                route: RouteSpec::Path((*route).to_owned()),
                component: (*component).to_owned(),
                executor: None,
            })
            .collect();
        match Router::build(&triggers) {
            Ok(router) => router,
            Err(error) => panic!("{error:#}"),
        }
    }

    fn component(router: &Router, path: &str) -> Option<String> {
        router.route(path).map(|m| m.component)
    }

    #[test]
    fn exact_route_beats_wildcard() {
        let router = router(&[("/auth/...", "auth"), ("/auth/health", "health")]);
        assert_eq!(
            component(&router, "/auth/health").as_deref(),
            Some("health")
        );
        assert_eq!(component(&router, "/auth/login").as_deref(), Some("auth"));
    }

    #[test]
    fn longer_wildcard_prefix_wins() {
        let router = router(&[("/...", "web"), ("/files/...", "uploads")]);
        assert_eq!(component(&router, "/files/abc").as_deref(), Some("uploads"));
        assert_eq!(component(&router, "/other").as_deref(), Some("web"));
    }

    #[test]
    fn wildcard_matches_its_own_prefix() {
        let router = router(&[("/audit/...", "audit")]);
        let matched = router.route("/audit");
        assert_eq!(matched.map(|m| m.path_info), Some(String::new()));
        assert_eq!(
            router.route("/audit/a/b").map(|m| m.path_info).as_deref(),
            Some("/a/b")
        );
    }

    #[test]
    fn unmatched_path_has_no_route() {
        let router = router(&[("/auth/...", "auth"), ("/exact", "x")]);
        assert_eq!(component(&router, "/authx"), None);
        assert_eq!(component(&router, "/exact/more"), None);
    }

    #[test]
    fn named_segments_are_captured() {
        let router = router(&[("/users/:id/...", "users")]);
        let matched = router.route("/users/42/sessions");
        assert_eq!(
            matched.map(|m| m.named),
            Some(vec![("id".to_owned(), "42".to_owned())])
        );
    }

    #[test]
    fn duplicate_route_is_rejected() {
        for (first, second) in [
            ("/x/...", "/x/..."),
            ("/a/:id", "/a/:name"),
            ("/a/...", "/a//..."),
            ("/a", "/a/"),
        ] {
            let triggers: Vec<HttpTrigger> = [(first, "one"), (second, "two")]
                .iter()
                .map(|(route, component)| HttpTrigger {
                    id: None,
                    route: RouteSpec::Path((*route).into()),
                    component: (*component).into(),
                    executor: None,
                })
                .collect();
            assert!(Router::build(&triggers).is_err(), "{first} and {second}");
        }
    }
}
