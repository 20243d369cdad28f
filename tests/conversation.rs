//! The return channel, source side, through a real server over real HTTP: opting in for a
//! codename, coming back with it, reading and deleting replies, sending more, logging out; and
//! that no codename is ever stored, that nothing answers "not recognised", and that only a login
//! sets a cookie.

mod common;

use std::net::SocketAddr;

use common::{exchange, files_under, random_hex, Multipart, Response, Setup};
use sealdrop_core::codename::{Codename, DerivationGate, Derived};

/// One HTTP request with an optional session cookie.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<(&str, &[u8])>,
) -> Response {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(cookie) = cookie {
        req.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    let mut bytes = match body {
        Some((content_type, body)) => {
            req.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            ));
            let mut bytes = req.into_bytes();
            bytes.extend_from_slice(body);
            bytes
        }
        None => {
            req.push_str("\r\n");
            req.into_bytes()
        }
    };
    exchange(addr, std::mem::take(&mut bytes)).expect("a response")
}

fn form_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// POST the login form; the response.
fn login_raw(addr: SocketAddr, lang: &str, typed: &str) -> Response {
    let body = format!("codename={}", form_encode(typed));
    request(
        addr,
        "POST",
        &format!("/codename?lang={lang}"),
        None,
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
    )
}

/// Log in; the `name=value` of the session cookie.
fn login(addr: SocketAddr, typed: &str) -> String {
    let response = login_raw(addr, "en", typed);
    assert_eq!(
        response.status,
        303,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("location"), Some("/inbox?lang=en"));
    let cookie = response.header("set-cookie").expect("a session cookie");
    assert!(cookie.starts_with("sealdrop_session="), "{cookie}");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    assert!(
        !cookie.contains("Expires") && !cookie.contains("Max-Age"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_owned()
}

fn inbox(addr: SocketAddr, cookie: &str) -> Response {
    request(addr, "GET", "/inbox?lang=en", Some(cookie), None)
}

/// Submit the first-visit form; opt in for a codename if `opt_in`.
fn first_visit(addr: SocketAddr, lang: &str, opt_in: bool, message: &str) -> Response {
    let mut form = Multipart::new()
        .text("message", message)
        .text("contact", "");
    form = form.file("files", "a.txt", "text/plain", b"first evidence");
    if opt_in {
        form = form.text("codename", "1");
    }
    let posted = common::post(addr, &format!("/submit?lang={lang}"), &form);
    common::follow_received(addr, &posted)
}

/// The codename words a received page shows.
fn shown_words(page: &str) -> Vec<String> {
    let Some(start) = page.find("<ol class=\"words\"") else {
        return Vec::new();
    };
    let end = page[start..].find("</ol>").unwrap() + start;
    page[start..end]
        .split("<li>")
        .skip(1)
        .map(|li| li.split("</li>").next().unwrap().to_owned())
        .collect()
}

fn derive(codename: &Codename) -> Derived {
    codename.derive(&DerivationGate::new(1))
}

/// Write a reply as the outbox import would: a standard age file of the UTF-8 text padded with
/// NULs to 4 KiB, to the codename's recipient, and its row (read per request by the server).
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
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
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

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The conversation in a submission's envelope.
fn conversation_of(opened: &common::Opened) -> serde_json::Value {
    opened.envelope["conversation"].clone()
}

#[test]
fn opting_in_shows_a_codename_once_seals_the_conversation_and_stores_no_codename() {
    let setup = Setup::new();
    let server = setup.start();

    // Opting out: no codename, no conversation.
    let page = first_visit(server.addr, "en", false, "no return please");
    page.assert_page(200, "Received. Thank you.");
    assert!(shown_words(&page.text()).is_empty());
    assert!(page.header("set-cookie").is_none());
    let (_, opened) = setup.only_submission();
    assert!(opened.envelope.get("conversation").is_none());

    // Opting in, on a Russian page: ten Russian words.
    let page = first_visit(server.addr, "ru", true, "please answer");
    assert_eq!(page.status, 200);
    assert!(page.header("set-cookie").is_none());
    let words = shown_words(&page.text());
    assert_eq!(words.len(), 10, "{}", page.text());
    assert!(
        words
            .iter()
            .all(|w| w.chars().all(|c| ('а'..='я').contains(&c) || c == 'ё')),
        "{words:?}"
    );
    let codename = Codename::parse(&words.join(" ")).expect("a valid codename");
    let derived = derive(&codename);
    let rows = setup.submissions();
    assert_eq!(rows.len(), 2);
    let opened = rows
        .iter()
        .map(|row| setup.open_submission(row))
        .find(|o| o.field("message") == Some("please answer"))
        .unwrap();
    let conversation = conversation_of(&opened);
    assert_eq!(conversation["thread"], derived.thread_id.as_str());
    assert_eq!(conversation["mailbox"], derived.mailbox_id.as_str());
    assert_eq!(
        conversation["reply_to"],
        derived.reply_recipient().to_string().as_str()
    );

    // A Tajik page falls back to the Russian list, an English page uses English.
    let tg = shown_words(&first_visit(server.addr, "tg", true, "tg").text());
    assert!(
        tg[0].chars().all(|c| ('а'..='я').contains(&c) || c == 'ё'),
        "{tg:?}"
    );
    let en = shown_words(&first_visit(server.addr, "en", true, "en").text());
    assert!(en[0].chars().all(|c| c.is_ascii_lowercase()), "{en:?}");

    // No word of any codename anywhere in the data directory, nor in the server's output.
    let (out, err) = server.stop();
    let schema = schema_text(&setup);
    // The server's own fixed lines (start, stop) are the same for every run; all else is
    // checked.
    let own_lines = |bytes: &[u8]| -> Vec<u8> {
        String::from_utf8_lossy(bytes)
            .lines()
            .filter(|l| {
                !l.starts_with("sealdrop: started") && !l.starts_with("sealdrop: listening")
            })
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes()
    };
    let (out, err) = (own_lines(&out), own_lines(&err));
    for word in words.iter().chain(&tg).chain(&en) {
        // An English word can occur by chance: as a word of the schema's own text (which
        // SQLite keeps in the index file), spelled in hex digits inside an id, or, if short,
        // in random ciphertext. Those say nothing; every other byte is checked.
        if word.is_ascii() && schema.contains(word.as_str()) {
            continue;
        }
        if word.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        for file in files_under(&setup.data_dir) {
            let ciphertext = file.extension().is_some_and(|e| e == "age");
            if ciphertext && word.is_ascii() && word.len() < 5 {
                continue;
            }
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(
                !contains(&bytes, word.as_bytes()),
                "{word} is stored in {}",
                file.display()
            );
        }
        assert!(!contains(&out, word.as_bytes()), "{word} was printed");
        assert!(!contains(&err, word.as_bytes()), "{word} was logged");
    }
}

/// The index's schema as SQLite keeps it (table definitions and their comments), lower case.
fn schema_text(setup: &Setup) -> String {
    let conn = rusqlite::Connection::open(setup.db_path()).unwrap();
    let schema: String = conn
        .query_row(
            "SELECT group_concat(sql, ' ') FROM sqlite_master",
            [],
            |r| r.get(0),
        )
        .unwrap();
    schema.to_lowercase()
}

#[test]
fn a_codename_typed_differently_opens_its_inbox_to_read_delete_follow_up_and_log_out() {
    let setup = Setup::new();
    let server = setup.start();
    let page = first_visit(server.addr, "en", true, "first report");
    let words = shown_words(&page.text());
    assert_eq!(words.len(), 10);
    let derived = derive(&Codename::parse(&words.join(" ")).unwrap());
    let first = setup.only_submission().1;
    let conversation = conversation_of(&first);

    let reply_one = add_reply(&setup, &derived, 1, "We received it. <b>Stay safe</b>.");
    add_reply(&setup, &derived, 2, "Second reply: can you send the photo?");

    // Upper case, extra spaces and newlines, 4-letter prefixes.
    let typed = format!(
        "  {} \n\n {}  ",
        words[..5].join("   ").to_uppercase(),
        words[5..]
            .iter()
            .map(|w| w.chars().take(4).collect::<String>())
            .collect::<Vec<_>>()
            .join(" ,  ")
    );
    let cookie = login(server.addr, &typed);
    let page = inbox(server.addr, &cookie);
    page.assert_page(200, "Replies");
    let text = page.text();
    let one = text
        .find("We received it. &#60;b&#62;Stay safe&#60;/b&#62;.")
        .or_else(|| text.find("We received it. &lt;b&gt;Stay safe&lt;/b&gt;."))
        .expect("the first reply, escaped");
    let two = text.find("Second reply: can you send the photo?").unwrap();
    assert!(one < two, "replies in order");
    assert!(!text.contains("<b>Stay"));
    assert!(page.header("set-cookie").is_none());
    assert!(page.header("content-security-policy").is_some());

    // Delete the first: its file and row are gone, the second stays.
    let reply_file = setup
        .data_dir
        .join("replies")
        .join(format!("{reply_one}.age"));
    assert!(reply_file.exists());
    let body = format!("reply={reply_one}");
    let deleted = request(
        server.addr,
        "POST",
        "/inbox/delete?lang=en",
        Some(&cookie),
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
    );
    assert_eq!(deleted.status, 303);
    assert!(!reply_file.exists(), "the reply file is still there");
    assert!(!reply_rows(&setup).contains(&reply_one));
    assert_eq!(reply_rows(&setup).len(), 1);
    let text = inbox(server.addr, &cookie).text();
    assert!(!text.contains("We received it."));
    assert!(text.contains("Second reply"));

    // A follow-up with one file joins the same thread.
    let form = Multipart::new().text("message", "here is the photo").file(
        "files",
        "photo.jpg",
        "image/jpeg",
        b"\xff\xd8 a photo",
    );
    let sent = request(
        server.addr,
        "POST",
        "/inbox/send?lang=en",
        Some(&cookie),
        Some((&form.content_type(), &form.body())),
    );
    assert_eq!(sent.status, 303, "{}", String::from_utf8_lossy(&sent.body));
    assert_eq!(sent.header("location"), Some("/inbox?lang=en&sent=1"));
    let rows = setup.submissions();
    assert_eq!(rows.len(), 2);
    let follow_up = rows
        .iter()
        .map(|row| setup.open_submission(row))
        .find(|o| o.field("message") == Some("here is the photo"))
        .expect("the follow-up");
    assert_eq!(conversation_of(&follow_up), conversation);
    assert_eq!(follow_up.attachments.len(), 1);
    assert_eq!(follow_up.attachments[0].content(), b"\xff\xd8 a photo");

    // A file alone is a follow-up too; two files are refused (one file per post).
    let form = Multipart::new()
        .text("message", "")
        .file("files", "b.txt", "text/plain", b"bbb");
    let sent = request(
        server.addr,
        "POST",
        "/inbox/send?lang=en",
        Some(&cookie),
        Some((&form.content_type(), &form.body())),
    );
    assert_eq!(sent.status, 303);
    let form = Multipart::new()
        .text("message", "two <b> files & more")
        .file("files", "c.txt", "text/plain", b"c")
        .file("files", "d.txt", "text/plain", b"d");
    let refused = request(
        server.addr,
        "POST",
        "/inbox/send?lang=en",
        Some(&cookie),
        Some((&form.content_type(), &form.body())),
    );
    assert_eq!(setup.submissions().len(), 3);
    // Nothing typed is lost: the inbox comes back with the problem, the replies and the text
    // (escaped) in the follow-up form, never cached.
    assert_eq!(refused.status, 400);
    let page = refused.text();
    assert!(page.contains("Your report was not sent"), "{page}");
    assert!(page.contains("Second reply"), "the replies are still shown");
    assert!(
        page.contains(">two &#60;b&#62; files &#38; more</textarea>"),
        "the follow-up's text comes back: {page}"
    );
    assert!(!page.contains("two <b>"));
    assert!(
        page.contains("<p>A message, one file, or both. Send one file at a time"),
        "the follow-up's own limit, not the report form's"
    );
    assert!(!page.contains("at most 20 files"));
    assert!(
        !page.contains("maxlength"),
        "a longer text is never cut silently"
    );
    assert_eq!(refused.header("cache-control"), Some("no-store"));

    // Logging out ends the session: the cookie no longer opens the inbox.
    let out = request(server.addr, "POST", "/logout?lang=en", Some(&cookie), None);
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = inbox(server.addr, &cookie);
    assert_eq!(after.status, 303);
    assert_eq!(after.header("location"), Some("/codename?lang=en"));
    assert!(!after.text().contains("Second reply"));
}

#[test]
fn no_oracle_another_codename_sees_nothing_and_an_unissued_one_looks_like_an_empty_inbox() {
    let setup = Setup::new();
    let server = setup.start();
    let issued = shown_words(&first_visit(server.addr, "en", true, "a report").text());
    let first = Codename::generate();
    add_reply(&setup, &derive(&first), 1, "for the first source only");

    // A second source's inbox never shows the first's replies.
    let second = Codename::generate();
    let cookie = login(
        server.addr,
        &second.to_string_in(sealdrop_core::codename::Lang::En),
    );
    let text = inbox(server.addr, &cookie).text();
    assert!(!text.contains("for the first source only"));
    let cookie = login(
        server.addr,
        &first.to_string_in(sealdrop_core::codename::Lang::Ru),
    );
    assert!(inbox(server.addr, &cookie)
        .text()
        .contains("for the first source only"));

    // An issued codename without replies and a random one nobody was given: the same login
    // answer and the same inbox, byte for byte.
    let random = Codename::generate();
    let issued_login = login_raw(server.addr, "en", &issued.join(" "));
    let random_login = login_raw(
        server.addr,
        "en",
        &random.to_string_in(sealdrop_core::codename::Lang::En),
    );
    let shape = |r: &Response| -> Vec<(String, usize)> {
        r.headers
            .iter()
            .filter(|(n, _)| n != "date")
            .map(|(n, v)| (n.clone(), v.len()))
            .collect()
    };
    assert_eq!(issued_login.status, random_login.status);
    assert_eq!(shape(&issued_login), shape(&random_login));
    assert_eq!(issued_login.body, random_login.body);
    let cookie_of = |r: &Response| {
        r.header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    let issued_inbox = inbox(server.addr, &cookie_of(&issued_login));
    let random_inbox = inbox(server.addr, &cookie_of(&random_login));
    assert_eq!(issued_inbox.status, 200);
    assert_eq!(issued_inbox.body, random_inbox.body);
    let without_date = |r: &Response| -> Vec<(String, String)> {
        r.headers
            .iter()
            .filter(|(n, _)| n != "date")
            .cloned()
            .collect()
    };
    assert_eq!(without_date(&issued_inbox), without_date(&random_inbox));
}

#[test]
fn typos_are_explained_in_the_page_language_and_only_a_login_sets_a_cookie() {
    let setup = Setup::new();
    let server = setup.start();
    let codename = Codename::generate();
    let mut words: Vec<String> = codename
        .words(sealdrop_core::codename::Lang::En)
        .iter()
        .map(|w| w.to_string())
        .collect();

    // Swap two words: every word is known, the checksum catches it (or, 1 in 2048, not).
    words.swap(0, 1);
    if Codename::parse(&words.join(" ")).is_ok() {
        words.swap(0, 2);
    }
    let typo = words.join(" ");
    let page = login_raw(server.addr, "en", &typo);
    page.assert_page(400, "Come back with your codename");
    assert!(page.text().contains("The words do not fit together"));
    assert!(page.header("set-cookie").is_none());
    let page = login_raw(server.addr, "ru", &typo);
    assert!(page.text().contains("Слова не подходят друг к другу"));
    // Nothing typed is echoed back.
    assert!(!page.text().contains(&words[3]));

    let page = login_raw(server.addr, "en", &words[..9].join(" "));
    assert!(page
        .text()
        .contains("A codename has 10 words, but 9 were typed"));
    let mut unknown = words.clone();
    unknown[3] = "zzzzzz".into();
    let page = login_raw(server.addr, "en", &unknown.join(" "));
    assert!(page
        .text()
        .contains("Word 4 is not one of the codename words"));

    // Pages without a login set no cookie, and the inbox without one asks for the codename.
    for path in [
        "/",
        "/?lang=ru",
        "/codename",
        "/static/style.css",
        "/nowhere",
        "/inbox",
    ] {
        let r = request(server.addr, "GET", path, None, None);
        assert!(r.header("set-cookie").is_none(), "{path} set a cookie");
    }
    let r = first_visit(server.addr, "en", true, "opt in");
    assert!(r.header("set-cookie").is_none());
    let r = first_visit(server.addr, "en", false, "opt out");
    assert!(r.header("set-cookie").is_none());
    let r = request(server.addr, "GET", "/inbox", None, None);
    assert_eq!(r.status, 303);
    let r = request(
        server.addr,
        "GET",
        "/inbox",
        Some(&format!("sealdrop_session={}", random_hex(32))),
        None,
    );
    assert_eq!(r.status, 303);

    // The form offers the choice (off by default) and the way back.
    let form = request(server.addr, "GET", "/?lang=en", None, None).text();
    assert!(form.contains(
        "<input type=\"checkbox\" id=\"codename\" name=\"codename\" value=\"1\" aria-describedby=\"codename-hint\">"
    ));
    assert!(form.contains("href=\"/codename?lang=en\""));
}
