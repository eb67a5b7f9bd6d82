//! Sign-in with password and second factor, behind per-account and per-address throttles.

use portal_audit::{AuditAction, AuditActor, EntityType, Outcome};
use portal_auth::password::{PasswordHasher, Verification};
use portal_auth::secret::{self, Purpose};
use portal_auth::totp::{self, TotpSecret};
use portal_crypto::FieldKind;
use portal_policy::UserId;
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::kv::Update;
use serde::Deserialize;
use spin_sdk::http::Request;

use crate::context::{Context, decode};
use crate::model::{self, AccountStatus, Gate, MAX_KNOWN_DEVICES, User};
use crate::passkeys::{self, AssertionCredential};
use crate::session;

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
    #[serde(default)]
    totp_code: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
    #[serde(default)]
    passkey: Option<AssertionCredential>,
}

const LOGIN_FIELDS: &[&str] = &["email", "password", "totp_code", "recovery_code", "passkey"];

/// Returns the one problem used for a wrong email, a wrong password and a disabled account.
fn invalid_credentials() -> Problem {
    Problem::new(ProblemKind::Unauthenticated)
        .with_detail("the email address or password is not correct")
}

fn throttled(retry_after: i64) -> Problem {
    Problem::rate_limited(u64::try_from(retry_after.max(1)).unwrap_or(1)).with_detail(
        "too many sign-in attempts for this account or address; wait before trying again",
    )
}

fn locked() -> Problem {
    Problem::new(ProblemKind::RateLimited)
        .with_detail("this account is locked after too many failed sign-ins; ask an administrator to unlock it or reset the password")
}

/// `POST /auth/login`.
///
/// Order of checks: DPoP proof (the key the session binds to), body, the client address's
/// failure window, the account's throttle, then the password (against a dummy hash for
/// unknown accounts, so both take the same time), then the second factor.
pub async fn login(context: &Context, request: Request) -> Result<Response, Problem> {
    let jkt = portal_spin::access::verify_bare_proof(
        &request,
        &portal_spin::edge::request_url(&request).await?,
        &context.store,
        context.now,
    )?;
    let body: LoginBody =
        portal_spin::edge::read_json(request, portal_spin::edge::MAX_JSON_BODY, LOGIN_FIELDS)
            .await?;
    let email_index = context
        .sealer
        .index(FieldKind::Email, &body.email)
        .map_err(|_| {
            Problem::invalid_field("email")
                .with_detail("enter an email address such as name@example.org")
        })?
        .to_base64url();

    // The address's window is reserved before any password is checked, like the account's
    // attempt number, so a parallel burst cannot pass it; it is given back unless the attempt
    // fails.
    let address_key = address_window_key(context);
    if let Some(key) = &address_key {
        let reserved = context.store.increment(key, 1)?;
        if reserved > context.settings.address_failures_per_window {
            context.store.increment(key, -1)?;
            return Err(throttled(context.settings.address_window_secs));
        }
    }
    let give_back_address = || -> Result<(), Problem> {
        if let Some(key) = &address_key {
            context.store.increment(key, -1)?;
        }
        Ok(())
    };
    let account_key = format!("fail:{email_index}");
    let gate_key = format!("gate:{email_index}");
    let admission = match admit(context, &account_key, &gate_key).await {
        Ok(admission) => admission,
        Err(problem) => {
            give_back_address()?;
            return Err(problem);
        }
    };

    let hasher = PasswordHasher::new(context.settings.hash_params)
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    let user_id: Option<UserId> = context
        .store
        .get(&model::email_key(&email_index), "email index")?;
    let user = match &user_id {
        Some(id) => context.load_user(id)?,
        None => None,
    };
    let Some(user) = user else {
        hasher.verify_dummy(&body.password);
        record_failure(context, &account_key).await?;
        context
            .audit(
                AuditActor::Anonymous,
                AuditAction::SignIn,
                (EntityType::User, "unknown"),
                Outcome::MinorFailure,
                Some("unknown_account"),
            )
            .await?;
        return Err(invalid_credentials());
    };
    let verification = hasher
        .verify(&body.password, &user.password_hash)
        .map_err(|error| {
            eprintln!("stored password hash unusable: {error}");
            Problem::new(ProblemKind::Internal)
        })?;
    if verification == Verification::Mismatch || user.status != AccountStatus::Active {
        record_failure(context, &account_key).await?;
        let reason = if verification == Verification::Mismatch {
            "wrong_password"
        } else {
            "account_disabled"
        };
        context
            .audit(
                Context::actor(&user),
                AuditAction::SignIn,
                (EntityType::User, user.id.as_str()),
                Outcome::MinorFailure,
                Some(reason),
            )
            .await?;
        return Err(invalid_credentials());
    }

    // The password is right. Accounts with a second factor, and staff, must present one.
    let mut amr = vec!["pwd".to_owned()];
    let mut enrolment_only = false;
    if user.has_second_factor() {
        let method = second_factor(context, &user, &body).await;
        match method {
            Ok(method) => {
                amr.push(method.to_owned());
                amr.push("mfa".to_owned());
            }
            Err(problem) => {
                // A missing code is the normal first step of a two-step sign-in, so its
                // attempt number is given back; a wrong code counts as a failure.
                if body.totp_code.is_some()
                    || body.recovery_code.is_some()
                    || body.passkey.is_some()
                {
                    record_failure(context, &account_key).await?;
                } else {
                    release(context, &account_key, &gate_key, admission)?;
                    give_back_address()?;
                }
                context
                    .audit(
                        Context::actor(&user),
                        AuditAction::SignIn,
                        (EntityType::User, user.id.as_str()),
                        Outcome::MinorFailure,
                        Some("second_factor"),
                    )
                    .await?;
                return Err(problem);
            }
        }
    } else if model::role_requires_mfa(user.role) {
        // Staff without a second factor get a session that can only enrol one.
        enrolment_only = true;
    }

    // Success: clear this account's failures and give back the address's reservation; the
    // address's earlier failures stay in its window.
    give_back_address()?;
    context.store.delete(&account_key)?;
    context.store.delete(&confirmed_key(&account_key))?;
    context.store.delete(&gate_key)?;
    if verification == Verification::MatchNeedsRehash {
        rehash(context, &hasher, &user, &body.password)?;
    }
    let new_device = remember_device(context, &user, &jkt)?;
    let issued = session::create(context, &user, jkt, amr, enrolment_only).await?;
    context
        .audit(
            Context::actor(&user),
            AuditAction::SignIn,
            (EntityType::Session, issued.session.id.as_str()),
            Outcome::Success,
            None,
        )
        .await?;
    if new_device {
        context
            .notify(&user, "Your portal account was signed in to from a new device or place. If this was not you, change your password.")
            .await;
    }
    Ok(session::token_response(context, &issued, &user))
}

/// Returns the key of the per-address failure counter for the current window, if the
/// address is known.
pub fn address_window_key(context: &Context) -> Option<String> {
    let address = context.address?;
    let window = context.now.div_euclid(context.settings.address_window_secs);
    Some(format!("fail-addr:{address}:{window}"))
}

/// Lets an attempt through the account's throttle, or refuses it.
///
/// Each attempt first takes a number from the account's counter with an atomic increment,
/// so parallel attempts see distinct numbers before any password is checked. Attempts
/// within the free allowance run at once. Past it, an attempt must also claim the gate with
/// compare-and-swap after the gate's opening time; claiming it sets the next opening time,
/// so of many parallel attempts one passes. A refused attempt gives its number back, so only
/// attempts that checked a password count as failures. At the lock threshold nothing passes.
async fn admit(context: &Context, account_key: &str, gate_key: &str) -> Result<Admission, Problem> {
    let schedule = context.settings.schedule;
    // The lock counts only failures whose password was checked, never attempts in flight.
    let confirmed = u64::try_from(context.store.counter(&confirmed_key(account_key))?).unwrap_or(0);
    if schedule.is_locked(confirmed) {
        return Err(locked());
    }
    let number = u64::try_from(context.store.increment(account_key, 1)?).unwrap_or(0);
    let earlier_failures = number.saturating_sub(1);
    if !schedule.needs_gate(earlier_failures) {
        return Ok(Admission { gate: None });
    }
    let now = context.now;
    let delay = schedule.delay_after(earlier_failures);
    let claimed = context
        .store
        .update(gate_key, "login gate", |current: Option<Gate>| {
            let gate = current.unwrap_or_default();
            if now < gate.open_at {
                return Err(gate.open_at - now);
            }
            let next = Gate {
                seq: gate.seq + 1,
                open_at: now.saturating_add(delay),
            };
            Ok((Update::Set(next), (gate, next)))
        });
    let claimed = match claimed {
        Ok(claimed) => claimed,
        Err(error) => {
            context.store.increment(account_key, -1)?;
            return Err(error.into());
        }
    };
    match claimed {
        Ok(gate) => Ok(Admission { gate: Some(gate) }),
        Err(retry_after) => {
            context.store.increment(account_key, -1)?;
            if earlier_failures == schedule.free_attempts {
                // The first refusal for this account is audited; later ones would flood the log.
                let _ = context
                    .audit(
                        AuditActor::Anonymous,
                        AuditAction::SignInThrottled,
                        (EntityType::User, "unknown"),
                        Outcome::MinorFailure,
                        Some("backoff"),
                    )
                    .await;
            }
            Err(throttled(retry_after))
        }
    }
}

/// What an admitted attempt took from the throttle: its attempt number, and the gate's state
/// before and after it claimed the gate, if it had to.
struct Admission {
    gate: Option<(Gate, Gate)>,
}

/// Gives back what an attempt took when it turns out not to be a failure (the first step of a
/// two-step sign-in): its attempt number, and the gate if no other attempt claimed it since.
fn release(
    context: &Context,
    account_key: &str,
    gate_key: &str,
    admission: Admission,
) -> Result<(), Problem> {
    context.store.increment(account_key, -1)?;
    if let Some((before, after)) = admission.gate {
        context
            .store
            .update(gate_key, "login gate", |current: Option<Gate>| {
                if current == Some(after) {
                    Ok::<_, Problem>((Update::Set(before), ()))
                } else {
                    Ok((Update::Keep, ()))
                }
            })??;
    }
    Ok(())
}

/// Returns the key of the checked-failure counter next to an account's attempt counter.
pub fn confirmed_key(account_key: &str) -> String {
    format!("{account_key}:checked")
}

/// Counts a failed attempt: the account's attempt number and the address's reservation,
/// taken before the check, stay taken, and the checked-failure counter goes up.
async fn record_failure(context: &Context, account_key: &str) -> Result<(), Problem> {
    let confirmed = context.store.increment(&confirmed_key(account_key), 1)?;
    let lock_after = i64::try_from(context.settings.schedule.lock_after).unwrap_or(i64::MAX);
    if confirmed == lock_after {
        context
            .audit(
                AuditActor::Anonymous,
                AuditAction::SignInThrottled,
                (EntityType::User, "unknown"),
                Outcome::SeriousFailure,
                Some("locked"),
            )
            .await?;
    }
    Ok(())
}

/// Checks the TOTP code or recovery code in the body. Returns the RFC 8176 method.
pub async fn second_factor(
    context: &Context,
    user: &User,
    body_codes: &impl Codes,
) -> Result<&'static str, Problem> {
    if let Some(credential) = body_codes.passkey() {
        // After a password, a passkey is the second factor, so user presence is enough.
        return passkeys::check_assertion(context, user, credential, false)
            .await
            .map(|asserted| asserted.method);
    }
    if let Some(code) = body_codes.totp_code() {
        return use_totp(context, user, code).map(|()| "otp");
    }
    if let Some(code) = body_codes.recovery_code() {
        use_recovery_code(context, user, code)?;
        context
            .audit(
                Context::actor(user),
                AuditAction::RecoveryCodeUsed,
                (EntityType::User, user.id.as_str()),
                Outcome::Success,
                None,
            )
            .await?;
        context
            .notify(user, "A recovery code was used to sign in to your portal account. If this was not you, contact the practice.")
            .await;
        return Ok("kba");
    }
    Err(Problem::new(ProblemKind::Unauthenticated)
        .with_field("totp_code")
        .with_detail("use your passkey, the code from your authenticator app, or a recovery code"))
}

/// Request bodies that may carry a second factor.
pub trait Codes {
    /// The TOTP code, if sent.
    fn totp_code(&self) -> Option<&str>;
    /// The recovery code, if sent.
    fn recovery_code(&self) -> Option<&str>;
    /// Returns the passkey assertion, if sent.
    fn passkey(&self) -> Option<&AssertionCredential> {
        None
    }
}

impl Codes for LoginBody {
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

fn wrong_code() -> Problem {
    Problem::new(ProblemKind::Unauthenticated)
        .with_detail("the code is not correct or was already used")
}

/// Accepts a TOTP code once: the matched step is stored with compare-and-swap, so of two
/// requests with the same code only one passes.
pub fn use_totp(context: &Context, user: &User, code: &str) -> Result<(), Problem> {
    let factor = user.totp.as_ref().ok_or_else(wrong_code)?;
    let secret_bytes = context
        .sealer
        .open("totp", user.id.as_str(), &decode(&factor.secret)?)?;
    let secret = TotpSecret::from_bytes(&secret_bytes);
    let now = context.now;
    context.store.update(
        &model::user_key(&user.id),
        "user",
        |current: Option<User>| {
            let Some(mut current) = current else {
                return Err(wrong_code());
            };
            let Some(factor) = current.totp.as_mut() else {
                return Err(wrong_code());
            };
            let step = totp::verify(&secret, code, now, factor.last_step).ok_or_else(wrong_code)?;
            factor.last_step = Some(step);
            Ok((Update::Set(current), ()))
        },
    )?
}

/// Consumes a recovery code with compare-and-swap, so each works once.
fn use_recovery_code(context: &Context, user: &User, code: &str) -> Result<(), Problem> {
    let normalized = secret::normalize_recovery_code(code);
    context.store.update(
        &model::user_key(&user.id),
        "user",
        |current: Option<User>| {
            let Some(mut current) = current else {
                return Err(wrong_code());
            };
            let position = current
                .recovery_codes
                .iter()
                .position(|stored| secret::matches(Purpose::Recovery, &normalized, stored))
                .ok_or_else(wrong_code)?;
            current.recovery_codes.remove(position);
            Ok((Update::Set(current), ()))
        },
    )??;
    Ok(())
}

fn rehash(
    context: &Context,
    hasher: &PasswordHasher,
    user: &User,
    password: &str,
) -> Result<(), Problem> {
    let new_hash = hasher
        .hash(password)
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    let old_hash = user.password_hash.clone();
    context.store.update(
        &model::user_key(&user.id),
        "user",
        |current: Option<User>| {
            match current {
                // Only replace the hash that was verified; a concurrent password change wins.
                Some(mut current) if current.password_hash == old_hash => {
                    current.password_hash = new_hash.clone();
                    Ok::<_, Problem>((Update::Set(current), ()))
                }
                _ => Ok((Update::Keep, ())),
            }
        },
    )??;
    Ok(())
}

/// Records the device key and address; returns true if either was new for this account.
pub fn remember_device(context: &Context, user: &User, jkt: &str) -> Result<bool, Problem> {
    let mut markers = vec![format!("key:{jkt}")];
    if let Some(address) = context.address {
        markers.push(format!("addr:{address}"));
    }
    let first_sign_in = user.known_devices.is_empty();
    let new = context.store.update(
        &model::user_key(&user.id),
        "user",
        |current: Option<User>| {
            let Some(mut current) = current else {
                return Ok::<_, Problem>((Update::Keep, false));
            };
            let mut new = false;
            for marker in &markers {
                if let Some(position) = current
                    .known_devices
                    .iter()
                    .position(|known| known == marker)
                {
                    current.known_devices.remove(position);
                } else {
                    new = true;
                }
                current.known_devices.insert(0, marker.clone());
            }
            current.known_devices.truncate(MAX_KNOWN_DEVICES);
            Ok((Update::Set(current), new))
        },
    )??;
    Ok(new && !first_sign_in)
}
