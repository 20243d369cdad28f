//! The schema-migration runner shared by the server's index and the staff workspace.
//!
//! Migrations are numbered plain-SQL files, compiled in as a list; each runs once, in its own
//! transaction together with its record in `schema_migrations`. A database already up to date is
//! not written at all, so merely opening one never changes its files.

use rusqlite::Connection;

/// One migration: its number, its file name, its SQL.
pub type Migration = (u32, &'static str, &'static str);

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("database error")]
    Db(#[from] rusqlite::Error),
    #[error("updating the database schema ({name}) failed")]
    Failed {
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("the database was written by a newer release (schema {found}; this one knows up to {known}): run that newer release")]
    TooNew { found: u32, known: u32 },
    #[error("the database is at schema {found}, older than this release's {known}; only the server updates it: start this release's `sealdrop serve` once, then run this command again")]
    TooOld { found: u32, known: u32 },
}

/// The newest migration recorded in the database (0 for none).
fn recorded_version(conn: &Connection) -> Result<u32, MigrateError> {
    let exists: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'schema_migrations'",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    let newest: Option<u32> =
        conn.query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })?;
    Ok(newest.unwrap_or(0))
}

/// Check, without writing anything, that the database is exactly at the newest schema in
/// `list`. For programs that may use a database but must never change its schema.
pub fn check_current(conn: &Connection, list: &[Migration]) -> Result<(), MigrateError> {
    let found = recorded_version(conn)?;
    let known = list.last().map_or(0, |m| m.0);
    match found.cmp(&known) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(MigrateError::TooNew { found, known }),
        std::cmp::Ordering::Less => Err(MigrateError::TooOld { found, known }),
    }
}

/// Apply every migration in `list` that the database has not seen yet.
pub fn apply(conn: &mut Connection, list: &[Migration]) -> Result<(), MigrateError> {
    let newest = Some(recorded_version(conn)?).filter(|&v| v > 0);
    let known = list.last().map_or(0, |m| m.0);
    if let Some(found) = newest.filter(|&v| v > known) {
        return Err(MigrateError::TooNew { found, known });
    }
    if newest == Some(known) {
        return Ok(());
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY NOT NULL,
             name    TEXT NOT NULL
         )",
    )?;
    for &(version, name, sql) in list {
        if newest.is_some_and(|n| version <= n) {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|source| MigrateError::Failed { name, source })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
            (version, name),
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// For tests: `list` names exactly the `.sql` files in `dir`, in order, numbered 1, 2, 3...
#[doc(hidden)]
pub fn check_list_matches_folder(dir: &std::path::Path, list: &[Migration]) {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let listed: Vec<String> = list.iter().map(|m| m.1.to_owned()).collect();
    assert_eq!(
        files,
        listed,
        "add every {}/*.sql file to the MIGRATIONS list, in order",
        dir.display()
    );
    for (i, m) in list.iter().enumerate() {
        assert_eq!(m.0 as usize, i + 1, "migrations are numbered 1, 2, 3...");
        assert!(
            m.1.starts_with(&format!("{:04}_", m.0)),
            "{} needs its number",
            m.1
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &[Migration] = &[
        (1, "0001_a.sql", "CREATE TABLE a (x INTEGER);"),
        (2, "0002_b.sql", "CREATE TABLE b (y INTEGER);"),
    ];

    #[test]
    fn applies_each_once_in_order_and_refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn, &LIST[..1]).unwrap();
        apply(&mut conn, LIST).unwrap();
        apply(&mut conn, LIST).unwrap();
        let versions: Vec<u32> = conn
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(versions, [1, 2]);
        conn.execute("INSERT INTO b VALUES (1)", []).unwrap();
        assert!(matches!(
            apply(&mut conn, &LIST[..1]),
            Err(MigrateError::TooNew { found: 2, known: 1 })
        ));
    }

    #[test]
    fn a_failing_migration_leaves_no_trace() {
        let mut conn = Connection::open_in_memory().unwrap();
        let bad: &[Migration] = &[(1, "0001_bad.sql", "CREATE TABLE t (x); SELECT nonsense(;")];
        assert!(matches!(
            apply(&mut conn, bad),
            Err(MigrateError::Failed {
                name: "0001_bad.sql",
                ..
            })
        ));
        let tables: u32 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 't'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0);
    }

    #[test]
    fn check_current_changes_nothing_and_names_the_mismatch() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert!(matches!(
            check_current(&conn, LIST),
            Err(MigrateError::TooOld { found: 0, known: 2 })
        ));
        let tables = |conn: &Connection| -> u32 {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(tables(&conn), 0, "a check writes nothing");
        apply(&mut conn, &LIST[..1]).unwrap();
        assert!(matches!(
            check_current(&conn, LIST),
            Err(MigrateError::TooOld { found: 1, known: 2 })
        ));
        assert!(matches!(
            check_current(&conn, &LIST[..0]),
            Err(MigrateError::TooNew { found: 1, known: 0 })
        ));
        apply(&mut conn, LIST).unwrap();
        check_current(&conn, LIST).unwrap();
    }
}
