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

/// Which commands a dependency layer built from the skeleton (`strata deps`, Nix's
/// buildDepsOnly) serves. A normal run needs no such choice: it saves what its own command used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// `cargo build --all-targets`: build, run, test (tests and dev-dependencies).
    Build,
    /// Also `cargo check --all-targets`: check, clippy and doc reuse the layer too (the default,
    /// as crane's buildDepsOnly).
    All,
}

impl Coverage {
    /// The scopes ([`strata_cargo::CargoCommand::scope`]) whose commands the layer serves.
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Coverage::Build => &["build", "test"],
            Coverage::All => &["build", "test", "check", "doc"],
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
    /// Stores holding one package layer each (the outputs of per-crate Nix derivations),
    /// restored in place, read-only, before cargo runs.
    pub package_stores: Vec<PathBuf>,
    /// Save the units of this package alone as the layer `packages/<name>` of the store in the
    /// given directory (a per-crate Nix derivation's output), whatever `save` says.
    pub save_package: Option<(String, PathBuf)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            store: None,
            coverage: Coverage::All,
            restore: true,
            save: true,
            remotes: None,
            package_stores: Vec::new(),
            save_package: None,
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
    /// The user's cargo home (the canonical one points at it).
    pub real_home: PathBuf,
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
    /// The family of commands this one belongs to, which names its layers.
    pub scope: &'static str,
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
                let real = CanonicalHome::real_home().unwrap_or_default();
                match e {
                    strata_cargo::HomeError::Off => rep.detail("the canonical cargo home is off"),
                    e => rep.warn(&format!(
                        "{e}; cargo runs with CARGO_HOME={}, so layers from other machines will not be fresh for dependencies",
                        real.display()
                    )),
                }
                // Never leave cargo an inherited CARGO_HOME that is the link: it is not ours to use.
                if !real.as_os_str().is_empty() {
                    envs.push((OsString::from("CARGO_HOME"), real.clone().into_os_string()));
                }
                real
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
        // And the cache entry this directory used last is read and parsed meanwhile.
        let (first, toolchain, prefetched) = std::thread::scope(|scope| {
            let toolchain =
                scope.spawn(|| Toolchain::detect_cached(&cwd, toolchain_cache.as_ref()));
            let prefetched = scope.spawn(|| cache.as_ref().and_then(|c| run.prefetch(c)));
            let first = run.output(cache.is_some());
            let toolchain = toolchain
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let prefetched = prefetched.join().ok().flatten();
            (first, toolchain, prefetched)
        });
        let toolchain = toolchain?;
        let (mut ws, outcome) = match &cache {
            Some(cache) => run.load_cached(first, &toolchain.id(), cache, prefetched)?,
            None => (Workspace::from_output(&first?)?, CacheOutcome::Miss),
        };
        rep.detail(match outcome {
            CacheOutcome::Hit => "cargo metadata (cached) and the toolchain read",
            CacheOutcome::Miss => "cargo metadata and the toolchain read",
        });
        if let Some(dir) = &cmd.target_dir {
            ws.set_target_dir(cwd.join(dir));
        }
        let skeleton = Skeleton::from_metadata(&ws.metadata)?;
        rep.detail("skeleton made");
        let env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| strata_key::is_key_env(k))
            .collect();
        let mut parts = KeyInputs {
            toolchain: &toolchain,
            command: cmd,
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
            real_home,
            envs,
            ws,
            store,
            toolchain,
            skeleton,
            parts,
            project,
            profiles,
            scope: cmd.scope(),
            command: cmd.clone(),
            remotes: opts.remotes.clone().filter(|r| !r.is_empty()),
        })
    }

    pub fn config_id(&self) -> String {
        self.parts.config_id()
    }

    /// The configuration id of dependency layers (without settings that change only the
    /// workspace's own units, such as `CARGO_INCREMENTAL`).
    pub fn deps_config_id(&self) -> String {
        self.parts.deps_config_id()
    }

    /// Local state of strata inside the build dir.
    pub fn state_dir(&self) -> PathBuf {
        self.ws.build_dir.join(".strata")
    }

    /// Why this build dir cannot be cached, if it cannot: a layout strata does not know (cargo's
    /// per-unit layout, asked for on the command line, in the environment or in a config file, or
    /// found on disk). Restoring into it or saving from it could be wrong, so cargo runs uncached.
    pub fn layout_problem(&self) -> Option<String> {
        const NEW_LAYOUT: &str = "build-dir-new-layout";
        if self
            .command
            .unstable
            .iter()
            .any(|z| z.starts_with(NEW_LAYOUT))
        {
            return Some(format!(
                "-Z{NEW_LAYOUT} asks cargo for its per-unit build-dir layout"
            ));
        }
        if std::env::var("CARGO_UNSTABLE_BUILD_DIR_NEW_LAYOUT").is_ok_and(|v| v != "false") {
            return Some(
                "CARGO_UNSTABLE_BUILD_DIR_NEW_LAYOUT asks cargo for its per-unit build-dir layout"
                    .into(),
            );
        }
        for (label, path) in strata_key::config_files(&self.cwd, &self.ws.root, &self.real_home) {
            if std::fs::read_to_string(&path).is_ok_and(|t| t.contains(NEW_LAYOUT)) {
                return Some(format!(
                    "{label} sets {NEW_LAYOUT} (cargo's per-unit build-dir layout)"
                ));
            }
        }
        strata_layer::unknown_layout(&self.ws.build_dir)
    }
}
