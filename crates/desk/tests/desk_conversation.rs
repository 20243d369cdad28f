//! The return channel on the desk, through the real `sealdesk`: threads in `list` and `show`,
//! replies a real codename opens, and signed outboxes the server's reader accepts.

mod desk_support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

use desk_support::{assert_ok, seal_submission, sealdesk, signing_key, write_bundle, Source};
use sealdrop_bundle::outbox::{desk_key, OutboxReader};
use sealdrop_bundle::signing::format_fingerprint;
use sealdrop_core::codename::{Codename, DerivationGate, Derived};
use sealdrop_core::day::Date;
use sealdrop_core::envelope::Conversation;
use sealdrop_core::keys::Recipients;

struct Desk {
    tmp: tempfile::TempDir,
    ws: PathBuf,
    recipients: Recipients,
    server: ed25519_dalek::SigningKey,
    init: Output,
}

impl Desk {
    /// keygen and init; `in_group`: whether the group's keys include the staff key.
    fn new(in_group: bool) -> Desk {
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
        let colleague = age::x25519::Identity::generate().to_public().to_string();
        let text = if in_group {
            format!("{mine}\n{colleague}\n")
        } else {
            format!("{colleague}\n")
        };
        let path = tmp.path().join("recipients.txt");
        std::fs::write(&path, &text).unwrap();
        // Submissions are sealed to the staff key (as the server's recipients would).
        let recipients = Recipients::parse(&path, format!("{mine}\n").as_bytes()).unwrap();
        let server = signing_key();
        let ws = tmp.path().join("ws");
        let init = sealdesk(
            &[
                "--workspace",
                ws.to_str().unwrap(),
                "init",
                "--identity",
                identity.to_str().unwrap(),
                "--recipients",
                path.to_str().unwrap(),
                "--server-key",
                &desk_support::fingerprint(&server),
            ],
            None,
        );
        assert_ok(&init);
        Desk {
            tmp,
            ws,
            recipients,
            server,
            init,
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut all = vec!["--workspace", self.ws.to_str().unwrap()];
        all.extend_from_slice(args);
        sealdesk(&all, stdin)
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert_ok(&out);
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            !out.status.success(),
            "`{}` should fail: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn desk_key(&self) -> ed25519_dalek::VerifyingKey {
        desk_key::load(&self.ws.join(desk_key::KEY_FILE))
            .unwrap()
            .verifying_key()
    }
}

fn conversation(d: &Derived) -> Conversation {
    Conversation {
        thread: d.thread_id.clone(),
        mailbox: d.mailbox_id.clone(),
        reply_to: d.reply_recipient().to_string(),
    }
}

fn with_codename(message: &str, d: &Derived) -> Source {
    Source {
        conversation: Some(conversation(d)),
        ..Source::text(message)
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

/// Every reply in an outbox, decrypted with the source's reply identity.
fn replies_in(path: &Path, desk: &ed25519_dalek::VerifyingKey, d: &Derived) -> Vec<Vec<u8>> {
    let reader = OutboxReader::open(path, &[*desk]).unwrap();
    let mut plain = Vec::new();
    reader
        .for_each_reply(|entry, bytes| {
            assert_eq!(entry.mailbox, d.mailbox_id);
            let mut out = Vec::new();
            age::Decryptor::new(bytes)
                .unwrap()
                .decrypt(std::iter::once(&d.reply_identity as &dyn age::Identity))
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            plain.push(out);
            Ok(())
        })
        .unwrap();
    plain
}

#[test]
fn threads_replies_and_signed_outboxes() {
    let desk = Desk::new(true);
    let init = String::from_utf8(desk.init.stdout.clone()).unwrap();
    let pinned = desk.desk_key();
    let fp = format_fingerprint(&pinned);
    assert!(init.contains(&fp), "init prints the outbox key:\n{init}");
    assert!(
        !String::from_utf8_lossy(&desk.init.stderr).contains("WARNING"),
        "no warning when the staff key is in the group"
    );
    assert_eq!(desk.ok(&["fingerprint"], None).trim(), fp);

    let source = Codename::generate().derive(&DerivationGate::new(1));
    let first = seal_submission(
        &desk.recipients,
        "2026-09-01",
        &with_codename("first words", &source),
    );
    let second = seal_submission(
        &desk.recipients,
        "2026-09-03",
        &with_codename("second words", &source),
    );
    let alone = seal_submission(&desk.recipients, "2026-09-02", &Source::text("alone here"));
    // Sealed to another key only: imported, but this desk cannot open it.
    let stranger = age::x25519::Identity::generate().to_public().to_string();
    let others = Recipients::parse(Path::new("r"), format!("{stranger}\n").as_bytes()).unwrap();
    let foreign = seal_submission(&others, "2026-09-02", &Source::text("not for us"));
    let bundle = desk.path("b.sdb");
    write_bundle(
        &bundle,
        &desk.server,
        &[
            first.clone(),
            alone.clone(),
            foreign.clone(),
            second.clone(),
        ],
    );
    desk.ok(&["import", bundle.to_str().unwrap()], None);

    // list: the thread is one group, at its newest, the older one right under it.
    let list = desk.ok(&["list"], None);
    let head = line_of(&list, "second words");
    assert!(
        list.lines().nth(head).unwrap().contains("[thread of 2]"),
        "{list}"
    );
    let under = line_of(&list, "first words");
    assert_eq!(under, head + 1, "{list}");
    assert!(list.lines().nth(under).unwrap().contains('└'), "{list}");
    assert!(!list
        .lines()
        .nth(line_of(&list, "alone here"))
        .unwrap()
        .contains("thread"));

    // show of either part: the whole conversation, in order.
    let show = desk.ok(&["show", &first.id[..8]], None);
    assert!(show.contains("CONVERSATION (2 report(s)"), "{show}");
    let conv = &show[show.find("CONVERSATION").unwrap()..];
    assert!(conv.find("first words").unwrap() < conv.find("second words").unwrap());
    assert!(!conv.contains("alone here"));

    // A reply, from standard input.
    let text = "Мы прочитали. Спасибо, будьте осторожны.";
    let said = desk.ok(&["reply", &second.id[..8]], Some(text));
    assert!(said.contains("padded to 4096 bytes"), "{said}");
    // Refused where there is no conversation: nothing is queued.
    let err = desk.fails(&["reply", &alone.id[..8]], Some("hello"));
    assert!(err.contains("did not choose a codename"), "{err}");
    // The reply is part of the conversation `show` gives.
    let show = desk.ok(&["show", &first.id[..8]], None);
    assert!(show.contains(text) && show.contains("queued"), "{show}");

    // The first outbox: signed by the pinned key, the reply and the acks of what opens.
    let o1 = desk.path("outbox-1");
    let out = desk.run(&["outbox", "--out", o1.to_str().unwrap()], None);
    assert_ok(&out);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&foreign.id[..8]),
        "the foreign one is named as left out: {err}"
    );
    let reader = OutboxReader::open(&o1, &[pinned]).unwrap();
    assert_eq!(reader.sequence(), 1);
    let mut acks = reader.acks().to_vec();
    acks.sort();
    let mut want = vec![first.id.clone(), second.id.clone(), alone.id.clone()];
    want.sort();
    assert_eq!(acks, want, "acks only what this desk opens");
    let entry = &reader.manifest().replies[0];
    let today = sealdesk::workspace::today();
    assert_eq!(
        Date::parse(&entry.expires).unwrap().to_days(),
        today.to_days() + 30
    );
    drop(reader);
    let plain = replies_in(&o1, &pinned, &source);
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].len(), 4096, "padded");
    assert_eq!(
        sealdesk::conversation::unpad_reply(&plain[0]),
        Some(text),
        "UTF-8 then zero bytes"
    );
    assert!(desk
        .ok(&["show", &second.id[..8]], None)
        .contains("sent in outbox 1"));

    // A second outbox: a higher sequence, only what is new; --again rewrites it alike.
    desk.ok(
        &["reply", &first.id[..8], "--days", "7"],
        Some("Second reply."),
    );
    let o2 = desk.path("outbox-2");
    desk.ok(&["outbox", "--out", o2.to_str().unwrap()], None);
    let r2 = OutboxReader::open(&o2, &[pinned]).unwrap();
    assert_eq!(r2.sequence(), 2);
    assert!(r2.acks().is_empty());
    assert_eq!(r2.manifest().replies.len(), 1);
    assert_eq!(
        Date::parse(&r2.manifest().replies[0].expires)
            .unwrap()
            .to_days(),
        today.to_days() + 7
    );
    let o3 = desk.path("outbox-2-again");
    desk.ok(&["outbox", "--again", "--out", o3.to_str().unwrap()], None);
    let r3 = OutboxReader::open(&o3, &[pinned]).unwrap();
    assert_eq!(r3.sequence(), 2);
    assert_eq!(r3.manifest().replies, r2.manifest().replies);
    // Nothing new: no file.
    let o4 = desk.path("outbox-4");
    let err = desk.fails(&["outbox", "--out", o4.to_str().unwrap()], None);
    assert!(err.contains("nothing to send"), "{err}");
    assert!(!o4.exists());
}

#[test]
fn a_desk_whose_key_is_not_in_the_group_is_warned_and_locks_nothing_away() {
    let desk = Desk::new(false);
    let warning = String::from_utf8(desk.init.stderr.clone()).unwrap();
    assert!(warning.contains("WARNING: your staff key"), "{warning}");

    let source = Codename::generate().derive(&DerivationGate::new(1));
    let s = seal_submission(
        &desk.recipients,
        "2026-09-01",
        &with_codename("hello", &source),
    );
    let bundle = desk.path("b.sdb");
    write_bundle(&bundle, &desk.server, std::slice::from_ref(&s));
    desk.ok(&["import", bundle.to_str().unwrap()], None);
    let err = desk.fails(&["reply", &s.id[..8]], Some("a reply"));
    assert!(err.contains("could never read it again"), "{err}");
    let err = desk.fails(&["note", &s.id[..8]], Some("a note"));
    assert!(err.contains("could never read it again"), "{err}");
    // Nothing was queued: the outbox holds only the acknowledgement.
    let o = desk.path("o");
    desk.ok(&["outbox", "--out", o.to_str().unwrap()], None);
    let r = OutboxReader::open(&o, &[desk.desk_key()]).unwrap();
    assert!(r.manifest().replies.is_empty());
    assert_eq!(r.acks(), std::slice::from_ref(&s.id));
}
