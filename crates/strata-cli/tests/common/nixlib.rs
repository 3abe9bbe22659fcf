//! Helpers for the Nix tests: real nix-build (Debian nix-bin, sandbox off) with the library in
//! ../../nix on raw derivations, the host toolchain and the strata binary under test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Fails the test with a clear message when a Nix tool is missing.
pub fn require_nix() {
    crate::common::tools::require_nix_tools();
}

/// The Nix library of this repository.
pub fn nix_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../nix")
        .canonicalize()
        .expect("nix/ in the repository")
}

/// The host toolchain directory (holds bin/cargo, bin/rustc).
pub fn toolchain() -> String {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc");
    assert!(out.status.success(), "rustc --print sysroot failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn strata_bin() -> String {
    env!("CARGO_BIN_EXE_strata").to_string()
}

/// `import <repo>/nix { … }`: the library without nixpkgs.
pub fn raw_lib() -> String {
    format!(
        "import {} {{ rustToolchain = \"{}\"; strata = \"{}\"; }}",
        nix_dir().display(),
        toolchain(),
        strata_bin()
    )
}

/// Every nix command here builds as the calling user (nixbld users cannot read the rustup
/// toolchain under /root) and asks no binary cache (no network but static.crates.io).
#[track_caller]
fn nix_command(tool: &str) -> Command {
    let mut c = Command::new(crate::common::require_tool(
        tool,
        "apt-get install nix-bin (.ci/run does this)",
    ));
    c.args(["--option", "build-users-group", ""])
        .args(["--option", "substituters", ""])
        // Crate fetches are many small downloads: run them side by side.
        .args(["--option", "max-jobs", "4"]);
    c
}

pub struct Built {
    /// The output path.
    pub out: String,
    pub stderr: String,
    /// Names of the derivations built in this call (`<name>.drv`, without the store hash).
    pub built: Vec<String>,
}

impl Built {
    /// Whether a derivation whose name ends with `suffix` was built in this call.
    pub fn built_any(&self, suffix: &str) -> bool {
        self.built.iter().any(|n| n.ends_with(suffix))
    }
}

/// `nix-build FILE -A ATTR --no-out-link`; panics with nix's output when it fails.
#[track_caller]
pub fn nix_build(file: &Path, attr: &str) -> Built {
    let out = nix_command("nix-build")
        .arg(file)
        .args(["-A", attr, "--no-out-link"])
        .output()
        .expect("spawn nix-build");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "nix-build {} -A {attr} failed:\n{stderr}",
        file.display()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout.lines().last().unwrap_or_default().trim().to_string();
    assert!(
        path.starts_with("/nix/store/"),
        "nix-build printed no store path: {stdout}\n{stderr}"
    );
    Built {
        out: path,
        built: built_drvs(&stderr),
        stderr,
    }
}

/// `nix-build` expected to fail: returns its stderr.
#[track_caller]
pub fn nix_build_fails(file: &Path, attr: &str) -> String {
    let out = nix_command("nix-build")
        .arg(file)
        .args(["-A", attr, "--no-out-link"])
        .output()
        .expect("spawn nix-build");
    assert!(!out.status.success(), "nix-build -A {attr} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs a command in the dev shell of `attr` and returns its stdout.
#[track_caller]
pub fn nix_shell_run(file: &Path, attr: &str, cmd: &str) -> String {
    let out = nix_command("nix-shell")
        .arg(file)
        .args(["-A", attr, "--run", cmd])
        .output()
        .expect("spawn nix-shell");
    assert!(
        out.status.success(),
        "nix-shell -A {attr} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `nix-instantiate --parse FILE` succeeds.
#[track_caller]
pub fn nix_parse(file: &Path) {
    let out = Command::new(crate::common::require_tool(
        "nix-instantiate",
        "apt-get install nix-bin (.ci/run does this)",
    ))
    .arg("--parse")
    .arg(file)
    .output()
    .expect("spawn nix-instantiate");
    assert!(
        out.status.success(),
        "{} does not parse:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn built_drvs(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("building '"))
        .filter_map(|rest| rest.split('\'').next())
        .map(|p| {
            let base = p.rsplit('/').next().unwrap_or(p);
            base.split_once('-').map_or(base, |(_, n)| n).to_string()
        })
        .collect()
}

/// Package names in cargo's `Compiling`/`Checking`/`Documenting` lines of a log.
pub fn compiled_names(log: &str) -> Vec<String> {
    strata_cargo::compiled_units(log)
        .into_iter()
        .map(|u| u.split(' ').next().unwrap_or("").to_string())
        .collect()
}

pub fn read(path: impl AsRef<Path>) -> String {
    let p = path.as_ref();
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The store paths an output refers to (`nix-store -q --references`), itself excluded.
pub fn nix_references(path: &str) -> Vec<String> {
    let out = Command::new(crate::common::require_tool(
        "nix-store",
        "apt-get install nix-bin (.ci/run does this)",
    ))
    .args(["-q", "--references", path])
    .output()
    .expect("nix-store");
    assert!(
        out.status.success(),
        "nix-store -q --references {path} failed"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| *l != path)
        .map(str::to_string)
        .collect()
}

/// `nix-build FILE -A ATTR` with import from derivation disabled: evaluation may build nothing.
/// Returns the output path.
#[track_caller]
pub fn nix_build_no_ifd(file: &Path, attr: &str) -> String {
    let out = nix_command("nix-build")
        .args(["--option", "allow-import-from-derivation", "false"])
        .arg(file)
        .args(["-A", attr, "--no-out-link"])
        .output()
        .expect("spawn nix-build");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nix-build {} -A {attr} (IFD off) failed:\n{stderr}",
        file.display()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().last().unwrap_or_default().trim().to_string()
}

/// `nix-instantiate FILE -A ATTR…` with import from derivation disabled; returns the .drv paths in
/// the order of `attrs`. Panics with nix's output when evaluation fails.
#[track_caller]
pub fn nix_instantiate_no_ifd(file: &Path, attrs: &[&str]) -> Vec<String> {
    nix_instantiate_no_ifd_env(file, attrs, &[])
}

/// `nix_instantiate_no_ifd` with extra environment variables (for the git that
/// `builtins.fetchGit` runs during evaluation, say).
#[track_caller]
pub fn nix_instantiate_no_ifd_env(
    file: &Path,
    attrs: &[&str],
    envs: &[(&str, &str)],
) -> Vec<String> {
    let mut c = nix_command("nix-instantiate");
    c.args(["--option", "allow-import-from-derivation", "false"])
        .envs(envs.iter().copied())
        .arg(file);
    for a in attrs {
        c.args(["-A", a]);
    }
    let out = c.output().expect("spawn nix-instantiate");
    assert!(
        out.status.success(),
        "nix-instantiate {} {attrs:?} with allow-import-from-derivation = false failed:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| l.ends_with(".drv"))
        .collect()
}

/// `nix-instantiate --eval FILE -A ATTR` (import from derivation disabled) of a string attribute.
#[track_caller]
pub fn nix_eval_string_no_ifd(file: &Path, attr: &str) -> String {
    let out = nix_command("nix-instantiate")
        .args(["--option", "allow-import-from-derivation", "false"])
        .args(["--eval", "--json"])
        .arg(file)
        .args(["-A", attr])
        .output()
        .expect("spawn nix-instantiate");
    assert!(
        out.status.success(),
        "nix-instantiate --eval {} -A {attr} failed:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON string")
}

/// A Nix expression that calls the outputs function of `./ws/flake.nix` (as `strata nix init`
/// writes it) with stand-ins, the strata input's mkLib giving the raw library: the package, the
/// checks and the dev shell, as attributes.
pub fn flake_outputs_eval() -> String {
    format!(
        r#"let
  flake = import ./ws/flake.nix;
  raw = {};
  out = flake.outputs {{
    self = {{ }};
    nixpkgs = {{ legacyPackages.x86_64-linux = {{ }}; }};
    strata = {{ lib.mkLib = pkgs: raw; }};
  }};
in
{{
  pkg = out.packages.x86_64-linux.default;
  inherit (out.checks.x86_64-linux) clippy nextest doc fmt;
  shell = out.devShells.x86_64-linux.default;
}}
"#,
        raw_lib()
    )
}

/// `nix-store --realise DRV` (a derivation instantiated earlier): builds it without evaluating
/// anything. Returns the output path; panics with nix's output when the build fails.
#[track_caller]
pub fn nix_realise(drv: &str) -> String {
    let out = nix_command("nix-store")
        .args(["--realise", drv])
        .output()
        .expect("spawn nix-store");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nix-store --realise {drv} failed:\n{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().last().unwrap_or_default().trim().to_string()
}
