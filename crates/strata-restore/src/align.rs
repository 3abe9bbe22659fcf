//! Giving source files the mtimes cargo expects, decided by content.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use strata_store::{FileTime, ObjectId, SourceStamp};
use strata_workspace::{SourceFile, SourceFilter};

use crate::set_mtime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlignMode {
    /// The local units in the target dir were just restored from the layer these stamps belong
    /// to: give inputs their saved mtimes by content, and make changed inputs newer than every
    /// restored artifact.
    Restored { newest_artifact: FileTime },
    /// The target dir's local units were built here (a warm checkout): cargo's mtimes are right
    /// for inputs, leave them; only non-inputs get their recorded mtimes.
    Warm,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlignStats {
    /// Inputs whose content matched the stamp.
    pub unchanged: usize,
    /// Inputs whose content differs from the stamp, or that have no stamp.
    pub changed: usize,
    /// Non-inputs (README, LICENSE…) given a recorded mtime.
    pub non_inputs: usize,
    /// Files whose mtime strata changed.
    pub touched: usize,
}

/// A README edit must not make cargo rebuild: a build script without `rerun-if-changed`
/// fingerprints the newest mtime of *all* its package's files (`Precalculated`). Non-inputs
/// therefore get their saved mtime whatever their content; new ones get the oldest saved mtime so
/// they cannot become the newest file.
/// `files` pairs each source file with its current content hash (`None` when unreadable).
/// `referenced` holds `(root, path)` of files that a unit now in the target dir names in its
/// dep-info or `rerun-if-changed`: inputs whatever the filter says, even without a stamp (a unit
/// built by plain cargo since the last save may have started to `include_str!` a README).
pub fn align_sources(
    stamps: &[SourceStamp],
    files: &[(SourceFile, Option<ObjectId>)],
    filter: &SourceFilter,
    referenced: &HashSet<(String, String)>,
    mode: AlignMode,
) -> AlignStats {
    let by_path: HashMap<(&str, &str), &SourceStamp> = stamps
        .iter()
        .map(|s| ((s.root.as_str(), s.path.as_str()), s))
        .collect();
    let oldest = stamps.iter().map(|s| s.mtime).min();
    let now = FileTime::from_system_time(std::time::SystemTime::now());
    let none = HashSet::new();
    let outcomes: Vec<(Kind, bool)> = files
        .par_iter()
        .map(|(f, current_hash)| {
            let stamp = by_path.get(&(f.root.as_str(), f.rel.as_str())).copied();
            let input = stamp.is_some_and(|s| s.input)
                || referenced.contains(&(f.root.clone(), f.rel.clone()))
                || filter.is_input(&f.rel, &none);
            let Ok(meta) = std::fs::symlink_metadata(&f.abs) else {
                return (Kind::Skipped, false);
            };
            let current = strata_layer::mtime_of(&meta);
            if !input {
                let want = stamp.map(|s| s.mtime).or(oldest);
                return match want {
                    Some(t) if t != current => (Kind::NonInput, set_mtime(&f.abs, t).is_ok()),
                    Some(_) => (Kind::NonInput, false),
                    None => (Kind::Skipped, false),
                };
            }
            let AlignMode::Restored { newest_artifact } = mode else {
                return (Kind::Skipped, false);
            };
            let same = stamp.is_some_and(|s| *current_hash == Some(s.hash));
            match (same, stamp) {
                (true, Some(s)) if s.mtime != current => {
                    (Kind::Unchanged, set_mtime(&f.abs, s.mtime).is_ok())
                }
                (true, _) => (Kind::Unchanged, false),
                // Changed: must be newer than every artifact, or cargo would call its unit fresh
                // (in Nix every mtime is 1).
                (false, _) if current <= newest_artifact => (
                    Kind::Changed,
                    set_mtime(&f.abs, newer_than(newest_artifact, now)).is_ok(),
                ),
                (false, _) => (Kind::Changed, false),
            }
        })
        .collect();
    let mut stats = AlignStats::default();
    for (kind, touched) in outcomes {
        match kind {
            Kind::Unchanged => stats.unchanged += 1,
            Kind::Changed => stats.changed += 1,
            Kind::NonInput => stats.non_inputs += 1,
            Kind::Skipped => {}
        }
        stats.touched += usize::from(touched);
    }
    stats
}

/// An mtime that makes a changed input stale: newer than every artifact (in Nix every mtime is
/// 1, so `now` alone is not enough when a restored artifact carries a future mtime).
fn newer_than(newest_artifact: FileTime, now: FileTime) -> FileTime {
    if now > newest_artifact {
        now
    } else {
        FileTime {
            secs: newest_artifact.secs + 1,
            nanos: 0,
        }
    }
}

enum Kind {
    Unchanged,
    Changed,
    NonInput,
    Skipped,
}

/// Directories named by `rerun-if-changed` (xh's build script names `assets/syntax`): cargo takes
/// the newest mtime of everything under such a directory, the directories themselves included, and
/// a clone gives every directory the time of the clone, so the build script would run again and
/// its package would compile again. After [`align_sources`] has given the files their mtimes by
/// content, each directory under a referenced one gets the newest mtime of its entries: unchanged
/// contents keep the unit fresh, a changed or added file still makes it stale. A file that was
/// there at save time and is gone now (its stamp lies under the directory) makes the directory
/// newer than every artifact, as its deletion would on a laptop.
/// `roots` maps source-root names to directories (`Workspace::source_roots`). Only for
/// [`AlignMode::Restored`]: in a warm checkout cargo's own mtimes are right. Returns how many
/// directories got a new mtime.
pub fn align_directories(
    stamps: &[SourceStamp],
    roots: &[(String, std::path::PathBuf)],
    referenced: &HashSet<(String, String)>,
    mode: AlignMode,
) -> usize {
    let AlignMode::Restored { newest_artifact } = mode else {
        return 0;
    };
    let mut touched = 0;
    for (root, rel) in referenced {
        let Some((_, root_dir)) = roots.iter().find(|(name, _)| name == root) else {
            continue;
        };
        let dir = root_dir.join(rel);
        if !dir.is_dir() {
            continue;
        }
        touched += newest_of_entries(&dir);
        let prefix = format!("{}/", rel.trim_end_matches('/'));
        let lost = stamps.iter().any(|s| {
            s.root == *root && s.path.starts_with(&prefix) && !root_dir.join(&s.path).exists()
        });
        if lost {
            let now = FileTime::from_system_time(std::time::SystemTime::now());
            touched += usize::from(set_mtime(&dir, newer_than(newest_artifact, now)).is_ok());
        }
    }
    touched
}

/// Gives `dir` and every directory below it the newest mtime of its entries (subdirectories
/// first, so their new mtimes count). An empty directory keeps its mtime. Returns how many
/// directories changed.
fn newest_of_entries(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut touched = 0;
    let mut newest: Option<FileTime> = None;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            touched += newest_of_entries(&path);
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let t = strata_layer::mtime_of(&meta);
        if newest.is_none_or(|n| t > n) {
            newest = Some(t);
        }
    }
    let Some(newest) = newest else {
        return touched;
    };
    let current = std::fs::symlink_metadata(dir).map(|m| strata_layer::mtime_of(&m));
    if current.is_ok_and(|c| c != newest) && set_mtime(dir, newest).is_ok() {
        touched += 1;
    }
    touched
}
