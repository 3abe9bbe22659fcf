//! Test harness: real cargo builds of real workspaces, driven through the `strata` binary.
#![allow(dead_code)]

pub mod machine;
pub mod tools;

pub use tools::require_tool;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One test's world: a store, a canonical cargo-home link and checkouts in a temp dir.
pub struct World {
    pub dir: tempfile::TempDir,
    pub store: PathBuf,
    pub link: PathBuf,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "command failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Package names cargo compiled (Compiling/Checking lines), excluding the dependency build on
    /// the skeleton (which strata announces first and whose paths are in a temp skeleton dir).
    pub fn compiled(&self) -> Vec<String> {
        let mut names: Vec<String> = strata_cargo::compiled_units(&self.stderr)
            .into_iter()
            .filter(|u| !u.contains("strata-skeleton-"))
            .map(|u| u.split(' ').next().unwrap_or("").to_string())
            .collect();
        names.sort();
        names
    }

    /// Units compiled as part of building the dependency layer from the skeleton.
    pub fn skeleton_built(&self) -> bool {
        self.stderr.contains("building the dependency layer")
    }
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("store");
        let link = dir.path().join("cargo-home-link");
        World { dir, store, link }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A fresh checkout of the fixture workspace (new mtimes, no target dir), as a clone gives.
    pub fn checkout(&self, name: &str) -> PathBuf {
        let dest = self.path(name);
        copy_tree(&fixture(), &dest);
        dest
    }

    pub fn strata(&self, cwd: &Path, args: &[&str]) -> Run {
        self.strata_env(cwd, args, &[])
    }

    pub fn strata_env(&self, cwd: &Path, args: &[&str], envs: &[(&str, &Path)]) -> Run {
        let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
        c.args(args);
        self.run(c, cwd, envs)
    }

    pub fn cargo_strata(&self, cwd: &Path, args: &[&str]) -> Run {
        // cargo finds `cargo-strata` on PATH and runs it as `cargo-strata strata …`.
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_cargo-strata"))
            .parent()
            .expect("bin dir")
            .to_path_buf();
        let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))
        .expect("PATH");
        let mut c = Command::new("cargo");
        c.arg("strata").args(args).env("PATH", path);
        self.run(c, cwd, &[])
    }

    pub fn cargo(&self, cwd: &Path, args: &[&str]) -> Run {
        let mut c = Command::new("cargo");
        c.args(args);
        self.run(c, cwd, &[])
    }

    fn run(&self, mut c: Command, cwd: &Path, envs: &[(&str, &Path)]) -> Run {
        self.prepare(&mut c, cwd);
        for (k, v) in envs {
            c.env(k, v);
        }
        finish(c)
    }

    /// This world's environment for `c`: its store and cargo-home link, and none of the
    /// caller's settings that would change what cargo builds.
    pub fn prepare(&self, c: &mut Command, cwd: &Path) {
        c.current_dir(cwd)
            .env("STRATA_STORE", &self.store)
            .env("STRATA_CARGO_HOME_LINK", &self.link)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_INCREMENTAL")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("STRATA_DEV")
            .env("CARGO_TERM_COLOR", "never");
    }
}

/// Files under `dir` (recursively) that share an inode with a linked copy in the store.
pub fn linked_into_store(w: &World, dir: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let inodes: std::collections::HashSet<(u64, u64)> =
        walkdir::WalkDir::new(w.store.join("linked"))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .filter_map(|e| e.metadata().ok().map(|m| (m.dev(), m.ino())))
            .collect();
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            e.metadata()
                .is_ok_and(|m| inodes.contains(&(m.dev(), m.ino())))
        })
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect();
    out.sort();
    out
}

/// Runs `c` to completion and keeps what it printed.
pub fn finish(mut c: Command) -> Run {
    let out: Output = c.output().expect("spawn");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workspace")
}

/// Copy a tree without `target/`, giving every file a new mtime.
pub fn copy_tree(src: &Path, dest: &Path) {
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.expect("walk");
        let rel = entry.path().strip_prefix(src).expect("prefix");
        if rel.starts_with("target") {
            continue;
        }
        let to = dest.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &to).expect("copy");
        }
    }
}

/// Set every file's mtime under `dir` (except target/) to `secs`, as Nix does with 1.
pub fn set_all_mtimes(dir: &Path, secs: i64) {
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.expect("walk");
        if entry
            .path()
            .strip_prefix(dir)
            .expect("prefix")
            .starts_with("target")
        {
            continue;
        }
        if entry.file_type().is_file() {
            filetime::set_file_mtime(entry.path(), filetime::FileTime::from_unix_time(secs, 0))
                .expect("mtime");
        }
    }
}

pub fn append(path: &Path, text: &str) {
    let mut s = std::fs::read_to_string(path).expect("read");
    s.push_str(text);
    std::fs::write(path, s).expect("write");
}

/// Run the fixture's binary from a target dir.
pub fn run_fx(checkout: &Path, profile: &str) -> String {
    let out = Command::new(checkout.join("target").join(profile).join("fx"))
        .output()
        .expect("run fx");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The ripgrep 14.1.1 workspace tarball from ../shared/workloads (or `$STRATA_WORKLOADS`).
pub fn ripgrep_tarball() -> PathBuf {
    let path = std::env::var_os("STRATA_WORKLOADS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/workloads"))
        .join("ripgrep-14.1.1-workspace.tar.gz");
    assert!(
        path.is_file(),
        "{} is missing: the ripgrep workload must sit in ../shared/workloads (or set STRATA_WORKLOADS)",
        path.display()
    );
    path
}

/// A fresh "clone" of the ripgrep workspace at `dest`: new mtimes, no target dir.
pub fn extract_ripgrep(dest: &Path) {
    let _ = std::fs::remove_dir_all(dest);
    std::fs::create_dir_all(dest).expect("mkdir");
    let tar = require_tool("tar", "apt-get install tar (.ci/run does this)");
    let ok = Command::new(tar)
        .arg("xzf")
        .arg(ripgrep_tarball())
        .args(["--strip-components=1", "-m", "-C"])
        .arg(dest)
        .status()
        .expect("tar")
        .success();
    assert!(ok, "tar failed");
}
