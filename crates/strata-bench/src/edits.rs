//! The scenario edits: leaf edit, README-only edit, version bump of every member.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use toml_edit::{DocumentMut, Item, Table, Value};

use crate::error::{BenchError, IoContext, Result};
use crate::exec::Cmd;
use crate::fsutil::append;
use crate::project::ProjectFacts;

/// What the leaf edit appends: a comment, so the program stays the same.
pub const LEAF_EDIT: &str = "\n// strata-bench edit\n";
/// What the README-only edit appends.
pub const README_EDIT: &str = "\nstrata-bench: a README-only edit.\n";

pub fn leaf_edit(root: &Path, facts: &ProjectFacts) -> Result<()> {
    append(&root.join(&facts.leaf_file), LEAF_EDIT)
}

pub fn readme_edit(root: &Path, facts: &ProjectFacts) -> Result<()> {
    append(&root.join(&facts.readme_file), README_EDIT)
}

/// `1.2.3` → `1.2.4`; a pre-release or build suffix is kept. None if not `x.y.z…`.
pub fn bump_patch(v: &str) -> Option<String> {
    let end = v.find(['-', '+']).unwrap_or(v.len());
    let (core, suffix) = v.split_at(end);
    let parts: Vec<&str> = core.split('.').collect();
    let [major, minor, patch] = parts.as_slice() else {
        return None;
    };
    let patch: u64 = patch.parse().ok()?;
    Some(format!("{major}.{minor}.{}{suffix}", patch + 1))
}

fn parse(path: &Path) -> Result<DocumentMut> {
    let text = fs::read_to_string(path).ctx(|| format!("reading {}", path.display()))?;
    text.parse()
        .map_err(|e: toml_edit::TomlError| BenchError::Edit {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

fn edit_err(path: &Path, reason: impl Into<String>) -> BenchError {
    BenchError::Edit {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Bump the patch version of every member (in its manifest, or in `[workspace.package]` for
/// members that inherit it), keep `=`-pinned path dependencies on them matching, then
/// `cargo update --workspace --offline`. Returns `name → (old, new)`.
pub fn version_bump(
    root: &Path,
    facts: &ProjectFacts,
) -> Result<BTreeMap<String, (String, String)>> {
    let mut bumped = BTreeMap::new();
    let mut docs: BTreeMap<String, DocumentMut> = BTreeMap::new();
    let mut bump_workspace_version = false;
    for m in &facts.members {
        let path = root.join(&m.manifest);
        let mut doc = parse(&path)?;
        let new = bump_patch(&m.version)
            .ok_or_else(|| edit_err(&path, format!("cannot bump version {}", m.version)))?;
        let version = doc
            .get_mut("package")
            .and_then(Item::as_table_like_mut)
            .and_then(|p| p.get_mut("version"));
        match version {
            Some(item) if item.is_str() => *item = toml_edit::value(new.clone()),
            // `version.workspace = true`: bumped once in the root manifest below.
            Some(_) => bump_workspace_version = true,
            None => return Err(edit_err(&path, "no package.version")),
        }
        bumped.insert(m.name.clone(), (m.version.clone(), new));
        docs.insert(m.manifest.clone(), doc);
    }
    if bump_workspace_version {
        let doc = match docs.get_mut("Cargo.toml") {
            Some(d) => d,
            None => {
                let d = parse(&root.join("Cargo.toml"))?;
                docs.entry("Cargo.toml".into()).or_insert(d)
            }
        };
        let item = doc
            .get_mut("workspace")
            .and_then(Item::as_table_like_mut)
            .and_then(|w| w.get_mut("package"))
            .and_then(Item::as_table_like_mut)
            .and_then(|p| p.get_mut("version"))
            .ok_or_else(|| edit_err(&root.join("Cargo.toml"), "no workspace.package.version"))?;
        let old = item.as_str().unwrap_or_default().to_string();
        let new = bump_patch(&old).ok_or_else(|| {
            edit_err(
                &root.join("Cargo.toml"),
                format!("cannot bump version {old}"),
            )
        })?;
        *item = toml_edit::value(new);
    }
    for doc in docs.values_mut() {
        repin(doc.as_table_mut(), &bumped);
    }
    for (manifest, doc) in &docs {
        let path = root.join(manifest);
        fs::write(&path, doc.to_string()).ctx(|| format!("writing {}", path.display()))?;
    }
    Cmd::cargo()
        .args(["update", "--workspace", "--offline"])
        .dir(root)
        .run_ok()?;
    Ok(bumped)
}

/// Rewrite `version = "=x.y.z"` of path dependencies on bumped members; caret requirements
/// still match a patch bump and stay as they are.
fn repin(table: &mut Table, bumped: &BTreeMap<String, (String, String)>) {
    for (key, item) in table.iter_mut() {
        let key = key.get();
        if key.ends_with("dependencies") {
            let Some(t) = item.as_table_like_mut() else {
                continue;
            };
            for (dep, spec) in t.iter_mut() {
                let Some(spec) = spec.as_table_like_mut() else {
                    continue;
                };
                let name = spec
                    .get("package")
                    .and_then(Item::as_str)
                    .unwrap_or(dep.get())
                    .to_string();
                let Some((_, new)) = bumped.get(&name) else {
                    continue;
                };
                if spec.contains_key("path")
                    && let Some(v) = spec.get_mut("version")
                    && v.as_str().is_some_and(|s| s.trim_start().starts_with('='))
                {
                    *v = Item::Value(Value::from(format!("={new}")));
                }
            }
        } else if let Some(inner) = item.as_table_mut() {
            // `[target.'cfg(…)'.dependencies]`, `[workspace.dependencies]`.
            repin(inner, bumped);
        }
    }
}
