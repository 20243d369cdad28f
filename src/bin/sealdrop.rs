//! `sealdrop`: the intake server and the operator's commands.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Parser, Subcommand};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use sealdrop::config::Config;
use sealdrop::events::event;
use sealdrop::intake::{self, server::Listener, AppState};
use sealdrop::ops::demo;
use sealdrop::ops::export::{self, Selection};
use sealdrop::ops::preflight::{check_data_dir, preflight};
use sealdrop::ops::purge::{self, PurgeReport};
use sealdrop::store::{Quota, Store};
use sealdrop_bundle::{ack, signing, write::Progress};
use sealdrop_core::day::{arrival_date, Date, Granularity};

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
    /// Write an export bundle: the sealed submissions, signed by this server, for the staff's
    /// offline machine. It holds ciphertext only, so it may travel on a USB stick.
    ///
    /// By default it carries the submissions never exported before. Each export prints its
    /// bundle id; `--since` takes one to export again what came after it.
    Export {
        /// Where to write the bundle (a new file; an existing file is never overwritten).
        #[arg(long, short)]
        out: PathBuf,
        /// Carry every stored submission, exported before or not.
        #[arg(long, conflicts_with = "since")]
        all: bool,
        /// Carry the submissions never exported, or first exported after bundle BUNDLE_ID.
        #[arg(long, value_name = "BUNDLE_ID")]
        since: Option<String>,
        /// The TOML config file naming the data directory (as for `serve`).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print the fingerprint of the key that signs export bundles. Give it to staff over a
    /// channel you trust (in person, or read aloud); sealdesk checks every bundle against it.
    Fingerprint {
        /// The TOML config file naming the data directory (as for `serve`).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Delete submissions from the server: those staff acknowledged holding (--ack), or those
    /// older than a retention period (--older-than). Safe to run while the server runs.
    #[command(group(ArgGroup::new("which").required(true).args(["ack", "older_than"])))]
    Purge {
        /// An ack file written by `sealdesk ack`. Only submissions this server has exported are
        /// deleted; any other id in it is reported and left alone.
        #[arg(long, value_name = "FILE")]
        ack: Option<PathBuf>,
        /// Delete every submission that arrived more than DAYS days ago (by its recorded
        /// arrival date), whether or not it was exported.
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u32>,
        /// The TOML config file naming the data directory (as for `serve`).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    sealdrop_core::cli::finish(run_cli())
}

fn run_cli() -> Result<()> {
    match Cli::parse().command {
        Command::Serve { config } => {
            let config = Config::load(config.as_deref()).context("loading the configuration")?;
            run(config)
        }
        Command::CheckConfig { config } => check_config(config.as_deref()),
        Command::Demo { listen, dir } => {
            let demo = demo::prepare(&listen, &dir)?;
            eprintln!("{}", demo::banner(&demo, &listen));
            run(demo.config)
        }
        Command::Export {
            out,
            all,
            since,
            config,
        } => {
            let selection = match (all, since) {
                (true, _) => Selection::All,
                (false, Some(bundle_id)) => Selection::Since(bundle_id),
                (false, None) => Selection::NotExported,
            };
            export_bundle(config.as_deref(), &out, &selection)
        }
        Command::Fingerprint { config } => fingerprint(config.as_deref()),
        Command::Purge {
            ack,
            older_than,
            config,
        } => purge_command(config.as_deref(), ack.as_deref(), older_than),
    }
}

fn check_config(path: Option<&Path>) -> Result<()> {
    let config = Config::load(path).context("loading the configuration")?;
    let recipients = preflight(&config)?;
    let data_state = check_data_dir(&config)?;
    println!("The configuration is valid.");
    println!("  listen:           {}", config.listen);
    println!(
        "  data directory:   {} ({data_state})",
        config.data_dir.display()
    );
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
    signing::load_or_create(&config.data_dir).context("preparing the bundle-signing key")?;
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

/// The configured data directory, which an operator command needs to exist already.
fn existing_data_dir(config_file: Option<&Path>) -> Result<Config> {
    let config = Config::load(config_file).context("loading the configuration")?;
    if !config.data_dir.is_dir() {
        bail!(
            "there is no data directory at {}; check --config (or SEALDROP_DATA_DIR), or start \
             `sealdrop serve` once to create it",
            config.data_dir.display()
        );
    }
    Ok(config)
}

fn today() -> Date {
    arrival_date(SystemTime::now(), Granularity::Day)
}

fn export_bundle(config_file: Option<&Path>, out: &Path, selection: &Selection) -> Result<()> {
    let config = existing_data_dir(config_file)?;
    let key =
        signing::load_or_create(&config.data_dir).context("loading the bundle-signing key")?;
    let mut bar = Bar::new();
    let written = export::export(&config.data_dir, &key, selection, out, today(), &mut bar)
        .with_context(|| format!("exporting to {}", out.display()));
    bar.0.finish_and_clear();
    let written = written?;
    if written.submissions == 0 {
        println!(
            "Nothing to export: wrote the empty bundle {} to {} (0 submissions, {}).",
            written.bundle_id,
            out.display(),
            HumanBytes(written.bytes)
        );
    } else {
        println!(
            "Exported bundle {}: {} submission(s), {} blob(s), {} in {}.",
            written.bundle_id,
            written.submissions,
            written.blobs,
            HumanBytes(written.bytes),
            out.display()
        );
    }
    Ok(())
}

/// A progress bar on standard error, drawn only when that is a terminal.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(ProgressBar::hidden());
        }
        let style =
            ProgressStyle::with_template("{msg:15} [{bar:30}] {bytes}/{total_bytes} ({eta} left)")
                .expect("a valid progress template")
                .progress_chars("=> ");
        Bar(ProgressBar::new(0).with_style(style))
    }
}

impl Progress for Bar {
    fn phase(&mut self, name: &'static str, total_bytes: u64) {
        self.0.set_message(name);
        self.0.set_length(total_bytes);
        self.0.set_position(0);
    }
    fn advance(&mut self, bytes: u64) {
        self.0.inc(bytes);
    }
}

fn fingerprint(config_file: Option<&Path>) -> Result<()> {
    let config = existing_data_dir(config_file)?;
    let key =
        signing::load_or_create(&config.data_dir).context("loading the bundle-signing key")?;
    eprintln!(
        "Fingerprint of this server's bundle-signing key (public). Give it to staff over a \
         channel you trust; sealdesk refuses bundles not signed by it:"
    );
    println!("{}", signing::format_fingerprint(&key.verifying_key()));
    Ok(())
}

fn purge_command(
    config_file: Option<&Path>,
    ack_file: Option<&Path>,
    older_than: Option<u32>,
) -> Result<()> {
    let config = existing_data_dir(config_file)?;
    let data_dir = &config.data_dir;
    match (ack_file, older_than) {
        (Some(path), None) => {
            let ids = ack::read_file(path)?;
            let report = purge::purge_acked(data_dir, &ids).context("purging")?;
            println!(
                "Purged {} acknowledged submission(s) ({} blob file(s) deleted).",
                report.purged, report.blobs_removed
            );
            report_ack_leftovers(&report);
        }
        (None, Some(days)) => {
            let cutoff = Date::from_days(today().to_days() - i64::from(days));
            let report = purge::purge_arrived_before(data_dir, cutoff).context("purging")?;
            println!(
                "Purged {} submission(s) that arrived before {cutoff} ({} blob file(s) deleted).",
                report.purged, report.blobs_removed
            );
            if report.purged_never_exported > 0 {
                println!(
                    "WARNING: {} of them had never been exported: staff never received them.",
                    report.purged_never_exported
                );
            }
        }
        _ => bail!("give either --ack FILE or --older-than DAYS"),
    }
    Ok(())
}

fn report_ack_leftovers(report: &PurgeReport) {
    if !report.never_exported.is_empty() {
        println!(
            "{} acknowledged id(s) were never exported by this server, so they were NOT purged:",
            report.never_exported.len()
        );
        for id in &report.never_exported {
            println!("  {id}");
        }
    }
    if !report.unknown.is_empty() {
        println!(
            "{} acknowledged id(s) are not on this server (purged before, or from another \
             server); nothing to do for them.",
            report.unknown.len()
        );
    }
}
