//! The group the pages name: `[organisation]` in the config file. Every value is operator input
//! shown to sources, so each is bounded here and escaped by the templates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::ConfigError;
use crate::intake::i18n::Lang;

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 120;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 600;
/// Longest verify line, in characters.
pub const MAX_VERIFY_CHARS: usize = 400;
/// Most tips per language, and the longest tip, in characters.
pub const MAX_TIPS: usize = 8;
pub const MAX_TIP_CHARS: usize = 400;
/// Largest logo file, in bytes: a small PNG or JPEG (it travels over Tor with every first visit).
pub const MAX_LOGO_BYTES: u64 = 32 * 1024;

/// `[organisation]`: who runs this drop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Organisation {
    /// Shown on every page.
    pub name: String,
    /// A short description, on the form.
    pub description: String,
    /// How a source can check that this address is really the group's (on the form).
    pub verify: String,
    /// A small PNG or JPEG, served by this server under a content-hashed path. Never SVG.
    pub logo_file: Option<PathBuf>,
    /// The operator's own safety tips, per language code, replacing the built-in ones.
    pub tips: BTreeMap<String, Vec<String>>,
}

impl Organisation {
    /// Refuse values that are too long, control characters, or tips for an unknown language.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |setting: &'static str, value: &str, max: usize| {
            if value.chars().count() > max {
                return Err(invalid(
                    setting,
                    format!("must be at most {max} characters"),
                ));
            }
            if value.chars().any(|c| c.is_control()) {
                return Err(invalid(
                    setting,
                    "must be one line without control characters".into(),
                ));
            }
            Ok(())
        };
        check("organisation.name", &self.name, MAX_NAME_CHARS)?;
        check(
            "organisation.description",
            &self.description,
            MAX_DESCRIPTION_CHARS,
        )?;
        check("organisation.verify", &self.verify, MAX_VERIFY_CHARS)?;
        for (code, tips) in &self.tips {
            if let Err(why) = code.parse::<Lang>() {
                return Err(invalid("organisation.tips", why));
            }
            if tips.is_empty() || tips.len() > MAX_TIPS {
                return Err(invalid(
                    "organisation.tips",
                    format!("`{code}` must have from 1 to {MAX_TIPS} tips"),
                ));
            }
            for tip in tips {
                check("organisation.tips", tip, MAX_TIP_CHARS)?;
                if tip.trim().is_empty() {
                    return Err(invalid("organisation.tips", "a tip is empty".into()));
                }
            }
        }
        Ok(())
    }

    /// The operator's tips for a language, if any.
    pub fn tips_for(&self, lang: Lang) -> Option<&[String]> {
        self.tips.get(lang.code()).map(Vec::as_slice)
    }
}

fn invalid(setting: &'static str, message: String) -> ConfigError {
    ConfigError::Invalid { setting, message }
}

/// The logo as served: read and checked once at start.
#[derive(Clone, PartialEq, Eq)]
pub struct Logo {
    pub bytes: Arc<[u8]>,
    pub content_type: &'static str,
    /// The path it is served under: `/static/logo-<hash>.<ext>` (the hash makes a long cache
    /// safe: a new logo gets a new path).
    pub path: String,
}

impl std::fmt::Debug for Logo {
    // Its bytes are no use in a log or an error; its path and size are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logo")
            .field("path", &self.path)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl Logo {
    /// Read a logo file: PNG or JPEG by its first bytes (never by its name), at most
    /// [`MAX_LOGO_BYTES`]. SVG, which can carry script and links, is refused like any other type.
    pub fn load(file: &Path) -> Result<Logo, ConfigError> {
        use std::io::Read;
        let setting = "organisation.logo_file";
        let opened = std::fs::File::open(file).map_err(|source| ConfigError::Read {
            path: file.to_owned(),
            source,
        })?;
        let mut bytes = Vec::new();
        opened
            .take(MAX_LOGO_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| ConfigError::Read {
                path: file.to_owned(),
                source,
            })?;
        if bytes.len() as u64 > MAX_LOGO_BYTES {
            return Err(invalid(
                setting,
                format!(
                    "{} is larger than {} KiB; make it smaller",
                    file.display(),
                    MAX_LOGO_BYTES / 1024
                ),
            ));
        }
        let (content_type, ext) = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            ("image/png", "png")
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            ("image/jpeg", "jpg")
        } else {
            return Err(invalid(
                setting,
                format!(
                    "{} is not a PNG or JPEG image (SVG and other types are refused)",
                    file.display()
                ),
            ));
        };
        let hash = sha256_hex16(&bytes);
        Ok(Logo {
            bytes: bytes.into(),
            content_type,
            path: format!("/static/logo-{hash}.{ext}"),
        })
    }
}

/// The first 16 hex digits of a SHA-256: enough to tell versions of one file apart.
pub fn sha256_hex16(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
