//! Package layers, the strata side of the Nix library's per-crate derivations: each package's
//! units built once in a tree where the packages it does not depend on are dummies, saved alone
//! (`--save-package NAME --package-out DIR`), and restored in place, read-only, from several such
//! stores (`--package-store DIR`) by the builds of its dependents and by the final build.

mod common;

use std::path::{Path, PathBuf};

use common::{World, append};

/// A checkout where `dummies` (member dirs) have dummy sources, as the per-crate derivation of a
/// package that does not depend on them sees them: manifests stay real, so features resolve as
/// in the full build.
fn tree(w: &World, name: &str, dummies: &[&str]) -> PathBuf {
    let dir = w.checkout(name);
    for d in dummies {
        match *d {
            "app" => {
                std::fs::write(dir.join("app/src/main.rs"), "fn main() {}\n").unwrap();
                std::fs::write(dir.join("app/build.rs"), "fn main() {}\n").unwrap();
            }
            other => std::fs::write(dir.join(other).join("src/lib.rs"), "").unwrap(),
        }
    }
    dir
}

/// A read-only copy of a package store, as a Nix store path is.
fn read_only(dir: &Path) {
    for e in walkdir::WalkDir::new(dir) {
        let e = e.unwrap();
        let mut p = e.metadata().unwrap().permissions();
        p.set_readonly(true);
        std::fs::set_permissions(e.path(), p).unwrap();
    }
}

fn package_build(w: &World, cwd: &Path, name: &str, out: &Path, from: &[&Path]) -> common::Run {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "build",
        "--no-save",
        "--save-package",
        name,
        "--package-out",
        out,
    ];
    for f in from {
        args.push("--package-store");
        args.push(f.to_str().unwrap());
    }
    w.strata(cwd, &args).ok()
}

#[test]
fn package_layers_build_each_package_once_and_the_final_build_compiles_nothing() {
    let w = World::new();
    // The dependency layer alone, as buildDepsOnly makes it.
    let ci = w.checkout("ci");
    w.strata(&ci, &["deps"]).ok();

    // fx-util's units carry mtimes an hour ahead (a clock skew; Nix's shifted mtimes): the
    // sources of the packages built on top of them must still end up older than their units.
    let t_util = tree(&w, "t-util", &["app", "core"]);
    let r = w.strata(&t_util, &["build", "--no-save"]).ok();
    assert_eq!(
        r.compiled(),
        ["fx-app", "fx-core", "fx-util"],
        "{}",
        r.stderr
    );
    let ahead =
        filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() + 3600, 0);
    for e in walkdir::WalkDir::new(t_util.join("target")) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            filetime::set_file_mtime(e.path(), ahead).unwrap();
        }
    }
    let util_out = w.path("out/util");
    let r = package_build(&w, &t_util, "fx-util", &util_out, &[]);
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    read_only(&util_out);

    let core_out = w.path("out/core");
    let t_core = tree(&w, "t-core", &["app"]);
    let r = package_build(&w, &t_core, "fx-core", &core_out, &[&util_out]);
    assert_eq!(
        r.compiled(),
        ["fx-app", "fx-core"],
        "fx-util comes from its package layer: {}",
        r.stderr
    );
    // The package compiled here keeps its sources' mtimes: pushed past the restored units (an
    // hour ahead), they would be newer than its own units, which would then be stale wherever
    // its layer is restored.
    let core_src = std::fs::metadata(t_core.join("core/src/lib.rs")).unwrap();
    assert!(
        filetime::FileTime::from_last_modification_time(&core_src) < ahead,
        "core/src/lib.rs was given a time in the future"
    );
    read_only(&core_out);

    let app_out = w.path("out/app");
    let r = package_build(
        &w,
        &tree(&w, "t-app", &[]),
        "fx-app",
        &app_out,
        &[&util_out, &core_out],
    );
    assert_eq!(r.compiled(), ["fx-app"], "{}", r.stderr);
    read_only(&app_out);

    // The final build: every package layer in place, nothing left to compile.
    let fin = w.checkout("final");
    let mut args = vec!["build", "--no-save"];
    for o in [&util_out, &core_out, &app_out] {
        args.push("--package-store");
        args.push(o.to_str().unwrap());
    }
    let r = w.strata(&fin, &args).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    let expected = {
        let plain = w.checkout("plain");
        w.cargo(&plain, &["build"]).ok();
        common::run_fx(&plain, "debug")
    };
    assert_eq!(common::run_fx(&fin, "debug"), expected);

    // A new tree (as a Nix derivation is) with an edit in fx-core: its layer is stale, so its
    // units (and fx-app's) compile again; fx-util's layer still serves.
    let edited = w.checkout("edited");
    append(
        &edited.join("core/src/lib.rs"),
        "\npub fn added() -> u32 { 1 }\n",
    );
    let r = w.strata(&edited, &args).ok();
    assert_eq!(r.compiled(), ["fx-app", "fx-core"], "{}", r.stderr);
}
