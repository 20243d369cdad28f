//! `import-outbox` of many replies (default 10,000; BENCH_REPLIES=N to change): the time to
//! verify, stage (one fsync each), place and record them in one transaction. Prints figures;
//! run with `cargo bench --bench import_outbox`.

use std::io::Write;
use std::time::Instant;

use sealdrop::ops::import_outbox;
use sealdrop::store::{Quota, Store};
use sealdrop_bundle::outbox::format::padded_size;
use sealdrop_bundle::outbox::{desk_key, OutboxWriter, Reply};
use sealdrop_core::day::{arrival_date, Date, Granularity};
use sealdrop_core::new_id;

fn main() {
    let count: usize = std::env::var("BENCH_REPLIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or(".".into())).unwrap();
    let data = dir.path().join("data");
    // The server's start-up makes the data directory and the schema.
    drop(
        Store::open(
            &data,
            Quota {
                min_free_bytes: 0,
                max_stored_bytes: None,
                min_free_inodes: 0,
            },
        )
        .unwrap(),
    );

    // One real padded age reply (4 KiB class), sent under `count` ids to 100 mailboxes.
    let source = age::x25519::Identity::generate();
    let mut plain = b"We received your documents. Thank you.".to_vec();
    plain.resize(padded_size(plain.len() as u64).unwrap() as usize, 0);
    let encryptor = age::Encryptor::with_recipients(std::iter::once(
        &source.to_public() as &dyn age::Recipient
    ))
    .unwrap();
    let mut ciphertext = Vec::new();
    let mut w = encryptor.wrap_output(&mut ciphertext).unwrap();
    w.write_all(&plain).unwrap();
    w.finish().unwrap();

    let today = arrival_date(std::time::SystemTime::now(), Granularity::Day);
    let expires = Date::from_days(today.to_days() + 90);
    let mailboxes: Vec<String> = (0..100).map(|_| new_id()).collect();
    let desk = desk_key::generate();
    let mut writer = OutboxWriter::new(&desk, 1, today);
    for i in 0..count {
        writer.reply(Reply {
            id: new_id(),
            mailbox: mailboxes[i % mailboxes.len()].clone(),
            expires,
            ciphertext: ciphertext.clone(),
        });
    }
    let outbox = dir.path().join("bench.outbox");
    let started = Instant::now();
    let written = writer.write(&outbox).unwrap();
    let write_time = started.elapsed();

    let started = Instant::now();
    let report = import_outbox::import(&data, &[desk.verifying_key()], &outbox, 366).unwrap();
    let import_time = started.elapsed();
    assert_eq!(report.replies, count);

    let mib = written.bytes as f64 / (1024.0 * 1024.0);
    println!(
        "import-outbox: {count} replies of {} bytes ({mib:.1} MiB outbox)",
        ciphertext.len()
    );
    println!(
        "  sealdesk outbox (write):  {:>8.2} s",
        write_time.as_secs_f64()
    );
    println!(
        "  sealdrop import-outbox:   {:>8.2} s  ({:.0} replies/s, {:.2} ms a reply, {:.1} MiB/s)",
        import_time.as_secs_f64(),
        count as f64 / import_time.as_secs_f64(),
        import_time.as_secs_f64() * 1000.0 / count as f64,
        mib / import_time.as_secs_f64()
    );
}
