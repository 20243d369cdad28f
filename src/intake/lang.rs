//! Which language a page is in. The source's own choice first (`?lang=`, the visible switch),
//! then the operator's `default_language`, then `Accept-Language` (Tor Browser sends en-US to
//! every site, so it says little), then English.

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};

use super::i18n::Lang;
use super::AppState;

/// The page language; never fails to extract.
pub struct PageLang(pub Lang);

impl PageLang {
    pub fn choose(query: Option<&str>, default: Option<Lang>, accept: Option<&str>) -> Lang {
        query
            .and_then(|q| {
                q.split('&')
                    .filter_map(|pair| pair.strip_prefix("lang="))
                    .find_map(Lang::from_code)
            })
            .or(default)
            .or_else(|| accept.and_then(Lang::from_accept_language))
            .unwrap_or(Lang::En)
    }
}

impl FromRequestParts<AppState> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        Ok(PageLang(PageLang::choose(
            parts.uri.query(),
            app.config.default_language,
            accept,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sources_choice_then_the_operators_then_the_browsers_then_english() {
        let ru = Some(Lang::Ru);
        assert_eq!(PageLang::choose(Some("lang=tk"), ru, Some("uz")), Lang::Tk);
        assert_eq!(PageLang::choose(Some("lang=xx"), ru, Some("uz")), Lang::Ru);
        assert_eq!(PageLang::choose(None, ru, Some("uz")), Lang::Ru);
        assert_eq!(PageLang::choose(None, None, Some("uz, ru")), Lang::Uz);
        assert_eq!(PageLang::choose(None, None, Some("fr")), Lang::En);
        assert_eq!(PageLang::choose(None, None, None), Lang::En);
    }
}
