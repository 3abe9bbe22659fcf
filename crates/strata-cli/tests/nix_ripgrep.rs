//! The Nix library on the ripgrep 14.1.1 workspace (../shared/workloads) with real nix-build:
//! the issue's proof. Heavy (several release builds); one test walks through every scenario.

mod common;
#[path = "common/nixlib.rs"]
mod nixlib;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use nixlib::*;

/// Names of the workspace's own packages (what may compile once the deps are restored).
fn member_names(ws: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(ws)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "Cargo.toml")
        .filter_map(|e| {
            let doc: toml_edit::DocumentMut = read(e.path()).parse().ok()?;
            Some(doc.get("package")?.get("name")?.as_str()?.to_string())
        })
        .collect()
}

#[track_caller]
fn assert_only_members(log: &str, members: &BTreeSet<String>, what: &str) {
    let names = compiled_names(log);
    let foreign: Vec<&String> = names.iter().filter(|n| !members.contains(*n)).collect();
    assert!(
        foreign.is_empty(),
        "{what} compiled dependencies {foreign:?} (all compiled: {names:?})"
    );
}

fn bump_package_version(manifest: &Path) {
    let mut doc: toml_edit::DocumentMut = read(manifest).parse().expect("toml");
    let Some(v) = doc
        .get("package")
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
    else {
        return;
    };
    let mut parts: Vec<u64> = v.split('.').map(|x| x.parse().expect("semver")).collect();
    parts[2] += 1;
    let bumped: Vec<String> = parts.iter().map(u64::to_string).collect();
    doc["package"]["version"] = toml_edit::value(bumped.join("."));
    std::fs::write(manifest, doc.to_string()).expect("write manifest");
}

fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
}

/// Removes the reference build dir (a path nix-build itself uses) however the test ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn nix_ripgrep_deps_once_package_and_checks_reuse_them() {
    require_nix();
    let w = World::new();
    let ws = w.path("rg/ws");
    extract_ripgrep(&ws);
    // Unique to this run (kept by the filter, read by no crate): the package builds in every run.
    std::fs::write(ws.join("run-nonce.txt"), ws.display().to_string()).expect("nonce");
    let members = member_names(&ws);
    assert!(members.contains("ripgrep") && members.contains("grep-searcher"));
    let expr = w.path("rg/default.nix");
    std::fs::write(
        &expr,
        format!(
            r#"let
  s = {};
  src = s.cleanCargoSource ./ws;
  cargoArtifacts = s.buildDepsOnly {{ inherit src; }};
in
{{
  deps = cargoArtifacts;
  vendor = s.vendorCargoDeps {{ inherit src; }};
  pkg = s.buildPackage {{ inherit src cargoArtifacts; doCheck = false; }};
  # ripgrep 14.1.1 predates clippy 1.95's deny-by-default never_loop: lints only warn.
  clippy = s.cargoClippy {{ inherit src cargoArtifacts; cargoClippyExtraArgs = "--all-targets -- --cap-lints warn"; }};
  test = s.cargoTest {{ inherit src cargoArtifacts; }};
  doc = s.cargoDoc {{ inherit src cargoArtifacts; }};
}}
"#,
            raw_lib()
        ),
    )
    .expect("write default.nix");

    let deps = nix_build(&expr, "deps");
    let pkg = nix_build(&expr, "pkg");
    assert!(!pkg.built_any("-deps.drv"), "{:?}", pkg.built);
    let rg = format!("{}/bin/rg", pkg.out);
    let out = Command::new(&rg).arg("--version").output().expect("run rg");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ripgrep 14.1.1"));
    let log = read(format!("{}/share/strata/cargo.log", pkg.out));
    assert_only_members(&log, &members, "the package on the deps output");

    // The reference: a clean `cargo build --release` with the same vendored sources, at the path
    // the package derivation built in (nix-build names it after the derivation), with the same
    // CARGO_HOME string. The compiled bytes carry those paths (docs/nix.md).
    let vendor = nix_build(&expr, "vendor").out;
    let top = PathBuf::from(format!(
        "/tmp/nix-build-{}.drv-0",
        pkg.out.split_once('-').map_or("", |(_, n)| n)
    ));
    assert!(
        !top.exists(),
        "{} exists: another build uses it; cannot build the reference there",
        top.display()
    );
    let cleanup = RemoveOnDrop(top.clone());
    let src = top.join("source");
    extract_ripgrep(&src);
    let home = top.join("cargo-home");
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::copy(format!("{vendor}/config.toml"), home.join("config.toml")).expect("config");
    std::os::unix::fs::symlink(&home, top.join("strata-cargo-home")).expect("link");
    let reference = Command::new("cargo")
        .args(["build", "--release", "--locked", "--offline"])
        .current_dir(&src)
        .env("CARGO_HOME", top.join("strata-cargo-home"))
        .env("HOME", top.join("home"))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .status()
        .expect("cargo");
    assert!(reference.success());
    // buildPackage replaces the vendor dir's store hash in the binaries by 'e's (no reference to
    // the sources in the closure): the reference gets the same.
    let hash = vendor.trim_start_matches("/nix/store/")[..32].to_string();
    let mut reference = std::fs::read(src.join("target/release/rg")).expect("reference rg");
    replace_all(&mut reference, hash.as_bytes(), &[b'e'; 32]);
    let same = reference == std::fs::read(&rg).expect("nix rg");
    drop(cleanup);
    assert!(
        same,
        "the rg of the package derivation differs from a clean cargo build"
    );

    // A one-line .rs edit: the deps derivation stays, only the package builds, no dependency.
    append(&ws.join("crates/globset/src/lib.rs"), "\n// one line\n");
    let deps2 = nix_build(&expr, "deps");
    assert_eq!(
        deps2.out, deps.out,
        "a .rs edit changed the deps derivation"
    );
    let pkg2 = nix_build(&expr, "pkg");
    assert_ne!(pkg2.out, pkg.out);
    assert!(!pkg2.built_any("-deps.drv"), "{:?}", pkg2.built);
    assert!(pkg2.built_any("ripgrep-14.1.1.drv"), "{:?}", pkg2.built);
    let log2 = read(format!("{}/share/strata/cargo.log", pkg2.out));
    assert_only_members(&log2, &members, "the package after a .rs edit");
    assert!(compiled_names(&log2).iter().any(|n| n == "globset"));

    // A README edit: both store paths unchanged, nothing built.
    append(&ws.join("README.md"), "\nan edit\n");
    let deps3 = nix_build(&expr, "deps");
    let pkg3 = nix_build(&expr, "pkg");
    assert_eq!(
        (deps3.out.as_str(), pkg3.out.as_str()),
        (deps.out.as_str(), pkg2.out.as_str())
    );
    assert!(pkg3.built.is_empty(), "{:?}", pkg3.built);

    // Checks: each restores the deps output and compiles no dependency.
    for check in ["clippy", "test", "doc"] {
        let b = nix_build(&expr, check);
        assert!(!b.built_any("-deps.drv"), "{check}: {:?}", b.built);
        assert_only_members(&read(format!("{}/cargo.log", b.out)), &members, check);
    }

    // Every member's version bumped (and the lock updated): the deps derivation stays.
    for m in walkdir::WalkDir::new(&ws)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "Cargo.toml")
    {
        bump_package_version(m.path());
    }
    // Offline, against the vendored crates: the host's cargo home need not hold ripgrep's.
    let vendor_home = w.path("rg/vendor-cargo-home");
    std::fs::create_dir_all(&vendor_home).expect("mkdir");
    std::fs::copy(
        format!("{vendor}/config.toml"),
        vendor_home.join("config.toml"),
    )
    .expect("config");
    let update = Command::new("cargo")
        .args(["update", "--workspace", "--offline"])
        .current_dir(&ws)
        .env("CARGO_HOME", &vendor_home)
        .output()
        .expect("cargo update");
    assert!(
        update.status.success(),
        "cargo update: {}",
        String::from_utf8_lossy(&update.stderr)
    );
    let deps4 = nix_build(&expr, "deps");
    assert_eq!(
        deps4.out, deps.out,
        "a version bump changed the deps derivation"
    );
    let pkg4 = nix_build(&expr, "pkg");
    assert!(pkg4.out.ends_with("-14.1.2"), "{}", pkg4.out);
    assert!(!pkg4.built_any("-deps.drv"), "{:?}", pkg4.built);
    assert_only_members(
        &read(format!("{}/share/strata/cargo.log", pkg4.out)),
        &members,
        "the package after a version bump",
    );
}
