use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::error::io_at;
use crate::manifest::{FileTime, MANIFEST_FORMAT, check_component};
use crate::{Manifest, ObjectId, StoreError};

const MARKER: &str = "STRATA_STORE";
const MARKER_CONTENT: &[u8] = b"strata store v1\n";
/// Names `open` itself creates; a marker-less root holding only these is a
/// store whose creation was interrupted, anything else is someone's directory.
const LAYOUT_NAMES: &[&str] = &[
    MARKER,
    "blobs",
    "manifests",
    "refs",
    "tmp",
    "lock",
    "linked",
    "cache",
];

pub(crate) const MANIFEST_SUFFIX: &str = ".json.zst";

const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Level meaning "store blobs uncompressed".
const RAW_LEVEL: i32 = 0;
/// A blob is stored compressed only if that saves more than 10%.
const MAX_COMPRESSED_PERCENT: u128 = 90;
/// Files up to this size are read once into memory instead of being read
/// twice (hash pass, then compress pass).
const SMALL_FILE: u64 = 1 << 20;
const IO_BUF: usize = 256 * 1024;
/// Manifests are untrusted (a local store's as a remote's): the cap on a manifest's decompressed
/// JSON, which defuses zstd bombs.
pub const MAX_MANIFEST_JSON: u64 = 512 << 20;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A local content-addressed store. Cheap to share between threads
/// (`Send + Sync`): all state lives on disk.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    /// zstd level for new blobs; [`RAW_LEVEL`] stores them uncompressed.
    level: i32,
}

/// How one blob is stored on disk. A blob id is present if either form is;
/// both describe the same content, so either may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlobForm {
    /// `blobs/<xx>/<hex>.zst`: one zstd frame.
    Zstd,
    /// `blobs/<xx>/<hex>.raw`: the content as is, so that a restore can
    /// reflink it on filesystems that support it (btrfs, xfs, ...).
    Raw,
}

impl BlobForm {
    /// In order of preference when both are present.
    pub(crate) const ALL: [BlobForm; 2] = [BlobForm::Zstd, BlobForm::Raw];

    pub(crate) fn suffix(self) -> &'static str {
        match self {
            BlobForm::Zstd => ".zst",
            BlobForm::Raw => ".raw",
        }
    }
}

/// Result of storing one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutBlob {
    pub id: ObjectId,
    /// Uncompressed size.
    pub size: u64,
    /// On-disk bytes (compressed or raw) written by this call; 0 if the blob
    /// already existed.
    pub stored_bytes: u64,
    pub new: bool,
}

/// A held store lock; released on drop (closing the file drops the flock).
///
/// Locks are per open file, not per process: a thread that holds the shared
/// lock and then asks for the exclusive one (e.g. by calling `gc`) deadlocks.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl Store {
    /// Open an existing store without writing anything to it: no directory, marker or lock
    /// file is created (a store that is another Nix derivation's output, which is read-only
    /// and must stay untouched). Reading blobs and manifests works; writes fail.
    pub fn open_read_only(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root: PathBuf = root.into();
        let marker = root.join(MARKER);
        let content = fs::read(&marker).map_err(|e| StoreError::io(&marker, e))?;
        if content != MARKER_CONTENT {
            let shown = &content[..content.len().min(100)];
            return Err(StoreError::UnsupportedFormat {
                path: marker,
                found: String::from_utf8_lossy(shown).trim_end().to_string(),
            });
        }
        Ok(Store {
            root,
            level: zstd_level_from_env(),
        })
    }

    /// Open (creating if missing) the store at `root`.
    ///
    /// Refuses a non-empty directory that lacks the `STRATA_STORE` marker:
    /// gc deletes files under `<root>/tmp`, so a mistyped root must never be
    /// adopted silently.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root: PathBuf = root.into();
        fs::create_dir_all(&root).map_err(io_at(&root))?;
        let marker = root.join(MARKER);
        match fs::read(&marker) {
            Ok(content) => {
                if content != MARKER_CONTENT {
                    let shown = &content[..content.len().min(100)];
                    return Err(StoreError::UnsupportedFormat {
                        path: marker,
                        found: String::from_utf8_lossy(shown).trim_end().to_string(),
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                check_no_foreign_files(&root)?;
                let tmp = root.join("tmp");
                fs::create_dir_all(&tmp).map_err(io_at(&tmp))?;
                write_atomic(&root, &marker, MARKER_CONTENT, true)?;
            }
            Err(e) => return Err(StoreError::io(&marker, e)),
        }
        for d in ["blobs", "manifests", "refs", "tmp"] {
            let p = root.join(d);
            fs::create_dir_all(&p).map_err(io_at(&p))?;
        }
        let lock = root.join("lock");
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&lock)
            .map_err(io_at(&lock))?;
        Ok(Store {
            root,
            level: zstd_level_from_env(),
        })
    }

    /// Use zstd `level` for blobs written from now on; 0 stores them
    /// uncompressed (raw). Other values are clamped to what zstd supports.
    /// The default comes from `$STRATA_ZSTD_LEVEL` (0 to 19), else 3.
    /// Manifests are always compressed (at the default level when 0).
    pub fn with_compression_level(mut self, level: i32) -> Store {
        self.level = if level == RAW_LEVEL {
            RAW_LEVEL
        } else {
            let range = zstd::compression_level_range();
            level.clamp(*range.start(), *range.end())
        };
        self
    }

    /// `$STRATA_STORE`, else `$XDG_CACHE_HOME/strata`, else `$HOME/.cache/strata`.
    pub fn default_root() -> Result<PathBuf, StoreError> {
        default_root_from(|name| std::env::var_os(name))
    }

    /// A directory for a cache of something strata would otherwise recompute (e.g. `cargo
    /// metadata` output): not content-addressed, safe to delete, pruned by `gc`.
    pub fn cache_dir(&self, name: &str) -> PathBuf {
        self.root.join("cache").join(name)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock_file(&self) -> Result<(PathBuf, File), StoreError> {
        let path = self.root.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_at(&path))?;
        Ok((path, file))
    }

    /// Blocks until no exclusive holder (gc) is active.
    pub fn lock_shared(&self) -> Result<StoreLock, StoreError> {
        let (path, file) = self.lock_file()?;
        file.lock_shared().map_err(io_at(&path))?;
        Ok(StoreLock { _file: file })
    }

    /// Blocks until no other holder (shared or exclusive) is active.
    pub fn lock_exclusive(&self) -> Result<StoreLock, StoreError> {
        let (path, file) = self.lock_file()?;
        file.lock().map_err(io_at(&path))?;
        Ok(StoreLock { _file: file })
    }

    /// Path of the stored blob `id`: its `.zst` form if present, else its
    /// `.raw` form if present, else where the `.zst` form would go.
    pub fn blob_path(&self, id: &ObjectId) -> PathBuf {
        match self.find_blob(id) {
            Some((_, path)) => path,
            None => self.blob_path_as(id, BlobForm::Zstd),
        }
    }

    /// How blob `id` is stored, if it is (`Zstd` if both forms are).
    pub fn blob_form(&self, id: &ObjectId) -> Option<BlobForm> {
        self.find_blob(id).map(|(form, _)| form)
    }

    pub(crate) fn blob_path_as(&self, id: &ObjectId, form: BlobForm) -> PathBuf {
        object_path(&self.root.join("blobs"), id, form.suffix())
    }

    /// The first present form of blob `id`. A zero-length file is never a
    /// valid zstd frame, nor a valid raw blob except for empty content, so
    /// such files count as absent and the next put repairs them.
    fn find_blob(&self, id: &ObjectId) -> Option<(BlobForm, PathBuf)> {
        BlobForm::ALL.into_iter().find_map(|form| {
            let path = self.blob_path_as(id, form);
            let md = fs::metadata(&path).ok()?;
            let ok = md.is_file()
                && (md.len() > 0 || (form == BlobForm::Raw && *id == ObjectId::of_bytes(b"")));
            ok.then_some((form, path))
        })
    }

    pub fn manifest_path(&self, id: &ObjectId) -> PathBuf {
        object_path(&self.root.join("manifests"), id, MANIFEST_SUFFIX)
    }

    pub(crate) fn refs_dir(&self) -> PathBuf {
        self.root.join("refs")
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Whether blob `id` is stored, in either form (see [`Store::blob_form`]).
    pub fn has_blob(&self, id: &ObjectId) -> bool {
        self.find_blob(id).is_some()
    }

    /// Store the contents of `path`. Hashes first so that already-stored
    /// content costs one read and no write.
    ///
    /// The blob is stored raw if compression is off (level 0) or does not
    /// pay (compressed size above 90% of the original, e.g. for files that
    /// are compressed already).
    pub fn put_file(&self, path: &Path) -> Result<PutBlob, StoreError> {
        let mut file = File::open(path).map_err(io_at(path))?;
        let len = file.metadata().map_err(io_at(path))?.len();
        if len <= SMALL_FILE {
            let mut bytes = Vec::with_capacity(len as usize);
            file.read_to_end(&mut bytes).map_err(io_at(path))?;
            return self.put_bytes(&bytes);
        }

        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; IO_BUF];
        let mut size = 0u64;
        loop {
            let n = read_some(&mut file, &mut buf).map_err(io_at(path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        let id = ObjectId::from(hasher.finalize());
        if self.has_blob(&id) {
            return Ok(PutBlob {
                id,
                size,
                stored_bytes: 0,
                new: false,
            });
        }

        // Later passes re-hash what they write: if the file changed in
        // between, the blob is still named after exactly what it contains.
        if self.level != RAW_LEVEL {
            file.rewind().map_err(io_at(path))?;
            let (tmp, out) = self.create_tmp()?;
            let mut enc = zstd::stream::write::Encoder::new(out.file, self.level)
                .map_err(io_at(&tmp.path))?;
            let (id, size) =
                hash_copy(&mut file, &mut enc, &tmp.path, |e| StoreError::io(path, e))?;
            let out = enc.finish().map_err(io_at(&tmp.path))?;
            let stored_bytes = out.metadata().map_err(io_at(&tmp.path))?.len();
            if compression_pays(stored_bytes, size) {
                self.finish_blob(tmp, out, &id, BlobForm::Zstd)?;
                return Ok(PutBlob {
                    id,
                    size,
                    stored_bytes,
                    new: true,
                });
            }
            // Not worth it: the guard deletes the compressed attempt.
        }

        file.rewind().map_err(io_at(path))?;
        let (tmp, mut out) = self.create_tmp()?;
        let (id, size) = hash_copy(&mut file, &mut out.file, &tmp.path, |e| {
            StoreError::io(path, e)
        })?;
        self.finish_blob(tmp, out.file, &id, BlobForm::Raw)?;
        Ok(PutBlob {
            id,
            size,
            stored_bytes: size,
            new: true,
        })
    }

    pub fn put_bytes(&self, bytes: &[u8]) -> Result<PutBlob, StoreError> {
        let id = ObjectId::of_bytes(bytes);
        let size = bytes.len() as u64;
        if self.has_blob(&id) {
            return Ok(PutBlob {
                id,
                size,
                stored_bytes: 0,
                new: false,
            });
        }
        let compressed = if self.level == RAW_LEVEL {
            None
        } else {
            let c = zstd::bulk::compress(bytes, self.level)
                .map_err(io_at(&self.blob_path_as(&id, BlobForm::Zstd)))?;
            compression_pays(c.len() as u64, size).then_some(c)
        };
        let (form, data) = match &compressed {
            Some(c) => (BlobForm::Zstd, &c[..]),
            None => (BlobForm::Raw, bytes),
        };
        let (tmp, mut out) = self.create_tmp()?;
        out.file.write_all(data).map_err(io_at(&tmp.path))?;
        self.finish_blob(tmp, out.file, &id, form)?;
        Ok(PutBlob {
            id,
            size,
            stored_bytes: data.len() as u64,
            new: true,
        })
    }

    /// Store blob `id` from `zstd`, one zstd frame of its content as it comes from a remote.
    /// The frame is decompressed and re-hashed first: bytes that do not hash to `id` are
    /// `Corrupt` and never stored. The frame is kept as is (no recompression).
    ///
    /// `size` is the content's length as the manifest gives it: decompression stops one byte
    /// past it, so a frame that inflates without end (a zstd bomb) costs at most `size` bytes
    /// of work instead of hanging the pull.
    pub fn put_zstd_verified(
        &self,
        id: &ObjectId,
        zstd: &[u8],
        size: u64,
    ) -> Result<PutBlob, StoreError> {
        let label = self.blob_path_as(id, BlobForm::Zstd);
        let dec = zstd::stream::read::Decoder::new(zstd).map_err(io_at(&label))?;
        let (actual, got) = hash_copy(
            dec.take(size.saturating_add(1)),
            &mut io::sink(),
            &label,
            |e| StoreError::corrupt(&label, format!("downloaded blob does not decompress: {e}")),
        )?;
        if got > size {
            return Err(StoreError::corrupt(
                &label,
                format!(
                    "downloaded blob decompresses to more than the {size} bytes its manifest gives"
                ),
            ));
        }
        if actual != *id {
            return Err(StoreError::corrupt(
                &label,
                format!("downloaded blob hashes to {actual}, not to its name"),
            ));
        }
        if got != size {
            return Err(StoreError::corrupt(
                &label,
                format!(
                    "downloaded blob decompresses to {got} bytes, not the {size} its manifest gives"
                ),
            ));
        }
        if self.has_blob(id) {
            return Ok(PutBlob {
                id: *id,
                size,
                stored_bytes: 0,
                new: false,
            });
        }
        let (tmp, mut out) = self.create_tmp()?;
        out.file.write_all(zstd).map_err(io_at(&tmp.path))?;
        self.finish_blob(tmp, out.file, id, BlobForm::Zstd)?;
        Ok(PutBlob {
            id: *id,
            size,
            stored_bytes: zstd.len() as u64,
            new: true,
        })
    }

    /// The blob as one zstd frame (read as stored, or compressed now for a raw blob), for
    /// sending to a remote. Not verified here: the receiver re-hashes.
    pub fn read_blob_zstd(&self, id: &ObjectId) -> Result<Vec<u8>, StoreError> {
        let (form, blob) = self.locate_blob(id);
        let mut input = open_blob(&blob, id)?;
        let mut data = Vec::new();
        input.read_to_end(&mut data).map_err(io_at(&blob))?;
        match form {
            BlobForm::Zstd => Ok(data),
            // A raw blob is either incompressible or a target dir's file kept as it is (an rlib
            // or rmeta, see `put_file_as_linked`): compressed at the store's level for the wire.
            BlobForm::Raw => {
                let level = if self.level == RAW_LEVEL {
                    1
                } else {
                    self.level
                };
                zstd::bulk::compress(&data, level).map_err(io_at(&blob))
            }
        }
    }

    /// The manifest file as stored (zstd of its JSON), for sending to a remote.
    pub fn read_manifest_raw(&self, id: &ObjectId) -> Result<Vec<u8>, StoreError> {
        let path = self.manifest_path(id);
        match fs::read(&path) {
            Ok(d) => Ok(d),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::MissingManifest { id: *id })
            }
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    /// Fsync the complete blob file and rename it into place. Skips the
    /// directory fsync: a lost rename only loses a cache entry, never
    /// exposes a torn one.
    fn finish_blob(
        &self,
        tmp: TmpGuard,
        file: File,
        id: &ObjectId,
        form: BlobForm,
    ) -> Result<(), StoreError> {
        file.sync_all().map_err(io_at(&tmp.path))?;
        drop(file);
        tmp.persist(&self.blob_path_as(id, form), false)
    }

    /// Write blob `id` to `dest` (created or truncated), verifying the
    /// content hash: while decompressing a zstd blob; for a raw blob, while
    /// copying it, or by reading `dest` back after a reflink. On any failure
    /// `dest` is removed so a half-written or wrong file is never left behind.
    pub fn restore_blob(&self, id: &ObjectId, dest: &Path) -> Result<u64, StoreError> {
        self.write_blob(id, dest, Dest::Replace).map(|(n, _)| n)
    }

    /// [`Store::restore_blob`] into a `dest` opened as `how` says; also returns the open file.
    fn write_blob(&self, id: &ObjectId, dest: &Path, how: Dest) -> Result<(u64, File), StoreError> {
        let (form, blob) = self.locate_blob(id);
        let input = open_blob(&blob, id)?;
        let mut out = how.open(dest, form == BlobForm::Raw)?;
        let res = match form {
            BlobForm::Zstd => copy_verified(form, input, &blob, id, &mut out, dest),
            BlobForm::Raw => restore_raw(input, &blob, id, &mut out, dest),
        };
        match res {
            Ok(n) => Ok((n, out)),
            Err(e) => {
                drop(out);
                let _ = fs::remove_file(dest);
                Err(e)
            }
        }
    }

    /// Write blob `id` to `dest` as a new file (created or truncated) with the given mtime and,
    /// when `executable`, mode 0755; verified as [`Store::restore_blob`]. Files up to
    /// [`SMALL_BLOB`] (most of a target dir: fingerprints, dep-info, build-script output) are
    /// done in memory: one read, one decompression with this thread's zstd context, one write,
    /// and the mtime set through the open file.
    pub fn restore_file(
        &self,
        id: &ObjectId,
        dest: &Path,
        size: u64,
        mtime: FileTime,
        executable: bool,
    ) -> Result<(), StoreError> {
        self.write_file(id, dest, size, mtime, executable, Dest::Replace)
    }

    /// [`Store::restore_file`] into a file that must not exist yet: it fails with an `Io` error
    /// of kind `AlreadyExists` (and leaves that file alone) when something is at `dest`. So it
    /// never writes through an existing file, such as a hardlink to a linked copy, and needs no
    /// temporary name to be safe.
    pub fn create_file(
        &self,
        id: &ObjectId,
        dest: &Path,
        size: u64,
        mtime: FileTime,
        executable: bool,
    ) -> Result<(), StoreError> {
        self.write_file(id, dest, size, mtime, executable, Dest::New)
    }

    fn write_file(
        &self,
        id: &ObjectId,
        dest: &Path,
        size: u64,
        mtime: FileTime,
        executable: bool,
        how: Dest,
    ) -> Result<(), StoreError> {
        let res = if size <= SMALL_BLOB {
            self.restore_small(id, dest, size, mtime, executable, how)
        } else {
            self.write_blob(id, dest, how).and_then(|(_, out)| {
                let done = finish_file(&out, dest, mtime, executable);
                if done.is_err() {
                    drop(out);
                    let _ = fs::remove_file(dest);
                }
                done
            })
        };
        // A file being replaced is gone on any failure, as `restore_blob` promises; a new one is
        // removed only by what created it, so a file in the way is never touched.
        if res.is_err() && matches!(how, Dest::Replace) {
            let _ = fs::remove_file(dest);
        }
        res
    }

    fn restore_small(
        &self,
        id: &ObjectId,
        dest: &Path,
        size: u64,
        mtime: FileTime,
        executable: bool,
        how: Dest,
    ) -> Result<(), StoreError> {
        let content = self.read_small(id, size)?;
        write_content(&content, dest, mtime, executable, how)
    }

    /// The content of blob `id`, of `size` bytes (at most [`SMALL_BLOB`]), read in memory and
    /// verified against its hash. A restore keeps it to write several files of one content (cargo
    /// writes the same `invoked.timestamp` into every unit) with [`Store::create_file_with`].
    pub fn read_small(&self, id: &ObjectId, size: u64) -> Result<Vec<u8>, StoreError> {
        let (form, blob, stored) = self.read_small_blob(id, size)?;
        let content = match form {
            BlobForm::Raw => stored,
            BlobForm::Zstd => decompress_small(&stored, size)
                .map_err(|e| StoreError::corrupt(&blob, format!("decompression failed: {e}")))?,
        };
        check_hash(&blob, id, ObjectId::of_bytes(&content))?;
        Ok(content)
    }

    /// [`Store::create_file`] with the blob's content at hand (from [`Store::read_small`]): `dest`
    /// must not exist; it gets `content`, the mode and the mtime, or is removed on failure.
    pub fn create_file_with(
        &self,
        content: &[u8],
        dest: &Path,
        mtime: FileTime,
        executable: bool,
    ) -> Result<(), StoreError> {
        write_content(content, dest, mtime, executable, Dest::New)
    }

    /// The stored bytes of blob `id` in its first present form, read without a `stat` first
    /// (a restore reads thousands of them). An empty file counts as absent, as in
    /// [`Store::find_blob`]. Blobs of a few bytes (cargo's fingerprint hashes) are stored raw,
    /// as compression cannot pay there: that form is tried first for them.
    fn read_small_blob(
        &self,
        id: &ObjectId,
        size: u64,
    ) -> Result<(BlobForm, PathBuf, Vec<u8>), StoreError> {
        let forms = if size <= RAW_LIKELY_MAX {
            [BlobForm::Raw, BlobForm::Zstd]
        } else {
            BlobForm::ALL
        };
        for form in forms {
            let path = self.blob_path_as(id, form);
            match fs::read(&path) {
                Ok(b)
                    if !b.is_empty()
                        || (form == BlobForm::Raw && *id == ObjectId::of_bytes(b"")) =>
                {
                    return Ok((form, path, b));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&path, e)),
            }
        }
        Err(StoreError::MissingBlob { id: *id })
    }

    /// Whole blob in memory, hash-verified.
    pub fn read_blob(&self, id: &ObjectId) -> Result<Vec<u8>, StoreError> {
        let (form, blob) = self.locate_blob(id);
        let input = open_blob(&blob, id)?;
        let mut out = Vec::new();
        copy_verified(form, input, &blob, id, &mut out, &blob)?;
        Ok(out)
    }

    /// Decompress (if needed) and re-hash the blob file `blob`, stored in
    /// `form`, without keeping the content. `MissingBlob` if it is gone.
    pub(crate) fn check_blob_file_at(
        &self,
        id: &ObjectId,
        form: BlobForm,
        blob: &Path,
    ) -> Result<u64, StoreError> {
        let input = open_blob(blob, id)?;
        copy_verified(form, input, blob, id, &mut io::sink(), blob)
    }

    /// The present form of blob `id`, or the `.zst` path if none is (opening
    /// it then reports the blob missing).
    fn locate_blob(&self, id: &ObjectId) -> (BlobForm, PathBuf) {
        self.find_blob(id)
            .unwrap_or_else(|| (BlobForm::Zstd, self.blob_path_as(id, BlobForm::Zstd)))
    }

    /// Validate, then store `m` as compact JSON under the hash of that JSON.
    /// Every blob it names must already be present ("manifests last"), so a
    /// manifest in the store is always complete.
    pub fn put_manifest(&self, m: &Manifest) -> Result<ObjectId, StoreError> {
        m.validate()?;
        for blob in m.blob_ids() {
            if !self.has_blob(&blob) {
                return Err(StoreError::MissingBlob { id: blob });
            }
        }
        let json = serde_json::to_vec(m).map_err(|e| StoreError::Invalid {
            reason: format!("cannot serialize manifest: {e}"),
        })?;
        let id = ObjectId::of_bytes(&json);
        let path = self.manifest_path(&id);
        if fs::metadata(&path).is_ok_and(|md| md.is_file() && md.len() > 0) {
            // Saving the same layer again counts as a use for gc's LRU.
            self.touch_manifest(&id)?;
            return Ok(id);
        }
        let level = if self.level == RAW_LEVEL {
            DEFAULT_ZSTD_LEVEL
        } else {
            self.level
        };
        let compressed = zstd::stream::encode_all(&json[..], level).map_err(io_at(&path))?;
        write_atomic(&self.root, &path, &compressed, true)?;
        Ok(id)
    }

    /// Store manifest `id` from its JSON bytes as they come from a remote: the bytes must hash
    /// to `id`, parse, validate, and name only blobs already present ("manifests last"). Keeps
    /// the exact bytes, so the id (which signatures cover) is the same in every store.
    pub fn put_manifest_json(&self, id: &ObjectId, json: &[u8]) -> Result<Manifest, StoreError> {
        let path = self.manifest_path(id);
        let actual = ObjectId::of_bytes(json);
        if actual != *id {
            return Err(StoreError::corrupt(
                &path,
                format!("downloaded manifest hashes to {actual}, not to its name"),
            ));
        }
        let m: Manifest = serde_json::from_slice(json)
            .map_err(|e| StoreError::corrupt(&path, format!("bad manifest JSON: {e}")))?;
        if m.format != MANIFEST_FORMAT {
            return Err(StoreError::UnsupportedFormat {
                path,
                found: format!("manifest format {}", m.format),
            });
        }
        m.validate().map_err(invalid_in(id, &path))?;
        for blob in m.blob_ids() {
            if !self.has_blob(&blob) {
                return Err(StoreError::MissingBlob { id: blob });
            }
        }
        if !fs::metadata(&path).is_ok_and(|md| md.is_file() && md.len() > 0) {
            let compressed =
                zstd::stream::encode_all(json, DEFAULT_ZSTD_LEVEL).map_err(io_at(&path))?;
            write_atomic(&self.root, &path, &compressed, true)?;
        }
        Ok(m)
    }

    pub fn get_manifest(&self, id: &ObjectId) -> Result<Manifest, StoreError> {
        let path = self.manifest_path(id);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::MissingManifest { id: *id });
            }
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let mut json = Vec::new();
        zstd::stream::read::Decoder::with_buffer(&data[..])
            .map_err(io_at(&path))?
            .take(MAX_MANIFEST_JSON + 1)
            .read_to_end(&mut json)
            .map_err(|e| StoreError::corrupt(&path, format!("decompression failed: {e}")))?;
        if json.len() as u64 > MAX_MANIFEST_JSON {
            return Err(StoreError::corrupt(
                &path,
                format!("decompressed manifest exceeds {MAX_MANIFEST_JSON} bytes"),
            ));
        }
        let actual = ObjectId::of_bytes(&json);
        if actual != *id {
            return Err(StoreError::corrupt(
                &path,
                format!("content hash mismatch (content hashes to {actual})"),
            ));
        }
        // Look at the format before the full parse so that a future format
        // is reported as such rather than as unparseable JSON.
        #[derive(Deserialize)]
        struct Probe {
            format: u32,
        }
        let probe: Probe = serde_json::from_slice(&json)
            .map_err(|e| StoreError::corrupt(&path, format!("not a manifest: {e}")))?;
        if probe.format != MANIFEST_FORMAT {
            return Err(StoreError::UnsupportedFormat {
                path,
                found: format!("manifest format {}", probe.format),
            });
        }
        let m: Manifest = serde_json::from_slice(&json)
            .map_err(|e| StoreError::corrupt(&path, format!("bad manifest JSON: {e}")))?;
        m.validate().map_err(invalid_in(id, &path))?;
        Ok(m)
    }

    /// Mark a manifest as just used (gc evicts least recently used first).
    pub fn touch_manifest(&self, id: &ObjectId) -> Result<(), StoreError> {
        let path = self.manifest_path(id);
        let file = match OpenOptions::new().write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::MissingManifest { id: *id });
            }
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        file.set_modified(SystemTime::now()).map_err(io_at(&path))
    }

    fn ref_path(&self, name: &str) -> Result<PathBuf, StoreError> {
        check_ref_name(name)?;
        let mut p = self.refs_dir();
        p.extend(name.split('/'));
        Ok(p)
    }

    /// Point ref `name` at manifest `id`, atomically replacing any old value.
    pub fn set_ref(&self, name: &str, id: &ObjectId) -> Result<(), StoreError> {
        let path = self.ref_path(name)?;
        let content = format!("{id}\n");
        write_atomic(&self.root, &path, content.as_bytes(), true)?;
        // Setting a ref is a use of its manifest; best effort because the
        // manifest may legitimately not be stored (yet).
        let _ = self.touch_manifest(id);
        Ok(())
    }

    pub fn get_ref(&self, name: &str) -> Result<Option<ObjectId>, StoreError> {
        let path = self.ref_path(name)?;
        match fs::read(&path) {
            Ok(content) => parse_ref(&content)
                .map(Some)
                .map_err(|reason| StoreError::corrupt(&path, reason)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    /// All refs, sorted by name. Files under `refs/` whose names are not
    /// valid ref names are not refs and are skipped.
    pub fn list_refs(&self) -> Result<Vec<(String, ObjectId)>, StoreError> {
        self.scan_refs()?
            .into_iter()
            .map(|r| match r.id {
                Ok(id) => Ok((r.name, id)),
                Err(reason) => Err(StoreError::corrupt(&r.path, reason)),
            })
            .collect()
    }

    pub(crate) fn create_tmp(&self) -> Result<(TmpGuard, TmpFile), StoreError> {
        create_tmp_in(&self.tmp_dir())
    }
}

/// `map_err` helper: an `Invalid` error of manifest `id` says which manifest and file.
fn invalid_in<'a>(id: &'a ObjectId, path: &'a Path) -> impl FnOnce(StoreError) -> StoreError + 'a {
    move |e| match e {
        StoreError::Invalid { reason } => StoreError::Invalid {
            reason: format!("manifest {id} ({}): {reason}", path.display()),
        },
        other => other,
    }
}

fn default_root_from(
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, StoreError> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(p) = var("STRATA_STORE") {
        return Ok(PathBuf::from(p));
    }
    // The XDG spec says relative values are invalid and must be ignored.
    if let Some(p) = var("XDG_CACHE_HOME").map(PathBuf::from)
        && p.is_absolute()
    {
        return Ok(p.join("strata"));
    }
    if let Some(home) = var("HOME") {
        return Ok(PathBuf::from(home).join(".cache").join("strata"));
    }
    Err(StoreError::NoDefaultRoot)
}

fn zstd_level_from_env() -> i32 {
    zstd_level_from(std::env::var("STRATA_ZSTD_LEVEL").ok().as_deref())
}

/// 0 turns compression off (raw blobs). An unusable value falls back to the
/// default rather than failing every command: the level only trades speed
/// for size.
fn zstd_level_from(value: Option<&str>) -> i32 {
    value
        .and_then(|v| v.trim().parse::<i32>().ok())
        .filter(|l| (RAW_LEVEL..=19).contains(l))
        .unwrap_or(DEFAULT_ZSTD_LEVEL)
}

/// Whether `compressed` bytes are worth keeping over `size` raw ones.
fn compression_pays(compressed: u64, size: u64) -> bool {
    u128::from(compressed) * 100 <= u128::from(size) * MAX_COMPRESSED_PERCENT
}

fn check_no_foreign_files(root: &Path) -> Result<(), StoreError> {
    for entry in fs::read_dir(root).map_err(io_at(root))? {
        let entry = entry.map_err(io_at(root))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !LAYOUT_NAMES.contains(&name.as_ref()) {
            return Err(StoreError::UnsupportedFormat {
                path: root.to_path_buf(),
                found: format!("a non-empty directory without a {MARKER} file (contains {name:?})"),
            });
        }
    }
    Ok(())
}

pub(crate) fn object_path(dir: &Path, id: &ObjectId, suffix: &str) -> PathBuf {
    let hex = id.to_hex();
    dir.join(&hex[..2]).join(format!("{hex}{suffix}"))
}

pub(crate) fn check_ref_name(name: &str) -> Result<(), StoreError> {
    let bad = || StoreError::BadRef {
        name: name.chars().take(200).collect(),
    };
    if name.is_empty() || name.len() > 1024 {
        return Err(bad());
    }
    for c in name.split('/') {
        check_component(c).map_err(|_| bad())?;
    }
    Ok(())
}

pub(crate) fn parse_ref(content: &[u8]) -> Result<ObjectId, String> {
    let s = std::str::from_utf8(content).map_err(|_| "ref file is not UTF-8".to_string())?;
    let s = s.strip_suffix('\n').unwrap_or(s);
    ObjectId::from_hex(s).map_err(|e| format!("ref file does not hold an object id: {e}"))
}

/// Read, retrying on EINTR.
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn open_blob(path: &Path, id: &ObjectId) -> Result<File, StoreError> {
    match File::open(path) {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::MissingBlob { id: *id }),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// How a restore opens the file it writes.
#[derive(Clone, Copy)]
enum Dest {
    /// Created, or truncated if it exists; a symlink there is removed first, never written
    /// through.
    Replace,
    /// Created; an existing file (or symlink) there is an `AlreadyExists` error.
    New,
}

impl Dest {
    fn open(self, dest: &Path, read: bool) -> Result<File, StoreError> {
        let mut o = OpenOptions::new();
        o.read(read).write(true);
        match self {
            Dest::New => o.create_new(true),
            Dest::Replace => {
                if fs::symlink_metadata(dest).is_ok_and(|m| m.file_type().is_symlink()) {
                    fs::remove_file(dest).map_err(io_at(dest))?;
                }
                o.create(true).truncate(true)
            }
        };
        o.open(dest).map_err(io_at(dest))
    }
}

/// Blobs up to this size are restored in memory by [`Store::restore_file`].
pub const SMALL_BLOB: u64 = 1 << 20;

/// Blobs up to this size are looked for in their raw form first (see `Store::read_small_blob`).
const RAW_LIKELY_MAX: u64 = 64;

thread_local! {
    /// One zstd decompression context per thread: making one per file costs more than
    /// decompressing a small file.
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Decompress a small zstd frame. Room for `expected` bytes, or for the frame's own content
/// size when it says so (bounded, so that a hostile frame cannot ask for much): a wrong size
/// fails here or at the hash check.
fn decompress_small(frame: &[u8], expected: u64) -> io::Result<Vec<u8>> {
    let declared = zstd::zstd_safe::get_frame_content_size(frame)
        .ok()
        .flatten()
        .unwrap_or(expected);
    let room = usize::try_from(declared.min(2 * SMALL_BLOB)).unwrap_or(0);
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        let dec = match d.as_mut() {
            Some(dec) => dec,
            None => d.insert(zstd::bulk::Decompressor::new()?),
        };
        dec.decompress(frame, room)
    })
}

/// Write `content` into `dest` opened `how`, then mode and mtime; on failure `dest` is removed
/// (it was created or truncated here).
fn write_content(
    content: &[u8],
    dest: &Path,
    mtime: FileTime,
    executable: bool,
    how: Dest,
) -> Result<(), StoreError> {
    let mut out = how.open(dest, false)?;
    let res = out
        .write_all(content)
        .map_err(io_at(dest))
        .and_then(|_| finish_file(&out, dest, mtime, executable));
    if res.is_err() {
        drop(out);
        let _ = fs::remove_file(dest);
    }
    res
}

/// Mode and mtime of a file just written through `out`.
pub(crate) fn finish_file(
    out: &File,
    path: &Path,
    mtime: FileTime,
    executable: bool,
) -> Result<(), StoreError> {
    if executable {
        use std::os::unix::fs::PermissionsExt;
        out.set_permissions(fs::Permissions::from_mode(0o755))
            .map_err(io_at(path))?;
    }
    let t = filetime::FileTime::from_unix_time(mtime.secs, mtime.nanos);
    filetime::set_file_handle_times(out, Some(t), Some(t)).map_err(io_at(path))
}

/// Stream the content of blob file `input` (stored in `form`) into `out`
/// while hashing; any decoder error or a hash mismatch is corruption of the
/// blob at `blob`.
fn copy_verified(
    form: BlobForm,
    input: File,
    blob: &Path,
    id: &ObjectId,
    out: &mut dyn Write,
    out_path: &Path,
) -> Result<u64, StoreError> {
    let (actual, total) = match form {
        BlobForm::Zstd => {
            let dec = zstd::stream::read::Decoder::new(input).map_err(io_at(blob))?;
            hash_copy(dec, out, out_path, |e| {
                StoreError::corrupt(blob, format!("decompression failed: {e}"))
            })?
        }
        // Reading a raw blob can only fail for reasons outside the blob.
        BlobForm::Raw => hash_copy(input, out, out_path, |e| StoreError::io(blob, e))?,
    };
    check_hash(blob, id, actual)?;
    Ok(total)
}

/// Copy `input` to its end into `out`, returning hash and size of the bytes.
pub(crate) fn hash_copy(
    mut input: impl Read,
    out: &mut dyn Write,
    out_path: &Path,
    read_err: impl Fn(io::Error) -> StoreError,
) -> Result<(ObjectId, u64), StoreError> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; IO_BUF];
    let mut total = 0u64;
    loop {
        let n = read_some(&mut input, &mut buf).map_err(&read_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io_at(out_path))?;
        total += n as u64;
    }
    Ok((ObjectId::from(hasher.finalize()), total))
}

fn check_hash(blob: &Path, id: &ObjectId, actual: ObjectId) -> Result<(), StoreError> {
    if actual != *id {
        return Err(StoreError::corrupt(
            blob,
            format!("content hash mismatch (content hashes to {actual})"),
        ));
    }
    Ok(())
}

/// Restore raw blob file `input` into the empty file `out` (opened for
/// reading and writing). Reflinks where the filesystem supports it, then
/// reads `out` back to verify it: a reflink shares the store's extents, so
/// this checks the store, which is never trusted. Elsewhere, copies while
/// hashing, which verifies the very bytes written.
fn restore_raw(
    input: File,
    blob: &Path,
    id: &ObjectId,
    out: &mut File,
    out_path: &Path,
) -> Result<u64, StoreError> {
    if reflink_copy::reflink_file(&input, out).is_ok() {
        return verify_written(blob, id, out, out_path);
    }
    // Not supported here (filesystem, cross-device, ...): plain copy. A
    // failed clone leaves `out` empty, but make sure.
    out.set_len(0).map_err(io_at(out_path))?;
    out.rewind().map_err(io_at(out_path))?;
    copy_verified(BlobForm::Raw, input, blob, id, out, out_path)
}

/// Hash the whole of `out` (a restored copy of blob `blob`) from its start.
fn verify_written(
    blob: &Path,
    id: &ObjectId,
    out: &mut File,
    out_path: &Path,
) -> Result<u64, StoreError> {
    out.rewind().map_err(io_at(out_path))?;
    let (actual, total) = hash_copy(&mut *out, &mut io::sink(), out_path, |e| {
        StoreError::io(out_path, e)
    })?;
    check_hash(blob, id, actual)?;
    Ok(total)
}

/// A temp file that is deleted on drop unless persisted.
pub(crate) struct TmpGuard {
    pub(crate) path: PathBuf,
    armed: bool,
}

pub(crate) struct TmpFile {
    pub(crate) file: File,
}

impl TmpGuard {
    /// Rename into `dest`, creating its fan-out directory on demand. If
    /// another writer got there first the content is identical (same name),
    /// so replacing it is harmless.
    pub(crate) fn persist(mut self, dest: &Path, sync_dir: bool) -> Result<(), StoreError> {
        if let Err(e) = fs::rename(&self.path, dest) {
            let parent = match dest.parent() {
                Some(p) if e.kind() == io::ErrorKind::NotFound => p,
                _ => return Err(StoreError::io(dest, e)),
            };
            fs::create_dir_all(parent).map_err(io_at(parent))?;
            fs::rename(&self.path, dest).map_err(io_at(dest))?;
        }
        self.armed = false;
        if sync_dir && let Some(parent) = dest.parent() {
            sync_dir_best_effort(parent);
        }
        Ok(())
    }
}

impl Drop for TmpGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Temp names carry the pid (so gc can tell a dead writer's leftovers) plus a
/// counter and the time (unique within and across processes).
pub(crate) fn tmp_name_in(dir: &Path) -> PathBuf {
    let pid = std::process::id();
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    dir.join(format!("{pid}-{n}-{nanos}.tmp"))
}

/// A temp name for a file made by someone else (e.g. a hardlink), removed on drop unless
/// persisted.
pub(crate) fn tmp_guard_for(path: PathBuf) -> TmpGuard {
    TmpGuard { path, armed: true }
}

fn create_tmp_in(dir: &Path) -> Result<(TmpGuard, TmpFile), StoreError> {
    loop {
        let path = tmp_name_in(dir);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => {
                return Ok((TmpGuard { path, armed: true }, TmpFile { file }));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(StoreError::io(&path, e)),
        }
    }
}

/// The pid a temp file name was created with, if it follows our scheme.
pub(crate) fn tmp_owner_pid(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(".tmp")?;
    stem.split('-').next()?.parse().ok()
}

/// Write `bytes` to `dest` via a fsynced temp file and a rename, so `dest`
/// holds either the old or the complete new content, never a torn one.
fn write_atomic(root: &Path, dest: &Path, bytes: &[u8], sync_dir: bool) -> Result<(), StoreError> {
    let (tmp, mut out) = create_tmp_in(&root.join("tmp"))?;
    out.file.write_all(bytes).map_err(io_at(&tmp.path))?;
    out.file.sync_all().map_err(io_at(&tmp.path))?;
    drop(out);
    tmp.persist(dest, sync_dir)
}

/// Make a rename durable. Failure only risks losing the latest update after a
/// power cut (the old value survives intact), and some filesystems reject
/// fsync on directories, so errors are ignored.
fn sync_dir_best_effort(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloaded_objects_are_verified_before_they_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let src = Store::open(dir.path().join("a")).unwrap();
        let dst = Store::open(dir.path().join("b")).unwrap();
        let content = b"some compiled bytes".repeat(100);
        let put = src.put_bytes(&content).unwrap();
        let frame = src.read_blob_zstd(&put.id).unwrap();
        // A frame of other content under this name is refused and not stored.
        let evil = zstd::bulk::compress(b"evil", 1).unwrap();
        let len = content.len() as u64;
        let e = dst.put_zstd_verified(&put.id, &evil, 4).unwrap_err();
        assert!(e.to_string().contains("hashes to"), "{e}");
        assert!(!dst.has_blob(&put.id));
        assert!(dst.put_zstd_verified(&put.id, b"not zstd", len).is_err());
        assert!(!dst.has_blob(&put.id));
        // The right frame under a wrong size, and a bomb: refused after at most `size` bytes.
        let e = dst.put_zstd_verified(&put.id, &frame, len - 1).unwrap_err();
        assert!(e.to_string().contains("more than the"), "{e}");
        let e = dst.put_zstd_verified(&put.id, &frame, len + 1).unwrap_err();
        assert!(e.to_string().contains("not the"), "{e}");
        let bomb = zstd::bulk::compress(&vec![0u8; 64 << 20], 19).unwrap();
        assert!(bomb.len() < 64 << 10, "{}", bomb.len());
        let e = dst.put_zstd_verified(&put.id, &bomb, len).unwrap_err();
        assert!(e.to_string().contains("more than the"), "{e}");
        assert!(!dst.has_blob(&put.id));
        dst.put_zstd_verified(&put.id, &frame, len).unwrap();
        assert_eq!(dst.read_blob(&put.id).unwrap(), content);

        // Raw blobs travel as zstd frames too.
        let raw = Store::open(dir.path().join("raw"))
            .unwrap()
            .with_compression_level(0);
        let p = raw.put_bytes(b"raw content").unwrap();
        let f = raw.read_blob_zstd(&p.id).unwrap();
        dst.put_zstd_verified(&p.id, &f, 11).unwrap();
        assert_eq!(dst.read_blob(&p.id).unwrap(), b"raw content");

        // Manifests: the exact bytes, named by their hash, only once their blobs are there.
        let m = Manifest {
            format: MANIFEST_FORMAT,
            kind: "crates".into(),
            key: "k".into(),
            parent: None,
            created_unix_secs: 1,
            entries: vec![crate::Entry {
                path: "release/x".into(),
                mtime: crate::FileTime { secs: 1, nanos: 0 },
                kind: crate::EntryKind::File {
                    blob: put.id,
                    size: content.len() as u64,
                    executable: false,
                },
            }],
            sources: vec![],
            meta: Default::default(),
        };
        let id = src.put_manifest(&m).unwrap();
        let packed = src.read_manifest_raw(&id).unwrap();
        let json = zstd::decode_all(&packed[..]).unwrap();
        let third = Store::open(dir.path().join("c")).unwrap();
        assert!(matches!(
            third.put_manifest_json(&id, &json),
            Err(StoreError::MissingBlob { .. })
        ));
        let mut altered = json.clone();
        altered.push(b' ');
        assert!(dst.put_manifest_json(&id, &altered).is_err());
        assert_eq!(dst.put_manifest_json(&id, &json).unwrap(), m);
        assert_eq!(dst.get_manifest(&id).unwrap(), m);
    }

    #[test]
    fn default_root_precedence() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        const ALL: &[(&str, &str)] = &[
            ("STRATA_STORE", "/s"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(default_root_from(env(ALL)).unwrap(), PathBuf::from("/s"));
        assert_eq!(
            default_root_from(env(&ALL[1..])).unwrap(),
            PathBuf::from("/x/strata")
        );
        assert_eq!(
            default_root_from(env(&[
                ("STRATA_STORE", ""),
                ("XDG_CACHE_HOME", "rel"),
                ("HOME", "/h")
            ]))
            .unwrap(),
            PathBuf::from("/h/.cache/strata")
        );
        assert!(matches!(
            default_root_from(env(&[])),
            Err(StoreError::NoDefaultRoot)
        ));
    }

    #[test]
    fn ref_names() {
        for ok in ["main", "a/b/c", "v1.2", "x_y-z", "..a", "a.."] {
            check_ref_name(ok).unwrap();
        }
        for bad in [
            "", "/", "a/", "/a", "a//b", ".", "..", "a/../b", "a b", "\\",
        ] {
            assert!(check_ref_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn zstd_level_from_env_value() {
        assert_eq!(zstd_level_from(None), DEFAULT_ZSTD_LEVEL);
        assert_eq!(zstd_level_from(Some("0")), RAW_LEVEL);
        assert_eq!(zstd_level_from(Some(" 7 ")), 7);
        assert_eq!(zstd_level_from(Some("19")), 19);
        for bad in ["20", "-1", "fast", ""] {
            assert_eq!(zstd_level_from(Some(bad)), DEFAULT_ZSTD_LEVEL, "{bad:?}");
        }
    }

    #[test]
    fn compression_pays_above_ten_percent() {
        assert!(compression_pays(90, 100));
        assert!(!compression_pays(91, 100));
        assert!(!compression_pays(9, 0));
        assert!(compression_pays(0, 0));
        assert!(compression_pays(u64::MAX / 2, u64::MAX));
    }

    /// The check a reflinked restore relies on (reflink itself needs btrfs,
    /// xfs, ... which tests cannot count on).
    #[test]
    fn verify_written_reads_back_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let blob = dir.path().join("blob.raw");
        let data = b"restored content".repeat(100_000);
        let id = ObjectId::of_bytes(&data);
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        f.write_all(&data).unwrap();
        assert_eq!(
            verify_written(&blob, &id, &mut f, &path).unwrap(),
            data.len() as u64
        );
        f.write_all(b"tail").unwrap();
        match verify_written(&blob, &id, &mut f, &path) {
            Err(StoreError::Corrupt { path: p, .. }) => assert_eq!(p, blob),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn tmp_names_carry_pid() {
        assert_eq!(tmp_owner_pid("123-4-5.tmp"), Some(123));
        assert_eq!(tmp_owner_pid("junk.tmp"), None);
        assert_eq!(tmp_owner_pid("123-4-5"), None);
    }
}
