//! Turning scanned files into manifest entries, storing what the store lacks.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use strata_store::{Entry, EntryKind, Manifest, Store};

use crate::LayerError;
use crate::scan::ScannedFile;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaveStats {
    pub files: usize,
    /// Bytes of all files in the layer.
    pub bytes: u64,
    /// Files hashed now (the rest matched a known entry by path, size and mtime).
    pub hashed: usize,
    /// Compressed bytes newly written to the store.
    pub stored_bytes: u64,
    pub new_blobs: usize,
}

/// Store the files and return their entries (sorted by path). A file whose path, size and mtime
/// equal an entry of one of `known` reuses that entry's blob without being read again, as git's
/// index does; the blob must still be in the store.
pub fn save_entries(
    store: &Store,
    root: &Path,
    files: &[&ScannedFile],
    known: &[&Manifest],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Vec<Entry>, SaveStats), LayerError> {
    let mut known_entries: HashMap<&str, &Entry> = HashMap::new();
    for m in known {
        for e in &m.entries {
            known_entries.insert(e.path.as_str(), e);
        }
    }
    let link = crate::linking_wanted();
    let second_named = crate::unlinked_before_relink_scanned(files);
    let results: Vec<Result<(Entry, bool, u64, bool), LayerError>> = files
        .par_iter()
        .map(|f| {
            if let Some(target) = &f.symlink {
                return Ok((
                    Entry {
                        path: f.rel.clone(),
                        mtime: f.mtime,
                        kind: EntryKind::Symlink {
                            target: target.clone(),
                        },
                    },
                    false,
                    0,
                    false,
                ));
            }
            if let Some(e) = known_entries.get(f.rel.as_str())
                && e.mtime == f.mtime
                && let EntryKind::File { blob, size, .. } = &e.kind
                && *size == f.size
                && store.has_blob(blob)
            {
                progress(f.size);
                return Ok((
                    Entry {
                        path: f.rel.clone(),
                        mtime: f.mtime,
                        kind: EntryKind::File {
                            blob: *blob,
                            size: f.size,
                            executable: f.executable,
                        },
                    },
                    false,
                    0,
                    false,
                ));
            }
            let full = root.join(&f.rel);
            // A file a restore would hardlink becomes its own linked copy (no bytes written),
            // so the next checkout on this machine gets it as a link too.
            let put = if link && (crate::linkable(&f.rel) || second_named.contains(f.rel.as_str()))
            {
                store
                    .put_file_as_linked(&full, f.mtime, f.executable)
                    .or_else(|_| store.put_file(&full))?
            } else {
                store.put_file(&full)?
            };
            progress(f.size);
            Ok((
                Entry {
                    path: f.rel.clone(),
                    mtime: f.mtime,
                    kind: EntryKind::File {
                        blob: put.id,
                        size: put.size,
                        executable: f.executable,
                    },
                },
                true,
                put.stored_bytes,
                put.new,
            ))
        })
        .collect();
    let mut stats = SaveStats::default();
    let mut entries = Vec::with_capacity(results.len());
    for r in results {
        let (entry, hashed, stored, new) = r?;
        stats.files += 1;
        if let EntryKind::File { size, .. } = &entry.kind {
            stats.bytes += size;
        }
        stats.hashed += usize::from(hashed);
        stats.stored_bytes += stored;
        stats.new_blobs += usize::from(new);
        entries.push(entry);
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((entries, stats))
}
