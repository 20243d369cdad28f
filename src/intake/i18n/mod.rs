//! The pages' words, per language. Tor Browser tells every site `en-US`, so the language is
//! chosen by a visible switch (`?lang=`), with `Accept-Language` only as the first guess.
//!
//! Placeholders in braces (`{files}`, `{total}`, `{per_file}`) are filled in by the pages.

mod en;
mod kk;
mod ky;
pub mod numbers;
#[cfg(feature = "rtl-pseudo-locale")]
mod pseudo_rtl;
mod ru;
mod tg;
mod tk;
mod uk;
mod uz;
mod uz_cyrl;

use numbers::{NumberSymbols, Plural};

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
    Uk,
    Kk,
    Ky,
    Tg,
    Tk,
    Uz,
    UzCyrl,
    /// CLDR's right-to-left pseudo-locale: English words laid out right to left, only in builds
    /// with the `rtl-pseudo-locale` feature (the tests), to prove the pages mirror.
    #[cfg(feature = "rtl-pseudo-locale")]
    PseudoRtl,
}

/// Which way a language's lines run (the `dir` attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ltr,
    Rtl,
}

impl Direction {
    pub fn attr(self) -> &'static str {
        match self {
            Direction::Ltr => "ltr",
            Direction::Rtl => "rtl",
        }
    }
}

/// CLDR `symbols-numberSystem-latn` and `minimumGroupingDigits` (cldr-json
/// `cldr-numbers-full/main/<locale>/numbers.json`, CLDR 48; the same figures Debian's ICU gives
/// `Intl.NumberFormat`): Russian, Ukrainian, Kazakh, Kyrgyz, Tajik, Turkmen and both Uzbek
/// scripts write "1 234,5" with U+00A0 as the group separator; English writes "1,234.5".
const COMMA_DECIMAL: NumberSymbols = NumberSymbols {
    decimal: ',',
    group: '\u{a0}',
    min_grouping: 1,
};
const POINT_DECIMAL: NumberSymbols = NumberSymbols {
    decimal: '.',
    group: ',',
    min_grouping: 1,
};

impl Lang {
    /// Every language, in the order the switch shows them.
    pub const ALL: &'static [Lang] = &[
        Lang::En,
        Lang::Ru,
        Lang::Uk,
        Lang::Kk,
        Lang::Ky,
        Lang::Tg,
        Lang::Tk,
        Lang::Uz,
        Lang::UzCyrl,
        #[cfg(feature = "rtl-pseudo-locale")]
        Lang::PseudoRtl,
    ];

    /// The BCP 47 tag used in `lang=` attributes and the `?lang=` switch.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
            Lang::Uk => "uk",
            Lang::Kk => "kk",
            Lang::Ky => "ky",
            Lang::Tg => "tg",
            Lang::Tk => "tk",
            // Plain `uz` is Latin: CLDR's likely script for Uzbek, and what Uzbekistan teaches.
            Lang::Uz => "uz",
            Lang::UzCyrl => "uz-Cyrl",
            #[cfg(feature = "rtl-pseudo-locale")]
            Lang::PseudoRtl => "ar-XB",
        }
    }

    /// The language whose CLDR plural rules apply (plural rules depend on the language only,
    /// not its script or region).
    pub fn plural_language(self) -> &'static str {
        match self {
            Lang::UzCyrl => "uz",
            // `intl_pluralrules` 7.0.2 carries CLDR data older than Tajik's entry; CLDR 48 gives
            // Tajik "one: n = 1; other", word for word Kazakh's rule (the tests check the
            // categories against a table written from CLDR).
            Lang::Tg => "kk",
            // English words, so English plurals.
            #[cfg(feature = "rtl-pseudo-locale")]
            Lang::PseudoRtl => "en",
            other => other.code(),
        }
    }

    pub fn number_symbols(self) -> NumberSymbols {
        match self {
            Lang::En => POINT_DECIMAL,
            #[cfg(feature = "rtl-pseudo-locale")]
            Lang::PseudoRtl => POINT_DECIMAL,
            _ => COMMA_DECIMAL,
        }
    }

    pub fn direction(self) -> Direction {
        match self {
            #[cfg(feature = "rtl-pseudo-locale")]
            Lang::PseudoRtl => Direction::Rtl,
            _ => Direction::Ltr,
        }
    }

    /// The language a BCP 47 tag asks for, by RFC 4647 "lookup": the whole tag, then with its
    /// last subtag cut off, and so on ("uz-Cyrl-UZ" finds `uz-Cyrl`, "uz-UZ" finds `uz`).
    /// Case does not matter; "uz-Latn" is `uz`.
    pub fn from_code(code: &str) -> Option<Lang> {
        let mut tag = code.trim();
        loop {
            if let Some(found) = Lang::exactly(tag) {
                return Some(found);
            }
            tag = tag.rsplit_once('-')?.0;
            // A single-letter subtag introduces an extension: cut it with what it introduced.
            if let Some((rest, last)) = tag.rsplit_once('-') {
                if last.len() == 1 {
                    tag = rest;
                }
            }
        }
    }

    fn exactly(tag: &str) -> Option<Lang> {
        if tag.eq_ignore_ascii_case("uz-Latn") {
            return Some(Lang::Uz);
        }
        Lang::ALL
            .iter()
            .copied()
            .find(|l| l.code().eq_ignore_ascii_case(tag))
    }

    /// The supported language the sender prefers most in an `Accept-Language` header: by
    /// q-value, then by order; a tag with `q=0` is refused, not asked for.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(u16, Lang)> = None;
        for item in header.split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                .map_or(Some(1000), quality)
                .unwrap_or(0);
            if q == 0 {
                continue;
            }
            if let Some(lang) = Lang::from_code(tag) {
                if best.is_none_or(|(b, _)| q > b) {
                    best = Some((q, lang));
                }
            }
        }
        best.map(|(_, lang)| lang)
    }

    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::En => &en::STRINGS,
            Lang::Ru => &ru::STRINGS,
            Lang::Uk => &uk::STRINGS,
            Lang::Kk => &kk::STRINGS,
            Lang::Ky => &ky::STRINGS,
            Lang::Tg => &tg::STRINGS,
            Lang::Tk => &tk::STRINGS,
            Lang::Uz => &uz::STRINGS,
            Lang::UzCyrl => &uz_cyrl::STRINGS,
            #[cfg(feature = "rtl-pseudo-locale")]
            Lang::PseudoRtl => &pseudo_rtl::STRINGS,
        }
    }
}

/// An RFC 9110 q-value ("0.8") in thousandths; `None` if malformed.
fn quality(text: &str) -> Option<u16> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(code: &str) -> Result<Lang, String> {
        Lang::from_code(code.trim()).ok_or_else(|| {
            format!(
                "`{code}` is not a language of the pages (use one of: {})",
                Lang::ALL
                    .iter()
                    .map(|l| l.code())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

/// Every sentence a source may see.
#[derive(Debug)]
pub struct Strings {
    /// The language's own name, shown in the switch.
    pub native_name: &'static str,
    pub site_title: &'static str,
    pub language_label: &'static str,
    pub skip_to_form: &'static str,
    pub demo_banner: &'static str,

    pub form_heading: &'static str,
    pub intro: &'static str,
    pub what_we_keep: &'static str,
    pub safety_tips_heading: &'static str,

    pub message_label: &'static str,
    pub message_hint: &'static str,
    pub contact_label: &'static str,
    pub files_legend: &'static str,
    /// `{files}` (the bare number) or `{files_count}` (the number with its noun, from
    /// `files_count`), `{total}`, `{per_file}`.
    pub files_hint: &'static str,
    pub files_label: &'static str,
    pub submit_button: &'static str,
    pub submit_note: &'static str,

    pub received_title: &'static str,
    pub received_body: &'static str,
    pub received_next: [&'static str; 3],
    pub send_another: &'static str,

    pub error_heading: &'static str,
    pub nothing_stored: &'static str,
    pub back_to_form: &'static str,
    pub too_large_title: &'static str,
    /// `{total}`, `{per_file}`.
    pub too_large_body: &'static str,
    pub too_many_files_title: &'static str,
    /// `{files}` or `{files_count}`.
    pub too_many_files_body: &'static str,
    pub empty_message_title: &'static str,
    pub empty_message_body: &'static str,
    pub message_too_long_title: &'static str,
    pub message_too_long_body: &'static str,
    pub bad_form_title: &'static str,
    pub bad_form_body: &'static str,
    pub full_title: &'static str,
    pub full_body: &'static str,
    pub busy_title: &'static str,
    pub busy_body: &'static str,
    pub timeout_title: &'static str,
    pub timeout_body: &'static str,
    pub not_found_title: &'static str,
    pub not_found_body: &'static str,
    pub internal_title: &'static str,
    pub internal_body: &'static str,

    // The return channel (docs/CODENAMES.md).
    pub codename_optin_label: &'static str,
    pub codename_optin_hint: &'static str,
    pub have_codename_link: &'static str,
    pub codename_title: &'static str,
    pub codename_intro: &'static str,
    pub codename_advice: [&'static str; 3],
    pub login_title: &'static str,
    pub login_intro: &'static str,
    pub login_label: &'static str,
    pub login_hint: &'static str,
    pub login_button: &'static str,
    /// `{found}`.
    pub codename_word_count: &'static str,
    /// `{position}`.
    pub codename_unknown_word: &'static str,
    pub codename_checksum: &'static str,
    pub inbox_title: &'static str,
    pub inbox_intro: &'static str,
    pub inbox_empty: &'static str,
    pub reply_unreadable: &'static str,
    pub delete_button: &'static str,
    pub followup_heading: &'static str,
    pub followup_hint: &'static str,
    pub followup_message_label: &'static str,
    pub followup_file_label: &'static str,
    pub followup_button: &'static str,
    pub followup_sent: &'static str,
    pub logout_button: &'static str,
    pub logout_hint: &'static str,

    /// "{n} files" in each CLDR plural form the language has (`numbers::count_phrase`).
    pub files_count: Plural,
    /// Sizes under 1 KB, as "{n} bytes" in each plural form.
    pub bytes: Plural,
    /// Units for sizes (binary: 1 KB = 1024 bytes, as phones and file managers count).
    pub unit_kb: &'static str,
    pub unit_mb: &'static str,
    pub unit_gb: &'static str,

    // Issue 11, flow and trust (nothing typed is lost; the group is named; PRG).
    /// Marks the one required field in words (no `required` attribute: its bubble is the
    /// browser's English).
    pub required_marker: &'static str,
    /// Several files at once; a second choice replaces the first.
    pub files_choose_all: &'static str,
    /// Reviewed for the region (a searched phone shows the Tor Browser app; no local mail
    /// services); the operator may replace them (`[organisation]` tips).
    pub safety_tips: &'static [&'static str],
    /// No mail services of the source's country (the authorities may read them).
    pub contact_hint: &'static str,
    /// On a refused form shown again: what was written is still below.
    pub text_kept: &'static str,
    /// On a refused form shown again when the text could not be kept.
    pub text_not_kept: &'static str,
    /// `{count}`: files that must be chosen again (a "label: number" form, no plural needed).
    pub files_again_count: &'static str,
    /// When the file names are not known (the upload stopped before them).
    pub files_again_unknown: &'static str,
    pub contact_too_long_title: &'static str,
    pub contact_too_long_body: &'static str,
    /// `{count}`: files that arrived (a "label: number" form, no plural needed).
    pub received_files: &'static str,
    /// Heading above the operator's line on how to check this address.
    pub verify_heading: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_most_preferred_supported() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.5"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("de-DE, ru;q=0.8"),
            Some(Lang::Ru)
        );
        assert_eq!(Lang::from_accept_language("fr"), None);
        // By q-value, not by place; q=0 means "not this one".
        assert_eq!(Lang::from_accept_language("ru;q=0.5, kk"), Some(Lang::Kk));
        assert_eq!(
            Lang::from_accept_language("kk;q=0, ky;q=0.1"),
            Some(Lang::Ky)
        );
        assert_eq!(
            Lang::from_accept_language("uk;q=0.9, en;q=0.9"),
            Some(Lang::Uk)
        );
        assert_eq!(
            Lang::from_accept_language("en;q=2, tg;q=0.3"),
            Some(Lang::Tg)
        );
    }

    #[test]
    fn uzbek_script_is_matched_by_bcp47_lookup() {
        for (tag, lang) in [
            ("uz", Lang::Uz),
            ("uz-UZ", Lang::Uz),
            ("uz-Latn", Lang::Uz),
            ("uz-Latn-UZ", Lang::Uz),
            ("uz-Cyrl", Lang::UzCyrl),
            ("UZ-CYRL", Lang::UzCyrl),
            ("uz-cyrl-UZ", Lang::UzCyrl),
            ("uz-Cyrl-x-private", Lang::UzCyrl),
            ("kk-KZ", Lang::Kk),
            ("ky-Cyrl-KG", Lang::Ky),
            ("uk-UA", Lang::Uk),
        ] {
            assert_eq!(Lang::from_code(tag), Some(lang), "{tag}");
        }
        assert_eq!(Lang::from_code("uzb"), None);
        assert_eq!(Lang::from_code("cyrl"), None);
        assert_eq!(Lang::from_code(""), None);
        assert_eq!(
            Lang::from_accept_language("uz-Cyrl-UZ, uz;q=0.9"),
            Some(Lang::UzCyrl)
        );
        assert_eq!(Lang::UzCyrl.code(), "uz-Cyrl");
    }

    #[test]
    fn every_language_fills_its_placeholders_and_leaves_nothing_blank() {
        for &lang in Lang::ALL {
            let s = lang.strings();
            let has_files = |t: &str| t.contains("{files}") || t.contains("{files_count}");
            assert!(has_files(s.files_hint), "{lang:?} files_hint");
            assert!(s.files_hint.contains("{total}"), "{lang:?} files_hint");
            assert!(s.files_hint.contains("{per_file}"), "{lang:?} files_hint");
            assert!(
                s.too_large_body.contains("{total}"),
                "{lang:?} too_large_body"
            );
            assert!(has_files(s.too_many_files_body), "{lang:?}");
            assert!(s.codename_word_count.contains("{found}"), "{lang:?}");
            assert!(s.codename_unknown_word.contains("{position}"), "{lang:?}");
            for plural in [&s.files_count, &s.bytes] {
                // CLDR requires `other`; every category the language uses needs a form.
                let categories = [0, 1, 2, 5, 11, 21, 22, 25, 101, 111, 1000]
                    .map(|n| numbers::plural_category(lang, n));
                for c in categories
                    .into_iter()
                    .chain([numbers::PluralCategory::OTHER])
                {
                    assert!(
                        plural.forms.iter().any(|(k, _)| k == &c),
                        "{lang:?} has no {c:?} form"
                    );
                }
                for (_, form) in plural.forms {
                    assert!(form.contains("{n}\u{a0}"), "{lang:?} {form:?}");
                }
            }
            assert!(s.files_again_count.contains("{count}"), "{lang:?}");
            assert!(s.received_files.contains("{count}"), "{lang:?}");
            assert!(!s.safety_tips.is_empty(), "{lang:?}");
            let all = format!("{s:?}");
            assert!(!all.contains("\"\""), "{lang:?} has an empty string");
        }
    }

    #[test]
    fn codes_are_unique_and_round_trip() {
        for &lang in Lang::ALL {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
        }
    }
}
