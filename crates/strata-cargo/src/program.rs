//! Finding the programs a command would run, and telling rustup's proxies from real binaries.

use std::path::{Path, PathBuf};

/// Where `program` is found on `PATH`, as a shell would find it.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// `program` as a file: itself when it is a path, else found on `PATH`.
pub fn resolve(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        Some(program.to_path_buf())
    } else {
        on_path(&program.to_string_lossy())
    }
}

/// rustup installs its proxies (`cargo`, `rustc`, ...) as links to itself.
pub fn is_rustup_proxy(program: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(rustup) = on_path("rustup") else {
        return false;
    };
    match (std::fs::metadata(program), std::fs::metadata(&rustup)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// What tells one version of a file from another without reading it (see [`strata_fs::identity`]).
pub use strata_fs::identity;
