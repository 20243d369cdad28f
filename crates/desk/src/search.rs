//! `sealdesk search`: find text in every submission, decrypting each in memory on every core.
//!
//! Matching ignores letter case in any script (Cyrillic and the Tajik letters ғ ӣ қ ӯ ҳ ҷ
//! included) and Unicode form (a letter typed precomposed or with a combining mark matches).
//!
//! By default Russian words also match their other forms: each Cyrillic word of the query and
//! of the text is reduced to its stem with the Snowball Russian stemmer (`rust-stemmers`), ё
//! read as е, and a run of text words whose stems equal the query's stems is a hit (МОСКВА finds
//! "в Москве"). Stems are computed while searching, not indexed: the text is decrypted in
//! memory for each search anyway, and an index of stems would be plaintext on disk.

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
    let needle = Needle::new(query, mode);
    if needle.folded.text.trim().is_empty() {
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

/// What a search looks for: the folded query, and for word forms the stems of its words.
pub struct Needle {
    folded: Folded,
    /// Empty in exact mode, or when the query has no Cyrillic word.
    stems: Vec<String>,
    stemmer: rust_stemmers::Stemmer,
}

impl Needle {
    pub fn new(query: &str, mode: Mode) -> Needle {
        let folded = Folded::new(query);
        let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::Russian);
        let words = words(&folded.text);
        let stems = if mode == Mode::WordForms
            && words.iter().any(|&(a, b)| is_cyrillic(&folded.text[a..b]))
        {
            words
                .iter()
                .map(|&(a, b)| stem(&stemmer, &folded.text[a..b]))
                .collect()
        } else {
            Vec::new()
        };
        Needle {
            folded,
            stems,
            stemmer,
        }
    }
}

/// The byte ranges of the words (runs of letters and digits) in `text`.
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(at),
            (false, Some(a)) => {
                out.push((a, at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(a) = start {
        out.push((a, text.len()));
    }
    out
}

fn is_cyrillic(word: &str) -> bool {
    word.chars().any(|c| ('\u{400}'..='\u{4ff}').contains(&c))
}

/// A lower-case word's stem: Russian rules for Cyrillic words (ё read as е), other words as
/// they are.
fn stem(stemmer: &rust_stemmers::Stemmer, word: &str) -> String {
    if !is_cyrillic(word) {
        return word.to_owned();
    }
    let plain: String = word
        .chars()
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect();
    stemmer.stem(&plain).into_owned()
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

/// Quick test before the full fold: most texts do not match. A word-form match holds each
/// stem (a stem is the start of its word, ё read as е).
fn quick_contains(needle: &Needle, text: &str) -> bool {
    let mut lower = Zeroizing::new(String::with_capacity(lower_capacity(text)));
    lower.extend(text.chars().flat_map(char::to_lowercase));
    if lower.contains(needle.folded.text.as_str()) {
        return true;
    }
    if !needle.stems.is_empty() {
        let mut plain = Zeroizing::new(String::with_capacity(lower.len()));
        plain.extend(lower.chars().map(|c| if c == 'ё' { 'е' } else { c }));
        if needle.stems.iter().all(|s| plain.contains(s.as_str())) {
            return true;
        }
    }
    // Only text not in NFC can match after normalising.
    !is_nfc(text)
}

/// The hits of `needle` in `text`: up to [`MAX_HITS_PER_FIELD`] with context, and how many more.
fn find(needle: &Needle, field: &str, text: &str) -> (Vec<Hit>, usize) {
    if !quick_contains(needle, text) {
        return (Vec::new(), 0);
    }
    let hay = Folded::new(text);
    let mut ranges: Vec<(usize, usize)> = hay
        .text
        .match_indices(needle.folded.text.as_str())
        .map(|(start, m)| (start, start + m.len()))
        .collect();
    if !needle.stems.is_empty() {
        let n = needle.stems.len();
        let spans = words(&hay.text);
        let stems: Vec<String> = spans
            .iter()
            .map(|&(a, b)| stem(&needle.stemmer, &hay.text[a..b]))
            .collect();
        for i in 0..spans.len().saturating_sub(n - 1) {
            if stems[i..i + n] == needle.stems[..] {
                ranges.push((spans[i].0, spans[i + n - 1].1));
            }
        }
        // In text order, each place once (an exact hit inside a word-form hit counts once).
        ranges.sort_unstable();
        let mut end = 0;
        ranges.retain(|&(a, b)| {
            let keep = a >= end;
            if keep {
                end = b;
            }
            keep
        });
    }
    let mut hits = Vec::new();
    let mut more = 0;
    for (start, end) in ranges {
        if hits.len() == MAX_HITS_PER_FIELD {
            more += 1;
            continue;
        }
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
        find(&Needle::new(query, Mode::Exact), "message", text)
            .0
            .into_iter()
            .map(|h| h.hit.to_string())
            .collect()
    }

    fn forms(query: &str, text: &str) -> Vec<String> {
        find(&Needle::new(query, Mode::WordForms), "message", text)
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
    fn russian_words_find_their_other_forms_unless_exact() {
        assert_eq!(forms("МОСКВА", "Задержан в Москве вчера"), ["Москве"]);
        assert_eq!(forms("москве", "Из Москвы, в Москву"), ["Москвы", "Москву"]);
        assert_eq!(
            forms("задержали брата", "Задержали брата ночью"),
            ["Задержали брата"]
        );
        assert_eq!(forms("полицейский", "полицейские пришли"), ["полицейские"]);
        assert_eq!(forms("ёлка", "елки"), ["елки"]);
        // A word form is not a different word with the same start.
        assert!(forms("мост", "Москва").is_empty());
        // Exact keeps the letters as typed (any case); it still finds parts of words.
        assert!(hits("МОСКВА", "в Москве").is_empty());
        assert_eq!(hits("москв", "в Москве"), ["Москв"]);
        // Exact hits are found in word-form mode too, once.
        assert_eq!(forms("москв", "в Москве"), ["Москв"]);
        assert_eq!(forms("Москве", "в Москве"), ["Москве"]);
    }

    #[test]
    fn unicode_form_does_not_matter_and_snippets_keep_context() {
        // "й" typed as и + combining breve still matches "Й".
        assert_eq!(hits("ЙОД", "и\u{306}од"), ["йод"]);
        let text = format!("{} needle {}", "a".repeat(100), "b".repeat(100));
        let (found, more) = find(&Needle::new("NEEDLE", Mode::Exact), "message", &text);
        assert_eq!(more, 0);
        assert_eq!(found[0].before.chars().count(), CONTEXT + 1);
        assert!(found[0].before.starts_with('…'));
        assert!(found[0].after.ends_with('…'));
        let many = "x ".repeat(10);
        let (found, more) = find(&Needle::new("x", Mode::Exact), "message", &many);
        assert_eq!(
            (found.len(), more),
            (MAX_HITS_PER_FIELD, 10 - MAX_HITS_PER_FIELD)
        );
    }

    #[test]
    fn hostile_text_in_snippets_is_defused() {
        let (found, _) = find(
            &Needle::new("key", Mode::WordForms),
            "message",
            "\u{1b}]52;c;evil\u{7} key \u{1b}[2J",
        );
        let h = &found[0];
        for part in [&h.before, &h.hit, &h.after] {
            assert!(!part.chars().any(char::is_control), "{:?}", part.as_str());
        }
    }
}
