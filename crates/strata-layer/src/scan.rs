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
    scan_where(root, profiles, &|_| true)
}

/// [`scan`], limited to the units of `packages` whose files cargo names after the package: their
/// `.fingerprint/` and `build/` dirs (dep-info, fingerprints, build-script output). `deps/`,
/// `incremental/` and other packages' units are not read: on xh that is 4,000 files fewer
/// than [`scan`] for the 50 it needs to find which of its own units exist and what they read.
pub fn scan_package_units(
    root: &Path,
    profiles: Option<&[String]>,
    packages: &std::collections::BTreeSet<String>,
) -> Result<TargetScan, LayerError> {
    scan_where(root, profiles, &|dir| match package_dir(dir) {
        PackageDir::Unit(pkg) => packages.contains(pkg),
        PackageDir::Other => false,
        PackageDir::Above => true,
    })
}

/// Where a directory (relative to the target dir) sits, for [`scan_package_units`].
enum PackageDir<'a> {
    /// `<profile>/.fingerprint/<pkg>-<hash>` or `<profile>/build/<pkg>-<hash>`.
    Unit(&'a str),
    /// `<profile>/deps`, `<profile>/incremental`, `<profile>/examples`, or a unit dir whose name
    /// has no hash.
    Other,
    /// The target dir's top levels (profiles, triples, `.fingerprint`, `build`), or anything
    /// inside a unit dir.
    Above,
}

fn package_dir(rel: &str) -> PackageDir<'_> {
    let c: Vec<&str> = rel.split('/').collect();
    // Components below the profile: 1 for `debug/<sub>`, 2 for `<triple>/debug/<sub>`.
    let below = |n: usize| {
        (c.len() == n + 1 && !crate::path::looks_like_triple(c[0]))
            || (c.len() == n + 2 && crate::path::looks_like_triple(c[0]))
    };
    let last = c[c.len() - 1];
    if below(1) && matches!(last, "deps" | "incremental" | "examples") {
        return PackageDir::Other;
    }
    if below(2) && matches!(c[c.len() - 2], ".fingerprint" | "build") {
        return match crate::path::split_hash(last) {
            Some((pkg, _)) => PackageDir::Unit(pkg),
            None => PackageDir::Other,
        };
    }
    PackageDir::Above
}

fn scan_where(
    root: &Path,
    profiles: Option<&[String]>,
    keep_dir: &dyn Fn(&str) -> bool,
) -> Result<TargetScan, LayerError> {
    let mut out = TargetScan {
        root: root.to_path_buf(),
        ..TargetScan::default()
    };
    if !root.exists() {
        return Ok(out);
    }
    // Files under `root`, in walkdir's order (depth first, by name), entering only the dirs
    // `keep_dir` wants: a dir left out is never opened (walkdir's `filter_entry` opens each one
    // before the filter can skip it: ~400 unit dirs on every noop).
    let mut found: Vec<(PathBuf, std::fs::FileType)> = Vec::new();
    walk_dir(root, root, 0, keep_dir, &mut found)?;
    for (path, ft) in found {
        let Ok(rel) = path.strip_prefix(root) else {
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
        let meta = path.symlink_metadata().map_err(io_err(&path))?;
        let symlink = if ft.is_symlink() {
            Some(
                std::fs::read_link(&path)
                    .map_err(io_err(&path))?
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

/// Every file (and symlink) below `dir`, sorted by name within each dir, depth first; a subdir
/// is entered only if `keep_dir` wants its path relative to `root`. Strata's own work dirs and
/// cargo's doc/package output at the top are never entered.
fn walk_dir(
    root: &Path,
    dir: &Path,
    depth: usize,
    keep_dir: &dyn Fn(&str) -> bool,
    out: &mut Vec<(PathBuf, std::fs::FileType)>,
) -> Result<(), LayerError> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let ft = e.file_type().map_err(io_err(&path))?;
        if !ft.is_dir() {
            out.push((path, ft));
            continue;
        }
        let name = e.file_name();
        let name = name.to_string_lossy();
        if depth == 0
            && (name.starts_with(".strata") || matches!(&*name, "doc" | "package" | "tmp"))
        {
            continue;
        }
        let keep = path
            .strip_prefix(root)
            .is_ok_and(|rel| keep_dir(&strata_workspace::rel_string(rel)));
        if keep {
            walk_dir(root, &path, depth + 1, keep_dir, out)?;
        }
    }
    Ok(())
}

fn profile_matches(pattern: &str, profile: &str) -> bool {
    match pattern.strip_prefix("*/") {
        Some(rest) => profile.split_once('/').is_some_and(|(_, p)| p == rest),
        None => pattern == profile,
    }
}

#[cfg(test)]
mod tests {
    /// The restricted scan finds exactly what the full scan finds in the chosen packages'
    /// fingerprint and build dirs, under a plain profile and under a target triple.
    #[test]
    fn package_units_are_the_full_scan_restricted_to_those_packages() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let files = [
            "debug/.fingerprint/app-0123456789abcdef/dep-bin-app",
            "debug/.fingerprint/app-0123456789abcdef/bin-app",
            "debug/.fingerprint/serde-1111111111111111/lib-serde",
            "debug/build/app-2222222222222222/output",
            "debug/build/app-2222222222222222/out/generated.rs",
            "debug/build/ring-3333333333333333/output",
            "debug/deps/app-0123456789abcdef",
            "debug/deps/libserde-1111111111111111.rlib",
            "debug/incremental/app-xyz/s-abc/dep-graph.bin",
            "debug/examples/demo-4444444444444444",
            "debug/app",
            "x86_64-unknown-linux-musl/debug/.fingerprint/app-5555555555555555/lib-app",
            "x86_64-unknown-linux-musl/debug/deps/libapp-5555555555555555.rlib",
            "x86_64-unknown-linux-musl/debug/.fingerprint/libc-6666666666666666/lib-libc",
        ];
        for f in files {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f).unwrap();
        }
        let profiles = vec!["debug".to_string(), "*/debug".to_string()];
        let local: std::collections::BTreeSet<String> = ["app".to_string()].into();
        let full = super::scan(root, Some(&profiles)).unwrap();
        let part = super::scan_package_units(root, Some(&profiles), &local).unwrap();
        let unit_dir_of_local = |rel: &str| {
            ["/.fingerprint/app-", "/build/app-"]
                .iter()
                .any(|d| rel.contains(d))
        };
        let expected: Vec<&str> = full
            .files
            .iter()
            .map(|f| f.rel.as_str())
            .filter(|r| unit_dir_of_local(r) || r.matches('/').count() == 1)
            .collect();
        let got: Vec<&str> = part.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(got, expected);
        assert!(got.contains(
            &"x86_64-unknown-linux-musl/debug/.fingerprint/app-5555555555555555/lib-app"
        ));
        assert!(got.contains(&"debug/build/app-2222222222222222/out/generated.rs"));
        assert!(
            part.packages.values().all(|p| p == "app"),
            "{:?}",
            part.packages
        );
        assert_eq!(part.packages.len(), 3);
    }

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
