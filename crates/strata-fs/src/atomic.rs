//! Writes that a concurrent reader (or a crash) never sees half done: the new content is made
//! under a temporary name beside the destination (same directory, so same file system) and
//! renamed over it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file could not be written; `path` is the file meant, not its temporary name.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl From<WriteError> for std::io::Error {
    fn from(e: WriteError) -> std::io::Error {
        std::io::Error::new(e.source.kind(), e)
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary name beside `dest`: hidden, naming the file it is for, and unique within this
/// process (a counter) and across live processes (the pid), e.g.
/// `.config.toml.strata-tmp-4242-0`.
pub fn temp_name(dest: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.strata-tmp-{}-{n}", std::process::id()))
}

/// Make `dest` appear whole: `make` creates the new file (or link) at the temporary path it is
/// given, which is then renamed over `dest`. On any failure the temporary file is removed and
/// `dest` is as it was. A temporary name left by a dead process with the same pid is skipped.
pub fn replace_with(
    dest: &Path,
    mut make: impl FnMut(&Path) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: dest.to_path_buf(),
        source,
    };
    let tmp = loop {
        let tmp = temp_name(dest);
        match make(&tmp) {
            Ok(()) => break tmp,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(err(e));
            }
        }
    };
    std::fs::rename(&tmp, dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

/// How [`AtomicWrite::write`] writes. The default: permissions as `std::fs::write` gives them
/// (0666 less the umask), no fsync.
#[derive(Debug, Clone, Copy, Default)]
pub struct AtomicWrite {
    mode: Option<u32>,
    durable: bool,
}

impl AtomicWrite {
    pub fn new() -> AtomicWrite {
        AtomicWrite::default()
    }

    /// Exactly these permission bits, whatever the umask (0o600 for a secret key, 0o644 for a
    /// file others serve). The file never has wider ones, even under its temporary name.
    pub fn mode(self, mode: u32) -> AtomicWrite {
        AtomicWrite {
            mode: Some(mode),
            ..self
        }
    }

    /// Survive a power cut: the content is synced before the rename and the directory after
    /// (best effort: some file systems refuse to sync a directory).
    pub fn durable(self) -> AtomicWrite {
        AtomicWrite {
            durable: true,
            ..self
        }
    }

    /// Write `bytes` to `path`, creating its directory when missing.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| WriteError {
                path: path.to_path_buf(),
                source,
            })?;
        }
        replace_with(path, |tmp| {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(self.mode.unwrap_or(0o666))
                .open(tmp)?;
            if let Some(mode) = self.mode {
                // `open` applied the umask; the caller asked for these bits exactly.
                file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            }
            file.write_all(bytes)?;
            if self.durable {
                file.sync_all()?;
            }
            Ok(())
        })?;
        if self.durable
            && let Some(dir) = path.parent()
            && let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// [`AtomicWrite::write`] with the defaults: `path` holds its old content or all of `bytes`.
pub fn write_atomic(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), WriteError> {
    AtomicWrite::new().write(path, bytes.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_and_replaces_creating_the_directory_and_leaving_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b").join("f.toml");
        write_atomic(&path, "one").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
        AtomicWrite::new().durable().write(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(names(path.parent().unwrap()), ["f.toml"]);
    }

    #[test]
    fn mode_is_exact_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("key");
        AtomicWrite::new().mode(0o600).write(&secret, b"s").unwrap();
        let served = dir.path().join("served");
        AtomicWrite::new().mode(0o644).write(&served, b"s").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&secret), 0o600);
        assert_eq!(mode(&served), 0o644);
        // Replacing keeps the asked mode, not the old file's.
        std::fs::set_permissions(&served, std::fs::Permissions::from_mode(0o600)).unwrap();
        AtomicWrite::new().mode(0o644).write(&served, b"t").unwrap();
        assert_eq!(mode(&served), 0o644);
    }

    #[test]
    fn a_failed_write_leaves_the_old_content_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // The destination is a non-empty directory: the rename fails.
        let dest = dir.path().join("d");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("inside"), "x").unwrap();
        let e = write_atomic(&dest, "new").unwrap_err();
        assert_eq!(e.path, dest);
        assert!(
            e.to_string()
                .starts_with(&format!("cannot write {}: ", dest.display()))
        );
        assert_eq!(names(dir.path()), ["d"]);
        assert_eq!(std::fs::read_to_string(dest.join("inside")).unwrap(), "x");
    }

    #[test]
    fn a_leftover_temporary_name_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        // What the next call will pick, left by a "dead process" with our pid.
        let next = temp_name(&dest);
        let n: u64 = next
            .to_string_lossy()
            .rsplit('-')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        // Several, in case another test of this process takes a number in between.
        let leftovers: Vec<PathBuf> = (n + 1..n + 9)
            .map(|i| dest.with_file_name(format!(".f.strata-tmp-{}-{i}", std::process::id())))
            .collect();
        for l in &leftovers {
            std::fs::write(l, "old").unwrap();
        }
        write_atomic(&dest, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new");
        for l in &leftovers {
            assert_eq!(std::fs::read_to_string(l).unwrap(), "old");
        }
    }

    #[test]
    fn replace_with_puts_a_link_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, "content").unwrap();
        let dest = dir.path().join("dest");
        std::fs::write(&dest, "old").unwrap();
        replace_with(&dest, |tmp| std::fs::hard_link(&src, tmp)).unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "content");
        let e = replace_with(&dir.path().join("other"), |tmp| {
            std::fs::hard_link(dir.path().join("absent"), tmp)
        })
        .unwrap_err();
        assert_eq!(e.source.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(names(dir.path()), ["dest", "src"]);
    }
}
