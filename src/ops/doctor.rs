//! `sealdrop doctor`: everything an operator can get wrong, checked one thing a function, each
//! finding saying how to fix it.
//!
//! It reads; it never changes anything. It looks at the system as the package installs it
//! (a tor instance `tor@sealdrop` with its own user and torrc, timers in /etc/systemd/system),
//! and each of those places can be given instead ([`Environment`]) for a hand-made setup and for
//! the tests.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sealdrop_bundle::signing;

use crate::config::{Config, Listen};
use crate::events::chain;
use crate::ops::{backup, desk_keys, host, preflight, tor_config};

/// Where doctor looks besides the config.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The torrc of the tor instance that serves the onion.
    pub torrc: PathBuf,
    /// The user that tor runs as (it keeps only that user's primary group).
    pub tor_user: String,
    /// The user the server runs as: the data directory must be its own.
    pub service_user: String,
    /// Where `systemctl enable` puts its links.
    pub systemd_dir: PathBuf,
    /// The root of the system whose swap and journal are judged (`/proc/swaps`, `/sys`,
    /// journald's config: [`host`]).
    pub host_root: PathBuf,
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            torrc: PathBuf::from(tor_config::PACKAGED_TORRC),
            tor_user: tor_config::PACKAGED_TOR_USER.to_owned(),
            service_user: "sealdrop".to_owned(),
            systemd_dir: PathBuf::from("/etc/systemd/system"),
            host_root: PathBuf::from("/"),
        }
    }
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Fine(String),
    /// Worth knowing; not a fault.
    Note(String),
    /// Something that does not work, and how to fix it.
    Problem(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static str,
    pub outcome: Outcome,
}

impl Finding {
    pub fn is_problem(&self) -> bool {
        matches!(self.outcome, Outcome::Problem(_))
    }
}

fn fine(check: &'static str, text: impl Into<String>) -> Finding {
    Finding {
        check,
        outcome: Outcome::Fine(text.into()),
    }
}
fn note(check: &'static str, text: impl Into<String>) -> Finding {
    Finding {
        check,
        outcome: Outcome::Note(text.into()),
    }
}
fn problem(check: &'static str, text: impl Into<String>) -> Finding {
    Finding {
        check,
        outcome: Outcome::Problem(text.into()),
    }
}

/// Run every check. A config that does not load is the one finding: nothing else can be judged.
pub fn run(config_file: Option<&Path>, env: &Environment) -> Vec<Finding> {
    let config = match Config::load(config_file) {
        Ok(config) => config,
        Err(e) => return vec![problem("config", chain(&e))],
    };
    let torrc = tor_config::read(&env.torrc);
    vec![
        check_recipients(&config),
        check_desk_keys(&config),
        check_data_dir(&config, env),
        check_space(&config),
        check_socket(&config),
        check_tor_access(&config, env),
        check_tor_config(&config, &env.torrc, &torrc),
        check_retention(&config, env),
        check_backup(&config, &torrc),
        check_swap(&env.host_root),
        check_journal(&env.host_root),
    ]
}

/// The recipients file is readable and valid, and no secret key lies beside it or in the data
/// directory.
pub fn check_recipients(config: &Config) -> Finding {
    match preflight::preflight(config) {
        Ok(recipients) => fine(
            "recipients",
            format!(
                "{} recipient(s) in {}",
                recipients.len(),
                config.keys_file.display()
            ),
        ),
        Err(e) => problem("recipients", chain(&e)),
    }
}

/// The desks whose outboxes the server accepts: a desk set up but not pinned here yet is the
/// usual first-week surprise (its outbox is refused).
pub fn check_desk_keys(config: &Config) -> Finding {
    let path = &config.desk_keys_file;
    match desk_keys::load(path) {
        Ok(keys) => fine(
            "desk keys",
            format!("{} desk(s) pinned in {}", keys.len(), path.display()),
        ),
        Err(desk_keys::DeskKeysError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            note(
                "desk keys",
                format!(
                    "no desk is pinned yet ({} does not exist): outboxes (replies, \
                     acknowledgements) will be refused until you put there the fingerprint \
                     `sealdesk init` printed on the desk, taken over a channel you trust",
                    path.display()
                ),
            )
        }
        Err(desk_keys::DeskKeysError::Empty { .. }) => note(
            "desk keys",
            format!(
                "{} pins no desk yet: outboxes will be refused until you add the fingerprint \
                 `sealdesk init` printed on the desk, taken over a channel you trust",
                path.display()
            ),
        ),
        Err(e) => problem("desk keys", chain(&e)),
    }
}

/// The data directory exists, belongs to the service user, and is private to it; the signing
/// key in it is too.
pub fn check_data_dir(config: &Config, env: &Environment) -> Finding {
    let dir = &config.data_dir;
    let meta = match std::fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return problem(
                "data directory",
                format!(
                    "{} does not exist: start the server once (`systemctl start sealdrop`), \
                     which creates it, or fix data_dir in the config",
                    dir.display()
                ),
            )
        }
        Err(e) => {
            return problem(
                "data directory",
                format!("cannot inspect {}: {e}", dir.display()),
            )
        }
    };
    if !meta.is_dir() {
        return problem(
            "data directory",
            format!(
                "{} is not a directory; set data_dir to a folder",
                dir.display()
            ),
        );
    }
    if let Some(user) = lookup_user(&env.service_user) {
        if meta.uid() != user.uid {
            return problem(
                "data directory",
                format!(
                    "{} belongs to uid {}, not to the service user {}: run `chown -R {}: {}`",
                    dir.display(),
                    meta.uid(),
                    env.service_user,
                    env.service_user,
                    dir.display()
                ),
            );
        }
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return problem(
            "data directory",
            format!(
                "{} has mode {mode:o}: other users can look into it. Run `chmod 700 {}`",
                dir.display(),
                dir.display()
            ),
        );
    }
    let key = dir.join(signing::KEY_FILE);
    if key.exists() {
        if let Err(e) = signing::load(&key) {
            return problem("data directory", chain(&e));
        }
    }
    fine(
        "data directory",
        format!("{} is private to {}", dir.display(), env.service_user),
    )
}

/// Free space and free inodes on the data disk, against the configured floors.
pub fn check_space(config: &Config) -> Finding {
    let dir = config
        .data_dir
        .ancestors()
        .find(|a| a.is_dir())
        .unwrap_or(Path::new("."));
    let stat = match rustix::fs::statvfs(dir) {
        Ok(stat) => stat,
        Err(e) => return problem("disk", format!("cannot measure {}: {e}", dir.display())),
    };
    let free_mib = stat.f_bavail.saturating_mul(stat.f_frsize) >> 20;
    let floor_mib = config.limits.min_free_disk_mb;
    if free_mib <= floor_mib {
        return problem(
            "disk",
            format!(
                "only {free_mib} MiB free on the data disk, at or below min_free_disk_mb \
                 ({floor_mib} MiB): every submission gets the \"temporarily full\" page. Export \
                 and purge, grow the disk, or lower the setting"
            ),
        );
    }
    // btrfs and some others report no fixed inode count: nothing to run out of.
    let inodes = stat.f_favail;
    let inode_floor = config.limits.min_free_inodes;
    if stat.f_files > 0 && inodes <= inode_floor {
        return problem(
            "disk",
            format!(
                "only {inodes} free inodes on the data disk, at or below min_free_inodes \
                 ({inode_floor}): submissions get the \"temporarily full\" page. Export and \
                 purge, or lower the setting"
            ),
        );
    }
    let text = format!(
        "{free_mib} MiB and {inodes} inodes free (floors {floor_mib} MiB, {inode_floor} inodes)"
    );
    if free_mib < floor_mib.saturating_mul(2) || (stat.f_files > 0 && inodes < inode_floor * 2) {
        return note("disk", format!("{text}: close to the floor"));
    }
    fine("disk", text)
}

/// The server answers on its listener: a socket where the config says, and a page from it.
pub fn check_socket(config: &Config) -> Finding {
    if let Listen::Unix(path) = &config.listen {
        match std::fs::symlink_metadata(path) {
            Err(_) => {
                return problem(
                    "socket",
                    format!(
                        "there is no socket at {}: the server is not running. Start it \
                         (`systemctl start sealdrop`) and see `journalctl -u sealdrop`",
                        path.display()
                    ),
                )
            }
            Ok(meta) if !meta.file_type().is_socket() => {
                return problem(
                    "socket",
                    format!(
                        "{} is not a socket: remove it and restart the server",
                        path.display()
                    ),
                )
            }
            Ok(_) => {}
        }
    }
    match ask_for_front_page(&config.listen, config.abuse.proxy_protocol) {
        Ok(status) if status.contains(" 200 ") => {
            fine("socket", format!("the server answers on {}", config.listen))
        }
        Ok(status) => problem(
            "socket",
            format!(
                "the server on {} answered `{}` instead of the form: see `journalctl -u sealdrop`",
                config.listen,
                status.trim()
            ),
        ),
        Err(e) => problem(
            "socket",
            format!(
                "nothing answers on {} ({e}): start the server (`systemctl start sealdrop`) and \
                 see `journalctl -u sealdrop`",
                config.listen
            ),
        ),
    }
}

/// GET / on the listener, as Tor would send it; returns the status line.
fn ask_for_front_page(listen: &Listen, proxy_protocol: bool) -> std::io::Result<String> {
    let mut request = Vec::new();
    if proxy_protocol {
        // What tor writes for HiddenServiceExportCircuitID haproxy (circuit id 1).
        request.extend_from_slice(b"PROXY TCP6 fc00:dead:beef:4dad::0:1 ::1 65535 80\r\n");
    }
    request.extend_from_slice(b"GET / HTTP/1.1\r\nHost: doctor\r\nConnection: close\r\n\r\n");
    let timeout = Some(Duration::from_secs(10));
    let mut reply = Vec::new();
    match listen {
        Listen::Unix(path) => {
            let mut s = std::os::unix::net::UnixStream::connect(path)?;
            s.set_read_timeout(timeout)?;
            s.set_write_timeout(timeout)?;
            s.write_all(&request)?;
            s.take(256).read_to_end(&mut reply)?;
        }
        Listen::Tcp(addr) => {
            let mut s = std::net::TcpStream::connect_timeout(addr, Duration::from_secs(10))?;
            s.set_read_timeout(timeout)?;
            s.set_write_timeout(timeout)?;
            s.write_all(&request)?;
            s.take(256).read_to_end(&mut reply)?;
        }
    }
    let text = String::from_utf8_lossy(&reply);
    Ok(text.lines().next().unwrap_or("").to_owned())
}

/// A user's ids, from the system's user database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserIds {
    pub uid: u32,
    pub gid: u32,
}

pub fn lookup_user(name: &str) -> Option<UserIds> {
    let name = CString::new(name).ok()?;
    // SAFETY: getpwnam returns a pointer to static storage or null; we copy two integers out at
    // once, before any other call could reuse that storage (doctor is single-threaded here).
    unsafe {
        let entry = libc::getpwnam(name.as_ptr());
        if entry.is_null() {
            return None;
        }
        Some(UserIds {
            uid: (*entry).pw_uid,
            gid: (*entry).pw_gid,
        })
    }
}

/// Tor's user can connect to the socket: the failure that is otherwise silent (tor logs it only
/// at info level, visitors get an error page). Tor keeps only its user's primary group, so the
/// permissions are judged for that uid and that one gid; as root, doctor also really connects as
/// them.
pub fn check_tor_access(config: &Config, env: &Environment) -> Finding {
    let Listen::Unix(socket) = &config.listen else {
        return note(
            "tor access",
            "the server listens on TCP, not on a Unix socket; tor reaches it like any local \
             client. A Unix socket (listen = \"unix:/run/sealdrop/sealdrop.sock\") leaves no TCP \
             port open on the machine",
        );
    };
    let Some(tor) = lookup_user(&env.tor_user) else {
        return problem(
            "tor access",
            format!(
                "there is no user {} for tor: create the package's tor instance \
                 (`tor-instance-create sealdrop`), or give doctor --tor-user (debian-tor for the \
                 system tor)",
                env.tor_user
            ),
        );
    };
    if let Err(why) = may_connect(socket, tor) {
        return problem("tor access", format!("tor's user {} {why}", env.tor_user));
    }
    if rustix::process::geteuid().is_root() && socket.exists() {
        if let Err(why) = connect_as(socket, tor) {
            return problem(
                "tor access",
                format!(
                    "connecting to {} as tor's user {} (uid {}, gid {}) fails: {why}. Look for \
                     an AppArmor denial in `journalctl -k` (deploy/README.md says what to allow)",
                    socket.display(),
                    env.tor_user,
                    tor.uid,
                    tor.gid
                ),
            );
        }
        return fine(
            "tor access",
            format!(
                "tor's user {} connects to {}",
                env.tor_user,
                socket.display()
            ),
        );
    }
    fine(
        "tor access",
        format!(
            "the permissions let tor's user {} connect to {} (run doctor as root to try it)",
            env.tor_user,
            socket.display()
        ),
    )
}

/// Whether `who` (with its primary group only) may connect to `socket`: search permission on
/// every directory above it and write permission on the socket. The error says what blocks it
/// and how to fix it.
pub fn may_connect(socket: &Path, who: UserIds) -> Result<(), String> {
    if who.uid == 0 {
        return Ok(());
    }
    let allowed = |meta: &std::fs::Metadata, bit: u32| {
        let mode = meta.mode();
        if meta.uid() == who.uid {
            mode & (bit << 6) != 0
        } else if meta.gid() == who.gid {
            mode & (bit << 3) != 0
        } else {
            mode & bit != 0
        }
    };
    let describe = |path: &Path, meta: &std::fs::Metadata| {
        format!(
            "{} is mode {:o}, owner uid {}, group gid {}",
            path.display(),
            meta.mode() & 0o7777,
            meta.uid(),
            meta.gid()
        )
    };
    let mut dirs: Vec<&Path> = socket.ancestors().skip(1).collect();
    dirs.reverse();
    for dir in dirs.into_iter().filter(|d| !d.as_os_str().is_empty()) {
        let meta =
            std::fs::metadata(dir).map_err(|e| format!("cannot reach {}: {e}", dir.display()))?;
        if !allowed(&meta, 0o1) {
            return Err(format!(
                "cannot enter {} ({}). The socket's directory must be in tor's group (gid {}) \
                 with mode 2750: the unit's ExecStartPre makes it so; restart the server after \
                 fixing the unit's group",
                dir.display(),
                describe(dir, &meta),
                who.gid
            ));
        }
    }
    let meta = match std::fs::metadata(socket) {
        Ok(meta) => meta,
        // No socket yet: the directories let tor through; the socket check says the rest.
        Err(_) => return Ok(()),
    };
    if !allowed(&meta, 0o2) {
        return Err(format!(
            "cannot write to the socket ({}): it must be in tor's group (gid {}) with mode 0660. \
             Tor keeps no supplementary groups, so adding tor's user to a group does not help; \
             make the socket's directory setgid in tor's group (the unit's ExecStartPre) and \
             restart the server",
            describe(socket, &meta),
            who.gid
        ));
    }
    Ok(())
}

/// Really connect as `who`, in a child of this binary (`sealdrop doctor --probe-socket`) that
/// runs with that uid and gid and no supplementary groups, as tor does.
fn connect_as(socket: &Path, who: UserIds) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    // std drops the supplementary groups when root sets a uid without giving groups.
    let output = std::process::Command::new(exe)
        .args(["doctor", "--probe-socket"])
        .arg(socket)
        .uid(who.uid)
        .gid(who.gid)
        .env_clear()
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot start the probe: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let said = String::from_utf8_lossy(&output.stderr);
        Err(said.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// The probe's side: connect and say why not.
pub fn probe_socket(socket: &Path) -> std::io::Result<()> {
    std::os::unix::net::UnixStream::connect(socket).map(drop)
}

/// The torrc sends the onion to this server's listener, and the PROXY header setting matches
/// `[abuse] proxy_protocol`.
pub fn check_tor_config(
    config: &Config,
    torrc_path: &Path,
    torrc: &Result<tor_config::Torrc, tor_config::TorrcError>,
) -> Finding {
    let torrc = match torrc {
        Ok(torrc) => torrc,
        Err(e) => return problem("tor config", chain(e)),
    };
    if let Some(dir) = torrc.duplicate_dir() {
        return problem(
            "tor config",
            format!(
                "HiddenServiceDir {} appears twice in {} (and its includes); tor refuses to \
                 start. Keep one block",
                dir.display(),
                torrc_path.display()
            ),
        );
    }
    let Some(service) = torrc.service_for(&config.listen) else {
        let wanted = match &config.listen {
            Listen::Unix(path) => format!("unix:{}", path.display()),
            Listen::Tcp(addr) => addr.to_string(),
        };
        return problem(
            "tor config",
            format!(
                "no HiddenServicePort in {} points at the server's listener: add \
                 `HiddenServicePort 80 {wanted}` under its HiddenServiceDir (deploy/torrc) and \
                 reload tor",
                torrc_path.display()
            ),
        );
    };
    match (service.export_circuit_id, config.abuse.proxy_protocol) {
        (true, false) => problem(
            "tor config",
            format!(
                "tor sends a PROXY header (HiddenServiceExportCircuitID haproxy, {}) but the \
                 server does not expect one: every request would be refused. Set \
                 `[abuse] proxy_protocol = true` and restart the server",
                torrc_path.display()
            ),
        ),
        (false, true) => problem(
            "tor config",
            format!(
                "the server expects a PROXY header (`[abuse] proxy_protocol = true`) but tor \
                 sends none: every connection would be closed. Add \
                 `HiddenServiceExportCircuitID haproxy` under HiddenServiceDir {} and reload tor",
                service.dir.display()
            ),
        ),
        _ => fine(
            "tor config",
            format!(
                "the onion service in {} serves {}",
                service.dir.display(),
                config.listen
            ),
        ),
    }
}

/// The timer that purges by age: on exactly when a retention period is set.
pub fn check_retention(config: &Config, env: &Environment) -> Finding {
    let link = env
        .systemd_dir
        .join("timers.target.wants")
        .join("sealdrop-purge.timer");
    let enabled = link.exists();
    match (config.retention_days, enabled) {
        (Some(days), true) => fine(
            "retention",
            format!("submissions older than {days} days are purged daily"),
        ),
        (Some(days), false) => problem(
            "retention",
            format!(
                "retention_days = {days} is set but the timer is off, so nothing is purged by \
                 age: run `systemctl enable --now sealdrop-purge.timer`"
            ),
        ),
        (None, true) => problem(
            "retention",
            "sealdrop-purge.timer is enabled but no retention_days is set, so each run fails: \
             set retention_days in the config, or `systemctl disable --now sealdrop-purge.timer`",
        ),
        (None, false) => note(
            "retention",
            "no retention period: submissions stay until staff acknowledge them. To bound what \
             a seized server holds, set retention_days and enable sealdrop-purge.timer",
        ),
    }
}

/// A backup of the keys whose loss is final, made since they last changed.
pub fn check_backup(
    config: &Config,
    torrc: &Result<tor_config::Torrc, tor_config::TorrcError>,
) -> Finding {
    let hs_dir = torrc
        .as_ref()
        .ok()
        .and_then(|t| t.service_for(&config.listen))
        .map(|s| s.dir.clone());
    match backup::last_backup_state(&config.data_dir, hs_dir.as_deref()) {
        backup::BackupState::Never => note(
            "backup",
            "no backup of the onion key and the signing key has been made on this machine: \
             run `sealdrop backup --out FILE` and give the file to staff (deploy/README.md)",
        ),
        backup::BackupState::Stale(which) => problem(
            "backup",
            format!(
                "{} changed after the last backup: run `sealdrop backup --out FILE` again",
                which.display()
            ),
        ),
        backup::BackupState::Current(when) => {
            fine("backup", format!("the keys were backed up on {when}"))
        }
    }
}

/// Swap that could page what sources send out to disk in clear (tor's buffers hold each request
/// in clear; the server's own memory is kept out of swap by its unit).
pub fn check_swap(root: &Path) -> Finding {
    let areas = match host::swap_areas(root) {
        Ok(areas) => areas,
        Err(e) => {
            return note(
                "swap",
                format!(
                    "cannot read {}: {e}; check by hand that swap is off or encrypted \
                     (`swapon --show`)",
                    root.join("proc/swaps").display()
                ),
            )
        }
    };
    if areas.is_empty() {
        return fine("swap", "no swap: nothing in memory is ever paged to disk");
    }
    let mut safe = Vec::new();
    let mut clear = Vec::new();
    let mut unknown = Vec::new();
    for area in &areas {
        match host::swap_kind(root, area) {
            host::SwapKind::Encrypted(by) => safe.push(format!("{} (encrypted, {by})", area.path)),
            host::SwapKind::InMemory => safe.push(format!("{} (in memory)", area.path)),
            host::SwapKind::Clear => clear.push(area.path.clone()),
            host::SwapKind::Unknown(why) => unknown.push(format!("{} ({why})", area.path)),
        }
    }
    if !clear.is_empty() {
        return problem(
            "swap",
            format!(
                "swap on {} is not encrypted: what tor holds of a source's request in memory can \
                 be written there in clear and stay after power-off. Run `swapoff {}` and remove \
                 it from /etc/fstab, or make it encrypted swap (deploy/README.md, \"Swap\")",
                clear.join(", "),
                clear.join(" ")
            ),
        );
    }
    if !unknown.is_empty() {
        return note(
            "swap",
            format!(
                "cannot tell whether swap on {} is encrypted; check that it is (`lsblk -f`) or \
                 turn it off",
                unknown.join(", ")
            ),
        );
    }
    fine("swap", format!("swap only on {}", safe.join(", ")))
}

/// The journal: Sealdrop logs no request, but journald stamps each line it does write (start,
/// stop, faults) with the time, and a journal on disk keeps those after power-off.
pub fn check_journal(root: &Path) -> Finding {
    match host::journal_storage(root) {
        host::JournalStorage::Volatile(why) => {
            fine("journal", format!("kept in memory only ({why})"))
        }
        host::JournalStorage::Persistent(why) => note(
            "journal",
            format!(
                "journald keeps its journal on disk ({why}), so the times the server started, \
                 stopped or failed outlive a power-off: set `Storage=volatile` in \
                 /etc/systemd/journald.conf and restart systemd-journald (deploy/README.md)"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_judged_for_the_primary_group_only() {
        let dir = tempfile::tempdir().unwrap();
        let sock_dir = dir.path().join("run");
        std::fs::create_dir(&sock_dir).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let socket = sock_dir.join("s.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let meta = std::fs::metadata(&sock_dir).unwrap();
        let stranger = UserIds {
            uid: 4242,
            gid: 4242,
        };
        let member = UserIds {
            uid: 4242,
            gid: meta.gid(),
        };
        std::fs::set_permissions(&sock_dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660)).unwrap();
        assert!(may_connect(&socket, member).is_ok());
        let why = may_connect(&socket, stranger).unwrap_err();
        assert!(why.contains("cannot enter"), "{why}");
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o640)).unwrap();
        let why = may_connect(&socket, member).unwrap_err();
        assert!(why.contains("cannot write to the socket"), "{why}");
    }
}
