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
pub mod refusal;
pub mod server;
pub mod session;
pub mod slots;
pub mod submit;
pub mod upload;

use std::sync::Arc;

use axum::extract::{Extension, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::config::Config;
use crate::seal::Keyring;
use crate::store::Store;
use lang::PageLang;
use pages::{render, FormPage, PageCtx};
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
}

/// Codename derivations that may run at once.
pub const CONCURRENT_DERIVATIONS: usize = 2;

impl AppState {
    pub fn new(config: Config, recipients: Recipients, store: Store) -> Self {
        let upload_slots = UploadSlots::new(
            config.limits.max_concurrent_uploads,
            config.abuse.min_body_bytes_per_sec,
        );
        AppState {
            config: Arc::new(config),
            recipients: Arc::new(Keyring::new(recipients)),
            store,
            upload_slots,
            gate: Arc::new(DerivationGate::new(CONCURRENT_DERIVATIONS)),
            sessions: Arc::new(Sessions::new(session::IDLE, session::MAX_SESSIONS)),
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
        .route("/static/style.css", get(stylesheet))
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
            return Refusal::Busy.page(lang, &app.config.limits, app.config.demo);
        }
    }
    next.run(request).await
}

async fn form(State(app): State<AppState>, PageLang(lang): PageLang) -> Response {
    render(
        StatusCode::OK,
        &FormPage::new(
            PageCtx::new(lang, app.config.demo),
            &app.config.limits,
            submit::MAX_CONTACT_BYTES,
        ),
    )
}

async fn stylesheet() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        )],
        include_str!("../../static/style.css"),
    )
        .into_response()
}

async fn not_found(State(app): State<AppState>, PageLang(lang): PageLang) -> Response {
    Refusal::NotFound.page(lang, &app.config.limits, app.config.demo)
}
