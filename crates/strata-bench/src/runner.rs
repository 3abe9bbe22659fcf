//! Running scenarios × tools on one workload, and writing its results file.
//!
//! Per run and tool, in a fresh directory with an empty cache: the first build in checkout `a`
//! (`clean` for native cargo, `cold` for the caching tools), then the fresh clones at other
//! paths (`fresh-clone`, `fresh-clone-edit`) while the cache holds exactly that first build,
//! then the edits in `a`, each starting from the state the previous step left: `noop`,
//! `leaf-edit`, `readme-edit`, `version-bump`, `lock-bump`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::edits;
use crate::error::{BenchError, IoContext, Result};
use crate::exec::{Cmd, Output};
use crate::fsutil::{self, dir_bytes, dir_bytes_unique, dir_bytes_unique_beyond};
use crate::lockbump::{self, LockBump};
use crate::machine;
use crate::model::{
    Cell, FORMAT, Machine, Outcome, ResultsFile, Sample, Scenario, Tool, WorkloadInfo,
};
use crate::project::{self, ProjectFacts};
use crate::tools::Toolset;
use crate::units::count_units;
use crate::workload::{self, Prepared, WorkloadSpec};

/// Builds longer than this get one run by default, shorter ones three (the rule).
pub const LONG_BUILD_SECS: f64 = 30.0;
/// sccache's server port for the benchmark, so that a user's own sccache server is not touched.
const SCCACHE_PORT: &str = "4227";
/// kache's config file in every run: local caching only (see `ToolRun::kache_config`).
const KACHE_CONFIG: &str =
    "# strata-bench: the local store only, no remote.\n[cache]\nlocal_only = true\n";

#[derive(Debug, Clone)]
pub struct Options {
    pub repo: PathBuf,
    /// `bench/work`: checkouts, caches, downloads, logs.
    pub work: PathBuf,
    /// Where results files go.
    pub out: PathBuf,
    pub tools: Vec<Tool>,
    pub scenarios: Vec<Scenario>,
    /// `--runs`; None: by the length of the first build.
    pub runs: Option<usize>,
    /// `--lock-bump NAME@VERSION`.
    pub lock_bump: Option<(String, String)>,
    /// Keep checkouts and caches after each tool's run (for debugging).
    pub keep_work: bool,
}

/// Why a scenario means nothing for a tool, if it does not.
pub fn not_applicable(tool: Tool, scenario: Scenario, bump: Option<&LockBump>) -> Option<String> {
    let r = match (tool, scenario) {
        (Tool::Native, Scenario::Cold) => {
            "native cargo keeps no cache; its from-scratch build is `clean`"
        }
        (Tool::Native, Scenario::FreshClone | Scenario::FreshCloneEdit) => {
            "native cargo has no cache to carry to another path (that is a clean build)"
        }
        (_, Scenario::Clean) if tool != Tool::Native => {
            "this tool's first build fills its empty cache: see `cold`"
        }
        (_, Scenario::LockBump) if bump.is_none() => {
            "no leaf dependency of the lock has a newer compatible version"
        }
        _ => return None,
    };
    Some(r.to_string())
}

/// The scenario of a tool's first build.
pub fn first_build(tool: Tool) -> Scenario {
    if tool == Tool::Native {
        Scenario::Clean
    } else {
        Scenario::Cold
    }
}

/// Back-to-back noop builds per run, of which the median counts.
const NOOP_SAMPLES: usize = 5;

/// Samples, failures and n/a reasons of one cell across runs.
#[derive(Default)]
struct Acc {
    samples: Vec<Sample>,
    failures: Vec<String>,
    na: Option<String>,
}

enum Step {
    Done(Sample),
    NotApplicable(String),
    Failed(String),
}

/// A workload made ready: its pristine tree, facts and lock bump.
pub struct Plan {
    pub prepared: Prepared,
    pub facts: ProjectFacts,
    pub lock_entries: usize,
    pub bump: Option<LockBump>,
    pub notes: Vec<String>,
}

/// Prepare a workload and decide what the edits touch; prints a summary line. The lock bump is
/// chosen only when `lock-bump` is among the scenarios (it asks the registry index).
pub fn plan(opts: &Options, spec: &WorkloadSpec) -> Result<Plan> {
    let label = &spec.label;
    eprintln!("[{label}] preparing the workload");
    let prepared = workload::prepare(spec, &opts.work)?;
    let facts = project::facts(&prepared.pristine, spec.leaf_file.as_deref())?;
    let lock = lockbump::read_lock(&prepared.pristine.join("Cargo.lock"))?;
    let mut notes = Vec::new();
    let bump = if opts.scenarios.contains(&Scenario::LockBump) {
        let forced = opts
            .lock_bump
            .as_ref()
            .filter(|(n, _)| lock.iter().any(|e| &e.name == n))
            .map(|(n, v)| (n.as_str(), v.as_str()));
        match lockbump::choose(&prepared.pristine, &facts.downstream, forced, 8) {
            Ok(b) => b,
            Err(e) => {
                notes.push(format!("could not choose a lock bump: {e}"));
                None
            }
        }
    } else {
        None
    };
    eprintln!(
        "[{label}] {} local package(s), {} lock entries; leaf edit in {} ({}); README {}; lock bump {}",
        facts.members.len(),
        lock.len(),
        facts.leaf_file,
        facts.downstream,
        facts.readme_file,
        bump.as_ref().map_or("none".into(), |b| format!(
            "{} {} → {}",
            b.name, b.from, b.to
        ))
    );
    if prepared.workspace_added {
        notes.push(
            "The harness appended an empty `[workspace]` to the root Cargo.toml, because the \
             checkouts live inside strata's own workspace (bench/work/), which cargo would \
             otherwise take as this package's workspace."
                .into(),
        );
    }
    Ok(Plan {
        prepared,
        facts,
        lock_entries: lock.len(),
        bump,
        notes,
    })
}

/// Run every selected scenario × tool on one workload; write and return the results file.
pub fn run_workload(
    opts: &Options,
    toolset: &Toolset,
    machine: &Machine,
    spec: &WorkloadSpec,
) -> Result<PathBuf> {
    let (date, started) = machine::utc(SystemTime::now());
    let label = spec.label.clone();
    let Plan {
        prepared,
        facts,
        lock_entries,
        bump,
        mut notes,
    } = plan(opts, spec)?;

    for tool in &opts.tools {
        if let Some(reason) = toolset.missing.get(tool) {
            notes.push(format!("{}: n/a everywhere: {reason}", tool.id()));
        }
    }
    let wanted: BTreeSet<Scenario> = opts.scenarios.iter().copied().collect();
    let mut acc: BTreeMap<(Scenario, Tool), Acc> = BTreeMap::new();
    let mut total = opts.runs.unwrap_or(1).max(1);
    let mut run = 1;
    while run <= total {
        for &tool in &opts.tools {
            let mut tr = ToolRun {
                tool,
                opts,
                toolset,
                prepared: &prepared,
                facts: &facts,
                bump: bump.as_ref(),
                run,
                root: opts.work.join("runs").join(&prepared.slug).join(tool.id()),
                logs: opts.work.join("logs").join(&prepared.slug),
                recipe_in: BTreeMap::new(),
                label: format!(
                    "[{label}] run {run}/{} {}",
                    if opts.runs.is_none() && run == 1 {
                        "?".to_string()
                    } else {
                        total.to_string()
                    },
                    tool.id()
                ),
            };
            for (scenario, step) in tr.execute(&wanted) {
                let a = acc.entry((scenario, tool)).or_default();
                match step {
                    Step::Done(s) => a.samples.push(s),
                    Step::Failed(e) => a.failures.push(format!("run {run}: {e}")),
                    Step::NotApplicable(r) => a.na = Some(r),
                }
            }
        }
        if run == 1 && opts.runs.is_none() {
            let reference = reference_secs(&acc);
            total = if reference > LONG_BUILD_SECS { 1 } else { 3 };
            notes.push(format!(
                "Runs: {total} (the first from-scratch build took {reference:.1} s; builds over \
                 {LONG_BUILD_SECS:.0} s get one run, shorter ones three)."
            ));
        }
        run += 1;
    }

    let mut scenarios: Vec<Scenario> = Scenario::ALL
        .into_iter()
        .filter(|s| wanted.contains(s) || opts.tools.iter().any(|&t| first_build(t) == *s))
        .collect();
    scenarios.dedup();
    let mut cells = Vec::new();
    for &scenario in &scenarios {
        for &tool in &opts.tools {
            let a = acc.remove(&(scenario, tool)).unwrap_or_default();
            let outcome = if !a.samples.is_empty() {
                for f in &a.failures {
                    notes.push(format!("{} / {}: {f}", scenario.id(), tool.id()));
                }
                Outcome::measured(a.samples)
            } else if !a.failures.is_empty() {
                Outcome::Failed {
                    error: a.failures.join("\n"),
                }
            } else {
                Outcome::NotApplicable {
                    reason: a.na.unwrap_or_else(|| "not run".into()),
                }
            };
            cells.push(Cell {
                scenario,
                tool,
                outcome,
            });
        }
    }
    let results = ResultsFile {
        format: FORMAT,
        date: date.clone(),
        started,
        workload: WorkloadInfo {
            label: spec.label.clone(),
            slug: prepared.slug.clone(),
            source: spec.source.clone(),
            facts,
            lock_entries,
            lock_bump: bump,
            workspace_added: prepared.workspace_added,
        },
        machine: machine.clone(),
        runs: total,
        tools: opts.tools.clone(),
        scenarios,
        cells,
        notes,
    };
    fs::create_dir_all(&opts.out).ctx(|| format!("creating {}", opts.out.display()))?;
    let path = opts.out.join(format!("{date}-{}.json", prepared.slug));
    results.write(&path)?;
    Ok(path)
}

/// The first from-scratch build's time: native clean if measured, else the longest cold build.
fn reference_secs(acc: &BTreeMap<(Scenario, Tool), Acc>) -> f64 {
    let first = |k: &(Scenario, Tool)| acc.get(k).and_then(|a| a.samples.first()).map(|s| s.secs);
    first(&(Scenario::Clean, Tool::Native)).unwrap_or_else(|| {
        Tool::ALL
            .iter()
            .filter_map(|&t| first(&(Scenario::Cold, t)))
            .fold(0.0, f64::max)
    })
}

/// One tool's pass through the scenarios in one run.
struct ToolRun<'a> {
    tool: Tool,
    opts: &'a Options,
    toolset: &'a Toolset,
    prepared: &'a Prepared,
    facts: &'a ProjectFacts,
    bump: Option<&'a LockBump>,
    run: usize,
    /// `bench/work/runs/<workload>/<tool>`: checkouts and the cache of this run.
    root: PathBuf,
    logs: PathBuf,
    /// cargo-chef: the recipe each checkout's target was cooked for.
    recipe_in: BTreeMap<PathBuf, String>,
    label: String,
}

impl ToolRun<'_> {
    fn execute(&mut self, wanted: &BTreeSet<Scenario>) -> Vec<(Scenario, Step)> {
        let mut out = Vec::new();
        let first = first_build(self.tool);
        if let Some(reason) = self.toolset.missing.get(&self.tool) {
            // Not installed: every cell of this tool is n/a with the reason, nothing runs.
            eprintln!("{}: n/a: {reason}", self.label);
            return std::iter::once(first)
                .chain(wanted.iter().copied().filter(|&s| s != first))
                .map(|s| (s, Step::NotApplicable(reason.clone())))
                .collect();
        }
        if let Err(e) = fsutil::remove_dir_if_exists(&self.root) {
            let msg = e.to_string();
            return wanted
                .iter()
                .map(|&s| (s, Step::Failed(msg.clone())))
                .collect();
        }
        let a = self.root.join("a").join(&self.prepared.dir_name);
        let r = workload::checkout(self.prepared, &a).and_then(|()| self.build(&a, first));
        let first_ok = r.is_ok();
        out.push((first, self.step(first, r)));
        for scenario in [
            Scenario::Clean,
            Scenario::Cold,
            Scenario::Noop,
            Scenario::FreshClone,
            Scenario::FreshCloneEdit,
            Scenario::LeafEdit,
            Scenario::ReadmeEdit,
            Scenario::VersionBump,
            Scenario::LockBump,
        ] {
            if scenario == first || !wanted.contains(&scenario) {
                continue;
            }
            if let Some(reason) = not_applicable(self.tool, scenario, self.bump) {
                out.push((scenario, Step::NotApplicable(reason)));
                continue;
            }
            if !first_ok {
                out.push((scenario, Step::Failed("the first build failed".into())));
                continue;
            }
            let r = match scenario {
                Scenario::FreshClone => self.fresh(scenario, "b", false),
                Scenario::FreshCloneEdit => self.fresh(scenario, "c", true),
                Scenario::LeafEdit => {
                    edits::leaf_edit(&a, self.facts).and_then(|()| self.build(&a, scenario))
                }
                Scenario::ReadmeEdit => {
                    edits::readme_edit(&a, self.facts).and_then(|()| self.build(&a, scenario))
                }
                Scenario::VersionBump => {
                    edits::version_bump(&a, self.facts).and_then(|_| self.build(&a, scenario))
                }
                Scenario::LockBump => match self.bump {
                    Some(b) => lockbump::apply(&a, b).and_then(|()| self.build(&a, scenario)),
                    None => Err(BenchError::Other("no lock bump".into())),
                },
                Scenario::Noop => self.median_of(&a, scenario, NOOP_SAMPLES),
                _ => self.build(&a, scenario),
            };
            out.push((scenario, self.step(scenario, r)));
        }
        if self.tool == Tool::Sccache {
            self.sccache_stop();
        }
        if self.tool == Tool::Kache {
            self.kache_stop();
        }
        if !self.opts.keep_work
            && let Err(e) = fsutil::remove_dir_if_exists(&self.root)
        {
            eprintln!("{}: {e}", self.label);
        }
        out
    }

    fn step(&self, scenario: Scenario, r: Result<Sample>) -> Step {
        match r {
            Ok(s) => {
                let setup = match self.tool {
                    Tool::Strata => format!(" (+{} in the skeleton)", s.setup_units),
                    Tool::Chef if s.setup_units > 0 => format!(" (+{} cooked)", s.setup_units),
                    _ => String::new(),
                };
                eprintln!(
                    "{} {}: {:.2} s, {} unit{}{setup}, target {} MiB{}",
                    self.label,
                    scenario.id(),
                    s.secs,
                    s.units,
                    if s.units == 1 { "" } else { "s" },
                    s.target_bytes >> 20,
                    s.cache_bytes
                        .map_or(String::new(), |c| format!(", cache {} MiB", c >> 20)),
                );
                for w in &s.warnings {
                    eprintln!("{}   {w}", self.label);
                }
                Step::Done(s)
            }
            Err(e) => {
                eprintln!("{} {}: FAILED: {e}", self.label, scenario.id());
                Step::Failed(e.to_string())
            }
        }
    }

    /// The sample of median time of `n` back-to-back builds: a noop is over in a fraction of a
    /// second, where a single sample is mostly the machine's noise. Every tool alike.
    fn median_of(&mut self, checkout: &Path, scenario: Scenario, n: usize) -> Result<Sample> {
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            samples.push(self.build(checkout, scenario)?);
        }
        samples.sort_by(|a, b| a.secs.total_cmp(&b.secs));
        let mid = samples.len() / 2;
        Ok(samples.swap_remove(mid))
    }

    /// A new checkout at another path (`elsewhere/<name>/`), optionally with the leaf edit,
    /// built with the warm cache; removed afterwards.
    fn fresh(&mut self, scenario: Scenario, name: &str, edit: bool) -> Result<Sample> {
        let base = self.root.join("elsewhere").join(name);
        let dir = base.join(&self.prepared.dir_name);
        workload::checkout(self.prepared, &dir)?;
        if edit {
            edits::leaf_edit(&dir, self.facts)?;
        }
        let r = self.build(&dir, scenario);
        if !self.opts.keep_work {
            fsutil::remove_dir_if_exists(&base)?;
        }
        r
    }

    fn store(&self) -> PathBuf {
        self.root.join("store")
    }
    fn sccache_dir(&self) -> PathBuf {
        self.root.join("sccache")
    }
    fn cooks(&self) -> PathBuf {
        self.root.join("cooks")
    }
    /// `MBX_CACHE_DIR`: mbx's store (and its other state: compiler shims, shared `OUT_DIR`s).
    fn mbx_dir(&self) -> PathBuf {
        self.root.join("mbx")
    }
    /// `KACHE_CACHE_DIR`: kache's store (and its daemon socket, event log).
    fn kache_dir(&self) -> PathBuf {
        self.root.join("kache")
    }
    /// An empty config home (mbx) or a config file that is never written (kache): no user
    /// configuration, so no remote, reaches the benchmark.
    fn config_home(&self) -> PathBuf {
        self.root.join("config")
    }

    fn cache_dir(&self) -> Option<PathBuf> {
        match self.tool {
            Tool::Native => None,
            Tool::Chef => Some(self.cooks()),
            Tool::Sccache => Some(self.sccache_dir()),
            Tool::Mbx => Some(self.mbx_dir()),
            Tool::Kache => Some(self.kache_dir()),
            Tool::Strata => Some(self.store()),
        }
    }

    /// The cache dir's size; a file with several links in it counts once (mbx, kache and strata
    /// may link one file under several names).
    fn cache_bytes(&self) -> Option<u64> {
        self.cache_dir().map(|d| dir_bytes_unique(&d))
    }

    /// Run `cmd`, write its output to the log, fail on a non-zero exit.
    fn exec(&self, cmd: Cmd, scenario: Scenario, part: &str) -> Result<Output> {
        let shown = cmd.shown().to_string();
        let out = cmd.run()?;
        fs::create_dir_all(&self.logs).ctx(|| format!("creating {}", self.logs.display()))?;
        let log = self.logs.join(format!(
            "r{}-{}-{}-{part}.log",
            self.run,
            self.tool.id(),
            scenario.id()
        ));
        let text = format!(
            "$ {shown}\n# exit: {}, {:.3} s\n--- stdout\n{}\n--- stderr\n{}",
            out.status, out.secs, out.stdout, out.stderr
        );
        fs::write(&log, text).ctx(|| format!("writing {}", log.display()))?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(BenchError::Command {
                cmd: shown,
                status: format!("{}; log: {}", out.status, log.display()),
                tail: out.stderr_tail(15),
            })
        }
    }

    fn cargo_build(&self) -> Cmd {
        Cmd::cargo().args(["build", "--release", "--locked"])
    }

    /// One build of `checkout` by this tool, timed, with units and sizes.
    fn build(&mut self, checkout: &Path, scenario: Scenario) -> Result<Sample> {
        let cache_before = self.cache_bytes();
        let mut parts = BTreeMap::new();
        let mut setup_units = 0;
        let mut tool_summary = None;
        let mut warnings = Vec::new();
        let units;
        match self.tool {
            Tool::Native => {
                let o = self.exec(self.cargo_build().dir(checkout), scenario, "build")?;
                parts.insert("build".to_string(), o.secs);
                units = count_units(&o.stderr).count();
            }
            Tool::Sccache => {
                self.sccache_start()?;
                let r = self.exec(
                    self.sccache_env(self.cargo_build()).dir(checkout),
                    scenario,
                    "build",
                );
                tool_summary = self.sccache_stats();
                self.sccache_stop();
                let o = r?;
                parts.insert("build".to_string(), o.secs);
                units = count_units(&o.stderr).count();
            }
            Tool::Mbx => {
                let cmd = self
                    .mbx_env(Cmd::new(self.program(&self.toolset.mbx)?))
                    .args(["build", "--release", "--locked"])
                    .dir(checkout);
                let o = self.exec(cmd, scenario, "build")?;
                parts.insert("build".to_string(), o.secs);
                units = count_units(&o.stderr).count();
                tool_summary = o
                    .stderr
                    .lines()
                    .find(|l| l.trim_start().starts_with("mbx[cache]:"))
                    .map(|l| l.trim().to_string());
            }
            Tool::Kache => {
                // As for sccache: a fresh daemon for each build, started before the timed
                // build, so that nothing but the disk cache carries over.
                if let Err(e) = self.kache_start() {
                    warnings.push(format!("kache daemon start failed: {e}"));
                }
                let started = std::time::Instant::now();
                let r = self.exec(
                    self.kache_env(self.cargo_build())?.dir(checkout),
                    scenario,
                    "build",
                );
                // Stopped first: the daemon drains, and the build's events are all written.
                self.kache_stop();
                let o = r?;
                parts.insert("build".to_string(), o.secs);
                units = count_units(&o.stderr).count();
                // A build that compiled nothing asked kache nothing.
                if units > 0 {
                    tool_summary = self.kache_stats(checkout, started.elapsed());
                }
            }
            Tool::Strata => {
                let bin = self
                    .toolset
                    .strata
                    .as_ref()
                    .ok_or_else(|| BenchError::Other("no strata binary".into()))?;
                let cmd = Cmd::new(bin)
                    .args(["build", "--release", "--locked"])
                    .env("STRATA_STORE", self.store())
                    .dir(checkout);
                let o = self.exec(cmd, scenario, "build")?;
                parts.insert("build".to_string(), o.secs);
                let c = count_units(&o.stderr);
                units = c.count();
                setup_units = c.skeleton;
                tool_summary = o
                    .stderr
                    .lines()
                    .find(|l| l.trim_start().starts_with("Strata restored"))
                    .map(|l| l.trim().to_string());
                warnings = o
                    .stderr
                    .lines()
                    .filter(|l| l.starts_with("warning: strata"))
                    .map(str::to_string)
                    .collect();
            }
            Tool::Chef => {
                let recipe_path = self.root.join("recipe.json");
                let prep = Cmd::cargo()
                    .args(["chef", "prepare", "--recipe-path"])
                    .arg(&recipe_path)
                    .dir(checkout);
                let o = self.exec(prep, scenario, "prepare")?;
                parts.insert("prepare".to_string(), o.secs);
                let recipe = fs::read_to_string(&recipe_path)
                    .ctx(|| format!("reading {}", recipe_path.display()))?;
                if self.recipe_in.get(checkout) != Some(&recipe) {
                    // A new checkout or a changed recipe: the build starts from the cooked
                    // layer for this recipe, as a Docker build stage would.
                    let (cooked, cook) = self.cook(&recipe, scenario)?;
                    if let Some(o) = cook {
                        parts.insert("cook".to_string(), o.secs);
                        setup_units = count_units(&o.stderr).count();
                    }
                    let target = checkout.join("target");
                    fsutil::remove_dir_if_exists(&target)?;
                    let cp = Cmd::new("cp")
                        .arg("-a")
                        .arg(cooked.join("target"))
                        .arg(&target);
                    let o = self.exec(cp, scenario, "copy")?;
                    parts.insert("copy".to_string(), o.secs);
                    self.recipe_in.insert(checkout.to_path_buf(), recipe);
                }
                let o = self.exec(self.cargo_build().dir(checkout), scenario, "build")?;
                parts.insert("build".to_string(), o.secs);
                units = count_units(&o.stderr).count();
            }
        }
        let cache_bytes = self.cache_bytes();
        let cache_own_bytes = self
            .cache_dir()
            .map(|d| dir_bytes_unique_beyond(&d, &checkout.join("target")));
        let cache_growth = match (cache_before, cache_bytes) {
            (Some(b), Some(a)) => Some(a as i64 - b as i64),
            _ => None,
        };
        Ok(Sample {
            run: self.run,
            secs: parts.values().sum(),
            parts,
            units,
            setup_units,
            target_bytes: dir_bytes(&checkout.join("target")),
            cache_bytes,
            cache_own_bytes,
            cache_growth,
            tool_summary,
            warnings,
        })
    }

    /// The cooked target for `recipe`: an earlier cook of the same recipe, or a new
    /// `cargo chef cook` in a directory holding only the recipe (then its output is returned).
    fn cook(&self, recipe: &str, scenario: Scenario) -> Result<(PathBuf, Option<Output>)> {
        let cooks = self.cooks();
        let mut n = 0;
        if let Ok(entries) = fs::read_dir(&cooks) {
            for e in entries.flatten() {
                n += 1;
                if fs::read_to_string(e.path().join("recipe.json")).is_ok_and(|r| r == recipe) {
                    return Ok((e.path(), None));
                }
            }
        }
        let dir = cooks.join(n.to_string());
        fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
        fs::write(dir.join("recipe.json"), recipe).ctx(|| format!("writing {}", dir.display()))?;
        let cmd = Cmd::cargo()
            .args([
                "chef",
                "cook",
                "--release",
                "--locked",
                "--recipe-path",
                "recipe.json",
            ])
            .dir(&dir);
        let o = self.exec(cmd, scenario, "cook")?;
        Ok((dir, Some(o)))
    }

    fn program<'p>(&self, p: &'p Option<PathBuf>) -> Result<&'p PathBuf> {
        p.as_ref()
            .ok_or_else(|| BenchError::Other(format!("{} is not installed", self.tool.title())))
    }

    /// mbx as its docs set it up for a local cache: `MBX_CACHE_DIR` is this run's cache dir,
    /// and the global config file is looked up in an empty `XDG_CONFIG_HOME`, so no
    /// `remote.url` (and no other user setting) applies; without one, mbx uses only the local
    /// store. Target views are off, so the target dir stays `<checkout>/target` as for the
    /// other tools (a fresh clone starts without one); automatic collection is off, so
    /// nothing is evicted during a run (sccache gets a 10 GiB cache for the same reason).
    /// Plain output and the one-line summary, which the harness keeps.
    fn mbx_env(&self, cmd: Cmd) -> Cmd {
        cmd.env("MBX_CACHE_DIR", self.mbx_dir())
            .env("XDG_CONFIG_HOME", self.config_home())
            .env("MBX_TARGET_VIEWS", "0")
            .env("MBX_GC_AUTO", "0")
            .env("MBX_DISPLAY", "plain")
            .env("MBX_SUMMARY", "short")
            .env("MBX_SAVINGS", "off")
    }

    /// kache as a `RUSTC_WRAPPER`, set up as its docs describe for a local-only cache.
    fn kache_env(&self, cmd: Cmd) -> Result<Cmd> {
        let p = self.program(&self.toolset.kache)?;
        let config = self.kache_config()?;
        Ok(self.kache_settings(cmd.env("RUSTC_WRAPPER", p), &config))
    }

    /// kache's config file for this run: `local_only` set, so that no remote is used, also by
    /// the daemon a build starts (which drops `KACHE_LOCAL_ONLY` from its environment).
    fn kache_config(&self) -> Result<PathBuf> {
        let dir = self.config_home();
        let path = dir.join("kache.toml");
        if !path.is_file() {
            fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
            fs::write(&path, KACHE_CONFIG).ctx(|| format!("writing {}", path.display()))?;
        }
        Ok(path)
    }

    /// `KACHE_CACHE_DIR` is this run's cache dir; `KACHE_RUNTIME_DIR` (socket, locks, event
    /// log) is beside it, so the cache dir holds the store only; `KACHE_CONFIG` is the file
    /// above and `KACHE_HOST_CONFIG` is empty (no `/etc/kache/config.toml`); `KACHE_LOCAL_ONLY`
    /// for the wrapper itself. `XDG_CACHE_HOME` is the run's dir too, so that kache's
    /// diagnostic log (kept in the default cache dir) does not land in the user's. Seeding new
    /// target dirs from other checkouts is off: a fresh clone starts with an empty target dir
    /// and cargo runs every unit through the wrapper, as with sccache and mbx. Automatic GC is
    /// off, so nothing is evicted during a run.
    fn kache_settings(&self, cmd: Cmd, config: &Path) -> Cmd {
        cmd.env("KACHE_CACHE_DIR", self.kache_dir())
            .env("KACHE_RUNTIME_DIR", self.root.join("kache-runtime"))
            .env("KACHE_CONFIG", config)
            .env("KACHE_HOST_CONFIG", "")
            .env("KACHE_LOCAL_ONLY", "1")
            .env("KACHE_SEED_NEW_TARGETS", "0")
            .env("KACHE_AUTO_GC", "0")
            .env("XDG_CACHE_HOME", self.root.join("xdg-cache"))
    }

    /// A `kache` command with this run's settings.
    fn kache_cmd(&self) -> Option<Cmd> {
        let p = self.toolset.kache.as_ref()?;
        let config = self.kache_config().ok()?;
        Some(self.kache_settings(Cmd::new(p), &config))
    }

    /// `kache daemon start` (it waits until the daemon is ready) after stopping any daemon of
    /// this run. When it fails, the build starts one itself.
    fn kache_start(&self) -> Result<()> {
        self.kache_stop();
        let cmd = self
            .kache_cmd()
            .ok_or_else(|| BenchError::Other("kache is not installed".into()))?;
        cmd.args(["daemon", "start"]).run_ok().map(|_| ())
    }

    /// Stop kache's daemon if one runs, so that only the disk cache carries over from one
    /// build to the next, as for sccache's server.
    fn kache_stop(&self) {
        if let Some(cmd) = self.kache_cmd() {
            // Fails when no daemon runs: that is fine.
            let _ = cmd.args(["daemon", "stop"]).run();
        }
    }

    /// `kache: N hits, M misses, P passthroughs` of the build just made in `checkout`, from
    /// `kache report --since <its duration> --root <checkout> --format json`. Not
    /// `--last-build`: that joins builds of the same root less than five minutes apart into
    /// one session (a noop would report the cold build's misses). The window, rounded up to
    /// whole seconds, starts when this build started; the build before it in the same root
    /// ended earlier, and a daemon restart lies between them.
    fn kache_stats(&self, checkout: &Path, took: std::time::Duration) -> Option<String> {
        let since = format!("{}s", took.as_secs_f64().ceil().max(1.0));
        let out = self
            .kache_cmd()?
            .args(["report", "--since", &since, "--format", "json", "--root"])
            .arg(checkout)
            .run()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&out.stdout).ok()?;
        let s = v.get("summary")?;
        let n = |k: &str| s.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        Some(format!(
            "kache: {} hits, {} misses, {} passthroughs",
            n("local_hits") + n("prefetch_hits") + n("remote_hits"),
            n("misses"),
            n("passthroughs")
        ))
    }

    fn sccache_env(&self, cmd: Cmd) -> Cmd {
        let cmd = match &self.toolset.sccache {
            Some(p) => cmd.env("RUSTC_WRAPPER", p),
            None => cmd,
        };
        cmd.env("SCCACHE_DIR", self.sccache_dir())
            .env("SCCACHE_CACHE_SIZE", "10G")
            .env("SCCACHE_SERVER_PORT", SCCACHE_PORT)
    }

    fn sccache_program(&self) -> Result<&PathBuf> {
        self.toolset
            .sccache
            .as_ref()
            .ok_or_else(|| BenchError::Other("sccache is not installed".into()))
    }

    /// A fresh server for each build, so that nothing but the disk cache carries over.
    fn sccache_start(&self) -> Result<()> {
        self.sccache_stop();
        let p = self.sccache_program()?;
        self.sccache_env(Cmd::new(p).arg("--start-server"))
            .run_ok()
            .map(|_| ())
    }

    fn sccache_stop(&self) {
        if let Ok(p) = self.sccache_program() {
            // Fails when no server runs: that is fine.
            let _ = self.sccache_env(Cmd::new(p).arg("--stop-server")).run();
        }
    }

    /// `sccache: N hits, M misses` from the server's stats.
    fn sccache_stats(&self) -> Option<String> {
        let p = self.sccache_program().ok()?;
        let out = self
            .sccache_env(Cmd::new(p).arg("--show-stats"))
            .run()
            .ok()?;
        let field = |name: &str| {
            out.stdout.lines().find_map(|l| {
                let rest = l.strip_prefix(name)?;
                let v = rest.trim();
                v.chars().all(|c| c.is_ascii_digit()).then(|| v.to_string())
            })
        };
        Some(format!(
            "sccache: {} hits, {} misses",
            field("Cache hits")?,
            field("Cache misses")?
        ))
    }
}
