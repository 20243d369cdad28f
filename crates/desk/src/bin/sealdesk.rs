//! `sealdesk`: the staff's offline tool, for the air-gapped machine. It never uses the network.
//!
//! Thin on purpose: it reads arguments, does the terminal's input and output (prompts, progress,
//! printing) and calls the `sealdesk` library, where every decision is made. Help texts are for
//! staff, not engineers.

use std::cell::OnceCell;
use std::ffi::OsStr;
use std::io::{BufRead, IsTerminal, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use anyhow::{Context, Result};
use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use zeroize::Zeroizing;

use sealdesk::cases::{self, Filter};
use sealdesk::identity::{self, Keyring};
use sealdesk::report::Format;
use sealdesk::session::{self, Session};
use sealdesk::triage::{self, Status};
use sealdesk::view;
use sealdesk::workspace::Workspace;
use sealdesk::{
    ack, conversation, correct, decrypt, editor, extract, import, outbox, outcome, prompt, report,
    search, setup, DeskError,
};
use sealdrop_core::day::Date;

/// Sealdesk: read and sort the reports sources sent, on a computer that stays offline.
///
/// Start with `sealdesk keygen` (once per staff member), then `sealdesk init` (once per
/// computer). Each day: `import` the file the operator gives you, `list`, `show`, and sort
/// reports with `status`, `tag` and `note`; `sealdesk shell` asks for your passphrase once for
/// a whole working session. Type `sealdesk help COMMAND` for more on a command.
///
/// The workspace lives in ~/.local/share/sealdesk (or $XDG_DATA_HOME/sealdesk);
/// `sealdesk where` says which one a command uses.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// The workspace folder (default: ~/.local/share/sealdesk, or $XDG_DATA_HOME/sealdesk; the
    /// SEALDESK_WORKSPACE setting overrides it). A ./sealdesk-workspace made by older versions is
    /// still used if the default place holds none.
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
    /// The key file is protected with a passphrase you choose, of at least 12 characters. It is
    /// asked twice, always (in a terminal or a pinentry window); if the two differ you are asked
    /// again, up to 3 times. Keep the file and the passphrase safe: without both, nobody can read
    /// reports sealed to this key.
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
    /// Add a note to a report. Notes are locked to the group's keys and carry your name (see
    /// `sealdesk author`) and the time.
    ///
    /// Without TEXT, the note opens in your editor ($VISUAL or $EDITOR, on a private file that is
    /// wiped afterwards) or, with no editor set, is typed here (finish with Ctrl-D on a new line);
    /// it can also be piped in. TEXT on the command line works but stays in your shell's history,
    /// so Sealdesk warns (not in `sealdesk shell`, which keeps no history).
    Note {
        /// The report's ID (the first 4 or more characters are enough).
        id: String,
        /// The note (better left out: the shell keeps it in its history).
        text: Vec<String>,
    },
    /// Find reports containing some text (any letter case; Cyrillic and Tajik letters too).
    ///
    /// Russian words also find their other forms: МОСКВА finds "в Москве". With --exact, only
    /// the letters as typed are found (still in any letter case).
    Search {
        /// The text to find.
        #[arg(required = true)]
        text: Vec<String>,
        /// Find the text only as typed, not other forms of its words.
        #[arg(long)]
        exact: bool,
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
    /// Say where the workspace is, which staff key and server fingerprint it uses, and every
    /// change made to them.
    Where,
    /// Work in one session: asks for the passphrase once, then runs commands (list, show,
    /// search, note, ...) typed at the `sealdesk>` prompt until `exit` or Ctrl-D.
    ///
    /// The unlocked key stays only in this program's memory (wiped when freed, never written
    /// to disk, never in swap-able core dumps). Leave the session when you step away.
    Shell,
    /// Trust a new server fingerprint: after the operator rotated the server's signing key, or
    /// if the one typed at `init` was wrong (imports then fail with "its signature does not
    /// match the server fingerprint this workspace trusts").
    ///
    /// A security decision: the pinned fingerprint is what tells a genuine bundle from a forged
    /// one. Sealdesk shows the old and the new one and changes nothing until you type re-pin.
    /// Check the new one with the operator in person or by phone first. Each change is recorded
    /// (`sealdesk where` lists them).
    Repin {
        /// The new fingerprint (asked for if left out).
        #[arg(long, value_name = "FINGERPRINT")]
        server_key: Option<String>,
    },
    /// Replace the group's public keys that notes are locked to (after a key was added, lost or
    /// replaced). Shows what changes and asks you to type replace.
    Recipients {
        /// The new group keys file (a copy of the server's keys/recipients.txt).
        file: PathBuf,
    },
    /// Set (or show) the name that signs your notes on this workspace (default: your user name).
    Author {
        /// Your name as colleagues should see it.
        name: Option<String>,
    },
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
    let desk = Desk::new(Session::new(cli.workspace, cli.identity, |key| {
        std::env::var_os(key)
    }));
    match cli.command {
        Command::Keygen { out, no_passphrase } => keygen(&out, no_passphrase),
        Command::Init {
            server_key,
            recipients,
        } => desk.init(server_key, &recipients),
        Command::Shell => desk.shell(),
        other => desk.run(other),
    }
}

/// One line typed at the `sealdesk>` prompt: a command without the program's name.
#[derive(Parser)]
#[command(no_binary_name = true, disable_version_flag = true)]
struct ShellLine {
    #[command(subcommand)]
    command: Command,
}

/// The commands, each a few calls into the library and its printing.
struct Desk {
    session: Session,
    /// The staff key once unlocked: for one command, or for a whole `sealdesk shell`.
    keyring: OnceCell<Keyring>,
    /// Inside `sealdesk shell` (whose lines enter no shell history).
    in_shell: bool,
}

impl Desk {
    fn new(session: Session) -> Desk {
        Desk {
            session,
            keyring: OnceCell::new(),
            in_shell: false,
        }
    }

    /// Every command that works in a workspace (`keygen`, `init` and `shell` are handled before).
    fn run(&self, command: Command) -> Result<()> {
        match command {
            Command::Import { file } => self.import(&file),
            Command::List { filter } => self.list(&filter.filter()),
            Command::Show { id } => self.show(&id),
            Command::Extract { id, to } => self.extract(&id, &to),
            Command::Tag { id, tags } => self.tag(&id, &tags, true),
            Command::Untag { id, tags } => self.tag(&id, &tags, false),
            Command::Status { id, status } => self.status(&id, status),
            Command::Note { id, text } => self.note(&id, &text),
            Command::Search {
                text,
                exact,
                filter,
            } => self.search(&text.join(" "), exact, &filter.filter()),
            Command::Report {
                format,
                out,
                filter,
            } => self.report(format, out.as_deref(), &filter.filter()),
            Command::Ack { out, all } => self.ack(&out, all),
            Command::Reply { id, days } => self.reply(&id, days),
            Command::Outbox { out, again } => self.outbox(&out, again),
            Command::Fingerprint => self.fingerprint(),
            Command::Where => self.where_(),
            Command::Repin { server_key } => self.repin(server_key),
            Command::Recipients { file } => self.recipients(&file),
            Command::Author { name } => self.author(name),
            Command::Keygen { .. } | Command::Init { .. } | Command::Shell => {
                Err(anyhow::anyhow!("{}", outcome::NOT_IN_SHELL))
            }
        }
    }

    fn open(&self) -> Result<Workspace> {
        Ok(self.session.open()?)
    }

    /// The staff key: unlocked at most once per command (or per `sealdesk shell`), asking again
    /// after a wrong passphrase.
    fn keyring(&self, ws: &Workspace) -> Result<&Keyring> {
        if let Some(keyring) = self.keyring.get() {
            return Ok(keyring);
        }
        let from_env = std::env::var(prompt::PASSPHRASE_ENV).ok();
        let keyring = self.session.keyring(ws, from_env, read_secret)?;
        Ok(self.keyring.get_or_init(|| keyring))
    }

    /// `sealdesk shell`: unlock once, then run the commands typed until `exit` or Ctrl-D.
    fn shell(mut self) -> Result<()> {
        self.in_shell = true;
        let ws = self.open()?;
        self.keyring(&ws)?;
        drop(ws);
        eprintln!("{}", outcome::shell_started(&self.session.workspace));
        let stdin = std::io::stdin();
        let mut line = Zeroizing::new(String::with_capacity(4096));
        loop {
            eprint!("sealdesk> ");
            line.clear();
            if stdin.lock().read_line(&mut line)? == 0 {
                eprintln!();
                break;
            }
            let words = match shlex::split(&line) {
                Some(words) => words,
                None => {
                    eprintln!("{}", outcome::SHELL_QUOTES);
                    continue;
                }
            };
            match words.first().map(String::as_str) {
                None => continue,
                Some("exit" | "quit") => break,
                _ => {}
            }
            match ShellLine::try_parse_from(&words) {
                // Help and usage errors, printed as clap prints them.
                Err(e) => {
                    let _ = e.print();
                }
                Ok(parsed) => {
                    if let Err(e) = self.run(parsed.command) {
                        eprintln!("error: {e:#}");
                    }
                }
            }
        }
        eprintln!("{}", outcome::SHELL_ENDED);
        Ok(())
    }

    fn init(&self, server_key: Option<String>, recipients: &Path) -> Result<()> {
        let done = setup::init(
            &self.session.workspace,
            self.session.identity.as_deref(),
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
                session::unlock(identity, from_env, read_secret)
            },
        )?;
        println!("{}", outcome::initialised(&self.session.workspace, &done));
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
        let previews = decrypt::list_previews(&ws.blobs_dir(), keyring, &list);
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
        let envelope = decrypt::open_envelope(&ws.blobs_dir(), keyring, &case)?;
        let notes = triage::notes(ws.conn(), &id, keyring)?;
        let parts = conversation::thread_parts(&ws, keyring, &case, &envelope)?;
        let ids: Vec<String> = parts.iter().map(|p| p.case.id.clone()).collect();
        let replies = conversation::replies_to(ws.conn(), &ids, keyring)?;
        let heads: Vec<_> = envelope
            .attachments
            .iter()
            .map(|a| {
                extract::attachment_head(&ws.blobs_dir(), keyring, a).map_err(|e| e.with_causes())
            })
            .collect();
        print_secret(&view::show_page(&case, &envelope, &heads, &notes))?;
        print_secret(&view::conversation_page(&id, &parts, &replies))?;
        // Read only once it was shown.
        triage::mark_read(ws.conn(), &id)?;
        Ok(())
    }

    fn extract(&self, id: &str, to: &Path) -> Result<()> {
        let ws = self.open()?;
        let id = ws.resolve(id)?;
        let keyring = self.keyring(&ws)?;
        let progress = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "Decrypting and saving {bar:40} {bytes}/{total_bytes} ({eta} left)",
                )
                .expect("a valid template"),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let done = extract::extract(&ws, keyring, &id, to, &progress)?;
        progress.finish_and_clear();
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
        let author = correct::author(&ws, |k| std::env::var(k).ok())?;
        let keyring = self.keyring(&ws)?;
        let editor = editor::chosen(|k| std::env::var(k).ok());
        let text = if !words.is_empty() {
            if !self.in_shell {
                eprintln!("{}", outcome::NOTE_IN_HISTORY);
            }
            prompt::note_text(words, std::io::empty())?
        } else if let (Some(editor), true) = (editor, std::io::stdin().is_terminal()) {
            eprintln!("{}", outcome::note_editor(&editor));
            editor::write_note(&editor, |k| std::env::var(k).ok())?
        } else {
            if std::io::stdin().is_terminal() {
                eprintln!("{}", prompt::NOTE);
            }
            prompt::note_text(words, std::io::stdin())?
        };
        triage::add_note(ws.conn(), &id, &text, &author, &recipients, keyring)?;
        println!("{}", outcome::note_added(&id, recipients.len()));
        Ok(())
    }

    fn search(&self, text: &str, exact: bool, filter: &Filter) -> Result<()> {
        let ws = self.open()?;
        let keyring = self.keyring(&ws)?;
        let mode = if exact {
            search::Mode::Exact
        } else {
            search::Mode::WordForms
        };
        let result = search::search(&ws, keyring, text, mode, filter)?;
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
        let r = report::report(&ws, keyring, filter, format)?;
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
        let summary = ack::write_ack(&mut ws, keyring, out, all)?;
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
        let queued = conversation::queue_reply(&ws, keyring, &id, &text, days)?;
        println!("{}", outcome::reply_queued(&queued));
        Ok(())
    }

    fn outbox(&self, out: &Path, again: bool) -> Result<()> {
        let mut ws = self.open()?;
        let keyring = self.keyring(&ws)?;
        let summary = outbox::write_outbox(&mut ws, keyring, out, again)?;
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

    fn where_(&self) -> Result<()> {
        let s = &self.session;
        let dir = std::path::absolute(&s.workspace).unwrap_or_else(|_| s.workspace.clone());
        match s.open() {
            Ok(ws) => {
                let settings = ws.settings()?;
                let identity = s.identity_path(&ws)?;
                let author = correct::author(&ws, |k| std::env::var(k).ok())?;
                let history = correct::history(&ws)?;
                println!(
                    "{}",
                    outcome::where_is(&dir, s.origin, &identity, &settings, &author, &history)
                );
            }
            Err(DeskError::NoWorkspace { .. }) => {
                println!("{}", outcome::where_none(&dir, s.origin));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    fn repin(&self, server_key: Option<String>) -> Result<()> {
        let mut ws = self.open()?;
        let text = match server_key {
            Some(text) => text,
            None => ask_line(prompt::NEW_FINGERPRINT)?,
        };
        let plan = correct::plan_repin(&ws, &text)?;
        let typed = ask_line(&correct::repin_question(&plan))?;
        if !correct::confirmed(&typed, correct::REPIN_WORD) {
            return Err(DeskError::NotConfirmed.into());
        }
        correct::apply_repin(&mut ws, &plan)?;
        println!("{}", outcome::repinned(&plan));
        Ok(())
    }

    fn recipients(&self, file: &Path) -> Result<()> {
        let mut ws = self.open()?;
        let keyring = self.keyring(&ws)?;
        let plan = correct::plan_recipients(&ws, file, keyring)?;
        let typed = ask_line(&correct::recipients_question(&plan))?;
        if !correct::confirmed(&typed, correct::RECIPIENTS_WORD) {
            return Err(DeskError::NotConfirmed.into());
        }
        correct::apply_recipients(&mut ws, &plan)?;
        println!("{}", outcome::recipients_replaced(plan.keys));
        Ok(())
    }

    fn author(&self, name: Option<String>) -> Result<()> {
        let mut ws = self.open()?;
        match name {
            Some(name) => {
                let name = correct::set_author(&mut ws, &name)?;
                println!("{}", outcome::author_set(&name));
            }
            None => println!("{}", correct::author(&ws, |k| std::env::var(k).ok())?),
        }
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

/// Ask for a secret on the terminal (or through pinentry), without echo. Never with the
/// pinentry's own repeat field: a new passphrase is asked twice by `prompt::new_passphrase`.
fn read_secret(question: &str) -> std::io::Result<SecretString> {
    // pinentry's error is not a `std::error::Error`; its text is all there is to carry.
    age::cli_common::read_secret(question, "Passphrase", None)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Show `question` and read one line of standard input.
fn ask_line(question: &str) -> Result<String> {
    eprint!("{question}");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer")?;
    Ok(line)
}

fn keygen(out: &Path, no_passphrase: bool) -> Result<()> {
    let passphrase = if no_passphrase {
        eprintln!("{}", outcome::no_passphrase_warning(out));
        None
    } else {
        let from_env = std::env::var(prompt::PASSPHRASE_ENV).ok();
        Some(prompt::new_passphrase(from_env, read_secret, |why| {
            eprintln!("{why}")
        })?)
    };
    let recipient: String = identity::generate(out, passphrase)
        .with_context(|| format!("making a new staff key in {}", out.display()))?;
    eprintln!("{}", outcome::key_written(out));
    println!("{recipient}");
    Ok(())
}
