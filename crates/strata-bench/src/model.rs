//! Tools, scenarios and the results file (`bench/results/<date>-<workload>.json`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{BenchError, IoContext, Result};
use crate::lockbump::LockBump;
use crate::project::ProjectFacts;

/// Bumped when the results format changes incompatibly.
pub const FORMAT: u32 = 1;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    Native,
    Chef,
    Sccache,
    /// mr boxington (`mbx build`, wrapping cargo).
    Mbx,
    /// kache (`RUSTC_WRAPPER=kache`).
    Kache,
    Strata,
}

impl Tool {
    pub const ALL: [Tool; 6] = [
        Tool::Native,
        Tool::Chef,
        Tool::Sccache,
        Tool::Mbx,
        Tool::Kache,
        Tool::Strata,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Tool::Native => "native",
            Tool::Chef => "chef",
            Tool::Sccache => "sccache",
            Tool::Mbx => "mbx",
            Tool::Kache => "kache",
            Tool::Strata => "strata",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Tool::Native => "native cargo",
            Tool::Chef => "cargo-chef",
            Tool::Sccache => "sccache",
            Tool::Mbx => "mbx",
            Tool::Kache => "kache",
            Tool::Strata => "strata",
        }
    }

    /// A per-compilation cache behind cargo (a rustc wrapper): cargo still runs every unit it
    /// finds stale, and the tool answers each `rustc` from its cache.
    pub fn wraps_rustc(self) -> bool {
        matches!(self, Tool::Sccache | Tool::Mbx | Tool::Kache)
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    Clean,
    Cold,
    Noop,
    LeafEdit,
    FreshClone,
    FreshCloneEdit,
    ReadmeEdit,
    VersionBump,
    LockBump,
}

impl Scenario {
    /// In report order.
    pub const ALL: [Scenario; 9] = [
        Scenario::Clean,
        Scenario::Cold,
        Scenario::Noop,
        Scenario::LeafEdit,
        Scenario::FreshClone,
        Scenario::FreshCloneEdit,
        Scenario::ReadmeEdit,
        Scenario::VersionBump,
        Scenario::LockBump,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Scenario::Clean => "clean",
            Scenario::Cold => "cold",
            Scenario::Noop => "noop",
            Scenario::LeafEdit => "leaf-edit",
            Scenario::FreshClone => "fresh-clone",
            Scenario::FreshCloneEdit => "fresh-clone-edit",
            Scenario::ReadmeEdit => "readme-edit",
            Scenario::VersionBump => "version-bump",
            Scenario::LockBump => "lock-bump",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Scenario::Clean => "clean (from scratch)",
            Scenario::Cold => "cold (empty cache, filling it)",
            Scenario::Noop => "noop",
            Scenario::LeafEdit => "leaf edit",
            Scenario::FreshClone => "fresh clone elsewhere, warm cache",
            Scenario::FreshCloneEdit => "fresh clone elsewhere + leaf edit",
            Scenario::ReadmeEdit => "README-only edit",
            Scenario::VersionBump => "version bump of every member",
            Scenario::LockBump => "`cargo update -p` of a leaf dep",
        }
    }
}

/// One timed build of one scenario by one tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub run: usize,
    /// Wall time of the scenario: the sum of `parts`.
    pub secs: f64,
    /// Timed parts (`build`; cargo-chef: `prepare`, `cook`, `copy`, `build`).
    pub parts: BTreeMap<String, f64>,
    /// Units the build compiled (cargo's `Compiling`/`Checking` lines).
    pub units: usize,
    /// Units compiled to fill a cache before the build: strata's skeleton builds, cargo-chef's
    /// cook.
    #[serde(default)]
    pub setup_units: usize,
    pub target_bytes: u64,
    /// The tool's cache after the step (strata store, sccache dir, cooked targets).
    #[serde(default)]
    pub cache_bytes: Option<u64>,
    /// The part of `cache_bytes` not shared with the checkout's target dir: files hard-linked
    /// between the two (strata's linked copies, a peer's hard-linked entries) count as the target
    /// dir's. The disk the cache adds beyond the build itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_own_bytes: Option<u64>,
    /// Cache growth during this step.
    #[serde(default)]
    pub cache_growth: Option<i64>,
    /// A tool's own summary (strata's `Strata restored …` line, sccache's hits and misses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_summary: Option<String>,
    /// Warnings the tool printed (strata's `warning: strata:` lines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Min and median of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub min: f64,
    pub median: f64,
}

impl Stat {
    pub fn of(values: &[f64]) -> Option<Stat> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Stat { min: v[0], median })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    Measured {
        /// Of `samples[].secs`.
        secs: Stat,
        /// Of each part.
        parts: BTreeMap<String, Stat>,
        samples: Vec<Sample>,
    },
    /// The scenario means nothing for this tool.
    NotApplicable {
        reason: String,
    },
    Failed {
        error: String,
    },
}

impl Outcome {
    pub fn measured(samples: Vec<Sample>) -> Outcome {
        let secs: Vec<f64> = samples.iter().map(|s| s.secs).collect();
        let Some(stat) = Stat::of(&secs) else {
            return Outcome::Failed {
                error: "no samples".into(),
            };
        };
        let mut names: Vec<&String> = samples.iter().flat_map(|s| s.parts.keys()).collect();
        names.sort();
        names.dedup();
        let parts = names
            .into_iter()
            .filter_map(|n| {
                let v: Vec<f64> = samples
                    .iter()
                    .filter_map(|s| s.parts.get(n))
                    .copied()
                    .collect();
                Stat::of(&v).map(|st| (n.clone(), st))
            })
            .collect();
        Outcome::Measured {
            secs: stat,
            parts,
            samples,
        }
    }

    pub fn median(&self) -> Option<f64> {
        match self {
            Outcome::Measured { secs, .. } => Some(secs.median),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub scenario: Scenario,
    pub tool: Tool,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Facts about the machine and the tools, recorded with every results file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_bytes: u64,
    pub cpu: String,
    pub os: String,
    pub rustc: String,
    pub cargo: String,
    /// Tool name → version line.
    pub tools: BTreeMap<String, String>,
    pub strata_commit: String,
    /// Whether tracked files of the strata repo differed from that commit.
    pub strata_dirty: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadInfo {
    /// As given on the command line (`ripgrep@14.1.1`, `ripgrep-workspace`, a path).
    pub label: String,
    pub slug: String,
    pub source: crate::workload::Source,
    pub facts: ProjectFacts,
    pub lock_entries: usize,
    pub lock_bump: Option<LockBump>,
    /// Whether the harness appended an empty `[workspace]` to the root manifest.
    #[serde(default)]
    pub workspace_added: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    pub format: u32,
    /// `YYYY-MM-DD` (UTC) of the run.
    pub date: String,
    /// `YYYY-MM-DDTHH:MM:SSZ` when the run started.
    pub started: String,
    pub workload: WorkloadInfo,
    pub machine: Machine,
    /// Runs per scenario that were asked for or chosen.
    pub runs: usize,
    pub tools: Vec<Tool>,
    pub scenarios: Vec<Scenario>,
    pub cells: Vec<Cell>,
    #[serde(default)]
    pub notes: Vec<String>,
}

impl ResultsFile {
    pub fn cell(&self, scenario: Scenario, tool: Tool) -> Option<&Outcome> {
        self.cells
            .iter()
            .find(|c| c.scenario == scenario && c.tool == tool)
            .map(|c| &c.outcome)
    }

    pub fn read(path: &Path) -> Result<ResultsFile> {
        let text = std::fs::read_to_string(path).ctx(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).map_err(|source| BenchError::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|source| BenchError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::write(path, text + "\n").ctx(|| format!("writing {}", path.display()))
    }
}
