//! `strata report -o FILE`: one self-contained HTML page (inline CSS and SVG, nothing fetched)
//! from the store's run records: hit rate and time saved over recent runs, per project, the
//! biggest misses with what `strata why` said when they ran (recorded by the run itself, so the
//! page needs no checkout), and the sizes of the store and the remotes.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use strata_build::human_bytes;
use strata_build::record::{RunRecord, approx};

use super::open_store;
use super::stats::{Totals, load, per_project, percent};
use crate::{Cli, CliError};

/// Runs shown in the charts (the newest).
const CHART_RUNS: usize = 60;
/// Misses listed.
const MISSES: usize = 5;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The HTML file to write
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

pub fn run(cli: &Cli, a: &ReportArgs) -> Result<ExitCode, CliError> {
    let runs = load(cli, None)?;
    let store = open_store(cli)?;
    let store_html = store_section(&store);
    let remote_html = remote_section();
    let page = page(&runs, &store_html, &remote_html, super::stats::now_secs());
    // Written whole, then renamed: a reader never sees half a page.
    strata_fs::write_atomic(&a.output, page).map_err(|e| CliError::failed(e.to_string()))?;
    eprintln!(
        "{:>12} wrote {} ({} runs)",
        "Strata",
        a.output.display(),
        runs.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `2026-12-06 07:12 UTC` from unix seconds (days to civil date: Howard Hinnant's algorithm).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

fn store_section(store: &strata_store::Store) -> String {
    match store.stats() {
        Ok(s) => format!(
            "<table><tr><th>store</th><td><code>{}</code></td></tr>\
             <tr><th>blobs</th><td id=\"store-blobs\">{} ({} on disk)</td></tr>\
             <tr><th>manifests (layers)</th><td>{} ({} on disk)</td></tr>\
             <tr><th>linked copies</th><td>{} ({} on disk, {} linked into a target dir)</td></tr>\
             <tr><th>total</th><td id=\"store-size\">{} (blobs and manifests) + {} of linked copies</td></tr></table>",
            esc(&store.root().display().to_string()),
            s.blobs,
            human_bytes(s.blob_bytes),
            s.manifests,
            human_bytes(s.manifest_bytes),
            s.linked_files,
            human_bytes(s.linked_bytes),
            s.linked_in_use,
            human_bytes(s.total_bytes()),
            human_bytes(s.linked_bytes),
        ),
        Err(e) => format!(
            "<p class=\"warn\">cannot read the store: {}</p>",
            esc(&e.to_string())
        ),
    }
}

/// The remotes as configured, with the size of each: a directory remote is walked, the others
/// are listed as `strata remote gc` lists them (a remote that cannot be listed says why).
fn remote_section() -> String {
    match strata_remote::Config::load() {
        Err(e) => format!(
            "<p class=\"warn\" id=\"remote\">cannot read the remote configuration: {}</p>",
            esc(&e.to_string())
        ),
        Ok(cfg) if cfg.remotes.is_empty() => {
            "<p id=\"remote\">No remote cache configured.</p>".to_string()
        }
        Ok(cfg) => {
            let listed = listed_usage(&cfg);
            let mut s = String::from("<ul id=\"remote\">");
            for (r, usage) in cfg.remotes.iter().zip(listed) {
                let size = match (&r.spec.backend, usage) {
                    (strata_remote::Backend::Fs { dir }, _) => match dir_size(dir) {
                        Ok((files, bytes)) => format!(
                            "<span class=\"remote-size\">{files} files, {}</span>",
                            human_bytes(bytes)
                        ),
                        Err(e) => format!(
                            "<span class=\"warn\">cannot list {}: {}</span>",
                            esc(&dir.display().to_string()),
                            esc(&e.to_string())
                        ),
                    },
                    (_, Some(Ok(u))) => format!(
                        "<span class=\"remote-size\">{} objects, {}</span>",
                        u.objects,
                        human_bytes(u.bytes)
                    ),
                    (_, Some(Err(e))) => {
                        format!("<span class=\"warn\">cannot list it: {}</span>", esc(&e))
                    }
                    (_, None) => "<span class=\"warn\">cannot list it: no remote</span>".into(),
                };
                let _ = write!(
                    s,
                    "<li><code>{}</code>: {size}</li>",
                    esc(&r.spec.to_string())
                );
            }
            s.push_str("</ul>");
            s
        }
    }
}

/// What each configured remote that is not a directory holds, from its listing (S3, Redis,
/// WebDAV, and `strata serve` with the push token), as `strata remote gc` sees it; `None` for
/// directories (walked instead). One entry per remote, in order.
fn listed_usage(cfg: &strata_remote::Config) -> Vec<Option<Result<strata_remote::Usage, String>>> {
    let listed = |e: &strata_remote::RemoteEntry| {
        !matches!(e.spec.backend, strata_remote::Backend::Fs { .. })
    };
    if !cfg.remotes.iter().any(listed) {
        return cfg.remotes.iter().map(|_| None).collect();
    }
    match strata_remote::Remotes::new(cfg) {
        // All remotes opened once, on one I/O runtime, and each asked in turn.
        Ok(rs) => rs
            .remotes()
            .iter()
            .zip(&cfg.remotes)
            .map(|(r, e)| listed(e).then(|| rs.usage_of(r).map_err(|e| e.to_string())))
            .collect(),
        // One remote that cannot be set up fails the whole set: each is opened alone, so that
        // only the line of the remote at fault says so and the others are still listed.
        Err(_) => cfg
            .remotes
            .iter()
            .map(|e| listed(e).then(|| usage_alone(cfg, e)))
            .collect(),
    }
}

fn usage_alone(
    cfg: &strata_remote::Config,
    r: &strata_remote::RemoteEntry,
) -> Result<strata_remote::Usage, String> {
    let one = strata_remote::Config {
        remotes: vec![r.clone()],
        ..cfg.clone()
    };
    let rs = strata_remote::Remotes::new(&one).map_err(|e| e.to_string())?;
    rs.remotes()
        .first()
        .map(|r| rs.usage_of(r).map_err(|e| e.to_string()))
        .unwrap_or_else(|| Err("no remote".to_string()))
}

/// Files and bytes under `dir` (symlinks are not followed).
fn dir_size(dir: &std::path::Path) -> std::io::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let t = e.file_type()?;
            if t.is_dir() {
                todo.push(e.path());
            } else if t.is_file() {
                files += 1;
                bytes += e.metadata()?.len();
            }
        }
    }
    Ok((files, bytes))
}

/// A bar chart: one bar per value (0..=max), a hover title per bar.
fn bar_chart(
    id: &str,
    label: &str,
    bars: &[(f64, String)],
    max: f64,
    top: &str,
    color: &str,
) -> String {
    const W: f64 = 720.0;
    const H: f64 = 160.0;
    let n = bars.len().max(1) as f64;
    let step = W / n;
    let mut s = format!(
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {W} {}\" width=\"{W}\" height=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <line x1=\"0\" y1=\"{H}\" x2=\"{W}\" y2=\"{H}\" stroke=\"#999\"/>\
         <line x1=\"0\" y1=\"4\" x2=\"{W}\" y2=\"4\" stroke=\"#ddd\" stroke-dasharray=\"4 4\"/>\
         <text x=\"2\" y=\"16\" font-size=\"11\" fill=\"#666\">{}</text>",
        esc(label),
        H + 2.0,
        H + 2.0,
        esc(top)
    );
    for (i, (v, title)) in bars.iter().enumerate() {
        let h = if max > 0.0 {
            (v / max).clamp(0.0, 1.0) * (H - 4.0)
        } else {
            0.0
        };
        let _ = write!(
            s,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{}</title></rect>",
            i as f64 * step + step * 0.1,
            H - h,
            step * 0.8,
            h.max(0.5),
            esc(title)
        );
    }
    s.push_str("</svg>");
    s
}

pub fn page(runs: &[RunRecord], store_html: &str, remote_html: &str, now: u64) -> String {
    let totals = Totals::of(runs);
    let recent: Vec<&RunRecord> = runs.iter().rev().take(CHART_RUNS).rev().collect();
    let mut h = String::new();
    h.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>strata report</title><style>\
         body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}\
         h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}\
         .figures{display:flex;gap:2em;flex-wrap:wrap}.figure{padding:.6em 1em;background:#f4f6f8;border-radius:6px}\
         .figure b{display:block;font-size:1.8em}table{border-collapse:collapse}\
         td,th{padding:.2em .8em;text-align:left;border-bottom:1px solid #eee}td.n{text-align:right}\
         pre{background:#f7f7f7;padding:.5em;overflow:auto}.warn{color:#a40}.note{color:#666;font-size:.9em}\
         </style></head><body>\n",
    );
    let _ = writeln!(
        h,
        "<h1>strata report</h1><p class=\"note\">Generated {} from the store's records of the last {} cached cargo runs.</p>",
        utc(now),
        runs.len()
    );
    let _ = writeln!(
        h,
        "<div class=\"figures\">\
         <div class=\"figure\">runs<b id=\"runs\">{}</b></div>\
         <div class=\"figure\">hit rate<b id=\"hit-rate\">{}</b></div>\
         <div class=\"figure\">time saved (estimate)<b id=\"time-saved\">{}</b></div>\
         <div class=\"figure\">cargo time<b id=\"cargo-time\">{}</b></div></div>",
        totals.runs,
        percent(totals.hit_rate),
        approx(totals.saved_ms),
        approx(totals.cargo_ms)
    );
    h.push_str(
        "<p class=\"note\">Hit rate: restored units cargo found fresh, out of those plus the units \
         cargo compiled. Time saved: for each restored unit cargo found fresh, the cargo time of \
         the run that built it divided by the units that run compiled. cargo reports no per-unit \
         durations, so this is an estimate, never more than those runs took.</p>\n",
    );

    h.push_str("<h2>Recent runs</h2>\n");
    if recent.is_empty() {
        h.push_str("<p id=\"no-runs\">No runs recorded yet.</p>\n");
    } else {
        let hit: Vec<(f64, String)> = recent
            .iter()
            .map(|r| {
                let rate = r
                    .cacheable_units()
                    .and_then(|n| Some(r.restored_fresh? as f64 / n as f64));
                (
                    rate.unwrap_or(0.0) * 100.0,
                    format!(
                        "{} cargo {}: hit rate {}",
                        utc(r.at),
                        r.command,
                        percent(rate)
                    ),
                )
            })
            .collect();
        h.push_str("<h3>Hit rate per run (%)</h3>\n");
        h.push_str(&bar_chart(
            "chart-hit-rate",
            "hit rate per run",
            &hit,
            100.0,
            "100%",
            "#3a7",
        ));
        let saved: Vec<(f64, String)> = recent
            .iter()
            .map(|r| {
                (
                    r.saved_ms as f64,
                    format!(
                        "{} cargo {}: {} saved, cargo took {}",
                        utc(r.at),
                        r.command,
                        approx(r.saved_ms),
                        approx(r.cargo_ms)
                    ),
                )
            })
            .collect();
        let max = saved.iter().map(|(v, _)| *v).fold(0.0, f64::max);
        let _ = writeln!(
            h,
            "<h3>Time saved per run (estimate; tallest bar {})</h3>",
            approx(max as u64)
        );
        h.push_str(&bar_chart(
            "chart-saved",
            "time saved per run",
            &saved,
            max,
            &approx(max as u64),
            "#37a",
        ));
        h.push_str("\n<table id=\"runs-table\"><tr><th>ended</th><th>project</th><th>command</th><th>restored</th><th>fresh</th><th>compiled</th><th>saved</th><th>cargo</th></tr>");
        for r in recent.iter().rev().take(20) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td><code>cargo {}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                utc(r.at),
                esc(&r.name),
                esc(&r.command),
                r.restored_units,
                r.fresh_units.map_or("?".into(), |n| n.to_string()),
                r.compiled_units.map_or("?".into(), |n| n.to_string()),
                approx(r.saved_ms),
                approx(r.cargo_ms)
            );
        }
        h.push_str("</table>\n");
    }

    h.push_str("<h2>Projects</h2>\n<table id=\"projects\"><tr><th>project</th><th>runs</th><th>hit rate</th><th>restored units</th><th>compiled units</th><th>time saved</th></tr>");
    for p in per_project(runs) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&p.name),
            p.totals.runs,
            percent(p.totals.hit_rate),
            p.totals.restored_units,
            p.totals.compiled_units,
            approx(p.totals.saved_ms)
        );
    }
    h.push_str("</table>\n");

    h.push_str("<h2>Biggest misses</h2>\n<p class=\"note\">The runs in which cargo compiled the most units, with what <code>strata why</code> said during that run (key parts and files changed since the project's previous build).</p>\n");
    let mut misses: Vec<&RunRecord> = runs
        .iter()
        .filter(|r| r.compiled_units.unwrap_or(0) > 0)
        .collect();
    misses.sort_by(|a, b| {
        b.compiled_units
            .cmp(&a.compiled_units)
            .then(b.cargo_ms.cmp(&a.cargo_ms))
            .then(b.at.cmp(&a.at))
    });
    if misses.is_empty() {
        h.push_str("<p>No run compiled anything.</p>\n");
    }
    h.push_str("<ol id=\"misses\">");
    for r in misses.iter().take(MISSES) {
        let why = if r.why.is_empty() {
            "(not recorded)".to_string()
        } else {
            r.why.join("\n")
        };
        let _ = write!(
            h,
            "<li class=\"miss\"><b class=\"miss-project\">{}</b> <code>cargo {}</code>, {}: {} units compiled in {} \
             <span class=\"note\">({})</span><pre class=\"why\">$ strata why\n{}</pre></li>",
            esc(&r.name),
            esc(&r.command),
            utc(r.at),
            r.compiled_units.unwrap_or(0),
            approx(r.cargo_ms),
            esc(&r.root),
            esc(&why)
        );
    }
    h.push_str("</ol>\n");

    h.push_str("<h2>Store</h2>\n");
    h.push_str(store_html);
    h.push_str("\n<h2>Remote caches</h2>\n");
    h.push_str(remote_html);
    h.push_str("\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_796_540_400), "2026-12-06 07:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn names_and_commands_are_escaped() {
        let r = RunRecord {
            name: "<script>".into(),
            command: "build --features a&b".into(),
            compiled_units: Some(3),
            why: vec!["changed: <sources>".into()],
            ..RunRecord::default()
        };
        let p = page(&[r], "", "", 0);
        assert!(!p.contains("<script>"));
        assert!(p.contains("&lt;script&gt;"));
        assert!(p.contains("a&amp;b"));
        assert!(p.contains("changed: &lt;sources&gt;"));
    }
}
