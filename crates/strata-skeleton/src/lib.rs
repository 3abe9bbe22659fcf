//! strata-skeleton: the "deps layer" input.
//!
//! A skeleton is a copy of the workspace's manifests with every target's source replaced by a dummy
//! and local package versions masked, so that it (and its digest) changes only when *dependencies*
//! change. strata builds the written skeleton with the real `cargo build` to get the dependency
//! artifacts; pruning the local units afterwards is not this crate's job.

#[cfg(test)]
mod fuzz;
mod manifest;
mod paths;

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use cargo_metadata::{CrateType, Metadata, Package, PackageId, TargetKind};
use toml_edit::DocumentMut;

use manifest::{inheritance_root, inherits_version, mask_lock, mask_manifest, uses_inheritance};
use paths::{mirror, normalize, read_optional, rel_key, resolve_rel};

/// Version written in place of every local package's real one.
pub const MASKED_VERSION: &str = "0.0.0";

const LIB_DUMMY: &str =
    "//! strata skeleton: dummy library; the real source replaces it for the real build.\n";
const MAIN_DUMMY: &str = "//! strata skeleton: dummy target; the real source replaces it for the real build.\nfn main() {}\n";
// One file shared by a library and a `main` target: `main` is dead code in the library build, and
// `-D warnings` is common enough that the dummy must not trip it.
const SHARED_DUMMY: &str = "//! strata skeleton: dummy target; the real source replaces it for the real build.\n#[allow(dead_code)]\nfn main() {}\n";

const CONFIG_FILES: [&str; 2] = [".cargo/config.toml", ".cargo/config"];
const TOOLCHAIN_FILES: [&str; 2] = ["rust-toolchain", "rust-toolchain.toml"];

#[derive(Debug, thiserror::Error)]
pub enum SkeletonError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: invalid TOML: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml_edit::TomlError,
    },
    #[error("{path}: not valid UTF-8")]
    NotUtf8 { path: PathBuf },
    #[error("{path}: exists and is not empty; give a new or empty directory")]
    NotEmpty { path: PathBuf },
    #[error(
        "{rel}: a local package outside the workspace root {root}; a skeleton written on its own \
         (`strata skeleton --out`, the Nix library) needs every path package inside the root"
    )]
    OutsideRoot { rel: String, root: PathBuf },
    #[error(
        "{path}: no Cargo.lock next to the workspace manifest; strata needs one (run `cargo generate-lockfile`)"
    )]
    MissingLock { path: PathBuf },
    #[error("{path}: cannot re-serialize the masked manifest: {problem}")]
    Launder { path: PathBuf, problem: String },
    #[error("{path}: cannot be placed relative to the workspace root {root}: {problem}")]
    Path {
        path: PathBuf,
        root: PathBuf,
        problem: &'static str,
    },
}

/// A package whose sources are on disk (`source` is null in metadata): workspace members, path
/// dependencies (also outside the workspace root) and `[patch]`/`[replace]` path packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPackage {
    pub name: String,
    /// The real version, not the masked one.
    pub version: String,
    /// Absolute directory of its Cargo.toml.
    pub manifest_dir: PathBuf,
    pub is_member: bool,
    /// Crate names of its targets (`-` replaced by `_`), deduplicated, in metadata order.
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skeleton {
    /// Workspace-relative path ('/'-separated, may start with "../") → content.
    files: BTreeMap<String, Vec<u8>>,
    workspace_root: PathBuf,
    local_packages: Vec<LocalPackage>,
}

/// What a dummy source must provide. Ordered so that the max over the targets sharing a file wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dummy {
    Lib,
    Main,
    Shared,
}

impl Dummy {
    fn merge(self, other: Dummy) -> Dummy {
        match (self, other) {
            (Dummy::Lib, Dummy::Main) | (Dummy::Main, Dummy::Lib) => Dummy::Shared,
            (a, b) => a.max(b),
        }
    }

    fn content(self) -> &'static str {
        match self {
            Dummy::Lib => LIB_DUMMY,
            Dummy::Main => MAIN_DUMMY,
            Dummy::Shared => SHARED_DUMMY,
        }
    }
}

fn dummy_for(target: &cargo_metadata::Target) -> Dummy {
    let needs_main = target.kind.iter().any(|k| match k {
        TargetKind::Bin | TargetKind::Test | TargetKind::Bench | TargetKind::CustomBuild => true,
        // Examples may be libraries (`crate-type = ["cdylib"]`); only binary ones need `main`.
        TargetKind::Example => {
            target.crate_types.is_empty() || target.crate_types.contains(&CrateType::Bin)
        }
        _ => false,
    });
    if needs_main { Dummy::Main } else { Dummy::Lib }
}

struct Manifest {
    doc: DocumentMut,
    mask_version: bool,
    is_member: bool,
    /// (name, real version) when the manifest is a local package's.
    package: Option<(String, String)>,
}

/// Write one skeleton file, creating its directory.
fn write_file(path: &Path, content: &[u8]) -> Result<(), SkeletonError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| SkeletonError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, content).map_err(|source| SkeletonError::Write {
        path: path.to_path_buf(),
        source,
    })
}

impl Skeleton {
    /// From `cargo metadata --format-version 1` output (with `resolve`, which tells `[patch]`
    /// targets apart from plain path dependencies).
    pub fn from_metadata(meta: &Metadata) -> Result<Skeleton, SkeletonError> {
        let root = normalize(meta.workspace_root.as_std_path());
        let members: HashSet<&PackageId> = meta.workspace_members.iter().collect();
        let locals: Vec<&Package> = meta
            .packages
            .iter()
            .filter(|p| p.source.is_none())
            .collect();
        let pinned = pinned_packages(meta, &locals);

        let mut manifests: BTreeMap<PathBuf, Manifest> = BTreeMap::new();
        for p in &locals {
            let path = normalize(p.manifest_path.as_std_path());
            let doc = manifest::read_toml(&path)?;
            manifests.insert(
                path,
                Manifest {
                    doc,
                    mask_version: !pinned.contains(&p.id),
                    is_member: members.contains(&p.id),
                    package: Some((p.name.to_string(), p.version.to_string())),
                },
            );
        }
        if let Entry::Vacant(e) = manifests.entry(root.join("Cargo.toml")) {
            // Virtual workspace root: no package, but workspace settings and profiles.
            let doc = manifest::read_toml(e.key())?;
            e.insert(Manifest {
                doc,
                mask_version: true,
                is_member: true,
                package: None,
            });
        }
        // A path package outside our workspace that inherits (`x.workspace = true`) from its own
        // workspace root needs that root manifest too, or cargo cannot load it.
        let mut foreign_roots = Vec::new();
        for (path, m) in &manifests {
            if !m.is_member
                && uses_inheritance(&m.doc)
                && let Some(r) = inheritance_root(path, &m.doc)?
                && !manifests.contains_key(&r)
                && !foreign_roots.contains(&r)
            {
                foreign_roots.push(r);
            }
        }
        for r in foreign_roots {
            let doc = manifest::read_toml(&r)?;
            manifests.insert(
                r,
                Manifest {
                    doc,
                    mask_version: true,
                    is_member: false,
                    package: None,
                },
            );
        }
        // A pinned package (see `pinned_packages`) inheriting its version keeps the workspace's.
        let mask_ws_version = !manifests
            .values()
            .any(|m| !m.mask_version && inherits_version(&m.doc));
        // Packages whose version stays real in their manifest must stay real in the lock too, or
        // `cargo build --locked` rejects the lock.
        let real_versions: HashSet<(String, String)> = manifests
            .values()
            .filter(|m| !m.mask_version || (!mask_ws_version && inherits_version(&m.doc)))
            .filter_map(|m| m.package.clone())
            .collect();

        let mut files = BTreeMap::new();
        for (path, mut m) in manifests {
            mask_manifest(&mut m.doc, m.mask_version, mask_ws_version);
            files.insert(rel_key(&path, &root)?, launder(&m.doc, &path)?);
        }

        let lock_path = root.join("Cargo.lock");
        let lock_bytes = read_optional(&lock_path)?.ok_or_else(|| SkeletonError::MissingLock {
            path: lock_path.clone(),
        })?;
        let mut lock = manifest::parse_toml(&lock_path, lock_bytes)?;
        mask_lock(&mut lock, &real_versions);
        files.insert("Cargo.lock".to_owned(), lock.to_string().into_bytes());

        let mut dummies: BTreeMap<String, Dummy> = BTreeMap::new();
        for p in &locals {
            for t in &p.targets {
                let key = rel_key(&normalize(t.src_path.as_std_path()), &root)?;
                let d = dummy_for(t);
                dummies
                    .entry(key)
                    .and_modify(|e| *e = e.merge(d))
                    .or_insert(d);
            }
        }
        for (key, d) in dummies {
            files
                .entry(key)
                .or_insert_with(|| d.content().as_bytes().to_vec());
        }

        let mut local_dirs: Vec<PathBuf> = vec![root.clone()];
        local_dirs.extend(
            locals
                .iter()
                .filter_map(|p| p.manifest_path.parent())
                .map(|d| normalize(d.as_std_path())),
        );
        for dir in &local_dirs {
            for name in CONFIG_FILES {
                add_optional(&mut files, &dir.join(name), &root)?;
            }
        }
        for name in TOOLCHAIN_FILES {
            add_optional(&mut files, &root.join(name), &root)?;
        }
        collect_ancestor_files(&mut files, &root, cargo_home().as_deref())?;

        let mut local_packages: Vec<LocalPackage> = locals
            .iter()
            .map(|p| {
                let mut targets: Vec<String> = Vec::new();
                for t in &p.targets {
                    let name = t.name.replace('-', "_");
                    if !targets.contains(&name) {
                        targets.push(name);
                    }
                }
                LocalPackage {
                    name: p.name.to_string(),
                    version: p.version.to_string(),
                    manifest_dir: p
                        .manifest_path
                        .parent()
                        .map(|d| normalize(d.as_std_path()))
                        .unwrap_or_default(),
                    is_member: members.contains(&p.id),
                    targets,
                }
            })
            .collect();
        local_packages.sort_by(|a, b| (&a.name, &a.manifest_dir).cmp(&(&b.name, &b.manifest_dir)));

        Ok(Skeleton {
            files,
            workspace_root: root,
            local_packages,
        })
    }

    /// BLAKE3 hex over the sorted (workspace-relative path, content) pairs; the absolute workspace
    /// path is not part of it.
    pub fn digest(&self) -> String {
        let mut h = blake3::Hasher::new();
        h.update(b"strata-skeleton/v1\0");
        for (path, content) in &self.files {
            // Length prefixes keep (path, content) boundaries unambiguous.
            h.update(&(path.len() as u64).to_le_bytes());
            h.update(path.as_bytes());
            h.update(&(content.len() as u64).to_le_bytes());
            h.update(content);
        }
        h.finalize().to_hex().to_string()
    }

    /// Per-file digests (workspace-relative path → BLAKE3 hex), for explaining what changed.
    pub fn file_digests(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .map(|(p, c)| (p.clone(), blake3::hash(c).to_hex().to_string()))
            .collect()
    }

    /// Writes the skeleton under `dest`, mirroring absolute paths (workspace root `/a/b/proj` goes to
    /// `dest/a/b/proj`, a path dependency at `/a/b/shared` to `dest/a/b/shared`) so relative paths
    /// between them, and cargo's config lookup through ancestors, keep working. Returns the
    /// workspace root inside `dest`. `dest` is expected to be empty: nothing is deleted.
    pub fn write(&self, dest: &Path) -> Result<PathBuf, SkeletonError> {
        let root_in_dest = mirror(dest, &self.workspace_root);
        for (rel, content) in &self.files {
            write_file(
                &resolve_rel(dest, &root_in_dest, rel, &self.workspace_root)?,
                content,
            )?;
        }
        Ok(root_in_dest)
    }

    /// Writes the skeleton into `out` with the workspace root at `out` itself (not mirrored
    /// under its absolute path, as [`Skeleton::write`] does): the Nix library adds `out` to the
    /// store, and its content alone names the dependency derivation. `out` must be new or empty;
    /// a package outside the root is refused before anything is written. Returns the number of
    /// files.
    pub fn write_rooted(&self, out: &Path) -> Result<usize, SkeletonError> {
        let read_err = |source| SkeletonError::Read {
            path: out.to_path_buf(),
            source,
        };
        if out.exists() && std::fs::read_dir(out).map_err(read_err)?.next().is_some() {
            return Err(SkeletonError::NotEmpty {
                path: out.to_path_buf(),
            });
        }
        if let Some(rel) = self
            .files
            .keys()
            .find(|rel| rel.starts_with("../") || rel.starts_with('/'))
        {
            return Err(SkeletonError::OutsideRoot {
                rel: rel.clone(),
                root: self.workspace_root.clone(),
            });
        }
        for (rel, content) in &self.files {
            write_file(&out.join(rel), content)?;
        }
        Ok(self.files.len())
    }

    /// Local packages (members and path packages), sorted by name then directory.
    pub fn local_packages(&self) -> &[LocalPackage] {
        &self.local_packages
    }

    /// The files of the skeleton, keyed by workspace-relative path.
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }

    /// Absolute workspace root the skeleton was made from.
    pub fn workspace_root(&self) -> &Path {
        &self.workspace_root
    }
}

/// Local packages that must keep their real version: those reached through a dependency declared
/// *without* `path` (a `[patch]` or `[replace]` of a registry/git crate). Masking them would break
/// the version requirement they satisfy, and cargo would silently fall back to the registry crate.
fn pinned_packages<'a>(meta: &'a Metadata, locals: &[&'a Package]) -> HashSet<&'a PackageId> {
    let mut pinned = HashSet::new();
    let by_id: HashMap<&PackageId, &Package> = meta.packages.iter().map(|p| (&p.id, p)).collect();
    let declares = |from: &Package, to: &Package| {
        from.dependencies
            .iter()
            .any(|d| d.path.is_none() && d.name == to.name.as_str() && d.req.matches(&to.version))
    };
    match &meta.resolve {
        Some(resolve) => {
            for node in &resolve.nodes {
                let Some(from) = by_id.get(&node.id) else {
                    continue;
                };
                for dep in &node.dependencies {
                    if let Some(to) = by_id.get(dep)
                        && to.source.is_none()
                        && declares(from, to)
                    {
                        pinned.insert(dep);
                    }
                }
            }
        }
        // Without the resolve graph, any matching non-path requirement counts (may over-pin,
        // which only costs digest stability, never a wrong build).
        None => {
            for from in &meta.packages {
                for to in locals {
                    if declares(from, to) {
                        pinned.insert(&to.id);
                    }
                }
            }
        }
    }
    pinned
}

fn add_optional(
    files: &mut BTreeMap<String, Vec<u8>>,
    path: &Path,
    root: &Path,
) -> Result<(), SkeletonError> {
    if let Some(bytes) = read_optional(path)? {
        files.insert(rel_key(path, root)?, bytes);
    }
    Ok(())
}

/// Cargo config files in the root's ancestors (cargo merges them all, except `$CARGO_HOME`'s,
/// which it reads wherever the build runs), and the nearest `rust-toolchain(.toml)` if the root
/// has none (rustup stops at the first directory that has one).
fn collect_ancestor_files(
    files: &mut BTreeMap<String, Vec<u8>>,
    root: &Path,
    cargo_home: Option<&Path>,
) -> Result<(), SkeletonError> {
    let cargo_home = cargo_home.map(|h| std::fs::canonicalize(h).unwrap_or_else(|_| normalize(h)));
    let mut toolchain_found = TOOLCHAIN_FILES
        .iter()
        .any(|n| files.contains_key(&rel_key(&root.join(n), root).unwrap_or_default()));
    for dir in root.ancestors().skip(1) {
        let dot_cargo = dir.join(".cargo");
        let is_cargo_home = cargo_home.as_deref().is_some_and(|home| {
            std::fs::canonicalize(&dot_cargo).is_ok_and(|d| d == home) || dot_cargo == home
        });
        if !is_cargo_home {
            for name in CONFIG_FILES {
                add_optional(files, &dir.join(name), root)?;
            }
        }
        if !toolchain_found {
            for name in TOOLCHAIN_FILES {
                let path = dir.join(name);
                if let Some(bytes) = read_optional(&path)? {
                    files.insert(rel_key(&path, root)?, bytes);
                    toolchain_found = true;
                }
            }
        }
    }
    Ok(())
}

fn cargo_home() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("CARGO_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    std::env::home_dir().map(|h| h.join(".cargo"))
}

/// Re-serialize a manifest canonically (no comments, sorted keys, normalized formatting), as
/// crane "launders" manifests: a comment or whitespace edit must not change the skeleton's digest.
fn launder(doc: &toml_edit::DocumentMut, path: &Path) -> Result<Vec<u8>, SkeletonError> {
    let text = doc.to_string();
    let table: toml::Table = toml::from_str(&text).map_err(|e| SkeletonError::Launder {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })?;
    toml::to_string(&table)
        .map(String::into_bytes)
        .map_err(|e| SkeletonError::Launder {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestor_configs_skip_cargo_home_and_take_nearest_toolchain() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        let root = base.join("a/b/proj");
        std::fs::create_dir_all(root.join(".cargo")).unwrap();
        std::fs::create_dir_all(base.join("a/.cargo")).unwrap();
        std::fs::create_dir_all(base.join(".cargo")).unwrap();
        std::fs::write(base.join("a/.cargo/config.toml"), "[env]\nA = \"1\"\n").unwrap();
        std::fs::write(base.join(".cargo/config.toml"), "[env]\nHOME_CFG = \"1\"\n").unwrap();
        std::fs::write(base.join("a/b/rust-toolchain.toml"), "[toolchain]\n").unwrap();
        std::fs::write(base.join("a/rust-toolchain"), "stable\n").unwrap();

        let mut files = BTreeMap::new();
        collect_ancestor_files(&mut files, &root, Some(&base.join(".cargo"))).unwrap();
        let keys: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["../../.cargo/config.toml", "../rust-toolchain.toml"],
            "CARGO_HOME's config and the farther toolchain file must be left out"
        );
    }
}
