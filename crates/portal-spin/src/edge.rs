//! Request parsing at a component's edge: path, client address, JSON bodies with size and
//! field checks, and query parameters.

use http_body_util::{BodyExt, Limited};
use portal_problem::{Problem, ProblemKind};
use spin_sdk::http::Request;

/// Default limit on a JSON request body, in bytes.
pub const MAX_JSON_BODY: usize = 16 * 1024;

/// The path below the component's route, from `spin-path-info`.
pub fn path(request: &Request) -> String {
    header(request, "spin-path-info")
        .unwrap_or_default()
        .to_owned()
}

/// Returns a header's value if it is present and visible ASCII.
pub fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// The client's IP address as the host reports it in `spin-client-addr`, without the port.
///
/// NOTE: the real `spin up` passes client-sent `spin-*` headers through, so behind it this is
/// only as trustworthy as the proxy in front, which must overwrite the header.
pub fn client_address(request: &Request) -> Option<std::net::IpAddr> {
    let value = header(request, "spin-client-addr")?;
    value
        .parse::<std::net::SocketAddr>()
        .map(|address| address.ip())
        .or_else(|_| value.parse::<std::net::IpAddr>())
        .ok()
}

/// The URL the client requested, without the query, for DPoP's `htu` check.
///
/// With the `public_origin` variable set (such as `https://portal.example.org`), the URL is
/// that origin and the request's path, so a proof made for another host never matches, whatever
/// `Host` header comes with it. Without it, the URL comes from `spin-full-url`, which the
/// runtime builds from the `Host` header: fine for development, not for production.
pub async fn request_url(request: &Request) -> Result<String, Problem> {
    let origin = spin_sdk::variables::get("public_origin")
        .await
        .unwrap_or_default();
    if !origin.is_empty() {
        return Ok(format!(
            "{}{}",
            origin.trim_end_matches('/'),
            request.uri().path()
        ));
    }
    let full = header(request, "spin-full-url").ok_or_else(|| {
        Problem::new(ProblemKind::Unauthenticated).with_detail("the request URL is unknown")
    })?;
    Ok(full.split(['?', '#']).next().unwrap_or(full).to_owned())
}

/// Reads a JSON object body of at most `limit` bytes into `T`.
///
/// `fields` lists every field the endpoint accepts, so problems can name the field without
/// echoing anything the client sent:
/// - a content type other than `application/json` gives 415;
/// - a body over `limit` gives 413 naming the limit;
/// - a body that is not a JSON object gives 400;
/// - a field outside `fields` gives 400 `unknown-field`;
/// - a missing or mistyped field gives 422 naming it.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    request: Request,
    limit: usize,
    fields: &'static [&'static str],
) -> Result<T, Problem> {
    let body = read_json_bytes(request, limit).await?;
    parse_json(&body, fields)
}

/// Reads the raw bytes of a JSON body of at most `limit` bytes, for a caller that needs them
/// as sent (to fingerprint a request, say) before [`parse_json`]. Gives 415 and 413 as
/// [`read_json`] does.
pub async fn read_json_bytes(request: Request, limit: usize) -> Result<bytes::Bytes, Problem> {
    let content_type = header(&request, "content-type").unwrap_or_default();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media_type != "application/json" {
        return Err(Problem::new(ProblemKind::UnsupportedMediaType)
            .with_detail("send the body as application/json"));
    }
    let body = Limited::new(request.into_body(), limit)
        .collect()
        .await
        .map_err(|_| Problem::payload_too_large(limit as u64))?
        .to_bytes();
    Ok(body)
}

/// Parses a JSON object body; see [`read_json`] for the checks.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    fields: &'static [&'static str],
) -> Result<T, Problem> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        Problem::new(ProblemKind::BadRequest).with_detail("the body is not valid JSON")
    })?;
    let Some(object) = value.as_object() else {
        return Err(
            Problem::new(ProblemKind::BadRequest).with_detail("the body must be a JSON object")
        );
    };
    if object.keys().any(|key| !fields.contains(&key.as_str())) {
        return Err(Problem::new(ProblemKind::UnknownField).with_detail(
            "the body has a field this endpoint does not accept; see the OpenAPI document",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        // A missing field is reported at the parent path, with its name in backticks.
        let named = fields
            .iter()
            .find(|field| {
                path == **field
                    || path.starts_with(&format!("{field}."))
                    || path.starts_with(&format!("{field}["))
            })
            .or_else(|| {
                fields
                    .iter()
                    .find(|field| message.contains(&format!("missing field `{field}`")))
            });
        match named {
            Some(field) => Problem::invalid_field(field),
            None => Problem::new(ProblemKind::BadRequest)
                .with_detail("the body does not match the endpoint's schema"),
        }
    })
}

/// Returns the value of query parameter `name`, percent-decoded.
pub fn query(request: &Request, name: &str) -> Option<String> {
    let query = request.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
