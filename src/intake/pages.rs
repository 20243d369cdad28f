//! Server-rendered pages: compile-time checked, auto-escaping askama templates.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::i18n::numbers::{count_phrase, format_integer, human_size};
use super::i18n::{Lang, Strings};
use crate::config::Limits;

/// What every page needs: the words, the language switch, the demo banner.
pub struct PageCtx {
    pub t: &'static Strings,
    pub lang: Lang,
    pub lang_code: &'static str,
    /// `ltr` or `rtl`, for the `dir` attribute.
    pub dir: &'static str,
    pub langs: Vec<LangLink>,
    pub demo: bool,
}

pub struct LangLink {
    pub code: &'static str,
    pub name: &'static str,
    pub dir: &'static str,
    pub current: bool,
}

impl PageCtx {
    pub fn new(lang: Lang, demo: bool) -> Self {
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
        }
    }
}

#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage {
    pub page: PageCtx,
    pub files_hint: String,
    pub max_files: u32,
    pub message_maxlength: u64,
    pub contact_maxlength: usize,
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
    pub message_maxlength: u64,
    pub files_allowed: bool,
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
    pub fn new(page: PageCtx, limits: &Limits, contact_maxlength: usize) -> Self {
        let files_hint = fill_limits(page.t.files_hint, page.lang, limits);
        FormPage {
            page,
            files_hint,
            max_files: limits.max_files,
            // `maxlength` counts UTF-16 units; one unit is at most 3 bytes of UTF-8.
            message_maxlength: limits.max_message_bytes / 3,
            contact_maxlength,
        }
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
