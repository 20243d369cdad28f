//! Codename derivations per second on this machine: `cargo bench -p sealdrop-core --bench codename`.
//! Prints figures; the reference is SecureDrop's 7 logins a second (two scrypt runs at 16 MiB).

use std::time::{Duration, Instant};

use sealdrop_core::codename::{Codename, DerivationGate, ARGON2_M_KIB, ARGON2_T};

const RUN: Duration = Duration::from_secs(3);

/// Runs `one` on `threads` threads for RUN; returns operations per second.
fn rate(threads: usize, one: impl Fn() + Sync) -> f64 {
    let start = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while start.elapsed() < RUN {
                        one();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    counts.iter().sum::<u64>() as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    println!(
        "Argon2id m = {} KiB, t = {ARGON2_T}, p = 1; {} cores",
        ARGON2_M_KIB,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let codename = Codename::generate();
    let one_gate = DerivationGate::new(1);
    // Warm up (word tables, allocator).
    let _ = codename.derive(&one_gate);

    let single = rate(1, || {
        std::hint::black_box(codename.derive(&one_gate));
    });
    println!(
        "derive, 1 thread:            {single:7.0}/s  ({:.2} ms each)",
        1000.0 / single
    );

    let two_gate = DerivationGate::new(2);
    let two = rate(2, || {
        std::hint::black_box(codename.derive(&two_gate));
    });
    println!(
        "derive, 2 threads, gate of 2: {two:7.0}/s  (peak {} at once)",
        two_gate.peak()
    );

    let fresh = rate(2, || {
        let c = Codename::generate();
        std::hint::black_box(c.derive(&two_gate));
    });
    println!("generate + derive, 2 threads: {fresh:6.0}/s");

    let parse_typed = codename.to_string_in(sealdrop_core::codename::Lang::Ru);
    let parse = rate(1, || {
        std::hint::black_box(Codename::parse(&parse_typed).unwrap());
    });
    println!("parse (no derive), 1 thread:  {parse:6.0}/s");
    println!("reference: SecureDrop, about 7 logins/s");
}
