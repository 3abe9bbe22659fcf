#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use strata_store::{Entry, EntryKind, FileTime, MANIFEST_FORMAT, Manifest, ObjectId, Store};

pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}

pub fn t(secs: i64) -> FileTime {
    FileTime {
        secs,
        nanos: 123_456_789,
    }
}

pub fn file(path: &str, blob: ObjectId, size: u64) -> Entry {
    Entry {
        path: path.into(),
        mtime: t(1_700_000_000),
        kind: EntryKind::File {
            blob,
            size,
            executable: false,
        },
    }
}

pub fn symlink(path: &str, target: &str) -> Entry {
    Entry {
        path: path.into(),
        mtime: t(1_700_000_000),
        kind: EntryKind::Symlink {
            target: target.into(),
        },
    }
}

pub fn dir(path: &str) -> Entry {
    Entry {
        path: path.into(),
        mtime: t(1_700_000_000),
        kind: EntryKind::Dir,
    }
}

pub fn manifest(key: &str, entries: Vec<Entry>) -> Manifest {
    Manifest {
        format: MANIFEST_FORMAT,
        kind: "deps".into(),
        key: key.into(),
        parent: None,
        created_unix_secs: 1_700_000_000,
        entries,
        sources: Vec::new(),
        meta: BTreeMap::new(),
    }
}

/// Deterministic, poorly compressible-but-not-random content.
pub fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|i| {
            if i % 64 == 0 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
            }
            (x >> ((i % 8) * 8)) as u8 ^ (i as u8 & 0x0f)
        })
        .collect()
}

/// Put `bytes` and return a file entry for it.
pub fn put_entry(store: &Store, path: &str, bytes: &[u8]) -> Entry {
    let p = store.put_bytes(bytes).unwrap();
    file(path, p.id, p.size)
}

pub fn set_mtime(path: &Path, ago: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - ago).unwrap();
}

pub fn flip_byte(path: &Path, at: usize) {
    let mut data = std::fs::read(path).unwrap();
    let i = at.min(data.len() - 1);
    data[i] ^= 0x55;
    std::fs::write(path, data).unwrap();
}
