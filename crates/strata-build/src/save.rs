//! The one way a layer is saved, whatever its kind: files → blobs and entries → manifest → put →
//! refs → summary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use strata_layer::{Group, ScannedFile, UnitId};
use strata_store::refs::LayerKind;
use strata_store::{Entry, MANIFEST_FORMAT, Manifest, ObjectId, SourceStamp};

use crate::Summary;
use crate::report::{Reporter, human_bytes};
use crate::restore::now_secs;
use crate::session::Session;

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("{0}")]
    Layer(#[from] strata_layer::LayerError),
    #[error("{0}")]
    Store(#[from] strata_store::StoreError),
    #[error("{0}")]
    Workspace(#[from] strata_workspace::WorkspaceError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Write(#[from] strata_fs::WriteError),
}

/// A layer about to be saved.
pub struct NewLayer<'a> {
    pub kind: LayerKind,
    pub key: String,
    /// The layer it was built on (the dependency layer under a crate layer).
    pub parent: Option<ObjectId>,
    pub sources: Vec<SourceStamp>,
    /// Key parts and facts for `strata why` and `strata store show`.
    pub meta: BTreeMap<String, String>,
    /// Refs to point at it.
    pub refs: Vec<String>,
    /// Entries kept from an earlier layer of the same key and scope, for units this run did not
    /// use: a layer of one key accumulates what every run of its scope used.
    pub keep: Vec<Entry>,
    /// Layers whose entries may describe `files` already (their blobs are not hashed again).
    pub known: &'a [&'a Manifest],
}

/// Save `files` (under `root`) as a layer of the session's store. Returns its id.
pub fn save_layer(
    s: &Session,
    layer: NewLayer<'_>,
    root: &Path,
    files: &[&ScannedFile],
    rep: &Reporter,
    summary: &mut Summary,
) -> Result<(ObjectId, Manifest), SaveError> {
    save_layer_in(&s.store, s, layer, root, files, rep, summary)
}

/// [`save_layer`] into another store (a per-crate Nix derivation's output).
pub fn save_layer_in(
    store: &strata_store::Store,
    s: &Session,
    layer: NewLayer<'_>,
    root: &Path,
    files: &[&ScannedFile],
    rep: &Reporter,
    summary: &mut Summary,
) -> Result<(ObjectId, Manifest), SaveError> {
    let total: u64 = files.iter().map(|f| f.size).sum();
    let bar = rep.bar(total, "Saving");
    let (mut entries, stats) =
        strata_layer::save_entries(store, root, files, layer.known, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    entries.extend(layer.keep);
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries.dedup_by(|a, b| a.path == b.path);
    let mut meta = layer.meta;
    let units = unit_ids_of(&entries);
    meta.retain(|k, _| k != crate::record::META_MS && k != crate::record::META_UNITS);
    // Not in a Nix build: a time would make its output differ from run to run.
    if !strata_store::in_nix_build()
        && let Some(time) = summary.timing.layer_meta(&units, layer.known)
    {
        meta.extend(time);
    }
    meta.insert("project".into(), s.project.clone());
    meta.insert("scope".into(), s.scope.into());
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        kind: layer.kind.as_str().into(),
        key: layer.key,
        parent: layer.parent,
        created_unix_secs: now_secs(),
        entries,
        sources: layer.sources,
        meta,
    };
    let id = store.put_manifest(&manifest)?;
    for name in &layer.refs {
        store.set_ref(name, &id)?;
    }
    summary.saved_layers += 1;
    summary.saved_bytes += stats.bytes;
    summary.stored_bytes += stats.stored_bytes;
    summary.refs.extend(layer.refs);
    rep.detail(&format!(
        "saved {} layer {}: {} files ({}), {} hashed, {} new blobs",
        layer.kind.as_str(),
        &manifest.key[..manifest.key.len().min(12)],
        stats.files,
        human_bytes(stats.bytes),
        stats.hashed,
        stats.new_blobs
    ));
    Ok((id, manifest))
}

/// `(profile, hash)` of every unit a layer holds.
pub fn unit_ids(layer: &Manifest) -> BTreeSet<UnitId> {
    unit_ids_of(&layer.entries)
}

fn unit_ids_of(entries: &[Entry]) -> BTreeSet<UnitId> {
    entries
        .iter()
        .filter_map(|e| match strata_layer::classify(&e.path) {
            Group::Unit { profile, hash } => Some((profile, hash)),
            _ => None,
        })
        .collect()
}

/// The entries of `layer` that belong to units not in `except`: what an accumulating layer
/// keeps of its previous version.
pub fn entries_of_other_units(layer: &Manifest, except: &BTreeSet<UnitId>) -> Vec<Entry> {
    layer
        .entries
        .iter()
        .filter(|e| match strata_layer::classify(&e.path) {
            Group::Unit { profile, hash } => !except.contains(&(profile, hash)),
            _ => false,
        })
        .cloned()
        .collect()
}

/// The files of `scan` that belong to `units`.
pub fn files_of_units<'a>(
    scan: &'a strata_layer::TargetScan,
    units: &BTreeSet<UnitId>,
) -> Vec<&'a ScannedFile> {
    scan.files
        .iter()
        .filter(|f| match &f.group {
            Group::Unit { profile, hash } => units.contains(&(profile.clone(), hash.clone())),
            _ => false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_store::{EntryKind, FileTime};

    const A: &str = "0123456789abcdef";
    const B: &str = "fedcba9876543210";

    fn entry(path: &str) -> Entry {
        Entry {
            path: path.into(),
            mtime: FileTime { secs: 1, nanos: 0 },
            kind: EntryKind::Dir,
        }
    }

    fn layer(paths: &[&str]) -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT,
            kind: "deps".into(),
            key: "k".into(),
            parent: None,
            created_unix_secs: 0,
            entries: paths.iter().map(|p| entry(p)).collect(),
            sources: Vec::new(),
            meta: BTreeMap::new(),
        }
    }

    fn unit(h: &str) -> UnitId {
        ("release".to_string(), h.to_string())
    }

    #[test]
    fn a_layer_names_its_units_and_an_accumulating_layer_keeps_the_others() {
        let m = layer(&[
            &format!("release/deps/libitoa-{A}.rlib"),
            &format!("release/.fingerprint/itoa-{A}/lib-itoa"),
            &format!("release/deps/libsemver-{B}.rlib"),
            "release/rg",
        ]);
        assert_eq!(unit_ids(&m), BTreeSet::from([unit(A), unit(B)]));
        // This run used A again: the new layer keeps B's entries from the old one, not A's,
        // and never an uplifted copy.
        let kept = entries_of_other_units(&m, &BTreeSet::from([unit(A)]));
        let kept: Vec<&str> = kept.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(kept, [format!("release/deps/libsemver-{B}.rlib")]);
    }

    #[test]
    fn files_of_units_picks_exactly_those_units_files() {
        let scan = strata_layer::TargetScan {
            root: "/t".into(),
            files: [
                format!("release/deps/libitoa-{A}.rlib"),
                format!("release/deps/libsemver-{B}.rlib"),
                "release/rg".to_string(),
            ]
            .into_iter()
            .map(|rel| ScannedFile {
                group: strata_layer::classify(&rel),
                rel,
                size: 1,
                mtime: FileTime { secs: 1, nanos: 0 },
                executable: false,
                symlink: None,
            })
            .collect(),
            packages: BTreeMap::new(),
        };
        let picked: Vec<&str> = files_of_units(&scan, &BTreeSet::from([unit(B)]))
            .iter()
            .map(|f| f.rel.as_str())
            .collect();
        assert_eq!(picked, [format!("release/deps/libsemver-{B}.rlib")]);
    }
}
