//! The index keeps no order of arrival: read as raw bytes (as someone imaging the disk would),
//! neither sealdrop.sqlite nor its WAL lists submission ids in the order they came, while the
//! server runs (once it is idle after the last batch) nor after a clean stop.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::*;

const TIPS: usize = 30;

/// Every occurrence of each id in `bytes`, as (byte offset, arrival position).
fn occurrences(bytes: &[u8], arrival: &HashMap<String, usize>) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for (id, &position) in arrival {
        let needle = id.as_bytes();
        let mut at = 0;
        while let Some(i) = bytes[at..].windows(needle.len()).position(|w| w == needle) {
            found.push((at + i, position));
            at += i + 1;
        }
    }
    found.sort();
    found
}

/// Kendall's tau between byte offset and arrival position over every pair of occurrences of
/// different ids: +1 if the file lists ids in arrival order, -1 in reverse, about 0 if the
/// order is unrelated (standard deviation about 0.13 for 30 ids).
fn kendall_tau(found: &[(usize, usize)]) -> f64 {
    let (mut concordant, mut discordant) = (0i64, 0i64);
    for (i, a) in found.iter().enumerate() {
        for b in &found[i + 1..] {
            match a.1.cmp(&b.1) {
                std::cmp::Ordering::Less => concordant += 1,
                std::cmp::Ordering::Greater => discordant += 1,
                std::cmp::Ordering::Equal => {}
            }
        }
    }
    (concordant - discordant) as f64 / (concordant + discordant).max(1) as f64
}

fn read_or_empty(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

/// Only the first occurrence of each id: the order in which ids first appear in the file.
fn first_appearances(found: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut seen = std::collections::HashSet::new();
    found.iter().filter(|o| seen.insert(o.1)).copied().collect()
}

/// Assert that neither file of the index keeps the arrival order.
fn assert_no_arrival_order(setup: &Setup, arrival: &HashMap<String, usize>, when: &str) {
    if let Err(why) = arrival_order_left(setup, arrival, when) {
        panic!("{why}");
    }
}

/// What of the arrival order the index files still show, if anything.
fn arrival_order_left(
    setup: &Setup,
    arrival: &HashMap<String, usize>,
    when: &str,
) -> Result<(), String> {
    let db = read_or_empty(&setup.db_path());
    let wal = read_or_empty(&setup.data_dir.join("sealdrop.sqlite-wal"));
    let in_db = occurrences(&db, arrival);
    let in_wal = occurrences(&wal, arrival);
    let db_tau = kendall_tau(&in_db);
    let db_first_tau = kendall_tau(&first_appearances(&in_db));
    let wal_first_tau = kendall_tau(&first_appearances(&in_wal));
    eprintln!(
        "{when}: sealdrop.sqlite holds {} occurrences of the {} ids, Kendall tau {db_tau:+.2} \
         (first appearances {db_first_tau:+.2}); the WAL ({} bytes) holds {} occurrences, \
         first appearances tau {wal_first_tau:+.2}",
        in_db.len(),
        arrival.len(),
        wal.len(),
        in_wal.len(),
    );
    // Truncated after every batch and rewritten when idle: nothing of the arrival sequence.
    if !in_wal.is_empty() {
        return Err(format!(
            "{when}: the WAL still lists {} ids (first appearances tau {wal_first_tau:+.2})",
            in_wal.len()
        ));
    }
    let distinct: std::collections::HashSet<_> = in_db.iter().map(|o| o.1).collect();
    if distinct.len() != arrival.len() {
        return Err(format!(
            "{when}: {} of {} ids missing from the file",
            arrival.len() - distinct.len(),
            arrival.len()
        ));
    }
    // 0.5 is about four standard deviations from an unrelated order; the old layout gave -1.
    for tau in [db_tau, db_first_tau] {
        if tau.abs() >= 0.5 {
            return Err(format!(
                "{when}: the database file lists ids in (or against) arrival order: tau {tau:+.2}"
            ));
        }
    }
    Ok(())
}

#[test]
fn the_index_keeps_no_order_of_arrival_while_running_and_after_a_stop() {
    let setup = Setup::new();
    let server = setup.start();
    for n in 0..TIPS {
        // One at a time: each is its own batch, the case shuffling within a batch cannot help.
        let form = Multipart::new()
            .text("message", &format!("tip number {n}"))
            .file("files", "f.txt", "text/plain", b"evidence");
        server.post("/submit", &form).assert_received();
    }
    // Which id is which tip: only the sealed envelope says.
    let mut arrival = HashMap::new();
    for row in setup.submissions() {
        let opened = setup.open_submission(&row);
        let message = opened.field("message").unwrap();
        let n: usize = message
            .strip_prefix("tip number ")
            .unwrap()
            .parse()
            .unwrap();
        arrival.insert(row.id, n);
    }
    assert_eq!(arrival.len(), TIPS);

    // While it runs: once the committer has been idle for a moment after the last batch (it
    // rewrites the index after half a second of quiet; a loaded machine may take longer, so
    // wait for the order to go, up to a bound, and then let the check say what is left).
    let _ = wait_until(Duration::from_secs(20), || {
        arrival_order_left(&setup, &arrival, "while running, idle").is_ok()
    });
    assert_no_arrival_order(&setup, &arrival, "while running, idle");

    server.stop();
    assert_no_arrival_order(&setup, &arrival, "after a clean stop");
}
