//! `audit-verify`: checks an exported audit log against its signed checkpoint, offline.
//!
//! Usage: `audit-verify --export FILE --checkpoint FILE --key VERIFIER_KEY --origin ORIGIN`
//!
//! Exits 0 when every entry the checkpoint covers is present, in order and unaltered, 1 when
//! the export has problems (each printed with its index), and 2 when the checkpoint itself does
//! not verify or the arguments are wrong.

use std::process::ExitCode;

use portal_auditlog::{CheckpointVerifier, ExportFailure, verify_export};

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

fn run() -> Result<bool, String> {
    let mut export = None;
    let mut checkpoint = None;
    let mut key = None;
    let mut origin = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--export" => &mut export,
            "--checkpoint" => &mut checkpoint,
            "--key" => &mut key,
            "--origin" => &mut origin,
            other => return Err(format!("unknown argument {other:?}")),
        };
        *slot = Some(args.next().ok_or(format!("{flag} needs a value"))?);
    }
    let usage =
        "usage: audit-verify --export FILE --checkpoint FILE --key VERIFIER_KEY --origin ORIGIN";
    let (Some(export), Some(checkpoint), Some(key), Some(origin)) =
        (export, checkpoint, key, origin)
    else {
        return Err(usage.to_owned());
    };

    let read = |path: &str| {
        std::fs::read_to_string(path).map_err(|error| format!("failed to read {path}: {error}"))
    };
    let verifier = CheckpointVerifier::from_verifier_key(&key).map_err(|e| e.to_string())?;
    let report = verify_export(&read(&export)?, &read(&checkpoint)?, &verifier, &origin)
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
