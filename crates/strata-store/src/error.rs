use std::io;
use std::path::{Path, PathBuf};

use crate::ObjectId;

/// Everything that can go wrong in the store. Every variant names the file,
/// object, ref or input it is about, so a message is actionable on its own.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("corrupt store object {}: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("blob {id} is missing from the store")]
    MissingBlob { id: ObjectId },
    #[error("manifest {id} is missing from the store")]
    MissingManifest { id: ObjectId },
    #[error("invalid manifest: {reason}")]
    Invalid { reason: String },
    #[error("unsupported store format at {}: found {found:?}", path.display())]
    UnsupportedFormat { path: PathBuf, found: String },
    #[error(
        "bad ref name {name:?}: expected '/'-separated components of [A-Za-z0-9._-], none empty, '.' or '..'"
    )]
    BadRef { name: String },
    #[error(
        "bad size {input:?}: expected a number with an optional unit (K/M/G/T/P, KiB/MiB/..., KB/MB/...)"
    )]
    BadSize { input: String },
    #[error("bad object id {input:?}: {reason}")]
    BadObjectId { input: String, reason: String },
    #[error(
        "cannot choose a store directory: none of $STRATA_STORE, $XDG_CACHE_HOME or $HOME is set"
    )]
    NoDefaultRoot,
}

impl StoreError {
    /// A file was in the way of one that had to be new ([`crate::Store::create_file`]).
    pub fn is_already_exists(&self) -> bool {
        matches!(self, StoreError::Io { source, .. } if source.kind() == io::ErrorKind::AlreadyExists)
    }

    pub(crate) fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        StoreError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        StoreError::Corrupt {
            path: path.as_ref().to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// `map_err` helper: `.map_err(io_at(&path))`.
pub(crate) fn io_at(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |e| StoreError::io(path, e)
}
