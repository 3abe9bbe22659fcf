//! Run records, `strata stats` and `strata report` on real builds of the fixture workspace: a
//! cold build, a fresh clone at another path, and an edit; the report page opened in headless
//! Chromium.

mod common;
#[path = "common/serve.rs"]
mod serve;

use std::path::Path;
use std::process::Command;

use common::World;
use strata_build::record::{self, RunRecord};

fn records(w: &World) -> Vec<RunRecord> {
    let (runs, bad) = record::read(&w.store).expect("records");
    assert_eq!(bad, 0, "unreadable record lines");
    runs
}

#[test]
fn records_stats_and_the_report_page_on_real_builds() {
    let w = World::new();
    let home = w.path("home");
    std::fs::create_dir_all(&home).unwrap();
    // No remote from the machine's own configuration.
    let env = [
        ("HOME", home.as_path()),
        ("XDG_CONFIG_HOME", home.as_path()),
    ];

    // Cold: everything compiled, nothing restored, nothing claimed.
    let cold_dir = w.checkout("fixture-cold");
    w.strata_env(&cold_dir, &["build"], &env).ok();
    let runs = records(&w);
    assert_eq!(runs.len(), 1);
    let cold = &runs[0];
    assert_eq!(cold.name, "fixture-cold");
    assert_eq!(cold.command, "build");
    assert_eq!(cold.restored_units, 0);
    assert_eq!(cold.saved_ms, 0);
    assert!(cold.compiled_units.unwrap() >= 4, "{cold:?}");
    assert_eq!(cold.fresh_units, Some(0));
    assert!(
        cold.cargo_ms > 0 && cold.cargo_ms <= cold.wall_ms,
        "{cold:?}"
    );
    assert_eq!(cold.why, ["no previous build of this project in the store"]);

    // A fresh clone at another path: units restored, cargo finds them fresh, time saved is
    // claimed and bounded by what the cold run's cargo took.
    let clone_dir = w.checkout("fixture-clone");
    let clone_run = w.strata_env(&clone_dir, &["build"], &env).ok();
    let runs = records(&w);
    assert_eq!(runs.len(), 2);
    let clone = &runs[1];
    assert_eq!(clone.project, cold.project);
    assert!(clone.restored_units > 0, "{clone:?}");
    assert_eq!(clone.compiled_units, Some(0), "{clone:?}");
    assert_eq!(clone.restored_fresh, clone.fresh_units);
    assert_eq!(clone.restored_fresh, cold.compiled_units);
    assert!(
        clone.saved_ms > 0 && clone.saved_ms <= cold.cargo_ms,
        "saved {} ms, the cold run's cargo took {} ms",
        clone.saved_ms,
        cold.cargo_ms
    );
    let summary = clone_run
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("Strata restored"))
        .expect("summary line");
    assert!(
        summary.contains(&format!("; {} saved)", record::approx(clone.saved_ms))),
        "{summary}"
    );

    // An edit: cargo compiles what changed, and the record keeps why.
    common::append(&clone_dir.join("core/src/lib.rs"), "\n// edited\n");
    w.strata_env(&clone_dir, &["build"], &env).ok();
    let runs = records(&w);
    assert_eq!(runs.len(), 3);
    let edit = &runs[2];
    assert!(edit.compiled_units.unwrap() > 0, "{edit:?}");
    assert!(
        edit.why
            .iter()
            .any(|l| l.contains("core/src/lib.rs (modified)")),
        "{edit:?}"
    );

    // `strata stats --json`: totals over the records.
    let json = w.strata_env(&clone_dir, &["stats", "--json"], &env).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    let t = &v["totals"];
    assert_eq!(t["runs"], 3);
    assert_eq!(t["saved_ms"], clone.saved_ms);
    assert_eq!(t["restored_units"], clone.restored_units);
    let compiled: usize = runs.iter().map(|r| r.compiled_units.unwrap()).sum();
    assert_eq!(t["compiled_units"], compiled);
    let hits = clone.restored_fresh.unwrap();
    let rate = hits as f64 / (hits + compiled) as f64;
    assert!((t["hit_rate"].as_f64().unwrap() - rate).abs() < 1e-9, "{t}");
    let projects = v["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 1, "clones of one project are one project");
    assert_eq!(projects[0]["name"], "fixture-clone");
    assert_eq!(projects[0]["runs"], 3);

    // `--markdown --since`: the window's runs only, and their total.
    let since = clone.at.to_string();
    let md = w
        .strata_env(
            &clone_dir,
            &["stats", "--since", &since, "--markdown"],
            &env,
        )
        .ok();
    let rows: Vec<&str> = md
        .stdout
        .lines()
        .filter(|l| l.starts_with("| `cargo"))
        .collect();
    // Records carry whole seconds: the cold run may have ended in the clone's second too.
    let in_window = records(&w).iter().filter(|r| r.at >= clone.at).count();
    assert!((2..=3).contains(&in_window));
    assert_eq!(rows.len(), in_window, "{}", md.stdout);
    assert!(
        md.stdout.contains(
            "| command | project | restored units | fresh / compiled units | time saved |"
        ),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout
            .contains(&format!("| **total** | | {} | ", clone.restored_units)),
        "{}",
        md.stdout
    );
    let bad = w.strata_env(&clone_dir, &["stats", "--since", "soon"], &env);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--since: `soon`"), "{}", bad.stderr);

    // The report page, rendered by a real browser.
    let page = w.path("report.html");
    w.strata_env(&clone_dir, &["report", "-o", page.to_str().unwrap()], &env)
        .ok();
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: no script, stylesheet, image or font from anywhere.
    for fetch in ["<script", "<link", "src=", "@import", "url("] {
        assert!(!html.contains(fetch), "the page has {fetch}");
    }
    let dom = chromium(&page, &w.path("report.png"), &w.path("chromium-profile"));
    // Both charts, one bar per run.
    for id in ["chart-hit-rate", "chart-saved"] {
        let start = dom.find(&format!("<svg id=\"{id}\"")).unwrap_or_else(|| {
            panic!("no chart {id} in the rendered page:\n{dom}");
        });
        let svg = &dom[start..start + dom[start..].find("</svg>").unwrap()];
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 3, "{svg}");
    }
    let expected_rate = format!("{:.0}%", rate * 100.0);
    assert!(
        dom.contains(&format!("<b id=\"hit-rate\">{expected_rate}</b>")),
        "hit rate {expected_rate} not shown:\n{dom}"
    );
    assert!(
        dom.contains(&format!(
            "<b id=\"time-saved\">{}</b>",
            record::approx(clone.saved_ms)
        )),
        "{dom}"
    );
    // The biggest miss is the cold build (it compiled every unit), then the edit, with `why`.
    let misses = &dom[dom.find("<ol id=\"misses\">").expect("misses")..];
    let first = misses.find("class=\"miss-project\">").expect("a miss");
    assert!(
        misses[first..].starts_with("class=\"miss-project\">fixture-cold<"),
        "{misses}"
    );
    assert!(
        misses.contains("no previous build of this project in the store"),
        "{misses}"
    );
    assert!(misses.contains("core/src/lib.rs (modified)"), "{misses}");
    assert!(dom.contains("id=\"store-size\""), "{dom}");
    assert!(dom.contains("No remote cache configured."), "{dom}");

    // With a directory remote, its size is on the page.
    let remote = w.path("remote");
    std::fs::create_dir_all(remote.join("blobs")).unwrap();
    std::fs::write(remote.join("blobs/x"), vec![0u8; 3000]).unwrap();
    std::fs::write(remote.join("y"), vec![0u8; 1000]).unwrap();
    w.strata_env(
        &clone_dir,
        &["report", "-o", page.to_str().unwrap()],
        &[env[0], env[1], ("STRATA_REMOTE", remote.as_path())],
    )
    .ok();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<span class=\"remote-size\">2 files, 3.9 KiB</span>"),
        "{html}"
    );

    // A remote that is not a directory (here `strata serve`, with the push token): its size
    // comes from its listing, as `strata remote gc` sees it.
    let served = w.path("served");
    let blob = format!("blobs/00/{}.zst", "0".repeat(64));
    std::fs::create_dir_all(served.join("blobs/00")).unwrap();
    std::fs::write(served.join(&blob), vec![0u8; 3000]).unwrap();
    let server = serve::Serve::start(&served);
    let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
    c.args(["report", "-o", page.to_str().unwrap()]);
    w.prepare(&mut c, &clone_dir);
    c.env(env[0].0, env[0].1)
        .env(env[1].0, env[1].1)
        .env("STRATA_REMOTE", &server.url)
        .env("STRATA_REMOTE_TOKEN", serve::PUSH_TOKEN);
    common::finish(c).ok();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<span class=\"remote-size\">1 objects, 2.9 KiB</span>"),
        "{html}"
    );

    // Several remotes: each line has its own remote's size, and one that does not answer
    // says so on its own line only.
    let served2 = w.path("served2");
    std::fs::create_dir_all(served2.join("blobs/00")).unwrap();
    for i in 0..2 {
        let name = format!("blobs/00/{}{i}.zst", "0".repeat(63));
        std::fs::write(served2.join(name), vec![0u8; 1024]).unwrap();
    }
    let server2 = serve::Serve::start(&served2);
    let down = "http://127.0.0.1:9/";
    let all = format!("{} {} {down} {}", remote.display(), server.url, server2.url);
    let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
    c.args(["report", "-o", page.to_str().unwrap()]);
    w.prepare(&mut c, &clone_dir);
    c.env(env[0].0, env[0].1)
        .env(env[1].0, env[1].1)
        .env("STRATA_REMOTE", &all)
        .env("STRATA_REMOTE_TOKEN", serve::PUSH_TOKEN);
    common::finish(c).ok();
    let html = std::fs::read_to_string(&page).unwrap();
    let lines: Vec<&str> = html
        .split("<li><code>")
        .skip(1)
        .map(|l| l.split("</li>").next().unwrap_or(l))
        .collect();
    assert_eq!(lines.len(), 4, "{html}");
    assert!(lines[0].contains("2 files, 3.9 KiB"), "{}", lines[0]);
    assert!(lines[1].contains("1 objects, 2.9 KiB"), "{}", lines[1]);
    assert!(lines[2].contains("cannot list it: "), "{}", lines[2]);
    assert!(lines[3].contains("2 objects, 2.0 KiB"), "{}", lines[3]);

    // A store that is a Nix build's output records nothing.
    let nix_top = w.path("nix-build-top");
    std::fs::create_dir_all(&nix_top).unwrap();
    w.strata_env(
        &clone_dir,
        &["build"],
        &[env[0], env[1], ("NIX_BUILD_TOP", nix_top.as_path())],
    )
    .ok();
    assert_eq!(records(&w).len(), 3);
}

/// Open `page` in headless Chromium: take a screenshot (checked to be a real PNG) and return the
/// DOM as rendered.
fn chromium(page: &Path, png: &Path, profile: &Path) -> String {
    let bin = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed: the report test renders the page in headless \
                 Chromium (.ci/run installs the Debian package `chromium` with apt-get)"
            )
        });
    let url = format!("file://{}", page.display());
    let common = |c: &mut Command| {
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--window-size=1200,1800",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .env("HOME", profile);
    };
    let mut shot = Command::new(bin);
    common(&mut shot);
    let out = shot
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(png).expect("the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "a near-empty screenshot: {} bytes",
        bytes.len()
    );
    let mut dump = Command::new(bin);
    common(&mut dump);
    let out = dump
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
