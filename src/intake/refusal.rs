//! Every way the intake can turn a submission down, each with its status and readable page.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use zeroize::Zeroizing;

use super::i18n::Lang;
use super::pages::{fill_limits, render, render_wiped, ErrorPage, FormPage, PageCtx, Refused};
use crate::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The body, or one file, is over its limit.
    TooLarge,
    TooManyFiles,
    EmptyMessage,
    MessageTooLong,
    /// The contact line is longer than the server keeps.
    ContactTooLong,
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
    /// Not a fault: the language switch of a form that came back sends the form, to show it
    /// again in the other language with the text (`relang`). Nothing is stored.
    SwitchLanguage,
}

impl Refusal {
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::TooLarge | Refusal::MessageTooLong => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::TooManyFiles
            | Refusal::EmptyMessage
            | Refusal::ContactTooLong
            | Refusal::BadForm => StatusCode::BAD_REQUEST,
            Refusal::Full => StatusCode::INSUFFICIENT_STORAGE,
            Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Timeout => StatusCode::REQUEST_TIMEOUT,
            Refusal::NotFound => StatusCode::NOT_FOUND,
            Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Refusal::SwitchLanguage => StatusCode::OK,
        }
    }

    /// What went wrong, in the source's language: (title, body with limits filled in).
    fn words(self, lang: Lang, config: &Config) -> (&'static str, String) {
        let t = lang.strings();
        let (title, body) = match self {
            Refusal::TooLarge => (t.too_large_title, t.too_large_body),
            Refusal::TooManyFiles => (t.too_many_files_title, t.too_many_files_body),
            Refusal::EmptyMessage => (t.empty_message_title, t.empty_message_body),
            Refusal::MessageTooLong => (t.message_too_long_title, t.message_too_long_body),
            Refusal::ContactTooLong => (t.contact_too_long_title, t.contact_too_long_body),
            Refusal::BadForm => (t.bad_form_title, t.bad_form_body),
            Refusal::Full => (t.full_title, t.full_body),
            Refusal::Busy => (t.busy_title, t.busy_body),
            Refusal::Timeout => (t.timeout_title, t.timeout_body),
            Refusal::NotFound => (t.not_found_title, t.not_found_body),
            Refusal::Internal => (t.internal_title, t.internal_body),
            Refusal::SwitchLanguage => (t.form_heading, ""),
        };
        (title, fill_limits(body, lang, &config.limits))
    }

    /// The error page, in the source's language (for what has no form to give back).
    pub fn page(self, lang: Lang, config: &Config) -> Response {
        let page = PageCtx::new(lang, config);
        let (title, body) = self.words(lang, config);
        let response = render(
            self.status(),
            &ErrorPage {
                page,
                title,
                body,
                nothing_stored: self != Refusal::NotFound,
            },
        );
        self.with_retry_after(response)
    }

    /// The form again, with what the source typed put back, what went wrong, and which files
    /// to choose again. Rendered into wiped memory; like every page but the fresh form, the
    /// response is `no-store`.
    pub fn form_again(self, lang: Lang, config: &Config, mut kept: Kept) -> Response {
        let mut form = FormPage::new(lang, config);
        form.page.switch_by_form = true;
        form.refused = Some(self.refused(lang, config, &mut kept));
        form.message = kept.message.unwrap_or_default();
        form.contact = kept.contact.unwrap_or_default();
        let capacity = form.capacity();
        self.with_retry_after(render_wiped(self.status(), &form, capacity))
    }

    /// What went wrong, for a form shown again with what was kept (the report form, or the
    /// inbox's follow-up form). Takes the file names out of `kept`.
    pub fn refused(self, lang: Lang, config: &Config, kept: &mut Kept) -> Refused {
        let (title, body) = self.words(lang, config);
        let files_again = (kept.files_counted && kept.files > 0).then(|| {
            lang.strings()
                .files_again_count
                .replace("{count}", &kept.files.to_string())
        });
        Refused {
            switched: self == Refusal::SwitchLanguage,
            title,
            body,
            text_kept: kept.message.is_some(),
            files_again,
            file_names: std::mem::take(&mut kept.file_names),
            files_unknown: !kept.files_counted,
        }
    }

    pub fn with_retry_after(self, mut response: Response) -> Response {
        if matches!(self, Refusal::Busy | Refusal::Full) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("300"));
        }
        response
    }
}

/// What a refused form gave back: kept in wiped memory only for the answer, never stored.
#[derive(Default)]
pub struct Kept {
    /// The message, if it was read whole (and is text).
    pub message: Option<Zeroizing<String>>,
    pub contact: Option<Zeroizing<String>>,
    /// Files the source had chosen, as far as the form was read.
    pub files: usize,
    /// Their names (a browser sends one per chosen file).
    pub file_names: Vec<Zeroizing<String>>,
    /// The whole form was read, so `files` is every file chosen.
    pub files_counted: bool,
}
