//! Entity ids, roles and authorization decisions for the patient portal.
//!
//! [`decide`] is a pure function from (actor, action, resource, context) to a
//! [`Decision`]: allow or deny, the rule that decided, the HL7 purpose of use for the audit
//! record, and whether compliance must be alerted. Components load the facts it needs (care
//! team memberships, proxy grants, the patient's date of birth) and pass the current time
//! in, so the same inputs always give the same decision.
//!
//! The rules, deny by default:
//!
//! - Patients act on their own record.
//! - Proxies act within a grant: scopes, consent, expiry and revocation are checked. A
//!   guardian of a child under 12 has full access. For a teen (12 to 17) the guardian
//!   needs the teen's recorded consent and is denied sensitive categories. At 18 guardian
//!   access ends. Caregiver grants must expire. Only a guardian of a child under 12 may
//!   read sensitive categories.
//! - Clinicians act on patients of their care teams. Outside them, break-the-glass access
//!   needs a reason, uses purpose `ETREAT` and raises an alert.
//! - Admins manage accounts, care teams and proxies, and compliance officers read the audit
//!   log. Neither may read message bodies or files.
//! - Exports, adding a proxy, changing notification destinations or second factors and
//!   reading sensitive threads need a second-factor authentication within the step-up
//!   window (default 10 minutes).

mod decision;
mod ids;
mod relationship;
mod request;
mod role;
pub mod text;

pub use decision::{Decision, Effect, Reason, break_glass_reason_is_usable, decide, needs_step_up};
pub use ids::{
    CareTeamId, FileId, GrantId, InvalidId, MAX_ID_LEN, MessageId, PatientId, RequestId, SessionId,
    ThreadId, UserId,
};
pub use relationship::{
    AGE_OF_MAJORITY, AgeBand, Consent, GUARDIAN_FULL_ACCESS_BELOW_AGE, GrantKind, PatientFacts,
    ProxyGrant, ProxyScopes, age_in_years, parse_date,
};
pub use request::{
    AUTH_TIME_SKEW_SECS, Action, Actor, Authentication, BreakGlassRequest, Context,
    DEFAULT_STEP_UP_WINDOW_SECS, MAX_BREAK_GLASS_REASON_CHARS, MIN_BREAK_GLASS_REASON_CHARS,
    Resource, Sensitivity,
};
pub use role::{PurposeOfUse, Role};

/// Re-export of the date type used for birth dates and [`Context::today`].
pub use time::Date;
