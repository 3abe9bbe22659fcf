//! buildWorkspace / `buildPackage { perCrate = true; }` with real nix-build on the fixture
//! workspace: one derivation per local package, whose output is that package's layer; the final
//! derivation restores them all and compiles nothing; an edit rebuilds the edited package's
//! derivation and its dependents' only.

mod common;
#[path = "common/nixlib.rs"]
mod nixlib;

use std::path::Path;
use std::process::Command;

use common::*;
use nixlib::*;

fn write_expr(dir: &Path, lib: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("ws/run-nonce.txt"), dir.display().to_string()).expect("nonce");
    let file = dir.join("default.nix");
    let text = format!(
        r#"let
  s = {lib};
  src = builtins.path {{
    path = ./ws;
    name = "source";
    filter = p: t: s.filterCargoSources p t
      || (baseNameOf p == "README.md" && baseNameOf (dirOf p) == "core");
  }};
  cargoArtifacts = s.buildDepsOnly {{ inherit src; }};
  ws = s.buildWorkspace {{ inherit src cargoArtifacts; doCheck = false; }};
in
{{
  deps = cargoArtifacts;
  pkg = ws.package;
  perCrate = s.buildPackage {{ inherit src cargoArtifacts; doCheck = false; perCrate = true; }};
  util = ws.crates.fx-util;
  core = ws.crates.fx-core;
  app = ws.crates.fx-app;
  test = s.cargoTest {{ inherit src cargoArtifacts; inherit (ws) packageStores; }};
}}
"#
    );
    std::fs::write(&file, text).expect("write default.nix");
    file
}

fn run_bin(path: &str) -> String {
    let out = Command::new(path).output().expect("run the built binary");
    assert!(out.status.success(), "{path} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn nix_per_crate_derivations_rebuild_only_the_edited_package_and_its_dependents() {
    require_nix();
    let w = World::new();
    let ws = w.checkout("ws");
    let expr = write_expr(w.dir.path(), &raw_lib());

    let pkg = nix_build(&expr, "pkg");
    for c in ["fx-util-crate.drv", "fx-core-crate.drv", "fx-app-crate.drv"] {
        assert!(pkg.built_any(c), "{c} not built: {:?}", pkg.built);
    }
    let fx = run_bin(&format!("{}/bin/fx", pkg.out));
    assert!(fx.contains("core readme v1"), "{fx}");
    let log = read(format!("{}/share/strata/cargo.log", pkg.out));
    assert_eq!(
        compiled_names(&log),
        Vec::<String>::new(),
        "the final derivation has every unit from the crate derivations:\n{log}"
    );
    // Each crate derivation's output is a store with that package's layer alone.
    for (attr, name) in [("util", "fx-util"), ("core", "fx-core"), ("app", "fx-app")] {
        let out = nix_build(&expr, attr).out;
        assert!(
            Path::new(&out).join("refs/packages").join(name).is_file(),
            "{out} holds no layer of {name}"
        );
    }
    // `perCrate = true` is the same final derivation.
    assert_eq!(nix_build(&expr, "perCrate").out, pkg.out);
    // The checks take the same layers.
    let test = nix_build(&expr, "test");
    let tlog = read(format!("{}/cargo.log", test.out));
    assert!(tlog.contains("test result: ok"), "{tlog}");

    // An edit in fx-core: its derivation and fx-app's rebuild, fx-util's and the deps' do not.
    append(
        &ws.join("core/src/lib.rs"),
        "\npub fn added() -> u32 { 1 }\n",
    );
    let pkg2 = nix_build(&expr, "pkg");
    assert!(pkg2.built_any("fx-core-crate.drv"), "{:?}", pkg2.built);
    assert!(pkg2.built_any("fx-app-crate.drv"), "{:?}", pkg2.built);
    assert!(!pkg2.built_any("fx-util-crate.drv"), "{:?}", pkg2.built);
    assert!(!pkg2.built_any("-deps.drv"), "{:?}", pkg2.built);
    assert_eq!(run_bin(&format!("{}/bin/fx", pkg2.out)), fx);

    // An edit in the app (the leaf): only its derivation and the final one.
    append(&ws.join("app/src/main.rs"), "\n// edited\n");
    let pkg3 = nix_build(&expr, "pkg");
    assert!(pkg3.built_any("fx-app-crate.drv"), "{:?}", pkg3.built);
    assert!(!pkg3.built_any("fx-core-crate.drv"), "{:?}", pkg3.built);
    assert!(!pkg3.built_any("fx-util-crate.drv"), "{:?}", pkg3.built);

    // IFD off: every attribute evaluates.
    nix_instantiate_no_ifd(&expr, &["pkg", "util", "core", "app", "test"]);
}
