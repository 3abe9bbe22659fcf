//! Finding, installing and versioning the tools.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{BenchError, Result};
use crate::exec::Cmd;
use crate::model::Tool;

/// The programs the harness runs.
#[derive(Debug, Clone, Default)]
pub struct Toolset {
    /// Only when strata is among the tools.
    pub strata: Option<PathBuf>,
    pub sccache: Option<PathBuf>,
    pub mbx: Option<PathBuf>,
    pub kache: Option<PathBuf>,
    /// Tool name → version line (`cargo-chef 0.1.71`, `sccache 0.10.0`, `mbx 1.29.1`,
    /// `kache 2.0.0`, `strata 0.1.0`).
    pub versions: BTreeMap<String, String>,
    /// Selected tools that are not installed and could not be installed (or do not run), with
    /// the reason: every scenario of theirs is reported n/a with it.
    pub missing: BTreeMap<Tool, String>,
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

/// How a peer tool is installed: the program and the `cargo install` arguments.
pub struct Install {
    pub program: &'static str,
    pub args: &'static [&'static str],
}

/// The install command of each peer tool (strata is built from this repository).
pub fn install_command(tool: Tool) -> Option<Install> {
    let (program, args): (&str, &[&str]) = match tool {
        Tool::Chef => ("cargo-chef", &["install", "--locked", "cargo-chef"]),
        Tool::Sccache => ("sccache", &["install", "--locked", "sccache"]),
        Tool::Mbx => (
            "mbx",
            &["install", "--locked", "mbx", "--version", "1.29.1"],
        ),
        // Not `--locked`: one crate version pinned in kache 2.0.0's shipped lock is missing
        // from the registry, so a locked install fails; cargo resolves the versions instead.
        Tool::Kache => ("kache", &["install", "kache", "--version", "2.0.0"]),
        Tool::Native | Tool::Strata => return None,
    };
    Some(Install { program, args })
}

/// `cargo <args>`; on failure, the end of its output as the reason.
fn install(how: &Install) -> std::result::Result<(), String> {
    let shown = format!("cargo {}", how.args.join(" "));
    eprintln!("strata-bench: installing {} with `{shown}`", how.program);
    Cmd::cargo()
        .args(how.args)
        .run_ok()
        .map(|_| ())
        .map_err(|e| format!("`{shown}` failed: {e}"))
}

/// The program of `tool` (`cargo chef` for cargo-chef) and its version line, if it runs.
pub fn probe(tool: Tool) -> Option<(Option<PathBuf>, String)> {
    match tool {
        Tool::Chef => chef_version().map(|v| (None, v)),
        Tool::Sccache | Tool::Mbx | Tool::Kache => {
            let how = install_command(tool)?;
            let path = find_program(how.program)?;
            let v = version_of(Cmd::new(&path).arg("--version"))?;
            Some((Some(path), v))
        }
        Tool::Native | Tool::Strata => None,
    }
}

/// What [`install_tools`] found.
#[derive(Debug, Clone, Default)]
pub struct Installed {
    pub paths: BTreeMap<Tool, PathBuf>,
    /// Tool name → version line.
    pub versions: BTreeMap<String, String>,
    /// Tools that are still missing, with the reason.
    pub missing: BTreeMap<Tool, String>,
}

/// Install the selected peer tools (cargo-chef, sccache, mbx, kache) that are missing, with
/// [`install_command`]. A tool that cannot be installed is not an error: it is returned in
/// `missing` with the reason.
pub fn install_tools(tools: &[Tool]) -> Installed {
    let mut out = Installed::default();
    for &tool in tools {
        let Some(how) = install_command(tool) else {
            continue;
        };
        let found = match probe(tool) {
            Some(f) => Ok(f),
            None => install(&how).and_then(|()| {
                probe(tool).ok_or_else(|| {
                    format!(
                        "`{}` is not found or does not run after `cargo {}`",
                        how.program,
                        how.args.join(" ")
                    )
                })
            }),
        };
        match found {
            Ok((path, version)) => {
                // `cargo chef` names itself `cargo-chef 0.1.71`; the others `name x.y.z`.
                out.versions.insert(how.program.to_string(), version);
                if let Some(p) = path {
                    out.paths.insert(tool, p);
                }
            }
            Err(reason) => {
                eprintln!("strata-bench: {} is not available: {reason}", tool.id());
                out.missing
                    .insert(tool, format!("{} is not installed: {reason}", tool.title()));
            }
        }
    }
    out
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

/// Everything the selected tools need, installed if missing, with versions. Peer tools that
/// cannot be installed are left in `missing`; only a strata binary that cannot be built is an
/// error.
pub fn toolset(repo: &Path, tools: &[Tool], strata: Option<&Path>) -> Result<Toolset> {
    let Installed {
        mut paths,
        mut versions,
        missing,
    } = install_tools(tools);
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
        sccache: paths.remove(&Tool::Sccache),
        mbx: paths.remove(&Tool::Mbx),
        kache: paths.remove(&Tool::Kache),
        versions,
        missing,
    })
}
