//! The workspace schema: numbered plain-SQL files in `migrations/desk/`, applied in order, each
//! once, each in one transaction with its record in `schema_migrations` (as the server does).

use rusqlite::Connection;

use super::DeskError;

/// Every desk migration, in order, compiled in; a test checks this against the folder.
pub const MIGRATIONS: &[(u32, &str, &str)] = &[(
    1,
    "0001_workspace.sql",
    include_str!("../../migrations/desk/0001_workspace.sql"),
)];

/// Apply every migration the workspace has not seen yet.
pub fn apply(conn: &mut Connection) -> Result<(), DeskError> {
    let exists: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'schema_migrations'",
        [],
        |r| r.get(0),
    )?;
    let newest: Option<u32> = if exists {
        conn.query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })?
    } else {
        None
    };
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(found) = newest.filter(|&v| v > known) {
        return Err(DeskError::SchemaTooNew { found, known });
    }
    if newest == Some(known) {
        // Up to date: write nothing, so reading a workspace never changes its files.
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY NOT NULL,
             name    TEXT NOT NULL
         )",
    )?;
    tx.commit()?;
    for &(version, name, sql) in MIGRATIONS {
        if newest.is_some_and(|n| version <= n) {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|source| DeskError::Migration { name, source })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
            (version, name),
        )?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_matches_the_desk_migrations_folder() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/desk");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS.iter().map(|m| m.1.to_owned()).collect();
        assert_eq!(
            files, listed,
            "add every migrations/desk/*.sql file to MIGRATIONS, in order"
        );
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.0 as usize, i + 1);
            assert!(m.1.starts_with(&format!("{:04}_", m.0)));
        }
    }

    #[test]
    fn applies_once_and_refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn).unwrap();
        apply(&mut conn).unwrap();
        let n: u32 = conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n as usize, MIGRATIONS.len());
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future')", [])
            .unwrap();
        assert!(matches!(
            apply(&mut conn),
            Err(DeskError::SchemaTooNew { found: 999, .. })
        ));
    }
}
