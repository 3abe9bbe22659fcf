//! Facts about a workload's own packages, from `cargo metadata`: the most downstream package,
//! its entry file, the README that the README-only edit touches.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, Package};
use serde::{Deserialize, Serialize};

use crate::error::{BenchError, Result};
use crate::exec::cargo_program;
use crate::fsutil::rel;

/// One local (workspace member) package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub version: String,
    /// Manifest path relative to the project root.
    pub manifest: String,
    /// Other members it depends on (normal and build dependencies).
    pub local_deps: Vec<String>,
}

/// What the scenarios need to know about a project. Paths are relative to the project root, so
/// they apply to every checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFacts {
    pub members: Vec<Member>,
    /// The most downstream member: no other member depends on it.
    pub downstream: String,
    /// The file the leaf edit appends to.
    pub leaf_file: String,
    /// The file the README-only edit appends to (created if the project has none).
    pub readme_file: String,
}

/// Run `cargo metadata --locked` in `root`.
pub fn metadata(root: &Path) -> Result<Metadata> {
    MetadataCommand::new()
        .cargo_path(cargo_program())
        .current_dir(root)
        .other_options(vec!["--locked".to_string()])
        .exec()
        .map_err(|e| BenchError::Metadata {
            dir: root.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Read the facts of the project at `root`. `leaf_override` is a file the user named for the
/// leaf edit, relative to `root`.
pub fn facts(root: &Path, leaf_override: Option<&str>) -> Result<ProjectFacts> {
    let meta = metadata(root)?;
    let root = meta.workspace_root.as_std_path().to_path_buf();
    let members: Vec<&Package> = meta.workspace_packages();
    let names: BTreeSet<String> = members.iter().map(|p| p.name.to_string()).collect();
    let mut list = Vec::new();
    for p in &members {
        let mut local_deps: Vec<String> = p
            .dependencies
            .iter()
            .filter(|d| d.path.is_some() && d.kind != DependencyKind::Development)
            .filter(|d| names.contains(&d.name))
            .map(|d| d.name.clone())
            .collect();
        local_deps.sort();
        local_deps.dedup();
        list.push(Member {
            name: p.name.to_string(),
            version: p.version.to_string(),
            manifest: rel(&root, p.manifest_path.as_std_path()),
            local_deps,
        });
    }
    let downstream = most_downstream(&list, meta.root_package().map(|p| p.name.to_string()))
        .ok_or_else(|| BenchError::Metadata {
            dir: root.clone(),
            reason: "the project has no local packages".into(),
        })?;
    let pkg = members
        .iter()
        .find(|p| p.name.as_str() == downstream)
        .ok_or_else(|| BenchError::Other(format!("package {downstream} vanished")))?;
    let leaf_file = match leaf_override {
        Some(f) => {
            if !root.join(f).is_file() {
                return Err(BenchError::Edit {
                    path: root.join(f),
                    reason: "the leaf file named for this workload does not exist".into(),
                });
            }
            f.to_string()
        }
        None => rel(
            &root,
            &entry_file(pkg).ok_or_else(|| BenchError::Metadata {
                dir: root.clone(),
                reason: format!("package {downstream} has no bin or lib target"),
            })?,
        ),
    };
    let readme_file = readme_file(&root, pkg);
    Ok(ProjectFacts {
        members: list,
        downstream,
        leaf_file,
        readme_file,
    })
}

/// The member that no other member depends on. Several such: the root package if it is one,
/// else the one with the most local packages below it, then by name.
pub fn most_downstream(members: &[Member], root_package: Option<String>) -> Option<String> {
    let depended: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.local_deps.iter().map(String::as_str))
        .collect();
    let leaves: Vec<&Member> = members
        .iter()
        .filter(|m| !depended.contains(m.name.as_str()))
        .collect();
    if let Some(root) = root_package
        && leaves.iter().any(|m| m.name == root)
    {
        return Some(root);
    }
    let by_name: BTreeMap<&str, &Member> = members.iter().map(|m| (m.name.as_str(), m)).collect();
    let below = |start: &Member| {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = start.local_deps.iter().map(String::as_str).collect();
        while let Some(n) = todo.pop() {
            if seen.insert(n)
                && let Some(m) = by_name.get(n)
            {
                todo.extend(m.local_deps.iter().map(String::as_str));
            }
        }
        seen.len()
    };
    leaves
        .iter()
        .max_by(|a, b| below(a).cmp(&below(b)).then_with(|| b.name.cmp(&a.name)))
        .map(|m| m.name.clone())
}

/// The entry file of a package: its binary (the one named like the package, else the first),
/// else its library. A binary sits downstream of its own package's library, so editing it is
/// the smallest leaf edit.
pub fn entry_file(pkg: &Package) -> Option<std::path::PathBuf> {
    let bins: Vec<_> = pkg.targets.iter().filter(|t| t.is_bin()).collect();
    let bin = bins
        .iter()
        .find(|t| t.name == pkg.name.as_str())
        .or_else(|| bins.first());
    let lib = || {
        pkg.targets.iter().find(|t| {
            t.is_lib()
                || t.is_rlib()
                || t.is_proc_macro()
                || t.is_dylib()
                || t.is_cdylib()
                || t.is_staticlib()
        })
    };
    bin.copied()
        .or_else(lib)
        .map(|t| t.src_path.as_std_path().to_path_buf())
}

/// The README of the downstream package (its `readme` field), else the root `README.md`, else a
/// `README.md` beside its manifest (the edit then creates it).
fn readme_file(root: &Path, pkg: &Package) -> String {
    if let Some(r) = pkg.readme()
        && r.is_file()
    {
        return rel(root, r.as_std_path());
    }
    if root.join("README.md").is_file() {
        return "README.md".into();
    }
    let dir = pkg
        .manifest_path
        .parent()
        .map(|p| p.as_std_path().to_path_buf())
        .unwrap_or_else(|| root.to_path_buf());
    rel(root, &dir.join("README.md"))
}
