//! buildWorkspace on the ripgrep 14.1.1 workspace (../shared/workloads) with real nix-build: one
//! derivation per member, an edit rebuilds the edited member's derivation and its dependents'
//! only, and the final `rg` has the same code as the single-derivation build's. Heavy (release
//! builds of every member).

mod common;
#[path = "common/nixlib.rs"]
mod nixlib;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::*;
use nixlib::*;

/// Each local package's local dependencies (normal and build), from `cargo metadata --no-deps`.
fn local_graph(ws: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new("cargo")
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(ws)
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let mut g = BTreeMap::new();
    for p in v["packages"].as_array().expect("packages") {
        let deps = p["dependencies"]
            .as_array()
            .expect("deps")
            .iter()
            .filter(|d| d.get("path").is_some_and(|x| !x.is_null()) && d["kind"] != "dev")
            .map(|d| d["name"].as_str().expect("name").to_string())
            .collect();
        g.insert(p["name"].as_str().expect("name").to_string(), deps);
    }
    g
}

/// `name` and every local package that depends on it, directly or not.
fn with_dependents(g: &BTreeMap<String, BTreeSet<String>>, name: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::from([name.to_string()]);
    loop {
        let more: Vec<String> = g
            .iter()
            .filter(|(p, deps)| !set.contains(*p) && deps.iter().any(|d| set.contains(d)))
            .map(|(p, _)| p.clone())
            .collect();
        if more.is_empty() {
            return set;
        }
        set.extend(more);
    }
}

/// The crate derivations built in this call, by package name.
fn crates_built(b: &Built) -> BTreeSet<String> {
    b.built
        .iter()
        .filter_map(|n| n.strip_suffix("-crate.drv"))
        .map(str::to_string)
        .collect()
}

fn section(bin: &str, name: &str, dir: &Path) -> Vec<u8> {
    let out = dir.join(format!("{}{name}", bin.replace('/', "_")));
    let st = Command::new("objcopy")
        .args(["-O", "binary", "--only-section", name, bin])
        .arg(&out)
        .status()
        .expect("objcopy (binutils)");
    assert!(st.success());
    read_bytes(&out)
}

fn read_bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).expect("read")
}

#[test]
fn nix_ripgrep_per_crate_rebuilds_the_edited_member_and_its_dependents_only() {
    require_nix();
    let w = World::new();
    let ws = w.path("rg/ws");
    extract_ripgrep(&ws);
    std::fs::write(ws.join("run-nonce.txt"), ws.display().to_string()).expect("nonce");
    let graph = local_graph(&ws);
    assert!(graph.len() >= 9, "{graph:?}");
    let expr = w.path("rg/default.nix");
    std::fs::write(
        &expr,
        format!(
            r#"let
  s = {};
  src = s.cleanCargoSource ./ws;
  cargoArtifacts = s.buildDepsOnly {{ inherit src; }};
  ws = s.buildWorkspace {{ inherit src cargoArtifacts; doCheck = false; }};
in
{{
  pkg = ws.package;
  inherit (ws) crates;
  single = s.buildPackage {{ inherit src cargoArtifacts; doCheck = false; }};
}}
"#,
            raw_lib()
        ),
    )
    .expect("write default.nix");

    let pkg = nix_build(&expr, "pkg");
    // One derivation per member, each a store with that member's layer (members other than the
    // root may come from an earlier run's store paths: this run's nonce is the root's file).
    assert!(pkg.built_any("ripgrep-crate.drv"), "{:?}", pkg.built);
    for name in graph.keys() {
        let out = nix_build(&expr, &format!("crates.{name}")).out;
        assert!(
            Path::new(&out).join("refs/packages").join(name).is_file(),
            "{out} holds no layer of {name}"
        );
    }
    let log = read(format!("{}/share/strata/cargo.log", pkg.out));
    assert_eq!(
        compiled_names(&log),
        Vec::<String>::new(),
        "the final derivation compiles nothing:\n{log}"
    );
    let rg = format!("{}/bin/rg", pkg.out);
    let out = Command::new(&rg).arg("--version").output().expect("run rg");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ripgrep 14.1.1"));

    // The same code as the single derivation's rg: .text and .rodata are byte for byte equal;
    // only the debug info differs (each derivation compiled in its own build dir).
    let single = nix_build(&expr, "single");
    let srg = format!("{}/bin/rg", single.out);
    let tmp = w.path("sections");
    std::fs::create_dir_all(&tmp).expect("mkdir");
    for s in [".text", ".rodata"] {
        assert!(
            section(&rg, s, &tmp) == section(&srg, s, &tmp),
            "{s} of the per-crate rg differs from the single derivation's"
        );
    }

    // An edit in globset: its derivation and its dependents' rebuild, nothing else.
    // Unique to this run, so that no store path of an earlier run stands in for the rebuild.
    let edit = format!("\n// one line, {}\n", ws.display());
    append(&ws.join("crates/globset/src/lib.rs"), &edit);
    let pkg2 = nix_build(&expr, "pkg");
    assert_eq!(
        crates_built(&pkg2),
        with_dependents(&graph, "globset"),
        "{:?}",
        pkg2.built
    );
    assert!(!pkg2.built_any("-deps.drv"), "{:?}", pkg2.built);
    let log2 = read(format!("{}/share/strata/cargo.log", pkg2.out));
    assert_eq!(compiled_names(&log2), Vec::<String>::new(), "{log2}");

    // An edit in the root's main.rs: the root's derivation and the final one only.
    append(&ws.join("crates/core/main.rs"), &edit);
    let pkg3 = nix_build(&expr, "pkg");
    assert_eq!(
        crates_built(&pkg3),
        BTreeSet::from(["ripgrep".to_string()]),
        "{:?}",
        pkg3.built
    );
    assert!(pkg3.built_any("ripgrep-14.1.1.drv"), "{:?}", pkg3.built);
}
