//! Keys: the hash of everything that can change a layer's bytes, kept as named parts so
//! `strata why` can say which part changed.
//!
//! Parts: `toolchain` (rustc -vV, cargo -V), `target`, `profile`, `selection` (features, packages,
//! `--config`, `-Z`: everything on the command line that selects dependency units), `env:<NAME>` (flags and build-script variables
//! from the environment), `config:<file>` (cargo config files), `lock` (Cargo.lock with local
//! versions masked), `skeleton` (the skeleton's digest) and, for crate layers, `sources`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use strata_cargo::{CargoCommand, Toolchain};

/// Variables that change how rustc or build scripts compile. Cargo also tracks each build
/// script's `rerun-if-env-changed` in its fingerprints, so a variable missing here can never make
/// a restored unit wrong, only make a layer less useful.
const ENV_EXACT: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "RUSTC_BOOTSTRAP",
    "RUSTC_WRAPPER",
    "CARGO_INCREMENTAL",
    "CC",
    "CXX",
    "AR",
    "LD",
    "CFLAGS",
    "CXXFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "HOST_CC",
    "TARGET_CC",
    "HOST_CFLAGS",
    "TARGET_CFLAGS",
    "LIBCLANG_PATH",
    "BINDGEN_EXTRA_CLANG_ARGS",
    "SDKROOT",
    "MACOSX_DEPLOYMENT_TARGET",
    "SOURCE_DATE_EPOCH",
];
const ENV_PREFIXES: &[&str] = &[
    "CARGO_BUILD_",
    "CARGO_PROFILE_",
    "CARGO_TARGET_",
    "CARGO_UNSTABLE_",
    "CC_",
    "CXX_",
    "AR_",
    "CFLAGS_",
    "CXXFLAGS_",
    "PKG_CONFIG",
    "OPENSSL_",
];
/// Set by strata or cargo per run, or only naming where things go.
const ENV_IGNORED: &[&str] = &["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR"];

/// Named key parts; each value is a short digest (or a readable value where short).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyParts(pub BTreeMap<String, String>);

/// What changed between two sets of key parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartChange {
    Added(String),
    Removed(String),
    Changed(String),
}

impl KeyParts {
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// Digest of the parts accepted by `include`, in name order.
    pub fn digest_where(&self, include: impl Fn(&str) -> bool) -> String {
        let mut h = blake3::Hasher::new();
        h.update(b"strata-key-v1\n");
        for (k, v) in self.0.iter().filter(|(k, _)| include(k)) {
            h.update(k.as_bytes());
            h.update(b"=");
            h.update(v.as_bytes());
            h.update(b"\n");
        }
        h.finalize().to_hex().to_string()
    }

    /// The key of the dependency layer: every part but `sources` and the settings that change
    /// only the workspace's own units (see [`only_local_units`]).
    pub fn deps_key(&self) -> String {
        self.digest_where(|k| k != "sources" && !only_local_units(k))
    }

    /// The key of a crate layer: every part.
    pub fn crates_key(&self) -> String {
        self.digest_where(|_| true)
    }

    /// Identifies a build configuration independently of what the dependencies and sources are:
    /// layers under one configuration id can be restored onto each other, and cargo sorts out
    /// what is stale.
    pub fn config_id(&self) -> String {
        self.digest_where(|k| !matches!(k, "sources" | "skeleton" | "lock"))
    }

    /// [`KeyParts::config_id`] for dependency layers: without the settings that change only
    /// the workspace's own units, as [`KeyParts::deps_key`].
    pub fn deps_config_id(&self) -> String {
        self.digest_where(|k| !matches!(k, "sources" | "skeleton" | "lock") && !only_local_units(k))
    }

    pub fn diff(&self, newer: &KeyParts) -> Vec<PartChange> {
        let mut out = Vec::new();
        for (k, v) in &newer.0 {
            match self.0.get(k) {
                None => out.push(PartChange::Added(k.clone())),
                Some(old) if old != v => out.push(PartChange::Changed(k.clone())),
                _ => {}
            }
        }
        for k in self.0.keys() {
            if !newer.0.contains_key(k) {
                out.push(PartChange::Removed(k.clone()));
            }
        }
        out
    }

    /// Serialize for a manifest's `meta`.
    pub fn to_meta(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(k, v)| (format!("key.{k}"), v.clone()))
            .collect()
    }

    pub fn from_meta(meta: &BTreeMap<String, String>) -> KeyParts {
        KeyParts(
            meta.iter()
                .filter_map(|(k, v)| k.strip_prefix("key.").map(|k| (k.to_string(), v.clone())))
                .collect(),
        )
    }
}

pub fn short_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..16].to_string()
}

/// Inputs for the parts that do not depend on the skeleton.
pub struct KeyInputs<'a> {
    pub toolchain: &'a Toolchain,
    pub command: &'a CargoCommand,
    /// The directory cargo runs in (cargo reads config files from its ancestors).
    pub cwd: &'a Path,
    /// The workspace root: config files are labelled relative to it.
    pub ws_root: &'a Path,
    /// The real cargo home (its `config.toml` applies too).
    pub cargo_home: &'a Path,
    pub env: Vec<(String, String)>,
}

impl KeyInputs<'_> {
    pub fn parts(&self) -> KeyParts {
        let mut p = KeyParts::default();
        p.insert(
            "toolchain",
            short_hash(
                format!("{}\n{}", self.toolchain.rustc_vv, self.toolchain.cargo_v).as_bytes(),
            ),
        );
        let targets = if self.command.targets.is_empty() {
            self.toolchain.host.clone()
        } else {
            self.command.targets.join(",")
        };
        p.insert("target", targets);
        p.insert("profile", self.command.profile_name());
        p.insert(
            "selection",
            short_hash(self.command.unit_selection_args().join("\u{1f}").as_bytes()),
        );
        for (k, v) in &self.env {
            if is_key_env(k) {
                p.insert(format!("env:{k}"), short_hash(v.as_bytes()));
            }
        }
        for (label, path) in config_files(self.cwd, self.ws_root, self.cargo_home) {
            if let Ok(bytes) = std::fs::read(&path) {
                p.insert(format!("config:{label}"), short_hash(&bytes));
            }
        }
        p
    }
}

/// Key parts that change only the units of the workspace's own packages. Cargo builds
/// dependencies (registry and git packages) never incrementally, whatever `CARGO_INCREMENTAL`
/// or a profile's `incremental` says (checked: switching `CARGO_INCREMENTAL` from 0 to 1 on a
/// warm target recompiles the members and no dependency), so a dependency layer serves both.
pub fn only_local_units(part: &str) -> bool {
    part == "env:CARGO_INCREMENTAL"
        || part
            .strip_prefix("env:CARGO_PROFILE_")
            .is_some_and(|rest| rest.ends_with("_INCREMENTAL"))
}

pub fn is_key_env(name: &str) -> bool {
    !ENV_IGNORED.contains(&name)
        && (ENV_EXACT.contains(&name) || ENV_PREFIXES.iter().any(|p| name.starts_with(p)))
}

/// Cargo config files that apply in `cwd`, labelled relative to the workspace root so that two
/// clones at different paths, and runs from different member dirs, agree on the labels:
/// `./.cargo/config.toml`, `./crates/x/.cargo/config.toml`, `../.cargo/config`,
/// `$CARGO_HOME/config.toml`.
pub fn config_files(cwd: &Path, ws_root: &Path, cargo_home: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let root_depth = ws_root.components().count();
    for dir in cwd.ancestors() {
        for name in ["config.toml", "config"] {
            let path = dir.join(".cargo").join(name);
            if !path.is_file() || path.starts_with(cargo_home) {
                continue;
            }
            let place = match dir.strip_prefix(ws_root) {
                Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
                Ok(rel) => format!("./{}", rel.display()),
                Err(_) => {
                    let up = root_depth.saturating_sub(dir.components().count()).max(1);
                    vec![".."; up].join("/")
                }
            };
            out.push((format!("{place}/.cargo/{name}"), path));
        }
    }
    for name in ["config.toml", "config"] {
        let path = cargo_home.join(name);
        if path.is_file() {
            out.push((format!("$CARGO_HOME/{name}"), path));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_diff() {
        let mut a = KeyParts::default();
        a.insert("toolchain", "t1");
        a.insert("skeleton", "s1");
        a.insert("sources", "x1");
        let mut b = a.clone();
        b.insert("sources", "x2");
        assert_eq!(a.deps_key(), b.deps_key());
        assert_ne!(a.crates_key(), b.crates_key());
        b.insert("skeleton", "s2");
        assert_ne!(a.deps_key(), b.deps_key());
        assert_eq!(a.config_id(), b.config_id());
        b.insert("env:RUSTFLAGS", "r");
        assert_ne!(a.config_id(), b.config_id());
        let d = a.diff(&b);
        assert!(d.contains(&PartChange::Changed("skeleton".into())));
        assert!(d.contains(&PartChange::Added("env:RUSTFLAGS".into())));
        assert_eq!(KeyParts::from_meta(&b.to_meta()), b);
    }

    #[test]
    fn incremental_settings_split_crate_layers_but_not_dependency_layers() {
        let mut a = KeyParts::default();
        a.insert("toolchain", "t1");
        a.insert("sources", "x1");
        for part in ["env:CARGO_INCREMENTAL", "env:CARGO_PROFILE_DEV_INCREMENTAL"] {
            let mut b = a.clone();
            b.insert(part, "1");
            assert_eq!(a.deps_key(), b.deps_key(), "{part}");
            assert_eq!(a.deps_config_id(), b.deps_config_id(), "{part}");
            assert_ne!(a.crates_key(), b.crates_key(), "{part}");
            assert_ne!(a.config_id(), b.config_id(), "{part}");
        }
        let mut c = a.clone();
        c.insert("env:CARGO_PROFILE_DEV_OPT_LEVEL", "1");
        assert_ne!(a.deps_key(), c.deps_key());
        assert_ne!(a.deps_config_id(), c.deps_config_id());
    }

    #[test]
    fn env_filter() {
        assert!(is_key_env("RUSTFLAGS"));
        assert!(is_key_env("CARGO_PROFILE_RELEASE_LTO"));
        assert!(is_key_env("CC_x86_64_unknown_linux_gnu"));
        assert!(!is_key_env("CARGO_TARGET_DIR"));
        assert!(!is_key_env("HOME"));
        assert!(!is_key_env("PATH"));
    }

    #[test]
    fn config_labels_are_path_free() {
        let d = tempfile_dir();
        let ws = d.join("a/proj");
        std::fs::create_dir_all(ws.join(".cargo")).unwrap();
        std::fs::create_dir_all(d.join("a/.cargo")).unwrap();
        std::fs::write(ws.join(".cargo/config.toml"), "[build]\n").unwrap();
        std::fs::write(d.join("a/.cargo/config"), "[build]\n").unwrap();
        let labels = |cwd: &Path| -> Vec<String> {
            config_files(cwd, &ws, &d.join("home"))
                .into_iter()
                .map(|(l, _)| l)
                .collect()
        };
        assert_eq!(
            labels(&ws),
            vec!["./.cargo/config.toml", "../.cargo/config"]
        );
        // From a member dir: the same labels, plus the member's own config.
        let member = ws.join("crates/m");
        std::fs::create_dir_all(member.join(".cargo")).unwrap();
        std::fs::write(member.join(".cargo/config.toml"), "[env]\n").unwrap();
        assert_eq!(
            labels(&member),
            vec![
                "./crates/m/.cargo/config.toml",
                "./.cargo/config.toml",
                "../.cargo/config"
            ]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("strata-key-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
