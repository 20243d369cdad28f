//! `sealdrop`: the intake server and the operator's commands.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use sealdrop::config::{Config, Listen};
use sealdrop::events::event;
use sealdrop::intake::{self, server::Listener, AppState};
use sealdrop::keys::{self, Recipients};
use sealdrop::store::{Quota, Store};

/// Sealdrop: a secure-drop intake. Every submission is sealed with age as it streams in.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the intake (settings from --config, then SEALDROP_* environment variables).
    Serve {
        /// The TOML config file (see deploy/sealdrop.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Check a config file and the recipients it names, say what is wrong, and exit.
    CheckConfig {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Try Sealdrop locally with a throw-away DEMO key in ./demo (never for real submissions).
    Demo {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The demo folder (git-ignored).
        #[arg(long, default_value = "demo")]
        dir: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Serve { config } => {
            let config = Config::load(config.as_deref()).context("loading the configuration")?;
            run(config)
        }
        Command::CheckConfig { config } => check_config(config.as_deref()),
        Command::Demo { listen, dir } => run(demo_config(&listen, &dir)?),
    }
}

/// Everything the server checks before it listens; shared by `serve` and `check-config`.
fn preflight(config: &Config) -> Result<Recipients> {
    let recipients = Recipients::load(&config.keys_file)?;
    refuse_secret_keys_near(config)?;
    Ok(recipients)
}

/// The server must never hold a key that opens submissions: look next to the recipients and at
/// the top of the data directory, where a misplaced staff key would most likely land.
fn refuse_secret_keys_near(config: &Config) -> Result<()> {
    let keys_dir = config.keys_file.parent().unwrap_or(Path::new("."));
    for dir in [keys_dir, config.data_dir.as_path()] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let small_file = entry
                .metadata()
                .is_ok_and(|m| m.is_file() && m.len() <= 1 << 20);
            if !small_file || path.extension().is_some_and(|e| e == "sqlite") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap_or_default();
            if let Some(line) = keys::find_secret_key(&bytes) {
                bail!(
                    "{} line {line} holds an age SECRET key. The server must never hold one: \
                     delete it from this machine, treat that staff key as compromised, and make a \
                     new one with `sealdesk keygen` on the staff machine",
                    path.display()
                );
            }
        }
    }
    Ok(())
}

fn check_config(path: Option<&Path>) -> Result<()> {
    let config = Config::load(path).context("loading the configuration")?;
    let recipients = preflight(&config)?;
    println!("The configuration is valid.");
    println!("  listen:           {}", config.listen);
    println!("  data directory:   {}", config.data_dir.display());
    println!(
        "  recipients:       {} key(s) from {}",
        recipients.len(),
        config.keys_file.display()
    );
    println!("  arrival recorded: per {:?}", config.arrival_granularity);
    let l = &config.limits;
    println!(
        "  limits:           {} files, {} MiB per file, {} MiB per submission, {} uploads at once",
        l.max_files,
        l.max_file_bytes >> 20,
        l.max_submission_bytes >> 20,
        l.max_concurrent_uploads
    );
    Ok(())
}

fn run(config: Config) -> Result<()> {
    let recipients = preflight(&config)?;
    let quota = Quota {
        min_free_bytes: config.limits.min_free_disk_mb << 20,
        max_stored_bytes: (config.limits.storage_quota_mb > 0)
            .then_some(config.limits.storage_quota_mb << 20),
    };
    let store = Store::open_with_batch(&config.data_dir, quota, config.commit_batch_max as usize)
        .with_context(|| {
        format!(
            "opening the data directory {} (check that it exists or can be created, and that \
             this user owns it)",
            config.data_dir.display()
        )
    })?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = Listener::bind(&config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let recipients_count = recipients.len();
        println!("sealdrop: listening on {}", listener.describe());
        event(format!(
            "started; sealing to {recipients_count} recipient(s); data in {}",
            config.data_dir.display()
        ));
        let app = intake::router(AppState::new(config, recipients, store));
        listener.serve(app, shutdown_signal()).await?;
        event("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Make (or reuse) a demo identity and config under `dir`, and say loudly what it is.
fn demo_config(listen: &str, dir: &Path) -> Result<Config> {
    let identity_path = dir.join("identity.txt");
    let keys_dir = dir.join("keys");
    let keys_file = keys_dir.join("recipients.txt");
    std::fs::create_dir_all(&keys_dir)
        .with_context(|| format!("creating the demo folder {}", keys_dir.display()))?;
    if !identity_path.exists() {
        let recipient = sealdrop::desk::identity::generate(&identity_path, None)?;
        std::fs::write(
            &keys_file,
            format!(
                "# DEMO recipient: its secret key is in {}\n{recipient}\n",
                identity_path.display()
            ),
        )?;
    }
    let mut config = Config {
        listen: listen
            .parse::<Listen>()
            .map_err(|e| anyhow::anyhow!("--listen: {e}"))?,
        data_dir: dir.join("data"),
        keys_file,
        demo: true,
        ..Config::default()
    };
    config.limits.min_free_disk_mb = 256;
    config.validate()?;
    let bar = "=".repeat(78);
    eprintln!("{bar}");
    eprintln!("  DEMO MODE: NOT FOR REAL SUBMISSIONS");
    eprintln!("  Everything sent here is sealed to a DEMO key whose secret half sits unprotected");
    eprintln!(
        "  in {} . Anyone with that file can read it all.",
        identity_path.display()
    );
    eprintln!();
    eprintln!("  Open the form:   http://{listen}/");
    eprintln!("  Stored blobs:    {}/blobs/", config.data_dir.display());
    eprintln!(
        "  Read one:        age -d -i {} {}/blobs/<id>.age",
        identity_path.display(),
        config.data_dir.display()
    );
    eprintln!("  (Each submission's envelope is JSON naming its attachments' blob ids; an");
    eprintln!("   attachment is padded with zero bytes after its true length, given there.)");
    eprintln!("{bar}");
    Ok(config)
}
