//! Post/redirect/get: after a submission is stored, the browser is sent (303) to `/received`, so
//! a reload shows the received page again instead of sending the report again.
//!
//! What that page shows (how many files arrived, and a new codename once) travels in memory
//! only: a random 256-bit token in a cookie `sealdrop_receipt` (`HttpOnly; SameSite=Strict;
//! Path=/received`, no expiry: it lives as long as the browser session) names a receipt here.
//! Nothing about the submission is on the URL (it is always `/received?lang=..`) and nothing of
//! the receipt is stored or linked to the submission's row. A receipt ends after [`KEEP`], or
//! when [`MAX_RECEIPTS`] is reached and it is the oldest. The codename is taken out (and wiped)
//! the first time the page is shown: "shown once" stays true; a reload shows the rest.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue};
use rand::RngCore;
use zeroize::Zeroizing;

pub const COOKIE: &str = "sealdrop_receipt";
/// A receipt is forgotten this long after the submission.
pub const KEEP: Duration = Duration::from_secs(15 * 60);
/// At most this many at once (each a few hundred bytes); a new one ends the oldest.
pub const MAX_RECEIPTS: usize = 10_000;

/// What the received page says.
pub struct Receipt {
    pub files: usize,
    /// The new codename's words, if the source asked for one; shown once.
    pub codename: Option<Zeroizing<String>>,
}

struct Entry {
    receipt: Receipt,
    made: Instant,
}

pub struct Receipts {
    map: Mutex<HashMap<[u8; 32], Entry>>,
    keep: Duration,
    cap: usize,
}

impl Receipts {
    pub fn new(keep: Duration, cap: usize) -> Self {
        Receipts {
            map: Mutex::new(HashMap::new()),
            keep,
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep a receipt; returns the `Set-Cookie` value that names it.
    pub fn issue(&self, receipt: Receipt) -> HeaderValue {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut *key);
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, e| now.duration_since(e.made) < self.keep);
        while map.len() >= self.cap {
            let oldest = map.iter().min_by_key(|(_, e)| e.made).map(|(k, _)| *k);
            match oldest {
                Some(k) => drop(map.remove(&k)),
                None => break,
            }
        }
        map.insert(*key, Entry { receipt, made: now });
        let cookie = Zeroizing::new(format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/received",
            hex::encode(*key)
        ));
        HeaderValue::from_str(&cookie).expect("a hex token is a valid header value")
    }

    /// The receipt a request's cookie names: its file count, and its codename if not yet shown
    /// (taken out, so it is shown once). `None` if there is none (or it has ended).
    pub fn show(&self, headers: &HeaderMap) -> Option<Receipt> {
        let key = key_from(headers)?;
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, e| now.duration_since(e.made) < self.keep);
        let entry = map.get_mut(&key)?;
        Some(Receipt {
            files: entry.receipt.files,
            codename: entry.receipt.codename.take(),
        })
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn key_from(headers: &HeaderMap) -> Option<[u8; 32]> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .find_map(|t| {
            let mut key = [0u8; 32];
            (t.len() == 64).then_some(())?;
            hex::decode_to_slice(t, &mut key).ok()?;
            Some(key)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie_of(set: &HeaderValue) -> HeaderMap {
        let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(&pair).unwrap());
        h
    }

    #[test]
    fn a_receipt_shows_its_codename_once_and_its_count_until_it_ends() {
        let receipts = Receipts::new(Duration::from_millis(200), 2);
        let set = receipts.issue(Receipt {
            files: 3,
            codename: Some(Zeroizing::new("a b c".into())),
        });
        let h = cookie_of(&set);
        let first = receipts.show(&h).unwrap();
        assert_eq!(first.files, 3);
        assert_eq!(first.codename.as_deref().map(String::as_str), Some("a b c"));
        let again = receipts.show(&h).unwrap();
        assert_eq!(again.files, 3);
        assert!(again.codename.is_none(), "a codename is shown once");
        assert!(receipts.show(&HeaderMap::new()).is_none());
        // The cap ends the oldest.
        receipts.issue(Receipt {
            files: 0,
            codename: None,
        });
        receipts.issue(Receipt {
            files: 0,
            codename: None,
        });
        assert!(receipts.show(&h).is_none());
        assert_eq!(receipts.len(), 2);
    }

    #[test]
    fn a_receipt_ends_after_its_time() {
        let receipts = Receipts::new(Duration::from_millis(20), 10);
        let h = cookie_of(&receipts.issue(Receipt {
            files: 1,
            codename: None,
        }));
        std::thread::sleep(Duration::from_millis(40));
        assert!(receipts.show(&h).is_none());
    }
}
