//! `audit-verify`: checks an exported audit log against its signed checkpoint, or an older
//! checkpoint against a newer one, offline.
//!
//! Usage:
//! - `audit-verify --export FILE --checkpoint FILE --key VERIFIER_KEY --origin ORIGIN` checks
//!   that every entry the checkpoint covers is in the export, in order and unaltered.
//! - `audit-verify --older-checkpoint FILE --checkpoint FILE --consistency-proof FILE --key
//!   VERIFIER_KEY --origin ORIGIN` checks that the newer checkpoint's tree extends the older
//!   one's. The proof file is the JSON that `GET /audit/proof/consistency` returns.
//!
//! Exits 0 when the check passes, 1 when it fails (each problem printed, with its index for
//! an export), and 2 when a checkpoint itself does not verify or the arguments are wrong.

use std::process::ExitCode;

use base64ct::{Base64, Encoding};
use portal_auditlog::{CheckpointVerifier, ExportFailure, Hash, verify_export};

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("audit-verify: {message}");
            ExitCode::from(2)
        }
    }
}

const USAGE: &str = "usage: audit-verify --export FILE --checkpoint FILE --key VERIFIER_KEY --origin ORIGIN\n\
       audit-verify --older-checkpoint FILE --checkpoint FILE --consistency-proof FILE --key VERIFIER_KEY --origin ORIGIN";

#[derive(Default)]
struct Arguments {
    export: Option<String>,
    checkpoint: Option<String>,
    older_checkpoint: Option<String>,
    consistency_proof: Option<String>,
    key: Option<String>,
    origin: Option<String>,
}

fn run() -> Result<bool, String> {
    let mut arguments = Arguments::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--export" => &mut arguments.export,
            "--checkpoint" => &mut arguments.checkpoint,
            "--older-checkpoint" => &mut arguments.older_checkpoint,
            "--consistency-proof" => &mut arguments.consistency_proof,
            "--key" => &mut arguments.key,
            "--origin" => &mut arguments.origin,
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(true);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        };
        *slot = Some(args.next().ok_or(format!("{flag} needs a value"))?);
    }
    let (Some(checkpoint), Some(key), Some(origin)) = (
        arguments.checkpoint.as_deref(),
        arguments.key.as_deref(),
        arguments.origin.as_deref(),
    ) else {
        return Err(USAGE.to_owned());
    };
    let verifier = CheckpointVerifier::from_verifier_key(key).map_err(|e| e.to_string())?;
    match (
        arguments.export.as_deref(),
        arguments.older_checkpoint.as_deref(),
        arguments.consistency_proof.as_deref(),
    ) {
        (Some(export), None, None) => check_export(export, checkpoint, &verifier, origin),
        (None, Some(older), Some(proof)) => {
            check_consistency(older, checkpoint, proof, &verifier, origin)
        }
        _ => Err(USAGE.to_owned()),
    }
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|error| format!("failed to read {path}: {error}"))
}

fn check_export(
    export: &str,
    checkpoint: &str,
    verifier: &CheckpointVerifier,
    origin: &str,
) -> Result<bool, String> {
    let report = verify_export(&read(export)?, &read(checkpoint)?, verifier, origin)
        .map_err(|error| format!("checkpoint rejected: {error}"))?;

    println!(
        "checkpoint: {} entries of {}; {} entries verified",
        report.checkpoint.size, report.checkpoint.origin, report.verified
    );
    for failure in &report.failures {
        match failure {
            ExportFailure::Malformed { line } => println!("line {line}: not an export line"),
            ExportFailure::Altered { index } => {
                println!("entry {index}: altered (does not match the signed root)")
            }
            ExportFailure::OutOfOrder { line, index } => {
                println!("line {line}: entry {index} is out of order")
            }
            ExportFailure::Missing { index } => println!("entry {index}: missing"),
        }
    }
    Ok(report.is_intact())
}

/// The body of `GET /audit/proof/consistency`.
#[derive(serde::Deserialize)]
struct ConsistencyProof {
    first: u64,
    second: u64,
    proof: Vec<String>,
}

fn check_consistency(
    older: &str,
    newer: &str,
    proof: &str,
    verifier: &CheckpointVerifier,
    origin: &str,
) -> Result<bool, String> {
    let older = verifier
        .verify(&read(older)?, origin)
        .map_err(|error| format!("older checkpoint rejected: {error}"))?;
    let newer = verifier
        .verify(&read(newer)?, origin)
        .map_err(|error| format!("checkpoint rejected: {error}"))?;
    let proof: ConsistencyProof = serde_json::from_str(&read(proof)?)
        .map_err(|error| format!("the consistency proof is not the route's JSON: {error}"))?;
    if (proof.first, proof.second) != (older.size, newer.size) {
        return Err(format!(
            "the proof is for sizes {} and {}, the checkpoints have {} and {}",
            proof.first, proof.second, older.size, newer.size
        ));
    }
    let mut path = Vec::with_capacity(proof.proof.len());
    for hash in &proof.proof {
        let hash: Hash = Base64::decode_vec(hash)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or("the consistency proof holds a hash that is not 32 bytes of base64")?;
        path.push(hash);
    }
    let consistent =
        portal_merkle::verify_consistency(older.size, newer.size, &older.root, &newer.root, &path)
            .is_ok();
    if consistent {
        println!(
            "checkpoint of {} entries extends the checkpoint of {} entries of {}",
            newer.size, older.size, newer.origin
        );
    } else {
        println!(
            "checkpoint of {} entries does not extend the checkpoint of {} entries: the log was rewritten",
            newer.size, older.size
        );
    }
    Ok(consistent)
}
