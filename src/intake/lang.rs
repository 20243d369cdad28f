//! Which language a page is in: `?lang=` first (the visible switch), then `Accept-Language`.

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};

use super::i18n::Lang;

/// The page language; never fails to extract.
pub struct PageLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let from_query = parts.uri.query().and_then(|q| {
            q.split('&')
                .filter_map(|pair| pair.strip_prefix("lang="))
                .find_map(Lang::from_code)
        });
        let from_header = || {
            parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        };
        Ok(PageLang(
            from_query.or_else(from_header).unwrap_or(Lang::En),
        ))
    }
}
