//! `strata dev init`: a nextest `quick` profile for the edit-test loop.

use std::path::{Path, PathBuf};

use crate::{DevError, io_err};

/// Stop at the first failure, never retry, and call a test slow after 5 s (killed after 30 s).
pub const QUICK_PROFILE: &str = r#"# Written by `strata dev init`: `cargo nextest run -P quick` for the edit-test loop.
[profile.quick]
fail-fast = true
retries = 0
slow-timeout = { period = "5s", terminate-after = 6 }
"#;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    Written(PathBuf),
    /// A nextest config exists already; strata leaves it alone.
    Exists {
        path: PathBuf,
        has_quick: bool,
    },
}

/// [`init`] at the root of the workspace that `cwd` is in.
pub fn init_in(cwd: &Path) -> Result<InitOutcome, DevError> {
    init(&crate::workspace_root(cwd)?)
}

pub fn init(root: &Path) -> Result<InitOutcome, DevError> {
    let path = root.join(".config").join("nextest.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let has_quick = has_quick_profile(&text);
            return Ok(InitOutcome::Exists { path, has_quick });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&path)(e)),
    }
    strata_fs::write_atomic(&path, QUICK_PROFILE)?;
    Ok(InitOutcome::Written(path))
}

pub fn has_quick_profile(text: &str) -> bool {
    text.parse::<toml_edit::DocumentMut>()
        .ok()
        .and_then(|d| d.get("profile").and_then(|p| p.get("quick")).map(|_| ()))
        .is_some()
}
