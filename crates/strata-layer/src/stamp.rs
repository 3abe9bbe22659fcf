//! Source stamps: the content hash and exact mtime of each file of the local packages.

use std::collections::HashSet;
use std::path::Path;

use rayon::prelude::*;
use strata_store::{FileTime, ObjectId, SourceStamp};
use strata_workspace::{SourceFile, SourceFilter};

use crate::{LayerError, io_err};

pub fn mtime_of(meta: &std::fs::Metadata) -> FileTime {
    let t = filetime::FileTime::from_last_modification_time(meta);
    FileTime {
        secs: t.unix_seconds(),
        nanos: t.nanoseconds(),
    }
}

pub fn hash_file(path: &Path) -> Result<ObjectId, LayerError> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap(path).map_err(io_err(path))?;
    Ok(ObjectId::from_bytes(*hasher.finalize().as_bytes()))
}

/// Hash every file (in parallel); `None` for a file that could not be read.
pub fn hash_sources(files: Vec<SourceFile>) -> Vec<(SourceFile, Option<ObjectId>)> {
    files
        .into_par_iter()
        .map(|f| {
            let h = hash_file(&f.abs).ok();
            (f, h)
        })
        .collect()
}

/// Stamp hashed files with their current mtimes. `input` follows the source filter, widened by
/// `referenced`: `(root, rel)` of files that a unit's dep-info or a build script named. Files that
/// vanished are skipped: they cannot be an input of anything built.
pub fn stamp_sources(
    hashed: &[(SourceFile, Option<ObjectId>)],
    filter: &SourceFilter,
    referenced: &HashSet<(String, String)>,
) -> Vec<SourceStamp> {
    let none = HashSet::new();
    hashed
        .par_iter()
        .filter_map(|(f, hash)| {
            let hash = (*hash)?;
            let meta = std::fs::metadata(&f.abs).ok()?;
            let input = referenced.contains(&(f.root.clone(), f.rel.clone()))
                || filter.is_input(&f.rel, &none);
            Some(SourceStamp {
                root: f.root.clone(),
                path: f.rel.clone(),
                hash,
                mtime: mtime_of(&meta),
                input,
            })
        })
        .collect()
}
