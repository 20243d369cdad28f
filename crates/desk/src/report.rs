//! `sealdesk report`: the triaged cases in CSV, JSON or Markdown for the group's case files.
//!
//! The output is plaintext, written only where staff send it. Source text stays inert in each
//! format: CSV cells that a spreadsheet would run as formulas are prefixed with `'`, and Markdown
//! puts source text in fenced code blocks so that no markup or HTML in it is ever rendered.

use std::collections::HashMap;
use std::fmt::{self, Write};
use std::path::Path;

use serde::Serialize;
use zeroize::Zeroizing;

use super::cases::{self, Case, Filter};
use super::decrypt::{map_parallel, open_envelope};
use super::extract::attachment_head;
use super::filenames;
use super::identity::Keyring;
use super::triage::open_note_text;
use super::view::render;
use super::workspace::Workspace;
use super::DeskError;

/// The report formats; `ValueEnum` lets `sealdesk report --help` list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for spreadsheets.
    Csv,
    /// Data for other programs.
    Json,
    /// A document for case files.
    #[value(alias = "md")]
    Markdown,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "markdown" | "md" => Ok(Format::Markdown),
            other => Err(format!("`{other}` is not one of csv, json, markdown")),
        }
    }
}

#[derive(Serialize)]
struct NoteOut<'a> {
    day: &'a str,
    text: &'a str,
}

#[derive(Serialize)]
struct RowOut<'a> {
    id: &'a str,
    day: &'a str,
    status: &'a str,
    tags: &'a [String],
    notes: Vec<NoteOut<'a>>,
    message: &'a str,
    /// The source's contact field ("" when none was given).
    contact: &'a str,
    attachments: &'a [AttachmentOut],
}

/// One attachment as a report lists it: the sender's name for it, its size, and what Sealdesk
/// noticed (a program or script, a disguised program, damage).
#[derive(Serialize)]
struct AttachmentOut {
    // A plain String: serde cannot serialise Zeroizing, and the wiping allocator clears it
    // when freed.
    name: String,
    size: u64,
    declared_type: String,
    flags: Vec<String>,
}

impl AttachmentOut {
    fn line(&self) -> String {
        let mut line = format!(
            "{} ({} bytes, {})",
            self.name, self.size, self.declared_type
        );
        for f in &self.flags {
            line.push_str("; ");
            line.push_str(f);
        }
        line
    }
}

/// One case, decrypted.
struct Row {
    case: Case,
    notes: Vec<(String, Zeroizing<String>)>,
    message: Zeroizing<String>,
    contact: Zeroizing<String>,
    attachments: Vec<AttachmentOut>,
}

/// What Sealdesk notices about an attachment, from its name, type and first bytes.
fn attachment_flags(
    blobs: &Path,
    keyring: &Keyring,
    a: &sealdrop_core::envelope::AttachmentInfo,
) -> Vec<String> {
    let written = filenames::normalise(&a.name);
    match attachment_head(blobs, keyring, a) {
        Err(e) => vec![format!("content not checked: {}", e.with_causes())],
        Ok(head) => {
            if let Some(what) = filenames::disguised(&written, &head) {
                vec![format!("DISGUISED PROGRAM: {what}")]
            } else if let Some(why) = filenames::risk(&written, &head, &a.content_type) {
                vec![format!("may be a program or script: {why}")]
            } else {
                Vec::new()
            }
        }
    }
}

/// The report, and the cases left out because they could not be opened.
pub struct Report {
    pub text: Zeroizing<String>,
    pub cases: usize,
    pub failed: Vec<(String, String)>,
}

pub fn report(
    ws: &Workspace,
    keyring: &Keyring,
    filter: &Filter,
    format: Format,
) -> Result<Report, DeskError> {
    let list = cases::list(ws.conn(), filter)?;
    let mut notes: HashMap<String, Vec<(String, Vec<u8>)>> = HashMap::new();
    {
        let mut stmt = ws
            .conn()
            .prepare("SELECT submission_id, written, ciphertext FROM notes ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        for row in rows {
            let (id, day, c): (String, String, Vec<u8>) = row?;
            notes.entry(id).or_default().push((day, c));
        }
    }
    let blobs = ws.blobs_dir();
    let opened = map_parallel(&list, keyring.threads(), |case| {
        let envelope = open_envelope(&blobs, keyring, case).map_err(|e| e.with_causes())?;
        let message = Zeroizing::new(envelope.fields.get("message").cloned().unwrap_or_default());
        let contact = Zeroizing::new(envelope.fields.get("contact").cloned().unwrap_or_default());
        let attachments: Vec<AttachmentOut> = envelope
            .attachments
            .iter()
            .map(|a| AttachmentOut {
                name: a.name.clone(),
                size: a.length,
                declared_type: a.content_type.clone(),
                flags: attachment_flags(&blobs, keyring, a),
            })
            .collect();
        let case_notes = notes
            .get(&case.id)
            .map(|ns| {
                ns.iter()
                    .map(|(day, c)| match open_note_text(keyring, c) {
                        Ok(note) => (note.signed(day), note.body),
                        Err(why) => (day.clone(), Zeroizing::new(format!("({why})"))),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok::<_, String>((message, contact, attachments, case_notes))
    });
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (case, result) in list.into_iter().zip(opened) {
        match result {
            Ok((message, contact, attachments, notes)) => rows.push(Row {
                case,
                notes,
                message,
                contact,
                attachments,
            }),
            Err(why) => failed.push((case.id, why)),
        }
    }
    let text = match format {
        Format::Csv => csv(&rows),
        Format::Json => json(&rows),
        Format::Markdown => markdown(&rows),
    };
    Ok(Report {
        text,
        cases: rows.len(),
        failed,
    })
}

/// A CSV cell (RFC 4180), defused against spreadsheet formulas.
fn csv_cell(out: &mut dyn Write, value: &str) -> fmt::Result {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || value.contains([',', '"', '\n', '\r']);
    if quote {
        out.write_char('"')?;
    }
    if formula {
        out.write_char('\'')?;
    }
    for c in value.chars() {
        if c == '"' {
            out.write_char('"')?;
        }
        out.write_char(c)?;
    }
    if quote {
        out.write_char('"')?;
    }
    Ok(())
}

fn notes_text(notes: &[(String, Zeroizing<String>)]) -> Zeroizing<String> {
    render(|out| {
        for (i, (day, text)) in notes.iter().enumerate() {
            if i > 0 {
                out.write_char('\n')?;
            }
            write!(out, "{day}: {}", text.as_str())?;
        }
        Ok(())
    })
}

fn csv(rows: &[Row]) -> Zeroizing<String> {
    let notes: Vec<Zeroizing<String>> = rows.iter().map(|r| notes_text(&r.notes)).collect();
    render(|out| {
        out.write_str("id,day,status,tags,notes,message,contact,attachments\r\n")?;
        for (row, notes) in rows.iter().zip(&notes) {
            let tags = row.case.tags.join(" ");
            let attachments = Zeroizing::new(
                row.attachments
                    .iter()
                    .map(AttachmentOut::line)
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            let cells = [
                row.case.id.as_str(),
                row.case.arrived.as_str(),
                row.case.status.as_str(),
                tags.as_str(),
                notes.as_str(),
                row.message.as_str(),
                row.contact.as_str(),
                attachments.as_str(),
            ];
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    out.write_char(',')?;
                }
                csv_cell(out, cell)?;
            }
            out.write_str("\r\n")?;
        }
        Ok(())
    })
}

fn json(rows: &[Row]) -> Zeroizing<String> {
    let out: Vec<RowOut<'_>> = rows
        .iter()
        .map(|row| RowOut {
            id: &row.case.id,
            day: &row.case.arrived,
            status: row.case.status.as_str(),
            tags: &row.case.tags,
            notes: row
                .notes
                .iter()
                .map(|(day, text)| NoteOut { day, text })
                .collect(),
            message: &row.message,
            contact: &row.contact,
            attachments: &row.attachments,
        })
        .collect();
    let mut bytes = sealdrop_core::wiped::json(&out, sealdrop_core::wiped::JsonStyle::Pretty);
    // serde_json writes UTF-8; moving the bytes into a String keeps the same allocation.
    Zeroizing::new(String::from_utf8(std::mem::take(&mut *bytes)).expect("serde_json writes UTF-8"))
}

/// A fenced code block holding `text` verbatim: the fence is longer than any run of backticks
/// inside, so nothing in `text` can close it.
fn fenced(out: &mut dyn Write, text: &str) -> fmt::Result {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    writeln!(out, "{fence}text\n{}\n{fence}", text.trim_end())
}

fn markdown(rows: &[Row]) -> Zeroizing<String> {
    render(|out| {
        writeln!(out, "# Sealdrop report\n\n{} submission(s).", rows.len())?;
        for row in rows {
            let c = &row.case;
            writeln!(out, "\n## {} ({})\n", &c.id[..8], c.arrived)?;
            writeln!(out, "- ID: `{}`", c.id)?;
            writeln!(out, "- Day: {}", c.arrived)?;
            writeln!(out, "- Status: {}", c.status)?;
            let tags: Vec<String> = c.tags.iter().map(|t| format!("`{t}`")).collect();
            if tags.is_empty() {
                writeln!(out, "- Tags: (none)")?;
            } else {
                writeln!(out, "- Tags: {}", tags.join(", "))?;
            }
            writeln!(out, "\n### Message\n")?;
            fenced(out, &row.message)?;
            if !row.contact.trim().is_empty() {
                writeln!(out, "\n### Contact\n")?;
                fenced(out, &row.contact)?;
            }
            writeln!(out, "\n### Attachments ({})\n", row.attachments.len())?;
            if !row.attachments.is_empty() {
                let lines = Zeroizing::new(
                    row.attachments
                        .iter()
                        .map(AttachmentOut::line)
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
                fenced(out, &lines)?;
            }
            if !row.notes.is_empty() {
                writeln!(out, "\n### Notes\n")?;
                for (day, text) in &row.notes {
                    writeln!(out, "{day}:\n")?;
                    fenced(out, text)?;
                }
            }
        }
        Ok(())
    })
}

/// Write a report to `path`: a new file (never one that exists) readable by its owner only,
/// on disk before this returns.
pub fn write_new_file(path: &Path, text: &str) -> Result<(), DeskError> {
    sealdrop_core::durable::write_new(path, text.as_bytes()).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => DeskError::OutputExists(path.to_owned()),
        _ => DeskError::io(format!("writing {}", path.display()))(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_file_is_new_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.md");
        write_new_file(&path, "# Sealdrop report\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# Sealdrop report\n"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let err = write_new_file(&path, "other").unwrap_err();
        assert!(matches!(err, DeskError::OutputExists(_)), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# Sealdrop report\n"
        );
    }

    #[test]
    fn formats_are_spelled_as_staff_type_them() {
        for (typed, format) in [
            ("csv", Format::Csv),
            ("JSON", Format::Json),
            ("markdown", Format::Markdown),
            ("md", Format::Markdown),
        ] {
            assert_eq!(typed.parse::<Format>().unwrap(), format, "{typed}");
        }
        assert!("pdf".parse::<Format>().is_err());
        // What `--help` lists: every format, by the name that parses.
        let listed: Vec<String> = <Format as clap::ValueEnum>::value_variants()
            .iter()
            .filter_map(clap::ValueEnum::to_possible_value)
            .map(|v| v.get_name().to_owned())
            .collect();
        assert_eq!(listed, ["csv", "json", "markdown"]);
        for name in &listed {
            name.parse::<Format>().unwrap();
        }
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        let cell = |v: &str| render(|w| csv_cell(w, v)).to_string();
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,\"b\"\nc"), "\"a,\"\"b\"\"\nc\"");
        assert_eq!(
            cell("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
    }

    #[test]
    fn fences_cannot_be_closed_from_inside() {
        let s = render(|w| fenced(w, "```\n<img src=x onerror=alert(1)>\n````"));
        assert!(s.starts_with("`````text\n"));
        assert!(s.trim_end().ends_with("\n`````"));
    }
}
