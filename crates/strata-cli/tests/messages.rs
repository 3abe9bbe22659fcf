//! What a user reads, pinned: help, the errors met most, the build summary, `why` and
//! `store stats`, as insta snapshots (tests/snapshots/). Paths, sizes and times are replaced by
//! placeholders so the snapshots hold on any machine; `cargo insta review` updates them.

mod common;

use common::World;

/// `text` with this world's temp dir, byte sizes and durations replaced by placeholders.
fn scrub(w: &World, text: &str) -> String {
    let tmp = w.dir.path().to_string_lossy().into_owned();
    let mut out = String::new();
    for line in text.replace(&tmp, "[TMP]").lines() {
        // Cargo's own status lines carry times and vary with the toolchain: only strata's are
        // pinned here.
        let t = line.trim_start();
        // Cargo also says when another process holds its package cache.
        if t.starts_with("Compiling ")
            || t.starts_with("Finished ")
            || t.starts_with("Checking ")
            || t.starts_with("Blocking waiting for file lock")
        {
            continue;
        }
        out.push_str(&scrub_numbers(line));
        out.push('\n');
    }
    out
}

/// Sizes (`12.3 MiB`, `0 B`) and durations (`1.23s`) become `[SIZE]` and `[TIME]`.
fn scrub_numbers(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let num = w.trim_start_matches('(');
        let is_num = !num.is_empty() && num.chars().all(|c| c.is_ascii_digit() || c == '.');
        let next = words
            .get(i + 1)
            .map(|n| n.trim_end_matches([',', ')', ';']));
        if is_num && matches!(next, Some("B" | "KiB" | "MiB" | "GiB")) {
            let open = if w.starts_with('(') { "(" } else { "" };
            let rest = &words[i + 1][next.map_or(0, str::len)..];
            out.push(format!("{open}[SIZE]{rest}"));
            i += 2;
            continue;
        }
        // Estimates (`~1m32s`, `~17s`, `~0.0s`) vary with the machine.
        if let Some(est) = w.strip_prefix('~') {
            let end = est
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                .unwrap_or(est.len());
            out.push(format!("[EST]{}", &est[end..]));
            i += 1;
            continue;
        }
        let secs = w.trim_end_matches([',', ')', ';']);
        if let Some(n) = secs.strip_suffix('s')
            && !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit() || c == '.')
            && n.contains('.')
        {
            out.push(format!("[TIME]{}", &w[secs.len()..]));
            i += 1;
            continue;
        }
        out.push(w.to_string());
        i += 1;
    }
    out.join(" ")
}

#[test]
fn help() {
    let w = World::new();
    let top = w.strata(w.dir.path(), &["--help"]).ok();
    insta::assert_snapshot!("help", top.stdout);
    let build = w.strata(w.dir.path(), &["build", "--help"]).ok();
    insta::assert_snapshot!("help_build", build.stdout);
    let store = w.strata(w.dir.path(), &["store", "--help"]).ok();
    insta::assert_snapshot!("help_store", store.stdout);
}

#[test]
fn errors_say_what_and_what_to_do_with_their_exit_codes() {
    let w = World::new();
    let cwd = w.dir.path();
    let mut all = String::new();
    for args in [
        &["store", "gc", "--max-size", "lots"][..],
        &["store", "show", "projects/nope"],
        &["build", "--deps-for", "some"],
        &["env", "--linker", "gold"],
        &["why"],
    ] {
        let r = w.strata(cwd, args);
        all.push_str(&format!(
            "$ strata {}\nexit {}\n{}\n",
            args.join(" "),
            r.code,
            scrub(&w, &r.stderr)
        ));
    }
    insta::assert_snapshot!("errors", all);
}

#[test]
fn key_public_without_a_key_is_a_configuration_error() {
    let w = World::new();
    let home = w.path("home");
    let r = w.strata_env(
        w.dir.path(),
        &["key", "public"],
        &[("HOME", &home), ("XDG_CONFIG_HOME", &home.join("config"))],
    );
    insta::assert_snapshot!(format!("exit {}\n{}", r.code, scrub(&w, &r.stderr)));
}

#[test]
fn summary_why_and_store_stats() {
    let w = World::new();
    let a = w.checkout("a");
    let cold = w.strata(&a, &["build"]).ok();
    let b = w.checkout("b");
    let warm = w.strata(&b, &["build"]).ok();
    common::append(&a.join("util/Cargo.toml"), "\n[features]\nextra = []\n");
    let why = w.strata(&a, &["why"]).ok();
    let stats = w.strata(&a, &["store", "stats"]).ok();
    let runs = w.strata(&a, &["stats"]).ok();
    let markdown = w.strata(&a, &["stats", "--markdown"]).ok();
    insta::assert_snapshot!(
        "summary_why_stats",
        format!(
            "$ strata build (cold)\n{}\n$ strata build (fresh clone)\n{}\n$ strata why (after a manifest edit)\n{}\n$ strata store stats\n{}\n$ strata stats\n{}\n$ strata stats --markdown\n{}",
            scrub(&w, &cold.stderr),
            scrub(&w, &warm.stderr),
            scrub(&w, &why.stdout),
            scrub(&w, &stats.stdout),
            scrub(&w, &runs.stdout),
            scrub(&w, &markdown.stdout)
        )
    );
}

#[test]
fn scrubbing_keeps_words_and_replaces_sizes_and_times() {
    assert_eq!(
        scrub_numbers(
            "restored 2 layers (45 units, 178.3 MiB), saved 0 layers (0 B, 0 B new) in 0.55s"
        ),
        "restored 2 layers (45 units, [SIZE]), saved 0 layers ([SIZE], [SIZE] new) in [TIME]"
    );
    assert_eq!(
        scrub_numbers("(10 units, 25.3 MiB; ~17s saved), | ~1m32s | ~0.0s |"),
        "(10 units, [SIZE]; [EST] saved), | [EST] | [EST] |"
    );
}
