//! The problem-details value and its HTTP rendering.

use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use portal_audit::Outcome;
use portal_policy::RequestId;
use serde_json::{Map, Value, json};

use crate::kind::{FileRejection, ProblemKind};

/// Media type of problem details (RFC 9457 section 3).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// DPoP algorithms the portal accepts, advertised in `WWW-Authenticate` (RFC 9449
/// section 7.1).
const DPOP_ALGORITHMS: &str = "ES256 EdDSA";

/// An error as the client sees it: RFC 9457 problem details, plus the audit outcome the
/// failed action records.
///
/// Detail and field names are `&'static str`, so a problem can only carry text written in
/// the source code and never echoes user input, internal errors or personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    kind: ProblemKind,
    detail: &'static str,
    field: Option<&'static str>,
    limit: Option<u64>,
    retry_after_secs: Option<u64>,
    request_id: Option<RequestId>,
    audit_outcome: Outcome,
}

impl Problem {
    /// Creates a problem with the kind's default detail. The audit outcome is
    /// `MinorFailure` for client errors (4xx) and `SeriousFailure` for server errors (5xx).
    pub fn new(kind: ProblemKind) -> Self {
        let audit_outcome = if kind.status().is_server_error() {
            Outcome::SeriousFailure
        } else {
            Outcome::MinorFailure
        };

        Self {
            kind,
            detail: kind.default_detail(),
            field: None,
            limit: None,
            retry_after_secs: None,
            request_id: None,
            audit_outcome,
        }
    }

    /// Creates an invalid-field problem for a field named as in the request, such as `email`.
    pub fn invalid_field(field: &'static str) -> Self {
        Self::new(ProblemKind::InvalidField).with_field(field)
    }

    /// Creates an unknown-field problem for a field the endpoint does not accept.
    pub fn unknown_field(field: &'static str) -> Self {
        Self::new(ProblemKind::UnknownField).with_field(field)
    }

    /// Creates a payload-too-large problem stating `limit_bytes`.
    pub fn payload_too_large(limit_bytes: u64) -> Self {
        Self::new(ProblemKind::PayloadTooLarge).with_limit(limit_bytes)
    }

    /// Creates a rate-limited problem; the client may retry after `retry_after_secs`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::new(ProblemKind::RateLimited).with_retry_after(retry_after_secs)
    }

    /// Creates a file-rejected problem with guidance for the reason.
    pub fn file_rejected(rejection: FileRejection) -> Self {
        Self::new(ProblemKind::FileRejected(rejection))
    }

    /// Replaces the detail with another sentence the user can act on.
    pub fn with_detail(mut self, detail: &'static str) -> Self {
        self.detail = detail;
        self
    }

    /// Names the request field at fault (the `field` member).
    pub fn with_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    /// States the limit that was exceeded (the `limit` member), in the unit the detail
    /// names.
    pub fn with_limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets `Retry-After` in seconds.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_secs = Some(seconds);
        self
    }

    /// Adds the request id (the `request_id` member), which users quote to support.
    pub fn with_request_id(mut self, request_id: RequestId) -> Self {
        self.request_id = Some(request_id);
        self
    }

    /// Overrides the audit outcome, for example `MajorFailure` when a store is down.
    pub fn with_audit_outcome(mut self, outcome: Outcome) -> Self {
        self.audit_outcome = outcome;
        self
    }

    /// Returns the kind.
    pub fn kind(&self) -> ProblemKind {
        self.kind
    }

    /// Returns the HTTP status.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// Returns the outcome the audit event of the failed action records.
    pub fn audit_outcome(&self) -> Outcome {
        self.audit_outcome
    }

    /// Returns the reason code for the audit event, such as `invalid-field` or
    /// `file_type_not_allowed`.
    pub fn audit_reason(&self) -> &'static str {
        match self.kind {
            ProblemKind::FileRejected(rejection) => rejection.code(),
            kind => kind.slug(),
        }
    }

    /// Returns the problem details JSON object.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("type".into(), json!(self.kind.type_uri()));
        object.insert("status".into(), json!(self.status().as_u16()));
        object.insert("title".into(), json!(self.kind.title()));
        object.insert("detail".into(), json!(self.detail));

        if let Some(field) = self.field {
            object.insert("field".into(), json!(field));
        }
        if let Some(limit) = self.limit {
            object.insert("limit".into(), json!(limit));
        }
        if let ProblemKind::FileRejected(rejection) = self.kind {
            object.insert("reason".into(), json!(rejection.code()));
        }
        if let Some(request_id) = &self.request_id {
            object.insert("request_id".into(), json!(request_id.as_str()));
        }
        Value::Object(object)
    }

    /// Builds the HTTP response: status, `Content-Type: application/problem+json`,
    /// `Cache-Control: no-store`, `Retry-After` when set, and `WWW-Authenticate` for 401s.
    pub fn to_response(&self) -> Response<String> {
        let mut response = Response::new(self.to_json().to_string());
        *response.status_mut() = self.status();

        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = self.retry_after_secs {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        let challenge = match self.kind {
            ProblemKind::Unauthenticated => Some(format!(
                r#"DPoP algs="{DPOP_ALGORITHMS}", error="invalid_token""#
            )),
            ProblemKind::StepUpRequired => Some(format!(
                r#"DPoP algs="{DPOP_ALGORITHMS}", error="insufficient_user_authentication""#
            )),
            _ => None,
        };
        if let Some(challenge) = challenge
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl core::fmt::Display for Problem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.kind.slug(), self.status().as_u16())
    }
}

impl std::error::Error for Problem {}
