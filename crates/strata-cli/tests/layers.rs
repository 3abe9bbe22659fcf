//! Layers cut from the real build: cargo runs once, as the user asked, and the units it used
//! become the layers; every command of a fresh clone then finds what it needs.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::machine::Machine;
use common::*;

const EXPECTED: &str = "hello v1.2.3 #7 | 42 | core readme v1 | build-script";
const MEMBERS: [&str; 3] = ["fx-app", "fx-core", "fx-util"];

/// A `cargo` for `$CARGO` that writes each command's first argument to a log, then runs cargo.
fn logging_cargo(w: &World) -> (PathBuf, PathBuf) {
    let log = w.path("cargo-calls.log");
    let script = w.path("logging-cargo");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nexec cargo \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

/// The package of every unit in the layer a ref names (from `.fingerprint/<pkg>-<hash>/` paths).
fn packages_in_layer(w: &World, cwd: &Path, name: &str) -> BTreeSet<String> {
    let r = w.strata(cwd, &["store", "show", name]).ok();
    let m: serde_json::Value = serde_json::from_str(&r.stdout).expect("manifest JSON");
    m["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| {
            let path = e["path"].as_str()?;
            let dir = path.split("/.fingerprint/").nth(1)?.split('/').next()?;
            let (pkg, _) = dir.rsplit_once('-')?;
            Some(pkg.to_string())
        })
        .collect()
}

/// The refs of the store, by name.
fn refs(w: &World, cwd: &Path) -> Vec<String> {
    let r = w.strata(cwd, &["store", "refs"]).ok();
    r.stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn only_members(r: &Run) -> bool {
    r.compiled().iter().all(|c| MEMBERS.contains(&c.as_str()))
}

#[test]
fn cold_build_runs_cargo_once_and_saves_no_dummy() {
    let w = World::new();
    let a = w.checkout("a");
    let (cargo, log) = logging_cargo(&w);
    let r = w.strata_env(&a, &["build"], &[("CARGO", &cargo)]).ok();
    assert!(!r.skeleton_built(), "{}", r.stderr);
    assert!(!r.stderr.contains("strata-skeleton-"), "{}", r.stderr);
    let calls = std::fs::read_to_string(&log).unwrap();
    let compiling: Vec<&str> = calls
        .lines()
        .filter(|c| matches!(*c, "build" | "check" | "test" | "clippy" | "rustc"))
        .collect();
    assert_eq!(compiling, ["build"], "cargo calls:\n{calls}");
    assert_eq!(run_fx(&a, "debug"), EXPECTED);

    let names = refs(&w, &a);
    let deps = names
        .iter()
        .find(|n| n.starts_with("deps/") && n.ends_with("/build"))
        .unwrap_or_else(|| panic!("no deps layer: {names:?}"));
    let crates = names
        .iter()
        .find(|n| n.starts_with("crates/") && n.ends_with("/build"))
        .unwrap_or_else(|| panic!("no crate layer: {names:?}"));
    let dep_pkgs = packages_in_layer(&w, &a, deps);
    assert_eq!(
        dep_pkgs,
        ["anyhow", "itoa", "semver"].map(String::from).into(),
        "the dependency layer holds what cargo used, no member"
    );
    let crate_pkgs = packages_in_layer(&w, &a, crates);
    assert_eq!(crate_pkgs, MEMBERS.map(String::from).into());
}

#[test]
fn build_clippy_and_test_in_a_clone_compile_no_dependency() {
    let w = World::new();
    let remote = format!("file://{}", w.path("shared").display());
    let mut a = Machine::new(&w, "a", &remote, &[]);
    let public = a.keygen("team");
    let ca = w.checkout("a");
    a.run(&ca, &["build"]).ok();
    // Check-mode dependency units are not there yet: cargo compiles them, as it would.
    a.run(&ca, &["clippy", "--all-targets"]).ok();
    let r = a.run(&ca, &["test"]).ok();
    assert!(
        r.stdout.contains("test tests::greets ... ok"),
        "{}",
        r.stdout
    );

    // Machine B: empty store fed through the remote, another path and CARGO_HOME.
    let mut b = Machine::new(&w, "b", &remote, &[]);
    b.set("STRATA_TRUSTED_KEYS", &public);
    let cb = w.checkout("elsewhere/b");
    let r = b.run(&cb, &["build"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert_eq!(run_fx(&cb, "debug"), EXPECTED);
    let r = b.run(&cb, &["clippy", "--all-targets"]).ok();
    assert!(only_members(&r), "{}", r.stderr);
    let r = b.run(&cb, &["test"]).ok();
    assert!(only_members(&r), "{}", r.stderr);
    assert!(
        r.stdout.contains("test tests::greets ... ok"),
        "{}",
        r.stdout
    );
    b.verify_store();
}

/// rustc names a build of a crate by a hash that covers the paths it was compiled from, and each
/// dependent records that hash: a layer's units put beside units built here (another path, and
/// plain cargo's own CARGO_HOME) would be refused ("found possibly newer version of crate",
/// E0460). Such a target gets none of the layer's units, and the build is right.
#[test]
fn a_layer_never_goes_in_beside_units_of_another_build() {
    let w = World::new();
    let k = w.checkout("k");
    w.strata(&k, &["build"]).ok();
    // One member and its dependency built here by plain cargo (as a killed build leaves it).
    let a = w.checkout("a");
    w.cargo(&a, &["build", "-p", "fx-util"]).ok();
    let r = w.strata(&a, &["build", "-v"]).ok();
    assert_eq!(run_fx(&a, "debug"), EXPECTED, "{}", r.stderr);
    assert!(
        r.stderr.contains("units here are other builds"),
        "{}",
        r.stderr
    );
    // A clone with nothing of its own still gets every layer.
    let b = w.checkout("b");
    let r = w.strata(&b, &["build"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
}

#[test]
fn concurrent_pushers_of_two_scopes_lose_nothing() {
    let w = World::new();
    let remote = format!("file://{}", w.path("shared").display());
    let mut builder = Machine::new(&w, "builder", &remote, &[]);
    let public = builder.keygen("team");
    let mut linter = Machine::new(&w, "linter", &remote, &[]);
    linter.env = builder
        .env
        .iter()
        .filter(|(k, _)| k == "STRATA_SIGNING_KEY")
        .cloned()
        .chain(linter.env.clone())
        .collect();
    let c1 = w.checkout("one");
    let c2 = w.checkout("two");
    // Both push at the same time, for one deps key.
    let mut p1 = builder.command(&c1, &["build"]).spawn().unwrap();
    let mut p2 = linter.command(&c2, &["clippy"]).spawn().unwrap();
    assert!(p1.wait().unwrap().success());
    assert!(p2.wait().unwrap().success());

    let shared_refs: Vec<String> = walkdir::WalkDir::new(w.path("shared/refs/deps"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        shared_refs.contains(&"build".to_string()) && shared_refs.contains(&"check".to_string()),
        "{shared_refs:?}"
    );

    let mut third = Machine::new(&w, "third", &remote, &[]);
    third.set("STRATA_TRUSTED_KEYS", &public);
    let c3 = w.checkout("three");
    let r = third.run(&c3, &["build"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    // The clippy layers restore beside the build's units. No dependency compiles; fx-app's build
    // script (no rerun-if-changed: cargo keeps its package's newest mtime by value) may run again,
    // since the two layers come from checkouts whose files had different mtimes.
    let r = third.run(&c3, &["clippy"]).ok();
    assert!(only_members(&r), "{}", r.stderr);
    assert!(r.stderr.contains("Pulled deps/"), "{}", r.stderr);
    third.verify_store();
}

#[test]
fn lock_bump_compiles_what_plain_cargo_compiles() {
    let w = World::new();
    let bump = ["update", "-p", "itoa", "--precise", "1.0.19", "--offline"];
    // Plain cargo on a warm target dir.
    let p = w.checkout("plain");
    w.cargo(&p, &["build"]).ok();
    w.cargo(&p, &bump).ok();
    let plain = w.cargo(&p, &["build"]).ok();
    assert!(plain.compiled().contains(&"itoa".to_string()));

    let a = w.checkout("a");
    w.strata(&a, &["build"]).ok();
    w.cargo(&a, &bump).ok();
    let r = w.strata(&a, &["build"]).ok();
    assert!(!r.skeleton_built(), "{}", r.stderr);
    assert_eq!(r.compiled(), plain.compiled(), "{}", r.stderr);
    assert_eq!(run_fx(&a, "debug"), EXPECTED);

    // A fresh clone of the bumped lock restores what `a` saved after its bump.
    let c = w.checkout("c");
    std::fs::copy(a.join("Cargo.lock"), c.join("Cargo.lock")).unwrap();
    let r = w.strata(&c, &["build"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert_eq!(run_fx(&c, "debug"), EXPECTED);
}

#[test]
fn a_checkout_built_by_plain_cargo_first_gives_a_complete_layer() {
    let w = World::new();
    let a = w.checkout("a");
    w.cargo(&a, &["build"]).ok();
    w.cargo(&a, &["test", "--no-run"]).ok();
    w.strata(&a, &["build"]).ok();
    let b = w.checkout("b");
    let r = w.strata(&b, &["build"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert_eq!(run_fx(&b, "debug"), EXPECTED);
}

#[test]
fn a_compile_error_in_a_member_still_saves_the_dependencies() {
    let w = World::new();
    let a = w.checkout("a");
    append(&a.join("app/src/main.rs"), "\nfn broken( {\n");
    let r = w.strata(&a, &["build"]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("error"), "{}", r.stderr);

    // After the fix, a fresh clone compiles members only.
    let b = w.checkout("b");
    let r = w.strata(&b, &["build"]).ok();
    assert!(only_members(&r), "{}", r.stderr);
    assert!(r.compiled().contains(&"fx-app".to_string()), "{}", r.stderr);
    assert_eq!(run_fx(&b, "debug"), EXPECTED);
}

#[test]
fn a_build_dir_apart_from_the_target_dir_restores_in_a_clone() {
    let w = World::new();
    let config = format!(
        "[build]\nbuild-dir = \"{}/{{workspace-path-hash}}\"\n",
        w.path("build-dirs").display()
    );
    let with_config = |name: &str| {
        let c = w.checkout(name);
        std::fs::create_dir_all(c.join(".cargo")).unwrap();
        std::fs::write(c.join(".cargo/config.toml"), &config).unwrap();
        c
    };
    let a = with_config("a");
    w.strata(&a, &["build"]).ok();
    assert!(
        !a.join("target/debug/deps").exists(),
        "units went to the build dir"
    );
    assert_eq!(run_fx(&a, "debug"), EXPECTED);

    let b = with_config("elsewhere/b");
    let r = w.strata(&b, &["build"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert_eq!(run_fx(&b, "debug"), EXPECTED);
}

#[test]
fn an_unknown_build_dir_layout_is_one_warning_and_an_uncached_build() {
    let w = World::new();
    let a = w.checkout("a");
    std::fs::create_dir_all(a.join(".cargo")).unwrap();
    std::fs::write(
        a.join(".cargo/config.toml"),
        "[unstable]\nbuild-dir-new-layout = true\n",
    )
    .unwrap();
    let bootstrap = Path::new("1");
    let r = w
        .strata_env(&a, &["build"], &[("RUSTC_BOOTSTRAP", bootstrap)])
        .ok();
    assert_eq!(
        r.stderr.matches("warning: strata").count(),
        1,
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("build-dir layout"), "{}", r.stderr);
    assert_eq!(run_fx(&a, "debug"), EXPECTED);
    assert!(refs(&w, &a).is_empty(), "nothing saved");

    // A build dir already in that layout, asked for on the command line this time.
    let b = w.checkout("b");
    let r = w
        .strata_env(
            &b,
            &["build", "-Zbuild-dir-new-layout"],
            &[("RUSTC_BOOTSTRAP", bootstrap)],
        )
        .ok();
    assert_eq!(
        r.stderr.matches("warning: strata").count(),
        1,
        "{}",
        r.stderr
    );
    assert_eq!(run_fx(&b, "debug"), EXPECTED);
    assert!(refs(&w, &b).is_empty(), "nothing saved");
}
