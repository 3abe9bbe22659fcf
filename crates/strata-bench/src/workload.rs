//! Workloads: a crates.io package (`name@version`), a local project with a `Cargo.lock`, or a
//! tarball of one; fetched once, unpacked into a pristine source tree that every checkout is
//! copied from.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{BenchError, IoContext, Result};
use crate::exec::Cmd;
use crate::fsutil;

/// The ripgrep workspace tarball shipped in `../shared/workloads`.
pub const RIPGREP_WORKSPACE: &str = "ripgrep-workspace";
const RIPGREP_TARBALL: &str = "ripgrep-14.1.1-workspace.tar.gz";

/// The default set of `../shared/workloads/README.md`.
pub const DEFAULT_SET: [&str; 5] = [
    RIPGREP_WORKSPACE,
    "ripgrep@14.1.1",
    "xh@0.23.0",
    "just@1.36.0",
    "bat@0.24.0",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    /// A crates.io package, built with the `Cargo.lock` it ships.
    Crate { name: String, version: String },
    /// A local project directory with a `Cargo.lock`.
    Path { path: PathBuf },
    /// A `.tar.gz` of a project (a single top directory is stripped).
    Tarball { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadSpec {
    /// As the user wrote it, without the `#FILE` suffix.
    pub label: String,
    pub source: Source,
    /// The file that the leaf edit appends to, relative to the project root, when the user named
    /// one (`WORKLOAD#path/to/file.rs`).
    pub leaf_file: Option<String>,
}

/// Where the shared workloads are: `$STRATA_WORKLOADS`, else `../shared/workloads` beside the repo.
pub fn workloads_dir(repo: &Path) -> PathBuf {
    std::env::var_os("STRATA_WORKLOADS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("../shared/workloads"))
}

fn bad(spec: &str, reason: impl Into<String>) -> BenchError {
    BenchError::Workload {
        spec: spec.to_string(),
        reason: reason.into(),
    }
}

fn is_tarball(p: &Path) -> bool {
    let s = p.to_string_lossy();
    s.ends_with(".tar.gz") || s.ends_with(".tgz") || s.ends_with(".crate")
}

impl WorkloadSpec {
    /// Parse `ripgrep-workspace`, `name@version`, a directory or a `.tar.gz`, each optionally
    /// followed by `#FILE`.
    pub fn parse(spec: &str, workloads_dir: &Path) -> Result<WorkloadSpec> {
        let (label, leaf_file) = match spec.rsplit_once('#') {
            Some((l, f)) if !f.is_empty() => (l, Some(f.to_string())),
            _ => (spec, None),
        };
        let source = if label == RIPGREP_WORKSPACE {
            let path = workloads_dir.join(RIPGREP_TARBALL);
            if !path.is_file() {
                return Err(bad(
                    label,
                    format!(
                        "{} is missing (set STRATA_WORKLOADS to the workloads dir)",
                        path.display()
                    ),
                ));
            }
            Source::Tarball { path }
        } else if Path::new(label).exists() {
            let path = fs::canonicalize(label).ctx(|| format!("resolving {label}"))?;
            if path.is_dir() {
                if !path.join("Cargo.lock").is_file() {
                    return Err(bad(label, "the project has no Cargo.lock"));
                }
                Source::Path { path }
            } else if is_tarball(&path) {
                Source::Tarball { path }
            } else {
                return Err(bad(label, "neither a project directory nor a .tar.gz"));
            }
        } else if let Some((name, version)) = label.split_once('@') {
            let name_ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            let version_ok = version.starts_with(|c: char| c.is_ascii_digit())
                && version
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c));
            if !name_ok || !version_ok {
                return Err(bad(label, "expected NAME@VERSION, e.g. ripgrep@14.1.1"));
            }
            Source::Crate {
                name: name.to_string(),
                version: version.to_string(),
            }
        } else {
            return Err(bad(
                label,
                "not `ripgrep-workspace`, NAME@VERSION, an existing directory or a .tar.gz",
            ));
        };
        Ok(WorkloadSpec {
            label: label.to_string(),
            source,
            leaf_file,
        })
    }

    /// A file-name-safe name for results and work dirs.
    pub fn slug(&self) -> String {
        let raw = match &self.source {
            Source::Crate { name, version } => format!("{name}-{version}"),
            _ if self.label == RIPGREP_WORKSPACE => RIPGREP_WORKSPACE.to_string(),
            Source::Tarball { path } => {
                let n = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                [".tar.gz", ".tgz", ".crate"]
                    .iter()
                    .find_map(|ext| n.strip_suffix(ext).map(str::to_string))
                    .unwrap_or(n)
            }
            Source::Path { path } => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "project".into()),
        };
        raw.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

/// A downloaded `.crate` and whether this call downloaded it (false: the cache had it).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub path: PathBuf,
    pub downloaded: bool,
}

/// Download `name-version.crate` from crates.io into `cache/crates/`, unless it is there.
///
/// We run `curl` rather than link an HTTP client: a TLS stack would add a long compile on a
/// 2-core machine for one GET per workload, and curl is on every machine that builds Rust here.
pub fn fetch_crate(name: &str, version: &str, cache: &Path) -> Result<Fetched> {
    let dir = cache.join("crates");
    let path = dir.join(format!("{name}-{version}.crate"));
    if fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
        return Ok(Fetched {
            path,
            downloaded: false,
        });
    }
    fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
    // Download beside the final name and rename, so an interrupted download is never a hit.
    let part = dir.join(format!(
        "{name}-{version}.crate.part-{}",
        std::process::id()
    ));
    let url = format!("https://static.crates.io/crates/{name}/{name}-{version}.crate");
    let r = Cmd::new("curl")
        .args(["-fsSL", "--retry", "3", "-o"])
        .arg(&part)
        .arg(&url)
        .run_ok();
    if let Err(e) = r {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    fs::rename(&part, &path).ctx(|| format!("renaming {}", part.display()))?;
    Ok(Fetched {
        path,
        downloaded: true,
    })
}

/// Unpack a `.tar.gz` (or `.crate`) into `dest`, which must not exist yet. A single top
/// directory (`name-version/`, `ripgrep-14.1.1/`) becomes `dest` itself.
pub fn unpack(archive: &Path, dest: &Path) -> Result<()> {
    let parent = dest
        .parent()
        .ok_or_else(|| BenchError::Other(format!("{} has no parent", dest.display())))?;
    fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
    let tmp = parent.join(format!(
        ".unpack-{}-{}",
        dest.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    fsutil::remove_dir_if_exists(&tmp)?;
    fs::create_dir_all(&tmp).ctx(|| format!("creating {}", tmp.display()))?;
    Cmd::new("tar")
        .arg("xzf")
        .arg(archive)
        .arg("-C")
        .arg(&tmp)
        .run_ok()?;
    let entries: Vec<PathBuf> = fs::read_dir(&tmp)
        .ctx(|| format!("reading {}", tmp.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    let root = match entries.as_slice() {
        [only] if only.is_dir() => only.clone(),
        _ => tmp.clone(),
    };
    fs::rename(&root, dest).ctx(|| format!("moving {} to {}", root.display(), dest.display()))?;
    fsutil::remove_dir_if_exists(&tmp)
}

/// A workload ready to copy: its pristine tree under `work/sources/`.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub spec: WorkloadSpec,
    pub slug: String,
    pub pristine: PathBuf,
    /// The last path component every checkout gets (e.g. `ripgrep-14.1.1`).
    pub dir_name: String,
    /// Whether we appended an empty `[workspace]` to the root manifest (see [`own_workspace`]).
    pub workspace_added: bool,
}

/// Make the pristine tree of a workload under `work/sources/<slug>` (downloads cached under
/// `work/cache/`), and fetch its dependencies so that no timed build downloads anything.
pub fn prepare(spec: &WorkloadSpec, work: &Path) -> Result<Prepared> {
    let slug = spec.slug();
    let pristine = work.join("sources").join(&slug);
    fsutil::remove_dir_if_exists(&pristine)?;
    let dir_name = match &spec.source {
        Source::Crate { name, version } => {
            let fetched = fetch_crate(name, version, &work.join("cache"))?;
            unpack(&fetched.path, &pristine)?;
            format!("{name}-{version}")
        }
        Source::Tarball { path } => {
            unpack(path, &pristine)?;
            slug.clone()
        }
        Source::Path { path } => {
            fsutil::copy_tree(path, &pristine, &["target", ".git"])?;
            slug.clone()
        }
    };
    if !pristine.join("Cargo.lock").is_file() {
        return Err(bad(&spec.label, "the project has no Cargo.lock"));
    }
    let workspace_added = own_workspace(&pristine.join("Cargo.toml"))?;
    Cmd::cargo()
        .args(["fetch", "--locked"])
        .dir(&pristine)
        .run_ok()?;
    Ok(Prepared {
        spec: spec.clone(),
        slug,
        pristine,
        dir_name,
        workspace_added,
    })
}

/// Give a single-package manifest its own empty `[workspace]`. Checkouts live under
/// `bench/work/` inside strata's own workspace, and cargo would otherwise take that as the
/// package's workspace and refuse to build. For a root package the table changes nothing else.
/// Returns whether the manifest was changed.
pub fn own_workspace(manifest: &Path) -> Result<bool> {
    let text = fs::read_to_string(manifest).ctx(|| format!("reading {}", manifest.display()))?;
    let doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| BenchError::Edit {
                path: manifest.to_path_buf(),
                reason: e.to_string(),
            })?;
    if doc.contains_key("workspace") {
        return Ok(false);
    }
    fsutil::append(manifest, "\n[workspace]\n")?;
    Ok(true)
}

/// A fresh checkout of the workload at `dest`: a copy of the pristine tree, new mtimes.
pub fn checkout(prepared: &Prepared, dest: &Path) -> Result<()> {
    fsutil::remove_dir_if_exists(dest)?;
    fsutil::copy_tree(&prepared.pristine, dest, &[])
}
