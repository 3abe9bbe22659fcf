//! The crate layer: the units of the workspace's own packages, restored before cargo runs and
//! saved after, with the content stamps of their sources.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use strata_layer::{Group, ScannedFile, TargetScan};
use strata_restore::AlignMode;
use strata_store::refs::{self, LayerKind};
use strata_store::{FileTime, Manifest, ObjectId, SourceStamp};
use strata_workspace::{SourceFile, SourceFilter};

use crate::report::Reporter;
use crate::restore::{Restored, candidates, find, lookup, restore_into, restore_newer_than};
use crate::save::{NewLayer, SaveError, entries_of_other_units, files_of_units, save_layer};
use crate::session::{Options, Session};
use crate::{Summary, Used};

/// State captured before cargo runs.
pub struct Pre {
    /// Source hashes and mtimes as cargo is about to see them.
    pub(crate) stamps: Vec<SourceStamp>,
    /// The crate layer restored now, or the one last saved from this build dir.
    base: Option<(ObjectId, Manifest)>,
    pub started: FileTime,
    filter: SourceFilter,
    /// The `sources` key part as cargo is about to see the sources.
    pub(crate) sources: String,
}

pub fn before(s: &Session, opts: &Options, rep: &Reporter, summary: &mut Summary) -> Option<Pre> {
    let started = FileTime::from_system_time(SystemTime::now());
    let filter = SourceFilter::default();
    let files = match strata_workspace::source_files(&s.ws) {
        Ok(f) => f,
        Err(e) => {
            rep.warn(&format!(
                "cannot list the workspace's files: {e}; not caching crate units"
            ));
            return None;
        }
    };
    let hashed = strata_layer::hash_sources_cached(files, &hashes_path(s));
    let sources = sources_part(&hashed, &filter);
    let local = s.ws.local_names();
    // Only the local packages' own units are read here (not the whole target dir).
    let scan_local =
        || strata_layer::scan_package_units(&s.ws.build_dir, Some(&s.profiles), &local);
    let scan = match scan_local() {
        Ok(scan) => scan,
        Err(e) => {
            rep.warn(&format!(
                "cannot read the target dir: {e}; not caching crate units"
            ));
            return None;
        }
    };
    let local_present = scan.packages.values().any(|p| local.contains(p));

    // A run killed while restoring left its mark: the local units here are part of a layer, so
    // the layer is restored again (units already whole stay) and the sources aligned to it.
    let interrupted = std::fs::metadata(restoring_path(s)).is_ok();
    let mut base = None;
    let mut mode = AlignMode::Warm;
    if (!local_present || interrupted) && opts.restore {
        let mut parts = s.parts.clone();
        parts.insert("sources", sources.clone());
        let key = parts.crates_key();
        let found = find(s, &candidates(s, LayerKind::Crates, &key), rep);
        if let Some(Restored {
            id,
            manifest: m,
            exact,
        }) = found
        {
            if exact {
                summary
                    .refs
                    .push(refs::exact(LayerKind::Crates, &key, s.scope));
            }
            if let Err(e) = strata_fs::write_atomic(&restoring_path(s), format!("{id}\n")) {
                rep.warn(&format!("could not mark the crate layer's restore: {e}"));
            }
            if let Some(stats) = restore_into(s, &s.ws.build_dir, &m, rep, summary, "crate layer")
                && (stats.units_restored > 0 || interrupted)
            {
                let before = interrupted
                    .then(|| newest_file_present(&s.ws.build_dir, &m))
                    .flatten();
                mode = AlignMode::Restored {
                    newest_artifact: stats.newest.max(before).unwrap_or(started),
                };
                // The target dir's local units are this layer's now: a save in a later run
                // starts from it and keeps the dependency units it brought (those a plain
                // `cargo build` needs beyond the dependency layer), which that run does not build.
                if let Err(e) = write_last(s, &id) {
                    rep.warn(&format!("could not record the restored crate layer: {e}"));
                }
            }
            let _ = s.store.touch_manifest(&id);
            base = Some((id, m));
        }
    } else if local_present {
        base = read_last(s).and_then(|id| s.store.get_manifest(&id).ok().map(|m| (id, m)));
    }
    if let Some((_, m)) = &base {
        // What the units now in the target dir read (restored ones included).
        let referenced = scan_local()
            .map(|scan| strata_layer::referenced_files(&s.ws, &scan))
            .unwrap_or_default();
        let a = strata_restore::align_sources(&m.sources, &hashed, &filter, &referenced, mode);
        let dirs =
            strata_restore::align_directories(&m.sources, &s.ws.source_roots(), &referenced, mode);
        rep.detail(&format!(
            "sources: {} unchanged, {} changed, {} non-inputs, {} mtimes set, {dirs} directories set",
            a.unchanged, a.changed, a.non_inputs, a.touched
        ));
    }
    // Restored and aligned, or nothing to restore: the next run may take this target for warm.
    if let Err(e) = std::fs::remove_file(restoring_path(s))
        && e.kind() != std::io::ErrorKind::NotFound
    {
        rep.warn(&format!(
            "could not clear the crate layer's restore mark: {e}"
        ));
    }
    if local_present && opts.restore {
        restore_beside(s, &hashed, &sources, rep, summary);
    }
    // Inputs named by the base layer's units stay inputs (e.g. a README pulled in by include_str!).
    let referenced: HashSet<(String, String)> = base
        .iter()
        .flat_map(|(_, m)| m.sources.iter())
        .filter(|st| st.input)
        .map(|st| (st.root.clone(), st.path.clone()))
        .collect();
    let stamps = strata_layer::stamp_sources(&hashed, &filter, &referenced);
    Some(Pre {
        stamps,
        base,
        started,
        filter,
        sources,
    })
}

/// In a build dir that already holds units of the workspace (another command's, e.g. `clippy`
/// before `test` in one CI job), add the units of this command's crate layer of this exact key.
/// Exact only: its units were built from inputs of this very content, so they go in newer than
/// every source file (whose mtimes were set for the units already here), and newer than the
/// units they share with those.
fn restore_beside(
    s: &Session,
    hashed: &[(SourceFile, Option<ObjectId>)],
    sources: &str,
    rep: &Reporter,
    summary: &mut Summary,
) {
    let mut parts = s.parts.clone();
    parts.insert("sources", sources);
    let name = refs::exact(LayerKind::Crates, &parts.crates_key(), s.scope);
    let Some((id, m)) = lookup(s, &name, rep) else {
        return;
    };
    // Saved from this build dir (a warm run of the same command): its units are here.
    if read_last(s) == Some(id) {
        summary.refs.push(name);
        return;
    }
    let newest_source = hashed
        .iter()
        .filter_map(|(f, _)| std::fs::symlink_metadata(&f.abs).ok())
        .map(|m| strata_layer::mtime_of(&m))
        .max();
    restore_newer_than(
        s,
        &s.ws.build_dir,
        &m,
        newest_source,
        rep,
        summary,
        "crate layer",
    );
    summary.refs.push(name);
}

/// Digest over the inputs' paths and contents.
pub(crate) fn sources_part(
    hashed: &[(SourceFile, Option<ObjectId>)],
    filter: &SourceFilter,
) -> String {
    let none = HashSet::new();
    let mut h = blake3::Hasher::new();
    for (f, hash) in hashed {
        if filter.is_input(&f.rel, &none) {
            h.update(f.root.as_bytes());
            h.update(b"\0");
            h.update(f.rel.as_bytes());
            h.update(b"\0");
            h.update(hash.map(|h| h.to_hex()).unwrap_or_default().as_bytes());
            h.update(b"\n");
        }
    }
    h.finalize().to_hex()[..16].to_string()
}

pub fn after(
    s: &Session,
    deps: Option<ObjectId>,
    pre: Pre,
    used: &Used,
    scan: &mut Option<TargetScan>,
    rep: &Reporter,
    summary: &mut Summary,
) {
    if let Err(e) = save(s, deps, pre, used, scan, rep, summary) {
        rep.warn(&format!("could not save the crate layer: {e}"));
    }
}

fn save(
    s: &Session,
    deps: Option<ObjectId>,
    pre: Pre,
    used: &Used,
    scan: &mut Option<TargetScan>,
    rep: &Reporter,
    summary: &mut Summary,
) -> Result<(), SaveError> {
    if let Some(id) = unchanged(s, &pre, used) {
        return point_refs(s, &pre.sources, &id, summary);
    }
    let scan = match scan {
        Some(scan) => scan,
        None => scan.insert(strata_layer::scan(&s.ws.build_dir, Some(&s.profiles))?),
    };
    let mut files = files_of_units(scan, &used.local);
    // Cargo's copies of the local units' outputs (`release/rg`); not the `.d` files beside them,
    // which cargo rewrites on every run with absolute paths.
    files.extend(scan.files.iter().filter(|f| {
        matches!(f.group, Group::Uplifted { .. })
            && !f.rel.ends_with(".d")
            && used.uplifted.as_ref().is_none_or(|u| u.contains(&f.rel))
    }));

    // Sources again: a file edited while cargo ran may not match what was compiled, so it gets
    // no stamp and counts as changed at the next restore.
    let referenced = strata_layer::referenced_files(&s.ws, scan);
    let hashed =
        strata_layer::hash_sources_cached(strata_workspace::source_files(&s.ws)?, &hashes_path(s));
    let before: HashMap<(&str, &str), &SourceStamp> = pre
        .stamps
        .iter()
        .map(|st| ((st.root.as_str(), st.path.as_str()), st))
        .collect();
    let mut referenced_all = referenced;
    referenced_all.extend(
        pre.stamps
            .iter()
            .filter(|st| st.input)
            .map(|st| (st.root.clone(), st.path.clone())),
    );
    let mut stamps: Vec<SourceStamp> =
        strata_layer::stamp_sources(&hashed, &pre.filter, &referenced_all)
            .into_iter()
            .filter(|st| {
                before
                    .get(&(st.root.as_str(), st.path.as_str()))
                    .is_some_and(|b| b.hash == st.hash && b.mtime == st.mtime)
            })
            .collect();
    stamps.sort_by(|a, b| (&a.root, &a.path).cmp(&(&b.root, &b.path)));

    let mut parts = s.parts.clone();
    parts.insert("sources", sources_part(&hashed, &pre.filter));
    let key = parts.crates_key();

    // The base layer of this very key and scope: what this run did not use stays in the layer.
    let same_layer = pre
        .base
        .as_ref()
        .filter(|(_, m)| m.key == key && m.meta.get("scope").map(String::as_str) == Some(s.scope));
    let keep = same_layer
        .map(|(_, m)| entries_of_other_units(m, &used.local))
        .unwrap_or_default();

    // Nothing changed since the base layer: point the refs at it and write nothing.
    if let Some((id, m)) = &pre.base
        && m.key == key
        && same_inputs(&m.sources, &stamps)
        && same_files(m, &files, keep.len())
    {
        return point_refs(s, &sources_part(&hashed, &pre.filter), id, summary);
    }

    let known: Vec<&Manifest> = pre.base.iter().map(|(_, m)| m).collect();
    let layer = NewLayer {
        kind: LayerKind::Crates,
        refs: ref_names(s, &key),
        key,
        parent: deps,
        sources: stamps,
        meta: parts.to_meta(),
        keep,
        known: &known,
    };
    let (id, _) = save_layer(s, layer, &s.ws.build_dir, &files, rep, summary)?;
    write_last(s, &id)?;
    Ok(())
}

/// The base layer, when this run changed nothing it describes (cargo compiled nothing, the
/// sources are as the layer stamped them, the layer has every local unit cargo used, and it is
/// of this very key and scope): a noop needs neither a scan of the build dir nor a new hash of
/// the sources.
fn unchanged(s: &Session, pre: &Pre, used: &Used) -> Option<ObjectId> {
    let (id, m) = pre.base.as_ref()?;
    let mut parts = s.parts.clone();
    parts.insert("sources", pre.sources.clone());
    let same = !used.compiled
        && used.uplifted.is_some()
        && m.key == parts.crates_key()
        && m.meta.get("scope").map(String::as_str) == Some(s.scope)
        && same_inputs(&m.sources, &pre.stamps)
        && used.local.is_subset(&crate::save::unit_ids(m));
    same.then_some(*id)
}

/// The stamps of inputs agree: those describe what the units were built from. A non-input's
/// stamp (a README) only gives the file its recorded mtime back in the next run and in a clone,
/// which the layer's stamp does as well after an edit, since cargo compiled nothing for it.
fn same_inputs(a: &[SourceStamp], b: &[SourceStamp]) -> bool {
    fn inputs(stamps: &[SourceStamp]) -> Vec<&SourceStamp> {
        let mut v: Vec<&SourceStamp> = stamps.iter().filter(|st| st.input).collect();
        v.sort_by(|x, y| (&x.root, &x.path).cmp(&(&y.root, &y.path)));
        v
    }
    inputs(a) == inputs(b)
}

fn ref_names(s: &Session, key: &str) -> Vec<String> {
    vec![
        refs::exact(LayerKind::Crates, key, s.scope),
        refs::latest(&s.project, &s.config_id(), LayerKind::Crates, s.scope),
        refs::last(&s.project),
    ]
}

/// Point this run's refs at layer `id` (those that point elsewhere), and this build dir's record.
fn point_refs(
    s: &Session,
    sources: &str,
    id: &ObjectId,
    summary: &mut Summary,
) -> Result<(), SaveError> {
    let mut parts = s.parts.clone();
    parts.insert("sources", sources);
    let names = ref_names(s, &parts.crates_key());
    for name in &names {
        if s.store.get_ref(name).ok().flatten().as_ref() != Some(id) {
            s.store.set_ref(name, id)?;
        }
    }
    summary.refs.extend(names);
    if read_last(s).as_ref() != Some(id) {
        write_last(s, id)?;
    }
    Ok(())
}

/// The layer holds exactly `files` (as they are now) and `kept` entries besides.
pub(crate) fn same_files(m: &Manifest, files: &[&ScannedFile], kept: usize) -> bool {
    if m.entries.len() != files.len() + kept {
        return false;
    }
    let by_path: HashMap<&str, &strata_store::Entry> =
        m.entries.iter().map(|e| (e.path.as_str(), e)).collect();
    files.iter().all(|f| {
        by_path.get(f.rel.as_str()).is_some_and(|e| {
            e.mtime == f.mtime
                && match &e.kind {
                    strata_store::EntryKind::File { size, .. } => {
                        *size == f.size && f.symlink.is_none()
                    }
                    strata_store::EntryKind::Symlink { target } => {
                        f.symlink.as_ref() == Some(target)
                    }
                    strata_store::EntryKind::Dir => false,
                }
        })
    })
}

/// The crate layer last saved from this target dir, for this configuration: the stamps that
/// describe how its units were built.
fn last_path(s: &Session) -> std::path::PathBuf {
    s.state_dir().join(format!("last-{}", &s.config_id()[..16]))
}

fn read_last(s: &Session) -> Option<ObjectId> {
    let text = std::fs::read_to_string(last_path(s)).ok()?;
    ObjectId::from_hex(text.trim()).ok()
}

fn write_last(s: &Session, id: &ObjectId) -> Result<(), strata_fs::WriteError> {
    strata_fs::write_atomic(&last_path(s), format!("{}\n", id.to_hex()))
}

/// The sources' content hashes from the last run in this build dir, by file identity.
fn hashes_path(s: &Session) -> std::path::PathBuf {
    s.state_dir().join("source-hashes.json")
}

/// Present from just before a crate layer's restore into this build dir until its sources are
/// aligned: a run killed in between leaves it.
fn restoring_path(s: &Session) -> std::path::PathBuf {
    s.state_dir()
        .join(format!("restoring-{}", &s.config_id()[..16]))
}

/// The newest mtime among the layer's files now in `target` (what a killed restore put there,
/// perhaps shifted later than in the layer).
fn newest_file_present(target: &std::path::Path, m: &Manifest) -> Option<FileTime> {
    m.entries
        .iter()
        .filter(|e| matches!(e.kind, strata_store::EntryKind::File { .. }))
        .filter_map(|e| std::fs::symlink_metadata(target.join(&e.path)).ok())
        .map(|md| strata_layer::mtime_of(&md))
        .max()
}
