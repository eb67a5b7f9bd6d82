//! Accounts: the first admin, patient self-registration, staff invitations, the caller's
//! own account, and password changes.

use portal_audit::{AuditAction, AuditActor, EntityType, Outcome};
use portal_auth::password::{self, PasswordHasher, PasswordRejection, Verification};
use portal_auth::secret::{self, Purpose};
use portal_crypto::FieldKind;
use portal_policy::{Role, UserId};
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::kv::Update;
use portal_spin::notify::Channel;
use serde::Deserialize;
use spin_sdk::http::{Request, StatusCode};

use crate::context::{Context, encode};
use crate::model::{self, AccountStatus, EndReason, Invitation, PASSWORD_HISTORY, User};
use crate::session;

/// Maps a password rule failure to a problem naming `field`.
pub fn password_problem(rejection: PasswordRejection, field: &'static str) -> Problem {
    let problem = Problem::invalid_field(field);
    match rejection {
        PasswordRejection::TooShort { min } => problem
            .with_detail("the password is too short; use a longer passphrase")
            .with_limit(min as u64),
        PasswordRejection::TooLong { max } => problem
            .with_detail("the password is too long")
            .with_limit(max as u64),
        PasswordRejection::Common => {
            problem.with_detail("the password is too common; choose one that is hard to guess")
        }
        PasswordRejection::ContainsIdentifier => {
            problem.with_detail("the password must not contain your email address")
        }
        PasswordRejection::Reused => {
            problem.with_detail("the password was used recently; choose a new one")
        }
    }
}

fn hasher(context: &Context) -> Result<PasswordHasher, Problem> {
    PasswordHasher::new(context.settings.hash_params)
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))
}

fn invalid_email() -> Problem {
    Problem::invalid_field("email").with_detail("enter an email address such as name@example.org")
}

/// Creates an account. Returns `None` if the email address already has one.
///
/// The user record is written first and the email index claimed second, with insert-if-
/// absent; if the claim loses, the record is deleted, so two parallel registrations of one
/// address leave exactly one account.
async fn create_user(
    context: &Context,
    role: Role,
    email: &str,
    password_hash: String,
    birth_date: Option<portal_policy::Date>,
) -> Result<Option<User>, Problem> {
    let id = secret::new_id(16)
        .ok()
        .and_then(|id| UserId::new(id).ok())
        .ok_or_else(|| Problem::new(ProblemKind::ServiceUnavailable))?;
    let birth_date = match birth_date {
        Some(date) => {
            let sealer = crate::proxies::access_sealer().await?;
            Some(crate::proxies::seal_birth_date(
                &sealer,
                &context.store,
                &id,
                date,
            )?)
        }
        None => None,
    };
    let protected = context
        .sealer
        .protect(&context.store, "user", id.as_str(), FieldKind::Email, email)
        .map_err(|_| invalid_email())?;
    let email_index = protected.index.to_base64url();
    let user = User {
        id: id.clone(),
        role,
        status: AccountStatus::Active,
        email: encode(&protected.ciphertext),
        email_index: email_index.clone(),
        notify_to: None,
        password_hash,
        password_history: Vec::new(),
        totp: None,
        totp_pending: None,
        recovery_codes: Vec::new(),
        known_devices: Vec::new(),
        created_at: context.now,
        session_epoch: 0,
        reset_serial: 0,
        birth_date,
        passkeys: Vec::new(),
    };
    context.store.set(&model::user_key(&id), &user)?;
    if !context
        .store
        .insert_new(&model::email_key(&email_index), &id)?
    {
        context.store.delete(&model::user_key(&id))?;
        return Ok(None);
    }
    Ok(Some(user))
}

/// Checks a new password for `user` against the rules and the last five passwords, and
/// returns its hash. Problems name the `new_password` field.
fn new_password_hash(
    context: &Context,
    hasher: &PasswordHasher,
    user: &User,
    new_password: &str,
) -> Result<String, Problem> {
    let email = context.email_of(user)?;
    password::check_new_password(new_password, user.has_second_factor(), &[&email])
        .map_err(|rejection| password_problem(rejection, "new_password"))?;
    let recent = std::iter::once(&user.password_hash).chain(user.password_history.iter());
    for old in recent {
        let verification = hasher
            .verify(new_password, old)
            .map_err(|_| Problem::new(ProblemKind::Internal))?;
        if verification != Verification::Mismatch {
            return Err(password_problem(PasswordRejection::Reused, "new_password"));
        }
    }
    hasher
        .hash(new_password)
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))
}

/// Removes an account created in this request whose audit event could not be recorded, so
/// nothing unaudited remains: the email index first, so the address is free again.
fn undo_create(context: &Context, user: &User) -> Result<(), Problem> {
    context.store.delete(&model::email_key(&user.email_index))?;
    context.store.delete(&model::user_key(&user.id))?;
    Ok(())
}

#[derive(Deserialize)]
struct BootstrapBody {
    bootstrap_secret: String,
    email: String,
    password: String,
}

/// `POST /auth/bootstrap`: creates the first admin with the one-time secret from the
/// `bootstrap_secret` variable. Works once; an empty or unset variable turns it off.
pub async fn bootstrap(context: &Context, request: Request) -> Result<Response, Problem> {
    let body: BootstrapBody = portal_spin::edge::read_json(
        request,
        portal_spin::edge::MAX_JSON_BODY,
        &["bootstrap_secret", "email", "password"],
    )
    .await?;
    let refused = || {
        Problem::new(ProblemKind::Forbidden)
            .with_detail("bootstrap is not available; ask an administrator for an invitation")
    };
    let configured = spin_sdk::variables::get("bootstrap_secret")
        .await
        .unwrap_or_default();
    let configured = zeroize::Zeroizing::new(configured);
    // Comparing hashes keeps the comparison's time independent of where the strings differ.
    if configured.len() < 16
        || !secret::matches(
            Purpose::Bootstrap,
            &body.bootstrap_secret,
            &secret::hash(Purpose::Bootstrap, &configured),
        )
    {
        return Err(refused());
    }
    password::check_new_password(&body.password, false, &[&body.email])
        .map_err(|rejection| password_problem(rejection, "password"))?;
    context
        .sealer
        .index(FieldKind::Email, &body.email)
        .map_err(|_| invalid_email())?;
    let hash = hasher(context)?
        .hash(&body.password)
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    if !context
        .store
        .insert_new(model::BOOTSTRAP_USED_KEY, &context.now)?
    {
        return Err(refused());
    }
    let user = create_user(context, Role::Admin, &body.email, hash, None)
        .await?
        .ok_or_else(|| Problem::new(ProblemKind::Conflict).with_field("email"))?;
    context
        .audit(
            AuditActor::Anonymous,
            AuditAction::AccountChanged,
            (EntityType::User, user.id.as_str()),
            Outcome::Success,
            Some("bootstrap_admin"),
        )
        .await
        .or_else(|problem| {
            undo_create(context, &user)?;
            context.store.delete(model::BOOTSTRAP_USED_KEY)?;
            Err(problem)
        })?;
    Ok(portal_spin::json_no_store(
        StatusCode::CREATED,
        &serde_json::json!({ "user_id": user.id, "role": user.role }),
    ))
}

#[derive(Deserialize)]
struct RegisterBody {
    email: String,
    password: String,
    #[serde(default)]
    account: AccountKind,
    #[serde(default)]
    birth_date: Option<String>,
}

/// The kinds of account anyone may register.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AccountKind {
    /// A patient, with their own record.
    #[default]
    Patient,
    /// A parent, guardian, caregiver or representative, who reaches records only through
    /// grants.
    Proxy,
}

/// `POST /auth/register`: a patient, or a proxy, creates an account. A patient may give
/// their date of birth (`YYYY-MM-DD`), which the rules for guardians of minors need.
///
/// The answer is 202 whether or not the address already had an account, so registration
/// does not reveal who has one; the existing owner is notified instead.
pub async fn register(context: &Context, request: Request) -> Result<Response, Problem> {
    if let Some(address) = context.address {
        let window = context.now.div_euclid(context.settings.address_window_secs);
        let attempts = context
            .store
            .increment(&format!("register-addr:{address}:{window}"), 1)?;
        if attempts > context.settings.registrations_per_window {
            return Err(Problem::rate_limited(
                u64::try_from(context.settings.address_window_secs).unwrap_or(60),
            )
            .with_detail("too many registrations from this address; try again later"));
        }
    }
    let body: RegisterBody = portal_spin::edge::read_json(
        request,
        portal_spin::edge::MAX_JSON_BODY,
        &["email", "password", "account", "birth_date"],
    )
    .await?;
    let email = FieldKind::Email
        .normalize(&body.email)
        .map_err(|_| invalid_email())?;
    let birth_date = match (&body.birth_date, body.account) {
        (None, _) => None,
        (Some(text), AccountKind::Patient) => {
            Some(crate::proxies::check_birth_date(text, context.now)?)
        }
        (Some(_), AccountKind::Proxy) => {
            return Err(Problem::invalid_field("birth_date")
                .with_detail("a proxy account has no record of its own; leave birth_date out"));
        }
    };
    let role = match body.account {
        AccountKind::Patient => Role::Patient,
        AccountKind::Proxy => Role::Proxy,
    };
    password::check_new_password(&body.password, false, &[&email])
        .map_err(|rejection| password_problem(rejection, "password"))?;
    let hash = hasher(context)?
        .hash(&body.password)
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    // Both branches record one audit event and send one notice, so neither the answer nor
    // its timing tells whether the address already had an account.
    match create_user(context, role, &email, hash, birth_date).await? {
        Some(user) => {
            context
                .audit(
                    Context::actor(&user),
                    AuditAction::AccountChanged,
                    (EntityType::User, user.id.as_str()),
                    Outcome::Success,
                    Some("self_registration"),
                )
                .await
                .or_else(|problem| {
                    undo_create(context, &user)?;
                    Err(problem)
                })?;
            portal_spin::notify::send(
                Channel::Email,
                &email,
                "A portal account was created with this email address. If this was not you, contact the practice.",
            )
            .await;
        }
        None => {
            context
                .audit(
                    AuditActor::Anonymous,
                    AuditAction::AccountChanged,
                    (EntityType::User, "unknown"),
                    Outcome::MinorFailure,
                    Some("duplicate_registration"),
                )
                .await?;
            portal_spin::notify::send(
                Channel::Email,
                &email,
                "Someone tried to register a portal account with your email address. You already have one; sign in or reset your password.",
            )
            .await;
        }
    }
    Ok(portal_spin::json_no_store(
        StatusCode::ACCEPTED,
        &serde_json::json!({ "status": "registered if the address was new; sign in to continue" }),
    ))
}

#[derive(Deserialize)]
struct AcceptBody {
    invitation: String,
    password: String,
}

/// `POST /auth/invitations/accept`: creates a staff account from a single-use invitation.
pub async fn accept_invitation(context: &Context, request: Request) -> Result<Response, Problem> {
    let body: AcceptBody = portal_spin::edge::read_json(
        request,
        portal_spin::edge::MAX_JSON_BODY,
        &["invitation", "password"],
    )
    .await?;
    let invalid = || {
        Problem::invalid_field("invitation")
            .with_detail("the invitation is not valid, has expired or was already used")
    };
    let key = model::invitation_key(&secret::hash(Purpose::Invitation, &body.invitation));
    let invitation: Invitation = context.store.get(&key, "invitation")?.ok_or_else(invalid)?;
    if invitation.accepted_at.is_some() || context.now >= invitation.expires_at {
        return Err(invalid());
    }
    let email = context.sealer.reveal(
        "invitation",
        &invitation.email_index,
        FieldKind::Email,
        &crate::context::decode(&invitation.email)?,
    )?;
    // Staff must enrol a second factor, but have none yet, so the single-factor length applies.
    password::check_new_password(&body.password, false, &[&email])
        .map_err(|rejection| password_problem(rejection, "password"))?;
    let hash = hasher(context)?
        .hash(&body.password)
        .map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    // Claim the invitation first, so it cannot be used twice in parallel.
    let now = context.now;
    context.store.update(
        &key,
        "invitation",
        |current: Option<Invitation>| match current {
            Some(mut current) if current.accepted_at.is_none() && now < current.expires_at => {
                current.accepted_at = Some(now);
                Ok((Update::Set(current), ()))
            }
            _ => Err(invalid()),
        },
    )??;
    let unclaim = || -> Result<(), Problem> {
        context.store.update(
            &key,
            "invitation",
            |current: Option<Invitation>| match current {
                Some(mut current) => {
                    current.accepted_at = None;
                    Ok::<_, Problem>((Update::Set(current), ()))
                }
                None => Ok((Update::Keep, ())),
            },
        )??;
        Ok(())
    };
    let Some(user) = create_user(context, invitation.role, &email, hash, None).await? else {
        // The invitation stays usable, so an admin can sort out the existing account first.
        unclaim()?;
        return Err(Problem::new(ProblemKind::Conflict)
            .with_field("invitation")
            .with_detail("an account with this email address exists"));
    };
    context
        .audit(
            AuditActor::User {
                id: invitation.invited_by.clone(),
                role: Role::Admin,
            },
            AuditAction::AccountChanged,
            (EntityType::User, user.id.as_str()),
            Outcome::Success,
            Some("invitation_accepted"),
        )
        .await
        .or_else(|problem| {
            undo_create(context, &user)?;
            unclaim()?;
            Err(problem)
        })?;
    Ok(portal_spin::json_no_store(
        StatusCode::CREATED,
        &serde_json::json!({ "user_id": user.id, "role": user.role }),
    ))
}

/// `GET /auth/me`: the caller's account.
pub async fn me(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, true).await?;
    let teams = session::current_teams(&context.store, &caller.user.id)?;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &serde_json::json!({
            "user_id": caller.user.id,
            "role": caller.user.role,
            "second_factor_enrolled": caller.user.has_second_factor(),
            "recovery_codes_left": caller.user.recovery_codes.len(),
            "care_teams": teams,
            "session_id": caller.session.id,
            "auth_time": caller.session.auth_time,
        }),
    ))
}

#[derive(Deserialize)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// `POST /auth/password`: changes the password.
///
/// Needs the current password and, for accounts with a second factor, a recent one (step-up).
/// The last five passwords are refused. Every other session of the account ends, and the
/// user is notified.
pub async fn change_password(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    if caller.user.has_second_factor() {
        context.require_recent_second_factor(&caller)?;
    }
    let body: PasswordBody = portal_spin::edge::read_json(
        request,
        portal_spin::edge::MAX_JSON_BODY,
        &["current_password", "new_password"],
    )
    .await?;
    let hasher = hasher(context)?;
    let wrong = || {
        Problem::invalid_field("current_password")
            .with_detail("the current password is not correct")
    };
    context.begin_reauthentication(&caller).await?;
    if hasher
        .verify(&body.current_password, &caller.user.password_hash)
        .map_err(|_| Problem::new(ProblemKind::Internal))?
        == Verification::Mismatch
    {
        return Err(context.reauthentication_failed(&caller, wrong()).await);
    }
    context.reauthentication_passed(&caller)?;
    let new_hash = new_password_hash(context, &hasher, &caller.user, &body.new_password)?;
    // Privileged change: recorded before it is made.
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::PasswordChanged,
            (EntityType::User, caller.user.id.as_str()),
            Outcome::Success,
            None,
        )
        .await?;
    let verified_hash = caller.user.password_hash.clone();
    let new_epoch = context.store.update(
        &model::user_key(&caller.user.id),
        "user",
        |current: Option<User>| match current {
            Some(mut current) if current.password_hash == verified_hash => {
                let old = std::mem::replace(&mut current.password_hash, new_hash.clone());
                current.password_history.insert(0, old);
                current.password_history.truncate(PASSWORD_HISTORY);
                current.session_epoch += 1;
                let epoch = current.session_epoch;
                Ok((Update::Set(current), epoch))
            }
            _ => Err(Problem::new(ProblemKind::Conflict)
                .with_detail("the password changed during this request; try again")),
        },
    )??;
    // The new epoch ends every other session, including sign-ins still running; the caller's
    // session moves to it and goes on.
    session::move_to_epoch(&context.store, &caller.session.id, new_epoch)?;
    // The lockout counters are keyed by email, and a new password clears a lock.
    clear_sign_in_lock(context, &caller.user)?;
    session::end_all(
        &context.store,
        &caller.user.id,
        Some(&caller.session.id),
        context.now,
        EndReason::PasswordChanged,
    )?;
    context
        .notify(&caller.user, "The password of your portal account was changed. If this was not you, contact the practice.")
        .await;
    Ok(portal_spin::empty(StatusCode::NO_CONTENT))
}

#[derive(Deserialize)]
struct DestinationBody {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// `PUT /auth/notification-destination`: where security and message notices go, an email
/// address or a phone number for SMS. Needs a recent authentication (step-up when a second
/// factor is enrolled). Both the old and the new destination are told of the change.
pub async fn set_destination(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    context.require_recent_authentication(&caller)?;
    let body: DestinationBody = portal_spin::edge::read_json(
        request,
        portal_spin::edge::MAX_JSON_BODY,
        &["email", "phone"],
    )
    .await?;
    let (channel, kind, value, field) = match (&body.email, &body.phone) {
        (Some(email), None) => (Channel::Email, FieldKind::Email, email, "email"),
        (None, Some(phone)) => (Channel::Sms, FieldKind::Phone, phone, "phone"),
        _ => {
            return Err(Problem::new(ProblemKind::BadRequest)
                .with_detail("send exactly one of email and phone"));
        }
    };
    let protected = context
        .sealer
        .protect(
            &context.store,
            "notify",
            caller.user.id.as_str(),
            kind,
            value,
        )
        .map_err(|_| match field {
            "email" => invalid_email(),
            _ => Problem::invalid_field("phone")
                .with_detail("enter the number with '+' and the country code"),
        })?;
    let old = context.destination_of(&caller.user)?;
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::NotificationDestinationChanged,
            (EntityType::User, caller.user.id.as_str()),
            Outcome::Success,
            None,
        )
        .await?;
    let stored = (channel, encode(&protected.ciphertext));
    context.store.update(
        &model::user_key(&caller.user.id),
        "user",
        |current: Option<User>| {
            let Some(mut current) = current else {
                return Err(Problem::new(ProblemKind::Unauthenticated));
            };
            current.notify_to = Some(stored.clone());
            Ok((Update::Set(current), ()))
        },
    )??;
    const CHANGED: &str = "The notification destination of your portal account was changed. If this was not you, contact the practice.";
    portal_spin::notify::send(old.0, &old.1, CHANGED).await;
    if let Ok(normalized) = kind.normalize(value) {
        portal_spin::notify::send(channel, &normalized, CHANGED).await;
    }
    Ok(portal_spin::empty(StatusCode::NO_CONTENT))
}

#[derive(Deserialize)]
struct ResetBody {
    reset_token: String,
    new_password: String,
}

/// `POST /auth/password/reset`: sets a new password with a single-use reset an admin issued.
///
/// The account keeps its second factor, so the next sign-in still needs it: a reset never
/// bypasses multi-factor authentication. Every session ends and the sign-in lock clears.
pub async fn reset_password(context: &Context, request: Request) -> Result<Response, Problem> {
    let body: ResetBody = portal_spin::edge::read_json(
        request,
        portal_spin::edge::MAX_JSON_BODY,
        &["reset_token", "new_password"],
    )
    .await?;
    let invalid = || {
        Problem::invalid_field("reset_token")
            .with_detail("the reset is not valid, has expired or was already used")
    };
    let key = model::reset_key(&secret::hash(Purpose::PasswordReset, &body.reset_token));
    let reset: model::PasswordReset = context
        .store
        .get(&key, "password reset")?
        .ok_or_else(invalid)?;
    if reset.used_at.is_some() || context.now >= reset.expires_at {
        return Err(invalid());
    }
    let user = context.load_user(&reset.user)?.ok_or_else(invalid)?;
    // A newer reset, or a password or role change since, voids this one.
    if reset.serial != user.reset_serial || reset.epoch != user.session_epoch {
        return Err(invalid());
    }
    let hasher = hasher(context)?;
    let new_hash = new_password_hash(context, &hasher, &user, &body.new_password)?;
    context
        .audit(
            Context::actor(&user),
            AuditAction::PasswordChanged,
            (EntityType::User, user.id.as_str()),
            Outcome::Success,
            Some("admin_reset"),
        )
        .await?;
    let now = context.now;
    context.store.update(
        &key,
        "password reset",
        |current: Option<model::PasswordReset>| match current {
            Some(mut current) if current.used_at.is_none() && now < current.expires_at => {
                current.used_at = Some(now);
                Ok((Update::Set(current), ()))
            }
            _ => Err(invalid()),
        },
    )??;

    context.store.update(
        &model::user_key(&user.id),
        "user",
        |current: Option<User>| {
            let Some(mut current) = current else {
                return Err(invalid());
            };
            let old = std::mem::replace(&mut current.password_hash, new_hash.clone());
            current.password_history.insert(0, old);
            current.password_history.truncate(PASSWORD_HISTORY);
            current.session_epoch += 1;
            Ok((Update::Set(current), ()))
        },
    )??;
    clear_sign_in_lock(context, &user)?;
    session::end_all(
        &context.store,
        &user.id,
        None,
        context.now,
        EndReason::PasswordChanged,
    )?;
    context
        .notify(&user, "The password of your portal account was reset. If you did not ask for this, contact the practice.")
        .await;
    Ok(portal_spin::empty(StatusCode::NO_CONTENT))
}

/// Deletes an account's sign-in failure counters and backoff gate.
pub fn clear_sign_in_lock(context: &Context, user: &User) -> Result<(), Problem> {
    let account_key = format!("fail:{}", user.email_index);
    context
        .store
        .delete(&crate::login::confirmed_key(&account_key))?;
    context.store.delete(&account_key)?;
    context
        .store
        .delete(&format!("gate:{}", user.email_index))?;
    Ok(())
}
