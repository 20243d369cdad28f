use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::wordlist::{key, normalize};
use super::*;

fn script_ok(lang: Lang, word: &str) -> bool {
    match lang {
        Lang::En => word.chars().all(|c| c.is_ascii_lowercase()),
        Lang::Ru => word.chars().all(|c| matches!(c, 'а'..='я' | 'ё')),
    }
}

#[test]
fn every_list_keeps_the_rules() {
    let mut keys: HashMap<String, (Lang, usize)> = HashMap::new();
    let mut words: HashMap<String, (Lang, usize)> = HashMap::new();
    for lang in Lang::ALL {
        let list = lang.words();
        assert_eq!(list.len(), LIST_SIZE, "{}", lang.code());
        assert_eq!(
            list.iter().collect::<HashSet<_>>().len(),
            LIST_SIZE,
            "{}: duplicates",
            lang.code()
        );
        for (i, w) in list.iter().enumerate() {
            let n = w.chars().count();
            assert!(
                (3..=8).contains(&n),
                "{}: {w:?} has {n} letters",
                lang.code()
            );
            assert!(
                script_ok(lang, w),
                "{}: {w:?} is not lowercase {} letters",
                lang.code(),
                lang.code()
            );
            assert_eq!(
                normalize(w),
                w.replace('ё', "е"),
                "{}: {w:?} is not NFC",
                lang.code()
            );
            let norm = normalize(w);
            if let Some((l, j)) = keys.insert(key(&norm).to_owned(), (lang, i)) {
                panic!(
                    "{}: {w:?} shares its first 4 letters with word {j} of {}",
                    lang.code(),
                    l.code()
                );
            }
            if let Some((l, j)) = words.insert(norm, (lang, i)) {
                panic!("{}: {w:?} is also word {j} of {}", lang.code(), l.code());
            }
        }
    }
    // The README states every shipped list.
    let readme = include_str!("../../wordlists/README.md");
    for lang in Lang::ALL {
        assert!(
            readme.contains(&format!("`{}.txt`", lang.code())),
            "README misses {}",
            lang.code()
        );
    }
}

#[test]
fn round_trip_in_every_list_and_checksum_is_the_tenth_word() {
    for _ in 0..200 {
        let c = Codename::generate();
        assert_eq!(c.indices[9], checksum(&c.indices[..9]));
        for lang in Lang::ALL {
            let typed = c.to_string_in(lang);
            assert_eq!(Codename::parse(&typed), Ok(c.clone()), "{}", lang.code());
            assert_eq!(typed.split(' ').count(), 10);
        }
    }
}

#[test]
fn a_changed_word_breaks_the_checksum() {
    let mut caught = 0;
    for _ in 0..100 {
        let c = Codename::generate();
        for pos in 0..10 {
            let mut words = c.words(Lang::En);
            let i = c.indices[pos] as usize;
            words[pos] = Lang::En.words()[(i + 1) % LIST_SIZE];
            if Codename::parse(&words.join(" ")) == Err(CodenameError::ChecksumMismatch) {
                caught += 1;
            }
        }
    }
    // 1 in 2048 slips through by chance; of 1000 changes nearly all are caught.
    assert!(caught >= 995, "{caught} of 1000 changed words caught");
}

#[test]
fn unknown_word_names_its_position_and_count_is_checked() {
    let c = Codename::generate();
    let mut words: Vec<String> = c.words(Lang::En).iter().map(|w| w.to_string()).collect();
    words[6] = "zzzzqx".into();
    assert_eq!(
        Codename::parse(&words.join(" ")),
        Err(CodenameError::UnknownWord { position: 7 })
    );
    // A typo after the fourth letter is not silently read as the word.
    let mut words: Vec<String> = c.words(Lang::En).iter().map(|w| w.to_string()).collect();
    words[0] = format!("{}qq", words[0]);
    assert_eq!(
        Codename::parse(&words.join(" ")),
        Err(CodenameError::UnknownWord { position: 1 })
    );
    let nine = c.words(Lang::En)[..9].join(" ");
    assert_eq!(
        Codename::parse(&nine),
        Err(CodenameError::WrongWordCount { found: 9 })
    );
    let eleven = format!("{} abandon", c.to_string_in(Lang::En).as_str());
    assert_eq!(
        Codename::parse(&eleven),
        Err(CodenameError::WrongWordCount { found: 11 })
    );
    assert_eq!(
        Codename::parse(""),
        Err(CodenameError::WrongWordCount { found: 0 })
    );
    // Errors never repeat what was typed.
    let e = Codename::parse(&words.join(" ")).unwrap_err().to_string();
    assert!(!e.contains(&words[1]), "{e}");
}

#[test]
fn case_spacing_punctuation_prefixes_and_yo_are_forgiven() {
    for _ in 0..50 {
        let c = Codename::generate();
        let ru = c.words(Lang::Ru);
        let en = c.words(Lang::En);
        let shouted = format!("  {}\n", ru.join(" ,\t- ").to_uppercase());
        assert_eq!(Codename::parse(&shouted), Ok(c.clone()));
        let hyphens = en.join("-");
        assert_eq!(Codename::parse(&hyphens), Ok(c.clone()));
        let prefixes: Vec<String> = en.iter().map(|w| w.chars().take(4).collect()).collect();
        assert_eq!(Codename::parse(&prefixes.join(" ")), Ok(c.clone()));
        let ru_prefixes: Vec<String> = ru.iter().map(|w| w.chars().take(4).collect()).collect();
        assert_eq!(Codename::parse(&ru_prefixes.join("\n")), Ok(c.clone()));
        // ё typed as е, and е typed as ё.
        let yo = ru.join(" ").replace('ё', "е").replace("ве", "вё");
        assert_eq!(Codename::parse(&yo), Ok(c.clone()));
    }
    // NFD input (a decomposed й) reads like NFC.
    let c = Codename::generate();
    let nfd: String = {
        use unicode_normalization::UnicodeNormalization;
        c.to_string_in(Lang::Ru).nfd().collect()
    };
    assert_eq!(Codename::parse(&nfd), Ok(c));
}

#[test]
fn lists_may_be_mixed_within_one_codename() {
    for _ in 0..50 {
        let c = Codename::generate();
        let (en, ru) = (c.words(Lang::En), c.words(Lang::Ru));
        let mixed: Vec<&str> = (0..10)
            .map(|i| if i % 2 == 0 { en[i] } else { ru[i] })
            .collect();
        assert_eq!(Codename::parse(&mixed.join(" ")), Ok(c));
    }
}

#[test]
fn debug_shows_no_secret() {
    let c = Codename::generate();
    let shown = format!("{c:?}");
    assert!(!shown.contains(c.words(Lang::En)[0]), "{shown}");
    let d = c.derive(&DerivationGate::new(1));
    let shown = format!("{d:?}");
    assert!(!shown.contains("AGE-SECRET-KEY"), "{shown}");
    assert!(shown.contains(&d.mailbox_id));
}

#[test]
fn derivation_is_deterministic_and_differs_between_codenames() {
    let gate = DerivationGate::new(2);
    let a = Codename::generate();
    let b = Codename::generate();
    let (a1, a2, b1) = (
        a.derive(&gate),
        Codename::parse(&a.to_string_in(Lang::Ru))
            .unwrap()
            .derive(&gate),
        b.derive(&gate),
    );
    assert!(crate::is_id(&a1.mailbox_id), "{}", a1.mailbox_id);
    assert_eq!(a1.mailbox_id, a2.mailbox_id);
    // The thread id is an id of its own: the server's mailbox id does not reveal it.
    assert!(crate::is_id(&a1.thread_id), "{}", a1.thread_id);
    assert_eq!(a1.thread_id, a2.thread_id);
    assert_ne!(a1.thread_id, a1.mailbox_id);
    assert_ne!(a1.thread_id, b1.thread_id);
    assert_eq!(
        a1.reply_recipient().to_string(),
        a2.reply_recipient().to_string()
    );
    assert_ne!(a1.mailbox_id, b1.mailbox_id);
    assert_ne!(
        a1.reply_recipient().to_string(),
        b1.reply_recipient().to_string()
    );
    // The mailbox id and the reply key come from different HKDF infos: unrelated bytes.
    use age::secrecy::ExposeSecret;
    let secret = a1.reply_identity.to_string();
    assert!(secret.expose_secret().starts_with("AGE-SECRET-KEY-1"));
}

/// A fixed vector: the scheme's parameters are frozen, and a change to any of them (the domain,
/// the salt, Argon2's costs, the HKDF infos) must be seen here, since it would lose every inbox.
#[test]
fn known_answer() {
    let c = Codename {
        indices: [
            0,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            checksum(&[0, 1, 2, 3, 4, 5, 6, 7, 8]),
        ],
    };
    let d = c.derive(&DerivationGate::new(1));
    assert_eq!(
        (
            c.indices[9],
            d.mailbox_id.as_str(),
            d.reply_recipient().to_string().as_str()
        ),
        (KAT_CHECKSUM, KAT_MAILBOX, KAT_RECIPIENT)
    );
}
const KAT_CHECKSUM: u16 = 1692;
const KAT_MAILBOX: &str = "8629fa4abfedd6a4d3832cf3d2d5b7d1";
const KAT_RECIPIENT: &str = "age1cgzkrsncdd8crc7e09zlpu2mk58ul70ge5mwf67cuxwtvchjgsyqrfqxpu";

#[test]
fn derived_identity_decrypts_with_the_age_cli() {
    use age::secrecy::ExposeSecret;
    use std::io::Write;
    use std::process::{Command, Stdio};
    let age_cli = "/usr/bin/age";
    let found = Command::new(age_cli).arg("--version").output();
    assert!(
        found.is_ok(),
        "the `age` command is missing: install Debian's package `age`"
    );

    let d = Codename::generate().derive(&DerivationGate::new(1));
    let dir = tempfile::tempdir().unwrap();
    let id_file = dir.path().join("identity.txt");
    std::fs::write(
        &id_file,
        format!("{}\n", d.reply_identity.to_string().expose_secret()),
    )
    .unwrap();
    let plain = b"a reply to the source\n";

    // Encrypted by the age command line to the derived recipient...
    let mut enc = Command::new(age_cli)
        .args(["-r", &d.reply_recipient().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    enc.stdin.take().unwrap().write_all(plain).unwrap();
    let ciphertext = enc.wait_with_output().unwrap();
    assert!(ciphertext.status.success());
    let ct_file = dir.path().join("reply.age");
    std::fs::write(&ct_file, &ciphertext.stdout).unwrap();

    // ... and by the age crate, as the server will.
    let mut by_crate = vec![];
    {
        let enc = age::Encryptor::with_recipients(std::iter::once(
            &d.reply_recipient() as &dyn age::Recipient
        ))
        .unwrap();
        let mut w = enc.wrap_output(&mut by_crate).unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap();
    }
    let crate_file = dir.path().join("reply2.age");
    std::fs::write(&crate_file, &by_crate).unwrap();

    for file in [&ct_file, &crate_file] {
        let out = Command::new(age_cli)
            .arg("-d")
            .arg("-i")
            .arg(&id_file)
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, plain);
    }
}

#[test]
fn the_gate_bounds_concurrent_derivations() {
    let gate = Arc::new(DerivationGate::new(2));
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (gate, inside, most) = (gate.clone(), inside.clone(), most.clone());
            std::thread::spawn(move || {
                gate.run(|| {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "the gate let more (or fewer) than 2 in"
    );
    assert_eq!(gate.peak(), 2);

    // Real derivations from 4 threads through a gate of 1 never overlap, and a panic inside
    // the gate frees its slot.
    let one = Arc::new(DerivationGate::new(1));
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        one.run(|| panic!("inside"))
    }));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let one = one.clone();
            std::thread::spawn(move || Codename::generate().derive(&one).mailbox_id)
        })
        .collect();
    for t in threads {
        assert!(crate::is_id(&t.join().unwrap()));
    }
    assert_eq!(one.peak(), 1);
}
