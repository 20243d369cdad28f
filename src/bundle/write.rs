// STAND-IN until the bundle branch is merged.

//! Writing a bundle (the stand-in's writer; the real one streams from the server's store).

use std::io::{self, Read, Write};

use ed25519_dalek::{Signer, SigningKey};

use super::format::*;

/// Write a bundle: header, manifest, signature, then each blob's bytes from `blob` in manifest
/// order. The manifest's sizes and hashes must already describe those bytes.
pub fn write(
    out: &mut impl Write,
    key: &SigningKey,
    manifest: &Manifest,
    mut blob: impl FnMut(&ManifestBlob) -> io::Result<Box<dyn Read>>,
) -> io::Result<()> {
    let json = serde_json::to_vec(manifest).map_err(io::Error::other)?;
    let mut signed = Vec::with_capacity(24 + json.len());
    signed.extend_from_slice(MAGIC);
    signed.extend_from_slice(&VERSION.to_be_bytes());
    signed.extend_from_slice(&(json.len() as u32).to_be_bytes());
    signed.extend_from_slice(&json);
    out.write_all(&signed)?;
    out.write_all(&key.sign(&signed).to_bytes())?;
    for s in &manifest.submissions {
        for b in &s.blobs {
            let n = io::copy(&mut blob(b)?, out)?;
            if n != b.size {
                return Err(io::Error::other("blob size differs from the manifest"));
            }
        }
    }
    Ok(())
}
