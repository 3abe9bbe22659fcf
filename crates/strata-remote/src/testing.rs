//! What the unit tests of this crate share.

use strata_store::{Entry, EntryKind, FileTime, MANIFEST_FORMAT, Manifest, ObjectId, Store};

/// A crate layer in `store` under `key` whose files (`debug/f0`, `debug/f1`, …) hold `files`.
pub(crate) fn layer(store: &Store, key: &str, files: &[&[u8]]) -> ObjectId {
    let entries = files
        .iter()
        .enumerate()
        .map(|(i, content)| Entry {
            path: format!("debug/f{i}"),
            mtime: FileTime { secs: 1, nanos: 0 },
            kind: EntryKind::File {
                blob: store.put_bytes(content).unwrap().id,
                size: content.len() as u64,
                executable: false,
            },
        })
        .collect();
    store
        .put_manifest(&Manifest {
            format: MANIFEST_FORMAT,
            kind: "crates".into(),
            key: key.into(),
            parent: None,
            created_unix_secs: 1,
            entries,
            sources: vec![],
            meta: Default::default(),
        })
        .unwrap()
}
