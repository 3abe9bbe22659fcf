//! A cache of `cargo metadata` output, so that a command on an unchanged workspace does not pay
//! for cargo's dependency resolution again (0.15 s on xh's 200 packages; `--no-deps` takes
//! 0.03 s).
//!
//! An entry is only used when nothing cargo reads for the full output could have changed:
//! - the key holds the output of `cargo metadata --no-deps` (run every time, with the same
//!   arguments and environment). That covers what is hard to list by hand: which manifest is the
//!   workspace root, member globs, auto-discovered targets, the target dir, and the members'
//!   manifests as cargo parsed them. It also holds the arguments, the working directory, the
//!   environment cargo reads (`CARGO*`, `RUSTUP_*`, `HOME`) and the toolchain's version;
//! - the entry lists files whose bytes the full output also depends on, and their hashes when the
//!   entry was written: `Cargo.lock`, every local package's manifest (path dependencies outside
//!   the workspace included) and the cargo config files cargo would read. An entry is used only if
//!   each still hashes the same (or is still absent).
//!
//! Registry and git packages are pinned by the lock file. A broken or unreadable entry is a miss.

use std::path::{Path, PathBuf};

/// Bumped whenever the entry layout or the key changes.
const FORMAT: &str = "strata-metadata-cache 2";

/// Where entries live (a directory of the store) and what else goes into every key.
#[derive(Debug, Clone)]
pub struct MetadataCache {
    pub dir: PathBuf,
}

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// The full output came from the cache.
    Hit,
    /// `cargo metadata` ran; the entry was written (or could not be, which only costs speed).
    Miss,
}

/// Digest of everything that selects an entry (see the module docs).
pub(crate) fn key(
    cwd: &Path,
    args: &[String],
    envs: &[(String, String)],
    no_deps: &[u8],
) -> String {
    digest(cwd, args, envs, Some(no_deps)).to_hex().to_string()
}

/// The fields of a key, each with its length: the directory, the arguments, the environment and,
/// when given, `cargo metadata --no-deps`'s output.
fn digest(
    cwd: &Path,
    args: &[String],
    envs: &[(String, String)],
    no_deps: Option<&[u8]>,
) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    let mut field = |b: &[u8]| {
        h.update(&(b.len() as u64).to_le_bytes());
        h.update(b);
    };
    field(FORMAT.as_bytes());
    field(cwd.to_string_lossy().as_bytes());
    for a in args {
        field(a.as_bytes());
    }
    for (k, v) in envs {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    if let Some(out) = no_deps {
        field(out);
    }
    h.finalize()
}

/// The environment cargo reads that could change its metadata: `CARGO*` (home, target dir,
/// registries, config given as env), `RUSTUP_*` (which toolchain) and `HOME` (the default
/// cargo home), with `overrides` (what strata passes to cargo) applied. Sorted.
pub(crate) fn relevant_env(
    overrides: &[(std::ffi::OsString, std::ffi::OsString)],
) -> Vec<(String, String)> {
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("CARGO") || k.starts_with("RUSTUP_") || k == "HOME")
        .collect();
    for (k, v) in overrides {
        env.insert(
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        );
    }
    env.into_iter().collect()
}

/// The files an entry depends on besides the key: `Cargo.lock`, the manifests of local
/// packages, and the cargo config files of `cwd`'s ancestors and of the cargo home.
pub(crate) fn watched_files(
    meta: &cargo_metadata::Metadata,
    cwd: &Path,
    env: &[(String, String)],
) -> Vec<PathBuf> {
    let root = meta.workspace_root.as_std_path();
    let mut files = vec![root.join("Cargo.lock"), root.join("Cargo.toml")];
    files.extend(
        meta.packages
            .iter()
            .filter(|p| p.source.is_none())
            .map(|p| p.manifest_path.clone().into_std_path_buf()),
    );
    for dir in cwd.ancestors() {
        files.push(dir.join(".cargo").join("config"));
        files.push(dir.join(".cargo").join("config.toml"));
    }
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| PathBuf::from(v))
    };
    if let Some(home) = get("CARGO_HOME").or_else(|| get("HOME").map(|h| h.join(".cargo"))) {
        files.push(home.join("config"));
        files.push(home.join("config.toml"));
    }
    files.sort();
    files.dedup();
    files
}

/// The name of the file that holds the key a directory, its arguments and environment used
/// last (without the toolchain, which is asked at the same time as the prefetch runs).
pub(crate) fn last_name(cwd: &Path, args: &[String], envs: &[(String, String)]) -> String {
    format!("last-{}", &digest(cwd, args, envs, None).to_hex()[..32])
}

impl MetadataCache {
    /// The key recorded under `name` ([`last_name`]).
    pub(crate) fn last(&self, name: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join(name)).ok()?;
        let key = text.trim();
        (key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit())).then(|| key.to_string())
    }

    /// Record `key` under `name`, when it is not there already (best effort: only speed).
    pub(crate) fn set_last(&self, name: &str, key: &str) {
        if self.last(name).as_deref() != Some(key) {
            let _ = strata_fs::write_atomic(&self.dir.join(name), key);
        }
    }

    fn entries(&self) -> strata_fs::WatchedCache {
        strata_fs::WatchedCache::new(&self.dir, FORMAT)
    }

    fn entry_name(key: &str) -> String {
        format!("{key}.metadata")
    }

    /// The cached full output for `key`, if every watched file has the same bytes.
    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.entries().get(&Self::entry_name(key))
    }

    /// Write the entry for `key`: the watched files' hashes as they are now, then `output`.
    pub(crate) fn put(
        &self,
        key: &str,
        files: &[PathBuf],
        output: &[u8],
    ) -> Result<(), strata_fs::WriteError> {
        self.entries().put(
            &Self::entry_name(key),
            files,
            strata_fs::Watch::Content,
            output,
        )
    }
}
