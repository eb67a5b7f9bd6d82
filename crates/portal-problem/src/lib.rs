//! RFC 9457 problem details for the portal's HTTP responses.
//!
//! [`Problem`] is the one error type at the HTTP edge. It renders
//! `application/problem+json` with a stable `type` URI ([`PROBLEM_TYPE_PREFIX`]), a title
//! and a detail the user can act on, the optional `field`, `limit` and `request_id`
//! members, and the right status. It also carries the audit outcome the failed action
//! records. Text in a problem is fixed in the source code, so no internal detail or
//! personal data can reach a response.
//!
//! The crate depends on `http` and not on the Spin SDK, so it builds and tests natively;
//! [`Problem::to_response`] returns an `http::Response` that components convert.

mod convert;
mod kind;
mod problem;

pub use kind::{FileRejection, PROBLEM_TYPE_PREFIX, ProblemKind};
pub use problem::{PROBLEM_JSON, Problem};
