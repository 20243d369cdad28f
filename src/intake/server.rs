//! The listener: TCP or a Unix socket (for Tor), HTTP/1.1 through hyper, graceful shutdown.
//!
//! hyper is driven directly rather than through `axum::serve` so that the `Date` header can be
//! turned off (a precise server clock helps fingerprint an onion service) and slow request
//! headers can be cut off.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tower::ServiceExt;

use crate::config::Listen;
use crate::events::event;

/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

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
    pub async fn serve(self, app: Router, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.accept() => match accepted {
                    Ok(Some(conn)) => serve_connection(conn, app.clone(), &graceful),
                    Ok(None) => {}
                    // Running out of file descriptors is transient; back off instead of spinning.
                    Err(e) => {
                        event(format!("warning: accept failed: {e}"));
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

fn serve_connection(conn: Conn, app: Router, graceful: &GracefulShutdown) {
    match conn {
        Conn::Tcp(s) => spawn_http(s, app, graceful),
        Conn::Unix(s) => spawn_http(s, app, graceful),
    }
}

fn spawn_http<S>(stream: S, app: Router, graceful: &GracefulShutdown)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(
        app.map_request(|req: hyper::Request<Incoming>| req.map(axum::body::Body::new)),
    );
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .auto_date_header(false)
        .serve_connection(TokioIo::new(stream), service);
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        // Errors here are clients going away; they are not worth a log line.
        let _ = conn.await;
    });
}
