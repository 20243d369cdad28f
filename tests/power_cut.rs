//! Power cuts: every submission the server acknowledged survives the loss of everything that was
//! not flushed, and nothing unacknowledged is left half.
//!
//! The server's data directory is on a FUSE filesystem that loses power (crates/powercut): what
//! was not made durable by fsync, fdatasync, a directory fsync or syncfs is gone after the cut,
//! as on a disk whose machine lost power. A SIGKILL alone (tests/durability.rs) proves nothing of
//! the kind: the page cache survives it. Needs /dev/fuse and the Debian package `fuse3`.
//!
//! A short series here; `cargo bench --bench power_cut` runs a hundred cuts and more. Set
//! POWER_CUT_SEED to replay a series (the same cut delays and submissions; thread timing varies).

mod common;
mod power_cut_support;

use std::time::Duration;

use power_cut_support::{run, Settings};

#[test]
fn acknowledged_submissions_survive_power_cuts_and_nothing_is_left_half() {
    let seed = std::env::var("POWER_CUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("power cut seed: {seed} (POWER_CUT_SEED={seed} replays the same cut delays and submissions)");
    let figures = run(&Settings {
        cuts: 3,
        seed,
        cuts_per_disk: 3,
        small_clients: 4,
        large_clients: 2,
        longest_round: Duration::from_millis(1500),
        verbose: true,
    });
    println!("{figures:#?}");
    assert!(
        figures.acknowledged > 0,
        "no submission was acknowledged before any cut (seed {seed}): the run proves nothing"
    );
    assert!(
        figures.lost == 0 && figures.debris == 0,
        "seed {seed}: {} acknowledged submission(s) lost and {} piece(s) of debris left:\n{}",
        figures.lost,
        figures.debris,
        figures.problems.join("\n")
    );
}
