//! HTTP: routes, pages, limits, headers and the listener. Everything a source's browser touches.

pub mod clients;
pub mod connections;
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
use crate::store::Store;
use lang::PageLang;
use pages::{render, FormPage, PageCtx};
use refusal::Refusal;
use sealdrop_core::keys::Recipients;
use server::ConnCtx;
use slots::UploadSlots;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub recipients: Arc<Recipients>,
    pub store: Store,
    /// One slot per upload being received (see `slots`).
    pub upload_slots: Arc<UploadSlots>,
}

impl AppState {
    pub fn new(config: Config, recipients: Recipients, store: Store) -> Self {
        let upload_slots = UploadSlots::new(
            config.limits.max_concurrent_uploads,
            config.abuse.min_body_bytes_per_sec,
        );
        AppState {
            config: Arc::new(config),
            recipients: Arc::new(recipients),
            store,
            upload_slots,
        }
    }
}

/// The intake's routes, with each circuit's request budget and the security headers on every
/// response.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(form))
        .route("/submit", axum::routing::post(submit::submit).get(form))
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
