//! Which units a cargo run used: the ones cargo reported (compiled or fresh), split into the
//! dependency layer's and the crate layer's. Layers are cut from exactly these, not from whatever
//! lies in the build dir (units a version bump superseded, or another command built, stay out).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use strata_cargo::messages::{UnitMessage, package_name};
use strata_layer::{Group, TargetScan, UnitId};
use strata_store::{FileTime, Manifest};

use crate::save::unit_ids;
use crate::session::Session;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Used {
    /// Units of packages that are not the workspace's own.
    pub deps: BTreeSet<UnitId>,
    /// Units of the workspace's own packages.
    pub local: BTreeSet<UnitId>,
    /// Paths (relative to the build dir) cargo named for the local units, among them its
    /// uplifted copies (`release/rg`); `None`: every uplifted file counts.
    pub uplifted: Option<BTreeSet<String>>,
    /// cargo compiled something (or cannot tell).
    pub compiled: bool,
    /// The package of each local unit, where cargo's messages name it.
    pub local_packages: BTreeMap<UnitId, String>,
    /// Units cargo reported fresh, and not compiled in another pass of the same run.
    pub fresh: BTreeSet<UnitId>,
    /// Units cargo compiled.
    pub rebuilt: BTreeSet<UnitId>,
    /// Units whose build script cargo ran (it does not say whether that run was needed).
    pub script_runs: BTreeSet<UnitId>,
}

impl Used {
    /// From cargo's messages. A message whose files tell no unit (a doc unit) is left out.
    pub fn from_messages(s: &Session, messages: &[UnitMessage]) -> Used {
        Used::classify(
            &s.ws.local_names(),
            &s.ws.build_dir,
            &s.ws.target_dir,
            messages,
        )
    }

    /// [`Used::from_messages`] without a session: `local` names the workspace's own packages.
    pub fn classify(
        local: &BTreeSet<String>,
        build_dir: &Path,
        target_dir: &Path,
        messages: &[UnitMessage],
    ) -> Used {
        let mut used = Used {
            uplifted: Some(BTreeSet::new()),
            ..Used::default()
        };
        for m in messages {
            used.compiled |= !m.fresh && !m.build_script_run;
            let Some(unit) = strata_layer::unit_of(&m.paths, &m.target_name, build_dir, target_dir)
            else {
                continue;
            };
            if m.build_script_run {
                used.script_runs.insert(unit.clone());
            } else if m.fresh {
                used.fresh.insert(unit.clone());
            } else {
                used.rebuilt.insert(unit.clone());
            }
            let Some(name) = package_name(&m.package_id).filter(|n| local.contains(*n)) else {
                used.deps.insert(unit);
                continue;
            };
            used.local_packages.insert(unit.clone(), name.to_string());
            used.local.insert(unit);
            if let Some(paths) = &mut used.uplifted {
                paths.extend(m.paths.iter().filter_map(|p| {
                    p.strip_prefix(build_dir)
                        .ok()
                        .map(strata_workspace::rel_string)
                }));
            }
        }
        // A unit reported twice (a build pass and the command) counts as compiled if it was.
        let rebuilt = &used.rebuilt;
        used.fresh.retain(|u| !rebuilt.contains(u));
        used
    }

    /// Without messages (the user asked cargo for human-readable ones): every local unit in the
    /// build dir, and the dependency units cargo wrote in this run (fingerprints newer than
    /// `started`) or that the restored dependency layer brought.
    pub fn from_build_dir(
        s: &Session,
        started: Option<FileTime>,
        restored: Option<&Manifest>,
        scan: &mut Option<TargetScan>,
    ) -> Result<Used, strata_layer::LayerError> {
        let scan = match scan {
            Some(scan) => scan,
            None => scan.insert(strata_layer::scan(&s.ws.build_dir, Some(&s.profiles))?),
        };
        let local = s.ws.local_names();
        let brought = restored.map(unit_ids).unwrap_or_default();
        let mut used = Used {
            compiled: true,
            ..Used::default()
        };
        for f in &scan.files {
            let Group::Unit { profile, hash } = &f.group else {
                continue;
            };
            let id = (profile.clone(), hash.clone());
            match scan.package_of(&f.group) {
                Some(p) if local.contains(p) => {
                    used.local.insert(id);
                }
                Some(_) => {
                    let written =
                        f.rel.contains("/.fingerprint/") && started.is_some_and(|t| f.mtime >= t);
                    if written || brought.contains(&id) {
                        used.deps.insert(id);
                    }
                }
                // A unit whose package is unknown stays out of every layer.
                None => {}
            }
        }
        Ok(used)
    }
}

/// The bin `cargo run` builds when it is given no `--bin`/`--example`: the selected package's
/// `default-run`, else its only bin (cargo refuses to guess among several).
pub fn default_bin(s: &Session) -> Option<String> {
    if s.command.subcommand != "run" {
        return None;
    }
    let meta = &s.ws.metadata;
    let pkg = match s.command.packages.first() {
        Some(name) => meta
            .packages
            .iter()
            .find(|p| p.name.as_str() == name && meta.workspace_members.contains(&p.id))?,
        None => meta.root_package().or_else(|| {
            // In a virtual workspace, the member whose directory holds the current one.
            meta.workspace_packages()
                .into_iter()
                .filter(|p| {
                    p.manifest_path
                        .parent()
                        .is_some_and(|d| s.cwd.starts_with(d.as_std_path()))
                })
                .max_by_key(|p| p.manifest_path.as_str().len())
        })?,
    };
    if let Some(name) = &pkg.default_run {
        return Some(name.clone());
    }
    let mut bins = pkg
        .targets
        .iter()
        .filter(|t| t.kind.iter().any(|k| k.to_string() == "bin"));
    match (bins.next(), bins.next()) {
        (Some(bin), None) => Some(bin.name.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn msg(package_id: &str, target: &str, paths: &[&str], fresh: bool) -> UnitMessage {
        UnitMessage {
            package_id: package_id.into(),
            target_name: target.into(),
            target_kind: vec!["lib".into()],
            paths: paths.iter().map(PathBuf::from).collect(),
            fresh,
            build_script_run: false,
        }
    }

    fn local() -> BTreeSet<String> {
        BTreeSet::from(["app".to_string(), "core".to_string()])
    }

    #[test]
    fn messages_split_into_dependency_and_local_units_by_package() {
        let t = Path::new("/w/target");
        let used = Used::classify(
            &local(),
            t,
            t,
            &[
                msg(
                    "registry+https://github.com/rust-lang/crates.io-index#itoa@1.0.11",
                    "itoa",
                    &["/w/target/debug/deps/libitoa-0123456789abcdef.rlib"],
                    true,
                ),
                msg(
                    "path+file:///w/core#0.1.0",
                    "core",
                    &["/w/target/debug/deps/libcore-fedcba9876543210.rlib"],
                    true,
                ),
            ],
        );
        assert_eq!(
            used.deps,
            BTreeSet::from([("debug".to_string(), "0123456789abcdef".to_string())])
        );
        let core = ("debug".to_string(), "fedcba9876543210".to_string());
        assert_eq!(used.local, BTreeSet::from([core.clone()]));
        assert_eq!(
            used.local_packages.get(&core).map(String::as_str),
            Some("core")
        );
        assert!(!used.compiled, "everything was fresh");
        assert_eq!(used.fresh.len(), 2);
        assert!(used.rebuilt.is_empty() && used.script_runs.is_empty());
        assert_eq!(
            used.uplifted,
            Some(BTreeSet::from([
                "debug/deps/libcore-fedcba9876543210.rlib".to_string()
            ]))
        );
    }

    #[test]
    fn a_compiled_unit_counts_and_a_build_script_run_does_not() {
        let t = Path::new("/w/target");
        let mut run = msg(
            "path+file:///w/app#0.1.0",
            "",
            &["/w/target/debug/build/app-0011223344556677/out"],
            false,
        );
        run.build_script_run = true;
        let used = Used::classify(&local(), t, t, &[run.clone()]);
        assert!(
            !used.compiled,
            "a build script's run alone compiles nothing"
        );
        let compiled = msg(
            "registry+https://github.com/rust-lang/crates.io-index#itoa@1.0.11",
            "itoa",
            &["/w/target/debug/deps/libitoa-0123456789abcdef.rlib"],
            false,
        );
        let both = Used::classify(&local(), t, t, &[run, compiled]);
        assert!(both.compiled);
        assert_eq!((both.rebuilt.len(), both.script_runs.len()), (1, 1));
        assert!(both.fresh.is_empty());
    }

    #[test]
    fn a_message_that_names_no_unit_is_left_out() {
        let t = Path::new("/w/target");
        let doc = msg(
            "path+file:///w/core#0.1.0",
            "core",
            &["/w/target/doc/core/index.html"],
            true,
        );
        let used = Used::classify(&local(), t, t, &[doc]);
        assert!(used.local.is_empty() && used.deps.is_empty(), "{used:?}");
    }
}
