//! Upload slots: at most `max_concurrent_uploads` bodies are received at once, and a slot is
//! never kept from a real source by an upload that is not sending.
//!
//! The progress rule (`progress.rs`) cuts a body that falls behind, but only once its window has
//! passed, and an attacker can reconnect at once: 32 trickling uploads would hold all 32 slots
//! nearly all the time. So when every slot is taken, a newcomer takes the slot of an upload that
//! is *behind*: past a short grace period, it has delivered less than the minimum rate on
//! average since it began. That upload is cut off (and leaves nothing, like any interrupted
//! upload). A real upload over Tor, at tens of KB/s, is never behind; only when every slot is
//! held by uploads that keep up does a newcomer hear "busy".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How long a new upload may take to get going before it can be judged behind (a request head
/// and the first part arrive over Tor in a few round trips).
const GRACE: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct UploadSlots {
    max: usize,
    min_bytes_per_sec: u64,
    taken: Mutex<Vec<Arc<Held>>>,
}

/// What the slot table knows of one upload.
#[derive(Debug)]
pub struct Held {
    started: Instant,
    received: AtomicU64,
    preempted: Notify,
}

impl Held {
    /// Count bytes of the body as they arrive.
    pub fn received(&self, bytes: u64) {
        self.received.fetch_add(bytes, Ordering::Relaxed);
    }

    fn behind(&self, now: Instant, min_bytes_per_sec: u64) -> bool {
        let elapsed = now.duration_since(self.started);
        if elapsed < GRACE {
            return false;
        }
        let needed = (elapsed.as_secs_f64() * min_bytes_per_sec as f64) as u64;
        self.received.load(Ordering::Relaxed) < needed
    }

    /// Resolves when a newcomer has taken this upload's slot.
    pub async fn preempted(&self) {
        self.preempted.notified().await
    }
}

impl UploadSlots {
    pub fn new(max: u32, min_bytes_per_sec: u64) -> Arc<UploadSlots> {
        Arc::new(UploadSlots {
            max: max as usize,
            min_bytes_per_sec,
            taken: Mutex::new(Vec::new()),
        })
    }

    /// A slot, taken from an upload that is behind if every slot is taken; `None` if none is.
    pub fn acquire(self: &Arc<Self>) -> Option<Slot> {
        self.acquire_at(Instant::now())
    }

    fn acquire_at(self: &Arc<Self>, now: Instant) -> Option<Slot> {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        if taken.len() >= self.max {
            // The one furthest behind goes.
            let victim = taken
                .iter()
                .enumerate()
                .filter(|(_, h)| h.behind(now, self.min_bytes_per_sec))
                .min_by_key(|(_, h)| h.received.load(Ordering::Relaxed))
                .map(|(i, _)| i)?;
            let gone = taken.swap_remove(victim);
            // A stored permit: the upload stops even if it is not waiting yet.
            gone.preempted.notify_one();
        }
        let held = Arc::new(Held {
            started: now,
            received: AtomicU64::new(0),
            preempted: Notify::new(),
        });
        taken.push(Arc::clone(&held));
        Some(Slot {
            slots: Arc::clone(self),
            held,
        })
    }

    /// Slots taken now.
    pub fn taken(&self) -> usize {
        self.taken.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// One upload's slot; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<UploadSlots>,
    held: Arc<Held>,
}

impl Slot {
    pub fn held(&self) -> &Arc<Held> {
        &self.held
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = self.slots.taken.lock().unwrap_or_else(|e| e.into_inner());
        taken.retain(|h| !Arc::ptr_eq(h, &self.held));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_newcomer_takes_the_slot_of_an_upload_that_is_behind() {
        let slots = UploadSlots::new(2, 1000);
        let t0 = Instant::now();
        let keeping_up = slots.acquire_at(t0).unwrap();
        let trickling = slots.acquire_at(t0).unwrap();
        keeping_up.held().received(50_000);
        trickling.held().received(100);
        let later = t0 + Duration::from_secs(10);

        let newcomer = slots
            .acquire_at(later)
            .expect("the trickling upload's slot");
        tokio::time::timeout(Duration::from_secs(1), trickling.held().preempted())
            .await
            .expect("the trickling upload is told");
        assert_eq!(slots.taken(), 2);
        drop(trickling);
        assert_eq!(
            slots.taken(),
            2,
            "its own drop does not free the newcomer's slot"
        );

        // Now every slot keeps up (the newcomer is within its grace): busy.
        assert!(slots.acquire_at(later).is_none());
        drop(newcomer);
        assert!(slots.acquire().is_some());
    }

    #[test]
    fn uploads_within_their_grace_are_never_taken() {
        let slots = UploadSlots::new(1, 1000);
        let _fresh = slots.acquire().unwrap();
        assert!(slots.acquire().is_none());
    }
}
