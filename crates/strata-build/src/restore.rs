//! Finding layers by ref (local store first, then the remotes) and restoring them into the build
//! dir. A problem here is a warning and a miss, never a failed build.

use std::path::Path;

use strata_store::refs::{self, LayerKind};
use strata_store::{Manifest, ObjectId};

use crate::Summary;
use crate::report::{Reporter, human_bytes};
use crate::session::Session;

/// A layer restored before cargo ran.
#[derive(Debug, Clone)]
pub struct Restored {
    pub id: ObjectId,
    pub manifest: Manifest,
    /// It is the layer of this very key and scope: what this run saves adds to it.
    pub exact: bool,
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

/// The scopes whose layers help a command of `scope`, best first: its own, then those that
/// share the most units with it (a test build needs what a build has; a check reuses build
/// scripts and proc macros, which every scope compiles alike).
fn related_scopes(scope: &str) -> &'static [&'static str] {
    match scope {
        "test" => &["test", "build", "check"],
        "check" => &["check", "doc", "test", "build"],
        "doc" => &["doc", "check", "build"],
        _ => &["build", "test", "check"],
    }
}

/// The refs to try for a layer of `kind` under `key`, in order, and whether each is exact: this
/// key and scope, the same key in related scopes, then this project's newest layers of the
/// configuration (after a lock bump or an edit: cargo rebuilds what changed).
pub fn candidates(s: &Session, kind: LayerKind, key: &str) -> Vec<(String, bool)> {
    let scopes = related_scopes(s.scope);
    let config = match kind {
        LayerKind::Deps => s.deps_config_id(),
        _ => s.config_id(),
    };
    let mut out: Vec<(String, bool)> = scopes
        .iter()
        .map(|sc| (refs::exact(kind, key, sc), *sc == s.scope))
        .collect();
    out.extend(
        scopes
            .iter()
            .map(|sc| (refs::latest(&s.project, &config, kind, sc), false)),
    );
    out
}

/// The first of `candidates` found.
pub fn find(s: &Session, candidates: &[(String, bool)], rep: &Reporter) -> Option<Restored> {
    candidates.iter().find_map(|(name, exact)| {
        let (id, manifest) = lookup(s, name, rep)?;
        rep.detail(&format!("layer {name} found"));
        Some(Restored {
            id,
            manifest,
            exact: *exact,
        })
    })
}

pub fn restore_into(
    s: &Session,
    target: &Path,
    m: &Manifest,
    rep: &Reporter,
    summary: &mut Summary,
    what: &str,
) -> Option<strata_restore::RestoreStats> {
    restore_newer_than(s, target, m, None, rep, summary, what)
}

/// [`restore_into`], every restored file newer than `floor` (see
/// [`strata_restore::restore_layer_newer_than`]).
pub fn restore_newer_than(
    s: &Session,
    target: &Path,
    m: &Manifest,
    floor: Option<strata_store::FileTime>,
    rep: &Reporter,
    summary: &mut Summary,
    what: &str,
) -> Option<strata_restore::RestoreStats> {
    restore_from(&s.store, s, target, m, floor, rep, summary, what)
}

/// [`restore_newer_than`] with the blobs read from `store` (a per-crate Nix derivation's output,
/// opened read-only) instead of the session's.
#[allow(clippy::too_many_arguments)]
pub fn restore_from(
    store: &strata_store::Store,
    s: &Session,
    target: &Path,
    m: &Manifest,
    floor: Option<strata_store::FileTime>,
    rep: &Reporter,
    summary: &mut Summary,
    what: &str,
) -> Option<strata_restore::RestoreStats> {
    let bar = rep.bar(m.total_file_bytes(), "Restoring");
    // Cargo deletes bins and build scripts before linking them again since 1.66.
    let cargo_unlinks = s.toolchain.cargo_minor().is_some_and(|m| m >= 66);
    let result =
        strata_restore::restore_layer_newer_than(store, target, m, cargo_unlinks, floor, &|n| {
            bar.inc(n)
        });
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
            if !stats.foreign.is_empty() {
                rep.detail(&format!(
                    "{} unit(s) of the {what} left to cargo: units here are other builds ({})",
                    stats.units_skipped,
                    stats.foreign.join(", ")
                ));
            }
            if let Some(avg) = crate::record::layer_average(m)
                && !stats.restored.is_empty()
            {
                summary.timing.restored.push((stats.restored.clone(), avg));
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

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
