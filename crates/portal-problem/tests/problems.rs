//! Problem details rendering, statuses, audit outcomes and conversions.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

use http::StatusCode;
use portal_audit::{AuditValidationError, Outcome};
use portal_crypto::{CryptoError, FieldKind};
use portal_policy::{Reason, RequestId};
use portal_problem::{FileRejection, PROBLEM_JSON, Problem, ProblemKind};
use portal_tokens::{DpopError, TokenError};
use serde_json::{Value, json};

const ALL_KINDS: [ProblemKind; 16] = [
    ProblemKind::BadRequest,
    ProblemKind::InvalidField,
    ProblemKind::UnknownField,
    ProblemKind::PayloadTooLarge,
    ProblemKind::UnsupportedMediaType,
    ProblemKind::Unauthenticated,
    ProblemKind::StepUpRequired,
    ProblemKind::Forbidden,
    ProblemKind::NotFound,
    ProblemKind::MethodNotAllowed,
    ProblemKind::Conflict,
    ProblemKind::PreconditionFailed,
    ProblemKind::RateLimited,
    ProblemKind::FileRejected(FileRejection::TypeNotAllowed),
    ProblemKind::ServiceUnavailable,
    ProblemKind::Internal,
];

fn body(problem: &Problem) -> Value {
    serde_json::from_str(problem.to_response().body()).unwrap()
}

#[test]
fn every_kind_renders_problem_json() {
    for kind in ALL_KINDS {
        let problem = Problem::new(kind);
        let response = problem.to_response();
        let json = body(&problem);

        assert_eq!(response.status(), kind.status(), "{kind:?}");
        assert_eq!(response.headers()["content-type"], PROBLEM_JSON);
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(json["type"], format!("urn:portal:problem:{}", kind.slug()));
        assert_eq!(json["status"], kind.status().as_u16());
        assert_eq!(json["title"], kind.title());
        assert_eq!(json["detail"], kind.default_detail());
        assert!(kind.title().ends_with('.'), "{kind:?} title is a sentence");
        assert!(
            kind.default_detail().ends_with('.'),
            "{kind:?} detail is a sentence"
        );
    }
}

#[test]
fn type_uris_are_unique() {
    let mut slugs: Vec<&str> = ALL_KINDS.iter().map(|kind| kind.slug()).collect();
    slugs.sort_unstable();
    slugs.dedup();
    assert_eq!(slugs.len(), ALL_KINDS.len());
}

#[test]
fn audit_outcome_follows_status_class() {
    for kind in ALL_KINDS {
        let expected = if kind.status().is_server_error() {
            Outcome::SeriousFailure
        } else {
            Outcome::MinorFailure
        };
        assert_eq!(Problem::new(kind).audit_outcome(), expected, "{kind:?}");
    }
    let overridden =
        Problem::new(ProblemKind::ServiceUnavailable).with_audit_outcome(Outcome::MajorFailure);
    assert_eq!(overridden.audit_outcome(), Outcome::MajorFailure);
}

#[test]
fn invalid_field_names_the_field() {
    let json = body(&Problem::invalid_field("date_of_birth"));
    assert_eq!(json["status"], 422);
    assert_eq!(json["field"], "date_of_birth");
}

#[test]
fn payload_too_large_states_the_limit() {
    let json = body(&Problem::payload_too_large(25 * 1024 * 1024));
    assert_eq!(json["status"], 413);
    assert_eq!(json["limit"], 26_214_400);
}

#[test]
fn rate_limited_sets_retry_after() {
    let response = Problem::rate_limited(30).to_response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "30");
}

#[test]
fn unauthenticated_sets_dpop_challenge() {
    let response = Problem::new(ProblemKind::Unauthenticated).to_response();
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"DPoP algs="ES256 EdDSA", error="invalid_token""#
    );
    let step_up = Problem::new(ProblemKind::StepUpRequired).to_response();
    assert_eq!(
        step_up.headers()["www-authenticate"],
        r#"DPoP algs="ES256 EdDSA", error="insufficient_user_authentication""#
    );
    assert!(
        Problem::new(ProblemKind::Forbidden)
            .to_response()
            .headers()
            .get("www-authenticate")
            .is_none()
    );
}

#[test]
fn request_id_is_included() {
    let problem =
        Problem::new(ProblemKind::Internal).with_request_id(RequestId::new("req-9").unwrap());
    assert_eq!(body(&problem)["request_id"], "req-9");
}

#[test]
fn body_has_only_documented_members() {
    let problem = Problem::invalid_field("email")
        .with_limit(254)
        .with_request_id(RequestId::new("req-1").unwrap());
    let json = body(&problem);
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "detail",
            "field",
            "limit",
            "request_id",
            "status",
            "title",
            "type"
        ]
    );
}

#[test]
fn file_rejection_gives_reason_and_guidance() {
    let problem = Problem::file_rejected(FileRejection::ActiveContent);
    let json = body(&problem);
    assert_eq!(json["status"], 422);
    assert_eq!(json["type"], "urn:portal:problem:file-rejected");
    assert_eq!(json["reason"], "file_active_content");
    assert!(json["detail"].as_str().unwrap().contains("plain PDF"));
    assert_eq!(problem.audit_reason(), "file_active_content");
}

#[test]
fn token_errors_ask_to_sign_in_without_cause() {
    for error in [
        TokenError::BadSignature,
        TokenError::Expired,
        TokenError::AlgorithmNotAllowed,
        TokenError::UnknownKeyId,
    ] {
        let problem = Problem::from(error.clone());
        assert_eq!(problem.kind(), ProblemKind::Unauthenticated, "{error:?}");
        let text = problem.to_response().into_body();
        assert!(
            !text.contains("signature") && !text.contains("algorithm") && !text.contains("key"),
            "{text}"
        );
    }
}

#[test]
fn dpop_errors_map_to_sign_in_or_retry() {
    assert_eq!(
        Problem::from(DpopError::Replayed).kind(),
        ProblemKind::Unauthenticated
    );
    assert_eq!(
        Problem::from(DpopError::KeyMismatch).kind(),
        ProblemKind::Unauthenticated
    );
    let store = Problem::from(DpopError::ReplayStore("redis timeout at 10.0.0.5".into()));
    assert_eq!(store.kind(), ProblemKind::ServiceUnavailable);
    assert!(!store.to_response().into_body().contains("redis"));
}

#[test]
fn crypto_errors_hide_integrity_failures() {
    for error in [
        CryptoError::DecryptionFailed,
        CryptoError::KeyUnwrapFailed,
        CryptoError::BadMagic,
    ] {
        let problem = Problem::from(error.clone());
        assert_eq!(
            problem.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{error:?}"
        );
        assert_eq!(problem.audit_outcome(), Outcome::SeriousFailure);
        assert!(!problem.to_response().into_body().contains("authentication"));
    }
    assert_eq!(
        Problem::from(CryptoError::Randomness).kind(),
        ProblemKind::ServiceUnavailable
    );
}

#[test]
fn invalid_field_value_names_field_without_value() {
    let error = FieldKind::Ssn.normalize("123-45-678").unwrap_err();
    let problem = Problem::from(error);
    let json = body(&problem);
    assert_eq!(json["field"], "ssn");
    assert!(!json.to_string().contains("678"));
}

#[test]
fn audit_validation_errors_name_the_field() {
    let json = body(&Problem::from(AuditValidationError::MissingField {
        field: "patient",
    }));
    assert_eq!(json["field"], "patient");
    let json = body(&Problem::from(AuditValidationError::UnexpectedField {
        field: "justification",
    }));
    assert_eq!(json["type"], "urn:portal:problem:unknown-field");
    let json = body(&Problem::from(AuditValidationError::TooLarge));
    assert_eq!(json["limit"], json!(portal_audit::MAX_EVENT_JSON_LEN));
}

#[test]
fn denials_do_not_reveal_the_rule() {
    for reason in [
        Reason::NotOwnRecord,
        Reason::NoGrant,
        Reason::GrantExpired,
        Reason::ClinicalContentNotPermitted,
    ] {
        let problem = Problem::from_denial(reason);
        assert_eq!(problem.status(), StatusCode::FORBIDDEN, "{reason}");
        assert!(!problem.to_response().into_body().contains(reason.code()));
    }
}

#[test]
fn step_up_denial_asks_for_reauthentication() {
    let problem = Problem::from_denial(Reason::StepUpRequired);
    assert_eq!(problem.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem.kind(), ProblemKind::StepUpRequired);
}

#[test]
fn not_on_care_team_mentions_break_glass() {
    let json = body(&Problem::from_denial(Reason::NotOnCareTeam));
    assert_eq!(json["status"], 403);
    assert!(json["detail"].as_str().unwrap().contains("break-the-glass"));
    let missing = body(&Problem::from_denial(Reason::BreakGlassReasonMissing));
    assert_eq!(missing["field"], "break_glass_reason");
}
