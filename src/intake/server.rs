//! The listener: TCP or a Unix socket (for Tor), HTTP/1.1 through hyper, graceful shutdown.
//!
//! hyper is driven directly rather than through `axum::serve` so that the `Date` header can be
//! turned off (a precise server clock helps fingerprint an onion service), slow request headers
//! can be cut off, and each connection can be placed under the abuse limits before hyper reads a
//! byte: a slot under the connection cap (`connections`), then the PROXY header that names its
//! circuit (`proxy`), then that circuit's own limits (`clients`).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tower::ServiceExt;

use super::clients::{ClientConn, Clients};
use super::connections::{Connections, Slot};
use super::hyper_errors::SecureErrors;
use super::proxy::{self, ClientKey};
use crate::config::{Abuse, Listen};
use crate::events::event;

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// hyper's read buffer per connection: a form's request head fits many times over, and a body
/// streams through it in pieces of this size. (hyper's default, about 400 KiB, let 1,000
/// unfinished request heads hold 338 MiB.)
const MAX_READ_BUFFER: usize = 64 * 1024;
/// Header lines a request may have; a browser's form post sends about fifteen.
const MAX_HEADERS: usize = 64;
/// Bytes a request head may take; Tor Browser's form post sends well under 2 KiB.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// At most one "accept failed" line in this long, however often it fails.
const ACCEPT_FAILURE_LOG_EVERY: Duration = Duration::from_secs(60);

/// The limits every connection is put under, shared by all of them.
#[derive(Clone)]
pub struct Guard {
    abuse: Abuse,
    connections: Arc<Connections>,
    clients: Arc<Clients>,
    /// When a connection last came without a usable PROXY header, for a rate-limited warning.
    no_proxy_header_said: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl Guard {
    pub fn new(abuse: &Abuse) -> Guard {
        Guard {
            abuse: abuse.clone(),
            connections: Connections::new(abuse.max_connections),
            clients: Clients::new(abuse),
            no_proxy_header_said: Arc::default(),
        }
    }

    /// Say, at most once a minute, that connections come without the PROXY header: the sign of
    /// a tor configuration without `HiddenServiceExportCircuitID haproxy`, where otherwise the
    /// onion would just answer nothing. Nothing about the connection itself is said.
    fn warn_no_proxy_header(&self) {
        let mut said = self
            .no_proxy_header_said
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if said.is_none_or(|at| at.elapsed() >= ACCEPT_FAILURE_LOG_EVERY) {
            *said = Some(Instant::now());
            event(
                "warning: a connection came without a valid PROXY header and was closed; with \
                 proxy_protocol on, the onion service needs `HiddenServiceExportCircuitID \
                 haproxy` (deploy/torrc)",
            );
        }
    }

    fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.abuse.header_timeout_secs)
    }
}

/// The answer to a connection turned away before HTTP: plain, short, with the security headers.
fn turned_away() -> Vec<u8> {
    let body = "The service is busy. Please wait a few minutes and try again.\n";
    format!(
        "HTTP/1.1 503 Service Unavailable{}\r\ncontent-type: text/plain; charset=utf-8\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        super::headers::header_lines(),
        body.len()
    )
    .into_bytes()
}

/// A bound listener, before serving (so callers can learn the actual port).
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, SocketIdentity),
}

/// Which socket file is ours: its path, and the inode it had when we bound it, so that at
/// shutdown we remove our own socket and never one another process has put there since.
#[derive(Debug)]
pub struct SocketIdentity {
    path: std::path::PathBuf,
    dev_ino: (u64, u64),
}

impl SocketIdentity {
    fn of(path: &std::path::Path) -> io::Result<SocketIdentity> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(path)?;
        Ok(SocketIdentity {
            path: path.to_owned(),
            dev_ino: (meta.dev(), meta.ino()),
        })
    }

    /// Remove the socket file if it is still the one we bound.
    fn remove_if_ours(&self) {
        if SocketIdentity::of(&self.path).is_ok_and(|now| now.dev_ino == self.dev_ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A socket left by an earlier run would make bind fail, so remove it; but never a socket some
/// process still listens on (another server), and never anything that is not a socket.
fn remove_stale_socket(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "another process is listening on {}; stop it, or give this server another socket \
                 path",
                path.display()
            ),
        )),
        // Nobody listens: the socket is debris of a run that ended.
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!(
                "cannot tell whether {} is still in use ({e}); remove it by hand if no server runs",
                path.display()
            ),
        )),
    }
}

impl Listener {
    pub async fn bind(listen: &Listen) -> io::Result<Listener> {
        match listen {
            Listen::Tcp(addr) => Ok(Listener::Tcp(TcpListener::bind(addr).await?)),
            Listen::Unix(path) => {
                remove_stale_socket(path)?;
                let listener = UnixListener::bind(path)?;
                // Owner and group (Tor's) may connect; nobody else.
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
                let identity = SocketIdentity::of(path)?;
                Ok(Listener::Unix(listener, identity))
            }
        }
    }

    /// Where it listens, for the start-up line.
    pub fn describe(&self) -> String {
        match self {
            Listener::Tcp(l) => l
                .local_addr()
                .map(|a| format!("http://{a}"))
                .unwrap_or_else(|_| "tcp".into()),
            Listener::Unix(_, ours) => format!("unix:{}", ours.path.display()),
        }
    }

    /// Serve `app` until `shutdown` resolves, then let in-flight requests finish.
    pub async fn serve(
        self,
        app: Router,
        guard: Guard,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let graceful = GracefulShutdown::new();
        let mut failures = AcceptFailures::default();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.accept() => match accepted {
                    Ok(Some(conn)) => serve_connection(conn, app.clone(), &guard, &graceful),
                    Ok(None) => {}
                    // Running out of file descriptors is transient: back off instead of spinning,
                    // and say so once a minute, not hundreds of times.
                    Err(e) => {
                        failures.note(&e);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                () = &mut shutdown => break,
            }
        }
        if let Listener::Unix(_, ours) = &self {
            ours.remove_if_ours();
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            event("warning: some requests did not finish before shutdown");
        }
        Ok(())
    }

    async fn accept(&self) -> io::Result<Option<Conn>> {
        Ok(Some(match self {
            Listener::Tcp(l) => {
                let (stream, _) = l.accept().await?;
                let _ = stream.set_nodelay(true);
                Conn::Tcp(stream)
            }
            Listener::Unix(l, _) => Conn::Unix(l.accept().await?.0),
        }))
    }
}

/// An accepted connection. The peer address is dropped on accept: it is never looked at.
enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

/// Counts accept failures between log lines.
#[derive(Default)]
struct AcceptFailures {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl AcceptFailures {
    fn note(&mut self, error: &io::Error) {
        let due = self
            .last_logged
            .is_none_or(|at| at.elapsed() >= ACCEPT_FAILURE_LOG_EVERY);
        if !due {
            self.unlogged += 1;
            return;
        }
        let more = match self.unlogged {
            0 => String::new(),
            n => format!(" ({n} more since the last such line)"),
        };
        event(format!("warning: accept failed: {error}{more}"));
        self.last_logged = Some(Instant::now());
        self.unlogged = 0;
    }
}

fn serve_connection(conn: Conn, app: Router, guard: &Guard, graceful: &GracefulShutdown) {
    // The slot is taken here, in accept order, so "oldest" means what it says.
    let slot = guard.connections.admit();
    let (guard, watcher) = (guard.clone(), graceful.watcher());
    match conn {
        Conn::Tcp(s) => tokio::spawn(serve_http(s, slot, app, guard, watcher)),
        Conn::Unix(s) => tokio::spawn(serve_http(s, slot, app, guard, watcher)),
    };
}

async fn serve_http<S>(
    mut stream: S,
    slot: Option<Slot>,
    app: Router,
    guard: Guard,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Some(slot) = slot else {
        return turn_away(stream).await;
    };
    let client = tokio::select! {
        client = admit_client(&mut stream, &guard) => client,
        () = slot.evicted() => return,
    };
    let client = match client {
        Ok(client) => Arc::new(client),
        Err(Some(())) => return turn_away(stream).await,
        // A missing or broken PROXY header: not a stream Tor sent. Nothing to answer.
        Err(None) => return,
    };
    let busy = slot.busy_marker();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        // Busy from the request's start until its response is ready: such a connection is
        // never closed to make room.
        let busy = busy.busy();
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnCtx {
            client: Arc::clone(&client),
        });
        let response = app.clone().oneshot(req);
        async move {
            let response = response.await;
            drop(busy);
            response
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(guard.header_timeout())
        .max_buf_size(MAX_READ_BUFFER)
        .max_headers(MAX_HEADERS)
        .max_header_size(MAX_HEAD_BYTES)
        .auto_date_header(false)
        .serve_connection(TokioIo::new(SecureErrors::new(stream)), service);
    let conn = watcher.watch(conn);
    tokio::select! {
        // Errors here are clients going away; they are not worth a log line.
        _ = conn => {}
        // Closed to make room for a newer connection: dropping it closes the socket.
        () = slot.evicted() => {}
    }
}

/// Read the PROXY header if one is expected, and count the connection against its client.
/// `Err(Some(()))`: over the client's limit; `Err(None)`: no usable PROXY header.
async fn admit_client<S>(stream: &mut S, guard: &Guard) -> Result<ClientConn, Option<()>>
where
    S: AsyncRead + Unpin,
{
    let key = if guard.abuse.proxy_protocol {
        match proxy::read_header(stream, guard.header_timeout()).await {
            Ok(key) => key,
            // A stream that never sent anything is no sign of a misconfiguration.
            Err(proxy::ProxyError::Timeout | proxy::ProxyError::Closed) => return Err(None),
            Err(_) => {
                guard.warn_no_proxy_header();
                return Err(None);
            }
        }
    } else {
        ClientKey::Unnamed
    };
    guard.clients.connect(key).map_err(|_| Some(()))
}

async fn turn_away<S: AsyncWrite + Unpin>(mut stream: S) {
    use tokio::io::AsyncWriteExt;
    let answer = async {
        let _ = stream.write_all(&turned_away()).await;
        let _ = stream.shutdown().await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), answer).await;
}

/// What a request knows of its connection: the client it counts against.
#[derive(Clone)]
pub struct ConnCtx {
    pub client: Arc<ClientConn>,
}
