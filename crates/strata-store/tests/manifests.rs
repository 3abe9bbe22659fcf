mod common;

use std::fs;

use common::*;
use strata_store::{
    EntryKind, FileTime, MANIFEST_FORMAT, Manifest, ObjectId, SourceStamp, StoreError,
};

fn blob() -> ObjectId {
    ObjectId::of_bytes(b"x")
}

fn rejects(entries: Vec<strata_store::Entry>, why: &str) {
    let m = manifest("k", entries);
    match m.validate() {
        Err(StoreError::Invalid { reason }) => {
            assert!(reason.contains(why), "expected {why:?} in {reason:?}")
        }
        other => panic!("expected Invalid containing {why:?}, got {other:?}"),
    }
}

#[test]
fn validate_rejects_bad_paths() {
    rejects(vec![file("../x", blob(), 1)], "'..'");
    rejects(vec![file("/etc/passwd", blob(), 1)], "absolute");
    rejects(vec![file("a/../../x", blob(), 1)], "'..'");
    rejects(vec![file("a//b", blob(), 1)], "empty path component");
    rejects(vec![file("", blob(), 1)], "empty path");
    rejects(vec![file("a/./b", blob(), 1)], "'.'");
    rejects(vec![file("a/", blob(), 1)], "empty path component");
    rejects(vec![file("C:/x", blob(), 1)], "absolute");
    rejects(vec![file("a\\..\\x", blob(), 1)], "backslash");
    rejects(
        vec![file("a/b", blob(), 1), file("a/b", blob(), 1)],
        "duplicate",
    );
    rejects(vec![dir("a"), symlink("a", "b")], "duplicate");
}

#[test]
fn validate_rejects_escaping_symlinks() {
    rejects(vec![symlink("l", "/etc")], "absolute");
    rejects(vec![symlink("a/l", "../../x")], "leaves the root");
    rejects(vec![symlink("l", "..")], "leaves the root");
    rejects(vec![symlink("l", "")], "empty target");
    rejects(vec![symlink("a/b/l", "../c/../../../x")], "leaves the root");
    // Lexically inside, but "y" is the root itself, so "y/.." is its parent.
    rejects(
        vec![symlink("y", "."), symlink("x", "y/..")],
        "leaves the root",
    );
    // Chains through another symlink that climbs.
    rejects(
        vec![symlink("a/up", ".."), symlink("a/l", "up/../x")],
        "leaves the root",
    );
    rejects(
        vec![symlink("p", "q"), symlink("q", "p/x")],
        "too many levels",
    );
}

#[test]
fn validate_rejects_entries_through_symlinks_and_files() {
    rejects(
        vec![symlink("l", "d"), dir("d"), file("l/x", blob(), 1)],
        "goes through symlink",
    );
    rejects(
        vec![file("f", blob(), 1), file("f/x", blob(), 1)],
        "goes through file",
    );
}

#[test]
fn validate_accepts_normal_layouts() {
    let m = manifest(
        "k",
        vec![
            dir("debug"),
            dir("debug/deps"),
            file("debug/deps/libfoo-1234.rlib", blob(), 1),
            file("debug/.fingerprint/foo-1234/lib-foo", blob(), 1),
            symlink("a/l", "../b"),
            symlink("a/m", "./n/../o"),
            symlink("a/here", "."),
            symlink("a/root", ".."),
            symlink("c/via", "../a/l/z"),
            file("b/y", blob(), 1),
        ],
    );
    m.validate().unwrap();
}

#[test]
fn validate_checks_sources_and_format() {
    let mut m = manifest("k", vec![]);
    let stamp = |root: &str, path: &str| SourceStamp {
        root: root.into(),
        path: path.into(),
        hash: blob(),
        mtime: t(1),
        input: true,
    };
    m.sources = vec![stamp("ws", "src/lib.rs")];
    m.validate().unwrap();
    for (root, path) in [
        ("ws", "../outside.rs"),
        ("ws", "/abs.rs"),
        ("ws", "a/../../b"),
        ("", "a.rs"),
        ("..", "a.rs"),
    ] {
        m.sources = vec![stamp(root, path)];
        assert!(
            matches!(m.validate(), Err(StoreError::Invalid { .. })),
            "{root}:{path}"
        );
    }
    m.sources.clear();

    m.format = MANIFEST_FORMAT + 1;
    assert!(matches!(m.validate(), Err(StoreError::Invalid { .. })));
    m.format = MANIFEST_FORMAT;

    m.entries = vec![file("a", blob(), 1)];
    m.entries[0].mtime = FileTime {
        secs: 1,
        nanos: 1_000_000_000,
    };
    assert!(matches!(m.validate(), Err(StoreError::Invalid { .. })));
}

#[test]
fn manifest_round_trip() {
    let (_tmp, store) = store();
    let mut m = manifest(
        "abcd",
        vec![
            dir("debug"),
            put_entry(&store, "debug/a", b"aaa"),
            put_entry(&store, "debug/b", &content(3, 50_000)),
            symlink("debug/c", "a"),
        ],
    );
    m.parent = Some(ObjectId::of_bytes(b"parent"));
    m.meta.insert("rustc".into(), "1.95.0".into());
    m.sources.push(SourceStamp {
        root: "ws".into(),
        path: "src/main.rs".into(),
        hash: ObjectId::of_bytes(b"fn main() {}"),
        mtime: t(5),
        input: true,
    });
    let id = store.put_manifest(&m).unwrap();
    assert_eq!(store.put_manifest(&m).unwrap(), id, "content addressed");
    assert_eq!(store.get_manifest(&id).unwrap(), m);
    assert_eq!(m.total_file_bytes(), 3 + 50_000);
    assert!(
        store
            .manifest_path(&id)
            .to_string_lossy()
            .ends_with(".json.zst")
    );

    // Entry kinds serialize with a "type" tag.
    let json = serde_json::to_value(&m.entries[1]).unwrap();
    assert_eq!(json["kind"]["type"], "file");
    assert_eq!(
        serde_json::to_value(&m.entries[0]).unwrap()["kind"]["type"],
        "dir"
    );
    assert!(matches!(m.entries[3].kind, EntryKind::Symlink { .. }));

    let missing = ObjectId::of_bytes(b"nope");
    assert!(matches!(
        store.get_manifest(&missing),
        Err(StoreError::MissingManifest { .. })
    ));
    assert!(matches!(
        store.touch_manifest(&missing),
        Err(StoreError::MissingManifest { .. })
    ));
}

#[test]
fn put_manifest_requires_valid_and_complete() {
    let (_tmp, store) = store();
    let bad = manifest("k", vec![file("../x", blob(), 1)]);
    assert!(matches!(
        store.put_manifest(&bad),
        Err(StoreError::Invalid { .. })
    ));
    let incomplete = manifest("k", vec![file("x", ObjectId::of_bytes(b"absent"), 6)]);
    assert!(matches!(
        store.put_manifest(&incomplete),
        Err(StoreError::MissingBlob { .. })
    ));
    assert_eq!(store.stats().unwrap().manifests, 0);
}

#[test]
fn corrupt_manifest_detected() {
    let (_tmp, store) = store();
    let m = manifest("k", vec![put_entry(&store, "a", b"a")]);
    let id = store.put_manifest(&m).unwrap();
    let path = store.manifest_path(&id);

    // Flipped byte in the compressed file.
    let original = fs::read(&path).unwrap();
    flip_byte(&path, original.len() / 2);
    match store.get_manifest(&id) {
        Err(StoreError::Corrupt { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let report = store.verify().unwrap();
    assert_eq!(report.corrupt.len(), 1);
    assert_eq!(report.corrupt[0].path, path);

    // Valid zstd, valid JSON, but not what the id says.
    let other = manifest("other", vec![]);
    let json = serde_json::to_vec(&other).unwrap();
    fs::write(&path, zstd::encode_all(&json[..], 3).unwrap()).unwrap();
    assert!(matches!(
        store.get_manifest(&id),
        Err(StoreError::Corrupt { .. })
    ));

    // Hash matches but the content is unsafe: rejected as Invalid on read.
    let evil = manifest("k", vec![file("../evil", blob(), 1)]);
    let json = serde_json::to_vec(&evil).unwrap();
    let evil_id = ObjectId::of_bytes(&json);
    let evil_path = store.manifest_path(&evil_id);
    fs::create_dir_all(evil_path.parent().unwrap()).unwrap();
    fs::write(&evil_path, zstd::encode_all(&json[..], 3).unwrap()).unwrap();
    match store.get_manifest(&evil_id) {
        Err(StoreError::Invalid { reason }) => assert!(reason.contains("../evil"), "{reason}"),
        other => panic!("expected Invalid, got {other:?}"),
    }

    // A future format is reported as such.
    let mut future = serde_json::to_value(manifest("k", vec![])).unwrap();
    future["format"] = 2.into();
    let json = serde_json::to_vec(&future).unwrap();
    let fid = ObjectId::of_bytes(&json);
    let fpath = store.manifest_path(&fid);
    fs::create_dir_all(fpath.parent().unwrap()).unwrap();
    fs::write(&fpath, zstd::encode_all(&json[..], 3).unwrap()).unwrap();
    assert!(matches!(
        store.get_manifest(&fid),
        Err(StoreError::UnsupportedFormat { .. })
    ));

    let report = store.verify().unwrap();
    assert_eq!(report.corrupt.len(), 3, "{report:?}");
    let gc = store.gc(u64::MAX).unwrap();
    assert_eq!(gc.removed_corrupt.len(), 3);
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn verify_reports_missing_blobs_and_dangling_refs() {
    let (_tmp, store) = store();
    let e = put_entry(&store, "a", b"will vanish");
    let EntryKind::File { blob: gone, .. } = e.kind else {
        unreachable!()
    };
    let id = store.put_manifest(&manifest("k", vec![e])).unwrap();
    fs::remove_file(store.blob_path(&gone)).unwrap();
    let nowhere = ObjectId::of_bytes(b"no such manifest");
    store.set_ref("main", &id).unwrap();
    store.set_ref("stale", &nowhere).unwrap();

    let report = store.verify().unwrap();
    assert_eq!(report.missing_blobs.len(), 1);
    assert_eq!(report.missing_blobs[0].manifest, id);
    assert_eq!(report.missing_blobs[0].blob, gone);
    assert_eq!(report.dangling_refs.len(), 1);
    assert_eq!(report.dangling_refs[0].name, "stale");
    assert!(report.corrupt.is_empty());

    // gc drops the unrestorable manifest and both refs that now lead nowhere.
    let gc = store.gc(u64::MAX).unwrap();
    assert_eq!(gc.removed_corrupt.len(), 1);
    assert_eq!(
        gc.removed_refs,
        vec!["main".to_string(), "stale".to_string()]
    );
    assert!(store.verify().unwrap().is_clean());
    assert!(store.list_refs().unwrap().is_empty());
}

#[test]
fn manifest_json_is_stable() {
    // Ids are hashes of the JSON, so field order/encoding must not drift.
    let m = Manifest {
        format: 1,
        kind: "deps".into(),
        key: "ab".into(),
        parent: None,
        created_unix_secs: 7,
        entries: vec![file("a", ObjectId::from_bytes([0; 32]), 3)],
        sources: vec![],
        meta: [
            ("z".to_string(), "1".to_string()),
            ("a".to_string(), "2".to_string()),
        ]
        .into_iter()
        .collect(),
    };
    let json = String::from_utf8(serde_json::to_vec(&m).unwrap()).unwrap();
    let zeros = "0".repeat(64);
    assert_eq!(
        json,
        format!(
            r#"{{"format":1,"kind":"deps","key":"ab","parent":null,"created_unix_secs":7,"entries":[{{"path":"a","mtime":{{"secs":1700000000,"nanos":123456789}},"kind":{{"type":"file","blob":"{zeros}","size":3,"executable":false}}}}],"sources":[],"meta":{{"a":"2","z":"1"}}}}"#
        )
    );
}

/// Found by the property tests (src/fuzz.rs): links whose targets name the next link twice
/// doubled the work of validate at each level (2^30 resolutions for these 31 entries), while
/// each chain stayed within the depth bound. Linux stops after 40 follows in all; so does
/// validate now.
#[test]
fn validate_bounds_the_symlinks_one_link_follows() {
    let mut entries: Vec<_> = (0..30)
        .map(|i| symlink(&format!("l{i}"), &format!("l{0}/../l{0}", i + 1)))
        .collect();
    entries.push(file("l30", blob(), 1));
    rejects(entries, "too many levels");
    // A chain of 40 is what Linux resolves, and valid.
    let mut chain: Vec<_> = (0..40)
        .map(|i| symlink(&format!("c{i}"), &format!("c{}", i + 1)))
        .collect();
    chain.push(file("c40", blob(), 1));
    manifest("k", chain).validate().unwrap();
}

/// Found by the property tests: two entries of size u64::MAX made every sum over the layer's
/// sizes (pull progress and totals, restore stats) overflow, a panic in debug builds.
#[test]
fn validate_rejects_sizes_that_add_up_past_u64() {
    rejects(
        vec![file("a", blob(), u64::MAX), file("b", blob(), 1)],
        "add up to more than",
    );
    manifest("k", vec![file("a", blob(), u64::MAX)])
        .validate()
        .unwrap();
}

/// Found by the property tests: a manifest from a remote that failed validation was reported
/// without saying which manifest or file.
#[test]
fn invalid_downloaded_manifests_are_named() {
    let (_dir, store) = store();
    let m = manifest("k", vec![symlink("l", "..")]);
    let json = serde_json::to_vec(&m).unwrap();
    let id = ObjectId::of_bytes(&json);
    let e = store.put_manifest_json(&id, &json).unwrap_err().to_string();
    assert!(
        e.contains(&id.to_hex()) && e.contains("leaves the root"),
        "{e}"
    );
}

/// Builds save beside a verify (both hold the shared lock): blobs, then the manifest, then its
/// ref. A verify must not call a blob or manifest missing because it was written after the scan
/// that looked for it (it did, while eight builders shared a store).
#[test]
fn verify_beside_a_saver_is_clean() {
    let (_tmp, store) = store();
    // Enough objects that a verify's scans take a while.
    let old: Vec<_> = (0..200)
        .map(|i| put_entry(&store, &format!("old/{i}"), format!("old {i}").as_bytes()))
        .collect();
    let id = store.put_manifest(&manifest("old", old)).unwrap();
    store.set_ref("old", &id).unwrap();

    let saving = std::sync::atomic::AtomicBool::new(true);
    let reports = std::thread::scope(|s| {
        s.spawn(|| {
            let _lock = store.lock_shared().unwrap();
            for i in 0..60 {
                let entries = (0..3)
                    .map(|j| put_entry(&store, &format!("f{j}"), format!("new {i} {j}").as_bytes()))
                    .collect();
                let id = store
                    .put_manifest(&manifest(&format!("k{i}"), entries))
                    .unwrap();
                store.set_ref(&format!("layers/{i}"), &id).unwrap();
            }
            saving.store(false, std::sync::atomic::Ordering::SeqCst);
        });
        let mut reports = Vec::new();
        while saving.load(std::sync::atomic::Ordering::SeqCst) {
            reports.push(store.verify().unwrap());
        }
        reports
    });
    assert!(!reports.is_empty());
    for r in &reports {
        assert!(r.is_clean(), "{r:?}");
    }
    let last = store.verify().unwrap();
    assert!(last.is_clean(), "{last:?}");
    assert_eq!(last.manifests_checked, 61);
    assert_eq!(last.blobs_checked, 200 + 180);
    assert_eq!(last.refs_checked, 61);
}
