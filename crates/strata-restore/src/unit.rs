//! Restoring a layer's units.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;
use strata_layer::Group;
use strata_store::{Entry, EntryKind, FromLinked, Manifest, ObjectId, Store};

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
    /// Incremental dirs (one per crate and session) restored.
    pub incremental_dirs: usize,
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
///
/// `cargo_unlinks_outputs`: the cargo that builds in `target` deletes a bin or build script
/// before it links it again (cargo 1.66 and later), so those may be hardlinks to the store's
/// linked copies like rlibs ([`strata_layer::unlinked_before_relink`]); otherwise they are
/// copied, as every other executable is.
pub fn restore_layer(
    store: &Store,
    target: &Path,
    manifest: &Manifest,
    cargo_unlinks_outputs: bool,
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
    let w = Writer {
        store,
        target,
        safe_dirs: SafeDirs::new(target),
        progress,
        link: AtomicBool::new(strata_layer::linking_wanted()),
        unlinked_before_relink: if cargo_unlinks_outputs {
            strata_layer::unlinked_before_relink(&manifest.entries)
        } else {
            HashSet::new()
        },
    };
    let results: Vec<UnitOutcome> = units
        .par_iter()
        .map(|(_, entries)| w.restore_unit(entries))
        .collect();
    let mut stats = RestoreStats::default();
    // Blob → the files restored with it now (path in the target dir, mtime).
    let mut restored_blobs: HashMap<ObjectId, Vec<(String, strata_store::FileTime)>> =
        HashMap::new();
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
                for (blob, path, mtime) in blobs {
                    restored_blobs.entry(blob).or_default().push((path, mtime));
                }
            }
            UnitOutcome::Failed(why) => {
                stats.units_failed += 1;
                stats.problems.push(why);
            }
        }
    }
    // Uplifted copies only for units restored now: an uplifted file from a layer next to a unit
    // that was already there could be a different build of it. Cargo hardlinks an uplifted file
    // to its unit's output (`debug/rg` → `debug/deps/rg-…`); so do we when the layer says they
    // were one file (same blob, same mtime), which halves the bytes of a binary crate.
    for e in uplifted {
        let EntryKind::File { blob, size, .. } = &e.kind else {
            continue;
        };
        let Some(restored) = restored_blobs.get(blob) else {
            continue;
        };
        if let Some((src, _)) = restored.iter().find(|(_, mtime)| *mtime == e.mtime)
            && w.link_entry(src, e).is_ok()
        {
            stats.files += 1;
            progress(*size);
            continue;
        }
        match w.write_entries(&[e]) {
            Ok(w) => {
                stats.files += w.files;
                stats.bytes += w.bytes;
            }
            Err(why) => stats.problems.push(why),
        }
    }
    // Incremental dirs are independent of each other: restored in parallel, as units are.
    let absent: Vec<&Vec<&Entry>> = incremental
        .iter()
        .filter(|((profile, dir), _)| !target.join(profile).join("incremental").join(dir).exists())
        .map(|(_, entries)| entries)
        .collect();
    let written: Vec<Result<Written, String>> = absent
        .par_iter()
        .map(|entries| w.write_entries(entries))
        .collect();
    for w in written {
        match w {
            Ok(w) => {
                stats.incremental_dirs += 1;
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
        blobs: Vec<(ObjectId, String, strata_store::FileTime)>,
    },
    Failed(String),
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
    /// Each file written: its blob, path in the target dir and mtime.
    blobs: Vec<(ObjectId, String, strata_store::FileTime)>,
}

/// Large files that are copied rather than linked (executables, proc macros) are copied from a
/// linked copy from this size on; smaller ones are decompressed, which costs less than a copy.
const COPY_LINKED_MIN: u64 = 1 << 20;

/// Everything one restore writes with.
struct Writer<'a> {
    store: &'a Store,
    target: &'a Path,
    safe_dirs: SafeDirs,
    progress: &'a (dyn Fn(u64) + Sync),
    /// Cleared at the first link that fails for a reason of the filesystem (store on another
    /// device, read-only store): every later file is copied without trying.
    link: AtomicBool,
    /// Executables cargo deletes before linking them again: hardlinked like rlibs.
    unlinked_before_relink: HashSet<&'a str>,
}

impl Writer<'_> {
    fn restore_unit(&self, entries: &[&Entry]) -> UnitOutcome {
        // The fingerprint dir is how cargo (and we) know a unit exists.
        let Some(fp_dir) = entries.iter().find_map(|e| fingerprint_dir(&e.path)) else {
            return UnitOutcome::Failed(format!(
                "unit of {} has no fingerprint in the layer; skipped",
                entries.first().map(|e| e.path.as_str()).unwrap_or("?")
            ));
        };
        if self.target.join(&fp_dir).exists() {
            return UnitOutcome::Present;
        }
        let (fingerprints, rest): (Vec<&Entry>, Vec<&Entry>) =
            entries.iter().partition(|e| e.path.starts_with(&fp_dir));
        // Outputs first, fingerprint last: the fingerprint is the commit point.
        let ordered: Vec<&Entry> = rest.into_iter().chain(fingerprints).collect();
        match self.write_entries(&ordered) {
            Ok(w) => UnitOutcome::Restored {
                files: w.files,
                bytes: w.bytes,
                newest: w.newest,
                blobs: w.blobs,
            },
            Err(why) => UnitOutcome::Failed(why),
        }
    }

    /// Write all entries to temporary names, then rename them into place in order. On any
    /// failure, remove what was written and report why; nothing partial is left under a final
    /// name.
    fn write_entries(&self, entries: &[&Entry]) -> Result<Written, String> {
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
        // Executables staged so far: cargo hardlinks `build-script-build` to
        // `build_script_build-<hash>`; so do we.
        let mut executables: Vec<(ObjectId, strata_store::FileTime, PathBuf)> = Vec::new();
        for e in entries {
            let dest = self.target.join(&e.path);
            let staged_one = (|| -> Result<Option<PathBuf>, RestoreError> {
                let Some(parent) = dest.parent() else {
                    return Ok(None);
                };
                self.safe_dirs.ensure(parent)?;
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
                        let twin = executables
                            .iter()
                            .find(|(b, t, _)| b == blob && *t == e.mtime)
                            .and_then(|(_, _, p)| std::fs::hard_link(p, &tmp).ok());
                        // Every way comes with mode and mtime: a hardlink shares them with
                        // what it links to, a copy or a file written from the blob gets them
                        // set by the store.
                        if twin.is_none() && !self.try_linked(e, blob, *size, *executable, &tmp) {
                            self.store
                                .restore_file(blob, &tmp, *size, e.mtime, *executable)?;
                        }
                        if *executable && twin.is_none() {
                            executables.push((*blob, e.mtime, tmp.clone()));
                        }
                        written.bytes += size;
                        written.blobs.push((*blob, e.path.clone(), e.mtime));
                        (self.progress)(*size);
                        return Ok(Some(tmp));
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

    /// Put a file at `tmp` from the store's linked copy, as a hardlink (for files rustc
    /// replaces) or a copy (large files that must not be hardlinks: no decompression, no
    /// hashing, the kernel copies). False when it does not apply, or linking is off or
    /// failed: the caller decompresses the blob.
    fn try_linked(
        &self,
        e: &Entry,
        blob: &ObjectId,
        size: u64,
        executable: bool,
        tmp: &Path,
    ) -> bool {
        let how = if strata_layer::linkable(&e.path)
            || self.unlinked_before_relink.contains(e.path.as_str())
        {
            FromLinked::Hardlink
        } else if size >= COPY_LINKED_MIN {
            FromLinked::Copy
        } else {
            return false;
        };
        if !self.link.load(Ordering::Relaxed) {
            return false;
        }
        match self
            .store
            .put_from_linked(blob, size, e.mtime, executable, tmp, how)
        {
            Ok(()) => true,
            Err(err) => {
                // The filesystem refuses (another device, a read-only store): stop trying. A
                // corrupt or missing blob: the decompression reports it.
                if matches!(err, strata_store::StoreError::Io { .. }) {
                    self.link.store(false, Ordering::Relaxed);
                }
                let _ = std::fs::remove_file(tmp);
                false
            }
        }
    }

    /// Put `e` in place as a hardlink to `src` (a file restored now, relative to the target
    /// dir): through a temporary name and a rename, as every restored file.
    fn link_entry(&self, src: &str, e: &Entry) -> Result<(), RestoreError> {
        let dest = self.target.join(&e.path);
        if let Some(parent) = dest.parent() {
            self.safe_dirs.ensure(parent)?;
        }
        let tmp = tmp_path(&dest);
        std::fs::hard_link(self.target.join(src), &tmp).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &dest).map_err(|err| {
            let _ = std::fs::remove_file(&tmp);
            RestoreError::Io {
                path: dest.clone(),
                source: err,
            }
        })
    }
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
