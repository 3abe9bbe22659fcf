//! The Nix library without import from derivation: the skeleton is computed at evaluation time
//! (nix/lib/skeleton.nix), so every function evaluates with `allow-import-from-derivation = false`,
//! and the skeleton Nix makes must equal, file for file, the one `strata skeleton` (Rust) makes.

mod common;
#[path = "common/nixlib.rs"]
mod nixlib;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use nixlib::*;

/// Every file under `root` (relative path → bytes).
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(root).expect("prefix");
            (
                rel.display().to_string(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

/// An expression file next to `ws` whose `src` is `ws` cleaned by the library (as a flake does),
/// with `attrs` (Nix source using `s`, `src` and `cargoArtifacts`).
fn write_expr(dir: &Path, ws: &str, attrs: &str) -> PathBuf {
    let file = dir.join(format!("{ws}.nix"));
    std::fs::write(
        &file,
        format!(
            r#"let
  s = {lib};
  src = s.cleanCargoSource ./{ws};
  cargoArtifacts = s.buildDepsOnly {{ inherit src; }};
in
{{
  inherit src;
{attrs}
}}
"#,
            lib = raw_lib()
        ),
    )
    .expect("write expression");
    file
}

/// Compares the skeleton of the workspace `ws` (under `dir`) made by Nix (mkDummySrc, built with
/// IFD off) with the one `strata skeleton` makes from the very same sources (the cleaned store
/// path `src`, copied). Returns the Nix one.
fn assert_same_skeleton(w: &World, dir: &Path, ws: &str) -> BTreeMap<String, Vec<u8>> {
    let expr = write_expr(
        dir,
        ws,
        "  dummy = s.mkDummySrc { inherit src; };\n  vendor = s.vendorCargoDeps { inherit src; };",
    );
    let src = nix_eval_string_no_ifd(&expr, "src");
    let nix = nix_build_no_ifd(&expr, "dummy");
    // `strata skeleton` runs `cargo metadata --offline`: the vendored crates stand in for crates.io.
    let vendor = nix_build_no_ifd(&expr, "vendor");
    let cargo_home = w.path(&format!("{ws}-cargo-home"));
    std::fs::create_dir_all(&cargo_home).expect("mkdir");
    std::fs::copy(
        format!("{vendor}/config.toml"),
        cargo_home.join("config.toml"),
    )
    .expect("config");
    let copy = w.path(&format!("{ws}-src-copy"));
    let ok = Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(&copy)
        .status()
        .expect("cp")
        .success()
        && Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(&copy)
            .status()
            .expect("chmod")
            .success();
    assert!(ok, "copying {src}");
    let rust_out = w.path(&format!("{ws}-rust-skeleton"));
    w.strata_env(
        &copy,
        &[
            "skeleton",
            "--out",
            rust_out.to_str().expect("utf-8"),
            "--",
            "--offline",
        ],
        &[("CARGO_HOME", &cargo_home)],
    )
    .ok();
    let (a, b) = (tree(&rust_out), tree(Path::new(&nix)));
    let names = |t: &BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&a),
        names(&b),
        "{ws}: the skeletons have different files (left: strata skeleton, right: Nix)"
    );
    for (path, bytes) in &a {
        assert_eq!(
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&b[path]),
            "{ws}: {path} differs (left: strata skeleton, right: Nix)"
        );
    }
    b
}

fn text(files: &BTreeMap<String, Vec<u8>>, path: &str) -> String {
    String::from_utf8_lossy(files.get(path).unwrap_or_else(|| panic!("{path} missing")))
        .into_owned()
}

/// A workspace that exercises what the Nix side re-implements: members by glob and `exclude`, a
/// path dependency that becomes a member, a `[patch]` (its package keeps its version), inherited
/// versions, renamed and target-specific dependencies, explicit and inferred bins, examples (one a
/// cdylib), tests in a directory, `autobenches = false`, a custom build script path, a proc-macro
/// lib, quoted keys, literal and multi-line strings, cargo config files, and metadata that goes.
fn write_edge_workspace(ws: &Path) {
    let files: &[(&str, &str)] = &[
        (
            "Cargo.toml",
            r#"# the root package
[package]
name = "edge-root"
version = "1.2.3" # released
description = """
multi "line"
"""
authors = ["A <a@example.invalid>"]
edition = "2021"
autobenches = false
build = "gen/build.rs"
default-run = "edge-root"

[lib]
path = "lib/root.rs"

[[bin]]
name = "tool"

[[example]]
name = "cdy"
crate-type = ["cdylib"]

[dependencies]
a = { path = "crates/a", version = "0.5.0", package = "edge-a" }
itoa = "1"

[target."cfg(windows)".build-dependencies]
b = { path = "crates/b", version = "=0.5.0", package = "edge-b" }

[features]
default = ["a/x"]
"with.dot" = []

[lints.rust]
unexpected_cfgs = { level = "warn", check-cfg = ['cfg(foo, values("a"))'] }

[profile.dev.package."*"]
opt-level = 1

[profile.release]
lto = "thin"
debug = false

[badges]
maintenance = { status = "passively-maintained" }

[workspace]
members = ["crates/*"]
exclude = ["crates/skip"]

[workspace.package]
version = "0.5.0"
edition = "2021"
license = "MIT"

[workspace.metadata.release]
x = 1

[patch.crates-io]
itoa = { path = "vendored/itoa" }
"#,
        ),
        (
            "Cargo.lock",
            r#"# This file is automatically @generated by Cargo.
# It is not intended for manual editing.
version = 4

[[package]]
name = "edge-a"
version = "0.5.0"
dependencies = [
 "edge-b",
 "itoa",
 "shared",
]

[[package]]
name = "edge-b"
version = "0.5.0"

[[package]]
name = "edge-root"
version = "1.2.3"
dependencies = [
 "edge-a",
 "edge-b",
 "itoa",
]

[[package]]
name = "itoa"
version = "1.0.11"

[[package]]
name = "shared"
version = "0.1.7"
"#,
        ),
        ("src/main.rs", "fn main() {}\n"),
        ("src/bin/tool.rs", "fn main() {}\n"),
        ("src/bin/multi/main.rs", "fn main() {}\n"),
        ("lib/root.rs", "pub fn r() {}\n"),
        ("gen/build.rs", "fn main() {}\n"),
        ("examples/ex1.rs", "fn main() {}\n"),
        ("examples/cdy.rs", "\n"),
        ("tests/it.rs", "#[test]\nfn t() {}\n"),
        ("tests/dir/main.rs", "fn main() {}\n"),
        ("benches/b.rs", "\n"),
        (
            ".cargo/config.toml",
            "[build]\nrustflags = [\"--cfg\", \"foo=\\\"a\\\"\"]\n",
        ),
        (
            "crates/a/Cargo.toml",
            r#"[package]
name = "edge-a"
version.workspace = true
edition.workspace = true
license.workspace = true
keywords = ["k"]

[features]
x = []

[dependencies]
shared = { path = "../../shared", version = "0.1" }
itoa = "1.0"

[dev-dependencies]
edge-b = { path = "../b" }

[package.metadata.docs.rs]
all-features = true
"#,
        ),
        ("crates/a/src/lib.rs", "pub fn a() {}\n"),
        ("crates/a/src/main.rs", "fn main() {}\n"),
        ("crates/a/.cargo/config", "[env]\nA = \"1\"\n"),
        (
            "crates/b/Cargo.toml",
            "[package]\nname = \"edge-b\"\nversion = \"0.5.0\"\nedition = \"2018\"\n\n[lib]\nproc-macro = true\n",
        ),
        ("crates/b/src/lib.rs", "\n"),
        (
            "crates/skip/Cargo.toml",
            "[package]\nname = \"skip\"\nversion = \"9.9.9\"\n",
        ),
        ("crates/skip/src/lib.rs", "\n"),
        (
            "shared/Cargo.toml",
            "[package]\nname = \"shared\"\nversion = \"0.1.7\"\nedition = \"2015\"\n",
        ),
        ("shared/src/lib.rs", "\n"),
        (
            "vendored/itoa/Cargo.toml",
            "[package]\nname = \"itoa\"\nversion = \"1.0.11\"\nedition = \"2018\"\n",
        ),
        ("vendored/itoa/src/lib.rs", "\n"),
    ];
    for (rel, content) in files {
        let p = ws.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, content).expect("write");
    }
}

#[test]
fn nix_skeleton_equals_strata_skeleton_on_the_fixtures() {
    require_nix();
    let w = World::new();
    let dir = w.dir.path();

    w.checkout("ws");
    let fx = assert_same_skeleton(&w, dir, "ws");
    assert!(text(&fx, "Cargo.toml").contains("version = \"0.0.0\""));
    assert!(text(&fx, "Cargo.lock").contains("name = \"fx-core\"\nversion = \"0.0.0\""));
    assert!(text(&fx, "core/src/lib.rs").contains("dummy library"));
    assert!(text(&fx, "app/build.rs").contains("fn main"));

    write_edge_workspace(&w.path("edge"));
    let edge = assert_same_skeleton(&w, dir, "edge");
    // The [patch]ed package keeps its version; the others are masked; the excluded one is absent.
    assert!(text(&edge, "Cargo.lock").contains("name = \"itoa\"\nversion = \"1.0.11\""));
    assert!(text(&edge, "Cargo.lock").contains("name = \"shared\"\nversion = \"0.0.0\""));
    assert!(!edge.contains_key("crates/skip/Cargo.toml"));
    assert!(edge.contains_key("tests/dir/main.rs") && !edge.contains_key("benches/b.rs"));
    assert!(text(&edge, "examples/cdy.rs").contains("dummy library"));
    assert!(text(&edge, "Cargo.toml").contains("check-cfg = ['cfg(foo, values(\"a\"))']"));
    assert!(!text(&edge, "Cargo.toml").contains("released"));
}

#[test]
fn nix_skeleton_equals_strata_skeleton_on_ripgrep() {
    require_nix();
    let w = World::new();
    extract_ripgrep(&w.path("rg"));
    let rg = assert_same_skeleton(&w, w.dir.path(), "rg");
    assert!(text(&rg, "Cargo.toml").contains("version = \"0.0.0\""));
    assert!(text(&rg, "crates/core/main.rs").contains("fn main"));
    assert!(rg.contains_key(".cargo/config.toml"));
}

/// Every function of the library, and the raw equivalent of the flake `strata nix init` writes,
/// instantiate with import from derivation disabled (the old mkDummySrc built `strata skeleton`
/// during evaluation and fails here).
#[test]
fn nix_every_function_instantiates_without_import_from_derivation() {
    require_nix();
    let w = World::new();
    let ws = w.checkout("ws");
    std::fs::write(ws.join("other.lock"), read(ws.join("Cargo.lock"))).expect("lock copy");
    let expr = write_expr(
        w.dir.path(),
        "ws",
        r#"  deps = cargoArtifacts;
  vendor = s.vendorCargoDeps { inherit src; };
  vendorMultiple = s.vendorMultipleCargoDeps { cargoLockList = [ ./ws/Cargo.lock ./ws/other.lock ]; };
  dummy = s.mkDummySrc { inherit src; };
  pkg = s.buildPackage { inherit src cargoArtifacts; };
  pkgOwnDeps = s.buildPackage { inherit src; };
  build = s.cargoBuild { inherit src cargoArtifacts; };
  clippy = s.cargoClippy { inherit src cargoArtifacts; };
  test = s.cargoTest { inherit src cargoArtifacts; };
  doctest = s.cargoDocTest { inherit src cargoArtifacts; };
  nextest = s.cargoNextest { inherit src cargoArtifacts; };
  doc = s.cargoDoc { inherit src cargoArtifacts; };
  fmt = s.cargoFmt { inherit src; };
  shell = s.devShell { inherit src; };
  plainPath = s.buildDepsOnly { src = ./ws; };
"#,
    );
    let attrs = [
        "deps",
        "vendor",
        "vendorMultiple",
        "dummy",
        "pkg",
        "pkgOwnDeps",
        "build",
        "clippy",
        "test",
        "doctest",
        "nextest",
        "doc",
        "fmt",
        "shell",
        "plainPath",
    ];
    let drvs = nix_instantiate_no_ifd(&expr, &attrs);
    assert_eq!(drvs.len(), attrs.len(), "{drvs:?}");
    // Two locks with the same crates vendor the same set: one derivation.
    assert_eq!(drvs[1], drvs[2]);

    // The flake of `strata nix init`, its outputs function called with the raw library.
    w.strata(&ws, &["nix", "init"]).ok();
    let eval = w.path("flake-eval.nix");
    std::fs::write(&eval, flake_outputs_eval()).expect("write flake-eval.nix");
    let flake_attrs = ["pkg", "clippy", "nextest", "doc", "fmt", "shell"];
    let drvs = nix_instantiate_no_ifd(&eval, &flake_attrs);
    assert_eq!(drvs.len(), flake_attrs.len(), "{drvs:?}");
}

/// The deps derivation keeps its store path across a .rs edit, a README edit and a version bump
/// of every member with the lock following, all decided at evaluation time with IFD off; a
/// change that reaches the skeleton (a profile setting) does change it.
#[test]
fn nix_deps_derivation_survives_edits_without_import_from_derivation() {
    require_nix();
    let w = World::new();
    let ws = w.checkout("ws");
    let expr = write_expr(w.dir.path(), "ws", "  deps = cargoArtifacts;");
    let deps = || nix_instantiate_no_ifd(&expr, &["deps"]).remove(0);
    let first = deps();

    let util = ws.join("util/src/lib.rs");
    std::fs::write(
        &util,
        read(&util).replace("/// Formats a number", "/// Formats a number (edited)"),
    )
    .expect("edit util");
    assert_eq!(deps(), first, "a .rs edit changed the deps derivation");

    append(&ws.join("README.md"), "\nanother line\n");
    assert_eq!(deps(), first, "a README edit changed the deps derivation");

    // A release: every member's version bumped, the lock following.
    let root = ws.join("Cargo.toml");
    std::fs::write(&root, read(&root).replace("\"0.1.0\"", "\"0.2.0\"")).expect("bump");
    let lock = ws.join("Cargo.lock");
    let before = read(&lock);
    w.cargo(&ws, &["update", "--workspace", "--offline"]).ok();
    let after = read(&lock);
    assert!(
        after != before && after.contains("name = \"fx-core\"\nversion = \"0.2.0\""),
        "{after}"
    );
    assert_eq!(deps(), first, "a version bump changed the deps derivation");

    // A comment in a manifest is laundered away.
    append(&ws.join("core/Cargo.toml"), "\n# a comment\n");
    assert_eq!(
        deps(),
        first,
        "a manifest comment changed the deps derivation"
    );

    // What dependencies compile with does change it.
    append(&root, "\n[profile.release]\nopt-level = 2\n");
    assert_ne!(deps(), first, "a profile change kept the deps derivation");
}
