//! The lock-bump scenario: `cargo update -p` of one leaf dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml_edit::{DocumentMut, Item};

use crate::error::{BenchError, IoContext, Result};
use crate::exec::Cmd;

/// One `[[package]]` of a `Cargo.lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockEntry {
    pub name: String,
    pub version: String,
    pub source: Option<String>,
    /// Names of the packages it depends on.
    pub deps: Vec<String>,
}

impl LockEntry {
    pub fn is_crates_io(&self) -> bool {
        self.source.as_deref().is_some_and(|s| {
            s.starts_with("registry+https://github.com/rust-lang/crates.io-index")
                || s.starts_with("sparse+https://index.crates.io/")
        })
    }
}

/// A chosen bump: `name` from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockBump {
    pub name: String,
    pub from: String,
    pub to: String,
}

pub fn read_lock(path: &Path) -> Result<Vec<LockEntry>> {
    let text = fs::read_to_string(path).ctx(|| format!("reading {}", path.display()))?;
    let doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| BenchError::Edit {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let Some(packages) = doc.get("package").and_then(Item::as_array_of_tables) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for p in packages.iter() {
        let s = |k: &str| p.get(k).and_then(Item::as_str).map(str::to_string);
        let (Some(name), Some(version)) = (s("name"), s("version")) else {
            continue;
        };
        let deps = p
            .get("dependencies")
            .and_then(Item::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    // `name`, `name version` or `name version (source)`.
                    .filter_map(|d| d.split_whitespace().next())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        out.push(LockEntry {
            name,
            version,
            source: s("source"),
            deps,
        });
    }
    Ok(out)
}

/// Candidates for the bump, best first: crates.io entries that no other non-local entry depends
/// on, so that a bump rebuilds the crate and only local packages after it. Those that only
/// `downstream` (the most downstream local package) uses come first, then those used by fewer
/// local packages; then by name.
pub fn leaf_candidates(lock: &[LockEntry], downstream: &str) -> Vec<(String, String)> {
    let mut third_party_used: BTreeSet<&str> = BTreeSet::new();
    let mut local_users: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in lock {
        for d in &e.deps {
            if e.source.is_some() {
                third_party_used.insert(d);
            } else {
                local_users.entry(d).or_default().insert(&e.name);
            }
        }
    }
    let mut c: Vec<(bool, usize, &LockEntry)> = lock
        .iter()
        .filter(|e| e.is_crates_io() && !third_party_used.contains(e.name.as_str()))
        .map(|e| {
            let users = local_users.get(e.name.as_str());
            let only_downstream = users.is_some_and(|u| u.len() == 1 && u.contains(downstream));
            (!only_downstream, users.map_or(0, BTreeSet::len), e)
        })
        .collect();
    c.sort_by(|a, b| (a.0, a.1, &a.2.name).cmp(&(b.0, b.1, &b.2.name)));
    c.into_iter()
        .map(|(_, _, e)| (e.name.clone(), e.version.clone()))
        .collect()
}

/// The newest semver-compatible version `cargo update -p name@version` would move to, by a dry
/// run (it reads the registry index; the lock is not written). None if already the newest.
pub fn dry_run(root: &Path, name: &str, version: &str) -> Result<Option<String>> {
    let out = Cmd::cargo()
        .args(["update", "--dry-run", "-p"])
        .arg(format!("{name}@{version}"))
        .dir(root)
        .run_ok()?;
    // `    Updating memchr v2.7.1 -> v2.7.4`
    let prefix = format!("Updating {name} v{version} -> v");
    Ok(out.stderr.lines().find_map(|l| {
        l.trim()
            .strip_prefix(&prefix)
            .map(|v| v.split_whitespace().next().unwrap_or(v).to_string())
    }))
}

/// Choose the bump for the project at `root`: the first candidate with a newer compatible
/// version (at most `max_tries` dry runs). `forced` is the user's `NAME@VERSION`.
pub fn choose(
    root: &Path,
    downstream: &str,
    forced: Option<(&str, &str)>,
    max_tries: usize,
) -> Result<Option<LockBump>> {
    let lock = read_lock(&root.join("Cargo.lock"))?;
    if let Some((name, to)) = forced {
        let from = lock
            .iter()
            .find(|e| e.name == name && e.source.is_some())
            .map(|e| e.version.clone());
        return Ok(from.map(|from| LockBump {
            name: name.to_string(),
            from,
            to: to.to_string(),
        }));
    }
    for (name, from) in leaf_candidates(&lock, downstream)
        .into_iter()
        .take(max_tries)
    {
        if let Some(to) = dry_run(root, &name, &from)? {
            return Ok(Some(LockBump { name, from, to }));
        }
    }
    Ok(None)
}

/// Apply the bump in a checkout, then fetch, so the timed build downloads nothing.
pub fn apply(root: &Path, bump: &LockBump) -> Result<()> {
    Cmd::cargo()
        .args(["update", "-p"])
        .arg(format!("{}@{}", bump.name, bump.from))
        .args(["--precise", &bump.to])
        .dir(root)
        .run_ok()?;
    Cmd::cargo()
        .args(["fetch", "--locked"])
        .dir(root)
        .run_ok()?;
    Ok(())
}
