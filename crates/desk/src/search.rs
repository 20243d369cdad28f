//! `sealdesk search`: find text in every submission, decrypting each in memory on every core.
//!
//! Matching ignores letter case in any script (Cyrillic and the Tajik letters ғ ӣ қ ӯ ҳ ҷ
//! included) and Unicode form (a letter typed precomposed or with a combining mark matches).

use std::collections::HashMap;

use unicode_normalization::{is_nfc, UnicodeNormalization};
use zeroize::Zeroizing;

use super::cases::{self, Case, Filter};
use super::decrypt::{map_parallel, open_envelope};
use super::identity::Keyring;
use super::triage;
use super::view::{render, short, terminal_safe, Safe};
use super::workspace::Workspace;
use super::DeskError;

/// Characters of context shown on each side of a hit.
pub const CONTEXT: usize = 40;
/// Hits shown per field; the rest are counted.
pub const MAX_HITS_PER_FIELD: usize = 3;

/// One hit: where, and the text around it (already safe for a terminal).
pub struct Hit {
    pub field: Zeroizing<String>,
    pub before: Zeroizing<String>,
    pub hit: Zeroizing<String>,
    pub after: Zeroizing<String>,
}

pub struct Found {
    pub case: Case,
    pub hits: Vec<Hit>,
    /// Hits beyond those shown.
    pub more: usize,
}

pub struct SearchResult {
    pub searched: usize,
    pub found: Vec<Found>,
    /// Submissions that could not be opened, and why.
    pub failed: Vec<(String, String)>,
}

/// How the query's words match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The letters as typed (in any letter case).
    Exact,
    /// As typed, and also other forms of Russian words (МОСКВА finds "в Москве").
    WordForms,
}

/// Search every case matching `filter` for `query`, newest first.
pub fn search(
    ws: &Workspace,
    keyring: &Keyring,
    query: &str,
    mode: Mode,
    filter: &Filter,
) -> Result<SearchResult, DeskError> {
    let needle = Folded::new(query);
    if needle.text.trim().is_empty() {
        return Err(DeskError::EmptySearch);
    }
    let list = cases::list(ws.conn(), filter)?;
    // Notes come from the database, which stays on this thread; they are decrypted in workers.
    let mut notes = all_note_ciphertexts(ws)?;
    let work: Vec<(Case, Vec<Vec<u8>>)> = list
        .into_iter()
        .map(|c| {
            let n = notes.remove(&c.id).unwrap_or_default();
            (c, n)
        })
        .collect();
    let blobs = ws.blobs_dir();
    let results = map_parallel(&work, keyring.threads(), |(case, notes)| {
        let envelope = open_envelope(&blobs, keyring, case).map_err(|e| e.with_causes())?;
        let mut hits = Vec::new();
        let mut more = 0;
        let mut look = |field: &str, text: &str| {
            let (shown, extra) = find(&needle, field, text);
            hits.extend(shown);
            more += extra;
        };
        if let Some(message) = envelope.fields.get("message") {
            look("message", message);
        }
        for (name, value) in envelope.fields.iter().filter(|(n, _)| *n != "message") {
            look(name, value);
        }
        for a in &envelope.attachments {
            look("attachment name", &a.name);
        }
        for ciphertext in notes {
            if let Ok(text) = triage::open_note(keyring, ciphertext) {
                look("note", &text);
            }
        }
        Ok::<_, String>((hits, more))
    });
    let mut out = SearchResult {
        searched: work.len(),
        found: Vec::new(),
        failed: Vec::new(),
    };
    for ((case, _), result) in work.into_iter().zip(results) {
        match result {
            Ok((hits, more)) if !hits.is_empty() => out.found.push(Found { case, hits, more }),
            Ok(_) => {}
            Err(why) => out.failed.push((case.id, why)),
        }
    }
    Ok(out)
}

fn all_note_ciphertexts(ws: &Workspace) -> Result<HashMap<String, Vec<Vec<u8>>>, DeskError> {
    let mut stmt = ws
        .conn()
        .prepare("SELECT submission_id, ciphertext FROM notes ORDER BY id")?;
    let mut map: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    for row in rows {
        let (id, c) = row?;
        map.entry(id).or_default().push(c);
    }
    Ok(map)
}

/// Text in NFC with every letter lower-cased, and for each byte of it the byte offset of the
/// character it came from in the NFC text.
struct Folded {
    nfc: Zeroizing<String>,
    text: Zeroizing<String>,
    origin: Vec<usize>,
}

impl Folded {
    fn new(s: &str) -> Folded {
        // Capacities that never need to grow (growing would leave unwiped copies behind): NFC
        // at most triples a text's bytes, lower-casing at most adds half.
        let mut nfc = Zeroizing::new(String::with_capacity(s.len() * 3));
        if is_nfc(s) {
            nfc.push_str(s);
        } else {
            nfc.extend(s.nfc());
        }
        let mut text = Zeroizing::new(String::with_capacity(lower_capacity(&nfc)));
        let mut origin = Vec::with_capacity(text.capacity());
        for (at, c) in nfc.char_indices() {
            for lower in c.to_lowercase() {
                text.push(lower);
                origin.extend(std::iter::repeat_n(at, lower.len_utf8()));
            }
        }
        Folded { nfc, text, origin }
    }
}

fn lower_capacity(s: &str) -> usize {
    s.len() + s.len() / 2 + 4
}

/// Quick test before the full fold: most texts do not match.
fn quick_contains(needle: &str, text: &str) -> bool {
    let mut lower = Zeroizing::new(String::with_capacity(lower_capacity(text)));
    lower.extend(text.chars().flat_map(char::to_lowercase));
    if lower.contains(needle) {
        return true;
    }
    // Only text not in NFC can match after normalising.
    !is_nfc(text)
}

/// The hits of `needle` in `text`: up to [`MAX_HITS_PER_FIELD`] with context, and how many more.
fn find(needle: &Folded, field: &str, text: &str) -> (Vec<Hit>, usize) {
    if !quick_contains(&needle.text, text) {
        return (Vec::new(), 0);
    }
    let hay = Folded::new(text);
    let mut hits = Vec::new();
    let mut more = 0;
    for (start, matched) in hay.text.match_indices(needle.text.as_str()) {
        if hits.len() == MAX_HITS_PER_FIELD {
            more += 1;
            continue;
        }
        let end = start + matched.len();
        let from = hay.origin[start];
        let last = hay.origin[end - 1];
        let to = last + hay.nfc[last..].chars().next().map_or(0, char::len_utf8);
        let before = &hay.nfc[..from];
        let after = &hay.nfc[to..];
        let skip = before.chars().count().saturating_sub(CONTEXT);
        let start = before.char_indices().nth(skip).map_or(0, |(at, _)| at);
        hits.push(Hit {
            field: terminal_safe(field, false),
            before: render(|w| {
                if skip > 0 {
                    w.write_char('…')?;
                }
                write!(w, "{}", Safe::line(&before[start..]))
            }),
            hit: terminal_safe(&hay.nfc[from..to], false),
            after: render(|w| write!(w, "{}", Safe::cut(after, CONTEXT + 1))),
        });
    }
    (hits, more)
}

/// `search` results: each matching case, then each hit with its context.
pub fn render_results(result: &SearchResult) -> Zeroizing<String> {
    render(|out| {
        for found in &result.found {
            let c = &found.case;
            writeln!(
                out,
                "{} {}  {}  {}",
                if c.read { ' ' } else { '*' },
                short(&c.id),
                c.arrived,
                c.status
            )?;
            for hit in &found.hits {
                writeln!(
                    out,
                    "    {}: {}[{}]{}",
                    hit.field.as_str(),
                    hit.before.as_str(),
                    hit.hit.as_str(),
                    hit.after.as_str()
                )?;
            }
            if found.more > 0 {
                writeln!(out, "    (and {} more)", found.more)?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(query: &str, text: &str) -> Vec<String> {
        find(&Folded::new(query), "message", text)
            .0
            .into_iter()
            .map(|h| h.hit.to_string())
            .collect()
    }

    #[test]
    fn case_insensitive_in_russian_and_tajik() {
        assert_eq!(hits("ҲАҚИҚАТ", "барои ҳақиқат"), ["ҳақиқат"]);
        assert_eq!(hits("ҳақиқат", "ҲАҚИҚАТ!"), ["ҲАҚИҚАТ"]);
        assert_eq!(hits("МОСКВА", "в москва-сити"), ["москва"]);
        assert_eq!(hits("москва", "Задержан в МОСКВЕ"), Vec::<String>::new());
        assert_eq!(hits("ғӯҷ", "ҒӮҶ ғӯҷ"), ["ҒӮҶ", "ғӯҷ"]);
        assert!(hits("nothing", "Брат задержан").is_empty());
    }

    #[test]
    fn unicode_form_does_not_matter_and_snippets_keep_context() {
        // "й" typed as и + combining breve still matches "Й".
        assert_eq!(hits("ЙОД", "и\u{306}од"), ["йод"]);
        let text = format!("{} needle {}", "a".repeat(100), "b".repeat(100));
        let (found, more) = find(&Folded::new("NEEDLE"), "message", &text);
        assert_eq!(more, 0);
        assert_eq!(found[0].before.chars().count(), CONTEXT + 1);
        assert!(found[0].before.starts_with('…'));
        assert!(found[0].after.ends_with('…'));
        let many = "x ".repeat(10);
        let (found, more) = find(&Folded::new("x"), "message", &many);
        assert_eq!(
            (found.len(), more),
            (MAX_HITS_PER_FIELD, 10 - MAX_HITS_PER_FIELD)
        );
    }

    #[test]
    fn hostile_text_in_snippets_is_defused() {
        let (found, _) = find(
            &Folded::new("key"),
            "message",
            "\u{1b}]52;c;evil\u{7} key \u{1b}[2J",
        );
        let h = &found[0];
        for part in [&h.before, &h.hit, &h.after] {
            assert!(!part.chars().any(char::is_control), "{:?}", part.as_str());
        }
    }
}
