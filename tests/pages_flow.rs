//! The pages' flow and trust, through the real server (no browser): every refusal gives the form
//! back with what was typed; a stored submission redirects (post/redirect/get) to a received
//! page that says how many files came; the group is named from the config (bounded, escaped,
//! its logo checked); the operator's default language; the hashed stylesheet and the favicon.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// A message with characters that must be escaped, and Cyrillic.
const TYPED: &str = "Брата забрали </textarea><script>alert(1)</script> & \"ночью\"";
const TYPED_ESCAPED: &str =
    "Брата забрали &#60;/textarea&#62;&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;ночью&#34;";
const CONTACT: &str = "@sister <b>";
const CONTACT_ESCAPED: &str = "@sister &#60;b&#62;";

/// What the textarea holds on a page (askama escapes `<`, `>`, `&`, `"`, `'`).
fn textarea(page: &str) -> &str {
    let start = page
        .find("<textarea id=\"message\"")
        .expect("the message field");
    let start = page[start..].find('>').unwrap() + start + 1;
    let end = page[start..].find("</textarea>").unwrap() + start;
    page[start..end]
        .strip_prefix('\n')
        .unwrap_or(&page[start..end])
}

fn contact_value(page: &str) -> &str {
    let start = page.find("id=\"contact\"").expect("the contact field");
    let start = page[start..].find("value=\"").unwrap() + start + 7;
    let end = page[start..].find('"').unwrap() + start;
    &page[start..end]
}

/// A refused form: the status and title, the heading that nothing was sent, the typed text back
/// (escaped), and never cacheable.
fn assert_form_again(r: &Response, status: u16, title: &str, message: &str, contact: &str) {
    r.assert_page(status, title);
    let page = r.text();
    assert!(page.contains("Your report was not sent"), "{page}");
    assert!(page.contains("Nothing you sent was stored."));
    assert_eq!(textarea(&page), message, "the message comes back: {page}");
    assert_eq!(contact_value(&page), contact, "the contact comes back");
    assert!(
        !page.contains("<script>"),
        "typed markup is escaped, never markup"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(page.contains("<form id=\"report\" method=\"post\" action=\"/submit?lang=en\""));
}

fn typed_form() -> Multipart {
    Multipart::new()
        .text("message", TYPED)
        .text("contact", CONTACT)
}

#[test]
fn every_refusal_gives_the_form_back_with_the_text_and_the_files_to_choose_again() {
    let setup = Setup::new().small_limits(); // 10 000-byte message, 3 files, 1 MiB a file
    let server = setup.start();

    // Too many files: the count and each name (escaped) to choose again.
    let mut form = typed_form();
    for i in 0..5 {
        form = form.file("files", &format!("<i>{i}</i>.txt"), "text/plain", b"x");
    }
    let r = server.post("/submit", &form);
    assert_form_again(&r, 400, "Too many files", TYPED_ESCAPED, CONTACT_ESCAPED);
    let page = r.text();
    assert!(page.contains("Files to choose again: 5"), "{page}");
    assert!(
        page.contains("<li>&#60;i&#62;4&#60;/i&#62;.txt</li>"),
        "{page}"
    );
    assert!(page.contains("Your text is still in the form below."));

    // One file over its limit.
    let form = typed_form()
        .file("files", "small.txt", "text/plain", b"ok")
        .file(
            "files",
            "big.bin",
            "application/octet-stream",
            &random_bytes(1_100_000),
        );
    let r = server.post("/submit", &form);
    assert_form_again(&r, 413, "Too large", TYPED_ESCAPED, CONTACT_ESCAPED);
    assert!(r.text().contains("Files to choose again: 2"));
    assert!(r.text().contains("<li>big.bin</li>"));

    // An empty message: the contact (sent after it) still comes back.
    let form = Multipart::new()
        .text("message", "  \r\n ")
        .text("contact", CONTACT)
        .file("files", "a.txt", "text/plain", b"a");
    let r = server.post("/submit", &form);
    assert_form_again(&r, 400, "The message is empty", "  \r\n ", CONTACT_ESCAPED);
    assert!(r.text().contains("Files to choose again: 1"));

    // A message over the limit comes back whole (no silent cut: the form has no maxlength).
    let long = "я".repeat(6_000); // 12 000 bytes
    let form = Multipart::new().text("message", &long).text("contact", "");
    let r = server.post("/submit", &form);
    assert_form_again(&r, 413, "The message is too long", &long, "");
    // Far over (more than 4 times): the page says it could not be kept.
    let form = Multipart::new().text("message", &"z".repeat(50_000));
    let r = server.post("/submit", &form);
    r.assert_page(413, "The message is too long");
    assert!(r
        .text()
        .contains("What you wrote could not be shown again here."));

    // A contact over its limit.
    let contact = "c".repeat(1_500);
    let form = Multipart::new()
        .text("message", TYPED)
        .text("contact", &contact);
    let r = server.post("/submit", &form);
    assert_form_again(&r, 400, "The contact is too long", TYPED_ESCAPED, &contact);

    // A form that breaks off after the text: the text comes back, the files are unknown.
    let form = typed_form().file("files", "cut.bin", "application/octet-stream", &[7u8; 4000]);
    let mut body = form.body();
    body.truncate(body.len() - 2000);
    let r = post_raw(server.addr, "/submit", &form.content_type(), &body).expect("an answer");
    assert_form_again(
        &r,
        400,
        "The form could not be read",
        TYPED_ESCAPED,
        CONTACT_ESCAPED,
    );
    assert!(r
        .text()
        .contains("If you had chosen files, choose them again."));
    assert!(r.text().contains("<li>cut.bin</li>"));
    assert!(
        !r.text().contains("Files to choose again"),
        "the count is unknown"
    );

    // The language switch of a form that came back sends the form: it comes back in the other
    // language with the text, and nothing is stored.
    let form = typed_form()
        .text("relang", "1")
        .file("files", "a.txt", "text/plain", b"a");
    let r = server.post("/submit?lang=ru", &form);
    assert_eq!(r.status, 200);
    let page = r.text();
    assert!(
        r.title().starts_with("Расскажите, что произошло"),
        "{}",
        r.title()
    );
    assert!(
        !page.contains("не отправлено"),
        "no error on a language switch"
    );
    assert_eq!(textarea(&page), TYPED_ESCAPED);
    assert_eq!(contact_value(&page), CONTACT_ESCAPED);
    assert!(page.contains("formaction=\"/submit?lang=en\" name=\"relang\""));
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // Nothing of any of them was kept, and the next good one is.
    setup.assert_nothing_stored();
    server.submit_good();
}

#[test]
fn busy_full_and_too_large_before_the_upload_still_give_the_text_back() {
    // Busy: the only upload slot is held by a slow upload.
    let setup = Setup::new()
        .small_limits()
        .with("SEALDROP_MAX_CONCURRENT_UPLOADS", "1");
    let server = setup.start();
    let held = Multipart::new().text("message", "held open").file(
        "files",
        "held.bin",
        "application/octet-stream",
        &random_bytes(500_000),
    );
    let body = held.body();
    let mut conn = Conn::open(server.addr);
    assert!(conn.send(&post_head(
        server.addr,
        "/submit",
        &held.content_type(),
        Some(body.len())
    )));
    assert!(conn.send(&body[..200_000]));
    assert!(wait_until(Duration::from_secs(10), || !files_under(
        &setup.incoming_dir()
    )
    .is_empty()));
    let form = typed_form().file("files", "photo.jpg", "image/jpeg", &random_bytes(50_000));
    let r = server.post("/submit", &form);
    assert_form_again(&r, 503, "Busy right now", TYPED_ESCAPED, CONTACT_ESCAPED);
    assert!(r.header("retry-after").is_some());
    assert!(r.text().contains("Files to choose again: 1"));
    assert!(r.text().contains("<li>photo.jpg</li>"));
    conn.disconnect();
    assert!(wait_until(Duration::from_secs(10), || files_under(
        &setup.incoming_dir()
    )
    .is_empty()));
    setup.assert_nothing_stored();
    drop(server);

    // Full: the free-space floor cannot be met.
    let probe = Setup::new();
    let free_mib = sealdrop::store::free_bytes(probe.root.path()).unwrap() >> 20;
    let setup = Setup::new().with(
        "SEALDROP_MIN_FREE_DISK_MB",
        &(free_mib + 1_000_000).to_string(),
    );
    let server = setup.start();
    let r = server.post(
        "/submit",
        &typed_form().file("files", "a.txt", "text/plain", b"a"),
    );
    assert_form_again(&r, 507, "Temporarily full", TYPED_ESCAPED, CONTACT_ESCAPED);
    assert!(r.text().contains("Files to choose again: 1"));
    setup.assert_nothing_stored();
}

fn follow(server: &Server, posted: &Response) -> Response {
    follow_received(server.addr, posted)
}

#[test]
fn a_stored_submission_redirects_and_reloading_the_received_page_sends_nothing_again() {
    let setup = Setup::new();
    let server = setup.start();
    let form = Multipart::new()
        .text("message", "одно сообщение")
        .file("files", "a.txt", "text/plain", b"a")
        .file("files", "b.txt", "text/plain", b"b")
        .file("files", "c.txt", "text/plain", b"c");
    let posted = server.post("/submit?lang=ru", &form);
    posted.assert_received();
    assert_eq!(posted.header("location"), Some("/received?lang=ru"));
    let cookie = posted.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/received"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Max-Age") && !cookie.contains("Expires"));

    // The received page, reloaded three times: one submission, three blobs, always.
    for _ in 0..3 {
        let page = follow(&server, &posted);
        page.assert_page(200, "Получено. Спасибо.");
        assert!(
            page.text().contains("Получено файлов: 3"),
            "{}",
            page.text()
        );
        assert_eq!(page.header("cache-control"), Some("no-store"));
        // Its language links keep the received page.
        assert!(page.text().contains("href=\"/received?lang=tk\""));
        assert!(!page.text().contains("href=\"/?lang=tk\""));
    }
    assert_eq!(setup.submissions().len(), 1);
    assert_eq!(setup.blob_rows().len(), 4, "one envelope and three files");
    // In another language, the same receipt.
    let cookie = posted.receipt_cookie();
    let page = get_with(server.addr, "/received?lang=en", &[("Cookie", &cookie)]);
    page.assert_page(200, "Received. Thank you.");
    assert!(page.text().contains("Files received: 3"));

    // Without a receipt (another browser, or after it ended): the form, not a false "received".
    let r = server.get("/received?lang=uz");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/?lang=uz"));
}

/// A config file with `extra` appended to what the setup's environment does not cover.
fn config_file(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("sealdrop.toml");
    std::fs::write(&path, extra).unwrap();
    path
}

/// A minimal valid PNG (1×1).
fn tiny_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0u8; 60]);
    png
}

#[test]
fn the_group_is_named_on_every_page_its_words_escaped_and_its_logo_served_by_hash() {
    let setup = Setup::new();
    std::fs::write(setup.root.path().join("logo.png"), tiny_png()).unwrap();
    let config = config_file(
        setup.root.path(),
        "[organisation]\n\
         name = \"Матери <Против> & Co\"\n\
         description = \"We document abductions <em>across</em> borders.\"\n\
         verify = \"Our address is also printed in our reports & on our website.\"\n\
         logo_file = \"logo.png\"\n\
         [organisation.tips]\n\
         ru = [\"Свой совет <один>.\", \"Свой совет два.\"]\n",
    );
    // check-config says what the pages will show.
    let checked = setup.run(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", checked.stderr);
    assert!(checked
        .stdout
        .contains("organisation:     Матери <Против> & Co"));
    assert!(
        checked.stdout.contains("bytes, image/png)"),
        "{}",
        checked.stdout
    );
    let server = setup.start_with_config(&config);
    let name = "Матери &#60;Против&#62; &#38; Co";

    let form = server.get("/?lang=ru");
    let page = form.text();
    assert!(page.contains(&format!("<span>{name}</span>")), "{page}");
    assert!(form.title().ends_with(name), "{}", form.title());
    assert!(page.contains("We document abductions &#60;em&#62;across&#60;/em&#62; borders."));
    assert!(page.contains("Our address is also printed in our reports &#38; on our website."));
    assert!(page.contains("<li>Свой совет &#60;один&#62;.</li>"));
    assert!(
        !page.contains("Называть своё имя не обязательно"),
        "the operator's tips replace ours"
    );
    // The logo: under its hash, from this server, cached for a year.
    let start = page.find("<img src=\"").unwrap() + 10;
    let logo = &page[start..page[start..].find('"').unwrap() + start];
    assert!(
        logo.starts_with("/static/logo-") && logo.ends_with(".png"),
        "{logo}"
    );
    let r = server.get(logo);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(r.body, tiny_png());
    assert_eq!(server.get("/static/logo-0000000000000000.png").status, 404);

    // Every page: the received page, a refusal, the codename page, a 404.
    let posted = server.post("/submit", &Multipart::new().text("message", "hello"));
    let received = follow_received(server.addr, &posted);
    let refused = server.post("/submit", &Multipart::new().text("message", " "));
    let codename = server.get("/codename");
    let missing = server.get("/nowhere");
    for (what, r) in [
        ("received", &received),
        ("refused", &refused),
        ("codename", &codename),
        ("404", &missing),
    ] {
        assert!(r.text().contains(&format!("<span>{name}</span>")), "{what}");
        assert!(!r.text().contains("<Против>"), "{what}: escaped");
    }
    // English tips where the operator gave none.
    assert!(server
        .get("/?lang=en")
        .text()
        .contains("the Tor Browser app itself can be seen"));
}

#[test]
fn organisation_settings_out_of_bounds_and_unsafe_logos_stop_the_server_naming_the_setting() {
    let setup = Setup::new();
    let dir = setup.root.path();
    let svg = dir.join("logo.svg");
    std::fs::write(
        &svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>x</script></svg>",
    )
    .unwrap();
    let fake_png_svg = dir.join("logo.png");
    std::fs::write(&fake_png_svg, std::fs::read(&svg).unwrap()).unwrap();
    let mut big = tiny_png();
    big.resize(40 * 1024, 0);
    std::fs::write(dir.join("big.png"), &big).unwrap();
    for (extra, expect) in [
        (
            format!("[organisation]\nname = \"{}\"\n", "n".repeat(121)),
            "organisation.name",
        ),
        (
            format!("[organisation]\ndescription = \"{}\"\n", "d".repeat(601)),
            "organisation.description",
        ),
        (
            "[organisation]\nverify = \"a\\nb\"\n".to_owned(),
            "organisation.verify",
        ),
        (
            "[organisation]\nlogo_file = \"logo.svg\"\n".to_owned(),
            "organisation.logo_file",
        ),
        (
            "[organisation]\nlogo_file = \"logo.png\"\n".to_owned(),
            "not a PNG or JPEG",
        ),
        (
            "[organisation]\nlogo_file = \"big.png\"\n".to_owned(),
            "larger than 32 KiB",
        ),
        (
            "[organisation.tips]\nde = [\"x\"]\n".to_owned(),
            "organisation.tips",
        ),
        (
            format!("[organisation.tips]\nru = [{}]\n", ["\"x\""; 9].join(",")),
            "from 1 to 8 tips",
        ),
        ("default_language = \"de\"\n".to_owned(), "default_language"),
    ] {
        let config = config_file(dir, &extra);
        let ran = setup.run(&["check-config", "--config", config.to_str().unwrap()]);
        assert!(!ran.status.success(), "{extra} was accepted");
        assert!(
            ran.stderr.contains(expect),
            "{extra}: the refusal should say {expect:?}:\n{}",
            ran.stderr
        );
    }
}

#[test]
fn the_sources_choice_then_the_operators_default_then_the_browser_then_english() {
    let title = |r: &Response| r.title();
    // No default: Accept-Language, then English.
    let setup = Setup::new();
    let server = setup.start();
    let uz = get_with(server.addr, "/", &[("Accept-Language", "uz, ru;q=0.5")]);
    assert!(title(&uz).starts_with("Nima boʻlganini"), "{}", title(&uz));
    let en = get_with(server.addr, "/", &[("Accept-Language", "de")]);
    assert!(title(&en).starts_with("Tell us what happened"));
    drop(server);

    // The operator's default beats the browser; the source's choice beats both.
    let setup = Setup::new().with("SEALDROP_DEFAULT_LANGUAGE", "ru");
    let server = setup.start();
    let ru = get_with(server.addr, "/", &[("Accept-Language", "en-US, en;q=0.5")]);
    assert!(
        title(&ru).starts_with("Расскажите, что произошло"),
        "{}",
        title(&ru)
    );
    let tk = get_with(server.addr, "/?lang=tk", &[("Accept-Language", "uz")]);
    assert!(tk.text().contains("<html lang=\"tk\" "), "{}", title(&tk));
    // The switch is on every page, the received one included.
    for page in [ru.text(), tk.text(), server.get("/codename").text()] {
        for code in ["en", "ru", "tg", "tk", "uz"] {
            assert!(
                page.contains(&format!("?lang={code}\" lang=\"{code}\"")),
                "{code}"
            );
        }
    }
    // A refusal without a ?lang= comes back in the operator's language.
    let r = server.post("/submit", &Multipart::new().text("message", ""));
    r.assert_page(400, "Сообщение пустое");
}

#[test]
fn the_stylesheet_is_cached_under_its_hash_the_favicon_is_an_icon_and_pages_stay_uncached() {
    let setup = Setup::new();
    let server = setup.start();
    let form = server.get("/");
    // The fresh form may be kept by the browser (so Back after an error refills it); it holds
    // nothing typed. No maxlength (silent cuts), no required (the browser's English bubble), no
    // autocomplete=off (Firefox then empties the form on Back).
    assert_eq!(form.header("cache-control"), Some("private, no-cache"));
    let page = form.text();
    for banned in ["maxlength", " required", "autocomplete=\"off\""] {
        assert!(!page.contains(banned), "the form has {banned}");
    }
    assert!(page.contains("Choosing again replaces the files chosen before."));
    assert!(page.contains("<span class=\"required\">(required)</span>"));
    assert!(
        page.contains("href=\"#message\""),
        "the skip link goes to the first field"
    );

    let css_path = form.stylesheet_path();
    assert!(
        css_path.len() == "/static/style-0123456789abcdef.css".len(),
        "{css_path}"
    );
    let css = server.get(&css_path);
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(css.header("content-security-policy").is_some());
    assert!(css.text().contains("prefers-color-scheme: dark"));
    assert_eq!(server.get("/static/style.css").status, 404);
    assert_eq!(server.get("/static/style-0000000000000000.css").status, 404);

    let icon = server.get("/favicon.ico");
    assert_eq!(icon.status, 200);
    assert_eq!(icon.header("content-type"), Some("image/x-icon"));
    assert!(icon.body.starts_with(&[0, 0, 1, 0]), "an ICO file");
    assert!(icon.body.len() < 1024);
    assert!(icon.header("cache-control").unwrap().starts_with("public"));

    // Everything else stays no-store.
    for path in ["/codename", "/nowhere", "/received"] {
        let r = server.get(path);
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
    }
}
