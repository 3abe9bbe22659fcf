//! The crate layer: the units of the workspace's own packages (and anything cargo had to build
//! beyond the dependency layer), restored before cargo runs and saved after.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use strata_layer::{Group, ScannedFile};
use strata_restore::AlignMode;
use strata_store::{FileTime, MANIFEST_FORMAT, Manifest, ObjectId, SourceStamp};
use strata_workspace::{SourceFile, SourceFilter};

use crate::deps::{lookup, now_secs, restore_into};
use crate::report::Reporter;
use crate::session::{Options, Session};
use crate::{Summary, refs};

/// State captured before cargo runs.
pub struct Pre {
    /// Source hashes and mtimes as cargo is about to see them.
    stamps: Vec<SourceStamp>,
    /// The crate layer restored now, or the one last saved from this target dir.
    base: Option<(ObjectId, Manifest)>,
    started: FileTime,
    filter: SourceFilter,
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
    let hashed = strata_layer::hash_sources(files);
    let local = s.ws.local_names();
    // Only the local packages' own units are read here (not the whole target dir).
    let scan_local =
        || strata_layer::scan_package_units(&s.ws.target_dir, Some(&s.profiles), &local);
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

    let mut base = None;
    let mut mode = AlignMode::Warm;
    if !local_present && opts.restore {
        let sources = sources_part(&hashed, &filter);
        let mut parts = s.parts.clone();
        parts.insert("sources", sources);
        let found = lookup(s, &refs::crates(&parts.crates_key()), rep)
            .or_else(|| lookup(s, &refs::latest(&s.project, &s.config_id(), "crates"), rep));
        if let Some((id, m)) = found {
            if let Some(stats) = restore_into(s, &s.ws.target_dir, &m, rep, summary, "crate layer")
                && stats.units_restored > 0
            {
                mode = AlignMode::Restored {
                    newest_artifact: stats.newest.unwrap_or(started),
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
    })
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
    deps: Option<&(ObjectId, Manifest)>,
    pre: Pre,
    rep: &Reporter,
    summary: &mut Summary,
) {
    if let Err(e) = save(s, deps, pre, rep, summary) {
        rep.warn(&format!("could not save the crate layer: {e}"));
    }
}

#[derive(Debug, thiserror::Error)]
enum SaveError {
    #[error("{0}")]
    Layer(#[from] strata_layer::LayerError),
    #[error("{0}")]
    Store(#[from] strata_store::StoreError),
    #[error("{0}")]
    Workspace(#[from] strata_workspace::WorkspaceError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn save(
    s: &Session,
    deps: Option<&(ObjectId, Manifest)>,
    pre: Pre,
    rep: &Reporter,
    summary: &mut Summary,
) -> Result<(), SaveError> {
    let scan = strata_layer::scan(&s.ws.target_dir, Some(&s.profiles))?;
    let local = s.ws.local_names();
    let deps_units = unit_ids(deps.map(|(_, m)| m));
    // Fingerprint mtimes tell which non-local units cargo built in this run.
    let mut fresh_units: HashSet<(String, String)> = HashSet::new();
    for f in &scan.files {
        if let Group::Unit { profile, hash } = &f.group
            && f.rel.contains("/.fingerprint/")
            && f.mtime >= pre.started
        {
            fresh_units.insert((profile.clone(), hash.clone()));
        }
    }
    // Non-local units the base layer already carried stay in the layer: a later run that does not
    // rebuild them (a noop) must not drop them.
    let base_units = unit_ids(pre.base.as_ref().map(|(_, m)| m));
    let files: Vec<&ScannedFile> = scan
        .files
        .iter()
        .filter(|f| match &f.group {
            Group::Unit { profile, hash } => {
                let id = (profile.clone(), hash.clone());
                scan.package_of(&f.group).is_none_or(|p| local.contains(p))
                    || (!deps_units.contains(&id)
                        && (fresh_units.contains(&id) || base_units.contains(&id)))
            }
            // Cargo rewrites the uplifted `.d` files (absolute paths) on every run, fresh or not.
            Group::Uplifted { .. } => !f.rel.ends_with(".d"),
            // Incremental state belongs to dev layers (kept apart from release/CI layers).
            Group::Incremental { .. } | Group::Ignored => false,
        })
        .collect();

    // Sources again: a file edited while cargo ran may not match what was compiled, so it gets
    // no stamp and counts as changed at the next restore.
    let referenced = strata_layer::referenced_files(&s.ws, &scan);
    let hashed = strata_layer::hash_sources(strata_workspace::source_files(&s.ws)?);
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

    // Nothing changed since the base layer: point the refs at it and write nothing.
    if let Some((id, m)) = &pre.base
        && m.sources == stamps
        && same_files(m, &files)
    {
        set_refs(s, &key, id)?;
        write_last(s, id)?;
        return Ok(());
    }

    let total: u64 = files.iter().map(|f| f.size).sum();
    let bar = rep.bar(total, "Saving");
    let known: Vec<&Manifest> = pre.base.iter().map(|(_, m)| m).collect();
    let (entries, stats) =
        strata_layer::save_entries(&s.store, &s.ws.target_dir, &files, &known, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    let mut meta = parts.to_meta();
    meta.insert("project".into(), s.project.clone());
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        kind: "crates".into(),
        key: key.clone(),
        parent: deps.map(|(id, _)| *id),
        created_unix_secs: now_secs(),
        entries,
        sources: stamps,
        meta,
    };
    let id = s.store.put_manifest(&manifest)?;
    set_refs(s, &key, &id)?;
    write_last(s, &id)?;
    summary.saved_layers += 1;
    summary.saved_bytes += stats.bytes;
    summary.stored_bytes += stats.stored_bytes;
    rep.detail(&format!(
        "saved crate layer {}: {} files, {} hashed, {} new blobs",
        &key[..12],
        stats.files,
        stats.hashed,
        stats.new_blobs
    ));
    Ok(())
}

/// `(profile, hash)` of every unit a layer holds.
fn unit_ids(layer: Option<&Manifest>) -> HashSet<(String, String)> {
    layer
        .iter()
        .flat_map(|m| m.entries.iter())
        .filter_map(|e| match strata_layer::classify(&e.path) {
            Group::Unit { profile, hash } => Some((profile, hash)),
            _ => None,
        })
        .collect()
}

fn same_files(m: &Manifest, files: &[&ScannedFile]) -> bool {
    if m.entries.len() != files.len() {
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

fn set_refs(s: &Session, key: &str, id: &ObjectId) -> Result<(), strata_store::StoreError> {
    s.store.set_ref(&refs::crates(key), id)?;
    s.store
        .set_ref(&refs::latest(&s.project, &s.config_id(), "crates"), id)?;
    s.store.set_ref(&refs::last(&s.project), id)
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

fn write_last(s: &Session, id: &ObjectId) -> std::io::Result<()> {
    let path = last_path(s);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, format!("{}\n", id.to_hex()))?;
    std::fs::rename(tmp, path)
}
