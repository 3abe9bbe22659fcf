//! `strata-bench run|report|install-tools`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use strata_bench::model::{Scenario, Tool};
use strata_bench::runner::{self, Options};
use strata_bench::workload::{self, DEFAULT_SET, WorkloadSpec};
use strata_bench::{machine, report, tools};

/// The strata repository this binary was built from: results and work dirs default to it.
fn repo() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.join("../..")
        .canonicalize()
        .unwrap_or_else(|_| here.join("../.."))
}

#[derive(Parser)]
#[command(
    name = "strata-bench",
    about = "Benchmark strata against native cargo, cargo-chef, sccache, mbx and kache"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios × workloads × tools, write `<out>/<date>-<workload>.json` and the report.
    Run {
        /// `ripgrep-workspace`, `NAME@VERSION` (crates.io), a project dir with a Cargo.lock or a
        /// .tar.gz of one; `#FILE` names the leaf-edit file. Default: the shared default set.
        #[arg(long = "workload", value_name = "W")]
        workloads: Vec<String>,
        /// Default: all.
        #[arg(long = "tool", value_enum)]
        tools: Vec<Tool>,
        /// Default: all.
        #[arg(long = "scenario", value_enum)]
        scenarios: Vec<Scenario>,
        /// Runs per scenario. Default: 1 when the first from-scratch build takes over 30 s, else 3.
        #[arg(long)]
        runs: Option<usize>,
        /// Results dir. Default: bench/results in the strata repo.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Work dir for checkouts, caches and downloads. Default: bench/work in the strata repo.
        #[arg(long)]
        work: Option<PathBuf>,
        /// The strata binary. Default: target/release/strata (built if missing).
        #[arg(long)]
        strata: Option<PathBuf>,
        /// The lock bump to use instead of choosing one, as NAME@VERSION.
        #[arg(long, value_name = "NAME@VERSION")]
        lock_bump: Option<String>,
        /// Keep checkouts and caches under the work dir after each tool's run.
        #[arg(long)]
        keep_work: bool,
    },
    /// Prepare workloads and print what the scenarios would edit and bump; builds nothing.
    Plan {
        #[arg(long = "workload", value_name = "W")]
        workloads: Vec<String>,
        #[arg(long)]
        work: Option<PathBuf>,
        #[arg(long, value_name = "NAME@VERSION")]
        lock_bump: Option<String>,
    },
    /// Regenerate README.md and index.html from the results files in `--out`.
    Report {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Install cargo-chef, sccache, mbx and kache with `cargo install` if missing.
    InstallTools,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let repo = repo();
    match cli.command {
        Command::Run {
            workloads,
            tools,
            scenarios,
            runs,
            out,
            work,
            strata,
            lock_bump,
            keep_work,
        } => {
            let tools = if tools.is_empty() {
                Tool::ALL.to_vec()
            } else {
                dedup(tools)
            };
            let scenarios = if scenarios.is_empty() {
                Scenario::ALL.to_vec()
            } else {
                dedup(scenarios)
            };
            if runs == Some(0) {
                bail!("--runs must be at least 1");
            }
            let specs = specs(&repo, workloads)?;
            let toolset = tools::toolset(&repo, &tools, strata.as_deref())?;
            let machine = machine::collect(&repo, toolset.versions.clone());
            let opts = Options {
                work: absolute(work.unwrap_or_else(|| repo.join("bench/work")))?,
                out: absolute(out.unwrap_or_else(|| repo.join("bench/results")))?,
                repo,
                tools,
                scenarios,
                runs,
                lock_bump: parse_lock_bump(lock_bump)?,
                keep_work,
            };
            let mut failed = Vec::new();
            for spec in &specs {
                match runner::run_workload(&opts, &toolset, &machine, spec) {
                    Ok(path) => eprintln!("[{}] results: {}", spec.label, path.display()),
                    Err(e) => {
                        eprintln!("[{}] error: {e}", spec.label);
                        failed.push(spec.label.clone());
                    }
                }
            }
            let (md, html) = report::write_report(&opts.out)?;
            eprintln!("report: {} and {}", md.display(), html.display());
            if !failed.is_empty() {
                bail!("workloads that could not run: {}", failed.join(", "));
            }
        }
        Command::Plan {
            workloads,
            work,
            lock_bump,
        } => {
            let specs = specs(&repo, workloads)?;
            let opts = Options {
                work: absolute(work.unwrap_or_else(|| repo.join("bench/work")))?,
                out: repo.join("bench/results"),
                repo,
                tools: Vec::new(),
                scenarios: Scenario::ALL.to_vec(),
                runs: None,
                lock_bump: parse_lock_bump(lock_bump)?,
                keep_work: false,
            };
            for spec in &specs {
                let plan = runner::plan(&opts, spec)?;
                for n in plan.notes {
                    eprintln!("[{}] note: {n}", spec.label);
                }
            }
        }
        Command::Report { out } => {
            let out = out.unwrap_or_else(|| repo.join("bench/results"));
            let (md, html) = report::write_report(&out)?;
            eprintln!("report: {} and {}", md.display(), html.display());
        }
        Command::InstallTools => {
            let installed =
                tools::install_tools(&[Tool::Chef, Tool::Sccache, Tool::Mbx, Tool::Kache]);
            for (name, v) in &installed.versions {
                println!("{name}: {v}");
            }
            if !installed.missing.is_empty() {
                for reason in installed.missing.values() {
                    eprintln!("{reason}");
                }
                let names: Vec<&str> = installed.missing.keys().map(|t| t.id()).collect();
                bail!("not installed: {}", names.join(", "));
            }
        }
    }
    Ok(())
}

/// The workloads asked for, or the default set.
fn specs(repo: &Path, workloads: Vec<String>) -> anyhow::Result<Vec<WorkloadSpec>> {
    let wdir = workload::workloads_dir(repo);
    let names: Vec<String> = if workloads.is_empty() {
        DEFAULT_SET.iter().map(|s| s.to_string()).collect()
    } else {
        workloads
    };
    Ok(names
        .iter()
        .map(|w| WorkloadSpec::parse(w, &wdir))
        .collect::<Result<Vec<_>, _>>()?)
}

fn parse_lock_bump(arg: Option<String>) -> anyhow::Result<Option<(String, String)>> {
    let Some(s) = arg else {
        return Ok(None);
    };
    let (n, v) = s
        .split_once('@')
        .context("--lock-bump expects NAME@VERSION")?;
    Ok(Some((n.to_string(), v.to_string())))
}

fn dedup<T: Ord + Copy>(mut v: Vec<T>) -> Vec<T> {
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|x| seen.insert(*x));
    v
}

/// Paths given relative to the current dir, made absolute: the harness runs commands in other dirs.
fn absolute(p: PathBuf) -> anyhow::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p)
    } else {
        Ok(std::env::current_dir()
            .context("reading the current dir")?
            .join(p))
    }
}
