//! `sealdesk`: the staff's offline tool, for the air-gapped machine. It never uses the network.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use age::secrecy::{ExposeSecret, SecretString};
use sealdrop::desk::identity;

/// Sealdesk: read and sort the reports sources sent, on a computer that stays offline.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a new staff key. Prints the public line to add to the server's keys/recipients.txt.
    ///
    /// The key file is protected with a passphrase you choose (asked twice). Keep the file and
    /// the passphrase safe: without both, nobody can read reports sealed to this key.
    Keygen {
        /// Where to write the new key file.
        #[arg(long, short, default_value = "staff-identity.age")]
        out: PathBuf,
        /// Write the key without a passphrase (only for tests and demos: anyone who copies the
        /// file can read every report).
        #[arg(long)]
        no_passphrase: bool,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Keygen { out, no_passphrase } => keygen(out, no_passphrase),
    }
}

/// The environment variable scripts may use instead of typing the passphrase (less safe: other
/// programs of the same user can read a process's environment).
const PASSPHRASE_ENV: &str = "SEALDESK_PASSPHRASE";

fn new_passphrase() -> Result<SecretString> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(SecretString::from(p));
    }
    let p = age::cli_common::read_secret(
        "Choose a passphrase for the new staff key",
        "Passphrase",
        Some("Type the same passphrase again"),
    )
    .map_err(|e| anyhow::anyhow!("could not read the passphrase: {e}"))?;
    if p.expose_secret().chars().count() < 12 {
        bail!("the passphrase is shorter than 12 characters; choose a longer one (several words work well)");
    }
    Ok(p)
}

fn keygen(out: PathBuf, no_passphrase: bool) -> Result<()> {
    let passphrase = if no_passphrase {
        eprintln!("WARNING: writing the key WITHOUT a passphrase. Anyone who copies {} can read every report.", out.display());
        None
    } else {
        Some(new_passphrase()?)
    };
    let recipient = identity::generate(&out, passphrase)
        .with_context(|| format!("making a new staff key in {}", out.display()))?;
    eprintln!("Wrote the new staff key to {}.", out.display());
    eprintln!(
        "Add the line below to keys/recipients.txt on the server (it is public, not secret):"
    );
    println!("{recipient}");
    Ok(())
}
