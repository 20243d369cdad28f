//! Server-rendered pages: compile-time checked, auto-escaping askama templates.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::i18n::{Lang, Strings};
use crate::config::Limits;

/// What every page needs: the words, the language switch, the demo banner.
pub struct PageCtx {
    pub t: &'static Strings,
    pub lang_code: &'static str,
    pub langs: Vec<LangLink>,
    pub demo: bool,
}

pub struct LangLink {
    pub code: &'static str,
    pub name: &'static str,
    pub current: bool,
}

impl PageCtx {
    pub fn new(lang: Lang, demo: bool) -> Self {
        PageCtx {
            t: lang.strings(),
            lang_code: lang.code(),
            langs: Lang::ALL
                .into_iter()
                .map(|l| LangLink {
                    code: l.code(),
                    name: l.strings().native_name,
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
pub struct ReceivedPage {
    pub page: PageCtx,
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
        let files_hint = fill_limits(page.t.files_hint, page.t, limits);
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

/// Fill `{files}`, `{total}` and `{per_file}` in a sentence.
pub fn fill_limits(text: &str, t: &Strings, limits: &Limits) -> String {
    text.replace("{files}", &limits.max_files.to_string())
        .replace("{total}", &human_size(limits.max_submission_bytes, t))
        .replace("{per_file}", &human_size(limits.max_file_bytes, t))
}

/// A size as a source would say it: "2 GB", "500 MB", "1.5 GB".
pub fn human_size(bytes: u64, t: &Strings) -> String {
    const MIB: u64 = 1024 * 1024;
    const GIB: u64 = 1024 * MIB;
    if bytes >= GIB {
        let tenths = (bytes * 10 + GIB / 2) / GIB;
        if tenths % 10 == 0 {
            format!("{} {}", tenths / 10, t.unit_gb)
        } else {
            format!("{}.{} {}", tenths / 10, tenths % 10, t.unit_gb)
        }
    } else {
        format!("{} {}", bytes.div_ceil(MIB).max(1), t.unit_mb)
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
