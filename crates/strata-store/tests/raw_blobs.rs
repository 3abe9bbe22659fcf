//! Raw (uncompressed) blobs: compression off, or compression not paying.
mod common;

use std::fs;
use std::path::Path;

use common::*;
use strata_store::{BlobForm, ObjectId, Store, StoreError};

/// Incompressible bytes: the BLAKE3 XOF of `seed`.
fn random(seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(seed)
        .finalize_xof()
        .fill(&mut out);
    out
}

fn raw_path(store: &Store, id: &ObjectId) -> std::path::PathBuf {
    let hex = id.to_hex();
    store
        .root()
        .join("blobs")
        .join(&hex[..2])
        .join(format!("{hex}.raw"))
}

fn zst_path(store: &Store, id: &ObjectId) -> std::path::PathBuf {
    raw_path(store, id).with_extension("zst")
}

fn tmp_files(store: &Store) -> usize {
    fs::read_dir(store.root().join("tmp")).unwrap().count()
}

fn assert_restores(store: &Store, id: &ObjectId, dest: &Path, data: &[u8]) {
    assert_eq!(store.restore_blob(id, dest).unwrap(), data.len() as u64);
    assert_eq!(fs::read(dest).unwrap(), data);
    assert_eq!(store.read_blob(id).unwrap(), data);
}

#[test]
fn level_zero_stores_raw_and_restores_identical() {
    let (tmp, store) = store();
    let store = store.with_compression_level(0);

    // Small (in-memory path), compressible: raw anyway.
    let small = b"very compressible ".repeat(1000);
    let p = store.put_bytes(&small).unwrap();
    assert!(p.new);
    assert_eq!(store.blob_form(&p.id), Some(BlobForm::Raw));
    assert_eq!(store.blob_path(&p.id), raw_path(&store, &p.id));
    assert!(!zst_path(&store, &p.id).exists());
    assert_eq!(p.stored_bytes, small.len() as u64);
    assert_eq!(fs::read(raw_path(&store, &p.id)).unwrap(), small);
    let dest = tmp.path().join("small.out");
    fs::write(&dest, vec![b'x'; 50_000]).unwrap();
    assert_restores(&store, &p.id, &dest, &small);

    // Large (streaming path), from a file.
    let big = content(3, 3 * 1024 * 1024 + 5);
    let src = tmp.path().join("big.rlib");
    fs::write(&src, &big).unwrap();
    let pb = store.put_file(&src).unwrap();
    assert_eq!(
        (pb.id, pb.size, pb.new),
        (ObjectId::of_bytes(&big), big.len() as u64, true)
    );
    assert_eq!(pb.stored_bytes, big.len() as u64);
    assert_eq!(store.blob_form(&pb.id), Some(BlobForm::Raw));
    assert_eq!(fs::read(store.blob_path(&pb.id)).unwrap(), big);
    assert_restores(&store, &pb.id, &tmp.path().join("big.out"), &big);
    let again = store.put_file(&src).unwrap();
    assert_eq!((again.id, again.new, again.stored_bytes), (pb.id, false, 0));

    // A symlink at dest is replaced, not written through.
    let victim = tmp.path().join("victim");
    fs::write(&victim, b"precious").unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    assert_restores(&store, &p.id, &link, &small);
    assert!(
        !fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(&victim).unwrap(), b"precious");

    // Empty content: a zero-length raw blob is valid.
    let empty = store.put_bytes(b"").unwrap();
    assert_eq!(store.blob_form(&empty.id), Some(BlobForm::Raw));
    assert_eq!(fs::metadata(raw_path(&store, &empty.id)).unwrap().len(), 0);
    assert!(store.has_blob(&empty.id));
    assert!(!store.put_bytes(b"").unwrap().new);
    assert_restores(&store, &empty.id, &tmp.path().join("empty.out"), b"");

    // Manifests are still compressed and readable.
    let m = manifest(
        "raw",
        vec![file("a", p.id, p.size), file("b", pb.id, pb.size)],
    );
    let mid = store.put_manifest(&m).unwrap();
    assert_eq!(store.get_manifest(&mid).unwrap(), m);

    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.blobs_checked, 3);
    let stats = store.stats().unwrap();
    assert_eq!(stats.blobs, 3);
    assert_eq!(stats.blob_bytes, (small.len() + big.len()) as u64);
    assert_eq!(tmp_files(&store), 0);
}

#[test]
fn incompressible_content_is_stored_raw_at_default_level() {
    let (tmp, store) = store();
    let store = store.with_compression_level(3);

    let noise = random(b"small", 100_000);
    let p = store.put_bytes(&noise).unwrap();
    assert_eq!(store.blob_form(&p.id), Some(BlobForm::Raw));
    assert_eq!(p.stored_bytes, noise.len() as u64);
    assert_restores(&store, &p.id, &tmp.path().join("small"), &noise);

    // Streaming path: compressed first, then rewritten raw.
    let big = random(b"big", 3 * 1024 * 1024 + 1);
    let src = tmp.path().join("big.gz");
    fs::write(&src, &big).unwrap();
    let pb = store.put_file(&src).unwrap();
    assert_eq!((pb.id, pb.new), (ObjectId::of_bytes(&big), true));
    assert_eq!(pb.stored_bytes, big.len() as u64);
    assert_eq!(store.blob_form(&pb.id), Some(BlobForm::Raw));
    assert!(!zst_path(&store, &pb.id).exists());
    assert_restores(&store, &pb.id, &tmp.path().join("big"), &big);

    // Tiny content never compresses (frame overhead): raw too.
    let tiny = store.put_bytes(b"tiny").unwrap();
    assert_eq!(store.blob_form(&tiny.id), Some(BlobForm::Raw));

    // Compressible content, both paths: zstd, and smaller than the input.
    let text = b"fn main() { println!(\"hi\"); }\n".repeat(100_000);
    let src = tmp.path().join("text");
    fs::write(&src, &text).unwrap();
    let pt = store.put_file(&src).unwrap();
    assert_eq!(store.blob_form(&pt.id), Some(BlobForm::Zstd));
    assert!(pt.stored_bytes * 10 < text.len() as u64);
    assert_restores(&store, &pt.id, &tmp.path().join("text.out"), &text);
    let ps = store.put_bytes(&text[..10_000]).unwrap();
    assert_eq!(store.blob_form(&ps.id), Some(BlobForm::Zstd));

    assert!(store.verify().unwrap().is_clean());
    assert_eq!(tmp_files(&store), 0);
}

#[test]
fn corrupt_raw_blob_detected_reported_and_collected() {
    let (tmp, store) = store();
    let store = store.with_compression_level(0);
    let data = content(9, 200_000);
    let p = store.put_bytes(&data).unwrap();
    let good = store.put_bytes(b"good").unwrap();
    let blob = raw_path(&store, &p.id);
    assert_eq!(store.blob_path(&p.id), blob);
    flip_byte(&blob, 123_456);

    let dest = tmp.path().join("out");
    fs::write(&dest, b"previous content").unwrap();
    let err = store.restore_blob(&p.id, &dest).unwrap_err();
    match &err {
        StoreError::Corrupt { path, .. } => assert_eq!(path, &blob),
        other => panic!("expected Corrupt, got {other}"),
    }
    assert!(!dest.exists(), "dest must be removed on corruption");
    assert!(matches!(
        store.read_blob(&p.id),
        Err(StoreError::Corrupt { .. })
    ));

    let report = store.verify().unwrap();
    assert_eq!(report.blobs_checked, 2);
    assert_eq!(report.corrupt.len(), 1);
    assert_eq!(report.corrupt[0].path, blob);

    let gc = store.gc(u64::MAX).unwrap();
    assert_eq!(gc.removed_corrupt.len(), 1);
    assert_eq!(gc.removed_corrupt[0].path, blob);
    assert_eq!(gc.removed_blobs, 2, "the corrupt one and the orphan");
    assert!(!blob.exists());
    assert!(!store.has_blob(&p.id) && !store.has_blob(&good.id));
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn truncated_raw_blob_is_absent_or_corrupt() {
    let (tmp, store) = store();
    let store = store.with_compression_level(0);
    let data = content(4, 10_000);
    let p = store.put_bytes(&data).unwrap();
    let blob = raw_path(&store, &p.id);

    // Torn: corrupt.
    fs::write(&blob, &data[..5000]).unwrap();
    let dest = tmp.path().join("out");
    assert!(matches!(
        store.restore_blob(&p.id, &dest),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(!dest.exists());

    // Zero-length (for non-empty content): absent, and a put repairs it.
    fs::write(&blob, b"").unwrap();
    assert!(!store.has_blob(&p.id));
    assert_eq!(store.blob_form(&p.id), None);
    assert!(matches!(
        store.restore_blob(&p.id, &dest),
        Err(StoreError::MissingBlob { .. })
    ));
    assert!(!dest.exists());
    let report = store.verify().unwrap();
    assert_eq!(report.corrupt.len(), 1, "{report:?}");
    let again = store.put_bytes(&data).unwrap();
    assert!(again.new);
    assert_restores(&store, &p.id, &dest, &data);
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn dedupe_across_forms() {
    let (tmp, raw_store) = store();
    let zstd_store = Store::open(raw_store.root())
        .unwrap()
        .with_compression_level(3);
    let raw_store = raw_store.with_compression_level(0);
    let text = b"compressible text ".repeat(5000);

    // Raw first, then again with compression on: not stored twice.
    let p = raw_store.put_bytes(&text).unwrap();
    assert!(p.new);
    assert_eq!(raw_store.blob_form(&p.id), Some(BlobForm::Raw));
    let again = zstd_store.put_bytes(&text).unwrap();
    assert_eq!((again.id, again.new, again.stored_bytes), (p.id, false, 0));
    let src = tmp.path().join("f");
    fs::write(&src, &text).unwrap();
    assert!(!zstd_store.put_file(&src).unwrap().new);
    assert!(!zst_path(&zstd_store, &p.id).exists());

    // And the other way round.
    let other = b"other text ".repeat(5000);
    let q = zstd_store.put_bytes(&other).unwrap();
    assert_eq!(zstd_store.blob_form(&q.id), Some(BlobForm::Zstd));
    assert!(!raw_store.put_bytes(&other).unwrap().new);
    assert!(!raw_path(&raw_store, &q.id).exists());
    assert_eq!(zstd_store.stats().unwrap().blobs, 2);
}

#[test]
fn both_forms_count_as_one_blob() {
    let (tmp, store) = store();
    let text = b"stored twice ".repeat(10_000);
    let p = store.put_bytes(&text).unwrap();
    let zst = zst_path(&store, &p.id);
    let raw = raw_path(&store, &p.id);
    // As if another process with compression off had raced us.
    fs::write(&raw, &text).unwrap();
    assert_eq!(store.blob_form(&p.id), Some(BlobForm::Zstd));
    assert_eq!(store.blob_path(&p.id), zst);
    assert!(!store.put_bytes(&text).unwrap().new);

    let stats = store.stats().unwrap();
    assert_eq!(stats.blobs, 1);
    let zst_len = fs::metadata(&zst).unwrap().len();
    assert_eq!(stats.blob_bytes, zst_len + text.len() as u64);
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.blobs_checked, 1);

    // A corrupt form is reported and collected; the blob lives on in the
    // other one.
    flip_byte(&zst, zst_len as usize / 2);
    let report = store.verify().unwrap();
    assert_eq!(report.blobs_checked, 1);
    assert_eq!(report.corrupt.len(), 1);
    assert_eq!(report.corrupt[0].path, zst);
    let m = store
        .put_manifest(&manifest("k", vec![file("f", p.id, p.size)]))
        .unwrap();
    let gc = store.gc(u64::MAX).unwrap();
    assert_eq!(gc.removed_corrupt.len(), 1);
    assert_eq!(gc.removed_blobs, 0);
    assert!(gc.removed_manifests.is_empty());
    store.get_manifest(&m).unwrap();
    assert!(!zst.exists());
    assert_eq!(store.blob_form(&p.id), Some(BlobForm::Raw));
    assert_restores(&store, &p.id, &tmp.path().join("out"), &text);

    // Unneeded: every form goes, counted once.
    let p2 = store.put_bytes(&b"orphan ".repeat(10_000)).unwrap();
    fs::write(raw_path(&store, &p2.id), b"orphan ".repeat(10_000)).unwrap();
    let before = store.stats().unwrap();
    let gc = store.gc(0).unwrap();
    assert_eq!(gc.removed_blobs, 2);
    assert_eq!(gc.freed_bytes, before.total_bytes());
    assert_eq!(gc.bytes_after, 0);
    assert!(!store.has_blob(&p.id) && !store.has_blob(&p2.id));
    assert!(!zst_path(&store, &p2.id).exists() && !raw_path(&store, &p2.id).exists());
}

#[test]
fn compression_level_builder_clamps() {
    let (tmp, store) = store();
    for level in [-1000, -5, 1, 19, 22, 1000] {
        let s = Store::open(store.root())
            .unwrap()
            .with_compression_level(level);
        let data = format!("level {level} ").repeat(5000).into_bytes();
        let p = s.put_bytes(&data).unwrap();
        assert_eq!(s.blob_form(&p.id), Some(BlobForm::Zstd), "level {level}");
        assert_restores(&s, &p.id, &tmp.path().join("out"), &data);
    }
}
