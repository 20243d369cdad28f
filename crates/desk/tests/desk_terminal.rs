//! Staff's first day (project issue 12), through the real `sealdesk` in a pseudo-terminal where
//! a prompt is the thing: passphrases asked twice and again, a session unlocked once, notes from
//! an editor, re-pinning the server key, the workspace's fixed place.

mod desk_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use desk_support::{fingerprint, seal_submission, signing_key, write_bundle, Source};
use ed25519_dalek::SigningKey;
use rexpect::process::WaitStatus;
use rexpect::session::{spawn_command, PtySession};
use sealdrop_bundle::signing::parse_fingerprint;
use sealdrop_core::keys::Recipients;

const PASS: &str = "correct horse battery staple";

/// A staff member's computer: a home folder, a passphrase-protected key, the group's keys and
/// the server's signing key.
struct Desk {
    tmp: tempfile::TempDir,
    key: PathBuf,
    recipients: PathBuf,
    public: String,
    server: SigningKey,
}

impl Desk {
    fn new() -> Desk {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("home")).unwrap();
        let key = tmp.path().join("staff.age");
        let public = sealdesk::identity::generate(&key, Some(PASS.to_owned().into())).unwrap();
        let recipients = tmp.path().join("recipients.txt");
        std::fs::write(&recipients, format!("{public}\n")).unwrap();
        Desk {
            tmp,
            key,
            recipients,
            public,
            server: signing_key(),
        }
    }

    fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// The real `sealdesk`, as staff run it: HOME is this desk's, no SEALDESK_* or editor
    /// setting leaks in, and no pinentry is found (so the terminal is asked, as on a machine
    /// without one).
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealdesk"));
        cmd.args(args)
            .current_dir(self.tmp.path())
            .env("HOME", self.home())
            .env("USER", "staffer")
            .env("PINENTRY_PROGRAM", "/nonexistent/pinentry")
            .env("TERM", "dumb")
            .env("COLUMNS", "200");
        for var in [
            "SEALDESK_WORKSPACE",
            "SEALDESK_IDENTITY",
            "SEALDESK_PASSPHRASE",
            "XDG_DATA_HOME",
            "XDG_RUNTIME_DIR",
            "VISUAL",
            "EDITOR",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Run without a terminal; the passphrase through SEALDESK_PASSPHRASE.
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = self.command(args);
        cmd.env("SEALDESK_PASSPHRASE", PASS)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, "");
        assert!(
            out.status.success(),
            "sealdesk {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Start in a pseudo-terminal.
    fn pty(&self, args: &[&str]) -> PtySession {
        spawn_command(self.command(args), Some(60_000)).unwrap()
    }

    /// `init` in the default place with `fingerprint` pinned.
    fn init(&self, fingerprint: &str) -> String {
        let key = self.key.to_str().unwrap();
        let recipients = self.recipients.to_str().unwrap();
        self.ok(&[
            "init",
            "-i",
            key,
            "--recipients",
            recipients,
            "--server-key",
            fingerprint,
        ])
    }

    /// A bundle with one submission, signed by this desk's server.
    fn bundle(&self, name: &str, source: &Source) -> (PathBuf, String) {
        let group =
            Recipients::parse(Path::new("r"), format!("{}\n", self.public).as_bytes()).unwrap();
        let sealed = seal_submission(&group, "2026-11-28", source);
        let path = self.path(name);
        write_bundle(&path, &self.server, std::slice::from_ref(&sealed));
        (path, sealed.id)
    }
}

fn exit_code(p: &mut PtySession) -> i32 {
    match p.process_mut().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("sealdesk did not exit normally: {other:?}"),
    }
}

/// rexpect reads the terminal byte by byte, each byte a `char`: UTF-8 text as it sees it.
fn bytes(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

/// What rexpect read, back as the text sealdesk wrote.
fn text(seen: &str) -> String {
    String::from_utf8_lossy(&seen.chars().map(|c| c as u8).collect::<Vec<u8>>()).into_owned()
}

/// Wait for `text` (any script); returns what came before it.
fn expect(p: &mut PtySession, wanted: &str) -> String {
    let seen = p
        .exp_string(&bytes(wanted))
        .unwrap_or_else(|e| panic!("waiting for {wanted:?}: {e}"));
    text(&seen)
}

/// Wait for `text`, then type `line`.
fn answer(p: &mut PtySession, wanted: &str, line: &str) {
    expect(p, wanted);
    p.send_line(line).unwrap();
}

fn opens_with(key: &Path, passphrase: &str) -> bool {
    sealdesk::identity::load(key, || Ok(passphrase.to_owned().into())).is_ok()
}

#[test]
fn keygen_asks_twice_in_a_terminal_and_again_after_a_mismatch() {
    let desk = Desk::new();
    let key = desk.path("new.age");
    let mut p = desk.pty(&["keygen", "--out", key.to_str().unwrap()]);
    answer(&mut p, "Choose a passphrase", "first choice of words");
    answer(
        &mut p,
        "Type the same passphrase again",
        "first choice of wordz",
    );
    expect(&mut p, "The two passphrases differ");
    answer(&mut p, "Choose a passphrase", "second choice words");
    answer(
        &mut p,
        "Type the same passphrase again",
        "second choice words",
    );
    expect(&mut p, "age1");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert!(opens_with(&key, "second choice words"));
    assert!(!opens_with(&key, "first choice of words"));
}

#[test]
fn keygen_gives_up_after_three_mismatches_and_writes_nothing() {
    let desk = Desk::new();
    let key = desk.path("new.age");
    let mut p = desk.pty(&["keygen", "--out", key.to_str().unwrap()]);
    for _ in 0..3 {
        answer(&mut p, "Choose a passphrase", "one passphrase here");
        answer(
            &mut p,
            "Type the same passphrase again",
            "another passphrase",
        );
    }
    expect(&mut p, "differed 3 times");
    p.exp_eof().unwrap();
    assert_ne!(exit_code(&mut p), 0);
    assert!(!key.exists());
}

/// A pinentry that shows no repeat field (as Debian 12's pinentry-curses for age): it answers
/// each GETPIN with the next line of `answers` and logs what it was asked.
fn fake_pinentry(dir: &Path, answers: &[&str]) -> PathBuf {
    std::fs::write(dir.join("answers"), answers.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("count"), "0\n").unwrap();
    let script = dir.join("pinentry");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nD='{}'\necho 'OK Pleased to meet you'\n\
             while IFS= read -r line; do\n\
               echo \"$line\" >> \"$D/log\"\n\
               case \"$line\" in\n\
                 GETPIN*) n=$(( $(cat \"$D/count\") + 1 )); echo $n > \"$D/count\";\n\
                   echo \"D $(sed -n \"${{n}}p\" \"$D/answers\")\"; echo OK ;;\n\
                 BYE*) echo OK; exit 0 ;;\n\
                 *) echo OK ;;\n\
               esac\n\
             done\n",
            dir.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn keygen_asks_twice_through_a_pinentry_without_a_repeat_field() {
    let desk = Desk::new();
    let dir = desk.path("pinentry");
    std::fs::create_dir(&dir).unwrap();
    let pinentry = fake_pinentry(
        &dir,
        &[
            "typed in a hurry!",
            "typed in a hurry?",
            "typed with care now",
            "typed with care now",
        ],
    );
    let key = desk.path("new.age");
    let out = desk
        .command(&["keygen", "--out", key.to_str().unwrap()])
        .env("PINENTRY_PROGRAM", &pinentry)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let asked = std::fs::read_to_string(dir.join("count")).unwrap();
    assert_eq!(asked.trim(), "4", "two rounds of two questions");
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert!(
        !log.contains("SETREPEAT"),
        "relied on a repeat field:\n{log}"
    );
    assert!(opens_with(&key, "typed with care now"));
}

#[test]
fn a_wrong_passphrase_asks_again_up_to_three_times() {
    let desk = Desk::new();
    desk.init(&fingerprint(&desk.server));
    let (bundle, id) = desk.bundle("b.sdb", &Source::text("Мой брат пропал в Москве."));
    desk.ok(&["import", bundle.to_str().unwrap()]);

    let mut p = desk.pty(&["show", &id[..8]]);
    answer(&mut p, "Passphrase for your staff key", "not it");
    answer(&mut p, "Wrong passphrase", "still not it");
    expect(&mut p, "try 3 of 3");
    p.send_line(PASS).unwrap();
    expect(&mut p, "Мой брат пропал в Москве.");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);

    let mut p = desk.pty(&["show", &id[..8]]);
    for _ in 0..3 {
        answer(&mut p, "Passphrase for", "wrong again");
    }
    let rest = text(&p.exp_eof().unwrap());
    assert!(rest.contains("wrong passphrase"), "{rest}");
    assert!(!rest.contains("Мой брат"), "{rest}");
    assert_ne!(exit_code(&mut p), 0);
}

#[test]
fn a_shell_unlocks_once_for_many_commands_and_writes_no_key() {
    let desk = Desk::new();
    desk.init(&fingerprint(&desk.server));
    let (bundle, id) = desk.bundle("b.sdb", &Source::text("Сестру забрали в Москве."));
    desk.ok(&["import", bundle.to_str().unwrap()]);
    let before = desk_support::snapshot(desk.tmp.path());

    let mut p = desk.pty(&["shell"]);
    answer(&mut p, "Passphrase for your staff key", PASS);
    answer(&mut p, "sealdesk> ", "list");
    expect(&mut p, "Сестру забрали");
    answer(&mut p, "sealdesk> ", &format!("show {}", &id[..8]));
    expect(&mut p, "Сестру забрали в Москве.");
    answer(&mut p, "sealdesk> ", "search москва");
    expect(&mut p, "Москве");
    answer(&mut p, "sealdesk> ", "show zz");
    expect(&mut p, "is not a submission id");
    answer(&mut p, "sealdesk> ", "keygen --out x.age");
    expect(&mut p, "not available inside");
    answer(&mut p, "sealdesk> ", "exit");
    let rest = text(&p.exp_eof().unwrap());
    assert!(rest.contains("Session ended"), "{rest}");
    assert_eq!(exit_code(&mut p), 0);

    // Asked once: a second question would have stopped the session above (nothing answered
    // it). And nothing on disk changed but the read mark, nor holds the key in clear.
    let after = desk_support::snapshot(desk.tmp.path());
    let changed: Vec<&String> = after
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed.iter().all(|k| k.ends_with("sealdesk.sqlite")),
        "{changed:?}"
    );
    for file in after.keys().filter(|k| !k.ends_with('/')) {
        let bytes = std::fs::read(desk.tmp.path().join(file)).unwrap();
        assert!(
            !bytes
                .windows(15)
                .any(|w| w.eq_ignore_ascii_case(b"AGE-SECRET-KEY-")),
            "{file} holds a secret key in clear"
        );
    }
}

/// An editor that writes `text` into the file it is given and logs that file's path.
fn fake_editor(dir: &Path, text: &str) -> String {
    let script = dir.join("editor.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" > '{log}'\nstat -c %a \"$(dirname \"$1\")\" >> '{log}'\n\
             printf '%s\\n' '{text}' > \"$1\"\ncp \"$1\" \"$1~\"\n",
            log = dir.join("editor.log").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.to_str().unwrap().to_owned()
}

#[test]
fn a_note_comes_from_the_editor_signed_and_leaves_no_file() {
    let desk = Desk::new();
    desk.init(&fingerprint(&desk.server));
    let (bundle, id) = desk.bundle("b.sdb", &Source::text("Отец задержан."));
    desk.ok(&["import", bundle.to_str().unwrap()]);
    desk.ok(&["author", "Ana K."]);

    let show = desk.ok(&["show", &id[..8]]);
    assert!(
        show.contains(&format!("sealdesk note {}", &id[..8])),
        "{show}"
    );
    assert!(
        !show.contains("TEXT"),
        "show suggests a note on the command line:\n{show}"
    );

    let editor = fake_editor(desk.tmp.path(), "Called the lawyer; hearing on Monday.");
    let runtime = desk.path("runtime");
    std::fs::create_dir(&runtime).unwrap();
    let mut cmd = desk.command(&["note", &id[..8]]);
    cmd.env("EDITOR", &editor)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("SEALDESK_PASSPHRASE", PASS);
    let mut p = spawn_command(cmd, Some(60_000)).unwrap();
    expect(&mut p, "Added a note");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);

    let log = std::fs::read_to_string(desk.path("editor.log")).unwrap();
    let mut lines = log.lines();
    let file = PathBuf::from(lines.next().unwrap());
    assert_eq!(lines.next(), Some("700"), "the note's folder is private");
    assert!(file.starts_with(&runtime), "{}", file.display());
    assert!(
        !file.exists() && !file.parent().unwrap().exists(),
        "left behind"
    );
    assert_eq!(std::fs::read_dir(&runtime).unwrap().count(), 0);

    let show = desk.ok(&["show", &id[..8]]);
    assert!(
        show.contains("Called the lawyer; hearing on Monday."),
        "{show}"
    );
    assert!(show.contains("Ana K."), "{show}");
    assert!(show.contains(" UTC"), "{show}");

    // On the command line it still works, with a warning about the shell's history.
    let out = desk.run(&["note", &id[..8], "Second", "note"], "");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("history"), "{err}");
    // Piped in, no warning; the OS user signs when no author is set elsewhere.
    let out = desk.run(&["note", &id[..8]], "Third note\n");
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("history"));
    let show = desk.ok(&["show", &id[..8]]);
    assert!(
        show.contains("Second note") && show.contains("Third note"),
        "{show}"
    );
}

#[test]
fn a_mistyped_fingerprint_is_corrected_by_a_confirmed_repin() {
    let desk = Desk::new();
    let right = fingerprint(&desk.server);
    // One digit wrong, as typed at init (the first such typo that is still a valid key).
    let wrong = (0..right.len())
        .filter(|&at| right.as_bytes()[at] != b' ')
        .flat_map(|at| {
            let right = right.clone();
            b"0123456789abcdef".iter().map(move |&d| {
                let mut typo = right.clone().into_bytes();
                typo[at] = d;
                String::from_utf8(typo).unwrap()
            })
        })
        .find(|typo| *typo != right && parse_fingerprint(typo).is_ok())
        .unwrap();
    desk.init(&wrong);
    let (bundle, _) = desk.bundle("b.sdb", &Source::text("text"));
    let refused = desk.run(&["import", bundle.to_str().unwrap()], "");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("sealdesk repin"), "{err}");

    // Enter alone, or a yes, changes nothing.
    for typed in ["", "yes"] {
        let mut p = desk.pty(&["repin", "--server-key", &right]);
        answer(&mut p, "Type re-pin", typed);
        expect(&mut p, "not confirmed; nothing changed");
        p.exp_eof().unwrap();
        assert_ne!(exit_code(&mut p), 0);
    }
    assert!(!desk
        .run(&["import", bundle.to_str().unwrap()], "")
        .status
        .success());

    let mut p = desk.pty(&["repin"]);
    answer(&mut p, "NEW fingerprint", &right);
    let shown = expect(&mut p, "Type re-pin");
    assert!(shown.contains(&wrong) && shown.contains(&right), "{shown}");
    assert!(shown.contains("in person or by phone"), "{shown}");
    p.send_line("re-pin").unwrap();
    expect(&mut p, "now trusts");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);

    desk.ok(&["import", bundle.to_str().unwrap()]);
    let place = desk.ok(&["where"]);
    assert!(place.contains("re-pinned"), "{place}");
    assert!(place.contains(&format!("from {wrong}")), "{place}");
    assert!(place.contains(&format!("to   {right}")), "{place}");
}

#[test]
fn the_group_keys_are_replaced_only_when_confirmed_and_with_the_own_key() {
    let desk = Desk::new();
    desk.init(&fingerprint(&desk.server));
    let colleague = sealdesk::identity::generate(&desk.path("colleague.age"), None).unwrap();
    let new = desk.path("new-recipients.txt");
    std::fs::write(&new, format!("{}\n{colleague}\n", desk.public)).unwrap();
    let out = desk.run(&["recipients", new.to_str().unwrap()], "y\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("added:   {colleague}")));
    assert!(desk.ok(&["where"]).contains("Group keys:         1"));
    let out = desk.run(&["recipients", new.to_str().unwrap()], "replace\n");
    assert!(out.status.success(), "{out:?}");
    assert!(desk.ok(&["where"]).contains("Group keys:         2"));

    let without = desk.path("without-me.txt");
    std::fs::write(&without, format!("{colleague}\n")).unwrap();
    let out = desk.run(&["recipients", without.to_str().unwrap()], "replace\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not among them"));
}

#[test]
fn the_workspace_has_a_fixed_place_that_sealdesk_names() {
    let desk = Desk::new();
    let place = desk.home().join(".local/share/sealdesk");
    let out = desk.init(&fingerprint(&desk.server));
    assert!(out.contains(&place.display().to_string()), "{out}");
    assert!(place.join("sealdesk.sqlite").is_file());
    let shown = desk.ok(&["where"]);
    assert!(shown.contains(&place.display().to_string()), "{shown}");
    assert!(shown.contains("the default place"), "{shown}");
    // The same workspace from any folder.
    let elsewhere = desk.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let mut cmd = desk.command(&["where"]);
    let out = cmd.current_dir(&elsewhere).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&place.display().to_string()));

    let help = desk.command(&["--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("~/.local/share/sealdesk"), "{help}");
    assert!(help.contains("sealdesk where"), "{help}");
}

#[test]
fn a_workspace_in_the_current_folder_from_older_versions_still_opens() {
    let desk = Desk::new();
    let key = desk.key.to_str().unwrap();
    let recipients = desk.recipients.to_str().unwrap();
    let fp = fingerprint(&desk.server);
    desk.ok(&[
        "init",
        "-w",
        "sealdesk-workspace",
        "-i",
        key,
        "--recipients",
        recipients,
        "--server-key",
        &fp,
    ]);
    let shown = desk.ok(&["where"]);
    assert!(shown.contains("older Sealdesk versions"), "{shown}");
    assert!(!desk.home().join(".local/share/sealdesk").exists());
}

/// `import` of `bytes` as a file; returns what sealdesk said on stderr (it must refuse).
fn refused(desk: &Desk, name: &str, bytes: &[u8]) -> String {
    let path = desk.path(name);
    std::fs::write(&path, bytes).unwrap();
    let out = desk.run(&["import", path.to_str().unwrap()], "");
    assert!(!out.status.success(), "{name} was imported");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn import_refusals_say_what_is_likely_and_only_a_bad_signature_speaks_of_tampering() {
    let desk = Desk::new();
    desk.init(&fingerprint(&desk.server));
    let (good, _) = desk.bundle("good.sdb", &Source::text("Проверка связи"));
    let bytes = std::fs::read(&good).unwrap();
    let manifest_len = u32::from_be_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let signed_end = 24 + manifest_len;

    let err = refused(
        &desk,
        "photo.jpg",
        b"\xff\xd8\xff\xe0 a picture, not a bundle",
    );
    assert!(
        err.contains("this is not a Sealdrop export bundle"),
        "{err}"
    );
    assert!(!err.contains("tamper"), "{err}");

    let err = refused(&desk, "cut.sdb", &bytes[..bytes.len() / 2]);
    assert!(err.contains("interrupted copy"), "{err}");
    assert!(!err.contains("tamper"), "{err}");

    let mut newer = bytes.clone();
    newer[16..20].copy_from_slice(&2u32.to_be_bytes());
    let err = refused(&desk, "newer.sdb", &newer);
    assert!(err.contains("upgrade sealdesk"), "{err}");
    assert!(!err.contains("tamper"), "{err}");

    let mut damaged = bytes.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    let err = refused(&desk, "damaged.sdb", &damaged);
    assert!(err.contains("damaged while copying"), "{err}");
    assert!(!err.contains("tamper"), "{err}");

    let mut forged = bytes.clone();
    forged[signed_end - 3] ^= 1;
    let err = refused(&desk, "forged.sdb", &forged);
    assert!(err.contains("tampering"), "{err}");
    assert!(err.contains("sealdesk repin"), "{err}");

    // Another server's bundle: a fingerprint question, not tampering.
    let other = Desk::new();
    let (theirs, _) = other.bundle("theirs.sdb", &Source::text("x"));
    let err = refused(&desk, "theirs.sdb", &std::fs::read(theirs).unwrap());
    assert!(err.contains("sealdesk repin"), "{err}");
}

#[test]
fn search_finds_russian_word_forms_unless_exact() {
    let desk = Desk::new();
    desk.init(&fingerprint(&desk.server));
    let (bundle, id) = desk.bundle(
        "b.sdb",
        &Source::text("Брата задержали в Москве во вторник."),
    );
    desk.ok(&["import", bundle.to_str().unwrap()]);
    let found = desk.ok(&["search", "МОСКВА"]);
    assert!(
        found.contains(&id[..8]) && found.contains("[Москве]"),
        "{found}"
    );
    let found = desk.ok(&["search", "задержан", "брат"]);
    assert!(
        !found.contains(&id[..8]),
        "word order and words matter: {found}"
    );
    let found = desk.ok(&["search", "брат", "задержать"]);
    assert!(found.contains("[Брата задержали]"), "{found}");
    let exact = desk.ok(&["search", "--exact", "МОСКВА"]);
    assert!(!exact.contains(&id[..8]), "{exact}");
    let exact = desk.ok(&["search", "--exact", "москве"]);
    assert!(exact.contains("[Москве]"), "{exact}");
}

fn disguised_source() -> Source {
    let mut program = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
    program.resize(4096, 0x41);
    Source {
        message: "Фото с места".into(),
        contact: Some("Signal +7 900 000-00-00".into()),
        ..Source::default()
    }
    .with_file("photo.jpg", "image/jpeg", &program)
    .with_file("real.jpg", "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF")
}

#[test]
fn a_disguised_program_is_flagged_by_show_and_renamed_by_extract() {
    let desk = Desk::new();
    desk.init(&fingerprint(&desk.server));
    let (bundle, id) = desk.bundle("b.sdb", &disguised_source());
    desk.ok(&["import", bundle.to_str().unwrap()]);

    let show = desk.ok(&["show", &id[..8]]);
    let photo = show.find("photo.jpg").unwrap();
    let real = show.find("real.jpg").unwrap();
    let flag = show.find("DISGUISED PROGRAM").expect(&show);
    assert!(
        photo < flag && flag < real,
        "flagged under the right file:\n{show}"
    );
    assert!(show.contains("photo.jpg.disguised"), "{show}");
    assert_eq!(show.matches("DISGUISED").count(), 1, "{show}");

    let to = desk.path("out");
    let out = desk.ok(&["extract", &id[..8], "--to", to.to_str().unwrap()]);
    assert!(out.contains("DISGUISED PROGRAM"), "{out}");
    let folder = std::fs::read_dir(&to)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["photo.jpg.disguised", "real.jpg"]);
    let written = std::fs::read(folder.join("photo.jpg.disguised")).unwrap();
    assert!(written.starts_with(b"MZ") && written.len() == 4096);
}

#[test]
fn extract_shows_progress_on_a_terminal_only() {
    let desk = Desk::new();
    desk.init(&fingerprint(&desk.server));
    let big = vec![7u8; 4 << 20];
    let (bundle, id) = desk.bundle(
        "b.sdb",
        &Source::text("big").with_file("video.mp4", "video/mp4", &big),
    );
    desk.ok(&["import", bundle.to_str().unwrap()]);
    let to = desk.path("out");
    let mut cmd = desk.command(&["extract", &id[..8], "--to", to.to_str().unwrap()]);
    cmd.env("SEALDESK_PASSPHRASE", PASS).env("TERM", "xterm");
    let mut p = spawn_command(cmd, Some(120_000)).unwrap();
    expect(&mut p, "Decrypting and saving");
    expect(&mut p, "Saved 1 attachment(s)");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);
    // Without a terminal: no bar in the output.
    let to = desk.path("out2");
    let out = desk.run(&["extract", &id[..8], "--to", to.to_str().unwrap()], "");
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Decrypting"));
}

#[test]
fn reports_hold_the_contact_and_the_attachment_list() {
    let desk = Desk::new();
    desk.init(&fingerprint(&desk.server));
    let (bundle, id) = desk.bundle("b.sdb", &disguised_source());
    desk.ok(&["import", bundle.to_str().unwrap()]);

    let json: serde_json::Value =
        serde_json::from_str(&desk.ok(&["report", "--format", "json"])).unwrap();
    let row = &json[0];
    assert_eq!(row["id"], id.as_str());
    assert_eq!(row["contact"], "Signal +7 900 000-00-00");
    let files = row["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["name"], "photo.jpg");
    assert_eq!(files[0]["size"], 4096);
    assert!(files[0]["flags"][0]
        .as_str()
        .unwrap()
        .starts_with("DISGUISED PROGRAM"));
    assert_eq!(files[1]["name"], "real.jpg");
    assert_eq!(files[1]["flags"].as_array().unwrap().len(), 0);

    let csv = desk.ok(&["report", "--format", "csv"]);
    assert!(
        csv.starts_with("id,day,status,tags,notes,message,contact,attachments\r\n"),
        "{csv}"
    );
    assert!(csv.contains("Signal +7 900 000-00-00") && csv.contains("photo.jpg (4096 bytes"));
    let md = desk.ok(&["report", "--format", "markdown"]);
    assert!(
        md.contains("### Contact") && md.contains("### Attachments (2)"),
        "{md}"
    );
    assert!(md.contains("real.jpg (10 bytes, image/jpeg)"), "{md}");
}
