//! Every way the intake can turn a submission down, each with its status and readable page.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use super::i18n::Lang;
use super::pages::{fill_limits, render, ErrorPage, PageCtx};
use crate::config::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The body, or one file, is over its limit.
    TooLarge,
    TooManyFiles,
    EmptyMessage,
    MessageTooLong,
    /// Not a multipart form we can read: wrong content type, malformed body, unknown field,
    /// or a body cut off half-way.
    BadForm,
    /// The storage quota or the free-disk floor is reached.
    Full,
    /// All upload slots are taken.
    Busy,
    /// The body took longer than the configured time.
    Timeout,
    NotFound,
    /// A fault on the server's side (already logged, without details of the submission).
    Internal,
}

impl Refusal {
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::TooLarge | Refusal::MessageTooLong => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::TooManyFiles | Refusal::EmptyMessage | Refusal::BadForm => {
                StatusCode::BAD_REQUEST
            }
            Refusal::Full => StatusCode::INSUFFICIENT_STORAGE,
            Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Timeout => StatusCode::REQUEST_TIMEOUT,
            Refusal::NotFound => StatusCode::NOT_FOUND,
            Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error page, in the source's language.
    pub fn page(self, lang: Lang, limits: &Limits, demo: bool) -> Response {
        let page = PageCtx::new(lang, demo);
        let t = page.t;
        let (title, body) = match self {
            Refusal::TooLarge => (t.too_large_title, t.too_large_body),
            Refusal::TooManyFiles => (t.too_many_files_title, t.too_many_files_body),
            Refusal::EmptyMessage => (t.empty_message_title, t.empty_message_body),
            Refusal::MessageTooLong => (t.message_too_long_title, t.message_too_long_body),
            Refusal::BadForm => (t.bad_form_title, t.bad_form_body),
            Refusal::Full => (t.full_title, t.full_body),
            Refusal::Busy => (t.busy_title, t.busy_body),
            Refusal::Timeout => (t.timeout_title, t.timeout_body),
            Refusal::NotFound => (t.not_found_title, t.not_found_body),
            Refusal::Internal => (t.internal_title, t.internal_body),
        };
        let mut response = render(
            self.status(),
            &ErrorPage {
                page,
                title,
                body: fill_limits(body, lang, limits),
                nothing_stored: self != Refusal::NotFound,
            },
        );
        if matches!(self, Refusal::Busy | Refusal::Full) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("300"));
        }
        response
    }
}
