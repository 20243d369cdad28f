//! Shared by the bundle tests: a real data directory holding real sealed submissions, made
//! with the library's own store and sealer (the intake's path minus HTTP).
#![allow(dead_code)]

pub mod hostile;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sealdrop::seal::{AttachmentInfo, Envelope, Sealer};
use sealdrop::store::{NewBlob, NewSubmission, Quota, Store};
use sealdrop_core::day::Date;
use sealdrop_core::keys::Recipients;
use sealdrop_core::new_id;

/// A staff member: an age identity and the recipients file the server would hold.
pub struct Staff {
    pub identity: age::x25519::Identity,
    pub recipients: Recipients,
}

pub fn staff() -> Staff {
    let identity = age::x25519::Identity::generate();
    let recipients = Recipients::parse(
        Path::new("recipients.txt"),
        identity.to_public().to_string().as_bytes(),
    )
    .unwrap();
    Staff {
        identity,
        recipients,
    }
}

/// What a test asks to submit.
pub struct Spec {
    pub arrived: Date,
    pub message: String,
    /// (file name, content)
    pub attachments: Vec<(String, Vec<u8>)>,
}

/// A submission as stored.
#[derive(Debug, Clone)]
pub struct Made {
    pub id: String,
    pub arrived: Date,
    pub message: String,
    pub attachments: Vec<(String, Vec<u8>)>,
    /// The envelope first, then the attachments in `attachments` order.
    pub blob_ids: Vec<String>,
}

pub fn spec(arrived: Date, message: &str, attachments: &[(&str, &[u8])]) -> Spec {
    Spec {
        arrived,
        message: message.to_owned(),
        attachments: attachments
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect(),
    }
}

pub fn today() -> Date {
    sealdrop_core::day::arrival_date(
        std::time::SystemTime::now(),
        sealdrop_core::day::Granularity::Day,
    )
}

pub fn days_ago(days: i64) -> Date {
    Date::from_days(today().to_days() - days)
}

/// Seal and commit submissions into `data_dir` exactly as the intake does.
pub fn add_submissions(data_dir: &Path, staff: &Staff, specs: &[Spec]) -> Vec<Made> {
    let store = Store::open(
        data_dir,
        Quota {
            min_free_bytes: 0,
            max_stored_bytes: None,
            min_free_inodes: 0,
        },
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut made = Vec::new();
    for spec in specs {
        let id = new_id();
        let mut envelope = Envelope::new(id.clone(), spec.arrived.to_string());
        envelope
            .fields
            .insert("message".into(), spec.message.clone());
        let mut blobs = Vec::new();
        for (name, data) in &spec.attachments {
            let (blob, true_len) = seal(&store, staff, spec.arrived, data);
            envelope.attachments.push(AttachmentInfo {
                blob: blob.blob.id().to_owned(),
                name: name.clone(),
                content_type: "application/octet-stream".into(),
                length: true_len,
            });
            blobs.push(blob);
        }
        let mut sealer = Sealer::new(&staff.recipients, Vec::new()).unwrap();
        sealer.write(&envelope.to_json()).unwrap();
        let sealed_envelope = sealer.finish(b' ').unwrap().output;
        let mut blob_ids: Vec<String> = blobs.iter().map(|b| b.blob.id().to_owned()).collect();
        let envelope_blob = runtime
            .block_on(store.commit(NewSubmission {
                id: id.clone(),
                arrived: spec.arrived,
                envelope: sealed_envelope,
                attachments: blobs,
            }))
            .unwrap();
        blob_ids.insert(0, envelope_blob);
        made.push(Made {
            id,
            arrived: spec.arrived,
            message: spec.message.clone(),
            attachments: spec.attachments.clone(),
            blob_ids,
        });
    }
    made
}

/// Seal an attachment into a blob under `incoming/`, as the intake's upload worker does.
fn seal(store: &Store, staff: &Staff, arrived: Date, data: &[u8]) -> (NewBlob, u64) {
    let mut blob = store.dirs().start_blob().unwrap();
    let true_len = {
        let mut sealer = Sealer::new(&staff.recipients, blob.writer()).unwrap();
        sealer.write(data).unwrap();
        sealer.finish(0).unwrap().true_len
    };
    let size = blob.finish(arrived.start()).unwrap();
    (NewBlob { blob, size }, true_len)
}

/// Decrypt an age file with the staff identity.
pub fn decrypt(staff: &Staff, ciphertext: &[u8]) -> Vec<u8> {
    let decryptor = age::Decryptor::new(ciphertext).unwrap();
    let mut plain = Vec::new();
    decryptor
        .decrypt(std::iter::once(&staff.identity as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    plain
}

pub fn blob_path(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("blobs").join(format!("{id}.age"))
}

/// The real `sealdrop`: this package's own, or, from the desk crate's tests, the one the workspace
/// builds beside `sealdesk`.
fn sealdrop_bin() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_sealdrop") {
        return path.into();
    }
    let path = match option_env!("CARGO_BIN_EXE_sealdesk") {
        Some(desk) => Path::new(desk).with_file_name("sealdrop"),
        None => panic!("bundle_support is built only into tests of sealdrop or sealdesk"),
    };
    assert!(
        path.is_file(),
        "{} is missing: run the tests from the top of the workspace with `cargo test`, which \
         builds sealdrop too (or `cargo build -p sealdrop` first)",
        path.display()
    );
    path
}

/// Run the real `sealdrop` binary on `data_dir`, with no other SEALDROP_* setting leaking in.
pub fn sealdrop(data_dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(sealdrop_bin());
    for (name, _) in std::env::vars() {
        if name.starts_with("SEALDROP_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("SEALDROP_DATA_DIR", data_dir)
        .args(args)
        .output()
        .unwrap()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Run and require success, returning standard output.
pub fn sealdrop_ok(data_dir: &Path, args: &[&str]) -> String {
    let out = sealdrop(data_dir, args);
    assert!(
        out.status.success(),
        "sealdrop {args:?} failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}
