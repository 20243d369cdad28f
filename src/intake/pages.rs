//! Server-rendered pages: compile-time checked, auto-escaping askama templates.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use zeroize::Zeroizing;

use super::i18n::numbers::{count_phrase, format_integer, human_size};

use super::i18n::{Lang, Strings};
use super::statics;
use crate::config::{Config, Limits};

/// What every page needs: the words, the language switch, the demo banner, the group's name.
pub struct PageCtx {
    pub t: &'static Strings,
    pub lang: Lang,
    pub lang_code: &'static str,
    /// `ltr` or `rtl`, for the `dir` attribute.
    pub dir: &'static str,
    pub langs: Vec<LangLink>,
    pub demo: bool,
    /// Where the language links lead: the form, or the received page (which keeps its own).
    pub switch_path: &'static str,
    /// On a refused form, the language switch sends the form back (with the text) in the other
    /// language rather than leaving it: links would open an empty form.
    pub switch_by_form: bool,
    /// The group's name (operator input, escaped by the template); empty if not configured.
    pub org_name: String,
    /// The logo's content-hashed path, if there is a logo.
    pub logo_path: Option<String>,
    /// The stylesheet's content-hashed path.
    pub stylesheet: &'static str,
}

pub struct LangLink {
    pub code: &'static str,
    pub name: &'static str,
    pub dir: &'static str,
    pub current: bool,
}

impl PageCtx {
    pub fn new(lang: Lang, config: &Config) -> Self {
        let mut page = PageCtx::words(lang, config.demo);
        page.org_name = config.organisation.name.clone();
        page.logo_path = config.logo.as_ref().map(|l| l.path.clone());
        page
    }

    /// The language links lead back to this page rather than to the form.
    pub fn switching_to(mut self, path: &'static str) -> Self {
        self.switch_path = path;
        self
    }

    fn words(lang: Lang, demo: bool) -> Self {
        PageCtx {
            t: lang.strings(),
            lang,
            lang_code: lang.code(),
            dir: lang.direction().attr(),
            langs: Lang::ALL
                .iter()
                .copied()
                .map(|l| LangLink {
                    code: l.code(),
                    name: l.strings().native_name,
                    dir: l.direction().attr(),
                    current: l == lang,
                })
                .collect(),
            demo,
            switch_path: "/",
            switch_by_form: false,
            org_name: String::new(),
            logo_path: None,
            stylesheet: statics::stylesheet_path(),
        }
    }
}

#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage {
    pub page: PageCtx,
    pub files_hint: String,
    pub max_files: u32,
    /// The group's description and how to check the address (operator input, escaped).
    pub description: String,
    pub verify: String,
    /// The operator's tips for this language, or the built-in ones.
    pub tips: Vec<String>,
    /// Set when the form comes back after a refusal: what went wrong, and what was kept.
    pub refused: Option<Refused>,
    /// What the source had typed (in wiped memory; empty on a fresh form).
    pub message: Zeroizing<String>,
    pub contact: Zeroizing<String>,
}

/// Why a form came back, and what the source must do again.
pub struct Refused {
    /// Not a refusal: the source switched the language of a form that came back.
    pub switched: bool,
    pub title: &'static str,
    pub body: String,
    /// The message could be put back into the form.
    pub text_kept: bool,
    /// "Files to choose again: N", when files were chosen and their number is known.
    pub files_again: Option<String>,
    /// Their names, as the browser sent them (wiped memory).
    pub file_names: Vec<Zeroizing<String>>,
    /// The upload stopped before the files could be counted.
    pub files_unknown: bool,
}

#[derive(Template)]
#[template(path = "received.html")]
pub struct ReceivedPage<'a> {
    pub page: PageCtx,
    /// The new codename's words, if the source asked for one (empty otherwise). Slices of a
    /// wiped string: shown once, never stored.
    pub codename: Vec<&'a str>,
    /// The `lang` of the word list the codename is shown in.
    pub codename_lang: &'static str,
    /// "Files received: N", if any files came.
    pub files_received: Option<String>,
}

#[derive(Template)]
#[template(path = "codename.html")]
pub struct CodenamePage {
    pub page: PageCtx,
    /// Why the typed codename was not accepted (never what was typed).
    pub problem: Option<String>,
}

/// One reply as the inbox shows it.
pub struct ShownReply {
    pub id: String,
    /// The decrypted text, or `None` if it could not be read.
    pub text: Option<zeroize::Zeroizing<String>>,
}

#[derive(Template)]
#[template(path = "inbox.html")]
pub struct InboxPage {
    pub page: PageCtx,
    pub replies: Vec<ShownReply>,
    pub sent: bool,
    pub files_allowed: bool,
    /// A follow-up that was refused: what went wrong; its text is back in `message`.
    pub refused: Option<Refused>,
    /// The refused follow-up's text (wiped memory; the page is rendered into wiped memory too).
    pub message: Zeroizing<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub page: PageCtx,
    pub title: &'static str,
    pub body: String,
    pub nothing_stored: bool,
}

impl FormPage {
    /// A fresh form, in `lang`.
    pub fn new(lang: Lang, config: &Config) -> Self {
        let page = PageCtx::new(lang, config);
        let files_hint = fill_limits(page.t.files_hint, lang, &config.limits);
        let organisation = &config.organisation;
        let tips = match organisation.tips_for(lang) {
            Some(tips) => tips.to_vec(),
            None => page.t.safety_tips.iter().map(|t| (*t).to_owned()).collect(),
        };
        FormPage {
            page,
            files_hint,
            max_files: config.limits.max_files,
            description: organisation.description.clone(),
            verify: organisation.verify.clone(),
            tips,
            refused: None,
            message: Zeroizing::new(String::new()),
            contact: Zeroizing::new(String::new()),
        }
    }

    /// Room to render this page into, so the wiped buffer never grows (growing would leave an
    /// unwiped copy): the page itself, and every variable text escaped (at most 6 bytes a byte).
    pub fn capacity(&self) -> usize {
        let names: usize = self
            .refused
            .iter()
            .flat_map(|r| r.file_names.iter())
            .map(|n| n.len())
            .sum();
        // The operator's words are bounded (config/organisation.rs) but escaped too.
        let operator: usize = self.description.len()
            + self.verify.len()
            + 2 * self.page.org_name.len()
            + self.tips.iter().map(String::len).sum::<usize>();
        64 * 1024 + 6 * (self.message.len() + self.contact.len() + names + operator)
    }
}

/// Fill `{files}`, `{files_count}`, `{total}` and `{per_file}` in a sentence, with numbers and
/// plural forms as `lang` writes them (`i18n::numbers`).
pub fn fill_limits(text: &str, lang: Lang, limits: &Limits) -> String {
    let files = u64::from(limits.max_files);
    text.replace(
        "{files_count}",
        &count_phrase(lang, &lang.strings().files_count, files),
    )
    .replace("{files}", &format_integer(lang.number_symbols(), files))
    .replace("{total}", &human_size(lang, limits.max_submission_bytes))
    .replace("{per_file}", &human_size(lang, limits.max_file_bytes))
}

/// Render a page that holds a secret (a codename, a reply): into memory that is wiped when the
/// response body is dropped (the body's bytes own a `Zeroizing` buffer), sized once so no
/// unwiped copy is left by growing. Best effort: hyper may still copy small bodies into its own
/// write buffer.
/// `capacity` must cover the page with room to spare (escaping may make text up to 6 times longer).
pub fn render_wiped(status: StatusCode, template: &impl Template, capacity: usize) -> Response {
    let mut html = zeroize::Zeroizing::new(String::with_capacity(capacity.max(32 * 1024)));
    if let Err(e) = template.render_into(&mut *html) {
        crate::events::event(format!("error: a page failed to render: {e}"));
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    let bytes = zeroize::Zeroizing::new(std::mem::take(&mut *html).into_bytes());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        axum::body::Body::from(bytes::Bytes::from_owner(WipedBytes(bytes))),
    )
        .into_response()
}

/// A response body's bytes, wiped when the body is dropped.
struct WipedBytes(zeroize::Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for WipedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Render a page with its status. A template that fails to render is a bug; say so plainly.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            html,
        )
            .into_response(),
        Err(e) => {
            crate::events::event(format!("error: a page failed to render: {e}"));
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
