//! `sealdrop`: the intake server and the operator's commands.
//!
//! Thin on purpose: it parses arguments, calls `sealdrop::ops`, and prints for the operator.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{ArgGroup, Parser, Subcommand};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use sealdrop::config::Config;
use sealdrop::ops::export::{self, Selection};
use sealdrop::ops::import_outbox;
use sealdrop::ops::preflight::{check_data_dir, preflight};
use sealdrop::ops::purge::{self, PurgeReport};
use sealdrop::ops::{self, demo};
use sealdrop_bundle::{ack, signing, write::Progress};

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
    /// Import the outbox `sealdesk outbox` wrote: store its replies to sources and purge the
    /// submissions it acknowledges. Only an outbox signed by a pinned desk key
    /// (`desk_keys_file`) and newer than the last one from that desk is accepted; anything
    /// else is refused whole. Safe to run while the server runs.
    ImportOutbox {
        /// The outbox file.
        file: PathBuf,
        /// The TOML config file naming the data directory and the pinned desk keys.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

/// Every freed block is wiped, whoever allocated it (hyper, age, serde_json): see
/// `sealdrop_core::wiping_alloc` and "Plaintext in memory" in docs/ARCHITECTURE.md.
#[cfg(not(feature = "no-wiping-allocator"))]
#[global_allocator]
static ALLOC: sealdrop_core::wiping_alloc::WipingAllocator =
    sealdrop_core::wiping_alloc::WipingAllocator::new();

fn main() -> std::process::ExitCode {
    // First, before any plaintext exists: no core dump, and no same-user ptrace or /proc/PID/mem.
    if let Err(e) = sealdrop_core::cli::no_core_dumps() {
        eprintln!("error: cannot turn core dumps off\n  because: {e}");
        return std::process::ExitCode::FAILURE;
    }
    sealdrop_core::cli::finish(run_cli())
}

fn run_cli() -> Result<()> {
    match Cli::parse().command {
        Command::Serve { config } => {
            let config = Config::load(config.as_deref()).context("loading the configuration")?;
            serve(config)
        }
        Command::CheckConfig { config } => check_config(config.as_deref()),
        Command::Demo { listen, dir } => {
            let demo = demo::prepare(&listen, &dir)?;
            eprintln!("{}", demo::banner(&demo, &listen));
            serve(demo.config)
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
        Command::ImportOutbox { file, config } => import_outbox(config.as_deref(), &file),
    }
}

fn serve(config: Config) -> Result<()> {
    let on_listening = |at: &str| println!("sealdrop: listening on {at}");
    ops::serve::serve(config, on_listening, ops::serve::until_terminated)?;
    Ok(())
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
    let o = &config.organisation;
    if o.name.is_empty() {
        println!("  organisation:     (no name set: pages show only the site title)");
    } else {
        println!("  organisation:     {}", o.name);
    }
    if let Some(logo) = &config.logo {
        println!(
            "  logo:             {} ({} bytes, {})",
            o.logo_file.as_deref().unwrap_or(Path::new("")).display(),
            logo.bytes.len(),
            logo.content_type
        );
    }
    match config.default_language {
        Some(lang) => println!("  default language: {}", lang.code()),
        None => println!("  default language: (none: the browser's, else English)"),
    }
    Ok(())
}

fn export_bundle(config_file: Option<&Path>, out: &Path, selection: &Selection) -> Result<()> {
    let config = ops::existing_config(config_file)?;
    let key =
        signing::load_or_create(&config.data_dir).context("loading the bundle-signing key")?;
    let mut bar = Bar::new();
    let written = export::export(
        &config.data_dir,
        &key,
        selection,
        out,
        ops::today(),
        &mut bar,
    )
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
    let config = ops::existing_config(config_file)?;
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
    let config = ops::existing_config(config_file)?;
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
            let cutoff = purge::retention_cutoff(ops::today(), days);
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
        _ => anyhow::bail!("give either --ack FILE or --older-than DAYS"),
    }
    Ok(())
}

fn import_outbox(config_file: Option<&Path>, file: &Path) -> Result<()> {
    let config = ops::existing_config(config_file)?;
    let pinned = ops::desk_keys::load(&config.desk_keys_file)?;
    let report = import_outbox::import(&config.data_dir, &pinned, file, config.reply_keep_days)
        .context("importing the outbox")?;
    println!(
        "Imported outbox {} from desk {}: {} reply(ies) stored; {} acknowledged submission(s) \
         purged ({} blob file(s) deleted).",
        report.sequence,
        report.desk_fingerprint,
        report.replies,
        report.purge.purged,
        report.purge.blobs_removed
    );
    report_ack_leftovers(&report.purge);
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
