mod common;

use std::fs;
use std::sync::Arc;

use common::*;
use strata_store::{BlobForm, ObjectId, Store, StoreError};

#[test]
fn bytes_round_trip_and_dedupe() {
    let (tmp, store) = store();
    // Compressible, so stored as zstd (tiny content would be stored raw).
    let data = b"hello strata ".repeat(100);
    let p = store.put_bytes(&data).unwrap();
    assert!(p.new);
    assert_eq!(store.blob_form(&p.id), Some(BlobForm::Zstd));
    assert_eq!(p.size, data.len() as u64);
    assert!(p.stored_bytes > 0);
    assert_eq!(p.id, ObjectId::of_bytes(&data));
    assert!(store.has_blob(&p.id));
    assert!(store.blob_path(&p.id).ends_with(format!(
        "blobs/{}/{}.zst",
        &p.id.to_hex()[..2],
        p.id.to_hex()
    )));

    let again = store.put_bytes(&data).unwrap();
    assert!(!again.new);
    assert_eq!(again.stored_bytes, 0);
    assert_eq!(again.id, p.id);

    assert_eq!(store.read_blob(&p.id).unwrap(), data);
    let dest = tmp.path().join("out.txt");
    assert_eq!(store.restore_blob(&p.id, &dest).unwrap(), data.len() as u64);
    assert_eq!(fs::read(&dest).unwrap(), data);

    // Empty content is a blob like any other.
    let empty = store.put_bytes(b"").unwrap();
    assert_eq!(store.read_blob(&empty.id).unwrap(), b"");
}

#[test]
fn large_file_round_trip_and_dedupe() {
    let (tmp, store) = store();
    let data = content(7, 5 * 1024 * 1024 + 17);
    let src = tmp.path().join("big.rlib");
    fs::write(&src, &data).unwrap();

    let p = store.put_file(&src).unwrap();
    assert!(p.new);
    assert_eq!(p.size, data.len() as u64);
    assert_eq!(p.id, ObjectId::of_bytes(&data));
    assert_eq!(
        p.stored_bytes,
        fs::metadata(store.blob_path(&p.id)).unwrap().len()
    );

    // Same content from another path and from memory: stored once.
    let src2 = tmp.path().join("copy.rlib");
    fs::write(&src2, &data).unwrap();
    let p2 = store.put_file(&src2).unwrap();
    assert_eq!((p2.id, p2.new, p2.stored_bytes), (p.id, false, 0));
    let p3 = store.put_bytes(&data).unwrap();
    assert_eq!((p3.id, p3.new, p3.stored_bytes), (p.id, false, 0));
    assert_eq!(store.stats().unwrap().blobs, 1);

    let dest = tmp.path().join("restored.rlib");
    fs::write(&dest, b"old longer content that must be truncated away").unwrap();
    assert_eq!(store.restore_blob(&p.id, &dest).unwrap(), data.len() as u64);
    assert_eq!(fs::read(&dest).unwrap(), data);

    // Small files take the in-memory path.
    let small = tmp.path().join("small");
    fs::write(&small, b"tiny").unwrap();
    let ps = store.put_file(&small).unwrap();
    assert_eq!(ps.id, ObjectId::of_bytes(b"tiny"));
    // No temp files are left behind.
    assert_eq!(fs::read_dir(store.root().join("tmp")).unwrap().count(), 0);
}

#[test]
fn restore_replaces_symlink_instead_of_following_it() {
    let (tmp, store) = store();
    let victim = tmp.path().join("victim");
    fs::write(&victim, b"precious").unwrap();
    let dest = tmp.path().join("dest");
    std::os::unix::fs::symlink(&victim, &dest).unwrap();
    let p = store.put_bytes(b"new").unwrap();
    store.restore_blob(&p.id, &dest).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(
        !fs::symlink_metadata(&dest)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(&dest).unwrap(), b"new");
}

#[test]
fn missing_blob() {
    let (tmp, store) = store();
    let id = ObjectId::of_bytes(b"never stored");
    assert!(!store.has_blob(&id));
    let dest = tmp.path().join("x");
    assert!(matches!(
        store.restore_blob(&id, &dest),
        Err(StoreError::MissingBlob { id: got }) if got == id
    ));
    assert!(!dest.exists());
    assert!(matches!(
        store.read_blob(&id),
        Err(StoreError::MissingBlob { .. })
    ));
}

#[test]
fn corrupt_blob_detected_reported_and_collected() {
    let (tmp, store) = store();
    let data = content(1, 300_000);
    let p = store.put_bytes(&data).unwrap();
    let good = store.put_bytes(b"good").unwrap();
    let blob = store.blob_path(&p.id);
    let len = fs::metadata(&blob).unwrap().len() as usize;
    flip_byte(&blob, len / 2);

    let dest = tmp.path().join("out");
    let err = store.restore_blob(&p.id, &dest).unwrap_err();
    match &err {
        StoreError::Corrupt { path, .. } => assert_eq!(path, &blob),
        other => panic!("expected Corrupt, got {other}"),
    }
    assert!(err.to_string().contains(&p.id.to_hex()), "{err}");
    assert!(!dest.exists(), "dest must be removed on corruption");
    assert!(matches!(
        store.read_blob(&p.id),
        Err(StoreError::Corrupt { .. })
    ));

    let report = store.verify().unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.blobs_checked, 2);
    assert_eq!(report.corrupt.len(), 1);
    assert_eq!(report.corrupt[0].path, blob);

    let gc = store.gc(u64::MAX).unwrap();
    assert_eq!(gc.removed_corrupt.len(), 1);
    assert_eq!(gc.removed_corrupt[0].path, blob);
    assert!(!blob.exists());
    // The good blob is unreferenced, so gc removes it too.
    assert!(!store.has_blob(&good.id));
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn blob_with_right_frame_but_wrong_content_is_corrupt() {
    // A valid zstd frame under the wrong name: only the hash check catches it.
    let (tmp, store) = store();
    let a = store.put_bytes(&b"content a".repeat(50)).unwrap();
    let b = store.put_bytes(&b"content b".repeat(50)).unwrap();
    assert_eq!(store.blob_form(&a.id), Some(BlobForm::Zstd));
    assert_eq!(store.blob_form(&b.id), Some(BlobForm::Zstd));
    fs::copy(store.blob_path(&b.id), store.blob_path(&a.id)).unwrap();
    let dest = tmp.path().join("out");
    assert!(matches!(
        store.restore_blob(&a.id, &dest),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(!dest.exists());
    // Truncated to a torn frame.
    let blob = store.blob_path(&b.id);
    let data = fs::read(&blob).unwrap();
    fs::write(&blob, &data[..data.len() / 2]).unwrap();
    assert!(matches!(
        store.read_blob(&b.id),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn concurrent_puts_from_threads() {
    let (tmp, store) = store();
    let store = Arc::new(store);
    // Shared content (every thread) and per-thread content; large enough for
    // the streaming path on some files.
    let shared_small = content(100, 10_000);
    let shared_big = content(101, 2 * 1024 * 1024);
    let mut paths = Vec::new();
    for t in 0..4u64 {
        let d = tmp.path().join(format!("t{t}"));
        fs::create_dir(&d).unwrap();
        fs::write(d.join("shared_small"), &shared_small).unwrap();
        fs::write(d.join("shared_big"), &shared_big).unwrap();
        fs::write(d.join("own_small"), content(t, 5_000)).unwrap();
        fs::write(d.join("own_big"), content(200 + t, 1_500_000)).unwrap();
        paths.push(d);
    }
    let handles: Vec<_> = paths
        .into_iter()
        .map(|d| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let _lock = store.lock_shared().unwrap();
                let mut ids = Vec::new();
                for _ in 0..3 {
                    for name in ["shared_small", "shared_big", "own_small", "own_big"] {
                        ids.push(store.put_file(&d.join(name)).unwrap().id);
                    }
                }
                ids
            })
        })
        .collect();
    let mut all = std::collections::BTreeSet::new();
    for h in handles {
        all.extend(h.join().unwrap());
    }
    assert_eq!(all.len(), 2 + 4 * 2);
    for id in &all {
        store.read_blob(id).unwrap();
    }
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.blobs_checked, 10);
    assert_eq!(store.stats().unwrap().tmp_files, 0);
}

#[test]
fn concurrent_processes_share_one_store() {
    // A second Store handle has its own lock file descriptor, like another
    // process: gc's exclusive lock must wait for the shared holder.
    let (_tmp, store) = store();
    let other = Store::open(store.root()).unwrap();
    let p = store.put_bytes(b"in use").unwrap();
    let shared = store.lock_shared().unwrap();
    let started = std::time::Instant::now();
    let gc = std::thread::spawn(move || other.gc(0).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        store.has_blob(&p.id),
        "gc must not run while a shared lock is held"
    );
    drop(shared);
    let report = gc.join().unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert_eq!(report.removed_blobs, 1);
    assert!(!store.has_blob(&p.id));
}

/// `restore_file`: small files in memory, large ones streamed; either way the exact bytes, the
/// mode and the mtime, and on a bad blob an error with nothing left at `dest`.
#[test]
fn restore_file_writes_bytes_mode_and_mtime_for_every_size_and_form() {
    use std::os::unix::fs::PermissionsExt;
    let (tmp, store) = store();
    let raw = Store::open(tmp.path().join("raw-store"))
        .unwrap()
        .with_compression_level(0);
    let small = b"fingerprint 0123456789abcdef\n".repeat(3);
    let large = content(3, (strata_store::SMALL_BLOB + 4097) as usize);
    let mtime = t(1_650_000_000);
    for (n, (s, data, executable)) in [
        (&store, &small[..], false),
        (&store, &small[..], true),
        (&raw, &small[..], false),
        (&store, &large[..], true),
        (&raw, &large[..], false),
        (&store, &b""[..], false),
    ]
    .into_iter()
    .enumerate()
    {
        let p = s.put_bytes(data).unwrap();
        let dest = tmp.path().join(format!("out-{n}"));
        // An older file at `dest` is replaced, not appended to.
        fs::write(
            &dest,
            b"old content that is longer than some blobs".repeat(10),
        )
        .unwrap();
        s.restore_file(&p.id, &dest, data.len() as u64, mtime, executable)
            .unwrap();
        assert_eq!(fs::read(&dest).unwrap(), data, "case {n}");
        let md = fs::metadata(&dest).unwrap();
        assert_eq!(md.permissions().mode() & 0o111 != 0, executable, "case {n}");
        let got = filetime::FileTime::from_last_modification_time(&md);
        assert_eq!(
            (got.unix_seconds(), got.nanoseconds()),
            (mtime.secs, mtime.nanos),
            "case {n}"
        );
    }
}

#[test]
fn create_file_makes_new_files_and_never_touches_one_in_the_way() {
    let (tmp, store) = store();
    let raw = Store::open(tmp.path().join("raw-store"))
        .unwrap()
        .with_compression_level(0);
    let small = b"dep-info 0123456789abcdef\n".repeat(3);
    let large = content(4, (strata_store::SMALL_BLOB + 4097) as usize);
    let mtime = t(1_650_000_000);
    for (n, (s, data)) in [
        (&store, &small[..]),
        (&raw, &small[..]),
        (&store, &large[..]),
    ]
    .into_iter()
    .enumerate()
    {
        let p = s.put_bytes(data).unwrap();
        let dest = tmp.path().join(format!("new-{n}"));
        s.create_file(&p.id, &dest, data.len() as u64, mtime, true)
            .unwrap();
        assert_eq!(fs::read(&dest).unwrap(), data, "case {n}");
        // A second time the file is in the way: refused, and the file keeps its bytes.
        let err = s
            .create_file(&p.id, &dest, data.len() as u64, t(1), false)
            .unwrap_err();
        assert!(err.is_already_exists(), "case {n}: {err}");
        assert_eq!(fs::read(&dest).unwrap(), data, "case {n}");
        // A file with two names (a hardlink, as to a linked copy) is not written through,
        // and neither is a symlink.
        let other = tmp.path().join(format!("other-{n}"));
        fs::write(&other, b"someone else's").unwrap();
        let linked = tmp.path().join(format!("linked-{n}"));
        fs::hard_link(&other, &linked).unwrap();
        let symlink = tmp.path().join(format!("symlink-{n}"));
        std::os::unix::fs::symlink(&other, &symlink).unwrap();
        for in_the_way in [&linked, &symlink] {
            let err = s
                .create_file(&p.id, in_the_way, data.len() as u64, mtime, false)
                .unwrap_err();
            assert!(err.is_already_exists(), "case {n}: {err}");
            assert_eq!(fs::read(&other).unwrap(), b"someone else's");
        }
        // A missing blob leaves nothing at a new name, and leaves a file in the way as it was.
        let absent = strata_store::ObjectId::of_bytes(b"absent");
        let bad = tmp.path().join(format!("bad-{n}"));
        let err = s.create_file(&absent, &bad, 6, mtime, false).unwrap_err();
        assert!(!err.is_already_exists(), "{err}");
        assert!(!bad.exists());
        let err = s
            .create_file(&absent, &linked, 6, mtime, false)
            .unwrap_err();
        assert!(!err.is_already_exists(), "{err}");
        assert_eq!(fs::read(&linked).unwrap(), b"someone else's");
    }
}

#[test]
fn restore_file_refuses_a_corrupt_a_lying_or_a_missing_blob_and_leaves_nothing() {
    let (tmp, store) = store();
    let dest = tmp.path().join("out");
    // Corrupt small and large zstd blobs.
    for data in [
        b"some small content ".repeat(20),
        content(5, (strata_store::SMALL_BLOB + 1) as usize),
    ] {
        let p = store.put_bytes(&data).unwrap();
        let blob = store.blob_path(&p.id);
        let len = fs::metadata(&blob).unwrap().len() as usize;
        flip_byte(&blob, len / 2);
        let err = store
            .restore_file(&p.id, &dest, data.len() as u64, t(1), false)
            .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(!dest.exists());
    }
    // A valid frame of other content under this name; and a frame claiming a huge size.
    let a = store.put_bytes(&b"content a".repeat(50)).unwrap();
    let b = store.put_bytes(&b"content b".repeat(50)).unwrap();
    fs::copy(store.blob_path(&b.id), store.blob_path(&a.id)).unwrap();
    assert!(matches!(
        store.restore_file(&a.id, &dest, 450, t(1), false),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(!dest.exists());
    let c = store.put_bytes(&b"content c".repeat(50)).unwrap();
    let huge = zstd::bulk::compress(&vec![0u8; 64 << 20], 3).unwrap();
    fs::write(store.blob_path(&c.id), huge).unwrap();
    assert!(matches!(
        store.restore_file(&c.id, &dest, 450, t(1), false),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(!dest.exists());
    // Missing.
    let id = ObjectId::of_bytes(b"never stored");
    assert!(matches!(
        store.restore_file(&id, &dest, 12, t(1), false),
        Err(StoreError::MissingBlob { .. })
    ));
    assert!(!dest.exists());
}
