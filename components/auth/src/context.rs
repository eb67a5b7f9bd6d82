//! Per-request context for every handler: the store, settings, keys, clock, and the caller.

use std::net::IpAddr;

use portal_audit::{AuditAction, AuditActor, AuditEvent, Component, Entity, EntityType, Outcome};
use portal_crypto::Domain;
use portal_policy::{PurposeOfUse, RequestId, Role, UserId};
use portal_problem::{Problem, ProblemKind};
use portal_spin::crypto::Sealer;
use portal_spin::kv::Store;
use portal_spin::notify::Channel;
use portal_tokens::{SigningKey, TokenIssuer};
use spin_sdk::http::Request;

use crate::config::Settings;
use crate::model::{self, AccountStatus, Session, User};

/// Per-request state.
pub struct Context {
    /// The component's store.
    pub store: Store,
    /// Settings.
    pub settings: Settings,
    /// Keys for the auth data domain.
    pub sealer: Sealer,
    /// Unix seconds at the start of the request.
    pub now: i64,
    /// Client address.
    pub address: Option<IpAddr>,
    /// Id of this request in audit events.
    pub request_id: RequestId,
    /// `User-Agent`, shortened, for the session list.
    pub device: String,
}

/// A caller whose token, proof, session and account all checked out.
pub struct Authenticated {
    /// The session record.
    pub session: Session,
    /// The account.
    pub user: User,
}

/// Wrong passwords or codes a session may give before it is ended.
pub const MAX_REAUTH_FAILURES: i64 = 5;

/// Longest device description kept from `User-Agent`.
const MAX_DEVICE_LEN: usize = 120;

impl Context {
    /// Opens the store and reads settings and keys.
    pub async fn load(request: &Request) -> Result<Self, Problem> {
        let store = Store::open(model::STORE)?;
        let settings = Settings::load().await?;
        let sealer = Sealer::load(Domain::Auth).await?;
        let request_id = portal_auth::secret::new_id(12)
            .ok()
            .and_then(|id| RequestId::new(id).ok())
            .ok_or_else(|| Problem::new(ProblemKind::ServiceUnavailable))?;
        let device: String = portal_spin::edge::header(request, "user-agent")
            .unwrap_or("unknown device")
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_DEVICE_LEN)
            .collect();
        Ok(Self {
            store,
            settings,
            sealer,
            now: portal_spin::now_secs(),
            address: portal_spin::edge::client_address(request),
            request_id,
            device,
        })
    }

    /// Records an audit event about `entity`. Fails closed: the caller returns the error
    /// and does not complete its action.
    pub async fn audit(
        &self,
        actor: AuditActor,
        action: AuditAction,
        entity: (EntityType, &str),
        outcome: Outcome,
        reason: Option<&'static str>,
    ) -> Result<(), Problem> {
        let purpose = match &actor {
            AuditActor::User {
                role: Role::Admin, ..
            } => PurposeOfUse::SystemAdministration,
            AuditActor::User {
                role: Role::ComplianceOfficer,
                ..
            } => PurposeOfUse::Compliance,
            _ => PurposeOfUse::Operations,
        };
        let event = AuditEvent {
            actor,
            on_behalf_of: None,
            action,
            entity: Entity {
                kind: entity.0,
                id: entity.1.to_owned(),
            },
            patient: None,
            outcome,
            claimed_time_ms: self.now.saturating_mul(1000),
            source_address: self.address,
            purpose,
            component: Component::Auth,
            request_id: self.request_id.clone(),
            reason: reason.map(str::to_owned),
            justification: None,
        };
        portal_spin::audit::record(&event).await
    }

    /// The signer of access tokens, from `token_signing_kid` and `token_signing_key`.
    pub async fn issuer(&self) -> Result<TokenIssuer, Problem> {
        let kid = spin_sdk::variables::get("token_signing_kid").await;
        let seed = spin_sdk::variables::get("token_signing_key").await;
        let (Ok(kid), Ok(seed)) = (kid, seed) else {
            eprintln!("token signing variables are not set");
            return Err(Problem::new(ProblemKind::ServiceUnavailable));
        };
        let seed = zeroize::Zeroizing::new(seed);
        let key = SigningKey::from_seed_base64(&kid, &seed).map_err(|_| {
            eprintln!("token_signing_key is not a base64 Ed25519 seed");
            Problem::new(ProblemKind::ServiceUnavailable)
        })?;
        Ok(TokenIssuer::new(portal_spin::access::TOKEN_ISSUER, key))
    }

    /// Authenticates the request's caller against this component's own records.
    ///
    /// `enrolment_allowed` admits sessions that may only enrol a second factor.
    pub async fn authenticate(
        &self,
        request: &Request,
        enrolment_allowed: bool,
    ) -> Result<Authenticated, Problem> {
        let verifier = portal_spin::access::verifier().await?;
        let url = portal_spin::edge::request_url(request).await?;
        let token =
            portal_spin::access::verify_request(request, &url, &verifier, &self.store, self.now)?;
        let session: Session = self
            .store
            .get(&model::session_key(&token.session), "session")?
            .ok_or_else(ended)?;
        if !self.session_usable(&session) || session.user != token.user {
            return Err(ended());
        }
        if session.enrolment_only && !enrolment_allowed {
            return Err(Problem::new(ProblemKind::Forbidden)
                .with_detail("enrol a second factor before using the portal"));
        }
        let user = self.load_user(&token.user)?.ok_or_else(ended)?;
        if user.status != AccountStatus::Active || session.epoch != user.session_epoch {
            return Err(ended());
        }
        Ok(Authenticated { session, user })
    }

    /// Whether a session has not ended and is within its idle and absolute limits.
    pub fn session_usable(&self, session: &Session) -> bool {
        session.ended.is_none()
            && self.now
                < session
                    .created_at
                    .saturating_add(self.settings.absolute_lifetime_secs)
            && self.now
                < session
                    .last_seen_at
                    .saturating_add(self.settings.idle_timeout_secs)
    }

    /// Reads a user record.
    pub fn load_user(&self, user: &UserId) -> Result<Option<User>, Problem> {
        Ok(self.store.get(&model::user_key(user), "user")?)
    }

    /// Requires a recent strong authentication: `auth_time` within the step-up window and a
    /// second factor among the session's methods.
    pub fn require_recent_second_factor(&self, caller: &Authenticated) -> Result<(), Problem> {
        let recent = self.now - caller.session.auth_time <= self.settings.step_up_window_secs;
        let strong = caller.session.amr.iter().any(|method| method == "mfa");
        if recent && strong {
            Ok(())
        } else {
            Err(Problem::new(ProblemKind::StepUpRequired))
        }
    }

    /// The audit actor for a user.
    pub fn actor(user: &User) -> AuditActor {
        AuditActor::User {
            id: user.id.clone(),
            role: user.role,
        }
    }

    /// Decrypts a user's email.
    pub fn email_of(&self, user: &User) -> Result<zeroize::Zeroizing<String>, Problem> {
        let envelope = decode(&user.email)?;
        self.sealer.reveal(
            "user",
            user.id.as_str(),
            portal_crypto::FieldKind::Email,
            &envelope,
        )
    }

    /// The user's notification destination: the one they chose, or the account email.
    pub fn destination_of(
        &self,
        user: &User,
    ) -> Result<(Channel, zeroize::Zeroizing<String>), Problem> {
        match &user.notify_to {
            Some((channel, envelope)) => {
                let kind = match channel {
                    Channel::Email => portal_crypto::FieldKind::Email,
                    Channel::Sms => portal_crypto::FieldKind::Phone,
                };
                let value =
                    self.sealer
                        .reveal("notify", user.id.as_str(), kind, &decode(envelope)?)?;
                Ok((*channel, value))
            }
            None => Ok((Channel::Email, self.email_of(user)?)),
        }
    }

    /// Sends a generic security notice to the user's destination, if notifications are set
    /// up. The text never names the user or any record.
    pub async fn notify(&self, user: &User, text: &'static str) {
        if let Ok((channel, destination)) = self.destination_of(user) {
            portal_spin::notify::send(channel, &destination, text).await;
        }
    }

    /// Takes a number for a password or code check by a signed-in caller (step-up, password
    /// change, enrolment) before the check runs, so parallel guesses cannot all get in. Past
    /// [`MAX_REAUTH_FAILURES`] the session ends, so a stolen session cannot guess its way to a
    /// fresh `auth_time`.
    pub async fn begin_reauthentication(&self, caller: &Authenticated) -> Result<(), Problem> {
        let failures = self.store.increment(&reauth_key(caller), 1)?;
        if failures > MAX_REAUTH_FAILURES {
            return Err(self.end_guessing_session(caller).await);
        }
        Ok(())
    }

    /// Gives back the number taken by [`Self::begin_reauthentication`] after a right answer.
    pub fn reauthentication_passed(&self, caller: &Authenticated) -> Result<(), Problem> {
        self.store.increment(&reauth_key(caller), -1)?;
        Ok(())
    }

    /// Keeps the number after a wrong answer; the last allowed failure ends the session.
    /// Returns the problem to answer with.
    pub async fn reauthentication_failed(
        &self,
        caller: &Authenticated,
        problem: Problem,
    ) -> Problem {
        match self.store.counter(&reauth_key(caller)) {
            Ok(failures) if failures >= MAX_REAUTH_FAILURES => {
                self.end_guessing_session(caller).await
            }
            Ok(_) => problem,
            Err(error) => Problem::from(error),
        }
    }

    async fn end_guessing_session(&self, caller: &Authenticated) -> Problem {
        if let Err(problem) = crate::session::end_session(
            &self.store,
            &caller.session.id,
            self.now,
            crate::model::EndReason::Revoked,
        ) {
            return problem;
        }
        let _ = self
            .audit(
                Self::actor(&caller.user),
                portal_audit::AuditAction::SessionRevoked,
                (EntityType::Session, caller.session.id.as_str()),
                Outcome::SeriousFailure,
                Some("reauthentication_failures"),
            )
            .await;
        ended()
    }

    /// Requires a recent authentication (`auth_time` within the step-up window), with a
    /// second factor if the account has one.
    pub fn require_recent_authentication(&self, caller: &Authenticated) -> Result<(), Problem> {
        if caller.user.has_second_factor() {
            return self.require_recent_second_factor(caller);
        }
        if self.now - caller.session.auth_time <= self.settings.step_up_window_secs {
            Ok(())
        } else {
            Err(Problem::new(ProblemKind::StepUpRequired)
                .with_detail("sign in again to confirm it is you, then retry"))
        }
    }
}

fn reauth_key(caller: &Authenticated) -> String {
    format!("reauth-fail:{}", caller.session.id.as_str())
}

fn ended() -> Problem {
    Problem::new(ProblemKind::Unauthenticated).with_detail("the session has ended; sign in again")
}

/// Decodes a base64 envelope from a record.
pub fn decode(text: &str) -> Result<Vec<u8>, Problem> {
    use base64ct::{Base64, Encoding};
    Base64::decode_vec(text).map_err(|_| {
        eprintln!("stored envelope is not base64");
        Problem::new(ProblemKind::Internal)
    })
}

/// Encodes an envelope for a record.
pub fn encode(bytes: &[u8]) -> String {
    use base64ct::{Base64, Encoding};
    Base64::encode_string(bytes)
}
