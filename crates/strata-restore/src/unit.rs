//! Restoring a layer's units.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use strata_layer::Group;
use strata_store::{Entry, EntryKind, Manifest, ObjectId, Store};

use crate::{RestoreError, io_err, set_mtime};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreStats {
    pub units_restored: usize,
    /// Units already present in the target dir (their fingerprint dir exists): left alone.
    pub units_present: usize,
    /// Units not restored because a blob was missing or corrupt; cargo rebuilds them.
    pub units_failed: usize,
    pub files: usize,
    pub bytes: u64,
    /// Newest mtime among restored files.
    pub newest: Option<strata_store::FileTime>,
    /// One line per problem (corrupt blob, unsafe path): shown as one warning by the caller.
    pub problems: Vec<String>,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn tmp_path(dest: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.strata-tmp-{}-{n}", std::process::id()))
}

/// Restore every unit of `manifest` whose fingerprint dir is absent from `target`, plus the
/// uplifted copies of the units restored now and incremental dirs that are absent. A unit is
/// written to temporary names first and committed by renames, fingerprint files last: a killed
/// restore leaves a unit without fingerprint, which cargo rebuilds and the next restore replaces.
pub fn restore_layer(
    store: &Store,
    target: &Path,
    manifest: &Manifest,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RestoreStats, RestoreError> {
    let mut units: BTreeMap<(String, String), Vec<&Entry>> = BTreeMap::new();
    let mut uplifted = Vec::new();
    let mut incremental: BTreeMap<(String, String), Vec<&Entry>> = BTreeMap::new();
    for e in &manifest.entries {
        match strata_layer::classify(&e.path) {
            Group::Unit { profile, hash } => units.entry((profile, hash)).or_default().push(e),
            Group::Uplifted { .. } => uplifted.push(e),
            Group::Incremental { profile, dir } => {
                incremental.entry((profile, dir)).or_default().push(e)
            }
            Group::Ignored => {}
        }
    }
    let safe_dirs = SafeDirs::new(target);
    let results: Vec<UnitOutcome> = units
        .par_iter()
        .map(|(_, entries)| restore_unit(store, target, entries, &safe_dirs, progress))
        .collect();
    let mut stats = RestoreStats::default();
    let mut restored_blobs: HashSet<ObjectId> = HashSet::new();
    for r in results {
        match r {
            UnitOutcome::Present => stats.units_present += 1,
            UnitOutcome::Restored {
                files,
                bytes,
                newest,
                blobs,
            } => {
                stats.units_restored += 1;
                stats.files += files;
                stats.bytes += bytes;
                stats.newest = stats.newest.max(newest);
                restored_blobs.extend(blobs);
            }
            UnitOutcome::Failed(why) => {
                stats.units_failed += 1;
                stats.problems.push(why);
            }
        }
    }
    // Uplifted copies only for units restored now: an uplifted file from a layer next to a unit
    // that was already there could be a different build of it.
    for e in uplifted {
        let wanted = match &e.kind {
            EntryKind::File { blob, .. } => restored_blobs.contains(blob),
            _ => false,
        };
        if !wanted {
            continue;
        }
        match write_entries(store, target, &[e], &safe_dirs, progress) {
            Ok(w) => {
                stats.files += w.files;
                stats.bytes += w.bytes;
            }
            Err(why) => stats.problems.push(why),
        }
    }
    for ((profile, dir), entries) in incremental {
        let dest = target.join(&profile).join("incremental").join(&dir);
        if dest.exists() {
            continue;
        }
        match write_entries(store, target, &entries, &safe_dirs, progress) {
            Ok(w) => {
                stats.files += w.files;
                stats.bytes += w.bytes;
            }
            Err(why) => stats.problems.push(why),
        }
    }
    Ok(stats)
}

enum UnitOutcome {
    Present,
    Restored {
        files: usize,
        bytes: u64,
        newest: Option<strata_store::FileTime>,
        blobs: Vec<ObjectId>,
    },
    Failed(String),
}

fn restore_unit(
    store: &Store,
    target: &Path,
    entries: &[&Entry],
    safe_dirs: &SafeDirs,
    progress: &(dyn Fn(u64) + Sync),
) -> UnitOutcome {
    // The fingerprint dir is how cargo (and we) know a unit exists.
    let Some(fp_dir) = entries.iter().find_map(|e| fingerprint_dir(&e.path)) else {
        return UnitOutcome::Failed(format!(
            "unit of {} has no fingerprint in the layer; skipped",
            entries.first().map(|e| e.path.as_str()).unwrap_or("?")
        ));
    };
    if target.join(&fp_dir).exists() {
        return UnitOutcome::Present;
    }
    let (fingerprints, rest): (Vec<&Entry>, Vec<&Entry>) =
        entries.iter().partition(|e| e.path.starts_with(&fp_dir));
    // Outputs first, fingerprint last: the fingerprint is the commit point.
    let ordered: Vec<&Entry> = rest.into_iter().chain(fingerprints).collect();
    match write_entries(store, target, &ordered, safe_dirs, progress) {
        Ok(w) => UnitOutcome::Restored {
            files: w.files,
            bytes: w.bytes,
            newest: w.newest,
            blobs: w.blobs,
        },
        Err(why) => UnitOutcome::Failed(why),
    }
}

/// `release/.fingerprint/foo-0123456789abcdef/lib-foo` → `release/.fingerprint/foo-0123456789abcdef`.
fn fingerprint_dir(path: &str) -> Option<String> {
    let i = path.find("/.fingerprint/")?;
    let rest = &path[i + "/.fingerprint/".len()..];
    let name = rest.split('/').next()?;
    Some(format!("{}/.fingerprint/{}", &path[..i], name))
}

struct Written {
    files: usize,
    bytes: u64,
    newest: Option<strata_store::FileTime>,
    blobs: Vec<ObjectId>,
}

/// Write all entries to temporary names, then rename them into place in order. On any failure,
/// remove what was written and report why; nothing partial is left under a final name.
fn write_entries(
    store: &Store,
    target: &Path,
    entries: &[&Entry],
    safe_dirs: &SafeDirs,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Written, String> {
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(entries.len());
    let cleanup = |staged: &[(PathBuf, PathBuf)]| {
        for (tmp, _) in staged {
            let _ = std::fs::remove_file(tmp);
        }
    };
    let mut written = Written {
        files: 0,
        bytes: 0,
        newest: None,
        blobs: Vec::new(),
    };
    for e in entries {
        let dest = target.join(&e.path);
        let staged_one = (|| -> Result<Option<PathBuf>, RestoreError> {
            let Some(parent) = dest.parent() else {
                return Ok(None);
            };
            safe_dirs.ensure(parent)?;
            let tmp = tmp_path(&dest);
            match &e.kind {
                EntryKind::Dir => {
                    std::fs::create_dir_all(&dest).map_err(io_err(&dest))?;
                    return Ok(None);
                }
                EntryKind::File {
                    blob,
                    size,
                    executable,
                } => {
                    store.restore_blob(blob, &tmp)?;
                    if *executable {
                        use std::os::unix::fs::PermissionsExt;
                        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
                            .map_err(io_err(&tmp))?;
                    }
                    written.bytes += size;
                    written.blobs.push(*blob);
                    progress(*size);
                }
                EntryKind::Symlink { target: link } => {
                    std::os::unix::fs::symlink(link, &tmp).map_err(io_err(&tmp))?;
                }
            }
            set_mtime(&tmp, e.mtime).map_err(io_err(&tmp))?;
            Ok(Some(tmp))
        })();
        match staged_one {
            Ok(Some(tmp)) => staged.push((tmp, dest)),
            Ok(None) => {}
            Err(err) => {
                cleanup(&staged);
                return Err(format!("{}: {err}", e.path));
            }
        }
        written.newest = written.newest.max(Some(e.mtime));
    }
    for (i, (tmp, dest)) in staged.iter().enumerate() {
        if let Err(err) = std::fs::rename(tmp, dest) {
            cleanup(&staged[i..]);
            return Err(format!("{}: {err}", dest.display()));
        }
        written.files += 1;
    }
    Ok(written)
}

/// Creates directories under the target dir, refusing to go through a symlink: a target dir
/// where `release/deps` links elsewhere would let a layer write outside it.
struct SafeDirs {
    root: PathBuf,
    checked: std::sync::Mutex<HashMap<PathBuf, ()>>,
}

impl SafeDirs {
    fn new(root: &Path) -> SafeDirs {
        SafeDirs {
            root: root.to_path_buf(),
            checked: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn ensure(&self, dir: &Path) -> Result<(), RestoreError> {
        if let Ok(c) = self.checked.lock()
            && c.contains_key(dir)
        {
            return Ok(());
        }
        let rel = dir
            .strip_prefix(&self.root)
            .map_err(|_| RestoreError::Unsafe {
                path: dir.to_path_buf(),
                reason: "outside the target dir".into(),
            })?;
        let mut cur = self.root.clone();
        std::fs::create_dir_all(&cur).map_err(io_err(&cur))?;
        for c in rel.components() {
            cur.push(c);
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(RestoreError::Unsafe {
                        path: cur,
                        reason: "a symlink in the target dir".into(),
                    });
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(RestoreError::Unsafe {
                        path: cur,
                        reason: "a file where a directory is expected".into(),
                    });
                }
                Err(_) => match std::fs::create_dir(&cur) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err(&cur)(e)),
                },
            }
        }
        if let Ok(mut c) = self.checked.lock() {
            c.insert(dir.to_path_buf(), ());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_dir_of_entry() {
        assert_eq!(
            fingerprint_dir("release/.fingerprint/foo-0123456789abcdef/lib-foo").as_deref(),
            Some("release/.fingerprint/foo-0123456789abcdef")
        );
        assert_eq!(
            fingerprint_dir("release/deps/libfoo-0123456789abcdef.rlib"),
            None
        );
    }
}
