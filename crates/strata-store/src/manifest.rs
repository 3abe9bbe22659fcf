use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::{ObjectId, StoreError};

/// The only manifest format this crate reads and writes.
pub const MANIFEST_FORMAT: u32 = 1;

/// Resolving one symlink may follow at most this many symlinks in all, as Linux allows in one
/// path lookup before ELOOP. A bound on the depth alone is not enough: links whose targets name
/// the next link twice (`l0 -> l1/../l1`, `l1 -> l2/../l2`, ...) double the work at each level.
const MAX_SYMLINK_FOLLOWS: usize = 40;

/// One layer: the files under a cargo target dir plus what they were built from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    pub kind: String,
    pub key: String,
    pub parent: Option<ObjectId>,
    pub created_unix_secs: u64,
    pub entries: Vec<Entry>,
    pub sources: Vec<SourceStamp>,
    pub meta: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the target dir, '/'-separated.
    pub path: String,
    pub mtime: FileTime,
    pub kind: EntryKind,
}

/// An exact mtime (nanosecond precision): cargo's freshness checks compare
/// mtimes, so restoring them exactly matters.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileTime {
    pub secs: i64,
    pub nanos: u32,
}

impl FileTime {
    pub fn from_system_time(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => FileTime {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: d.subsec_nanos(),
            },
            Err(e) => {
                // Before the epoch: floor to whole seconds, keep nanos positive.
                let d = e.duration();
                let mut secs = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                let mut nanos = d.subsec_nanos();
                if nanos > 0 {
                    secs -= 1;
                    nanos = 1_000_000_000 - nanos;
                }
                FileTime { secs, nanos }
            }
        }
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }

    pub fn from_nanos(n: i128) -> Self {
        FileTime {
            secs: i64::try_from(n.div_euclid(1_000_000_000)).unwrap_or(i64::MAX),
            nanos: u32::try_from(n.rem_euclid(1_000_000_000)).unwrap_or(0),
        }
    }

    pub fn to_system_time(&self) -> SystemTime {
        let nanos = Duration::from_nanos(u64::from(self.nanos.min(999_999_999)));
        if self.secs >= 0 {
            UNIX_EPOCH + Duration::from_secs(self.secs.unsigned_abs()) + nanos
        } else {
            UNIX_EPOCH - Duration::from_secs(self.secs.unsigned_abs()) + nanos
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EntryKind {
    File {
        blob: ObjectId,
        size: u64,
        executable: bool,
    },
    Symlink {
        target: String,
    },
    Dir,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SourceStamp {
    /// Which tree `path` is relative to, e.g. "ws" for the workspace.
    pub root: String,
    pub path: String,
    pub hash: ObjectId,
    pub mtime: FileTime,
    pub input: bool,
}

impl Manifest {
    /// Manifests are untrusted input (they may come from a remote), so every
    /// path is checked before anything could be written from it: no absolute
    /// paths, no `.`/`..`/empty components, no duplicates, no symlink that
    /// points outside the root, and nothing placed *through* a symlink or file.
    pub fn validate(&self) -> Result<(), StoreError> {
        let invalid = |reason: String| StoreError::Invalid { reason };
        if self.format != MANIFEST_FORMAT {
            return Err(invalid(format!(
                "format {} is not supported (expected {MANIFEST_FORMAT})",
                self.format
            )));
        }

        let mut kinds: HashMap<&str, &EntryKind> = HashMap::with_capacity(self.entries.len());
        for e in &self.entries {
            check_rel_path(&e.path).map_err(|why| invalid(format!("entry {:?}: {why}", e.path)))?;
            check_time(e.mtime).map_err(|why| invalid(format!("entry {:?}: {why}", e.path)))?;
            if kinds.insert(e.path.as_str(), &e.kind).is_some() {
                return Err(invalid(format!("entry {:?}: duplicate path", e.path)));
            }
        }

        // Every sum over a layer's sizes (progress, transfer totals, restore stats) must fit.
        self.entries
            .iter()
            .try_fold(0u64, |total, e| match e.kind {
                EntryKind::File { size, .. } => total.checked_add(size),
                _ => Some(total),
            })
            .ok_or_else(|| invalid("the file sizes add up to more than 2^64 bytes".into()))?;

        // Second pass: needs the complete path map.
        let symlinks: HashMap<&str, &str> = self
            .entries
            .iter()
            .filter_map(|e| match &e.kind {
                EntryKind::Symlink { target } => Some((e.path.as_str(), target.as_str())),
                _ => None,
            })
            .collect();
        for e in &self.entries {
            for (i, _) in e.path.match_indices('/') {
                let prefix = &e.path[..i];
                match kinds.get(prefix) {
                    Some(EntryKind::Symlink { .. }) => {
                        return Err(invalid(format!(
                            "entry {:?}: goes through symlink {prefix:?}",
                            e.path
                        )));
                    }
                    Some(EntryKind::File { .. }) => {
                        return Err(invalid(format!(
                            "entry {:?}: goes through file {prefix:?}",
                            e.path
                        )));
                    }
                    _ => {}
                }
            }
            if let EntryKind::Symlink { target } = &e.kind {
                check_symlink(&e.path, target, &symlinks)
                    .map_err(|why| invalid(format!("symlink {:?} -> {target:?}: {why}", e.path)))?;
            }
        }

        for s in &self.sources {
            check_component(&s.root)
                .map_err(|why| invalid(format!("source {:?} root {:?}: {why}", s.path, s.root)))?;
            check_rel_path(&s.path)
                .map_err(|why| invalid(format!("source {}:{:?}: {why}", s.root, s.path)))?;
            check_time(s.mtime)
                .map_err(|why| invalid(format!("source {}:{:?}: {why}", s.root, s.path)))?;
        }
        Ok(())
    }

    /// Sum of the uncompressed sizes of all file entries.
    pub fn total_file_bytes(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| match e.kind {
                EntryKind::File { size, .. } => size,
                _ => 0,
            })
            .fold(0u64, u64::saturating_add)
    }

    /// Distinct blobs this manifest needs.
    pub fn blob_ids(&self) -> HashSet<ObjectId> {
        self.entries
            .iter()
            .filter_map(|e| match e.kind {
                EntryKind::File { blob, .. } => Some(blob),
                _ => None,
            })
            .collect()
    }
}

fn check_time(t: FileTime) -> Result<(), String> {
    if t.nanos >= 1_000_000_000 {
        return Err(format!("mtime nanos {} out of range", t.nanos));
    }
    Ok(())
}

fn looks_absolute(p: &str) -> bool {
    let b = p.as_bytes();
    p.starts_with('/') || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

/// A relative, '/'-separated path with only normal components.
fn check_rel_path(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("empty path".into());
    }
    if looks_absolute(p) {
        return Err("absolute path".into());
    }
    if p.contains('\\') {
        return Err("backslash in path".into());
    }
    if p.contains('\0') {
        return Err("NUL byte in path".into());
    }
    for c in p.split('/') {
        match c {
            "" => return Err("empty path component".into()),
            "." => return Err("'.' path component".into()),
            ".." => return Err("'..' path component".into()),
            _ => {}
        }
    }
    Ok(())
}

/// A single name of [A-Za-z0-9._-] that is not `.` or `..` (ref path
/// components and source roots).
pub(crate) fn check_component(c: &str) -> Result<(), String> {
    if c.is_empty() {
        return Err("empty name".into());
    }
    if c == "." || c == ".." {
        return Err(format!("{c:?} is not allowed"));
    }
    if c.len() > 255 {
        return Err("name longer than 255 bytes".into());
    }
    if let Some(ch) = c
        .chars()
        .find(|ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-')))
    {
        return Err(format!("character {ch:?} is not allowed"));
    }
    Ok(())
}

/// Resolve the link target relative to the link's directory, following other
/// symlinks of this manifest (a lexical check alone is fooled by e.g.
/// `y -> .` plus `x -> y/..`), and fail if it ever climbs above the root.
fn check_symlink(path: &str, target: &str, symlinks: &HashMap<&str, &str>) -> Result<(), String> {
    if target.is_empty() {
        return Err("empty target".into());
    }
    if looks_absolute(target) {
        return Err("absolute target".into());
    }
    if target.contains('\\') {
        return Err("backslash in target".into());
    }
    if target.contains('\0') {
        return Err("NUL byte in target".into());
    }
    let mut dir: Vec<&str> = path.split('/').collect();
    dir.pop();
    resolve(dir, target, symlinks, &mut 0).map(|_| ())
}

fn resolve<'a>(
    mut stack: Vec<&'a str>,
    target: &'a str,
    symlinks: &HashMap<&str, &'a str>,
    follows: &mut usize,
) -> Result<Vec<&'a str>, String> {
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err("target leaves the root".into());
                }
            }
            name => {
                stack.push(name);
                if let Some(next) = symlinks.get(stack.join("/").as_str()) {
                    *follows += 1;
                    if *follows > MAX_SYMLINK_FOLLOWS {
                        return Err("too many levels of symlinks".into());
                    }
                    stack.pop();
                    stack = resolve(stack, next, symlinks, follows)?;
                }
            }
        }
    }
    Ok(stack)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_time_round_trip() {
        for t in [
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            UNIX_EPOCH - Duration::new(5, 250_000_000),
            UNIX_EPOCH,
        ] {
            let ft = FileTime::from_system_time(t);
            assert!(ft.nanos < 1_000_000_000);
            assert_eq!(ft.to_system_time(), t);
        }
        let ft = FileTime::from_system_time(UNIX_EPOCH - Duration::new(5, 250_000_000));
        assert_eq!(
            ft,
            FileTime {
                secs: -6,
                nanos: 750_000_000
            }
        );
    }
}
