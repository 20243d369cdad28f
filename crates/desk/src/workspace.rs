//! The workspace: a private folder holding `sealdesk.sqlite` (the index, the settings and the
//! staff's triage) and `blobs/<id>.age` (ciphertext exactly as the server stored it).
//!
//! Nothing in here is ever plaintext except tags and statuses; decryption happens in memory.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ed25519_dalek::VerifyingKey;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{migrations, DeskError};
use sealdrop_core::day::{arrival_date, Date, Granularity};
use sealdrop_core::durable::create_private_dir;
use sealdrop_core::is_id;
use sealdrop_core::keys::Recipients;

pub const DB_FILE: &str = "sealdesk.sqlite";
pub const BLOBS_DIR: &str = "blobs";
/// Import staging folders are named `import-<random>` inside the workspace (same filesystem, so
/// moving a checked blob into `blobs/` is a rename).
pub const STAGING_PREFIX: &str = "import-";

/// Shortest id prefix accepted on the command line.
pub const MIN_PREFIX: usize = 4;

/// What `sealdesk init` records.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The server's Ed25519 bundle-signing key, pinned at init.
    pub server_key: VerifyingKey,
    /// The staff identity file used to decrypt.
    pub identity: PathBuf,
    /// The group's recipients file contents (public keys), for encrypting notes.
    pub recipients: String,
}

impl Settings {
    pub fn recipients(&self) -> Result<Recipients, DeskError> {
        Ok(Recipients::parse(
            Path::new("the workspace's group recipients"),
            self.recipients.as_bytes(),
        )?)
    }
}

pub struct Workspace {
    dir: PathBuf,
    conn: Connection,
}

fn open_db(path: &Path, flags: OpenFlags) -> Result<Connection, DeskError> {
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // The default rollback journal: one user, no lingering -wal files, and a read-only command
    // leaves the database file untouched.
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;",
    )?;
    Ok(conn)
}

impl Workspace {
    /// Make a new workspace in `dir` (created if missing; it must be empty otherwise).
    pub fn create(dir: &Path, settings: &Settings) -> Result<Workspace, DeskError> {
        if dir.join(DB_FILE).exists() {
            return Err(DeskError::WorkspaceExists {
                dir: dir.to_owned(),
            });
        }
        if dir.exists() {
            let mut entries =
                fs::read_dir(dir).map_err(DeskError::io(format!("reading {}", dir.display())))?;
            if entries.next().is_some() {
                return Err(DeskError::NotEmpty {
                    dir: dir.to_owned(),
                });
            }
        }
        // The default place (~/.local/share/sealdesk) may be the first thing made in ~/.local.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)
                .map_err(DeskError::io(format!("creating {}", parent.display())))?;
        }
        create_private_dir(dir).map_err(DeskError::io(format!("creating {}", dir.display())))?;
        // An existing empty folder keeps whatever mode it had: make it private too.
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(DeskError::io(format!("making {} private", dir.display())))?;
        }
        let blobs = dir.join(BLOBS_DIR);
        create_private_dir(&blobs)
            .map_err(DeskError::io(format!("creating {}", blobs.display())))?;
        let mut conn = open_db(
            &dir.join(DB_FILE),
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        migrations::apply(&mut conn)?;
        let tx = conn.transaction()?;
        for (key, value) in [
            ("server_key", hex::encode(settings.server_key.as_bytes())),
            ("identity", path_text(&settings.identity)?),
            ("recipients", settings.recipients.clone()),
        ] {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)",
                (key, value),
            )?;
        }
        tx.commit()?;
        Ok(Workspace {
            dir: dir.to_owned(),
            conn,
        })
    }

    /// Open an existing workspace (never creates one).
    pub fn open(dir: &Path) -> Result<Workspace, DeskError> {
        let db = dir.join(DB_FILE);
        if !db.is_file() {
            return Err(DeskError::NoWorkspace {
                dir: dir.to_owned(),
            });
        }
        let mut conn = open_db(
            &db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        migrations::apply(&mut conn)?;
        Ok(Workspace {
            dir: dir.to_owned(),
            conn,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.dir.join(BLOBS_DIR)
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn settings(&self) -> Result<Settings, DeskError> {
        let get = |key: &str| -> Result<String, DeskError> {
            self.conn
                .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?
                .ok_or_else(|| DeskError::Settings(format!("no {key}")))
        };
        let key_hex = get("server_key")?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&key_hex, &mut bytes)
            .map_err(|_| DeskError::Settings("bad server key".into()))?;
        let server_key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| DeskError::Settings("bad server key".into()))?;
        Ok(Settings {
            server_key,
            identity: PathBuf::from(get("identity")?),
            recipients: get("recipients")?,
        })
    }

    /// Change one setting and record the change (time, old, new) in the same transaction.
    pub fn change_setting(&mut self, key: &str, old: &str, new: &str) -> Result<(), DeskError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, new),
        )?;
        tx.execute(
            "INSERT INTO setting_changes (changed, setting, old, new) VALUES (?1, ?2, ?3, ?4)",
            (now_minute(), key, old, new),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// One optional setting (`author`), if set.
    pub fn optional_setting(&self, key: &str) -> Result<Option<String>, DeskError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The full id of the one submission whose id starts with `prefix`.
    pub fn resolve(&self, prefix: &str) -> Result<String, DeskError> {
        let p = prefix.trim().to_ascii_lowercase();
        if p.len() < MIN_PREFIX || p.len() > 32 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DeskError::BadIdPrefix(prefix.to_owned()));
        }
        // Only hex digits reach the pattern, so LIKE has nothing to escape.
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM submissions WHERE id LIKE ?1 || '%' ORDER BY id LIMIT 6")?;
        let matches: Vec<String> = stmt
            .query_map([&p], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        match matches.len() {
            0 => Err(DeskError::NoSuchSubmission(p)),
            1 => Ok(matches.into_iter().next().expect("one match")),
            _ => Err(DeskError::Ambiguous {
                prefix: p,
                matches: matches.iter().map(|m| m[..12].to_owned()).collect(),
            }),
        }
    }

    /// Refuse to write clear text (extracted files, reports) inside the workspace, which holds
    /// ciphertext only and may be backed up or copied as such.
    pub fn refuse_inside(&self, path: &Path) -> Result<(), DeskError> {
        let workspace = fs::canonicalize(&self.dir)
            .map_err(DeskError::io(format!("reading {}", self.dir.display())))?;
        // The path may not exist yet: resolve its nearest existing ancestor.
        let absolute = std::path::absolute(path)
            .map_err(DeskError::io(format!("reading {}", path.display())))?;
        let existing = absolute
            .ancestors()
            .find_map(|a| fs::canonicalize(a).ok())
            .unwrap_or(absolute);
        if existing.starts_with(&workspace) {
            return Err(DeskError::InsideWorkspace(path.to_owned()));
        }
        Ok(())
    }

    /// Where a blob's ciphertext lives. `id` must be a checked id.
    pub fn blob_path(&self, id: &str) -> PathBuf {
        blob_path(&self.blobs_dir(), id)
    }
}

/// Where a blob's ciphertext lives under `blobs`; panics on an unchecked id (a bug, not input).
pub fn blob_path(blobs: &Path, id: &str) -> PathBuf {
    assert!(is_id(id), "blob ids are checked before use");
    blobs.join(format!("{id}.age"))
}

/// Now, as staff actions (notes, corrections) are stamped: UTC, to the minute,
/// `YYYY-MM-DD HH:MM UTC`. Sources' arrivals keep only the day (`today`).
pub fn now_minute() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let day = Date::from_days(secs.div_euclid(86_400));
    let in_day = secs.rem_euclid(86_400);
    format!("{day} {:02}:{:02} UTC", in_day / 3600, in_day % 3600 / 60)
}

/// Today as the workspace records days (UTC, nothing finer).
pub fn today() -> Date {
    arrival_date(SystemTime::now(), Granularity::Day)
}

fn path_text(path: &Path) -> Result<String, DeskError> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| DeskError::Settings(format!("{} is not valid UTF-8", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        let recipient = age::x25519::Identity::generate().to_public().to_string();
        Settings {
            server_key: key,
            identity: PathBuf::from("/somewhere/staff.age"),
            recipients: format!("# group\n{recipient}\n"),
        }
    }

    #[test]
    fn create_then_open_keeps_settings_and_refuses_twice() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ws");
        let s = settings();
        Workspace::create(&dir, &s).unwrap();
        let ws = Workspace::open(&dir).unwrap();
        let back = ws.settings().unwrap();
        assert_eq!(back.server_key, s.server_key);
        assert_eq!(back.identity, s.identity);
        assert_eq!(back.recipients().unwrap().len(), 1);
        assert!(matches!(
            Workspace::create(&dir, &s),
            Err(DeskError::WorkspaceExists { .. })
        ));
        assert!(matches!(
            Workspace::open(tmp.path()),
            Err(DeskError::NoWorkspace { .. })
        ));
        assert!(!tmp.path().join(DB_FILE).exists(), "open never creates");
    }

    #[test]
    fn resolves_unique_prefixes_only() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = Workspace::create(&tmp.path().join("ws"), &settings()).unwrap();
        ws.conn()
            .execute_batch(&format!(
                "INSERT INTO imports VALUES ('{b}', '2026-01-01', 2);
                 INSERT INTO submissions (id, arrived, envelope_blob, attachments, bundle_id)
                   VALUES ('abcd1111{z}', '2026-01-01', '{e1}', 0, '{b}'),
                          ('abcd2222{z}', '2026-01-01', '{e2}', 0, '{b}');",
                b = "b".repeat(32),
                z = "0".repeat(24),
                e1 = "e".repeat(32),
                e2 = "f".repeat(32),
            ))
            .unwrap();
        assert_eq!(
            ws.resolve("ABCD1").unwrap(),
            format!("abcd1111{}", "0".repeat(24))
        );
        assert!(matches!(
            ws.resolve("abcd"),
            Err(DeskError::Ambiguous { .. })
        ));
        assert!(matches!(ws.resolve("abc"), Err(DeskError::BadIdPrefix(_))));
        assert!(matches!(ws.resolve("ab%_"), Err(DeskError::BadIdPrefix(_))));
        assert!(matches!(
            ws.resolve("ffff"),
            Err(DeskError::NoSuchSubmission(_))
        ));
    }
}
