//! Command line of `portal-host`; subcommands and flags follow the `spin` CLI's names.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use portal_host::app::{App, Limits, LoadOptions};
use portal_host::server::Server;

#[derive(Parser)]
#[command(
    name = "portal-host",
    version,
    about = "Run a Spin 4 application on wasmtime"
)]
struct Cli {
    /// Log format: `text` or `json`.
    #[arg(
        long,
        global = true,
        default_value = "text",
        env = "PORTAL_HOST_LOG_FORMAT"
    )]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run each component's build command, as `spin build` does.
    Build {
        /// Manifest path.
        #[arg(short = 'f', long = "from", default_value = "spin.toml")]
        from: PathBuf,
        /// Build only these components.
        #[arg(short = 'c', long = "component-id")]
        components: Vec<String>,
    },
    /// Serve the application, as `spin up` does.
    Up(UpArgs),
    /// Write an encrypted backup of every key-value store and object of the application.
    Backup {
        #[command(flatten)]
        target: TargetArgs,
        /// The backup file to write; it is created with owner-only permissions.
        #[arg(long)]
        output: PathBuf,
    },
    /// Restore a backup into empty stores and buckets, checking every part first and reading
    /// everything back afterwards.
    Restore {
        #[command(flatten)]
        target: TargetArgs,
        /// The backup file to read.
        #[arg(long)]
        input: PathBuf,
    },
}

/// The application whose state a backup reads or a restore writes.
#[derive(clap::Args)]
struct TargetArgs {
    /// Manifest path.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    from: PathBuf,
    /// Runtime configuration file (key-value backends, variables providers).
    #[arg(long = "runtime-config-file")]
    runtime_config_file: Option<PathBuf>,
    /// Directory for SQLite stores and other state.
    #[arg(long = "state-dir", default_value = ".spin")]
    state_dir: PathBuf,
}

impl TargetArgs {
    fn target(self) -> portal_host::backup::Target {
        portal_host::backup::Target {
            manifest: self.from,
            runtime_config: self.runtime_config_file,
            state_dir: self.state_dir,
        }
    }
}

#[derive(clap::Args)]
struct UpArgs {
    /// Manifest path.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    from: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Runtime configuration file (key-value backends, variables providers).
    #[arg(long = "runtime-config-file")]
    runtime_config_file: Option<PathBuf>,
    /// Directory for SQLite stores and other state.
    #[arg(long = "state-dir", default_value = ".spin")]
    state_dir: PathBuf,
    /// PEM certificate chain; with --tls-key, serve HTTPS.
    #[arg(long = "tls-cert", env = "SPIN_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long = "tls-key", env = "SPIN_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = Limits::DEFAULT_MAX_REQUEST_BODY)]
    max_request_body: u64,
    /// Largest linear memory of one instance, in MiB.
    #[arg(long, default_value_t = Limits::DEFAULT_MAX_MEMORY >> 20)]
    max_memory_mib: usize,
    /// Request deadline, in milliseconds.
    #[arg(long, default_value_t = Limits::DEFAULT_REQUEST_TIMEOUT.as_millis() as u64)]
    request_timeout_ms: u64,
    /// Instances alive at once.
    #[arg(long, default_value_t = Limits::DEFAULT_MAX_INSTANCES)]
    max_instances: u32,
    /// Let tests move the guests' wall clock through a loopback-only endpoint. Never use in
    /// production.
    #[arg(long)]
    danger_test_clock: bool,
    /// Do not start the embedded S3 endpoint, even when no variable names another one.
    #[arg(long)]
    no_embedded_s3: bool,
    /// Run only this component (and the components it depends on); repeat for more. The
    /// default runs every component.
    #[arg(short = 'c', long = "component-id")]
    components: Vec<String>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Err(error) = init_logging(&cli.log_format) {
        eprintln!("error: {error:#}");
        return std::process::ExitCode::from(2);
    }
    match run(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "portal-host failed");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("failed to start the async runtime")
    };
    match command {
        Command::Build { from, components } => portal_host::build::run(&from, &components),
        Command::Up(args) => runtime()?.block_on(up(args)),
        Command::Backup { target, output } => {
            let summary =
                runtime()?.block_on(portal_host::backup::create(&target.target(), &output))?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
        Command::Restore { target, input } => {
            let summary =
                runtime()?.block_on(portal_host::backup::restore(&target.target(), &input))?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
    }
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let options = LoadOptions {
        manifest: args.from,
        runtime_config: args.runtime_config_file,
        state_dir: args.state_dir,
        limits: Limits {
            max_request_body: args.max_request_body,
            max_memory: args.max_memory_mib << 20,
            request_timeout: Duration::from_millis(args.request_timeout_ms),
            max_instances: args.max_instances,
        },
        danger_test_clock: args.danger_test_clock,
        embedded_s3: !args.no_embedded_s3,
        components: args.components,
    };
    let app = App::load(&options).await?;
    let tls = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
    let server = Server::bind(app, args.listen, tls).await?;
    tracing::info!(
        startup_ms = started.elapsed().as_millis() as u64,
        address = %server.local_addr()?,
        "ready"
    );
    server.run(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::error!(%error, "failed to watch SIGTERM");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

fn init_logging(format: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,wasmtime=warn,cranelift=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        "json" => builder.json().init(),
        "text" => builder.init(),
        other => anyhow::bail!("unknown --log-format {other:?}: use text or json"),
    }
    Ok(())
}
