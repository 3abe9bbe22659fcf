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
const FORMAT: &str = "strata-metadata-cache 1";

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
    field(no_deps);
    h.finalize().to_hex().to_string()
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

/// Hash of a file's bytes; `None` when it does not exist. Other read errors are `Err`: the
/// caller treats the entry as unusable.
fn file_hash(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(blake3::hash(&b).to_hex().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    format: String,
    files: Vec<(PathBuf, Option<String>)>,
}

impl MetadataCache {
    fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.metadata"))
    }

    /// The cached full output for `key`, if every watched file is unchanged.
    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.entry_path(key);
        let bytes = std::fs::read(&path).ok()?;
        let nl = bytes.iter().position(|&b| b == b'\n')?;
        let header: Header = serde_json::from_slice(&bytes[..nl]).ok()?;
        if header.format != FORMAT {
            return None;
        }
        for (file, hash) in &header.files {
            if file_hash(file).ok()? != *hash {
                return None;
            }
        }
        // Used now: `strata store gc` keeps recently used entries.
        let _ = std::fs::File::options()
            .append(true)
            .open(&path)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        Some(bytes[nl + 1..].to_vec())
    }

    /// Write the entry for `key`: the watched files' hashes as they are now, then `output`.
    /// Written to a temporary name and renamed, so readers see a whole entry or none.
    pub(crate) fn put(&self, key: &str, files: &[PathBuf], output: &[u8]) -> std::io::Result<()> {
        let mut hashed = Vec::with_capacity(files.len());
        for f in files {
            hashed.push((f.clone(), file_hash(f)?));
        }
        let header = Header {
            format: FORMAT.to_string(),
            files: hashed,
        };
        let mut bytes = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        bytes.extend_from_slice(output);
        std::fs::create_dir_all(&self.dir)?;
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!(".{key}.{}-{n}.tmp", std::process::id()));
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, self.entry_path(key)).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}
