//! strata-store: the local content-addressed store.
//!
//! * blobs: file contents, named by the BLAKE3 of their uncompressed bytes,
//!   stored zstd-compressed under `blobs/<xx>/<hex>.zst`, or as is under
//!   `blobs/<xx>/<hex>.raw` when compression is off or does not pay (raw
//!   blobs are restored by reflink where the filesystem supports it);
//! * manifests: one layer (files under a target dir) as JSON, named by the
//!   BLAKE3 of the JSON bytes, under `manifests/<xx>/<hex>.json.zst`;
//! * refs: named pointers to manifests under `refs/<name>`;
//! * linked copies: uncompressed copies of some blobs under `linked/`, hardlinked into
//!   target dirs by restores (a cache; see [`Store::put_from_linked`]).
//!
//! Every object is written to `tmp/`, fsynced and renamed into place, so a
//! crash never leaves a torn object under its final name. Many processes may
//! use one store: savers/restorers hold [`Store::lock_shared`], gc holds the
//! exclusive lock.
//!
//! [`Manifest::validate`] checks paths and symlinks *within one manifest*.
//! Whoever writes files from a manifest must still avoid following symlinks
//! already present on disk (e.g. restored by another layer).

mod error;
#[cfg(test)]
mod fuzz;
mod id;
mod linked;
mod maint;
mod manifest;
pub mod refs;
mod size;
mod store;

pub use error::StoreError;
pub use id::ObjectId;
pub use linked::FromLinked;
pub use maint::{CorruptObject, DanglingRef, GcReport, MissingBlobRef, StoreStats, VerifyReport};
pub use manifest::{Entry, EntryKind, FileTime, MANIFEST_FORMAT, Manifest, SourceStamp};
pub use size::parse_size;
pub use store::{BlobForm, MAX_MANIFEST_JSON, PutBlob, SMALL_BLOB, Store, StoreLock};

/// Inside a Nix build (`NIX_BUILD_TOP` is set) the store is an input from /nix/store or becomes
/// an output: it must hold only content-addressed objects, no linked copies or caches that
/// name the build dir.
pub fn in_nix_build() -> bool {
    std::env::var_os("NIX_BUILD_TOP").is_some()
}

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}
    #[test]
    fn store_is_send_sync() {
        assert_send_sync::<super::Store>();
    }
}
