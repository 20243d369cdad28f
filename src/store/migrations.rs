//! The index's schema: the numbered plain-SQL files in `migrations/`, applied in order at
//! start-up by the shared runner in `crate::migrate`.

use rusqlite::Connection;

use super::StoreError;
use sealdrop_core::migrate::{self, Migration};

/// Every migration, in order. They are compiled in so the binary does not depend on its working
/// directory; a test checks this list against the files in `migrations/`.
pub const MIGRATIONS: &[Migration] = &[
    (
        1,
        "0001_initial.sql",
        include_str!("../../migrations/0001_initial.sql"),
    ),
    (
        2,
        "0002_exports.sql",
        include_str!("../../migrations/0002_exports.sql"),
    ),
    (
        3,
        "0003_usage.sql",
        include_str!("../../migrations/0003_usage.sql"),
    ),
    (
        4,
        "0004_charged.sql",
        include_str!("../../migrations/0004_charged.sql"),
    ),
    (
        5,
        "0005_replies.sql",
        include_str!("../../migrations/0005_replies.sql"),
    ),
];

/// Check that the index is at exactly this release's schema, changing nothing (operator
/// commands: only the server migrates).
pub fn check_current(conn: &Connection) -> Result<(), StoreError> {
    Ok(migrate::check_current(conn, MIGRATIONS)?)
}

/// Apply every migration the database has not seen yet.
pub fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    Ok(migrate::apply(conn, MIGRATIONS)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdrop_core::migrate::MigrateError;

    #[test]
    fn list_matches_the_migrations_folder() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        migrate::check_list_matches_folder(dir.as_ref(), MIGRATIONS);
    }

    #[test]
    fn refuses_a_newer_schema_with_the_store_error() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn).unwrap();
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future')", [])
            .unwrap();
        assert!(matches!(
            apply(&mut conn),
            Err(StoreError::Migrate(MigrateError::TooNew { found: 999, .. }))
        ));
    }
}
