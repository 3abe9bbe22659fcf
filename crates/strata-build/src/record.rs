//! Run records: what each cached cargo command restored, which units cargo then found fresh or
//! compiled, and an estimate of the time the restored units saved. Kept in the store
//! (`<store>/records/runs.jsonl`, the last [`KEEP`] runs) for `strata stats` and `strata report`.
//!
//! Time saved, and why it is an estimate: cargo reports no per-unit durations. When a layer is
//! saved, its meta gets `time.ms`, the cargo time attributed to its units, and `time.units`, how
//! many units it holds (build-script runs aside: cargo does not say whether one ran). A unit cargo compiled in the saving run is attributed an equal share of
//! that run's cargo time (cargo's wall time ÷ units it compiled); a unit it did not compile keeps
//! the average of the layer it came from; anything else counts 0. A later run claims, for every
//! unit it restored from a layer and that cargo then reported fresh, that layer's average. So the
//! time claimed never exceeds what the runs that built those units took.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use strata_layer::UnitId;
use strata_store::Manifest;

/// How many runs the store keeps records of.
pub const KEEP: usize = 1000;
/// Layer meta: the cargo milliseconds attributed to the layer's units, and their number.
pub const META_MS: &str = "time.ms";
pub const META_UNITS: &str = "time.units";
/// At most this many lines of `strata why` are kept with a run.
const WHY_LINES: usize = 20;

/// One cached cargo command, as recorded.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default)]
pub struct RunRecord {
    /// When the run ended (unix seconds).
    pub at: u64,
    /// The project's id (a hash of its members' names): clones at other paths share it.
    pub project: String,
    /// The project's name: its root package, else its root directory's name.
    pub name: String,
    /// The workspace root of this run.
    pub root: String,
    /// The cargo command, without `cargo` (`build --release`).
    pub command: String,
    pub scope: String,
    /// cargo's exit code.
    pub exit: i32,
    /// The whole run (strata and cargo), in milliseconds.
    pub wall_ms: u64,
    /// cargo's part (the build pass for `test`, `run`, `nextest`), in milliseconds.
    pub cargo_ms: u64,
    pub restored_layers: usize,
    pub restored_units: usize,
    pub restored_bytes: u64,
    /// Units cargo reported fresh, compiled, and among the fresh ones those restored in this
    /// run; `None` when cargo ran without JSON messages (nothing is claimed then).
    pub fresh_units: Option<usize>,
    pub compiled_units: Option<usize>,
    pub restored_fresh: Option<usize>,
    /// The estimate of cargo time the restored units saved (see the module docs).
    pub saved_ms: u64,
    pub saved_layers: usize,
    pub saved_bytes: u64,
    pub stored_bytes: u64,
    /// For a run that compiled units: what `strata why` said at that moment (key parts and
    /// files changed since the project's previous build), at most 20 lines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
}

impl RunRecord {
    /// Units the cache could have provided: those it did (restored, then fresh) and those cargo
    /// compiled; `None` for a run with neither (a noop in a warm target dir) or without messages.
    pub fn cacheable_units(&self) -> Option<usize> {
        let n = self.restored_fresh? + self.compiled_units?;
        (n > 0).then_some(n)
    }

    /// The why lines, bounded.
    pub fn set_why(&mut self, text: &str) {
        let lines: Vec<&str> = text.lines().collect();
        self.why = lines
            .iter()
            .take(WHY_LINES)
            .map(|l| l.to_string())
            .collect();
        if lines.len() > WHY_LINES {
            self.why
                .push(format!("… {} more lines", lines.len() - WHY_LINES));
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode a run record: {0}")]
    Encode(#[from] serde_json::Error),
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a store keeps its run records.
pub fn dir(store_root: &Path) -> PathBuf {
    store_root.join("records")
}

fn runs_file(dir: &Path) -> PathBuf {
    dir.join("runs.jsonl")
}

/// Add `rec` to the store's records, keeping the last [`KEEP`].
pub fn append(store_root: &Path, rec: &RunRecord) -> Result<(), RecordError> {
    append_capped(&dir(store_root), rec, KEEP)
}

/// Add `rec` to the records in `dir`, keeping at least the last `keep` (readers see exactly
/// those). Concurrent strata runs take turns on `dir/lock`. A record is one line appended at
/// once; when the file holds a tenth more than `keep`, it is rewritten with the newest `keep`
/// into a temp file and renamed over the old one (so no reader ever sees a half-written record,
/// and the rewrite, with its fsync, happens once every `keep / 10` runs, not on every run).
/// A torn line (a run killed mid-write on a full disk) is ended and then skipped by [`read_dir`].
pub fn append_capped(dir: &Path, rec: &RunRecord, keep: usize) -> Result<(), RecordError> {
    std::fs::create_dir_all(dir).map_err(io_at(dir))?;
    let lock_path = dir.join("lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&lock_path)
        .map_err(io_at(&lock_path))?;
    lock.lock().map_err(io_at(&lock_path))?;
    let mut line = serde_json::to_vec(rec)?;
    line.push(b'\n');
    let path = runs_file(dir);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&path)
        .map_err(io_at(&path))?;
    let mut text = Vec::new();
    file.read_to_end(&mut text).map_err(io_at(&path))?;
    let complete = text.last().is_none_or(|b| *b == b'\n');
    let lines = text.iter().filter(|b| **b == b'\n').count() + usize::from(!complete);
    if lines < keep + (keep / 10).max(1) - 1 {
        let mut out = Vec::with_capacity(line.len() + 1);
        if !complete {
            out.push(b'\n');
        }
        out.extend_from_slice(&line);
        file.seek(SeekFrom::End(0)).map_err(io_at(&path))?;
        file.write_all(&out).map_err(io_at(&path))?;
        return Ok(());
    }
    // Full: the newest `keep - 1` lines and this one, replacing the file at once.
    let all: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let skip = all.len().saturating_sub(keep.saturating_sub(1));
    let mut out = Vec::with_capacity(text.len() + line.len());
    for l in &all[skip..] {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out.extend_from_slice(&line);
    strata_fs::AtomicWrite::new()
        .durable()
        .write(&path, &out)
        .map_err(|e| RecordError::Io {
            path: e.path,
            source: e.source,
        })
}

/// The store's records, oldest first, and how many lines could not be read.
pub fn read(store_root: &Path) -> Result<(Vec<RunRecord>, usize), RecordError> {
    read_dir(&dir(store_root))
}

pub fn read_dir(dir: &Path) -> Result<(Vec<RunRecord>, usize), RecordError> {
    read_dir_keep(dir, KEEP)
}

/// The newest `keep` records in `dir`, oldest first, and how many lines could not be read.
pub fn read_dir_keep(dir: &Path, keep: usize) -> Result<(Vec<RunRecord>, usize), RecordError> {
    let path = runs_file(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(io_at(&path)(e)),
    };
    let mut bad = 0;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(r) => out.push(r),
            Err(_) => bad += 1,
        }
    }
    let skip = out.len().saturating_sub(keep);
    out.drain(..skip);
    Ok((out, bad))
}

/// The cargo milliseconds per unit a layer's meta records, if it records them.
pub fn layer_average(m: &Manifest) -> Option<f64> {
    let ms: f64 = m.meta.get(META_MS)?.parse().ok()?;
    let units: f64 = m.meta.get(META_UNITS)?.parse().ok()?;
    (units > 0.0 && ms.is_finite() && ms >= 0.0).then(|| ms / units)
}

/// What one run learns for the time estimate: restored units, and cargo's report of them.
#[derive(Debug, Default, Clone)]
pub struct Timing {
    /// cargo's wall time, once it ran.
    pub cargo_ms: Option<u64>,
    /// cargo ran with JSON messages: `compiled` and `fresh` are known.
    pub messages: bool,
    pub compiled: BTreeSet<UnitId>,
    pub fresh: BTreeSet<UnitId>,
    /// Build-script runs: left out of a layer's unit count, so they do not thin its average.
    pub script_runs: BTreeSet<UnitId>,
    /// Per restored layer: the units restored from it now, and its cargo ms per unit.
    pub restored: Vec<(Vec<UnitId>, f64)>,
}

impl Timing {
    /// Record cargo's part: its duration and, from its messages, which units were fresh.
    pub fn cargo_ran(&mut self, ms: u64, used: Option<&crate::Used>) {
        self.cargo_ms = Some(ms);
        let Some(used) = used else {
            return;
        };
        self.messages = true;
        self.fresh.extend(used.fresh.iter().cloned());
        self.compiled.extend(used.rebuilt.iter().cloned());
        // cargo does not say whether a build script ran again: its runs count neither way.
        self.script_runs.extend(used.script_runs.iter().cloned());
    }

    /// The cargo time attributed to each unit compiled in this run.
    fn share_ms(&self) -> Option<f64> {
        let n = self.compiled.len();
        match self.cargo_ms {
            Some(ms) if self.messages && n > 0 => Some(ms as f64 / n as f64),
            _ => None,
        }
    }

    /// Restored units cargo reported fresh (`None` without messages).
    pub fn restored_fresh(&self) -> Option<usize> {
        self.messages.then(|| {
            self.restored
                .iter()
                .flat_map(|(units, _)| units)
                .filter(|u| self.fresh.contains(*u))
                .count()
        })
    }

    /// The estimated time the restored units saved: each restored unit cargo found fresh, at
    /// its layer's average. Nothing without cargo's messages.
    pub fn saved_ms(&self) -> u64 {
        if !self.messages {
            return 0;
        }
        let ms: f64 = self
            .restored
            .iter()
            .map(|(units, avg)| {
                units.iter().filter(|u| self.fresh.contains(*u)).count() as f64 * avg
            })
            .sum();
        ms.floor() as u64
    }

    /// `time.ms` and `time.units` for a layer of `units`: a unit compiled now gets this run's
    /// share, another the average of the first of `known` (the layers it may come from) holding
    /// it, else 0. `None` when nothing is known (no time to record).
    pub fn layer_meta(
        &self,
        units: &BTreeSet<UnitId>,
        known: &[&Manifest],
    ) -> Option<BTreeMap<String, String>> {
        let share = self.share_ms();
        let known: Vec<(BTreeSet<UnitId>, f64)> = known
            .iter()
            .filter_map(|m| Some((crate::save::unit_ids(m), layer_average(m)?)))
            .collect();
        let restored: HashMap<&UnitId, f64> = self
            .restored
            .iter()
            .flat_map(|(us, avg)| us.iter().map(move |u| (u, *avg)))
            .collect();
        if share.is_none() && known.is_empty() && restored.is_empty() {
            return None;
        }
        let units: Vec<&UnitId> = units
            .iter()
            .filter(|u| !self.script_runs.contains(*u))
            .collect();
        let ms: f64 = units
            .iter()
            .map(|u| {
                if let Some(share) = share.filter(|_| self.compiled.contains(u)) {
                    return share;
                }
                known
                    .iter()
                    .find(|(us, _)| us.contains(*u))
                    .map(|(_, avg)| *avg)
                    .or_else(|| restored.get(*u).copied())
                    .unwrap_or(0.0)
            })
            .sum();
        let mut meta = BTreeMap::new();
        // Rounded down, as every estimate here: never more than measured.
        meta.insert(META_MS.to_string(), format!("{}", ms.floor() as u64));
        meta.insert(META_UNITS.to_string(), units.len().to_string());
        Some(meta)
    }
}

/// `~1m32s`, `~45s`, `~3.2s`: a duration estimate as the summary line and `strata stats` show it.
pub fn approx(ms: u64) -> String {
    let secs = ms as f64 / 1000.0;
    if secs < 10.0 {
        format!("~{secs:.1}s")
    } else if secs < 60.0 {
        format!("~{}s", secs.round() as u64)
    } else if secs < 3600.0 {
        let s = secs.round() as u64;
        format!("~{}m{:02}s", s / 60, s % 60)
    } else {
        let m = (secs / 60.0).round() as u64;
        format!("~{}h{:02}m", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u64) -> RunRecord {
        RunRecord {
            at: n,
            project: "p".into(),
            command: "build".into(),
            ..RunRecord::default()
        }
    }

    #[test]
    fn records_are_bounded_to_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..1005 {
            append_capped(dir.path(), &rec(n), KEEP).unwrap();
        }
        let (all, bad) = read_dir(dir.path()).unwrap();
        assert_eq!(bad, 0);
        assert_eq!(all.len(), 1000);
        assert_eq!(all.first().unwrap().at, 5);
        assert_eq!(all.last().unwrap().at, 1004);
        // The file is rewritten once it holds a tenth more, never grows past that.
        for n in 1005..1300 {
            append_capped(dir.path(), &rec(n), KEEP).unwrap();
            let lines = std::fs::read_to_string(runs_file(dir.path()))
                .unwrap()
                .lines()
                .count();
            assert!(lines < KEEP + KEEP / 10, "{lines} lines on disk");
        }
        let (all, _) = read_dir(dir.path()).unwrap();
        assert_eq!((all.len(), all.last().unwrap().at), (1000, 1299));
    }

    #[test]
    fn a_torn_line_is_skipped_and_does_not_swallow_the_next_record() {
        let dir = tempfile::tempdir().unwrap();
        append_capped(dir.path(), &rec(1), 10).unwrap();
        let path = runs_file(dir.path());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"at\":2,\"proj").unwrap();
        append_capped(dir.path(), &rec(3), 10).unwrap();
        let (all, bad) = read_dir(dir.path()).unwrap();
        assert_eq!(bad, 1);
        assert_eq!(all.iter().map(|r| r.at).collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn concurrent_writers_lose_no_record_and_keep_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let d = dir.path();
                s.spawn(move || {
                    for n in 0..40 {
                        append_capped(d, &rec(t * 1000 + n), 100).unwrap();
                    }
                });
            }
        });
        let (all, bad) = read_dir_keep(dir.path(), 100).unwrap();
        assert_eq!(bad, 0);
        assert_eq!(all.len(), 100);
        let lines = std::fs::read_to_string(runs_file(dir.path()))
            .unwrap()
            .lines()
            .count();
        assert!((100..110).contains(&lines), "{lines} lines on disk");
        // Each writer's records stay in its own order.
        for t in 0..4u64 {
            let mine: Vec<u64> = all.iter().map(|r| r.at).filter(|a| a / 1000 == t).collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "{mine:?}");
        }
    }

    #[test]
    fn saved_time_counts_only_restored_units_cargo_found_fresh() {
        let u = |h: &str| ("release".to_string(), h.to_string());
        let mut t = Timing {
            messages: true,
            cargo_ms: Some(100),
            ..Timing::default()
        };
        t.restored.push((vec![u("a"), u("b"), u("c")], 1000.0));
        t.fresh.insert(u("a"));
        t.fresh.insert(u("b"));
        t.compiled.insert(u("c"));
        assert_eq!(t.saved_ms(), 2000);
        assert_eq!(t.restored_fresh(), Some(2));
        // Without cargo's messages nothing is claimed.
        t.messages = false;
        assert_eq!(t.saved_ms(), 0);
        assert_eq!(t.restored_fresh(), None);
    }

    #[test]
    fn a_layer_is_attributed_at_most_the_run_that_built_it() {
        let u = |h: &str| ("release".to_string(), h.to_string());
        let mut t = Timing {
            messages: true,
            cargo_ms: Some(9000),
            ..Timing::default()
        };
        for h in ["a", "b", "c"] {
            t.compiled.insert(u(h));
        }
        let deps: BTreeSet<UnitId> = [u("a"), u("b")].into();
        // A build-script run in the layer thins nothing: cargo does not say whether it ran.
        t.script_runs.insert(u("run"));
        let local: BTreeSet<UnitId> = [u("c"), u("run")].into();
        let d = t.layer_meta(&deps, &[]).unwrap();
        let l = t.layer_meta(&local, &[]).unwrap();
        assert_eq!(d[META_MS], "6000");
        assert_eq!(l[META_MS], "3000");
        assert_eq!(d[META_UNITS], "2");
        assert_eq!(l[META_UNITS], "1");
    }

    #[test]
    fn durations_read_as_estimates() {
        assert_eq!(approx(3240), "~3.2s");
        assert_eq!(approx(45_400), "~45s");
        assert_eq!(approx(92_000), "~1m32s");
        assert_eq!(approx(3_720_000), "~1h02m");
    }
}
