//! Settings: defaults, an optional TOML file, then `SEALDROP_*` environment overrides, then
//! validation. Every setting has one name in all three places (upper-cased for the environment).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use sealdrop_core::day::Granularity;

pub mod organisation;
pub use organisation::{Logo, Organisation};

use crate::intake::i18n::Lang;

const MIB: u64 = 1024 * 1024;

/// Where the intake listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    /// A Unix socket path, for Tor's `HiddenServicePort 80 unix:PATH`.
    Unix(PathBuf),
}

impl std::str::FromStr for Listen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("`unix:` needs a socket path after it".into());
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        s.parse().map(Listen::Tcp).map_err(|_| {
            format!("`{s}` is neither an address like 127.0.0.1:8080 nor unix:/path/to/socket")
        })
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Tcp(addr) => write!(f, "http://{addr}"),
            Listen::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Limits that keep one hostile submitter from exhausting the machine.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest message, in bytes of UTF-8 (Cyrillic takes two bytes a letter).
    pub max_message_bytes: u64,
    /// Most attachments in one submission.
    pub max_files: u32,
    /// Largest single attachment, in bytes.
    pub max_file_bytes: u64,
    /// Largest whole submission (the request body), in bytes.
    pub max_submission_bytes: u64,
    /// Uploads received at once; more get a "busy, try again" page.
    pub max_concurrent_uploads: u32,
    /// Longest time one request body may take to arrive, in seconds (cuts off slow bodies).
    pub body_timeout_secs: u64,
    /// Free space, in MiB, that must remain on the data disk; below it the intake says "full".
    pub min_free_disk_mb: u64,
    /// Most ciphertext, in MiB, kept in the data directory; 0 means no quota beyond free space.
    pub storage_quota_mb: u64,
    /// Free inodes that must remain on the data disk; below it the intake says "full".
    pub min_free_inodes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 200_000,
            max_files: 20,
            max_file_bytes: 2048 * MIB,
            max_submission_bytes: 2048 * MIB,
            max_concurrent_uploads: 32,
            body_timeout_secs: 4 * 3600,
            min_free_disk_mb: 2048,
            storage_quota_mb: 0,
            min_free_inodes: 10_000,
        }
    }
}

/// Limits on connections and clients: what keeps a flood that Tor lets through from closing the
/// drop to others (docs/ARCHITECTURE.md, "Abuse control behind Tor").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Abuse {
    /// Every connection begins with a PROXY protocol (v1) header naming its client: Tor's
    /// `HiddenServiceExportCircuitID haproxy`, which names the circuit. Per-circuit limits apply
    /// only then; without it every client counts as one, under the global limits alone. Never
    /// turn it on where clients can reach the listener without Tor: they could name themselves.
    pub proxy_protocol: bool,
    /// Connections open at once. At the cap, the oldest idle connection is closed to make room;
    /// if none is idle, the new one is.
    pub max_connections: u32,
    /// Connections one circuit may hold open at once.
    pub per_circuit_connections: u32,
    /// Uploads one circuit may send at once.
    pub per_circuit_uploads: u32,
    /// Requests one circuit may make in a minute (a page costs two or three).
    pub per_circuit_requests_per_minute: u32,
    /// A request body must deliver at least this many bytes a second, averaged over
    /// `body_progress_window_secs`; a body that falls behind is cut off and leaves nothing.
    pub min_body_bytes_per_sec: u64,
    /// The window, in seconds, over which a body's progress is measured.
    pub body_progress_window_secs: u64,
    /// Longest time a client may take to send a request's headers (and, before them, the PROXY
    /// header), in seconds.
    pub header_timeout_secs: u64,
}

impl Default for Abuse {
    fn default() -> Self {
        Abuse {
            proxy_protocol: false,
            max_connections: 512,
            per_circuit_connections: 16,
            per_circuit_uploads: 2,
            per_circuit_requests_per_minute: 120,
            // A real upload over Tor runs at 20 KB/s or more; one at a fifth of that still
            // passes, while a client that stops sending loses its slot within the window.
            min_body_bytes_per_sec: 4096,
            body_progress_window_secs: 30,
            header_timeout_secs: 20,
        }
    }
}

/// The whole configuration of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: Listen,
    /// Holds `sealdrop.sqlite`, `blobs/` and `incoming/`.
    pub data_dir: PathBuf,
    /// The group's age recipients, one per line.
    pub keys_file: PathBuf,
    /// The pinned desk keys: the fingerprints of the desks whose outboxes `import-outbox`
    /// accepts, one per line (`ops::desk_keys`).
    pub desk_keys_file: PathBuf,
    /// Most days a reply stays on the server after it is imported, whatever expiry the desk
    /// asked for: what a seized server can hold for a source is bounded by the operator.
    pub reply_keep_days: u32,
    /// The retention period: `purge --retention` (the packaged timer) deletes what arrived more
    /// than this many days ago. `None`: no retention period; the timer refuses to run.
    pub retention_days: Option<u32>,
    /// How coarsely arrival is recorded.
    pub arrival_granularity: Granularity,
    pub limits: Limits,
    pub abuse: Abuse,
    /// Most submissions made durable by one group commit; 1 turns group commit off (only for
    /// measuring the difference).
    pub commit_batch_max: u32,
    /// Demo mode: pages carry a warning banner. Never set from a file.
    pub demo: bool,
    /// Who runs this drop, as the pages say it.
    pub organisation: Organisation,
    /// The page language when the source has not chosen one with the switch (`?lang=`); before
    /// the browser's `Accept-Language` (Tor Browser sends en-US to every site).
    pub default_language: Option<Lang>,
    /// The logo, read and checked at load (`organisation.logo_file`).
    pub logo: Option<Logo>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: Listen::Tcp(SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: PathBuf::from("data"),
            keys_file: PathBuf::from("keys/recipients.txt"),
            desk_keys_file: PathBuf::from("keys/desk-keys.txt"),
            reply_keep_days: 30,
            retention_days: None,
            arrival_granularity: Granularity::Day,
            limits: Limits::default(),
            abuse: Abuse::default(),
            commit_batch_max: crate::store::DEFAULT_MAX_BATCH as u32,
            demo: false,
            organisation: Organisation::default(),
            default_language: None,
            logo: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("the config file {path} contains an age secret key (AGE-SECRET-KEY-): remove it, the server must never hold one")]
    SecretKey { path: PathBuf },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("setting `{setting}`: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

/// The file's shape: every field optional, unknown fields refused so a typo is caught.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    keys_file: Option<PathBuf>,
    desk_keys_file: Option<PathBuf>,
    reply_keep_days: Option<u32>,
    retention_days: Option<u32>,
    arrival_granularity: Option<Granularity>,
    limits: Option<Limits>,
    abuse: Option<Abuse>,
    commit_batch_max: Option<u32>,
    default_language: Option<String>,
    organisation: Option<Organisation>,
}

impl Config {
    /// Defaults, then the file (if any), then the environment; validated.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(path) = file {
            config.apply_file(path)?;
        }
        config.apply_env(|name| std::env::var(name).ok())?;
        config.validate()?;
        config.logo = config
            .organisation
            .logo_file
            .as_deref()
            .map(Logo::load)
            .transpose()?;
        Ok(config)
    }

    fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        if text.contains(sealdrop_core::keys::SECRET_KEY_PREFIX) {
            return Err(ConfigError::SecretKey {
                path: path.to_owned(),
            });
        }
        let file: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        // Relative paths in a file are relative to the file, so a unit file's working directory
        // does not change what they mean.
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(listen) = file.listen {
            self.listen = listen.parse().map_err(|message| ConfigError::Parse {
                path: path.to_owned(),
                message: format!("listen: {message}"),
            })?;
        }
        if let Some(dir) = file.data_dir {
            self.data_dir = base.join(dir);
        }
        if let Some(keys) = file.keys_file {
            self.keys_file = base.join(keys);
        }
        if let Some(days) = file.reply_keep_days {
            self.reply_keep_days = days;
        }
        if let Some(days) = file.retention_days {
            self.retention_days = Some(days);
        }
        if let Some(desk_keys) = file.desk_keys_file {
            self.desk_keys_file = base.join(desk_keys);
        }
        if let Some(g) = file.arrival_granularity {
            self.arrival_granularity = g;
        }
        if let Some(limits) = file.limits {
            self.limits = limits;
        }
        if let Some(abuse) = file.abuse {
            self.abuse = abuse;
        }
        if let Some(n) = file.commit_batch_max {
            self.commit_batch_max = n;
        }
        if let Some(code) = file.default_language {
            self.default_language = Some(code.parse().map_err(|message| ConfigError::Parse {
                path: path.to_owned(),
                message: format!("default_language: {message}"),
            })?);
        }
        if let Some(mut organisation) = file.organisation {
            organisation.logo_file = organisation.logo_file.map(|logo| base.join(logo));
            self.organisation = organisation;
        }
        Ok(())
    }

    /// Apply `SEALDROP_*` overrides, read through `var` so tests need not touch the process.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.trim().parse().map_err(|e: T::Err| ConfigError::Env {
                var: name.to_owned(),
                message: format!("`{value}`: {e}"),
            })
        }
        macro_rules! env_override {
            ($name:literal => $field:expr) => {
                if let Some(value) = var($name) {
                    $field = parse($name, &value)?;
                }
            };
        }
        env_override!("SEALDROP_LISTEN" => self.listen);
        env_override!("SEALDROP_DATA_DIR" => self.data_dir);
        env_override!("SEALDROP_KEYS_FILE" => self.keys_file);
        env_override!("SEALDROP_DESK_KEYS_FILE" => self.desk_keys_file);
        env_override!("SEALDROP_REPLY_KEEP_DAYS" => self.reply_keep_days);
        env_override!("SEALDROP_ARRIVAL_GRANULARITY" => self.arrival_granularity);
        if let Some(value) = var("SEALDROP_RETENTION_DAYS") {
            self.retention_days = Some(parse("SEALDROP_RETENTION_DAYS", &value)?);
        }
        env_override!("SEALDROP_COMMIT_BATCH_MAX" => self.commit_batch_max);
        if let Some(code) = var("SEALDROP_DEFAULT_LANGUAGE") {
            self.default_language = Some(parse("SEALDROP_DEFAULT_LANGUAGE", &code)?);
        }
        let o = &mut self.organisation;
        env_override!("SEALDROP_ORGANISATION_NAME" => o.name);
        env_override!("SEALDROP_ORGANISATION_DESCRIPTION" => o.description);
        env_override!("SEALDROP_ORGANISATION_VERIFY" => o.verify);
        if let Some(path) = var("SEALDROP_ORGANISATION_LOGO_FILE") {
            o.logo_file = Some(PathBuf::from(path));
        }
        let l = &mut self.limits;
        env_override!("SEALDROP_MAX_MESSAGE_BYTES" => l.max_message_bytes);
        env_override!("SEALDROP_MAX_FILES" => l.max_files);
        env_override!("SEALDROP_MAX_FILE_BYTES" => l.max_file_bytes);
        env_override!("SEALDROP_MAX_SUBMISSION_BYTES" => l.max_submission_bytes);
        env_override!("SEALDROP_MAX_CONCURRENT_UPLOADS" => l.max_concurrent_uploads);
        env_override!("SEALDROP_BODY_TIMEOUT_SECS" => l.body_timeout_secs);
        env_override!("SEALDROP_MIN_FREE_DISK_MB" => l.min_free_disk_mb);
        env_override!("SEALDROP_STORAGE_QUOTA_MB" => l.storage_quota_mb);
        env_override!("SEALDROP_MIN_FREE_INODES" => l.min_free_inodes);
        let a = &mut self.abuse;
        env_override!("SEALDROP_PROXY_PROTOCOL" => a.proxy_protocol);
        env_override!("SEALDROP_MAX_CONNECTIONS" => a.max_connections);
        env_override!("SEALDROP_PER_CIRCUIT_CONNECTIONS" => a.per_circuit_connections);
        env_override!("SEALDROP_PER_CIRCUIT_UPLOADS" => a.per_circuit_uploads);
        env_override!("SEALDROP_PER_CIRCUIT_REQUESTS_PER_MINUTE" => a.per_circuit_requests_per_minute);
        env_override!("SEALDROP_MIN_BODY_BYTES_PER_SEC" => a.min_body_bytes_per_sec);
        env_override!("SEALDROP_BODY_PROGRESS_WINDOW_SECS" => a.body_progress_window_secs);
        env_override!("SEALDROP_HEADER_TIMEOUT_SECS" => a.header_timeout_secs);
        Ok(())
    }

    /// Refuse settings that cannot work, naming the setting and what would.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        let invalid = |setting, message: &str| {
            Err(ConfigError::Invalid {
                setting,
                message: message.to_owned(),
            })
        };
        if l.max_message_bytes == 0 {
            return invalid("limits.max_message_bytes", "must be at least 1");
        }
        if self.commit_batch_max == 0 {
            return invalid("commit_batch_max", "must be at least 1");
        }
        if l.max_concurrent_uploads == 0 {
            return invalid("limits.max_concurrent_uploads", "must be at least 1");
        }
        if l.body_timeout_secs < 10 {
            return invalid("limits.body_timeout_secs", "must be at least 10 seconds");
        }
        if l.max_submission_bytes < l.max_message_bytes + 64 * 1024 {
            return invalid(
                "limits.max_submission_bytes",
                "must leave room for the longest message (max_message_bytes + 64 KiB)",
            );
        }
        if l.max_file_bytes > l.max_submission_bytes {
            return invalid(
                "limits.max_file_bytes",
                "cannot be larger than limits.max_submission_bytes",
            );
        }
        if !(1..=366).contains(&self.reply_keep_days) {
            return invalid("reply_keep_days", "must be from 1 to 366 days");
        }
        if self
            .retention_days
            .is_some_and(|d| !(1..=3660).contains(&d))
        {
            return invalid("retention_days", "must be from 1 to 3660 days");
        }
        let a = &self.abuse;
        if a.max_connections < 16 {
            return invalid("abuse.max_connections", "must be at least 16");
        }
        for (setting, value) in [
            ("abuse.per_circuit_connections", a.per_circuit_connections),
            ("abuse.per_circuit_uploads", a.per_circuit_uploads),
            (
                "abuse.per_circuit_requests_per_minute",
                a.per_circuit_requests_per_minute,
            ),
        ] {
            if value == 0 {
                return invalid(setting, "must be at least 1");
            }
        }
        if !(5..=600).contains(&a.body_progress_window_secs) {
            return invalid(
                "abuse.body_progress_window_secs",
                "must be from 5 to 600 seconds",
            );
        }
        if !(2..=300).contains(&a.header_timeout_secs) {
            return invalid("abuse.header_timeout_secs", "must be from 2 to 300 seconds");
        }
        if self.data_dir.as_os_str().is_empty() {
            return invalid("data_dir", "must name a directory");
        }
        self.organisation.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("sealdrop.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "listen = \"unix:/run/sealdrop/s.sock\"\ndata_dir = \"d\"\n[limits]\nmax_files = 3\n",
        );
        let mut config = Config::default();
        config.apply_file(&path).unwrap();
        assert_eq!(config.listen, Listen::Unix("/run/sealdrop/s.sock".into()));
        assert_eq!(config.data_dir, dir.path().join("d"));
        assert_eq!(config.desk_keys_file, PathBuf::from("keys/desk-keys.txt"));
        let path = write(dir.path(), "desk_keys_file = \"pins/desks.txt\"\n");
        config.apply_file(&path).unwrap();
        assert_eq!(config.desk_keys_file, dir.path().join("pins/desks.txt"));
        config
            .apply_env(|name| (name == "SEALDROP_DESK_KEYS_FILE").then(|| "/x/d.txt".to_owned()))
            .unwrap();
        assert_eq!(config.desk_keys_file, PathBuf::from("/x/d.txt"));
        assert_eq!(config.limits.max_files, 3);
        // Unset limits keep their defaults.
        assert_eq!(config.limits.max_concurrent_uploads, 32);
        config
            .apply_env(|name| (name == "SEALDROP_MAX_FILES").then(|| "7".to_owned()))
            .unwrap();
        assert_eq!(config.limits.max_files, 7);
        let err = config
            .apply_env(|name| (name == "SEALDROP_MAX_FILES").then(|| "many".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("SEALDROP_MAX_FILES"), "{err}");
    }

    #[test]
    fn typos_and_secret_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::default()
            .apply_file(&write(dir.path(), "data_dri = \"x\"\n"))
            .unwrap_err();
        assert!(err.to_string().contains("data_dri"), "{err}");
        let err = Config::default()
            .apply_file(&write(dir.path(), "# AGE-SECRET-KEY-1ABC\n"))
            .unwrap_err();
        assert!(matches!(err, ConfigError::SecretKey { .. }), "{err}");
    }

    #[test]
    fn the_shipped_config_reads_and_its_plain_values_are_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let shipped = include_str!("../../deploy/sealdrop.toml");
        let mut config = Config::default();
        config.apply_file(&write(dir.path(), shipped)).unwrap();
        config.validate().unwrap();
        // What the file marks as an example differs; everything else says the default.
        assert!(
            config.abuse.proxy_protocol,
            "shipped with Tor's circuit ids on"
        );
        let expected = Abuse {
            proxy_protocol: true,
            ..Abuse::default()
        };
        assert_eq!(config.abuse, expected);
        assert_eq!(config.limits, Limits::default());
    }

    #[test]
    fn validation_names_the_setting() {
        let mut config = Config::default();
        config.limits.max_file_bytes = config.limits.max_submission_bytes + 1;
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("limits.max_file_bytes"), "{err}");
    }
}
