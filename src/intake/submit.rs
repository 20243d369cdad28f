//! `POST /submit`: receive a multipart form, seal each part as it streams in, commit, answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use zeroize::Zeroizing;

use super::clients::ClientConn;
use super::conversation::{codename_lang, conversation_of, derive};
use super::lang::PageLang;
use super::multipart::{self, FormError, FormReader, PartHead};
use super::pages::{render_wiped, PageCtx, ReceivedPage};
use super::progress::Progressing;
use super::refusal::Refusal;
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

pub async fn submit(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    conn: Option<Extension<ConnCtx>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limits = &app.config.limits;
    let client = conn.map(|Extension(ctx)| ctx.client);
    match receive(&app, client.as_deref(), &headers, body, &Thread::New).await {
        Ok(codename) => {
            let words_lang = codename_lang(lang);
            // Shown once, from wiped memory, and wiped with the codename when this returns.
            let words = codename.as_ref().map(|c| c.to_string_in(words_lang));
            render_wiped(
                StatusCode::OK,
                &ReceivedPage {
                    page: PageCtx::new(lang, app.config.demo),
                    codename: words
                        .as_deref()
                        .map(|w| w.split(' ').collect())
                        .unwrap_or_default(),
                    codename_lang: match words_lang {
                        sealdrop_core::codename::Lang::Ru => "ru",
                        sealdrop_core::codename::Lang::En => "en",
                    },
                },
                32 * 1024,
            )
        }
        Err(refusal) => refusal.page(lang, limits, app.config.demo),
    }
}

/// Whose submission a POST is.
pub enum Thread {
    /// A first visit: the source may ask for a codename (the form's `codename` box).
    New,
    /// A follow-up from a codename's session: a message and/or one file, in its conversation.
    FollowUp(Arc<SessionData>),
}

/// Everything up to the durable commit; any early return leaves nothing stored. Returns the new
/// codename if the source asked for one (it is in no envelope, no file and no log: only its
/// derived ids are, inside the sealed envelope).
pub(super) async fn receive(
    app: &AppState,
    client: Option<&ClientConn>,
    headers: &HeaderMap,
    body: Body,
    thread: &Thread,
) -> Result<Option<Codename>, Refusal> {
    let follow_up = matches!(thread, Thread::FollowUp(_));
    let limits = &app.config.limits;
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::boundary)
        .ok_or(Refusal::BadForm)?;
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > limits.max_submission_bytes) {
        return Err(Refusal::TooLarge);
    }

    // The circuit's own share first, so one circuit cannot take every global slot.
    let _client_slot = client
        .map(ClientConn::upload)
        .transpose()
        .map_err(|_| Refusal::Busy)?;
    let slot = app.upload_slots.acquire().ok_or(Refusal::Busy)?;
    // Never from the declared length: the answer is the same for every request (no free-space
    // oracle), and the room then grows only as ciphertext is really written.
    let room = app.store.room().map_err(|e| match e {
        StoreError::Full(_) => Refusal::Full,
        other => internal("checking free space", other),
    })?;

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
    let target = SealTarget {
        dirs: app.store.dirs().clone(),
        recipients: app.recipients.current(),
        arrived: date.start(),
        room: room.clone(),
    };

    let deadline = Duration::from_secs(limits.body_timeout_secs);
    let receiving = tokio::time::timeout(deadline, async {
        let parts = read_form(app, &target, &mut form, follow_up).await;
        if let Err(refusal) = parts {
            // Read the rest of a bounded body so the browser is still listening for the page.
            if refusal.is_about_content() && declared_len.is_some() {
                let _ = form.drain().await;
            }
        }
        parts
    });
    let parts = tokio::select! {
        parts = receiving => parts.map_err(|_| Refusal::Timeout)?,
        // Behind the minimum rate while a newcomer needed the slot (intake/slots.rs).
        () = slot.held().preempted() => return Err(Refusal::Timeout),
    }
    .map_err(|refusal| {
        if fell_behind.load(Ordering::SeqCst) {
            Refusal::Timeout
        } else {
            refusal
        }
    })?;

    let (conversation, codename) = match thread {
        Thread::FollowUp(session) => (Some(session.conversation.clone()), None),
        Thread::New if parts.want_codename => {
            let (codename, derived) = derive(app, Codename::generate()).await?;
            (Some(conversation_of(&derived)), Some(codename))
        }
        Thread::New => (None, None),
    };

    let id = new_id();
    let mut envelope = Envelope::new(id.clone(), date.to_string());
    envelope
        .fields
        .insert("message".into(), String::from(parts.message.as_str()));
    if let Some(contact) = parts.contact.as_ref().filter(|c| !c.trim().is_empty()) {
        envelope
            .fields
            .insert("contact".into(), String::from(contact.as_str()));
    }
    envelope.conversation = conversation;
    let mut attachments = Vec::with_capacity(parts.attachments.len());
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
        .map_err(|e| internal("sealing an envelope", e))?;
    drop(envelope);

    app.store
        .commit(NewSubmission {
            id,
            arrived: date,
            envelope: sealed_envelope,
            attachments,
        })
        .await
        .map_err(commit_refusal)?;
    Ok(codename)
}

/// The form's content, read and sealed.
struct FormParts {
    message: Zeroizing<String>,
    contact: Option<Zeroizing<String>>,
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

async fn read_form(
    app: &AppState,
    target: &SealTarget,
    form: &mut Form,
    follow_up: bool,
) -> Result<FormParts, Refusal> {
    let limits = &app.config.limits;
    // A follow-up carries at most one file, so a dropped circuit loses only the file in flight.
    let max_files = if follow_up {
        limits.max_files.min(1)
    } else {
        limits.max_files
    };
    let mut message = None;
    let mut contact = None;
    let mut want_codename = false;
    let mut attachments = Vec::new();
    while let Some(mut head) = form.next_part().await.map_err(form_refusal)? {
        match head.name.as_deref() {
            Some("message") if message.is_none() => {
                let text = read_text(form, limits.max_message_bytes as usize)
                    .await?
                    .ok_or(Refusal::MessageTooLong)?;
                // Decide now, before any file streams in, so an empty report wastes no upload.
                // (A follow-up may be a file alone.)
                if text.trim().is_empty() && !follow_up {
                    return Err(Refusal::EmptyMessage);
                }
                message = Some(text);
            }
            Some("contact") if contact.is_none() => {
                contact = Some(
                    read_text(form, MAX_CONTACT_BYTES)
                        .await?
                        .ok_or(Refusal::BadForm)?,
                );
            }
            Some("codename") if !follow_up && !want_codename => {
                read_text(form, 16).await?.ok_or(Refusal::BadForm)?;
                want_codename = true;
            }
            Some("files") => {
                let declared = declared_file(&mut head)?;
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
    let message = match message {
        Some(text) => text,
        None if follow_up => Zeroizing::new(String::new()),
        None => return Err(Refusal::EmptyMessage),
    };
    if follow_up && message.trim().is_empty() && attachments.is_empty() {
        return Err(Refusal::EmptyMessage);
    }
    Ok(FormParts {
        message,
        contact,
        attachments,
        want_codename,
    })
}

/// Read a text field into wiped memory. `None` if it is longer than `max` bytes.
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
        )
    }
}
