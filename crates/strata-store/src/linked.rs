//! Linked copies: uncompressed copies of blobs under `linked/`, which a restore
//! hardlinks into a target dir instead of writing the bytes again (a fresh clone or worktree
//! then costs a `link()` per file, not a decompression).
//!
//! Only for files that rustc replaces (writes a new file and renames it, or unlinks first) and
//! never writes in place: `.rlib`, `.rmeta` and incremental state. The caller picks them; see
//! `strata-restore`. Linker outputs are not among them: mold writes its output in place, which
//! would change every checkout linked to it.
//!
//! Hardlinks share content, mtime and mode, so a linked copy is named by blob id, mtime and
//! mode: `linked/<xx>/<hex>-<secs>.<nanos>[-x]`. It is a cache, never trusted blindly: made by
//! decompressing and re-hashing the blob, checked by size, mtime and mode before each use (a
//! write in place changes the mtime), replaced when wrong, hashed by `verify`, and dropped by
//! `gc` once no target dir links to it.
//!
//! A blob first saved from such a file is stored raw as that very file (`blobs/<xx>/<hex>.raw`
//! hard-linked to it, beside its linked copy): the bytes are on disk once, in the target dir,
//! and saving costs a hash and two links. It is compressed only on its way to a remote.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::io_at;
use crate::{FileTime, ObjectId, Store, StoreError};

/// The modes cargo's own files have. Not read-only: rustc refuses to run when an output path it
/// may write (an incremental object it hardlinked into `deps/`) is read-only.
const MODE: u32 = 0o644;
const MODE_EXECUTABLE: u32 = 0o755;

/// How [`Store::put_from_linked`] puts a file in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromLinked {
    Hardlink,
    Copy,
}

/// One linked copy found by a scan.
#[derive(Debug, Clone)]
pub(crate) struct LinkedFile {
    pub path: PathBuf,
    pub id: Option<ObjectId>,
    pub len: u64,
    /// Some target dir links to it: it has more hardlinks than its own name and the raw blob
    /// that may be the same file.
    pub in_use: bool,
}

impl Store {
    pub(crate) fn linked_dir(&self) -> PathBuf {
        self.root().join("linked")
    }

    fn linked_path(&self, id: &ObjectId, mtime: FileTime, executable: bool) -> PathBuf {
        let hex = id.to_hex();
        let x = if executable { "-x" } else { "" };
        self.linked_dir()
            .join(&hex[..2])
            .join(format!("{hex}-{}.{:09}{x}", mtime.secs, mtime.nanos))
    }

    /// Put blob `id` at `dest` from its linked copy with this mtime and mode, making the copy
    /// first if needed:
    /// - [`FromLinked::Hardlink`]: `dest` (which must not exist) becomes a hardlink to it;
    /// - [`FromLinked::Copy`]: `dest` (which must not exist) becomes a copy of it with its mode
    ///   and mtime, which the kernel makes without decompressing or hashing (a reflink where the
    ///   filesystem can); for large files that must not be hardlinks (test executables and proc
    ///   macros, which mold rewrites in place).
    ///
    /// An existing `dest` is an `Io` error of kind `AlreadyExists` and is left alone. Any other
    /// error means `dest` is not usable (absent or partial): the caller writes the file itself
    /// (e.g. the store is on another filesystem or read-only).
    pub fn put_from_linked(
        &self,
        id: &ObjectId,
        size: u64,
        mtime: FileTime,
        executable: bool,
        dest: &Path,
        how: FromLinked,
    ) -> Result<(), StoreError> {
        let path = self.ensure_linked_copy(id, size, mtime, executable)?;
        match how {
            FromLinked::Hardlink => fs::hard_link(&path, dest).map_err(io_at(dest)),
            FromLinked::Copy => {
                // `io::copy` between files is the kernel's copy_file_range (a reflink where the
                // filesystem can); mode and mtime are set through the open file, as for a
                // file written from its blob. `dest` must be new, as for a hardlink: nothing is
                // ever written through a file that is already there.
                let mut src = fs::File::open(&path).map_err(io_at(&path))?;
                let mut out = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(dest)
                    .map_err(io_at(dest))?;
                let res = match std::io::copy(&mut src, &mut out).map_err(io_at(dest)) {
                    Ok(copied) if copied != size => Err(StoreError::corrupt(
                        &path,
                        "linked copy changed while copying",
                    )),
                    Ok(_) => crate::store::finish_file(&out, dest, mtime, executable),
                    Err(e) => Err(e),
                };
                if res.is_err() {
                    // Made here (create_new): no one else's file.
                    drop(out);
                    let _ = fs::remove_file(dest);
                }
                res
            }
        }
    }

    /// Whether the file at `path` is a hardlink to a linked copy of blob `id` (so it holds the
    /// blob's bytes without reading them): its mtime and mode name the copy, its inode is it.
    pub fn is_linked_copy(&self, id: &ObjectId, path: &Path) -> bool {
        let Ok(md) = fs::symlink_metadata(path) else {
            return false;
        };
        if md.nlink() < 2 || !md.is_file() {
            return false;
        }
        let mtime = FileTime {
            secs: md.mtime(),
            nanos: md.mtime_nsec().clamp(0, 999_999_999) as u32,
        };
        let executable = md.permissions().mode() & 0o111 != 0;
        fs::symlink_metadata(self.linked_path(id, mtime, executable))
            .is_ok_and(|l| l.ino() == md.ino() && l.dev() == md.dev())
    }

    /// Store the file at `path` (a target dir's file that rustc replaces rather than rewrites)
    /// and keep that very file as the linked copy for its blob, mtime and mode: a hardlink, no
    /// bytes written, so that the next restore of it on this machine is a link too. The blob is
    /// hashed through the link, and the link is kept only if the file's size, mtime and mode
    /// are still what the layer records. On an error no linked copy was kept (the blob may be
    /// stored): the caller stores the file with [`Store::put_file`], which is idempotent.
    pub fn put_file_as_linked(
        &self,
        path: &Path,
        mtime: FileTime,
        executable: bool,
    ) -> Result<crate::PutBlob, StoreError> {
        let tmp = crate::store::tmp_guard_for(crate::store::tmp_name_in(&self.tmp_dir()));
        fs::hard_link(path, &tmp.path).map_err(io_at(path))?;
        let stat = || fs::symlink_metadata(&tmp.path).map_err(io_at(&tmp.path));
        let before = stat()?;
        if !matches_copy(&before, before.len(), mtime, executable) {
            // Not the file the layer records (changed since the scan): stored as any file is.
            return self.put_file(&tmp.path);
        }
        let file = fs::File::open(&tmp.path).map_err(io_at(&tmp.path))?;
        let (id, size) = crate::store::hash_copy(file, &mut io::sink(), &tmp.path, |e| {
            StoreError::io(path, e)
        })?;
        if !matches_copy(&stat()?, size, mtime, executable) {
            return self.put_file(&tmp.path);
        }
        // A new blob is this very file, uncompressed: its bytes are on disk already (in the
        // target dir), so storing them costs a link, neither a copy nor compression, and the
        // store adds no bytes while the target dir keeps the file. Only files that rustc
        // replaces come here, never ones written in place; `verify` hashes them like any blob.
        let new = !self.has_blob(&id);
        if new {
            let blob = self.blob_path_as(&id, crate::BlobForm::Raw);
            if let Some(dir) = blob.parent() {
                fs::create_dir_all(dir).map_err(io_at(dir))?;
            }
            match fs::hard_link(&tmp.path, &blob) {
                Ok(()) => {}
                // Another writer stored it meanwhile.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StoreError::io(&blob, e)),
            }
        }
        let linked = self.linked_path(&id, mtime, executable);
        let have =
            fs::symlink_metadata(&linked).is_ok_and(|m| matches_copy(&m, size, mtime, executable));
        if !have {
            tmp.persist(&linked, false)?;
        }
        Ok(crate::PutBlob {
            id,
            size,
            stored_bytes: if new { size } else { 0 },
            new,
        })
    }

    /// The linked copy of `id` with this mtime and mode, made (or made again, when something
    /// changed it) from the blob.
    fn ensure_linked_copy(
        &self,
        id: &ObjectId,
        size: u64,
        mtime: FileTime,
        executable: bool,
    ) -> Result<PathBuf, StoreError> {
        let path = self.linked_path(id, mtime, executable);
        match fs::symlink_metadata(&path) {
            Ok(md) if matches_copy(&md, size, mtime, executable) => {}
            Ok(_) => {
                // Changed since it was made (written in place, touched): make it again.
                fs::remove_file(&path).map_err(io_at(&path))?;
                self.make_linked_copy(id, mtime, executable, &path)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.make_linked_copy(id, mtime, executable, &path)?;
            }
            Err(e) => return Err(StoreError::io(&path, e)),
        }
        Ok(path)
    }

    /// Decompress and re-hash the blob into a temp file, give it its mtime and mode, and rename
    /// it to `path`.
    fn make_linked_copy(
        &self,
        id: &ObjectId,
        mtime: FileTime,
        executable: bool,
        path: &Path,
    ) -> Result<(), StoreError> {
        let (tmp, file) = self.create_tmp()?;
        drop(file);
        self.restore_blob(id, &tmp.path)?;
        let mode = if executable { MODE_EXECUTABLE } else { MODE };
        fs::set_permissions(&tmp.path, fs::Permissions::from_mode(mode))
            .map_err(io_at(&tmp.path))?;
        let t = filetime::FileTime::from_unix_time(mtime.secs, mtime.nanos);
        filetime::set_file_times(&tmp.path, t, t).map_err(io_at(&tmp.path))?;
        tmp.persist(path, false)
    }

    /// Every linked copy, with the blob id its name gives (`None` for a foreign name).
    pub(crate) fn scan_linked(&self) -> Result<Vec<LinkedFile>, StoreError> {
        let mut out = Vec::new();
        let dir = self.linked_dir();
        let fanouts = match fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StoreError::io(&dir, e)),
        };
        for fanout in fanouts {
            let fanout = fanout.map_err(io_at(&dir))?;
            let sub = fanout.path();
            let Ok(entries) = fs::read_dir(&sub) else {
                continue;
            };
            for e in entries.flatten() {
                let Ok(md) = e.metadata() else { continue };
                if !md.is_file() {
                    continue;
                }
                let path = e.path();
                let id = parse_name(&path).map(|(id, _, _)| id);
                let is_blob = id.is_some_and(|id| {
                    fs::symlink_metadata(self.blob_path_as(&id, crate::BlobForm::Raw))
                        .is_ok_and(|b| b.ino() == md.ino() && b.dev() == md.dev())
                });
                out.push(LinkedFile {
                    id,
                    path,
                    len: md.len(),
                    in_use: md.nlink() > 1 + u64::from(is_blob),
                });
            }
        }
        Ok(out)
    }

    /// Check a linked copy against its name: mtime and mode (a write in place changes the mtime,
    /// even one that leaves the same bytes), then its content against the blob id.
    pub(crate) fn check_linked(&self, l: &LinkedFile) -> Result<Option<String>, StoreError> {
        let Some((id, mtime, executable)) = parse_name(&l.path) else {
            return Ok(Some("not a linked copy's name".into()));
        };
        match fs::symlink_metadata(&l.path) {
            Ok(md) if matches_copy(&md, l.len, mtime, executable) => {}
            Ok(_) => return Ok(Some("changed since it was made (mtime or mode)".into())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(&l.path, e)),
        }
        match self.check_blob_file_at(&id, crate::BlobForm::Raw, &l.path) {
            Ok(_) => Ok(None),
            Err(StoreError::Corrupt { reason, .. }) => Ok(Some(reason)),
            Err(StoreError::MissingBlob { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// `<hex>-<secs>.<nanos>[-x]` → blob id, mtime, executable.
pub(crate) fn parse_name(path: &Path) -> Option<(ObjectId, FileTime, bool)> {
    let name = path.file_name()?.to_str()?;
    let (hex, rest) = name.split_once('-')?;
    let (time, executable) = match rest.strip_suffix("-x") {
        Some(t) => (t, true),
        None => (rest, false),
    };
    let (secs, nanos) = time.split_once('.')?;
    Some((
        hex.parse().ok()?,
        FileTime {
            secs: secs.parse().ok()?,
            nanos: nanos.parse().ok()?,
        },
        executable,
    ))
}

fn matches_copy(md: &fs::Metadata, size: u64, mtime: FileTime, executable: bool) -> bool {
    let mode = if executable { MODE_EXECUTABLE } else { MODE };
    md.is_file()
        && md.len() == size
        && md.mtime() == mtime.secs
        && md.mtime_nsec() == i64::from(mtime.nanos)
        && md.permissions().mode() & 0o7777 == mode
}

#[cfg(test)]
mod tests {
    use super::FromLinked::{Copy, Hardlink};
    use super::*;

    fn t(secs: i64) -> FileTime {
        FileTime { secs, nanos: 5 }
    }

    #[test]
    fn linked_copies_are_shared_checked_and_remade_when_changed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let content = b"rlib bytes ".repeat(1000);
        let put = store.put_bytes(&content).unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        store
            .put_from_linked(&put.id, put.size, t(100), false, &a, Hardlink)
            .unwrap();
        store
            .put_from_linked(&put.id, put.size, t(100), false, &b, Hardlink)
            .unwrap();
        assert_eq!(fs::read(&a).unwrap(), content);
        let (ma, mb) = (fs::metadata(&a).unwrap(), fs::metadata(&b).unwrap());
        assert_eq!(ma.ino(), mb.ino(), "one linked copy for both");
        assert_eq!(ma.nlink(), 3);
        assert_eq!((ma.mtime(), ma.mtime_nsec()), (100, 5));
        assert_eq!(ma.permissions().mode() & 0o777, 0o644);

        // Another mtime is another copy: hardlinks share mtimes.
        let c = dir.path().join("c");
        store
            .put_from_linked(&put.id, put.size, t(200), false, &c, Hardlink)
            .unwrap();
        assert_ne!(fs::metadata(&c).unwrap().ino(), ma.ino());

        // Written in place behind strata's back: the next link gets a fresh copy.
        let copy = store.linked_path(&put.id, t(100), false);
        fs::write(&copy, b"changed").unwrap();
        let d = dir.path().join("d");
        store
            .put_from_linked(&put.id, put.size, t(100), false, &d, Hardlink)
            .unwrap();
        assert_eq!(fs::read(&d).unwrap(), content);
        assert_eq!(
            fs::read(&a).unwrap(),
            b"changed",
            "a shares the changed inode"
        );
        assert_ne!(fs::metadata(&d).unwrap().ino(), ma.ino());

        // A copy (not a link) of the same linked copy: its own inode, same bytes.
        let e = dir.path().join("e");
        store
            .put_from_linked(&put.id, put.size, t(100), false, &e, Copy)
            .unwrap();
        assert_eq!(fs::read(&e).unwrap(), content);
        assert_ne!(
            fs::metadata(&e).unwrap().ino(),
            fs::metadata(&d).unwrap().ino()
        );
        let me = fs::metadata(&e).unwrap();
        assert_eq!(
            (me.mtime(), me.mtime_nsec()),
            (100, 5),
            "a copy gets the mtime"
        );

        let scanned = store.scan_linked().unwrap();
        assert_eq!(scanned.len(), 2);
        for l in &scanned {
            assert_eq!(store.check_linked(l).unwrap(), None);
        }

        // The same bytes written in place (through `d`, a link to the remade copy) still show:
        // the mtime moved.
        fs::write(&d, &content).unwrap();
        let l = store
            .scan_linked()
            .unwrap()
            .into_iter()
            .find(|l| l.path == copy)
            .unwrap();
        assert!(store.check_linked(&l).unwrap().is_some());

        // A file in the way is refused and left as it is, for a copy as for a link: nothing is
        // written through an existing file (it could be a link to a linked copy).
        let x = dir.path().join("x");
        fs::write(&x, vec![1u8; 20_000]).unwrap();
        for how in [Copy, Hardlink] {
            let err = store
                .put_from_linked(&put.id, put.size, t(300), true, &x, how)
                .unwrap_err();
            assert!(err.is_already_exists(), "{err}");
            assert_eq!(fs::read(&x).unwrap(), vec![1u8; 20_000]);
        }
        // An executable copy: exact bytes, mode 0755, the mtime.
        fs::remove_file(&x).unwrap();
        store
            .put_from_linked(&put.id, put.size, t(300), true, &x, Copy)
            .unwrap();
        assert_eq!(fs::read(&x).unwrap(), content);
        let mx = fs::metadata(&x).unwrap();
        assert_eq!(mx.permissions().mode() & 0o777, 0o755);
        assert_eq!((mx.mtime(), mx.mtime_nsec()), (300, 5));
    }

    #[test]
    fn a_saved_file_becomes_its_own_linked_copy() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let file = dir.path().join("libx.rlib");
        fs::write(&file, b"rlib".repeat(5000)).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let ft = filetime::FileTime::from_unix_time(100, 5);
        filetime::set_file_times(&file, ft, ft).unwrap();
        let put = store.put_file_as_linked(&file, t(100), false).unwrap();
        assert_eq!(put.id, ObjectId::of_bytes(&b"rlib".repeat(5000)));
        assert!(store.has_blob(&put.id), "the blob is stored as usual");
        let copy = store.linked_path(&put.id, t(100), false);
        assert_eq!(
            fs::metadata(&copy).unwrap().ino(),
            fs::metadata(&file).unwrap().ino()
        );
        let b = dir.path().join("b");
        store
            .put_from_linked(&put.id, put.size, t(100), false, &b, Hardlink)
            .unwrap();
        assert_eq!(
            fs::metadata(&b).unwrap().ino(),
            fs::metadata(&file).unwrap().ino()
        );
        // The new blob is that file too, uncompressed: saving it wrote no bytes.
        let raw = store.blob_path_as(&put.id, crate::BlobForm::Raw);
        assert_eq!(
            fs::metadata(&raw).unwrap().ino(),
            fs::metadata(&file).unwrap().ino()
        );
        assert!(!store.blob_path_as(&put.id, crate::BlobForm::Zstd).exists());
        assert_eq!(store.read_blob(&put.id).unwrap(), b"rlib".repeat(5000));
        // In use while a target dir links to it; not once only the store holds it.
        let linked = |store: &Store| {
            store
                .scan_linked()
                .unwrap()
                .into_iter()
                .find(|l| l.path == copy)
                .unwrap()
        };
        assert!(linked(&store).in_use);
        fs::remove_file(&file).unwrap();
        fs::remove_file(&b).unwrap();
        assert!(!linked(&store).in_use, "the raw blob is no user");
        // Saved again (another build, same bytes): the blob is there, nothing new.
        fs::write(&file, b"rlib".repeat(5000)).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        filetime::set_file_times(&file, ft, ft).unwrap();
        let again = store.put_file_as_linked(&file, t(100), false).unwrap();
        assert!(!again.new);
        // Another mode than a linked copy has: stored, but not kept as a copy.
        let odd = dir.path().join("odd.rlib");
        fs::write(&odd, b"odd").unwrap();
        fs::set_permissions(&odd, fs::Permissions::from_mode(0o600)).unwrap();
        filetime::set_file_times(&odd, ft, ft).unwrap();
        let put = store.put_file_as_linked(&odd, t(100), false).unwrap();
        assert!(!store.linked_path(&put.id, t(100), false).exists());
        assert!(
            fs::read_dir(store.tmp_dir()).unwrap().next().is_none(),
            "no temp left"
        );
    }

    #[test]
    fn a_corrupt_blob_makes_no_linked_copy() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let content = b"x".repeat(10_000);
        let put = store.put_bytes(&content).unwrap();
        let blob = store.blob_path(&put.id);
        fs::write(&blob, b"not zstd").unwrap();
        let a = dir.path().join("a");
        assert!(
            store
                .put_from_linked(&put.id, put.size, t(1), false, &a, Hardlink)
                .is_err()
        );
        assert!(!a.exists());
        assert!(store.scan_linked().unwrap().is_empty());
    }
}
