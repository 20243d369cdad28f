//! Sessions for sources who came back with their codename: in memory only, never on disk.
//!
//! A session is a random 256-bit token in the one cookie this site ever sets
//! (`sealdrop_session`), mapped to what the codename derived: the mailbox id, the thread id and
//! the reply identity. The codename itself is never kept: it is parsed, derived and wiped within
//! the login request. A session ends on logout, after [`IDLE`] without a request, or when
//! [`MAX_SESSIONS`] is reached and it is the least recently used; its identity is wiped then (age
//! wipes an identity's secret when dropped; [`Conversation`] wipes itself here).
//!
//! The cookie is `HttpOnly; SameSite=Strict; Path=/`, without `Expires` or `Max-Age` (it lives
//! only as long as the browser session, and Tor Browser forgets it when closed). It is not
//! `Secure`: an onion service is served over plain HTTP (Tor encrypts and authenticates the
//! circuit end to end), and a browser would refuse to send a `Secure` cookie over `http://`.
//! Cross-site requests never carry it (`SameSite=Strict`) and every change is a POST, which
//! together stand in for CSRF tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue};
use rand::RngCore;
use sealdrop_core::codename::Derived;
use sealdrop_core::envelope::Conversation;
use zeroize::{Zeroize, Zeroizing};

/// The cookie's name.
pub const COOKIE: &str = "sealdrop_session";
/// A session unused this long ends.
pub const IDLE: Duration = Duration::from_secs(15 * 60);
/// At most this many sessions at once; a new one ends the least recently used.
pub const MAX_SESSIONS: usize = 10_000;
/// Hex digits in a token (256 bits).
const TOKEN_HEX: usize = 64;

/// What a session holds: what the codename derived, never the codename.
pub struct SessionData {
    pub derived: Derived,
    /// The same thread, mailbox and reply recipient for every follow-up.
    pub conversation: Conversation,
}

impl Drop for SessionData {
    fn drop(&mut self) {
        self.derived.mailbox_id.zeroize();
        self.derived.thread_id.zeroize();
        self.conversation.zeroize();
    }
}

impl SessionData {
    pub fn new(derived: Derived) -> Self {
        let conversation = super::conversation::conversation_of(&derived);
        SessionData {
            derived,
            conversation,
        }
    }
}

/// A token's 32 bytes.
type Key = [u8; 32];

struct Entry {
    data: Arc<SessionData>,
    last_used: Instant,
}

/// The live sessions.
pub struct Sessions {
    map: Mutex<HashMap<Key, Entry>>,
    idle: Duration,
    cap: usize,
}

impl Sessions {
    pub fn new(idle: Duration, cap: usize) -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start a session; returns its token (for the cookie).
    pub fn start(&self, data: SessionData) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut *bytes);
        let token = Zeroizing::new(hex::encode(*bytes));
        let now = Instant::now();
        let mut map = self.lock();
        self.expire(&mut map, now);
        while map.len() >= self.cap {
            let oldest = map.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| *k);
            match oldest {
                Some(key) => drop(map.remove(&key)),
                None => break,
            }
        }
        map.insert(
            *bytes,
            Entry {
                data: Arc::new(data),
                last_used: now,
            },
        );
        token
    }

    /// The session a request's cookie names, if it is live (and mark it used).
    pub fn get(&self, headers: &HeaderMap) -> Option<Arc<SessionData>> {
        let token = token_from(headers)?;
        let now = Instant::now();
        let mut map = self.lock();
        self.expire(&mut map, now);
        let entry = map.get_mut(&token)?;
        entry.last_used = now;
        Some(Arc::clone(&entry.data))
    }

    /// End the session a request's cookie names, if any.
    pub fn end(&self, headers: &HeaderMap) {
        if let Some(token) = token_from(headers) {
            let removed = self.lock().remove(&token);
            drop(removed);
        }
    }

    /// End every session idle for too long.
    pub fn sweep(&self) {
        let mut map = self.lock();
        self.expire(&mut map, Instant::now());
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn expire(&self, map: &mut HashMap<Key, Entry>, now: Instant) {
        map.retain(|_, e| now.duration_since(e.last_used) < self.idle);
    }
}

/// The session token in a request's `Cookie` headers, if well-formed.
fn token_from(headers: &HeaderMap) -> Option<Key> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .find(|t| t.len() == TOKEN_HEX && t.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .and_then(|t| {
            let mut key = [0u8; 32];
            hex::decode_to_slice(t, &mut key).ok()?;
            Some(key)
        })
}

/// The `Set-Cookie` value that starts a session (see the module comment for each attribute).
pub fn set_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
    ))
    .expect("a hex token is a valid header value")
}

/// The `Set-Cookie` value that makes the browser forget the session's cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("sealdrop_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdrop_core::codename::{Codename, DerivationGate};

    fn data() -> SessionData {
        SessionData::new(Codename::generate().derive(&DerivationGate::new(1)))
    }

    fn with_cookie(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {COOKIE}={token}")).unwrap(),
        );
        h
    }

    #[test]
    fn a_session_opens_until_it_ends_and_the_cap_evicts_the_oldest() {
        let sessions = Sessions::new(IDLE, 2);
        let a = sessions.start(data());
        std::thread::sleep(Duration::from_millis(2));
        let b = sessions.start(data());
        assert!(sessions.get(&with_cookie(&a)).is_some());
        std::thread::sleep(Duration::from_millis(2));
        assert!(sessions.get(&with_cookie(&b)).is_some());
        // a was used before b: a third session evicts a.
        let c = sessions.start(data());
        assert!(sessions.get(&with_cookie(&a)).is_none());
        assert!(sessions.get(&with_cookie(&b)).is_some());
        sessions.end(&with_cookie(&c));
        assert!(sessions.get(&with_cookie(&c)).is_none());
        assert_eq!(sessions.len(), 1);
        assert!(sessions.get(&HeaderMap::new()).is_none());
        assert!(sessions.get(&with_cookie("00")).is_none());
    }

    #[test]
    fn an_idle_session_ends() {
        let sessions = Sessions::new(Duration::from_millis(20), 10);
        let a = sessions.start(data());
        std::thread::sleep(Duration::from_millis(40));
        sessions.sweep();
        assert!(sessions.is_empty());
        assert!(sessions.get(&with_cookie(&a)).is_none());
    }
}
