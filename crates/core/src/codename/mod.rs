//! Codenames: what a source keeps to come back for replies (the return channel, issue 9).
//!
//! A codename is 10 words. Nine are drawn at random from a 2048-word list (9 x 11 = 99 bits);
//! the tenth is a checksum: its index is the first 11 bits of
//! `SHA-256("sealdrop-codename-v1" || the nine indices as big-endian u16)`. A mistyped word is
//! caught (1 in 2048 typos slip through the checksum, and then simply open another, empty inbox).
//!
//! Any supported list spells the same codename: index `i` is word `i` of `en.txt`, `ru.txt`, ...,
//! and a codename may be typed in any of them, mixed, in any case, with any spaces, commas or
//! hyphens between words, and with only the first 4 letters of each word (see [`wordlist`]).
//!
//! The codename is never stored. [`Codename::derive`] stretches it with Argon2id
//! (m = [`ARGON2_M_KIB`] KiB, t = [`ARGON2_T`], p = 1, a fixed domain salt) and derives with
//! HKDF-SHA256 a mailbox id and an age X25519 identity for replies ([`derive`]).
//!
//! **Strength.** Guessing is offline against a seized server that holds mailbox ids (and reply
//! ciphertexts to the derived recipients): each guess costs one Argon2id over 4 MiB (4096 blocks
//! of 1 KiB, about 3-6 ms of one core here). Finding one given codename takes 2^98 guesses on
//! average (2^99 at most): 2^98 x 2^12 = 2^110 Argon2 block computations, each guess needing 4 MiB
//! of memory while it runs. The 99 bits alone carry the bar of 2^100 work per codename (2^99
//! guesses, each at least one hash); the stretching multiplies it by about 2^12 and makes memory,
//! not only arithmetic, the price of a guess. With N mailboxes on the server tested at once (the
//! salt is fixed, since nothing per source may be stored), finding *some* codename takes 2^98 / N
//! guesses: 2^81 guesses (2^93 block computations) for 2^17 sources. docs/CODENAMES.md gives the
//! sums.

pub mod derive;
pub mod wordlist;

#[cfg(test)]
mod tests;

use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub use derive::{DerivationGate, Derived, ARGON2_M_KIB, ARGON2_T};
pub use wordlist::{Lang, LIST_SIZE};

/// Words in a codename: nine random, one checksum.
pub const WORDS: usize = 10;
/// Random words: 9 x 11 = 99 bits.
pub const RANDOM_WORDS: usize = 9;
/// Domain separation of the checksum (and the version of the scheme).
const CHECKSUM_DOMAIN: &[u8] = b"sealdrop-codename-v1";

/// Why a typed codename was refused. Never holds what was typed: an error may be logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodenameError {
    /// Not 10 words.
    #[error("a codename has 10 words; {found} were given")]
    WrongWordCount { found: usize },
    /// A word (1-based position) is in no list, nor the first 4 letters of a word in one.
    #[error("word {position} of the codename is not in any word list")]
    UnknownWord { position: usize },
    /// Every word is known, but the 10th does not match the nine: one of them is mistyped.
    #[error("the codename's words do not fit together: one of them is mistyped")]
    ChecksumMismatch,
}

/// A codename: ten word indices (the last a checksum). Wiped when dropped; its Debug shows
/// nothing of it.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Codename {
    indices: [u16; WORDS],
}

impl std::fmt::Debug for Codename {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Codename(<secret>)")
    }
}

/// The checksum word's index for nine random indices.
fn checksum(random: &[u16]) -> u16 {
    let mut h = Sha256::new();
    h.update(CHECKSUM_DOMAIN);
    for i in random {
        h.update(i.to_be_bytes());
    }
    let digest = h.finalize();
    u16::from_be_bytes([digest[0], digest[1]]) >> 5
}

/// What separates words: whitespace, ASCII punctuation (commas, hyphens, dots...), Unicode
/// dashes, and invisible spaces a copy and paste may bring.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || matches!(
            c,
            '\u{2010}'..='\u{2015}' | '\u{200b}' | '\u{2060}' | '\u{feff}' | '،' | '、'
        )
}

impl Codename {
    /// A new codename: nine indices from the operating system's random source.
    pub fn generate() -> Codename {
        let mut indices = [0u16; WORDS];
        for i in indices.iter_mut().take(RANDOM_WORDS) {
            // 2048 divides 2^32: masking keeps every index equally likely.
            *i = (rand::rngs::OsRng.next_u32() & (LIST_SIZE as u32 - 1)) as u16;
        }
        indices[RANDOM_WORDS] = checksum(&indices[..RANDOM_WORDS]);
        Codename { indices }
    }

    /// Reads a codename as a person typed it (see the module doc for what is forgiven).
    pub fn parse(typed: &str) -> Result<Codename, CodenameError> {
        // Soft hyphens a phone may insert inside a word are dropped, not read as separators.
        let cleaned: Zeroizing<String> = Zeroizing::new(typed.replace('\u{ad}', ""));
        let normalized = Zeroizing::new(wordlist::normalize(&cleaned));
        let found = normalized
            .split(is_separator)
            .filter(|w| !w.is_empty())
            .count();
        if found != WORDS {
            return Err(CodenameError::WrongWordCount { found });
        }
        let mut codename = Codename {
            indices: [0; WORDS],
        };
        let words = normalized.split(is_separator).filter(|w| !w.is_empty());
        for (position, (word, slot)) in words.zip(codename.indices.iter_mut()).enumerate() {
            *slot = wordlist::lookup(word).ok_or(CodenameError::UnknownWord {
                position: position + 1,
            })?;
        }
        if checksum(&codename.indices[..RANDOM_WORDS]) != codename.indices[RANDOM_WORDS] {
            return Err(CodenameError::ChecksumMismatch);
        }
        Ok(codename)
    }

    /// The ten words in one list.
    pub fn words(&self, lang: Lang) -> [&'static str; WORDS] {
        let list = lang.words();
        self.indices.map(|i| list[i as usize])
    }

    /// The ten words in one list, separated by single spaces. The caller owns a secret: wipe it.
    pub fn to_string_in(&self, lang: Lang) -> Zeroizing<String> {
        Zeroizing::new(self.words(lang).join(" "))
    }

    /// The canonical encoding every derivation starts from: the ten indices as big-endian u16.
    fn canonical(&self) -> Zeroizing<[u8; 2 * WORDS]> {
        let mut out = Zeroizing::new([0u8; 2 * WORDS]);
        for (chunk, i) in out.chunks_exact_mut(2).zip(self.indices) {
            chunk.copy_from_slice(&i.to_be_bytes());
        }
        out
    }

    /// Stretches the codename and derives its mailbox id and reply identity; waits at the gate
    /// while it is full (see [`DerivationGate`]).
    pub fn derive(&self, gate: &DerivationGate) -> Derived {
        derive::derive(self.canonical().as_slice(), gate)
    }
}
