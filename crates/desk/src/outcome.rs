//! What each command tells staff when it is done: plain sentences, written for staff.
//!
//! Anything a source wrote goes through `view`'s escaping first; the rest is ids, counts,
//! paths and names Sealdesk chose.

use std::fmt::Write;
use std::path::Path;

use super::ack::{self, AckSummary};
use super::cases::Case;
use super::conversation::Queued;
use super::extract::Extracted;
use super::import::ImportSummary;
use super::outbox::OutboxSummary;
use super::search::SearchResult;
use super::setup::Initialised;
use super::triage::Status;
use super::view::{self, short, terminal_safe, Safe};
use sealdrop_bundle::signing::format_fingerprint;

/// `list` when no report matches.
pub const NOTHING_LISTED: &str = "No reports match. (`sealdesk import FILE` brings new ones in.)";
/// `ack` when every report was acknowledged before.
pub const NOTHING_TO_ACK: &str =
    "Nothing new to acknowledge; no file was written. (`--all` names every report again.)";
/// Width of the `list` table when the terminal does not say (COLUMNS unset or not a number).
pub const DEFAULT_WIDTH: usize = 120;

/// The `list` table's width from the COLUMNS setting.
pub fn list_width(columns: Option<&str>) -> usize {
    columns
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(DEFAULT_WIDTH)
}

pub fn initialised(workspace: &Path, done: &Initialised) -> String {
    format!(
        "Created the workspace {} (`sealdesk where` shows it again).\n\
         Server fingerprint: {}\n\
         Your staff key:     {}\n\
         Notes are locked to {} group key(s).\n\
         This desk's outbox key fingerprint (the operator adds it to the server's desk keys file;\n\
         compare it with them in person or by phone; `sealdesk fingerprint` prints it again):\n\
         {}\n\
         Next: `sealdesk import BUNDLE-FILE` with the file the operator gives you.",
        std::path::absolute(workspace)
            .unwrap_or_else(|_| workspace.to_owned())
            .display(),
        format_fingerprint(&done.server_key),
        done.identity.display(),
        done.group_keys,
        format_fingerprint(&done.desk_key),
    )
}

/// `init`'s warning when the group's keys leave out the staff key; `None` when they include it.
pub fn group_warning(done: &Initialised) -> Option<String> {
    match &done.own_key_in_group {
        Ok(true) => None,
        Ok(false) => Some(format!(
            "WARNING: your staff key {} is not among the group's keys. Notes and replies are locked to \
             the group's keys, so you could not read your own: Sealdesk will refuse to save them. \
             Add your public key to the group's keys file and make the workspace again.",
            done.identity.display()
        )),
        Err(why) => Some(format!(
            "WARNING: could not check that the group's keys include your staff key ({why}). \
             Notes and replies you could not read back will be refused."
        )),
    }
}

pub fn reply_queued(q: &Queued) -> String {
    format!(
        "Queued a reply to the source of report {} (padded to {} bytes, kept on the server until {}).\n\
         It leaves with the next `sealdesk outbox --out FILE`.",
        short(&q.submission),
        q.padded,
        q.expires
    )
}

pub fn outbox_written(s: &OutboxSummary) -> String {
    let name = s.file.file_name().map_or_else(
        || s.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    format!(
        "{} outbox number {} to {}: {} reply(ies), {} acknowledgement(s).\n\
         Carry it to the operator, who runs `sealdrop import-outbox {name}`. If it is lost, \
         `sealdesk outbox --again --out NEW-FILE` writes the same outbox again.",
        if s.again { "Wrote again" } else { "Wrote" },
        s.sequence,
        s.file.display(),
        s.replies,
        s.acks
    )
}

/// One line for each report an outbox did not acknowledge.
pub fn outbox_skipped(s: &OutboxSummary) -> String {
    let lines: Vec<String> = s
        .skipped
        .iter()
        .map(|(id, why)| {
            format!(
                "Not acknowledged (stays on the server): report {}: {why}",
                short(id)
            )
        })
        .collect();
    lines.join("\n")
}

pub fn no_passphrase_warning(key: &Path) -> String {
    format!(
        "WARNING: writing the key WITHOUT a passphrase. Anyone who copies {} can read every report.",
        key.display()
    )
}

pub fn key_written(key: &Path) -> String {
    format!(
        "Wrote the new staff key to {}.\n\
         Add the line below to keys/recipients.txt on the server (it is public, not secret):",
        key.display()
    )
}

pub fn imported(s: &ImportSummary) -> String {
    if s.added == 0 {
        format!(
            "Nothing new: all {} report(s) in bundle {} (exported {}) were already here.",
            s.in_bundle,
            short(&s.bundle_id),
            s.created
        )
    } else {
        format!(
            "Imported bundle {} (exported {}): {} new report(s), {} already here, {}.",
            short(&s.bundle_id),
            s.created,
            s.added,
            s.already,
            view::human_size(s.bytes_added)
        )
    }
}

/// The line under the `list` table.
pub fn listed(cases: &[Case]) -> String {
    let unread = cases.iter().filter(|c| !c.read).count();
    format!("{} report(s), {unread} unread (*).", cases.len())
}

/// What `extract` saved, with a warning for each file that may run code.
pub fn extracted(id: &str, done: &Extracted) -> String {
    let Some(folder) = &done.folder else {
        return format!(
            "Report {} has no attachments; nothing was written.",
            short(id)
        );
    };
    let mut out = format!(
        "Saved {} attachment(s) of report {} into the new folder\n  {}",
        done.files.len(),
        short(id),
        folder.display()
    );
    let mut risky = 0;
    for f in &done.files {
        let _ = write!(
            out,
            "\n  {}  ({}, {})",
            Safe::line(&f.written),
            view::human_size(f.size),
            Safe::line(&f.declared_type)
        );
        if f.written != f.original {
            let _ = write!(
                out,
                "\n      the sender's name for it was: {:?}",
                terminal_safe(&f.original, false).as_str()
            );
        }
        if let Some(problem) = &f.problem {
            let _ = write!(out, "\n      PROBLEM: {problem}");
        }
        if let Some(why) = &f.risk {
            risky += 1;
            let _ = write!(
                out,
                "\n      WARNING: this may be a program or script ({why})."
            );
        }
        if let Some(what) = f.disguised {
            let _ = write!(
                out,
                "\n      WARNING: DISGUISED PROGRAM: its name looks harmless but {what}. It was saved \
                 with `{}` added so that it does not open as what its name claims. Do not open or run it \
                 on this computer.",
                crate::filenames::DISGUISED_SUFFIX
            );
        }
    }
    if risky > 0 {
        let _ = write!(
            out,
            "\n\nWARNING: {risky} file(s) above may run code when opened. Do NOT open them on this \
             computer or any computer with your keys. If they matter, ask your security \
             contact to examine them on a separate, disposable machine."
        );
    }
    out
}

/// After `tag` (`added`) or `untag`: what changed, and the tags the report has now.
pub fn tags_changed(id: &str, added: bool, changed: &[String], now: &[String]) -> String {
    format!(
        "Report {}: {} tag(s) {}.\nIts tags now: {}.",
        short(id),
        if added { "added" } else { "removed" },
        list_or_none(changed),
        list_or_none(now)
    )
}

pub fn status_changed(id: &str, old: Status, new: Status) -> String {
    format!("Report {}: status {old} -> {new}.", short(id))
}

pub fn note_added(id: &str, group_keys: usize) -> String {
    format!(
        "Added a note to report {} (locked to {group_keys} group key(s)).",
        short(id)
    )
}

/// The line under the search results.
pub fn searched(result: &SearchResult) -> String {
    format!(
        "Searched {} report(s): {} match.",
        result.searched,
        result.found.len()
    )
}

pub fn report_written(cases: usize, path: &Path) -> String {
    format!(
        "Wrote a report of {cases} report(s) to {}. It is NOT locked: keep it only where case files belong.",
        path.display()
    )
}

/// The reports that could not be opened, and why; empty when all could.
pub fn failures(failed: &[(String, String)]) -> String {
    if failed.is_empty() {
        return String::new();
    }
    let mut out = format!("Could not open {} report(s):", failed.len());
    for (id, why) in failed {
        let _ = write!(out, "\n  {}: {why}", short(id));
    }
    out
}

/// One line for each report `ack` left out; empty when none was.
pub fn ack_skipped(summary: &AckSummary) -> String {
    let lines: Vec<String> = summary
        .skipped
        .iter()
        .map(|(id, why)| {
            if why.starts_with(ack::NOT_YOURS) {
                format!(
                    "Left out report {}: {why}. It stays on the server for a colleague whose key opens it.",
                    short(id)
                )
            } else {
                format!(
                    "Left out report {}: {why}. Import its bundle again.",
                    short(id)
                )
            }
        })
        .collect();
    lines.join("\n")
}

pub fn acked(summary: &AckSummary) -> String {
    let Some(file) = &summary.file else {
        return NOTHING_TO_ACK.to_owned();
    };
    // The operator types the file's name on the server, where this machine's folders mean nothing.
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    format!(
        "Wrote {} naming {} report(s). Give it to the operator, who runs `sealdrop purge --ack {name}` on the server.",
        file.display(),
        summary.acked,
    )
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

/// `sealdesk shell`, once unlocked.
pub fn shell_started(workspace: &Path) -> String {
    format!(
        "Unlocked for this session (workspace {}). Type commands without `sealdesk` \
         (list, show ID, search TEXT, note ID, help...); `exit` or Ctrl-D ends the session and \
         forgets the key. Leave it when you step away from the computer.",
        workspace.display()
    )
}

pub const SHELL_ENDED: &str = "Session ended; the key is locked again.";
pub const SHELL_QUOTES: &str = "A quote is not closed; type the line again.";
pub const NOT_IN_SHELL: &str =
    "keygen, init and shell are not available inside `sealdesk shell`; exit first";

pub const NOTE_IN_HISTORY: &str = "WARNING: the note's text was typed on the command line, so \
     your shell keeps it in its history file (in bash: `history -d -1` right now removes it, and \
     `history -c; history -w` clears it all). Next time leave the text out: Sealdesk opens your \
     editor, or lets you type it.";

pub fn note_editor(editor: &str) -> String {
    format!("Opening the note in `{editor}`; save and quit the editor to add it (an empty note adds nothing).")
}

/// `sealdesk where`, with a workspace.
pub fn where_is(
    dir: &Path,
    origin: crate::session::Origin,
    identity: &Path,
    settings: &crate::workspace::Settings,
    author: &str,
    history: &[crate::correct::Change],
) -> String {
    let mut text = format!(
        "Workspace:          {} ({})\n\
         Staff key:          {}\n\
         Server fingerprint: {}\n\
         Group keys:         {}\n\
         Notes signed as:    {}",
        dir.display(),
        origin.explain(),
        identity.display(),
        format_fingerprint(&settings.server_key),
        settings.recipients().map_or(0, |r| r.len()),
        author,
    );
    if !history.is_empty() {
        text.push_str("\nChanges since init:");
        for c in history {
            match c.setting.as_str() {
                "server_key" => text.push_str(&format!(
                    "\n  {}  server fingerprint re-pinned\n      from {}\n      to   {}",
                    c.changed,
                    crate::correct::shown_key(&c.old),
                    crate::correct::shown_key(&c.new)
                )),
                "recipients" => text.push_str(&format!("\n  {}  group keys replaced", c.changed)),
                other => text.push_str(&format!(
                    "\n  {}  {other} set to {}",
                    c.changed,
                    crate::view::terminal_safe(&c.new, false).as_str()
                )),
            }
        }
    }
    text
}

/// `sealdesk where`, where no workspace was made yet.
pub fn where_none(dir: &Path, origin: crate::session::Origin) -> String {
    format!(
        "Workspace: {} ({}); none there yet. Make it with `sealdesk init`.",
        dir.display(),
        origin.explain()
    )
}

pub fn repinned(r: &crate::correct::Repin) -> String {
    format!(
        "This workspace now trusts the server fingerprint\n{}\n(the change is recorded; `sealdesk where` lists it).",
        format_fingerprint(&r.new)
    )
}

pub fn recipients_replaced(keys: usize) -> String {
    format!("New notes and reply copies are now locked to {keys} group key(s) (the change is recorded).")
}

pub fn author_set(name: &str) -> String {
    format!(
        "Your notes in this workspace are now signed {}.",
        crate::view::terminal_safe(name, false).as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::ExtractedFile;
    use std::path::PathBuf;

    const ID: &str = "3fa85f6457174562b3fc2c963f66afa6";

    #[test]
    fn the_list_is_as_wide_as_the_terminal_says() {
        assert_eq!(list_width(Some("80")), 80);
        assert_eq!(list_width(Some(" 200 ")), 200);
        assert_eq!(list_width(Some("wide")), DEFAULT_WIDTH);
        assert_eq!(list_width(None), DEFAULT_WIDTH);
    }

    #[test]
    fn an_import_that_adds_nothing_says_so() {
        let mut s = ImportSummary {
            bundle_id: ID.to_owned(),
            created: "2026-11-28".to_owned(),
            in_bundle: 3,
            added: 0,
            already: 3,
            bytes_added: 0,
        };
        assert_eq!(
            imported(&s),
            "Nothing new: all 3 report(s) in bundle 3fa85f64 (exported 2026-11-28) were already here."
        );
        s.added = 2;
        s.already = 1;
        s.bytes_added = 70_000;
        assert_eq!(
            imported(&s),
            "Imported bundle 3fa85f64 (exported 2026-11-28): 2 new report(s), 1 already here, 70.0 KB."
        );
    }

    fn file(original: &str, written: &str, risk: Option<&str>) -> ExtractedFile {
        ExtractedFile {
            original: original.to_owned(),
            written: written.to_owned(),
            size: 1_500,
            declared_type: "image/jpeg".to_owned(),
            risk: risk.map(str::to_owned),
            disguised: None,
            problem: None,
        }
    }

    #[test]
    fn extraction_names_renamed_files_and_warns_about_programs() {
        let none = Extracted {
            folder: None,
            files: vec![],
        };
        assert!(extracted(ID, &none).contains("has no attachments; nothing was written"));

        let done = Extracted {
            folder: Some(PathBuf::from("/cases/2026-11-28-3fa85f64")),
            files: vec![
                file("photo.jpg", "photo.jpg", None),
                file(
                    "../\u{1b}[2Jrun.exe",
                    "run.exe",
                    Some("its name ends in .exe"),
                ),
            ],
        };
        let out = extracted(ID, &done);
        assert!(
            out.starts_with("Saved 2 attachment(s) of report 3fa85f64"),
            "{out}"
        );
        // Only the renamed file shows the sender's name, with its escape made harmless.
        assert_eq!(
            out.matches("the sender's name for it was").count(),
            1,
            "{out}"
        );
        assert!(!out.contains('\u{1b}'), "{out:?}");
        assert!(out.contains("WARNING: this may be a program or script (its name ends in .exe)."));
        assert!(
            out.contains("WARNING: 1 file(s) above may run code"),
            "{out}"
        );

        let safe = Extracted {
            folder: done.folder.clone(),
            files: vec![file("photo.jpg", "photo.jpg", None)],
        };
        assert!(!extracted(ID, &safe).contains("WARNING"));
    }

    #[test]
    fn tag_changes_say_none_rather_than_nothing() {
        assert_eq!(
            tags_changed(ID, false, &[], &["moscow".to_owned(), "urgent".to_owned()]),
            "Report 3fa85f64: removed tag(s) (none).\nIts tags now: moscow, urgent."
        );
        assert_eq!(
            tags_changed(ID, true, &["lawyer".to_owned()], &[]),
            "Report 3fa85f64: added tag(s) lawyer.\nIts tags now: (none)."
        );
    }

    #[test]
    fn failures_are_listed_only_when_there_are_some() {
        assert_eq!(failures(&[]), "");
        let out = failures(&[(
            ID.to_owned(),
            "it was not sealed to your staff key".to_owned(),
        )]);
        assert_eq!(
            out,
            "Could not open 1 report(s):\n  3fa85f64: it was not sealed to your staff key"
        );
    }

    #[test]
    fn the_ack_tells_the_operator_the_file_name_only() {
        let mut summary = AckSummary {
            file: None,
            acked: 0,
            skipped: vec![],
        };
        assert_eq!(acked(&summary), NOTHING_TO_ACK);
        assert_eq!(ack_skipped(&summary), "");
        summary.file = Some(PathBuf::from("/media/usb/ack-2026-11-28.txt"));
        summary.acked = 3;
        summary.skipped = vec![(ID.to_owned(), "its envelope is damaged".to_owned())];
        let out = acked(&summary);
        assert!(out.starts_with("Wrote /media/usb/ack-2026-11-28.txt naming 3 report(s)."));
        assert!(
            out.contains("`sealdrop purge --ack ack-2026-11-28.txt`"),
            "{out}"
        );
        assert_eq!(
            ack_skipped(&summary),
            "Left out report 3fa85f64: its envelope is damaged. Import its bundle again."
        );
    }
}
