//! Checks the caller of a request: the DPoP-bound access token, its proof, and, through the
//! auth component, that the session is still live and what the user may do now.
//!
//! Each component verifies tokens itself (signature, claims, proof, single-use `jti` in its
//! own store) and then asks auth's private session route whether the session is active.
//! That call is what makes logout, password change, account disable and admin revocation
//! take effect on the next request everywhere, and it returns the user's current role and
//! care teams, so role and membership changes apply at once too.

use std::cell::RefCell;

use portal_policy::{CareTeamId, PatientFacts, PatientId, ProxyGrant, Role, SessionId, UserId};
use portal_problem::{Problem, ProblemKind};
use portal_tokens::{AccessToken, DpopPolicy, DpopRequest, KeySet, ReplayGuard, TokenVerifier};
use serde::{Deserialize, Serialize};
use spin_sdk::http::Request;

use crate::edge;
use crate::kv::Store;

/// Issuer of access tokens, the auth component's name in `iss`.
pub const TOKEN_ISSUER: &str = "urn:portal:auth";

/// Prefix of the keys that remember used DPoP proof ids.
const DPOP_JTI_PREFIX: &str = "dpop-jti:";

/// Loads the verifier from the `token_verification_keys` variable (a JWKS document).
pub async fn verifier() -> Result<TokenVerifier, Problem> {
    let jwks = spin_sdk::variables::get("token_verification_keys")
        .await
        .map_err(|_| {
            eprintln!("variable token_verification_keys is not set");
            Problem::new(ProblemKind::ServiceUnavailable)
        })?;
    let keys = KeySet::from_jwks_json(&jwks).map_err(|_| {
        eprintln!("variable token_verification_keys is not a valid JWKS");
        Problem::new(ProblemKind::ServiceUnavailable)
    })?;
    Ok(TokenVerifier::new(TOKEN_ISSUER, keys))
}

/// Remembers the proof id the token crate asked about, so it can be recorded in the
/// asynchronous store after the synchronous checks pass.
#[derive(Default)]
struct DeferredReplay {
    seen: RefCell<Option<(String, i64)>>,
}

impl ReplayGuard for DeferredReplay {
    fn first_use(&self, key: &str, expires_at: i64, _now: i64) -> Result<bool, String> {
        *self.seen.borrow_mut() = Some((key.to_owned(), expires_at));
        Ok(true)
    }
}

/// Verifies the request's `Authorization: DPoP <token>` and `DPoP` proof at `now` and records
/// the proof id in `store`, so a replayed proof fails on every replica.
pub fn verify_request(
    request: &Request,
    url: &str,
    verifier: &TokenVerifier,
    store: &Store,
    now: i64,
) -> Result<AccessToken, Problem> {
    let authorization = edge::header(request, "authorization")
        .ok_or_else(|| Problem::new(ProblemKind::Unauthenticated))?;
    // Authentication schemes are case-insensitive (RFC 9110 section 11.1).
    let token = authorization
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("DPoP"))
        .ok_or_else(|| Problem::new(ProblemKind::Unauthenticated))?
        .1
        .trim();
    let proof =
        edge::header(request, "dpop").ok_or_else(|| Problem::new(ProblemKind::Unauthenticated))?;
    single_header(request, "authorization")?;
    single_header(request, "dpop")?;
    let method = request.method().as_str();

    let pending = verifier.verify_access(token, now).map_err(|error| {
        eprintln!("access token rejected: {error}");
        Problem::from(error)
    })?;
    let replay = DeferredReplay::default();
    let access = pending
        .confirm(
            proof,
            &DpopRequest::new(method, url),
            now,
            &DpopPolicy::default(),
            &replay,
        )
        .map_err(|error| {
            eprintln!("DPoP proof rejected: {error}");
            Problem::from(error)
        })?;
    record_proof_use(store, &replay)?;
    Ok(access)
}

/// Verifies a DPoP proof that comes without an access token (sign-in and refresh) and
/// records its id. Returns the proof key's thumbprint.
pub fn verify_bare_proof(
    request: &Request,
    url: &str,
    store: &Store,
    now: i64,
) -> Result<String, Problem> {
    single_header(request, "dpop")?;
    let proof = edge::header(request, "dpop").ok_or_else(|| {
        Problem::new(ProblemKind::Unauthenticated)
            .with_detail("send a DPoP proof for the key the session will be bound to")
    })?;
    let replay = DeferredReplay::default();
    let verified = portal_tokens::verify_dpop_proof(
        proof,
        &DpopRequest::new(request.method().as_str(), url),
        now,
        &DpopPolicy::default(),
        &replay,
    )
    .map_err(|error| {
        eprintln!("DPoP proof rejected: {error}");
        Problem::from(error)
    })?;
    record_proof_use(store, &replay)?;
    Ok(verified.jkt)
}

/// Refuses a request that repeats `name`: RFC 9449 section 4.3 allows one `DPoP` header, and
/// two `Authorization` headers leave it unclear which credential was meant.
fn single_header(request: &Request, name: &str) -> Result<(), Problem> {
    if request.headers().get_all(name).iter().count() > 1 {
        return Err(Problem::new(ProblemKind::Unauthenticated)
            .with_detail("send one Authorization header and one DPoP header"));
    }
    Ok(())
}

fn record_proof_use(store: &Store, replay: &DeferredReplay) -> Result<(), Problem> {
    let Some((key, expires_at)) = replay.seen.borrow_mut().take() else {
        return Err(Problem::new(ProblemKind::Internal));
    };
    // TODO: expired proof ids are never deleted; a sweep by `expires_at` is needed.
    let first = store.insert_new(&format!("{DPOP_JTI_PREFIX}{key}"), &expires_at)?;
    if !first {
        eprintln!("DPoP proof replayed");
        return Err(Problem::new(ProblemKind::Unauthenticated));
    }
    Ok(())
}

/// The state of a session as auth's private session route reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionState {
    /// Whether the session may be used.
    pub active: bool,
    /// The session's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserId>,
    /// The user's role now, which may differ from the token's if an admin changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Care teams the user belongs to now (clinicians) or is assigned to (patients).
    #[serde(default)]
    pub care_teams: Vec<CareTeamId>,
    /// For a proxy's session: the patient it acts for, with the proxy's grants for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting_for: Option<ActingFor>,
    /// For a clinician: emergency access started with break-the-glass and not yet expired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emergency: Vec<EmergencyAccess>,
}

/// The patient a proxy's session acts for, as auth reports them now. Every request gets it
/// afresh, so a revoked or changed grant applies on the next request.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActingFor {
    /// The patient.
    pub patient: PatientId,
    /// The patient's date of birth, `YYYY-MM-DD`, if recorded.
    #[serde(default)]
    pub birth_date: Option<String>,
    /// The patient's care teams now.
    #[serde(default)]
    pub care_teams: Vec<CareTeamId>,
    /// Every grant the proxy holds for the patient, revoked and expired ones included, so the
    /// policy can report why access ended.
    #[serde(default)]
    pub grants: Vec<ProxyGrant>,
}

impl core::fmt::Debug for ActingFor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The birth date is PHI; logs get the ids only.
        f.debug_struct("ActingFor")
            .field("patient", &self.patient)
            .field("grants", &self.grants.len())
            .finish_non_exhaustive()
    }
}

impl ActingFor {
    /// Returns the facts the policy needs about the patient. A missing or unreadable birth date makes
    /// the patient an adult, which ends guardian access: it fails closed.
    pub fn patient_facts(&self) -> PatientFacts {
        PatientFacts {
            id: self.patient.clone(),
            birth_date: self
                .birth_date
                .as_deref()
                .and_then(portal_policy::parse_date)
                .unwrap_or(portal_policy::Date::MIN),
            care_teams: self.care_teams.clone(),
        }
    }
}

impl ActingFor {
    /// Returns whether any grant lets `actor` do anything at all on an ordinary thread or
    /// file of the patient at `now`, under the shared policy.
    pub fn allows_anything(&self, actor: &portal_policy::Actor, now: i64) -> bool {
        use portal_policy::{Action, FileId, Resource, Sensitivity, ThreadId};
        let facts = self.patient_facts();
        // Stand-ins for "some ordinary thread or file"; for proxies the policy reads only
        // the patient and the sensitivity.
        let (Ok(thread), Ok(file)) = (ThreadId::new("any-thread"), FileId::new("any-file")) else {
            return false;
        };
        let team = facts.care_teams.first().cloned();
        let context = portal_policy::Context::at(now);
        let allows = |action, resource: &Resource<'_>| {
            portal_policy::decide(actor, action, resource, &context).is_allowed()
        };
        let file_resource = Resource::File {
            patient: &facts,
            file: &file,
            sensitivity: Sensitivity::Normal,
        };
        let on_files =
            allows(Action::ReadFile, &file_resource) || allows(Action::UploadFile, &file_resource);
        let on_threads = team.as_ref().is_some_and(|team| {
            let resource = Resource::Thread {
                patient: &facts,
                thread: &thread,
                care_team: team,
                sensitivity: Sensitivity::Normal,
            };
            allows(Action::ReadThread, &resource) || allows(Action::SendMessage, &resource)
        });
        on_files || on_threads
    }
}

/// Emergency access to one patient's record that a clinician started with a stated reason.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyAccess {
    /// The patient.
    pub patient: PatientId,
    /// The reason the clinician gave.
    pub reason: String,
    /// When the access ends, in Unix seconds.
    pub expires_at: i64,
}

impl core::fmt::Debug for EmergencyAccess {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The reason may name clinical facts; it belongs in the audit log only.
        f.debug_struct("EmergencyAccess")
            .field("patient", &self.patient)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A caller whose token, proof and session all checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The verified token.
    pub token: AccessToken,
    /// The user's current role.
    pub role: Role,
    /// The user's current care teams.
    pub care_teams: Vec<CareTeamId>,
    /// For a proxy: the patient the session acts for and the grants that allow it.
    pub acting_for: Option<ActingFor>,
    /// For a clinician: live break-the-glass access.
    pub emergency: Vec<EmergencyAccess>,
}

impl Caller {
    /// The signed-in user.
    pub fn user(&self) -> &UserId {
        &self.token.user
    }

    /// The session.
    pub fn session(&self) -> &SessionId {
        &self.token.session
    }

    /// The patient a proxy acts for.
    pub fn on_behalf_of(&self) -> Option<&PatientId> {
        self.token.on_behalf_of.as_ref()
    }

    /// Returns the live emergency access to `patient`, if this clinician started one.
    pub fn emergency_for(&self, patient: &PatientId) -> Option<&EmergencyAccess> {
        self.emergency
            .iter()
            .find(|access| &access.patient == patient)
    }

    /// Builds the actor the shared policy decides for, with the proxy's grants if any.
    pub fn actor(&self) -> portal_policy::Actor {
        portal_policy::Actor {
            user: self.user().clone(),
            role: self.role,
            authentication: self.token.authentication(),
            own_record: (self.role == Role::Patient)
                .then(|| PatientId::new(self.user().as_str()).ok())
                .flatten(),
            care_teams: self.care_teams.clone(),
            grants: self
                .acting_for
                .as_ref()
                .map(|acting| acting.grants.clone())
                .unwrap_or_default(),
        }
    }
}

/// Asks the auth component whether `session` is live. Any failure to get a response rejects
/// the request (fail closed).
pub async fn session_state(auth_url: &str, session: &SessionId) -> Result<SessionState, Problem> {
    let path = format!("/session/{}", session.as_str());
    get_from_auth(auth_url, &path, "session check").await
}

/// Sends a GET for `path` to auth's session route at `auth_url` and parses the JSON reply. Any
/// failure is 503, logged with `what` and the status, never with the path, which names a
/// session or patient.
async fn get_from_auth<T: serde::de::DeserializeOwned>(
    auth_url: &str,
    path: &str,
    what: &str,
) -> Result<T, Problem> {
    let response = crate::service::call("auth-session", auth_url, http::Method::GET, path, None)
        .await
        .map_err(|_| {
            eprintln!("{what} unreachable");
            Problem::new(ProblemKind::ServiceUnavailable)
        })?;
    if response.status() != http::StatusCode::OK {
        eprintln!("{what} returned status {}", response.status().as_u16());
        return Err(Problem::new(ProblemKind::ServiceUnavailable));
    }
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|_| {
        eprintln!("{what} response is not valid JSON");
        Problem::new(ProblemKind::ServiceUnavailable)
    })
}

/// Auth's current view of a patient: whether the id names an enabled patient, and the care
/// teams assigned to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct PatientTeams {
    /// Whether the id names an enabled patient.
    pub patient: bool,
    /// The patient's care teams now.
    #[serde(default)]
    pub care_teams: Vec<CareTeamId>,
}

/// Asks auth's private session route at `auth_url` for `patient`'s care teams. Callers ask on
/// every request, so a care-team change applies at once.
pub async fn patient_teams(auth_url: &str, patient: &PatientId) -> Result<PatientTeams, Problem> {
    let path = format!("/patients/{}", patient.as_str());
    get_from_auth(auth_url, &path, "patient check").await
}

/// Auth's current view of a care team.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct CareTeamInfo {
    /// Whether the id names a care team.
    pub care_team: bool,
    /// Its display name.
    #[serde(default)]
    pub name: String,
    /// Expected response time for messages, in hours.
    #[serde(default)]
    pub response_hours: u32,
    /// Its clinicians now.
    #[serde(default)]
    pub clinicians: Vec<UserId>,
}

/// Asks auth's private session route at `auth_url` about `team`.
pub async fn care_team(auth_url: &str, team: &CareTeamId) -> Result<CareTeamInfo, Problem> {
    let path = format!("/care-teams/{}", team.as_str());
    get_from_auth(auth_url, &path, "care team check").await
}

/// Authenticates a request to a component other than auth: verifies the token and proof,
/// then checks the session with auth at `auth_url`.
pub async fn authenticate(
    request: &Request,
    store: &Store,
    auth_url: &str,
    now: i64,
) -> Result<Caller, Problem> {
    let verifier = verifier().await?;
    let url = edge::request_url(request).await?;
    let token = verify_request(request, &url, &verifier, store, now)?;
    let state = session_state(auth_url, &token.session).await?;
    caller_from_state(token, state)
}

/// Combines a verified token with its session state; an inactive session, or one that now
/// belongs to another user, is refused.
pub fn caller_from_state(token: AccessToken, state: SessionState) -> Result<Caller, Problem> {
    if !state.active || state.user.as_ref() != Some(&token.user) {
        return Err(Problem::new(ProblemKind::Unauthenticated)
            .with_detail("the session has ended; sign in again"));
    }
    let role = state
        .role
        .ok_or_else(|| Problem::new(ProblemKind::Unauthenticated))?;
    // A token names the patient its session acted for when it was issued; once the session
    // acts for someone else, or for no one, the token is stale.
    let acting_for = state.acting_for.filter(|_| role == Role::Proxy);
    if token.on_behalf_of.as_ref() != acting_for.as_ref().map(|acting| &acting.patient) {
        return Err(Problem::new(ProblemKind::Unauthenticated)
            .with_detail("the session now acts for another patient; refresh the token"));
    }
    let now = crate::now_secs();
    let caller_emergency = state.emergency;
    let emergency = if role == Role::Clinician {
        caller_emergency
            .into_iter()
            .filter(|access| access.expires_at > now)
            .collect()
    } else {
        Vec::new()
    };
    let caller = Caller {
        token,
        role,
        care_teams: state.care_teams,
        acting_for,
        emergency,
    };
    // A proxy whose grants no longer allow anything (revoked, expired, ended at 18, or
    // waiting for a teen's assent) is refused on every route, not only shown less.
    if let Some(acting) = &caller.acting_for
        && !acting.allows_anything(&caller.actor(), now)
    {
        return Err(Problem::new(ProblemKind::Forbidden)
            .with_detail("your access to this record has ended or is not in effect"));
    }
    Ok(caller)
}
