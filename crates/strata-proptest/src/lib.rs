//! How every strata crate runs its property tests (the `fuzz.rs` of each parser of untrusted
//! input): `PROPTEST_CASES` cases per property (default 2000), failures kept as named regression
//! tests rather than in proptest's persistence files, and a panic with the minimal input.
//! A dev-dependency only.

use std::path::Path;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Cases per property: `PROPTEST_CASES`, else 2000.
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// Run `test` on [`cases`] values of `strategy`; a failure panics with the minimal input.
pub fn check<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    check_scaled(1, strategy, test)
}

/// [`check`] with a `divisor`-th of the cases, for properties that write and fsync per case or
/// build a tree on disk.
pub fn check_scaled<S: Strategy>(
    divisor: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases: (cases() / divisor.max(1)).max(1),
        failure_persistence: None,
        ..Config::default()
    };
    if let Err(e) = TestRunner::new(config).run(&strategy, test) {
        panic!("{e}");
    }
}

/// A temp dir in memory (`/dev/shm`) where there is one: the store fsyncs what it writes, which
/// on a busy disk costs more than the rest of a case, and these properties are about parsing.
pub fn fast_tempdir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().expect("a temp dir")
}

/// `data` with one mutation picked by `how`, at `at` (wrapped), using `byte`: cut there, a bit
/// flipped, a byte inserted, or up to 8 bytes removed. Empty data becomes `[byte]`.
pub fn mutate(data: &[u8], how: u8, at: usize, byte: u8) -> Vec<u8> {
    let mut d = data.to_vec();
    if d.is_empty() {
        return vec![byte];
    }
    let i = at % d.len();
    match how % 4 {
        0 => d.truncate(i),
        1 => d[i] ^= byte | 1,
        2 => d.insert(i, byte),
        _ => {
            d.drain(i..(i + 1 + usize::from(byte) % 8).min(d.len()));
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mutation_changes_the_bytes_or_their_length() {
        let data = b"0123456789".to_vec();
        for how in 0..4u8 {
            for at in [0usize, 3, 9, 17] {
                let m = mutate(&data, how, at, 0x40);
                assert!(m != data, "how {how} at {at}");
            }
        }
        assert_eq!(mutate(b"", 2, 5, 7), vec![7]);
    }

    #[test]
    #[should_panic(expected = "minimal failing input")]
    fn a_failing_property_panics_with_its_input() {
        check_scaled(100, proptest::num::u8::ANY, |b| {
            proptest::prop_assert!(b < 1);
            Ok(())
        });
    }
}
