//! `strata doctor`: what the dev loop has, lacks or fights with, each with its fix.

use std::path::{Path, PathBuf};
use std::process::Command;

use strata_cargo::program::{is_rustup_proxy, on_path};

use crate::linker::probe_flags;
use crate::{DevError, target_env};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Missing,
    /// Present but working against strata or the dev loop.
    Conflict,
    /// Configured but does not work.
    Broken,
}

impl Status {
    /// Broken or in conflict: what makes `strata doctor` fail. Missing tools are only advice.
    pub fn is_problem(self) -> bool {
        matches!(self, Status::Broken | Status::Conflict)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::Conflict => "conflict",
            Status::Broken => "broken",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub name: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

/// The oldest cargo strata's dev loop is documented for (edition 2024, `build.incremental`).
pub const MIN_CARGO_MINOR: u32 = 85;

fn run(program: &Path, args: &[&str], cwd: &Path) -> Option<(bool, String)> {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .ok()?;
    let text = if out.stdout.is_empty() {
        String::from_utf8_lossy(&out.stderr)
    } else {
        String::from_utf8_lossy(&out.stdout)
    };
    Some((
        out.status.success(),
        text.lines().next().unwrap_or("").trim().to_string(),
    ))
}

/// Answers of tools to `--version`, kept in a directory while the binary is the same file (its
/// path, size, mtime and inode: [`strata_fs::Watch::Identity`]), so that it is not asked again: `strata dev` runs the doctor beside its
/// restore each time, and on 2 cores its processes slow the restore down. Only answers of files
/// that are tools of their own are kept: a rustup proxy answers for whichever toolchain is active,
/// and a failure may be fixed without the binary changing.
#[derive(Debug, Clone, Default)]
pub struct VersionCache {
    dir: Option<PathBuf>,
}

impl VersionCache {
    /// The name of the cache's directory among the store's caches (`Store::cache_dir`).
    pub const STORE_CACHE: &'static str = "tool-versions";

    /// Answers kept in `dir` (created when first needed).
    pub fn in_dir(dir: PathBuf) -> VersionCache {
        VersionCache { dir: Some(dir) }
    }

    /// Every tool is asked (`strata doctor`).
    pub fn off() -> VersionCache {
        VersionCache::default()
    }

    /// Where the answer of `program args` is kept (the cache, the entry's name, the binary it
    /// watches), if it may be kept.
    fn entry(
        &self,
        program: &Path,
        args: &[&str],
    ) -> Option<(strata_fs::WatchedCache, String, PathBuf)> {
        let dir = self.dir.as_ref()?;
        let file = strata_cargo::program::resolve(program)?;
        if is_rustup_proxy(&file) {
            return None;
        }
        let mut h = blake3::Hasher::new();
        h.update(file.as_os_str().as_encoded_bytes());
        h.update(&[0]);
        for a in args {
            h.update(a.as_bytes());
            h.update(&[0]);
        }
        let name = h.finalize().to_hex()[..32].to_string();
        Some((
            strata_fs::WatchedCache::new(dir, VERSION_CACHE_FORMAT),
            name,
            file,
        ))
    }
}

const VERSION_CACHE_FORMAT: &str = "strata-tool-version 1";

fn tool(
    name: &str,
    program: &Path,
    args: &[&str],
    cwd: &Path,
    fix: &str,
    cache: &VersionCache,
) -> Finding {
    let entry = cache.entry(program, args);
    let kept = entry
        .as_ref()
        .and_then(|(c, name, _)| c.get(name))
        .and_then(|v| String::from_utf8(v).ok())
        .filter(|v| !v.is_empty());
    let answer = match kept {
        Some(version) => Some((true, version)),
        None => {
            let answer = run(program, args, cwd);
            if let (Some((c, name, file)), Some((true, version))) = (&entry, &answer) {
                // A cache: a failure to keep the answer only costs asking again next time.
                let _ = c.put(
                    name,
                    std::slice::from_ref(file),
                    strata_fs::Watch::Identity,
                    version.as_bytes(),
                );
            }
            answer
        }
    };
    match answer {
        Some((true, version)) => Finding {
            name: name.into(),
            status: Status::Ok,
            detail: version,
            fix: None,
        },
        Some((false, err)) => Finding {
            name: name.into(),
            status: Status::Missing,
            detail: err,
            fix: Some(fix.into()),
        },
        None => Finding {
            name: name.into(),
            status: Status::Missing,
            detail: format!("`{}` is not on PATH", program.display()),
            fix: Some(fix.into()),
        },
    }
}

fn cargo(cwd: &Path, known: Option<&str>) -> Finding {
    let answer = match known {
        Some(v) => Some((true, v.lines().next().unwrap_or("").trim().to_string())),
        None => run(Path::new("cargo"), &["-V"], cwd),
    };
    match answer {
        Some((true, v)) => match strata_cargo::version_minor(&v) {
            Some(m) if m < MIN_CARGO_MINOR => Finding {
                name: "cargo".into(),
                status: Status::Conflict,
                detail: format!("{v}: older than 1.{MIN_CARGO_MINOR}"),
                fix: Some("rustup update stable".into()),
            },
            _ => Finding {
                name: "cargo".into(),
                status: Status::Ok,
                detail: v,
                fix: None,
            },
        },
        _ => Finding {
            name: "cargo".into(),
            status: Status::Missing,
            detail: "`cargo -V` failed".into(),
            fix: Some("install Rust with rustup: https://rustup.rs".into()),
        },
    }
}

/// cargo-nextest, asked directly where cargo would find it: cargo searches PATH with the cargo
/// home's `bin` first unless PATH names that dir itself. Going through `cargo nextest` costs two
/// more processes, one of them rustup's proxy.
fn nextest(cwd: &Path, cache: &VersionCache) -> Finding {
    let fix = "cargo install --locked cargo-nextest";
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let home_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|h| h.join("bin"));
    if let Some(home_bin) = home_bin
        && !dirs.contains(&home_bin)
    {
        dirs.insert(0, home_bin);
    }
    match dirs
        .iter()
        .map(|d| d.join("cargo-nextest"))
        .find(|p| p.is_file())
    {
        Some(bin) => tool(
            "cargo-nextest",
            &bin,
            &["nextest", "--version"],
            cwd,
            fix,
            cache,
        ),
        None => tool(
            "cargo-nextest",
            Path::new("cargo"),
            &["nextest", "--version"],
            cwd,
            fix,
            cache,
        ),
    }
}

/// rust-analyzer, without asking rustup's proxy when the component is absent (slow): the
/// component lives in the toolchain's sysroot (`sysroot` when known, else asked of rustc).
fn rust_analyzer(cwd: &Path, sysroot: Option<&Path>, cache: &VersionCache) -> Finding {
    let fix = "rustup component add rust-analyzer";
    let name = "rust-analyzer";
    let Some(found) = on_path("rust-analyzer") else {
        return tool(name, Path::new(name), &["--version"], cwd, fix, cache);
    };
    if !is_rustup_proxy(&found) {
        return tool(name, &found, &["--version"], cwd, fix, cache);
    }
    let sysroot = match sysroot {
        Some(s) => Some(s.to_path_buf()),
        None => run(Path::new("rustc"), &["--print", "sysroot"], cwd)
            .filter(|(ok, _)| *ok)
            .map(|(_, root)| PathBuf::from(root)),
    };
    let in_sysroot = sysroot
        .map(|root| root.join("bin").join(name))
        .filter(|p| p.is_file());
    match in_sysroot {
        Some(bin) => tool(name, &bin, &["--version"], cwd, fix, cache),
        None => Finding {
            name: name.into(),
            status: Status::Missing,
            detail: "not installed for this toolchain (rustup's proxy is on PATH)".into(),
            fix: Some(fix.into()),
        },
    }
}

/// Cargo config files that apply in `cwd` (nearest first), then the cargo home's.
pub fn config_files(cwd: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in cwd.ancestors() {
        for name in ["config.toml", "config"] {
            let p = dir.join(".cargo").join(name);
            if p.is_file() && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    if let Ok(home) = strata_cargo::CanonicalHome::real_home() {
        for name in ["config.toml", "config"] {
            let p = home.join(name);
            if p.is_file() && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// The canonical cargo home: the link, and fd 8 of this process open on the real home.
fn cargo_home() -> Finding {
    use strata_cargo::{CanonicalHome, HomeError};
    let name = "cargo home".to_string();
    match CanonicalHome::prepare() {
        Ok(h) => Finding {
            name,
            status: Status::Ok,
            detail: format!(
                "CARGO_HOME={} (→ {} → {})",
                h.path.display(),
                strata_cargo::VIEW,
                h.real.display()
            ),
            fix: None,
        },
        Err(HomeError::Off) => Finding {
            name,
            status: Status::Ok,
            detail: "canonical link off (STRATA_CARGO_HOME_LINK=off): layers from other machines \
                     are stale for dependencies"
                .into(),
            fix: None,
        },
        Err(e @ HomeError::Taken { .. }) => {
            let link = strata_cargo::CanonicalHome::link_path().unwrap_or_default();
            Finding {
                name,
                status: Status::Conflict,
                detail: e.to_string(),
                fix: Some(format!(
                    "have root make the link once for every user (`ln -s {} {}`), or remove what \
                     is at that path",
                    strata_cargo::VIEW,
                    link.display()
                )),
            }
        }
        Err(e @ HomeError::NoView { .. }) => Finding {
            name,
            status: Status::Broken,
            detail: e.to_string(),
            fix: Some("eval \"$(strata env)\"".into()),
        },
        Err(e) => Finding {
            name,
            status: Status::Broken,
            detail: e.to_string(),
            fix: None,
        },
    }
}

/// A linker setting found in config or the environment.
#[derive(Debug, Clone)]
struct LinkerSetting {
    /// Where: `<file>: target.<host>.linker` or `env RUSTFLAGS`.
    place: String,
    rustflags: Vec<String>,
    linker: Option<String>,
}

fn strings(item: &toml_edit::Item) -> Vec<String> {
    if let Some(s) = item.as_str() {
        return s.split_whitespace().map(String::from).collect();
    }
    item.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn mentions_linker(flags: &[String]) -> bool {
    flags
        .iter()
        .any(|f| f.contains("-fuse-ld=") || f.starts_with("linker=") || f.contains("linker-flavor"))
}

fn linker_settings(cwd: &Path, host: &str) -> Vec<LinkerSetting> {
    let mut out = Vec::new();
    for (var, is_flags) in [
        ("RUSTFLAGS".to_string(), true),
        (target_env(host, "RUSTFLAGS"), true),
        (target_env(host, "LINKER"), false),
    ] {
        if let Some(v) = std::env::var_os(&var).filter(|v| !v.is_empty()) {
            let v = v.to_string_lossy().into_owned();
            let s = if is_flags {
                LinkerSetting {
                    place: format!("environment variable {var}"),
                    rustflags: v.split_whitespace().map(String::from).collect(),
                    linker: None,
                }
            } else {
                LinkerSetting {
                    place: format!("environment variable {var}"),
                    rustflags: Vec::new(),
                    linker: Some(v),
                }
            };
            if s.linker.is_some() || mentions_linker(&s.rustflags) {
                out.push(s);
            }
        }
    }
    for file in config_files(cwd) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
            continue;
        };
        let f = file.display();
        if let Some(flags) = doc.get("build").and_then(|b| b.get("rustflags")) {
            let flags = strings(flags);
            if mentions_linker(&flags) {
                out.push(LinkerSetting {
                    place: format!("{f}: build.rustflags"),
                    rustflags: flags,
                    linker: None,
                });
            }
        }
        if let Some(t) = doc.get("target").and_then(|t| t.get(host)) {
            let flags = t.get("rustflags").map(strings).unwrap_or_default();
            if mentions_linker(&flags) {
                out.push(LinkerSetting {
                    place: format!("{f}: target.{host}.rustflags"),
                    rustflags: flags,
                    linker: None,
                });
            }
            if let Some(l) = t.get("linker").and_then(|l| l.as_str()) {
                // Cargo resolves a relative linker path with a slash against the config's parent.
                let l = if l.contains('/') && !l.starts_with('/') {
                    file.parent()
                        .and_then(Path::parent)
                        .map(|d| d.join(l).to_string_lossy().into_owned())
                        .unwrap_or_else(|| l.to_string())
                } else {
                    l.to_string()
                };
                out.push(LinkerSetting {
                    place: format!("{f}: target.{host}.linker"),
                    rustflags: Vec::new(),
                    linker: Some(l),
                });
            }
        }
    }
    out
}

fn wrapper_settings(cwd: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for var in [
        "RUSTC_WRAPPER",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    ] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            out.push((
                format!("environment variable {var}"),
                v.to_string_lossy().into_owned(),
            ));
        }
    }
    for file in config_files(cwd) {
        let Ok(doc) = std::fs::read_to_string(&file)
            .unwrap_or_default()
            .parse::<toml_edit::DocumentMut>()
        else {
            continue;
        };
        for key in ["rustc-wrapper", "rustc-workspace-wrapper"] {
            if let Some(v) = doc
                .get("build")
                .and_then(|b| b.get(key))
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
            {
                out.push((format!("{}: build.{key}", file.display()), v.to_string()));
            }
        }
    }
    out
}

/// What the workspace read already learned of the toolchain: the doctor does not ask again.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// What `cargo -V` answered.
    pub cargo_v: Option<String>,
    /// `rustc --print sysroot`.
    pub sysroot: Option<PathBuf>,
}

/// Run every check from `cwd` (the project dir). `known`: what `strata dev` learned while
/// reading the workspace, so that it is not asked twice; `versions`: tools' answers kept from
/// earlier runs.
pub fn check(
    cwd: &Path,
    root: &Path,
    host: &str,
    known: &Known,
    versions: &VersionCache,
) -> Result<Vec<Finding>, DevError> {
    let cargo_v = known.cargo_v.as_deref();
    let mut out = Vec::new();
    // The tools answer in their own time (rustup's proxy takes ~0.2 s to say a component is
    // missing): asked all at once.
    std::thread::scope(|scope| {
        let checks = [
            scope.spawn(|| cargo(cwd, cargo_v)),
            scope.spawn(|| {
                tool(
                    "mold",
                    Path::new("mold"),
                    &["--version"],
                    cwd,
                    "sudo apt-get install mold   (or your system's package manager)",
                    versions,
                )
            }),
            scope.spawn(|| {
                tool(
                    "lld",
                    Path::new("ld.lld"),
                    &["--version"],
                    cwd,
                    "sudo apt-get install lld   (optional: rustc already links with its bundled rust-lld on x86_64 Linux)",
                    versions,
                )
            }),
            scope.spawn(|| rust_analyzer(cwd, known.sysroot.as_deref(), versions)),
            scope.spawn(|| nextest(cwd, versions)),
        ];
        for c in checks {
            if let Ok(f) = c.join() {
                out.push(f);
            }
        }
    });
    let nextest_cfg = root.join(".config").join("nextest.toml");
    out.push(
        match std::fs::read_to_string(&nextest_cfg).map(|t| crate::nextest::has_quick_profile(&t)) {
            Ok(true) => Finding {
                name: "nextest quick profile".into(),
                status: Status::Ok,
                detail: nextest_cfg.display().to_string(),
                fix: None,
            },
            Ok(false) => Finding {
                name: "nextest quick profile".into(),
                status: Status::Missing,
                detail: format!("{} has no [profile.quick]", nextest_cfg.display()),
                fix: Some(format!(
                    "add [profile.quick] to {} (see `strata dev init`)",
                    nextest_cfg.display()
                )),
            },
            Err(_) => Finding {
                name: "nextest quick profile".into(),
                status: Status::Missing,
                detail: format!("no {}", nextest_cfg.display()),
                fix: Some("strata dev init".into()),
            },
        },
    );
    out.push(cargo_home());
    let wrappers = wrapper_settings(cwd);
    if wrappers.is_empty() {
        out.push(Finding {
            name: "rustc wrapper".into(),
            status: Status::Ok,
            detail: "none".into(),
            fix: None,
        });
    }
    for (place, value) in wrappers {
        let fix = if let Some(var) = place.strip_prefix("environment variable ") {
            format!("unset {var}")
        } else {
            format!("remove the line from {}", place.replace(": ", " ("))
                + if place.contains(": ") { ")" } else { "" }
        };
        out.push(Finding {
            name: "rustc wrapper".into(),
            status: Status::Conflict,
            detail: format!(
                "{place} = {value}: a wrapper such as sccache caches rustc's outputs on its own \
                 and turns off incremental compilation; with strata's layers it only adds work"
            ),
            fix: Some(fix),
        });
    }
    let settings = linker_settings(cwd, host);
    if settings.is_empty() {
        out.push(Finding {
            name: "linker".into(),
            status: Status::Ok,
            detail: "rustc's default (no linker configured)".into(),
            fix: None,
        });
    }
    for s in settings {
        let result = probe_flags(cwd, &s.rustflags, s.linker.as_deref())?;
        let what = s.linker.clone().unwrap_or_else(|| s.rustflags.join(" "));
        out.push(match result {
            Ok(by) => Finding {
                name: "linker".into(),
                status: Status::Ok,
                detail: format!("{}: `{what}` links (by {by})", s.place),
                fix: None,
            },
            Err(why) => Finding {
                name: "linker".into(),
                status: Status::Broken,
                detail: format!("{}: `{what}` does not link a test program: {why}", s.place),
                fix: Some(match s.place.strip_prefix("environment variable ") {
                    Some(var) => format!("unset {var}, or fix it; `strata dev` picks a working linker"),
                    None => format!(
                        "remove or fix that setting in {}; `strata dev --write` sets a working linker",
                        s.place.split(": ").next().unwrap_or("the config file")
                    ),
                }),
            },
        });
    }
    Ok(out)
}

/// How many findings are problems ([`Status::is_problem`]).
pub fn problems(findings: &[Finding]) -> usize {
    findings.iter().filter(|f| f.status.is_problem()).count()
}

/// `strata doctor` in `cwd`: every tool asked now (no kept answers), for the workspace root when
/// `cwd` is in a cargo project, else for `cwd`. Returns the root checked and the findings.
pub fn check_now(cwd: &Path) -> Result<(PathBuf, Vec<Finding>), DevError> {
    let root = crate::workspace_root(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    let host = crate::host_triple(cwd)?;
    let findings = check(cwd, &root, &host, &Known::default(), &VersionCache::off())?;
    Ok((root, findings))
}

/// The doctor at work on a thread of its own ([`spawn`]).
#[derive(Debug)]
pub struct Running(std::thread::JoinHandle<Result<Vec<Finding>, DevError>>);

impl Running {
    /// The findings, once every check is done.
    pub fn wait(self) -> Result<Vec<Finding>, DevError> {
        self.0
            .join()
            .unwrap_or(Err(DevError::Panicked("the check")))
    }
}

/// [`check`] on a thread of its own, beside other work (`strata dev`'s restore): the checks only
/// wait for tools' answers.
pub fn spawn(cwd: PathBuf, place: crate::Place, known: Known, versions: VersionCache) -> Running {
    Running(std::thread::spawn(move || {
        check(&cwd, &place.root, &place.host, &known, &versions)
    }))
}

#[cfg(test)]
mod tests {
    use super::{Status, VersionCache, tool};
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    /// A tool that answers `version` and counts how often it was asked.
    fn fake_tool(path: &Path, version: &str, count: &Path) {
        let script = format!(
            "#!/bin/sh\necho x >> '{}'\necho '{version}'\n",
            count.display()
        );
        // A new file (another inode), as an install writes it.
        let _ = std::fs::remove_file(path);
        std::fs::write(path, script).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn asked(count: &Path) -> usize {
        std::fs::read_to_string(count).map_or(0, |t| t.lines().count())
    }

    #[test]
    fn a_kept_version_is_used_until_the_binary_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        let count = dir.path().join("count");
        fake_tool(&bin, "tool 1.0", &count);
        let cache = VersionCache::in_dir(dir.path().join("cache"));
        let check = || tool("tool", &bin, &["--version"], dir.path(), "fix", &cache);
        let first = check();
        assert!(matches!(first.status, Status::Ok));
        assert_eq!(first.detail, "tool 1.0");
        assert_eq!(check().detail, "tool 1.0");
        assert_eq!(asked(&count), 1);
        // Keep the old file alive so the new one gets another inode.
        std::fs::rename(&bin, dir.path().join("old")).unwrap();
        fake_tool(&bin, "tool 2.0", &count);
        assert_eq!(check().detail, "tool 2.0");
        assert_eq!(asked(&count), 2);
        // Without a cache every check asks.
        let off = VersionCache::off();
        tool("tool", &bin, &["--version"], dir.path(), "fix", &off);
        assert_eq!(asked(&count), 3);
    }

    #[test]
    fn the_doctor_on_its_thread_finds_a_wrapper_in_conflict_and_counts_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("Cargo.toml"),
            "[package]\nname = \"p\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/lib.rs"), "").unwrap();
        std::fs::create_dir_all(root.join(".cargo")).unwrap();
        std::fs::write(
            root.join(".cargo/config.toml"),
            "[build]\nrustc-wrapper = \"sccache\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join(".config")).unwrap();
        std::fs::write(
            root.join(".config/nextest.toml"),
            crate::nextest::QUICK_PROFILE,
        )
        .unwrap();
        let place = crate::Place::find(root).unwrap();
        let findings = super::spawn(
            root.to_path_buf(),
            place,
            super::Known::default(),
            VersionCache::off(),
        )
        .wait()
        .unwrap();
        let find = |name: &str| {
            findings
                .iter()
                .filter(|f| f.name == name)
                .map(|f| f.status)
                .collect::<Vec<_>>()
        };
        assert!(
            find("nextest quick profile") == [Status::Ok],
            "{findings:?}"
        );
        let wrapper = findings
            .iter()
            .find(|f| f.name == "rustc wrapper" && f.detail.contains("build.rustc-wrapper"))
            .expect("the config's wrapper is found");
        assert_eq!(wrapper.status, Status::Conflict);
        assert!(
            wrapper
                .fix
                .as_deref()
                .is_some_and(|f| f.starts_with("remove the line from"))
        );
        assert!(super::problems(&findings) >= 1);
    }

    #[test]
    fn only_broken_and_conflicting_findings_are_problems() {
        let f = |status| super::Finding {
            name: "x".into(),
            status,
            detail: String::new(),
            fix: None,
        };
        let all = [
            f(Status::Ok),
            f(Status::Missing),
            f(Status::Conflict),
            f(Status::Broken),
            f(Status::Missing),
        ];
        assert_eq!(super::problems(&all), 2);
        assert_eq!(super::problems(&all[..2]), 0);
    }
}
