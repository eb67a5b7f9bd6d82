//! Walks through the portal as the README describes, against a portal you started. The steps
//! cover an admin, a care team, a patient with TOTP, a photo and a PDF, a thread with a reply,
//! a refused outsider, the patient's access history, a verified audit export, and sign-out.
//!
//! ```text
//! cargo run --release -p portal-e2e --bin walkthrough -- \
//!   --url http://127.0.0.1:3000 --bootstrap-secret SECRET --gateway 127.0.0.1:3099 --out walkthrough
//! ```
//!
//! `--gateway` is where this program listens as the notification gateway; start the portal
//! with `notification_webhook_url` pointing there. The run bootstraps the first admin, so it
//! needs a portal with an empty state directory. It uses the development checkpoint key from
//! `runtime-config.toml` unless `--key` gives the log's verifier key.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use portal_e2e::client::Clock;
use portal_e2e::journey::{self, Settings, Time};
use portal_e2e::sink::Sink;

struct Arguments {
    url: String,
    bootstrap_secret: String,
    gateway: String,
    output: PathBuf,
    key: Option<String>,
}

fn arguments() -> anyhow::Result<Arguments> {
    let mut url = "http://127.0.0.1:3000".to_owned();
    let mut bootstrap_secret = None;
    let mut gateway = "127.0.0.1:3099".to_owned();
    let mut output = PathBuf::from("walkthrough");
    let mut key = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => url = value()?,
            "--bootstrap-secret" => bootstrap_secret = Some(value()?),
            "--gateway" => gateway = value()?,
            "--out" => output = PathBuf::from(value()?),
            "--key" => key = Some(value()?),
            "--help" | "-h" => {
                println!(
                    "usage: walkthrough --bootstrap-secret SECRET [--url URL] [--gateway IP:PORT] [--out DIR] [--key VERIFIER_KEY]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}; see --help"),
        }
    }
    Ok(Arguments {
        url: url.trim_end_matches('/').to_owned(),
        bootstrap_secret: bootstrap_secret
            .context("--bootstrap-secret is required: the portal's bootstrap_secret variable")?,
        gateway,
        output,
        key,
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let arguments = arguments()?;
    let sink = Sink::start_at(&arguments.gateway)
        .await
        .with_context(|| format!("listening as the gateway on {}", arguments.gateway))?;
    let settings = Settings {
        base: arguments.url,
        clock: Clock::default(),
        bootstrap_secret: arguments.bootstrap_secret,
        time: Time::Wall,
        verifier_key: match arguments.key {
            Some(key) => key,
            None => journey::development_verifier_key()?,
        },
        output: Some(arguments.output.clone()),
        narrate: true,
    };
    journey::run(&settings, &sink).await?;
    println!(
        "the export, checkpoint and key are in {dir}; check them with:\n  \
         cargo run --release -p portal-auditlog --bin audit-verify -- --export {dir}/export.jsonl \
         --checkpoint {dir}/checkpoint.txt --key \"$(cat {dir}/key.txt)\" --origin {origin}",
        dir = arguments.output.display(),
        origin = journey::LOG_ORIGIN,
    );
    Ok(())
}
