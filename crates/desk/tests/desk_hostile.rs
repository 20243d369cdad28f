//! Every hostile bundle of bundle_hostile.rs, now through the real `sealdesk import` on a real
//! workspace that already holds a genuine import (a database and blobs). Each must be refused
//! with a message that names the failed check in words staff can act on, and leave the
//! workspace byte for byte as it was: the import is one transaction.

// Bundles made the way the server makes them, shared with the server's own hostile-bundle tests.
#[path = "../../../tests/bundle_support/mod.rs"]
mod bundle_support;
mod desk_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;

use age::secrecy::ExposeSecret;
use bundle_support::hostile::Genuine;
use desk_support::{assert_ok, fingerprint, sealdesk, snapshot};
use sealdesk::workspace::STAGING_PREFIX;

/// What every refusal says after naming the check.
const UNCHANGED: &str = "Nothing was imported and the workspace is unchanged";

const BAD_SIGNATURE: &str = "signature invalid: this bundle was not signed by the pinned server key, or was changed after signing; do not import it";

/// A staff machine whose workspace pins the genuine server's key and already holds that
/// server's earlier export.
struct Desk {
    g: Genuine,
    ws: PathBuf,
    /// `sealdesk list` after the genuine import.
    list: String,
    /// The workspace after the genuine import.
    before: BTreeMap<String, String>,
}

impl Desk {
    fn new() -> Desk {
        let g = Genuine::new();
        // A plain (no passphrase) identity file, as `sealdesk keygen --no-passphrase` writes.
        let identity = g.dir.path().join("staff.key");
        std::fs::write(&identity, g.staff.identity.to_string().expose_secret()).unwrap();
        let recipients = g.dir.path().join("recipients.txt");
        std::fs::write(&recipients, format!("{}\n", g.staff.identity.to_public())).unwrap();
        let ws = g.dir.path().join("workspace");
        let mut desk = Desk {
            g,
            ws,
            list: String::new(),
            before: BTreeMap::new(),
        };
        desk.ok(&[
            "init",
            "--identity",
            identity.to_str().unwrap(),
            "--recipients",
            recipients.to_str().unwrap(),
            "--server-key",
            &fingerprint(&desk.g.key),
        ]);
        let out = desk.ok(&["import", desk.g.earlier.to_str().unwrap()]);
        assert!(out.contains("1 new report(s)"), "{out}");
        desk.list = desk.ok(&["list"]);
        let earlier = &desk.g.earlier_made.id[..8];
        assert!(
            desk.list.contains(earlier) && desk.list.contains("an earlier report"),
            "{}",
            desk.list
        );
        desk.before = snapshot(&desk.ws);
        // Something to keep unchanged: the database and the earlier report's two blobs.
        assert!(
            desk.before.contains_key("sealdesk.sqlite"),
            "{:?}",
            desk.before
        );
        let blobs = desk
            .before
            .keys()
            .filter(|p| p.starts_with("blobs/") && p.ends_with(".age"));
        assert_eq!(blobs.count(), 2, "{:?}", desk.before);
        desk
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--workspace", self.ws.to_str().unwrap()];
        all.extend_from_slice(args);
        sealdesk(&all, None)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_ok(&out);
        String::from_utf8(out.stdout).unwrap()
    }

    /// Import `bytes` and require: a failure, a message with `check` in it, the workspace
    /// byte for byte as before (no staging folder left), nothing written beside it, and the
    /// same `sealdesk list`.
    fn refuses(&self, bytes: &[u8], check: &str) {
        let bundle = self.g.write(bytes);
        let everything = snapshot(self.g.dir.path());
        let out = self.run(&["import", bundle.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "a hostile bundle was imported:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            err.contains(check),
            "expected the refusal to say `{check}`:\n{err}"
        );
        assert!(err.contains(UNCHANGED), "{err}");
        // Said once: a reason repeated as its own "cause" reads like a second failure.
        assert_eq!(err.matches(check).count(), 1, "{err}");

        let staging: Vec<_> = std::fs::read_dir(&self.ws)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(STAGING_PREFIX))
            .collect();
        assert!(staging.is_empty(), "staging left behind: {staging:?}");
        assert_eq!(
            snapshot(&self.ws),
            self.before,
            "the refused import changed the workspace"
        );
        assert_eq!(
            snapshot(self.g.dir.path()),
            everything,
            "the refused import wrote outside the workspace"
        );
        assert_eq!(self.ok(&["list"]), self.list);
    }
}

/// The control: unaltered, the same bundle imports into the same workspace, so each refusal
/// below is down to its one alteration.
#[test]
fn the_genuine_bundle_imports() {
    let d = Desk::new();
    let out = d.ok(&["import", d.g.write(&d.g.bytes).to_str().unwrap()]);
    assert!(out.contains("3 new report(s), 0 already here"), "{out}");
    let list = d.ok(&["list"]);
    assert!(list.contains("4 report(s), 4 unread"), "{list}");
}

#[test]
fn truncated_in_the_blobs() {
    let d = Desk::new();
    d.refuses(
        &d.g.truncated_in_the_blobs(),
        "truncated bundle: the file ends inside the blobs; the copy is incomplete, copy the bundle again",
    );
}

#[test]
fn truncated_in_the_manifest() {
    let d = Desk::new();
    d.refuses(
        &d.g.truncated_in_the_manifest(),
        "truncated bundle: the file ends inside the manifest; the copy is incomplete, copy the bundle again",
    );
}

#[test]
fn bit_flipped_manifest() {
    let d = Desk::new();
    d.refuses(&d.g.bit_flipped_manifest(), BAD_SIGNATURE);
}

#[test]
fn bit_flipped_blob() {
    // The first blob is already in the staging folder when the second fails its hash.
    let d = Desk::new();
    let (bytes, victim) = d.g.bit_flipped_blob();
    d.refuses(&bytes, &mismatch_of(&victim));
}

#[test]
fn re_signed_with_another_key() {
    let d = Desk::new();
    d.refuses(&d.g.re_signed_with_another_key(), BAD_SIGNATURE);
}

#[test]
fn re_ordered_blobs() {
    let d = Desk::new();
    let (bytes, first) = d.g.re_ordered_blobs();
    d.refuses(&bytes, &mismatch_of(&first));
}

#[test]
fn re_ordered_manifest() {
    let d = Desk::new();
    d.refuses(&d.g.re_ordered_manifest(), BAD_SIGNATURE);
}

#[test]
fn path_like_blob_id_re_signed_by_the_attacker() {
    let d = Desk::new();
    d.refuses(
        &d.g.path_like_blob_id_re_signed_by_the_attacker(),
        BAD_SIGNATURE,
    );
}

#[test]
fn path_like_blob_id_signed_with_the_real_key() {
    let d = Desk::new();
    let (bytes, submission) = d.g.path_like_blob_id_signed_with_the_real_key();
    d.refuses(
        &bytes,
        &format!("bad id: a blob id in submission {submission} is \"../../etc/passwd\", not an id of 32 lowercase hex digits; the bundle is crafted or damaged, do not import it"),
    );
    // Where `blobs/../../etc/passwd.age` would have landed.
    assert!(!d.g.dir.path().join("etc").exists());
}

#[test]
fn oversized_manifest_length() {
    let d = Desk::new();
    d.refuses(
        &d.g.oversized_manifest_length(),
        "manifest length out of bounds: 67108865 bytes (allowed: 1 byte to 64 MiB); the bundle is damaged or crafted, do not import it",
    );
}

#[test]
fn duplicate_submission_ids() {
    let d = Desk::new();
    let (bytes, id) = d.g.duplicate_submission_ids();
    d.refuses(
        &bytes,
        &format!(
            "duplicate submission id {id} in the manifest; the bundle is crafted, do not import it"
        ),
    );
}

#[test]
fn duplicate_blob_ids() {
    let d = Desk::new();
    let (bytes, id) = d.g.duplicate_blob_ids();
    d.refuses(
        &bytes,
        &format!("duplicate blob id {id} in the manifest; the bundle is crafted, do not import it"),
    );
}

#[test]
fn unknown_header_version() {
    let d = Desk::new();
    d.refuses(
        &d.g.unknown_header_version(),
        "unknown bundle format version 2: this program reads version 1; use the Sealdrop release that matches the server",
    );
}

#[test]
fn unknown_manifest_version() {
    let d = Desk::new();
    d.refuses(
        &d.g.unknown_manifest_version(),
        "wrong manifest format: it says \"sealdrop-bundle\" version 2, but a version-1 bundle must say `sealdrop-bundle` version 1; the bundle is crafted, do not import it",
    );
}

#[test]
fn hash_mismatch() {
    // Found only after four blobs went to the staging folder.
    let d = Desk::new();
    let (bytes, victim) = d.g.hash_mismatch();
    d.refuses(&bytes, &mismatch_of(&victim));
}

#[test]
fn trailing_data() {
    let d = Desk::new();
    d.refuses(
        &d.g.trailing_data(),
        "trailing data: the file goes on after the last blob its signed manifest lists; it was altered, do not import it",
    );
}

fn mismatch_of(blob: &str) -> String {
    format!("SHA-256 mismatch: blob {blob} differs from what the server signed (altered or damaged on the way); do not use this bundle, copy it again")
}
