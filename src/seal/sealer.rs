//! Streaming age encryption of one blob, with Padmé padding appended before the seal closes.

use std::io::Write;

use age::stream::StreamWriter;

use super::padme::padded_len;
use sealdrop_core::keys::Recipients;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("could not start age encryption")]
    Encrypt(#[from] age::EncryptError),
    #[error("writing ciphertext failed")]
    Io(#[from] std::io::Error),
}

/// Encrypts a plaintext stream to the group's recipients as it is written.
///
/// The plaintext is never buffered here beyond the age crate's one 64 KiB chunk.
pub struct Sealer<W: Write> {
    stream: StreamWriter<W>,
    written: u64,
}

/// What sealing produced: the output back, and the true and padded plaintext lengths.
#[derive(Debug)]
pub struct Sealed<W> {
    pub output: W,
    pub true_len: u64,
    pub padded_len: u64,
}

impl<W: Write> Sealer<W> {
    pub fn new(recipients: &Recipients, output: W) -> Result<Self, SealError> {
        let encryptor = age::Encryptor::with_recipients(recipients.iter())?;
        Ok(Sealer {
            stream: encryptor.wrap_output(output)?,
            written: 0,
        })
    }

    /// Plaintext bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn write(&mut self, plaintext: &[u8]) -> Result<(), SealError> {
        self.stream.write_all(plaintext)?;
        self.written += plaintext.len() as u64;
        Ok(())
    }

    /// Pad to the Padmé size with `pad` bytes, close the age stream, and hand back the output.
    pub fn finish(mut self, pad: u8) -> Result<Sealed<W>, SealError> {
        let padded = padded_len(self.written);
        let chunk = [pad; 4096];
        let mut remaining = padded - self.written;
        while remaining > 0 {
            let n = remaining.min(chunk.len() as u64) as usize;
            self.stream.write_all(&chunk[..n])?;
            remaining -= n as u64;
        }
        let output = self.stream.finish()?;
        Ok(Sealed {
            output,
            true_len: self.written,
            padded_len: padded,
        })
    }
}

/// The size of an age file holding `plaintext_len` bytes, minus its header.
///
/// age's payload is a 16-byte nonce, then 64 KiB chunks each followed by a 16-byte tag; the last
/// chunk may be short (or empty, for an empty plaintext).
pub fn age_payload_len(plaintext_len: u64) -> u64 {
    const CHUNK: u64 = 64 * 1024;
    let chunks = plaintext_len.div_ceil(CHUNK).max(1);
    16 + plaintext_len + chunks * 16
}

/// The length of an age file's header (through the `---` MAC line), found in its first bytes.
///
/// Headers vary in size (the age crate adds random "grease" stanzas), so size checks measure it.
pub fn age_header_len(file_start: &[u8]) -> Option<usize> {
    let mac_line = file_start.windows(5).position(|w| w == b"\n--- ")?;
    let end = file_start[mac_line + 1..]
        .iter()
        .position(|&b| b == b'\n')?;
    Some(mac_line + 1 + end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn sealed_blob_opens_with_the_identity_and_carries_padding() {
        let id = age::x25519::Identity::generate();
        let recipients =
            Recipients::parse("k".as_ref(), id.to_public().to_string().as_bytes()).unwrap();
        let mut sealer = Sealer::new(&recipients, Vec::new()).unwrap();
        sealer.write(b"hello ").unwrap();
        sealer.write(b"world, 17 bytes").unwrap();
        let sealed = sealer.finish(b' ').unwrap();
        assert_eq!(sealed.true_len, 21);
        assert_eq!(sealed.padded_len, padded_len(21));

        let decryptor = age::Decryptor::new(&sealed.output[..]).unwrap();
        let mut plain = Vec::new();
        decryptor
            .decrypt(std::iter::once(&id as &dyn age::Identity))
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain.len() as u64, sealed.padded_len);
        assert!(plain.starts_with(b"hello world, 17 bytes"));
        assert!(plain[21..].iter().all(|&b| b == b' '));
    }

    #[test]
    fn payload_length_formula_matches_the_age_crate() {
        let id = age::x25519::Identity::generate();
        let recipients =
            Recipients::parse("k".as_ref(), id.to_public().to_string().as_bytes()).unwrap();
        for len in [0usize, 1, 65_535, 65_536, 65_537, 200_000] {
            let mut s = Sealer::new(&recipients, Vec::new()).unwrap();
            s.write(&vec![7u8; len]).unwrap();
            let sealed = s.finish(0).unwrap();
            let total = sealed.output.len() as u64;
            let header = age_header_len(&sealed.output).unwrap() as u64;
            assert_eq!(
                total,
                header + age_payload_len(padded_len(len as u64)),
                "len {len}"
            );
        }
    }
}
