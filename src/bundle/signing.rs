// STAND-IN until the bundle branch is merged (only the fingerprint functions DESK needs).

//! Server signing key fingerprints.

use ed25519_dalek::VerifyingKey;

use super::BundleError;

/// 64 hex digits; spaces and colons are ignored.
pub fn parse_fingerprint(text: &str) -> Result<VerifyingKey, BundleError> {
    let digits: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(&digits, &mut bytes).map_err(|_| BundleError::BadFingerprint)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| BundleError::BadFingerprint)
}

/// 64 hex digits in groups of 4 separated by spaces.
pub fn format_fingerprint(key: &VerifyingKey) -> String {
    let hex = hex::encode(key.as_bytes());
    hex.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("hex is ASCII"))
        .collect::<Vec<_>>()
        .join(" ")
}
