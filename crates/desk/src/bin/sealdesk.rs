//! `sealdesk`: the staff's offline tool, for the air-gapped machine. It never uses the network.
//!
//! Thin on purpose: it reads arguments, does the terminal's input and output (prompts, progress,
//! printing) and calls the `sealdesk` library, where every decision is made. Help texts are for
//! staff, not engineers.

use std::ffi::OsStr;
use std::io::{BufRead, IsTerminal, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use anyhow::{Context, Result};
use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use sealdesk::cases::{self, Filter};
use sealdesk::identity::{self, Keyring};
use sealdesk::report::Format;
use sealdesk::session::Session;
use sealdesk::triage::{self, Status};
use sealdesk::view;
use sealdesk::workspace::Workspace;
use sealdesk::{
    ack, conversation, decrypt, extract, import, outbox, outcome, prompt, report, search, setup,
};
use sealdrop_core::day::Date;

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
        /// Where it stands now.
        #[arg(value_parser = Listed::<Status>::new())]
        status: Status,
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
        /// What kind of file to write.
        #[arg(long, short, value_parser = Listed::<Format>::new())]
        format: Format,
        /// Write to this new file instead of the screen.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Write a reply to the source of a report (only for sources who chose a codename).
    ///
    /// Type the reply, then press Ctrl-D on a new line (or pipe it in). It is never taken from
    /// the command line, which the shell keeps in its history. The reply is locked so that only
    /// the source can read it, with a copy for the group; it leaves with the next outbox.
    Reply {
        /// The report's ID (the first 4 or more characters are enough).
        id: String,
        /// How many days the server keeps the reply for the source (1 to 366).
        #[arg(long, value_name = "DAYS", default_value = "30", value_parser = conversation::parse_reply_days)]
        days: i64,
    },
    /// Write the outbox: one signed file with your replies and the acknowledgements that let
    /// the server delete reports you now hold.
    ///
    /// It acknowledges only reports this workspace holds intact AND your staff key opens. Carry
    /// the file to the operator, who runs `sealdrop import-outbox FILE`.
    Outbox {
        /// The new file to write.
        #[arg(long, short, value_name = "FILE")]
        out: PathBuf,
        /// Write the last outbox again (same number, same contents), if the first was lost.
        #[arg(long)]
        again: bool,
    },
    /// Print this desk's outbox key fingerprint, for the operator to pin on the server.
    Fingerprint,
    /// Write the acknowledgement file that lets the server delete reports you now hold.
    ///
    /// Superseded by `sealdesk outbox`, which carries acknowledgements signed; kept for servers
    /// that do not import outboxes yet.
    ///
    /// It names every report imported since the last ack (with --all: every report in this
    /// workspace), after checking that each is intact here and that your staff key opens it. Carry the file to the operator,
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
    #[arg(long, value_parser = Listed::<Status>::new())]
    status: Option<Status>,
    /// Only reports with this tag.
    #[arg(long, value_parser = triage::normalise_tag)]
    tag: Option<String>,
    /// Only reports that arrived on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DAY", value_parser = cases::parse_day)]
    from: Option<Date>,
    /// Only reports that arrived on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DAY", value_parser = cases::parse_day)]
    to: Option<Date>,
}

impl FilterArgs {
    fn filter(self) -> Filter {
        Filter {
            status: self.status,
            tag: self.tag,
            from: self.from,
            to: self.to,
        }
    }
}

/// A closed set of values, read with the library's own spelling rules and messages, while
/// `--help` lists the values (as clap's `ValueEnum` parser would).
#[derive(Clone)]
struct Listed<T>(PhantomData<T>);

impl<T> Listed<T> {
    fn new() -> Self {
        Listed(PhantomData)
    }
}

impl<T> TypedValueParser for Listed<T>
where
    T: ValueEnum + std::str::FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Display,
{
    type Value = T;

    fn parse_ref(
        &self,
        _: &clap::Command,
        _: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let text = value
            .to_str()
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidUtf8))?;
        text.parse().map_err(|e: T::Err| {
            clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{e}\n"))
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            T::value_variants()
                .iter()
                .filter_map(ValueEnum::to_possible_value),
        ))
    }
}

/// Every freed block is wiped, whoever allocated it (age, serde_json, the bundle reader): see
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
    let cli = Cli::parse();
    let desk = Desk(Session::new(cli.workspace, cli.identity, |key| {
        std::env::var_os(key)
    }));
    match cli.command {
        Command::Keygen { out, no_passphrase } => keygen(&out, no_passphrase),
        Command::Init {
            server_key,
            recipients,
        } => desk.init(server_key, &recipients),
        Command::Import { file } => desk.import(&file),
        Command::List { filter } => desk.list(&filter.filter()),
        Command::Show { id } => desk.show(&id),
        Command::Extract { id, to } => desk.extract(&id, &to),
        Command::Tag { id, tags } => desk.tag(&id, &tags, true),
        Command::Untag { id, tags } => desk.tag(&id, &tags, false),
        Command::Status { id, status } => desk.status(&id, status),
        Command::Note { id, text } => desk.note(&id, &text),
        Command::Search { text, filter } => desk.search(&text.join(" "), &filter.filter()),
        Command::Report {
            format,
            out,
            filter,
        } => desk.report(format, out.as_deref(), &filter.filter()),
        Command::Ack { out, all } => desk.ack(&out, all),
        Command::Reply { id, days } => desk.reply(&id, days),
        Command::Outbox { out, again } => desk.outbox(&out, again),
        Command::Fingerprint => desk.fingerprint(),
    }
}

/// The commands, each a few calls into the library and its printing.
struct Desk(Session);

impl Desk {
    fn open(&self) -> Result<Workspace> {
        Ok(self.0.open()?)
    }

    /// The staff key, asking for its passphrase at most once.
    fn keyring(&self, ws: &Workspace) -> Result<Keyring> {
        let from_env = std::env::var(prompt::PASSPHRASE_ENV).ok();
        Ok(self
            .0
            .keyring(ws, from_env, |question| read_secret(question, None))?)
    }

    fn init(&self, server_key: Option<String>, recipients: &Path) -> Result<()> {
        let done = setup::init(
            &self.0.workspace,
            self.0.identity.as_deref(),
            recipients,
            server_key,
            || {
                eprint!("{}", prompt::FINGERPRINT);
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                Ok(line)
            },
            |identity| {
                let from_env = std::env::var(prompt::PASSPHRASE_ENV).ok();
                Ok(identity::load(identity, || {
                    prompt::staff_passphrase(from_env, || {
                        read_secret(&prompt::unlock(identity), None)
                    })
                    .map_err(|e| e.to_string())
                })?)
            },
        )?;
        println!("{}", outcome::initialised(&self.0.workspace, &done));
        if let Some(warning) = outcome::group_warning(&done) {
            eprintln!("{warning}");
        }
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
        let summary = import::import(&mut ws, file, &progress)
            .with_context(|| format!("importing {}", file.display()))?;
        progress.finish_and_clear();
        println!("{}", outcome::imported(&summary));
        Ok(())
    }

    fn list(&self, filter: &Filter) -> Result<()> {
        let ws = self.open()?;
        let list = cases::list(ws.conn(), filter)?;
        if list.is_empty() {
            // Nothing to show, so no passphrase to ask for.
            println!("{}", outcome::NOTHING_LISTED);
            return Ok(());
        }
        let keyring = self.keyring(&ws)?;
        let previews = decrypt::list_previews(&ws.blobs_dir(), &keyring, &list);
        let lines: Vec<view::ListLine<'_>> = list
            .iter()
            .zip(previews)
            .map(|(case, preview)| view::ListLine { case, preview })
            .collect();
        let width = outcome::list_width(std::env::var("COLUMNS").ok().as_deref());
        print_secret(&view::list_table(&lines, width))?;
        println!("{}", outcome::listed(&list));
        Ok(())
    }

    fn show(&self, id: &str) -> Result<()> {
        let ws = self.open()?;
        let id = ws.resolve(id)?;
        let keyring = self.keyring(&ws)?;
        let case = cases::get(ws.conn(), &id)?;
        let envelope = decrypt::open_envelope(&ws.blobs_dir(), &keyring, &case)?;
        let notes = triage::notes(ws.conn(), &id, &keyring)?;
        let parts = conversation::thread_parts(&ws, &keyring, &case, &envelope)?;
        let ids: Vec<String> = parts.iter().map(|p| p.case.id.clone()).collect();
        let replies = conversation::replies_to(ws.conn(), &ids, &keyring)?;
        print_secret(&view::show_page(&case, &envelope, &notes))?;
        print_secret(&view::conversation_page(&id, &parts, &replies))?;
        // Read only once it was shown.
        triage::mark_read(ws.conn(), &id)?;
        Ok(())
    }

    fn extract(&self, id: &str, to: &Path) -> Result<()> {
        let ws = self.open()?;
        let id = ws.resolve(id)?;
        let keyring = self.keyring(&ws)?;
        let done = extract::extract(&ws, &keyring, &id, to)?;
        println!("{}", outcome::extracted(&id, &done));
        Ok(())
    }

    fn tag(&self, id: &str, tags: &[String], add: bool) -> Result<()> {
        let mut ws = self.open()?;
        let id = ws.resolve(id)?;
        let changed = if add {
            triage::tag(ws.conn_mut(), &id, tags)?
        } else {
            triage::untag(ws.conn_mut(), &id, tags)?
        };
        let case = cases::get(ws.conn(), &id)?;
        println!("{}", outcome::tags_changed(&id, add, &changed, &case.tags));
        Ok(())
    }

    fn status(&self, id: &str, status: Status) -> Result<()> {
        let mut ws = self.open()?;
        let id = ws.resolve(id)?;
        let old = triage::set_status(ws.conn_mut(), &id, status)?;
        println!("{}", outcome::status_changed(&id, old, status));
        Ok(())
    }

    fn note(&self, id: &str, words: &[String]) -> Result<()> {
        let ws = self.open()?;
        let id = ws.resolve(id)?;
        let recipients = ws.settings()?.recipients()?;
        if words.is_empty() && std::io::stdin().is_terminal() {
            eprintln!("{}", prompt::NOTE);
        }
        let text = prompt::note_text(words, std::io::stdin())?;
        let keyring = self.keyring(&ws)?;
        triage::add_note(ws.conn(), &id, &text, &recipients, &keyring)?;
        println!("{}", outcome::note_added(&id, recipients.len()));
        Ok(())
    }

    fn search(&self, text: &str, filter: &Filter) -> Result<()> {
        let ws = self.open()?;
        let keyring = self.keyring(&ws)?;
        let result = search::search(&ws, &keyring, text, filter)?;
        print_secret(&search::render_results(&result))?;
        println!("{}", outcome::searched(&result));
        print_failures(&result.failed);
        Ok(())
    }

    fn report(&self, format: Format, out: Option<&Path>, filter: &Filter) -> Result<()> {
        let ws = self.open()?;
        if let Some(path) = out {
            // Before the passphrase: a refusal should not cost staff the typing.
            ws.refuse_inside(path)?;
        }
        let keyring = self.keyring(&ws)?;
        let r = report::report(&ws, &keyring, filter, format)?;
        match out {
            None => print_secret(&r.text)?,
            Some(path) => {
                report::write_new_file(path, &r.text)?;
                eprintln!("{}", outcome::report_written(r.cases, path));
            }
        }
        print_failures(&r.failed);
        Ok(())
    }

    fn ack(&self, out: &Path, all: bool) -> Result<()> {
        let mut ws = self.open()?;
        let keyring = self.keyring(&ws)?;
        let summary = ack::write_ack(&mut ws, &keyring, out, all)?;
        let skipped = outcome::ack_skipped(&summary);
        if !skipped.is_empty() {
            eprintln!("{skipped}");
        }
        println!("{}", outcome::acked(&summary));
        Ok(())
    }
}

impl Desk {
    fn reply(&self, id: &str, days: i64) -> Result<()> {
        let ws = self.open()?;
        let id = ws.resolve(id)?;
        let keyring = self.keyring(&ws)?;
        if std::io::stdin().is_terminal() {
            eprintln!("{}", prompt::REPLY);
        }
        let text = prompt::reply_text(std::io::stdin())?;
        let queued = conversation::queue_reply(&ws, &keyring, &id, &text, days)?;
        println!("{}", outcome::reply_queued(&queued));
        Ok(())
    }

    fn outbox(&self, out: &Path, again: bool) -> Result<()> {
        let mut ws = self.open()?;
        let keyring = self.keyring(&ws)?;
        let summary = outbox::write_outbox(&mut ws, &keyring, out, again)?;
        let skipped = outcome::outbox_skipped(&summary);
        if !skipped.is_empty() {
            eprintln!("{skipped}");
        }
        println!("{}", outcome::outbox_written(&summary));
        Ok(())
    }

    fn fingerprint(&self) -> Result<()> {
        let ws = self.open()?;
        println!("{}", outbox::fingerprint(&ws)?);
        Ok(())
    }
}

fn print_failures(failed: &[(String, String)]) {
    let text = outcome::failures(failed);
    if !text.is_empty() {
        eprintln!("{text}");
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

/// Ask for a secret on the terminal (or through pinentry), without echo.
fn read_secret(question: &str, confirm: Option<&str>) -> std::io::Result<SecretString> {
    // pinentry's error is not a `std::error::Error`; its text is all there is to carry.
    age::cli_common::read_secret(question, "Passphrase", confirm)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

fn keygen(out: &Path, no_passphrase: bool) -> Result<()> {
    let passphrase = if no_passphrase {
        eprintln!("{}", outcome::no_passphrase_warning(out));
        None
    } else {
        let from_env = std::env::var(prompt::PASSPHRASE_ENV).ok();
        Some(prompt::new_passphrase(from_env, || {
            read_secret(prompt::NEW_PASSPHRASE, Some(prompt::CONFIRM_PASSPHRASE))
        })?)
    };
    let recipient: String = identity::generate(out, passphrase)
        .with_context(|| format!("making a new staff key in {}", out.display()))?;
    eprintln!("{}", outcome::key_written(out));
    println!("{recipient}");
    Ok(())
}
