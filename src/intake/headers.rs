//! The strict headers every response carries, pages, errors and the stylesheet alike.

use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;

/// The pages need their own stylesheet and their own form target; nothing else, from nowhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Names and values, as plain strings so the table can be a constant.
const HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    ),
];

/// The security headers as header lines, each preceded by `\r\n` (for a response head that
/// Sealdrop writes itself).
pub fn header_lines() -> String {
    HEADERS
        .iter()
        .map(|(name, value)| format!("\r\n{name}: {value}"))
        .collect()
}

/// Add the security headers to a response (a `map_response` layer on the whole router). A
/// response that chose its own `Cache-Control` keeps it (the hashed stylesheet and logo, the
/// favicon, the fresh form); every other one is `no-store`.
pub async fn add_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in HEADERS {
        if *name == "cache-control" && headers.contains_key(axum::http::header::CACHE_CONTROL) {
            continue;
        }
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}
