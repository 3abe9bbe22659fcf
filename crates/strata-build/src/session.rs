//! Everything known before cargo runs: canonical cargo home, workspace, store, toolchain,
//! skeleton and key parts.

use std::ffi::OsString;
use std::path::PathBuf;

use strata_cargo::{CanonicalHome, CargoCommand, Toolchain, ToolchainCache};
use strata_key::{KeyInputs, KeyParts};
use strata_skeleton::Skeleton;
use strata_store::Store;
use strata_workspace::{CacheOutcome, MetadataCache, MetadataRun, Workspace};

use crate::report::Reporter;

/// Which commands the dependency layer serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// `cargo build --all-targets`: build, run, test (tests and dev-dependencies).
    Build,
    /// Also `cargo check --all-targets`: check and clippy reuse the layer too (the default, as
    /// crane's buildDepsOnly).
    All,
}

impl Coverage {
    pub fn label(self) -> &'static str {
        match self {
            Coverage::Build => "build",
            Coverage::All => "build+check",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Store location; `None` → `$STRATA_STORE` or the user cache dir.
    pub store: Option<PathBuf>,
    pub coverage: Coverage,
    pub restore: bool,
    pub save: bool,
    /// Remote caches: pulled on a local miss, pushed after a save (`None`: local store only).
    pub remotes: Option<std::sync::Arc<strata_remote::Remotes>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            store: None,
            coverage: Coverage::All,
            restore: true,
            save: true,
            remotes: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot read the workspace: {0}")]
    Workspace(#[from] strata_workspace::WorkspaceError),
    #[error("cannot open the store: {0}")]
    Store(#[from] strata_store::StoreError),
    #[error("cannot determine the toolchain: {0}")]
    Toolchain(#[from] strata_cargo::ToolchainError),
    #[error("cannot make the skeleton: {0}")]
    Skeleton(#[from] strata_skeleton::SkeletonError),
    #[error("cannot find the current directory: {0}")]
    Cwd(std::io::Error),
}

pub struct Session {
    pub cwd: PathBuf,
    /// Environment for every cargo strata runs (the canonical `CARGO_HOME`).
    pub envs: Vec<(OsString, OsString)>,
    pub ws: Workspace,
    pub store: Store,
    pub toolchain: Toolchain,
    pub skeleton: Skeleton,
    /// Key parts without `sources`.
    pub parts: KeyParts,
    /// Hash of the project's identity (member names).
    pub project: String,
    /// Profile dirs this command builds into: `release` and `*/release` (any target triple).
    pub profiles: Vec<String>,
    pub command: CargoCommand,
    pub remotes: Option<std::sync::Arc<strata_remote::Remotes>>,
}

impl Session {
    pub fn prepare(
        cmd: &CargoCommand,
        opts: &Options,
        rep: &Reporter,
    ) -> Result<Session, SessionError> {
        let cwd = std::env::current_dir().map_err(SessionError::Cwd)?;
        let mut envs = Vec::new();
        let real_home = match CanonicalHome::prepare() {
            Ok(home) => {
                rep.detail(&format!(
                    "CARGO_HOME={} → {}",
                    home.path.display(),
                    home.real.display()
                ));
                envs.push((OsString::from("CARGO_HOME"), home.path.into_os_string()));
                home.real
            }
            Err(e) => {
                rep.warn(&format!(
                    "{e}; layers from other machines will not be fresh for dependencies"
                ));
                CanonicalHome::real_home(&CanonicalHome::link_path()).unwrap_or_default()
            }
        };
        let mut meta_args = Vec::new();
        if let Some(p) = &cmd.manifest_path {
            meta_args.extend(["--manifest-path".to_string(), p.display().to_string()]);
        }
        meta_args.extend(cmd.lock_args());
        for c in &cmd.config {
            meta_args.extend(["--config".to_string(), c.clone()]);
        }
        for z in &cmd.unstable {
            meta_args.extend(["-Z".to_string(), z.clone()]);
        }
        let store_root = match &opts.store {
            Some(p) => p.clone(),
            None => Store::default_root()?,
        };
        let store = Store::open(store_root)?;
        let cargo = strata_cargo::cargo_bin();
        let run = MetadataRun {
            cargo: &cargo,
            cwd: &cwd,
            args: &meta_args,
            envs: &envs,
        };
        // Not in a Nix build: the store is its output there ([`strata_store::in_nix_build`]).
        let cache = (!strata_store::in_nix_build()).then(|| MetadataCache {
            dir: store.cache_dir("metadata"),
        });
        // `cargo metadata` (`--no-deps`, the cache's key, when there is a cache) and the
        // toolchain's `-vV` are independent processes: run together.
        let toolchain_cache = (!strata_store::in_nix_build()).then(|| ToolchainCache {
            dir: store.cache_dir("toolchain"),
        });
        let (first, toolchain) = std::thread::scope(|scope| {
            let toolchain =
                scope.spawn(|| Toolchain::detect_cached(&cwd, toolchain_cache.as_ref()));
            let first = run.output(cache.is_some());
            let toolchain = toolchain
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (first, toolchain)
        });
        let toolchain = toolchain?;
        let (mut ws, outcome) = match &cache {
            Some(cache) => run.load_cached(first, &toolchain.id(), cache)?,
            None => (Workspace::from_output(&first?)?, CacheOutcome::Miss),
        };
        rep.detail(match outcome {
            CacheOutcome::Hit => "cargo metadata (cached) and the toolchain read",
            CacheOutcome::Miss => "cargo metadata and the toolchain read",
        });
        if let Some(dir) = &cmd.target_dir {
            ws.target_dir = cwd.join(dir);
        }
        let skeleton = Skeleton::from_metadata(&ws.metadata)?;
        rep.detail("skeleton made");
        let env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| strata_key::is_key_env(k))
            .collect();
        let mut parts = KeyInputs {
            toolchain: &toolchain,
            command: cmd,
            coverage: opts.coverage.label(),
            cwd: &cwd,
            ws_root: &ws.root,
            cargo_home: &real_home,
            env,
        }
        .parts();
        let lock = skeleton
            .file_digests()
            .get("Cargo.lock")
            .cloned()
            .unwrap_or_default();
        parts.insert("lock", lock);
        parts.insert("skeleton", skeleton.digest());
        let project = strata_key::short_hash(ws.project_id().as_bytes());
        // Units for a target triple live in `<triple>/<profile>`, whether the triple came from
        // `--target`, CARGO_BUILD_TARGET or `build.target` in a config file.
        let profile = cmd.profile_dir();
        let profiles = vec![format!("*/{profile}"), profile];
        Ok(Session {
            cwd,
            envs,
            ws,
            store,
            toolchain,
            skeleton,
            parts,
            project,
            profiles,
            command: cmd.clone(),
            remotes: opts.remotes.clone().filter(|r| !r.is_empty()),
        })
    }

    pub fn config_id(&self) -> String {
        self.parts.config_id()
    }

    /// Local state of strata inside the target dir.
    pub fn state_dir(&self) -> PathBuf {
        self.ws.target_dir.join(".strata")
    }
}
