//! The dev loop around cargo: the linker probe, the project's `.cargo/config.toml` (`--write`),
//! shell exports (`strata env`), the nextest `quick` profile and `strata doctor`.

pub mod config;
pub mod doctor;
pub mod linker;
pub mod nextest;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use linker::{Linker, LinkerChoice, Preference};

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
    #[error("cannot find the workspace root from {dir}: {message}")]
    Workspace { dir: PathBuf, message: String },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DevError + '_ {
    move |source| DevError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The workspace root that cargo would use from `cwd`.
pub fn workspace_root(cwd: &Path) -> Result<PathBuf, DevError> {
    let out = Command::new(strata_cargo::cargo_bin())
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .current_dir(cwd)
        .output()
        .map_err(|source| DevError::Spawn {
            program: "cargo locate-project".into(),
            source,
        })?;
    if !out.status.success() {
        return Err(DevError::Workspace {
            dir: cwd.to_path_buf(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Ok(manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cwd.to_path_buf()))
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

/// The host triple of the rustc that cargo would use in `cwd`.
pub fn host_triple(cwd: &Path) -> Result<String, DevError> {
    let out = Command::new(rustc_bin())
        .arg("-vV")
        .current_dir(cwd)
        .output()
        .map_err(|source| DevError::Spawn {
            program: "rustc -vV".into(),
            source,
        })?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap_or("x86_64-unknown-linux-gnu")
        .to_string())
}

pub(crate) fn rustc_bin() -> std::ffi::OsString {
    std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())
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
