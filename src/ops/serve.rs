//! `sealdrop serve` (and `demo`): check, lock and open the data directory, then listen.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::signal::unix::Signal;

use sealdrop_bundle::signing;

use crate::config::{Config, Listen};
use crate::events::{chain, event};
use crate::intake::server::{Guard, Listener};
use crate::intake::{self, AppState};
use crate::ops::preflight::{preflight, PreflightError};
use crate::seal::Keyring;
use crate::store::lock::LockError;
use crate::store::{Quota, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    /// Another server holds the data directory: said as it is, with no other advice around it.
    #[error(transparent)]
    Locked(LockError),
    #[error(
        "cannot open the data directory {dir} (check that it exists or can be created, and that \
         this user owns it)"
    )]
    Store {
        dir: PathBuf,
        #[source]
        source: StoreError,
    },
    #[error("cannot prepare the bundle-signing key")]
    SigningKey(#[source] signing::SigningKeyError),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot listen on {listen}")]
    Listen {
        listen: Listen,
        #[source]
        source: std::io::Error,
    },
    #[error("the listener failed")]
    Serve(#[source] std::io::Error),
}

/// What keeps the disk from filling, from the configured limits.
pub fn quota(config: &Config) -> Quota {
    let l = &config.limits;
    Quota {
        min_free_bytes: l.min_free_disk_mb << 20,
        max_stored_bytes: (l.storage_quota_mb > 0).then_some(l.storage_quota_mb << 20),
        min_free_inodes: l.min_free_inodes,
    }
}

/// Run the intake until the future `shutdown` makes resolves. `shutdown` is called before the
/// socket is bound, so whatever it listens for (signals) is in place before anyone is told where
/// the server listens; `on_listening` is told that once the socket is bound (the binary prints
/// it; tests wait for it).
pub fn serve<S, F>(
    config: Config,
    on_listening: impl FnOnce(&str),
    shutdown: S,
) -> Result<(), ServeError>
where
    S: FnOnce() -> F,
    F: Future<Output = ()>,
{
    let recipients = preflight(&config)?;
    let store = Store::open_with_batch(
        &config.data_dir,
        quota(&config),
        config.commit_batch_max as usize,
    )
    .map_err(|source| match source {
        StoreError::Locked(lock @ LockError::ServerRunning { .. }) => ServeError::Locked(lock),
        source => ServeError::Store {
            dir: config.data_dir.clone(),
            source,
        },
    })?;
    signing::load_or_create(&config.data_dir).map_err(ServeError::SigningKey)?;
    let mut config = config;
    fit_connections_to_descriptors(&mut config);
    // Each time a worker goes idle it clears the stack its requests ran on: plaintext left in
    // returned frames is not the allocator's to wipe (docs/ARCHITECTURE.md, "Plaintext in memory").
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(sealdrop_core::wiping_alloc::wipe_stack)
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let shutdown = shutdown();
        // Before anyone is told where the server listens: a SIGHUP must never find the default
        // action (exit) in place.
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(ServeError::Runtime)?;
        let listener =
            Listener::bind(&config.listen)
                .await
                .map_err(|source| ServeError::Listen {
                    listen: config.listen.clone(),
                    source,
                })?;
        on_listening(&listener.describe());
        event(format!(
            "started; sealing to {} recipient(s); data in {}",
            recipients.len(),
            config.data_dir.display()
        ));
        let guard = Guard::new(&config.abuse);
        let state = AppState::new(config.clone(), recipients, store);
        tokio::spawn(reload_on_hangup(
            hangups,
            config,
            Arc::clone(&state.recipients),
        ));
        let app = intake::router(state);
        listener
            .serve(app, guard, shutdown)
            .await
            .map_err(ServeError::Serve)?;
        event("stopped");
        Ok(())
    })
}

/// On each SIGHUP (`systemctl reload sealdrop`), read the recipients again, with the same checks
/// as at start, and seal later submissions to them. A file that fails a check changes nothing:
/// the server keeps sealing to the keys it has, and says why in the log.
async fn reload_on_hangup(mut hangups: Signal, config: Config, keyring: Arc<Keyring>) {
    while hangups.recv().await.is_some() {
        let config = config.clone();
        let checked = tokio::task::spawn_blocking(move || preflight(&config)).await;
        match checked {
            Ok(Ok(recipients)) => {
                let count = recipients.len();
                keyring.replace(recipients);
                event(format!(
                    "reloaded the recipients: sealing to {count} recipient(s)"
                ));
            }
            Ok(Err(e)) => event(format!(
                "reload refused, still sealing to the {} recipient(s) loaded before: {}",
                keyring.current().len(),
                chain(&e)
            )),
            Err(e) => event(format!("reload failed: {e}")),
        }
    }
}

/// Raise the soft descriptor limit to the hard one (1,024 by default, too few for the connection
/// cap), and lower the connection cap if the descriptors still cannot cover it with room for the
/// index, the uploads' files and the listener, so that a flood meets the cap, not EMFILE.
fn fit_connections_to_descriptors(config: &mut Config) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(soft), Some(hard)) = (limit.current, limit.maximum) {
        if soft < hard {
            limit.current = Some(hard);
            // May be refused (a sandbox); the unit file sets LimitNOFILE so that it need not be.
            if setrlimit(Resource::Nofile, limit).is_err() {
                limit.current = Some(soft);
            }
        }
    }
    let Some(available) = limit.current else {
        return;
    };
    let reserve = 64 + 4 * u64::from(config.limits.max_concurrent_uploads);
    let fits = available.saturating_sub(reserve);
    let cap = &mut config.abuse.max_connections;
    if u64::from(*cap) > fits {
        event(format!(
            "warning: only {available} file descriptors: the connection cap is lowered from {cap} \
             to {fits}; raise LimitNOFILE in the unit"
        ));
        *cap = fits.max(16) as u32;
    }
}

/// Resolves on SIGTERM (systemd's stop) or SIGINT (Ctrl-C). The handlers are installed when
/// this is called, not when the future is first polled, so a stop that comes right after start-up
/// is a graceful one. Call it inside the runtime.
pub fn until_terminated() -> impl Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
    async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
}
