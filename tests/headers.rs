//! Every response carries the strict headers, leaks no clock or server name, sets no cookie, and
//! every page is free of script, inline event handlers and other hosts' URLs.

mod common;

use common::*;

fn assert_strict_headers(what: &str, r: &Response) {
    assert_strict_headers_cached(what, r, "no-store");
    assert_eq!(r.header("set-cookie"), None, "{what}: Set-Cookie");
}

/// The strict headers, with the `Cache-Control` this response may choose (the fresh form, the
/// hashed stylesheet); a Set-Cookie is checked by the caller.
fn assert_strict_headers_cached(what: &str, r: &Response, cache: &str) {
    let csp = r
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    assert!(
        directives.contains(&"default-src 'none'"),
        "{what}: CSP {csp:?}"
    );
    assert!(
        directives.contains(&"frame-ancestors 'none'"),
        "{what}: CSP {csp:?}"
    );
    for loose in [
        "unsafe-inline",
        "unsafe-eval",
        "*",
        "http:",
        "https:",
        "data:",
    ] {
        assert!(
            !csp.split_whitespace()
                .any(|w| w.trim_matches(['\'', ';']) == loose),
            "{what}: CSP allows {loose}: {csp:?}"
        );
    }
    assert!(
        !directives.iter().any(|d| d.starts_with("script-src")),
        "{what}: scripts must fall back to default-src 'none': {csp:?}"
    );
    assert_eq!(r.all("content-security-policy").len(), 1, "{what}");
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{what}");
    assert_eq!(r.header("cache-control"), Some(cache), "{what}");
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    // A precise clock or a server banner helps fingerprint an onion service.
    assert_eq!(r.header("date"), None, "{what}: Date header");
    assert_eq!(r.header("server"), None, "{what}: Server header");
}

/// The attributes of every tag in `html`, as (tag, attribute name, value).
fn attributes(html: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let tag = &after[..close];
        rest = &after[close + 1..];
        if tag.starts_with('!') || tag.starts_with('/') {
            continue;
        }
        let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
        let tag_name = tag[..name_end].to_ascii_lowercase();
        let bytes = tag.as_bytes();
        let mut i = name_end;
        while i < bytes.len() {
            while i < bytes.len() && (bytes[i] as char).is_whitespace() {
                i += 1;
            }
            let start = i;
            while i < bytes.len() && !matches!(bytes[i], b'=' | b' ' | b'\n' | b'\t' | b'/') {
                i += 1;
            }
            let attr = tag[start..i].to_ascii_lowercase();
            let mut value = String::new();
            if i < bytes.len() && bytes[i] == b'=' {
                i += 1;
                if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                    let quote = bytes[i];
                    let vstart = i + 1;
                    let vend = tag[vstart..]
                        .find(quote as char)
                        .map_or(tag.len(), |e| vstart + e);
                    value = tag[vstart..vend].to_owned();
                    i = vend + 1;
                } else {
                    let vstart = i;
                    while i < bytes.len() && !(bytes[i] as char).is_whitespace() {
                        i += 1;
                    }
                    value = tag[vstart..i].to_owned();
                }
            } else if i < bytes.len() {
                i += 1;
            }
            if !attr.is_empty() {
                out.push((tag_name.clone(), attr, value));
            }
        }
    }
    out
}

fn assert_clean_html(what: &str, r: &Response) {
    assert_eq!(
        r.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{what}"
    );
    let html = r.text();
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "{what}: a <script> element");
    assert!(!lower.contains("javascript:"), "{what}: a javascript: URL");
    let attrs = attributes(&html);
    assert!(
        attrs.iter().any(|(t, a, _)| t == "link" && a == "href"),
        "{what}: the attribute scan found nothing; it is broken"
    );
    for (tag, attr, value) in &attrs {
        assert!(
            !attr.starts_with("on"),
            "{what}: event handler {attr} on <{tag}>"
        );
        assert!(attr != "style", "{what}: inline style on <{tag}>");
        if matches!(
            attr.as_str(),
            "src" | "href" | "action" | "formaction" | "srcset" | "poster" | "data"
        ) {
            let v = value.trim().to_ascii_lowercase();
            assert!(
                !(v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//")),
                "{what}: <{tag} {attr}={value:?}> points at another host"
            );
            assert!(
                !v.contains(':'),
                "{what}: <{tag} {attr}={value:?}> has a scheme"
            );
        }
    }
    // No URL of any other host anywhere in the page, attribute or not.
    for needle in ["http://", "https://", "url("] {
        assert!(!lower.contains(needle), "{what}: {needle} in the page");
    }
}

#[test]
fn every_route_carries_the_strict_headers_and_clean_pages() {
    let setup = Setup::new().small_limits();
    let server = setup.start();

    let pages = [
        ("GET /", server.get("/"), 200),
        ("GET /?lang=ru", server.get("/?lang=ru"), 200),
        ("GET /?lang=tg", server.get("/?lang=tg"), 200),
        ("GET /submit", server.get("/submit"), 200),
        ("GET /no/such/page", server.get("/no/such/page"), 404),
        (
            "POST /submit (wrong type)",
            post_raw(server.addr, "/submit", "text/plain", b"message=x").unwrap(),
            400,
        ),
        (
            "POST /submit (too long)",
            server.post(
                "/submit",
                &Multipart::new().text("message", &"x".repeat(20_000)),
            ),
            413,
        ),
    ];
    for (what, response, status) in &pages {
        assert_eq!(response.status, *status, "{what}");
        // The fresh form may be kept by the browser so Back refills it (docs/ARCHITECTURE.md).
        if *status == 200 {
            assert_strict_headers_cached(what, response, "private, no-cache");
            assert_eq!(response.header("set-cookie"), None, "{what}: Set-Cookie");
        } else {
            assert_strict_headers(what, response);
        }
        assert_clean_html(what, response);
    }
    // A stored submission: a redirect with the receipt's cookie, then the received page.
    let posted = server.post("/submit", &Multipart::new().text("message", "hello"));
    assert_strict_headers_cached("POST /submit (received)", &posted, "no-store");
    posted.assert_received();
    let received = follow_received(server.addr, &posted);
    assert_eq!(received.status, 200);
    assert_strict_headers("GET /received", &received);
    assert_clean_html("GET /received", &received);
    // The language switch works and is visible on the page.
    assert!(pages[1].1.text().contains("<html lang=\"ru\" dir=\"ltr\">"));
    assert!(pages[1].1.title().contains("Расскажите, что произошло"));
    assert!(pages[0].1.text().contains("href=\"/?lang=ru\""));

    let css = server.get(&pages[0].1.stylesheet_path());
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_strict_headers_cached(
        "GET the stylesheet",
        &css,
        "public, max-age=31536000, immutable",
    );
    let css_text = css.text().to_ascii_lowercase();
    for needle in ["http:", "https:", "//", "@import", "url("] {
        // `//` would start a protocol-relative URL; the stylesheet uses /* */ comments only.
        assert!(!css_text.contains(needle), "stylesheet contains {needle}");
    }
}

#[test]
fn hypers_own_answers_carry_the_strict_headers_too() {
    let setup = Setup::new();
    let server = setup.start();
    let raw = |bytes: Vec<u8>| exchange(server.addr, bytes).expect("an answer");
    let cases = [
        (
            "a malformed request line",
            raw(b"GET\x01 / HTTP/1.1\r\n\r\n".to_vec()),
            400,
        ),
        (
            "a request head too large",
            raw(format!(
                "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(100 * 1024)
            )
            .into_bytes()),
            431,
        ),
        (
            "too many header lines",
            raw(format!(
                "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
                "X-A: b\r\n".repeat(200)
            )
            .into_bytes()),
            431,
        ),
    ];
    for (what, response, status) in &cases {
        assert_eq!(response.status, *status, "{what}");
        assert_strict_headers(what, response);
    }
    // And the server still serves afterwards.
    assert_eq!(server.get("/").status, 200);
}

#[test]
fn the_attribute_scan_catches_what_it_must() {
    // The checks above are only as good as this scanner: prove it sees each kind of fault.
    let page = |body: &str| {
        Response {
        status: 200,
        headers: vec![(
            "content-type".into(),
            "text/html; charset=utf-8".into(),
        )],
        body: format!("<html><head><link rel=\"stylesheet\" href=\"/static/style.css\"></head><body>{body}</body></html>").into_bytes(),
    }
    };
    assert_clean_html("clean", &page("<p class=\"x\">fine</p>"));
    for bad in [
        "<img src=\"//cdn.example/x.png\">",
        "<a href='https://example.org/'>x</a>",
        "<form action=http://example.org/>",
        "<body onload=\"x()\">",
        "<button\nonclick='x()'>",
        "<SCRIPT>1</SCRIPT>",
        "<p style=\"color:red\">",
    ] {
        let result = std::panic::catch_unwind(|| assert_clean_html("bad", &page(bad)));
        assert!(result.is_err(), "the scan missed {bad:?}");
    }
}
