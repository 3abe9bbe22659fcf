//! Names of refs: the one place that knows them, for the build flow and the remotes alike.
//!
//! A layer is named by its kind, its key and its **scope** (which family of cargo commands made it:
//! `build`, `check`, `test`, `doc`). Each (kind, key, scope) has one writer family, so CI jobs
//! that build, lint and test one commit on different machines push different names and never
//! overwrite each other; no lock is needed on a remote.
//!
//! - `deps/<deps key>/<scope>`, `crates/<crates key>/<scope>`: exact hits.
//! - `projects/<project>/<config>/<kind>/<scope>`: the newest layer of a project in one build
//!   configuration. Restoring an older layer is safe — content-based freshness makes cargo rebuild
//!   exactly the units whose inputs changed — so a miss on the exact key still starts warm.
//! - `projects/<project>/last`: the newest crate layer of the project in any configuration, for
//!   `strata why`.
//! - `projects/<project>/dev/<config>/<checkout>` and `…/dev/<config>/latest`: dev layers
//!   (incremental state), per checkout path.
//! - `packages/<name>`: one package's units, in the store a per-crate Nix derivation makes.

/// What a layer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LayerKind {
    /// Units of packages that are not the workspace's own.
    Deps,
    /// Units of the workspace's own packages.
    Crates,
    /// rustc's incremental state of the workspace's own packages.
    Dev,
}

impl LayerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::Deps => "deps",
            LayerKind::Crates => "crates",
            LayerKind::Dev => "dev",
        }
    }
}

/// The exact ref of a layer.
pub fn exact(kind: LayerKind, key: &str, scope: &str) -> String {
    format!("{}/{key}/{scope}", kind.as_str())
}

/// The newest layer of `kind` and `scope` of a project in one configuration.
pub fn latest(project: &str, config: &str, kind: LayerKind, scope: &str) -> String {
    format!("projects/{project}/{config}/{}/{scope}", kind.as_str())
}

/// The newest crate layer of a project in any configuration.
pub fn last(project: &str) -> String {
    format!("projects/{project}/last")
}

/// The dev layer saved from the checkout whose root hashes to `checkout`.
pub fn dev_at(project: &str, config: &str, checkout: &str) -> String {
    format!("projects/{project}/dev/{config}/{checkout}")
}

/// The newest dev layer of a project in one configuration, from any checkout.
pub fn dev_latest(project: &str, config: &str) -> String {
    format!("projects/{project}/dev/{config}/latest")
}

/// The layer of one package's units that a store holds for the Nix library's per-crate
/// derivations (one such store per derivation output).
pub fn package(name: &str) -> String {
    format!("packages/{name}")
}

/// The key an exact ref promises its layer has (`deps/<key>/…`, `crates/<key>/…`), so that a
/// remote cannot answer one key with another key's layer.
pub fn promised_key(name: &str) -> Option<&str> {
    let rest = name
        .strip_prefix("deps/")
        .or_else(|| name.strip_prefix("crates/"))?;
    Some(rest.split('/').next().unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_promised_keys() {
        let d = exact(LayerKind::Deps, "abc", "build");
        assert_eq!(d, "deps/abc/build");
        assert_eq!(promised_key(&d), Some("abc"));
        assert_eq!(
            promised_key(&exact(LayerKind::Crates, "k", "test")),
            Some("k")
        );
        let l = latest("p", "c", LayerKind::Deps, "check");
        assert_eq!(l, "projects/p/c/deps/check");
        assert_eq!(promised_key(&l), None);
        assert_eq!(promised_key(&dev_latest("p", "c")), None);
        for n in [d, l, last("p"), dev_at("p", "c", "r")] {
            crate::store::check_ref_name(&n).unwrap();
        }
    }
}
