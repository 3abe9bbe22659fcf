//! Finding, installing and versioning the tools.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{BenchError, Result};
use crate::exec::Cmd;
use crate::model::Tool;

/// The programs the harness runs.
#[derive(Debug, Clone)]
pub struct Toolset {
    /// Only when strata is among the tools.
    pub strata: Option<PathBuf>,
    pub sccache: Option<PathBuf>,
    /// Tool name → version line (`cargo-chef 0.1.71`, `sccache 0.10.0`, `strata 0.1.0`).
    pub versions: BTreeMap<String, String>,
}

/// `name` in `PATH` or in cargo's bin dir (where `cargo install` puts it).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(h) = cargo_home {
        dirs.push(h.join("bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn version_of(cmd: Cmd) -> Option<String> {
    let out = cmd.run().ok()?;
    out.status.success().then(|| {
        out.stdout
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    })
}

pub fn chef_version() -> Option<String> {
    // `cargo chef` is found by cargo in PATH and in its bin dir. Run as a cargo subcommand, it
    // names itself `cargo-chef-chef`.
    version_of(Cmd::cargo().args(["chef", "--version"]))
        .map(|v| v.replace("cargo-chef-chef", "cargo-chef"))
}

pub fn sccache_version(path: &Path) -> Option<String> {
    version_of(Cmd::new(path).arg("--version"))
}

/// `cargo install --locked <krate>`.
fn install(krate: &str) -> Result<()> {
    eprintln!("strata-bench: installing {krate} with `cargo install --locked {krate}`");
    Cmd::cargo()
        .args(["install", "--locked", krate])
        .run_ok()
        .map(|_| ())
}

/// Install cargo-chef and sccache if missing; returns their versions.
pub fn install_tools(tools: &[Tool]) -> Result<BTreeMap<String, String>> {
    let mut versions = BTreeMap::new();
    if tools.contains(&Tool::Chef) {
        if chef_version().is_none() {
            install("cargo-chef")?;
        }
        let v = chef_version()
            .ok_or_else(|| BenchError::Other("cargo chef does not run after install".into()))?;
        versions.insert("cargo-chef".into(), v);
    }
    if tools.contains(&Tool::Sccache) {
        if find_program("sccache").is_none() {
            install("sccache")?;
        }
        let path = find_program("sccache")
            .ok_or_else(|| BenchError::Other("sccache is not found after install".into()))?;
        let v = sccache_version(&path)
            .ok_or_else(|| BenchError::Other("sccache --version failed".into()))?;
        versions.insert("sccache".into(), v);
    }
    Ok(versions)
}

/// The strata binary: `explicit`, else `<repo>/target/release/strata`, built with
/// `cargo build --release -p strata-cli`.
pub fn strata_binary(repo: &Path, explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(BenchError::Other(format!("{} does not exist", p.display())))
        };
    }
    // Always `cargo build` (a no-op when fresh), so the binary matches the commit we record.
    eprintln!("strata-bench: cargo build --release -p strata-cli");
    Cmd::cargo()
        .args(["build", "--release", "--locked", "-p", "strata-cli"])
        .dir(repo)
        .run_ok()?;
    Ok(repo.join("target/release/strata"))
}

/// Everything the selected tools need, installed if missing, with versions.
pub fn toolset(repo: &Path, tools: &[Tool], strata: Option<&Path>) -> Result<Toolset> {
    let mut versions = install_tools(tools)?;
    let strata = if tools.contains(&Tool::Strata) {
        let bin = strata_binary(repo, strata)?;
        let v = version_of(Cmd::new(&bin).arg("--version"))
            .ok_or_else(|| BenchError::Other(format!("{} --version failed", bin.display())))?;
        versions.insert("strata".into(), v);
        Some(bin)
    } else {
        None
    };
    Ok(Toolset {
        strata,
        sccache: find_program("sccache"),
        versions,
    })
}
