use crate::StoreError;

/// Parse a human size: `123` (bytes), `500M`, `10G`, `1.5GiB`, `2 TB`.
/// K/M/G/T/P and KiB/MiB/... are 1024-based; KB/MB/... are 1000-based; a
/// trailing `B` alone means bytes. Units are case-insensitive. Fractions are
/// computed exactly (no floating point) and rounded down to whole bytes.
pub fn parse_size(s: &str) -> Result<u64, StoreError> {
    let bad = || StoreError::BadSize {
        input: s.chars().take(80).collect(),
    };
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim_start().to_ascii_lowercase();

    let mult: u128 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "p" | "pib" => 1 << 50,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "pb" => 1_000_000_000_000_000,
        _ => return Err(bad()),
    };

    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad());
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    // A plain byte count with a fraction is almost certainly a typo.
    if num.contains('.') && (mult == 1 || frac_part.is_empty()) {
        return Err(bad());
    }
    // Digits beyond 18 cannot matter for u64 results after flooring.
    let frac_part = &frac_part[..frac_part.len().min(18)];

    let int: u128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| bad())?
    };
    let mut total = int.checked_mul(mult).ok_or_else(bad)?;
    if !frac_part.is_empty() {
        let frac: u128 = frac_part.parse().map_err(|_| bad())?;
        let denom = 10u128.pow(frac_part.len() as u32);
        total = total
            .checked_add(frac.checked_mul(mult).ok_or_else(bad)? / denom)
            .ok_or_else(bad)?;
    }
    u64::try_from(total).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("123", 123),
            ("123B", 123),
            (" 42 ", 42),
            ("1K", 1024),
            ("1k", 1024),
            ("1KiB", 1024),
            ("1KB", 1000),
            ("500M", 500 << 20),
            ("500MB", 500_000_000),
            ("10G", 10 << 30),
            ("10 GiB", 10 << 30),
            ("10gb", 10_000_000_000),
            ("1.5GiB", 3 << 29),
            ("1.5G", 3 << 29),
            ("0.5K", 512),
            (".5K", 512),
            ("2T", 2 << 40),
            ("1TB", 1_000_000_000_000),
            ("1P", 1 << 50),
            ("18446744073709551615", u64::MAX),
        ];
        for (input, want) in cases {
            assert_eq!(parse_size(input).unwrap(), *want, "input {input:?}");
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        for input in [
            "",
            "   ",
            "G",
            "-1",
            "1.5",
            "1.2.3G",
            "1.G",
            "1X",
            "10 G B",
            "1e9",
            "18446744073709551616",
            "99999999999T",
            ".",
        ] {
            let err = parse_size(input).unwrap_err();
            assert!(
                matches!(err, StoreError::BadSize { .. }),
                "{input:?} gave {err}"
            );
        }
    }
}
