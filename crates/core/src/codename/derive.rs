//! From a codename to its mailbox id and reply identity, through Argon2id and HKDF-SHA256, behind
//! a gate that bounds how many derivations (4 MiB each) run at once.
//!
//! ```text
//! stretched   = Argon2id(m = 4096 KiB, t = 1, p = 1, v = 0x13, 32 bytes)(
//!                   password = the ten indices as big-endian u16 (20 bytes),
//!                   salt     = "sealdrop-codename-v1 argon2id salt")
//! mailbox id  = hex(HKDF-SHA256(ikm = stretched, no salt, info = "sealdrop mailbox v1", 16 bytes))
//! reply key   = HKDF-SHA256(ikm = stretched, no salt, info = "sealdrop reply key v1", 32 bytes)
//! thread id   = hex(HKDF-SHA256(ikm = stretched, no salt, info = "sealdrop thread v1", 16 bytes))
//! identity    = uppercase bech32("age-secret-key-", reply key): a standard age X25519 identity
//! ```
//!
//! The parameters are part of the scheme: changing any of them changes every mailbox id.

use std::sync::{Condvar, Mutex, MutexGuard};

use age::x25519::{Identity, Recipient};
use argon2::{Algorithm, Argon2, Params, Version};
use bech32::{ToBase32, Variant};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Argon2id memory, KiB: 4 MiB, a few milliseconds a derivation (docs/CODENAMES.md).
pub const ARGON2_M_KIB: u32 = 4 * 1024;
/// Argon2id passes over that memory.
pub const ARGON2_T: u32 = 1;
/// Argon2id lanes.
pub const ARGON2_P: u32 = 1;
const ARGON2_SALT: &[u8] = b"sealdrop-codename-v1 argon2id salt";
const INFO_MAILBOX: &[u8] = b"sealdrop mailbox v1";
const INFO_REPLY_KEY: &[u8] = b"sealdrop reply key v1";
const INFO_THREAD: &[u8] = b"sealdrop thread v1";
/// How age spells an X25519 identity (bech32, shown uppercase).
const AGE_SECRET_KEY_HRP: &str = "age-secret-key-";

/// What a codename opens: its mailbox id and the identity replies to it are encrypted to.
/// Debug shows the mailbox id and the public recipient, never the identity.
pub struct Derived {
    /// 32 lowercase hex digits, the shape of every Sealdrop id ([`crate::is_id`]).
    pub mailbox_id: String,
    /// 32 lowercase hex digits: groups the submissions of one codename into a thread, inside
    /// the sealed envelope only (the server never sees it).
    pub thread_id: String,
    /// The age X25519 identity that decrypts replies (age wipes its secret when dropped).
    pub reply_identity: Identity,
}

impl Derived {
    /// The age recipient replies are encrypted to.
    pub fn reply_recipient(&self) -> Recipient {
        self.reply_identity.to_public()
    }
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Derived")
            .field("mailbox_id", &self.mailbox_id)
            .field("reply_recipient", &self.reply_recipient().to_string())
            .finish_non_exhaustive()
    }
}

/// Bounds how many derivations run at once, so a flood of logins costs waiting, not memory:
/// at most `max_concurrent` x 4 MiB of Argon2 memory is in use. Usable from sync code (a tokio
/// server calls it from `spawn_blocking`); a caller that finds it full blocks until a slot frees.
pub struct DerivationGate {
    max_concurrent: usize,
    state: Mutex<GateState>,
    freed: Condvar,
}

#[derive(Default)]
struct GateState {
    running: usize,
    peak: usize,
}

impl DerivationGate {
    /// A gate letting `max_concurrent` derivations run at once (at least 1).
    pub fn new(max_concurrent: usize) -> DerivationGate {
        DerivationGate {
            max_concurrent: max_concurrent.max(1),
            state: Mutex::new(GateState::default()),
            freed: Condvar::new(),
        }
    }

    pub fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// The most derivations that ever ran at once through this gate.
    pub fn peak(&self) -> usize {
        self.lock().peak
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        // A panic inside `run` happens outside the lock; poison carries no broken state here.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` once a slot is free, holding the slot until `f` returns (or panics).
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Slot<'a>(&'a DerivationGate);
        impl Drop for Slot<'_> {
            fn drop(&mut self) {
                self.0.lock().running -= 1;
                self.0.freed.notify_one();
            }
        }
        {
            let mut state = self.lock();
            while state.running >= self.max_concurrent {
                state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            state.running += 1;
            state.peak = state.peak.max(state.running);
        }
        let _slot = Slot(self);
        f()
    }
}

/// Argon2id over the canonical encoding, behind the gate.
fn stretch(canonical: &[u8], gate: &DerivationGate) -> Zeroizing<[u8; 32]> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, Some(32)).expect("valid parameters");
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    // The `zeroize` feature wipes Argon2's 4 MiB of blocks before they are freed.
    gate.run(|| argon2.hash_password_into(canonical, ARGON2_SALT, out.as_mut()))
        .expect("fixed-size input, salt and output are valid");
    out
}

/// The age identity whose secret is `secret`, through age's own parser.
fn age_identity(secret: &[u8; 32]) -> Identity {
    let lower = Zeroizing::new(
        bech32::encode(AGE_SECRET_KEY_HRP, secret.to_base32(), Variant::Bech32)
            .expect("valid HRP, 32 bytes"),
    );
    let upper = Zeroizing::new(lower.to_uppercase());
    upper
        .parse()
        .expect("a bech32 age secret key of 32 bytes parses")
}

pub(super) fn derive(canonical: &[u8], gate: &DerivationGate) -> Derived {
    let stretched = stretch(canonical, gate);
    let hk = Hkdf::<Sha256>::new(None, stretched.as_ref());
    let mut mailbox = [0u8; 16];
    hk.expand(INFO_MAILBOX, &mut mailbox)
        .expect("16 bytes is a valid length");
    let mut reply_key = Zeroizing::new([0u8; 32]);
    hk.expand(INFO_REPLY_KEY, reply_key.as_mut())
        .expect("32 bytes is a valid length");
    let mut thread = [0u8; 16];
    hk.expand(INFO_THREAD, &mut thread)
        .expect("16 bytes is a valid length");
    Derived {
        mailbox_id: hex::encode(mailbox),
        thread_id: hex::encode(thread),
        reply_identity: age_identity(&reply_key),
    }
}
