//! Property tests of what strata reads from cargo's files and paths: the encoded dep-info of
//! `.fingerprint/*/dep-*`, the `rerun-if-changed` lines of build-script output, and the paths of
//! a target dir (or of a layer's manifest, which may come from a remote). Arbitrary and mutated
//! inputs must never panic; what an encoder writes must parse back the same.
//!
//! Cases per property: `PROPTEST_CASES` (default 2000).

use std::path::PathBuf;

use proptest::collection::vec;
use proptest::prelude::*;
use strata_proptest::check;
use strata_store::{Entry, EntryKind, FileTime, ObjectId};

use crate::depinfo::{parse_encoded_dep_info, rerun_if_changed};
use crate::path::{Group, classify, linkable, split_hash, unit_package, unlinked_before_relink};
use crate::scan::ScannedFile;

/// One dep-info entry: type (0 package-relative, 1 target-relative), path bytes, and from
/// version 1 on an optional checksum (size, hex).
type DepEntry = (u8, Vec<u8>, Option<(u64, Vec<u8>)>);

/// Cargo's encoding (`cargo/core/compiler/fingerprint/dep_info.rs`, `EncodedDepInfo::serialize`).
fn encode(versioned: bool, entries: &[DepEntry]) -> Vec<u8> {
    let mut v = Vec::new();
    if versioned {
        v.extend(1u32.to_le_bytes());
        v.extend([0xff, 1]);
    }
    v.extend((entries.len() as u32).to_le_bytes());
    for (ty, path, checksum) in entries {
        v.push(*ty);
        v.extend((path.len() as u32).to_le_bytes());
        v.extend(path);
        if versioned {
            match checksum {
                None => v.push(0),
                Some((size, hex)) => {
                    v.push(1);
                    v.extend(size.to_le_bytes());
                    v.extend((hex.len() as u32).to_le_bytes());
                    v.extend(hex);
                }
            }
        }
    }
    // The env section cargo writes after the files: strata does not read it.
    v.extend(0u32.to_le_bytes());
    v
}

/// The checksum is written only in the versioned form.
fn dep_entry() -> impl Strategy<Value = DepEntry> {
    (
        0u8..2,
        prop_oneof![
            3 => "[a-z/._-]{0,40}".prop_map(String::into_bytes),
            1 => vec(any::<u8>(), 0..40),
        ],
        proptest::option::of((any::<u64>(), "[0-9a-f]{64}".prop_map(String::into_bytes))),
    )
}

fn dep_info() -> impl Strategy<Value = (bool, Vec<DepEntry>)> {
    (any::<bool>(), vec(dep_entry(), 0..8))
}

/// Cut, flip, insert or delete bytes; or set a count or length field to a huge value.
fn mutate(data: &[u8], how: u8, at: usize, byte: u8) -> Vec<u8> {
    let mut d = data.to_vec();
    if d.is_empty() {
        return vec![byte];
    }
    let i = at % d.len();
    match how % 5 {
        0 => d.truncate(i),
        1 => d[i] ^= byte | 1,
        2 => d.insert(i, byte),
        3 => {
            d.drain(i..(i + 1 + usize::from(byte) % 8).min(d.len()));
        }
        _ => {
            let huge = [0xff, 0xff, 0xff, 0x7f - (byte & 0x0f)];
            for (k, b) in huge.into_iter().enumerate() {
                if let Some(x) = d.get_mut(i + k) {
                    *x = b;
                }
            }
        }
    }
    d
}

#[test]
fn dep_info_round_trips() {
    check(dep_info(), |(versioned, entries)| {
        use std::os::unix::ffi::OsStrExt;
        let parsed = parse_encoded_dep_info(&encode(versioned, &entries));
        let want: Vec<(u8, PathBuf)> = entries
            .iter()
            .map(|(ty, p, _)| (*ty, PathBuf::from(std::ffi::OsStr::from_bytes(p))))
            .collect();
        prop_assert_eq!(parsed, Some(want));
        Ok(())
    });
}

#[test]
fn dep_info_of_arbitrary_bytes_never_panics() {
    check(
        prop_oneof![
            2 => vec(any::<u8>(), 0..300),
            3 => (dep_info(), vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4)).prop_map(
                |((versioned, entries), mutations)| {
                    let mut b = encode(versioned, &entries);
                    for (how, at, byte) in mutations {
                        b = mutate(&b, how, at, byte);
                    }
                    b
                }
            ),
        ],
        |bytes| {
            if let Some(entries) = parse_encoded_dep_info(&bytes) {
                // Every entry costs at least 5 bytes (type and length).
                prop_assert!(entries.len() * 5 <= bytes.len());
                prop_assert!(entries.iter().all(|(ty, _)| *ty <= 1));
            }
            Ok(())
        },
    );
}

#[test]
fn rerun_if_changed_lines() {
    check(
        vec(
            prop_oneof![
                2 => "[a-z0-9_./ -]{1,30}".prop_map(|p| (true, p)),
                1 => "\\PC{0,30}".prop_map(|l| (false, l)),
            ],
            0..10,
        ),
        |lines| {
            let mut text = String::new();
            let mut want = Vec::new();
            for (i, (declared, l)) in lines.iter().enumerate() {
                if *declared {
                    let prefix = if i % 2 == 0 { "cargo:" } else { "cargo::" };
                    text.push_str(&format!("{prefix}rerun-if-changed={l}\n"));
                    want.push(PathBuf::from(l.trim()));
                } else if !l.starts_with("cargo:") {
                    text.push_str(l);
                    text.push('\n');
                }
            }
            // Lines of other text may hold a line break of their own (`\r`): only count ours.
            let got = rerun_if_changed(&text);
            prop_assert!(got.len() >= want.len());
            for w in &want {
                prop_assert!(got.contains(w), "{w:?} missing from {got:?}");
            }
            Ok(())
        },
    );
}

/// A path of a target dir or a manifest: cargo's shapes, mixed with anything.
fn target_path() -> impl Strategy<Value = String> {
    let hash = "[0-9a-f]{16}";
    let part = prop_oneof![
        6 => "[a-z_-]{1,10}",
        1 => "\\PC{1,12}",
        1 => Just(".fingerprint".to_string()),
        1 => Just("deps".to_string()),
        1 => Just("build".to_string()),
        1 => Just("incremental".to_string()),
        1 => Just("examples".to_string()),
        1 => Just("x86_64-unknown-linux-gnu".to_string()),
    ];
    prop_oneof![
        3 => vec(part, 1..6).prop_map(|c| c.join("/")),
        2 => ("(debug|release)", "(deps|examples)", "\\PC{0,8}", hash, "(\\.rlib|\\.d|\\.rmeta|)", "\\PC{0,3}")
            .prop_map(|(p, sub, name, h, ext, tail)| format!("{p}/{sub}/{name}-{h}{ext}{tail}")),
        2 => ("(debug|release)", "(\\.fingerprint|build)", "\\PC{1,8}", hash, "\\PC{0,10}")
            .prop_map(|(p, sub, name, h, file)| format!("{p}/{sub}/{name}-{h}/{file}")),
        1 => "\\PC{0,40}",
    ]
}

#[test]
fn target_paths_classify_without_panics() {
    check(target_path(), |rel| {
        let group = classify(&rel);
        if let Group::Unit { profile, hash } = &group {
            // A unit's hash is cargo's 16 hex digits, and in the path.
            prop_assert_eq!(hash.len(), 16);
            prop_assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
            prop_assert!(rel.starts_with(profile.as_str()) && rel.contains(hash.as_str()));
        }
        let _ = unit_package(&rel);
        let _ = linkable(&rel);
        if let Some((pkg, hash)) = split_hash(&rel) {
            prop_assert_eq!(format!("{pkg}-{hash}"), rel);
        }
        Ok(())
    });
}

#[test]
fn cargo_shaped_paths_name_their_unit() {
    check(
        (
            "(debug|release|x86_64-unknown-linux-gnu/release)",
            "[a-z_]{1,8}",
            "[0-9a-f]{16}",
            "(\\.rlib|\\.d|\\.rmeta|\\.so|)",
        ),
        |(profile, name, hash, ext)| {
            let unit = Group::Unit {
                profile: profile.clone(),
                hash: hash.clone(),
            };
            prop_assert_eq!(
                classify(&format!("{profile}/deps/lib{name}-{hash}{ext}")),
                unit.clone()
            );
            let fp = format!("{profile}/.fingerprint/{name}-{hash}/lib-{name}");
            prop_assert_eq!(classify(&fp), unit);
            prop_assert_eq!(unit_package(&fp), Some(name));
            Ok(())
        },
    );
}

#[test]
fn incremental_sessions_and_second_names_never_panic() {
    let file = |rel: String, size: u64, secs: i64, executable: bool| ScannedFile {
        group: classify(&rel),
        rel,
        size,
        mtime: FileTime { secs, nanos: 0 },
        executable,
        symlink: None,
    };
    check(
        vec(
            (
                prop_oneof![
                    2 => ("(debug|release)", "\\PC{1,10}", "\\PC{0,20}", "\\PC{0,10}")
                        .prop_map(|(p, c, s, f)| format!("{p}/incremental/{c}/s-{s}/{f}")),
                    1 => target_path(),
                ],
                0u64..3,
                0i64..3,
                any::<bool>(),
            ),
            0..12,
        ),
        |files| {
            let scanned: Vec<ScannedFile> = files
                .into_iter()
                .map(|(rel, size, secs, x)| file(rel, size, secs, x))
                .collect();
            let refs: Vec<&ScannedFile> = scanned.iter().collect();
            let kept = crate::newest_sessions(&refs);
            prop_assert!(kept.len() <= refs.len());
            let _ = crate::unlinked_before_relink_scanned(&refs);
            let entries: Vec<Entry> = scanned
                .iter()
                .map(|f| Entry {
                    path: f.rel.clone(),
                    mtime: f.mtime,
                    kind: EntryKind::File {
                        blob: ObjectId::of_bytes(&f.size.to_le_bytes()),
                        size: f.size,
                        executable: f.executable,
                    },
                })
                .collect();
            let _ = unlinked_before_relink(&entries);
            Ok(())
        },
    );
}
