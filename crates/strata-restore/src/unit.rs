//! Restoring a layer's units.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use strata_layer::Group;
use strata_store::{Entry, EntryKind, FileTime, FromLinked, Manifest, ObjectId, Store};

use crate::{RestoreError, io_err, set_mtime};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreStats {
    pub units_restored: usize,
    /// `(profile, hash)` of each unit restored now (what the run may claim time saved for).
    pub restored: Vec<(String, String)>,
    /// Units already present in the target dir (their fingerprint dir exists): left alone.
    pub units_present: usize,
    /// Units not restored because a blob was missing or corrupt; cargo rebuilds them.
    pub units_failed: usize,
    /// Units of the layer not restored because units already here are other builds than the
    /// layer's ([`RestoreStats::foreign`]); cargo builds them.
    pub units_skipped: usize,
    /// Units here that are other builds than the layer's (by their fingerprint dir's name).
    pub foreign: Vec<String>,
    pub files: usize,
    pub bytes: u64,
    /// Incremental dirs (one per crate and session) restored.
    pub incremental_dirs: usize,
    /// Newest mtime among restored files.
    pub newest: Option<strata_store::FileTime>,
    /// One line per problem (corrupt blob, unsafe path): shown as one warning by the caller.
    pub problems: Vec<String>,
}

/// Where a file is made before the rename that puts it in place.
fn tmp_path(dest: &Path) -> PathBuf {
    strata_fs::temp_name(dest)
}

/// Restore every unit of `manifest` whose hash files ([`commits_unit`]) are absent from
/// `target`, plus the uplifted copies of the units restored now and incremental dirs that are
/// absent. A unit's outputs are created at their final names first; its fingerprint files come
/// last, and last of them the hash files cargo compares: a killed restore leaves a unit without
/// its hash, which cargo rebuilds, or the next restore restores over what was left.
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
    restore_layer_newer_than(
        store,
        target,
        manifest,
        cargo_unlinks_outputs,
        None,
        progress,
    )
}

/// [`restore_layer`], with every restored file newer than `floor` too: for a layer restored over
/// sources whose mtimes were set for another layer, when the caller knows the sources' content
/// is what this layer's units were built from (its exact key).
pub fn restore_layer_newer_than(
    store: &Store,
    target: &Path,
    manifest: &Manifest,
    cargo_unlinks_outputs: bool,
    floor: Option<FileTime>,
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
        repeated: repeated_small_blobs(&manifest.entries),
        contents: std::sync::Mutex::new(HashMap::new()),
    };
    // Units already here may come from another layer, built at other times. cargo takes a unit
    // whose dependency is newer than its own outputs for stale, so this layer's units go in
    // shifted by how much newer than in this layer its units already here are: their order
    // within the layer stays, and none is older than a dependency already here.
    // Which units are here already (read once), and by how much newer than in this layer.
    let keys: Vec<(String, String)> = units.keys().cloned().collect();
    let present: Vec<Option<i128>> = units
        .par_iter()
        .map(|(_, entries)| present_newer_by(target, entries))
        .collect();
    // rustc names each build of a crate by a hash (the SVH) that its dependents record, and
    // that hash covers the paths it compiled from: a unit here built at another path, under
    // another CARGO_HOME or from other sources is another build, and a unit of this layer put
    // beside it would be refused ("found possibly newer version of crate", E0460). Which of the
    // layer's units depend on it is cargo's knowledge, not the layer's: none of them goes in.
    let foreign: Vec<String> = if present.iter().any(Option::is_none) {
        let here: Vec<&Vec<&Entry>> = units
            .values()
            .zip(&present)
            .filter(|(_, here)| here.is_some())
            .map(|(entries, _)| entries)
            .collect();
        here.into_par_iter()
            .filter(|entries| !same_build(store, target, entries))
            .map(|entries| {
                entries
                    .iter()
                    .find_map(|e| fingerprint_dir(&e.path))
                    .map(|fp| fp.rsplit('/').next().unwrap_or(&fp).to_string())
                    .unwrap_or_default()
            })
            .collect()
    } else {
        Vec::new()
    };
    let shift = present.iter().flatten().copied().max().unwrap_or(0).max(0);
    let oldest = units.values().flatten().map(|e| e.mtime.as_nanos()).min();
    let shift = match (floor, oldest) {
        (Some(floor), Some(oldest)) => shift.max(floor.as_nanos() + 1 - oldest),
        _ => shift,
    };
    let shifted: Vec<Vec<Entry>>;
    let shifted_uplifted: Vec<Entry>;
    let units: Vec<Vec<&Entry>> = if shift > 0 {
        let later = |e: &Entry| Entry {
            mtime: FileTime::from_nanos(e.mtime.as_nanos() + shift),
            ..e.clone()
        };
        shifted = units
            .values()
            .map(|es| es.iter().map(|e| later(e)).collect())
            .collect();
        shifted_uplifted = uplifted.iter().map(|e| later(e)).collect();
        uplifted = shifted_uplifted.iter().collect();
        shifted.iter().map(|es| es.iter().collect()).collect()
    } else {
        units.into_values().collect()
    };
    let results: Vec<UnitOutcome> = units
        .par_iter()
        .zip(&present)
        .map(|(entries, present)| match present {
            Some(_) => UnitOutcome::Present,
            None if !foreign.is_empty() => UnitOutcome::Skipped,
            None => w.restore_unit(entries),
        })
        .collect();
    let mut stats = RestoreStats {
        foreign,
        ..RestoreStats::default()
    };
    // Blob → the files restored with it now (path in the target dir, mtime).
    let mut restored_blobs: HashMap<ObjectId, Vec<(String, strata_store::FileTime)>> =
        HashMap::new();
    for (r, key) in results.into_iter().zip(keys) {
        match r {
            UnitOutcome::Present => stats.units_present += 1,
            UnitOutcome::Skipped => stats.units_skipped += 1,
            UnitOutcome::Restored {
                files,
                bytes,
                newest,
                blobs,
            } => {
                stats.units_restored += 1;
                stats.restored.push(key);
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

/// `None` when the unit is absent from `target`; else how many nanoseconds newer its hash files
/// are there than in the layer (0 or less: not newer).
///
/// A unit is there when its hash files are (cargo writes them last too), and none is empty (an
/// empty one is what a killed writer opened and never wrote): a unit that a killed restore or a
/// killed cargo left without them is restored again, over what it left. A unit without hash
/// files in the layer is there when its fingerprint dir is.
fn present_newer_by(target: &Path, entries: &[&Entry]) -> Option<i128> {
    let fp = entries.iter().find_map(|e| fingerprint_dir(&e.path))?;
    let mut newer = None;
    for e in entries
        .iter()
        .filter(|e| e.path.starts_with(&fp) && commits_unit(&e.path))
    {
        let m = std::fs::symlink_metadata(target.join(&e.path)).ok()?;
        if m.len() == 0 {
            return None;
        }
        let here = strata_layer::mtime_of(&m).as_nanos() - e.mtime.as_nanos();
        newer = newer.max(Some(here));
    }
    match newer {
        Some(n) => Some(n),
        None => target.join(fp).exists().then_some(0),
    }
}

/// Files up to this size whose content is in the layer more than once are read once.
const REPEATED_MAX: u64 = 64 << 10;

/// The blobs of small files that the layer holds more than once.
fn repeated_small_blobs(entries: &[Entry]) -> HashSet<ObjectId> {
    let mut seen = HashSet::new();
    let mut repeated = HashSet::new();
    for e in entries {
        if let EntryKind::File { blob, size, .. } = &e.kind
            && *size <= REPEATED_MAX
            && !seen.insert(*blob)
        {
            repeated.insert(*blob);
        }
    }
    repeated
}

enum UnitOutcome {
    Present,
    /// Left to cargo: units here are other builds than the layer's.
    Skipped,
    Restored {
        files: usize,
        bytes: u64,
        newest: Option<strata_store::FileTime>,
        blobs: Vec<(ObjectId, String, strata_store::FileTime)>,
    },
    Failed(String),
}

/// Whether the unit here is the build the layer holds: its outputs that carry the crate's build
/// hash (the `.rmeta`, a proc macro's or dylib's `.so`; an `.rlib` without `.rmeta` beside it)
/// have the layer's bytes. A hardlink to the store's linked copy of the blob has them without
/// being read.
fn same_build(store: &Store, target: &Path, entries: &[&Entry]) -> bool {
    let has_rmeta = entries.iter().any(|e| e.path.ends_with(".rmeta"));
    let names_build = |p: &str| {
        p.ends_with(".rmeta")
            || p.ends_with(".so")
            || p.ends_with(".dylib")
            || (!has_rmeta && p.ends_with(".rlib"))
    };
    entries
        .iter()
        .filter(|e| e.path.contains("/deps/") && names_build(&e.path))
        .all(|e| {
            let EntryKind::File { blob, size, .. } = &e.kind else {
                return true;
            };
            let file = target.join(&e.path);
            std::fs::symlink_metadata(&file).is_ok_and(|md| md.len() == *size)
                && (store.is_linked_copy(blob, &file)
                    || strata_layer::hash_file(&file).is_ok_and(|h| h == *blob))
        })
}

/// `release/.fingerprint/foo-0123456789abcdef/lib-foo` → `release/.fingerprint/foo-0123456789abcdef`.
pub(crate) fn fingerprint_dir(path: &str) -> Option<String> {
    let i = path.find("/.fingerprint/")?;
    let rest = &path[i + "/.fingerprint/".len()..];
    let name = rest.split('/').next()?;
    Some(format!("{}/.fingerprint/{}", &path[..i], name))
}

/// Whether a file of a fingerprint dir is one of the hashes cargo compares to call a unit fresh
/// (`lib-foo`, `run-build-script-build-script-build`, ...), as opposed to what cargo reads
/// only after that (`dep-lib-foo`, `lib-foo.json`, `output-lib-foo`, `invoked.timestamp`).
/// Without its hash file a unit is not fresh, whatever else is there.
pub(crate) fn commits_unit(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    !(name.ends_with(".json")
        || name.starts_with("dep-")
        || name.starts_with("output-")
        || name == "invoked.timestamp")
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

enum Linked {
    Done,
    No,
    /// A file is at the destination already: left alone.
    InTheWay(strata_store::StoreError),
}

/// Whether `err` says a file was already where a new one had to go.
fn already_exists(err: &RestoreError) -> bool {
    match err {
        RestoreError::Io { source, .. } => source.kind() == std::io::ErrorKind::AlreadyExists,
        RestoreError::Store(e) => e.is_already_exists(),
        RestoreError::Unsafe { .. } => false,
    }
}

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
    /// Small blobs that more than one file of the layer is made of (every unit has the same
    /// `invoked.timestamp`): read from the store once, kept in `contents`.
    repeated: HashSet<ObjectId>,
    contents: std::sync::Mutex<HashMap<ObjectId, std::sync::Arc<Vec<u8>>>>,
}

impl Writer<'_> {
    /// Restore a unit that [`present_newer_by`] found absent.
    fn restore_unit(&self, entries: &[&Entry]) -> UnitOutcome {
        // The fingerprint dir is how cargo (and we) know a unit exists.
        let Some(fp_dir) = entries.iter().find_map(|e| fingerprint_dir(&e.path)) else {
            return UnitOutcome::Failed(format!(
                "unit of {} has no fingerprint in the layer; skipped",
                entries.first().map(|e| e.path.as_str()).unwrap_or("?")
            ));
        };
        let (mut fingerprints, rest): (Vec<&Entry>, Vec<&Entry>) =
            entries.iter().partition(|e| e.path.starts_with(&fp_dir));
        let fp_abs = self.target.join(&fp_dir);
        let made = match self.safe_dirs.ensure_made(&fp_abs) {
            Ok(made) => made,
            Err(err) => return UnitOutcome::Failed(format!("{fp_dir}: {err}")),
        };
        // Outputs first, then the fingerprint files, the hashes cargo compares last: a unit
        // killed before its last file has no hash (or an empty one), which cargo rebuilds.
        fingerprints.sort_by_key(|e| commits_unit(&e.path));
        let ordered: Vec<&Entry> = rest.into_iter().chain(fingerprints).collect();
        match self.write_entries(&ordered) {
            Ok(w) => UnitOutcome::Restored {
                files: w.files,
                bytes: w.bytes,
                newest: w.newest,
                blobs: w.blobs,
            },
            Err(why) => {
                // Made now and emptied by the failed write: gone, as before the restore.
                if made {
                    let _ = std::fs::remove_dir(&fp_abs);
                }
                UnitOutcome::Failed(why)
            }
        }
    }

    /// Write all entries in order. Files are created at their final names, never through a file
    /// that is there already; where one is, the file goes to a temporary name that is renamed
    /// into place after every other file. On any failure, remove what was written and report
    /// why.
    fn write_entries(&self, entries: &[&Entry]) -> Result<Written, String> {
        // (written at, final name): equal when written in place.
        let mut placed: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(entries.len());
        let cleanup = |placed: &[(PathBuf, PathBuf)]| {
            for (at, _) in placed {
                let _ = std::fs::remove_file(at);
            }
        };
        let mut written = Written {
            files: 0,
            bytes: 0,
            newest: None,
            blobs: Vec::new(),
        };
        // Executables written so far: cargo hardlinks `build-script-build` to
        // `build_script_build-<hash>`; so do we.
        let mut executables: Vec<(ObjectId, strata_store::FileTime, PathBuf)> = Vec::new();
        for e in entries {
            let dest = self.target.join(&e.path);
            let placed_one = (|| -> Result<Option<PathBuf>, RestoreError> {
                let Some(parent) = dest.parent() else {
                    return Ok(None);
                };
                self.safe_dirs.ensure(parent)?;
                match &e.kind {
                    EntryKind::Dir => {
                        std::fs::create_dir_all(&dest).map_err(io_err(&dest))?;
                        Ok(None)
                    }
                    EntryKind::File {
                        blob,
                        size,
                        executable,
                    } => {
                        let twin = executables
                            .iter()
                            .find(|(b, t, _)| b == blob && *t == e.mtime)
                            .map(|(_, _, p)| p.clone());
                        let at = match self.put_file(e, &dest, twin.as_deref()) {
                            Err(err) if already_exists(&err) => {
                                self.put_file(e, &tmp_path(&dest), twin.as_deref())?
                            }
                            other => other?,
                        };
                        if *executable && twin.is_none() {
                            executables.push((*blob, e.mtime, at.clone()));
                        }
                        written.bytes += size;
                        written.blobs.push((*blob, e.path.clone(), e.mtime));
                        (self.progress)(*size);
                        Ok(Some(at))
                    }
                    EntryKind::Symlink { target: link } => {
                        let tmp = tmp_path(&dest);
                        std::os::unix::fs::symlink(link, &tmp).map_err(io_err(&tmp))?;
                        set_mtime(&tmp, e.mtime).map_err(io_err(&tmp))?;
                        Ok(Some(tmp))
                    }
                }
            })();
            match placed_one {
                Ok(Some(at)) => placed.push((at, dest)),
                Ok(None) => {}
                Err(err) => {
                    cleanup(&placed);
                    return Err(format!("{}: {err}", e.path));
                }
            }
            written.newest = written.newest.max(Some(e.mtime));
        }
        for (i, (at, dest)) in placed.iter().enumerate() {
            if at != dest
                && let Err(err) = std::fs::rename(at, dest)
            {
                cleanup(&placed[i..]);
                return Err(format!("{}: {err}", dest.display()));
            }
            written.files += 1;
        }
        Ok(written)
    }

    /// Create the file of `e` at `at`, which must not exist: a hardlink to `twin` (a file of this
    /// restore with the same content and mtime), else from the store's linked copy, else
    /// decompressed. Every way comes with mode and mtime: a hardlink shares them with what it
    /// links to, a copy or a file written from the blob gets them set by the store. Returns
    /// `at`; an existing file there is left alone (see [`already_exists`]).
    fn put_file(&self, e: &Entry, at: &Path, twin: Option<&Path>) -> Result<PathBuf, RestoreError> {
        let EntryKind::File {
            blob,
            size,
            executable,
        } = &e.kind
        else {
            return Err(RestoreError::Unsafe {
                path: at.to_path_buf(),
                reason: "not a file entry".into(),
            });
        };
        if let Some(twin) = twin {
            match std::fs::hard_link(twin, at) {
                Ok(()) => return Ok(at.to_path_buf()),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(io_err(at)(err));
                }
                Err(_) => {}
            }
        }
        match self.try_linked(e, blob, *size, *executable, at) {
            Linked::Done => return Ok(at.to_path_buf()),
            Linked::InTheWay(err) => return Err(err.into()),
            Linked::No => {}
        }
        if self.repeated.contains(blob) {
            let content = self.content_of(blob, *size)?;
            self.store
                .create_file_with(&content, at, e.mtime, *executable)?;
        } else {
            self.store
                .create_file(blob, at, *size, e.mtime, *executable)?;
        }
        Ok(at.to_path_buf())
    }

    /// The verified content of `blob`, a small blob the layer holds more than once: read from
    /// the store the first time, from memory after.
    fn content_of(
        &self,
        blob: &ObjectId,
        size: u64,
    ) -> Result<std::sync::Arc<Vec<u8>>, RestoreError> {
        if let Some(c) = self.contents.lock().ok().and_then(|m| m.get(blob).cloned()) {
            return Ok(c);
        }
        let c = std::sync::Arc::new(self.store.read_small(blob, size)?);
        if let Ok(mut m) = self.contents.lock() {
            m.insert(*blob, c.clone());
        }
        Ok(c)
    }

    /// Put a file at `at` (which must not exist) from the store's linked copy, as a hardlink
    /// (for files rustc replaces and executables cargo deletes before relinking) or a copy
    /// (other large files that must not be hardlinks: no decompression, no hashing, the kernel
    /// copies). `No` when it does not apply, or linking is off or failed: the caller
    /// decompresses the blob.
    fn try_linked(
        &self,
        e: &Entry,
        blob: &ObjectId,
        size: u64,
        executable: bool,
        at: &Path,
    ) -> Linked {
        let how = if strata_layer::linkable(&e.path)
            || self.unlinked_before_relink.contains(e.path.as_str())
        {
            FromLinked::Hardlink
        } else if size >= COPY_LINKED_MIN {
            FromLinked::Copy
        } else {
            return Linked::No;
        };
        if !self.link.load(Ordering::Relaxed) {
            return Linked::No;
        }
        match self
            .store
            .put_from_linked(blob, size, e.mtime, executable, at, how)
        {
            Ok(()) => Linked::Done,
            Err(err) if err.is_already_exists() => Linked::InTheWay(err),
            Err(err) => {
                // The filesystem refuses (another device, a read-only store): stop trying. A
                // corrupt or missing blob: the decompression reports it.
                if matches!(err, strata_store::StoreError::Io { .. }) {
                    self.link.store(false, Ordering::Relaxed);
                }
                // Nothing of it is left at `at`: the store removes a copy it could not finish.
                Linked::No
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
        let src = self.target.join(src);
        strata_fs::replace_with(&dest, |tmp| std::fs::hard_link(&src, tmp)).map_err(|e| {
            RestoreError::Io {
                path: e.path,
                source: e.source,
            }
        })
    }
}

/// Creates directories under the target dir, refusing to go through a symlink: a target dir
/// where `release/deps` links elsewhere would let a layer write outside it.
struct SafeDirs {
    root: PathBuf,
    /// Directories known to be real ones under `root`, and whether this restore made them. In a
    /// dir made here nothing else can be yet, so its children are made without looking first
    /// (a fresh clone's target dir is all new: one `mkdir` per dir instead of a `stat` more).
    known: std::sync::Mutex<HashMap<PathBuf, bool>>,
}

impl SafeDirs {
    fn new(root: &Path) -> SafeDirs {
        SafeDirs {
            root: root.to_path_buf(),
            known: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn known(&self, dir: &Path) -> Option<bool> {
        self.known.lock().ok()?.get(dir).copied()
    }

    fn ensure(&self, dir: &Path) -> Result<(), RestoreError> {
        self.ensure_made(dir).map(|_| ())
    }

    /// Ensure `dir` is a real directory under the root; whether this restore made it.
    fn ensure_made(&self, dir: &Path) -> Result<bool, RestoreError> {
        if let Some(made) = self.known(dir) {
            return Ok(made);
        }
        let rel = dir
            .strip_prefix(&self.root)
            .map_err(|_| RestoreError::Unsafe {
                path: dir.to_path_buf(),
                reason: "outside the target dir".into(),
            })?;
        let mut cur = self.root.clone();
        let mut parent_made = match self.known(&cur) {
            Some(made) => made,
            None => {
                let made = !cur.exists();
                std::fs::create_dir_all(&cur).map_err(io_err(&cur))?;
                made
            }
        };
        let mut found = vec![(cur.clone(), parent_made)];
        for c in rel.components() {
            cur.push(c);
            // An ancestor of a dir ensured before was checked with it.
            if let Some(made) = self.known(&cur) {
                parent_made = made;
                continue;
            }
            let made = if parent_made {
                make_dir(&cur)?
            } else {
                match std::fs::symlink_metadata(&cur) {
                    Ok(m) => {
                        real_dir(&cur, &m)?;
                        false
                    }
                    Err(_) => make_dir(&cur)?,
                }
            };
            found.push((cur.clone(), made));
            parent_made = made;
        }
        if let Ok(mut k) = self.known.lock() {
            k.extend(found);
        }
        Ok(parent_made)
    }
}

/// Make directory `dir`: `true` if made now; `false` if a real directory is there already.
fn make_dir(dir: &Path) -> Result<bool, RestoreError> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let m = std::fs::symlink_metadata(dir).map_err(io_err(dir))?;
            real_dir(dir, &m)?;
            Ok(false)
        }
        Err(e) => Err(io_err(dir)(e)),
    }
}

/// `Ok` if `m` (of `dir`, not followed) is a directory, not a symlink or a file.
fn real_dir(dir: &Path, m: &std::fs::Metadata) -> Result<(), RestoreError> {
    if m.file_type().is_symlink() {
        return Err(RestoreError::Unsafe {
            path: dir.to_path_buf(),
            reason: "a symlink in the target dir".into(),
        });
    }
    if !m.is_dir() {
        return Err(RestoreError::Unsafe {
            path: dir.to_path_buf(),
            reason: "a file where a directory is expected".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_files_cargo_compares_commit_a_unit() {
        let fp = "debug/.fingerprint/foo-0123456789abcdef/";
        for hash in [
            "lib-foo",
            "run-build-script-build-script-build",
            "test-lib-foo",
            "bin-foo",
        ] {
            assert!(commits_unit(&format!("{fp}{hash}")), "{hash}");
        }
        for other in [
            "lib-foo.json",
            "dep-lib-foo",
            "output-lib-foo",
            "invoked.timestamp",
            "run-build-script-build-script-build.json",
        ] {
            assert!(!commits_unit(&format!("{fp}{other}")), "{other}");
        }
    }

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
