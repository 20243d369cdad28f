//! Ciphertext sizes on disk follow the Padmé rule: a blob is an age header plus the age payload
//! of exactly padme(true length) bytes, and the index records the size the file really has.

mod common;

use common::*;
use sealdrop::seal::sealer::age_payload_len;
use sealdrop_core::padme::padded_len;

/// Padmé as the paper states it (Nikitin et al., PETS 2019, Algorithm 1), written out here
/// independently of the server's implementation: E = floor(log2 L), S = floor(log2 E) + 1,
/// round L up to a multiple of 2^(E - S).
fn padme_reference(len: u64) -> u64 {
    if len < 2 {
        return len;
    }
    let e = (len as f64).log2().floor() as u32;
    let s = (e as f64).log2().floor() as u32 + 1;
    let step = 1u64 << (e - s);
    len.div_ceil(step) * step
}

#[test]
fn the_padding_rule_is_padme() {
    for (len, padded) in [(0, 0), (1, 1), (9, 10), (1000, 1024), (100_001, 100_352)] {
        assert_eq!(padme_reference(len), padded);
    }
    let mut len = 0u64;
    while len < 1 << 34 {
        assert_eq!(padded_len(len), padme_reference(len), "len {len}");
        len = len * 5 / 4 + 3;
    }
}

#[test]
fn ciphertext_sizes_follow_padme_of_the_true_length() {
    let setup = Setup::new();
    let server = setup.start();
    // Empty, tiny, around age's 64 KiB chunk, sizes whose Padmé rounding differs, and one
    // past the first MiB (written by the disk thread, its file cut back to size at the end).
    let sizes = [
        0usize, 1, 9, 1000, 65_535, 65_536, 65_537, 100_001, 1_000_000, 2_500_001,
    ];
    let messages = [
        "short",
        "a longer message, with some more words in it",
        "ы",
        "one more",
    ];
    for (i, chunk) in sizes.chunks(3).enumerate() {
        let mut form = Multipart::new().text("message", &messages[i].repeat(i * 40 + 1));
        for (j, &size) in chunk.iter().enumerate() {
            form = form.file(
                "files",
                &format!("f{i}{j}.bin"),
                "application/octet-stream",
                &random_bytes(size),
            );
        }
        server.post("/submit", &form).assert_received();
    }

    let rows = setup.submissions();
    assert_eq!(rows.len(), sizes.len().div_ceil(3));
    let blob_rows = setup.blob_rows();
    let mut seen_sizes = Vec::new();
    let mut distinct_paddings = std::collections::BTreeSet::new();
    for row in &rows {
        let opened = setup.open_submission(row);
        // The envelope: its JSON length is its true length; the rest is space padding.
        let mut blobs = vec![(
            row.envelope_blob.clone(),
            json_len(&opened.envelope_plain) as u64,
        )];
        for a in &opened.attachments {
            blobs.push((a.blob.clone(), a.length));
            seen_sizes.push(a.length as usize);
            assert_eq!(a.padded.len() as u64, padded_len(a.length));
        }
        assert_eq!(
            opened.envelope_plain.len() as u64,
            padded_len(json_len(&opened.envelope_plain) as u64)
        );
        for (id, true_len) in blobs {
            let file = std::fs::read(setup.blobs_dir().join(format!("{id}.age"))).unwrap();
            let size = file.len() as u64;
            let header = age_header_len(&file);
            let padded = padme_reference(true_len);
            distinct_paddings.insert(padded - true_len);
            assert_eq!(
                size,
                header + age_payload_len(padded),
                "blob {id} of true length {true_len}: header {header}"
            );
            let recorded = blob_rows.iter().find(|b| b.id == id).expect("a blob row");
            assert_eq!(recorded.size as u64, size, "recorded size of {id}");
            assert_eq!(recorded.submission_id, row.id);
        }
    }
    seen_sizes.sort();
    assert_eq!(seen_sizes, sizes.to_vec(), "every size arrived as sent");
    // The sizes were chosen so that padding actually happened, in several amounts.
    assert!(distinct_paddings.len() >= 4, "{distinct_paddings:?}");
}
