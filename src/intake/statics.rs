//! What the pages load besides themselves, all from this server: the stylesheet and the logo
//! under content-hashed paths (cached for a year: a changed file gets a new path), and a tiny
//! favicon (so a browser's automatic `/favicon.ico` gets an icon, not the HTML 404 page).

use std::sync::LazyLock;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::config::organisation::sha256_hex16;

pub const STYLESHEET: &str = include_str!("../../static/style.css");
pub const FAVICON: &[u8] = include_bytes!("../../static/favicon.ico");

/// For files whose path changes when they change.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The favicon's path never changes; a week spares a request per page over Tor.
const FAVICON_CACHE: &str = "public, max-age=604800";

static STYLESHEET_PATH: LazyLock<String> =
    LazyLock::new(|| format!("/static/style-{}.css", sha256_hex16(STYLESHEET.as_bytes())));

/// `/static/style-<hash>.css`.
pub fn stylesheet_path() -> &'static str {
    &STYLESHEET_PATH
}

/// `/static/{file}`: the stylesheet or the logo, by their hashed names only.
pub async fn static_file(State(app): State<AppState>, Path(file): Path<String>) -> Response {
    let path = format!("/static/{file}");
    if path == stylesheet_path() {
        return cached(
            "text/css; charset=utf-8",
            STYLESHEET.as_bytes().into(),
            IMMUTABLE,
        );
    }
    if let Some(logo) = app.config.logo.as_ref().filter(|l| l.path == path) {
        return cached(logo.content_type, logo.bytes.to_vec().into(), IMMUTABLE);
    }
    super::not_found_page(&app, super::i18n::Lang::En)
}

pub async fn favicon() -> Response {
    cached("image/x-icon", FAVICON.into(), FAVICON_CACHE)
}

fn cached(content_type: &'static str, body: bytes::Bytes, cache: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response()
}
