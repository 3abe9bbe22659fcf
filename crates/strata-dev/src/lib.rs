//! The dev loop around cargo: the linker probe, the project's `.cargo/config.toml` (`--write`),
//! shell exports (`strata env`), the nextest `quick` profile and `strata doctor`.

pub mod config;
pub mod doctor;
pub mod linker;
pub mod nextest;
pub mod setup;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use linker::{Linker, LinkerChoice, Preference};
pub use setup::{Place, Setup};

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("{path}: `{key}` is a {found}, strata expected {expected}; fix or remove it")]
    Shape {
        path: PathBuf,
        key: String,
        found: String,
        expected: String,
    },
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Git(String),
    #[error(transparent)]
    Workspace(#[from] strata_workspace::WorkspaceError),
    #[error(transparent)]
    Toolchain(#[from] strata_cargo::ToolchainError),
    /// Work on a thread of its own panicked (what it was doing).
    #[error("{0} panicked")]
    Panicked(&'static str),
    /// An error found once and kept, told again to the next caller that needs the same answer.
    #[error(transparent)]
    Again(std::sync::Arc<DevError>),
}

impl From<strata_fs::WriteError> for DevError {
    fn from(e: strata_fs::WriteError) -> DevError {
        DevError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DevError + '_ {
    move |source| DevError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The workspace root that cargo would use from `cwd` ([`strata_workspace::workspace_root`]).
pub fn workspace_root(cwd: &Path) -> Result<PathBuf, DevError> {
    Ok(strata_workspace::workspace_root(
        &strata_cargo::cargo_bin(),
        cwd,
    )?)
}

/// A target dir shared by every worktree of the git repository at `cwd`: `strata-target` under
/// git's common dir (the main `.git`, which all worktrees share).
pub fn shared_target_dir(cwd: &Path) -> Result<PathBuf, DevError> {
    let out = Command::new("git")
        .args(["rev-parse", "--path-format=absolute", "--git-common-dir"])
        .current_dir(cwd)
        .output()
        .map_err(|source| DevError::Spawn {
            program: "git".into(),
            source,
        })?;
    if !out.status.success() {
        return Err(DevError::Git(format!(
            "--shared-target-dir needs a git repository: {} is not in one ({})",
            cwd.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("strata-target"))
}

/// The host triple of the rustc that cargo would use in `cwd` ([`strata_cargo::host_triple`]).
pub fn host_triple(cwd: &Path) -> Result<String, DevError> {
    Ok(strata_cargo::host_triple(cwd)?)
}

/// `CARGO_TARGET_<TRIPLE>_RUSTFLAGS`.
pub fn target_env(triple: &str, what: &str) -> String {
    format!(
        "CARGO_TARGET_{}_{what}",
        triple.to_uppercase().replace(['-', '.'], "_")
    )
}

/// Quote a value for a POSIX shell.
pub fn shell_quote(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c))
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}
