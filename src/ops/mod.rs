//! The operator's commands and the checks around the server: what runs beside (or before) the
//! server on the same data directory. The binary only parses arguments and prints.
//!
//! Operator commands never create, clean up or migrate a data directory (only `serve` does), and
//! they take the operator commands' lock (`store::lock`) while they work.

pub mod backup;
pub mod demo;
pub mod desk_keys;
pub mod doctor;
pub mod export;
pub mod host;
pub mod import_outbox;
pub mod preflight;
pub mod purge;
pub mod serve;
pub mod tor_config;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sealdrop_core::day::{arrival_date, Date, Granularity};

use crate::config::{Config, ConfigError};

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("cannot load the configuration")]
    Config(#[from] ConfigError),
    #[error(
        "there is no data directory at {0}; check --config (or SEALDROP_DATA_DIR), or start \
         `sealdrop serve` once to create it"
    )]
    NoDataDir(PathBuf),
}

/// The configuration for an operator command, whose data directory must exist already.
pub fn existing_config(config_file: Option<&Path>) -> Result<Config, OpsError> {
    let config = Config::load(config_file)?;
    if !config.data_dir.is_dir() {
        return Err(OpsError::NoDataDir(config.data_dir));
    }
    Ok(config)
}

/// Today, as operator commands date things (exports, retention): the UTC day.
pub fn today() -> Date {
    arrival_date(SystemTime::now(), Granularity::Day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_commands_need_an_existing_data_directory() {
        let root = tempfile::tempdir().unwrap();
        let missing = root.path().join("nowhere");
        let config = root.path().join("sealdrop.toml");
        let keys = root.path().join("recipients.txt");
        std::fs::write(&keys, "").unwrap();
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\nkeys_file = {:?}\n",
                missing.display().to_string(),
                keys.display().to_string()
            ),
        )
        .unwrap();
        match existing_config(Some(&config)) {
            Err(OpsError::NoDataDir(dir)) => assert_eq!(dir, missing),
            other => panic!("expected NoDataDir, got {other:?}"),
        }
        assert!(!missing.exists(), "nothing is created");
        std::fs::create_dir(&missing).unwrap();
        assert_eq!(existing_config(Some(&config)).unwrap().data_dir, missing);
    }
}
