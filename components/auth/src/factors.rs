//! Second factors: TOTP enrolment with recovery codes, and step-up with TOTP, a recovery code
//! or a passkey.

use portal_audit::{AuditAction, EntityType, Outcome};
use portal_auth::secret::{self, Purpose};
use portal_auth::totp::{self, TotpSecret};
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::kv::Update;
use serde::Deserialize;
use spin_sdk::http::{Request, StatusCode};

use crate::context::{Context, decode, encode};
use crate::login::{self, Codes};
use crate::model::{self, Session, TotpFactor, User};
use crate::passkeys::AssertionCredential;
use crate::session;

/// `POST /auth/totp/enrol`: starts TOTP enrolment and returns the `otpauth://` URI.
///
/// Needs a recent sign-in, and replacing an enrolled factor needs a recent second factor
/// (step-up).
pub async fn enrol_totp(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, true).await?;
    // A stolen session that is not fresh must not be able to enrol a factor of its own and
    // lock the owner out.
    context.require_recent_authentication(&caller)?;
    let secret =
        TotpSecret::generate().map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    let envelope = context.sealer.seal(
        &context.store,
        "totp",
        caller.user.id.as_str(),
        secret.as_bytes(),
    )?;
    let pending = TotpFactor {
        secret: encode(&envelope),
        last_step: None,
    };
    context.store.update(
        &model::user_key(&caller.user.id),
        "user",
        |current: Option<User>| {
            let Some(mut current) = current else {
                return Err(Problem::new(ProblemKind::Unauthenticated));
            };
            current.totp_pending = Some(pending.clone());
            Ok((Update::Set(current), ()))
        },
    )??;
    let email = context.email_of(&caller.user)?;
    let uri = secret.provisioning_uri(&context.settings.totp_issuer, &email);
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &serde_json::json!({
            "otpauth_uri": uri.as_str(),
            "secret": secret.to_base32().as_str(),
        }),
    ))
}

#[derive(Deserialize)]
struct CodeBody {
    #[serde(default)]
    totp_code: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
    #[serde(default)]
    passkey: Option<AssertionCredential>,
}

impl Codes for CodeBody {
    fn totp_code(&self) -> Option<&str> {
        self.totp_code.as_deref()
    }
    fn recovery_code(&self) -> Option<&str> {
        self.recovery_code.as_deref()
    }
    fn passkey(&self) -> Option<&AssertionCredential> {
        self.passkey.as_ref()
    }
}

/// `POST /auth/totp/confirm`: confirms enrolment with a first code, issues ten recovery
/// codes (shown once), and upgrades the session to multi-factor.
pub async fn confirm_totp(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, true).await?;
    let body: CodeBody =
        portal_spin::edge::read_json(request, portal_spin::edge::MAX_JSON_BODY, &["totp_code"])
            .await?;
    let code = body
        .totp_code
        .ok_or_else(|| Problem::invalid_field("totp_code"))?;
    let pending = caller.user.totp_pending.clone().ok_or_else(|| {
        Problem::new(ProblemKind::Conflict).with_detail("start enrolment before confirming it")
    })?;
    let secret_bytes =
        context
            .sealer
            .open("totp", caller.user.id.as_str(), &decode(&pending.secret)?)?;
    let secret = TotpSecret::from_bytes(&secret_bytes);
    context.begin_reauthentication(&caller).await?;
    let Some(step) = totp::verify(&secret, &code, context.now, None) else {
        let problem = Problem::invalid_field("totp_code")
            .with_detail("the code is not correct; check the time on your device");
        return Err(context.reauthentication_failed(&caller, problem).await);
    };
    context.reauthentication_passed(&caller)?;
    let codes =
        secret::new_recovery_codes().map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    let hashes: Vec<String> = codes
        .iter()
        .map(|code| secret::hash(Purpose::Recovery, code))
        .collect();
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::SecondFactorChanged,
            (EntityType::User, caller.user.id.as_str()),
            Outcome::Success,
            Some("totp_enrolled"),
        )
        .await?;
    let pending_secret = pending.secret.clone();
    context.store.update(
        &model::user_key(&caller.user.id),
        "user",
        |current: Option<User>| {
            let Some(mut current) = current else {
                return Err(Problem::new(ProblemKind::Unauthenticated));
            };
            if current.totp_pending.as_ref().map(|factor| &factor.secret) != Some(&pending_secret) {
                return Err(Problem::new(ProblemKind::Conflict)
                    .with_detail("enrolment restarted elsewhere; start again"));
            }
            current.totp = Some(TotpFactor {
                secret: pending_secret.clone(),
                last_step: Some(step),
            });
            current.totp_pending = None;
            current.recovery_codes = hashes.clone();
            Ok((Update::Set(current), ()))
        },
    )??;
    let session = elevate(context, &caller.session, "otp")?;
    let access_token = session::reissue(context, &caller, &session).await?;
    context
        .notify(&caller.user, "A second factor was added to your portal account. If this was not you, contact the practice.")
        .await;
    let codes: Vec<&str> = codes.iter().map(|code| code.as_str()).collect();
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &serde_json::json!({
            "recovery_codes": codes,
            "access_token": access_token,
            "token_type": "DPoP",
            "expires_in": context.settings.access_ttl_secs,
        }),
    ))
}

/// Marks the session as freshly authenticated with a second factor; an enrolment-only
/// session becomes a full one.
pub fn elevate(
    context: &Context,
    session: &Session,
    method: &'static str,
) -> Result<Session, Problem> {
    let now = context.now;
    let updated = context.store.update(
        &model::session_key(&session.id),
        "session",
        |current: Option<Session>| {
            let Some(mut current) = current else {
                return Err(Problem::new(ProblemKind::Unauthenticated));
            };
            if current.ended.is_some() {
                return Err(Problem::new(ProblemKind::Unauthenticated));
            }
            current.auth_time = now;
            current.last_seen_at = now;
            current.enrolment_only = false;
            for value in [method, "mfa"] {
                if !current.amr.iter().any(|existing| existing == value) {
                    current.amr.push(value.to_owned());
                }
            }
            Ok((Update::Set(current.clone()), current))
        },
    )??;
    Ok(updated)
}

/// `POST /auth/step-up`: proves a second factor again and returns an access token with a
/// fresh `auth_time`. The elevation lasts for the step-up window.
pub async fn step_up(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    let body: CodeBody = portal_spin::edge::read_json(
        request,
        portal_spin::edge::MAX_JSON_BODY,
        &["totp_code", "recovery_code", "passkey"],
    )
    .await?;
    if !caller.user.has_second_factor() {
        return Err(Problem::new(ProblemKind::Conflict)
            .with_detail("enrol a second factor before stepping up"));
    }
    let code_given =
        body.totp_code.is_some() || body.recovery_code.is_some() || body.passkey.is_some();
    if code_given {
        context.begin_reauthentication(&caller).await?;
    }
    let method = match login::second_factor(context, &caller.user, &body).await {
        Ok(method) => {
            if code_given {
                context.reauthentication_passed(&caller)?;
            }
            method
        }
        Err(problem) => {
            let problem = if code_given {
                context.reauthentication_failed(&caller, problem).await
            } else {
                problem
            };
            context
                .audit(
                    Context::actor(&caller.user),
                    AuditAction::StepUp,
                    (EntityType::Session, caller.session.id.as_str()),
                    Outcome::MinorFailure,
                    Some("second_factor"),
                )
                .await?;
            return Err(problem);
        }
    };
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::StepUp,
            (EntityType::Session, caller.session.id.as_str()),
            Outcome::Success,
            None,
        )
        .await?;
    let session = elevate(context, &caller.session, method)?;
    let access_token = session::reissue(context, &caller, &session).await?;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &serde_json::json!({
            "access_token": access_token,
            "token_type": "DPoP",
            "expires_in": context.settings.access_ttl_secs,
            "auth_time": session.auth_time,
            "step_up_expires_at": session.auth_time + context.settings.step_up_window_secs,
        }),
    ))
}
