//! The word lists, compiled in, and the one table that reads a word (or its first 4 letters) typed
//! from any of them.
//!
//! The lists and how they were built: crates/core/wordlists/README.md. Their rules (checked by the
//! tests): 2048 distinct words each, lowercase, letters of the list's script only, 3-8 letters;
//! a word's first 4 letters (normalised) name it among ALL lists, and no normalised word is in two
//! lists. So any word, typed from any list, stands for exactly one index.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Words in each list: 2048 = 2^11, so each word carries 11 bits.
pub const LIST_SIZE: usize = 2048;

/// A supported word list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English: BIP-39's list, ten grim words replaced.
    En,
    /// Russian: frequent common nouns (draft: needs native-speaker review).
    Ru,
}

impl Lang {
    /// Every list, in the order the tables are built.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ru];

    /// The list's language code, as its file is named (`en`, `ru`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    /// The list for a language code; `None` for a language without its own list (README.md says
    /// which list the page offers instead).
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../../wordlists/en.txt"),
            Lang::Ru => include_str!("../../wordlists/ru.txt"),
        }
    }

    /// The list's words, index order.
    pub fn words(self) -> &'static [&'static str] {
        static LISTS: OnceLock<Vec<Vec<&'static str>>> = OnceLock::new();
        let lists = LISTS.get_or_init(|| {
            Lang::ALL
                .iter()
                .map(|l| {
                    let words: Vec<&'static str> = l.source().lines().collect();
                    assert_eq!(
                        words.len(),
                        LIST_SIZE,
                        "word list {} is not 2048 lines",
                        l.code()
                    );
                    words
                })
                .collect()
        });
        &lists[self as usize]
    }
}

/// How a typed word is compared: Unicode NFC, lowercase, `ё` read as `е`.
pub fn normalize(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfc()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

/// The first 4 letters of a normalised word (all of it if shorter): what names it.
pub fn key(normalized: &str) -> &str {
    match normalized.char_indices().nth(4) {
        Some((at, _)) => &normalized[..at],
        None => normalized,
    }
}

struct Entry {
    index: u16,
    normalized: String,
}

fn table() -> &'static HashMap<String, Entry> {
    static TABLE: OnceLock<HashMap<String, Entry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = HashMap::with_capacity(LIST_SIZE * Lang::ALL.len());
        for lang in Lang::ALL {
            for (index, word) in lang.words().iter().enumerate() {
                let normalized = normalize(word);
                let k = key(&normalized).to_owned();
                // A clash would make a typed word ambiguous; the tests refuse such lists, and here
                // the first list keeps the key rather than a later one silently taking it.
                table.entry(k).or_insert(Entry {
                    index: index as u16,
                    normalized,
                });
            }
        }
        table
    })
}

/// The index a typed word stands for: the whole word, or at least its first 4 letters, from any
/// list. `token` must already be normalised.
pub fn lookup(token: &str) -> Option<u16> {
    let entry = table().get(key(token))?;
    // "кот" must not read as "котел": a short token is only a whole word; a longer one must be
    // a prefix of the word its first 4 letters name (a typo after them is not silently read).
    let long_enough = token.chars().count() >= 4 || token == entry.normalized;
    (long_enough && entry.normalized.starts_with(token)).then_some(entry.index)
}
