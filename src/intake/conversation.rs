//! The return channel, source side: come back with a codename, read replies, delete them, send
//! more, log out (docs/CODENAMES.md; /work/shared DESIGN.md, "Return channel").
//!
//! Routes (every one works without JavaScript; every change is a POST):
//! - `GET /codename`: the "I have a codename" form. `POST /codename`: parse, derive, start a
//!   session (see `session`), 303 to the inbox. A typo is explained in the page's language; any
//!   well-formed codename opens an inbox (no "not recognised" oracle), at the same cost.
//! - `GET /inbox`: the mailbox's unexpired replies, decrypted in memory for this request only.
//! - `POST /inbox/delete`: delete one reply for good. `POST /inbox/send`: a follow-up, through
//!   the same streaming pipeline as `/submit`, with the session's conversation in its envelope.
//! - `POST /logout`: end the session.
//!
//! Nothing here stores or logs a codename, a mailbox id or a reply's text.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use zeroize::Zeroizing;

use super::i18n::Lang;
use super::lang::PageLang;
use super::pages::{render, render_wiped, CodenamePage, InboxPage, PageCtx, ShownReply};
use super::refusal::{Kept, Refusal};
use super::server::ConnCtx;
use super::session::{clear_cookie, set_cookie, SessionData};
use super::submit::{receive, Thread};
use super::AppState;
use crate::events::event;
use crate::store::Store;
use sealdrop_core::codename::{self, Codename, CodenameError, Derived};
use sealdrop_core::day::Date;
use sealdrop_core::envelope::Conversation;

/// Longest login form body, in bytes (ten words percent-encoded fit in well under this).
const MAX_LOGIN_BYTES: usize = 4096;
/// Longest delete form body.
const MAX_DELETE_BYTES: usize = 256;
/// A small form's body must arrive within this.
const FORM_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest reply file read (docs/OUTBOX-FORMAT.md: 263,248 bytes; a little room).
const MAX_REPLY_FILE: u64 = 300 * 1024;

/// The word list a page in `lang` shows a new codename in: Russian for Russian, and for Ukrainian,
/// Kazakh, Kyrgyz, Tajik, Turkmen and Uzbek (no list of their own yet; Russian is the shared
/// second language of the people these pages are written for); English for English (docs/CODENAMES.md).
pub fn codename_lang(lang: Lang) -> codename::Lang {
    match lang {
        Lang::En => codename::Lang::En,
        #[cfg(feature = "rtl-pseudo-locale")]
        Lang::PseudoRtl => codename::Lang::En,
        Lang::Ru
        | Lang::Uk
        | Lang::Kk
        | Lang::Ky
        | Lang::Tg
        | Lang::Tk
        | Lang::Uz
        | Lang::UzCyrl => codename::Lang::Ru,
    }
}

/// What an envelope carries for a codename's submissions.
pub fn conversation_of(derived: &Derived) -> Conversation {
    Conversation {
        thread: derived.thread_id.clone(),
        mailbox: derived.mailbox_id.clone(),
        reply_to: derived.reply_recipient().to_string(),
    }
}

/// Derive through the shared gate, off the async threads. Returns the codename back with what it
/// derived (it is wiped when the caller drops it).
pub async fn derive(app: &AppState, codename: Codename) -> Result<(Codename, Derived), Refusal> {
    let gate = Arc::clone(&app.gate);
    tokio::task::spawn_blocking(move || {
        let derived = codename.derive(&gate);
        (codename, derived)
    })
    .await
    .map_err(|_| {
        event("error: a codename derivation task failed");
        Refusal::Internal
    })
}

/// Today (UTC), for reply expiry.
pub fn today() -> Date {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Date::from_days((secs / 86_400) as i64)
}

/// Delete expired replies now and then about hourly, for as long as the server runs.
pub async fn expire_replies(store: Store) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let store = store.clone();
        let done = tokio::task::spawn_blocking(move || store.delete_expired_replies(today())).await;
        match done {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => event(format!("deleted {n} expired repl(ies)")),
            Ok(Err(e)) => event(format!(
                "error while deleting expired replies: {}",
                crate::events::chain(&e)
            )),
            Err(_) => event("error: the reply expiry task failed"),
        }
    }
}

/// End idle sessions (and wipe what they held) every minute.
pub async fn sweep_sessions(app: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        app.sessions.sweep();
    }
}

fn see_other(location: String) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static("/")),
        )],
    )
        .into_response()
}

fn to_login(lang: Lang) -> Response {
    see_other(format!("/codename?lang={}", lang.code()))
}

pub async fn login_page(State(app): State<AppState>, PageLang(lang): PageLang) -> Response {
    render(
        StatusCode::OK,
        &CodenamePage {
            page: PageCtx::new(lang, &app.config),
            problem: None,
        },
    )
}

pub async fn login(State(app): State<AppState>, PageLang(lang): PageLang, body: Body) -> Response {
    let Some(fields) = read_urlencoded(body, MAX_LOGIN_BYTES).await else {
        return Refusal::BadForm.page(lang, &app.config);
    };
    let parsed = fields
        .iter()
        .find(|(name, _)| name.as_str() == "codename")
        .map(|(_, typed)| Codename::parse(typed));
    drop(fields);
    let codename = match parsed {
        Some(Ok(codename)) => codename,
        Some(Err(e)) => {
            let t = lang.strings();
            let problem = match e {
                CodenameError::WrongWordCount { found } => {
                    t.codename_word_count.replace("{found}", &found.to_string())
                }
                CodenameError::UnknownWord { position } => t
                    .codename_unknown_word
                    .replace("{position}", &position.to_string()),
                CodenameError::ChecksumMismatch => t.codename_checksum.to_owned(),
            };
            return render(
                StatusCode::BAD_REQUEST,
                &CodenamePage {
                    page: PageCtx::new(lang, &app.config),
                    problem: Some(problem),
                },
            );
        }
        None => return Refusal::BadForm.page(lang, &app.config),
    };
    // Every well-formed codename is derived and opens an inbox, issued or not: the same work,
    // the same answer.
    let derived = match derive(&app, codename).await {
        Ok((codename, derived)) => {
            drop(codename);
            derived
        }
        Err(refusal) => return refusal.page(lang, &app.config),
    };
    let token = app.sessions.start(SessionData::new(derived));
    let mut response = see_other(format!("/inbox?lang={}", lang.code()));
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&token));
    response
}

#[derive(serde::Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    sent: Option<String>,
}

pub async fn inbox(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    Query(query): Query<InboxQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(session) = app.sessions.get(&headers) else {
        return to_login(lang);
    };
    inbox_page(&app, lang, session, query.sent.is_some(), None).await
}

/// The inbox: the replies, each decrypted in memory, and the follow-up form; with a refused
/// follow-up's problem and its text put back, when there is one.
async fn inbox_page(
    app: &AppState,
    lang: Lang,
    session: Arc<SessionData>,
    sent: bool,
    refused: Option<(Refusal, Kept)>,
) -> Response {
    let store = app.store.clone();
    let read = tokio::task::spawn_blocking(move || read_replies(&store, &session)).await;
    let replies = match read {
        Ok(Ok(replies)) => replies,
        Ok(Err(e)) => {
            event(format!(
                "error while reading replies: {}",
                crate::events::chain(&e)
            ));
            return Refusal::Internal.page(lang, &app.config);
        }
        Err(_) => return Refusal::Internal.page(lang, &app.config),
    };
    let mut text_bytes: usize = replies
        .iter()
        .map(|r| r.text.as_ref().map_or(0, |t| t.len()))
        .sum();
    let (status, refusal, problem, message) = match refused {
        Some((refusal, mut kept)) => {
            let mut problem = refusal.refused(lang, &app.config, &mut kept);
            if refusal == Refusal::TooManyFiles {
                // The report form's limit is not this form's: a follow-up takes one file.
                problem.body = lang.strings().followup_hint.to_owned();
            }
            let message = kept.message.unwrap_or_default();
            text_bytes += message.len() + problem.body.len();
            (refusal.status(), Some(refusal), Some(problem), message)
        }
        None => (StatusCode::OK, None, None, Zeroizing::new(String::new())),
    };
    let response = render_wiped(
        status,
        &InboxPage {
            page: PageCtx::new(lang, &app.config),
            replies,
            sent,
            files_allowed: app.config.limits.max_files > 0,
            refused: problem,
            message,
        },
        // Escaping makes a character at most 6 bytes ("&quot;" for `"`).
        32 * 1024 + 6 * text_bytes,
    );
    match refusal {
        Some(refusal) => refusal.with_retry_after(response),
        None => response,
    }
}

/// The session's unexpired replies, in order, each decrypted in memory.
fn read_replies(
    store: &Store,
    session: &SessionData,
) -> Result<Vec<ShownReply>, crate::store::StoreError> {
    let stored = store.replies(&session.derived.mailbox_id, today())?;
    Ok(stored
        .into_iter()
        .map(|reply| {
            let text = decrypt_reply(&store.reply_path(&reply.id), &session.derived);
            ShownReply { id: reply.id, text }
        })
        .collect())
}

/// A reply's text (docs/CODENAMES.md, "Reply plaintext"): UTF-8, then NUL padding. `None` if
/// it cannot be read (missing, not to this identity, not UTF-8).
fn decrypt_reply(path: &std::path::Path, derived: &Derived) -> Option<Zeroizing<String>> {
    let file = std::fs::File::open(path).ok()?;
    let decryptor = age::Decryptor::new(std::io::BufReader::new(file)).ok()?;
    let identity: &dyn age::Identity = &derived.reply_identity;
    let mut reader = decryptor.decrypt(std::iter::once(identity)).ok()?;
    let mut plain = Zeroizing::new(Vec::with_capacity(MAX_REPLY_FILE as usize));
    (&mut reader)
        .take(MAX_REPLY_FILE)
        .read_to_end(&mut plain)
        .ok()?;
    let end = plain.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    plain.truncate(end);
    let text = std::str::from_utf8(&plain).ok()?;
    Some(Zeroizing::new(text.trim_end().to_owned()))
}

pub async fn delete(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(session) = app.sessions.get(&headers) else {
        return to_login(lang);
    };
    let Some(fields) = read_urlencoded(body, MAX_DELETE_BYTES).await else {
        return Refusal::BadForm.page(lang, &app.config);
    };
    let Some(id) = fields
        .iter()
        .find(|(name, _)| name.as_str() == "reply")
        .map(|(_, id)| id.to_string())
    else {
        return Refusal::BadForm.page(lang, &app.config);
    };
    let store = app.store.clone();
    let done =
        tokio::task::spawn_blocking(move || store.delete_reply(&session.derived.mailbox_id, &id))
            .await;
    match done {
        // Deleted, or already gone: either way it is not there any more.
        Ok(Ok(_)) => see_other(format!("/inbox?lang={}", lang.code())),
        Ok(Err(e)) => {
            event(format!(
                "error while deleting a reply: {}",
                crate::events::chain(&e)
            ));
            Refusal::Internal.page(lang, &app.config)
        }
        Err(_) => Refusal::Internal.page(lang, &app.config),
    }
}

pub async fn send(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    conn: Option<Extension<ConnCtx>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(session) = app.sessions.get(&headers) else {
        return to_login(lang);
    };
    let client = conn.map(|Extension(ctx)| ctx.client);
    let thread = Thread::FollowUp(Arc::clone(&session));
    match receive(&app, client.as_deref(), &headers, body, &thread).await {
        Ok(_) => see_other(format!("/inbox?lang={}&sent=1", lang.code())),
        // Nothing typed is lost: the inbox again, with the problem and the text put back.
        Err((refusal, kept)) => inbox_page(&app, lang, session, false, Some((refusal, kept))).await,
    }
}

pub async fn logout(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    app.sessions.end(&headers);
    let mut response = see_other(format!("/?lang={}", lang.code()));
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    response
}

/// A bounded `application/x-www-form-urlencoded` body, decoded into wiped memory. `None` if it
/// is too long or malformed. (hyper's own read buffers are not wiped: best effort.)
async fn read_urlencoded(
    body: Body,
    max: usize,
) -> Option<Vec<(Zeroizing<String>, Zeroizing<String>)>> {
    use futures_core::Stream;
    let mut raw = Zeroizing::new(Vec::with_capacity(max));
    let mut stream = body.into_data_stream();
    let reading = async {
        while let Some(chunk) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await
        {
            let chunk = chunk.ok()?;
            if raw.len() + chunk.len() > max {
                return None;
            }
            raw.extend_from_slice(&chunk);
        }
        Some(())
    };
    tokio::time::timeout(FORM_TIMEOUT, reading).await.ok()??;
    raw.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |&b| b == b'=');
            let name = percent_decode(halves.next()?)?;
            let value = percent_decode(halves.next().unwrap_or(b""))?;
            Some((name, value))
        })
        .collect()
}

/// Decode one form-encoded component (`+` is a space) into wiped memory.
fn percent_decode(input: &[u8]) -> Option<Zeroizing<String>> {
    let mut out = Zeroizing::new(Vec::with_capacity(input.len()));
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = input.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    let text = std::str::from_utf8(&out).ok()?;
    Some(Zeroizing::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_components_decode() {
        assert_eq!(percent_decode(b"a+b%D0%B4%2C").unwrap().as_str(), "a bд,");
        assert!(percent_decode(b"%zz").is_none());
        assert!(percent_decode(b"%4").is_none());
        assert!(percent_decode(b"%ff").is_none());
    }
}
