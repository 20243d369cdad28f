//! The return channel in a real browser with JavaScript OFF, on a 360-px-wide screen, in
//! Russian: a source opts in for a codename, reads it from the received page, comes back through
//! "I have a codename" typing it differently, reads a reply, deletes it, sends a follow-up and
//! logs out. The browser holds the session cookie only between login and logout, and no page
//! loads anything from another origin.

mod browser_support;
mod common;

use std::path::Path;
use std::time::Duration;

use browser_support::*;
use common::*;
use sealdrop_core::codename::{Codename, DerivationGate, Derived};
use serde_json::Value;

/// Write a reply as the outbox import would (as tests/conversation.rs does): a standard age file
/// of the UTF-8 text padded with NULs to 4 KiB, to the codename's recipient, and its row.
fn add_reply(setup: &Setup, derived: &Derived, ordinal: i64, text: &str) -> String {
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
    let path = setup.data_dir.join("replies").join(format!("{id}.age"));
    std::fs::write(&path, &sealed).unwrap();
    let conn = rusqlite::Connection::open(setup.db_path()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute(
        "INSERT INTO replies (id, mailbox, ordinal, expires, size) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            id,
            derived.mailbox_id,
            ordinal,
            "2999-12-31",
            sealed.len() as i64
        ],
    )
    .unwrap();
    id
}

fn reply_rows(setup: &Setup) -> Vec<String> {
    let conn = rusqlite::Connection::open(setup.db_path()).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM replies").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every element on the page fits inside the phone's width.
fn assert_nothing_sticks_out(driver: &Driver, page: &str) {
    let html = driver.find("css selector", "html");
    let (_, _, html_width, _) = driver.rect(&html);
    assert!(
        html_width <= WIDTH as f64 && html_width >= WIDTH as f64 - 20.0,
        "{page}: the viewport should be {WIDTH} px wide, html is {html_width}"
    );
    for element in driver.find_all("css selector", "body, body *") {
        let (x, _, width, _) = driver.rect(&element);
        if width == 0.0 {
            continue;
        }
        assert!(
            x + width <= html_width + 0.5,
            "{page}: <{}> sticks out of the {WIDTH}-px screen: x {x} + width {width}",
            driver.tag(&element)
        );
    }
}

/// The computed value of a CSS property.
fn css(driver: &Driver, element: &str, property: &str) -> String {
    driver
        .call(
            "GET",
            &driver.s(&format!("/element/{element}/css/{property}")),
            None,
        )
        .as_str()
        .unwrap()
        .to_owned()
}

fn px(value: &str) -> f64 {
    value.trim_end_matches("px").parse().unwrap()
}

fn wait_for_title(driver: &Driver, prefix: &str) {
    let seen = wait_until(Duration::from_secs(20), || {
        driver.title().starts_with(prefix)
    });
    assert!(
        seen,
        "expected a page titled {prefix:?}; title: {:?}, url: {}",
        driver.title(),
        driver.url()
    );
}

/// Our pages asked only our own origin for anything (the browser's own chrome:// pages aside).
fn assert_same_origin(driver: &Driver, base: &str, page: &str) -> usize {
    let ours = format!("{base}/");
    let mut seen = 0;
    for (document, url) in driver.network_requests() {
        if document.starts_with(&ours) {
            assert!(
                url.starts_with(&ours),
                "{page}: {document} loaded {url} from another origin"
            );
            seen += 1;
        }
    }
    seen
}

fn is_russian_word(w: &str) -> bool {
    !w.is_empty() && w.chars().all(|c| ('а'..='я').contains(&c) || c == 'ё')
}

fn shoot(driver: &Driver, dir: &Path, name: &str) {
    let path = dir.join(name);
    driver.screenshot(&path);
    eprintln!("screenshot: {}", path.display());
    // A copy to look at after the test, kept under target/ (the temp dir is removed).
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::copy(&path, keep).unwrap();
}

#[test]
fn a_source_with_javascript_off_gets_a_codename_reads_a_reply_deletes_it_follows_up_and_logs_out() {
    let setup = Setup::new();
    let server = setup.start();
    let root = setup.root.path();
    let profile = root.join("browser-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let shots = root.join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let driver = Driver::start_with(&profile, true);

    driver.go("data:text/html,<title>nojs</title><script>document.title='js'</script>");
    assert_eq!(
        driver.title(),
        "nojs",
        "JavaScript must be disabled in this browser"
    );

    // The Russian form: tick the opt-in box, write, send.
    let base = format!("http://{}", server.addr);
    driver.go(&format!("{base}/?lang=ru"));
    wait_for_title(&driver, "Расскажите, что произошло");
    assert!(driver.cookies().is_empty(), "{:?}", driver.cookies());
    let optin = driver.find("css selector", "input[type=checkbox]#codename");
    assert_eq!(driver.attribute(&optin, "checked"), None, "off by default");
    driver.click(&optin);
    let selected = driver.call(
        "GET",
        &driver.s(&format!("/element/{optin}/selected")),
        None,
    );
    assert_eq!(selected, Value::Bool(true), "the box is ticked");
    let message = "Нас выселяют из дома.\nПожалуйста, ответьте.";
    let textarea = driver.find("css selector", "textarea#message");
    driver.type_into(&textarea, message);
    driver.click(&driver.find("css selector", "form button[type=submit]"));
    wait_for_title(&driver, "Получено. Спасибо.");
    let seen = assert_same_origin(&driver, &base, "form and received page");
    assert!(seen >= 4, "only {seen} requests were logged");

    // The codename: ten Russian words in a numbered list, large, inside the screen.
    let items = driver.find_all("css selector", "ol.words li");
    let words: Vec<String> = items.iter().map(|li| driver.text(li)).collect();
    assert_eq!(words.len(), 10, "{words:?}");
    assert!(words.iter().all(|w| is_russian_word(w)), "{words:?}");
    let list = driver.find("css selector", "ol.words");
    assert_eq!(css(&driver, &list, "list-style-type"), "decimal");
    for li in &items {
        let size = px(&css(&driver, li, "font-size"));
        assert!(size >= 18.0, "codename words are {size} px");
        let (_, _, _, height) = driver.rect(li);
        assert!(height < size * 2.5, "a word wraps: {height} px high");
    }
    assert_nothing_sticks_out(&driver, "received page");
    shoot(&driver, &shots, "conversation-received-360.png");
    // No session before login: only the received page's own receipt (post/redirect/get).
    let cookies = driver.cookies();
    assert!(
        cookies
            .iter()
            .all(|c| c["name"] == "sealdrop_receipt" && c["path"] == "/received"),
        "no session cookie before login: {cookies:?}"
    );
    // The codename is shown once: a reload of the received page no longer shows it.
    driver.call("POST", &driver.s("/refresh"), Some(serde_json::json!({})));
    wait_for_title(&driver, "Получено. Спасибо.");
    assert!(driver.find_all("css selector", "ol.words li").is_empty());
    let (_, first) = setup.only_submission();
    assert_eq!(
        first.field("message"),
        Some(message.replace('\n', "\r\n").as_str())
    );

    // Staff answer (planted as the outbox import would).
    let derived = Codename::parse(&words.join(" "))
        .expect("a valid codename")
        .derive(&DerivationGate::new(1));
    assert_eq!(
        first.envelope["conversation"]["mailbox"],
        derived.mailbox_id.as_str()
    );
    let reply_text = "Мы получили ваше сообщение. Будьте осторожны.\nЮрист свяжется с вами.";
    let reply_id = add_reply(&setup, &derived, 1, reply_text);
    let reply_file = setup
        .data_dir
        .join("replies")
        .join(format!("{reply_id}.age"));
    assert!(reply_file.exists());

    // Back to the form, then "I have a codename", as a person would.
    driver.click(&driver.find("css selector", "main a[href^='/?lang=ru']"));
    wait_for_title(&driver, "Расскажите, что произошло");
    driver.click(&driver.find(
        "link text",
        "У меня есть кодовое имя: прочитать ответы или отправить ещё",
    ));
    wait_for_title(&driver, "Вернуться с кодовым именем");
    assert!(driver.cookies().is_empty());

    // Typed differently: upper and mixed case, extra spaces, a line break.
    let typed = format!(
        "  {}  \n {}   ",
        words[..5].join("    ").to_uppercase(),
        words[5..]
            .iter()
            .map(|w| {
                let mut cs = w.chars();
                let first = cs.next().unwrap().to_uppercase().to_string();
                first + cs.as_str()
            })
            .collect::<Vec<_>>()
            .join("   ")
    );
    driver.type_into(&driver.find("css selector", "textarea#codename"), &typed);
    driver.click(&driver.find("css selector", "form button[type=submit]"));
    wait_for_title(&driver, "Ответы");
    let inbox_url = driver.url();
    assert!(inbox_url.starts_with(&format!("{base}/inbox?lang=ru")));

    // Exactly one cookie now: the session, HttpOnly, SameSite=Strict, for the session only.
    let cookies = driver.cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert_eq!(cookie["name"], "sealdrop_session", "{cookie}");
    assert_eq!(cookie["httpOnly"], true, "{cookie}");
    assert_eq!(cookie["sameSite"], "Strict", "{cookie}");
    assert_eq!(cookie["path"], "/", "{cookie}");
    assert!(cookie.get("expiry").is_none(), "a session cookie: {cookie}");

    // The reply, in Russian, with its line break kept.
    let shown = driver.find("css selector", "article.reply .reply-text");
    assert_eq!(driver.text(&shown), reply_text);
    assert_nothing_sticks_out(&driver, "inbox");
    shoot(&driver, &shots, "conversation-inbox-360.png");

    // Delete it: a plain form button.
    driver.click(&driver.find("css selector", "article.reply form button[type=submit]"));
    wait_for_title(&driver, "Ответы");
    assert!(driver.find_all("css selector", "article.reply").is_empty());
    assert!(!driver.source().contains("Мы получили ваше сообщение"));
    assert!(!reply_file.exists(), "the reply file is still on disk");
    assert!(
        reply_rows(&setup).is_empty(),
        "the reply row is still there"
    );

    // A follow-up from the inbox form joins the same conversation.
    let follow_up = "Спасибо. Вот ещё подробности.";
    driver.type_into(&driver.find("css selector", "textarea#message"), follow_up);
    driver.click(&driver.find("css selector", "form[action^='/inbox/send'] button"));
    let sent = wait_until(Duration::from_secs(20), || driver.url().contains("sent=1"));
    assert!(sent, "after sending: {}", driver.url());
    assert_eq!(driver.title().split(" · ").next(), Some("Ответы"));
    let opened: Vec<_> = setup
        .submissions()
        .iter()
        .map(|row| setup.open_submission(row))
        .collect();
    assert_eq!(opened.len(), 2);
    let second = opened
        .iter()
        .find(|o| o.field("message") == Some(follow_up))
        .expect("the follow-up");
    assert_eq!(
        second.envelope["conversation"],
        first.envelope["conversation"]
    );

    // Log out: the cookie is gone (or expired), and the inbox is no longer shown.
    driver.click(&driver.find("css selector", "form[action^='/logout'] button"));
    wait_for_title(&driver, "Расскажите, что произошло");
    let left: Vec<Value> = driver
        .cookies()
        .into_iter()
        .filter(|c| {
            c.get("expiry")
                .and_then(Value::as_f64)
                .is_none_or(|expiry| {
                    expiry
                        > std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_secs_f64()
                })
        })
        .collect();
    assert!(left.is_empty(), "cookies after logout: {left:?}");
    driver.back();
    let away = wait_until(Duration::from_secs(20), || {
        !driver.title().starts_with("Ответы")
    });
    assert!(
        away,
        "going back after logout shows the inbox: {}",
        driver.url()
    );
    assert!(!driver.source().contains(follow_up));
    driver.go(&inbox_url);
    wait_for_title(&driver, "Вернуться с кодовым именем");
    assert!(driver.find_all("css selector", "article.reply").is_empty());
    assert!(driver.cookies().is_empty(), "{:?}", driver.cookies());
    assert_same_origin(&driver, &base, "the whole visit");
}
