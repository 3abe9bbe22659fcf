//! The workspace as cargo describes it: root, target dir, local packages, and the files of those
//! packages with a verdict on each — does cargo read it (an *input*) or not (a README, a logo).

mod cache;
mod files;
mod filter;

pub use cache::{CacheOutcome, MetadataCache};
pub use files::{SourceFile, rel_string, source_files};
pub use filter::SourceFilter;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("could not run `cargo metadata`: {0}")]
    Spawn(std::io::Error),
    #[error("`cargo metadata` failed in {dir}:\n{stderr}")]
    Metadata { dir: PathBuf, stderr: String },
    #[error("could not parse `cargo metadata` output: {0}")]
    Parse(String),
    #[error(
        "{path}: no Cargo.lock next to the workspace manifest; strata needs one (run `cargo generate-lockfile`)"
    )]
    NoLock { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid source filter pattern `{pattern}`: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("could not run `cargo locate-project`: {0}")]
    LocateSpawn(std::io::Error),
    #[error("cannot find the workspace root from {dir}: {stderr}")]
    NoWorkspace { dir: PathBuf, stderr: String },
}

/// The root of the workspace that `cargo` would build from `cwd`: the directory of the manifest
/// `cargo locate-project --workspace` names. The one way strata finds it without the full
/// `cargo metadata` (which gives the same directory as [`Workspace::root`]).
pub fn workspace_root(cargo: &Path, cwd: &Path) -> Result<PathBuf, WorkspaceError> {
    let out = Command::new(cargo)
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .current_dir(cwd)
        .output()
        .map_err(WorkspaceError::LocateSpawn)?;
    if !out.status.success() {
        return Err(WorkspaceError::NoWorkspace {
            dir: cwd.to_path_buf(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    match manifest.parent() {
        Some(root) if manifest.is_absolute() => Ok(root.to_path_buf()),
        _ => Err(WorkspaceError::NoWorkspace {
            dir: cwd.to_path_buf(),
            stderr: format!("`cargo locate-project` printed {manifest:?}, not a manifest's path"),
        }),
    }
}

/// A package whose sources live on disk next to the workspace (`source` is null in metadata):
/// workspace members and path dependencies. Their units never enter the dependency layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPackage {
    pub name: String,
    pub version: String,
    /// Directory of its Cargo.toml.
    pub dir: PathBuf,
    pub is_member: bool,
    /// Name used for this package's source files in layers: `ws` for files under the workspace
    /// root, `pkg-<name>` for a package outside it.
    pub source_root: String,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    /// Where cargo keeps its units (`build.build-dir`, stable since cargo 1.91): the target dir
    /// unless configured apart. Layers hold files relative to it.
    pub build_dir: PathBuf,
    pub metadata: cargo_metadata::Metadata,
    pub local: Vec<LocalPackage>,
}

impl Workspace {
    /// Run `cargo metadata` in `cwd` (with the given extra args, e.g. `--manifest-path`, `--locked`,
    /// and environment, e.g. the canonical `CARGO_HOME`).
    pub fn load(
        cargo: &Path,
        cwd: &Path,
        extra_args: &[String],
        envs: &[(OsString, OsString)],
    ) -> Result<Workspace, WorkspaceError> {
        let run = MetadataRun {
            cargo,
            cwd,
            args: extra_args,
            envs,
        };
        Self::from_output(&run.output(false)?)
    }

    /// From the stdout of `cargo metadata --format-version 1`.
    pub fn from_output(bytes: &[u8]) -> Result<Workspace, WorkspaceError> {
        let metadata: cargo_metadata::Metadata =
            serde_json::from_slice(bytes).map_err(|e| WorkspaceError::Parse(e.to_string()))?;
        Self::from_metadata(metadata)
    }

    pub fn from_metadata(metadata: cargo_metadata::Metadata) -> Result<Workspace, WorkspaceError> {
        let root = metadata.workspace_root.clone().into_std_path_buf();
        let lock = root.join("Cargo.lock");
        if !lock.is_file() {
            return Err(WorkspaceError::NoLock { path: lock });
        }
        let target_dir = metadata.target_directory.clone().into_std_path_buf();
        let build_dir = metadata
            .build_directory
            .clone()
            .map(|d| d.into_std_path_buf())
            .unwrap_or_else(|| target_dir.clone());
        let members: std::collections::HashSet<_> =
            metadata.workspace_members.iter().cloned().collect();
        let mut local: Vec<LocalPackage> = metadata
            .packages
            .iter()
            .filter(|p| p.source.is_none())
            .map(|p| {
                let dir = p
                    .manifest_path
                    .parent()
                    .map(|d| d.to_path_buf().into_std_path_buf())
                    .unwrap_or_else(|| root.clone());
                let source_root = if dir.starts_with(&root) {
                    "ws".to_string()
                } else {
                    format!("pkg-{}", p.name)
                };
                LocalPackage {
                    name: p.name.to_string(),
                    version: p.version.to_string(),
                    is_member: members.contains(&p.id),
                    dir,
                    source_root,
                }
            })
            .collect();
        local.sort_by(|a, b| a.name.cmp(&b.name).then(a.dir.cmp(&b.dir)));
        Ok(Workspace {
            root,
            target_dir,
            build_dir,
            metadata,
            local,
        })
    }

    /// Package names of local packages, as they appear in `.fingerprint/<name>-<hash>`.
    /// Point the target dir elsewhere (`--target-dir`); a build dir that followed the target dir
    /// follows it there.
    pub fn set_target_dir(&mut self, dir: PathBuf) {
        if self.build_dir == self.target_dir {
            self.build_dir = dir.clone();
        }
        self.target_dir = dir;
    }

    pub fn local_names(&self) -> std::collections::BTreeSet<String> {
        self.local.iter().map(|p| p.name.clone()).collect()
    }

    /// Absolute directory for a source root name (`ws` or `pkg-<name>`).
    pub fn source_root_dir(&self, root: &str) -> Option<PathBuf> {
        if root == "ws" {
            return Some(self.root.clone());
        }
        let name = root.strip_prefix("pkg-")?;
        self.local
            .iter()
            .find(|p| p.name == name && p.source_root == root)
            .map(|p| p.dir.clone())
    }

    /// The source roots to walk: the workspace root and each local package outside it.
    pub fn source_roots(&self) -> Vec<(String, PathBuf)> {
        let mut roots = vec![("ws".to_string(), self.root.clone())];
        for p in &self.local {
            if p.source_root != "ws" {
                roots.push((p.source_root.clone(), p.dir.clone()));
            }
        }
        roots
    }

    /// A stable identity for "this project" that survives clones at other paths: the sorted
    /// names of the workspace members.
    pub fn project_id(&self) -> String {
        let mut names: Vec<&str> = self
            .local
            .iter()
            .filter(|p| p.is_member)
            .map(|p| p.name.as_str())
            .collect();
        names.sort();
        names.join(",")
    }
}

/// One `cargo metadata` invocation as strata makes it.
#[derive(Debug, Clone, Copy)]
pub struct MetadataRun<'a> {
    pub cargo: &'a Path,
    pub cwd: &'a Path,
    /// Extra arguments, e.g. `--manifest-path`, `--locked`, `--config`.
    pub args: &'a [String],
    /// Environment for cargo, e.g. the canonical `CARGO_HOME`.
    pub envs: &'a [(OsString, OsString)],
}

impl MetadataRun<'_> {
    /// Stdout of `cargo metadata --format-version 1` (with `--no-deps` when asked).
    pub fn output(&self, no_deps: bool) -> Result<Vec<u8>, WorkspaceError> {
        let mut cmd = Command::new(self.cargo);
        cmd.args(["metadata", "--format-version", "1"]);
        if no_deps {
            cmd.arg("--no-deps");
        }
        let out = cmd
            .args(self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(self.cwd)
            .output()
            .map_err(WorkspaceError::Spawn)?;
        if !out.status.success() {
            return Err(WorkspaceError::Metadata {
                dir: self.cwd.to_path_buf(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out.stdout)
    }

    /// The workspace, from `cache` when nothing cargo reads has changed (see [`MetadataCache`]).
    /// `no_deps` is this run's `output(true)`, made by the caller (beside other work);
    /// `toolchain` names the cargo and rustc in use. A cache that cannot be read or written only
    /// costs the full `cargo metadata`.
    ///
    /// `prefetched` is what [`MetadataRun::prefetch`] read meanwhile: used when its key is this
    /// run's, so a hit need not read and parse the entry after `cargo metadata --no-deps`.
    pub fn load_cached(
        &self,
        no_deps: Result<Vec<u8>, WorkspaceError>,
        toolchain: &str,
        cache: &MetadataCache,
        prefetched: Option<Prefetched>,
    ) -> Result<(Workspace, CacheOutcome), WorkspaceError> {
        let Ok(no_deps) = no_deps else {
            // The full run says what is wrong, as it would without a cache.
            return Ok((
                Workspace::load(self.cargo, self.cwd, self.args, self.envs)?,
                CacheOutcome::Miss,
            ));
        };
        let env = cache::relevant_env(self.envs);
        let mut args = self.args.to_vec();
        args.push(toolchain.to_string());
        let key = cache::key(self.cwd, &args, &env, &no_deps);
        let last = cache::last_name(self.cwd, self.args, &env);
        if let Some(p) = prefetched
            && p.key == key
        {
            return Ok((p.ws, CacheOutcome::Hit));
        }
        if let Some(bytes) = cache.get(&key)
            && let Ok(ws) = Workspace::from_output(&bytes)
        {
            cache.set_last(&last, &key);
            return Ok((ws, CacheOutcome::Hit));
        }
        let bytes = self.output(false)?;
        let ws = Workspace::from_output(&bytes)?;
        let files = cache::watched_files(&ws.metadata, self.cwd, &env);
        if cache.put(&key, &files, &bytes).is_ok() {
            cache.set_last(&last, &key);
        }
        Ok((ws, CacheOutcome::Miss))
    }

    /// The workspace of the cache entry this directory, these arguments and this environment
    /// used last, if its watched files are unchanged: read and parsed while `cargo metadata
    /// --no-deps` runs (whose output, part of the key, says whether it still holds).
    pub fn prefetch(&self, cache: &MetadataCache) -> Option<Prefetched> {
        let env = cache::relevant_env(self.envs);
        let key = cache.last(&cache::last_name(self.cwd, self.args, &env))?;
        let bytes = cache.get(&key)?;
        let ws = Workspace::from_output(&bytes).ok()?;
        Some(Prefetched { key, ws })
    }
}

/// A cache entry read ahead by [`MetadataRun::prefetch`].
pub struct Prefetched {
    key: String,
    ws: Workspace,
}
