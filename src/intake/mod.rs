//! HTTP: routes, pages, limits, headers and the listener. Everything a source's browser touches.

pub mod clients;
pub mod connections;
pub mod conversation;
pub mod headers;
pub mod hyper_errors;
pub mod i18n;
pub mod lang;
pub mod multipart;
pub mod pages;
pub mod progress;
pub mod proxy;
pub mod receipts;
pub mod refusal;
pub mod server;
pub mod session;
pub mod slots;
pub mod statics;
pub mod submit;
pub mod upload;

use std::sync::Arc;

use axum::extract::{Extension, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::config::Config;
use crate::seal::Keyring;
use crate::store::Store;
use lang::PageLang;
use pages::{render, FormPage};
use refusal::Refusal;
use sealdrop_core::codename::DerivationGate;
use sealdrop_core::keys::Recipients;
use server::ConnCtx;
use session::Sessions;
use slots::UploadSlots;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// The recipients, replaced on SIGHUP (`ops::serve`).
    pub recipients: Arc<Keyring>,
    pub store: Store,
    /// One slot per upload being received (see `slots`).
    pub upload_slots: Arc<UploadSlots>,
    /// Codename derivations at once (each 4 MiB of Argon2 memory; docs/CODENAMES.md).
    pub gate: Arc<DerivationGate>,
    /// Sources back with a codename (in memory only; see `session`).
    pub sessions: Arc<Sessions>,
    /// What the received page shows after the redirect (in memory only; see `receipts`).
    pub receipts: Arc<receipts::Receipts>,
    /// Slots for reading only the text of a form that is refused before its upload starts
    /// (busy, full, too large), so the source gets it back (see `submit`).
    pub refusal_readers: Arc<UploadSlots>,
}

/// Codename derivations that may run at once.
pub const CONCURRENT_DERIVATIONS: usize = 2;

impl AppState {
    pub fn new(config: Config, recipients: Recipients, store: Store) -> Self {
        let upload_slots = UploadSlots::new(
            config.limits.max_concurrent_uploads,
            config.abuse.min_body_bytes_per_sec,
        );
        let refusal_readers =
            UploadSlots::new(submit::REFUSAL_READERS, config.abuse.min_body_bytes_per_sec);
        AppState {
            config: Arc::new(config),
            recipients: Arc::new(Keyring::new(recipients)),
            store,
            upload_slots,
            gate: Arc::new(DerivationGate::new(CONCURRENT_DERIVATIONS)),
            sessions: Arc::new(Sessions::new(session::IDLE, session::MAX_SESSIONS)),
            receipts: Arc::new(receipts::Receipts::new(
                receipts::KEEP,
                receipts::MAX_RECEIPTS,
            )),
            refusal_readers,
        }
    }
}

/// The intake's routes, with each circuit's request budget and the security headers on every
/// response. Inside a tokio runtime, also starts the reply expiry (now, then about hourly) and
/// the idle-session sweep.
pub fn router(state: AppState) -> Router {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(conversation::expire_replies(state.store.clone()));
        runtime.spawn(conversation::sweep_sessions(state.clone()));
    }
    use axum::routing::post;
    Router::new()
        .route("/", get(form))
        .route("/submit", post(submit::submit).get(form))
        .route(
            "/codename",
            get(conversation::login_page).post(conversation::login),
        )
        .route("/inbox", get(conversation::inbox))
        .route("/inbox/delete", post(conversation::delete))
        .route("/inbox/send", post(conversation::send))
        .route("/logout", post(conversation::logout))
        .route("/received", get(submit::received))
        .route("/static/{file}", get(statics::static_file))
        .route("/favicon.ico", get(statics::favicon))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            circuit_budget,
        ))
        .with_state(state)
        .layer(axum::middleware::map_response(
            headers::add_security_headers,
        ))
}

/// Spend one request of the circuit's budget (see `clients`), or say the site is busy.
async fn circuit_budget(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    conn: Option<Extension<ConnCtx>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(Extension(ctx)) = conn {
        if ctx.client.request().is_err() {
            return Refusal::Busy.page(lang, &app.config);
        }
    }
    next.run(request).await
}

/// The form page may be kept by the browser (`private, no-cache`, never `no-store`) and its
/// fields carry no `autocomplete="off"`: either one makes Firefox (Tor Browser's engine) empty
/// the form when the source comes Back to it after an error. The page itself holds nothing
/// typed; what the browser keeps of the typed text stays in its session history, in memory in
/// Tor Browser (docs/ARCHITECTURE.md, "Nothing typed is lost").
pub const FORM_CACHE_CONTROL: &str = "private, no-cache";

async fn form(State(app): State<AppState>, PageLang(lang): PageLang) -> Response {
    let mut response = render(StatusCode::OK, &FormPage::new(lang, &app.config));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(FORM_CACHE_CONTROL),
    );
    response
}

async fn not_found(State(app): State<AppState>, PageLang(lang): PageLang) -> Response {
    not_found_page(&app, lang)
}

pub(crate) fn not_found_page(app: &AppState, lang: i18n::Lang) -> Response {
    Refusal::NotFound.page(lang, &app.config)
}
