//! The core engine on a small real workspace: layers restore at any path, cargo decides
//! freshness correctly, and cache problems never fail a build.

mod common;

use std::path::Path;

use common::*;

const EXPECTED: &str = "hello v1.2.3 #7 | 42 | core readme v1 | build-script";

#[test]
fn fresh_clone_at_another_path_compiles_nothing() {
    let w = World::new();
    let a = w.checkout("a");
    let first = w.strata(&a, &["build"]).ok();
    assert!(!first.skeleton_built(), "{}", first.stderr);
    assert!(
        first.stderr.contains("Strata restored"),
        "summary line: {}",
        first.stderr
    );
    assert_eq!(run_fx(&a, "debug"), EXPECTED);

    let b = w.checkout("elsewhere/b");
    let second = w.strata(&b, &["build", "-v"]).ok();
    assert!(!second.skeleton_built());
    assert_eq!(second.compiled(), Vec::<String>::new(), "{}", second.stderr);
    assert!(second.stderr.contains("Fresh fx-app"), "{}", second.stderr);
    assert_eq!(run_fx(&b, "debug"), EXPECTED);
}

#[test]
fn leaf_edit_readme_edit_and_version_bump() {
    let w = World::new();
    let a = w.checkout("a");
    w.strata(&a, &["build"]).ok();

    // An edit in the most depended-upon member rebuilds it and its dependents only, also in a
    // fresh clone whose layers came from the store.
    let b = w.checkout("b");
    append(&b.join("util/src/lib.rs"), "\npub fn extra() {}\n");
    append(&b.join("README.md"), "\nwords\n");
    let why = w.strata(&b, &["why"]).ok();
    assert!(why.stdout.contains("changed: sources"), "{}", why.stdout);
    assert!(
        why.stdout
            .contains("input file:    util/src/lib.rs (modified)"),
        "{}",
        why.stdout
    );
    assert!(
        why.stdout
            .contains("not an input (changes no key): README.md"),
        "{}",
        why.stdout
    );
    assert!(!why.stdout.contains("changed: skeleton"), "{}", why.stdout);
    let r = w.strata(&b, &["build"]).ok();
    assert_eq!(
        r.compiled(),
        vec!["fx-app", "fx-core", "fx-util"],
        "{}",
        r.stderr
    );

    // A member that nothing depends on: only itself.
    append(&b.join("app/src/main.rs"), "\n// edited\n");
    let r = w.strata(&b, &["build"]).ok();
    assert_eq!(r.compiled(), vec!["fx-app"], "{}", r.stderr);

    // README edits, at the root and in a package whose build script has no rerun-if-changed
    // (plain cargo reruns it and rebuilds fx-app): no rustc at all.
    append(&b.join("README.md"), "\nmore words\n");
    append(&b.join("app/README.md"), "\nmore words\n");
    let r = w.strata(&b, &["build"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    // Nothing was built from a README: the layer saved before still describes the units.
    assert!(r.stderr.contains("saved 0 layers"), "{}", r.stderr);

    // …also in a fresh clone restored from the store.
    let c = w.checkout("c");
    append(&c.join("README.md"), "\nanother edit\n");
    append(&c.join("app/README.md"), "\nanother edit\n");
    let r = w.strata(&c, &["build"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);

    // A README that a crate compiles in (include_str!) is an input.
    std::fs::write(c.join("core/README.md"), "core readme v2\n").unwrap();
    let r = w.strata(&c, &["build"]).ok();
    assert_eq!(r.compiled(), vec!["fx-app", "fx-core"], "{}", r.stderr);
    assert!(run_fx(&c, "debug").contains("core readme v2"));

    // Every member's version bumped: the dependency layer still hits; only members compile.
    let d = w.checkout("d");
    let root = d.join("Cargo.toml");
    let text = std::fs::read_to_string(&root)
        .unwrap()
        .replace("0.1.0", "0.2.0");
    std::fs::write(&root, text).unwrap();
    w.cargo(&d, &["metadata", "--format-version", "1", "--offline"])
        .ok();
    let r = w.strata(&d, &["build"]).ok();
    assert!(!r.skeleton_built(), "{}", r.stderr);
    assert_eq!(
        r.compiled(),
        vec!["fx-app", "fx-core", "fx-util"],
        "{}",
        r.stderr
    );
    let why = w.strata(&d, &["why"]).ok();
    assert!(!why.stdout.contains("changed: skeleton"), "{}", why.stdout);
}

#[test]
fn lock_bump_misses_the_deps_layer_and_stays_correct() {
    let w = World::new();
    let a = w.checkout("a");
    w.strata(&a, &["build"]).ok();
    let b = w.checkout("b");
    w.cargo(
        &b,
        &["update", "-p", "itoa", "--precise", "1.0.19", "--offline"],
    )
    .ok();
    let why = w.strata(&b, &["why"]).ok();
    assert!(why.stdout.contains("changed: lock"), "{}", why.stdout);
    assert!(
        why.stdout.contains("Cargo.lock (modified)"),
        "{}",
        why.stdout
    );
    let r = w.strata(&b, &["build"]).ok();
    assert!(!r.skeleton_built(), "{}", r.stderr);
    // The project's previous dependency layer is restored: only itoa and what depends on it
    // compile again.
    assert_eq!(
        r.compiled(),
        vec!["fx-app", "fx-core", "fx-util", "itoa"],
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("itoa v1.0.19"), "{}", r.stderr);
    assert_eq!(run_fx(&b, "debug"), EXPECTED);
}

#[test]
fn a_dummy_is_never_shipped_whatever_the_mtimes() {
    // Cold store, every source mtime 1 (older than anything built): the real binary.
    let w = World::new();
    let a = w.checkout("a");
    set_all_mtimes(&a, 1);
    w.strata(&a, &["build", "--release"]).ok();
    assert_eq!(run_fx(&a, "release"), EXPECTED);

    // Warm store, a changed source whose mtime is older than the restored artifacts (Nix):
    // still rebuilt.
    let b = w.checkout("b");
    let main = b.join("app/src/main.rs");
    let text = std::fs::read_to_string(&main)
        .unwrap()
        .replace("{} | {} | {} | {}", "{} / {} / {} / {}");
    std::fs::write(&main, text).unwrap();
    set_all_mtimes(&b, 1);
    let r = w.strata(&b, &["build", "--release"]).ok();
    assert_eq!(r.compiled(), vec!["fx-app"], "{}", r.stderr);
    assert_eq!(run_fx(&b, "release"), EXPECTED.replace(" | ", " / "));

    // Unchanged sources with mtime 1 restore as fresh.
    let c = w.checkout("c");
    set_all_mtimes(&c, 1);
    let r = w.strata(&c, &["build", "--release"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert_eq!(run_fx(&c, "release"), EXPECTED);
}

#[test]
fn clippy_and_test_in_a_clone_compile_no_dependency() {
    let w = World::new();
    let a = w.checkout("a");
    w.strata(&a, &["build"]).ok();
    let members = ["fx-app", "fx-core", "fx-util"];
    // In the first checkout, clippy and test compile what they need beyond the build, as cargo
    // would (check-mode metadata, test harnesses), and save it under their own scope.
    w.strata(&a, &["clippy", "--all-targets"]).ok();
    let r = w.strata(&a, &["test"]).ok();
    assert!(
        r.compiled().iter().all(|c| members.contains(&c.as_str())),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("test tests::greets ... ok"),
        "{}",
        r.stdout
    );

    // A fresh clone finds every unit of each command.
    let b = w.checkout("b");
    let r = w.strata(&b, &["clippy", "--all-targets"]).ok();
    assert!(
        r.compiled().iter().all(|c| members.contains(&c.as_str())),
        "{}",
        r.stderr
    );
    let r = w.strata(&b, &["test"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert!(
        r.stdout.contains("test tests::greets ... ok"),
        "{}",
        r.stdout
    );
}

#[test]
fn another_cargo_home_keeps_dependencies_fresh() {
    let w = World::new();
    let a = w.checkout("a");
    w.strata(&a, &["build"]).ok();
    // Machine B: another checkout path and an empty CARGO_HOME of its own (crates are downloaded
    // again into it; cargo's fingerprints would hash the new registry path without strata).
    let b = w.checkout("b");
    let home = w.path("other-cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    let r = w.strata_env(&b, &["build"], &[("CARGO_HOME", &home)]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert!(home.join("registry").exists(), "cargo used the other home");
    assert_eq!(run_fx(&b, "debug"), EXPECTED);
}

#[test]
fn corrupt_blob_is_caught_and_the_build_goes_on() {
    let w = World::new();
    let a = w.checkout("a");
    w.strata(&a, &["build"]).ok();
    // Flip a byte in every blob: whatever a restore reads is corrupt.
    let mut flipped = 0;
    for e in walkdir::WalkDir::new(w.store.join("blobs")) {
        let e = e.unwrap();
        if e.file_type().is_file() && e.metadata().unwrap().len() > 0 {
            let mut bytes = std::fs::read(e.path()).unwrap();
            let i = bytes.len() / 2;
            bytes[i] ^= 0x40;
            std::fs::write(e.path(), bytes).unwrap();
            flipped += 1;
        }
    }
    assert!(flipped > 0);
    let b = w.checkout("b");
    let r = w.strata(&b, &["build"]).ok();
    assert!(r.stderr.contains("warning: strata:"), "{}", r.stderr);
    assert!(r.stderr.contains("not restored"), "{}", r.stderr);
    assert_eq!(run_fx(&b, "debug"), EXPECTED);
    let v = w.strata(&b, &["store", "verify"]);
    assert_eq!(
        v.code, 4,
        "verify must report the flipped blobs as a store problem"
    );
    assert!(v.stdout.contains("corrupt"), "{}", v.stdout);
    // gc removes the corrupt objects; the store verifies clean again.
    w.strata(&b, &["store", "gc", "--max-size", "10G"]).ok();
    w.strata(&b, &["store", "verify"]).ok();
}

#[test]
fn hostile_manifest_is_rejected() {
    let w = World::new();
    let a = w.checkout("a");
    w.strata(&a, &["build"]).ok();
    // A manifest that writes outside the target dir, made by hand and named by every ref.
    let blob = walkdir::WalkDir::new(w.store.join("blobs"))
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_type().is_file())
        .unwrap();
    let blob_hex = blob
        .file_name()
        .to_string_lossy()
        .split('.')
        .next()
        .unwrap()
        .to_string();
    let json = serde_json::json!({
        "format": 1, "kind": "deps", "key": "x", "parent": null, "created_unix_secs": 0,
        "entries": [{"path": "../../escaped", "mtime": {"secs": 1, "nanos": 0},
                     "kind": {"type": "file", "blob": blob_hex, "size": 1, "executable": false}}],
        "sources": [], "meta": {}
    });
    let bytes = serde_json::to_vec(&json).unwrap();
    let id = blake3::hash(&bytes).to_hex().to_string();
    let dir = w.store.join("manifests").join(&id[..2]);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{id}.json.zst")),
        zstd::encode_all(&bytes[..], 3).unwrap(),
    )
    .unwrap();
    for e in walkdir::WalkDir::new(w.store.join("refs")) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            std::fs::write(e.path(), format!("{id}\n")).unwrap();
        }
    }
    let b = w.checkout("sub/b");
    let r = w.strata(&b, &["build"]).ok();
    assert!(r.stderr.contains("warning: strata:"), "{}", r.stderr);
    assert!(
        r.stderr.contains(".."),
        "the warning names the bad entry: {}",
        r.stderr
    );
    assert!(!w.path("escaped").exists() && !w.path("sub/escaped").exists());
    assert_eq!(run_fx(&b, "debug"), EXPECTED);
}

#[test]
fn two_builds_at_once_share_one_store() {
    let w = World::new();
    let a = w.checkout("a");
    let b = w.checkout("b");
    let (ra, rb) = std::thread::scope(|s| {
        let ha = s.spawn(|| w.strata(&a, &["build"]));
        let hb = s.spawn(|| w.strata(&b, &["build"]));
        (ha.join().unwrap(), hb.join().unwrap())
    });
    ra.ok();
    rb.ok();
    assert_eq!(run_fx(&a, "debug"), EXPECTED);
    assert_eq!(run_fx(&b, "debug"), EXPECTED);
    let v = w.strata(&a, &["store", "verify"]).ok();
    assert!(v.stdout.contains("store is clean"), "{}", v.stdout);
}

#[test]
fn broken_manifest_gives_cargos_error() {
    let w = World::new();
    let a = w.checkout("a");
    append(&a.join("util/Cargo.toml"), "\noops [\n");
    let r = w.strata(&a, &["build"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("util/Cargo.toml"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    // cargo's error once, after one short warning from strata
    assert_eq!(
        r.stderr.matches("key with no value").count(),
        1,
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("warning: strata: cargo cannot read the workspace"),
        "{}",
        r.stderr
    );
}

#[test]
fn cargo_strata_subcommand_and_store_commands() {
    let w = World::new();
    let a = w.checkout("a");
    let r = w.cargo_strata(&a, &["build", "-q"]).ok();
    assert!(
        !r.stderr.contains("Strata restored"),
        "-q keeps strata quiet: {}",
        r.stderr
    );
    assert_eq!(run_fx(&a, "debug"), EXPECTED);
    let s = w.strata(&a, &["store", "stats"]).ok();
    assert!(s.stdout.contains("manifests: 2"), "{}", s.stdout);
    w.strata(&a, &["store", "gc", "--max-size", "1"]).ok();
    let s = w.strata(&a, &["store", "stats"]).ok();
    assert!(s.stdout.contains("blobs:     0"), "{}", s.stdout);
    let bad = w.strata(&a, &["store", "gc", "--max-size", "lots"]);
    assert_eq!(bad.code, 2, "a bad size is a usage error: {}", bad.stderr);
    assert!(bad.stderr.contains("lots"), "{}", bad.stderr);
}

#[test]
fn killing_strata_mid_build_never_corrupts_the_store_or_the_target() {
    use std::os::unix::process::CommandExt;
    let w = World::new();
    let a = w.checkout("a");
    // Kill the whole process group (strata and the cargo it runs) at several points of a cold
    // build: skeleton build, save, restore, real build. Where exactly each kill lands does not
    // matter; after every one the store must verify clean.
    for (round, delay_ms) in [200u64, 700, 1500, 2500, 4000].into_iter().enumerate() {
        let dir = if round % 2 == 0 {
            a.clone()
        } else {
            w.checkout(&format!("k{round}"))
        };
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_strata"));
        c.arg("build")
            .current_dir(&dir)
            .env("STRATA_STORE", &w.store)
            .env("STRATA_CARGO_HOME_LINK", &w.link)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0);
        let mut child = c.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let pgid = child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-9", "--", &format!("-{pgid}")])
            .status();
        let _ = child.wait();
        let v = w.strata(&a, &["store", "verify"]);
        assert_eq!(
            v.code, 0,
            "after a kill at {delay_ms} ms: {}{}",
            v.stdout, v.stderr
        );
    }
    // Whatever was left half done, the next builds are correct.
    w.strata(&a, &["build"]).ok();
    assert_eq!(run_fx(&a, "debug"), EXPECTED);
    let b = w.checkout("b");
    w.strata(&b, &["build"]).ok();
    assert_eq!(run_fx(&b, "debug"), EXPECTED);
    w.strata(&b, &["store", "verify"]).ok();
}

#[test]
fn path_dependency_outside_the_workspace_root() {
    let w = World::new();
    // `../shared` from each checkout: the same relative place, as in a monorepo checkout.
    let shared = w.path("shared");
    std::fs::create_dir_all(shared.join("src")).unwrap();
    std::fs::write(
        shared.join("Cargo.toml"),
        "[package]\nname = \"fx-shared\"\nversion = \"0.3.0\"\nedition = \"2021\"\n\n[dependencies]\nitoa = \"1\"\n",
    )
    .unwrap();
    std::fs::write(
        shared.join("src/lib.rs"),
        "pub fn tag() -> &'static str { \"shared\" }\n",
    )
    .unwrap();
    let prepare = |name: &str| {
        let dir = w.checkout(name);
        append(
            &dir.join("util/Cargo.toml"),
            "fx-shared = { path = \"../../shared\" }\n",
        );
        let lib = dir.join("util/src/lib.rs");
        append(
            &lib,
            "\npub fn shared_tag() -> &'static str { fx_shared::tag() }\n",
        );
        w.cargo(&dir, &["metadata", "--format-version", "1", "--offline"])
            .ok();
        dir
    };
    let a = prepare("a");
    let r = w.strata(&a, &["build"]).ok();
    assert!(!r.stderr.contains("warning: strata"), "{}", r.stderr);
    let b = prepare("b");
    let r = w.strata(&b, &["build"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    // An edit outside the root rebuilds that package and its dependents.
    append(&shared.join("src/lib.rs"), "\npub fn more() {}\n");
    let c = prepare("c");
    let r = w.strata(&c, &["build"]).ok();
    assert_eq!(
        r.compiled(),
        vec!["fx-app", "fx-core", "fx-shared", "fx-util"],
        "{}",
        r.stderr
    );
}

#[test]
fn cargo_arguments_pass_through_and_own_flags_go_anywhere() {
    let w = World::new();
    let a = w.checkout("a");
    // `--no-save` after cargo's own arguments, and test-binary arguments after `--`.
    let r = w
        .strata(
            &a,
            &[
                "test",
                "-p",
                "fx-util",
                "--no-save",
                "--",
                "--nocapture",
                "formats",
            ],
        )
        .ok();
    assert!(
        r.stdout.contains("test tests::formats ... ok"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("1 passed"), "{}", r.stdout);
    let s = w.strata(&a, &["store", "stats"]).ok();
    assert!(
        s.stdout.contains("manifests: 0"),
        "--no-save saved nothing: {}",
        s.stdout
    );
    // `strata run` with a leading `--`.
    let r = w.strata(&a, &["run", "-q", "--bin", "fx", "--"]).ok();
    assert_eq!(r.stdout.trim(), EXPECTED);
}

#[test]
fn target_triple_from_the_environment_is_cached() {
    let w = World::new();
    let host = String::from_utf8(
        std::process::Command::new("rustc")
            .arg("-vV")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .lines()
    .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
    .unwrap();
    let triple = std::path::PathBuf::from(&host);
    let a = w.checkout("a");
    w.strata_env(&a, &["build"], &[("CARGO_BUILD_TARGET", &triple)])
        .ok();
    let b = w.checkout("b");
    let r = w
        .strata_env(&b, &["build"], &[("CARGO_BUILD_TARGET", &triple)])
        .ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert!(b.join("target").join(&host).join("debug/fx").is_file());
}

#[test]
fn a_readme_that_plain_cargo_compiled_in_stays_an_input() {
    let w = World::new();
    let a = w.checkout("a");
    w.strata(&a, &["build"]).ok();
    // Between two strata runs, plain cargo builds a unit that include_str!s a Markdown file…
    std::fs::write(a.join("util/NOTES.md"), "notes v1\n").unwrap();
    append(
        &a.join("util/src/lib.rs"),
        "\npub const NOTES: &str = include_str!(\"../NOTES.md\");\n",
    );
    // (with the CARGO_HOME strata gives cargo, so that only this unit is rebuilt: the link, and
    // fd 8 open on the real home, as in a shell set up by `strata env`)
    let home = std::env::var_os("CARGO_HOME")
        .filter(|h| !h.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".cargo"));
    let status = std::process::Command::new("sh")
        .args(["-c", "exec 8<\"$0\" && exec \"$@\""])
        .arg(&home)
        .args(["cargo", "build", "--offline", "-q"])
        .current_dir(&a)
        .env("CARGO_HOME", &w.link)
        .status()
        .unwrap();
    assert!(status.success());
    // …then the file changes: strata must not give it an old mtime from the filter's point of view.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(a.join("util/NOTES.md"), "notes v2\n").unwrap();
    let r = w.strata(&a, &["build"]).ok();
    assert!(
        r.compiled().contains(&"fx-util".to_string()),
        "{}",
        r.stderr
    );
}

#[test]
fn dependencies_cargo_built_itself_survive_a_noop_save() {
    // `strata check` compiles the check-mode dependency units in its run and saves them; a later
    // run that compiled nothing keeps them (--deps-for is accepted and means nothing here).
    let w = World::new();
    let a = w.checkout("a");
    let r = w.strata(&a, &["check", "--deps-for", "build"]).ok();
    assert!(r.compiled().contains(&"itoa".to_string()), "{}", r.stderr);
    append(&a.join("app/src/main.rs"), "\n// noop-ish edit\n");
    w.strata(&a, &["check", "--deps-for", "build"]).ok();
    let b = w.checkout("b");
    append(&b.join("app/src/main.rs"), "\n// noop-ish edit\n");
    let r = w.strata(&b, &["check", "--deps-for", "build"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
}

/// Gives fx-util a build script that names a directory in `rerun-if-changed` (as xh does with
/// `assets/syntax`) and embeds the names of the files in it.
fn with_asset_dir(checkout: &std::path::Path) {
    let util = checkout.join("util");
    std::fs::create_dir_all(util.join("assets/nested")).unwrap();
    std::fs::write(util.join("assets/one.txt"), "one\n").unwrap();
    std::fs::write(util.join("assets/nested/two.txt"), "two\n").unwrap();
    std::fs::write(
        util.join("build.rs"),
        r#"fn main() {
    println!("cargo:rerun-if-changed=assets");
    let mut names: Vec<String> = std::fs::read_dir("assets")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("assets.txt");
    std::fs::write(out, names.join(",")).unwrap();
}
"#,
    )
    .unwrap();
    append(
        &util.join("src/lib.rs"),
        "\npub const ASSETS: &str = include_str!(concat!(env!(\"OUT_DIR\"), \"/assets.txt\"));\n",
    );
}

#[test]
fn directory_in_rerun_if_changed_stays_fresh_in_a_clone_until_its_listing_changes() {
    let w = World::new();
    let a = w.checkout("a");
    with_asset_dir(&a);
    w.strata(&a, &["build"]).ok();

    // A clone gives every directory a new mtime; the directory's contents are the same.
    let b = w.checkout("elsewhere/b");
    with_asset_dir(&b);
    let r = w.strata(&b, &["build", "-v"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);

    // A file deleted from the directory runs the build script again, as on a laptop.
    let c = w.checkout("c");
    with_asset_dir(&c);
    std::fs::remove_file(c.join("util/assets/one.txt")).unwrap();
    let r = w.strata(&c, &["build", "-v"]).ok();
    assert!(
        r.compiled().contains(&"fx-util".to_string()),
        "{}",
        r.stderr
    );

    // So does a file added to it.
    let d = w.checkout("d");
    with_asset_dir(&d);
    std::fs::write(d.join("util/assets/three.txt"), "three\n").unwrap();
    let r = w.strata(&d, &["build", "-v"]).ok();
    assert!(
        r.compiled().contains(&"fx-util".to_string()),
        "{}",
        r.stderr
    );
}

#[test]
fn restored_rlibs_are_hardlinks_that_rebuilds_replace_and_never_write_through() {
    let w = World::new();
    let a = w.checkout("a");
    w.strata(&a, &["build"]).ok();
    // The save kept a's own rlibs, bin and build scripts as the store's linked copies: no
    // bytes copied.
    let saved = linked_into_store(&w, &a.join("target"));
    assert!(
        saved.iter().any(|p| p.ends_with(".rlib")),
        "a's rlibs became linked copies when saved: {saved:?}"
    );
    for name in ["debug/fx", "/build-script-build"] {
        assert!(
            saved.iter().any(|p| p.ends_with(name)),
            "{name} became a linked copy when saved: {saved:?}"
        );
    }

    let b = w.checkout("b");
    let r = w.strata(&b, &["build", "-v"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    let target = b.join("target");
    let linked = linked_into_store(&w, &target);
    assert!(
        linked.iter().any(|p| p.ends_with(".rlib")) && linked.iter().any(|p| p.ends_with(".rmeta")),
        "rlibs and rmetas are hardlinks to the store: {linked:?}"
    );
    // Only what rustc replaces (and cargo's uplifted links to it, `debug/libfx_core.rlib`), and
    // the bins and build scripts cargo deletes before linking them again: never dep-info
    // (rewritten in place), fingerprints or build script output.
    let is_build_script = |p: &str| {
        let parts: Vec<&str> = p.split('/').collect();
        parts.len() == 4
            && parts[1] == "build"
            && (parts[3] == "build-script-build" || parts[3].starts_with("build_script_build-"))
    };
    for p in &linked {
        let in_deps_or_uplifted = p.starts_with("debug/deps/") || p.matches('/').count() == 1;
        let rlib = in_deps_or_uplifted && (p.ends_with(".rlib") || p.ends_with(".rmeta"));
        let bin = p == "debug/fx" || p.starts_with("debug/deps/fx-");
        assert!(rlib || bin || is_build_script(p), "{p} must be a copy");
    }
    assert!(linked.iter().any(|p| p == "debug/fx"), "{linked:?}");
    assert!(linked.iter().any(|p| is_build_script(p)), "{linked:?}");
    assert_eq!(run_fx(&b, "debug"), EXPECTED);

    // The linked files of the units about to be rebuilt (those with an rlib: not the check units).
    let inode = |p: &Path| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).unwrap().ino()
    };
    let rebuilt_before: Vec<(String, u64)> = linked_into_store(&w, &target)
        .into_iter()
        .filter(|p| p.contains("libitoa-") || p.contains("libfx_util-"))
        .filter(|p| {
            let stem = p.trim_end_matches(".rmeta").trim_end_matches(".rlib");
            target.join(format!("{stem}.rlib")).exists()
        })
        .map(|p| {
            let ino = inode(&target.join(&p));
            (p, ino)
        })
        .collect();
    assert_eq!(rebuilt_before.len(), 4, "{rebuilt_before:?}");
    // Make cargo rebuild a dependency in place (same unit, same file names): its fingerprint
    // hash no longer matches. rustc writes new files; the store's copies stay as they were.
    // (itoa's one unit: the layers hold what `cargo build` used, no check unit.)
    let fingerprints: Vec<std::path::PathBuf> =
        std::fs::read_dir(target.join("debug/.fingerprint"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("itoa-")
            })
            .map(|dir| dir.join("lib-itoa"))
            .collect();
    assert_eq!(fingerprints.len(), 1, "{fingerprints:?}");
    for fp in fingerprints {
        std::fs::write(&fp, "0000000000000000").unwrap();
    }
    // And an edit in the workspace's deepest member: its rlib (restored as a link) is rebuilt.
    append(&b.join("util/src/lib.rs"), "\npub fn extra() {}\n");
    let r = w.strata(&b, &["build"]).ok();
    assert_eq!(
        r.compiled(),
        vec!["fx-app", "fx-core", "fx-util", "itoa"],
        "{}",
        r.stderr
    );
    // rustc replaced the linked files of the units it rebuilt: each is a new file now.
    for (path, ino) in &rebuilt_before {
        assert_ne!(
            inode(&target.join(path)),
            *ino,
            "{path} was written in place"
        );
    }
    let verify = w.strata(&b, &["store", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    assert!(
        verify.stdout.contains("store is clean"),
        "{}",
        verify.stdout
    );

    // The linked copies still restore a correct checkout.
    let c = w.checkout("c");
    let r = w.strata(&c, &["build", "-v"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert_eq!(run_fx(&c, "debug"), EXPECTED);

    // STRATA_LINK=0 copies every file.
    let d = w.checkout("d");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.arg("build").env("STRATA_LINK", "0");
    w.prepare(&mut cmd, &d);
    finish(cmd).ok();
    assert_eq!(
        linked_into_store(&w, &d.join("target")),
        Vec::<String>::new()
    );

    // gc drops linked copies no checkout uses any more, and only those.
    let copies = |w: &World| {
        walkdir::WalkDir::new(w.store.join("linked"))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .count()
    };
    let root = w.dir.path().to_path_buf();
    let c_links = linked_into_store(&w, &c.join("target"));
    assert!(!c_links.is_empty());
    let stats = w.strata(&root, &["store", "stats"]).ok();
    assert!(!stats.stdout.contains("linked:    0 "), "{}", stats.stdout);
    std::fs::remove_dir_all(&b).unwrap();
    w.strata(&root, &["store", "gc", "--max-size", "10G"]).ok();
    assert_eq!(
        linked_into_store(&w, &c.join("target")),
        c_links,
        "c keeps every link"
    );
    std::fs::remove_dir_all(&c).unwrap();
    std::fs::remove_dir_all(&a).unwrap();
    let gc = w.strata(&root, &["store", "gc", "--max-size", "10G"]).ok();
    assert!(
        gc.stdout.contains("linked copies no checkout uses"),
        "{}",
        gc.stdout
    );
    assert_eq!(copies(&w), 0);
    let stats = w.strata(&root, &["store", "stats"]).ok();
    assert!(
        stats
            .stdout
            .contains("linked:    0 (0 B on disk, 0 of them"),
        "{}",
        stats.stdout
    );
    let e = w.checkout("e");
    let r = w.strata(&e, &["build", "-v"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert!(!linked_into_store(&w, &e.join("target")).is_empty());
    let verify = w.strata(&root, &["store", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

#[test]
fn a_store_on_another_filesystem_restores_by_copying() {
    // The store on tmpfs, the checkouts on the temp dir's filesystem: no hardlink can cross, so
    // the first failed link turns linking off and every file is copied, without a warning.
    let shm = std::path::Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("skipped: no /dev/shm");
        return;
    }
    let store_dir = tempfile::tempdir_in(shm).expect("tempdir in /dev/shm");
    let mut w = World::new();
    w.store = store_dir.path().join("store");
    let a = w.checkout("a");
    w.strata(&a, &["build"]).ok();
    let b = w.checkout("b");
    let r = w.strata(&b, &["build", "-v"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    assert!(
        r.stderr.contains("restored dependency layer"),
        "{}",
        r.stderr
    );
    assert_eq!(run_fx(&b, "debug"), EXPECTED);
    let verify = w.strata(&b, &["store", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}
