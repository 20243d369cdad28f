//! The return channel end to end (issue 9), through the real binaries and real HTTP only: a
//! source opts in on a Russian page and is shown a codename; the operator exports; staff import
//! with `sealdesk`, read, reply and write an outbox; the operator runs `sealdrop import-outbox`;
//! the source logs in with the codename typed differently, reads the reply in Russian, deletes it
//! (gone from the server's disk) and sends a follow-up with a file; the next export shows staff
//! one thread of two reports and the reply.
//!
//! Then a seized server: the data directory's bytes hold no codename word (in either word list)
//! and nothing that links the source's submissions (mailbox id, thread id, reply recipient); the
//! mailbox id lives only in the `replies` table while the reply exists, and nowhere after.
//!
//! Ground truth never comes from `sealdesk` or the server's own reading code: envelopes are
//! opened with the staff key unlocked through the age crate, rows and files are read directly.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use age::secrecy::SecretString;
use common::{
    decrypt_with, exchange, files_under, find, parse_envelope, Multipart, Response, Setup,
};
use sealdrop_core::codename::{Codename, DerivationGate, Lang};

const PASSPHRASE: &str = "lantern orbit cactus velvet harbor mint";

const FIRST: &str = "Мужа задержали в Казани 12 мая. Нужен адвокат, ответьте, пожалуйста.";
const REPLY: &str = "Мы получили ваше сообщение. Пришлите, пожалуйста, копию протокола.";
const FOLLOW_UP: &str = "Вот копия протокола задержания.";
const PROTOCOL: &[u8] = b"%PDF-1.4 a scanned arrest record";

/// The staff's offline machine, as in tests/pipeline.rs: its own folder (HOME and working
/// directory of every `sealdesk` run), a passphrase-protected key and a workspace.
struct Desk {
    root: tempfile::TempDir,
    identity: PathBuf,
    ws: PathBuf,
}

impl Desk {
    fn new() -> Desk {
        let root = tempfile::Builder::new()
            .prefix("sealdesk-conv-test-")
            .tempdir()
            .unwrap();
        Desk {
            identity: root.path().join("staff-identity.age"),
            ws: root.path().join("sealdesk-workspace"),
            root,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(common::sealdesk_bin());
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root.path())
            .env("TMPDIR", self.root.path())
            .env("SEALDESK_WORKSPACE", &self.ws)
            .env("SEALDESK_PASSPHRASE", PASSPHRASE)
            .env("COLUMNS", "200")
            .current_dir(self.root.path())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("running the sealdesk binary");
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "`sealdesk {}` failed:\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("sealdesk prints UTF-8")
    }
}

/// Run `sealdrop ARGS` with the server's own environment; require success.
fn sealdrop_ok(setup: &Setup, args: &[&str]) -> String {
    let ran = setup.run(args);
    assert!(
        ran.status.success(),
        "`sealdrop {}` failed:\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        ran.stdout,
        ran.stderr
    );
    ran.stdout
}

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
    let bytes = match body {
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
    exchange(addr, bytes).expect("a response")
}

/// `application/x-www-form-urlencoded`, as a browser encodes a field.
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

/// The items of the first `<ol class="words">` on a page: the codename the received page shows.
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

/// The `value` of every `<input type="hidden" name="reply">` on the inbox page.
fn reply_ids_on(page: &str) -> Vec<String> {
    page.split("name=\"reply\" value=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

/// The staff identity inside the passphrase-protected key file, unlocked with the age crate.
fn unlock_identity(path: &Path) -> age::x25519::Identity {
    let file = std::fs::File::open(path).unwrap();
    let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(BufReader::new(file)))
        .expect("the key file is an age file");
    let passphrase = age::scrypt::Identity::new(SecretString::from(PASSPHRASE.to_owned()));
    let mut text = String::new();
    decryptor
        .decrypt(std::iter::once(&passphrase as &dyn age::Identity))
        .expect("the passphrase opens the key file")
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("an identity line inside")
        .parse()
        .expect("a valid age identity")
}

/// The ids of the submission rows, read from the server's index.
fn submission_ids(setup: &Setup) -> Vec<String> {
    setup.submissions().into_iter().map(|r| r.id).collect()
}

/// The one submission row that appeared between `before` and now.
fn new_submission(setup: &Setup, before: &[String]) -> common::SubmissionRow {
    let new: Vec<common::SubmissionRow> = setup
        .submissions()
        .into_iter()
        .filter(|r| !before.contains(&r.id))
        .collect();
    assert_eq!(new.len(), 1, "one new submission row");
    new.into_iter().next().unwrap()
}

/// A submission's envelope, opened with the staff key through the age crate.
fn envelope(
    setup: &Setup,
    staff: &age::x25519::Identity,
    row: &common::SubmissionRow,
) -> serde_json::Value {
    let path = setup.blobs_dir().join(format!("{}.age", row.envelope_blob));
    parse_envelope(&decrypt_with(staff, &path))
}

fn value_text(value: &rusqlite::types::Value) -> Vec<u8> {
    match value {
        rusqlite::types::Value::Text(t) => t.as_bytes().to_vec(),
        rusqlite::types::Value::Blob(b) => b.clone(),
        rusqlite::types::Value::Integer(i) => i.to_string().into_bytes(),
        rusqlite::types::Value::Real(r) => r.to_string().into_bytes(),
        rusqlite::types::Value::Null => Vec::new(),
    }
}

/// Every `table.column` of the index whose value contains `needle`.
fn db_columns_holding(setup: &Setup, needle: &str) -> Vec<String> {
    let mut found: Vec<String> = setup
        .every_db_value()
        .iter()
        .filter(|(_, _, v)| find(&value_text(v), needle.as_bytes()).is_some())
        .map(|(t, c, _)| format!("{t}.{c}"))
        .collect();
    found.dedup();
    found
}

/// Files under `dir` whose bytes or path contain `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|f| {
            let in_name = find(f.to_string_lossy().as_bytes(), needle).is_some();
            in_name || std::fs::read(f).is_ok_and(|b| find(&b, needle).is_some())
        })
        .collect()
}

/// The strings that would link a source's submissions, if a seized server held them in clear.
struct Links {
    mailbox: String,
    thread: String,
    reply_to: String,
}

/// What a seized server's data directory must not hold, at any point: a codename word (either
/// list), the thread id or the reply recipient anywhere; the mailbox id in no submission or blob
/// row and no file name, and (with `reply_stored`) only in `replies.mailbox`, else nowhere.
fn assert_seized_server_holds_nothing(
    setup: &Setup,
    codename: &Codename,
    links: &Links,
    reply_stored: bool,
) {
    let data = &setup.data_dir;
    let schema: String = rusqlite::Connection::open(setup.db_path())
        .unwrap()
        .query_row(
            "SELECT group_concat(sql, ' ') FROM sqlite_master",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let schema = schema.to_lowercase();
    for word in codename.words(Lang::Ru) {
        assert_eq!(
            files_holding(data, word.as_bytes()),
            Vec::<PathBuf>::new(),
            "the Russian word {word} is on the server"
        );
        assert_eq!(
            db_columns_holding(setup, word),
            Vec::<String>::new(),
            "{word}"
        );
    }
    for word in codename.words(Lang::En) {
        // An English word can occur by chance: as a schema keyword ("index", "key"), spelled in
        // hex digits inside an id ("add", "face"), or, if short, in random ciphertext. Those
        // occurrences say nothing; every other byte is checked.
        if schema.contains(word) {
            continue;
        }
        let in_hex = word.chars().all(|c| c.is_ascii_hexdigit());
        for file in files_under(data) {
            let bytes = std::fs::read(&file).unwrap();
            let ciphertext = file.extension().is_some_and(|e| e == "age");
            let in_name = find(file.to_string_lossy().as_bytes(), word.as_bytes()).is_some();
            assert!(
                !in_name || in_hex,
                "the English word {word} names {}",
                file.display()
            );
            if (ciphertext && word.len() < 5) || in_hex {
                continue;
            }
            assert!(
                find(&bytes, word.as_bytes()).is_none(),
                "the English word {word} is in {}",
                file.display()
            );
        }
    }
    for (what, needle) in [
        ("thread id", &links.thread),
        ("reply recipient", &links.reply_to),
    ] {
        assert_eq!(
            files_holding(data, needle.as_bytes()),
            Vec::<PathBuf>::new(),
            "the {what} is on the server"
        );
        assert_eq!(
            db_columns_holding(setup, needle),
            Vec::<String>::new(),
            "the {what} is in the index"
        );
    }
    // The mailbox id: never beside a submission, never in a file name.
    for file in files_under(data) {
        assert!(
            find(file.to_string_lossy().as_bytes(), links.mailbox.as_bytes()).is_none(),
            "{}",
            file.display()
        );
    }
    for row in setup.submissions() {
        for field in [&row.id, &row.arrived, &row.envelope_blob] {
            for needle in [&links.mailbox, &links.thread, &links.reply_to] {
                assert!(
                    !field.contains(needle.as_str()),
                    "a submission row holds {needle}"
                );
            }
        }
    }
    for row in setup.blob_rows() {
        for field in [&row.id, &row.submission_id, &row.kind] {
            for needle in [&links.mailbox, &links.thread, &links.reply_to] {
                assert!(
                    !field.contains(needle.as_str()),
                    "a blob row holds {needle}"
                );
            }
        }
    }
    let holding = db_columns_holding(setup, &links.mailbox);
    if reply_stored {
        assert_eq!(
            holding,
            vec!["replies.mailbox".to_owned()],
            "the mailbox id outside the replies table"
        );
    } else {
        assert_eq!(
            holding,
            Vec::<String>::new(),
            "the mailbox id outlives its reply"
        );
        assert_eq!(
            files_holding(data, links.mailbox.as_bytes()),
            Vec::<PathBuf>::new(),
            "the deleted reply's mailbox id is still in the files"
        );
    }
}

#[test]
fn a_source_and_staff_converse_through_both_binaries_and_a_seized_server_links_nothing() {
    // ---- 1. Staff key, server, desk ---------------------------------------------------------
    let desk = Desk::new();
    let recipient = desk
        .ok(&["keygen", "--out", desk.identity.to_str().unwrap()], None)
        .trim()
        .to_owned();
    let staff = unlock_identity(&desk.identity);
    assert_eq!(staff.to_public().to_string(), recipient);
    let setup = Setup::new();
    let keys_text = format!(
        "# staff: desk one\n{recipient}\n# staff: desk two\n{}\n",
        setup.second_identity.to_public()
    );
    std::fs::write(&setup.keys_file, &keys_text).unwrap();
    let server = setup.start();
    let addr = server.addr;

    // ---- 2. A source opts in on the Russian page and is shown a codename ------------------
    let form = request(addr, "GET", "/?lang=ru", None, None).text();
    assert!(
        form.contains("name=\"codename\" value=\"1\""),
        "the opt-in box"
    );
    let before = submission_ids(&setup);
    let posted = common::post(
        addr,
        "/submit?lang=ru",
        &Multipart::new()
            .text("message", FIRST)
            .text("contact", "")
            .file(
                "files",
                "заявление.txt",
                "text/plain",
                "Заявление о задержании".as_bytes(),
            )
            .text("codename", "1"),
    );
    // Post/redirect/get: the received page, with its receipt cookie (never a session one).
    let page = common::follow_received(addr, &posted);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.header("set-cookie").is_none());
    let words = shown_words(&page.text());
    assert_eq!(
        words.len(),
        10,
        "ten words on the received page:\n{}",
        page.text()
    );
    assert!(
        words
            .iter()
            .all(|w| w.chars().all(|c| ('а'..='я').contains(&c) || c == 'ё')),
        "Russian words: {words:?}"
    );
    let codename = Codename::parse(&words.join(" ")).expect("the page shows a valid codename");
    let derived = codename.derive(&DerivationGate::new(1));
    let links = Links {
        mailbox: derived.mailbox_id.clone(),
        thread: derived.thread_id.clone(),
        reply_to: derived.reply_recipient().to_string(),
    };
    let first_row = new_submission(&setup, &before);
    let first_id = first_row.id.clone();
    let first_envelope = envelope(&setup, &staff, &first_row);
    let conversation = first_envelope["conversation"].clone();
    assert_eq!(conversation["thread"], links.thread.as_str());
    assert_eq!(conversation["mailbox"], links.mailbox.as_str());
    assert_eq!(conversation["reply_to"], links.reply_to.as_str());
    assert_seized_server_holds_nothing(&setup, &codename, &links, false);

    // ---- 3. Fingerprints both ways, export, import ----------------------------------------
    let fingerprint = sealdrop_ok(&setup, &["fingerprint"]).trim().to_owned();
    let recipients = desk.path("recipients.txt");
    std::fs::write(&recipients, &keys_text).unwrap();
    let init = desk.ok(
        &[
            "init",
            "--identity",
            desk.identity.to_str().unwrap(),
            "--recipients",
            recipients.to_str().unwrap(),
            "--server-key",
            &fingerprint,
        ],
        None,
    );
    let desk_fingerprint = desk.ok(&["fingerprint"], None).trim().to_owned();
    assert_eq!(
        desk_fingerprint.split(' ').count(),
        16,
        "{desk_fingerprint}"
    );
    assert!(
        init.contains(&format!("\n{desk_fingerprint}\n")),
        "init prints the outbox key:\n{init}"
    );
    // The operator pins it, read aloud, in the file the config names.
    let pins = setup.root.path().join("keys").join("desk-keys.txt");
    std::fs::write(
        &pins,
        format!("# the desk, read aloud\n{desk_fingerprint}\n"),
    )
    .unwrap();
    let config = setup.root.path().join("sealdrop.toml");
    std::fs::write(
        &config,
        format!("desk_keys_file = \"{}\"\n", pins.display()),
    )
    .unwrap();

    let usb = desk.path("usb");
    std::fs::create_dir(&usb).unwrap();
    let b1 = usb.join("export-1.sdb");
    let summary = sealdrop_ok(&setup, &["export", "--out", b1.to_str().unwrap()]);
    assert!(summary.contains("1 submission(s)"), "{summary}");
    let out = desk.ok(&["import", b1.to_str().unwrap()], None);
    assert!(out.contains("1 new report(s)"), "{out}");
    let list = desk.ok(&["list"], None);
    assert!(list.contains("Мужа задержали"), "{list}");

    // ---- 4. Staff reply, write an outbox; the operator imports it -------------------------
    let said = desk.ok(&["reply", &first_id[..8]], Some(REPLY));
    assert!(said.contains("padded to 4096 bytes"), "{said}");
    let o1 = usb.join("outbox-1");
    desk.ok(&["outbox", "--out", o1.to_str().unwrap()], None);
    let out = sealdrop_ok(
        &setup,
        &[
            "import-outbox",
            "--config",
            config.to_str().unwrap(),
            o1.to_str().unwrap(),
        ],
    );
    assert!(
        out.starts_with(&format!(
            "Imported outbox 1 from desk {desk_fingerprint}: 1 reply(ies) stored; 1 acknowledged submission(s) purged"
        )),
        "{out}"
    );
    // The acknowledged first submission is gone from the server; the reply is waiting.
    assert_eq!(submission_ids(&setup), Vec::<String>::new());
    let stored_replies = files_under(&setup.data_dir.join("replies"));
    assert_eq!(stored_replies.len(), 1, "one reply file");
    assert_seized_server_holds_nothing(&setup, &codename, &links, true);

    // ---- 5. The source logs in with the codename typed differently -----------------------
    // Upper case, runs of spaces and a newline, and 4-letter prefixes for the last five words.
    let typed = format!(
        "   {}  \n  {}   ",
        words[..5].join("    ").to_uppercase(),
        words[5..]
            .iter()
            .map(|w| w.chars().take(4).collect::<String>())
            .collect::<Vec<_>>()
            .join("  ")
    );
    assert_ne!(typed.trim(), words.join(" "));
    let body = format!("codename={}", form_encode(&typed));
    let login = request(
        addr,
        "POST",
        "/codename?lang=ru",
        None,
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
    );
    assert_eq!(login.status, 303, "{}", login.text());
    assert_eq!(login.header("location"), Some("/inbox?lang=ru"));
    let cookie = login
        .header("set-cookie")
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // The reply, in Russian, on a Russian page.
    let inbox = request(addr, "GET", "/inbox?lang=ru", Some(&cookie), None);
    inbox.assert_page(200, "Ответы");
    let text = inbox.text();
    assert!(text.contains(REPLY), "the reply on the inbox page:\n{text}");
    let ids = reply_ids_on(&text);
    assert_eq!(ids.len(), 1, "{text}");
    let reply_file = setup
        .data_dir
        .join("replies")
        .join(format!("{}.age", ids[0]));
    assert_eq!(stored_replies, vec![reply_file.clone()]);

    // ---- 6. The source deletes it: gone from the server's disk and index -----------------
    let body = format!("reply={}", ids[0]);
    let deleted = request(
        addr,
        "POST",
        "/inbox/delete?lang=ru",
        Some(&cookie),
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
    );
    assert_eq!(deleted.status, 303, "{}", deleted.text());
    assert!(
        !reply_file.exists(),
        "the reply file is still on the server"
    );
    assert_eq!(
        files_under(&setup.data_dir.join("replies")),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        db_columns_holding(&setup, &ids[0]),
        Vec::<String>::new(),
        "the reply's row"
    );
    let text = request(addr, "GET", "/inbox?lang=ru", Some(&cookie), None).text();
    assert!(!text.contains(REPLY), "the deleted reply is still shown");

    // ---- 7. A follow-up with a file, in the same conversation ------------------------------
    let before = submission_ids(&setup);
    let form = Multipart::new().text("message", FOLLOW_UP).file(
        "files",
        "протокол.pdf",
        "application/pdf",
        PROTOCOL,
    );
    let sent = request(
        addr,
        "POST",
        "/inbox/send?lang=ru",
        Some(&cookie),
        Some((&form.content_type(), &form.body())),
    );
    assert_eq!(sent.status, 303, "{}", sent.text());
    assert_eq!(sent.header("location"), Some("/inbox?lang=ru&sent=1"));
    let follow_row = new_submission(&setup, &before);
    let follow_id = follow_row.id.clone();
    let follow_envelope = envelope(&setup, &staff, &follow_row);
    assert_eq!(
        follow_envelope["conversation"], conversation,
        "the follow-up joins the thread"
    );
    let attachments = follow_envelope["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    let blob = attachments[0]["blob"].as_str().unwrap();
    let padded = decrypt_with(&staff, &setup.blobs_dir().join(format!("{blob}.age")));
    assert_eq!(&padded[..PROTOCOL.len()], PROTOCOL);

    // ---- 8. Export; the desk shows one thread of two reports and the reply ---------------
    let b2 = usb.join("export-2.sdb");
    let summary = sealdrop_ok(&setup, &["export", "--out", b2.to_str().unwrap()]);
    assert!(summary.contains("1 submission(s)"), "{summary}");
    let out = desk.ok(&["import", b2.to_str().unwrap()], None);
    assert!(out.contains("1 new report(s)"), "{out}");
    let list = desk.ok(&["list"], None);
    let lines: Vec<&str> = list.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.contains(&follow_id[..8]))
        .expect("the follow-up listed");
    assert!(lines[head].contains("[thread of 2]"), "{list}");
    assert!(
        lines[head + 1].contains(&first_id[..8]) && lines[head + 1].contains('└'),
        "{list}"
    );
    let show = desk.ok(&["show", &first_id[..8]], None);
    let conv = &show[show
        .find("CONVERSATION (2 report(s), 1 reply(ies)")
        .unwrap_or_else(|| panic!("{show}"))..];
    let at = |needle: &str| {
        conv.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{show}"))
    };
    // Both reports and the reply. (Arrival is kept to the day, so reports of one day are shown
    // by id, as view.rs documents; their order here is not the order they were sent.)
    at(&format!(
        "FROM THE SOURCE, report {} (this one)",
        &first_id[..8]
    ));
    at(&format!("FROM THE SOURCE, report {}", &follow_id[..8]));
    at("Мужа задержали");
    at(FOLLOW_UP);
    at(&format!("REPLY to report {}", &first_id[..8]));
    assert!(at(REPLY) > at("REPLY to report"), "{show}");
    assert!(conv.contains("sent in outbox 1"), "{show}");

    // ---- 9. A seized server ----------------------------------------------------------------
    // While it runs, and again after it stopped (its last checkpoint written).
    assert_seized_server_holds_nothing(&setup, &codename, &links, false);
    let (stdout, stderr) = server.stop();
    for word in codename.words(Lang::Ru) {
        assert!(
            find(&stdout, word.as_bytes()).is_none() && find(&stderr, word.as_bytes()).is_none(),
            "{word} was printed"
        );
    }
    for needle in [&links.mailbox, &links.thread, &links.reply_to] {
        assert!(
            find(&stdout, needle.as_bytes()).is_none()
                && find(&stderr, needle.as_bytes()).is_none(),
            "{needle} was printed"
        );
    }
    assert_seized_server_holds_nothing(&setup, &codename, &links, false);
}
