//! The canonical cargo home is a per-process view: the link `/proc/self/fd/8` never changes, and
//! each process resolves it through the fd 8 it inherited. No run, job or user can turn it under
//! another. Real cargo builds of the fixture, offline, with cargo homes made from the crates the
//! machine already has.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const INDEX: &str = "index.crates.io-1949cf8c6b5b557f";
/// The fixture's registry crates (its Cargo.lock) and their index cache entries.
const CRATES: [(&str, &str); 3] = [
    ("anyhow-1.0.87", "an/yh/anyhow"),
    ("itoa-1.0.11", "it/oa/itoa"),
    ("semver-1.0.28", "se/mv/semver"),
];

/// The fixture's output when itoa in the cargo home was patched to format every number as `mark`.
fn expected(mark: &str) -> String {
    format!("hello v1.2.3 #{mark} | {mark} | core readme v1 | build-script")
}

/// The cargo home this test runs under (where the fixture's crates are).
fn machine_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cargo"))
}

/// A cargo home at `dest` that builds the fixture offline: the index cache entries, `.crate`
/// files and unpacked sources of its three registry crates, copied from this machine's home.
/// Its itoa formats every number as `mark`, so a binary shows which home its itoa came from
/// (cargo does not re-check unpacked sources against the checksum).
fn offline_home(dest: &Path, mark: &str) -> PathBuf {
    let from = machine_home().join("registry");
    let to = dest.join("registry");
    let index = to.join("index").join(INDEX);
    std::fs::create_dir_all(&index).unwrap();
    std::fs::copy(
        from.join("index").join(INDEX).join("config.json"),
        index.join("config.json"),
    )
    .unwrap();
    if CRATES
        .iter()
        .any(|(krate, _)| !from.join("src").join(INDEX).join(krate).is_dir())
    {
        // A fresh machine: fetch the fixture's crates into its home once (the only network use).
        let ok = Command::new("cargo")
            .args(["fetch", "--locked", "--manifest-path"])
            .arg(fixture().join("Cargo.toml"))
            .status()
            .unwrap()
            .success();
        assert!(ok, "cargo fetch of the fixture's crates failed");
    }
    for (krate, entry) in CRATES {
        let src = from.join("src").join(INDEX).join(krate);
        assert!(
            src.is_dir(),
            "{} is missing after cargo fetch",
            src.display()
        );
        copy_tree(&src, &to.join("src").join(INDEX).join(krate));
        let cache = index.join(".cache").join(entry);
        std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
        std::fs::copy(
            from.join("index").join(INDEX).join(".cache").join(entry),
            cache,
        )
        .unwrap();
        let crate_file = format!("{krate}.crate");
        std::fs::create_dir_all(to.join("cache").join(INDEX)).unwrap();
        std::fs::copy(
            from.join("cache").join(INDEX).join(&crate_file),
            to.join("cache").join(INDEX).join(&crate_file),
        )
        .unwrap();
    }
    let lib = to.join("src").join(INDEX).join("itoa-1.0.11/src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    let head = "pub fn format<I: Integer>(&mut self, i: I) -> &str {";
    assert!(text.contains(head), "itoa's format changed shape");
    let patched = text.replacen(
        head,
        &format!("{head}\n        if true {{ let _ = &i; return \"{mark}\"; }}"),
        1,
    );
    std::fs::write(&lib, patched).unwrap();
    dest.to_path_buf()
}

fn fx_output(checkout: &Path) -> String {
    run_fx(checkout, "debug")
}

/// The source path rustc compiled itoa from, as its dep-info (and cargo's fingerprint) holds it.
fn itoa_source(checkout: &Path) -> String {
    let deps = checkout.join("target/debug/deps");
    let d = std::fs::read_dir(&deps)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("itoa-") && name.ends_with(".d")
        })
        .expect("itoa's dep-info");
    let text = std::fs::read_to_string(d).unwrap();
    let lib = text
        .split_whitespace()
        .find(|w| w.ends_with("itoa-1.0.11/src/lib.rs"))
        .expect("itoa's lib.rs in its dep-info");
    lib.to_string()
}

fn itoa_via(link: &Path) -> String {
    format!(
        "{}/registry/src/{INDEX}/itoa-1.0.11/src/lib.rs",
        link.display()
    )
}

/// Bash with this world's settings, the strata binary as `$STRATA`, and `home` as CARGO_HOME.
fn bash(w: &World, cwd: &Path, home: &Path, script: &str) -> Run {
    let mut c = Command::new("bash");
    c.args(["-euo", "pipefail", "-c", script]);
    w.prepare(&mut c, cwd);
    c.env("STRATA", env!("CARGO_BIN_EXE_strata"))
        .env("CARGO_HOME", home);
    finish(c)
}

#[test]
fn a_strata_env_shell_keeps_working_after_another_run_with_a_home_later_deleted() {
    let w = World::new();
    let home_a = offline_home(&w.path("home-a"), "A");
    let home_b = offline_home(&w.path("home-b"), "B");
    let a = w.checkout("a");
    let b = w.checkout("b");
    // One shell, set up by `strata env` with home A. In the middle, another strata run with
    // home B (another CI job), and home B is deleted afterwards. The shell's plain cargo then
    // needs its dependencies again (an empty target dir): it must still find home A's.
    let script = format!(
        r#"
        eval "$("$STRATA" env --linker default)"
        test "$CARGO_HOME" = {link}
        cargo build --offline
        ./target/debug/fx > first.txt
        # strata in this shell: CARGO_HOME is the link, and the home is the one fd 8 is open on
        # (a store of its own, so that it compiles).
        rm -rf target
        STRATA_STORE={store} "$STRATA" build --offline
        ./target/debug/fx > via-strata.txt
        (cd {b} && CARGO_HOME={home_b} "$STRATA" build --offline)
        rm -rf {home_b}
        rm -rf target
        cargo build --offline
        ./target/debug/fx > second.txt
        "#,
        link = w.link.display(),
        b = b.display(),
        home_b = home_b.display(),
        store = w.path("store-shell").display(),
    );
    let r = bash(&w, &a, &home_a, &script);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("warning: strata"), "{}", r.stderr);
    let read = |f: &str| {
        std::fs::read_to_string(a.join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(read("first.txt"), expected("A"));
    assert_eq!(read("via-strata.txt"), expected("A"), "{}", r.stderr);
    assert_eq!(read("second.txt"), expected("A"), "{}", r.stderr);
    // The other run built with its own home's crates, through the same link.
    assert_eq!(fx_output(&b), expected("B"));
    assert_eq!(
        std::fs::read_link(&w.link).unwrap(),
        Path::new("/proc/self/fd/8"),
        "the link's content is the same for every run"
    );
    assert!(!home_b.exists());
}

#[test]
fn two_concurrent_builds_with_different_homes_each_use_their_own_crates() {
    let w = World::new();
    let homes = [
        offline_home(&w.path("home-a"), "A"),
        offline_home(&w.path("home-b"), "B"),
    ];
    // Two rounds of two builds started together (one link, one path in every fingerprint).
    // Each build has its own store: a layer must not carry one home's crates into the other
    // build here, only the link is shared.
    for round in 0..2 {
        let runs: Vec<_> = homes
            .iter()
            .enumerate()
            .map(|(i, home)| {
                let dir = w.checkout(&format!("r{round}-{i}"));
                let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
                c.args(["build", "--offline"]);
                w.prepare(&mut c, &dir);
                c.env("CARGO_HOME", home)
                    .env("STRATA_STORE", w.path(&format!("store-{round}-{i}")));
                (dir, c.spawn_output())
            })
            .collect();
        for ((dir, child), mark) in runs.into_iter().zip(["A", "B"]) {
            let r = child.finish();
            assert_eq!(r.code, 0, "{}", r.stderr);
            assert!(!r.stderr.contains("warning: strata"), "{}", r.stderr);
            assert_eq!(itoa_source(&dir), itoa_via(&w.link), "{}", r.stderr);
            assert_eq!(fx_output(&dir), expected(mark), "round {round}");
        }
    }
}

#[test]
fn without_fd_8_strata_says_what_is_wrong() {
    // A process with CARGO_HOME set to the link but no fd 8 (a shell where `strata env` ran in
    // another shell, an IDE started elsewhere): strata names the problem and the fix.
    let w = World::new();
    let a = w.checkout("a");
    let home = offline_home(&w.path("home"), "A");
    w.strata_env(&a, &["build", "--offline"], &[("CARGO_HOME", &home)])
        .ok();
    let r = w.strata_env(&a, &["build", "--offline"], &[("CARGO_HOME", &w.link)]);
    assert_eq!(
        r.stderr.matches("warning: strata").count(),
        1,
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("fd 8 of this process is not open on a cargo home")
            && r.stderr.contains("eval \"$(strata env)\""),
        "{}",
        r.stderr
    );
}

/// A spawned command whose output is collected later.
trait SpawnOutput {
    fn spawn_output(&mut self) -> std::process::Child;
}

impl SpawnOutput for Command {
    fn spawn_output(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    }
}

trait Finish {
    fn finish(self) -> Run;
}

impl Finish for std::process::Child {
    fn finish(self) -> Run {
        let out = self.wait_with_output().expect("wait");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

mod users {
    //! Two unprivileged users on one machine, one link path in a sticky shared directory (as
    //! /tmp is). Needs root, to make the users (CI runs as root).

    use super::*;

    const USERS: [&str; 2] = ["strata-home-a", "strata-home-b"];

    struct User {
        name: &'static str,
        uid: u32,
        gid: u32,
        dir: PathBuf,
        home: PathBuf,
    }

    fn ensure_user(name: &str) -> (u32, u32) {
        let id = |flag: &str| {
            let out = Command::new("id").args([flag, name]).output().unwrap();
            out.status.success().then(|| {
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse::<u32>()
                    .unwrap()
            })
        };
        if id("-u").is_none() {
            let ok = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    name,
                ])
                .status()
                .unwrap()
                .success();
            // Another test process may have made it meanwhile.
            assert!(ok || id("-u").is_some(), "useradd {name} failed");
        }
        (id("-u").unwrap(), id("-g").unwrap())
    }

    fn chown_r(path: &Path, uid: u32, gid: u32) {
        let ok = Command::new("chown")
            .arg("-R")
            .arg(format!("{uid}:{gid}"))
            .arg(path)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// A copy of the toolchain the users can read (hard links where the filesystem allows):
    /// rustup's toolchains live under /root, which they cannot enter.
    fn shared_toolchain(dest: &Path) -> PathBuf {
        let out = Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .unwrap();
        let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let ok = Command::new("cp")
            .arg("-al")
            .arg(&sysroot)
            .arg(dest)
            .status()
            .unwrap()
            .success()
            || Command::new("cp")
                .arg("-a")
                .arg(&sysroot)
                .arg(dest)
                .status()
                .unwrap()
                .success();
        assert!(ok, "cannot copy the toolchain {}", sysroot.display());
        let strata = dest.parent().unwrap().join("strata");
        std::fs::copy(env!("CARGO_BIN_EXE_strata"), &strata).unwrap();
        dest.to_path_buf()
    }

    struct Shared {
        toolchain: PathBuf,
        link: PathBuf,
    }

    impl User {
        fn new(w: &World, name: &'static str, mark: &str) -> User {
            let (uid, gid) = ensure_user(name);
            let dir = w.path(name);
            std::fs::create_dir_all(&dir).unwrap();
            let home = offline_home(&dir.join("cargo-home"), mark);
            chown_r(&dir, uid, gid);
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
            User {
                name,
                uid,
                gid,
                dir,
                home,
            }
        }

        fn command(&self, s: &Shared, cwd: &Path, program: &str) -> Command {
            use std::os::unix::process::CommandExt;
            let mut c = Command::new(program);
            c.current_dir(cwd)
                .env_clear()
                .env(
                    "PATH",
                    format!("{}/bin:/usr/bin:/bin", s.toolchain.display()),
                )
                .env("HOME", &self.dir)
                .env("CARGO_HOME", &self.home)
                .env("STRATA_CARGO_HOME_LINK", &s.link)
                .env("CARGO_TERM_COLOR", "never")
                .uid(self.uid)
                .gid(self.gid);
            c
        }

        /// A fresh checkout, built with the store `store` (a new store: cargo compiles every crate
        /// from this user's home).
        fn build(&self, s: &Shared, round: &str, store: &str) -> (PathBuf, Run) {
            let dir = self.dir.join(format!("ws-{round}"));
            copy_tree(&fixture(), &dir);
            chown_r(&dir, self.uid, self.gid);
            let strata = s.toolchain.parent().unwrap().join("strata");
            let mut c = self.command(s, &dir, strata.to_str().unwrap());
            c.args(["build", "--offline"])
                .env("STRATA_STORE", self.dir.join(format!("store-{store}")));
            (dir, finish(c))
        }

        fn sh(&self, s: &Shared, script: &str) -> Run {
            let mut c = self.command(s, &self.dir, "sh");
            c.args(["-c", script]);
            finish(c)
        }
    }

    fn taken_warnings(r: &Run) -> usize {
        r.stderr.matches("is taken").count()
    }

    #[test]
    fn two_users_never_read_each_others_crates_and_a_taken_link_is_said_once() {
        let uid = Command::new("id").arg("-u").output().unwrap();
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!(
                "skipped: this test makes two users (useradd) and runs builds as them; run it as root (CI does)"
            );
            return;
        }
        let w = World::new();
        std::fs::set_permissions(w.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let shared_dir = w.path("tmp");
        std::fs::create_dir(&shared_dir).unwrap();
        std::fs::set_permissions(&shared_dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let s = Shared {
            toolchain: shared_toolchain(&w.path("toolchain")),
            link: shared_dir.join("strata-cargo-home"),
        };
        let a = User::new(&w, USERS[0], "A");
        let b = User::new(&w, USERS[1], "B");

        // A is first: the link is A's.
        let (ws, r) = a.build(&s, "1", "1");
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(taken_warnings(&r), 0, "{}", r.stderr);
        assert_eq!(fx_output(&ws), expected("A"));
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::symlink_metadata(&s.link).unwrap().uid(), a.uid);

        // B finds A's link (A could change it at any time): said once, B builds with its own home.
        let (ws, r) = b.build(&s, "1", "1");
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(taken_warnings(&r), 1, "{}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("owned by another user, {}", a.name)),
            "{}",
            r.stderr
        );
        assert_eq!(fx_output(&ws), expected("B"));

        // A turns its link at its own home (what the old design did on every run): B still
        // reads only its own crates, in a strata build and in a `strata env` shell.
        let r = a.sh(
            &s,
            &format!("ln -sfn {} {}", a.home.display(), s.link.display()),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let (ws, r) = b.build(&s, "2", "2");
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(taken_warnings(&r), 1, "{}", r.stderr);
        assert_eq!(fx_output(&ws), expected("B"));
        let strata = s.toolchain.parent().unwrap().join("strata");
        let r = b.sh(
            &s,
            &format!(
                "cd {ws} && eval \"$({strata} env --linker default)\" && test \"$CARGO_HOME\" = {home} && rm -rf target && cargo build --offline && ./target/debug/fx",
                ws = ws.display(),
                strata = strata.display(),
                home = b.home.display()
            ),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(taken_warnings(&r), 1, "{}", r.stderr);
        assert_eq!(r.stdout.trim(), expected("B"), "{}", r.stderr);

        // The other way round: A's link gone, B's link; A is told and builds with its own home.
        // (From their first stores: what is checked now is who owns the link.)
        a.sh(&s, &format!("rm {}", s.link.display())).ok();
        let (_, r) = b.build(&s, "3", "1");
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(taken_warnings(&r), 0, "{}", r.stderr);
        let (ws, r) = a.build(&s, "2", "1");
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(taken_warnings(&r), 1, "{}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("owned by another user, {}", b.name)),
            "{}",
            r.stderr
        );
        assert_eq!(fx_output(&ws), expected("A"));

        // A link made by root, as an admin would once: both users use it, each with its own crates.
        // A's first layers were built through the link (restored fresh, their dep-info names it);
        // B's were built with its real home, so cargo compiles B's dependencies again, through it.
        std::fs::remove_file(&s.link).unwrap();
        std::os::unix::fs::symlink("/proc/self/fd/8", &s.link).unwrap();
        for (u, mark) in [(&a, "A"), (&b, "B")] {
            let (ws, r) = u.build(&s, "root", "1");
            assert_eq!(r.code, 0, "{}", r.stderr);
            assert_eq!(taken_warnings(&r), 0, "{}", r.stderr);
            assert_eq!(
                itoa_source(&ws),
                itoa_via(&s.link),
                "{}: {}",
                u.name,
                r.stderr
            );
            assert_eq!(fx_output(&ws), expected(mark), "{}", u.name);
        }
    }
}
