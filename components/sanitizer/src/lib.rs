//! The sanitizer component: inspects untrusted file bytes and returns a verdict.
//!
//! It is linked into `uploads` as a component dependency and gets no capabilities: no
//! key-value store, no network, no variables. The rules live in `portal-sanitize`; this crate
//! only translates between them and the WIT interface.

// The generated export glue needs `unsafe`; it is allowed in `bindings` and nowhere else.
#![deny(unsafe_code)]

#[allow(unsafe_code, missing_docs, reason = "generated export glue")]
mod bindings {
    wit_bindgen::generate!({
        world: "portal:sanitizer/sanitizer",
        path: "../../wit",
    });

    use super::Sanitizer;
    export!(Sanitizer with_types_in self);
}

use bindings::exports::portal::sanitizer::sanitize::{Finding, Guest, Limits, Report, Verdict};
use portal_sanitize::Outcome;

struct Sanitizer;

impl Guest for Sanitizer {
    fn inspect(name: String, declared_type: String, contents: Vec<u8>, limits: Limits) -> Report {
        let limits = portal_sanitize::Limits {
            max_pixels: limits.max_pixels,
            max_dimension: limits.max_dimension,
            max_inflated_bytes: limits.max_inflated_bytes,
        };
        match portal_sanitize::inspect(&name, &declared_type, &contents, &limits) {
            Outcome::Accepted {
                file_type,
                cleaned,
                findings,
            } => Report {
                verdict: if cleaned.is_some() {
                    Verdict::Cleaned
                } else {
                    Verdict::Clean
                },
                detected_type: file_type.media_type().to_owned(),
                name: portal_sanitize::corrected_name(&name, file_type),
                findings: findings.into_iter().map(finding).collect(),
                cleaned,
            },
            Outcome::Rejected { detected, findings } => Report {
                verdict: Verdict::Rejected,
                detected_type: detected.unwrap_or_default().to_owned(),
                name: String::new(),
                findings: findings.into_iter().map(finding).collect(),
                cleaned: None,
            },
        }
    }
}

fn finding(finding: portal_sanitize::Finding) -> Finding {
    Finding {
        code: finding.code.to_owned(),
        message: finding.message,
    }
}
