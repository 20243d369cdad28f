//! `sealdrop demo`: a working intake on a developer's machine, with a throw-away key.
//!
//! The demo's secret key sits unprotected in the demo folder, beside (never inside) the folders
//! the server reads, and every page says it is a demo.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use age::secrecy::ExposeSecret;
use anyhow::{Context, Result};

use crate::config::{Config, Listen};

/// What `demo` prepared: the config to serve, and where the demo's secret key is.
pub struct Demo {
    pub config: Config,
    pub identity: PathBuf,
}

/// The name the demo's pages carry.
pub const DEMO_ORGANISATION: &str = "DEMO: Example Group (not a real organisation)";

/// Make (or reuse) a demo identity and config under `dir`.
pub fn prepare(listen: &str, dir: &Path) -> Result<Demo> {
    let identity = dir.join("identity.txt");
    let keys_dir = dir.join("keys");
    let keys_file = keys_dir.join("recipients.txt");
    std::fs::create_dir_all(&keys_dir)
        .with_context(|| format!("creating the demo folder {}", keys_dir.display()))?;
    if !identity.exists() {
        let recipient = write_demo_identity(&identity)?;
        std::fs::write(
            &keys_file,
            format!(
                "# DEMO recipient: its secret key is in {}\n{recipient}\n",
                identity.display()
            ),
        )
        .with_context(|| format!("writing {}", keys_file.display()))?;
    }
    let mut config = Config {
        listen: listen
            .parse::<Listen>()
            .map_err(|e| anyhow::anyhow!("--listen: {e}"))?,
        data_dir: dir.join("data"),
        keys_file,
        demo: true,
        ..Config::default()
    };
    config.limits.min_free_disk_mb = 256;
    // What a real group sets in [organisation], labelled so nobody mistakes the demo for one.
    config.organisation = crate::config::Organisation {
        name: DEMO_ORGANISATION.to_owned(),
        description: "This is where a group describes itself in a sentence or two. (Demo text.)"
            .to_owned(),
        verify: "A real group says here where sources can check this address, for example in \
                 its printed reports. (Demo text.)"
            .to_owned(),
        ..Default::default()
    };
    config.validate()?;
    Ok(Demo { config, identity })
}

/// A new age identity in the clear (demo only), readable by its owner alone; returns its
/// public recipient.
fn write_demo_identity(path: &Path) -> Result<String> {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the demo key {}", path.display()))?;
    writeln!(
        file,
        "# DEMO identity: NOT for real submissions; anyone with this file reads them all.\n\
         # public key: {recipient}\n{}",
        identity.to_string().expose_secret()
    )
    .with_context(|| format!("writing the demo key {}", path.display()))?;
    Ok(recipient)
}

/// The banner `demo` prints before it listens: loud, and with the one command that reads a
/// submission back.
pub fn banner(demo: &Demo, listen: &str) -> String {
    let bar = "=".repeat(78);
    let data = demo.config.data_dir.display();
    let id = demo.identity.display();
    format!(
        "{bar}\n  DEMO MODE: NOT FOR REAL SUBMISSIONS\n  \
         Everything sent here is sealed to a DEMO key whose secret half sits unprotected\n  \
         in {id} . Anyone with that file can read it all.\n\n  \
         Open the form:   http://{listen}/\n  \
         Stored blobs:    {data}/blobs/\n  \
         Read one:        age -d -i {id} {data}/blobs/<id>.age\n  \
         (Each submission's envelope is JSON naming its attachments' blob ids; an\n   \
         attachment is padded with zero bytes after its true length, given there.)\n{bar}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_key_stays_outside_what_the_server_reads() {
        let dir = tempfile::tempdir().unwrap();
        let demo = prepare("127.0.0.1:0", dir.path()).unwrap();
        assert!(demo.config.demo);
        // The demo names an example group, labelled as a demo, on every page.
        assert!(demo.config.organisation.name.starts_with("DEMO"));
        // The server's own secret-key checks pass: the key is beside, not inside, what it reads.
        crate::ops::preflight::preflight(&demo.config).unwrap();
        let key = std::fs::read_to_string(&demo.identity).unwrap();
        assert!(key.contains("AGE-SECRET-KEY-"));
        assert!(!demo.identity.starts_with(&demo.config.data_dir));
        assert!(!demo
            .identity
            .starts_with(demo.config.keys_file.parent().unwrap()));
        // A second run reuses the same key.
        let again = prepare("127.0.0.1:0", dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&again.identity).unwrap(), key);
        assert!(banner(&demo, "127.0.0.1:0").contains("NOT FOR REAL SUBMISSIONS"));
    }
}
