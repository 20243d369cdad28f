//! What each client (behind Tor: each circuit) holds at once, so that one cannot take what
//! belongs to all: connections, uploads, and requests a minute.
//!
//! Only clients named by a PROXY header are counted ([`ClientKey::Named`]); without one every
//! connection is the same local peer, and only the global limits apply. Entries live in memory
//! only while their client holds something or is still rate-limited, so the table is bounded by
//! the connection cap; nothing here is logged or stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::proxy::ClientKey;
use crate::config::Abuse;

/// The per-client limits, and the table that counts against them.
#[derive(Debug)]
pub struct Clients {
    limits: PerClient,
    table: Mutex<HashMap<ClientKey, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct PerClient {
    connections: u32,
    uploads: u32,
    requests_per_minute: u32,
}

#[derive(Debug)]
struct Entry {
    connections: u32,
    uploads: u32,
    /// Request tokens left, refilled at `requests_per_minute` a minute (a token bucket: a burst
    /// of a minute's worth, then a steady rate).
    tokens: f64,
    refilled: Instant,
}

/// What was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Connections,
    Uploads,
    Requests,
}

impl Clients {
    pub fn new(abuse: &Abuse) -> Arc<Clients> {
        Arc::new(Clients {
            limits: PerClient {
                connections: abuse.per_circuit_connections,
                uploads: abuse.per_circuit_uploads,
                requests_per_minute: abuse.per_circuit_requests_per_minute,
            },
            table: Mutex::new(HashMap::new()),
        })
    }

    /// Count a new connection of `key`; it is uncounted when the returned guard drops.
    pub fn connect(self: &Arc<Self>, key: ClientKey) -> Result<ClientConn, Refused> {
        if key != ClientKey::Unnamed {
            let mut table = self.lock();
            let entry = table.entry(key).or_insert_with(|| self.fresh_entry());
            if entry.connections >= self.limits.connections {
                return Err(Refused::Connections);
            }
            entry.connections += 1;
        }
        Ok(ClientConn {
            clients: Arc::clone(self),
            key,
        })
    }

    fn fresh_entry(&self) -> Entry {
        Entry {
            connections: 0,
            uploads: 0,
            tokens: f64::from(self.limits.requests_per_minute),
            refilled: Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientKey, Entry>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forget `key` once it holds nothing and its request budget is whole again.
    fn tidy(&self, table: &mut HashMap<ClientKey, Entry>, key: ClientKey) {
        let limit = f64::from(self.limits.requests_per_minute);
        if let Some(e) = table.get_mut(&key) {
            refill(e, limit);
            if e.connections == 0 && e.uploads == 0 && e.tokens >= limit {
                table.remove(&key);
            }
        }
    }

    /// Entries counted now (for tests and the benchmark).
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }
}

fn refill(entry: &mut Entry, per_minute: f64) {
    let now = Instant::now();
    let elapsed = now.duration_since(entry.refilled).as_secs_f64();
    entry.tokens = (entry.tokens + elapsed * per_minute / 60.0).min(per_minute);
    entry.refilled = now;
}

/// One counted connection of a client.
#[derive(Debug)]
pub struct ClientConn {
    clients: Arc<Clients>,
    key: ClientKey,
}

impl ClientConn {
    /// Spend one request of the client's budget.
    pub fn request(&self) -> Result<(), Refused> {
        if self.key == ClientKey::Unnamed {
            return Ok(());
        }
        let mut table = self.clients.lock();
        let limit = f64::from(self.clients.limits.requests_per_minute);
        let entry = table.get_mut(&self.key).expect("counted while connected");
        refill(entry, limit);
        if entry.tokens < 1.0 {
            return Err(Refused::Requests);
        }
        entry.tokens -= 1.0;
        Ok(())
    }

    /// Take one of the client's upload slots; given back when the guard drops.
    pub fn upload(&self) -> Result<ClientUpload, Refused> {
        if self.key != ClientKey::Unnamed {
            let mut table = self.clients.lock();
            let entry = table.get_mut(&self.key).expect("counted while connected");
            if entry.uploads >= self.clients.limits.uploads {
                return Err(Refused::Uploads);
            }
            entry.uploads += 1;
        }
        Ok(ClientUpload {
            clients: Arc::clone(&self.clients),
            key: self.key,
        })
    }
}

impl Drop for ClientConn {
    fn drop(&mut self) {
        if self.key == ClientKey::Unnamed {
            return;
        }
        let mut table = self.clients.lock();
        if let Some(e) = table.get_mut(&self.key) {
            e.connections -= 1;
        }
        self.clients.tidy(&mut table, self.key);
    }
}

/// One upload slot of a client.
#[derive(Debug)]
pub struct ClientUpload {
    clients: Arc<Clients>,
    key: ClientKey,
}

impl Drop for ClientUpload {
    fn drop(&mut self) {
        if self.key == ClientKey::Unnamed {
            return;
        }
        let mut table = self.clients.lock();
        if let Some(e) = table.get_mut(&self.key) {
            e.uploads -= 1;
        }
        self.clients.tidy(&mut table, self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv6Addr};

    fn abuse() -> Abuse {
        Abuse {
            per_circuit_connections: 2,
            per_circuit_uploads: 1,
            per_circuit_requests_per_minute: 3,
            ..Abuse::default()
        }
    }

    fn circuit(n: u16) -> ClientKey {
        ClientKey::Named(IpAddr::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, n)))
    }

    #[test]
    fn one_circuit_is_bounded_and_others_are_not_touched() {
        let clients = Clients::new(&abuse());
        let a1 = clients.connect(circuit(1)).unwrap();
        let _a2 = clients.connect(circuit(1)).unwrap();
        assert_eq!(
            clients.connect(circuit(1)).unwrap_err(),
            Refused::Connections
        );
        let b = clients
            .connect(circuit(2))
            .expect("another circuit still gets in");

        let up = a1.upload().unwrap();
        assert_eq!(a1.upload().unwrap_err(), Refused::Uploads);
        b.upload().expect("another circuit's upload");
        drop(up);
        a1.upload().expect("the slot came back");

        for _ in 0..3 {
            a1.request().unwrap();
        }
        assert_eq!(a1.request().unwrap_err(), Refused::Requests);
        b.request().expect("another circuit's budget is its own");
    }

    #[test]
    fn entries_are_forgotten_once_nothing_is_held() {
        let clients = Clients::new(&abuse());
        let c = clients.connect(circuit(1)).unwrap();
        assert_eq!(clients.tracked(), 1);
        drop(c);
        assert_eq!(
            clients.tracked(),
            0,
            "nothing held, budget whole: forgotten"
        );

        let c = clients.connect(circuit(1)).unwrap();
        c.request().unwrap();
        drop(c);
        assert_eq!(clients.tracked(), 1, "kept while its budget refills");
    }

    #[test]
    fn unnamed_clients_are_never_limited_here() {
        let clients = Clients::new(&abuse());
        let conns: Vec<_> = (0..10)
            .map(|_| clients.connect(ClientKey::Unnamed).unwrap())
            .collect();
        for _ in 0..10 {
            conns[0].request().unwrap();
        }
        let _ups: Vec<_> = conns.iter().map(|c| c.upload().unwrap()).collect();
        assert_eq!(clients.tracked(), 0);
    }
}
