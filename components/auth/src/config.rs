//! The auth component's settings, read from Spin variables on each request.

use portal_auth::password::HashParams;
use portal_auth::throttle::Schedule;
use portal_problem::{Problem, ProblemKind};

/// Settings with their defaults; see `spin.toml` for the variables.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Access token lifetime, seconds (300 to 900).
    pub access_ttl_secs: i64,
    /// Session idle timeout, seconds.
    pub idle_timeout_secs: i64,
    /// Session absolute lifetime, seconds.
    pub absolute_lifetime_secs: i64,
    /// Step-up window, seconds.
    pub step_up_window_secs: i64,
    /// Invitation lifetime, seconds.
    pub invitation_ttl_secs: i64,
    /// Argon2id parameters.
    pub hash_params: HashParams,
    /// Login throttle schedule per account.
    pub schedule: Schedule,
    /// Failed sign-ins allowed per client address per window.
    pub address_failures_per_window: i64,
    /// Length of the per-address window, seconds.
    pub address_window_secs: i64,
    /// Registrations allowed per client address per window.
    pub registrations_per_window: i64,
    /// Name shown in authenticator apps.
    pub totp_issuer: String,
}

async fn number(name: &str, default: i64) -> Result<i64, Problem> {
    match spin_sdk::variables::get(name).await {
        Ok(value) if value.is_empty() => Ok(default),
        Ok(value) => value.trim().parse().map_err(|_| {
            eprintln!("variable {name} is not a whole number");
            Problem::new(ProblemKind::ServiceUnavailable)
        }),
        Err(_) => Ok(default),
    }
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value.max(0)).unwrap_or(0)
}

impl Settings {
    /// Reads every setting; values outside their safe range are clamped into it.
    pub async fn load() -> Result<Self, Problem> {
        let hash_params = HashParams {
            memory_kib: to_u32(number("argon2_memory_kib", 19 * 1024).await?),
            iterations: to_u32(number("argon2_iterations", 2).await?),
            parallelism: to_u32(number("argon2_parallelism", 1).await?),
        };
        if !hash_params.meets_minimum() {
            eprintln!("Argon2 parameters are below OWASP's minimum");
            return Err(Problem::new(ProblemKind::ServiceUnavailable));
        }
        let schedule = Schedule {
            free_attempts: to_u64(number("login_free_attempts", 5).await?),
            base_delay_secs: number("login_base_delay_secs", 30).await?,
            max_delay_secs: number("login_max_delay_secs", 15 * 60).await?,
            lock_after: to_u64(number("login_lock_after", 100).await?),
        }
        .clamped();
        Ok(Self {
            access_ttl_secs: number("access_token_ttl_secs", 600).await?.clamp(300, 900),
            idle_timeout_secs: number("session_idle_timeout_secs", 15 * 60).await?.max(60),
            absolute_lifetime_secs: number("session_absolute_lifetime_secs", 12 * 3600)
                .await?
                .max(300),
            step_up_window_secs: number("step_up_window_secs", 600).await?.clamp(60, 3600),
            invitation_ttl_secs: number("invitation_ttl_secs", 72 * 3600).await?.max(300),
            hash_params,
            schedule,
            address_failures_per_window: number("login_address_failures", 50).await?.max(1),
            address_window_secs: number("login_address_window_secs", 15 * 60).await?.max(60),
            registrations_per_window: number("register_address_limit", 20).await?.max(1),
            totp_issuer: spin_sdk::variables::get("totp_issuer")
                .await
                .unwrap_or_else(|_| "Patient Portal".to_owned()),
        })
    }
}
