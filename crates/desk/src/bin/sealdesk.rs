//! `sealdesk`: the staff's offline tool, for the air-gapped machine. It never uses the network.
//!
//! Thin on purpose: it reads arguments, asks for what it must (passphrase, fingerprint), calls
//! `sealdrop::desk`, and prints. Help texts are for staff, not engineers.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use zeroize::Zeroizing;

use age::secrecy::{ExposeSecret, SecretString};
use sealdesk::cases::{self, Filter};
use sealdesk::identity::{self, Keyring};
use sealdesk::report::Format;
use sealdesk::triage::{self, Status};
use sealdesk::view::{self, short, terminal_safe, Safe};
use sealdesk::workspace::{Settings, Workspace};
use sealdesk::{ack, decrypt, extract, import, report, search};
use sealdrop_bundle::signing::{format_fingerprint, parse_fingerprint};
use sealdrop_core::keys::Recipients;

/// Sealdesk: read and sort the reports sources sent, on a computer that stays offline.
///
/// Start with `sealdesk keygen` (once per staff member), then `sealdesk init` (once per
/// computer). Each day: `import` the file the operator gives you, `list`, `show`, and sort
/// reports with `status`, `tag` and `note`. Type `sealdesk help COMMAND` for more on a command.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// The workspace folder (default: ./sealdesk-workspace, or the SEALDESK_WORKSPACE setting).
    #[arg(long, short = 'w', global = true, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Your staff key file. `init` records it; other commands use the recorded one unless you
    /// give this (or the SEALDESK_IDENTITY setting).
    #[arg(long, short = 'i', global = true, value_name = "FILE")]
    identity: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a new staff key. Prints the public line to add to the server's keys/recipients.txt.
    ///
    /// The key file is protected with a passphrase you choose (asked twice). Keep the file and
    /// the passphrase safe: without both, nobody can read reports sealed to this key.
    Keygen {
        /// Where to write the new key file.
        #[arg(long, short, default_value = "staff-identity.age")]
        out: PathBuf,
        /// Write the key without a passphrase (only for tests and demos: anyone who copies the
        /// file can read every report).
        #[arg(long)]
        no_passphrase: bool,
    },
    /// Create a workspace on this computer (once).
    ///
    /// You need: your staff key file (--identity), the group's public keys file (--recipients,
    /// a copy of the server's keys/recipients.txt; notes are locked to these keys), and the
    /// server's fingerprint (the operator prints it with `sealdrop fingerprint`). If you do not
    /// give --server-key, you are asked to type it: compare it with the operator in person or
    /// by phone, digit by digit.
    Init {
        /// The server's fingerprint: 64 letters and digits (spaces allowed).
        #[arg(long, value_name = "FINGERPRINT")]
        server_key: Option<String>,
        /// The group's public keys (one `age1...` per line), for locking notes.
        #[arg(long, value_name = "FILE")]
        recipients: PathBuf,
    },
    /// Bring in a bundle file from the server (checks it first; adds only what is new).
    ///
    /// The bundle's signature and every part of it are checked before anything is added. A
    /// bundle that fails a check is refused whole and the workspace stays as it was. Importing
    /// the same bundle again, or bundles that overlap, adds nothing twice.
    Import {
        /// The bundle file (from `sealdrop export`).
        file: PathBuf,
    },
    /// List reports, newest first. Unread ones are marked with *.
    List {
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Read one report: the message, other fields, attachments and notes. Marks it read.
    Show {
        /// The report's ID (the first 4 or more characters are enough).
        id: String,
    },
    /// Save a report's attachments into a new folder, to open them.
    ///
    /// Files are saved under safe names. Sealdesk warns about files that are programs,
    /// scripts or documents with macros: do not open those on this computer.
    Extract {
        /// The report's ID (the first 4 or more characters are enough).
        id: String,
        /// Where to make the new folder (default: the current folder).
        #[arg(long, value_name = "DIR", default_value = ".")]
        to: PathBuf,
    },
    /// Add tags to a report (single words such as moscow or urgent).
    Tag {
        /// The report's ID (the first 4 or more characters are enough).
        id: String,
        #[arg(required = true, value_name = "TAG")]
        tags: Vec<String>,
    },
    /// Remove tags from a report.
    Untag {
        /// The report's ID (the first 4 or more characters are enough).
        id: String,
        #[arg(required = true, value_name = "TAG")]
        tags: Vec<String>,
    },
    /// Set where a report stands: new, in-review, verified, follow-up, closed or spam.
    Status {
        /// The report's ID (the first 4 or more characters are enough).
        id: String,
        /// One of: new, in-review, verified, follow-up, closed, spam.
        status: String,
    },
    /// Add a note to a report. Notes are locked to the group's keys.
    ///
    /// Text typed on the command line is kept in your shell's history. To avoid that, leave the
    /// text out: Sealdesk then asks for it (finish with Ctrl-D on a new line).
    Note {
        /// The report's ID (the first 4 or more characters are enough).
        id: String,
        /// The note (leave out to type it without it entering the shell history).
        text: Vec<String>,
    },
    /// Find reports containing some text (any letter case; Cyrillic and Tajik letters too).
    Search {
        /// The text to find.
        #[arg(required = true)]
        text: Vec<String>,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Write the reports as a table (csv), data (json) or document (markdown) for case files.
    ///
    /// The result holds the reports' text unlocked: keep it only where case files belong.
    Report {
        /// csv, json or markdown.
        #[arg(long, short)]
        format: Format,
        /// Write to this new file instead of the screen.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Write the acknowledgement file that lets the server delete reports you now hold.
    ///
    /// It names every report imported since the last ack (with --all: every report in this
    /// workspace), after checking that each is intact here. Carry the file to the operator,
    /// who runs `sealdrop purge --ack FILE`. It holds only report IDs, nothing else.
    Ack {
        /// The new file to write.
        #[arg(long, short, value_name = "FILE")]
        out: PathBuf,
        /// Name every report in the workspace again, not only the new ones.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Args, Clone, Default)]
struct FilterArgs {
    /// Only reports with this status.
    #[arg(long)]
    status: Option<String>,
    /// Only reports with this tag.
    #[arg(long)]
    tag: Option<String>,
    /// Only reports that arrived on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DAY")]
    from: Option<String>,
    /// Only reports that arrived on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DAY")]
    to: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> Result<Filter> {
        Ok(Filter {
            status: self.status.as_deref().map(str::parse).transpose()?,
            tag: self.tag.as_deref().map(triage::normalise_tag).transpose()?,
            from: self.from.as_deref().map(cases::parse_day).transpose()?,
            to: self.to.as_deref().map(cases::parse_day).transpose()?,
        })
    }
}

/// Scripts may set the passphrase here instead of typing it (less safe: other programs of the
/// same user can read a process's environment, and it may end up in shell history).
const PASSPHRASE_ENV: &str = "SEALDESK_PASSPHRASE";
const WORKSPACE_ENV: &str = "SEALDESK_WORKSPACE";
const IDENTITY_ENV: &str = "SEALDESK_IDENTITY";
const DEFAULT_WORKSPACE: &str = "sealdesk-workspace";

fn main() -> std::process::ExitCode {
    sealdrop_core::cli::finish(run_cli())
}

fn run_cli() -> Result<()> {
    let cli = Cli::parse();
    let workspace = cli
        .workspace
        .clone()
        .or_else(|| std::env::var_os(WORKSPACE_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_WORKSPACE));
    let identity = cli
        .identity
        .clone()
        .or_else(|| std::env::var_os(IDENTITY_ENV).map(PathBuf::from));
    let desk = Desk {
        workspace,
        identity,
    };
    match cli.command {
        Command::Keygen { out, no_passphrase } => keygen(out, no_passphrase),
        Command::Init {
            server_key,
            recipients,
        } => desk.init(server_key, &recipients),
        Command::Import { file } => desk.import(&file),
        Command::List { filter } => desk.list(&filter.filter()?),
        Command::Show { id } => desk.show(&id),
        Command::Extract { id, to } => desk.extract(&id, &to),
        Command::Tag { id, tags } => desk.tag(&id, &tags, true),
        Command::Untag { id, tags } => desk.tag(&id, &tags, false),
        Command::Status { id, status } => desk.status(&id, &status),
        Command::Note { id, text } => desk.note(&id, text),
        Command::Search { text, filter } => desk.search(&text.join(" "), &filter.filter()?),
        Command::Report {
            format,
            out,
            filter,
        } => desk.report(format, out.as_deref(), &filter.filter()?),
        Command::Ack { out, all } => desk.ack(&out, all),
    }
}

struct Desk {
    workspace: PathBuf,
    identity: Option<PathBuf>,
}

impl Desk {
    fn open(&self) -> Result<Workspace> {
        Ok(Workspace::open(&self.workspace)?)
    }

    /// The staff key, asking for its passphrase at most once.
    fn keyring(&self, ws: &Workspace) -> Result<Keyring> {
        let path = match &self.identity {
            Some(p) => p.clone(),
            None => ws.settings()?.identity,
        };
        let shown = path.display().to_string();
        Ok(identity::load(&path, || {
            if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
                return Ok(SecretString::from(p));
            }
            age::cli_common::read_secret(
                &format!("Passphrase for your staff key {shown}"),
                "Passphrase",
                None,
            )
            .map_err(|e| e.to_string())
        })?)
    }

    fn init(&self, server_key: Option<String>, recipients: &Path) -> Result<()> {
        let Some(identity) = &self.identity else {
            bail!(
                "give your staff key file with --identity FILE (make one with `sealdesk keygen`)"
            );
        };
        let identity = std::fs::canonicalize(identity).with_context(|| {
            format!(
                "cannot find the staff key {}; check the path",
                identity.display()
            )
        })?;
        let recipients_text = std::fs::read_to_string(recipients).with_context(|| {
            format!(
                "cannot read the group's keys file {}; copy keys/recipients.txt from the server",
                recipients.display()
            )
        })?;
        let group = Recipients::parse(recipients, recipients_text.as_bytes())?;
        let fingerprint = match server_key {
            Some(text) => text,
            None => {
                eprint!("Type the server's fingerprint (the operator shows it with `sealdrop fingerprint`): ");
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the fingerprint")?;
                line
            }
        };
        let server_key = parse_fingerprint(&fingerprint).context(
            "that is not a server fingerprint: it has 64 letters (a-f) and digits; spaces are fine",
        )?;
        Workspace::create(
            &self.workspace,
            &Settings {
                server_key,
                identity: identity.clone(),
                recipients: recipients_text,
            },
        )?;
        println!("Created the workspace {}.", self.workspace.display());
        println!("Server fingerprint: {}", format_fingerprint(&server_key));
        println!("Your staff key:     {}", identity.display());
        println!("Notes are locked to {} group key(s).", group.len());
        println!("Next: `sealdesk import BUNDLE-FILE` with the file the operator gives you.");
        Ok(())
    }

    fn import(&self, file: &Path) -> Result<()> {
        let mut ws = self.open()?;
        let progress = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "Checking and importing {bar:40} {bytes}/{total_bytes} ({eta} left)",
                )
                .expect("a valid template"),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let s = import::import(&mut ws, file, &progress)
            .with_context(|| format!("importing {}", file.display()))?;
        progress.finish_and_clear();
        if s.added == 0 {
            println!(
                "Nothing new: all {} report(s) in bundle {} (exported {}) were already here.",
                s.in_bundle,
                short(&s.bundle_id),
                s.created
            );
        } else {
            println!(
                "Imported bundle {} (exported {}): {} new report(s), {} already here, {}.",
                short(&s.bundle_id),
                s.created,
                s.added,
                s.already,
                view::human_size(s.bytes_added)
            );
        }
        Ok(())
    }

    fn list(&self, filter: &Filter) -> Result<()> {
        let ws = self.open()?;
        let list = cases::list(ws.conn(), filter)?;
        if list.is_empty() {
            println!("No reports match. (`sealdesk import FILE` brings new ones in.)");
            return Ok(());
        }
        let keyring = self.keyring(&ws)?;
        let blobs = ws.blobs_dir();
        let previews = decrypt::map_parallel(&list, keyring.threads(), |case| {
            decrypt::open_envelope(&blobs, &keyring, case)
                .map(|e| Zeroizing::new(e.fields.get("message").cloned().unwrap_or_default()))
                .map_err(|e| e.to_string())
        });
        let lines: Vec<view::ListLine<'_>> = list
            .iter()
            .zip(previews)
            .map(|(case, preview)| view::ListLine { case, preview })
            .collect();
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(120);
        let table = view::list_table(&lines, width);
        print_secret(&table)?;
        let unread = list.iter().filter(|c| !c.read).count();
        println!("{} report(s), {unread} unread (*).", list.len());
        Ok(())
    }

    fn show(&self, id: &str) -> Result<()> {
        let ws = self.open()?;
        let id = ws.resolve(id)?;
        let keyring = self.keyring(&ws)?;
        let case = cases::get(ws.conn(), &id)?;
        let envelope = decrypt::open_envelope(&ws.blobs_dir(), &keyring, &case)?;
        let notes = triage::notes(ws.conn(), &id, &keyring)?;
        print_secret(&view::show_page(&case, &envelope, &notes))?;
        triage::mark_read(ws.conn(), &id)?;
        Ok(())
    }

    fn extract(&self, id: &str, to: &Path) -> Result<()> {
        let ws = self.open()?;
        let id = ws.resolve(id)?;
        let keyring = self.keyring(&ws)?;
        let done = extract::extract(&ws, &keyring, &id, to)?;
        let Some(folder) = done.folder else {
            println!(
                "Report {} has no attachments; nothing was written.",
                short(&id)
            );
            return Ok(());
        };
        println!(
            "Saved {} attachment(s) of report {} into the new folder\n  {}",
            done.files.len(),
            short(&id),
            folder.display()
        );
        let mut risky = 0;
        for f in &done.files {
            println!(
                "  {}  ({}, {})",
                Safe::line(&f.written),
                view::human_size(f.size),
                Safe::line(&f.declared_type)
            );
            if f.written != f.original {
                println!(
                    "      the sender's name for it was: {:?}",
                    terminal_safe(&f.original, false).as_str()
                );
            }
            if let Some(problem) = &f.problem {
                println!("      PROBLEM: {problem}");
            }
            if let Some(why) = &f.risk {
                risky += 1;
                println!("      WARNING: this may be a program or script ({why}).");
            }
        }
        if risky > 0 {
            println!(
                "\nWARNING: {risky} file(s) above may run code when opened. Do NOT open them on this \
                 computer or any computer with your keys. If they matter, ask your security \
                 contact to examine them on a separate, disposable machine."
            );
        }
        Ok(())
    }

    fn tag(&self, id: &str, tags: &[String], add: bool) -> Result<()> {
        let mut ws = self.open()?;
        let id = ws.resolve(id)?;
        if add {
            let added = triage::tag(ws.conn_mut(), &id, tags)?;
            println!(
                "Report {}: added tag(s) {}.",
                short(&id),
                list_or_none(&added)
            );
        } else {
            let removed = triage::untag(ws.conn_mut(), &id, tags)?;
            println!(
                "Report {}: removed tag(s) {}.",
                short(&id),
                list_or_none(&removed)
            );
        }
        let case = cases::get(ws.conn(), &id)?;
        println!("Its tags now: {}.", list_or_none(&case.tags));
        Ok(())
    }

    fn status(&self, id: &str, status: &str) -> Result<()> {
        let status: Status = status.parse()?;
        let mut ws = self.open()?;
        let id = ws.resolve(id)?;
        let old = triage::set_status(ws.conn_mut(), &id, status)?;
        println!("Report {}: status {old} -> {status}.", short(&id));
        Ok(())
    }

    fn note(&self, id: &str, words: Vec<String>) -> Result<()> {
        let ws = self.open()?;
        let id = ws.resolve(id)?;
        let recipients = ws.settings()?.recipients()?;
        let text = if words.is_empty() {
            if std::io::stdin().is_terminal() {
                eprintln!("Type the note, then press Ctrl-D on a new line:");
            }
            // Room for the longest note up front: a growing buffer would leave copies behind.
            let mut text = Zeroizing::new(String::with_capacity(triage::MAX_NOTE_BYTES + 1));
            std::io::stdin()
                .take(triage::MAX_NOTE_BYTES as u64 + 1)
                .read_to_string(&mut text)
                .context("reading the note")?;
            text
        } else {
            Zeroizing::new(words.join(" "))
        };
        triage::add_note(ws.conn(), &id, &text, &recipients)?;
        println!(
            "Added a note to report {} (locked to {} group key(s)).",
            short(&id),
            recipients.len()
        );
        Ok(())
    }

    fn search(&self, text: &str, filter: &Filter) -> Result<()> {
        let ws = self.open()?;
        let keyring = self.keyring(&ws)?;
        let result = search::search(&ws, &keyring, text, filter)?;
        let out = view::search_results(&result);
        print_secret(&out)?;
        println!(
            "Searched {} report(s): {} match.",
            result.searched,
            result.found.len()
        );
        report_failures(&result.failed);
        Ok(())
    }

    fn report(&self, format: Format, out: Option<&Path>, filter: &Filter) -> Result<()> {
        let ws = self.open()?;
        if let Some(path) = out {
            ws.refuse_inside(path)?;
        }
        let keyring = self.keyring(&ws)?;
        let r = report::report(&ws, &keyring, filter, format)?;
        match out {
            None => print_secret(&r.text)?,
            Some(path) => {
                write_new_file(path, r.text.as_bytes())?;
                eprintln!(
                    "Wrote a report of {} report(s) to {}. It is NOT locked: keep it only where case files belong.",
                    r.cases,
                    path.display()
                );
            }
        }
        report_failures(&r.failed);
        Ok(())
    }

    fn ack(&self, out: &Path, all: bool) -> Result<()> {
        let mut ws = self.open()?;
        let summary = ack::write_ack(&mut ws, out, all)?;
        for (id, why) in &summary.skipped {
            eprintln!(
                "Left out report {}: {why}. Import its bundle again.",
                short(id)
            );
        }
        match summary.file {
            Some(file) => println!(
                "Wrote {} naming {} report(s). Give it to the operator, who runs `sealdrop purge --ack {}` on the server.",
                file.display(),
                summary.acked,
                file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned())
            ),
            None => println!(
                "Nothing new to acknowledge; no file was written. (`--all` names every report again.)"
            ),
        }
        Ok(())
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

fn report_failures(failed: &[(String, String)]) {
    if failed.is_empty() {
        return;
    }
    eprintln!("Could not open {} report(s):", failed.len());
    for (id, why) in failed {
        eprintln!("  {}: {why}", short(id));
    }
}

/// Print text that came from submissions (already made terminal-safe by the library).
fn print_secret(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // A closed pipe (`sealdesk list | head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other?),
    }
}

/// Create `path` (never overwriting) readable by its owner only, and make it durable.
fn write_new_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!(
                "cannot create {} (Sealdesk never overwrites a file; choose a new name)",
                path.display()
            )
        })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

fn new_passphrase() -> Result<SecretString> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(SecretString::from(p));
    }
    let p = age::cli_common::read_secret(
        "Choose a passphrase for the new staff key",
        "Passphrase",
        Some("Type the same passphrase again"),
    )
    .map_err(|e| anyhow::anyhow!("could not read the passphrase: {e}"))?;
    if p.expose_secret().chars().count() < 12 {
        bail!("the passphrase is shorter than 12 characters; choose a longer one (several words work well)");
    }
    Ok(p)
}

fn keygen(out: PathBuf, no_passphrase: bool) -> Result<()> {
    let passphrase = if no_passphrase {
        eprintln!("WARNING: writing the key WITHOUT a passphrase. Anyone who copies {} can read every report.", out.display());
        None
    } else {
        Some(new_passphrase()?)
    };
    let recipient = identity::generate(&out, passphrase)
        .with_context(|| format!("making a new staff key in {}", out.display()))?;
    eprintln!("Wrote the new staff key to {}.", out.display());
    eprintln!(
        "Add the line below to keys/recipients.txt on the server (it is public, not secret):"
    );
    println!("{recipient}");
    Ok(())
}
