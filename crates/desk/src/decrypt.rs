//! Opening what the workspace holds, in memory only: envelopes (checked against the index) and
//! attachment streams. Plaintext lives in `Zeroizing` buffers and the envelope wipes its fields.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use zeroize::Zeroizing;

use super::cases::Case;
use super::identity::Keyring;
use super::workspace::blob_path;
use super::DeskError;
use sealdrop_core::envelope::{FORMAT, VERSION};
use sealdrop_core::Envelope;

/// Largest envelope ciphertext opened (the intake's text fields and names are far smaller).
pub const MAX_ENVELOPE_BYTES: u64 = 64 << 20;

/// Decrypt and check a case's envelope.
pub fn open_envelope(blobs: &Path, keyring: &Keyring, case: &Case) -> Result<Envelope, DeskError> {
    let path = blob_path(blobs, &case.envelope_blob);
    let what = || format!("the envelope of submission {}", &case.id[..8]);
    let ciphertext = std::fs::read(&path).map_err(DeskError::io(format!(
        "reading {} (the workspace is missing a file; re-import the bundle)",
        path.display()
    )))?;
    if ciphertext.len() as u64 > MAX_ENVELOPE_BYTES {
        return Err(damaged(case, "its envelope is larger than 64 MiB"));
    }
    let mut reader = keyring
        .decrypt(&ciphertext[..])
        .map_err(|e| DeskError::Decrypt {
            what: what(),
            reason: decrypt_advice(&e),
        })?;
    // Plaintext is never longer than its ciphertext: one allocation, never moved, then wiped.
    let mut plain = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    reader
        .read_to_end(&mut plain)
        .map_err(|e| DeskError::Decrypt {
            what: what(),
            reason: e.to_string(),
        })?;
    let envelope: Envelope = serde_json::from_slice(&plain)
        .map_err(|e| damaged(case, &format!("its envelope is not valid ({e})")))?;
    check(case, &envelope)?;
    Ok(envelope)
}

/// The envelope must belong to this submission: a mismatch means a blob was swapped.
fn check(case: &Case, e: &Envelope) -> Result<(), DeskError> {
    if e.format != FORMAT || e.version != VERSION {
        return Err(damaged(
            case,
            &format!(
                "unknown envelope format {:?} version {} (a newer Sealdrop may be needed)",
                e.format, e.version
            ),
        ));
    }
    if e.submission != case.id {
        return Err(damaged(case, "its envelope belongs to another submission"));
    }
    if e.attachments.len() != case.attachments as usize {
        return Err(damaged(
            case,
            "its envelope lists a different number of attachments than the bundle",
        ));
    }
    Ok(())
}

fn damaged(case: &Case, problem: &str) -> DeskError {
    DeskError::Envelope {
        id: case.id.clone(),
        problem: problem.to_owned(),
    }
}

/// Start decrypting an attachment blob.
pub fn open_attachment(
    blobs: &Path,
    keyring: &Keyring,
    blob: &str,
) -> Result<age::stream::StreamReader<BufReader<File>>, DeskError> {
    let path = blob_path(blobs, blob);
    let file = File::open(&path).map_err(DeskError::io(format!(
        "opening {} (the workspace is missing a file; re-import the bundle)",
        path.display()
    )))?;
    keyring
        .decrypt(BufReader::new(file))
        .map_err(|e| DeskError::Decrypt {
            what: format!("attachment blob {blob}"),
            reason: decrypt_advice(&e),
        })
}

/// age's reason, plus what staff can do about the usual one.
pub fn decrypt_advice(e: &age::DecryptError) -> String {
    match e {
        age::DecryptError::NoMatchingKeys => "it was not sealed to your staff key. Check --identity, and that your public key is in the server's keys/recipients.txt".into(),
        other => other.to_string(),
    }
}

/// Each case's message, to preview in `list`, or why it could not be opened.
pub fn message_previews(
    blobs: &Path,
    keyring: &Keyring,
    cases: &[Case],
) -> Vec<Result<Zeroizing<String>, String>> {
    map_parallel(cases, keyring.threads(), |case| {
        open_envelope(blobs, keyring, case)
            .map(|e| Zeroizing::new(e.fields.get("message").cloned().unwrap_or_default()))
            .map_err(|e| e.with_causes())
    })
}

/// One case's preview for `list`: its message and its thread (when its source chose a codename).
pub struct Preview {
    pub message: Zeroizing<String>,
    pub thread: Option<String>,
}

/// Each case's preview for `list`, or why it could not be opened. The thread comes from the
/// envelope already opened for the message, so grouping costs `list` no extra decryption.
pub fn list_previews(
    blobs: &Path,
    keyring: &Keyring,
    cases: &[Case],
) -> Vec<Result<Preview, String>> {
    map_parallel(cases, keyring.threads(), |case| {
        open_envelope(blobs, keyring, case)
            .map(|e| Preview {
                message: Zeroizing::new(e.fields.get("message").cloned().unwrap_or_default()),
                thread: e.conversation.as_ref().map(|c| c.thread.clone()),
            })
            .map_err(|e| e.with_causes())
    })
}

/// Run `f` over `items` on `threads` threads; results in the order of `items`.
pub fn map_parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a decrypt worker panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::map_parallel;

    #[test]
    fn parallel_map_keeps_order() {
        let items: Vec<u32> = (0..1001).collect();
        for threads in [1, 2, 3, 8] {
            let out = map_parallel(&items, threads, |x| x * 2);
            assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        }
        assert!(map_parallel(&[] as &[u32], 2, |x| *x).is_empty());
    }
}
