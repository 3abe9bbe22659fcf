//! The dependency layer: the units of packages that are not the workspace's own.
//!
//! Before cargo runs, the layer of this deps key and scope is restored (else a related one, else
//! the project's newest: cargo rebuilds what changed). After it, the non-local units cargo
//! reported are saved under the deps key, adding to what that key's layer already held. Only
//! [`build_from_skeleton`] (for `strata deps` and Nix's buildDepsOnly) builds the skeleton.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};

use strata_cargo::CargoCommand;
use strata_layer::{TargetScan, UnitId};
use strata_store::refs::{self, LayerKind};
use strata_store::{Manifest, ObjectId};

use crate::report::Reporter;
use crate::restore::{Restored, candidates, find, lookup, restore_into};
use crate::save::{
    NewLayer, SaveError, entries_of_other_units, files_of_units, save_layer, unit_ids,
};
use crate::session::{Coverage, Session};
use crate::{Summary, Used};

/// Restore the best dependency layer there is for this command; returns it, if any.
pub fn restore(s: &Session, rep: &Reporter, summary: &mut Summary) -> Option<Restored> {
    let key = s.parts.deps_key();
    let found = find(s, &candidates(s, LayerKind::Deps, &key), rep)?;
    restore_into(
        s,
        &s.ws.build_dir,
        &found.manifest,
        rep,
        summary,
        "dependency layer",
    );
    let _ = s.store.touch_manifest(&found.id);
    if found.exact {
        summary
            .refs
            .push(refs::exact(LayerKind::Deps, &key, s.scope));
    }
    Some(found)
}

/// The layer's key parts and the skeleton's file digests (for `strata why`).
fn meta(s: &Session) -> BTreeMap<String, String> {
    let mut meta: BTreeMap<String, String> = s.parts.to_meta();
    for (path, digest) in s.skeleton.file_digests() {
        meta.insert(format!("skeleton.{path}"), digest);
    }
    meta
}

/// Save the non-local units cargo used in this run under the deps key (for this scope), with
/// what the key's layer already held. Nothing is written when the restored layer of this key
/// and scope already holds every one of them.
pub fn save(
    s: &Session,
    restored: Option<&Restored>,
    used: &Used,
    scan: &mut Option<TargetScan>,
    rep: &Reporter,
    summary: &mut Summary,
) -> Result<Option<ObjectId>, SaveError> {
    let exact = restored.filter(|r| r.exact);
    let held: BTreeSet<UnitId> = exact.map(|r| unit_ids(&r.manifest)).unwrap_or_default();
    if used.deps.is_empty() || used.deps.is_subset(&held) {
        return Ok(exact.map(|r| r.id));
    }
    let scan = match scan {
        Some(scan) => scan,
        None => scan.insert(strata_layer::scan(&s.ws.build_dir, Some(&s.profiles))?),
    };
    let files = files_of_units(scan, &used.deps);
    let key = s.parts.deps_key();
    let known: Vec<&Manifest> = restored.iter().map(|r| &r.manifest).collect();
    let layer = NewLayer {
        kind: LayerKind::Deps,
        key: key.clone(),
        parent: None,
        sources: Vec::new(),
        meta: meta(s),
        refs: vec![
            refs::exact(LayerKind::Deps, &key, s.scope),
            refs::latest(&s.project, &s.deps_config_id(), LayerKind::Deps, s.scope),
        ],
        keep: exact
            .map(|r| entries_of_other_units(&r.manifest, &used.deps))
            .unwrap_or_default(),
        known: &known,
    };
    let (id, _) = save_layer(s, layer, &s.ws.build_dir, &files, rep, summary)?;
    Ok(Some(id))
}

#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Skeleton(#[from] strata_skeleton::SkeletonError),
    #[error("{0}")]
    Layer(#[from] strata_layer::LayerError),
    #[error("{0}")]
    Store(#[from] strata_store::StoreError),
    #[error("{0}")]
    Save(#[from] SaveError),
    #[error("`cargo {0}` on the skeleton failed ({1})")]
    Cargo(String, String),
}

/// Build the dependency layer from the skeleton (cargo on dummy sources, then every local unit
/// pruned) and save it for the scopes `coverage` serves: for `strata deps` and Nix's
/// buildDepsOnly, which fill a cache before the real sources are there. A layer of this key
/// already in the store is used as it is.
pub fn build_from_skeleton(
    s: &Session,
    cmd: &CargoCommand,
    coverage: Coverage,
    rep: &Reporter,
    summary: &mut Summary,
) -> Result<ObjectId, DepsError> {
    let key = s.parts.deps_key();
    let scopes = coverage.scopes();
    if let Some((id, _)) = scopes
        .iter()
        .find_map(|sc| lookup(s, &refs::exact(LayerKind::Deps, &key, sc), rep))
    {
        return Ok(id);
    }
    rep.status(
        "Strata",
        &format!(
            "building the dependency layer {} from the skeleton",
            &key[..12]
        ),
    );
    let skel_dir = tempfile::Builder::new()
        .prefix("strata-skeleton-")
        .tempdir()?;
    let skel_ws = s.skeleton.write(skel_dir.path())?;
    let skel_target = s
        .state_dir()
        .join(format!("deps-build-{}", std::process::id()));
    if skel_target.exists() {
        std::fs::remove_dir_all(&skel_target)?;
    }
    std::fs::create_dir_all(&skel_target)?;
    let _cleanup = RemoveOnDrop(skel_target.clone());

    // Seed with the project's previous dependency layer: after `cargo update -p x` only x and
    // what depends on it compile.
    let latest = refs::latest(&s.project, &s.deps_config_id(), LayerKind::Deps, scopes[0]);
    let seed = lookup(s, &latest, rep);
    if let Some((_, m)) = &seed {
        restore_into(
            s,
            &skel_target,
            m,
            rep,
            &mut Summary::default(),
            "previous dependency layer",
        );
    }

    let mut modes = vec!["build"];
    if coverage == Coverage::All {
        modes.push("check");
    }
    for mode in modes {
        let mut c = Command::new(strata_cargo::cargo_bin());
        c.arg(mode)
            .args(cmd.unit_selection_args())
            .args(cmd.lock_args())
            .arg("--all-targets")
            .current_dir(&skel_ws)
            .envs(s.envs.iter().map(|(k, v)| (k, v)))
            .env("CARGO_TARGET_DIR", &skel_target)
            // A configured build-dir would take the units elsewhere.
            .env("CARGO_BUILD_BUILD_DIR", &skel_target)
            .stdin(Stdio::null())
            // Cargo's messages go to stderr; keep the user's stdout for the real command.
            .stdout(Stdio::from(std::io::stderr().as_fd_owned()?));
        if cmd.quiet {
            c.arg("--quiet");
        }
        rep.detail(&format!("running {c:?}"));
        let status = c.status()?;
        if !status.success() {
            return Err(DepsError::Cargo(mode.to_string(), status.to_string()));
        }
    }

    let local = s.ws.local_names();
    let built = strata_layer::scan(&skel_target, Some(&s.profiles))?;
    let pruned = strata_layer::prune_local_units(&built, &local)?;
    rep.detail(&format!(
        "pruned {pruned} files of local packages from the dependency build"
    ));
    let scan = strata_layer::scan(&skel_target, Some(&s.profiles))?;

    let files: Vec<&strata_layer::ScannedFile> = scan.files.iter().collect();
    let known: Vec<&Manifest> = seed.iter().map(|(_, m)| m).collect();
    let mut names: Vec<String> = scopes
        .iter()
        .map(|sc| refs::exact(LayerKind::Deps, &key, sc))
        .collect();
    names.extend(
        scopes
            .iter()
            .map(|sc| refs::latest(&s.project, &s.deps_config_id(), LayerKind::Deps, sc)),
    );
    let layer = NewLayer {
        kind: LayerKind::Deps,
        key: key.clone(),
        parent: seed.as_ref().map(|(id, _)| *id),
        sources: Vec::new(),
        meta: meta(s),
        refs: names,
        keep: Vec::new(),
        known: &known,
    };
    let (id, _) = save_layer(s, layer, &skel_target, &files, rep, summary)?;
    Ok(id)
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

trait AsFdOwned {
    fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd>;
}

impl AsFdOwned for std::io::Stderr {
    fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.as_fd().try_clone_to_owned()
    }
}
