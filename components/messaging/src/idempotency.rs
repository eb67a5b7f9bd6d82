//! `Idempotency-Key` handling for the two requests that create messages.
//!
//! The first request with a key claims it with insert-if-absent and records the ids it will
//! write, before it writes anything. A retry with the same key and request gets the first
//! result; with another request it gets 422. A retry that arrives while the first request
//! runs gets 409; one that arrives after the first request crashed takes the claim over and
//! writes under the same ids, and every write below it accepts a record it finds already
//! written, so the message exists once.

use base64ct::{Base64, Encoding};
use portal_policy::{MessageId, ThreadId, UserId};
use portal_problem::{Problem, ProblemKind};
use portal_spin::kv::{Store, Update};
use sha2::{Digest, Sha256};
use spin_sdk::http::Request;

use crate::context::Context;
use crate::model::{self, IdempotencyRecord};

/// Maximum key length, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// How long a key is remembered, in seconds. A key older than this is free again.
pub const RETENTION_SECS: i64 = 24 * 3600;

/// How long a started request holds its key before a retry may take it over, in seconds.
pub const TAKEOVER_AFTER_SECS: i64 = 60;

/// What to do with a request.
#[derive(Debug)]
pub enum Claim {
    /// Do the work under these ids, then call [`finish`].
    Proceed {
        /// Thread to write to.
        thread: ThreadId,
        /// Message to write.
        message: MessageId,
        /// The store key of the claim, if the request carried a key.
        key: Option<String>,
    },
    /// The work was done by an earlier request, whose result is the response.
    Replay {
        /// The thread written.
        thread: ThreadId,
        /// The message written.
        message: MessageId,
    },
}

/// The store key of the request's `Idempotency-Key`, if it carries one.
pub fn key_of(request: &Request, user: &UserId) -> Result<Option<String>, Problem> {
    let mut values = request.headers().get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = || {
        Problem::new(ProblemKind::BadRequest)
            .with_field("Idempotency-Key")
            .with_limit(MAX_KEY_LEN as u64)
            .with_detail("send one Idempotency-Key of 1 to 255 visible ASCII characters")
    };
    if values.next().is_some() {
        return Err(invalid());
    }
    let text = value.to_str().map_err(|_| invalid())?;
    if text.is_empty() || text.len() > MAX_KEY_LEN || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid());
    }
    let hashed = hex(&Sha256::digest(text.as_bytes()));
    Ok(Some(model::idempotency_key(user, &hashed)))
}

/// Fingerprints a request by its method, path and body.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [method.as_bytes(), path.as_bytes(), body] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex(&hasher.finalize())
}

/// Record type of a sealed fingerprint.
const FINGERPRINT_RECORD: &str = "idempotency-fingerprint";

/// Claims `key` for a request with `fingerprint` that would write `fresh` ids. The
/// fingerprint is stored sealed, because a plain hash of a short message would let anyone who
/// reads the store confirm a guess of its text.
pub fn claim(
    cx: &Context,
    key: Option<String>,
    fingerprint: &str,
    fresh: (ThreadId, MessageId),
) -> Result<Claim, Problem> {
    let Some(key) = key else {
        return Ok(Claim::Proceed {
            thread: fresh.0,
            message: fresh.1,
            key: None,
        });
    };
    let now = cx.now;
    let sealed = Base64::encode_string(&cx.sealer.seal(
        &cx.store,
        FINGERPRINT_RECORD,
        &key,
        fingerprint.as_bytes(),
    )?);
    let same_request = |stored: &str| {
        Base64::decode_vec(stored)
            .ok()
            .and_then(|envelope| cx.sealer.open(FINGERPRINT_RECORD, &key, &envelope).ok())
            .is_some_and(|opened| opened.as_slice() == fingerprint.as_bytes())
    };
    cx.store
        .update::<IdempotencyRecord, Claim, Problem>(&key, "idempotency", |current| {
            let new_claim = || IdempotencyRecord {
                fingerprint: sealed.clone(),
                created_at: now,
                started_at: now,
                thread: fresh.0.clone(),
                message: fresh.1.clone(),
                done: false,
            };
            let proceed = |record: &IdempotencyRecord| Claim::Proceed {
                thread: record.thread.clone(),
                message: record.message.clone(),
                key: Some(key.clone()),
            };
            match current {
                Some(record) if now.saturating_sub(record.created_at) < RETENTION_SECS => {
                    if !same_request(&record.fingerprint) {
                        return Err(Problem::new(ProblemKind::InvalidField)
                        .with_field("Idempotency-Key")
                        .with_detail(
                            "this Idempotency-Key was used for a different request; use a new key",
                        ));
                    }
                    if record.done {
                        return Ok((
                            Update::Keep,
                            Claim::Replay {
                                thread: record.thread,
                                message: record.message,
                            },
                        ));
                    }
                    if now.saturating_sub(record.started_at) < TAKEOVER_AFTER_SECS {
                        return Err(Problem::new(ProblemKind::Conflict)
                            .with_retry_after(TAKEOVER_AFTER_SECS as u64)
                            .with_detail(
                                "a request with this Idempotency-Key is still running; retry later",
                            ));
                    }
                    let taken_over = IdempotencyRecord {
                        started_at: now,
                        ..record
                    };
                    let claim = proceed(&taken_over);
                    Ok((Update::Set(taken_over), claim))
                }
                _ => {
                    let record = new_claim();
                    let claim = proceed(&record);
                    Ok((Update::Set(record), claim))
                }
            }
        })?
}

/// Marks the claim at `key` done, so retries replay it.
pub fn finish(store: &Store, key: Option<&str>) -> Result<(), Problem> {
    let Some(key) = key else {
        return Ok(());
    };
    store.update::<IdempotencyRecord, (), Problem>(key, "idempotency", |current| {
        let Some(record) = current else {
            return Ok((Update::Keep, ()));
        };
        Ok((
            Update::Set(IdempotencyRecord {
                done: true,
                ..record
            }),
            (),
        ))
    })??;
    Ok(())
}

/// Releases the claim at `key` after the request failed before writing anything, so a retry
/// starts afresh at once.
pub fn release(store: &Store, key: Option<&str>) {
    if let Some(key) = key
        && let Err(error) =
            store.update::<IdempotencyRecord, (), Problem>(key, "idempotency", |current| {
                match current {
                    Some(record) if !record.done => Ok((Update::Delete, ())),
                    _ => Ok((Update::Keep, ())),
                }
            })
    {
        eprintln!("{error}");
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}
