//! What Sealdesk asks staff for, and the rules for the answers: passphrases, the server's
//! fingerprint and notes. The tool does the terminal I/O; the choices are made here.

use std::io::Read;
use std::path::Path;

use age::secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::triage::MAX_NOTE_BYTES;
use super::DeskError;

/// Scripts may set the passphrase here instead of typing it (less safe: other programs of the
/// same user can read a process's environment, and it may end up in shell history).
pub const PASSPHRASE_ENV: &str = "SEALDESK_PASSPHRASE";

/// A new key's passphrase must be at least this long, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

pub const NEW_PASSPHRASE: &str = "Choose a passphrase for the new staff key";
pub const CONFIRM_PASSPHRASE: &str = "Type the same passphrase again";
pub const FINGERPRINT: &str =
    "Type the server's fingerprint (the operator shows it with `sealdrop fingerprint`): ";
pub const NEW_FINGERPRINT: &str =
    "Type the server's NEW fingerprint (the operator shows it with `sealdrop fingerprint`): ";
pub const REPLY: &str = "Type the reply to the source, then press Ctrl-D on a new line:";
pub const NOTE: &str = "Type the note, then press Ctrl-D on a new line:";

/// The question that unlocks the staff key at `path`.
pub fn unlock(path: &Path) -> String {
    format!("Passphrase for your staff key {}", path.display())
}

/// The staff key's passphrase: SEALDESK_PASSPHRASE's value if set, else what `ask` reads.
pub fn staff_passphrase<E>(
    from_env: Option<String>,
    ask: impl FnOnce() -> Result<SecretString, E>,
) -> Result<SecretString, E> {
    match from_env {
        Some(p) => Ok(SecretString::from(p)),
        None => ask(),
    }
}

/// How many times a passphrase is asked before the command gives up: a new one that does not
/// match its repetition, or a staff key's that is wrong.
pub const TRIES: usize = 3;

/// A new key's passphrase, asked twice every time (never trusting a pinentry's own repeat
/// field, which Debian 12's pinentry-curses does not show): a mismatch or a short one is asked
/// again, up to [`TRIES`] rounds. `ask` shows its question and reads one secret; `tell` shows
/// why a round failed. SEALDESK_PASSPHRASE is taken as it is, since scripts and tests set it
/// on purpose.
pub fn new_passphrase(
    from_env: Option<String>,
    mut ask: impl FnMut(&str) -> std::io::Result<SecretString>,
    mut tell: impl FnMut(&str),
) -> Result<SecretString, DeskError> {
    if let Some(p) = from_env {
        return Ok(SecretString::from(p));
    }
    for round in 1..=TRIES {
        let first = ask(NEW_PASSPHRASE).map_err(DeskError::ReadPassphrase)?;
        if first.expose_secret().chars().count() < MIN_PASSPHRASE_CHARS {
            if round == TRIES {
                return Err(DeskError::ShortPassphrase {
                    min: MIN_PASSPHRASE_CHARS,
                });
            }
            tell(&format!(
                "That passphrase is shorter than {MIN_PASSPHRASE_CHARS} characters; choose a longer one (several words work well)."
            ));
            continue;
        }
        let again = ask(CONFIRM_PASSPHRASE).map_err(DeskError::ReadPassphrase)?;
        if first.expose_secret() == again.expose_secret() {
            return Ok(first);
        }
        if round < TRIES {
            tell("The two passphrases differ; nothing was written. Choose one again and type it twice.");
        }
    }
    Err(DeskError::PassphraseMismatch { tries: TRIES })
}

/// The question that asks again after a wrong passphrase.
pub fn unlock_again(path: &Path, attempt: usize) -> String {
    format!(
        "Wrong passphrase. Passphrase for your staff key {} (try {attempt} of {TRIES})",
        path.display()
    )
}

/// The note's text: the words given on the command line, or else all of `input` (at most one
/// byte over the limit, so that `triage::add_note` can refuse a note that is too long).
pub fn note_text(words: &[String], input: impl Read) -> Result<Zeroizing<String>, DeskError> {
    if !words.is_empty() {
        return Ok(Zeroizing::new(words.join(" ")));
    }
    // Room for the longest note up front: a growing buffer would leave copies behind.
    let mut text = Zeroizing::new(String::with_capacity(MAX_NOTE_BYTES + 1));
    input
        .take(MAX_NOTE_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(DeskError::io("reading the note"))?;
    Ok(text)
}

/// A reply's text: all of `input` (standard input; never the command line, which shells keep
/// in their history), read at most one byte past the longest reply so a longer one is refused.
pub fn reply_text(input: impl Read) -> Result<Zeroizing<String>, DeskError> {
    let max = crate::conversation::MAX_REPLY_BYTES as usize;
    let mut text = Zeroizing::new(String::with_capacity(max + 1));
    input
        .take(max as u64 + 1)
        .read_to_string(&mut text)
        .map_err(DeskError::io("reading the reply"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> std::io::Result<SecretString> {
        Ok(SecretString::from(s.to_owned()))
    }

    #[test]
    fn the_environment_answers_before_anyone_is_asked() {
        let p = staff_passphrase(Some("from env".into()), || -> Result<_, ()> {
            panic!("asked although SEALDESK_PASSPHRASE was set")
        })
        .unwrap();
        assert_eq!(p.expose_secret(), "from env");
        let p = staff_passphrase(None, || secret("typed")).unwrap();
        assert_eq!(p.expose_secret(), "typed");
    }

    #[test]
    fn a_typed_new_passphrase_has_at_least_twelve_characters() {
        // Characters, not bytes: eleven Cyrillic letters are 22 bytes and still too short.
        let err = new_passphrase(None, |_| secret("пароль-лето"), |_| {}).unwrap_err();
        assert!(
            matches!(err, DeskError::ShortPassphrase { min: 12 }),
            "{err}"
        );
        let ok = new_passphrase(None, |_| secret("пароль-лето1"), |_| {}).unwrap();
        assert_eq!(ok.expose_secret(), "пароль-лето1");
        // A script's passphrase is taken as given.
        let env = new_passphrase(Some("short".into()), |_| panic!("asked"), |_| {}).unwrap();
        assert_eq!(env.expose_secret(), "short");
    }

    #[test]
    fn a_passphrase_that_cannot_be_read_keeps_its_cause() {
        let err = new_passphrase(None, |_| Err(std::io::Error::other("no terminal")), |_| {})
            .unwrap_err();
        assert!(matches!(err, DeskError::ReadPassphrase(_)), "{err}");
        let cause = std::error::Error::source(&err).expect("a cause");
        assert_eq!(cause.to_string(), "no terminal");
        assert!(!err.to_string().contains("no terminal"), "said once: {err}");
    }

    #[test]
    fn a_new_passphrase_is_asked_twice_and_again_on_a_mismatch() {
        let answers = [
            "correct horse battery",
            "correct horse batterx",
            "second try here",
            "second try here",
        ];
        let mut asked = Vec::new();
        let mut told = 0;
        let p = new_passphrase(
            None,
            |q| {
                asked.push(q.to_owned());
                secret(answers[asked.len() - 1])
            },
            |_| told += 1,
        )
        .unwrap();
        assert_eq!(p.expose_secret(), "second try here");
        assert_eq!(
            asked,
            [
                NEW_PASSPHRASE,
                CONFIRM_PASSPHRASE,
                NEW_PASSPHRASE,
                CONFIRM_PASSPHRASE
            ]
        );
        assert_eq!(told, 1);
        let err = new_passphrase(
            None,
            |q| {
                secret(if q == NEW_PASSPHRASE {
                    "aaaaaaaaaaaaaa"
                } else {
                    "bbbbbbbbbbbbbb"
                })
            },
            |_| {},
        )
        .unwrap_err();
        assert!(
            matches!(err, DeskError::PassphraseMismatch { tries: 3 }),
            "{err}"
        );
    }

    #[test]
    fn a_note_comes_from_the_words_or_else_from_the_input() {
        let words = ["Called".to_owned(), "the lawyer.".to_owned()];
        let from_words = note_text(&words, &b"ignored"[..]).unwrap();
        assert_eq!(from_words.as_str(), "Called the lawyer.");
        let typed = note_text(&[], &b"Line one\nline two\n"[..]).unwrap();
        assert_eq!(typed.as_str(), "Line one\nline two\n");
    }

    #[test]
    fn a_typed_note_is_read_only_one_byte_past_the_limit() {
        let long = vec![b'a'; MAX_NOTE_BYTES + 100];
        let text = note_text(&[], &long[..]).unwrap();
        assert_eq!(text.len(), MAX_NOTE_BYTES + 1);
    }
}
