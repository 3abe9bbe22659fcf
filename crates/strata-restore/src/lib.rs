//! Putting layers back into a target dir so that cargo trusts them.
//!
//! Two halves: [`restore_layer`] writes a layer's units into the target dir, each unit whole or
//! not at all, with their exact saved mtimes; [`align_sources`] gives the workspace's source files
//! the mtimes cargo expects, by content: a file whose bytes equal those at save time gets its saved
//! mtime, a changed file ends up newer than every artifact. Together they reproduce the mtime
//! relations of the moment the layer was saved, so cargo's own freshness checks decide correctly
//! at any path, after any clone, with mtimes all 1 as in Nix.

mod align;
#[cfg(test)]
mod fuzz;
mod unit;

pub use align::{AlignMode, AlignStats, align_directories, align_sources};
pub use unit::{RestoreStats, restore_layer, restore_layer_newer_than};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("refusing to write {path}: {reason}")]
    Unsafe { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] strata_store::StoreError),
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RestoreError {
    let path = path.into();
    move |source| RestoreError::Io { path, source }
}

pub(crate) fn set_mtime(path: &std::path::Path, t: strata_store::FileTime) -> std::io::Result<()> {
    filetime::set_symlink_file_times(
        path,
        filetime::FileTime::from_unix_time(t.secs, t.nanos),
        filetime::FileTime::from_unix_time(t.secs, t.nanos),
    )
}
