//! Git dependencies in the Nix library (vendorCargoDeps): real local git repositories as the
//! dependencies' sources, a lock made by cargo, and real nix-build of the deps and the package,
//! offline, with import from derivation disabled.

mod common;
#[path = "common/nixlib.rs"]
mod nixlib;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use nixlib::*;

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Runs git in `repo` with a fixed identity and no user or system config; returns its stdout.
#[track_caller]
fn git(repo: &Path, args: &[&str]) -> String {
    let git = require_tool("git", "apt-get install git (.ci/run does this)");
    let out = Command::new(git)
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "strata test")
        .env("GIT_AUTHOR_EMAIL", "test@strata.invalid")
        .env("GIT_COMMITTER_NAME", "strata test")
        .env("GIT_COMMITTER_EMAIL", "test@strata.invalid")
        .output()
        .expect("spawn git");
    assert!(
        out.status.success(),
        "git {args:?} in {} failed:\n{}",
        repo.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn commit_all(repo: &Path, msg: &str) -> String {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", msg]);
    git(repo, &["rev-parse", "HEAD"])
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

/// A one-crate repository whose `which()` says which commit it is: an annotated tag `v1`, a
/// commit later (returned: the `rev=` target), `main` after it, and a branch `feat/dev` off main
/// (Cargo.lock writes it percent-encoded).
fn plain_repo(dir: &Path) -> String {
    std::fs::create_dir_all(dir).expect("mkdir");
    git(dir, &["init", "-q"]);
    write(
        &dir.join("Cargo.toml"),
        "[package]\nname = \"gplain\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    let which = |s: &str| {
        write(
            &dir.join("src/lib.rs"),
            &format!("pub fn which() -> &'static str {{\n    \"{s}\"\n}}\n"),
        )
    };
    which("plain at tag v1");
    commit_all(dir, "v1");
    git(dir, &["tag", "-a", "v1", "-m", "version 1"]);
    which("plain at rev");
    let rev = commit_all(dir, "rev");
    which("plain on main");
    commit_all(dir, "main");
    git(dir, &["checkout", "-q", "-b", "feat/dev"]);
    which("plain on branch feat/dev");
    commit_all(dir, "dev");
    git(dir, &["checkout", "-q", "main"]);
    rev
}

/// A repository that is a workspace: the root package `groot` inherits from its own
/// `[workspace]`; `crates/gtop` inherits its version, edition, license, lints, and its dependency
/// on `crates/gbase` (whose workspace entry has a path, a version and a feature; gtop adds one);
/// gtop's README is a symlink to the repository's. `crates/gunused` is in no lock; `tools/gtool`
/// is in no workspace (cargo finds it by walking the checkout).
fn workspace_repo(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    git(dir, &["init", "-q"]);
    write(
        &dir.join("Cargo.toml"),
        r#"[package]
name = "groot"
version.workspace = true
edition.workspace = true

[workspace]
members = ["crates/*"]
resolver = "2"

[workspace.package]
version = "0.3.0"
edition = "2021"
license = "MIT"

[workspace.dependencies]
gbase = { path = "crates/gbase", version = "0.3.0", features = ["extra"] }

[workspace.lints.rust]
unsafe_code = "forbid"
"#,
    );
    write(
        &dir.join("src/lib.rs"),
        "pub fn root() -> &'static str {\n    concat!(\"groot \", env!(\"CARGO_PKG_VERSION\"))\n}\n",
    );
    write(&dir.join("README.md"), "the workspace readme\n");
    write(
        &dir.join("crates/gbase/Cargo.toml"),
        "[package]\nname = \"gbase\"\nversion = \"0.3.0\"\nedition = \"2021\"\n\n[features]\nextra = []\nmore = []\n",
    );
    // 42 only with both features: the workspace's and the one gtop adds.
    write(
        &dir.join("crates/gbase/src/lib.rs"),
        "pub fn base() -> u32 {\n    (if cfg!(feature = \"extra\") { 40 } else { 0 }) + (if cfg!(feature = \"more\") { 2 } else { 0 })\n}\n",
    );
    write(
        &dir.join("crates/gtop/Cargo.toml"),
        r#"[package]
name = "gtop"
version.workspace = true
edition.workspace = true
license.workspace = true
readme = "README.md"

[lints]
workspace = true

[dependencies]
gbase = { workspace = true, features = ["more"] }
"#,
    );
    std::os::unix::fs::symlink("../../README.md", dir.join("crates/gtop/README.md"))
        .expect("symlink");
    write(
        &dir.join("crates/gtop/src/lib.rs"),
        "pub fn top() -> String {\n    format!(\"gtop {} {} {}\", env!(\"CARGO_PKG_VERSION\"), gbase::base(), include_str!(\"../README.md\").trim())\n}\n",
    );
    write(
        &dir.join("crates/gunused/Cargo.toml"),
        "[package]\nname = \"gunused\"\nversion.workspace = true\nedition.workspace = true\n",
    );
    write(&dir.join("crates/gunused/src/lib.rs"), "");
    write(
        &dir.join("tools/gtool/Cargo.toml"),
        "[package]\nname = \"gtool\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(
        &dir.join("tools/gtool/src/lib.rs"),
        "pub fn tool() -> &'static str {\n    \"gtool\"\n}\n",
    );
    commit_all(dir, "workspace");
}

/// A crate whose source `include_str!`s a file of a git submodule (`data/`), as cargo checks
/// submodules out for a git dependency.
fn submodule_repo(dir: &Path, data: &Path) {
    std::fs::create_dir_all(data).expect("mkdir");
    git(data, &["init", "-q"]);
    write(&data.join("data.txt"), "data from a submodule\n");
    commit_all(data, "data");
    std::fs::create_dir_all(dir).expect("mkdir");
    git(dir, &["init", "-q"]);
    write(
        &dir.join("Cargo.toml"),
        "[package]\nname = \"gsub\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(
        &dir.join("src/lib.rs"),
        "pub fn data() -> &'static str {\n    include_str!(\"../data/data.txt\").trim_ascii_end()\n}\n",
    );
    git(
        dir,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            &file_url(data),
            "data",
        ],
    );
    commit_all(dir, "with a submodule");
}

/// git refuses `file://` submodules unless told (CVE-2022-39253); the test's submodule is one.
/// `builtins.fetchGit` runs git during evaluation, so evaluation gets this.
const GIT_FILE_SUBMODULES: [(&str, &str); 3] = [
    ("GIT_CONFIG_COUNT", "1"),
    ("GIT_CONFIG_KEY_0", "protocol.file.allow"),
    ("GIT_CONFIG_VALUE_0", "always"),
];

const EXPECTED: &str = "plain on branch feat/dev | plain at tag v1 | plain at rev | gtop 0.3.0 42 the workspace readme | groot 0.3.0 | gtool | data from a submodule";

/// The workspace that depends on the three repositories (by `branch=`, `tag=`, `rev=` and by default
/// branch), with a Cargo.lock made by cargo (git only: no registry needed).
fn consumer(w: &World, plain: &Path, rev: &str, wsrepo: &Path, sub: &Path) -> PathBuf {
    let app = w.path("app");
    let (p, r, s) = (file_url(plain), file_url(wsrepo), file_url(sub));
    write(
        &app.join("Cargo.toml"),
        &format!(
            r#"[package]
name = "gitapp"
version = "0.1.0"
edition = "2021"

[dependencies]
p_branch = {{ package = "gplain", git = "{p}", branch = "feat/dev" }}
p_tag = {{ package = "gplain", git = "{p}", tag = "v1" }}
p_rev = {{ package = "gplain", git = "{p}", rev = "{short}" }}
gtop = {{ git = "{r}" }}
groot = {{ git = "{r}" }}
gtool = {{ git = "{r}" }}
gsub = {{ git = "{s}" }}
"#,
            short = &rev[..10]
        ),
    );
    write(
        &app.join("src/main.rs"),
        "fn main() {\n    println!(\"{} | {} | {} | {} | {} | {} | {}\", p_branch::which(), p_tag::which(), p_rev::which(), gtop::top(), groot::root(), gtool::tool(), gsub::data());\n}\n",
    );
    let out = Command::new("cargo")
        .arg("generate-lockfile")
        .current_dir(&app)
        .env("CARGO_HOME", w.path("cargo-home"))
        .output()
        .expect("spawn cargo");
    assert!(
        out.status.success(),
        "cargo generate-lockfile failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app
}

fn write_expr(dir: &Path) -> PathBuf {
    let file = dir.join("default.nix");
    write(
        &file,
        &format!(
            r#"let
  s = {lib};
  src = s.cleanCargoSource ./app;
  cargoArtifacts = s.buildDepsOnly {{ inherit src; }};
in
{{
  vendor = s.vendorCargoDeps {{ inherit src; }};
  dummy = s.mkDummySrc {{ inherit src; }};
  deps = cargoArtifacts;
  pkg = s.buildPackage {{ inherit src cargoArtifacts; doCheck = false; }};
}}
"#,
            lib = raw_lib()
        ),
    );
    file
}

#[test]
fn nix_git_dependencies_build_offline_from_the_locked_revisions() {
    require_nix();
    let w = World::new();
    let plain = w.path("repos/plain");
    let rev = plain_repo(&plain);
    let wsrepo = w.path("repos/wsrepo");
    workspace_repo(&wsrepo);
    let sub = w.path("repos/withsub");
    submodule_repo(&sub, &w.path("repos/subdata"));
    let app = consumer(&w, &plain, &rev, &wsrepo, &sub);
    let lock = read(app.join("Cargo.lock"));
    for q in [
        "?branch=feat%2Fdev#",
        "?tag=v1#",
        &format!("?rev={}#", &rev[..10]),
    ] {
        assert!(lock.contains(q), "the lock has no source with {q}:\n{lock}");
    }
    // Plain cargo agrees on what the program prints.
    let out = Command::new("cargo")
        .args(["run", "-q", "--offline"])
        .current_dir(&app)
        .env("CARGO_HOME", w.path("cargo-home"))
        .env("CARGO_TARGET_DIR", w.path("cargo-target"))
        .output()
        .expect("spawn cargo");
    assert!(
        out.status.success(),
        "cargo run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), EXPECTED);

    // Every function evaluates without import from derivation; evaluation fetches the repositories.
    let expr = write_expr(w.dir.path());
    let drvs = nix_instantiate_no_ifd_env(
        &expr,
        &["vendor", "dummy", "deps", "pkg"],
        &GIT_FILE_SUBMODULES,
    );
    assert_eq!(drvs.len(), 4, "{drvs:?}");

    // The builds need nothing but the store: the repositories and cargo's own git cache go away.
    std::fs::remove_dir_all(w.path("repos")).expect("rm repos");
    std::fs::remove_dir_all(w.path("cargo-home")).expect("rm cargo home");

    let vendor = nix_realise(&drvs[0]);
    let config = read(format!("{vendor}/config.toml"));
    for line in [
        "branch = \"feat/dev\"".to_string(),
        "tag = \"v1\"".to_string(),
        format!("rev = \"{}\"", &rev[..10]),
        format!("git = \"{}\"", file_url(&wsrepo)),
    ] {
        assert!(
            config.contains(&line),
            "no `{line}` in {vendor}/config.toml:\n{config}"
        );
    }
    let vendored = |name: &str| -> Vec<PathBuf> {
        walkdir::WalkDir::new(format!("{vendor}/git"))
            .min_depth(2)
            .max_depth(2)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy() == name)
            .map(|e| e.path().to_path_buf())
            .collect()
    };
    assert_eq!(vendored("gplain-0.1.0").len(), 3, "one gplain per ref");
    assert!(
        vendored("gunused-0.3.0").is_empty(),
        "a crate in no lock was vendored"
    );
    let gtop = vendored("gtop-0.3.0");
    assert_eq!(gtop.len(), 1);
    let manifest = read(gtop[0].join("Cargo.toml"));
    assert!(
        !manifest.contains("workspace") && manifest.contains("version = \"0.3.0\""),
        "gtop's vendored manifest is not self-contained:\n{manifest}"
    );
    assert!(
        !gtop[0]
            .join("README.md")
            .symlink_metadata()
            .expect("README.md")
            .file_type()
            .is_symlink(),
        "gtop's README is still a symlink out of the crate"
    );
    assert_eq!(
        read(gtop[0].join(".cargo-checksum.json")),
        "{\"files\":{},\"package\":null}"
    );

    let deps = nix_realise(&drvs[2]);
    assert!(Path::new(&deps).join("refs/deps").is_dir(), "{deps}");
    let pkg = nix_realise(&drvs[3]);
    let out = Command::new(format!("{pkg}/bin/gitapp"))
        .output()
        .expect("run gitapp");
    assert!(out.status.success(), "gitapp failed");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), EXPECTED);
    // The vendored git sources' paths are scrubbed from the binary as the registry crates' are.
    assert_eq!(nix_references(&pkg), Vec::<String>::new());

    // The package restored the deps layer: no git dependency compiled again.
    let log = read(format!("{pkg}/share/strata/cargo.log"));
    assert!(log.contains("Strata restored 1 layer"), "{log}");
    let names = compiled_names(&log);
    assert_eq!(names, vec!["gitapp".to_string()], "{log}");
}

#[test]
fn nix_git_package_missing_from_its_repository_is_a_clear_evaluation_error() {
    require_nix();
    let w = World::new();
    let plain = w.path("repos/plain");
    let rev = plain_repo(&plain);
    let wsrepo = w.path("repos/wsrepo");
    workspace_repo(&wsrepo);
    let sub = w.path("repos/withsub");
    submodule_repo(&sub, &w.path("repos/subdata"));
    let app = consumer(&w, &plain, &rev, &wsrepo, &sub);
    // A lock that names a package the repository does not have (as after a rename upstream).
    let lock = app.join("Cargo.lock");
    write(
        &lock,
        &read(&lock).replace("name = \"gtop\"", "name = \"gghost\""),
    );
    let expr = write_expr(w.dir.path());
    let out = Command::new("nix-instantiate")
        .args(["--option", "allow-import-from-derivation", "false"])
        .envs(GIT_FILE_SUBMODULES)
        .arg(&expr)
        .args(["-A", "vendor"])
        .output()
        .expect("spawn nix-instantiate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "evaluation succeeded");
    assert!(
        stderr.contains(&format!("gghost 0.3.0 is not in {}", file_url(&wsrepo))),
        "{stderr}"
    );
}
