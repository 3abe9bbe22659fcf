//! Masking of Cargo.toml and Cargo.lock: remove what changes on a release or a docs edit but never
//! changes how dependencies compile; keep everything else byte for byte.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, TableLike, Value};

use crate::paths::{normalize, read_optional};
use crate::{MASKED_VERSION, SkeletonError};

/// Package fields that never affect how dependencies compile and change often.
const METADATA_ONLY_KEYS: &[&str] = &[
    "description",
    "authors",
    "documentation",
    "homepage",
    "repository",
    "readme",
    "keywords",
    "categories",
    "license",
    "license-file",
    "include",
    "exclude",
    "publish",
    "metadata",
    "badges",
];

const DEP_TABLES: &[&str] = &[
    "dependencies",
    "dev-dependencies",
    "dev_dependencies",
    "build-dependencies",
    "build_dependencies",
];

pub(crate) fn read_toml(path: &Path) -> Result<DocumentMut, SkeletonError> {
    let bytes = std::fs::read(path).map_err(|source| SkeletonError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml(path, bytes)
}

pub(crate) fn parse_toml(path: &Path, bytes: Vec<u8>) -> Result<DocumentMut, SkeletonError> {
    let text = String::from_utf8(bytes).map_err(|_| SkeletonError::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    text.parse::<DocumentMut>()
        .map_err(|source| SkeletonError::Parse {
            path: path.to_path_buf(),
            source,
        })
}

/// Masks one manifest in place. `mask_version`: replace a literal `package.version`;
/// `mask_ws_version`: replace `workspace.package.version`.
pub(crate) fn mask_manifest(doc: &mut DocumentMut, mask_version: bool, mask_ws_version: bool) {
    let top = doc.as_table_mut();
    // `[project]` is the pre-1.0 spelling of `[package]`, still read for old editions.
    for key in ["package", "project"] {
        if let Some(pkg) = top.get_mut(key).and_then(Item::as_table_like_mut) {
            mask_package(pkg, mask_version);
        }
    }
    top.remove("badges");
    strip_path_versions(top);
    if let Some(targets) = top.get_mut("target").and_then(Item::as_table_like_mut) {
        for (_, t) in targets.iter_mut() {
            if let Some(t) = t.as_table_like_mut() {
                strip_path_versions(t);
            }
        }
    }
    if let Some(ws) = top.get_mut("workspace").and_then(Item::as_table_like_mut) {
        ws.remove("metadata");
        if let Some(pkg) = ws.get_mut("package").and_then(Item::as_table_like_mut) {
            mask_package(pkg, mask_ws_version);
        }
        if let Some(deps) = ws.get_mut("dependencies").and_then(Item::as_table_like_mut) {
            strip_entries(deps);
        }
    }
}

fn mask_package(pkg: &mut dyn TableLike, mask_version: bool) {
    for key in METADATA_ONLY_KEYS {
        pkg.remove(key);
    }
    // Only a literal string: `version.workspace = true` is masked at the workspace root instead.
    if mask_version && let Some(Item::Value(v @ Value::String(_))) = pkg.get_mut("version") {
        set_str(v, MASKED_VERSION);
    }
}

/// Replaces a string value, keeping its surrounding whitespace and comments.
fn set_str(v: &mut Value, s: &str) {
    let decor = v.decor().clone();
    *v = Value::from(s);
    *v.decor_mut() = decor;
}

fn strip_path_versions(table: &mut dyn TableLike) {
    for name in DEP_TABLES {
        if let Some(deps) = table.get_mut(name).and_then(Item::as_table_like_mut) {
            strip_entries(deps);
        }
    }
}

/// A path dependency's `version` requirement would no longer match the masked version.
fn strip_entries(deps: &mut dyn TableLike) {
    for (_, dep) in deps.iter_mut() {
        if let Some(t) = dep.as_table_like_mut()
            && t.contains_key("path")
            && t.remove("version").is_some()
            && let Some(inline) = dep.as_inline_table_mut()
        {
            // Removal leaves uneven spacing ("{ path = \"x\"}"); re-space the edited table only.
            inline.fmt();
        }
    }
}

fn inherits(item: &Item) -> bool {
    item.as_table_like()
        .is_some_and(|t| t.contains_key("workspace"))
}

/// Whether the manifest takes anything from a workspace root (`x.workspace = true`).
pub(crate) fn uses_inheritance(doc: &DocumentMut) -> bool {
    let top = doc.as_table();
    let deps_inherit = |t: &dyn TableLike| {
        DEP_TABLES.iter().any(|name| {
            t.get(name)
                .and_then(Item::as_table_like)
                .is_some_and(|d| d.iter().any(|(_, v)| inherits(v)))
        })
    };
    top.get("package")
        .and_then(Item::as_table_like)
        .is_some_and(|p| p.iter().any(|(_, v)| inherits(v)))
        || top.get("lints").is_some_and(inherits)
        || deps_inherit(top)
        || top
            .get("target")
            .and_then(Item::as_table_like)
            .is_some_and(|ts| {
                ts.iter()
                    .any(|(_, t)| t.as_table_like().is_some_and(deps_inherit))
            })
}

pub(crate) fn inherits_version(doc: &DocumentMut) -> bool {
    doc.get("package")
        .and_then(|p| p.get("version"))
        .is_some_and(inherits)
}

/// The workspace root manifest a package inherits from, found as cargo does: `package.workspace`
/// if set, else the nearest ancestor Cargo.toml with a `[workspace]` table.
pub(crate) fn inheritance_root(
    manifest: &Path,
    doc: &DocumentMut,
) -> Result<Option<PathBuf>, SkeletonError> {
    if doc.contains_key("workspace") {
        return Ok(None);
    }
    let Some(dir) = manifest.parent() else {
        return Ok(None);
    };
    if let Some(ws) = doc
        .get("package")
        .and_then(|p| p.get("workspace"))
        .and_then(Item::as_str)
    {
        return Ok(Some(normalize(&dir.join(ws)).join("Cargo.toml")));
    }
    for anc in dir.ancestors().skip(1) {
        let candidate = anc.join("Cargo.toml");
        if let Some(bytes) = read_optional(&candidate)?
            && parse_toml(&candidate, bytes)?.contains_key("workspace")
        {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// Masks local package versions in Cargo.lock: sourceless `[[package]]` entries (except `pinned`
/// ones, see `pinned_packages`) and the "name version" references to them. `keep` lists the
/// (name, version) pairs that stay real.
pub(crate) fn mask_lock(doc: &mut DocumentMut, keep: &HashSet<(String, String)>) {
    let Some(pkgs) = doc
        .get_mut("package")
        .and_then(Item::as_array_of_tables_mut)
    else {
        return;
    };
    let mut masked: HashSet<(String, String)> = HashSet::new();
    for t in pkgs.iter_mut() {
        if t.contains_key("source") {
            continue;
        }
        let (Some(name), Some(version)) = (
            t.get("name").and_then(Item::as_str),
            t.get("version").and_then(Item::as_str),
        ) else {
            continue;
        };
        let id = (name.to_owned(), version.to_owned());
        if keep.contains(&id) {
            continue;
        }
        masked.insert(id);
        if let Some(v) = t.get_mut("version").and_then(Item::as_value_mut) {
            set_str(v, MASKED_VERSION);
        }
    }
    for t in pkgs.iter_mut() {
        let Some(deps) = t.get_mut("dependencies").and_then(Item::as_array_mut) else {
            continue;
        };
        for v in deps.iter_mut() {
            let Some(s) = v.as_str() else { continue };
            // "name version" without a source part refers to a path package (cargo adds the
            // source only to disambiguate registry/git ones).
            let mut parts = s.split(' ');
            if let (Some(name), Some(version), None) = (parts.next(), parts.next(), parts.next())
                && masked.contains(&(name.to_owned(), version.to_owned()))
            {
                let new = format!("{name} {MASKED_VERSION}");
                set_str(v, &new);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(src: &str, mask_version: bool, mask_ws_version: bool) -> String {
        let mut doc: DocumentMut = src.parse().unwrap();
        mask_manifest(&mut doc, mask_version, mask_ws_version);
        doc.to_string()
    }

    #[test]
    fn manifest_masking() {
        let src = r#"
[package]
name = "app"
version = "1.2.3" # real
description = "x"
authors = ["a"]
license = "MIT"
readme = "README.md"
edition = "2021"
links = "z"
build = "build.rs"

[package.metadata.docs]
x = 1

[badges]
maintenance = { status = "actively-developed" }

[dependencies]
util = { path = "../util", version = "1.2.3", features = ["f"] }
itoa = { version = "1" }
inh = { workspace = true }

[dependencies.other]
path = "other"
version = "0.1"

[target.'cfg(unix)'.dev-dependencies]
u = { path = "u", version = "2" }

[build-dependencies]
b = { path = "b", version = "3" }

[features]
default = ["util/f"]

[profile.release]
lto = true

[workspace]
members = ["x"]

[workspace.package]
version = "9.9.9"
description = "ws"
edition = "2021"

[workspace.metadata.foo]
bar = 1

[workspace.dependencies]
w = { path = "w", version = "9.9.9" }
r = "1"

[patch.crates-io]
itoa = { path = "../itoa" }
"#;
        let out = masked(src, true, true);
        let doc: DocumentMut = out.parse().unwrap();
        assert_eq!(doc["package"]["version"].as_str(), Some("0.0.0"));
        assert!(out.contains("version = \"0.0.0\" # real"), "{out}");
        for k in ["description", "authors", "license", "readme", "metadata"] {
            assert!(doc["package"].get(k).is_none(), "{k} kept");
        }
        for k in ["edition", "links", "build"] {
            assert!(doc["package"].get(k).is_some(), "{k} dropped");
        }
        assert!(doc.get("badges").is_none());
        assert!(doc["dependencies"]["util"].get("version").is_none());
        assert!(
            out.contains("util = { path = \"../util\", features = [\"f\"] }"),
            "{out}"
        );
        assert_eq!(doc["dependencies"]["itoa"]["version"].as_str(), Some("1"));
        assert!(doc["dependencies"]["other"].get("version").is_none());
        assert!(
            doc["target"]["cfg(unix)"]["dev-dependencies"]["u"]
                .get("version")
                .is_none()
        );
        assert!(doc["build-dependencies"]["b"].get("version").is_none());
        assert_eq!(
            doc["workspace"]["package"]["version"].as_str(),
            Some("0.0.0")
        );
        assert!(doc["workspace"]["package"].get("description").is_none());
        assert!(doc["workspace"].get("metadata").is_none());
        assert!(
            doc["workspace"]["dependencies"]["w"]
                .get("version")
                .is_none()
        );
        assert_eq!(doc["workspace"]["dependencies"]["r"].as_str(), Some("1"));
        assert!(doc.get("features").is_some() && doc.get("profile").is_some());
        assert!(doc.get("patch").is_some());

        // A pinned ([patch]) package keeps its version.
        let kept: DocumentMut = masked(src, false, false).parse().unwrap();
        assert_eq!(kept["package"]["version"].as_str(), Some("1.2.3"));
        assert_eq!(
            kept["workspace"]["package"]["version"].as_str(),
            Some("9.9.9")
        );
    }

    #[test]
    fn inherited_version_is_left_alone() {
        let out = masked(
            "[package]\nname = \"m\"\nversion.workspace = true\ndescription.workspace = true\n",
            true,
            true,
        );
        let doc: DocumentMut = out.parse().unwrap();
        assert!(inherits_version(&doc));
        assert!(doc["package"].get("description").is_none());
        assert!(uses_inheritance(&doc));
    }

    #[test]
    fn lock_masking() {
        let src = r#"version = 4

[[package]]
name = "app"
version = "1.2.3"
dependencies = [
 "forked",
 "itoa 1.0.11",
 "util 1.2.3",
 "util 0.5.0 (registry+https://github.com/rust-lang/crates.io-index)",
]

[[package]]
name = "forked"
version = "4.5.6"

[[package]]
name = "itoa"
version = "1.0.11"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "49f1f14873335454500d59611f1cf4a4b0f786f9ac11f4312a78e4cf2566695b"

[[package]]
name = "util"
version = "0.5.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "util"
version = "1.2.3"
"#;
        let mut doc: DocumentMut = src.parse().unwrap();
        let pinned = HashSet::from([("forked".to_owned(), "4.5.6".to_owned())]);
        mask_lock(&mut doc, &pinned);
        let out = doc.to_string();
        assert!(!out.contains("1.2.3"), "{out}");
        assert!(out.contains("\"util 0.0.0\""));
        assert!(out.contains("\"util 0.5.0 (registry+"));
        assert!(out.contains("version = \"4.5.6\""));
        assert!(out.contains("version = \"1.0.11\""));
        assert!(out.contains("\"itoa 1.0.11\""));
    }
}
