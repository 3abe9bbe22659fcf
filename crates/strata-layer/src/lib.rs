//! Layers: which files under a cargo target dir belong to which compilation unit, what a layer
//! holds, and how one is saved to the store.
//!
//! Cargo names every file of a unit after the unit's metadata hash (`.fingerprint/<pkg>-<hash>/`,
//! `build/<pkg>-<hash>/`, `deps/lib<crate>-<hash>.rlib` …), so a target dir splits cleanly into
//! units. Units are the grain of everything strata does: a unit is restored whole or not at all, and
//! a unit of a local package never enters the dependency layer.

mod depinfo;
#[cfg(test)]
mod fuzz;
mod path;
mod prune;
mod save;
mod scan;
mod session;
mod stamp;
mod units;

pub use depinfo::{ReferencedFiles, referenced_files};
pub use path::{
    Group, classify, linkable, linking_wanted, unit_package, unlinked_before_relink,
    unlinked_before_relink_scanned,
};
pub use prune::prune_local_units;
pub use save::{SaveStats, save_entries};
pub use scan::{ScannedFile, TargetScan, scan, scan_package_units};
pub use session::newest_sessions;
pub use stamp::{hash_file, hash_sources, hash_sources_cached, mtime_of, stamp_sources};
pub use units::{UnitId, unit_of, unknown_layout};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] strata_store::StoreError),
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LayerError {
    let path = path.into();
    move |source| LayerError::Io { path, source }
}
