//! The long power-cut series: at least a hundred cuts, each at a random moment under load, and
//! what they left. It prints figures and fails only when the target is missed (0 lost, 0 debris):
//!
//!     cargo bench --bench power_cut
//!
//! It measures durability, not speed, so a debug build does as well and builds faster:
//!
//!     cargo bench --profile dev --bench power_cut
//!
//! Settings: POWER_CUT_CUTS (default 100), POWER_CUT_SEED (default random; printed; it replays
//! the same cut delays and submissions, though not the threads' exact timing),
//! POWER_CUT_PER_DISK (cuts before a fresh disk, default 5).
//! Needs /dev/fuse and the Debian package `fuse3` (see tests/power_cut.rs, crates/powercut).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/power_cut_support/mod.rs"]
mod power_cut_support;

use std::time::{Duration, Instant};

use power_cut_support::{run, Settings};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no other arguments.
    let cuts = env_u64("POWER_CUT_CUTS").unwrap_or(100) as usize;
    let seed = env_u64("POWER_CUT_SEED").unwrap_or_else(rand::random);
    let per_disk = env_u64("POWER_CUT_PER_DISK").unwrap_or(5).max(1) as usize;
    println!("power cut series: {cuts} cuts, seed {seed} (POWER_CUT_SEED={seed} replays it)");
    let started = Instant::now();
    let figures = run(&Settings {
        cuts,
        seed,
        cuts_per_disk: per_disk,
        small_clients: 4,
        large_clients: 2,
        longest_round: Duration::from_millis(2000),
        verbose: true,
    });
    println!();
    println!("cuts:                    {}", figures.cuts);
    println!("acknowledged:            {}", figures.acknowledged);
    println!("lost:                    {}   (target 0)", figures.lost);
    println!("debris:                  {}   (target 0)", figures.debris);
    println!("unacknowledged:          {}", figures.unacknowledged);
    println!("  of which stored whole: {}", figures.whole_unacknowledged);
    println!(
        "flushes seen by the disk: {} file fsyncs, {} directory fsyncs, {} syncfs",
        figures.file_fsyncs, figures.dir_fsyncs, figures.syncfs_calls
    );
    println!(
        "time:                    {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if figures.lost > 0 || figures.debris > 0 {
        println!("\nfirst problems:\n{}", figures.problems.join("\n"));
        std::process::exit(1);
    }
}
