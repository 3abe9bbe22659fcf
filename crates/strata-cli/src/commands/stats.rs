//! `strata stats`: totals and per-project figures from the store's run records (hit rate,
//! restored, fresh and compiled units, time saved), as text, JSON or a Markdown table for CI
//! step summaries.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use strata_build::record::{self, RunRecord, approx};

use super::open_store;
use crate::{Cli, CliError};

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Print JSON (totals, per project, and the runs)
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print a Markdown table of the runs and their totals (for `$GITHUB_STEP_SUMMARY`)
    #[arg(long)]
    pub markdown: bool,
    /// Only runs that ended at or after TIME: unix seconds, or an age such as 30m, 24h, 7d
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
}

/// Sums over some runs.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
pub struct Totals {
    pub runs: usize,
    pub restored_units: usize,
    pub restored_bytes: u64,
    /// Restored units cargo found fresh.
    pub restored_fresh: usize,
    pub fresh_units: usize,
    pub compiled_units: usize,
    /// restored_fresh ÷ (restored_fresh + compiled_units), over runs with cargo's messages;
    /// `None` when no run could have used the cache.
    pub hit_rate: Option<f64>,
    pub saved_ms: u64,
    pub cargo_ms: u64,
    pub wall_ms: u64,
}

impl Totals {
    pub fn of<'a>(runs: impl IntoIterator<Item = &'a RunRecord>) -> Totals {
        let mut t = Totals::default();
        let mut cacheable = 0;
        for r in runs {
            t.runs += 1;
            t.restored_units += r.restored_units;
            t.restored_bytes += r.restored_bytes;
            t.restored_fresh += r.restored_fresh.unwrap_or(0);
            t.fresh_units += r.fresh_units.unwrap_or(0);
            t.compiled_units += r.compiled_units.unwrap_or(0);
            cacheable += r.cacheable_units().unwrap_or(0);
            t.saved_ms += r.saved_ms;
            t.cargo_ms += r.cargo_ms;
            t.wall_ms += r.wall_ms;
        }
        let hits: usize = t.restored_fresh;
        t.hit_rate = (cacheable > 0).then(|| hits as f64 / cacheable as f64);
        t
    }
}

#[derive(Serialize, Debug)]
pub struct ProjectStats {
    pub project: String,
    pub name: String,
    #[serde(flatten)]
    pub totals: Totals,
}

/// Per project (by id), named after its newest run, the most run first.
pub fn per_project(runs: &[RunRecord]) -> Vec<ProjectStats> {
    let mut by: BTreeMap<&str, Vec<&RunRecord>> = BTreeMap::new();
    for r in runs {
        by.entry(&r.project).or_default().push(r);
    }
    let mut out: Vec<ProjectStats> = by
        .into_iter()
        .map(|(id, rs)| ProjectStats {
            project: id.to_string(),
            name: rs.last().map(|r| r.name.clone()).unwrap_or_default(),
            totals: Totals::of(rs.iter().copied()),
        })
        .collect();
    out.sort_by(|a, b| b.totals.runs.cmp(&a.totals.runs).then(a.name.cmp(&b.name)));
    out
}

/// `--since`: unix seconds, or an age (`90s`, `30m`, `24h`, `7d`) before `now`.
pub fn parse_since(s: &str, now: u64) -> Result<u64, CliError> {
    let bad = || {
        CliError::usage(format!("--since: `{s}` is neither unix seconds nor an age"))
            .help("use unix seconds (date +%s) or an age such as 30m, 24h, 7d")
    };
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(secs);
    }
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    Ok(now.saturating_sub(n.saturating_mul(mult)))
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The store's records since `since`; a record file strata cannot read is a store error, and
/// unreadable lines are one warning.
pub fn load(cli: &Cli, since: Option<u64>) -> Result<Vec<RunRecord>, CliError> {
    let store = open_store(cli)?;
    let path = record::dir(store.root());
    let (runs, bad) = record::read(store.root()).map_err(|e| {
        CliError::store(format!("cannot read the run records: {e}"))
            .help(format!("remove {} to start afresh", path.display()))
    })?;
    if bad > 0 {
        eprintln!(
            "warning: strata: {bad} line(s) of {} could not be read and were skipped",
            path.join("runs.jsonl").display()
        );
    }
    Ok(runs
        .into_iter()
        .filter(|r| since.is_none_or(|t| r.at >= t))
        .collect())
}

pub fn run(cli: &Cli, a: &StatsArgs) -> Result<ExitCode, CliError> {
    let since = a
        .since
        .as_deref()
        .map(|s| parse_since(s, now_secs()))
        .transpose()?;
    let runs = load(cli, since)?;
    let totals = Totals::of(&runs);
    if a.json {
        let out = serde_json::json!({
            "since": since,
            "totals": totals,
            "projects": per_project(&runs),
            "runs": runs,
        });
        let text = serde_json::to_string_pretty(&out)
            .map_err(|e| CliError::failed(format!("cannot write JSON: {e}")))?;
        println!("{text}");
    } else if a.markdown {
        print!("{}", markdown(&runs, &totals));
    } else {
        print!("{}", text(&runs, &totals));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn percent(rate: Option<f64>) -> String {
    rate.map_or("–".to_string(), |r| format!("{:.0}%", r * 100.0))
}

fn units(n: Option<usize>) -> String {
    n.map_or("?".to_string(), |n| n.to_string())
}

fn text(runs: &[RunRecord], t: &Totals) -> String {
    if runs.is_empty() {
        return "no runs recorded (strata records each cached cargo command in its store)\n"
            .to_string();
    }
    let mut s = String::new();
    s.push_str(&format!("runs:        {}\n", t.runs));
    s.push_str(&format!(
        "hit rate:    {} ({} restored units fresh, {} compiled)\n",
        percent(t.hit_rate),
        t.restored_fresh,
        t.compiled_units
    ));
    s.push_str(&format!(
        "time saved:  {} (estimated from the cargo time of the runs that built the restored units)\n",
        approx(t.saved_ms)
    ));
    s.push_str(&format!("cargo time:  {}\n", approx(t.cargo_ms)));
    s.push_str(&format!(
        "restored:    {} units ({})\n",
        t.restored_units,
        strata_build::human_bytes(t.restored_bytes)
    ));
    s.push_str("\nproject                  runs  hit rate  restored  compiled  saved\n");
    for p in per_project(runs) {
        s.push_str(&format!(
            "{:<24} {:>4}  {:>8}  {:>8}  {:>8}  {}\n",
            p.name,
            p.totals.runs,
            percent(p.totals.hit_rate),
            p.totals.restored_units,
            p.totals.compiled_units,
            approx(p.totals.saved_ms)
        ));
    }
    s
}

/// One row per run and a total row; `|` in a command is escaped for the table.
fn markdown(runs: &[RunRecord], t: &Totals) -> String {
    let mut s = String::from("### strata cache\n\n");
    if runs.is_empty() {
        s.push_str("No cached cargo runs recorded in this window.\n");
        return s;
    }
    s.push_str(&format!(
        "{} run{}, hit rate {}, {} of cargo time saved (estimate).\n\n",
        t.runs,
        if t.runs == 1 { "" } else { "s" },
        percent(t.hit_rate),
        approx(t.saved_ms)
    ));
    s.push_str("| command | project | restored units | fresh / compiled units | time saved |\n");
    s.push_str("|---|---|---:|---:|---:|\n");
    for r in runs {
        s.push_str(&format!(
            "| `cargo {}` | {} | {} | {} / {} | {} |\n",
            r.command.replace('|', "\\|"),
            r.name.replace('|', "\\|"),
            r.restored_units,
            units(r.fresh_units),
            units(r.compiled_units),
            approx(r.saved_ms)
        ));
    }
    s.push_str(&format!(
        "| **total** | | {} | {} / {} | {} |\n",
        t.restored_units,
        t.fresh_units,
        t.compiled_units,
        approx(t.saved_ms)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_unix_seconds_or_an_age() {
        assert_eq!(parse_since("1700000000", 5).unwrap(), 1_700_000_000);
        assert_eq!(parse_since("2h", 10_000).unwrap(), 10_000 - 7200);
        assert_eq!(parse_since("7d", 1_000_000).unwrap(), 1_000_000 - 604_800);
        assert!(parse_since("yesterday", 0).is_err());
        assert!(parse_since("5w", 0).is_err());
    }

    #[test]
    fn hit_rate_counts_units_the_cache_could_provide() {
        let r = |fresh, compiled| RunRecord {
            restored_fresh: Some(fresh),
            compiled_units: Some(compiled),
            fresh_units: Some(fresh),
            ..RunRecord::default()
        };
        // A noop in a warm target dir (nothing restored, nothing compiled) does not count.
        let t = Totals::of(&[r(9, 1), r(0, 0), r(0, 10)]);
        assert_eq!(t.hit_rate, Some(9.0 / 20.0));
        assert_eq!(Totals::of(&[r(0, 0)]).hit_rate, None);
    }
}
