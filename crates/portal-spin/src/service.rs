//! Calls between components, in one app or across separately deployed apps.
//!
//! In one app, a component reaches another's private route through service chaining
//! (`http://NAME.spin.internal`), which no client can reach. When the components run as
//! separate apps, the callee serves the same role on an `/internal/...` route instead (its
//! `*-remote` role), and every call must carry a service token: signed with the calling app's
//! Ed25519 service key, valid for 60 seconds, its audience the receiving component, bound to
//! one method and path, and accepted once. Each receiver trusts only the keys in its own
//! `service_token_keys` and only the callers that legitimately call it. A caller sends a token
//! on every HTTPS or chained call when it has a service key, so the same build works in both
//! layouts.
//!
//! NOTE: the token does not cover the body. A token is accepted once and travels over TLS,
//! so only someone who reads it in transit and wins the race could attach another body.

use http::Method;
use portal_problem::{Problem, ProblemKind};
use portal_tokens::{KeySet, SERVICE_ISSUER, ServiceToken, SigningKey, TokenIssuer, TokenVerifier};
use spin_sdk::http::FullBody;

use crate::edge;

/// Failure of a call to another component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// The URL or the request could not be built.
    Invalid,
    /// The service key is set but unusable.
    Key,
    /// The receiver could not be reached.
    Unreachable,
}

/// Sends `method path` with `body` to component `receiver` at `base` (the value of a `*_url`
/// variable), adding a service token when the component has a service key.
pub async fn call(
    receiver: &str,
    base: &str,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<spin_sdk::http::Response, CallError> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let mut builder = http::Request::builder()
        .method(method.clone())
        .uri(url.as_str());
    // A token goes only where it cannot be read on the way: over HTTPS, or by chaining.
    let protected = url.starts_with("https://")
        || url::Url::parse(&url).is_ok_and(|parsed| {
            parsed
                .host_str()
                .is_some_and(|host| host.ends_with(".spin.internal"))
        });
    if protected && let Some(token) = token_for(receiver, &method, path).await? {
        builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => builder
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(FullBody::new(bytes::Bytes::from(body))),
        None => builder.body(FullBody::new(bytes::Bytes::new())),
    }
    .map_err(|_| CallError::Invalid)?;
    spin_sdk::http::send(request)
        .await
        .map_err(|_| CallError::Unreachable)
}

/// Mints a token for `receiver` when the variable `service_token_key` is set and not empty.
async fn token_for(
    receiver: &str,
    method: &Method,
    path: &str,
) -> Result<Option<String>, CallError> {
    let seed = spin_sdk::variables::get("service_token_key")
        .await
        .unwrap_or_default();
    if seed.is_empty() {
        return Ok(None);
    }
    let kid = spin_sdk::variables::get("service_token_kid")
        .await
        .unwrap_or_default();
    let caller = spin_sdk::variables::get("service_name")
        .await
        .unwrap_or_default();
    let key = SigningKey::from_seed_base64(&kid, &seed).map_err(|_| {
        eprintln!("variable service_token_key is not a base64 32-byte seed");
        CallError::Key
    })?;
    TokenIssuer::new(SERVICE_ISSUER, key)
        .issue_service(
            &caller,
            receiver,
            &format!("{method} {path}"),
            crate::now_secs(),
        )
        .map(Some)
        .map_err(|_| CallError::Key)
}

/// Splits a role variable such as `ingest-remote` into the role (`ingest`) and whether calls
/// arrive from other apps and need a service token.
pub fn split_role(role: &str) -> (&str, bool) {
    match role.strip_suffix("-remote") {
        Some(base) => (base, true),
        None => (role, false),
    }
}

/// Key prefix of the service token ids a receiver has accepted.
const TOKEN_ID_PREFIX: &str = "service-jti:";

/// Admits a call to this component's `*-remote` role: the request must carry a service token
/// for `receiver` from one of `callers`, signed by a key of the `service_token_keys` JWKS,
/// unexpired, minted for this method and `path` (the path inside the route,
/// `spin-path-info`), and not seen before in store `store`.
pub async fn admit(
    request: &spin_sdk::http::Request,
    receiver: &str,
    callers: &[&str],
    path: &str,
    store: &str,
) -> Result<ServiceToken, Problem> {
    let rejected =
        |detail: &'static str| Problem::new(ProblemKind::Unauthenticated).with_detail(detail);
    let keys = spin_sdk::variables::get("service_token_keys")
        .await
        .unwrap_or_default();
    if keys.trim().is_empty() {
        return Err(rejected(
            "this route accepts calls from other portal apps only, and no service keys are configured",
        ));
    }
    let keys = KeySet::from_jwks_json(&keys).map_err(|_| {
        eprintln!("variable service_token_keys is not a valid JWKS");
        Problem::new(ProblemKind::ServiceUnavailable)
    })?;
    let token = edge::header(request, "authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| rejected("send a service token as Authorization: Bearer"))?;
    let verified = TokenVerifier::new(SERVICE_ISSUER, keys)
        .verify_service(token, receiver, crate::now_secs())
        .map_err(|error| {
            eprintln!("service token rejected: {error}");
            rejected("the service token is not valid for this component")
        })?;
    if verified.request != format!("{} {path}", request.method()) {
        eprintln!("service token rejected: minted for another request");
        return Err(rejected("the service token was minted for another request"));
    }
    if !callers.contains(&verified.caller.as_str()) {
        eprintln!(
            "service token rejected: {} may not call {receiver}",
            verified.caller
        );
        return Err(Problem::new(ProblemKind::Forbidden)
            .with_detail("this component does not accept calls from the calling component"));
    }
    // TODO: accepted token ids are never deleted; a sweep by expiry is needed.
    let first = crate::kv::Store::open(store)
        .and_then(|store| {
            store.insert_new(
                &format!("{TOKEN_ID_PREFIX}{}", verified.token_id),
                &verified.expires_at,
            )
        })
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    if !first {
        eprintln!("service token rejected: replayed");
        return Err(rejected("the service token was already used"));
    }
    Ok(verified)
}
