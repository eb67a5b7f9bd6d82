//! Checkpoints on a cadence. The ingest role requests a signed, archived checkpoint from the
//! private `audit-checkpoint` component after every N appends and after the first append of
//! every T-second window. So while events arrive, the archive never lags the log by more than
//! N entries or T seconds, and when none arrive, the last checkpoint covers the whole log.
//!
//! `audit_checkpoint_every_entries` sets N (default 1000) and `audit_checkpoint_every_secs`
//! sets T (default 300). A failed request is logged and never fails the append: the next
//! trigger, or a client's `GET /audit/checkpoint`, signs a checkpoint that covers it.

use portal_spin::kv::Store;

use crate::STORE;

/// Default number of appends between checkpoints.
const DEFAULT_EVERY_ENTRIES: u64 = 1000;

/// Default maximum seconds between checkpoints while events arrive.
const DEFAULT_EVERY_SECS: i64 = 300;

async fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match spin_sdk::variables::get(name).await {
        Ok(value) if !value.is_empty() => value.parse().unwrap_or_else(|_| {
            eprintln!("variable {name} is not a whole number; using the default");
            default
        }),
        _ => default,
    }
}

/// Requests a checkpoint if a commit that took the log through the sizes in `sizes` is due
/// one.
pub async fn after_append(sizes: std::ops::RangeInclusive<u64>, now_secs: i64) {
    let every_entries = setting("audit_checkpoint_every_entries", DEFAULT_EVERY_ENTRIES)
        .await
        .max(1);
    let every_secs = setting("audit_checkpoint_every_secs", DEFAULT_EVERY_SECS)
        .await
        .max(1);
    // Every size is reached by exactly one commit, so exactly one commit passes each multiple
    // of N.
    let by_count = sizes.start().div_ceil(every_entries) <= sizes.end() / every_entries;
    let by_time = !by_count && first_in_window(now_secs.div_euclid(every_secs));
    if by_count || by_time {
        request_checkpoint().await;
    }
}

/// Returns whether this append is the first of its time window, claimed with an
/// insert-if-absent so that one append in each window triggers.
fn first_in_window(window: i64) -> bool {
    let Ok(store) = Store::open(STORE) else {
        return false;
    };
    // NOTE: one small key per window is kept; nothing removes old windows yet.
    store
        .insert_new(&format!("checkpoint-window:{window}"), &true)
        .unwrap_or(false)
}

async fn request_checkpoint() {
    let base = spin_sdk::variables::get("audit_checkpoint_url")
        .await
        .unwrap_or_default();
    if base.is_empty() {
        return;
    }
    let Ok(request) = http::Request::post(format!("{}/checkpoint", base.trim_end_matches('/')))
        .body(spin_sdk::http::FullBody::new(bytes::Bytes::new()))
    else {
        eprintln!("variable audit_checkpoint_url is not a valid URL");
        return;
    };
    match spin_sdk::http::send(request).await {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => eprintln!(
            "scheduled checkpoint failed with status {}",
            response.status().as_u16()
        ),
        Err(_) => eprintln!("checkpoint component unreachable"),
    }
}
