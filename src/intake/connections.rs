//! The cap on open connections, with room kept for new arrivals.
//!
//! Every accepted connection takes a slot. At the cap, the oldest *idle* connection (one with no
//! request being handled: waiting for its PROXY header, its request headers, or its next
//! request) is told to close, so a flood of silent or slow-header connections cannot keep a real
//! source out; it would have to send real requests, which the per-circuit limits and Tor's
//! proof-of-work then bound. If every connection is busy, the new one is turned away instead.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Debug)]
pub struct Connections {
    max: usize,
    next_id: AtomicU64,
    /// Open connections by id; ids only grow, so the first entries are the oldest.
    open: Mutex<BTreeMap<u64, Shared>>,
}

#[derive(Debug, Clone)]
struct Shared {
    busy: Arc<AtomicUsize>,
    close: Arc<Notify>,
}

impl Connections {
    pub fn new(max: u32) -> Arc<Connections> {
        Arc::new(Connections {
            max: max as usize,
            next_id: AtomicU64::new(0),
            open: Mutex::new(BTreeMap::new()),
        })
    }

    /// A slot for a new connection, closing the oldest idle one if the cap is reached; `None`
    /// if every open connection is busy.
    pub fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() >= self.max {
            let idle = open
                .iter()
                .find(|(_, s)| s.busy.load(Ordering::SeqCst) == 0)
                .map(|(&id, _)| id)?;
            let evicted = open.remove(&idle).expect("found just now");
            // A stored permit: the connection's task closes even if it is not waiting yet.
            evicted.close.notify_one();
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let shared = Shared {
            busy: Arc::new(AtomicUsize::new(0)),
            close: Arc::new(Notify::new()),
        };
        open.insert(id, shared.clone());
        Some(Slot {
            connections: Arc::clone(self),
            id,
            shared,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// One open connection's place under the cap; freed when dropped.
#[derive(Debug)]
pub struct Slot {
    connections: Arc<Connections>,
    id: u64,
    shared: Shared,
}

impl Slot {
    /// Mark the connection busy (a request is being handled) until the guard drops.
    pub fn busy(&self) -> Busy {
        self.shared.busy.fetch_add(1, Ordering::SeqCst);
        Busy(Arc::clone(&self.shared.busy))
    }

    /// A handle to [`Slot::busy`] that can move into a service.
    pub fn busy_marker(&self) -> BusyMarker {
        BusyMarker(Arc::clone(&self.shared.busy))
    }

    /// Resolves when the connection must close to make room for a newer one.
    pub async fn evicted(&self) {
        self.shared.close.notified().await
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        open.remove(&self.id);
    }
}

/// Marks a connection busy, from inside its service.
#[derive(Debug, Clone)]
pub struct BusyMarker(Arc<AtomicUsize>);

impl BusyMarker {
    pub fn busy(&self) -> Busy {
        self.0.fetch_add(1, Ordering::SeqCst);
        Busy(Arc::clone(&self.0))
    }
}

/// A request in progress on a connection.
#[derive(Debug)]
pub struct Busy(Arc<AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_oldest_idle_connection_makes_room() {
        let conns = Connections::new(3);
        let oldest = conns.admit().unwrap();
        let busy = conns.admit().unwrap();
        let _working = busy.busy();
        let younger = conns.admit().unwrap();
        assert_eq!(conns.open(), 3);

        let newest = conns.admit().expect("room is made");
        assert_eq!(conns.open(), 3);
        tokio::time::timeout(Duration::from_secs(1), oldest.evicted())
            .await
            .expect("the oldest idle one is told to close");
        let still = tokio::time::timeout(Duration::from_millis(50), younger.evicted()).await;
        assert!(still.is_err(), "a younger idle connection stays");
        let still = tokio::time::timeout(Duration::from_millis(50), busy.evicted()).await;
        assert!(still.is_err(), "a busy connection is never closed for room");
        drop((oldest, newest));
    }

    #[test]
    fn when_all_are_busy_the_newcomer_is_refused() {
        let conns = Connections::new(2);
        let a = conns.admit().unwrap();
        let b = conns.admit().unwrap();
        let (_x, _y) = (a.busy(), b.busy_marker().busy());
        assert!(conns.admit().is_none());
        drop(_x);
        assert!(conns.admit().is_some(), "an idle one can make room again");
    }
}
