//! strata-nixcache: serve Nix store paths as a Nix binary cache.
//!
//! A binary cache is a flat set of objects under one root (a directory for a `file://`
//! substituter, or a prefix of a remote served over HTTP):
//!
//! * `nix-cache-info`: `StoreDir`, `WantMassQuery`, `Priority`;
//! * `<hash>.narinfo`: one per store path (`<hash>` is the 32-character hash part of its base
//!   name), naming the NAR file, its hashes and sizes, the path's references and deriver, and
//!   ed25519 signatures (`Sig: <key name>:<base64>`) over the path's fingerprint;
//! * `nar/<filehash>.nar.zst` (or `.nar`): the path's NAR serialization, compressed.
//!
//! [`export`] writes those objects for a set of store paths (optionally their closure) into an
//! [`ObjectSink`], skipping what the sink already has. [`DirSink`] is the directory sink; a
//! remote store implements the trait itself.
//!
//! What comes from Nix: references and derivers are read with `nix-store --query` (see
//! [`NixStore`]); NAR bytes and hashes are computed here from the filesystem and match
//! `nix-store --dump` / `nix-store -q --hash` (the tests check both).

mod base32;
mod error;
mod export;
#[cfg(test)]
mod fuzz;
mod keys;
mod nar;
mod narinfo;
mod nixstore;
mod storepath;

pub use base32::{decode as nix_base32_decode, encode as nix_base32};
pub use error::{Error, SinkError};
pub use export::{
    CACHE_INFO_KEY, Compression, DirSink, ExportOptions, ExportReport, ObjectSink, PathObjects,
    cache_info, export, narinfo_key, path_objects,
};
pub use keys::{PublicKey, SecretKey, generate_key_pair};
pub use nar::{NarDigest, dump_nar, nar_digest};
pub use narinfo::NarInfo;
pub use nixstore::{NixStore, PathInfo};
pub use storepath::StorePath;
