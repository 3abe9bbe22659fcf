//! The files of the workspace's local packages, as cargo would list them: everything under the
//! source roots except the target dir, `.git`, and files git ignores (cargo's own listing also
//! skips those).

use std::path::{Path, PathBuf};

use crate::{Workspace, WorkspaceError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// `ws` or `pkg-<name>`.
    pub root: String,
    /// Relative to the root, '/'-separated.
    pub rel: String,
    pub abs: PathBuf,
}

pub fn source_files(ws: &Workspace) -> Result<Vec<SourceFile>, WorkspaceError> {
    let mut out = Vec::new();
    for (root_name, dir) in ws.source_roots() {
        walk(&root_name, &dir, &ws.target_dir, &mut out)?;
    }
    out.sort_by(|a, b| (&a.root, &a.rel).cmp(&(&b.root, &b.rel)));
    out.dedup_by(|a, b| a.root == b.root && a.rel == b.rel);
    Ok(out)
}

fn walk(
    root_name: &str,
    dir: &Path,
    target_dir: &Path,
    out: &mut Vec<SourceFile>,
) -> Result<(), WorkspaceError> {
    let target_dir = target_dir.to_path_buf();
    let walker = ignore::WalkBuilder::new(dir)
        .hidden(false)
        .parents(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .ignore(false)
        .filter_entry(move |e| {
            let p = e.path();
            if e.file_type().is_some_and(|t| t.is_dir()) {
                let name = e.file_name();
                if name == ".git" || p == target_dir {
                    return false;
                }
                // Another cargo target dir (e.g. a nested `target/` with CACHEDIR.TAG).
                if p.join("CACHEDIR.TAG").is_file() {
                    return false;
                }
            }
            true
        })
        .build();
    for entry in walker {
        let entry = entry.map_err(|e| WorkspaceError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let abs = entry.path().to_path_buf();
        let Ok(rel) = abs.strip_prefix(dir) else {
            continue;
        };
        let rel = rel_string(rel);
        out.push(SourceFile {
            root: root_name.to_string(),
            rel,
            abs,
        });
    }
    Ok(())
}

/// A relative path as strata stores it: '/'-separated, whatever the platform.
pub fn rel_string(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
