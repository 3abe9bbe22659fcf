//! Source stamps: the content hash and exact mtime of each file of the local packages.

use std::collections::{HashMap, HashSet};
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

/// [`hash_sources`], reading only the files that changed since the hashes kept in `cache` (a
/// file of the build dir's state) were taken: a file is the same while its device, inode, size,
/// mtime and ctime are. A write changes the ctime, which no tool can set back, so an edit that
/// keeps size and mtime is still seen. A file whose mtime or ctime is under two seconds old is
/// not kept: a write in the same clock tick could leave all five as they are (git's "racily
/// clean" case). A missing or broken cache only costs reading everything; writing it is best
/// effort.
pub fn hash_sources_cached(
    files: Vec<SourceFile>,
    cache: &Path,
) -> Vec<(SourceFile, Option<ObjectId>)> {
    hash_sources_cached_within(files, cache, std::time::Duration::from_secs(2))
}

/// [`hash_sources_cached`] with files younger than `racy` left out of the cache.
fn hash_sources_cached_within(
    files: Vec<SourceFile>,
    cache: &Path,
    racy: std::time::Duration,
) -> Vec<(SourceFile, Option<ObjectId>)> {
    let old: HashMap<String, CachedHash> = std::fs::read(cache)
        .ok()
        .and_then(|b| serde_json::from_slice::<HashCacheFile>(&b).ok())
        .filter(|f| f.format == HASH_CACHE_FORMAT)
        .map(|f| f.files)
        .unwrap_or_default();
    let racy_after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128 - racy.as_nanos() as i128)
        .unwrap_or(0);
    let hashed: Vec<(SourceFile, Option<ObjectId>, Option<CachedHash>)> = files
        .into_par_iter()
        .map(|f| {
            let key = f.abs.to_string_lossy().into_owned();
            let now = std::fs::metadata(&f.abs).ok().map(|m| CachedHash::of(&m));
            let known = match (&now, old.get(&key)) {
                (Some(n), Some(o)) if n.same_file(o) => o.hash,
                _ => None,
            };
            let hash = known.or_else(|| hash_file(&f.abs).ok());
            let keep = match (now, hash) {
                (Some(n), Some(h)) if n.mtime < racy_after && n.ctime < racy_after => {
                    Some(CachedHash { hash: Some(h), ..n })
                }
                _ => None,
            };
            (f, hash, keep)
        })
        .collect();
    let files: HashMap<String, CachedHash> = hashed
        .iter()
        .filter_map(|(f, _, keep)| Some((f.abs.to_string_lossy().into_owned(), keep.clone()?)))
        .collect();
    if files != old {
        let file = HashCacheFile {
            format: HASH_CACHE_FORMAT.to_string(),
            files,
        };
        if let Ok(bytes) = serde_json::to_vec(&file) {
            let _ = strata_fs::write_atomic(cache, bytes);
        }
    }
    hashed.into_iter().map(|(f, h, _)| (f, h)).collect()
}

const HASH_CACHE_FORMAT: &str = "strata-source-hashes 1";

#[derive(serde::Serialize, serde::Deserialize)]
struct HashCacheFile {
    format: String,
    files: HashMap<String, CachedHash>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct CachedHash {
    dev: u64,
    ino: u64,
    len: u64,
    /// Nanoseconds since the epoch.
    mtime: i128,
    ctime: i128,
    hash: Option<ObjectId>,
}

impl CachedHash {
    fn of(m: &std::fs::Metadata) -> CachedHash {
        use std::os::unix::fs::MetadataExt;
        CachedHash {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ctime: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
            hash: None,
        }
    }

    fn same_file(&self, o: &CachedHash) -> bool {
        (self.dev, self.ino, self.len, self.mtime, self.ctime)
            == (o.dev, o.ino, o.len, o.mtime, o.ctime)
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn source(dir: &Path, rel: &str, text: &str) -> SourceFile {
        let abs = dir.join(rel);
        std::fs::write(&abs, text).unwrap();
        SourceFile {
            root: "ws".into(),
            rel: rel.into(),
            abs,
        }
    }

    fn hashes(files: &[SourceFile], cache: &Path, racy: Duration) -> Vec<Option<ObjectId>> {
        hash_sources_cached_within(files.to_vec(), cache, racy)
            .into_iter()
            .map(|(_, h)| h)
            .collect()
    }

    #[test]
    fn kept_hashes_are_used_while_the_file_is_the_same_and_a_write_is_always_seen() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("state/hashes.json");
        let files = vec![
            source(dir.path(), "a.rs", "fn a() {}"),
            source(dir.path(), "b.rs", "fn b() {}"),
        ];
        let truth = |t: &str| Some(ObjectId::of_bytes(t.as_bytes()));
        let first = hashes(&files, &cache, Duration::ZERO);
        assert_eq!(first, vec![truth("fn a() {}"), truth("fn b() {}")]);

        // The kept hash is what a second run reads (planted here: a wrong one shows it is used).
        let text = std::fs::read_to_string(&cache).unwrap();
        let planted = text.replace(
            &truth("fn a() {}").unwrap().to_hex(),
            &truth("planted").unwrap().to_hex(),
        );
        assert_ne!(planted, text);
        std::fs::write(&cache, planted).unwrap();
        assert_eq!(hashes(&files, &cache, Duration::ZERO)[0], truth("planted"));

        // A write of the same size with the old mtime put back: the ctime moved, so it is read.
        let mtime = filetime::FileTime::from_last_modification_time(
            &std::fs::metadata(&files[0].abs).unwrap(),
        );
        // (Later than the clock tick of the first write, as the 2 s window makes sure outside
        // this test: file times move in ticks of a few ms.)
        std::thread::sleep(Duration::from_millis(50));
        std::fs::write(&files[0].abs, "fn x() {}").unwrap();
        filetime::set_file_mtime(&files[0].abs, mtime).unwrap();
        assert_eq!(
            hashes(&files, &cache, Duration::ZERO)[0],
            truth("fn x() {}")
        );

        // Files changed within the racy window are not kept; a broken cache reads everything.
        let cache2 = dir.path().join("racy.json");
        hashes(&files, &cache2, Duration::from_secs(3600));
        let kept: HashCacheFile = serde_json::from_slice(
            &std::fs::read(&cache2).unwrap_or_default(),
        )
        .unwrap_or(HashCacheFile {
            format: String::new(),
            files: HashMap::new(),
        });
        assert!(kept.files.is_empty());
        std::fs::write(&cache, b"{ not json").unwrap();
        assert_eq!(
            hashes(&files, &cache, Duration::ZERO),
            vec![truth("fn x() {}"), truth("fn b() {}")]
        );
    }
}
