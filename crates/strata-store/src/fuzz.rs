//! Property tests of everything the store parses that may come from elsewhere: manifests (JSON,
//! zstd, then [`Manifest::validate`]), object ids, ref names and ref files, blob files, sizes and
//! the names of linked copies. Arbitrary and mutated inputs must never panic and must fail with
//! an error that names the file and the problem; what the store writes must read back the same.
//!
//! Cases per property: `PROPTEST_CASES` (default 2000).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use strata_proptest::{check, check_scaled, fast_tempdir, mutate};

use crate::manifest::{Entry, EntryKind, FileTime, MANIFEST_FORMAT, Manifest, SourceStamp};
use crate::store::{check_ref_name, parse_ref};
use crate::{ObjectId, Store, StoreError, parse_size};

/// Byte strings biased towards what parsers meet: JSON, hex, separators, non-UTF-8.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..200),
        2 => "\\PC{0,80}".prop_map(String::into_bytes),
        1 => "[0-9a-f]{60,68}\n?".prop_map(String::into_bytes),
        1 => "[{}\\[\\]\":,0-9a-z ]{0,80}".prop_map(String::into_bytes),
    ]
}

// ---------------------------------------------------------------- manifests

/// One path component, mostly plain, sometimes hostile.
fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => "[a-c]{1,2}",
        2 => "[a-z0-9_.-]{1,12}",
        1 => Just("..".to_string()),
        1 => Just(".".to_string()),
        1 => Just(String::new()),
        1 => Just("C:".to_string()),
        1 => Just("a\\b".to_string()),
        1 => Just("n\0l".to_string()),
        1 => "\\PC{1,4}",
    ]
}

fn hostile_path() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => vec(component(), 1..5).prop_map(|c| c.join("/")),
        1 => vec(component(), 1..4).prop_map(|c| format!("/{}", c.join("/"))),
        1 => (1usize..300).prop_map(|n| format!("{}x", "a/".repeat(n))),
        1 => Just(String::new()),
    ]
}

fn file_time() -> impl Strategy<Value = FileTime> {
    prop_oneof![
        6 => (0i64..2_000_000_000, 0u32..1_000_000_000),
        1 => (any::<i64>(), any::<u32>()),
        1 => (Just(i64::MIN), Just(999_999_999u32)),
        1 => (Just(i64::MAX), Just(999_999_999u32)),
    ]
    .prop_map(|(secs, nanos)| FileTime { secs, nanos })
}

fn object_id() -> impl Strategy<Value = ObjectId> {
    prop_oneof![
        3 => (0u8..3).prop_map(|b| ObjectId::of_bytes(&[b])),
        1 => any::<[u8; 32]>().prop_map(ObjectId::from_bytes),
    ]
}

fn entry_kind() -> impl Strategy<Value = EntryKind> {
    prop_oneof![
        4 => (object_id(), prop_oneof![3 => 0u64..100_000, 1 => any::<u64>(), 1 => Just(u64::MAX)], any::<bool>())
            .prop_map(|(blob, size, executable)| EntryKind::File { blob, size, executable }),
        2 => hostile_path().prop_map(|target| EntryKind::Symlink { target }),
        2 => (0usize..4, vec(component(), 1..3))
            .prop_map(|(up, c)| EntryKind::Symlink { target: format!("{}{}", "../".repeat(up), c.join("/")) }),
        1 => Just(EntryKind::Dir),
    ]
}

fn hostile_manifest() -> impl Strategy<Value = Manifest> {
    (
        prop_oneof![8 => Just(MANIFEST_FORMAT), 1 => any::<u32>()],
        "\\PC{0,10}",
        "\\PC{0,20}",
        proptest::option::of(object_id()),
        any::<u64>(),
        vec(
            (hostile_path(), file_time(), entry_kind()).prop_map(|(path, mtime, kind)| Entry {
                path,
                mtime,
                kind,
            }),
            0..12,
        ),
        vec(
            (
                component(),
                hostile_path(),
                object_id(),
                file_time(),
                any::<bool>(),
            )
                .prop_map(|(root, path, hash, mtime, input)| SourceStamp {
                    root,
                    path,
                    hash,
                    mtime,
                    input,
                }),
            0..4,
        ),
        btree_map("\\PC{0,8}", "\\PC{0,8}", 0..3),
    )
        .prop_map(
            |(format, kind, key, parent, created_unix_secs, entries, sources, meta)| Manifest {
                format,
                kind,
                key,
                parent,
                created_unix_secs,
                entries,
                sources,
                meta,
            },
        )
}

/// Manifests valid by construction: leaves are files or symlinks to other leaves, inner nodes
/// are directories (some listed, some implicit).
fn valid_manifest() -> impl Strategy<Value = Manifest> {
    (
        proptest::collection::btree_set("[a-d]{1,3}(/[a-d]{1,3}){0,3}", 1..12),
        vec((0u8..4, any::<usize>(), file_time(), any::<bool>()), 12),
        "\\PC{0,10}",
        "\\PC{0,30}",
        proptest::option::of(any::<[u8; 32]>().prop_map(ObjectId::from_bytes)),
        any::<u64>(),
        vec(
            (
                "[a-z][a-z0-9_.-]{0,6}",
                "[a-z0-9_.-]{1,8}(/[a-z0-9_.-]{1,8}){0,2}",
                any::<[u8; 32]>(),
                file_time(),
                any::<bool>(),
            ),
            0..4,
        ),
        btree_map("\\PC{0,8}", "\\PC{0,8}", 0..3),
    )
        .prop_filter_map(
            "a source path with a '.' or '..' component",
            |(paths, picks, kind, key, parent, created, sources, meta)| {
                let leaves: Vec<&String> = paths
                    .iter()
                    .filter(|p| !paths.iter().any(|q| q.starts_with(&format!("{p}/"))))
                    .collect();
                let mut dirs = BTreeSet::new();
                for p in &paths {
                    if !leaves.contains(&p) {
                        dirs.insert(p.clone());
                    }
                }
                // Which leaves are symlinks (to a file leaf, so never a chain or a loop).
                let is_link: Vec<bool> = (0..leaves.len())
                    .map(|i| picks[i % picks.len()].0 == 0)
                    .collect();
                let files: Vec<&String> = leaves
                    .iter()
                    .zip(&is_link)
                    .filter(|(_, l)| !**l)
                    .map(|(p, _)| *p)
                    .collect();
                let mut entries = Vec::new();
                for (i, leaf) in leaves.iter().enumerate() {
                    let (what, other, mtime, exec) = picks[i % picks.len()];
                    let mtime = FileTime {
                        nanos: mtime.nanos % 1_000_000_000,
                        ..mtime
                    };
                    let kind = if is_link[i] && !files.is_empty() {
                        let to = files[other % files.len()];
                        let depth = leaf.matches('/').count();
                        EntryKind::Symlink {
                            target: format!("{}{to}", "../".repeat(depth)),
                        }
                    } else if is_link[i] {
                        EntryKind::Dir
                    } else {
                        EntryKind::File {
                            blob: ObjectId::of_bytes(&[what]),
                            size: 1,
                            executable: exec,
                        }
                    };
                    entries.push(Entry {
                        path: (*leaf).clone(),
                        mtime,
                        kind,
                    });
                }
                for (i, d) in dirs.iter().enumerate() {
                    if i % 2 == 0 {
                        entries.push(Entry {
                            path: d.clone(),
                            mtime: FileTime { secs: 1, nanos: 0 },
                            kind: EntryKind::Dir,
                        });
                    }
                }
                let mut sources_out = Vec::new();
                for (root, path, hash, mtime, input) in sources {
                    if path.split('/').any(|c| c == "." || c == "..") {
                        return None;
                    }
                    sources_out.push(SourceStamp {
                        root,
                        path,
                        hash: ObjectId::from_bytes(hash),
                        mtime: FileTime {
                            nanos: mtime.nanos % 1_000_000_000,
                            ..mtime
                        },
                        input,
                    });
                }
                Some(Manifest {
                    format: MANIFEST_FORMAT,
                    kind,
                    key,
                    parent,
                    created_unix_secs: created,
                    entries,
                    sources: sources_out,
                    meta,
                })
            },
        )
}

/// Store `json` as manifest file (zstd) under the hash of `json`, as a remote or a damaged disk
/// could leave it; returns its id.
fn plant_manifest(store: &Store, json: &[u8]) -> ObjectId {
    let id = ObjectId::of_bytes(json);
    let path = store.manifest_path(&id);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, zstd::encode_all(json, 1).unwrap()).unwrap();
    id
}

/// What a manifest read must look like when it fails: a store error that names the file.
fn names_file(e: &StoreError, path: &Path) -> Result<(), TestCaseError> {
    let msg = e.to_string();
    prop_assert!(
        matches!(
            e,
            StoreError::Corrupt { .. }
                | StoreError::Invalid { .. }
                | StoreError::UnsupportedFormat { .. }
        ),
        "unexpected kind of error: {msg}"
    );
    prop_assert!(
        msg.contains(&path.display().to_string()),
        "does not name the file: {msg}"
    );
    Ok(())
}

#[test]
fn manifest_files_of_arbitrary_bytes_fail_cleanly() {
    let dir = fast_tempdir();
    let store = Store::open(dir.path().join("s")).unwrap();
    let deep = "[".repeat(100_000);
    check(
        prop_oneof![5 => bytes(), 1 => Just(deep.into_bytes())],
        |json| {
            let id = plant_manifest(&store, &json);
            match store.get_manifest(&id) {
                Ok(m) => prop_assert!(m.validate().is_ok()),
                Err(e) => names_file(&e, &store.manifest_path(&id))?,
            }
            Ok(())
        },
    );
}

#[test]
fn mutated_manifest_json_fails_cleanly_or_reads_valid() {
    let dir = fast_tempdir();
    let store = Store::open(dir.path().join("s")).unwrap();
    check(
        (
            hostile_manifest(),
            vec((any::<u8>(), any::<usize>(), any::<u8>()), 0..3),
        ),
        |(m, mutations)| {
            let mut json = serde_json::to_vec(&m).unwrap();
            for (how, at, byte) in mutations {
                json = mutate(&json, how, at, byte);
            }
            let id = plant_manifest(&store, &json);
            match store.get_manifest(&id) {
                Ok(read) => prop_assert!(read.validate().is_ok()),
                Err(e) => names_file(&e, &store.manifest_path(&id))?,
            }
            // The way in from a remote: the same checks, the same clarity.
            match store.put_manifest_json(&id, &json) {
                Ok(read) => prop_assert!(read.validate().is_ok()),
                Err(StoreError::MissingBlob { .. }) => {}
                Err(e) => names_file(&e, &store.manifest_path(&id))?,
            }
            Ok(())
        },
    );
}

/// Truncated or altered zstd frames of a valid manifest.
#[test]
fn damaged_manifest_files_fail_cleanly() {
    let dir = fast_tempdir();
    let store = Store::open(dir.path().join("s")).unwrap();
    check(
        (valid_manifest(), any::<u8>(), any::<usize>(), any::<u8>()),
        |(m, how, at, byte)| {
            let json = serde_json::to_vec(&m).unwrap();
            let id = ObjectId::of_bytes(&json);
            let path = store.manifest_path(&id);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            let packed = zstd::encode_all(&json[..], 1).unwrap();
            fs::write(&path, mutate(&packed, how, at, byte)).unwrap();
            match store.get_manifest(&id) {
                // A flip in a part zstd does not check (e.g. a frame header bit) may still decode.
                Ok(read) => prop_assert_eq!(read, m),
                Err(e) => names_file(&e, &path)?,
            }
            Ok(())
        },
    );
}

#[test]
fn validate_never_panics_and_explains() {
    check(hostile_manifest(), |m| {
        if let Err(e) = m.validate() {
            let StoreError::Invalid { reason } = &e else {
                return Err(TestCaseError::fail(format!("not Invalid: {e}")));
            };
            prop_assert!(!reason.is_empty());
        }
        Ok(())
    });
}

/// The check that matters most: whatever `validate` accepts, written out as it says, stays
/// inside the root. The filesystem is the judge, not a second copy of validate's logic: the
/// entries are materialized under `<tmp>/a/b/c/root` (with `a`, `b`, `c` beside the root, so
/// that escaping links resolve) and every symlink is canonicalized.
#[test]
fn what_validate_accepts_stays_inside_the_root() {
    let dir = fast_tempdir();
    let base = dir.path().join("a/b/c");
    for d in ["a", "b", "c", "aa", "ab"] {
        fs::create_dir_all(base.join(d)).unwrap();
        fs::create_dir_all(dir.path().join("a").join(d)).unwrap();
    }
    let counter = std::cell::Cell::new(0u64);
    check_scaled(
        2,
        prop_oneof![1 => hostile_manifest(), 1 => valid_manifest()],
        |m| {
            if m.validate().is_err() {
                return Ok(());
            }
            counter.set(counter.get() + 1);
            let root = base.join(format!("root{}", counter.get()));
            fs::create_dir_all(&root).unwrap();
            let canon_root = fs::canonicalize(&root).unwrap();
            let mut symlinks = Vec::new();
            for e in &m.entries {
                let at = root.join(&e.path);
                match &e.kind {
                    EntryKind::Dir => fs::create_dir_all(&at).unwrap(),
                    EntryKind::File { .. } => {
                        fs::create_dir_all(at.parent().unwrap()).unwrap();
                        fs::write(&at, b"").unwrap();
                    }
                    EntryKind::Symlink { target } => symlinks.push((at, target)),
                }
            }
            for (at, target) in &symlinks {
                fs::create_dir_all(at.parent().unwrap()).unwrap();
                std::os::unix::fs::symlink(target, at).unwrap();
            }
            for (at, target) in &symlinks {
                if let Ok(real) = fs::canonicalize(at) {
                    prop_assert!(
                        real.starts_with(&canon_root),
                        "{} -> {target:?} resolves to {} outside the root",
                        at.display(),
                        real.display()
                    );
                }
            }
            fs::remove_dir_all(&root).unwrap();
            Ok(())
        },
    );
}

#[test]
fn valid_manifests_round_trip_through_json() {
    check(valid_manifest(), |m| {
        prop_assert!(
            m.validate().is_ok(),
            "generator made an invalid manifest: {:?}",
            m.validate()
        );
        let json = serde_json::to_vec(&m).unwrap();
        prop_assert_eq!(&serde_json::from_slice::<Manifest>(&json).unwrap(), &m);
        Ok(())
    });
}

#[test]
fn valid_manifests_round_trip_through_the_store() {
    let dir = fast_tempdir();
    let store = Store::open(dir.path().join("s")).unwrap();
    for b in 0u8..4 {
        store.put_bytes(&[b]).unwrap();
    }
    check_scaled(2, valid_manifest(), |m| {
        let json = serde_json::to_vec(&m).unwrap();
        let id = store.put_manifest(&m).unwrap();
        prop_assert_eq!(id, ObjectId::of_bytes(&json));
        prop_assert_eq!(&store.get_manifest(&id).unwrap(), &m);
        prop_assert_eq!(&store.put_manifest_json(&id, &json).unwrap(), &m);
        Ok(())
    });
}

// ---------------------------------------------------------------- ids, refs, sizes

#[test]
fn object_ids_parse_only_canonical_hex() {
    check(
        prop_oneof![2 => "\\PC{0,70}", 2 => "[0-9a-fA-F]{62,66}", 1 => any::<[u8; 32]>().prop_map(|b| ObjectId::from_bytes(b).to_hex())],
        |s| {
            match ObjectId::from_hex(&s) {
                Ok(id) => prop_assert_eq!(id.to_hex(), s),
                Err(e) => {
                    prop_assert!(matches!(e, StoreError::BadObjectId { .. }), "{e}");
                    prop_assert!(e.to_string().contains("bad object id"));
                    let canonical = s.len() == 64
                        && s.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                    prop_assert!(!canonical, "refused {s:?}");
                }
            }
            Ok(())
        },
    );
}

fn ref_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => vec(component(), 1..4).prop_map(|c| c.join("/")),
        1 => "\\PC{0,30}",
        1 => (1usize..1100).prop_map(|n| "r/".repeat(n / 2) + "x"),
        1 => (250usize..260).prop_map(|n| "x".repeat(n)),
    ]
}

#[test]
fn ref_names_stay_under_refs() {
    let dir = fast_tempdir();
    let store = Store::open(dir.path().join("s")).unwrap();
    check(ref_name(), |name| {
        match check_ref_name(&name) {
            Ok(()) => {
                // A valid name is a path under refs/ of plain components, nothing else.
                prop_assert!(name.len() <= 1024, "accepted {} bytes", name.len());
                prop_assert!(
                    name.split('/').all(|c| {
                        !c.is_empty()
                            && c != "."
                            && c != ".."
                            && c.len() <= 255
                            && c.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                    }),
                    "accepted {name:?}"
                );
                prop_assert_eq!(store.get_ref(&name).unwrap(), None);
            }
            Err(e) => {
                prop_assert!(matches!(e, StoreError::BadRef { .. }), "{e}");
                prop_assert!(e.to_string().contains("bad ref name"), "{e}");
                prop_assert!(store.get_ref(&name).is_err());
            }
        }
        Ok(())
    });
}

#[test]
fn valid_ref_names_round_trip() {
    let dir = fast_tempdir();
    let store = Store::open(dir.path().join("s")).unwrap();
    let id = ObjectId::of_bytes(b"m");
    check_scaled(10, ref_name(), |name| {
        if check_ref_name(&name).is_err() {
            return Ok(());
        }
        store.set_ref(&name, &id).unwrap();
        prop_assert_eq!(store.get_ref(&name).unwrap(), Some(id));
        prop_assert_eq!(store.list_refs().unwrap(), vec![(name.clone(), id)]);
        let top = store.refs_dir().join(name.split('/').next().unwrap());
        if top.is_dir() {
            fs::remove_dir_all(&top).unwrap();
        } else {
            fs::remove_file(&top).unwrap();
        }
        Ok(())
    });
}

#[test]
fn ref_files_of_arbitrary_bytes_fail_cleanly() {
    let dir = fast_tempdir();
    let store = Store::open(dir.path().join("s")).unwrap();
    let path = store.refs_dir().join("r");
    check(bytes(), |content| {
        fs::write(&path, &content).unwrap();
        match store.get_ref("r") {
            Ok(Some(id)) => {
                let want = format!("{id}\n");
                prop_assert!(content == want.as_bytes() || content == want.trim_end().as_bytes());
            }
            Ok(None) => prop_assert!(false, "the ref file is there"),
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(matches!(e, StoreError::Corrupt { .. }), "{msg}");
                prop_assert!(msg.contains(&path.display().to_string()), "{msg}");
            }
        }
        prop_assert_eq!(parse_ref(&content).is_ok(), store.get_ref("r").is_ok());
        Ok(())
    });
}

#[test]
fn sizes_parse_or_say_why() {
    check(
        prop_oneof![
            2 => "\\PC{0,20}",
            2 => "[0-9. ]{0,25}[kKmMgGtTpPiIbB]{0,3}",
        ],
        |s| {
            if let Err(e) = parse_size(&s) {
                prop_assert!(e.to_string().contains("bad size"), "{e}");
            }
            Ok(())
        },
    );
    check((any::<u64>(), 0usize..6), |(n, unit)| {
        prop_assert_eq!(parse_size(&n.to_string()).unwrap(), n);
        let (suffix, mult) = [
            ("K", 1u128 << 10),
            ("MiB", 1 << 20),
            ("GB", 1_000_000_000),
            ("t", 1 << 40),
            ("PiB", 1 << 50),
            ("B", 1),
        ][unit];
        let want = u128::from(n) * mult;
        match parse_size(&format!("{n}{suffix}")) {
            Ok(v) => prop_assert_eq!(u128::from(v), want),
            Err(_) => prop_assert!(want > u128::from(u64::MAX)),
        }
        Ok(())
    });
}

// ---------------------------------------------------------------- blobs

/// Blob files are untrusted too (a remote's bytes, a damaged disk): any content under a blob's
/// name is either that blob or a `Corrupt` error naming the file.
#[test]
fn blob_files_of_arbitrary_bytes_fail_cleanly() {
    let dir = fast_tempdir();
    let store = Store::open(dir.path().join("s")).unwrap();
    let content = b"the real content of the blob, long enough to compress well. ".repeat(20);
    let id = ObjectId::of_bytes(&content);
    let frame = zstd::bulk::compress(&content, 3).unwrap();
    let blob_path = store.blob_path_as(&id, crate::BlobForm::Zstd);
    fs::create_dir_all(blob_path.parent().unwrap()).unwrap();
    let out = dir.path().join("out");
    check(
        prop_oneof![
            1 => bytes(),
            1 => Just(Vec::new()),
            4 => (any::<u8>(), any::<usize>(), any::<u8>()).prop_map({
                let frame = frame.clone();
                move |(how, at, byte)| mutate(&frame, how, at, byte)
            }),
        ],
        |data| {
            fs::write(&blob_path, &data).unwrap();
            let size = content.len() as u64;
            for res in [
                store.read_small(&id, size).map(|_| ()),
                store.read_blob(&id).map(|_| ()),
                store.restore_blob(&id, &out).map(|_| ()),
                store.restore_file(&id, &out, size, FileTime { secs: 1, nanos: 0 }, false),
                // A lying size in a manifest must not change the outcome.
                store.read_small(&id, u64::MAX).map(|_| ()),
            ] {
                match res {
                    Ok(()) => {
                        let decoded = zstd::decode_all(&data[..]).ok();
                        prop_assert_eq!(decoded.as_deref(), Some(&content[..]));
                    }
                    Err(StoreError::MissingBlob { .. }) => prop_assert!(data.is_empty()),
                    Err(e) => {
                        let msg = e.to_string();
                        prop_assert!(matches!(e, StoreError::Corrupt { .. }), "{msg}");
                        prop_assert!(msg.contains(&blob_path.display().to_string()), "{msg}");
                    }
                }
            }
            // What a remote sends: checked before it is stored, never stored when wrong.
            let other = ObjectId::of_bytes(&data);
            match store.put_zstd_verified(&other, &data, content.len() as u64) {
                Ok(_) => prop_assert!(
                    false,
                    "stored a frame that cannot hash to the hash of itself"
                ),
                Err(e) => prop_assert!(
                    matches!(e, StoreError::Corrupt { .. } | StoreError::Io { .. }),
                    "{e}"
                ),
            }
            prop_assert!(!store.has_blob(&other) || other == id);
            Ok(())
        },
    );
}

#[test]
fn file_times_convert_without_panics() {
    check((any::<i64>(), 0u32..1_000_000_000), |(secs, nanos)| {
        let t = FileTime { secs, nanos };
        prop_assert_eq!(FileTime::from_nanos(t.as_nanos()), t);
        let _ = t.to_system_time();
        Ok(())
    });
    check(any::<i128>(), |n| {
        let t = FileTime::from_nanos(n);
        prop_assert!(t.nanos < 1_000_000_000);
        Ok(())
    });
}

#[test]
fn linked_copy_names_never_panic() {
    check("\\PC{0,90}", |name| {
        let _ = crate::linked::parse_name(Path::new(&name));
        Ok(())
    });
    check(
        (any::<[u8; 32]>(), any::<i64>(), any::<u32>(), any::<bool>()),
        |(h, secs, nanos, x)| {
            let id = ObjectId::from_bytes(h);
            let name = format!("{id}-{secs}.{nanos}{}", if x { "-x" } else { "" });
            prop_assert_eq!(
                crate::linked::parse_name(Path::new(&name)),
                Some((id, FileTime { secs, nanos }, x))
            );
            Ok(())
        },
    );
}
