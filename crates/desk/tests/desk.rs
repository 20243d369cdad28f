//! `sealdesk` end to end, through the real binary: real age keys, real sealed envelopes, real
//! bundles, a real SQLite workspace.

mod desk_support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use desk_support::{
    assert_ok, seal_submission, sealdesk, signing_key, snapshot, write_bundle, Sealed, Source,
};
use ed25519_dalek::SigningKey;
use sealdrop_core::keys::Recipients;

const SEALDESK: &str = env!("CARGO_BIN_EXE_sealdesk");

/// A staff machine: a temp folder with a staff key, the group's recipients and a workspace.
struct Staff {
    tmp: tempfile::TempDir,
    ws: PathBuf,
    identity: PathBuf,
    /// Another staff member's key: notes must open with it too.
    colleague: age::x25519::Identity,
    recipients: Recipients,
    server: SigningKey,
}

impl Staff {
    /// `keygen` (no passphrase) and `init`, typing the fingerprint at the prompt.
    fn new() -> Staff {
        let tmp = tempfile::tempdir().unwrap();
        let identity = tmp.path().join("me.key");
        let out = sealdesk(
            &[
                "keygen",
                "--no-passphrase",
                "--out",
                identity.to_str().unwrap(),
            ],
            None,
        );
        assert_ok(&out);
        let mine = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(mine.starts_with("age1"), "{mine}");
        let colleague = age::x25519::Identity::generate();
        let recipients_text = format!("# group\n{mine}\n{}\n", colleague.to_public());
        let recipients_path = tmp.path().join("recipients.txt");
        std::fs::write(&recipients_path, &recipients_text).unwrap();
        let recipients = Recipients::parse(&recipients_path, recipients_text.as_bytes()).unwrap();
        let server = signing_key();
        let staff = Staff {
            ws: tmp.path().join("workspace"),
            tmp,
            identity,
            colleague,
            recipients,
            server,
        };
        let out = staff.run_with_stdin(
            &[
                "init",
                "--identity",
                staff.identity.to_str().unwrap(),
                "--recipients",
                recipients_path.to_str().unwrap(),
            ],
            &format!("{}\n", desk_support::fingerprint(&staff.server)),
        );
        assert_ok(&out);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(&desk_support::fingerprint(&staff.server)),
            "{text}"
        );
        staff
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["--workspace", self.ws.to_str().unwrap()];
        all.extend_from_slice(args);
        all
    }

    fn run(&self, args: &[&str]) -> Output {
        sealdesk(&self.args(args), None)
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        sealdesk(&self.args(args), Some(stdin))
    }

    /// Run, assert success, return stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_ok(&out);
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run, assert failure, return stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "expected `sealdesk {}` to fail; stdout:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn seal(&self, arrived: &str, source: &Source) -> Sealed {
        seal_submission(&self.recipients, arrived, source)
    }

    fn bundle(&self, name: &str, subs: &[Sealed]) -> PathBuf {
        let path = self.tmp.path().join(name);
        write_bundle(&path, &self.server, subs);
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A minimal RFC 4180 reader, to check the CSV report really parses.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        !quoted && cell.is_empty() && row.is_empty(),
        "CSV ends mid-row"
    );
    rows
}

const RUSSIAN: &str =
    "Брат задержан полицией. Город: МОСКВА, район Сокол.\nПросим помочь адвокатом.";
const TAJIK: &str = "Ман ҳақиқатро мегӯям: бародарамро ба Душанбе бурданд.";
const ENGLISH: &str = "Witness statement: two men in plain clothes, no documents.";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 a small photo";

#[test]
fn end_to_end_init_import_triage_report_ack() {
    let staff = Staff::new();
    let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let s1 = staff.seal(
        "2026-11-25",
        &Source::text(RUSSIAN)
            .with_file("фото.jpg", "image/jpeg", JPEG)
            .with_file("scan.pdf", "application/pdf", &big)
            .with_file("run.sh", "application/x-sh", b"#!/bin/sh\necho hi\n"),
    );
    let mut s2_source = Source::text(TAJIK);
    s2_source.contact = Some("Signal: +992 000 00 00".into());
    let s2 = staff.seal("2026-11-26", &s2_source);
    let s3 = staff.seal("2026-11-27", &Source::text(ENGLISH));
    let ids = [&s1.id, &s2.id, &s3.id];
    let bundle = staff.bundle("export-1.sdb", &[s1.clone(), s2.clone(), s3.clone()]);

    // import
    let out = staff.ok(&["import", bundle.to_str().unwrap()]);
    assert!(out.contains("3 new report(s), 0 already here"), "{out}");

    // At rest: ciphertext only, standard age files, nothing readable in the database.
    let blobs: Vec<PathBuf> = std::fs::read_dir(staff.ws.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(blobs.len(), (1 + 3) + 1 + 1);
    for blob in &blobs {
        let bytes = std::fs::read(blob).unwrap();
        assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
        assert!(!contains(&bytes, "задержан"));
    }

    // list: newest first, all unread, first lines and attachment counts.
    let out = staff.ok(&["list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("ID") && lines[0].contains("MESSAGE"),
        "{out}"
    );
    assert!(lines[1].starts_with(&format!("* {}", &s3.id[..8])), "{out}");
    assert!(lines[2].starts_with(&format!("* {}", &s2.id[..8])), "{out}");
    assert!(lines[3].starts_with(&format!("* {}", &s1.id[..8])), "{out}");
    assert!(lines[3].contains("Брат задержан полицией."), "{out}");
    assert!(!lines[3].contains("Просим"), "only the first line: {out}");
    assert!(lines[3].contains("  3  "), "three attachments: {out}");
    assert!(lines[2].contains("Ман ҳақиқатро"), "{out}");
    assert!(out.contains("3 report(s), 3 unread"), "{out}");

    // show: whole message, other fields, attachments; marks read.
    let out = staff.ok(&["show", &s1.id[..6]]);
    assert!(out.contains(RUSSIAN), "{out}");
    assert!(
        out.contains("фото.jpg") && out.contains("image/jpeg") && out.contains("70.0 KB"),
        "{out}"
    );
    assert!(out.contains("WARNING: may be a program or script"), "{out}");
    let out = staff.ok(&["show", &s2.id[..4]]);
    assert!(
        out.contains("CONTACT") && out.contains("+992 000 00 00"),
        "{out}"
    );
    let out = staff.ok(&["list"]);
    assert!(
        out.contains(&format!("  {}", &s1.id[..8])),
        "read now: {out}"
    );
    assert!(out.contains("3 report(s), 1 unread"), "{out}");

    // search: case-insensitive Russian and Tajik, with a snippet.
    let out = staff.ok(&["search", "москва"]);
    assert!(
        out.contains(&s1.id[..8]) && out.contains("[МОСКВА]"),
        "{out}"
    );
    assert!(out.contains("Город: [МОСКВА], район"), "snippet: {out}");
    assert!(out.contains("Searched 3 report(s): 1 match."), "{out}");
    let out = staff.ok(&["search", "ҲАҚИҚАТ"]);
    assert!(
        out.contains(&s2.id[..8]) && out.contains("[ҳақиқат]"),
        "{out}"
    );
    assert!(!out.contains(&s1.id[..8]), "{out}");
    let out = staff.ok(&["search", "nowhere to be found"]);
    assert!(out.contains("0 match"), "{out}");

    // extract: true lengths, a fresh folder per run, a warning for the script.
    let dest = staff.path("extracted");
    let out = staff.ok(&["extract", &s1.id[..8], "--to", dest.to_str().unwrap()]);
    assert!(out.contains("WARNING"), "{out}");
    let folder = dest.join(format!("sealdrop-2026-11-25-{}", &s1.id[..8]));
    assert_eq!(std::fs::read(folder.join("фото.jpg")).unwrap(), JPEG);
    assert_eq!(std::fs::read(folder.join("scan.pdf")).unwrap(), big);
    assert_eq!(
        std::fs::read(folder.join("run.sh")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    staff.ok(&["extract", &s1.id[..8], "--to", dest.to_str().unwrap()]);
    assert!(dest
        .join(format!("sealdrop-2026-11-25-{} (2)", &s1.id[..8]))
        .is_dir());
    let out = staff.ok(&["extract", &s3.id[..8], "--to", dest.to_str().unwrap()]);
    assert!(out.contains("no attachments"), "{out}");
    // Clear text never goes into the workspace.
    let inside = staff.ws.join("blobs").join("x");
    let err = staff.fails(&["extract", &s1.id[..8], "--to", inside.to_str().unwrap()]);
    assert!(err.contains("inside the workspace"), "{err}");
    assert!(!inside.exists());

    // tag, untag, status, note.
    let out = staff.ok(&["tag", &s1.id[..5], "Moscow", "urgent", "lawyer"]);
    assert!(out.contains("moscow, urgent, lawyer"), "{out}");
    let out = staff.ok(&["untag", &s1.id[..5], "lawyer"]);
    assert!(out.contains("Its tags now: moscow, urgent."), "{out}");
    assert!(staff
        .fails(&["tag", &s1.id[..5], "two words"])
        .contains("cannot be a tag"));
    let out = staff.ok(&["status", &s1.id[..5], "verified"]);
    assert!(out.contains("new -> verified"), "{out}");
    staff.ok(&["status", &s2.id[..5], "follow-up"]);
    assert!(staff
        .fails(&["status", &s2.id[..5], "done"])
        .contains("not a status"));
    let note = "Called the lawyer; hearing on Monday.";
    staff.ok(&["note", &s1.id[..5], note]);
    let out = staff.run_with_stdin(
        &["note", &s1.id[..5]],
        "Second note, typed\nover two lines.\n",
    );
    assert_ok(&out);
    let out = staff.ok(&["show", &s1.id[..5]]);
    assert!(out.contains("Status      verified") && out.contains("Tags        moscow, urgent"));
    assert!(
        out.contains(note) && out.contains("over two lines."),
        "{out}"
    );

    // Notes are ciphertext to the whole group: a colleague's key opens them.
    let conn = rusqlite::Connection::open(staff.ws.join("sealdesk.sqlite")).unwrap();
    let ciphertext: Vec<u8> = conn
        .query_row(
            "SELECT ciphertext FROM notes ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut plain = String::new();
    age::Decryptor::new(&ciphertext[..])
        .unwrap()
        .decrypt(std::iter::once(&staff.colleague as &dyn age::Identity))
        .unwrap()
        .read_to_string(&mut plain)
        .unwrap();
    // Standard age opens it: a short header (who, when), a blank line, the text.
    assert!(plain.starts_with("sealdesk-note 2\nauthor: "), "{plain}");
    assert!(plain.ends_with(&format!(" UTC\n\n{note}")), "{plain}");
    drop(conn);
    let db = std::fs::read(staff.ws.join("sealdesk.sqlite")).unwrap();
    for secret in [note, "задержан", "ҳақиқат", "Witness", "фото.jpg"] {
        assert!(!contains(&db, secret), "{secret} in clear in the database");
    }

    // Filters.
    let out = staff.ok(&["list", "--status", "verified"]);
    assert!(
        out.contains(&s1.id[..8]) && !out.contains(&s2.id[..8]),
        "{out}"
    );
    let out = staff.ok(&["list", "--tag", "MOSCOW"]);
    assert!(out.contains("1 report(s)"), "{out}");
    let out = staff.ok(&["list", "--from", "2026-11-26", "--to", "2026-11-26"]);
    assert!(
        out.contains(&s2.id[..8]) && out.contains("1 report(s)"),
        "{out}"
    );
    assert!(staff
        .fails(&["list", "--from", "2026-02-30"])
        .contains("not a day"));

    // report, in all three formats, each parsed.
    let json = staff.ok(&["report", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let r1 = rows.iter().find(|r| r["id"] == s1.id.as_str()).unwrap();
    assert_eq!(r1["day"], "2026-11-25");
    assert_eq!(r1["status"], "verified");
    assert_eq!(r1["tags"], serde_json::json!(["moscow", "urgent"]));
    assert_eq!(r1["notes"][0]["text"], note);
    assert_eq!(r1["message"], RUSSIAN);

    let csv = staff.ok(&["report", "--format", "csv", "--status", "follow-up"]);
    let table = parse_csv(&csv);
    assert_eq!(
        table[0],
        [
            "id",
            "day",
            "status",
            "tags",
            "notes",
            "message",
            "contact",
            "attachments"
        ]
    );
    assert_eq!(table.len(), 2);
    assert_eq!(table[1][0], s2.id);
    assert_eq!(table[1][2], "follow-up");
    assert_eq!(table[1][5], TAJIK);
    let csv_file = staff.path("report.csv");
    staff.ok(&["report", "-f", "csv", "--out", csv_file.to_str().unwrap()]);
    let table = parse_csv(&std::fs::read_to_string(&csv_file).unwrap());
    assert_eq!(table.len(), 4);
    let row1 = table.iter().find(|r| r[0] == s1.id).unwrap();
    assert_eq!(row1[5], RUSSIAN, "multi-line cells survive");
    assert!(row1[4].contains(note));
    assert!(staff
        .fails(&["report", "-f", "csv", "--out", csv_file.to_str().unwrap()])
        .contains("never overwrites"));

    let md = staff.ok(&["report", "--format", "markdown"]);
    assert!(
        md.starts_with("# Sealdrop report\n\n3 submission(s)."),
        "{md}"
    );
    assert!(
        md.contains(&format!("## {} (2026-11-25)", &s1.id[..8])),
        "{md}"
    );
    assert!(md.contains(&format!("```text\n{RUSSIAN}\n```")), "{md}");
    assert!(md.contains("- Tags: `moscow`, `urgent`"), "{md}");

    // ack: every imported id, in the spec's format; then nothing new.
    let ack = staff.path("ack.txt");
    let out = staff.ok(&["ack", "--out", ack.to_str().unwrap()]);
    assert!(out.contains("naming 3 report(s)"), "{out}");
    let text = std::fs::read_to_string(&ack).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("sealdrop-ack v1"));
    let mut named: Vec<&str> = lines.filter(|l| !l.starts_with('#')).collect();
    named.sort();
    let mut want: Vec<&str> = ids.iter().map(|s| s.as_str()).collect();
    want.sort();
    assert_eq!(named, want);
    // The server's ack reader accepts it.
    let mut parsed = sealdrop_bundle::ack::read_file(&ack).unwrap();
    parsed.sort();
    assert_eq!(parsed, want);
    let again = staff.path("ack-2.txt");
    let out = staff.ok(&["ack", "--out", again.to_str().unwrap()]);
    assert!(out.contains("Nothing new"), "{out}");
    assert!(!again.exists());
    staff.ok(&["ack", "--all", "--out", again.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&again).unwrap().lines().count(), 4);

    // Ids: short or unknown prefixes are explained.
    assert!(staff.fails(&["show", "zz"]).contains("at least 4"));
    let unknown = if s1.id.starts_with("ffff") {
        "eeee"
    } else {
        "ffff"
    };
    let unknown_ok = !ids.iter().any(|id| id.starts_with(unknown));
    if unknown_ok {
        assert!(staff
            .fails(&["show", unknown])
            .contains("no submission id starts with"));
    }
}

#[test]
fn hostile_filenames_are_extracted_safely_inside_the_folder() {
    let staff = Staff::new();
    let long_name = format!("{}.pdf", "Щ".repeat(4996));
    assert_eq!(long_name.chars().count(), 5000);
    let files: Vec<(String, &[u8])> = vec![
        ("../../etc/passwd".into(), b"root:x:0:0".as_slice()),
        ("C:\\x".into(), b"drive"),
        ("a\0b.txt".into(), b"nul"),
        ("line\nbreak.txt".into(), b"newline"),
        (long_name.clone(), b"long"),
        ("Photo.jpg".into(), b"upper"),
        ("photo.JPG".into(), b"lower"),
        ("caf\u{e9}.txt".into(), b"nfc"),
        ("cafe\u{301}.txt".into(), b"nfd"),
        (".hidden".into(), b"dot"),
        ("CON.txt".into(), b"device"),
        ("holiday.jpg".into(), b"MZ\x90\x00\x03 not a photo"),
        ("empty.txt".into(), b""),
    ];
    let mut source = Source::text("files attached");
    for (name, bytes) in &files {
        source = source.with_file(name, "application/octet-stream", bytes);
    }
    let s = staff.seal("2026-11-20", &source);
    let bundle = staff.bundle("b.sdb", std::slice::from_ref(&s));
    staff.ok(&["import", bundle.to_str().unwrap()]);

    let root = staff.path("root");
    let dest = root.join("out");
    std::fs::create_dir_all(&dest).unwrap();
    let out = staff.ok(&["extract", &s.id[..8], "--to", dest.to_str().unwrap()]);

    // Exactly one new folder inside --to, holding only files, and nothing anywhere else.
    let tree = snapshot(&root);
    let folder_rel = format!("out/sealdrop-2026-11-20-{}/", &s.id[..8]);
    for path in tree.keys() {
        assert!(
            path == "out/" || path.starts_with(&folder_rel),
            "written outside the folder: {path}"
        );
    }
    let folder = root.join(&folder_rel);
    let mut written: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let entry = entry.unwrap();
        assert!(entry.file_type().unwrap().is_file());
        let name = entry.file_name().into_string().unwrap();
        written.insert(name, std::fs::read(entry.path()).unwrap());
    }
    assert_eq!(written.len(), files.len(), "{:?}", written.keys());
    for name in written.keys() {
        assert!(name.len() <= 200, "{} bytes", name.len());
        assert!(!name.contains(['/', '\\', '\0', '\n']) && !name.contains(".."));
        assert!(
            !name.starts_with('.') && !name.ends_with(['.', ' ']),
            "{name:?}"
        );
        assert!(!name.chars().any(char::is_control), "{name:?}");
    }
    let expect = [
        ("etc_passwd", b"root:x:0:0".as_slice()),
        ("C__x", b"drive"),
        ("a_b.txt", b"nul"),
        ("line_break.txt", b"newline"),
        ("Photo.jpg", b"upper"),
        ("photo (2).JPG", b"lower"),
        ("café.txt", b"nfc"),
        ("café (2).txt", b"nfd"),
        ("hidden", b"dot"),
        ("_CON.txt", b"device"),
        // A program under a picture's name gets a name that does not open as a picture.
        ("holiday.jpg.disguised", b"MZ\x90\x00\x03 not a photo"),
        ("empty.txt", b""),
    ];
    for (name, bytes) in expect {
        assert_eq!(written.get(name).map(Vec::as_slice), Some(bytes), "{name}");
    }
    let long = written
        .iter()
        .find(|(n, _)| n.starts_with('Щ'))
        .expect("the long name is kept, shortened");
    assert!(long.0.ends_with(".pdf") && long.1 == b"long");
    // The disguised program is flagged by its content.
    assert!(
        out.contains("holiday.jpg") && out.contains("its content is a Windows program"),
        "{out}"
    );
    assert!(out.contains("Do NOT open them"), "{out}");
}

#[test]
fn refused_bundles_leave_the_workspace_unchanged() {
    let staff = Staff::new();
    let first = staff.seal("2026-11-01", &Source::text("first"));
    let bundle = staff.bundle("good.sdb", &[first]);
    staff.ok(&["import", bundle.to_str().unwrap()]);
    let before = snapshot(&staff.ws);

    let new_subs = [
        staff.seal(
            "2026-11-02",
            &Source::text("second").with_file("a.txt", "text/plain", &[1u8; 5000]),
        ),
        staff.seal("2026-11-03", &Source::text("third")),
    ];
    let good = desk_support::bundle_bytes(
        &staff.server,
        &desk_support::new_id(),
        "2026-11-03",
        &new_subs,
    );

    // Signed by another key.
    let other = desk_support::bundle_bytes(
        &signing_key(),
        &desk_support::new_id(),
        "2026-11-03",
        &new_subs,
    );
    // One bit flipped in the last blob: its hash no longer matches (found only after the
    // earlier blobs were already streamed to the staging folder).
    let mut flipped = good.clone();
    let last = flipped.len() - 20;
    flipped[last] ^= 1;
    // Cut short.
    let truncated = good[..good.len() - 7].to_vec();
    // A byte too many.
    let mut trailing = good.clone();
    trailing.push(0);

    for (name, bytes, check) in [
        ("other-key.sdb", other, "signature"),
        ("flipped.sdb", flipped, "SHA-256 mismatch"),
        ("truncated.sdb", truncated, "truncated"),
        ("trailing.sdb", trailing, "trailing data"),
    ] {
        let path = staff.path(name);
        std::fs::write(&path, bytes).unwrap();
        let err = staff.fails(&["import", path.to_str().unwrap()]);
        assert!(err.contains(check), "{name}: {err}");
        assert!(err.contains("workspace is unchanged"), "{name}: {err}");
        assert_eq!(snapshot(&staff.ws), before, "{name} changed the workspace");
    }
    let out = staff.ok(&["list"]);
    assert!(out.contains("1 report(s)"), "{out}");

    // The genuine bundle still imports afterwards.
    let path = staff.path("good-2.sdb");
    std::fs::write(&path, &good).unwrap();
    let out = staff.ok(&["import", path.to_str().unwrap()]);
    assert!(out.contains("2 new report(s)"), "{out}");
}

#[test]
fn reimport_and_overlapping_bundles_add_nothing_twice() {
    let staff = Staff::new();
    let a = staff.seal(
        "2026-10-01",
        &Source::text("a").with_file("x.txt", "text/plain", b"x"),
    );
    let b = staff.seal("2026-10-02", &Source::text("b"));
    let c = staff.seal("2026-10-03", &Source::text("c"));
    let first = staff.bundle("1.sdb", &[a.clone(), b.clone()]);
    staff.ok(&["import", first.to_str().unwrap()]);
    staff.ok(&["tag", &a.id[..8], "kept"]);
    let before = snapshot(&staff.ws);

    let out = staff.ok(&["import", first.to_str().unwrap()]);
    assert!(out.contains("Nothing new: all 2 report(s)"), "{out}");
    assert_eq!(snapshot(&staff.ws), before, "re-import wrote something");

    // What a crash between moving blobs in and recording them leaves behind (a staging folder
    // and a blob no row owns) is cleaned up by the next import.
    std::fs::create_dir(staff.ws.join("import-00deadbeef00")).unwrap();
    std::fs::write(
        staff.ws.join("import-00deadbeef00").join("x.age"),
        b"partial",
    )
    .unwrap();
    let orphan = staff
        .ws
        .join("blobs")
        .join(format!("{}.age", "ab".repeat(16)));
    std::fs::write(&orphan, b"age-encryption.org/v1\n...").unwrap();

    // An overlapping bundle (a later `--since` or `--all` export) adds only what is new.
    let overlap = staff.bundle("2.sdb", &[b, c.clone(), a.clone()]);
    let out = staff.ok(&["import", overlap.to_str().unwrap()]);
    assert!(out.contains("1 new report(s), 2 already here"), "{out}");
    let out = staff.ok(&["list"]);
    assert!(out.contains("3 report(s)"), "{out}");
    assert!(out.contains("kept"), "triage survives: {out}");
    assert_eq!(
        std::fs::read_dir(staff.ws.join("blobs")).unwrap().count(),
        2 + 1 + 1
    );
    assert!(!orphan.exists());
    assert!(!staff.ws.join("import-00deadbeef00").exists());
}

#[test]
fn passphrase_protected_identity_via_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("staff.age");
    let pass = "ten words would be better than this one";
    let out = Command::new(SEALDESK)
        .args(["keygen", "--out", key.to_str().unwrap()])
        .env("SEALDESK_PASSPHRASE", pass)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ok(&out);
    let recipient = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    // The key file is a standard passphrase-protected age file.
    let armored = std::fs::read_to_string(&key).unwrap();
    assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(!armored.contains("AGE-SECRET-KEY"));

    let recipients_path = tmp.path().join("r.txt");
    std::fs::write(&recipients_path, format!("{recipient}\n")).unwrap();
    let recipients = Recipients::load(&recipients_path).unwrap();
    let server = signing_key();
    let ws = tmp.path().join("ws");
    let desk = |args: &[&str], passphrase: Option<&str>| {
        let mut cmd = Command::new(SEALDESK);
        cmd.arg("--workspace")
            .arg(&ws)
            .args(args)
            .stdin(Stdio::null());
        cmd.env_remove("SEALDESK_PASSPHRASE");
        if let Some(p) = passphrase {
            cmd.env("SEALDESK_PASSPHRASE", p);
        }
        cmd.output().unwrap()
    };
    let fp = desk_support::fingerprint(&server);
    assert_ok(&desk(
        &[
            "init",
            "--identity",
            key.to_str().unwrap(),
            "--recipients",
            recipients_path.to_str().unwrap(),
            "--server-key",
            &fp,
        ],
        None,
    ));
    let s = seal_submission(&recipients, "2026-09-09", &Source::text("через пароль"));
    let bundle = tmp.path().join("b.sdb");
    write_bundle(&bundle, &server, std::slice::from_ref(&s));
    assert_ok(&desk(&["import", bundle.to_str().unwrap()], None));
    let out = desk(&["show", &s.id[..8]], Some(pass));
    assert_ok(&out);
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("через пароль"));
    let out = desk(&["show", &s.id[..8]], Some("not the passphrase"));
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("wrong passphrase"));
    // No terminal and no environment variable: a clear message, not a hang.
    let out = desk(&["show", &s.id[..8]], None);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("SEALDESK_PASSPHRASE"), "{err}");

    // The blob in the workspace opens with the age crate and the same key (invariant 6).
    let keyring = sealdesk::identity::load(&key, || {
        Ok(age::secrecy::SecretString::from(pass.to_owned()))
    })
    .unwrap();
    let blob = std::fs::read(ws.join("blobs").join(format!("{}.age", s.blobs[0].id))).unwrap();
    let mut plain = Vec::new();
    keyring
        .decrypt(&blob[..])
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    assert!(contains(&plain, "через пароль"));
}

#[test]
fn commands_without_a_workspace_say_how_to_make_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sealdesk(
        &[
            "--workspace",
            tmp.path().join("none").to_str().unwrap(),
            "list",
        ],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("sealdesk init"), "{err}");
    assert!(
        !tmp.path().join("none").exists(),
        "list must not create a workspace"
    );
}

#[test]
fn extract_does_not_depend_on_the_order_of_attachments_in_the_bundle() {
    // `sealdrop export` lists a submission's attachments by blob id; the envelope lists them in
    // the order the source chose them. The format says that order carries no meaning.
    let staff = Staff::new();
    let mut s = staff.seal(
        "2026-11-21",
        &Source::text("three files")
            .with_file("a.txt", "text/plain", b"first")
            .with_file("b.txt", "text/plain", b"second")
            .with_file("c.txt", "text/plain", b"third"),
    );
    s.blobs[1..].reverse();
    let bundle = staff.bundle("reordered.sdb", std::slice::from_ref(&s));
    staff.ok(&["import", bundle.to_str().unwrap()]);
    let dest = staff.path("out");
    staff.ok(&["extract", &s.id[..8], "--to", dest.to_str().unwrap()]);
    let folder = dest.join(format!("sealdrop-2026-11-21-{}", &s.id[..8]));
    for (name, bytes) in [
        ("a.txt", b"first".as_slice()),
        ("b.txt", b"second"),
        ("c.txt", b"third"),
    ] {
        assert_eq!(std::fs::read(folder.join(name)).unwrap(), bytes, "{name}");
    }
}
