//! Every page, in every language, in the light and the dark theme, audited by axe-core (WCAG 2.x
//! A, AA and AAA rules and best practices) in a real browser on a 360-px phone screen: no
//! violation. And right to left: with CLDR's right-to-left pseudo-locale (`ar-XB`, built into the
//! tests' server) every page runs right to left and the form's layout mirrors.

mod browser_support;
mod common;

use std::time::Duration;

use browser_support::*;
use common::*;
use sealdrop_core::codename::{Codename, DerivationGate, Derived};

const LANGS: [&str; 10] = [
    "en", "ru", "uk", "kk", "ky", "tg", "tk", "uz", "uz-Cyrl", "ar-XB",
];

/// A reply as the outbox import writes it (as tests/browser_conversation.rs does), so the inbox
/// shows one.
fn add_reply(setup: &Setup, derived: &Derived, text: &str) {
    let id = random_hex(16);
    let mut plain = text.as_bytes().to_vec();
    plain.resize(4096, 0);
    let recipient = derived.reply_recipient();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut sealed = Vec::new();
    let mut writer = encryptor.wrap_output(&mut sealed).unwrap();
    std::io::Write::write_all(&mut writer, &plain).unwrap();
    writer.finish().unwrap();
    std::fs::write(
        setup.data_dir.join("replies").join(format!("{id}.age")),
        &sealed,
    )
    .unwrap();
    let conn = rusqlite::Connection::open(setup.db_path()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute(
        "INSERT INTO replies (id, mailbox, ordinal, expires, size) VALUES (?1, ?2, 1, '2999-12-31', ?3)",
        rusqlite::params![id, derived.mailbox_id, sealed.len() as i64],
    )
    .unwrap();
}

fn wait_for_url(driver: &Driver, part: &str) {
    let ok = wait_until(Duration::from_secs(30), || driver.url().contains(part));
    assert!(ok, "expected a page at {part}, at {}", driver.url());
}

/// Audit the current page in both themes; returns the violations found, one line each.
fn audit(driver: &Driver, page: &str, audited: &mut usize) -> Vec<String> {
    let mut found = Vec::new();
    let body = driver.find("css selector", "body");
    let mut backgrounds = Vec::new();
    for scheme in ["light", "dark"] {
        driver.emulate_color_scheme(scheme);
        backgrounds.push(driver.css(&body, "background-color"));
        let report = driver.axe();
        assert!(
            report.ran.iter().any(|r| r == "color-contrast-enhanced"),
            "the AAA contrast rule did not run on {page}"
        );
        for (rule, impact, nodes) in report.violations {
            found.push(format!("{page} [{scheme}] {rule} ({impact}): {nodes:?}"));
        }
        if !report.incomplete.is_empty() {
            eprintln!(
                "{page} [{scheme}] for a person to check: {:?}",
                report.incomplete
            );
        }
        *audited += 1;
    }
    driver.emulate_color_scheme("light");
    assert_ne!(
        backgrounds[0], backgrounds[1],
        "{page}: the dark theme was not applied"
    );
    found
}

#[test]
fn every_page_in_every_language_and_both_themes_passes_axe() {
    let setup = Setup::new().small_limits();
    let server = setup.start();
    let root = setup.root.path();
    let profile = root.join("browser-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let driver = Driver::start_for_audit(&profile);
    // The pages themselves carry no script: nothing but axe runs.
    driver.go(&format!("http://{}/", server.addr));
    assert_eq!(driver.find_all("css selector", "script").len(), 0);
    // Every language the switch offers is audited.
    let offered: Vec<String> = driver
        .find_all("css selector", ".langs a")
        .iter()
        .map(|a| driver.attribute(a, "hreflang").unwrap())
        .collect();
    assert_eq!(
        offered, LANGS,
        "the switch offers other languages than are audited"
    );
    let base = format!("http://{}", server.addr);
    let files_dir = root.join("to-send");
    std::fs::create_dir_all(&files_dir).unwrap();
    let files: Vec<String> = (0..4)
        .map(|i| {
            let path = files_dir.join(format!("note-{i}.txt"));
            std::fs::write(&path, b"a note").unwrap();
            path.display().to_string()
        })
        .collect();

    let mut violations = Vec::new();
    let mut audited = 0;
    let mut codename: Option<String> = None;
    for lang in LANGS {
        // The form.
        driver.go(&format!("{base}/?lang={lang}"));
        violations.extend(audit(&driver, &format!("form {lang}"), &mut audited));

        // An error page that is not about the message: too many files (the limit is 3).
        driver.type_into(
            &driver.find("css selector", "textarea#message"),
            "A test report.",
        );
        driver.type_into(
            &driver.find("css selector", "input[type=file]#files"),
            &files.join("\n"),
        );
        driver.click(&driver.find("css selector", "form button[type=submit]"));
        wait_for_url(&driver, "/submit");
        violations.extend(audit(
            &driver,
            &format!("too-many-files {lang}"),
            &mut audited,
        ));

        // The received page with a new codename.
        driver.go(&format!("{base}/?lang={lang}"));
        driver.type_into(
            &driver.find("css selector", "textarea#message"),
            "A test report.",
        );
        driver.click(&driver.find("css selector", "input[type=checkbox]#codename"));
        driver.click(&driver.find("css selector", "form button[type=submit]"));
        let shown = wait_until(Duration::from_secs(30), || {
            !driver.find_all("css selector", "ol.words li").is_empty()
        });
        assert!(shown, "no codename on the received page in {lang}");
        if codename.is_none() {
            let words: Vec<String> = driver
                .find_all("css selector", "ol.words li")
                .iter()
                .map(|li| driver.text(li))
                .collect();
            codename = Some(words.join(" "));
        }
        violations.extend(audit(&driver, &format!("received {lang}"), &mut audited));

        // The codename page, then the same with a problem to fix.
        driver.go(&format!("{base}/codename?lang={lang}"));
        violations.extend(audit(&driver, &format!("codename {lang}"), &mut audited));
        driver.type_into(
            &driver.find("css selector", "textarea#codename"),
            "two words",
        );
        driver.click(&driver.find("css selector", "form button[type=submit]"));
        let problem = wait_until(Duration::from_secs(30), || {
            !driver
                .find_all("css selector", ".notice.problem")
                .is_empty()
        });
        assert!(problem, "no problem shown for a 2-word codename in {lang}");
        violations.extend(audit(
            &driver,
            &format!("codename-problem {lang}"),
            &mut audited,
        ));

        // Not found.
        driver.go(&format!("{base}/no-such-page?lang={lang}"));
        violations.extend(audit(&driver, &format!("not-found {lang}"), &mut audited));
    }

    // The inbox, with a reply, and after a follow-up was sent, in every language.
    let words = codename.expect("a codename");
    let derived = Codename::parse(&words)
        .expect("a valid codename")
        .derive(&DerivationGate::new(1));
    add_reply(&setup, &derived, "We received your report.\nStay safe.");
    driver.go(&format!("{base}/codename?lang=en"));
    driver.type_into(&driver.find("css selector", "textarea#codename"), &words);
    driver.click(&driver.find("css selector", "form button[type=submit]"));
    wait_for_url(&driver, "/inbox");
    for lang in LANGS {
        driver.go(&format!("{base}/inbox?lang={lang}"));
        assert_eq!(
            driver.find_all("css selector", "article.reply").len(),
            1,
            "{lang}"
        );
        violations.extend(audit(&driver, &format!("inbox {lang}"), &mut audited));
        driver.go(&format!("{base}/inbox?lang={lang}&sent=1"));
        violations.extend(audit(&driver, &format!("inbox-sent {lang}"), &mut audited));
    }

    println!("axe-core audits run: {audited} (pages x languages x themes)");
    assert!(audited >= LANGS.len() * 8 * 2, "only {audited} audits ran");
    assert!(
        violations.is_empty(),
        "{} axe violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

/// Where things sit on the form and the error page in one language, as the browser lays them
/// out with JavaScript off.
struct Layout {
    direction: String,
    /// x of the first and second language links.
    first_langs: (f64, f64),
    /// x of the opt-in checkbox and of its label.
    checkbox_and_label: (f64, f64),
    /// (x, right edge) of the skip link once focused, and the page's width.
    skip_focused: (f64, f64),
    skip_hidden: (f64, f64),
    width: f64,
    /// The error box's left and right border widths.
    notice_borders: (String, String),
}

fn layout(driver: &Driver, base: &str, lang: &str) -> Layout {
    driver.go(&format!("{base}/?lang={lang}"));
    let html = driver.find("css selector", "html");
    let (_, _, width, _) = driver.rect(&html);
    let langs = driver.find_all("css selector", ".langs li a");
    let skip = driver.find("css selector", "a.skip");
    let (x, _, w, _) = driver.rect(&skip);
    let skip_hidden = (x, x + w);
    // Tab once: the skip link is the first thing on the page.
    driver.call(
        "POST",
        &driver.s("/actions"),
        Some(
            serde_json::json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
                { "type": "keyDown", "value": "\u{E004}" }, { "type": "keyUp", "value": "\u{E004}" }
            ]}]}),
        ),
    );
    let active = driver.call("GET", &driver.s("/element/active"), None);
    let active = active.as_object().unwrap().values().next().unwrap();
    assert_eq!(
        active.as_str().unwrap(),
        skip,
        "{lang}: Tab did not reach the skip link"
    );
    let (x, _, w, _) = driver.rect(&skip);
    let layout_form = (
        driver.css(&html, "direction"),
        (driver.rect(&langs[0]).0, driver.rect(&langs[1]).0),
        (
            driver
                .rect(&driver.find("css selector", "input#codename"))
                .0,
            driver
                .rect(&driver.find("css selector", "label[for=codename]"))
                .0,
        ),
        (x, x + w),
    );
    let shot =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("form-{lang}-360.png"));
    driver.screenshot(&shot);
    eprintln!("screenshot: {}", shot.display());
    driver.go(&format!("{base}/no-such-page?lang={lang}"));
    let notice = driver.find("css selector", ".notice");
    Layout {
        direction: layout_form.0,
        first_langs: layout_form.1,
        checkbox_and_label: layout_form.2,
        skip_focused: layout_form.3,
        skip_hidden,
        width,
        notice_borders: (
            driver.css(&notice, "border-left-width"),
            driver.css(&notice, "border-right-width"),
        ),
    }
}

#[test]
fn a_right_to_left_language_mirrors_every_page() {
    let setup = Setup::new();
    let server = setup.start();
    let profile = setup.root.path().join("browser-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let driver = Driver::start(&profile);
    let base = format!("http://{}", server.addr);

    let ltr = layout(&driver, &base, "en");
    let rtl = layout(&driver, &base, "ar-XB");
    assert_eq!(ltr.direction, "ltr");
    assert_eq!(rtl.direction, "rtl");
    // The language switch starts at the left in English, at the right right to left.
    assert!(
        ltr.first_langs.0 < ltr.first_langs.1,
        "{:?}",
        ltr.first_langs
    );
    assert!(
        rtl.first_langs.0 > rtl.first_langs.1,
        "{:?}",
        rtl.first_langs
    );
    // The checkbox stands before its label: left of it, or right of it.
    assert!(ltr.checkbox_and_label.0 < ltr.checkbox_and_label.1);
    assert!(rtl.checkbox_and_label.0 > rtl.checkbox_and_label.1);
    // The focused skip link sits at the start of the line: near the left or the right edge.
    assert!(ltr.skip_focused.0 < 40.0, "{:?}", ltr.skip_focused);
    assert!(
        rtl.skip_focused.1 > rtl.width - 40.0,
        "{:?} of {}",
        rtl.skip_focused,
        rtl.width
    );
    // Unfocused, it is off the screen, on the start side (which never scrolls into view).
    assert!(ltr.skip_hidden.1 <= 0.0, "{:?}", ltr.skip_hidden);
    assert!(rtl.skip_hidden.0 >= rtl.width, "{:?}", rtl.skip_hidden);
    // The error box's coloured edge is on the start side.
    assert_eq!(ltr.notice_borders, ("6px".to_owned(), "0px".to_owned()));
    assert_eq!(rtl.notice_borders, ("0px".to_owned(), "6px".to_owned()));
    // And every page carries the direction.
    for path in ["/codename?lang=ar-XB", "/no-such-page?lang=ar-XB"] {
        driver.go(&format!("{base}{path}"));
        let html = driver.find("css selector", "html");
        assert_eq!(driver.css(&html, "direction"), "rtl", "{path}");
    }
}
