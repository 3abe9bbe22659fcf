//! The dev loop on the small real workspace: dev layers with incremental state, the linker probe,
//! `--write` on an existing config, `strata doctor` and `strata dev init`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// How [`exports`] passes on `strata env`'s `exec 8<home` line: [`cmd`] opens fd 8 as a shell would.
const VIEW_LINE: &str = "exec 8<";

/// A command with the World's environment (store, cargo-home link) and `extra`.
fn cmd(w: &World, program: &str, cwd: &Path, args: &[&str], extra: &[(String, String)]) -> Run {
    let mut c = match extra.iter().find(|(k, _)| k == VIEW_LINE) {
        Some((_, home)) => {
            let mut c = Command::new("sh");
            c.args(["-c", "exec 8<\"$0\" && exec \"$@\"", home, program]);
            c
        }
        None => Command::new(program),
    };
    c.args(args);
    w.prepare(&mut c, cwd);
    c.envs(
        extra
            .iter()
            .filter(|(k, _)| k != VIEW_LINE)
            .map(|(k, v)| (k, v)),
    );
    finish(c)
}

fn strata(w: &World, cwd: &Path, args: &[&str], extra: &[(String, String)]) -> Run {
    cmd(w, env!("CARGO_BIN_EXE_strata"), cwd, args, extra)
}

/// `strata env …` parsed into (name, value) pairs, as a shell's eval would set them.
fn exports(
    w: &World,
    cwd: &Path,
    args: &[&str],
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let mut a = vec!["env"];
    a.extend_from_slice(args);
    let run = strata(w, cwd, &a, extra).ok();
    run.stdout
        .lines()
        .map(|l| {
            if let Some(home) = l.strip_prefix(VIEW_LINE) {
                return (VIEW_LINE.to_string(), home.trim_matches('\'').to_string());
            }
            let (k, v) = l
                .strip_prefix("export ")
                .and_then(|l| l.split_once('='))
                .unwrap_or_else(|| panic!("not an export: {l}"));
            (k.to_string(), v.trim_matches('\'').to_string())
        })
        .collect()
}

fn incremental_dirs(checkout: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(checkout.join("target/debug/incremental"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn dev_layers_make_plain_cargo_fresh_in_a_new_clone() {
    let w = World::new();
    let a = w.checkout("a");
    let saved = strata(&w, &a, &["dev", "--save"], &[]).ok();
    assert!(saved.stderr.contains("saved"), "{}", saved.stderr);
    let refs = strata(&w, &a, &["store", "refs"], &[]).ok();
    assert!(
        refs.stdout.contains("/dev/"),
        "no dev ref:\n{}",
        refs.stdout
    );
    let saved_dirs = incremental_dirs(&a);
    assert!(!saved_dirs.is_empty());

    // A fresh clone at the same path (the old one deleted): incremental state comes back too.
    std::fs::remove_dir_all(&a).unwrap();
    let a = w.checkout("a");
    let dev = strata(&w, &a, &["dev"], &[]).ok();
    assert!(
        dev.stderr.contains(&format!(
            "restored incremental state of {} crate(s)",
            saved_dirs.len()
        )),
        "{}",
        dev.stderr
    );
    assert_eq!(incremental_dirs(&a), saved_dirs);
    let env = exports(&w, &a, &[], &[]);
    assert!(
        env.iter()
            .any(|(k, v)| k == "CARGO_INCREMENTAL" && v == "1"),
        "{env:?}"
    );
    assert!(
        env.iter()
            .any(|(k, v)| k == "CARGO_HOME" && Path::new(v) == w.link),
        "{env:?}"
    );
    // Cargo's cache of rustc's answers came with the layer: the first build asks rustc nothing.
    let mut logged = env.clone();
    logged.push(("CARGO_LOG".into(), "cargo::util::rustc=debug".into()));
    let build = cmd(&w, "cargo", &a, &["build", "-v"], &logged).ok();
    assert_eq!(build.compiled(), Vec::<String>::new(), "{}", build.stderr);
    assert!(build.stderr.contains("Fresh fx-app"), "{}", build.stderr);
    assert!(build.stderr.contains("Fresh fx-core"), "{}", build.stderr);
    assert!(
        build.stderr.contains("rustc info cache hit"),
        "{}",
        build.stderr
    );
    assert!(
        !build.stderr.contains("rustc info cache miss"),
        "{}",
        build.stderr
    );

    // A one-line edit: cargo rebuilds the edited crate and its dependents only.
    append(
        &a.join("core/src/lib.rs"),
        "\npub fn added() -> u32 { 1 }\n",
    );
    let edit = cmd(&w, "cargo", &a, &["build"], &env).ok();
    assert_eq!(edit.compiled(), ["fx-app", "fx-core"], "{}", edit.stderr);
    // The incremental state came as hardlinks to the store's linked copies; rustc replaced
    // what it changed and wrote nothing through them (verify checks each copy's mtime and
    // bytes).
    let linked: Vec<String> = linked_into_store(&w, &a.join("target"))
        .into_iter()
        .filter(|p| p.starts_with("debug/incremental/"))
        .collect();
    assert!(
        !linked.is_empty(),
        "unchanged incremental files stay linked"
    );
    let verify = strata(&w, &a, &["store", "verify"], &[]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);

    // A clone at another path: the crate layer makes it warm; rustc would ignore incremental
    // state saved elsewhere, so strata does not restore it and says so.
    let b = w.checkout("elsewhere/b");
    let dev = strata(&w, &b, &["dev"], &[]).ok();
    assert!(
        dev.stderr.contains("rustc ignores incremental state"),
        "{}",
        dev.stderr
    );
    assert!(incremental_dirs(&b).is_empty());
    let mut env_b = exports(&w, &b, &[], &[]);
    env_b.push(("CARGO_LOG".into(), "cargo::util::rustc=debug".into()));
    let build = cmd(&w, "cargo", &b, &["build", "-v"], &env_b).ok();
    assert_eq!(build.compiled(), Vec::<String>::new(), "{}", build.stderr);
    assert!(build.stderr.contains("Fresh fx-app"), "{}", build.stderr);
    assert!(
        !build.stderr.contains("rustc info cache miss"),
        "{}",
        build.stderr
    );
}

#[test]
fn strata_build_in_dev_mode_saves_a_dev_layer_and_release_does_not() {
    let w = World::new();
    let a = w.checkout("a");
    let dev_env = vec![("STRATA_DEV".to_string(), "1".to_string())];
    strata(&w, &a, &["build", "--release"], &dev_env).ok();
    let refs = strata(&w, &a, &["store", "refs"], &[]).ok();
    assert!(
        !refs.stdout.contains("/dev/"),
        "release saved a dev layer:\n{}",
        refs.stdout
    );
    // Release layers never hold incremental state.
    for line in refs.stdout.lines() {
        let name = line.split(' ').next().unwrap();
        let show = strata(&w, &a, &["store", "show", name], &[]).ok();
        assert!(
            !show.stdout.contains("/incremental/"),
            "{name} holds incremental state"
        );
    }
    strata(&w, &a, &["build"], &dev_env).ok();
    let refs = strata(&w, &a, &["store", "refs"], &[]).ok();
    let dev_ref = refs
        .stdout
        .lines()
        .find(|l| l.contains("/dev/") && l.contains("/latest "))
        .unwrap_or_else(|| panic!("no dev ref:\n{}", refs.stdout));
    let show = strata(
        &w,
        &a,
        &["store", "show", dev_ref.split(' ').next().unwrap()],
        &[],
    )
    .ok();
    assert!(
        show.stdout.contains("debug/incremental/"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("\"kind\": \"dev\""), "{}", show.stdout);
}

/// A Debian package's program this test needs (`.ci/run` installs them with apt-get).
#[track_caller]
fn require(tool: &str) {
    require_tool(tool, &format!("apt-get install {tool} (.ci/run does this)"));
}

/// A PATH with every program of the current PATH except `without` (symlinks in a temp dir).
fn path_without(w: &World, without: &[&str]) -> String {
    let dir = w.path("bin-without");
    std::fs::create_dir_all(&dir).unwrap();
    for d in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let link = dir.join(&name);
            if without.contains(&name.as_str()) || link.exists() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(e.path(), link);
        }
    }
    dir.display().to_string()
}

#[test]
fn linker_probe_picks_mold_when_present_and_falls_back_without_it() {
    require("mold");
    let w = World::new();
    let a = w.checkout("a");
    let with = strata(&w, &a, &["dev", "--linker", "mold", "--no-restore"], &[]).ok();
    assert!(with.stderr.contains("using mold"), "{}", with.stderr);
    let env = exports(&w, &a, &["--linker", "mold"], &[]);
    assert!(
        env.iter().any(
            |(k, v)| k == "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS"
                && v == "-C link-arg=-fuse-ld=mold"
        ),
        "{env:?}"
    );

    let no_mold = vec![("PATH".to_string(), path_without(&w, &["mold", "ld.mold"]))];
    let without = strata(
        &w,
        &a,
        &["dev", "--linker", "mold", "--no-restore"],
        &no_mold,
    )
    .ok();
    assert!(
        without.stderr.contains("mold does not work here"),
        "{}",
        without.stderr
    );
    assert!(without.stderr.contains("using lld"), "{}", without.stderr);
    let env = exports(&w, &a, &["--linker", "mold"], &no_mold);
    assert!(
        env.iter().any(|(_, v)| v == "-C link-arg=-fuse-ld=lld"),
        "{env:?}"
    );
    // The measured default writes no linker at all.
    let auto = exports(&w, &a, &[], &[]);
    assert!(
        !auto.iter().any(|(k, _)| k.ends_with("_RUSTFLAGS")),
        "{auto:?}"
    );
}

const USER_CONFIG: &str = r#"# the team's settings
[alias]
xt = "run --bin fx" # keep me

[build]
jobs = 2

[net]
retry = 4
"#;

#[test]
fn write_edits_an_existing_config_and_cargo_links_with_it() {
    require("mold");
    let w = World::new();
    let a = w.checkout("a");
    let path = a.join(".cargo/config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, USER_CONFIG).unwrap();
    let run = strata(
        &w,
        &a,
        &["dev", "--write", "--linker", "mold", "--no-restore"],
        &[],
    )
    .ok();
    assert!(run.stderr.contains("config.toml"), "{}", run.stderr);
    let text = std::fs::read_to_string(&path).unwrap();
    for kept in [
        "# the team's settings",
        "xt = \"run --bin fx\" # keep me",
        "jobs = 2",
        "retry = 4",
    ] {
        assert!(text.contains(kept), "lost {kept:?}:\n{text}");
    }
    assert!(text.contains("incremental = true"), "{text}");
    assert!(text.contains("link-arg=-fuse-ld=mold"), "{text}");
    // The written config is one cargo accepts, and the binary is linked by mold.
    let env = exports(&w, &a, &["--linker", "mold"], &[]);
    assert!(
        !env.iter().any(|(k, _)| k.ends_with("_RUSTFLAGS")),
        "linker twice: {env:?}"
    );
    cmd(&w, "cargo", &a, &["build"], &env).ok();
    let bin = std::fs::read(a.join("target/debug/fx")).unwrap();
    assert_eq!(strata_dev_linked_by(&bin), "mold");
    // The alias the user had still works.
    let alias = cmd(&w, "cargo", &a, &["xt"], &env).ok();
    assert!(alias.stdout.contains("hello"), "{}", alias.stdout);
}

fn strata_dev_linked_by(bytes: &[u8]) -> &'static str {
    if bytes.windows(5).any(|w| w == b"mold ") {
        "mold"
    } else {
        "other"
    }
}

#[test]
fn doctor_reports_a_broken_linker_and_a_wrapper_with_fixes() {
    let w = World::new();
    let a = w.checkout("a");
    let ok = strata(&w, &a, &["doctor"], &[]);
    assert!(ok.stdout.contains("cargo-nextest"), "{}", ok.stdout);
    assert!(ok.stdout.contains("fix: strata dev init"), "{}", ok.stdout);

    let path = a.join(".cargo/config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        "[target.x86_64-unknown-linux-gnu]\nrustflags = [\"-C\", \"link-arg=-fuse-ld=doesnotexist\"]\n",
    )
    .unwrap();
    let broken = strata(
        &w,
        &a,
        &["doctor"],
        &[("RUSTC_WRAPPER".to_string(), "sccache".to_string())],
    );
    assert_eq!(broken.code, 1, "{}\n{}", broken.stdout, broken.stderr);
    let line = broken
        .stdout
        .lines()
        .find(|l| l.starts_with("broken") && l.contains("linker"))
        .unwrap_or_else(|| panic!("no broken linker line:\n{}", broken.stdout));
    assert!(line.contains("fuse-ld=doesnotexist"), "{line}");
    assert!(line.contains("config.toml"), "{line}");
    assert!(
        broken.stdout.contains("fix: remove or fix that setting in"),
        "{}",
        broken.stdout
    );
    assert!(
        broken.stdout.contains("conflict  rustc wrapper"),
        "{}",
        broken.stdout
    );
    assert!(
        broken.stdout.contains("fix: unset RUSTC_WRAPPER"),
        "{}",
        broken.stdout
    );

    // `strata dev` does not use it silently either.
    let dev = strata(&w, &a, &["dev", "--no-restore"], &[]).ok();
    assert!(
        dev.stderr.contains("linker broken (fix: remove or fix"),
        "{}",
        dev.stderr
    );

    // A linker path that does not exist.
    std::fs::write(
        &path,
        "[target.x86_64-unknown-linux-gnu]\nlinker = \"/nonexistent/cc\"\n",
    )
    .unwrap();
    let missing = strata(&w, &a, &["doctor"], &[]);
    assert_eq!(missing.code, 1, "{}", missing.stdout);
    assert!(
        missing
            .stdout
            .lines()
            .any(|l| l.starts_with("broken") && l.contains("/nonexistent/cc")),
        "{}",
        missing.stdout
    );
}

#[test]
fn dev_init_writes_a_quick_nextest_profile_that_nextest_accepts() {
    require("cargo-nextest");
    let w = World::new();
    let a = w.checkout("a");
    let init = strata(&w, &a, &["dev", "init"], &[]).ok();
    assert!(init.stdout.contains("wrote"), "{}", init.stdout);
    let cfg: PathBuf = a.join(".config/nextest.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("[profile.quick]"), "{text}");
    let run = cmd(&w, "cargo", &a, &["nextest", "run", "-P", "quick"], &[]).ok();
    assert!(
        run.stderr.contains("2 passed") || run.stdout.contains("2 passed"),
        "{}",
        run.stderr
    );
    // An existing config is left alone.
    std::fs::write(&cfg, "[profile.default]\nretries = 1\n").unwrap();
    let again = strata(&w, &a, &["dev", "init"], &[]).ok();
    assert!(again.stdout.contains("left as is"), "{}", again.stdout);
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "[profile.default]\nretries = 1\n"
    );
}

fn git(cwd: &Path, args: &[&str]) {
    let git = require_tool("git", "apt-get install git (.ci/run does this)");
    let out = Command::new(git)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn shared_target_dir_is_one_for_all_worktrees_and_needs_git() {
    require("git");
    let w = World::new();
    let a = w.checkout("repo");
    let outside = strata(&w, &a, &["env", "--shared-target-dir"], &[]);
    assert_eq!(outside.code, 1, "{}", outside.stdout);
    assert!(
        outside.stderr.contains("needs a git repository"),
        "{}",
        outside.stderr
    );

    git(&a, &["init", "-q"]);
    git(&a, &["add", "."]);
    git(&a, &["commit", "-qm", "fixture"]);
    let wt = w.path("other-worktree");
    git(&a, &["worktree", "add", "-q", wt.to_str().unwrap()]);
    let target = |dir: &Path| {
        exports(&w, dir, &["--shared-target-dir"], &[])
            .into_iter()
            .find(|(k, _)| k == "CARGO_TARGET_DIR")
            .map(|(_, v)| PathBuf::from(v))
            .expect("CARGO_TARGET_DIR exported")
    };
    let main = target(&a);
    assert_eq!(main, a.canonicalize().unwrap().join(".git/strata-target"));
    assert_eq!(target(&wt), main);
    // Without the flag, no shared dir.
    assert!(
        !exports(&w, &a, &[], &[])
            .iter()
            .any(|(k, _)| k == "CARGO_TARGET_DIR")
    );
}

#[test]
fn dev_outside_a_cargo_project_is_a_clear_error() {
    let w = World::new();
    let empty = w.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let run = strata(&w, &empty, &["dev"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot find the workspace root"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(empty.to_str().unwrap()),
        "{}",
        run.stderr
    );
    let bad = strata(&w, &empty, &["env", "--linker", "gold"], &[]);
    assert_eq!(bad.code, 2, "a bad flag value is a usage error");
    assert!(
        bad.stderr
            .contains("--linker takes auto, mold, lld or default"),
        "{}",
        bad.stderr
    );
}

/// The doctor asks the cargo-nextest that `cargo nextest` would run, directly: the cargo home's
/// `bin` first, unless PATH names that dir; then PATH in order.
#[test]
fn doctor_finds_the_cargo_nextest_cargo_would_run() {
    let w = World::new();
    let a = w.checkout("a");
    let fake = |dir: &Path, version: &str| {
        std::fs::create_dir_all(dir).unwrap();
        let bin = dir.join("cargo-nextest");
        std::fs::write(&bin, format!("#!/bin/sh\necho cargo-nextest {version}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let home = w.path("nextest-home");
    let on_path = w.path("nextest-on-path");
    fake(&home.join("bin"), "0.0.1-home");
    fake(&on_path, "0.0.2-path");
    let path = format!(
        "{}:{}",
        on_path.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |path: &str| {
        let env = [
            ("PATH".to_string(), path.to_string()),
            ("CARGO_HOME".to_string(), home.display().to_string()),
        ];
        strata(&w, &a, &["doctor"], &env).stdout
    };
    let out = run(&path);
    assert!(out.contains("cargo-nextest 0.0.1-home"), "{out}");
    // PATH names the home's bin after the other dir: PATH order decides.
    let out = run(&format!("{path}:{}", home.join("bin").display()));
    assert!(out.contains("cargo-nextest 0.0.2-path"), "{out}");
}

/// Session dirs (`s-…`, not lock files) of each incremental crate dir.
fn sessions(checkout: &Path) -> Vec<(String, Vec<String>)> {
    incremental_dirs(checkout)
        .into_iter()
        .map(|d| {
            let mut s: Vec<String> =
                std::fs::read_dir(checkout.join("target/debug/incremental").join(&d))
                    .unwrap()
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("s-") && !n.ends_with(".lock"))
                    .collect();
            s.sort();
            (d, s)
        })
        .collect()
}

/// After an edit, rustc leaves two sessions per crate (the new one and the one it started
/// from); a dev layer keeps only the newest, and rustc starts the next session from it.
#[test]
fn dev_layers_keep_only_the_newest_incremental_session() {
    let w = World::new();
    let a = w.checkout("a");
    strata(&w, &a, &["dev", "--save"], &[]).ok();
    let env = exports(&w, &a, &[], &[]);
    append(
        &a.join("core/src/lib.rs"),
        "\npub fn first() -> u32 { 1 }\n",
    );
    cmd(&w, "cargo", &a, &["build"], &env).ok();
    let before = sessions(&a);
    assert!(
        before.iter().any(|(_, s)| s.len() == 2),
        "an edit build leaves two sessions: {before:?}"
    );
    strata(&w, &a, &["dev", "--save"], &[]).ok();
    let newest: Vec<(String, Vec<String>)> = before
        .iter()
        .map(|(d, s)| {
            (
                d.clone(),
                s.iter()
                    .max_by_key(|n| session_time(n))
                    .into_iter()
                    .cloned()
                    .collect(),
            )
        })
        .collect();

    std::fs::remove_dir_all(&a).unwrap();
    let a = w.checkout("a");
    std::fs::write(
        a.join("core/src/lib.rs"),
        std::fs::read_to_string(a.join("core/src/lib.rs")).unwrap()
            + "\npub fn first() -> u32 { 1 }\n",
    )
    .unwrap();
    strata(&w, &a, &["dev"], &[]).ok();
    assert_eq!(sessions(&a), newest);

    // The next edit build starts its session from the restored one: rustc hardlinks the
    // unchanged files of its source session into the new one.
    let restored = sessions(&a);
    append(
        &a.join("core/src/lib.rs"),
        "\npub fn second() -> u32 { 2 }\n",
    );
    let edit = cmd(&w, "cargo", &a, &["build"], &env).ok();
    assert_eq!(edit.compiled(), ["fx-app", "fx-core"], "{}", edit.stderr);
    use std::os::unix::fs::MetadataExt;
    for (crate_dir, old) in &restored {
        let dir = a.join("target/debug/incremental").join(crate_dir);
        let now = sessions(&a)
            .into_iter()
            .find(|(d, _)| d == crate_dir)
            .map(|(_, s)| s)
            .unwrap_or_default();
        let Some(new) = now.iter().find(|s| !old.contains(s)) else {
            continue; // a crate rustc did not recompile
        };
        let shared = std::fs::read_dir(dir.join(new))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.metadata().is_ok_and(|m| m.nlink() >= 3))
            .count();
        assert!(
            shared > 0,
            "{crate_dir}: {new} shares no file with the restored session"
        );
    }
}

/// `s-<base36 time>-…` → the time, to order sessions as rustc does.
fn session_time(name: &str) -> u128 {
    name.split('-')
        .nth(1)
        .and_then(|t| u128::from_str_radix(t, 36).ok())
        .unwrap_or(0)
}

fn run_fx(checkout: &Path) -> String {
    let out = Command::new(checkout.join("target/debug/fx"))
        .output()
        .expect("run fx");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn bins_and_build_scripts_come_as_links_and_mold_relinking_them_leaves_the_store_intact() {
    // mold writes its output in place when the file exists; cargo deletes a bin or build
    // script before linking it again, so restoring those as links into the store is safe.
    require("mold");
    let w = World::new();
    let a = w.checkout("a");
    strata(&w, &a, &["dev", "--linker", "mold", "--save"], &[]).ok();
    std::fs::remove_dir_all(&a).unwrap();
    let a = w.checkout("a");
    strata(&w, &a, &["dev", "--linker", "mold"], &[]).ok();
    let linked = linked_into_store(&w, &a.join("target"));
    let has = |f: &dyn Fn(&str) -> bool| linked.iter().any(|p| f(p));
    assert!(has(&|p| p == "debug/fx"), "{linked:#?}");
    assert!(has(&|p| p.starts_with("debug/deps/fx-")), "{linked:#?}");
    for pkg in ["fx-app", "anyhow"] {
        let dir = format!("debug/build/{pkg}-");
        assert!(
            has(&|p| p.starts_with(&dir) && p.ends_with("/build-script-build")),
            "{pkg}: {linked:#?}"
        );
        assert!(
            has(&|p| p.starts_with(&dir) && p.contains("/build_script_build-")),
            "{pkg}: {linked:#?}"
        );
    }
    assert!(run_fx(&a).contains("| build-script"));

    // Edit the build script and the bin: cargo runs mold on both again, at the same paths.
    let build_rs = a.join("app/build.rs");
    let text = std::fs::read_to_string(&build_rs).unwrap();
    std::fs::write(
        &build_rs,
        text.replace("=build-script", "=edited-build-script"),
    )
    .unwrap();
    append(&a.join("app/src/main.rs"), "\nfn _edited() {}\n");
    let env = exports(&w, &a, &["--linker", "mold"], &[]);
    let edit = cmd(&w, "cargo", &a, &["build"], &env).ok();
    assert_eq!(edit.compiled(), ["fx-app"], "{}", edit.stderr);
    assert_eq!(
        strata_dev_linked_by(&std::fs::read(a.join("target/debug/fx")).unwrap()),
        "mold"
    );
    assert!(run_fx(&a).contains("| edited-build-script"));
    let after = linked_into_store(&w, &a.join("target"));
    assert!(
        !after
            .iter()
            .any(|p| p == "debug/fx" || p.starts_with("debug/build/fx-app-")),
        "the relinked files are new files: {after:#?}"
    );
    // The store's copies are what they were: verify reads every linked copy, and a clone gets
    // the saved binary, fresh.
    let verify = strata(&w, &a, &["store", "verify"], &[]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    let b = w.checkout("b");
    strata(&w, &b, &["dev", "--linker", "mold"], &[]).ok();
    let env_b = exports(&w, &b, &["--linker", "mold"], &[]);
    let build = cmd(&w, "cargo", &b, &["build", "-v"], &env_b).ok();
    assert_eq!(build.compiled(), Vec::<String>::new(), "{}", build.stderr);
    let out = run_fx(&b);
    assert!(
        out.contains("| build-script") && !out.contains("edited"),
        "{out}"
    );
}

/// A program of our own named `name`, in a directory put first on `PATH` by `env`.
struct FakeTool {
    path: PathBuf,
    env: Vec<(String, String)>,
}

impl FakeTool {
    fn new(w: &World, name: &str) -> FakeTool {
        let bin = w.path("fake-bin");
        std::fs::create_dir_all(&bin).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        FakeTool {
            path: bin.join(name),
            env: vec![("PATH".to_string(), path)],
        }
    }

    /// Make it a new file (another inode, mtime and content): a shell script of `body`.
    fn write(&self, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::remove_file(&self.path);
        std::fs::write(&self.path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn dev_asks_a_tool_its_version_once_per_binary_and_doctor_always() {
    let w = World::new();
    let a = w.checkout("a");
    // A `mold` of our own ahead on PATH, which counts how often it is asked.
    let calls = w.path("mold-calls");
    let fake = FakeTool::new(&w, "mold");
    let write_fake = |version: &str| {
        fake.write(&format!(
            "echo called >> '{}'\necho 'mold {version} (fake)'\n",
            calls.display()
        ))
    };
    write_fake("9.9");
    let env = fake.env.clone();
    let asked = || {
        std::fs::read_to_string(&calls)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    strata(&w, &a, &["dev", "--save"], &env).ok();
    let first = asked();
    assert!(first >= 1, "the first dev asks mold");
    strata(&w, &a, &["dev"], &env).ok();
    strata(&w, &a, &["dev"], &env).ok();
    assert_eq!(asked(), first, "the same mold is not asked again");
    // `strata doctor` asks every time, and shows the answer.
    let doctor = strata(&w, &a, &["doctor"], &env);
    assert!(
        doctor.stdout.contains("mold 9.9 (fake)"),
        "{}",
        doctor.stdout
    );
    assert_eq!(asked(), first + 1);
    // Another mold binary (new content, size and mtime) is asked again.
    write_fake("10.0");
    strata(&w, &a, &["dev"], &env).ok();
    assert_eq!(asked(), first + 2);
    strata(&w, &a, &["dev"], &env).ok();
    assert_eq!(asked(), first + 2);
}

/// fx-core takes anyhow without its default features, and its tests take it with them: the
/// dependency layer (built for all targets) has anyhow with `std`, a plain `cargo build` needs it
/// without, so the crate layer carries that other anyhow.
fn checkout_with_a_feature_split(w: &World, name: &str) -> PathBuf {
    let dir = w.checkout(name);
    let manifest = dir.join("core/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "anyhow = \"1\"",
        "anyhow = { version = \"1\", default-features = false }",
    );
    std::fs::write(&manifest, text + "\n[dev-dependencies]\nanyhow = \"1\"\n").unwrap();
    dir
}

#[test]
fn a_later_save_keeps_the_dependency_units_the_restored_crate_layer_brought() {
    let w = World::new();
    let a = checkout_with_a_feature_split(&w, "a");
    let saved = strata(&w, &a, &["dev", "--save"], &[]).ok();
    assert!(
        saved.compiled().contains(&"anyhow".to_string()),
        "{}",
        saved.stderr
    );

    // A teammate's clone: restored, built by plain cargo (nothing to do), then saved again with
    // nothing changed. The crate layer they save must still hold the anyhow cargo needs.
    let b = checkout_with_a_feature_split(&w, "b");
    strata(&w, &b, &["dev"], &[]).ok();
    let env = exports(&w, &b, &[], &[]);
    let build = cmd(&w, "cargo", &b, &["build", "-v"], &env).ok();
    assert_eq!(build.compiled(), Vec::<String>::new(), "{}", build.stderr);
    strata(&w, &b, &["dev", "--save"], &[]).ok();
    strata(&w, &b, &["build"], &[]).ok();

    let c = checkout_with_a_feature_split(&w, "c");
    strata(&w, &c, &["dev"], &[]).ok();
    let env = exports(&w, &c, &[], &[]);
    let build = cmd(&w, "cargo", &c, &["build", "-v"], &env).ok();
    assert_eq!(build.compiled(), Vec::<String>::new(), "{}", build.stderr);
}

#[test]
fn the_toolchain_is_asked_once_until_something_that_picks_or_makes_it_changes() {
    let w = World::new();
    let a = w.checkout("a");
    // A `rustc` of our own ahead on PATH: it logs what it is asked and by whom, then runs the
    // real one.
    let real = strata_cargo::program::on_path("rustc").expect("rustc on PATH");
    let calls = w.path("rustc-calls");
    let fake = FakeTool::new(&w, "rustc");
    let write_fake = |note: &str| {
        fake.write(&format!(
            "# {note}\necho \"$* <- $(ps -o args= -p $PPID)\" >> '{}'\nexec '{}' \"$@\"\n",
            calls.display(),
            real.display()
        ))
    };
    write_fake("first");
    let env = fake.env.clone();
    let asked = || {
        std::fs::read_to_string(&calls)
            // strata's own questions (cargo asks rustc too, for its metadata).
            .map(|s| {
                s.lines()
                    .filter(|l| l.starts_with("-vV <-") && l.contains("strata"))
                    .count()
            })
            .unwrap_or(0)
    };
    strata(&w, &a, &["dev"], &env).ok();
    assert_eq!(
        asked(),
        1,
        "the first run asks rustc: {}",
        std::fs::read_to_string(&calls).unwrap_or_default()
    );
    strata(&w, &a, &["dev"], &env).ok();
    strata(&w, &a, &["dev"], &env).ok();
    assert_eq!(asked(), 1, "later runs in an unchanged setup do not");

    // Another rustc on PATH (a new file): asked again, once.
    write_fake("second");
    strata(&w, &a, &["dev"], &env).ok();
    strata(&w, &a, &["dev"], &env).ok();
    assert_eq!(asked(), 2);

    // A toolchain file in the project (rustup picks the toolchain by it): asked again, once.
    std::fs::write(
        a.join("rust-toolchain.toml"),
        "[toolchain]\nchannel = \"stable\"\n",
    )
    .unwrap();
    strata(&w, &a, &["dev"], &env).ok();
    strata(&w, &a, &["dev"], &env).ok();
    assert_eq!(asked(), 3);

    // RUSTUP_TOOLCHAIN picks another toolchain for every proxy: asked again.
    let mut pinned = env.clone();
    pinned.push(("RUSTUP_TOOLCHAIN".into(), "stable".into()));
    strata(&w, &a, &["dev"], &pinned).ok();
    assert_eq!(asked(), 4);
}

/// CI builds with `strata build`; a developer's fresh clone starts the dev loop (incremental)
/// from CI's layers: cargo compiles no dependency, only the members (their incremental state is
/// their own).
#[test]
fn the_dev_loop_starts_from_the_dependency_layer_a_plain_build_saved() {
    let w = World::new();
    let a = w.checkout("ci");
    strata(&w, &a, &["build"], &[]).ok();
    let b = w.checkout("elsewhere/dev");
    strata(&w, &b, &["dev"], &[]).ok();
    let env = exports(&w, &b, &[], &[]);
    assert!(
        env.iter()
            .any(|(k, v)| k == "CARGO_INCREMENTAL" && v == "1"),
        "{env:?}"
    );
    let build = cmd(&w, "cargo", &b, &["build"], &env).ok();
    assert_eq!(
        build.compiled(),
        ["fx-app", "fx-core", "fx-util"],
        "only the members compile: {}",
        build.stderr
    );
    // And the other way round: the dependency units of a dev-mode build serve a plain one.
    let w2 = World::new();
    let d = w2.checkout("dev-first");
    let dev = strata(
        &w2,
        &d,
        &["build"],
        &[("CARGO_INCREMENTAL".into(), "1".into())],
    )
    .ok();
    assert!(
        dev.compiled().contains(&"semver".to_string()),
        "{}",
        dev.stderr
    );
    let plain = w2.checkout("elsewhere/plain");
    let plain = strata(&w2, &plain, &["build"], &[]).ok();
    assert_eq!(
        plain.compiled(),
        ["fx-app", "fx-core", "fx-util"],
        "a plain build after a dev-mode build compiles no dependency: {}",
        plain.stderr
    );
}

#[test]
#[should_panic(
    expected = "`strata-no-such-tool` is not installed and this test needs it; install it with: apt-get install strata-no-such-tool (.ci/run does this)"
)]
fn a_missing_tool_fails_the_test_naming_it_and_how_to_install_it() {
    require("strata-no-such-tool");
}
