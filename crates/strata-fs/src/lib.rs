//! File-system facts every strata crate needs the same way: writing a file so that a reader sees
//! the old content or the whole new one ([`write_atomic`], [`AtomicWrite`], [`replace_with`]),
//! telling one version of a file from another without reading it ([`identity`]), and caches
//! whose entries hold while the files they watch are unchanged ([`WatchedCache`]).
//!
//! No other strata crate is a dependency: every crate may use this one.

mod atomic;
mod watched;

pub use atomic::{AtomicWrite, WriteError, replace_with, temp_name, write_atomic};
pub use watched::{Watch, WatchedCache};

use std::path::Path;

/// What tells one version of a file from another without reading it: path, size, device,
/// inode and mtime (a reinstall or update writes a new file). `None` when it is absent.
pub fn identity(file: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(file).ok()?;
    Some(format!(
        "{} {} {} {} {}.{:09}",
        file.display(),
        md.len(),
        md.dev(),
        md.ino(),
        md.mtime(),
        md.mtime_nsec()
    ))
}

/// BLAKE3 of a file's bytes, in hex; `None` when it does not exist. Other read errors are `Err`.
pub fn content_hash(file: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read(file) {
        Ok(b) => Ok(Some(blake3::hash(&b).to_hex().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
