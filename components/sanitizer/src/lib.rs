//! The sanitizer component: inspects untrusted file bytes and returns a verdict.
//!
//! It is linked into `uploads` as a component dependency and gets no capabilities: no
//! key-value store, no network, no variables.

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

use bindings::exports::portal::sanitizer::sanitize::{Guest, Report, Verdict};

struct Sanitizer;

impl Guest for Sanitizer {
    // TODO: detect types, strip metadata and disarm active content; until then every file is
    // rejected, so nothing unchecked can be stored.
    fn inspect(_declared_type: String, _contents: Vec<u8>) -> Report {
        Report {
            verdict: Verdict::Rejected,
            detected_type: String::new(),
            reasons: vec!["sanitizer-not-implemented".to_owned()],
            cleaned: None,
        }
    }
}
