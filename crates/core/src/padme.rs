//! Padmé padding (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and
//! Communication with PURBs", PETS 2019).
//!
//! A length L is rounded up so that only its top ~log2(log2(L)) bits remain significant: the
//! padded size leaks O(log log L) bits about L, at a cost of at most about 12% (less for large L).

/// The Padmé-padded size of a plaintext of `len` bytes.
pub fn padded_len(len: u64) -> u64 {
    if len < 2 {
        return len;
    }
    let exponent = 63 - u64::from(len.leading_zeros()); // floor(log2 L)
    let exponent_bits = 64 - u64::from(exponent.leading_zeros()); // floor(log2 E) + 1
    let low_bits = exponent - exponent_bits;
    let mask = (1u64 << low_bits) - 1;
    len.checked_add(mask).map_or(len, |v| v & !mask)
}

#[cfg(test)]
mod tests {
    use super::padded_len;

    #[test]
    fn known_values() {
        // From the paper's definition, worked by hand.
        assert_eq!(padded_len(0), 0);
        assert_eq!(padded_len(1), 1);
        assert_eq!(padded_len(8), 8);
        assert_eq!(padded_len(9), 10);
        assert_eq!(padded_len(1000), 1024);
        assert_eq!(padded_len(1025), 1088);
        assert_eq!(padded_len(1_000_000), 1_015_808);
    }

    #[test]
    fn never_shrinks_is_idempotent_and_bounds_overhead() {
        let mut len = 2u64;
        while len < 1 << 40 {
            for l in [len - 1, len, len + 1, len + len / 3] {
                let p = padded_len(l);
                assert!(p >= l);
                assert_eq!(padded_len(p), p, "padding a padded size must not grow it");
                assert!(p - l <= l / 8 + 1, "overhead above 12% at {l}: {p}");
            }
            len = len * 3 / 2 + 1;
        }
    }

    #[test]
    fn leaves_few_significant_bits() {
        // A 1 GiB-ish length keeps at most 5 significant bits (log2(30) rounded up).
        let p = padded_len(1_234_567_890);
        assert!(p.count_ones() <= 5, "{p:b}");
    }
}
