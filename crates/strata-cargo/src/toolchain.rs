//! The toolchain cargo will use in a directory (rustup may pick one per directory).

use std::path::Path;
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    #[error("could not run `{cmd}`: {source}")]
    Spawn { cmd: String, source: std::io::Error },
    #[error("`{cmd}` failed: {stderr}")]
    Failed { cmd: String, stderr: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// `rustc -vV` output: version, commit, host, LLVM.
    pub rustc_vv: String,
    /// `cargo -V` output.
    pub cargo_v: String,
    pub host: String,
}

impl Toolchain {
    /// Everything that tells this toolchain from another: both version outputs.
    pub fn id(&self) -> String {
        format!("{}\n{}", self.rustc_vv.trim(), self.cargo_v.trim())
    }

    /// Cargo's minor version (`cargo 1.95.0 (…)` → 95), when `cargo -V` reads as one.
    pub fn cargo_minor(&self) -> Option<u32> {
        version_minor(&self.cargo_v)
    }

    pub fn detect(dir: &Path) -> Result<Toolchain, ToolchainError> {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        // Two processes behind rustup's proxies: asked together.
        let (rustc_vv, cargo_v) = std::thread::scope(|scope| {
            let cargo_v =
                scope.spawn(|| run(Command::new(crate::cargo_bin()).arg("-V").current_dir(dir)));
            let rustc_vv = run(Command::new(&rustc).arg("-vV").current_dir(dir));
            let cargo_v = cargo_v
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (rustc_vv, cargo_v)
        });
        let (rustc_vv, cargo_v) = (rustc_vv?, cargo_v?);
        let host = rustc_vv
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .unwrap_or("unknown")
            .trim()
            .to_string();
        Ok(Toolchain {
            rustc_vv,
            cargo_v,
            host,
        })
    }
}

/// The minor version of a `cargo -V` or `rustc -V` line: `cargo 1.95.0 (…)` → 95,
/// `cargo 1.97.0-nightly (…)` → 97.
pub fn version_minor(version_line: &str) -> Option<u32> {
    version_line
        .split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}

fn run(cmd: &mut Command) -> Result<String, ToolchainError> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|source| ToolchainError::Spawn {
        cmd: shown.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(ToolchainError::Failed {
            cmd: shown,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::version_minor;

    #[test]
    fn minor_versions_of_version_lines() {
        assert_eq!(
            version_minor("cargo 1.95.0 (f2d3ce0bd 2026-03-21)"),
            Some(95)
        );
        assert_eq!(
            version_minor("cargo 1.97.0-nightly (0123abc 2026-06-01)"),
            Some(97)
        );
        assert_eq!(
            version_minor("rustc 1.66.1 (90743e729 2023-01-10)\n"),
            Some(66)
        );
        assert_eq!(version_minor("cargo"), None);
        assert_eq!(version_minor(""), None);
    }
}
