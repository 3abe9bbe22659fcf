mod common;

use std::collections::HashSet;
use std::fs;
use std::time::Duration;

use common::*;
use strata_store::{EntryKind, ObjectId, Store, StoreError};

#[test]
fn open_creates_layout_and_checks_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("s");
    let store = Store::open(&root).unwrap();
    assert_eq!(store.root(), root);
    for d in ["blobs", "manifests", "refs", "tmp"] {
        assert!(root.join(d).is_dir(), "{d}");
    }
    assert!(root.join("lock").is_file());
    assert_eq!(
        fs::read_to_string(root.join("STRATA_STORE")).unwrap(),
        "strata store v1\n"
    );
    // Reopening is fine.
    Store::open(&root).unwrap();

    fs::write(root.join("STRATA_STORE"), "strata store v2\n").unwrap();
    match Store::open(&root) {
        Err(StoreError::UnsupportedFormat { path, found }) => {
            assert_eq!(path, root.join("STRATA_STORE"));
            assert_eq!(found, "strata store v2");
        }
        other => panic!("expected UnsupportedFormat, got {other:?}"),
    }

    // Someone's unrelated, non-empty directory is not adopted.
    let foreign = tmp.path().join("home");
    fs::create_dir(&foreign).unwrap();
    fs::write(foreign.join("notes.txt"), "hi").unwrap();
    assert!(matches!(
        Store::open(&foreign),
        Err(StoreError::UnsupportedFormat { .. })
    ));
    assert!(!foreign.join("blobs").exists());

    // An interrupted creation (layout dirs, no marker) is completed.
    let partial = tmp.path().join("partial");
    fs::create_dir_all(partial.join("blobs")).unwrap();
    Store::open(&partial).unwrap();
}

#[test]
fn refs_set_get_list() {
    let (_tmp, store) = store();
    let a = ObjectId::of_bytes(b"a");
    let b = ObjectId::of_bytes(b"b");
    assert_eq!(store.get_ref("main").unwrap(), None);
    store.set_ref("main", &a).unwrap();
    store.set_ref("ci/linux-x86_64/deps", &b).unwrap();
    store.set_ref("v1.2_x-y", &a).unwrap();
    assert_eq!(store.get_ref("main").unwrap(), Some(a));
    store.set_ref("main", &b).unwrap();
    assert_eq!(store.get_ref("main").unwrap(), Some(b));
    assert_eq!(
        fs::read_to_string(store.root().join("refs/ci/linux-x86_64/deps")).unwrap(),
        format!("{b}\n")
    );
    assert_eq!(
        store.list_refs().unwrap(),
        vec![
            ("ci/linux-x86_64/deps".to_string(), b),
            ("main".to_string(), b),
            ("v1.2_x-y".to_string(), a),
        ]
    );

    for bad in [
        "",
        "/main",
        "main/",
        "a//b",
        ".",
        "..",
        "a/../b",
        "a/./b",
        "sp ace",
        "uni\u{e9}",
        "a\\b",
        "x:y",
    ] {
        assert!(
            matches!(store.set_ref(bad, &a), Err(StoreError::BadRef { .. })),
            "{bad:?}"
        );
        assert!(
            matches!(store.get_ref(bad), Err(StoreError::BadRef { .. })),
            "{bad:?}"
        );
    }

    fs::write(store.root().join("refs/broken"), "not an id\n").unwrap();
    assert!(matches!(
        store.get_ref("broken"),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(store.list_refs(), Err(StoreError::Corrupt { .. })));
    assert_eq!(store.stats().unwrap().refs, 4);
}

#[test]
fn gc_within_budget_keeps_everything_referenced() {
    let (_tmp, store) = store();
    let m = manifest("k", vec![put_entry(&store, "a", &content(1, 1000))]);
    let id = store.put_manifest(&m).unwrap();
    let orphan = store.put_bytes(b"orphan from an interrupted save").unwrap();
    let report = store.gc(u64::MAX).unwrap();
    assert!(report.removed_manifests.is_empty());
    assert_eq!(report.removed_blobs, 1, "only the orphan");
    assert!(!store.has_blob(&orphan.id));
    store.get_manifest(&id).unwrap();
    let stats = store.stats().unwrap();
    assert_eq!(report.bytes_after, stats.total_bytes());
    assert_eq!(stats.referenced_uncompressed_bytes, 1000);
}

#[test]
fn gc_evicts_lru_unreferenced_first() {
    let (_tmp, store) = store();
    let shared = content(50, 200_000);
    let mk = |key: &str, seed: u64| {
        manifest(
            key,
            vec![
                put_entry(&store, "shared", &shared),
                put_entry(&store, "own", &content(seed, 200_000)),
            ],
        )
    };
    let old = store.put_manifest(&mk("old", 1)).unwrap();
    let mid = store.put_manifest(&mk("mid", 2)).unwrap();
    let kept = store.put_manifest(&mk("kept", 3)).unwrap();
    let referenced = store.put_manifest(&mk("ref", 4)).unwrap();
    store.set_ref("main", &referenced).unwrap();
    // Make `referenced` the oldest of all: refs must still protect it.
    set_mtime(&store.manifest_path(&referenced), Duration::from_secs(5000));
    set_mtime(&store.root().join("refs/main"), Duration::from_secs(5000));
    set_mtime(&store.manifest_path(&old), Duration::from_secs(4000));
    set_mtime(&store.manifest_path(&mid), Duration::from_secs(3000));
    set_mtime(&store.manifest_path(&kept), Duration::from_secs(2000));
    // A restore touching `old` makes it the most recently used.
    store.touch_manifest(&old).unwrap();

    let blob_size = |m: &ObjectId| -> u64 {
        let man = store.get_manifest(m).unwrap();
        let own = man.entries.iter().find(|e| e.path == "own").unwrap();
        let EntryKind::File { blob, .. } = own.kind else {
            unreachable!()
        };
        fs::metadata(store.blob_path(&blob)).unwrap().len()
    };
    let before = store.stats().unwrap();
    // Budget that forces out exactly two unreferenced manifests.
    let budget = before.total_bytes()
        - blob_size(&mid)
        - blob_size(&kept)
        - fs::metadata(store.manifest_path(&mid)).unwrap().len()
        - fs::metadata(store.manifest_path(&kept)).unwrap().len();

    let report = store.gc(budget).unwrap();
    assert_eq!(report.removed_manifests, vec![mid, kept]);
    assert_eq!(
        report.removed_blobs, 2,
        "their own blobs, not the shared one"
    );
    assert!(report.removed_refs.is_empty());
    assert!(report.bytes_after <= budget);
    assert_eq!(report.bytes_before, before.total_bytes());
    assert_eq!(report.bytes_before - report.freed_bytes, report.bytes_after);
    assert_eq!(store.get_ref("main").unwrap(), Some(referenced));
    store.get_manifest(&old).unwrap();
    store.get_manifest(&referenced).unwrap();
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.manifests_checked, 2);
    assert_eq!(report.blobs_checked, 3);

    // Budget below what the refs need: unreferenced first, then oldest refs,
    // and the ref goes with its manifest.
    store.set_ref("newer", &old).unwrap();
    set_mtime(&store.root().join("refs/main"), Duration::from_secs(5000));
    let small = store.stats().unwrap().total_bytes() - 1;
    let report = store.gc(small).unwrap();
    assert_eq!(report.removed_manifests, vec![referenced]);
    assert_eq!(report.removed_refs, vec!["main".to_string()]);
    assert_eq!(store.get_ref("newer").unwrap(), Some(old));
    assert!(store.verify().unwrap().is_clean());

    let report = store.gc(0).unwrap();
    assert_eq!(report.removed_manifests, vec![old]);
    assert_eq!(report.bytes_after, 0);
    let stats = store.stats().unwrap();
    assert_eq!((stats.blobs, stats.manifests, stats.refs), (0, 0, 0));
}

#[test]
fn gc_removes_stale_temp_files() {
    let (_tmp, store) = store();
    let tmpdir = store.root().join("tmp");
    let pid = std::process::id();
    let fresh_own = tmpdir.join(format!("{pid}-999-1.tmp"));
    let old_own = tmpdir.join(format!("{pid}-998-1.tmp"));
    // pid_max on Linux is at most 2^22, so this pid cannot exist.
    let dead = tmpdir.join("4294967294-1-1.tmp");
    let fresh_foreign = tmpdir.join("whatever.tmp");
    for p in [&fresh_own, &old_own, &dead, &fresh_foreign] {
        fs::write(p, b"partial").unwrap();
    }
    set_mtime(&old_own, Duration::from_secs(2 * 3600));
    let report = store.gc(u64::MAX).unwrap();
    assert_eq!(report.removed_tmp_files, 2);
    assert!(fresh_own.exists() && fresh_foreign.exists());
    assert!(!old_own.exists() && !dead.exists());
    let stats = store.stats().unwrap();
    assert_eq!(stats.tmp_files, 2);
    assert_eq!(report.bytes_after, stats.total_bytes());
}

#[test]
fn gc_prunes_emptied_ref_dirs() {
    let (_tmp, store) = store();
    let m = store
        .put_manifest(&manifest("k", vec![put_entry(&store, "a", b"a")]))
        .unwrap();
    store.set_ref("ci/x/y", &m).unwrap();
    store.gc(0).unwrap();
    assert!(!store.root().join("refs/ci").exists());
    assert!(store.root().join("refs").is_dir());
}

#[test]
fn stats_count_objects() {
    let (_tmp, store) = store();
    let m = manifest(
        "k",
        vec![
            put_entry(&store, "a", &content(1, 10_000)),
            put_entry(&store, "b", &content(2, 20_000)),
            put_entry(&store, "c", &content(1, 10_000)),
        ],
    );
    store.put_manifest(&m).unwrap();
    store
        .set_ref("r", &store.put_manifest(&m).unwrap())
        .unwrap();
    let s = store.stats().unwrap();
    assert_eq!((s.blobs, s.manifests, s.refs, s.tmp_files), (2, 1, 1, 0));
    assert_eq!(s.referenced_uncompressed_bytes, 30_000);
    assert_eq!(m.total_file_bytes(), 40_000);
    assert!(s.blob_bytes > 0 && s.manifest_bytes > 0);
    let ids: HashSet<_> = m
        .entries
        .iter()
        .map(|e| match e.kind {
            EntryKind::File { blob, .. } => blob,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(ids.len(), 2);
}

#[test]
fn errors_name_the_path() {
    let (tmp, store) = store();
    let missing = tmp.path().join("no-such-file");
    let err = store.put_file(&missing).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }));
    assert!(err.to_string().contains("no-such-file"), "{err}");
    let err = strata_store::parse_size("12Q").unwrap_err();
    assert!(err.to_string().contains("12Q"), "{err}");
}

#[test]
fn gc_removes_cache_entries_unused_for_a_week_and_keeps_the_rest() {
    let (_tmp, store) = store();
    let dir = store.cache_dir("metadata");
    fs::create_dir_all(&dir).unwrap();
    let old = dir.join("old.metadata");
    let fresh = dir.join("fresh.metadata");
    fs::write(&old, b"{}\n{}").unwrap();
    fs::write(&fresh, b"{}\n{}").unwrap();
    set_mtime(&old, Duration::from_secs(8 * 24 * 3600));
    let gc = store.gc(u64::MAX).unwrap();
    assert_eq!(gc.removed_cache_entries, 1);
    assert!(!old.exists());
    assert!(fresh.exists());
    // A store that holds only a cache is still a store (the cache dir is part of the layout).
    Store::open(store.root()).unwrap();
    assert!(store.verify().unwrap().is_clean());
}
