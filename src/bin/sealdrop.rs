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
use sealdrop::ops::{self, backup, demo, doctor, tor_config};
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
    #[command(group(ArgGroup::new("which").required(true).args(["ack", "older_than", "retention"])))]
    Purge {
        /// An ack file written by `sealdesk ack`. Only submissions this server has exported are
        /// deleted; any other id in it is reported and left alone.
        #[arg(long, value_name = "FILE")]
        ack: Option<PathBuf>,
        /// Delete every submission that arrived more than DAYS days ago (by its recorded
        /// arrival date), whether or not it was exported.
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u32>,
        /// As --older-than, with the config's `retention_days` (what the packaged timer runs).
        #[arg(long)]
        retention: bool,
        /// The TOML config file naming the data directory (as for `serve`).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Check everything an operator can get wrong (keys, data directory, disk, socket, tor's
    /// access to it, the tor configuration, retention, backups, swap, the journal) and say how
    /// to fix each.
    /// Exits non-zero on any problem. Run it as root to check tor's access for real.
    Doctor {
        /// The TOML config file (as for `serve`).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The torrc that holds the onion service.
        #[arg(long, default_value = sealdrop::ops::tor_config::PACKAGED_TORRC)]
        torrc: PathBuf,
        /// The user tor runs as (`debian-tor` for Debian's system tor).
        #[arg(long, default_value = sealdrop::ops::tor_config::PACKAGED_TOR_USER)]
        tor_user: String,
        /// The user the server runs as.
        #[arg(long, default_value = "sealdrop")]
        service_user: String,
        /// Where `systemctl enable` links units.
        #[arg(long, default_value = "/etc/systemd/system")]
        systemd_dir: PathBuf,
        /// Judge the swap and journal of the system under this folder (for tests).
        #[arg(long, hide = true, default_value = "/")]
        host_root: PathBuf,
        /// Internal: connect to this socket and exit (doctor runs itself so as tor's user).
        #[arg(long, hide = true)]
        probe_socket: Option<PathBuf>,
    },
    /// Back up what cannot be lost: the onion service's key (the address), the bundle-signing
    /// key and the config, in one file sealed to the group's recipients (never in clear on
    /// disk). Run as root (tor's key is tor's). Restore: see `restore` and deploy/README.md.
    Backup {
        /// Where to write the backup (a new file).
        #[arg(long, short)]
        out: PathBuf,
        /// The TOML config file (as for `serve`).
        #[arg(long, short)]
        config: PathBuf,
        /// The onion service's HiddenServiceDir (default: the one in --torrc serving the listener).
        #[arg(long)]
        hs_dir: Option<PathBuf>,
        /// The torrc that holds the onion service.
        #[arg(long, default_value = sealdrop::ops::tor_config::PACKAGED_TORRC)]
        torrc: PathBuf,
    },
    /// Restore a backup on a new machine, from the file staff re-encrypted with a passphrase
    /// (`age -d -i KEY backup.age | age -p > transfer.age` on the desk). Asks the passphrase
    /// (or reads one line from standard input when it is not a terminal). Never replaces a key.
    Restore {
        /// The passphrase-encrypted backup.
        file: PathBuf,
        /// Where the config goes (an existing one is kept; the backup's is put beside it).
        #[arg(long, short)]
        config: PathBuf,
        /// Where the onion keys go (default: the HiddenServiceDir in --torrc serving the listener).
        #[arg(long)]
        hs_dir: Option<PathBuf>,
        /// The torrc that holds the onion service.
        #[arg(long, default_value = sealdrop::ops::tor_config::PACKAGED_TORRC)]
        torrc: PathBuf,
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
            retention,
            config,
        } => {
            let older_than = if retention {
                Some(retention_days(config.as_deref())?)
            } else {
                older_than
            };
            purge_command(config.as_deref(), ack.as_deref(), older_than)
        }
        Command::Doctor {
            config,
            torrc,
            tor_user,
            service_user,
            systemd_dir,
            host_root,
            probe_socket,
        } => {
            if let Some(socket) = probe_socket {
                return doctor::probe_socket(&socket)
                    .with_context(|| format!("connecting to {}", socket.display()));
            }
            let env = doctor::Environment {
                torrc,
                tor_user,
                service_user,
                systemd_dir,
                host_root,
            };
            doctor_command(config.as_deref(), &env)
        }
        Command::Backup {
            out,
            config,
            hs_dir,
            torrc,
        } => backup_command(&config, hs_dir, &torrc, &out),
        Command::Restore {
            file,
            config,
            hs_dir,
            torrc,
        } => restore_command(&file, &config, hs_dir, &torrc),
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

fn retention_days(config_file: Option<&Path>) -> Result<u32> {
    let config = Config::load(config_file).context("loading the configuration")?;
    config.retention_days.context(
        "no retention period is set: set retention_days in the config (or disable \
         sealdrop-purge.timer)",
    )
}

fn doctor_command(config_file: Option<&Path>, env: &doctor::Environment) -> Result<()> {
    let findings = doctor::run(config_file, env);
    let mut problems = 0;
    for finding in &findings {
        let (mark, text) = match &finding.outcome {
            doctor::Outcome::Fine(text) => ("ok     ", text),
            doctor::Outcome::Note(text) => ("note   ", text),
            doctor::Outcome::Problem(text) => {
                problems += 1;
                ("PROBLEM", text)
            }
        };
        println!("{mark} {:<15} {text}", finding.check);
    }
    if problems > 0 {
        anyhow::bail!("{problems} problem(s) found; each line above says how to fix it");
    }
    println!("No problems found.");
    Ok(())
}

/// The onion service's directory: given, or the one the torrc sends to this listener.
fn onion_dir(config: &Config, hs_dir: Option<PathBuf>, torrc: &Path) -> Result<PathBuf> {
    if let Some(dir) = hs_dir {
        return Ok(dir);
    }
    let parsed = tor_config::read(torrc)?;
    let service = parsed.service_for(&config.listen).with_context(|| {
        format!(
            "no HiddenServiceDir in {} serves {}; give --hs-dir",
            torrc.display(),
            config.listen
        )
    })?;
    Ok(service.dir.clone())
}

fn backup_command(
    config_file: &Path,
    hs_dir: Option<PathBuf>,
    torrc: &Path,
    out: &Path,
) -> Result<()> {
    let config = ops::existing_config(Some(config_file))?;
    let recipients = preflight(&config)?;
    let hs_dir = onion_dir(&config, hs_dir, torrc)?;
    let sources = backup::Sources {
        config_file,
        keys_file: &config.keys_file,
        desk_keys_file: &config.desk_keys_file,
        data_dir: &config.data_dir,
        hs_dir: &hs_dir,
    };
    let names = backup::backup(&sources, &recipients, out, &ops::today().to_string())
        .context("making the backup")?;
    println!(
        "Wrote {} ({} files, sealed to {} recipient(s)): {}.",
        out.display(),
        names.len(),
        recipients.len(),
        names.join(", ")
    );
    println!(
        "Only staff can open it. Keep a copy off this machine; deploy/README.md says how to \
         restore it."
    );
    Ok(())
}

fn restore_command(
    file: &Path,
    config_file: &Path,
    hs_dir: Option<PathBuf>,
    torrc: &Path,
) -> Result<()> {
    let passphrase = read_passphrase()?;
    let entries = backup::open(file, passphrase)?;
    // The keys' places come from the config in place (the backup's, if there was none).
    let hs_dir = match hs_dir {
        Some(dir) => dir,
        None => {
            let config = Config::load(Some(config_file))
                .or_else(|_| {
                    let text = std::str::from_utf8(&entries["config/sealdrop.toml"])
                        .unwrap_or_default()
                        .to_owned();
                    let scratch = tempfile::NamedTempFile::new()?;
                    std::fs::write(scratch.path(), text)?;
                    Config::load(Some(scratch.path())).map_err(anyhow::Error::from)
                })
                .context("reading the config to learn the listener")?;
            onion_dir(&config, None, torrc)?
        }
    };
    let targets = backup::Targets {
        config_file,
        hs_dir: &hs_dir,
    };
    let restored = backup::restore(&entries, &targets, |path| {
        Config::load(Some(path)).ok().map(|c| backup::ConfigPaths {
            data_dir: c.data_dir,
            keys_file: c.keys_file,
            desk_keys_file: c.desk_keys_file,
        })
    })?;
    for path in &restored.written {
        println!("restored  {}", path.display());
    }
    for path in &restored.unchanged {
        println!("unchanged {}", path.display());
    }
    for path in &restored.set_aside {
        println!(
            "differs   {} (the backup's copy; compare it with the file in place and keep one)",
            path.display()
        );
    }
    println!(
        "Restored. Start tor and the server, check the onion address in {}/hostname, and run \
         `sealdrop doctor` and `sealdrop fingerprint`.",
        hs_dir.display()
    );
    Ok(())
}

/// The transport passphrase: asked on a terminal, or one line of standard input.
fn read_passphrase() -> Result<age::secrecy::SecretString> {
    use std::io::BufRead;
    if std::io::stdin().is_terminal() {
        return age::cli_common::read_secret(
            "The passphrase staff chose for the backup's transport (age -p)",
            "Passphrase",
            None,
        )
        .map_err(|e| anyhow::anyhow!("cannot read the passphrase: {e}"));
    }
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the passphrase from standard input")?;
    let trimmed = line.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(!trimmed.is_empty(), "no passphrase on standard input");
    Ok(age::secrecy::SecretString::from(trimmed.to_owned()))
}
