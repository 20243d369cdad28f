//! The pages' words, per language. Tor Browser tells every site `en-US`, so the language is
//! chosen by a visible switch (`?lang=`), with `Accept-Language` only as the first guess.
//!
//! Placeholders in braces (`{files}`, `{total}`, `{per_file}`) are filled in by the pages.

mod en;
mod ru;
mod tg;
mod tk;
mod uz;

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
    Tg,
    Tk,
    Uz,
}

impl Lang {
    pub const ALL: [Lang; 5] = [Lang::En, Lang::Ru, Lang::Tg, Lang::Tk, Lang::Uz];

    /// The BCP 47 tag used in `lang=` attributes and the `?lang=` switch.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
            Lang::Tg => "tg",
            Lang::Tk => "tk",
            Lang::Uz => "uz",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code))
    }

    /// The first supported language in an `Accept-Language` header, in the sender's order.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        header
            .split(',')
            .filter_map(|item| item.split(';').next())
            .filter_map(|tag| tag.trim().split('-').next())
            .find_map(Lang::from_code)
    }

    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::En => &en::STRINGS,
            Lang::Ru => &ru::STRINGS,
            Lang::Tg => &tg::STRINGS,
            Lang::Tk => &tk::STRINGS,
            Lang::Uz => &uz::STRINGS,
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(code: &str) -> Result<Lang, String> {
        Lang::from_code(code.trim()).ok_or_else(|| {
            format!(
                "`{code}` is not a language of the pages (use one of: {})",
                Lang::ALL.map(Lang::code).join(", ")
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
    pub safety_tips: [&'static str; 3],

    pub message_label: &'static str,
    pub message_hint: &'static str,
    pub contact_label: &'static str,
    pub contact_hint: &'static str,
    pub files_legend: &'static str,
    /// `{files}`, `{total}`, `{per_file}`.
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
    /// `{files}`.
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

    /// Units for sizes: bytes are never shown raw to a source.
    pub unit_mb: &'static str,
    pub unit_gb: &'static str,

    // Issue 11, flow and trust (nothing typed is lost; the group is named; PRG).
    /// Marks the one required field in words (no `required` attribute: its bubble is the
    /// browser's English).
    pub required_marker: &'static str,
    /// Several files at once; a second choice replaces the first.
    pub files_choose_all: &'static str,
    /// Replaces `safety_tips` (reviewed for the region; the operator may replace them).
    pub safety_tips_reviewed: &'static [&'static str],
    /// Replaces `contact_hint`: no email services (local ones may be read by the authorities).
    pub contact_hint_reviewed: &'static str,
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
    fn accept_language_picks_the_first_supported() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.5"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("de-DE, ru;q=0.8"),
            Some(Lang::Ru)
        );
        assert_eq!(Lang::from_accept_language("fr"), None);
    }

    #[test]
    fn every_language_fills_its_placeholders_and_leaves_nothing_blank() {
        for lang in Lang::ALL {
            let s = lang.strings();
            assert!(s.files_hint.contains("{files}"), "{lang:?} files_hint");
            assert!(s.files_hint.contains("{total}"), "{lang:?} files_hint");
            assert!(
                s.too_large_body.contains("{total}"),
                "{lang:?} too_large_body"
            );
            assert!(s.too_many_files_body.contains("{files}"), "{lang:?}");
            assert!(s.codename_word_count.contains("{found}"), "{lang:?}");
            assert!(s.codename_unknown_word.contains("{position}"), "{lang:?}");
            assert!(s.files_again_count.contains("{count}"), "{lang:?}");
            assert!(s.received_files.contains("{count}"), "{lang:?}");
            assert!(!s.safety_tips_reviewed.is_empty(), "{lang:?}");
            let all = format!("{s:?}");
            assert!(!all.contains("\"\""), "{lang:?} has an empty string");
        }
    }
}
