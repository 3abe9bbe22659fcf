//! Classifying a path under the target dir.

use std::collections::{HashMap, HashSet};

use strata_store::{Entry, EntryKind};

use crate::ScannedFile;

/// The subdirectories of a profile dir whose entries belong to units.
const UNIT_DIRS: &[&str] = &[".fingerprint", "build", "deps", "examples", "incremental"];

/// What a file under the target dir belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// A compilation unit: `<profile>/{.fingerprint,build}/<pkg>-<hash>/…`, `<profile>/deps/*-<hash>*`,
    /// `<profile>/examples/*-<hash>*`. `profile` is `release` or `<triple>/release`.
    Unit { profile: String, hash: String },
    /// Cargo's copies of final artifacts at the profile root (`release/rg`, `release/examples/x`).
    Uplifted { profile: String },
    /// rustc's incremental state (`<profile>/incremental/<crate>-<hash>/`).
    Incremental { profile: String, dir: String },
    /// Not kept in layers: locks, caches, docs, packaging output.
    Ignored,
}

impl Group {
    pub fn profile(&self) -> Option<&str> {
        match self {
            Group::Unit { profile, .. }
            | Group::Uplifted { profile }
            | Group::Incremental { profile, .. } => Some(profile),
            Group::Ignored => None,
        }
    }
}

/// Classify `rel`, a '/'-separated path relative to the target dir.
pub fn classify(rel: &str) -> Group {
    let c: Vec<&str> = rel.split('/').collect();
    if c.iter().any(|s| s.contains(".strata-tmp")) || c[0].starts_with(".strata") {
        return Group::Ignored;
    }
    // `<profile>/<sub>/…` or `<triple>/<profile>/<sub>/…`
    let (profile, rest) = if c.len() >= 3 && UNIT_DIRS.contains(&c[1]) {
        (c[0].to_string(), &c[1..])
    } else if c.len() >= 4 && UNIT_DIRS.contains(&c[2]) && looks_like_triple(c[0]) {
        (format!("{}/{}", c[0], c[1]), &c[2..])
    } else if c.len() == 2 && is_profile_root_file(c[0], c[1]) {
        return Group::Uplifted {
            profile: c[0].to_string(),
        };
    } else if c.len() == 3 && looks_like_triple(c[0]) && is_profile_root_file(c[1], c[2]) {
        return Group::Uplifted {
            profile: format!("{}/{}", c[0], c[1]),
        };
    } else {
        return Group::Ignored;
    };
    if matches!(profile.as_str(), "doc" | "package" | "tmp") {
        return Group::Ignored;
    }
    let sub = rest[0];
    let name = rest[1];
    match sub {
        ".fingerprint" | "build" => match split_hash(name) {
            Some((_, hash)) => Group::Unit {
                profile,
                hash: hash.to_string(),
            },
            _ => Group::Ignored,
        },
        "incremental" => Group::Incremental {
            profile,
            dir: name.to_string(),
        },
        "deps" | "examples" => match hash_in_file_name(name) {
            Some(hash) => Group::Unit {
                profile,
                hash: hash.to_string(),
            },
            None if sub == "examples" && rest.len() == 2 => Group::Uplifted { profile },
            None => Group::Ignored,
        },
        _ => Group::Ignored,
    }
}

/// For `.fingerprint/<pkg>-<hash>/…` and `build/<pkg>-<hash>/…`: the package name.
pub fn unit_package(rel: &str) -> Option<String> {
    let c: Vec<&str> = rel.split('/').collect();
    let i = c
        .iter()
        .position(|s| *s == ".fingerprint" || *s == "build")?;
    let name = c.get(i + 1)?;
    if c.len() < i + 3 {
        return None;
    }
    split_hash(name).map(|(pkg, _)| pkg.to_string())
}

pub(crate) fn looks_like_triple(s: &str) -> bool {
    s.matches('-').count() >= 2 && !s.starts_with('.')
}

fn is_profile_root_file(profile: &str, name: &str) -> bool {
    !matches!(profile, "doc" | "package" | "tmp")
        && !profile.starts_with('.')
        && !name.starts_with('.')
        && !UNIT_DIRS.contains(&name)
}

fn is_hash(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `serde_json-d912ea6cf43a7430` → (`serde_json`, `d912ea6cf43a7430`).
pub(crate) fn split_hash(name: &str) -> Option<(&str, &str)> {
    let (pkg, hash) = name.rsplit_once('-')?;
    is_hash(hash).then_some((pkg, hash))
}

/// `libfoo-0123456789abcdef.rlib`, `foo-0123456789abcdef`, `foo-0123456789abcdef.d` → the hash.
fn hash_in_file_name(name: &str) -> Option<&str> {
    let bytes = name.as_bytes();
    let mut i = 0;
    while let Some(off) = name[i..].find('-') {
        let start = i + off + 1;
        let end = start + 16;
        // `get`: the 16 bytes after a '-' may end inside a character of a non-ASCII name.
        if name.get(start..end).is_some_and(is_hash) && (end == name.len() || bytes[end] == b'.') {
            return Some(&name[start..end]);
        }
        i = start;
    }
    None
}

/// Files rustc replaces (new file, then rename; or unlink first) and never writes in place:
/// these may be hardlinks to the store's linked copies. Checked against rustc 1.95 and the
/// linkers: `.d` files are rewritten in place, and mold writes executables and `.so` in place.
pub fn linkable(path: &str) -> bool {
    if matches!(classify(path), Group::Incremental { .. }) {
        return true;
    }
    let mut parts = path.rsplit('/');
    let (Some(name), Some("deps")) = (parts.next(), parts.next()) else {
        return false;
    };
    name.ends_with(".rlib") || name.ends_with(".rmeta")
}

/// Executables that cargo deletes before it links them again, so that a linker writing its
/// output in place (mold does) never writes through a hardlink: the outputs cargo keeps a second
/// name of (rust-lang/cargo#8348, in cargo since 1.66). In a layer each shows as two entries of
/// one blob and mtime: a bin `<profile>/deps/<name>-<hash>` and its uplifted `<profile>/<name>`,
/// or a build script `<profile>/build/<pkg>-<hash>/build_script_build-<hash>` and its
/// `build-script-build`. Both names are in the set (cargo removes the second before it links it
/// anew). Test executables, proc macros and examples built for tests have no second name and
/// may be rewritten in place; they are never in the set.
pub fn unlinked_before_relink(entries: &[Entry]) -> HashSet<&str> {
    second_names(entries.iter().filter_map(|e| match &e.kind {
        EntryKind::File {
            blob,
            executable: true,
            ..
        } => Some((e.path.as_str(), (blob, e.mtime))),
        _ => None,
    }))
}

/// [`unlinked_before_relink`] for the files of a target dir about to be saved: two names of one
/// file show as the same size and mtime (cargo made one a hardlink of the other).
pub fn unlinked_before_relink_scanned<'a>(files: &[&'a ScannedFile]) -> HashSet<&'a str> {
    second_names(
        files
            .iter()
            .filter(|f| f.executable && f.symlink.is_none())
            .map(|f| (f.rel.as_str(), (f.size, f.mtime))),
    )
}

/// The executables among `files` (path, what two names of one file share) that have a second
/// name cargo made for them, with that second name.
fn second_names<'a, K: Eq + std::hash::Hash>(
    files: impl Iterator<Item = (&'a str, K)>,
) -> HashSet<&'a str> {
    let mut by_content: HashMap<K, Vec<&'a str>> = HashMap::new();
    for (path, key) in files {
        by_content.entry(key).or_default().push(path);
    }
    let mut out = HashSet::new();
    for names in by_content.values().filter(|n| n.len() > 1) {
        for output in names {
            for second in names {
                if second_name_of(output, second) {
                    out.insert(*output);
                    out.insert(*second);
                }
            }
        }
    }
    out
}

/// Whether `second` is the name cargo hardlinks the output `output` to: `debug/deps/my_tool-<hash>`
/// → `debug/my-tool`, `debug/build/foo-<hash>/build_script_build-<hash>` →
/// `debug/build/foo-<hash>/build-script-build`.
fn second_name_of(output: &str, second: &str) -> bool {
    let (Some((dir, file)), Some((second_dir, second_file))) =
        (output.rsplit_once('/'), second.rsplit_once('/'))
    else {
        return false;
    };
    let Some((stem, _)) = split_hash(file) else {
        return false;
    };
    if second_file.contains('.') || second_file.replace('-', "_") != stem {
        return false;
    }
    let mut up = dir.rsplitn(2, '/');
    match (up.next(), up.next()) {
        // A bin: uplifted to the profile dir.
        (Some("deps"), Some(profile)) => second_dir == profile,
        // A build script: its second name sits beside it.
        (Some(unit), Some(parent)) => {
            parent.ends_with("/build") && split_hash(unit).is_some() && second_dir == dir
        }
        _ => false,
    }
}

/// Whether restores hardlink (and saves keep) linked copies: unless `STRATA_LINK=0`, and never
/// inside a Nix build ([`strata_store::in_nix_build`]: no uncompressed copies, nor links into a
/// build dir, in a Nix output).
pub fn linking_wanted() -> bool {
    !strata_store::in_nix_build() && std::env::var("STRATA_LINK").map_or(true, |v| v != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(p: &str, h: &str) -> Group {
        Group::Unit {
            profile: p.into(),
            hash: h.into(),
        }
    }

    #[test]
    fn classifies_cargo_layout() {
        let h = "66aab6cfd5a39df9";
        assert_eq!(
            classify(&format!("release/.fingerprint/ripgrep-{h}/bin-rg")),
            unit("release", h)
        );
        assert_eq!(
            classify(&format!("release/build/ripgrep-{h}/out/x.rs")),
            unit("release", h)
        );
        assert_eq!(
            classify(&format!("release/deps/rg-{h}")),
            unit("release", h)
        );
        assert_eq!(
            classify(&format!("release/deps/libgrep_cli-{h}.rlib")),
            unit("release", h)
        );
        assert_eq!(
            classify(&format!("release/deps/rg-{h}.d")),
            unit("release", h)
        );
        assert_eq!(
            classify(&format!("debug/examples/demo-{h}")),
            unit("debug", h)
        );
        assert_eq!(
            classify(&format!(
                "x86_64-unknown-linux-musl/release/deps/libc-{h}.rmeta"
            )),
            unit("x86_64-unknown-linux-musl/release", h)
        );
        assert_eq!(
            classify("release/rg"),
            Group::Uplifted {
                profile: "release".into()
            }
        );
        assert_eq!(
            classify("release/librg.rlib"),
            Group::Uplifted {
                profile: "release".into()
            }
        );
        assert_eq!(
            classify("debug/examples/demo"),
            Group::Uplifted {
                profile: "debug".into()
            }
        );
        assert_eq!(
            classify("x86_64-unknown-linux-musl/release/rg"),
            Group::Uplifted {
                profile: "x86_64-unknown-linux-musl/release".into()
            }
        );
        assert_eq!(
            classify("debug/incremental/rg-1x2y3z/s-abc/dep-graph.bin"),
            Group::Incremental {
                profile: "debug".into(),
                dir: "rg-1x2y3z".into()
            }
        );
        for ignored in [
            "CACHEDIR.TAG",
            ".rustc_info.json",
            "release/.cargo-lock",
            "doc/rg/index.html",
            ".strata/skeleton/x",
            &format!("release/deps/rg-{h}.strata-tmp-1"),
        ] {
            assert_eq!(classify(ignored), Group::Ignored, "{ignored}");
        }
    }

    /// Found by the property tests (src/fuzz.rs): a name whose 16 bytes after a '-' end inside
    /// a multi-byte character panicked (a manifest from a remote can hold any path).
    #[test]
    fn non_ascii_names_classify_without_panics() {
        // Byte 16 after the first '-' is inside the eighth 'é'.
        let name = format!("x-a{}", "\u{e9}".repeat(8));
        assert_eq!(classify(&format!("release/deps/{name}")), Group::Ignored);
        assert_eq!(
            classify(&format!("release/deps/{name}-0123456789abcdef.rlib")),
            unit("release", "0123456789abcdef")
        );
    }

    #[test]
    fn package_of_unit_dirs() {
        assert_eq!(
            unit_package("release/.fingerprint/serde_json-d912ea6cf43a7430/lib-serde_json")
                .as_deref(),
            Some("serde_json")
        );
        assert_eq!(
            unit_package("release/build/grep-cli-d912ea6cf43a7430/output").as_deref(),
            Some("grep-cli")
        );
        assert_eq!(
            unit_package("release/deps/libfoo-d912ea6cf43a7430.rlib"),
            None
        );
    }

    use strata_store::{FileTime, ObjectId};

    fn exe(path: &str, blob: u8, secs: i64) -> Entry {
        Entry {
            path: path.into(),
            mtime: FileTime { secs, nanos: 0 },
            kind: EntryKind::File {
                blob: ObjectId::from_bytes([blob; 32]),
                size: 1,
                executable: true,
            },
        }
    }

    #[test]
    fn executables_with_a_second_name_are_unlinked_before_relink() {
        let h = "0123456789abcdef";
        let entries = vec![
            // A bin and its uplifted name (dashes in the bin's name become underscores).
            exe(&format!("debug/deps/my_tool-{h}"), 1, 10),
            exe("debug/my-tool", 1, 10),
            // A build script and its second name, under a target triple.
            exe(
                &format!("x86_64-unknown-linux-gnu/debug/build/foo-{h}/build_script_main-{h}"),
                2,
                10,
            ),
            exe(
                &format!("x86_64-unknown-linux-gnu/debug/build/foo-{h}/build-script-main"),
                2,
                10,
            ),
            // A test executable of the same bin: no second name.
            exe("debug/deps/my_tool-fedcba9876543210", 3, 10),
            // Same blob but another mtime: not cargo's hardlink.
            exe(&format!("debug/deps/other-{h}"), 4, 10),
            exe("debug/other", 4, 11),
            // A proc macro (never uplifted as a dependency).
            exe(&format!("debug/deps/libmac-{h}.so"), 5, 10),
            // A second name in another profile is not the uplift.
            exe(&format!("debug/deps/cross-{h}"), 6, 10),
            exe("release/cross", 6, 10),
        ];
        let mut got: Vec<&str> = unlinked_before_relink(&entries).into_iter().collect();
        got.sort();
        let mut want = vec![
            format!("debug/deps/my_tool-{h}"),
            "debug/my-tool".to_string(),
            format!("x86_64-unknown-linux-gnu/debug/build/foo-{h}/build-script-main"),
            format!("x86_64-unknown-linux-gnu/debug/build/foo-{h}/build_script_main-{h}"),
        ];
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn only_files_rustc_replaces_are_linkable() {
        assert!(linkable("debug/deps/libfoo-0123456789abcdef.rlib"));
        assert!(linkable("debug/deps/libfoo-0123456789abcdef.rmeta"));
        assert!(linkable(
            "debug/incremental/foo-1a2b3c4d5e6f7/s-h1-abc/dep-graph.bin"
        ));
        assert!(!linkable("debug/deps/foo-0123456789abcdef.d"));
        assert!(!linkable("debug/deps/foo-0123456789abcdef"));
        assert!(!linkable("debug/deps/libfoo_derive-0123456789abcdef.so"));
        assert!(!linkable("debug/libfoo.rlib"));
        assert!(!linkable("debug/.fingerprint/foo-0123456789abcdef/lib-foo"));
        assert!(!linkable("debug/build/foo-0123456789abcdef/out/gen.rlib"));
    }
}
