//! `sealdrop import-outbox` through the real binary on a real data directory: real outboxes
//! written by `OutboxWriter` with a real desk key, replies that are real padded age files, and
//! hostile outboxes, each refused by name with the server's state left exactly as it was.

mod bundle_support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OpenFlags};
use sealdrop_bundle::outbox::format::padded_size;
use sealdrop_bundle::outbox::write::signed_head;
use sealdrop_bundle::outbox::{desk_key, Manifest, OutboxWriter, Reply};
use sealdrop_bundle::signing::format_fingerprint;
use sealdrop_core::day::Date;
use sealdrop_core::new_id;

use bundle_support::*;

/// A data directory with submissions, a config file and a pinned desk key.
struct Server {
    _dir: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    config: PathBuf,
    desk: SigningKey,
    /// A source's reply identity (the desk encrypts to its recipient).
    source: age::x25519::Identity,
}

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let data = root.join("data");
    // The server's start-up makes the data directory (replies/ too) and the schema.
    add_submissions(&data, &staff(), &[]);
    let desk = desk_key::generate();
    std::fs::write(
        root.join("desk-keys.txt"),
        format!(
            "# the newsroom desk, read aloud on 2026-11-02\n{}\n",
            format_fingerprint(&desk.verifying_key())
        ),
    )
    .unwrap();
    let config = root.join("sealdrop.toml");
    std::fs::write(&config, "desk_keys_file = \"desk-keys.txt\"\n").unwrap();
    Server {
        _dir: dir,
        root,
        data,
        config,
        desk,
        source: age::x25519::Identity::generate(),
    }
}

impl Server {
    fn import(&self, file: &Path) -> std::process::Output {
        sealdrop(
            &self.data,
            &[
                "import-outbox",
                "--config",
                self.config.to_str().unwrap(),
                file.to_str().unwrap(),
            ],
        )
    }

    fn import_ok(&self, file: &Path) -> String {
        let out = self.import(file);
        assert!(
            out.status.success(),
            "import failed:\n{}\n{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// Import `file`, require a refusal whose message contains `check`, and that nothing on
    /// the server changed.
    fn refused(&self, file: &Path, check: &str) {
        let before = snapshot(&self.data);
        let out = self.import(file);
        let err = stderr(&out);
        assert!(!out.status.success(), "accepted: {}", stdout(&out));
        assert!(err.contains(check), "expected {check:?} in:\n{err}");
        assert_eq!(snapshot(&self.data), before, "the server's state changed");
    }

    /// A padded reply to this server's source, as the desk makes it.
    fn reply(&self, mailbox: &str, text: &str) -> Reply {
        Reply {
            id: new_id(),
            mailbox: mailbox.to_owned(),
            expires: in_days(30),
            ciphertext: encrypt(&self.source.to_public(), text),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Write a valid outbox signed by the pinned desk key.
    fn outbox(&self, name: &str, sequence: u64, acks: &[String], replies: &[Reply]) -> PathBuf {
        write_outbox(&self.path(name), &self.desk, sequence, acks, replies);
        self.path(name)
    }

    /// An outbox whose manifest was changed after the writer's checks, then signed by the
    /// pinned key: what a compromised or buggy desk could send.
    fn crafted(
        &self,
        name: &str,
        sequence: u64,
        replies: &[Reply],
        change: impl FnOnce(&mut Manifest, &mut Vec<Vec<u8>>),
    ) -> PathBuf {
        let mut writer = OutboxWriter::new(&self.desk, sequence, today());
        for r in replies {
            writer.reply(r.clone());
        }
        let mut manifest = writer.manifest().unwrap();
        let mut bodies: Vec<Vec<u8>> = replies.iter().map(|r| r.ciphertext.clone()).collect();
        change(&mut manifest, &mut bodies);
        let mut bytes = signed_head(&serde_json::to_vec(&manifest).unwrap(), &self.desk).unwrap();
        for body in bodies {
            bytes.extend_from_slice(&body);
        }
        std::fs::write(self.path(name), bytes).unwrap();
        self.path(name)
    }
}

fn write_outbox(path: &Path, key: &SigningKey, sequence: u64, acks: &[String], replies: &[Reply]) {
    let mut writer = OutboxWriter::new(key, sequence, today());
    for a in acks {
        writer.ack(a.clone());
    }
    for r in replies {
        writer.reply(r.clone());
    }
    writer.write(path).unwrap();
}

fn in_days(days: i64) -> Date {
    Date::from_days(today().to_days() + days)
}

/// A standard age file of `text` padded with zeros to its padded size.
fn encrypt(recipient: &age::x25519::Recipient, text: &str) -> Vec<u8> {
    let mut plain = text.as_bytes().to_vec();
    plain.resize(padded_size(plain.len() as u64).unwrap() as usize, 0);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = encryptor.wrap_output(&mut out).unwrap();
    w.write_all(&plain).unwrap();
    w.finish().unwrap();
    out
}

fn decrypt_reply(identity: &age::x25519::Identity, ciphertext: &[u8]) -> String {
    let mut plain = Vec::new();
    age::Decryptor::new(ciphertext)
        .unwrap()
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    let end = plain.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    String::from_utf8(plain[..end].to_vec()).unwrap()
}

fn db(data: &Path) -> Connection {
    Connection::open_with_flags(
        data.join("sealdrop.sqlite"),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap()
}

fn query(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        let cols: Vec<String> = (0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                other => format!("{other:?}"),
            })
            .collect();
        Ok(cols.join("|"))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let len = e.metadata().unwrap().len();
            format!("{}:{len}", e.file_name().to_string_lossy())
        })
        .collect();
    names.sort();
    names
}

/// Everything an import may change: the rows and the files.
fn snapshot(data: &Path) -> Vec<Vec<String>> {
    let conn = db(data);
    vec![
        query(&conn, "SELECT * FROM replies ORDER BY id"),
        query(&conn, "SELECT * FROM desk_sequences ORDER BY desk_key"),
        query(&conn, "SELECT id FROM submissions ORDER BY id"),
        query(&conn, "SELECT id FROM blobs ORDER BY id"),
        listing(&data.join("replies")),
        listing(&data.join("blobs")),
        listing(&data.join("incoming")),
    ]
}

fn mailbox() -> String {
    new_id()
}

/// A server that already accepted outbox 1 (one reply), so refusals are checked against a
/// state that is not empty.
fn server_with_one_import() -> (Server, Reply) {
    let s = server();
    let first = s.reply(&mailbox(), "first");
    let path = s.outbox("first.outbox", 1, &[], std::slice::from_ref(&first));
    s.import_ok(&path);
    (s, first)
}

#[test]
fn a_valid_outbox_stores_replies_and_purges_acked_exported_submissions() {
    let s = server();
    let staff = staff();
    let made = add_submissions(
        &s.data,
        &staff,
        &[
            spec(days_ago(2), "one", &[("a.txt", b"alpha")]),
            spec(days_ago(1), "two", &[]),
        ],
    );
    sealdrop_ok(
        &s.data,
        &["export", "--out", s.path("b1.bundle").to_str().unwrap()],
    );
    let not_exported = add_submissions(&s.data, &staff, &[spec(today(), "three", &[])]);
    let unknown = new_id();
    let (m1, m2) = (mailbox(), mailbox());
    let replies = [
        s.reply(&m1, "Спасибо, мы получили ваши документы."),
        s.reply(&m2, &"long reply ".repeat(600)),
        s.reply(&m1, "A second reply to the same source."),
    ];
    let acks = [
        made[0].id.clone(),
        made[1].id.clone(),
        not_exported[0].id.clone(),
        unknown.clone(),
    ];
    let path = s.outbox("o1.outbox", 1, &acks, &replies);
    let summary = s.import_ok(&path);
    assert!(
        summary.contains("3 reply(ies) stored; 2 acknowledged submission(s) purged"),
        "{summary}"
    );
    assert!(
        summary.contains(&format_fingerprint(&s.desk.verifying_key())),
        "{summary}"
    );
    assert!(summary.contains("were NOT purged"), "{summary}");
    assert!(summary.contains(&not_exported[0].id), "{summary}");

    // The rows, in outbox order, and the files, which open with the source's identity.
    let conn = db(&s.data);
    let rows = query(
        &conn,
        "SELECT id, mailbox, ordinal, expires, size FROM replies ORDER BY ordinal",
    );
    assert_eq!(rows.len(), 3);
    for (i, (row, reply)) in rows.iter().zip(&replies).enumerate() {
        assert_eq!(
            *row,
            format!(
                "{}|{}|{}|{}|{}",
                reply.id,
                reply.mailbox,
                i + 1,
                reply.expires,
                reply.ciphertext.len()
            )
        );
        let file = std::fs::read(s.data.join("replies").join(format!("{}.age", reply.id))).unwrap();
        assert_eq!(file, reply.ciphertext);
    }
    let stored =
        |r: &Reply| std::fs::read(s.data.join("replies").join(format!("{}.age", r.id))).unwrap();
    assert_eq!(
        decrypt_reply(&s.source, &stored(&replies[0])),
        "Спасибо, мы получили ваши документы."
    );
    assert!(decrypt_reply(&s.source, &stored(&replies[1])).starts_with("long reply long"));
    assert_eq!(
        query(&conn, "SELECT desk_key, last_sequence FROM desk_sequences"),
        [format!(
            "{}|1",
            hex::encode(s.desk.verifying_key().as_bytes())
        )]
    );
    // Exported and acknowledged: gone with their files. Not exported: kept.
    assert_eq!(
        query(&conn, "SELECT id FROM submissions"),
        [not_exported[0].id.clone()]
    );
    for m in &made {
        for blob in &m.blob_ids {
            assert!(!blob_path(&s.data, blob).exists());
        }
    }
    assert!(blob_path(&s.data, &not_exported[0].blob_ids[0]).exists());
    assert!(
        listing(&s.data.join("incoming")).is_empty(),
        "no staging left"
    );

    // The next outbox (with a gap in the sequence) numbers its replies after these.
    let next = s.reply(&m2, "third outbox");
    let path = s.outbox("o3.outbox", 3, &[], std::slice::from_ref(&next));
    s.import_ok(&path);
    let conn = db(&s.data);
    assert_eq!(
        query(
            &conn,
            &format!("SELECT ordinal FROM replies WHERE id = '{}'", next.id)
        ),
        ["4"]
    );
    assert_eq!(
        query(&conn, "SELECT last_sequence FROM desk_sequences"),
        ["3"]
    );
}

#[test]
fn an_unsigned_outbox_is_refused() {
    let (s, _) = server_with_one_import();
    let path = s.outbox("o.outbox", 2, &[], &[s.reply(&mailbox(), "x")]);
    let mut bytes = std::fs::read(&path).unwrap();
    let m = u32::from_be_bytes(bytes[52..56].try_into().unwrap()) as usize;
    bytes[56 + m..120 + m].fill(0);
    std::fs::write(&path, bytes).unwrap();
    s.refused(&path, "unsigned outbox");
}

#[test]
fn an_outbox_signed_by_an_unpinned_key_is_refused() {
    let (s, _) = server_with_one_import();
    let other = desk_key::generate();
    let path = s.path("o.outbox");
    write_outbox(&path, &other, 2, &[], &[s.reply(&mailbox(), "x")]);
    s.refused(&path, "unpinned desk key");
}

#[test]
fn a_replayed_outbox_is_refused() {
    let (s, _) = server_with_one_import();
    s.refused(&s.path("first.outbox"), "replayed outbox");
}

#[test]
fn an_older_outbox_is_refused() {
    let (s, _) = server_with_one_import();
    let five = s.outbox("five.outbox", 5, &[], &[s.reply(&mailbox(), "5")]);
    s.import_ok(&five);
    let three = s.outbox("three.outbox", 3, &[], &[s.reply(&mailbox(), "3")]);
    s.refused(&three, "older outbox");
}

#[test]
fn a_truncated_outbox_is_refused() {
    let (s, _) = server_with_one_import();
    let path = s.outbox("o.outbox", 2, &[], &[s.reply(&mailbox(), "x")]);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    s.refused(&path, "truncated outbox");
}

#[test]
fn a_bit_flipped_manifest_is_refused() {
    let (s, _) = server_with_one_import();
    let path = s.outbox("o.outbox", 2, &[], &[s.reply(&mailbox(), "x")]);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[56 + 40] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    s.refused(&path, "signature invalid");
}

#[test]
fn a_bit_flipped_reply_is_refused_after_earlier_replies_were_staged() {
    let (s, _) = server_with_one_import();
    // The first reply is good and gets staged; the last is damaged.
    let replies = [s.reply(&mailbox(), "good"), s.reply(&mailbox(), "damaged")];
    let path = s.outbox("o.outbox", 2, &[], &replies);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0x80;
    std::fs::write(&path, bytes).unwrap();
    s.refused(&path, "SHA-256 mismatch");
}

#[test]
fn an_oversized_reply_or_trailing_data_is_refused() {
    let (s, _) = server_with_one_import();
    // Signed by the real desk key, but not padded: 10,000 bytes fits no size class.
    let path = s.crafted("o.outbox", 2, &[s.reply(&mailbox(), "x")], |m, bodies| {
        bodies[0].resize(10_000, 7);
        m.replies[0].size = 10_000;
    });
    s.refused(&path, "bad reply size");

    let path = s.outbox("t.outbox", 2, &[], &[s.reply(&mailbox(), "x")]);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(&[0u8; 4096]).unwrap();
    s.refused(&path, "trailing data");
}

#[test]
fn path_like_ids_are_refused() {
    let (s, _) = server_with_one_import();
    let path = s.crafted("id.outbox", 2, &[s.reply(&mailbox(), "x")], |m, _| {
        m.replies[0].id = "../../../../tmp/evil".into();
    });
    s.refused(&path, "bad id");
    let path = s.crafted("mb.outbox", 2, &[s.reply(&mailbox(), "x")], |m, _| {
        m.replies[0].mailbox = "../blobs/aaaaaaaaaaaaaaaaaaaaaaaa".into();
    });
    s.refused(&path, "bad id");
    assert!(!Path::new("/tmp/evil.age").exists());
}

#[test]
fn duplicate_reply_ids_are_refused() {
    let (s, _) = server_with_one_import();
    let replies = [s.reply(&mailbox(), "a"), s.reply(&mailbox(), "b")];
    let path = s.crafted("o.outbox", 2, &replies, |m, _| {
        m.replies[1].id = m.replies[0].id.clone();
    });
    s.refused(&path, "duplicate reply id");
}

#[test]
fn a_reply_id_already_stored_is_refused() {
    let (s, first) = server_with_one_import();
    let again = Reply {
        ciphertext: encrypt(&s.source.to_public(), "replacement"),
        ..first
    };
    let path = s.outbox("o.outbox", 2, &[], &[s.reply(&mailbox(), "new"), again]);
    s.refused(&path, "reply already stored");
}

#[test]
fn a_sequence_sqlite_cannot_hold_is_refused() {
    let (s, _) = server_with_one_import();
    let path = s.outbox("o.outbox", u64::MAX, &[], &[]);
    s.refused(&path, "sequence out of range");
}

#[test]
fn the_desk_keys_file_refuses_secret_keys_and_malformed_lines() {
    let (s, _) = server_with_one_import();
    let path = s.outbox("o.outbox", 2, &[], &[s.reply(&mailbox(), "x")]);
    let pins = s.path("desk-keys.txt");
    let good = std::fs::read_to_string(&pins).unwrap();

    std::fs::write(&pins, format!("{good}AGE-SECRET-KEY-1QQQQQQQQ\n")).unwrap();
    s.refused(&path, "line 3 holds an age SECRET key");

    std::fs::write(&pins, format!("{good}not a fingerprint\n")).unwrap();
    s.refused(&path, "line 3 is not a desk fingerprint");

    std::fs::write(&pins, "# nobody pinned yet\n").unwrap();
    s.refused(&path, "pins no desk key");

    std::fs::write(&pins, good).unwrap();
    s.import_ok(&path);
}

#[test]
fn no_reply_is_kept_longer_than_the_operator_allows() {
    let server = server();
    std::fs::write(
        &server.config,
        "desk_keys_file = \"desk-keys.txt\"\nreply_keep_days = 7\n",
    )
    .unwrap();
    let box_id = mailbox();
    let mut long = server.reply(&box_id, "kept a week, not 300 days");
    long.expires = in_days(300);
    let short = Reply {
        expires: in_days(3),
        ..server.reply(&box_id, "asked for three days")
    };
    let file = server.outbox("keep.outbox", 1, &[], &[long.clone(), short.clone()]);
    server.import_ok(&file);
    let conn = db(&server.data);
    let expiry = |id: &str| -> String {
        conn.query_row("SELECT expires FROM replies WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
    };
    assert_eq!(
        expiry(&long.id),
        in_days(7).to_string(),
        "cut to the operator's limit"
    );
    assert_eq!(
        expiry(&short.id),
        in_days(3).to_string(),
        "a shorter wish is kept"
    );
}
