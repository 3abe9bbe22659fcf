//! From the files cargo names in its JSON messages to the units they belong to, and whether a
//! build dir is laid out the way strata knows.

use std::path::Path;

use crate::path::{Group, classify, split_hash};

/// A unit of a build: its profile dir (`release`, `<triple>/release`) and cargo's hash for it.
pub type UnitId = (String, String);

/// The unit that owns `paths` (what cargo reported for one target or build-script run), or
/// `None` when no path tells (a doc unit, a layout strata does not know).
///
/// Most outputs carry the unit's hash in their path (`deps/libfoo-<hash>.rlib`,
/// `build/foo-<hash>/…`). A bin or example is reported by its uplifted copy (`release/rg`),
/// which cargo hardlinks to `deps/rg-<hash>`: the unit is the one whose file is the same inode,
/// else (cargo copied instead of linking) the newest candidate of that name.
pub fn unit_of(
    paths: &[std::path::PathBuf],
    target_name: &str,
    build_dir: &Path,
    target_dir: &Path,
) -> Option<UnitId> {
    for p in paths {
        if let Ok(rel) = p.strip_prefix(build_dir)
            && let Group::Unit { profile, hash } = classify(&strata_workspace::rel_string(rel))
        {
            return Some((profile, hash));
        }
    }
    paths.iter().find_map(|p| {
        let rel = strata_workspace::rel_string(p.strip_prefix(target_dir).ok()?);
        let Group::Uplifted { profile } = classify(&rel) else {
            return None;
        };
        // `<profile>/rg` → `<profile>/deps/rg-<hash>`; `<profile>/examples/x` → `…/examples/x-<hash>`.
        let sub = if rel[profile.len()..].starts_with("/examples/") {
            "examples"
        } else {
            "deps"
        };
        let hash = uplifted_hash(p, target_name, &build_dir.join(&profile).join(sub))?;
        Some((profile, hash))
    })
}

fn uplifted_hash(path: &Path, target_name: &str, dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let stem = target_name.replace('-', "_");
    let meta = std::fs::metadata(path).ok()?;
    let mut newest: Option<(filetime_key::Key, String)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((s, hash)) = split_hash(name) else {
            continue;
        };
        if s != stem && s != target_name {
            continue;
        }
        let Ok(m) = entry.metadata() else { continue };
        if m.dev() == meta.dev() && m.ino() == meta.ino() {
            return Some(hash.to_string());
        }
        let key = filetime_key::of(&m);
        if newest.as_ref().is_none_or(|(k, _)| key > *k) {
            newest = Some((key, hash.to_string()));
        }
    }
    newest.map(|(_, hash)| hash)
}

mod filetime_key {
    pub type Key = (i64, u32);
    pub fn of(m: &std::fs::Metadata) -> Key {
        let t = filetime::FileTime::from_last_modification_time(m);
        (t.unix_seconds(), t.nanoseconds())
    }
}

/// Why strata cannot cache a build dir, if it cannot: cargo's per-unit layout
/// (`<profile>/build/<pkg>/<hash>/…`, `-Zbuild-dir-new-layout`) or anything else under a
/// profile's `build/` that is not `<pkg>-<hash>`. Reads only the profile dirs' `build/` listings.
pub fn unknown_layout(build_dir: &Path) -> Option<String> {
    let Ok(top) = std::fs::read_dir(build_dir) else {
        return None;
    };
    let mut profile_dirs = Vec::new();
    for e in top.flatten() {
        let p = e.path();
        if !p.is_dir() {
            continue;
        }
        profile_dirs.push(p.clone());
        let is_triple = e
            .file_name()
            .to_str()
            .is_some_and(crate::path::looks_like_triple);
        if is_triple && let Ok(inner) = std::fs::read_dir(&p) {
            profile_dirs.extend(inner.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
    }
    for dir in profile_dirs {
        let Ok(build) = std::fs::read_dir(dir.join("build")) else {
            continue;
        };
        for e in build.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if split_hash(&name).is_none() && e.path().is_dir() {
                return Some(format!(
                    "{} is not laid out as `<package>-<hash>` (cargo's per-unit build-dir layout?)",
                    e.path().display()
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_paths_and_uplifted_bins() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        std::fs::create_dir_all(t.join("debug/deps")).unwrap();
        let exe = t.join("debug/deps/my_tool-0123456789abcdef");
        std::fs::write(&exe, "new").unwrap();
        // An older build of the same bin under another hash (a superseded version).
        let old = t.join("debug/deps/my_tool-fedcba9876543210");
        std::fs::write(&old, "old").unwrap();
        filetime::set_file_mtime(&old, filetime::FileTime::from_unix_time(1, 0)).unwrap();
        std::fs::hard_link(&exe, t.join("debug/my-tool")).unwrap();
        let u = unit_of(&[t.join("debug/my-tool")], "my-tool", t, t).unwrap();
        assert_eq!(u, ("debug".into(), "0123456789abcdef".into()));
        let lib = [t.join("debug/deps/libfoo-1111111111111111.rlib")];
        assert_eq!(
            unit_of(&lib, "foo", t, t),
            Some(("debug".into(), "1111111111111111".into()))
        );
        // A copy instead of a link: the newest candidate.
        std::fs::write(t.join("debug/copied"), "x").unwrap();
        std::fs::write(t.join("debug/deps/copied-2222222222222222"), "x").unwrap();
        assert_eq!(
            unit_of(&[t.join("debug/copied")], "copied", t, t),
            Some(("debug".into(), "2222222222222222".into()))
        );
        assert_eq!(unit_of(&[t.join("doc/foo/index.html")], "foo", t, t), None);
    }

    #[test]
    fn per_unit_layout_is_unknown() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        std::fs::create_dir_all(t.join("debug/build/anyhow-12aa1780c3091665")).unwrap();
        assert_eq!(unknown_layout(t), None);
        std::fs::create_dir_all(t.join("debug/build/itoa/64bae39012d60436/out")).unwrap();
        assert!(unknown_layout(t).unwrap().contains("debug/build/itoa"));
        let u = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(
            u.path()
                .join("x86_64-unknown-linux-gnu/release/build/itoa/1"),
        )
        .unwrap();
        assert!(unknown_layout(u.path()).is_some());
    }
}
