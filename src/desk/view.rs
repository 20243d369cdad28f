//! How cases look on the staff's terminal: `list` tables and `show` pages.
//!
//! Everything a source wrote is hostile, including to the terminal: escape sequences could
//! rewrite the screen or worse, so control characters are replaced before anything is printed.

use std::fmt::Write;

use zeroize::Zeroizing;

use super::cases::Case;
use super::filenames;
use super::triage::Note;
use crate::seal::Envelope;

/// `s` with control characters (escape sequences included) and text-direction overrides
/// replaced by U+FFFD. With `multiline`, newlines and tabs are kept; otherwise they become spaces.
pub fn terminal_safe(s: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' | '\t' if !multiline => out.push(' '),
            '\n' | '\t' => out.push(c),
            '\r' => out.push('\n'),
            c if c.is_control() => out.push('\u{fffd}'),
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `s`, with "…" when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
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

/// One line of `list`: the case, and its message preview (or why there is none).
pub struct ListLine<'a> {
    pub case: &'a Case,
    pub preview: Result<Zeroizing<String>, String>,
}

/// The `list` table, newest first as given.
pub fn list_table(lines: &[ListLine<'_>], width: usize) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    let _ = writeln!(
        out,
        "  {:<8}  {:<10}  {:<9}  {:>3}  {:<20}  MESSAGE",
        "ID", "ARRIVED", "STATUS", "ATT", "TAGS"
    );
    // The columns before MESSAGE take 63 characters.
    let room = width.saturating_sub(63).max(20);
    for line in lines {
        let c = line.case;
        let tags = if c.tags.is_empty() {
            "-".to_owned()
        } else {
            truncate(&c.tags.join(","), 20)
        };
        let preview = match &line.preview {
            Ok(text) => truncate(&terminal_safe(first_line(text), false), room),
            Err(why) => format!("(cannot open: {why})"),
        };
        let _ = writeln!(
            out,
            "{} {:<8}  {:<10}  {:<9}  {:>3}  {:<20}  {}",
            if c.read { ' ' } else { '*' },
            short(&c.id),
            c.arrived,
            c.status.as_str(),
            c.attachments,
            tags,
            preview
        );
    }
    out
}

/// The `show` page for one case.
pub fn show_page(case: &Case, envelope: &Envelope, notes: &[Note]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    let _ = writeln!(out, "Submission  {}", case.id);
    let _ = writeln!(
        out,
        "Arrived     {} (day only; no time is kept)",
        case.arrived
    );
    let _ = writeln!(out, "Status      {}", case.status);
    let tags = if case.tags.is_empty() {
        "(none)".to_owned()
    } else {
        case.tags.join(", ")
    };
    let _ = writeln!(out, "Tags        {tags}");
    if !case.read {
        let _ = writeln!(out, "            (first time opened)");
    }

    let message = envelope.fields.get("message").map_or("", String::as_str);
    section(&mut out, "MESSAGE");
    if message.trim().is_empty() {
        let _ = writeln!(out, "(no message)");
    } else {
        let _ = writeln!(out, "{}", terminal_safe(message.trim_end(), true));
    }
    for (name, value) in envelope.fields.iter().filter(|(n, _)| *n != "message") {
        section(&mut out, &terminal_safe(&name.to_uppercase(), false));
        let _ = writeln!(out, "{}", terminal_safe(value.trim_end(), true));
    }

    section(
        &mut out,
        &format!("ATTACHMENTS ({})", envelope.attachments.len()),
    );
    if envelope.attachments.is_empty() {
        let _ = writeln!(out, "(none)");
    }
    for (i, a) in envelope.attachments.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>3}. {}\n     type {} (as the sender's browser said), {}",
            i + 1,
            terminal_safe(&a.name, false),
            terminal_safe(&a.content_type, false),
            human_size(a.length)
        );
        if let Some(why) = filenames::risk(&filenames::normalise(&a.name), b"", &a.content_type) {
            let _ = writeln!(out, "     WARNING: may be a program or script: {why}");
        }
    }
    if !envelope.attachments.is_empty() {
        let _ = writeln!(
            out,
            "     Save them with: sealdesk extract {}",
            short(&case.id)
        );
    }

    section(&mut out, &format!("NOTES ({})", notes.len()));
    if notes.is_empty() {
        let _ = writeln!(
            out,
            "(none; add one with: sealdesk note {} TEXT)",
            short(&case.id)
        );
    }
    for note in notes {
        match &note.text {
            Ok(text) => {
                let _ = writeln!(
                    out,
                    "{}  {}",
                    note.written,
                    terminal_safe(text, true).replace('\n', "\n            ")
                );
            }
            Err(why) => {
                let _ = writeln!(out, "{}  ({why})", note.written);
            }
        }
    }
    out
}

fn section(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n{title}\n{}", "-".repeat(title.chars().count()));
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

    #[test]
    fn sizes_and_lines() {
        assert_eq!(human_size(999), "999 bytes");
        assert_eq!(human_size(1_234_567), "1.2 MB");
        assert_eq!(
            first_line("\n  \n  Брат задержан  \nвторая"),
            "Брат задержан"
        );
        assert_eq!(truncate("абвгд", 3), "аб…");
        assert_eq!(truncate("абв", 3), "абв");
    }
}
