//! Counts and sizes as each language writes them, by CLDR's rules rather than by hand.
//!
//! - Plural categories (which form of "file" goes with 21) come from `intl_pluralrules`: Project
//!   Fluent's crate, generated from CLDR's `plurals.xml`, small, and already in the build (age's
//!   messages use Fluent). ICU4X's `icu_plurals` gives the same answers but brings its data
//!   provider, zerovec and locale crates (some 20 more crates) for the one lookup we need.
//! - Number symbols (decimal separator, grouping separator) are CLDR data for just our languages,
//!   written down in `Lang::number_symbols` with their source: no small, kept crate formats
//!   numbers by locale without pulling in ICU4X's data as a whole.
//! - Sizes are rounded down, never up: a limit of 1000 bytes must not read as "1 MB", which would
//!   invite a source to send 1 MB and be refused. The number and its unit are joined by a
//!   no-break space, so "1,5 ГБ" never breaks across lines on a narrow phone.

pub use intl_pluralrules::PluralCategory;
use intl_pluralrules::{PluralRuleType, PluralRules};

use super::{Lang, Strings};

/// U+00A0 NO-BREAK SPACE: between a number and its unit.
pub const NBSP: char = '\u{a0}';

/// How a language writes a decimal number (CLDR `numbers/symbols-numberSystem-latn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberSymbols {
    pub decimal: char,
    pub group: char,
    /// CLDR `minimumGroupingDigits`: group only numbers with at least this many digits before the
    /// last group (1: "1 000"; 2: "1000" but "10 000").
    pub min_grouping: u8,
}

/// A phrase with a count in it, one form per CLDR plural category the language uses; `{n}` is
/// where the number goes. `other` is always present (CLDR requires it of every language).
#[derive(Debug)]
pub struct Plural {
    pub forms: &'static [(PluralCategory, &'static str)],
}

impl Plural {
    /// The form for `category`, falling back to `other` (CLDR's own fallback).
    pub fn form(&self, category: PluralCategory) -> &'static str {
        let find = |c: PluralCategory| self.forms.iter().find(|(k, _)| *k == c).map(|f| f.1);
        find(category)
            .or_else(|| find(PluralCategory::OTHER))
            .expect("every Plural has an `other` form (checked by the tests)")
    }
}

/// The CLDR plural category of a whole number in `lang`.
pub fn plural_category(lang: Lang, n: u64) -> PluralCategory {
    rules(lang)
        .select(n)
        .expect("a whole number always has a plural category")
}

fn rules(lang: Lang) -> PluralRules {
    let id: unic_langid::LanguageIdentifier = lang
        .plural_language()
        .parse()
        .expect("a plural language is a valid language tag");
    PluralRules::create(id, PluralRuleType::CARDINAL)
        .expect("CLDR has cardinal plural rules for every page language (checked by the tests)")
}

/// `count` in `lang`'s form of `phrase`, with the number written as `lang` writes it.
pub fn count_phrase(lang: Lang, phrase: &Plural, count: u64) -> String {
    phrase
        .form(plural_category(lang, count))
        .replace("{n}", &format_integer(lang.number_symbols(), count))
}

/// A whole number with the language's grouping separator ("1 000 000" in Russian).
pub fn format_integer(symbols: NumberSymbols, n: u64) -> String {
    let digits = n.to_string();
    let group = digits.len() > 3 && digits.len() - 3 >= usize::from(symbols.min_grouping);
    if !group {
        return digits;
    }
    let mut out = String::with_capacity(digits.len() * 2);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(symbols.group);
        }
        out.push(d);
    }
    out
}

/// A number given in tenths, shown with one decimal unless it is whole ("1,5", "2").
pub fn format_tenths(symbols: NumberSymbols, tenths: u64) -> String {
    let whole = format_integer(symbols, tenths / 10);
    match tenths % 10 {
        0 => whole,
        d => format!("{whole}{}{d}", symbols.decimal),
    }
}

/// A size as a source would read it, never more than the real number of bytes: the largest unit
/// that is at most `bytes`, rounded down to one decimal ("1,5 ГБ", "999 байт", "1023,9 КБ").
pub fn human_size(lang: Lang, bytes: u64) -> String {
    const KIB: u64 = 1024;
    let t: &Strings = lang.strings();
    let units = [
        (KIB * KIB * KIB, t.unit_gb),
        (KIB * KIB, t.unit_mb),
        (KIB, t.unit_kb),
    ];
    for (size, unit) in units {
        if bytes >= size {
            // Exact in u128: floor(bytes * 10 / size) never rounds up.
            let tenths = (u128::from(bytes) * 10 / u128::from(size)) as u64;
            return format!(
                "{}{NBSP}{unit}",
                format_tenths(lang.number_symbols(), tenths)
            );
        }
    }
    count_phrase(lang, &t.bytes, bytes)
}

#[cfg(test)]
mod tests {
    use super::PluralCategory::{FEW, MANY, ONE, OTHER};
    use super::*;
    use crate::config::Limits;
    use crate::intake::pages::fill_limits;

    const COUNTS: [u64; 9] = [0, 1, 2, 5, 11, 21, 22, 25, 101];

    /// CLDR's cardinal categories for `COUNTS`, worked out by hand from the rules in CLDR's
    /// `supplemental/plurals.xml` (integers, so v = 0 and i = n):
    /// - en: one: i = 1 and v = 0; other: everything else.
    /// - ru, uk: one: v = 0 and i % 10 = 1 and i % 100 != 11; few: v = 0 and i % 10 = 2..4 and
    ///   i % 100 != 12..14; many: v = 0 and (i % 10 = 0 or i % 10 = 5..9 or i % 100 = 11..14).
    /// - kk, ky, tg, tk, uz (both scripts): one: n = 1; other: everything else.
    fn expected_categories(lang: Lang) -> [PluralCategory; 9] {
        const ONE_OTHER: [PluralCategory; 9] =
            [OTHER, ONE, OTHER, OTHER, OTHER, OTHER, OTHER, OTHER, OTHER];
        const EAST_SLAVIC: [PluralCategory; 9] = [MANY, ONE, FEW, MANY, MANY, ONE, FEW, MANY, ONE];
        match lang {
            Lang::Ru | Lang::Uk => EAST_SLAVIC,
            _ => ONE_OTHER,
        }
    }

    #[test]
    fn plural_categories_follow_cldr_in_every_language() {
        for &lang in Lang::ALL {
            let got = COUNTS.map(|n| plural_category(lang, n));
            assert_eq!(got, expected_categories(lang), "{lang:?} for {COUNTS:?}");
        }
    }

    /// The "N files" phrase as a native reader expects it, written out (not derived from the
    /// translation files), for the languages whose noun changes with the number.
    fn expected_files_phrase(lang: Lang, n: u64) -> Option<String> {
        let word = match (lang, plural_category(lang, n)) {
            (Lang::En, ONE) => "file",
            (Lang::En, _) => "files",
            (Lang::Ru, ONE) => "файл",
            (Lang::Ru, FEW) => "файла",
            (Lang::Ru, _) => "файлов",
            (Lang::Uk, ONE) => "файл",
            (Lang::Uk, FEW) => "файли",
            (Lang::Uk, _) => "файлів",
            _ => return None,
        };
        Some(format!("{n}{NBSP}{word}"))
    }

    #[test]
    fn files_hint_agrees_with_the_number_in_every_language() {
        for &lang in Lang::ALL {
            let t = lang.strings();
            for (n, category) in COUNTS.into_iter().zip(expected_categories(lang)) {
                let phrase = count_phrase(lang, &t.files_count, n);
                assert_eq!(
                    phrase,
                    t.files_count.form(category).replace("{n}", &n.to_string()),
                    "{lang:?} {n}"
                );
                if let Some(expected) = expected_files_phrase(lang, n) {
                    assert_eq!(phrase, expected, "{lang:?} {n}");
                }
                let limits = Limits {
                    max_files: n as u32,
                    ..Limits::default()
                };
                let hint = fill_limits(t.files_hint, lang, &limits);
                assert!(
                    !hint.contains('{'),
                    "{lang:?}: unfilled placeholder in {hint}"
                );
                assert!(
                    hint.contains(&phrase) || hint.contains(&format!(": {n}.")),
                    "{lang:?}: the hint for {n} files says neither {phrase:?} nor \": {n}.\": {hint}"
                );
            }
        }
    }

    #[test]
    fn russian_never_says_one_files() {
        for n in [1, 21, 101] {
            let limits = Limits {
                max_files: n,
                ..Limits::default()
            };
            for text in [
                Lang::Ru.strings().files_hint,
                Lang::Ru.strings().too_many_files_body,
            ] {
                let filled = fill_limits(text, Lang::Ru, &limits);
                assert!(filled.contains(&format!(": {n}.")), "{filled}");
                for space in [" ", "\u{a0}"] {
                    assert!(!filled.contains(&format!("{n}{space}файлов")), "{filled}");
                }
            }
        }
    }

    fn nb(s: &str) -> String {
        s.replace(' ', "\u{a0}")
    }

    #[test]
    fn sizes_round_down_and_keep_number_and_unit_together() {
        const K: u64 = 1024;
        let en = [
            (0, "0 bytes"),
            (1, "1 byte"),
            (2, "2 bytes"),
            (999, "999 bytes"),
            (1000, "1,000 bytes"),
            (K - 1, "1,023 bytes"),
            (K, "1 KB"),
            (K + 1, "1 KB"),
            (K + K / 2, "1.5 KB"),
            (K * K - 1, "1,023.9 KB"),
            (K * K, "1 MB"),
            (K * K * 3 / 2 - 1, "1.4 MB"),
            (1_000_000_000, "953.6 MB"),
            (K * K * K - 1, "1,023.9 MB"),
            (K * K * K, "1 GB"),
            (K * K * K * 3 / 2 - 1, "1.4 GB"),
            (K * K * K * 3 / 2, "1.5 GB"),
            (2048 * K * K, "2 GB"),
            (2048 * K * K * K, "2,048 GB"),
        ];
        for (bytes, text) in en {
            assert_eq!(human_size(Lang::En, bytes), nb(text), "en {bytes}");
        }
        let ru = [
            (0, "0 байт"),
            (1, "1 байт"),
            (2, "2 байта"),
            (5, "5 байт"),
            (11, "11 байт"),
            (21, "21 байт"),
            (22, "22 байта"),
            (101, "101 байт"),
            (1000, "1 000 байт"),
            (K * K - 1, "1 023,9 КБ"),
            (K * K * 3 / 2, "1,5 МБ"),
            (K * K * K * 3 / 2, "1,5 ГБ"),
            (2048 * K * K, "2 ГБ"),
        ];
        for (bytes, text) in ru {
            assert_eq!(human_size(Lang::Ru, bytes), nb(text), "ru {bytes}");
        }
        let uk = [
            (2, "2 байти"),
            (5, "5 байтів"),
            (21, "21 байт"),
            (K * K * K * 3 / 2, "1,5 ГБ"),
        ];
        for (bytes, text) in uk {
            assert_eq!(human_size(Lang::Uk, bytes), nb(text), "uk {bytes}");
        }
        // Every other language: a decimal comma, and the unit after a no-break space.
        for &lang in Lang::ALL {
            let shown = human_size(lang, K * K * K * 3 / 2);
            assert!(
                shown.contains(NBSP) && !shown.contains(' '),
                "{lang:?}: {shown:?}"
            );
            let decimal = lang.number_symbols().decimal;
            assert!(
                shown.starts_with(&format!("1{decimal}5")),
                "{lang:?}: {shown:?}"
            );
        }
    }

    /// Never rounded up: the number shown, in its unit, is at most the real size, and less than
    /// a tenth of a unit below it.
    #[test]
    fn a_size_shown_is_never_more_than_the_real_one() {
        let mut bytes = 1u64;
        while bytes < 1 << 44 {
            for b in [bytes - 1, bytes, bytes + 1, bytes * 3 / 2, bytes * 10 / 9] {
                let shown = human_size(Lang::En, b).replace(',', "");
                let (number, unit) = shown.split_once(NBSP).unwrap();
                let scale: f64 = match unit {
                    "KB" => 1024.0,
                    "MB" => 1024.0 * 1024.0,
                    "GB" => 1024.0 * 1024.0 * 1024.0,
                    _ => 1.0,
                };
                let value = number.parse::<f64>().unwrap() * scale;
                assert!(value <= b as f64, "{b} shown as {shown}");
                assert!(
                    b as f64 - value < scale / 10.0 + 1.0,
                    "{b} shown as {shown}"
                );
            }
            bytes *= 2;
        }
    }

    #[test]
    fn grouping_follows_cldr_symbols() {
        assert_eq!(
            format_integer(Lang::En.number_symbols(), 1_234_567),
            "1,234,567"
        );
        assert_eq!(
            format_integer(Lang::Kk.number_symbols(), 1_234_567),
            nb("1 234 567")
        );
        assert_eq!(format_integer(Lang::Ru.number_symbols(), 999), "999");
        assert_eq!(
            format_tenths(Lang::Uz.number_symbols(), 12_345),
            nb("1 234,5")
        );
    }
}
