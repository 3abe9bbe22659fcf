//! Layers of one package's units, for the Nix library's per-crate derivations: a crate
//! derivation saves the units of its package alone into its output (a store with one layer under
//! `packages/<name>`); the derivations that depend on it restore those layers in place, read-only,
//! from the outputs of several such derivations, and align the sources by content as after any
//! restore.

use std::collections::BTreeSet;
use std::path::PathBuf;

use strata_store::refs::{self, LayerKind};
use strata_store::{FileTime, SourceStamp, Store};
use strata_workspace::SourceFilter;

use crate::Summary;
use crate::report::Reporter;
use crate::restore::restore_from;
use crate::save::{NewLayer, SaveError, files_of_units, save_layer_in};
use crate::session::Session;
use crate::used::Used;

/// Restore the package layer of every store in `stores` (read-only, in the order given:
/// dependencies first), then give the restored packages' sources their recorded mtimes by
/// content. A store that cannot be read is one warning: cargo builds those units.
pub fn restore(s: &Session, stores: &[PathBuf], rep: &Reporter, summary: &mut Summary) {
    let mut stamps: Vec<SourceStamp> = Vec::new();
    let mut newest: Option<FileTime> = None;
    let mut restored: BTreeSet<String> = BTreeSet::new();
    for dir in stores {
        let layer = Store::open_read_only(dir).and_then(|store| {
            let (name, id) = store
                .list_refs()?
                .into_iter()
                .find(|(n, _)| n.starts_with("packages/"))
                .ok_or_else(|| strata_store::StoreError::Invalid {
                    reason: format!("{} holds no package layer", dir.display()),
                })?;
            let m = store.get_manifest(&id)?;
            Ok((store, name, m))
        });
        let (store, name, m) = match layer {
            Ok(l) => l,
            Err(e) => {
                rep.warn(&format!("{e}; cargo builds those units"));
                continue;
            }
        };
        // Each layer goes in newer than the ones before it: its dependencies'.
        let what = format!("layer {name} of {}", dir.display());
        if let Some(stats) =
            restore_from(&store, s, &s.ws.build_dir, &m, newest, rep, summary, &what)
        {
            newest = newest.max(stats.newest);
            stamps.extend(m.sources);
            if let Some(package) = name.strip_prefix("packages/") {
                restored.insert(package.to_string());
            }
        }
    }
    if let Some(newest) = newest {
        align(s, &stamps, &restored, newest, rep);
    }
}

/// Give the restored packages' files their recorded mtimes by content. Only theirs: the files of
/// a package this build compiles keep their mtimes, older than what cargo is about to write (made
/// "newer than every restored artifact", they could lie in the future of the units compiled now,
/// and the layer saved from them would be stale wherever it is restored).
fn align(
    s: &Session,
    stamps: &[SourceStamp],
    restored: &BTreeSet<String>,
    newest: FileTime,
    rep: &Reporter,
) {
    let files = match strata_workspace::source_files(&s.ws) {
        Ok(f) => f,
        Err(e) => {
            rep.warn(&format!("cannot list the workspace's files: {e}"));
            return;
        }
    };
    let files = files
        .into_iter()
        .filter(|f| owner(s, &f.root, &f.rel).is_some_and(|o| restored.contains(o)))
        .collect();
    let hashed = strata_layer::hash_sources(files);
    let local = s.ws.local_names();
    let referenced = strata_layer::scan_package_units(&s.ws.build_dir, Some(&s.profiles), &local)
        .map(|scan| strata_layer::referenced_files(&s.ws, &scan))
        .unwrap_or_default();
    let mode = strata_restore::AlignMode::Restored {
        newest_artifact: newest,
    };
    let a =
        strata_restore::align_sources(stamps, &hashed, &SourceFilter::default(), &referenced, mode);
    strata_restore::align_directories(stamps, &s.ws.source_roots(), &referenced, mode);
    rep.detail(&format!(
        "sources: {} unchanged, {} changed, {} mtimes set",
        a.unchanged, a.changed, a.touched
    ));
}

/// Save the units of package `name` that cargo used as the layer `packages/<name>` of the
/// store at `out` (created if missing), with the stamps of the package's own source files (those under its
/// directory and no other member's).
pub fn save(
    s: &Session,
    name: &str,
    out: &std::path::Path,
    used: &Used,
    rep: &Reporter,
    summary: &mut Summary,
) -> Result<(), SaveError> {
    let package = s.ws.local.iter().find(|p| p.name == name).ok_or_else(|| {
        SaveError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "no package `{name}` in the workspace at {}",
                s.ws.root.display()
            ),
        ))
    })?;
    let units: BTreeSet<_> = used
        .local_packages
        .iter()
        .filter(|(_, p)| p.as_str() == name)
        .map(|(u, _)| u.clone())
        .collect();
    let scan = strata_layer::scan(&s.ws.build_dir, Some(&s.profiles))?;
    let files = files_of_units(&scan, &units);
    let referenced = strata_layer::referenced_files(&s.ws, &scan);
    let hashed = strata_layer::hash_sources(strata_workspace::source_files(&s.ws)?);
    let filter = SourceFilter::default();
    let own = |st: &SourceStamp| owner(s, &st.root, &st.path).is_some_and(|o| o == package.name);
    let stamps: Vec<SourceStamp> = strata_layer::stamp_sources(&hashed, &filter, &referenced)
        .into_iter()
        .filter(|st| own(st))
        .collect();
    let mut parts = s.parts.clone();
    parts.insert("package", name);
    let store = Store::open(out)?;
    save_layer_in(
        &store,
        s,
        NewLayer {
            kind: LayerKind::Crates,
            key: parts.crates_key(),
            parent: None,
            sources: stamps,
            meta: parts.to_meta(),
            refs: vec![refs::package(name)],
            keep: Vec::new(),
            known: &[],
        },
        &s.ws.build_dir,
        &files,
        rep,
        summary,
    )?;
    Ok(())
}

/// The local package a source file belongs to: the one whose directory is the longest prefix
/// of its path.
fn owner<'a>(s: &'a Session, root: &str, path: &str) -> Option<&'a str> {
    let abs: PathBuf = s.ws.source_root_dir(root)?.join(path);
    s.ws.local
        .iter()
        .filter(|p| abs.starts_with(&p.dir))
        .max_by_key(|p| p.dir.components().count())
        .map(|p| p.name.as_str())
}
