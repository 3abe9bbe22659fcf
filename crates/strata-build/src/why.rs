//! `strata why`: which part of the key changed since the previous build of this project, and for
//! sources and the skeleton, which files.

use std::collections::{BTreeMap, HashMap};

use strata_cargo::CargoCommand;
use strata_key::{KeyParts, PartChange};
use strata_workspace::SourceFilter;

use crate::report::Reporter;
use crate::restore::lookup;
use crate::session::{Options, Session, SessionError};
use strata_store::refs::{self, LayerKind};

#[derive(Debug, Default, Clone)]
pub struct WhyReport {
    /// No previous build of this project in the store.
    pub no_previous: bool,
    pub changes: Vec<PartChange>,
    /// Input files added, removed or changed since the previous crate layer.
    pub changed_inputs: Vec<String>,
    /// Files that changed but are not inputs (they change no key).
    pub changed_non_inputs: Vec<String>,
    /// Skeleton files (manifests, lock, config) that changed since the previous dependency layer.
    pub changed_skeleton: Vec<String>,
}

impl std::fmt::Display for WhyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.no_previous {
            return writeln!(f, "no previous build of this project in the store");
        }
        if self.changes.is_empty() {
            writeln!(
                f,
                "nothing changed: every layer key matches the previous build"
            )?;
        }
        for c in &self.changes {
            match c {
                PartChange::Added(p) => writeln!(f, "added:   {p}")?,
                PartChange::Removed(p) => writeln!(f, "removed: {p}")?,
                PartChange::Changed(p) => writeln!(f, "changed: {p}")?,
            }
        }
        for p in &self.changed_skeleton {
            writeln!(f, "  skeleton file: {p}")?;
        }
        for p in &self.changed_inputs {
            writeln!(f, "  input file:    {p}")?;
        }
        for p in &self.changed_non_inputs {
            writeln!(f, "  not an input (changes no key): {p}")?;
        }
        Ok(())
    }
}

pub fn why(cmd: &CargoCommand, opts: &Options, rep: &Reporter) -> Result<WhyReport, SessionError> {
    let s = Session::prepare(cmd, opts, rep)?;
    let prev = lookup(
        &s,
        &refs::latest(&s.project, &s.config_id(), LayerKind::Crates, s.scope),
        rep,
    )
    .or_else(|| lookup(&s, &refs::last(&s.project), rep));
    let Some((_, prev)) = prev else {
        return Ok(WhyReport {
            no_previous: true,
            ..WhyReport::default()
        });
    };
    let filter = SourceFilter::default();
    let hashed = strata_layer::hash_sources(strata_workspace::source_files(&s.ws)?);
    let now: HashMap<(String, String), strata_store::ObjectId> = hashed
        .iter()
        .filter_map(|(f, h)| h.map(|h| ((f.root.clone(), f.rel.clone()), h)))
        .collect();
    Ok(compare(
        &s,
        &prev,
        crate::crates::sources_part(&hashed, &filter),
        &now,
    ))
}

/// What `strata why` says during a run, before its layers are saved: the project's previous
/// build (local store only) against the sources as cargo saw them. For the run's record.
pub(crate) fn at_run(
    s: &Session,
    stamps: &[strata_store::SourceStamp],
    sources: &str,
) -> WhyReport {
    let prev = [
        refs::latest(&s.project, &s.config_id(), LayerKind::Crates, s.scope),
        refs::last(&s.project),
    ]
    .iter()
    .find_map(|name| {
        let id = s.store.get_ref(name).ok().flatten()?;
        s.store.get_manifest(&id).ok()
    });
    let Some(prev) = prev else {
        return WhyReport {
            no_previous: true,
            ..WhyReport::default()
        };
    };
    let now = stamps
        .iter()
        .map(|st| ((st.root.clone(), st.path.clone()), st.hash))
        .collect();
    compare(s, &prev, sources.to_string(), &now)
}

/// The key parts, input files and skeleton files that differ between the build that saved `prev`
/// and now (`sources`: the sources key part now; `now`: every source file's hash).
fn compare(
    s: &Session,
    prev: &strata_store::Manifest,
    sources: String,
    now: &HashMap<(String, String), strata_store::ObjectId>,
) -> WhyReport {
    let filter = SourceFilter::default();
    let mut parts = s.parts.clone();
    parts.insert("sources", sources);
    let old = KeyParts::from_meta(&prev.meta);
    let mut report = WhyReport {
        changes: old.diff(&parts),
        ..WhyReport::default()
    };
    let mut seen = std::collections::HashSet::new();
    for st in &prev.sources {
        let k = (st.root.clone(), st.path.clone());
        let label = label(&st.root, &st.path);
        match now.get(&k) {
            Some(h) if *h == st.hash => {}
            Some(_) if st.input => report.changed_inputs.push(format!("{label} (modified)")),
            None if st.input => report.changed_inputs.push(format!("{label} (removed)")),
            _ => report.changed_non_inputs.push(label),
        }
        seen.insert(k);
    }
    let none = std::collections::HashSet::new();
    for ((root, rel), _) in now.iter().filter(|(k, _)| !seen.contains(*k)) {
        if filter.is_input(rel, &none) {
            report
                .changed_inputs
                .push(format!("{} (added)", label(root, rel)));
        } else {
            report.changed_non_inputs.push(label(root, rel));
        }
    }
    report.changed_inputs.sort();
    report.changed_non_inputs.sort();

    // Skeleton files: compare with the dependency layer the previous crate layer was built on.
    if let Some(parent) = prev.parent
        && let Ok(deps) = s.store.get_manifest(&parent)
    {
        let old: BTreeMap<&str, &str> = deps
            .meta
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("skeleton.").map(|p| (p, v.as_str())))
            .collect();
        let new = s.skeleton.file_digests();
        for (p, d) in &new {
            match old.get(p.as_str()) {
                Some(o) if *o == d => {}
                Some(_) => report.changed_skeleton.push(format!("{p} (modified)")),
                None => report.changed_skeleton.push(format!("{p} (added)")),
            }
        }
        for p in old.keys() {
            if !new.contains_key(*p) {
                report.changed_skeleton.push(format!("{p} (removed)"));
            }
        }
    }
    report
}

fn label(root: &str, rel: &str) -> String {
    if root == "ws" {
        rel.to_string()
    } else {
        format!("[{root}] {rel}")
    }
}
