//! The report: `README.md` (a Markdown table per workload) and `index.html` (the same tables and
//! an inline-SVG bar chart per workload), made from the results files in a directory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::model::{Outcome, ResultsFile, Scenario, Tool};
use crate::runner::first_build;

/// A cell's ratios, from medians.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratios {
    /// To native cargo's clean build of the same workload.
    pub vs_clean: Option<f64>,
    /// To the fastest other tool in the same scenario, and which tool that is.
    pub vs_best_other: Option<(f64, Tool)>,
}

pub fn ratios(r: &ResultsFile, scenario: Scenario, tool: Tool) -> Ratios {
    let Some(m) = r.cell(scenario, tool).and_then(Outcome::median) else {
        return Ratios {
            vs_clean: None,
            vs_best_other: None,
        };
    };
    let clean = r
        .cell(Scenario::Clean, Tool::Native)
        .and_then(Outcome::median)
        .filter(|c| *c > 0.0);
    let best = r
        .tools
        .iter()
        .filter(|&&t| t != tool)
        .filter_map(|&t| {
            r.cell(scenario, t)
                .and_then(Outcome::median)
                .map(|x| (x, t))
        })
        .filter(|(x, _)| *x > 0.0)
        .min_by(|a, b| a.0.total_cmp(&b.0));
    Ratios {
        vs_clean: clean.map(|c| m / c),
        vs_best_other: best.map(|(b, t)| (m / b, t)),
    }
}

/// The newest results file of each workload in `dir` (by date, then file name), in workload
/// order of first appearance in the file names' order.
pub fn load_results(dir: &Path) -> Result<Vec<ResultsFile>> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .ctx(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut newest: BTreeMap<String, ResultsFile> = BTreeMap::new();
    for p in paths {
        let r = ResultsFile::read(&p)?;
        // Sorted by name, which starts with the date: a later file replaces an earlier one.
        newest.insert(r.workload.slug.clone(), r);
    }
    Ok(newest.into_values().collect())
}

/// Write `README.md` and `index.html` into `dir` from its results files.
pub fn write_report(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let results = load_results(dir)?;
    let md = dir.join("README.md");
    let html_path = dir.join("index.html");
    fs::write(&md, markdown(&results)).ctx(|| format!("writing {}", md.display()))?;
    fs::write(&html_path, html(&results)).ctx(|| format!("writing {}", html_path.display()))?;
    Ok((md, html_path))
}

pub fn fmt_secs(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    }
}

fn fmt_ratio(x: f64) -> String {
    if x < 0.1 {
        format!("{x:.3}×")
    } else {
        format!("{x:.2}×")
    }
}

pub fn fmt_bytes(b: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let m = b as f64 / MIB;
    if m >= 1024.0 {
        format!("{:.2} GiB", m / 1024.0)
    } else if m >= 10.0 {
        format!("{m:.0} MiB")
    } else {
        format!("{m:.1} MiB")
    }
}

/// The time of a cell: `12.3 s`, cargo-chef's `cook + rest` when it cooked, `(min …)` with
/// several runs.
fn time_text(o: &Outcome) -> Option<String> {
    let Outcome::Measured {
        secs,
        parts,
        samples,
    } = o
    else {
        return None;
    };
    let mut t = match parts.get("cook") {
        Some(cook) => format!(
            "{} + {}",
            fmt_secs(cook.median).trim_end_matches(" s"),
            fmt_secs(secs.median - cook.median)
        ),
        None => fmt_secs(secs.median),
    };
    if samples.len() > 1 {
        let _ = write!(t, " (min {})", fmt_secs(secs.min));
    }
    Some(t)
}

fn units_text(tool: Tool, o: &Outcome) -> Option<String> {
    let Outcome::Measured { samples, .. } = o else {
        return None;
    };
    let s = samples.first()?;
    let mut t = format!("{} unit{}", s.units, if s.units == 1 { "" } else { "s" });
    if s.setup_units > 0 {
        let what = if tool == Tool::Chef {
            "cooked"
        } else {
            "in the skeleton"
        };
        let _ = write!(t, " + {} {what}", s.setup_units);
    }
    Some(t)
}

/// The text of one table cell.
pub fn cell_text(r: &ResultsFile, scenario: Scenario, tool: Tool) -> String {
    let Some(o) = r.cell(scenario, tool) else {
        return "—".into();
    };
    match o {
        Outcome::NotApplicable { .. } => "n/a".into(),
        Outcome::Failed { .. } => "failed".into(),
        Outcome::Measured { .. } => {
            let ra = ratios(r, scenario, tool);
            let mut parts = vec![time_text(o).unwrap_or_default()];
            if let Some(c) = ra.vs_clean {
                parts.push(format!("{} clean", fmt_ratio(c)));
            }
            if let Some((b, t)) = ra.vs_best_other {
                parts.push(format!("{} vs {}", fmt_ratio(b), t.id()));
            }
            parts.extend(units_text(tool, o));
            parts.join(" · ")
        }
    }
}

fn machine_line(r: &ResultsFile) -> String {
    let m = &r.machine;
    let rustc = m
        .rustc
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let tools: Vec<String> = m.tools.values().cloned().collect();
    format!(
        "Run of {} on {} cores, {:.1} GiB RAM{}, {}, {}; {}; strata commit {}{}.",
        r.started,
        m.cores,
        m.memory_bytes as f64 / (1u64 << 30) as f64,
        if m.cpu.is_empty() {
            String::new()
        } else {
            format!(" ({})", m.cpu)
        },
        m.os,
        rustc,
        if tools.is_empty() {
            "no tool versions".to_string()
        } else {
            tools.join(", ")
        },
        m.strata_commit.get(..12).unwrap_or(&m.strata_commit),
        if m.strata_dirty {
            " with uncommitted changes"
        } else {
            ""
        },
    )
}

fn workload_facts(r: &ResultsFile) -> String {
    let f = &r.workload.facts;
    let bump = match &r.workload.lock_bump {
        Some(b) => format!("`{}` {} → {}", b.name, b.from, b.to),
        None if r.scenarios.contains(&Scenario::LockBump) => "none found".to_string(),
        None => "not run".to_string(),
    };
    format!(
        "{} local package{}, {} lock entries. Leaf edit: `{}` (package `{}`). README edit: `{}`. \
         Lock bump: {}. {} run{} per cell: median shown{}.",
        f.members.len(),
        if f.members.len() == 1 { "" } else { "s" },
        r.workload.lock_entries,
        f.leaf_file,
        f.downstream,
        f.readme_file,
        bump,
        r.runs,
        if r.runs == 1 { "" } else { "s" },
        if r.runs > 1 {
            ", min in parentheses"
        } else {
            ""
        }
    )
}

/// Rows of the sizes table: (tool, target after the first build, cache after it, the part of
/// the cache not hard-linked with the target dir, cache growth at the lock bump).
fn sizes(r: &ResultsFile) -> Vec<(Tool, String, String, String, String)> {
    let first_sample = |s: Scenario, t: Tool| match r.cell(s, t) {
        Some(Outcome::Measured { samples, .. }) => samples.first().cloned(),
        _ => None,
    };
    r.tools
        .iter()
        .map(|&t| {
            let first = first_sample(first_build(t), t);
            let bump = first_sample(Scenario::LockBump, t);
            let target = first
                .as_ref()
                .map_or("—".into(), |s| fmt_bytes(s.target_bytes));
            let cache = first
                .as_ref()
                .and_then(|s| s.cache_bytes)
                .map_or("—".into(), fmt_bytes);
            let own = first
                .as_ref()
                .and_then(|s| s.cache_own_bytes)
                .map_or("—".into(), fmt_bytes);
            let growth = bump.and_then(|s| s.cache_growth).map_or("—".into(), |g| {
                let pct = first
                    .as_ref()
                    .and_then(|s| s.cache_bytes)
                    .filter(|c| *c > 0)
                    .map_or(String::new(), |c| {
                        format!(" ({:.1}%)", g as f64 * 100.0 / c as f64)
                    });
                format!("{}{pct}", fmt_bytes(g.max(0) as u64))
            });
            (t, target, cache, own, growth)
        })
        .collect()
}

const INTRO: &str = "Every figure here comes from a run of the benchmark harness \
(`cargo run --release -p strata-bench -- run …`; regenerate this page with `strata-bench report`). \
Ratios are measured side by side in one run on one machine: for each workload, all tools ran \
one after another in the same run of the harness, on the machine described under the workload. \
They are not comparable across machines.";

const LEGEND: &str = "Each cell: median wall time · ratio to native cargo's clean build · ratio to \
the fastest other tool in the same scenario (and which) · units cargo compiled in the build \
(`Compiling`/`Checking` lines), plus the units compiled to fill the cache (strata's skeleton builds, \
cargo-chef's cook). cargo-chef's time is `cook + the rest` (prepare, copying the cooked target \
with its mtimes, build) when it had to cook; in the charts, the lighter start of its bar is the cook. \
`n/a`: the scenario means nothing for that tool, or the tool is not installed (the notes say why).";

/// What each scenario means per tool; the same for every workload.
pub const SCENARIO_NOTES: [&str; 14] = [
    "All builds are `cargo build --release --locked` (strata: `strata build --release --locked`, \
     one cargo run whose units become its layers; mbx: `mbx build --release --locked`), each run in fresh copies of \
     the workload with an empty cache; dependencies are fetched before any timed step.",
    "clean: native cargo from scratch (the ratio base). cold: a caching tool from an empty cache, \
     filling it: cargo-chef prepares the recipe, cooks it in a directory holding only the recipe, \
     copies the cooked target in (`cp -a`, mtimes kept, as a Docker layer) and builds; sccache, \
     mbx and kache build with an empty cache dir; strata builds with an empty store, saving its \
     layers.",
    "noop: the same build again in the same checkout (the median of 5 back-to-back builds).",
    "fresh clone: a new copy at another path, new mtimes, no target dir, with the cache the first \
     build left: cargo-chef copies in the cooked layer of the same recipe and builds; sccache, \
     mbx and kache build with their warm cache dir (cargo compiles every unit, the tool answers \
     each `rustc` from its cache); strata builds with the warm store. Native: n/a.",
    "fresh clone + leaf edit: the same with the leaf edit applied before the build.",
    "leaf edit: `// strata-bench edit` appended to the entry file of the most downstream local \
     package, built in the first checkout, after noop (every tool from its warm state).",
    "README-only edit: a line appended to the README (after the leaf edit).",
    "version bump: the patch version of every local package bumped, `cargo update --workspace \
     --offline`, then built (after the README edit).",
    "lock bump: `cargo update -p NAME --precise VERSION` of a leaf dependency (a crates.io entry \
     that no other non-local lock entry depends on, with a newer compatible version), then built \
     (after the version bump). cargo-chef cooks again whenever its recipe changes.",
    "Units: for sccache, mbx and kache, cargo prints a `Compiling` line for every unit it runs, \
     whether or not the tool then answers it from its cache; their own hit and miss counts are in \
     the results JSON (`tool_summary`).",
    "Sizes: bytes of the files in the target dir and in the tool's cache dir after its first \
     build (strata: the store holding the dependency layer and the first crate layer; cargo-chef: \
     the cooked targets; sccache, mbx, kache: their cache dir), and how much that cache grew in \
     the lock bump. mbx and kache restore outputs into the target dir by hard link where they \
     can: a file linked several times inside their cache dir counts once there, and the same \
     bytes also count in the target dir.",
    "sccache runs a fresh server (its own port) for every build, so only its disk cache carries \
     over; incremental compilation is off in release builds anyway, and crates whose build \
     scripts compile C are only partly cacheable by it.",
    "mbx (`mbx build`, which runs cargo with its compiler shims): `MBX_CACHE_DIR` is the run's \
     cache dir, and `XDG_CONFIG_HOME` an empty dir, so no global `mbx/config.toml` (no \
     `remote.url`) applies and only the local store is used; `MBX_TARGET_VIEWS=0` keeps the \
     target dir in the checkout (no managed target under the cache dir, so a fresh clone starts \
     with none); `MBX_GC_AUTO=0` (nothing collected during a run); `MBX_DISPLAY=plain`, \
     `MBX_SUMMARY=short`, `MBX_SAVINGS=off`. Each mbx command starts and stops its own cache \
     agent.",
    "kache (`RUSTC_WRAPPER=kache` around plain cargo): `KACHE_CACHE_DIR` is the run's cache \
     dir and `KACHE_RUNTIME_DIR` (socket, locks, event log) a dir beside it; `KACHE_CONFIG` is \
     the run's own file with `cache.local_only = true` (the daemon a build starts reads it), \
     `KACHE_LOCAL_ONLY=1` for the wrapper, and `KACHE_HOST_CONFIG` is empty, so no remote is \
     used; `KACHE_SEED_NEW_TARGETS=0` (a fresh clone starts with an empty target dir and cargo \
     runs every unit through the wrapper, as with sccache and mbx); `KACHE_AUTO_GC=0`; \
     `XDG_CACHE_HOME` in the run's dir (kache's diagnostic log). As for sccache, every build gets \
     a fresh daemon (`kache daemon start` before the timed build, `kache daemon stop` after), \
     so only the disk cache carries over.",
];

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

pub fn markdown(results: &[ResultsFile]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# strata benchmark results\n");
    let _ = writeln!(s, "{INTRO}\n");
    let _ = writeln!(s, "{LEGEND}\n");
    if results.is_empty() {
        let _ = writeln!(s, "No results yet.\n");
    }
    for r in results {
        let _ = writeln!(s, "## {}\n", r.workload.label);
        let _ = writeln!(s, "{}\n", machine_line(r));
        let _ = writeln!(s, "{}\n", workload_facts(r));
        let _ = write!(s, "| scenario |");
        for t in &r.tools {
            let _ = write!(s, " {} |", t.title());
        }
        let _ = write!(s, "\n|---|");
        for _ in &r.tools {
            let _ = write!(s, "---|");
        }
        let _ = writeln!(s);
        for &sc in &r.scenarios {
            let _ = write!(s, "| {} |", sc.title());
            for &t in &r.tools {
                let _ = write!(s, " {} |", md_escape(&cell_text(r, sc, t)));
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "| tool | target dir after the first build | cache after the first build | of it, not hard-linked with the target dir | cache growth at the lock bump |\n|---|---|---|---|---|"
        );
        for (t, target, cache, own, growth) in sizes(r) {
            let _ = writeln!(
                s,
                "| {} | {target} | {cache} | {own} | {growth} |",
                t.title()
            );
        }
        let _ = writeln!(s);
        let notes = cell_notes(r);
        if !notes.is_empty() || !r.notes.is_empty() {
            let _ = writeln!(s, "Notes:\n");
            for n in r.notes.iter().chain(notes.iter()) {
                let _ = writeln!(s, "- {}", n.replace('\n', " "));
            }
            let _ = writeln!(s);
        }
    }
    let _ = writeln!(s, "## What the scenarios mean\n");
    for n in SCENARIO_NOTES {
        let _ = writeln!(s, "- {n}");
    }
    s
}

/// Failures, and warnings the tools printed, per cell.
fn cell_notes(r: &ResultsFile) -> Vec<String> {
    let mut out = Vec::new();
    for c in &r.cells {
        match &c.outcome {
            Outcome::Failed { error } => out.push(format!(
                "{} / {} failed: {}",
                c.scenario.id(),
                c.tool.id(),
                error.lines().next().unwrap_or_default()
            )),
            Outcome::Measured { samples, .. } => {
                let mut ws: Vec<&String> = samples.iter().flat_map(|s| &s.warnings).collect();
                ws.dedup();
                for w in ws {
                    out.push(format!("{} / {}: {w}", c.scenario.id(), c.tool.id()));
                }
            }
            Outcome::NotApplicable { .. } => {}
        }
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escape, and turn Markdown's `code` spans into `<code>`, so that the notes read the same in
/// both outputs.
fn esc_code(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn color(t: Tool) -> &'static str {
    match t {
        Tool::Native => "#7f7f7f",
        Tool::Chef => "#d9822b",
        Tool::Sccache => "#3b75c4",
        Tool::Mbx => "#8e44ad",
        Tool::Kache => "#c0392b",
        Tool::Strata => "#2e9956",
    }
}

/// A horizontal bar chart: one group per scenario, one bar per measured tool, linear in seconds.
pub fn svg_chart(r: &ResultsFile) -> String {
    const LABEL_W: f64 = 250.0;
    const BAR_W: f64 = 520.0;
    const TEXT_W: f64 = 150.0;
    const BAR_H: f64 = 14.0;
    const GAP: f64 = 3.0;
    const GROUP_GAP: f64 = 12.0;
    let max = r
        .cells
        .iter()
        .filter_map(|c| c.outcome.median())
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let mut body = String::new();
    let mut y = 24.0;
    for &sc in &r.scenarios {
        let group_top = y;
        for &t in &r.tools {
            let o = r.cell(sc, t);
            let (w, text) = match o {
                Some(o @ Outcome::Measured { .. }) => (
                    o.median().unwrap_or(0.0) / max * BAR_W,
                    time_text(o).unwrap_or_default(),
                ),
                Some(Outcome::Failed { .. }) => (0.0, "failed".into()),
                _ => (0.0, "n/a".into()),
            };
            let _ = writeln!(
                body,
                "<rect x=\"{LABEL_W}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{BAR_H}\" fill=\"{}\"><title>{} · {}: {}</title></rect>",
                w.max(if text == "n/a" || text == "failed" {
                    0.0
                } else {
                    1.0
                }),
                color(t),
                esc(sc.title()),
                esc(t.title()),
                esc(&text)
            );
            // cargo-chef's cook, drawn lighter over the start of its bar.
            if let Some(Outcome::Measured { parts, .. }) = o
                && let Some(cook) = parts.get("cook")
            {
                let _ = writeln!(
                    body,
                    "<rect x=\"{LABEL_W}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{BAR_H}\" fill=\"#ffffff\" fill-opacity=\"0.35\"/>",
                    cook.median / max * BAR_W
                );
            }
            let _ = writeln!(
                body,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"v\">{} {}</text>",
                LABEL_W + w + 4.0,
                y + BAR_H - 3.0,
                esc(t.id()),
                esc(&text)
            );
            y += BAR_H + GAP;
        }
        let mid = (group_top + y - GAP) / 2.0 + 4.0;
        let _ = writeln!(
            body,
            "<text x=\"{:.1}\" y=\"{mid:.1}\" class=\"s\" text-anchor=\"end\">{}</text>",
            LABEL_W - 8.0,
            // SVG text has no code spans: drop Markdown's backticks.
            esc(&sc.title().replace('`', ""))
        );
        y += GROUP_GAP;
    }
    let width = LABEL_W + BAR_W + TEXT_W;
    let mut legend = String::new();
    let mut x = LABEL_W;
    for &t in &r.tools {
        let _ = write!(
            legend,
            "<rect x=\"{x}\" y=\"4\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"14\" class=\"v\">{}</text>",
            color(t),
            x + 16.0,
            esc(t.title())
        );
        x += 110.0;
    }
    format!(
        "<svg width=\"{width}\" height=\"{y:.0}\" viewBox=\"0 0 {width} {y:.0}\" role=\"img\" aria-label=\"{}\">\n{legend}\n{body}</svg>",
        esc(&format!("wall time per scenario, {}", r.workload.label))
    )
}

pub fn html(results: &[ResultsFile]) -> String {
    let mut s = String::new();
    s.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <title>strata benchmark results</title>\n<style>\n\
         body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\n\
         table{border-collapse:collapse;margin:1em 0;font-size:14px}\n\
         td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\n\
         th{background:#f3f3f3}\n\
         svg text{font-family:system-ui,sans-serif;font-size:12px}\n\
         svg text.s{font-weight:600}\n\
         .meta{color:#555;font-size:14px}\n\
         </style></head><body>\n<h1>strata benchmark results</h1>\n",
    );
    let _ = writeln!(
        s,
        "<p>{}</p>\n<p class=\"meta\">{}</p>",
        esc_code(INTRO),
        esc_code(LEGEND)
    );
    if results.is_empty() {
        s.push_str("<p>No results yet.</p>\n");
    }
    for r in results {
        let _ = writeln!(s, "<section>\n<h2>{}</h2>", esc(&r.workload.label));
        let _ = writeln!(s, "<p class=\"meta\">{}</p>", esc(&machine_line(r)));
        let _ = writeln!(s, "<p class=\"meta\">{}</p>", esc_code(&workload_facts(r)));
        s.push_str(&svg_chart(r));
        s.push_str("\n<table>\n<tr><th>scenario</th>");
        for t in &r.tools {
            let _ = write!(s, "<th>{}</th>", esc(t.title()));
        }
        s.push_str("</tr>\n");
        for &sc in &r.scenarios {
            let _ = write!(s, "<tr><th>{}</th>", esc_code(sc.title()));
            for &t in &r.tools {
                let title = match r.cell(sc, t) {
                    Some(Outcome::NotApplicable { reason }) => reason.clone(),
                    Some(Outcome::Failed { error }) => error.clone(),
                    _ => String::new(),
                };
                let _ = write!(
                    s,
                    "<td title=\"{}\">{}</td>",
                    esc(&title),
                    esc(&cell_text(r, sc, t))
                );
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n<table>\n<tr><th>tool</th><th>target dir after the first build</th><th>cache after the first build</th><th>of it, not hard-linked with the target dir</th><th>cache growth at the lock bump</th></tr>\n");
        for (t, target, cache, own, growth) in sizes(r) {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{target}</td><td>{cache}</td><td>{own}</td><td>{growth}</td></tr>",
                esc(t.title())
            );
        }
        s.push_str("</table>\n");
        let notes = cell_notes(r);
        if !notes.is_empty() || !r.notes.is_empty() {
            s.push_str("<ul class=\"meta\">\n");
            for n in r.notes.iter().chain(notes.iter()) {
                let _ = writeln!(s, "<li>{}</li>", esc_code(n));
            }
            s.push_str("</ul>\n");
        }
        s.push_str("</section>\n");
    }
    s.push_str("<h2>What the scenarios mean</h2>\n<ul>\n");
    for n in SCENARIO_NOTES {
        let _ = writeln!(s, "<li>{}</li>", esc_code(n));
    }
    s.push_str("</ul>\n</body></html>\n");
    s
}
