//! Submissions as the workspace index knows them (no plaintext), and the filters `list` and
//! `report` share.

use rusqlite::Connection;

use super::triage::Status;
use super::DeskError;
use sealdrop_core::day::Date;

/// One imported submission's index row and triage.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub arrived: String,
    pub envelope_blob: String,
    pub attachments: u32,
    pub status: Status,
    pub read: bool,
    pub tags: Vec<String>,
}

/// Which cases to show; every part optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<Status>,
    pub tag: Option<String>,
    pub from: Option<Date>,
    pub to: Option<Date>,
}

const SELECT: &str = "SELECT s.id, s.arrived, s.envelope_blob, s.attachments, s.status, s.read,
        (SELECT group_concat(t.tag, char(31)) FROM tags t WHERE t.submission_id = s.id)
     FROM submissions s";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Case> {
    let tags: Option<String> = r.get(6)?;
    let mut tags: Vec<String> = tags
        .map(|t| t.split('\u{1f}').map(str::to_owned).collect())
        .unwrap_or_default();
    tags.sort();
    Ok(Case {
        id: r.get(0)?,
        arrived: r.get(1)?,
        envelope_blob: r.get(2)?,
        attachments: r.get(3)?,
        status: r.get(4)?,
        read: r.get(5)?,
        tags,
    })
}

/// The cases matching `filter`, newest first (by arrival day, then latest import).
pub fn list(conn: &Connection, filter: &Filter) -> Result<Vec<Case>, DeskError> {
    let sql = format!(
        "{SELECT}
         WHERE (?1 IS NULL OR s.status = ?1)
           AND (?2 IS NULL OR EXISTS (SELECT 1 FROM tags t WHERE t.submission_id = s.id AND t.tag = ?2))
           AND (?3 IS NULL OR s.arrived >= ?3)
           AND (?4 IS NULL OR s.arrived <= ?4)
         ORDER BY s.arrived DESC, s.rowid DESC"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(
        (
            filter.status.map(Status::as_str),
            filter.tag.as_deref(),
            filter.from.map(|d| d.to_string()),
            filter.to.map(|d| d.to_string()),
        ),
        row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One case by its full id.
pub fn get(conn: &Connection, id: &str) -> Result<Case, DeskError> {
    let sql = format!("{SELECT} WHERE s.id = ?1");
    Ok(conn.query_row(&sql, [id], row)?)
}

/// The attachment blob ids of a submission, in the order the manifest listed them.
pub fn attachment_blobs(conn: &Connection, id: &str) -> Result<Vec<String>, DeskError> {
    let mut stmt = conn.prepare(
        "SELECT id FROM blobs WHERE submission_id = ?1 AND kind = 'attachment' ORDER BY position",
    )?;
    let ids = stmt.query_map([id], |r| r.get(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

/// Parse a `YYYY-MM-DD` day from the command line.
pub fn parse_day(text: &str) -> Result<Date, DeskError> {
    Date::parse(text.trim()).ok_or_else(|| DeskError::BadDay(text.to_owned()))
}
