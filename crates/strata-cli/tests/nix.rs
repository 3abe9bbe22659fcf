//! The Nix library (nix/) with real nix-build on the fixture workspace: raw derivations, the host
//! toolchain, crates fetched from static.crates.io as fixed-output derivations.

mod common;
#[path = "common/nixlib.rs"]
mod nixlib;
#[path = "common/serve.rs"]
mod serve;

use std::path::Path;
use std::process::Command;

use common::*;
use nixlib::*;
use serve::{PUSH_TOKEN, Serve};

const DEPS: [&str; 3] = ["itoa", "semver", "anyhow"];
const MEMBERS: [&str; 3] = ["fx-util", "fx-core", "fx-app"];

/// The expression of the fixture's outputs, as a user would write them. The fixture's core crate
/// `include_str!`s its README, which the default filter drops, so it is added back.
fn write_expr(dir: &Path, lib: &str) -> std::path::PathBuf {
    // A file unique to this run (kept by the filter, read by no crate): the package and the checks
    // build in every run instead of coming from an earlier run's store paths. The deps
    // derivation does not see it, by design.
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
in
{{
  deps = cargoArtifacts;
  pkg = s.buildPackage {{ inherit src cargoArtifacts; doCheck = false; }};
  clippy = s.cargoClippy {{ inherit src cargoArtifacts; cargoClippyExtraArgs = "--all-targets -- -D warnings"; }};
  test = s.cargoTest {{ inherit src cargoArtifacts; }};
  nextest = s.cargoNextest {{ inherit src cargoArtifacts; }};
  doc = s.cargoDoc {{ inherit src cargoArtifacts; }};
  fmt = s.cargoFmt {{ inherit src; }};
  build = s.cargoBuild {{ inherit src cargoArtifacts; }};
  shell = s.devShell {{ inherit src; }};
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

#[track_caller]
fn assert_no_dependency_compiled(log: &str, what: &str) {
    let names = compiled_names(log);
    for d in DEPS {
        assert!(
            !names.iter().any(|n| n == d),
            "{what} recompiled dependency {d}: {names:?}\n{log}"
        );
    }
}

fn bump_versions(ws: &Path, from: &str, to: &str) {
    let toml = ws.join("Cargo.toml");
    std::fs::write(
        &toml,
        read(&toml).replace(&format!("\"{from}\""), &format!("\"{to}\"")),
    )
    .expect("write Cargo.toml");
    let lock = ws.join("Cargo.lock");
    let mut text = read(&lock);
    for m in MEMBERS {
        text = text.replace(
            &format!("name = \"{m}\"\nversion = \"{from}\""),
            &format!("name = \"{m}\"\nversion = \"{to}\""),
        );
    }
    std::fs::write(&lock, text).expect("write Cargo.lock");
}

#[test]
fn nix_deps_derivation_survives_edits_and_feeds_package_and_checks() {
    require_nix();
    let w = World::new();
    let ws = w.checkout("ws");
    let expr = write_expr(w.dir.path(), &raw_lib());

    let deps = nix_build(&expr, "deps");
    assert!(
        Path::new(&deps.out).join("refs/deps").is_dir(),
        "the deps output is a strata store with a deps ref: {}",
        deps.out
    );
    let pkg = nix_build(&expr, "pkg");
    assert!(
        !pkg.built_any("-deps.drv"),
        "the package rebuilt the deps: {:?}",
        pkg.built
    );
    let fx = run_bin(&format!("{}/bin/fx", pkg.out));
    assert!(fx.contains("core readme v1"), "{fx}");
    // The vendored sources' hash is replaced in the binary: no reference, a small closure.
    assert_eq!(nix_references(&pkg.out), Vec::<String>::new());
    let log = read(format!("{}/share/strata/cargo.log", pkg.out));
    assert_no_dependency_compiled(&log, "the package");
    // The deps key strata computes on the full sources equals the one of the skeleton build.
    assert!(log.contains("Strata restored 1 layer"), "{log}");
    assert!(
        compiled_names(&log).contains(&"fx-app".to_string()),
        "{log}"
    );

    // A one-line .rs edit: the deps derivation stays; only the package builds, without deps.
    let util = ws.join("util/src/lib.rs");
    std::fs::write(
        &util,
        read(&util).replace("/// Formats a number", "/// Formats a number (edited)"),
    )
    .expect("edit util");
    let deps2 = nix_build(&expr, "deps");
    assert_eq!(
        deps2.out, deps.out,
        "a .rs edit changed the deps derivation"
    );
    assert!(!deps2.built_any("-deps.drv"), "{:?}", deps2.built);
    let pkg2 = nix_build(&expr, "pkg");
    assert_ne!(pkg2.out, pkg.out);
    assert!(pkg2.built_any("-0.1.0.drv"), "{:?}", pkg2.built);
    assert!(!pkg2.built_any("-deps.drv"), "{:?}", pkg2.built);
    let log2 = read(format!("{}/share/strata/cargo.log", pkg2.out));
    assert_no_dependency_compiled(&log2, "the package after a .rs edit");
    assert!(compiled_names(&log2).contains(&"fx-util".to_string()));

    // A README edit: no store path changes, nothing builds.
    append(&ws.join("README.md"), "\nanother line\n");
    let deps3 = nix_build(&expr, "deps");
    let pkg3 = nix_build(&expr, "pkg");
    assert_eq!(deps3.out, deps.out, "a README edit changed the deps");
    assert_eq!(pkg3.out, pkg2.out, "a README edit changed the package");
    assert!(pkg3.built.is_empty(), "built: {:?}", pkg3.built);

    // Every member's version bumped: the deps derivation stays.
    bump_versions(&ws, "0.1.0", "0.2.0");
    let deps4 = nix_build(&expr, "deps");
    assert_eq!(deps4.out, deps.out, "a version bump changed the deps");
    let pkg4 = nix_build(&expr, "pkg");
    assert!(pkg4.out.ends_with("-0.2.0"), "{}", pkg4.out);
    assert!(!pkg4.built_any("-deps.drv"), "{:?}", pkg4.built);
    assert_no_dependency_compiled(
        &read(format!("{}/share/strata/cargo.log", pkg4.out)),
        "the package after a version bump",
    );

    // The checks restore the same deps output: none recompiles a dependency.
    for check in ["clippy", "test", "nextest", "doc", "build"] {
        let b = nix_build(&expr, check);
        assert!(!b.built_any("-deps.drv"), "{check}: {:?}", b.built);
        let log = read(format!("{}/cargo.log", b.out));
        assert_no_dependency_compiled(&log, check);
        assert!(
            compiled_names(&log).iter().any(|n| n == "fx-core"),
            "{check} did not build fx-core:\n{log}"
        );
    }
    // Inside Nix builds strata copies every file (NIX_BUILD_TOP is set): no linked copies are
    // made in the deps output, no cache (which would name the build dir), and its contents are
    // still what Nix registered.
    for dir in ["linked", "cache"] {
        assert!(
            !Path::new(&deps.out).join(dir).exists(),
            "{dir} under {}",
            deps.out
        );
    }
    let verify = std::process::Command::new("nix-store")
        .args(["--verify-path", &deps.out])
        .output()
        .expect("nix-store --verify-path");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let clippy_log = read(format!("{}/cargo.log", nix_build(&expr, "clippy").out));
    assert!(clippy_log.contains("Checking fx-core"), "{clippy_log}");
    let doc = nix_build(&expr, "doc");
    assert!(
        Path::new(&doc.out)
            .join("share/doc/fx_core/index.html")
            .is_file()
    );
    nix_build(&expr, "fmt");
    // cargoBuild's output is a store holding the crate layer as well.
    let build = nix_build(&expr, "build");
    assert!(Path::new(&build.out).join("refs/crates").is_dir());
    for dir in ["linked", "cache"] {
        assert!(
            !Path::new(&build.out).join(dir).exists(),
            "no {dir} (uncompressed copies, caches naming the build dir) in a store that is a Nix output"
        );
    }
}

#[test]
fn nix_fmt_check_fails_on_unformatted_code() {
    require_nix();
    let w = World::new();
    let ws = w.checkout("ws");
    append(
        &ws.join("util/src/lib.rs"),
        "\npub fn   badly_formatted( ) {}\n",
    );
    let expr = write_expr(w.dir.path(), &raw_lib());
    let err = nix_build_fails(&expr, "fmt");
    assert!(err.contains("badly_formatted"), "{err}");
}

#[test]
fn nix_dev_shell_sets_incremental_shared_target_and_linker() {
    require_nix();
    let w = World::new();
    w.checkout("ws");
    let expr = write_expr(w.dir.path(), &raw_lib());
    let out = nix_shell_run(
        &expr,
        "shell",
        "echo \"inc=$CARGO_INCREMENTAL target=$CARGO_TARGET_DIR flags=$RUSTFLAGS\"; command -v cargo strata",
    );
    assert!(out.contains("inc=1"), "{out}");
    assert!(out.contains("/strata/target/workspace"), "{out}");
    assert!(out.contains("flags=-C link-arg=-fuse-ld=mold"), "{out}");
    assert!(out.contains("/bin/cargo"), "{out}");
    assert!(out.lines().any(|l| l.ends_with("/strata")), "{out}");
}

#[test]
fn nix_vendor_rejects_other_registries_at_evaluation() {
    require_nix();
    let w = World::new();
    let dir = w.path("otherregistry");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("Cargo.lock"),
        "version = 3\n\n[[package]]\nname = \"foo\"\nversion = \"0.1.0\"\nsource = \"registry+https://example.invalid/index\"\nchecksum = \"0000000000000000000000000000000000000000000000000000000000000000\"\n",
    )
    .expect("write lock");
    std::fs::write(
        dir.join("default.nix"),
        format!(
            "{{ v = ({}).vendorCargoDeps {{ cargoLock = ./Cargo.lock; }}; }}",
            raw_lib()
        ),
    )
    .expect("write expr");
    let err = nix_build_fails(&dir.join("default.nix"), "v");
    assert!(
        err.contains("foo 0.1.0 comes from registry+https://example.invalid/index")
            && err.contains("only crates.io and git dependencies are supported"),
        "{err}"
    );
}

#[test]
fn nix_init_writes_a_flake_that_parses_and_builds_with_the_raw_library() {
    require_nix();
    let w = World::new();
    let ws = w.checkout("ws");
    // The generated flake uses cleanCargoSource, which drops READMEs: compile in a kept file.
    std::fs::write(ws.join("core/banner.txt"), "core banner\n").expect("write");
    // Unique to this run: the flake's package and checks build in every run.
    std::fs::write(ws.join("run-nonce.txt"), ws.display().to_string()).expect("nonce");
    let lib_rs = ws.join("core/src/lib.rs");
    std::fs::write(
        &lib_rs,
        read(&lib_rs).replace("../README.md", "../banner.txt"),
    )
    .expect("write");

    w.strata(&ws, &["nix", "init"]).ok();
    let flake = ws.join("flake.nix");
    nix_parse(&flake);
    let text = read(&flake);
    assert!(text.contains("pname = \"fx-app\"") || text.contains("pname = \"ws\""));
    let again = w.strata(&ws, &["nix", "init"]);
    assert_ne!(again.code, 0, "a second init must not overwrite flake.nix");
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(read(&flake), text);

    // The flake's outputs function, called with stand-ins: the strata input's mkLib gives the
    // raw library, so the very expressions `strata nix init` wrote are built.
    let eval = w.path("eval.nix");
    std::fs::write(&eval, flake_outputs_eval()).expect("write eval.nix");
    let pkg = nix_build(&eval, "pkg");
    assert!(run_bin(&format!("{}/bin/fx", pkg.out)).contains("core banner"));
    for check in ["clippy", "fmt"] {
        let b = nix_build(&eval, check);
        assert_no_dependency_compiled(&read(format!("{}/cargo.log", b.out)), check);
    }
}

fn standin_pkgs() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nix/standin-pkgs.nix")
}

/// `mkLib pkgs` on a stand-in for the few nixpkgs attributes it uses (tests/fixtures/nix): proves
/// the nixpkgs path evaluates and builds over the same core.
#[test]
fn nix_mklib_builds_against_a_stand_in_for_nixpkgs() {
    require_nix();
    let w = World::new();
    let ws = w.checkout("ws");
    std::fs::write(ws.join("run-nonce.txt"), ws.display().to_string()).expect("nonce");
    let file = w.path("standin.nix");
    std::fs::write(
        &file,
        format!(
            r#"let
  pkgs = import {standin} {{ tc = "{tc}"; strataBin = "{strata}"; }};
  s = import {nix}/mkLib.nix pkgs;
  src = builtins.path {{
    path = ./ws;
    name = "source";
    filter = p: t: s.filterCargoSources p t
      || (baseNameOf p == "README.md" && baseNameOf (dirOf p) == "core");
  }};
  cargoArtifacts = s.buildDepsOnly {{ inherit src; }};
in
{{
  pkg = s.buildPackage {{ inherit src cargoArtifacts; }};
  clippy = s.cargoClippy {{ inherit src cargoArtifacts; }};
  shell = s.devShell {{ inherit src; linker = "lld"; }};
  overridden = (s.overrideToolchain "{tc}").cargoFmt {{ inherit src; }};
}}
"#,
            tc = toolchain(),
            strata = strata_bin(),
            nix = nix_dir().display(),
            standin = standin_pkgs().display(),
        ),
    )
    .expect("write standin.nix");
    assert!(ws.is_dir());
    let pkg = nix_build(&file, "pkg");
    assert!(run_bin(&format!("{}/bin/fx", pkg.out)).contains("core readme v1"));
    let log = read(format!("{}/share/strata/cargo.log", pkg.out));
    assert_no_dependency_compiled(&log, "the nixpkgs-path package");
    // doCheck defaults to true, as in crane: the tests ran.
    assert!(log.contains("test result: ok"), "{log}");
    nix_build(&file, "clippy");
    nix_build(&file, "overridden");
    nix_build(&file, "shell");
}

/// The repository's own flake.nix (dogfooding) evaluates over the library: its outputs function
/// with nixpkgs replaced by the stand-in. Instantiating the package builds the skeleton of this
/// very workspace (import-from-derivation), so vendoring and `strata skeleton` run on it for real.
#[test]
fn nix_repository_flake_instantiates_with_the_library() {
    require_nix();
    let w = World::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let file = w.path("flake-eval.nix");
    std::fs::write(
        &file,
        format!(
            r#"let
  pkgs = import {standin} {{ tc = "{tc}"; strataBin = "{strata}"; }};
  flake = import {repo}/flake.nix;
  out = flake.outputs {{
    self = {{ }};
    nixpkgs = {{
      lib.genAttrs = names: f: builtins.listToAttrs (map (n: {{ name = n; value = f n; }}) names);
      legacyPackages.x86_64-linux = pkgs;
      legacyPackages.aarch64-linux = pkgs;
    }};
  }};
in
{{
  pkg = out.packages.x86_64-linux.default;
  inherit (out.checks.x86_64-linux) clippy doc fmt;
  shell = out.devShells.x86_64-linux.default;
  mkLib = out.lib.mkLib;
}}
"#,
            standin = standin_pkgs().display(),
            tc = toolchain(),
            strata = strata_bin(),
            repo = repo.canonicalize().expect("repo").display(),
        ),
    )
    .expect("write flake-eval.nix");
    // One evaluation for every attribute: the repository is added to the store once.
    let attrs = ["pkg", "clippy", "doc", "fmt", "shell"];
    let mut c = Command::new("nix-instantiate");
    c.args([
        "--option",
        "build-users-group",
        "",
        "--option",
        "substituters",
        "",
    ])
    .args(["--option", "max-jobs", "4"])
    .arg(&file);
    for a in attrs {
        c.args(["-A", a]);
    }
    let out = c.output().expect("nix-instantiate");
    assert!(
        out.status.success(),
        "the repository flake does not instantiate:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let drvs = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with(".drv"))
        .count();
    assert_eq!(
        drvs,
        attrs.len(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The deps derivation builds the skeleton, while buildPackage builds the real sources: both must
/// give the same deps key, which holds because the skeleton of a skeleton is the skeleton.
#[test]
fn skeleton_of_the_skeleton_is_the_skeleton() {
    let w = World::new();
    let ws = w.checkout("ws");
    let one = w.path("one");
    let two = w.path("two");
    w.strata(
        &ws,
        &[
            "skeleton",
            "--out",
            one.to_str().expect("utf-8"),
            "--",
            "--offline",
        ],
    )
    .ok();
    w.strata(
        &one,
        &[
            "skeleton",
            "--out",
            two.to_str().expect("utf-8"),
            "--",
            "--offline",
        ],
    )
    .ok();
    let files = |root: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(root)
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
            .collect();
        v.sort();
        v
    };
    let a = files(&one);
    assert!(a.iter().any(|(p, _)| p == "Cargo.lock"), "{a:?}");
    assert!(a.iter().any(|(p, _)| p == "core/src/lib.rs"));
    assert_eq!(a, files(&two));
    // The real sources are not in it, and the versions are masked.
    assert!(!read(one.join("core/src/lib.rs")).contains("include_str"));
    assert!(read(one.join("Cargo.toml")).contains("0.0.0"));

    // A non-empty --out is refused, and nothing is written into it.
    let r = w.strata(&ws, &["skeleton", "--out", one.to_str().expect("utf-8")]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("not empty"), "{}", r.stderr);
}

/// The remote cache's Nix side: a package built by the Nix library, pushed by strata into
/// `strata serve`, is substituted by real Nix into a second store, signature checked.
#[test]
fn nix_package_output_substitutes_from_strata_serve() {
    require_nix();
    let w = World::new();
    w.checkout("ws");
    let expr = write_expr(w.dir.path(), &raw_lib());
    let pkg = nix_build(&expr, "pkg");

    let keys = w.path("keys");
    let strata = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(args)
            .env("STRATA_REMOTE_TOKEN", PUSH_TOKEN)
            .output()
            .expect("run strata");
        assert!(
            out.status.success(),
            "strata {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    strata(&[
        "nix",
        "cache",
        "key",
        "generate",
        "--name",
        "strata-nix-test-1",
        "--out",
        keys.to_str().unwrap(),
    ]);
    let public = read(keys.join("strata-nix-test-1.public"));
    let server = Serve::start(&w.path("served"));
    strata(&[
        "nix",
        "cache",
        "push",
        "--closure",
        "--to",
        &server.url,
        "--key",
        keys.join("strata-nix-test-1.secret").to_str().unwrap(),
        &pkg.out,
    ]);

    let store2 = w.path("store2");
    let out = Command::new("nix-store")
        .env("XDG_CACHE_HOME", w.path("xdg-cache"))
        .arg("--store")
        .arg(&store2)
        .args(["--realise", &pkg.out])
        .args(["--option", "substituters", &format!("{}/nix", server.url)])
        .args(["--option", "trusted-public-keys", public.trim()])
        .args(["--option", "require-sigs", "true"])
        .output()
        .expect("run nix-store");
    assert!(
        out.status.success(),
        "nix-store --realise from strata serve failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fx = store2.join(pkg.out.trim_start_matches('/')).join("bin/fx");
    assert_eq!(
        run_bin(fx.to_str().unwrap()),
        run_bin(&format!("{}/bin/fx", pkg.out)),
        "the substituted package runs as the built one"
    );
    assert_eq!(
        std::fs::read(&fx).unwrap(),
        std::fs::read(format!("{}/bin/fx", pkg.out)).unwrap()
    );
}
