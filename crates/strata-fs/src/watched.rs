//! Caches of answers that hold while some files stay as they were: `cargo metadata`'s output
//! (while `Cargo.lock`, the manifests and the cargo config files have the same bytes), the
//! toolchain's version answers and a tool's `--version` (while its binaries are the same files).
//!
//! An entry is one file: a JSON header line (format, how files are compared, the watched files
//! and what they were when the entry was written), then the answer's bytes. It is written
//! atomically, and used only if every watched file still compares equal; a broken, foreign or
//! stale entry is a miss. A hit sets the entry's mtime to now, so a gc by age (`strata store gc`
//! on the store's `cache/`) keeps what is in use.

use std::path::{Path, PathBuf};

use crate::{WriteError, content_hash, identity, write_atomic};

/// How a watched file is compared with what it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Watch {
    /// By its bytes (BLAKE3): for small files that tools rewrite with the same content.
    Content,
    /// By [`identity`] (path, size, device, inode, mtime), without reading it: for binaries.
    Identity,
}

impl Watch {
    /// What `file` is now; `None` when absent. `Err` when it exists but cannot be read.
    fn stamp(self, file: &Path) -> std::io::Result<Option<String>> {
        match self {
            Watch::Content => content_hash(file),
            Watch::Identity => Ok(identity(file)),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    format: String,
    watch: Watch,
    files: Vec<(PathBuf, Option<String>)>,
}

/// A directory of entries, each named by its caller and valid while its watched files are.
#[derive(Debug, Clone)]
pub struct WatchedCache {
    dir: PathBuf,
    /// Names the entry layout and the caller's key scheme: bumped by the caller when either
    /// changes, so older entries become misses.
    format: String,
}

impl WatchedCache {
    pub fn new(dir: impl Into<PathBuf>, format: impl Into<String>) -> WatchedCache {
        WatchedCache {
            dir: dir.into(),
            format: format.into(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of entry `name` (a name the caller derives from its key, e.g. a hex digest).
    pub fn entry_path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The answer kept as `name`, if there is one and every file it watches is unchanged.
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        let path = self.entry_path(name);
        let bytes = std::fs::read(&path).ok()?;
        let nl = bytes.iter().position(|&b| b == b'\n')?;
        let header: Header = serde_json::from_slice(&bytes[..nl]).ok()?;
        if header.format != self.format {
            return None;
        }
        for (file, was) in &header.files {
            if header.watch.stamp(file).ok()? != *was {
                return None;
            }
        }
        // Used now: a gc by age keeps it.
        let _ = std::fs::File::options()
            .append(true)
            .open(&path)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        Some(bytes[nl + 1..].to_vec())
    }

    /// Keep `answer` as `name`, valid while each of `files` compares equal (by `watch`) to
    /// what it is now. A file that is absent now is watched for staying absent. Fails when a
    /// watched file cannot be read or the entry cannot be written; callers of a cache usually
    /// ignore that (it only costs asking again).
    pub fn put(
        &self,
        name: &str,
        files: &[PathBuf],
        watch: Watch,
        answer: &[u8],
    ) -> Result<(), WriteError> {
        let path = self.entry_path(name);
        let mut stamped = Vec::with_capacity(files.len());
        for f in files {
            let stamp = watch.stamp(f).map_err(|source| WriteError {
                path: path.clone(),
                source,
            })?;
            stamped.push((f.clone(), stamp));
        }
        let header = Header {
            format: self.format.clone(),
            watch,
            files: stamped,
        };
        let mut bytes = serde_json::to_vec(&header).map_err(|e| WriteError {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        bytes.extend_from_slice(answer);
        write_atomic(&path, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_watch_hits_until_the_bytes_change_or_an_absent_file_appears() {
        let dir = tempfile::tempdir().unwrap();
        let cache = WatchedCache::new(dir.path().join("cache"), "test 1");
        let lock = dir.path().join("Cargo.lock");
        let absent = dir.path().join("config.toml");
        std::fs::write(&lock, "a").unwrap();
        let files = [lock.clone(), absent.clone()];
        cache
            .put("e", &files, Watch::Content, b"answer\nwith lines")
            .unwrap();
        assert_eq!(cache.get("e").as_deref(), Some(&b"answer\nwith lines"[..]));
        // Same bytes written again (a new mtime): still a hit.
        std::fs::write(&lock, "a").unwrap();
        assert!(cache.get("e").is_some());
        std::fs::write(&lock, "b").unwrap();
        assert_eq!(cache.get("e"), None);
        std::fs::write(&lock, "a").unwrap();
        std::fs::write(&absent, "").unwrap();
        assert_eq!(cache.get("e"), None);
        assert_eq!(cache.get("other"), None);
    }

    #[test]
    fn identity_watch_misses_when_the_file_is_replaced_even_with_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = WatchedCache::new(dir.path(), "test 1");
        let bin = dir.path().join("rustc");
        std::fs::write(&bin, "one").unwrap();
        cache
            .put("e", std::slice::from_ref(&bin), Watch::Identity, b"1.95")
            .unwrap();
        assert_eq!(cache.get("e").as_deref(), Some(&b"1.95"[..]));
        // Keep the first file alive so the new one cannot reuse its inode.
        let old = dir.path().join("old");
        std::fs::rename(&bin, &old).unwrap();
        std::fs::write(&bin, "one").unwrap();
        assert_eq!(cache.get("e"), None);
    }

    #[test]
    fn another_format_and_broken_entries_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = WatchedCache::new(dir.path(), "test 1");
        v1.put("e", &[], Watch::Content, b"x").unwrap();
        assert!(v1.get("e").is_some());
        assert_eq!(WatchedCache::new(dir.path(), "test 2").get("e"), None);
        for broken in [
            &b"no newline"[..],
            b"{\n",
            b"",
            b"{\"format\":\"test 1\"}\nx",
        ] {
            std::fs::write(v1.entry_path("e"), broken).unwrap();
            assert_eq!(v1.get("e"), None);
        }
    }

    #[test]
    fn a_hit_marks_the_entry_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = WatchedCache::new(dir.path(), "test 1");
        cache.put("e", &[], Watch::Content, b"x").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .append(true)
            .open(cache.entry_path("e"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(cache.get("e").is_some());
        let mtime = std::fs::metadata(cache.entry_path("e"))
            .unwrap()
            .modified()
            .unwrap();
        assert!(mtime > old);
    }
}
