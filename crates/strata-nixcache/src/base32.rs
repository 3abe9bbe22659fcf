//! Nix's base-32: its own alphabet (no e, o, u, t) and digit order (last byte first).

const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Nix base-32 of `bytes` (52 characters for a SHA-256).
pub fn encode(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return String::new();
    }
    let len = (bytes.len() * 8 - 1) / 5 + 1;
    let mut out = String::with_capacity(len);
    for n in (0..len).rev() {
        let b = n * 5;
        let i = b / 8;
        let j = b % 8;
        let lo = u16::from(bytes[i]) >> j;
        let hi = bytes
            .get(i + 1)
            .map_or(0, |&next| u16::from(next) << (8 - j));
        out.push(char::from(ALPHABET[usize::from((lo | hi) & 0x1f)]));
    }
    out
}

/// Inverse of [`encode`] for a digest of `size` bytes; `None` on a bad character or length.
pub fn decode(text: &str, size: usize) -> Option<Vec<u8>> {
    // `checked_mul`: the size may come from a caller's input; a huge one is no digest.
    let len = size
        .checked_mul(8)
        .map(|bits| (bits.saturating_sub(1)) / 5 + 1);
    if size == 0 || len != Some(text.len()) {
        return None;
    }
    let mut out = vec![0u8; size];
    for (n, c) in text.bytes().rev().enumerate() {
        let digit = ALPHABET.iter().position(|&a| a == c)? as u16;
        let b = n * 5;
        let i = b / 8;
        let j = b % 8;
        out[i] |= (digit << j) as u8;
        let carry = (digit << j) >> 8;
        if i + 1 < size {
            out[i + 1] |= carry as u8;
        } else if carry != 0 {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_known_value() {
        // `nix-hash --type sha256 --to-base32` of the SHA-256 of "" (checked against nix 2.8).
        let empty_sha256 = [
            0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f,
            0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b,
            0x78, 0x52, 0xb8, 0x55,
        ];
        let text = encode(&empty_sha256);
        assert_eq!(text, "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73");
        assert_eq!(decode(&text, 32).as_deref(), Some(&empty_sha256[..]));
        assert_eq!(decode("e", 32), None);
        let twenty: Vec<u8> = (0u8..20).collect();
        assert_eq!(decode(&encode(&twenty), 20), Some(twenty));
    }

    /// Found by the property tests (src/fuzz.rs): a size above `usize::MAX / 8` overflowed the
    /// length computation (a panic in debug builds) instead of being refused.
    #[test]
    fn huge_sizes_are_refused() {
        assert_eq!(decode("0", usize::MAX), None);
        assert_eq!(decode("", usize::MAX / 4), None);
    }
}
