//! Size checks on pulled data that must run before it is parsed for real.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};

const TOO_MANY: &str = "too many items";

/// Counts the `entries` and `sources` of a manifest's JSON without building them: an error if
/// either has more than `MAX` items. Everything else is skipped (the real parse checks it).
pub fn check_manifest_counts<const MAX: usize>(json: &[u8]) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Counts<const M: usize> {
        #[serde(default, rename = "entries")]
        _entries: Counted<M>,
        #[serde(default, rename = "sources")]
        _sources: Counted<M>,
    }
    serde_json::from_slice::<Counts<MAX>>(json)
        .map(|_| ())
        .map_err(|e| {
            if e.to_string().contains(TOO_MANY) {
                format!("it has more than {MAX} entries (the limit)")
            } else {
                format!("not a manifest: {e}")
            }
        })
}

/// A JSON array, counted and dropped item by item.
#[derive(Default)]
struct Counted<const MAX: usize>;

impl<'de, const MAX: usize> Deserialize<'de> for Counted<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const M: usize>;
        impl<'de, const M: usize> Visitor<'de> for V<M> {
            type Value = Counted<M>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Counted<M>, A::Error> {
                let mut n = 0usize;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                    if n > M {
                        return Err(serde::de::Error::custom(TOO_MANY));
                    }
                }
                Ok(Counted)
            }
        }
        d.deserialize_seq(V::<MAX>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_entries_and_sources() {
        let ok = br#"{"format":1,"entries":[1,{"a":[2]},3],"sources":[],"key":"k"}"#;
        assert_eq!(check_manifest_counts::<3>(ok), Ok(()));
        let e = check_manifest_counts::<2>(ok).unwrap_err();
        assert!(e.contains("more than 2 entries"), "{e}");
        let many_sources = br#"{"entries":[],"sources":[1,2,3]}"#;
        assert!(check_manifest_counts::<2>(many_sources).is_err());
        let e = check_manifest_counts::<2>(b"[not json").unwrap_err();
        assert!(e.starts_with("not a manifest"), "{e}");
    }
}
