//! `POST /submit`: receive a multipart form, seal each part as it streams in, commit, answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use zeroize::Zeroizing;

use super::clients::ClientConn;
use super::conversation::{codename_lang, conversation_of, derive};
use super::lang::PageLang;
use super::multipart::{self, FormError, FormReader, PartHead};
use super::pages::{render_wiped, PageCtx, ReceivedPage};
use super::progress::Progressing;
use super::receipts::Receipt;
use super::refusal::{Kept, Refusal};
use super::server::ConnCtx;
use super::session::SessionData;
use super::upload::{FinishedBlob, SealTarget, UploadError};
use super::AppState;
use crate::events::event;
use crate::seal::{AttachmentInfo, Envelope};
use crate::store::{NewSubmission, StoreError};
use sealdrop_core::codename::Codename;
use sealdrop_core::day::arrival_date;
use sealdrop_core::new_id;

/// Longest optional contact line, in bytes.
pub const MAX_CONTACT_BYTES: usize = 1000;
/// Longest filename or content type kept from a browser, in bytes.
const MAX_NAME_BYTES: usize = 4096;
/// A refused form gives back text up to this many times its limit (longer, and only the
/// refusal is shown): what the source wrote is theirs, but memory is bounded.
const KEEP_FACTOR: usize = 4;
/// File names listed on a refused form (the count covers them all).
const MAX_NAMES_SHOWN: usize = 50;
/// Forms read for their text alone while every upload slot is taken, or refused before their
/// upload starts (see `receive`).
pub const REFUSAL_READERS: u32 = 4;
/// A form refused before its upload starts is read to its end (so the browser shows the page
/// rather than a reset connection) only up to this size.
const SKIM_MAX_BYTES: u64 = 64 * 1024 * 1024;

pub async fn submit(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    conn: Option<Extension<ConnCtx>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let client = conn.map(|Extension(ctx)| ctx.client);
    match receive(&app, client.as_deref(), &headers, body, &Thread::New).await {
        Ok(received) => {
            let words_lang = codename_lang(lang);
            let codename = received
                .codename
                .as_ref()
                .map(|c| c.to_string_in(words_lang));
            drop(received.codename);
            let cookie = app.receipts.issue(Receipt {
                files: received.files,
                codename,
            });
            // Post/redirect/get: a reload of the received page never sends the form again.
            let mut response = see_other(format!("/received?lang={}", lang.code()));
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err((refusal, kept)) => refusal.form_again(lang, &app.config, kept),
    }
}

/// `GET /received`: what the receipt in the cookie says, in the page's language. Without one
/// (it ended, or this browser sent nothing), the form.
pub async fn received(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    let Some(receipt) = app.receipts.show(&headers) else {
        return see_other(format!("/?lang={}", lang.code()));
    };
    let words_lang = codename_lang(lang);
    let page = PageCtx::new(lang, &app.config).switching_to("/received");
    let files_received = (receipt.files > 0).then(|| {
        page.t
            .received_files
            .replace("{count}", &receipt.files.to_string())
    });
    // Shown once, from wiped memory, and wiped when this returns.
    render_wiped(
        StatusCode::OK,
        &ReceivedPage {
            page,
            codename: receipt
                .codename
                .as_deref()
                .map(|w| w.split(' ').collect())
                .unwrap_or_default(),
            codename_lang: match words_lang {
                sealdrop_core::codename::Lang::Ru => "ru",
                sealdrop_core::codename::Lang::En => "en",
            },
            files_received,
        },
        32 * 1024,
    )
}

fn see_other(location: String) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            HeaderValue::from_str(&location).expect("a path with a language code"),
        )],
    )
        .into_response()
}

/// Whose submission a POST is.
pub enum Thread {
    /// A first visit: the source may ask for a codename (the form's `codename` box).
    New,
    /// A follow-up from a codename's session: a message and/or one file, in its conversation.
    FollowUp(Arc<SessionData>),
}

/// A stored submission, as the received page tells it.
pub struct Received {
    /// The new codename if the source asked for one (in no envelope, no file and no log: only
    /// its derived ids are, inside the sealed envelope).
    pub codename: Option<Codename>,
    pub files: usize,
}

/// Everything up to the durable commit; any early return leaves nothing stored. A refusal
/// comes with what the source typed, as far as it was read, to be given back.
///
/// Refusals that come before the upload (busy, full, declared too large) still read the form's
/// text fields, under a slot of their own ([`REFUSAL_READERS`]; when those are taken too, the
/// text is lost and only the busy page is shown), and stop at the first file: no file is ever
/// written for a form that is refused.
pub(super) async fn receive(
    app: &AppState,
    client: Option<&ClientConn>,
    headers: &HeaderMap,
    body: Body,
    thread: &Thread,
) -> Result<Received, (Refusal, Kept)> {
    let follow_up = matches!(thread, Thread::FollowUp(_));
    let limits = &app.config.limits;
    let bare = |refusal| (refusal, Kept::default());
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::boundary)
        .ok_or(bare(Refusal::BadForm))?;
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut before_upload = None;
    if declared_len.is_some_and(|n| n > limits.max_submission_bytes) {
        before_upload = Some(Refusal::TooLarge);
    }

    // The circuit's own share first, so one circuit cannot take every global slot.
    let client_slot = client.map(ClientConn::upload).transpose();
    let upload_slot = match client_slot {
        Ok(client_slot) if before_upload.is_none() => {
            app.upload_slots.acquire().map(|slot| (slot, client_slot))
        }
        _ => None,
    };
    let (slot, _client_slot) = match upload_slot {
        Some(held) => held,
        None => {
            let refusal = before_upload.unwrap_or(Refusal::Busy);
            before_upload = Some(refusal);
            let reader = app.refusal_readers.acquire().ok_or(bare(refusal))?;
            (reader, None)
        }
    };
    // Never from the declared length: the answer is the same for every request (no free-space
    // oracle), and the room then grows only as ciphertext is really written.
    let room = match app.store.room() {
        Ok(room) => Some(room),
        Err(StoreError::Full(_)) => {
            before_upload.get_or_insert(Refusal::Full);
            None
        }
        Err(other) => return Err(bare(internal("checking free space", other))),
    };

    // No slot is held by a client that is not sending (intake/progress.rs).
    let abuse = &app.config.abuse;
    let fell_behind = Arc::new(AtomicBool::new(false));
    let held = Arc::clone(slot.held());
    let body = Progressing::new(
        body.into_data_stream(),
        abuse.min_body_bytes_per_sec,
        Duration::from_secs(abuse.body_progress_window_secs),
        Arc::clone(&fell_behind),
        Box::new(move |bytes| held.received(bytes)),
    );
    let mut form = FormReader::new(body, &boundary, limits.max_submission_bytes);
    let now = SystemTime::now();
    let date = arrival_date(now, app.config.arrival_granularity);
    let target = room.map(|room| SealTarget {
        dirs: app.store.dirs().clone(),
        recipients: app.recipients.current(),
        arrived: date.start(),
        room,
    });

    let mut kept = Kept::default();
    let deadline = Duration::from_secs(limits.body_timeout_secs);
    let receiving = tokio::time::timeout(deadline, async {
        let parts = read_form(
            app,
            target.as_ref(),
            &mut form,
            follow_up,
            &mut kept,
            before_upload,
        )
        .await;
        if let Err(refusal) = parts {
            // Read the rest of a bounded body, counting the files chosen, so the browser is
            // still listening for the page and the page can say how many to choose again.
            let skim = match before_upload {
                Some(Refusal::TooLarge) => false,
                Some(_) => declared_len.is_some_and(|n| n <= SKIM_MAX_BYTES),
                None => refusal.is_about_content() && declared_len.is_some(),
            };
            if skim {
                count_files(&mut form, &mut kept).await;
            }
        }
        parts
    });
    let parts = tokio::select! {
        parts = receiving => match parts {
            Ok(parts) => parts,
            Err(_) => Err(Refusal::Timeout),
        },
        // Behind the minimum rate while a newcomer needed the slot (intake/slots.rs).
        () = slot.held().preempted() => Err(Refusal::Timeout),
    }
    .map_err(|refusal| match before_upload {
        // Decided before the body was read: that stays the answer however the read ended.
        Some(decided) => decided,
        None if fell_behind.load(Ordering::SeqCst) => Refusal::Timeout,
        None => refusal,
    });
    let parts = match parts {
        Ok(parts) => parts,
        Err(refusal) => return Err((refusal, kept)),
    };
    // read_form never succeeds without a target (it refuses before the first file, or at the
    // end, when one was missing).
    let Some(target) = target else {
        return Err((Refusal::Full, kept));
    };
    let message = kept.message.take().unwrap_or_default();
    let contact = kept.contact.take();
    drop(kept);

    let (conversation, codename) = match thread {
        Thread::FollowUp(session) => (Some(session.conversation.clone()), None),
        Thread::New if parts.want_codename => {
            let (codename, derived) = derive(app, Codename::generate()).await.map_err(bare)?;
            (Some(conversation_of(&derived)), Some(codename))
        }
        Thread::New => (None, None),
    };

    let id = new_id();
    let mut envelope = Envelope::new(id.clone(), date.to_string());
    envelope
        .fields
        .insert("message".into(), String::from(message.as_str()));
    if let Some(contact) = contact.as_ref().filter(|c| !c.trim().is_empty()) {
        envelope
            .fields
            .insert("contact".into(), String::from(contact.as_str()));
    }
    envelope.conversation = conversation;
    let files = parts.attachments.len();
    let mut attachments = Vec::with_capacity(files);
    for (mut info, finished) in parts.attachments {
        envelope.attachments.push(AttachmentInfo {
            blob: finished.blob.blob.id().to_owned(),
            name: std::mem::take(&mut info.name),
            content_type: std::mem::take(&mut info.content_type),
            length: finished.true_len,
        });
        attachments.push(finished.blob);
    }
    let sealed_envelope = target
        .seal_envelope(&envelope.to_json())
        .map_err(|e| bare(internal("sealing an envelope", e)))?;
    drop(envelope);

    app.store
        .commit(NewSubmission {
            id,
            arrived: date,
            envelope: sealed_envelope,
            attachments,
        })
        .await
        .map_err(|e| bare(commit_refusal(e)))?;
    Ok(Received { codename, files })
}

/// The form's files, read and sealed (its text is in the caller's [`Kept`]).
struct FormParts {
    attachments: Vec<(DeclaredFile, FinishedBlob)>,
    /// The source asked to be able to come back (first visits only).
    want_codename: bool,
}

/// What the browser said about a file. Kept only inside the encrypted envelope; wiped if the
/// submission is refused before it gets there.
#[derive(zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct DeclaredFile {
    name: String,
    content_type: String,
}

/// The request body as a form.
type Form = FormReader<Progressing<axum::body::BodyDataStream>>;

/// Read the form: text into `kept` (so a refusal can give it back), files sealed as they
/// stream. A refusal found in the text (empty, too long) waits until the text fields are read,
/// and, like `refuse`, is answered at the first file part: no file is written then.
async fn read_form(
    app: &AppState,
    target: Option<&SealTarget>,
    form: &mut Form,
    follow_up: bool,
    kept: &mut Kept,
    refuse: Option<Refusal>,
) -> Result<FormParts, Refusal> {
    let limits = &app.config.limits;
    // A follow-up carries at most one file, so a dropped circuit loses only the file in flight.
    let max_files = if follow_up {
        limits.max_files.min(1)
    } else {
        limits.max_files
    };
    let max_message = limits.max_message_bytes as usize;
    let mut pending = refuse;
    let mut message_seen = false;
    let mut want_codename = false;
    let mut attachments = Vec::new();
    while let Some(mut head) = form.next_part().await.map_err(form_refusal)? {
        match head.name.as_deref() {
            Some("message") if !message_seen => {
                message_seen = true;
                match read_text(form, max_message.saturating_mul(KEEP_FACTOR)).await? {
                    Some(text) if text.len() > max_message => {
                        pending.get_or_insert(Refusal::MessageTooLong);
                        kept.message = Some(text);
                    }
                    Some(text) => {
                        // Decided before any file streams in, so an empty report wastes no
                        // upload. (A follow-up may be a file alone.)
                        if text.trim().is_empty() && !follow_up {
                            pending.get_or_insert(Refusal::EmptyMessage);
                        }
                        kept.message = Some(text);
                    }
                    None => {
                        pending.get_or_insert(Refusal::MessageTooLong);
                    }
                }
            }
            Some("contact") if kept.contact.is_none() => {
                match read_text(form, MAX_CONTACT_BYTES * KEEP_FACTOR).await? {
                    Some(text) => {
                        if text.len() > MAX_CONTACT_BYTES {
                            pending.get_or_insert(Refusal::ContactTooLong);
                        }
                        kept.contact = Some(text);
                    }
                    None => {
                        pending.get_or_insert(Refusal::ContactTooLong);
                    }
                }
            }
            // The language switch of a form that came back: show it again, store nothing.
            Some("relang") if !follow_up => {
                read_text(form, 16).await?.ok_or(Refusal::BadForm)?;
                pending = Some(Refusal::SwitchLanguage);
            }
            Some("codename") if !follow_up && !want_codename => {
                read_text(form, 16).await?.ok_or(Refusal::BadForm)?;
                want_codename = true;
            }
            Some("files") => {
                let declared = declared_file(&mut head)?;
                note_file(kept, &declared);
                if let Some(refusal) = pending {
                    return Err(refusal);
                }
                let target = target.ok_or(Refusal::Full)?;
                let too_many = attachments.len() >= max_files as usize;
                if too_many && !declared.name.is_empty() {
                    return Err(Refusal::TooManyFiles);
                }
                if let Some(sealed) = read_file(app, target, form, &declared).await? {
                    if too_many {
                        return Err(Refusal::TooManyFiles);
                    }
                    attachments.push((declared, sealed));
                }
            }
            // An unknown or repeated field: not our form.
            _ => return Err(Refusal::BadForm),
        }
    }
    kept.files_counted = true;
    if let Some(refusal) = pending {
        return Err(refusal);
    }
    if !message_seen && !follow_up {
        return Err(Refusal::EmptyMessage);
    }
    let message_empty = kept.message.as_ref().is_none_or(|m| m.trim().is_empty());
    if follow_up && message_empty && attachments.is_empty() {
        return Err(Refusal::EmptyMessage);
    }
    if target.is_none() {
        return Err(Refusal::Full);
    }
    Ok(FormParts {
        attachments,
        want_codename,
    })
}

/// Count a chosen file (and keep its name to show) for a refusal's "choose again".
fn note_file(kept: &mut Kept, declared: &DeclaredFile) {
    // The part a browser sends when no file was chosen has an empty name.
    if declared.name.is_empty() {
        return;
    }
    kept.files += 1;
    if kept.file_names.len() < MAX_NAMES_SHOWN {
        kept.file_names.push(Zeroizing::new(declared.name.clone()));
    }
}

/// After a refusal: read the rest of the form, counting the files chosen (their content is
/// skipped, never kept). A form that breaks off leaves the count unknown.
async fn count_files(form: &mut Form, kept: &mut Kept) {
    loop {
        match form.next_part().await {
            Ok(Some(mut head)) => {
                if head.name.as_deref() == Some("files") {
                    if let Ok(declared) = declared_file(&mut head) {
                        note_file(kept, &declared);
                    }
                }
            }
            Ok(None) => {
                kept.files_counted = true;
                return;
            }
            Err(_) => return,
        }
    }
}

/// Read a text field into wiped memory. `None` if it is longer than `max` bytes (the rest of
/// it is left for `next_part` to skip).
async fn read_text(form: &mut Form, max: usize) -> Result<Option<Zeroizing<String>>, Refusal> {
    // Sized once up front: growing would leave unwiped copies in freed memory.
    let mut buf = Zeroizing::new(Vec::with_capacity(max.min(64 * 1024)));
    while let Some(chunk) = form.read().await.map_err(form_refusal)? {
        if buf.len() + chunk.len() > max {
            return Ok(None);
        }
        if buf.len() + chunk.len() > buf.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(max));
            bigger.extend_from_slice(&buf);
            buf = bigger;
        }
        buf.extend_from_slice(&chunk);
    }
    let vec = std::mem::take(&mut *buf);
    match String::from_utf8(vec) {
        Ok(text) => Ok(Some(Zeroizing::new(text))),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Err(Refusal::BadForm)
        }
    }
}

/// Stream one file part into a sealed blob. `None` for the empty part a browser sends when no
/// file was chosen.
async fn read_file(
    app: &AppState,
    target: &SealTarget,
    form: &mut Form,
    declared: &DeclaredFile,
) -> Result<Option<FinishedBlob>, Refusal> {
    let max = app.config.limits.max_file_bytes;
    let mut upload = None;
    let mut received: u64 = 0;
    while let Some(chunk) = form.read().await.map_err(form_refusal)? {
        received += chunk.len() as u64;
        if received > max {
            return Err(Refusal::TooLarge);
        }
        let upload = upload.get_or_insert_with(|| target.start_upload());
        upload
            .write(chunk)
            .await
            .map_err(|e| upload_refusal("sealing an attachment", e))?;
    }
    let upload = match upload {
        Some(upload) => upload,
        None if declared.name.is_empty() => return Ok(None),
        // A chosen but empty file is still a file the source meant to send.
        None => target.start_upload(),
    };
    upload
        .finish()
        .await
        .map(Some)
        .map_err(|e| upload_refusal("sealing an attachment", e))
}

/// What the browser declared about a file part; refused if absurdly long.
fn declared_file(head: &mut PartHead) -> Result<DeclaredFile, Refusal> {
    let declared = DeclaredFile {
        name: head.file_name.take().unwrap_or_default(),
        content_type: head.content_type.take().unwrap_or_default(),
    };
    if declared.name.len() > MAX_NAME_BYTES || declared.content_type.len() > MAX_NAME_BYTES {
        return Err(Refusal::BadForm);
    }
    Ok(declared)
}

fn form_refusal(e: FormError) -> Refusal {
    match e {
        FormError::TooLarge => Refusal::TooLarge,
        FormError::Malformed(_) | FormError::Truncated | FormError::Body => Refusal::BadForm,
    }
}

fn upload_refusal(doing: &str, e: UploadError) -> Refusal {
    if e.is_out_of_room() {
        return Refusal::Full;
    }
    if e.is_disk_full() {
        event("warning: the disk filled up during an upload; it was refused");
        return Refusal::Full;
    }
    internal(doing, e)
}

fn commit_refusal(e: StoreError) -> Refusal {
    match e {
        StoreError::Full(_) => Refusal::Full,
        e => internal("committing a submission", e),
    }
}

/// Log a server-side fault (what failed, never what was being sent) and refuse.
fn internal(doing: &str, e: impl std::error::Error + 'static) -> Refusal {
    event(format!("error while {doing}: {}", crate::events::chain(&e)));
    Refusal::Internal
}

impl Refusal {
    /// Refusals about what the source sent, after which the rest of the body is still read.
    fn is_about_content(self) -> bool {
        matches!(
            self,
            Refusal::TooLarge
                | Refusal::TooManyFiles
                | Refusal::EmptyMessage
                | Refusal::MessageTooLong
                | Refusal::ContactTooLong
                | Refusal::SwitchLanguage
        )
    }
}
