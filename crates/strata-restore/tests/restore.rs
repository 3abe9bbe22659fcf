//! Restoring a layer's units into a target dir, on a real store.

use std::collections::BTreeMap;
use std::path::Path;

use strata_restore::restore_layer;
use strata_store::{Entry, EntryKind, FileTime, MANIFEST_FORMAT, Manifest, ObjectId, Store};

const FP: &str = "debug/.fingerprint/foo-0123456789abcdef";

fn file(path: &str, blob: ObjectId, size: usize) -> Entry {
    Entry {
        path: path.into(),
        mtime: FileTime {
            secs: 1_700_000_000,
            nanos: 5,
        },
        kind: EntryKind::File {
            blob,
            size: size as u64,
            executable: false,
        },
    }
}

/// One unit of `foo`: its rlib (of `rlib` bytes, which need not be stored) and its fingerprint
/// files, whose blobs are stored.
fn layer(store: &Store, rlib: &[u8]) -> Manifest {
    let put = |b: &[u8]| store.put_bytes(b).unwrap().id;
    let stamp = b"This file has an mtime of when this was started.";
    let entries = vec![
        file(
            "debug/deps/libfoo-0123456789abcdef.rlib",
            ObjectId::of_bytes(rlib),
            rlib.len(),
        ),
        file(&format!("{FP}/lib-foo"), put(b"0011223344556677"), 16),
        file(&format!("{FP}/lib-foo.json"), put(b"{\"rustc\":1}"), 11),
        file(&format!("{FP}/dep-lib-foo"), put(b"\x01\x00"), 2),
        file(&format!("{FP}/invoked.timestamp"), put(stamp), stamp.len()),
    ];
    Manifest {
        format: MANIFEST_FORMAT,
        kind: "deps".into(),
        key: "k".into(),
        parent: None,
        created_unix_secs: 0,
        entries,
        sources: Vec::new(),
        meta: BTreeMap::new(),
    }
}

fn restore(store: &Store, target: &Path, m: &Manifest) -> strata_restore::RestoreStats {
    restore_layer(store, target, m, true, &|_| {}).unwrap()
}

#[test]
fn a_unit_is_restored_until_its_hash_files_are_there() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let target = dir.path().join("target");
    let rlib = b"the rlib's bytes".repeat(100);
    let m = layer(&store, &rlib);

    // The rlib's blob is missing: the unit is not restored, and nothing of it is left, not even
    // its fingerprint dir.
    let stats = restore(&store, &target, &m);
    assert_eq!((stats.units_restored, stats.units_failed), (0, 1));
    assert!(!target.join(FP).exists());
    assert!(
        !target
            .join("debug/deps/libfoo-0123456789abcdef.rlib")
            .exists()
    );

    store.put_bytes(&rlib).unwrap();
    let stats = restore(&store, &target, &m);
    assert_eq!((stats.units_restored, stats.units_failed), (1, 0));
    assert_eq!(
        std::fs::read(target.join("debug/deps/libfoo-0123456789abcdef.rlib")).unwrap(),
        rlib
    );
    assert_eq!(
        std::fs::read_to_string(target.join(FP).join("lib-foo")).unwrap(),
        "0011223344556677"
    );
    // Every file at its final name: no temporary name is left.
    let names: Vec<String> = std::fs::read_dir(target.join(FP))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");

    // Restored again: the unit is there, and left alone.
    let stats = restore(&store, &target, &m);
    assert_eq!((stats.units_restored, stats.units_present), (0, 1));

    // What a restore killed mid-unit leaves: a half-written rlib and fingerprint files, but no
    // hash. Not a unit (cargo would rebuild it): the next restore restores it over what is there.
    let rlib_path = target.join("debug/deps/libfoo-0123456789abcdef.rlib");
    std::fs::remove_file(&rlib_path).unwrap();
    std::fs::write(&rlib_path, &rlib[..10]).unwrap();
    std::fs::remove_file(target.join(FP).join("lib-foo")).unwrap();
    let stats = restore(&store, &target, &m);
    assert_eq!((stats.units_restored, stats.units_present), (1, 0));
    assert_eq!(std::fs::read(&rlib_path).unwrap(), rlib);
    assert_eq!(
        std::fs::read_to_string(target.join(FP).join("lib-foo")).unwrap(),
        "0011223344556677"
    );
    let names = std::fs::read_dir(target.join(FP)).unwrap().count();
    assert_eq!(names, 4, "no temporary name is left");

    // An empty hash file (opened, never written) does not make a unit either.
    std::fs::remove_file(target.join(FP).join("lib-foo")).unwrap();
    std::fs::write(target.join(FP).join("lib-foo"), "").unwrap();
    let stats = restore(&store, &target, &m);
    assert_eq!((stats.units_restored, stats.units_present), (1, 0));
    assert_eq!(
        std::fs::read_to_string(target.join(FP).join("lib-foo")).unwrap(),
        "0011223344556677"
    );
}
