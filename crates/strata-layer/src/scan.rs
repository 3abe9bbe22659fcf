//! Reading a target dir into units.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use strata_store::FileTime;

use crate::path::{Group, classify, unit_package};
use crate::{LayerError, io_err};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedFile {
    /// Relative to the target dir, '/'-separated.
    pub rel: String,
    pub group: Group,
    pub size: u64,
    pub mtime: FileTime,
    pub executable: bool,
    /// Target of a symlink; `None` for a regular file.
    pub symlink: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TargetScan {
    pub root: PathBuf,
    pub files: Vec<ScannedFile>,
    /// (profile, unit hash) → package name, from `.fingerprint/` and `build/` dir names.
    pub packages: BTreeMap<(String, String), String>,
}

impl TargetScan {
    /// The package a unit belongs to, if cargo's dir names tell.
    pub fn package_of(&self, group: &Group) -> Option<&str> {
        match group {
            Group::Unit { profile, hash } => self
                .packages
                .get(&(profile.clone(), hash.clone()))
                .map(String::as_str),
            _ => None,
        }
    }

    /// Is this group a unit of a local package, or a unit whose package is unknown? Both must stay
    /// out of the dependency layer: misfiling a dependency as local only costs a rebuild, the
    /// other way round could ship a dummy.
    pub fn is_local_or_unknown(
        &self,
        group: &Group,
        local: &std::collections::BTreeSet<String>,
    ) -> bool {
        match group {
            Group::Unit { .. } => self.package_of(group).is_none_or(|p| local.contains(p)),
            Group::Uplifted { .. } | Group::Incremental { .. } => true,
            Group::Ignored => false,
        }
    }

    /// Fingerprint dirs present: the units cargo knows about.
    pub fn has_unit(&self, profile: &str, hash: &str) -> bool {
        self.packages
            .contains_key(&(profile.to_string(), hash.to_string()))
    }
}

/// Walk `root` (a cargo target dir). Only groups whose profile matches one of `profiles` are kept
/// (all when `None`); `*/release` matches `release` under any target triple. A missing dir scans
/// as empty.
pub fn scan(root: &Path, profiles: Option<&[String]>) -> Result<TargetScan, LayerError> {
    let mut out = TargetScan {
        root: root.to_path_buf(),
        ..TargetScan::default()
    };
    if !root.exists() {
        return Ok(out);
    }
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            // Skip strata's own work dirs and cargo's doc/package output early.
            e.depth() != 1
                || !(e.file_name().to_string_lossy().starts_with(".strata")
                    || matches!(e.file_name().to_str(), Some("doc" | "package" | "tmp")))
        });
    for entry in walker {
        let entry = entry.map_err(|e| LayerError::Io {
            path: e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| root.to_path_buf()),
            source: std::io::Error::other(e.to_string()),
        })?;
        let ft = entry.file_type();
        if ft.is_dir() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let rel = strata_workspace::rel_string(rel);
        let group = classify(&rel);
        if group == Group::Ignored {
            continue;
        }
        if let Some(profiles) = profiles
            && !group
                .profile()
                .is_some_and(|p| profiles.iter().any(|q| profile_matches(q, p)))
        {
            continue;
        }
        let meta = entry
            .path()
            .symlink_metadata()
            .map_err(io_err(entry.path()))?;
        let symlink = if ft.is_symlink() {
            Some(
                std::fs::read_link(entry.path())
                    .map_err(io_err(entry.path()))?
                    .to_string_lossy()
                    .into_owned(),
            )
        } else {
            None
        };
        if let (Group::Unit { profile, hash }, Some(pkg)) = (&group, unit_package(&rel)) {
            out.packages.insert((profile.clone(), hash.clone()), pkg);
        }
        use std::os::unix::fs::PermissionsExt;
        out.files.push(ScannedFile {
            rel,
            group,
            size: if symlink.is_some() { 0 } else { meta.len() },
            mtime: crate::stamp::mtime_of(&meta),
            executable: meta.permissions().mode() & 0o111 != 0,
            symlink,
        });
    }
    Ok(out)
}

fn profile_matches(pattern: &str, profile: &str) -> bool {
    match pattern.strip_prefix("*/") {
        Some(rest) => profile.split_once('/').is_some_and(|(_, p)| p == rest),
        None => pattern == profile,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn profile_patterns() {
        use super::profile_matches;
        assert!(profile_matches("release", "release"));
        assert!(!profile_matches(
            "release",
            "x86_64-unknown-linux-musl/release"
        ));
        assert!(profile_matches(
            "*/release",
            "x86_64-unknown-linux-musl/release"
        ));
        assert!(!profile_matches("*/release", "release"));
        assert!(!profile_matches(
            "*/release",
            "x86_64-unknown-linux-musl/debug"
        ));
    }
}
