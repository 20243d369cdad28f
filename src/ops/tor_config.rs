//! Reading the onion service's tor configuration: which `HiddenServiceDir` serves the intake's
//! listener, and whether it sends PROXY headers. Used by `doctor` (is it right?) and `backup`
//! (where are the onion keys?).
//!
//! Only what those need is understood: `Keyword value` lines, `#` comments, keywords in any
//! case, `%include` of a file or a directory (its files in name order), and the rule that the
//! `HiddenService*` options after a `HiddenServiceDir` belong to it.

use std::path::{Path, PathBuf};

use crate::config::Listen;

/// The torrc of the tor instance the Debian package sets up (`tor@sealdrop`).
pub const PACKAGED_TORRC: &str = "/etc/tor/instances/sealdrop/torrc";
/// The user Debian's `tor-instance-create sealdrop` makes, and its group.
pub const PACKAGED_TOR_USER: &str = "_tor-sealdrop";

/// Includes nested deeper than this are refused (a loop, most likely).
const MAX_INCLUDE_DEPTH: usize = 8;
/// A torrc larger than this is not a torrc.
const MAX_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum TorrcError {
    #[error("cannot read the tor configuration {path}: install the package's tor instance (`tor-instance-create sealdrop`) or give the torrc that holds the onion service with --torrc")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is larger than 1 MiB or includes too deeply; check that --torrc names a torrc"
    )]
    TooLarge { path: PathBuf },
}

/// One onion service block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub dir: PathBuf,
    /// The targets of its `HiddenServicePort` lines (`unix:/path` or `127.0.0.1:8080`).
    pub targets: Vec<String>,
    pub export_circuit_id: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Torrc {
    pub services: Vec<Service>,
}

impl Torrc {
    /// The service whose port leads to `listen`.
    pub fn service_for(&self, listen: &Listen) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.targets.iter().any(|t| target_is(t, listen)))
    }

    /// A `HiddenServiceDir` named twice (tor refuses to start): the usual result of appending a
    /// snippet to a torrc twice.
    pub fn duplicate_dir(&self) -> Option<&Path> {
        let canon = |p: &Path| p.to_string_lossy().trim_end_matches('/').to_owned();
        self.services.iter().enumerate().find_map(|(i, s)| {
            self.services[..i]
                .iter()
                .any(|o| canon(&o.dir) == canon(&s.dir))
                .then_some(s.dir.as_path())
        })
    }
}

fn target_is(target: &str, listen: &Listen) -> bool {
    match listen {
        Listen::Unix(path) => target
            .strip_prefix("unix:")
            .map(|p| p.trim_matches('"'))
            .is_some_and(|p| Path::new(p) == path),
        Listen::Tcp(addr) => target.parse::<std::net::SocketAddr>().ok() == Some(*addr),
    }
}

/// Read a torrc and what it includes.
pub fn read(path: &Path) -> Result<Torrc, TorrcError> {
    let mut torrc = Torrc::default();
    read_into(path, 0, &mut torrc)?;
    Ok(torrc)
}

fn read_into(path: &Path, depth: usize, torrc: &mut Torrc) -> Result<(), TorrcError> {
    use std::io::Read;
    if depth > MAX_INCLUDE_DEPTH {
        return Err(TorrcError::TooLarge {
            path: path.to_owned(),
        });
    }
    let read_err = |source| TorrcError::Read {
        path: path.to_owned(),
        source,
    };
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read_err)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        entries.sort();
        for entry in entries {
            read_into(&entry, depth + 1, torrc)?;
        }
        return Ok(());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(TorrcError::TooLarge {
            path: path.to_owned(),
        });
    }
    let text = String::from_utf8_lossy(&bytes);
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut parts = line.splitn(2, char::is_whitespace);
        let keyword = parts.next().unwrap_or("").trim_start_matches(['+', '/']);
        let value = parts.next().unwrap_or("").trim();
        match keyword.to_ascii_lowercase().as_str() {
            "%include" => {
                let base = path.parent().unwrap_or(Path::new("/"));
                read_into(&base.join(value), depth + 1, torrc)?;
            }
            "hiddenservicedir" => torrc.services.push(Service {
                dir: PathBuf::from(value),
                targets: Vec::new(),
                export_circuit_id: false,
            }),
            "hiddenserviceport" => {
                if let Some(service) = torrc.services.last_mut() {
                    // `VIRTPORT [TARGET]`; no target means the same port on 127.0.0.1.
                    let mut words = value.split_whitespace();
                    let virt = words.next().unwrap_or("");
                    let target = words
                        .next()
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("127.0.0.1:{virt}"));
                    service.targets.push(target);
                }
            }
            "hiddenserviceexportcircuitid" => {
                if let Some(service) = torrc.services.last_mut() {
                    service.export_circuit_id = value.eq_ignore_ascii_case("haproxy");
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blocks_includes_and_finds_the_listener() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("torrc.d");
        std::fs::create_dir(&inc).unwrap();
        std::fs::write(
            inc.join("50-sealdrop"),
            "HiddenServiceDir /var/lib/x/onion/\nhiddenserviceport 80 unix:\"/run/s/s.sock\"\n\
             HiddenServiceExportCircuitID haproxy # yes\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("torrc"),
            "# main\nHiddenServiceDir /var/lib/other\nHiddenServicePort 80\n%include torrc.d\n",
        )
        .unwrap();
        let torrc = read(&dir.path().join("torrc")).unwrap();
        assert_eq!(torrc.services.len(), 2);
        let unix = torrc
            .service_for(&Listen::Unix("/run/s/s.sock".into()))
            .unwrap();
        assert!(unix.export_circuit_id);
        assert_eq!(unix.dir, Path::new("/var/lib/x/onion/"));
        let tcp = torrc.service_for(&"127.0.0.1:80".parse().unwrap()).unwrap();
        assert!(!tcp.export_circuit_id);
        assert!(torrc.duplicate_dir().is_none());
    }
}
