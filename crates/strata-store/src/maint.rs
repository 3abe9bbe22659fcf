//! Whole-store passes: stats, verify, gc.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use crate::error::io_at;
use crate::store::{MANIFEST_SUFFIX, check_ref_name, parse_ref, tmp_owner_pid};
use crate::{BlobForm, Manifest, ObjectId, Store, StoreError};

/// Temp files older than this are abandoned even if their writer lives.
const TMP_MAX_AGE: Duration = Duration::from_secs(3600);
const CACHE_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Distinct blob ids (a blob stored in both forms counts once).
    pub blobs: u64,
    /// On-disk bytes of all blob files (compressed or raw).
    pub blob_bytes: u64,
    pub manifests: u64,
    /// On-disk (compressed) bytes of all manifests.
    pub manifest_bytes: u64,
    pub refs: u64,
    pub tmp_files: u64,
    pub tmp_bytes: u64,
    /// Uncompressed size of the distinct stored blobs that some readable
    /// manifest references (orphan blobs have no recorded size).
    pub referenced_uncompressed_bytes: u64,
    /// Linked copies (a cache outside [`StoreStats::total_bytes`]), and how many of them some
    /// target dir links to.
    pub linked_files: u64,
    pub linked_bytes: u64,
    pub linked_in_use: u64,
}

impl StoreStats {
    /// What gc measures against its budget, plus temp files.
    pub fn total_bytes(&self) -> u64 {
        self.blob_bytes + self.manifest_bytes + self.tmp_bytes
    }
}

/// An object that failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptObject {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingBlobRef {
    pub manifest: ObjectId,
    pub blob: ObjectId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DanglingRef {
    pub name: String,
    pub manifest: ObjectId,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Distinct blob ids checked (a blob stored in both forms counts once).
    pub blobs_checked: u64,
    pub manifests_checked: u64,
    pub refs_checked: u64,
    pub linked_checked: u64,
    /// Blobs, manifests, ref files and linked copies whose content is wrong.
    pub corrupt: Vec<CorruptObject>,
    /// Blobs a readable manifest needs that are not in the store.
    pub missing_blobs: Vec<MissingBlobRef>,
    /// Refs naming a manifest that is not in the store.
    pub dangling_refs: Vec<DanglingRef>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.missing_blobs.is_empty() && self.dangling_refs.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub removed_tmp_files: u64,
    /// Corrupt objects, and manifests left incomplete by a missing blob.
    pub removed_corrupt: Vec<CorruptObject>,
    /// Manifests evicted to meet the budget, least recently used first.
    pub removed_manifests: Vec<ObjectId>,
    /// Refs removed: evicted with their manifest, dangling, or unreadable.
    pub removed_refs: Vec<String>,
    /// Blob ids no longer in the store (corrupt or unneeded), counted once
    /// whatever the number of forms they were stored in.
    pub removed_blobs: u64,
    pub freed_bytes: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Linked copies removed (no target dir linked them, or their blob is gone); a cache
    /// outside the budget, so not in the byte counts above.
    pub removed_linked: u64,
    pub removed_linked_bytes: u64,
    /// Cache entries (`cache/`) unused for a week.
    pub removed_cache_entries: u64,
}

/// One object file found by a scan.
#[derive(Debug, Clone)]
pub(crate) struct ObjFile {
    pub id: ObjectId,
    pub path: PathBuf,
    pub len: u64,
    pub mtime: SystemTime,
}

/// One blob file found by a scan; an id may have one per [`BlobForm`].
#[derive(Debug, Clone)]
pub(crate) struct BlobFile {
    pub obj: ObjFile,
    pub form: BlobForm,
}

#[derive(Debug, Clone)]
pub(crate) struct RefFile {
    pub name: String,
    pub path: PathBuf,
    pub mtime: SystemTime,
    pub id: Result<ObjectId, String>,
}

fn is_not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Entries of `dir`; a directory removed concurrently reads as empty.
fn read_dir_entries(dir: &Path) -> Result<Vec<fs::DirEntry>, StoreError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    rd.collect::<Result<Vec<_>, _>>().map_err(io_at(dir))
}

/// Objects under `<dir>/<xx>/<64 hex><suffix>`. Files that do not follow the
/// naming scheme are not objects and are ignored.
fn scan_objects(dir: &Path, suffix: &str) -> Result<Vec<ObjFile>, StoreError> {
    let mut out = Vec::new();
    for sub in read_dir_entries(dir)? {
        let sub_name = sub.file_name();
        let Some(prefix) = sub_name.to_str() else {
            continue;
        };
        if prefix.len() != 2 || !sub.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        for f in read_dir_entries(&sub.path())? {
            let name = f.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(suffix))
                .filter(|hex| hex.starts_with(prefix))
                .and_then(|hex| ObjectId::from_hex(hex).ok())
            else {
                continue;
            };
            let md = match f.metadata() {
                Ok(md) => md,
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(StoreError::io(f.path(), e)),
            };
            if !md.is_file() {
                continue;
            }
            out.push(ObjFile {
                id,
                path: f.path(),
                len: md.len(),
                mtime: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
    }
    out.sort_by_key(|o| o.id);
    Ok(out)
}

/// Run `f` over `items` on a few threads; results keep the input order.
/// Verification is CPU-bound (zstd + BLAKE3), so this scales with cores.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    local.push((i, f(item)));
                }
                // A poisoned lock only means another worker panicked; that
                // panic resurfaces when the scope joins.
                if let Ok(mut r) = results.lock() {
                    r.extend(local);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Outcome of checking one object: fine, corrupt (with reason), or gone
/// (deleted concurrently). I/O errors that are not the object's fault are
/// returned as errors instead, so gc never deletes on e.g. EACCES.
enum Check<T> {
    Ok(T),
    Corrupt(String),
    Gone,
}

impl Store {
    /// Blob files of all forms, sorted by id then form.
    fn scan_blobs(&self) -> Result<Vec<BlobFile>, StoreError> {
        let dir = self.root().join("blobs");
        let mut out = Vec::new();
        for form in BlobForm::ALL {
            out.extend(
                scan_objects(&dir, form.suffix())?
                    .into_iter()
                    .map(|obj| BlobFile { obj, form }),
            );
        }
        out.sort_by_key(|b| (b.obj.id, b.form));
        Ok(out)
    }

    fn scan_manifests(&self) -> Result<Vec<ObjFile>, StoreError> {
        scan_objects(&self.root().join("manifests"), MANIFEST_SUFFIX)
    }

    pub(crate) fn scan_refs(&self) -> Result<Vec<RefFile>, StoreError> {
        fn walk(dir: &Path, prefix: &str, out: &mut Vec<RefFile>) -> Result<(), StoreError> {
            for e in read_dir_entries(dir)? {
                let Some(name) = e.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                let full = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                if check_ref_name(&full).is_err() {
                    continue;
                }
                let ft = match e.file_type() {
                    Ok(ft) => ft,
                    Err(err) if is_not_found(&err) => continue,
                    Err(err) => return Err(StoreError::io(e.path(), err)),
                };
                if ft.is_dir() {
                    walk(&e.path(), &full, out)?;
                } else if ft.is_file() {
                    let path = e.path();
                    let (content, mtime) = match fs::read(&path) {
                        Ok(c) => (
                            c,
                            e.metadata()
                                .and_then(|m| m.modified())
                                .unwrap_or(SystemTime::UNIX_EPOCH),
                        ),
                        Err(err) if is_not_found(&err) => continue,
                        Err(err) => return Err(StoreError::io(&path, err)),
                    };
                    out.push(RefFile {
                        name: full,
                        path,
                        mtime,
                        id: parse_ref(&content),
                    });
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        walk(&self.refs_dir(), "", &mut out)?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn check_blob_file(&self, b: &BlobFile) -> Result<Check<u64>, StoreError> {
        match self.check_blob_file_at(&b.obj.id, b.form, &b.obj.path) {
            Ok(n) => Ok(Check::Ok(n)),
            Err(StoreError::Corrupt { reason, .. }) => Ok(Check::Corrupt(reason)),
            Err(StoreError::MissingBlob { .. }) => Ok(Check::Gone),
            Err(e) => Err(e),
        }
    }

    fn check_manifest_file(&self, o: &ObjFile) -> Result<Check<Manifest>, StoreError> {
        match self.get_manifest(&o.id) {
            Ok(m) => Ok(Check::Ok(m)),
            Err(StoreError::Corrupt { reason, .. }) => Ok(Check::Corrupt(reason)),
            Err(StoreError::Invalid { reason }) => Ok(Check::Corrupt(reason)),
            Err(StoreError::UnsupportedFormat { found, .. }) => {
                Ok(Check::Corrupt(format!("unsupported {found}")))
            }
            Err(StoreError::MissingManifest { .. }) => Ok(Check::Gone),
            Err(e) => Err(e),
        }
    }

    /// Counts and sizes. Reads every manifest (not blobs); takes no lock, so
    /// numbers may be slightly off while another process writes.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let blobs = self.scan_blobs()?;
        let manifests = self.scan_manifests()?;
        let refs = self.scan_refs()?;
        let mut tmp_files = 0;
        let mut tmp_bytes = 0;
        for e in read_dir_entries(&self.tmp_dir())? {
            if let Ok(md) = e.metadata()
                && md.is_file()
            {
                tmp_files += 1;
                tmp_bytes += md.len();
            }
        }
        let present: HashSet<ObjectId> = blobs.iter().map(|b| b.obj.id).collect();
        let mut sizes: HashMap<ObjectId, u64> = HashMap::new();
        for m in &manifests {
            let Ok(Check::Ok(man)) = self.check_manifest_file(m) else {
                continue;
            };
            for e in &man.entries {
                if let crate::EntryKind::File { blob, size, .. } = e.kind
                    && present.contains(&blob)
                {
                    sizes.insert(blob, size);
                }
            }
        }
        let linked = self.scan_linked()?;
        Ok(StoreStats {
            linked_files: linked.len() as u64,
            linked_bytes: linked.iter().map(|l| l.len).sum(),
            linked_in_use: linked.iter().filter(|l| l.in_use).count() as u64,
            blobs: present.len() as u64,
            blob_bytes: blobs.iter().map(|b| b.obj.len).sum(),
            manifests: manifests.len() as u64,
            manifest_bytes: manifests.iter().map(|m| m.len).sum(),
            refs: refs.len() as u64,
            tmp_files,
            tmp_bytes,
            referenced_uncompressed_bytes: sizes.values().sum(),
        })
    }

    /// Re-hash every blob and manifest and cross-check manifests and refs.
    /// Read-only; holds the shared lock so gc cannot run meanwhile (do not
    /// call it while this thread holds the exclusive lock).
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let _lock = self.lock_shared()?;
        let mut report = VerifyReport::default();

        // Each file is checked on its own: a corrupt form is reported even
        // if the other form of the same blob is fine.
        let blobs = self.scan_blobs()?;
        let mut present: HashSet<ObjectId> = HashSet::with_capacity(blobs.len());
        for (b, res) in blobs
            .iter()
            .zip(par_map(&blobs, |b| self.check_blob_file(b)))
        {
            match res? {
                Check::Ok(_) => {
                    present.insert(b.obj.id);
                }
                Check::Corrupt(reason) => {
                    present.insert(b.obj.id);
                    report.corrupt.push(CorruptObject {
                        path: b.obj.path.clone(),
                        reason,
                    });
                }
                Check::Gone => {}
            }
        }

        // Builds save beside a verify (both hold the shared lock), blobs first, then the
        // manifest, then refs; the scans are not one snapshot. So a blob or manifest found
        // missing is looked for again: one a saver wrote after its scan is checked now, and only
        // what is still missing is reported.
        let manifests = self.scan_manifests()?;
        let mut manifest_ids: HashSet<ObjectId> = HashSet::with_capacity(manifests.len());
        for o in &manifests {
            let res = self.check_manifest_file(o)?;
            self.verify_manifest(o, res, &mut present, &mut manifest_ids, &mut report)?;
        }

        for r in self.scan_refs()? {
            report.refs_checked += 1;
            match r.id {
                Ok(id) if manifest_ids.contains(&id) => {}
                Ok(id) => {
                    let late = ObjFile {
                        id,
                        path: self.manifest_path(&id),
                        len: 0,
                        mtime: SystemTime::UNIX_EPOCH,
                    };
                    let res = self.check_manifest_file(&late)?;
                    self.verify_manifest(&late, res, &mut present, &mut manifest_ids, &mut report)?;
                    if !manifest_ids.contains(&id) {
                        report.dangling_refs.push(DanglingRef {
                            name: r.name,
                            manifest: id,
                        });
                    }
                }
                Err(reason) => report.corrupt.push(CorruptObject {
                    path: r.path,
                    reason,
                }),
            }
        }
        report.blobs_checked = present.len() as u64;

        let linked = self.scan_linked()?;
        report.linked_checked = linked.len() as u64;
        for (l, res) in linked
            .iter()
            .zip(par_map(&linked, |l| self.check_linked(l)))
        {
            if let Some(reason) = res? {
                report.corrupt.push(CorruptObject {
                    path: l.path.clone(),
                    reason: format!("linked copy: {reason}"),
                });
            }
        }
        Ok(report)
    }

    /// The verify of one manifest file as `res` found it: counted, and its blobs cross-checked
    /// (a blob not seen by the scan is looked for again before it is called missing).
    fn verify_manifest(
        &self,
        o: &ObjFile,
        res: Check<Manifest>,
        present: &mut HashSet<ObjectId>,
        manifest_ids: &mut HashSet<ObjectId>,
        report: &mut VerifyReport,
    ) -> Result<(), StoreError> {
        match res {
            Check::Ok(m) => {
                report.manifests_checked += 1;
                manifest_ids.insert(o.id);
                let mut missing = Vec::new();
                for b in m.blob_ids() {
                    if !present.contains(&b) && !self.verify_late_blob(&b, present, report)? {
                        missing.push(b);
                    }
                }
                missing.sort();
                report
                    .missing_blobs
                    .extend(missing.into_iter().map(|blob| MissingBlobRef {
                        manifest: o.id,
                        blob,
                    }));
            }
            Check::Corrupt(reason) => {
                report.manifests_checked += 1;
                manifest_ids.insert(o.id);
                report.corrupt.push(CorruptObject {
                    path: o.path.clone(),
                    reason,
                });
            }
            Check::Gone => {}
        }
        Ok(())
    }

    /// Check every form of blob `id` that is there now; whether one was.
    fn verify_late_blob(
        &self,
        id: &ObjectId,
        present: &mut HashSet<ObjectId>,
        report: &mut VerifyReport,
    ) -> Result<bool, StoreError> {
        let mut found = false;
        for form in BlobForm::ALL {
            let path = self.blob_path_as(id, form);
            let b = BlobFile {
                obj: ObjFile {
                    id: *id,
                    path: path.clone(),
                    len: 0,
                    mtime: SystemTime::UNIX_EPOCH,
                },
                form,
            };
            match self.check_blob_file(&b)? {
                Check::Ok(_) => found = true,
                Check::Corrupt(reason) => {
                    found = true;
                    report.corrupt.push(CorruptObject { path, reason });
                }
                Check::Gone => {}
            }
        }
        if found {
            present.insert(*id);
        }
        Ok(found)
    }

    /// Under the exclusive lock: remove stale temp files, corrupt objects,
    /// manifests with missing blobs and refs that lead nowhere; then evict
    /// least-recently-used manifests until blobs + manifests fit `max_bytes`
    /// (unreferenced ones first, ref'd ones only if refs alone exceed the
    /// budget, oldest first, dropping their refs); finally delete every blob
    /// no remaining manifest needs.
    pub fn gc(&self, max_bytes: u64) -> Result<GcReport, StoreError> {
        let _lock = self.lock_exclusive()?;
        let mut report = GcReport::default();
        let now = SystemTime::now();

        // 1. Temp files. Writers hold the shared lock, so under the exclusive
        //    lock leftovers belong to dead processes or to lock-less writers;
        //    spare the latter while their files are young.
        let self_pid = std::process::id();
        let mut tmp_left = 0u64;
        for e in read_dir_entries(&self.tmp_dir())? {
            let Ok(md) = e.metadata() else { continue };
            if !md.is_file() {
                continue;
            }
            report.bytes_before += md.len();
            let age = md
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            let dead_owner = e
                .file_name()
                .to_str()
                .and_then(tmp_owner_pid)
                .is_some_and(|pid| pid != self_pid && !pid_alive(pid));
            if age > TMP_MAX_AGE || dead_owner {
                remove_file(&e.path())?;
                report.removed_tmp_files += 1;
                report.freed_bytes += md.len();
            } else {
                tmp_left += md.len();
            }
        }

        // 2. Blobs: re-hash every file of every form; drop corrupt files. A
        //    blob lives on while one good form does; `blob_len` is the
        //    on-disk size of all its good forms.
        let blobs = self.scan_blobs()?;
        report.bytes_before += blobs.iter().map(|b| b.obj.len).sum::<u64>();
        let mut blob_len: HashMap<ObjectId, u64> = HashMap::with_capacity(blobs.len());
        let mut good_files: Vec<&ObjFile> = Vec::with_capacity(blobs.len());
        let mut corrupt_ids: HashSet<ObjectId> = HashSet::new();
        for (b, res) in blobs
            .iter()
            .zip(par_map(&blobs, |b| self.check_blob_file(b)))
        {
            let o = &b.obj;
            match res? {
                Check::Ok(_) => {
                    *blob_len.entry(o.id).or_default() += o.len;
                    good_files.push(o);
                }
                Check::Corrupt(reason) => {
                    remove_file(&o.path)?;
                    report.freed_bytes += o.len;
                    corrupt_ids.insert(o.id);
                    report.removed_corrupt.push(CorruptObject {
                        path: o.path.clone(),
                        reason,
                    });
                }
                Check::Gone => {}
            }
        }
        report.removed_blobs += corrupt_ids
            .iter()
            .filter(|id| !blob_len.contains_key(id))
            .count() as u64;

        // 3. Manifests: drop corrupt ones and ones that can no longer be
        //    restored because a blob is gone.
        struct Live {
            obj: ObjFile,
            blobs: Vec<ObjectId>,
            refs: Vec<String>,
            last_used: SystemTime,
        }
        let manifests = self.scan_manifests()?;
        report.bytes_before += manifests.iter().map(|m| m.len).sum::<u64>();
        let mut live: HashMap<ObjectId, Live> = HashMap::with_capacity(manifests.len());
        for o in manifests {
            let reason = match self.check_manifest_file(&o)? {
                Check::Gone => continue,
                Check::Corrupt(reason) => reason,
                Check::Ok(m) => {
                    let mut ids: Vec<ObjectId> = m.blob_ids().into_iter().collect();
                    ids.sort();
                    match ids.iter().find(|b| !blob_len.contains_key(b)) {
                        Some(missing) => format!("references missing blob {missing}"),
                        None => {
                            let last_used = o.mtime;
                            live.insert(
                                o.id,
                                Live {
                                    obj: o,
                                    blobs: ids,
                                    refs: Vec::new(),
                                    last_used,
                                },
                            );
                            continue;
                        }
                    }
                }
            };
            remove_file(&o.path)?;
            report.freed_bytes += o.len;
            report.removed_corrupt.push(CorruptObject {
                path: o.path,
                reason,
            });
        }

        // 4. Refs: unreadable or dangling refs lead nowhere; drop them.
        let mut doomed_refs: Vec<(String, PathBuf)> = Vec::new();
        for r in self.scan_refs()? {
            match r.id {
                Ok(id) => match live.get_mut(&id) {
                    Some(l) => {
                        l.refs.push(r.name);
                        l.last_used = l.last_used.max(r.mtime);
                    }
                    None => doomed_refs.push((r.name, r.path)),
                },
                Err(_) => doomed_refs.push((r.name, r.path)),
            }
        }

        // 5. Budget: blobs no manifest needs are going regardless.
        let mut users: HashMap<ObjectId, u32> = HashMap::new();
        for l in live.values() {
            for b in &l.blobs {
                *users.entry(*b).or_default() += 1;
            }
        }
        let mut total: u64 = live.values().map(|l| l.obj.len).sum::<u64>()
            + users
                .keys()
                .map(|b| blob_len.get(b).copied().unwrap_or(0))
                .sum::<u64>();
        let mut order: Vec<(bool, SystemTime, ObjectId)> = live
            .values()
            .map(|l| (!l.refs.is_empty(), l.last_used, l.obj.id))
            .collect();
        order.sort();
        let mut evicted: Vec<ObjectId> = Vec::new();
        for (_, _, id) in order {
            if total <= max_bytes {
                break;
            }
            let Some(l) = live.get(&id) else { continue };
            total -= l.obj.len;
            for b in &l.blobs {
                if let Some(n) = users.get_mut(b) {
                    *n -= 1;
                    if *n == 0 {
                        total -= blob_len.get(b).copied().unwrap_or(0);
                    }
                }
            }
            evicted.push(id);
        }

        // 6. Delete in dependency order (refs, manifests, blobs) so a crash
        //    part-way never leaves a ref or manifest pointing at nothing.
        let refs_dir = self.refs_dir();
        for id in &evicted {
            if let Some(l) = live.get(id) {
                for name in &l.refs {
                    let mut p = refs_dir.clone();
                    p.extend(name.split('/'));
                    doomed_refs.push((name.clone(), p));
                }
            }
        }
        doomed_refs.sort();
        for (name, path) in doomed_refs {
            remove_file(&path)?;
            prune_empty_dirs(&path, &refs_dir);
            report.removed_refs.push(name);
        }
        for id in &evicted {
            if let Some(l) = live.remove(id) {
                remove_file(&l.obj.path)?;
                report.freed_bytes += l.obj.len;
                report.removed_manifests.push(*id);
            }
        }
        let unused = |id: &ObjectId| users.get(id).copied().unwrap_or(0) == 0;
        for o in &good_files {
            if unused(&o.id) {
                remove_file(&o.path)?;
                report.freed_bytes += o.len;
            }
        }
        report.removed_blobs += blob_len.keys().filter(|id| unused(id)).count() as u64;
        report.bytes_after = total + tmp_left;

        // 7. Linked copies no checkout links to (the target dirs that did were deleted), and
        //    those of blobs that are gone. A checkout keeps its own link either way.
        for l in self.scan_linked()? {
            let blob_kept = l.id.is_some_and(|id| !unused(&id));
            if !l.in_use || !blob_kept {
                remove_file(&l.path)?;
                if let Some(dir) = l.path.parent() {
                    let _ = fs::remove_dir(dir);
                }
                report.removed_linked += 1;
                report.removed_linked_bytes += l.len;
            }
        }

        // 8. Caches (`cache/<name>/`, e.g. `cargo metadata` output): entries not used for a
        //    week. A reader touches what it uses; a missing entry only costs recomputing it.
        let cache_root = self.root().join("cache");
        for dir in read_dir_entries(&cache_root).unwrap_or_default() {
            for e in read_dir_entries(&dir.path()).unwrap_or_default() {
                let Ok(md) = e.metadata() else { continue };
                let age = md
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .unwrap_or_default();
                if md.is_file() && age > CACHE_MAX_AGE {
                    remove_file(&e.path())?;
                    report.removed_cache_entries += 1;
                }
            }
        }
        Ok(report)
    }
}

fn remove_file(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Remove directories left empty between `path` and `stop` (exclusive), so
/// deleted namespaced refs do not leave a trail of empty dirs.
fn prune_empty_dirs(path: &Path, stop: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == stop || !d.starts_with(stop) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Whether a process with this pid exists on this host. Without /proc we
/// cannot tell, so assume it lives (the age rule still applies).
fn pid_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new("/proc").join(pid.to_string()).exists()
}
