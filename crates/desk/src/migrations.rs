//! The workspace schema: numbered plain-SQL files in `migrations/desk/`, applied in order by the
//! shared runner in `sealdrop_core::migrate` (as the server does with its own).

use rusqlite::Connection;

use super::DeskError;
use sealdrop_core::migrate::{self, Migration};

/// Every desk migration, in order, compiled in; a test checks this against the folder.
pub const MIGRATIONS: &[Migration] = &[
    (
        1,
        "0001_workspace.sql",
        include_str!("../../../migrations/desk/0001_workspace.sql"),
    ),
    (
        2,
        "0002_return_channel.sql",
        include_str!("../../../migrations/desk/0002_return_channel.sql"),
    ),
    (
        3,
        "0003_corrections.sql",
        include_str!("../../../migrations/desk/0003_corrections.sql"),
    ),
];

/// Apply every migration the workspace has not seen yet.
pub fn apply(conn: &mut Connection) -> Result<(), DeskError> {
    Ok(migrate::apply(conn, MIGRATIONS)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdrop_core::migrate::MigrateError;

    #[test]
    fn list_matches_the_desk_migrations_folder() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/desk");
        migrate::check_list_matches_folder(dir.as_ref(), MIGRATIONS);
    }

    #[test]
    fn refuses_a_newer_schema_with_the_desk_error() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn).unwrap();
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future')", [])
            .unwrap();
        assert!(matches!(
            apply(&mut conn),
            Err(DeskError::Migrate(MigrateError::TooNew { found: 999, .. }))
        ));
    }
}
