//! The dependency layer: restore it on a hit; on a miss build it from the skeleton, prune every
//! local unit, save it, and move its units into the target dir.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use strata_cargo::CargoCommand;
use strata_layer::{Group, TargetScan};
use strata_store::{MANIFEST_FORMAT, Manifest, ObjectId};

use crate::report::{Reporter, human_bytes};
use crate::session::{Coverage, Options, Session};
use crate::{Summary, refs};

/// Make sure the target dir holds the dependency units; returns the layer used, if any.
pub fn ensure(
    s: &Session,
    cmd: &CargoCommand,
    opts: &Options,
    rep: &Reporter,
    summary: &mut Summary,
) -> Option<(ObjectId, Manifest)> {
    let key = s.parts.deps_key();
    if let Some((id, m)) = lookup(s, &refs::deps(&key), rep) {
        restore_into(s, &s.ws.target_dir, &m, rep, summary, "dependency layer");
        let _ = s.store.touch_manifest(&id);
        return Some((id, m));
    }
    if !opts.save {
        rep.detail("dependency layer missing; --no-save: cargo builds the dependencies itself");
        return None;
    }
    rep.status(
        "Strata",
        &format!(
            "building the dependency layer {} from the skeleton",
            &key[..12]
        ),
    );
    match build(s, cmd, opts, &key, rep, summary) {
        Ok(layer) => Some(layer),
        Err(e) => {
            rep.warn(&format!(
                "could not build the dependency layer: {e}\n  cargo will build the dependencies itself"
            ));
            None
        }
    }
}

/// Read a ref and its manifest; a corrupt or missing manifest is one warning and a miss.
pub fn lookup(s: &Session, name: &str, rep: &Reporter) -> Option<(ObjectId, Manifest)> {
    let id = match s.store.get_ref(name) {
        Ok(Some(id)) => id,
        Ok(None) => crate::remote::pull(s, name, rep)?,
        Err(e) => {
            rep.warn(&format!("{e}; treating the layer as missing"));
            return None;
        }
    };
    match s.store.get_manifest(&id) {
        Ok(m) => Some((id, m)),
        Err(e) => {
            rep.warn(&format!("{e}; not restoring this layer"));
            None
        }
    }
}

pub fn restore_into(
    s: &Session,
    target: &Path,
    m: &Manifest,
    rep: &Reporter,
    summary: &mut Summary,
    what: &str,
) -> Option<strata_restore::RestoreStats> {
    let bar = rep.bar(m.total_file_bytes(), "Restoring");
    // Cargo deletes bins and build scripts before linking them again since 1.66.
    let cargo_unlinks = s.toolchain.cargo_minor().is_some_and(|m| m >= 66);
    let result = strata_restore::restore_layer(&s.store, target, m, cargo_unlinks, &|n| bar.inc(n));
    bar.finish_and_clear();
    match result {
        Ok(stats) => {
            if !stats.problems.is_empty() {
                rep.warn(&format!(
                    "{} unit(s) of the {what} were not restored (cargo rebuilds them):\n  {}",
                    stats.units_failed,
                    stats.problems.join("\n  ")
                ));
            }
            if stats.units_restored > 0 {
                summary.restored_layers += 1;
                summary.restored_units += stats.units_restored;
                summary.restored_bytes += stats.bytes;
                rep.detail(&format!(
                    "restored {what}: {} units ({}), {} already present",
                    stats.units_restored,
                    human_bytes(stats.bytes),
                    stats.units_present
                ));
            }
            Some(stats)
        }
        Err(e) => {
            rep.warn(&format!("could not restore the {what}: {e}"));
            None
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum DepsError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Skeleton(#[from] strata_skeleton::SkeletonError),
    #[error("{0}")]
    Layer(#[from] strata_layer::LayerError),
    #[error("{0}")]
    Store(#[from] strata_store::StoreError),
    #[error("`cargo {0}` on the skeleton failed ({1})")]
    Cargo(String, String),
}

fn build(
    s: &Session,
    cmd: &CargoCommand,
    opts: &Options,
    key: &str,
    rep: &Reporter,
    summary: &mut Summary,
) -> Result<(ObjectId, Manifest), DepsError> {
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
    let latest = refs::latest(&s.project, &s.config_id(), "deps");
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
    if opts.coverage == Coverage::All {
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
    let total: u64 = files.iter().map(|f| f.size).sum();
    let bar = rep.bar(total, "Saving");
    let known: Vec<&Manifest> = seed.iter().map(|(_, m)| m).collect();
    let (entries, stats) =
        strata_layer::save_entries(&s.store, &skel_target, &files, &known, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    let mut meta: BTreeMap<String, String> = s.parts.to_meta();
    for (path, digest) in s.skeleton.file_digests() {
        meta.insert(format!("skeleton.{path}"), digest);
    }
    meta.insert("project".into(), s.project.clone());
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        kind: "deps".into(),
        key: key.to_string(),
        parent: seed.as_ref().map(|(id, _)| *id),
        created_unix_secs: now_secs(),
        entries,
        sources: Vec::new(),
        meta,
    };
    let id = s.store.put_manifest(&manifest)?;
    s.store.set_ref(&refs::deps(key), &id)?;
    s.store.set_ref(&latest, &id)?;
    summary.saved_layers += 1;
    summary.saved_bytes += stats.bytes;
    summary.stored_bytes += stats.stored_bytes;

    move_units(&scan, &s.ws.target_dir)?;
    // Whatever could not be moved (another builder was first, a rename failed) comes from the store.
    restore_into(
        s,
        &s.ws.target_dir,
        &manifest,
        rep,
        &mut Summary::default(),
        "dependency layer",
    );
    Ok((id, manifest))
}

/// Move each unit of `scan` whose fingerprint is absent from `target` into it by renames
/// (same filesystem: both live in the target dir), fingerprint files last.
fn move_units(scan: &TargetScan, target: &Path) -> Result<(), DepsError> {
    let mut units: BTreeMap<(String, String), Vec<&strata_layer::ScannedFile>> = BTreeMap::new();
    for f in &scan.files {
        if let Group::Unit { profile, hash } = &f.group {
            units
                .entry((profile.clone(), hash.clone()))
                .or_default()
                .push(f);
        }
    }
    for ((profile, hash), mut files) in units {
        let Some(pkg) = scan.packages.get(&(profile.clone(), hash.clone())) else {
            continue;
        };
        let fp = target
            .join(&profile)
            .join(".fingerprint")
            .join(format!("{pkg}-{hash}"));
        if fp.exists() {
            continue;
        }
        files.sort_by_key(|f| f.rel.contains("/.fingerprint/"));
        for f in files {
            let dest = target.join(&f.rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(scan.root.join(&f.rel), &dest)?;
        }
    }
    Ok(())
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
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
