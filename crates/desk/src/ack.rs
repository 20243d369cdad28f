//! `sealdesk ack`: tell the server which submissions this workspace now holds safely, so that it
//! may purge them. A submission is named only after every one of its blobs has been re-read from
//! the workspace and matched against the size and SHA-256 the signed bundle gave, and its
//! envelope opened with the staff key. `sealdesk outbox` uses the same rule ([`ackable`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::cases;
use super::decrypt::{self, map_parallel};
use super::identity::Keyring;
use super::workspace::{blob_path, Workspace};
use super::DeskError;
use sealdrop_bundle::ack;
use sealdrop_core::durable::write_new;

/// A blob as the signed bundle described it.
struct RecordedBlob {
    id: String,
    size: u64,
    sha256: String,
}

pub struct AckSummary {
    pub file: Option<PathBuf>,
    pub acked: usize,
    /// Submissions left out: their blobs in the workspace are missing or damaged.
    pub skipped: Vec<(String, String)>,
}

/// Submissions left out of an acknowledgement, each with why.
pub type Skipped = Vec<(String, String)>;

/// How a report left out because the staff key cannot open it is described.
pub const NOT_YOURS: &str = "your staff key cannot open it";

/// Which submissions a new acknowledgement names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Not named in an ack file yet (`sealdesk ack`).
    AckFile,
    /// Every submission (`sealdesk ack --all`).
    All,
    /// Not acknowledged in an outbox yet (`sealdesk outbox`).
    Outbox,
}

/// The submissions of `pending` that may be acknowledged: every blob re-read and matched
/// against the signed bundle's size and SHA-256, AND the envelope opens with the staff key
/// (a report this desk cannot read must stay on the server for someone who can). Returns the
/// ids, and those left out with why.
pub fn ackable(
    ws: &Workspace,
    keyring: &Keyring,
    pending: Pending,
) -> Result<(Vec<String>, Skipped), DeskError> {
    let condition = match pending {
        Pending::AckFile => "s.acked = 0",
        Pending::All => "1",
        Pending::Outbox => "NOT EXISTS (SELECT 1 FROM outbox_acks o WHERE o.submission_id = s.id)",
    };
    let mut stmt = ws.conn().prepare(&format!(
        "SELECT s.id, b.id, b.size, b.sha256 FROM submissions s JOIN blobs b ON b.submission_id = s.id
         WHERE {condition} ORDER BY s.id, b.position"
    ))?;
    let mut subs: Vec<(String, Vec<RecordedBlob>)> = Vec::new();
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    for row in rows {
        let (sub, blob, size, hash) = row?;
        let blob = RecordedBlob {
            id: blob,
            size: size as u64,
            sha256: hash,
        };
        match subs.last_mut() {
            Some((id, blobs)) if *id == sub => blobs.push(blob),
            _ => subs.push((sub, vec![blob])),
        }
    }
    drop(stmt);

    let blobs_dir = ws.blobs_dir();
    let work = subs
        .iter()
        .map(|(id, blobs)| Ok((cases::get(ws.conn(), id)?, blobs)))
        .collect::<Result<Vec<_>, DeskError>>()?;
    let checks = map_parallel(&work, keyring.threads(), |(case, blobs)| {
        blobs
            .iter()
            .try_for_each(|b| check_blob(&blob_path(&blobs_dir, &b.id), b.size, &b.sha256))?;
        decrypt::open_envelope(&blobs_dir, keyring, case)
            .map(drop)
            .map_err(|e| format!("{NOT_YOURS} ({})", e.with_causes()))
    });
    let mut ids = Vec::new();
    let mut skipped = Vec::new();
    for ((id, _), check) in subs.into_iter().zip(checks) {
        match check {
            Ok(()) => ids.push(id),
            Err(why) => skipped.push((id, why)),
        }
    }
    Ok((ids, skipped))
}

/// Write the ack file `out` naming every submission not acknowledged before (or all with `all`)
/// that this desk holds intact and can open (see [`ackable`]).
pub fn write_ack(
    ws: &mut Workspace,
    keyring: &Keyring,
    out: &Path,
    all: bool,
) -> Result<AckSummary, DeskError> {
    if out.exists() {
        return Err(DeskError::OutputExists(out.to_owned()));
    }
    ws.refuse_inside(out)?;
    let pending = if all { Pending::All } else { Pending::AckFile };
    let (ids, skipped) = ackable(ws, keyring, pending)?;
    if ids.is_empty() {
        return Ok(AckSummary {
            file: None,
            acked: 0,
            skipped,
        });
    }

    let text = ack::to_text(ids.iter().map(String::as_str));
    write_new(out, text.as_bytes()).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => DeskError::OutputExists(out.to_owned()),
        _ => DeskError::io(format!("writing {}", out.display()))(e),
    })?;

    // Only once the file is on disk: remember what it named.
    let tx = ws.conn_mut().transaction()?;
    {
        let mut mark = tx.prepare("UPDATE submissions SET acked = 1 WHERE id = ?1")?;
        for id in &ids {
            mark.execute([id])?;
        }
    }
    tx.commit()?;
    Ok(AckSummary {
        file: Some(out.to_owned()),
        acked: ids.len(),
        skipped,
    })
}

fn check_blob(path: &Path, size: u64, sha256: &str) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        total += n as u64;
    }
    if total != size || hex::encode(hash.finalize()) != sha256 {
        return Err(format!(
            "{} differs from what the bundle delivered",
            path.display()
        ));
    }
    Ok(())
}
