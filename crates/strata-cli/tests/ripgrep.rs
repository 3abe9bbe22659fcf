//! End to end on the ripgrep 14.1.1 workspace (../shared/workloads): the real project the issue
//! names. Slow (several release builds), so each test walks through several scenarios in turn.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;

fn members(w: &World, dir: &Path) -> (BTreeSet<String>, Vec<(String, Vec<String>)>) {
    let r = w
        .cargo(dir, &["metadata", "--format-version", "1", "--offline"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: BTreeSet<&str> = v["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let mut names = BTreeSet::new();
    let mut deps = Vec::new();
    for p in v["packages"].as_array().unwrap() {
        if ids.contains(p["id"].as_str().unwrap()) {
            let name = p["name"].as_str().unwrap().to_string();
            let d: Vec<String> = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["path"].is_string() && d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            names.insert(name.clone());
            deps.push((name, d));
        }
    }
    (names, deps)
}

/// `pkg` and every member that depends on it, directly or not.
fn with_dependents(pkg: &str, deps: &[(String, Vec<String>)]) -> Vec<String> {
    let mut set = BTreeSet::from([pkg.to_string()]);
    loop {
        let before = set.len();
        for (name, d) in deps {
            if d.iter().any(|x| set.contains(x)) {
                set.insert(name.clone());
            }
        }
        if set.len() == before {
            return set.into_iter().collect();
        }
    }
}

fn rg_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("target/release/rg")).unwrap()
}

#[test]
fn ripgrep_same_path_byte_identical_and_edits() {
    let w = World::new();
    let p = w.path("rg");
    // The reference: a clean `cargo build --release` at this path, with the CARGO_HOME strata
    // gives cargo (registry paths end up in the binary; see docs/keys-and-restore.md).
    extract_ripgrep(&p);
    w.strata(&p, &["store", "stats"]).ok(); // creates nothing but proves the store opens
    let native = w.strata_env(&p, &["--version"], &[]).ok();
    assert!(native.stdout.contains("strata"));
    let home_real = home::cargo_home();
    std::os::unix::fs::symlink(&home_real, &w.link).unwrap();
    let mut c = Command::new("cargo");
    c.args(["build", "--release", "--locked"])
        .current_dir(&p)
        .env("CARGO_HOME", &w.link)
        .env_remove("CARGO_TARGET_DIR");
    assert!(c.status().unwrap().success());
    let reference = rg_bytes(&p);

    // Cold strata build at the same path: the same bytes.
    extract_ripgrep(&p);
    w.strata(&p, &["build", "--release", "--locked"]).ok();
    assert!(
        rg_bytes(&p) == reference,
        "cold strata build differs from clean cargo"
    );

    // Deleted and cloned again at the same path: everything fresh, the same bytes.
    extract_ripgrep(&p);
    let r = w.strata(&p, &["build", "--release", "--locked", "-v"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert!(r.stderr.contains("Fresh ripgrep"), "{}", r.stderr);
    assert!(
        rg_bytes(&p) == reference,
        "restored rg differs from clean cargo"
    );

    // README edit at the root (plain cargo reruns ripgrep's build script and rebuilds rg).
    append(&p.join("README.md"), "\nan edit\n");
    let r = w.strata(&p, &["build", "--release", "--locked"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);

    // One-line edit in a member: that member and its dependents.
    let (names, deps) = members(&w, &p);
    append(&p.join("crates/globset/src/lib.rs"), "\n// one line\n");
    let r = w.strata(&p, &["build", "--release", "--locked"]).ok();
    let expected = with_dependents("globset", &deps);
    assert_eq!(r.compiled(), expected, "{}", r.stderr);

    // Every member's version bumped: no dependency compiles.
    for m in walkdir::WalkDir::new(&p)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "Cargo.toml" && !e.path().starts_with(p.join("target")))
    {
        bump_package_version(m.path());
    }
    assert_ne!(members(&w, &p).0, BTreeSet::new());
    w.cargo(&p, &["update", "--workspace", "--offline"]).ok();
    // The deps key (lock and skeleton, versions masked) is unchanged.
    let why = w.strata(&p, &["why", "--release"]).ok();
    assert!(
        !why.stdout.contains("changed: lock") && !why.stdout.contains("changed: skeleton"),
        "{}",
        why.stdout
    );
    let r = w.strata(&p, &["build", "--release"]).ok();
    let compiled = r.compiled();
    assert!(!compiled.is_empty());
    assert!(
        compiled.iter().all(|c| names.contains(c)),
        "only members compile: {compiled:?}"
    );
}

#[test]
fn ripgrep_fresh_clone_other_path_other_cargo_home_runs_its_tests() {
    let w = World::new();
    let a = w.path("machine-a/ripgrep");
    extract_ripgrep(&a);
    w.strata(&a, &["build", "--release", "--locked"]).ok();
    w.strata(&a, &["test", "--release", "--locked", "--no-run"])
        .ok();

    // Machine B: another path, its own empty CARGO_HOME.
    let b = w.path("machine-b/work/ripgrep");
    extract_ripgrep(&b);
    let home = w.path("machine-b/cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    let r = w
        .strata_env(
            &b,
            &["build", "--release", "--locked", "-v"],
            &[("CARGO_HOME", &home)],
        )
        .ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    let fresh = r
        .stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("Fresh "))
        .count();
    assert!(fresh > 20, "every unit reported Fresh: {}", r.stderr);

    let r = w
        .strata_env(
            &b,
            &["test", "--release", "--locked"],
            &[("CARGO_HOME", &home)],
        )
        .ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert!(r.stdout.contains("test result: ok"), "{}", r.stdout);
    assert!(!r.stdout.contains("FAILED"), "{}", r.stdout);
}

/// `[package] version = "X.Y.Z"` → `X.Y.(Z+1)`: path requirements (`^X.Y.Z`) still match.
fn bump_package_version(manifest: &Path) {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    let Some(v) = doc
        .get("package")
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
    else {
        return;
    };
    let mut parts: Vec<u64> = v.split('.').map(|x| x.parse().unwrap()).collect();
    parts[2] += 1;
    let bumped = parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".");
    doc["package"]["version"] = toml_edit::value(bumped);
    std::fs::write(manifest, doc.to_string()).unwrap();
}

mod home {
    pub fn cargo_home() -> std::path::PathBuf {
        std::env::var_os("CARGO_HOME")
            .map(Into::into)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo")
            })
    }
}
