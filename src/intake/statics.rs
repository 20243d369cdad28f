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

#[cfg(test)]
mod tests {
    use super::STYLESHEET;

    /// WCAG relative luminance of `#rrggbb`.
    fn luminance(hex: &str) -> f64 {
        let hex = hex.trim_start_matches('#');
        let channel = |i: usize| {
            let c = u8::from_str_radix(&hex[i..i + 2], 16).unwrap() as f64 / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (a, b) = (luminance(a), luminance(b));
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// The first `#rrggbb` after `needle` in `css`.
    fn color_after(css: &str, needle: &str) -> String {
        let start = css
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} in the stylesheet"));
        let hash = css[start..].find('#').unwrap() + start;
        css[hash..hash + 7].to_owned()
    }

    #[test]
    fn focus_rings_reach_3_to_1_and_button_text_7_to_1_in_both_themes() {
        let (light, dark) = STYLESHEET
            .split_once("@media (prefers-color-scheme: dark)")
            .unwrap();
        let after = |css: &str, from: &str, needle: &str| {
            color_after(&css[css.find(from).unwrap()..], needle)
        };
        let page_light = after(light, "body {", "background:");
        let ring_light = color_after(light, "outline: 3px solid");
        let button_light = after(light, "\nbutton {", "background:");
        let page_dark = after(dark, "body {", "background:");
        let ring_dark = color_after(dark, "outline-color:");
        let button_dark = after(dark, "  button {", "background:");
        assert!(
            contrast(&ring_light, &page_light) >= 3.0,
            "light focus ring"
        );
        assert!(contrast(&ring_dark, &page_dark) >= 3.0, "dark focus ring");
        assert!(
            contrast("#ffffff", &button_light) >= 7.0,
            "light button text"
        );
        assert!(contrast("#ffffff", &button_dark) >= 7.0, "dark button text");
        // The measure itself: the old light ring (#e8a400) was 2.1:1.
        assert!(contrast("#e8a400", "#fdfdfb") < 3.0);
    }
}
