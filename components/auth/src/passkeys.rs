//! Passkeys and security keys (WebAuthn Level 3): enrolment, the list a user manages, sign-in
//! without a password, and use as the second factor after a password or for step-up.
//!
//! Challenges are random, stored server-side with the origin that asked for them, used once
//! (claimed with compare-and-swap) and valid for five minutes. A passkey with user
//! verification counts as two factors (`amr` `hwk` or `swk`, `user`, `mfa`). As the second
//! factor after a password, user presence is enough. A signature counter that does not
//! increase refuses the sign-in, is audited and raises an alert: the credential may have been
//! cloned. Authenticators that keep no counter send zero, which passes.

use base64ct::{Base64UrlUnpadded, Encoding};
use portal_audit::{AuditAction, AuditActor, EntityType, Outcome};
use portal_auth::webauthn::{self, Credential, RelyingParty, WebauthnError};
use portal_policy::{SessionId, UserId};
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::kv::Update;
use serde::{Deserialize, Serialize};
use serde_json::json;
use spin_sdk::http::{Request, StatusCode};

use crate::context::{Authenticated, Context};
use crate::model::{self, AccountStatus, PasskeyFactor, User};
use crate::session;

/// Lifetime of a challenge, in seconds.
const CHALLENGE_TTL_SECS: i64 = 300;

/// Maximum passkeys per account.
const MAX_PASSKEYS: usize = 10;

/// Maximum sign-in challenges per client address in one address window.
const CHALLENGES_PER_ADDRESS: i64 = 60;

/// Maximum passkey name length, in characters.
const MAX_NAME_CHARS: usize = 64;

/// The ceremony a challenge belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengePurpose {
    /// Enrolling a passkey for the signed-in user.
    Register,
    /// Signing in or stepping up with a passkey.
    Assert,
}

/// A challenge as stored until a response uses it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengeRecord {
    /// The ceremony.
    pub purpose: ChallengePurpose,
    /// For registration: the user and session that asked.
    #[serde(default)]
    pub user: Option<UserId>,
    /// For registration: the session that asked.
    #[serde(default)]
    pub session: Option<SessionId>,
    /// The origin the ceremony must run on.
    pub origin: String,
    /// When it stops being accepted.
    pub expires_at: i64,
    /// Set by the first response, so each challenge works once.
    #[serde(default)]
    pub used: bool,
}

fn challenge_key(challenge: &[u8]) -> String {
    format!(
        "webauthn-challenge:{}",
        Base64UrlUnpadded::encode_string(challenge)
    )
}

fn credential_key(id: &[u8]) -> String {
    index_key(&Base64UrlUnpadded::encode_string(id))
}

/// Returns the key that maps a passkey's credential id (base64url, as stored) to its user.
pub fn index_key(factor_id: &str) -> String {
    format!("passkey:{factor_id}")
}

fn invalid_passkey() -> Problem {
    Problem::new(ProblemKind::Unauthenticated)
        .with_field("credential")
        .with_detail("the passkey could not be verified; try again")
}

/// Issues and stores a challenge.
async fn issue_challenge(
    context: &Context,
    request: &Request,
    purpose: ChallengePurpose,
    caller: Option<&Authenticated>,
) -> Result<(Vec<u8>, RelyingParty), Problem> {
    let url = portal_spin::edge::request_url(request).await?;
    let rp = RelyingParty::for_origin(&url).ok_or_else(|| {
        Problem::new(ProblemKind::ServiceUnavailable)
            .with_detail("the portal's origin is not known; set public_origin")
    })?;
    let mut challenge = vec![0u8; 32];
    getrandom::fill(&mut challenge).map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    let record = ChallengeRecord {
        purpose,
        user: caller.map(|caller| caller.user.id.clone()),
        session: caller.map(|caller| caller.session.id.clone()),
        origin: rp.origins.first().cloned().unwrap_or_default(),
        expires_at: context.now + CHALLENGE_TTL_SECS,
        used: false,
    };
    // NOTE: unanswered challenges stay in the store after they expire; no sweep removes them.
    context.store.set(&challenge_key(&challenge), &record)?;
    Ok((challenge, rp))
}

/// Claims the challenge that `client_data_json` names, once, if it is live and for `purpose`.
fn claim_challenge(
    context: &Context,
    client_data_json: &[u8],
    purpose: ChallengePurpose,
) -> Result<(Vec<u8>, ChallengeRecord), WebauthnError> {
    #[derive(Deserialize)]
    struct Named {
        challenge: String,
    }
    let named: Named =
        serde_json::from_slice(client_data_json).map_err(|_| WebauthnError::ClientDataMalformed)?;
    let challenge = Base64UrlUnpadded::decode_vec(named.challenge.trim_end_matches('='))
        .map_err(|_| WebauthnError::WrongChallenge)?;
    if challenge.len() != 32 {
        return Err(WebauthnError::WrongChallenge);
    }
    let now = context.now;
    let claimed = context
        .store
        .update(
            &challenge_key(&challenge),
            "webauthn challenge",
            |current: Option<ChallengeRecord>| match current {
                Some(mut record)
                    if !record.used && record.purpose == purpose && now < record.expires_at =>
                {
                    record.used = true;
                    Ok((Update::Set(record.clone()), record))
                }
                _ => Err(WebauthnError::WrongChallenge),
            },
        )
        .map_err(|_| WebauthnError::WrongChallenge)??;
    Ok((challenge, claimed))
}

fn decode_field(value: &str) -> Result<Vec<u8>, Problem> {
    Base64UrlUnpadded::decode_vec(value.trim_end_matches('=')).map_err(|_| {
        Problem::invalid_field("credential")
            .with_detail("send the credential's fields as base64url")
    })
}

/// Converts a stored passkey factor to the verifier's credential.
fn credential_of(factor: &PasskeyFactor) -> Result<Credential, Problem> {
    Ok(Credential {
        id: decode_field(&factor.id)?,
        public_key: decode_field(&factor.public_key)?,
        algorithm: factor.algorithm,
        sign_count: factor.sign_count,
        backup_eligible: factor.backup_eligible,
        backed_up: factor.backed_up,
        aaguid: [0; 16],
    })
}

/// Returns the `amr` value of a passkey: `swk` for one that syncs between devices, `hwk`
/// for one bound to its authenticator.
fn method_of(factor: &PasskeyFactor) -> &'static str {
    if factor.backup_eligible { "swk" } else { "hwk" }
}

fn view(factor: &PasskeyFactor) -> serde_json::Value {
    json!({
        "id": factor.id,
        "name": factor.name,
        "algorithm": if factor.algorithm == webauthn::ES256 { "ES256" } else { "EdDSA" },
        "synced": factor.backup_eligible,
        "backed_up": factor.backed_up,
        "created_at": factor.created_at,
        "last_used_at": factor.last_used_at,
    })
}

fn check_name(name: &str) -> Result<String, Problem> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(Problem::invalid_field("name")
            .with_limit(MAX_NAME_CHARS as u64)
            .with_detail("name the passkey in one line, such as the device it is on"));
    }
    Ok(name.to_owned())
}

/// `POST /auth/passkeys/registration-options`: options for `navigator.credentials.create`.
/// Needs a recent sign-in, as TOTP enrolment does.
pub async fn registration_options(
    context: &Context,
    request: Request,
) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, true).await?;
    context.require_recent_authentication(&caller)?;
    if caller.user.passkeys.len() >= MAX_PASSKEYS {
        return Err(Problem::new(ProblemKind::Conflict)
            .with_limit(MAX_PASSKEYS as u64)
            .with_detail("remove a passkey before adding another"));
    }
    let (challenge, rp) =
        issue_challenge(context, &request, ChallengePurpose::Register, Some(&caller)).await?;
    let email = context.email_of(&caller.user)?;
    let exclude: Vec<_> = caller
        .user
        .passkeys
        .iter()
        .map(|factor| json!({ "type": "public-key", "id": factor.id }))
        .collect();
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &json!({
            "challenge": Base64UrlUnpadded::encode_string(&challenge),
            "rp": { "id": rp.id, "name": context.settings.totp_issuer },
            "user": {
                "id": Base64UrlUnpadded::encode_string(caller.user.id.as_str().as_bytes()),
                "name": email.as_str(),
                "displayName": email.as_str(),
            },
            "pubKeyCredParams": [
                { "type": "public-key", "alg": webauthn::ES256 },
                { "type": "public-key", "alg": webauthn::EDDSA },
            ],
            "timeout": CHALLENGE_TTL_SECS * 1000,
            "attestation": "none",
            "authenticatorSelection": { "residentKey": "required", "userVerification": "required" },
            "excludeCredentials": exclude,
        }),
    ))
}

#[derive(Deserialize)]
struct AttestationResponse {
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    #[serde(rename = "attestationObject")]
    attestation_object: String,
}

#[derive(Deserialize)]
struct NewCredential {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    response: AttestationResponse,
}

#[derive(Deserialize)]
struct EnrolBody {
    name: String,
    credential: NewCredential,
}

/// `POST /auth/passkeys`: verifies the new passkey and adds it to the account. The session
/// becomes multi-factor; if the account had no second factor, ten recovery codes are issued
/// and shown once.
pub async fn enrol(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, true).await?;
    let body: EnrolBody = portal_spin::edge::read_json(
        request,
        portal_spin::edge::MAX_JSON_BODY,
        &["name", "credential"],
    )
    .await?;
    let name = check_name(&body.name)?;
    if body.credential.kind != "public-key" {
        return Err(Problem::invalid_field("credential"));
    }
    let client_data = decode_field(&body.credential.response.client_data_json)?;
    let attestation = decode_field(&body.credential.response.attestation_object)?;
    context.begin_reauthentication(&caller).await?;
    let verified = claim_challenge(context, &client_data, ChallengePurpose::Register).and_then(
        |(challenge, record)| {
            if record.user.as_ref() != Some(&caller.user.id)
                || record.session.as_ref() != Some(&caller.session.id)
            {
                return Err(WebauthnError::WrongChallenge);
            }
            let rp = RelyingParty::for_origin(&record.origin).ok_or(WebauthnError::WrongOrigin)?;
            webauthn::verify_registration(&rp, &challenge, &client_data, &attestation, true)
        },
    );
    let credential = match verified {
        Ok(credential) => credential,
        Err(error) => {
            context
                .audit(
                    Context::actor(&caller.user),
                    AuditAction::SecondFactorChanged,
                    (EntityType::User, caller.user.id.as_str()),
                    Outcome::MinorFailure,
                    Some(error.code()),
                )
                .await?;
            return Err(context
                .reauthentication_failed(&caller, invalid_passkey())
                .await);
        }
    };
    context.reauthentication_passed(&caller)?;
    if decode_field(&body.credential.id)? != credential.id {
        return Err(Problem::invalid_field("credential")
            .with_detail("the credential id differs from the one in the authenticator data"));
    }
    if !context
        .store
        .insert_new(&credential_key(&credential.id), &caller.user.id)?
    {
        return Err(
            Problem::new(ProblemKind::Conflict).with_detail("this passkey is already registered")
        );
    }
    let factor = PasskeyFactor {
        id: Base64UrlUnpadded::encode_string(&credential.id),
        public_key: Base64UrlUnpadded::encode_string(&credential.public_key),
        algorithm: credential.algorithm,
        sign_count: credential.sign_count,
        backup_eligible: credential.backup_eligible,
        backed_up: credential.backed_up,
        name,
        created_at: context.now,
        last_used_at: None,
    };
    let recorded = context
        .audit(
            Context::actor(&caller.user),
            AuditAction::SecondFactorChanged,
            (EntityType::User, caller.user.id.as_str()),
            Outcome::Success,
            Some("passkey_enrolled"),
        )
        .await;
    if let Err(problem) = recorded {
        context.store.delete(&credential_key(&credential.id))?;
        return Err(problem);
    }
    let first_factor = !caller.user.has_second_factor();
    let codes = if first_factor {
        Some(
            portal_auth::secret::new_recovery_codes()
                .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?,
        )
    } else {
        None
    };
    let hashes: Option<Vec<String>> = codes.as_ref().map(|codes| {
        codes
            .iter()
            .map(|code| portal_auth::secret::hash(portal_auth::secret::Purpose::Recovery, code))
            .collect()
    });
    let added = factor.clone();
    context.store.update(
        &model::user_key(&caller.user.id),
        "user",
        |current: Option<User>| {
            let Some(mut current) = current else {
                return Err(Problem::new(ProblemKind::Unauthenticated));
            };
            if current.passkeys.len() >= MAX_PASSKEYS {
                return Err(Problem::new(ProblemKind::Conflict).with_limit(MAX_PASSKEYS as u64));
            }
            current.passkeys.push(added.clone());
            if let Some(hashes) = &hashes
                && current.recovery_codes.is_empty()
            {
                current.recovery_codes.clone_from(hashes);
            }
            Ok((Update::Set(current), ()))
        },
    )??;
    let session = crate::factors::elevate(context, &caller.session, method_of(&factor))?;
    let access_token = session::reissue(context, &caller, &session).await?;
    context
        .notify(&caller.user, "A passkey was added to your portal account. If this was not you, contact the practice.")
        .await;
    let codes: Option<Vec<&str>> = codes
        .as_ref()
        .map(|codes| codes.iter().map(|code| code.as_str()).collect());
    Ok(portal_spin::json_no_store(
        StatusCode::CREATED,
        &json!({
            "passkey": view(&factor),
            "recovery_codes": codes,
            "access_token": access_token,
            "token_type": "DPoP",
            "expires_in": context.settings.access_ttl_secs,
        }),
    ))
}

/// `GET /auth/passkeys`: the caller's passkeys.
pub async fn list(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, true).await?;
    let passkeys: Vec<_> = caller.user.passkeys.iter().map(view).collect();
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &json!({ "passkeys": passkeys }),
    ))
}

#[derive(Deserialize)]
struct RenameBody {
    name: String,
}

fn no_passkey() -> Problem {
    Problem::new(ProblemKind::NotFound).with_detail("you have no passkey with this id")
}

/// `PATCH /auth/passkeys/{id}`: renames a passkey.
pub async fn rename(context: &Context, request: Request, id: &str) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    let body: RenameBody =
        portal_spin::edge::read_json(request, portal_spin::edge::MAX_JSON_BODY, &["name"]).await?;
    let name = check_name(&body.name)?;
    let renamed = context.store.update(
        &model::user_key(&caller.user.id),
        "user",
        |current: Option<User>| {
            let mut current = current.ok_or_else(|| Problem::new(ProblemKind::Unauthenticated))?;
            let factor = current
                .passkeys
                .iter_mut()
                .find(|factor| factor.id == id)
                .ok_or_else(no_passkey)?;
            factor.name.clone_from(&name);
            let renamed = factor.clone();
            Ok::<_, Problem>((Update::Set(current), renamed))
        },
    )??;
    Ok(portal_spin::json_no_store(StatusCode::OK, &view(&renamed)))
}

/// `DELETE /auth/passkeys/{id}`: removes a passkey. Needs a recent second factor, and the
/// last factor of an account that must use one (staff) cannot be removed.
pub async fn remove(context: &Context, request: Request, id: &str) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    if !caller.user.passkeys.iter().any(|factor| factor.id == id) {
        return Err(no_passkey());
    }
    context.require_recent_second_factor(&caller)?;
    let last = caller.user.totp.is_none() && caller.user.passkeys.len() == 1;
    if last && model::role_requires_mfa(caller.user.role) {
        return Err(Problem::new(ProblemKind::Conflict).with_detail(
            "your role must use a second factor; add another before removing this one",
        ));
    }
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::SecondFactorChanged,
            (EntityType::User, caller.user.id.as_str()),
            Outcome::Success,
            Some("passkey_removed"),
        )
        .await?;
    let role = caller.user.role;
    context.store.update(
        &model::user_key(&caller.user.id),
        "user",
        |current: Option<User>| {
            let mut current = current.ok_or_else(|| Problem::new(ProblemKind::Unauthenticated))?;
            let before = current.passkeys.len();
            current.passkeys.retain(|factor| factor.id != id);
            if current.passkeys.len() == before {
                return Err(no_passkey());
            }
            // Checked again on the record being written, so two removals at once cannot
            // take both of the last factors.
            if model::role_requires_mfa(role) && !current.has_second_factor() {
                return Err(Problem::new(ProblemKind::Conflict).with_detail(
                    "your role must use a second factor; add another before removing this one",
                ));
            }
            Ok((Update::Set(current), ()))
        },
    )??;
    context.store.delete(&index_key(id))?;
    context
        .notify(&caller.user, "A passkey was removed from your portal account. If this was not you, contact the practice.")
        .await;
    Ok(portal_spin::empty(StatusCode::NO_CONTENT))
}

/// `POST /auth/passkeys/authentication-options`: a challenge for `navigator.credentials.get`,
/// for signing in without a password, as a second factor after one, or for step-up. It names
/// no credentials, so it reveals nothing about any account.
pub async fn authentication_options(
    context: &Context,
    request: Request,
) -> Result<Response, Problem> {
    if let Some(address) = context.address {
        let window = context.now.div_euclid(context.settings.address_window_secs);
        let asked = context
            .store
            .increment(&format!("webauthn-addr:{address}:{window}"), 1)?;
        if asked > CHALLENGES_PER_ADDRESS {
            return Err(Problem::rate_limited(
                u64::try_from(context.settings.address_window_secs).unwrap_or(60),
            )
            .with_detail("too many sign-in attempts from this address; wait before trying again"));
        }
    }
    let (challenge, rp) =
        issue_challenge(context, &request, ChallengePurpose::Assert, None).await?;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &json!({
            "challenge": Base64UrlUnpadded::encode_string(&challenge),
            "rpId": rp.id,
            "timeout": CHALLENGE_TTL_SECS * 1000,
            "userVerification": "required",
            "allowCredentials": [],
        }),
    ))
}

/// An assertion as `PublicKeyCredential.toJSON()` gives it.
#[derive(Debug, Deserialize)]
pub struct AssertionCredential {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    response: AssertionResponse,
}

#[derive(Debug, Deserialize)]
struct AssertionResponse {
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    #[serde(rename = "authenticatorData")]
    authenticator_data: String,
    signature: String,
    #[serde(rename = "userHandle", default)]
    user_handle: Option<String>,
}

/// The result of checking an assertion for a known user.
pub struct Asserted {
    /// The `amr` method: `hwk` or `swk`.
    pub method: &'static str,
    /// Whether the user was verified.
    pub user_verified: bool,
}

/// Verifies `credential` as a passkey of `user` and records its use. With
/// `require_user_verification`, only a verified user passes. A counter that did not increase
/// rejects the assertion, records it and notifies the user.
pub async fn check_assertion(
    context: &Context,
    user: &User,
    credential: &AssertionCredential,
    require_user_verification: bool,
) -> Result<Asserted, Problem> {
    if credential.kind != "public-key" {
        return Err(invalid_passkey());
    }
    let id = decode_field(&credential.id)?;
    let factor = user
        .passkeys
        .iter()
        .find(|factor| decode_field(&factor.id).is_ok_and(|stored| stored == id))
        .ok_or_else(invalid_passkey)?;
    if let Some(handle) = &credential.response.user_handle
        && !handle.is_empty()
        && decode_field(handle)? != user.id.as_str().as_bytes()
    {
        return Err(invalid_passkey());
    }
    let client_data = decode_field(&credential.response.client_data_json)?;
    let authenticator_data = decode_field(&credential.response.authenticator_data)?;
    let signature = decode_field(&credential.response.signature)?;
    let stored = credential_of(factor)?;
    let outcome = claim_challenge(context, &client_data, ChallengePurpose::Assert).and_then(
        |(challenge, record)| {
            let rp = RelyingParty::for_origin(&record.origin).ok_or(WebauthnError::WrongOrigin)?;
            webauthn::verify_assertion(
                &rp,
                &stored,
                &challenge,
                &client_data,
                &authenticator_data,
                &signature,
                require_user_verification,
            )
        },
    );
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            context
                .audit(
                    Context::actor(user),
                    AuditAction::SignIn,
                    (EntityType::User, user.id.as_str()),
                    Outcome::MinorFailure,
                    Some(error.code()),
                )
                .await?;
            return Err(invalid_passkey());
        }
    };
    if outcome.counter_regressed {
        context
            .audit(
                Context::actor(user),
                AuditAction::SignIn,
                (EntityType::User, user.id.as_str()),
                Outcome::SeriousFailure,
                Some("signature_counter_regressed"),
            )
            .await?;
        context
            .notify(user, "A sign-in to your portal account used a passkey that may have been copied, and was refused. Remove the passkey and add a new one.")
            .await;
        return Err(Problem::new(ProblemKind::Unauthenticated)
            .with_field("credential")
            .with_detail("this passkey may have been copied; sign in another way and replace it"));
    }
    let factor_id = factor.id.clone();
    let now = context.now;
    context.store.update(
        &model::user_key(&user.id),
        "user",
        |current: Option<User>| {
            let mut current = current.ok_or_else(invalid_passkey)?;
            if let Some(stored) = current.passkeys.iter_mut().find(|f| f.id == factor_id) {
                // Parallel assertions of one counter value: only the first moves it.
                if outcome.sign_count != 0 && outcome.sign_count <= stored.sign_count {
                    return Err(invalid_passkey());
                }
                stored.sign_count = outcome.sign_count;
                stored.backed_up = outcome.backed_up;
                stored.last_used_at = Some(now);
            }
            Ok((Update::Set(current), ()))
        },
    )??;
    Ok(Asserted {
        method: method_of(factor),
        user_verified: outcome.user_verified,
    })
}

#[derive(Deserialize)]
struct PasskeyLoginBody {
    credential: AssertionCredential,
}

/// `POST /auth/passkeys/login`: signs in with a passkey alone. User verification is
/// required, so the session is multi-factor: `amr` is `hwk` or `swk`, `user` and `mfa`.
pub async fn login(context: &Context, request: Request) -> Result<Response, Problem> {
    let jkt = portal_spin::access::verify_bare_proof(
        &request,
        &portal_spin::edge::request_url(&request).await?,
        &context.store,
        context.now,
    )?;
    let body: PasskeyLoginBody =
        portal_spin::edge::read_json(request, portal_spin::edge::MAX_JSON_BODY, &["credential"])
            .await?;
    let id = decode_field(&body.credential.id)?;
    if let Some(key) = crate::login::address_window_key(context) {
        let failures = context.store.counter(&key)?;
        if failures >= context.settings.address_failures_per_window {
            return Err(Problem::rate_limited(
                u64::try_from(context.settings.address_window_secs).unwrap_or(60),
            )
            .with_detail("too many failed sign-ins from this address; wait before trying again"));
        }
    }
    let user_id: Option<UserId> = context.store.get(&credential_key(&id), "passkey index")?;
    let user = match &user_id {
        Some(user_id) => context.load_user(user_id)?,
        None => None,
    };
    let failed = |reason: &'static str| async move {
        if let Some(key) = crate::login::address_window_key(context) {
            context.store.increment(&key, 1)?;
        }
        context
            .audit(
                AuditActor::Anonymous,
                AuditAction::SignIn,
                (EntityType::User, "unknown"),
                Outcome::MinorFailure,
                Some(reason),
            )
            .await?;
        Err::<Response, Problem>(invalid_passkey())
    };
    let Some(user) = user.filter(|user| user.status == AccountStatus::Active) else {
        return failed("unknown_passkey").await;
    };
    let asserted = match check_assertion(context, &user, &body.credential, true).await {
        Ok(asserted) => asserted,
        Err(problem) => {
            if let Some(key) = crate::login::address_window_key(context) {
                context.store.increment(&key, 1)?;
            }
            return Err(problem);
        }
    };
    let mut amr = vec![asserted.method.to_owned()];
    if asserted.user_verified {
        amr.push("user".to_owned());
    }
    amr.push("mfa".to_owned());
    let new_device = crate::login::remember_device(context, &user, &jkt)?;
    let issued = session::create(context, &user, jkt, amr, false).await?;
    context
        .audit(
            Context::actor(&user),
            AuditAction::SignIn,
            (EntityType::Session, issued.session.id.as_str()),
            Outcome::Success,
            Some("passkey"),
        )
        .await?;
    if new_device {
        context
            .notify(&user, "Your portal account was signed in to from a new device or place. If this was not you, change your password.")
            .await;
    }
    Ok(session::token_response(context, &issued, &user))
}
