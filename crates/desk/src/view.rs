//! How cases look on the staff's terminal: `list` tables and `show` pages.
//!
//! Everything a source wrote is hostile, including to the terminal: escape sequences could
//! rewrite the screen or worse, so control characters are replaced before anything is printed.

use std::fmt::{self, Write};

use zeroize::Zeroizing;

use super::cases::Case;
use super::conversation::{thread_order, Mark, ReplyRecord, ThreadPart};
use super::decrypt::Preview;
use super::filenames;
use super::triage::Note;
use sealdrop_core::Envelope;

pub use sealdrop_core::wiped::render;

/// Source text made safe for a terminal, written without copying: control characters (escape
/// sequences included) and direction characters (overrides, embeddings, isolates and marks)
/// become U+FFFD. With `multiline`, newlines
/// and tabs are kept; otherwise they become spaces. With `max_chars`, longer text is cut with "…".
pub struct Safe<'a> {
    pub text: &'a str,
    pub multiline: bool,
    pub max_chars: Option<usize>,
}

impl<'a> Safe<'a> {
    pub fn line(text: &'a str) -> Safe<'a> {
        Safe {
            text,
            multiline: false,
            max_chars: None,
        }
    }

    pub fn block(text: &'a str) -> Safe<'a> {
        Safe {
            text,
            multiline: true,
            max_chars: None,
        }
    }

    pub fn cut(text: &'a str, max_chars: usize) -> Safe<'a> {
        Safe {
            text,
            multiline: false,
            max_chars: Some(max_chars),
        }
    }
}

impl fmt::Display for Safe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = match self.max_chars {
            Some(max) if self.text.chars().count() > max => Some(max.saturating_sub(1)),
            _ => None,
        };
        let mut chars = self.text.chars().peekable();
        let mut written = 0;
        while let Some(c) = chars.next() {
            if limit == Some(written) {
                break;
            }
            let out = match c {
                '\r' if chars.peek() == Some(&'\n') => continue,
                '\n' | '\r' | '\t' if !self.multiline => ' ',
                '\n' | '\t' => c,
                '\r' => '\n',
                c if c.is_control() => '\u{fffd}',
                // Every direction character (Unicode's Bidi_Control): embeddings, overrides,
                // isolates, and the marks, which are invisible strong characters.
                '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}' => '\u{fffd}',
                c => c,
            };
            f.write_char(out)?;
            written += 1;
        }
        if limit.is_some() {
            f.write_char('…')?;
        }
        Ok(())
    }
}

/// `s` made safe for a terminal (see [`Safe`]), as an owned, wiped-on-drop string.
pub fn terminal_safe(s: &str, multiline: bool) -> Zeroizing<String> {
    let safe = Safe {
        text: s,
        multiline,
        max_chars: None,
    };
    render(|w| write!(w, "{safe}"))
}

/// The first line of text that is not blank.
pub fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// "1.2 MB"-style sizes (1000-based, as file managers show them).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The short id staff type: the first 8 hex digits.
pub fn short(id: &str) -> &str {
    &id[..8.min(id.len())]
}

/// One line of `list`: the case, and its preview (or why there is none).
pub struct ListLine<'a> {
    pub case: &'a Case,
    pub preview: Result<Preview, String>,
}

/// The `list` table, newest first as given, except that the submissions of one conversation
/// (thread) are grouped under the newest of them: `[thread of N]` on the first, `└` under it.
pub fn list_table(lines: &[ListLine<'_>], width: usize) -> Zeroizing<String> {
    let threads: Vec<Option<&str>> = lines
        .iter()
        .map(|l| l.preview.as_ref().ok().and_then(|p| p.thread.as_deref()))
        .collect();
    let order = thread_order(&threads);
    // The columns before MESSAGE take 63 characters.
    let room = width.saturating_sub(63).max(20);
    render(|out| {
        writeln!(
            out,
            "  {:<8}  {:<10}  {:<9}  {:>3}  {:<20}  MESSAGE",
            "ID", "ARRIVED", "STATUS", "ATT", "TAGS"
        )?;
        for &(i, mark) in &order {
            let line = &lines[i];
            let c = line.case;
            let tags = if c.tags.is_empty() {
                "-".to_owned()
            } else {
                Safe::cut(&c.tags.join(","), 20).to_string()
            };
            write!(
                out,
                "{} {:<8}  {:<10}  {:<9}  {:>3}  {:<20}  ",
                if c.read { ' ' } else { '*' },
                short(&c.id),
                c.arrived,
                c.status.as_str(),
                c.attachments,
                tags,
            )?;
            let lead = match mark {
                Mark::Alone => String::new(),
                Mark::Head { count } => format!("[thread of {count}] "),
                Mark::Member => "  └ ".to_owned(),
            };
            let room = room.saturating_sub(lead.chars().count()).max(10);
            match &line.preview {
                Ok(p) => writeln!(out, "{lead}{}", Safe::cut(first_line(&p.message), room))?,
                Err(why) => writeln!(out, "(cannot open: {why})")?,
            }
        }
        Ok(())
    })
}

/// The `show` page for one case.
/// `heads` holds each attachment's first bytes (in the envelope's order), or why they could not
/// be read; a program whose name hides it is flagged from them.
pub fn show_page(
    case: &Case,
    envelope: &Envelope,
    heads: &[Result<Zeroizing<Vec<u8>>, String>],
    notes: &[Note],
) -> Zeroizing<String> {
    render(|out| {
        writeln!(out, "Submission  {}", case.id)?;
        writeln!(
            out,
            "Arrived     {} (day only; no time is kept)",
            case.arrived
        )?;
        writeln!(out, "Status      {}", case.status)?;
        if case.tags.is_empty() {
            writeln!(out, "Tags        (none)")?;
        } else {
            writeln!(out, "Tags        {}", case.tags.join(", "))?;
        }
        if !case.read {
            writeln!(out, "            (first time opened)")?;
        }

        let message = envelope.fields.get("message").map_or("", String::as_str);
        section(out, "MESSAGE")?;
        if message.trim().is_empty() {
            writeln!(out, "(no message)")?;
        } else {
            writeln!(out, "{}", Safe::block(message.trim_end()))?;
        }
        for (name, value) in envelope.fields.iter().filter(|(n, _)| *n != "message") {
            section(out, &terminal_safe(&name.to_uppercase(), false))?;
            writeln!(out, "{}", Safe::block(value.trim_end()))?;
        }

        section(
            out,
            &format!("ATTACHMENTS ({})", envelope.attachments.len()),
        )?;
        if envelope.attachments.is_empty() {
            writeln!(out, "(none)")?;
        }
        for (i, a) in envelope.attachments.iter().enumerate() {
            writeln!(
                out,
                "{:>3}. {}\n     type {} (as the sender's browser said), {}",
                i + 1,
                Safe::line(&a.name),
                Safe::line(&a.content_type),
                human_size(a.length)
            )?;
            let written = filenames::normalise(&a.name);
            let head: &[u8] = match heads.get(i) {
                Some(Ok(head)) => head,
                Some(Err(why)) => {
                    writeln!(
                        out,
                        "     (its content could not be checked: {})",
                        Safe::line(why)
                    )?;
                    b""
                }
                None => b"",
            };
            if let Some(what) = filenames::disguised(&written, head) {
                writeln!(
                    out,
                    "     WARNING: DISGUISED PROGRAM: its name looks harmless but {what}; \
                     `extract` saves it as {}",
                    Safe::line(&filenames::extracted_name(&written, head))
                )?;
            } else if let Some(why) = filenames::risk(&written, head, &a.content_type) {
                writeln!(out, "     WARNING: may be a program or script: {why}")?;
            }
        }
        if !envelope.attachments.is_empty() {
            writeln!(
                out,
                "     Save them with: sealdesk extract {}",
                short(&case.id)
            )?;
        }

        section(out, &format!("NOTES ({})", notes.len()))?;
        if notes.is_empty() {
            writeln!(
                out,
                "(none; add one with: sealdesk note {})",
                short(&case.id)
            )?;
        }
        for note in notes {
            match &note.text {
                Ok(text) => {
                    writeln!(out, "-- {}", Safe::line(&text.signed(&note.written)))?;
                    for line in text.body.lines() {
                        writeln!(out, "   {}", Safe::line(line))?;
                    }
                }
                Err(why) => writeln!(out, "{}  ({why})", note.written)?,
            }
        }
        Ok(())
    })
}

/// The whole conversation `current` belongs to: each submission (by arrival day, then id) and
/// the group's replies, in order of days (a reply after the submissions of its day). Empty
/// when the submission is not part of a conversation.
pub fn conversation_page(
    current: &str,
    parts: &[ThreadPart],
    replies: &[ReplyRecord],
) -> Zeroizing<String> {
    render(|out| {
        if parts.is_empty() {
            return Ok(());
        }
        section(
            out,
            &format!(
                "CONVERSATION ({} report(s), {} reply(ies) from the group)",
                parts.len(),
                replies.len()
            ),
        )?;
        let mut r = replies.iter().peekable();
        for (i, part) in parts.iter().enumerate() {
            let next_day = parts.get(i + 1).map(|p| p.case.arrived.as_str());
            let this = if part.case.id == current {
                " (this one)"
            } else {
                ""
            };
            writeln!(
                out,
                "\n{}  FROM THE SOURCE, report {}{this}",
                part.case.arrived,
                short(&part.case.id)
            )?;
            let message = part
                .envelope
                .fields
                .get("message")
                .map_or("", String::as_str);
            writeln!(out, "{}", Safe::block(message.trim_end()))?;
            // Replies written before the next report arrived come after this one.
            while let Some(reply) = r.next_if(|x| next_day.is_none_or(|d| x.written.as_str() < d)) {
                let state = match reply.outbox {
                    Some(seq) => format!("sent in outbox {seq}"),
                    None => "queued for the next outbox".to_owned(),
                };
                writeln!(
                    out,
                    "\n{}  REPLY to report {} ({state}; kept until {})",
                    reply.written,
                    short(&reply.submission),
                    reply.expires
                )?;
                match &reply.text {
                    Ok(text) => writeln!(out, "{}", Safe::block(text.trim_end()))?,
                    Err(why) => writeln!(out, "(cannot open: {why})")?,
                }
            }
        }
        Ok(())
    })
}

fn section(out: &mut dyn Write, title: &str) -> fmt::Result {
    writeln!(out, "\n{title}\n{}", "-".repeat(title.chars().count()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_defused() {
        let hostile = "ok\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}txt.exe\r\nnext";
        let safe = terminal_safe(hostile, true);
        assert!(
            !safe.chars().any(|c| c.is_control() && c != '\n'),
            "{safe:?}"
        );
        assert!(!safe.contains('\u{202e}'));
        assert!(safe.ends_with("\nnext"));
        assert!(!terminal_safe("a\nb\tc", false).contains(['\n', '\t']));
    }

    /// Found by the `terminal` fuzz target: the direction marks (LRM, RLM, ALM) passed. Each is
    /// an invisible strong left-to-right or right-to-left character, so it reorders the
    /// punctuation and spaces around it on screen.
    #[test]
    fn every_direction_character_is_defused() {
        let marks = "a\u{200e}b\u{200f}c\u{61c}d\u{202e}e\u{2067}f\u{2069}g";
        for safe in [
            terminal_safe(marks, false),
            terminal_safe(marks, true),
            render(|w| write!(w, "{}", Safe::cut(marks, 100))),
        ] {
            assert_eq!(
                safe.as_str(),
                "a\u{fffd}b\u{fffd}c\u{fffd}d\u{fffd}e\u{fffd}f\u{fffd}g"
            );
        }
    }

    #[test]
    fn sizes_and_lines() {
        assert_eq!(human_size(999), "999 bytes");
        assert_eq!(human_size(1_234_567), "1.2 MB");
        assert_eq!(
            first_line("\n  \n  Брат задержан  \nвторая"),
            "Брат задержан"
        );
        assert_eq!(Safe::cut("абвгд", 3).to_string(), "аб…");
        assert_eq!(Safe::cut("абв", 3).to_string(), "абв");
        assert_eq!(Safe::cut("a\u{1b}bcd", 3).to_string(), "a\u{fffd}…");
    }
}
