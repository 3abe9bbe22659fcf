//! Property tests of what the skeleton reads from a checkout: manifests and lock files of any
//! shape (they are the user's, or a pull request's). Arbitrary and mutated text must never panic
//! and must fail with an error naming the file; masking is idempotent and its output is TOML.
//!
//! Cases per property: `PROPTEST_CASES` (default 2000).

use std::collections::HashSet;
use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;
use strata_proptest::check;

use crate::launder;
use crate::manifest::{inherits_version, mask_lock, mask_manifest, parse_toml, uses_inheritance};

/// Lines of a Cargo.toml or Cargo.lock: its tables and keys with values of every type.
fn manifest_text() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        Just("\"1.2.3\"".to_string()),
        Just("{ workspace = true }".to_string()),
        Just("{ path = \"../x\", version = \"0.1\" }".to_string()),
        Just("{ version = \"1\", features = [\"a\"] }".to_string()),
        Just("true".to_string()),
        Just("7".to_string()),
        Just("[\"a 1.0.0\", \"b 0.1.0\", \"c\"]".to_string()),
        Just("[[[[[[[[1]]]]]]]]".to_string()),
        "\"\\PC{0,10}\"",
    ];
    let key = prop_oneof![
        Just("version"),
        Just("name"),
        Just("path"),
        Just("workspace"),
        Just("source"),
        Just("dependencies"),
        Just("features"),
        Just("foo"),
        Just("package.version"),
    ];
    let line = prop_oneof![
        3 => (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        2 => prop_oneof![
            Just("[package]"), Just("[project]"), Just("[workspace]"), Just("[workspace.package]"),
            Just("[workspace.dependencies]"), Just("[dependencies]"), Just("[dev-dependencies]"),
            Just("[build-dependencies]"), Just("[target.'cfg(unix)'.dependencies]"), Just("[[package]]"),
            Just("[badges]"), Just("[lints]"), Just("[dependencies.x]"),
        ].prop_map(str::to_string),
        1 => "\\PC{0,30}",
    ];
    (
        vec(line, 0..14),
        vec((any::<u8>(), any::<usize>(), any::<u8>()), 0..2),
    )
        .prop_map(|(lines, mutations)| {
            let mut b = lines.join("\n").into_bytes();
            for (how, at, byte) in mutations {
                if b.is_empty() {
                    break;
                }
                let i = at % b.len();
                match how % 3 {
                    0 => b.truncate(i),
                    1 => b[i] ^= byte | 1,
                    _ => b.insert(i, byte),
                }
            }
            b
        })
}

#[test]
fn manifests_of_any_shape_mask_or_name_the_file() {
    let path = Path::new("/w/crates/x/Cargo.toml");
    let deep = format!("a = {}", "[".repeat(100_000)).into_bytes();
    check(
        prop_oneof![8 => manifest_text(), 1 => Just(deep), 1 => vec(any::<u8>(), 0..100)],
        |bytes| {
            let mut doc = match parse_toml(path, bytes) {
                Ok(doc) => doc,
                Err(e) => {
                    prop_assert!(e.to_string().contains("/w/crates/x/Cargo.toml"), "{e}");
                    return Ok(());
                }
            };
            let _ = uses_inheritance(&doc);
            let _ = inherits_version(&doc);
            mask_manifest(&mut doc, true, true);
            let once = doc.to_string();
            // What masking writes is TOML, and masking it again changes nothing.
            let mut again = parse_toml(path, once.clone().into_bytes()).unwrap();
            mask_manifest(&mut again, true, true);
            prop_assert_eq!(again.to_string(), once);
            if let Err(e) = launder(&doc, path) {
                prop_assert!(e.to_string().contains("/w/crates/x/Cargo.toml"), "{e}");
            }
            let mut lock = doc.clone();
            mask_lock(
                &mut lock,
                &HashSet::from([("a".to_string(), "1.0.0".to_string())]),
            );
            prop_assert!(parse_toml(path, lock.to_string().into_bytes()).is_ok());
            Ok(())
        },
    );
}
