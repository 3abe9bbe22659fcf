//! The remote cache end to end: real servers (Garage for S3, Debian's redis-server, rclone's
//! WebDAV server, `strata serve`) started on 127.0.0.1 by each test and stopped at its end. Machines A and B have
//! their own store, checkout path and CARGO_HOME: A builds and pushes, B pulls and cargo
//! compiles nothing.

mod common;
#[path = "common/serve.rs"]
mod serve;
#[path = "common/servers.rs"]
mod servers;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::machine::Machine;
use common::*;
use servers::*;

const EXPECTED: &str = "hello v1.2.3 #7 | 42 | core readme v1 | build-script";

/// A remote problem costs the build exactly one warning.
#[track_caller]
fn assert_one_warning(stderr: &str) {
    assert_eq!(stderr.matches("warning: strata").count(), 1, "{stderr}");
}

/// A builds and pushes; B (other store, path and CARGO_HOME) pulls and compiles nothing.
fn a_pushes_b_compiles_nothing(w: &World, remote: &str, extra: &[(String, String)]) {
    let mut a = Machine::new(w, "a", remote, extra);
    let public = a.keygen("team-a");
    let ca = w.checkout("a");
    let r = a.run(&ca, &["build"]).ok();
    assert!(r.stderr.contains("Pushed"), "{}", r.stderr);
    assert!(!r.stderr.contains("warning: strata"), "{}", r.stderr);

    let mut b = Machine::new(w, "b", remote, extra);
    b.set("STRATA_TRUSTED_KEYS", &public);
    let cb = w.checkout("b");
    let r = b.run(&cb, &["build"]).ok();
    assert!(r.stderr.contains("Pulled deps/"), "{}", r.stderr);
    assert!(r.stderr.contains("Pulled crates/"), "{}", r.stderr);
    assert!(!r.stderr.contains("warning: strata"), "{}", r.stderr);
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert!(!r.skeleton_built(), "{}", r.stderr);
    assert_eq!(run_fx(&cb, "debug"), EXPECTED);
    assert!(
        b.dir.join("cargo-home/registry").exists(),
        "B's cargo used its own CARGO_HOME"
    );
    b.verify_store();
}

#[test]
fn directory_remote_b_compiles_nothing() {
    let w = World::new();
    let remote = format!("file://{}", w.path("shared-dir").display());
    a_pushes_b_compiles_nothing(&w, &remote, &[]);
}

/// Several remotes are read in order: a layer missing from the first comes from the second. A
/// machine without a signing key that saves nothing new pushes nothing and says nothing.
#[test]
fn remotes_are_read_in_order() {
    let w = World::new();
    let first = format!("file://{}", w.path("first").display());
    let second = format!("file://{}", w.path("second").display());
    let mut a = Machine::new(&w, "a", &second, &[]);
    let public = a.keygen("team-a");
    let ca = w.checkout("a");
    a.run(&ca, &["build"]).ok();
    let mut b = Machine::new(&w, "b", &format!("{first}, {second}"), &[]);
    b.set("STRATA_TRUSTED_KEYS", &public);
    let cb = w.checkout("b");
    let r = b.run(&cb, &["build"]).ok();
    assert!(r.stderr.contains("Pulled deps/"), "{}", r.stderr);
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    assert!(!w.path("first").join("refs").exists());
    // An edit makes B save a new layer: without a key, one warning, and the build succeeds.
    append(&cb.join("app/src/main.rs"), "\n// edited\n");
    let r = b.run(&cb, &["build"]).ok();
    assert_one_warning(&r.stderr);
    assert!(r.stderr.contains("no signing key"), "{}", r.stderr);
}

#[test]
fn webdav_remote_b_compiles_nothing() {
    let w = World::new();
    let bin = require("rclone");
    let port = free_port();
    let dir = w.path("dav");
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = Command::new(bin);
    c.args(["serve", "webdav"])
        .arg(&dir)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .env("RCLONE_CONFIG", w.path("rclone.conf"));
    let _dav = start_server(c, "rclone serve webdav", port);
    a_pushes_b_compiles_nothing(&w, &format!("webdav+http://127.0.0.1:{port}/team"), &[]);
    assert!(dir.join("team/refs/deps").is_dir());
}

#[test]
fn redis_remote_b_compiles_nothing() {
    let w = World::new();
    let (_redis, url) = start_redis(&w);
    a_pushes_b_compiles_nothing(&w, &url, &[]);
}

#[test]
fn s3_garage_remote_b_compiles_nothing() {
    let w = World::new();
    let (_garage, url, creds) = start_garage(&w);
    a_pushes_b_compiles_nothing(&w, &url, &creds);
}

#[test]
fn serve_remote_b_compiles_nothing() {
    let w = World::new();
    let (_serve, url) = start_serve(&w.path("served"), 0);
    let token = vec![("STRATA_REMOTE_TOKEN".to_string(), SERVE_TOKEN.to_string())];
    a_pushes_b_compiles_nothing(&w, &url, &token);
    let r = Machine::new(&w, "c", &url, &token)
        .run(w.dir.path(), &["remote", "check"])
        .ok();
    assert!(r.stdout.contains("ok    http://"), "{}", r.stdout);
}

/// Raw HTTP, so that the test sees exactly what the server answers.
fn http(url: &str, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> u16 {
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(hostport).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} /{path} HTTP/1.1\r\nHost: {hostport}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {resp:?}"))
}

#[test]
fn serve_refuses_a_push_without_the_token() {
    let w = World::new();
    let served = w.path("served");
    let (_serve, url) = start_serve(&served, 0);
    assert_eq!(http(&url, "GET", "health", None, b""), 200);
    assert_eq!(http(&url, "PUT", "refs/x", None, b"1"), 401);
    assert_eq!(http(&url, "PUT", "refs/x", Some("wrong"), b"1"), 401);
    assert_eq!(http(&url, "GET", "refs/x", None, b""), 404);
    assert_eq!(http(&url, "PUT", "../escape", Some(SERVE_TOKEN), b"1"), 400);
    // Any object under a prefix, e.g. a Nix binary cache, is written with the token and read
    // back at a stable URL without one.
    assert_eq!(
        http(
            &url,
            "PUT",
            "nix/nix-cache-info",
            Some(SERVE_TOKEN),
            b"StoreDir: /nix/store\n"
        ),
        201
    );
    assert_eq!(http(&url, "GET", "nix/nix-cache-info", None, b""), 200);
    assert_eq!(http(&url, "HEAD", "nix/nix-cache-info", None, b""), 200);

    // Reads behind a token, and a body limit.
    let (_closed, url2) = start_serve_with(
        &w.path("served-closed"),
        0,
        &["--read-token-env", "STRATA_READ_TOKEN", "--max-body", "1K"],
    );
    assert_eq!(http(&url2, "PUT", "a/b", Some(SERVE_TOKEN), b"x"), 201);
    assert_eq!(http(&url2, "GET", "a/b", None, b""), 401);
    assert_eq!(http(&url2, "GET", "a/b", Some("wrong"), b""), 401);
    assert_eq!(http(&url2, "GET", "a/b", Some(READ_TOKEN), b""), 200);
    assert_eq!(http(&url2, "PUT", "a/c", Some(READ_TOKEN), b"x"), 401);
    assert_eq!(
        http(&url2, "PUT", "a/big", Some(SERVE_TOKEN), &[0u8; 4096]),
        413
    );
    assert_eq!(http(&url2, "GET", "health", None, b""), 200);

    // A build pushing without the token: one warning, the build succeeds, nothing is stored.
    let w2 = World::new();
    let mut a = Machine::new(&w2, "a", &url, &[]);
    a.keygen("team-a");
    let ca = w2.checkout("a");
    let r = a.run(&ca, &["build"]).ok();
    assert!(r.stderr.contains("401"), "{}", r.stderr);
    assert_one_warning(&r.stderr);
    assert_eq!(run_fx(&ca, "debug"), EXPECTED);
    assert!(!served.join("refs").exists(), "nothing was pushed");
    assert!(!served.join("blobs").exists(), "nothing was pushed");
}

/// `strata serve` in front of another backend (Redis here): objects go through to it.
#[test]
fn serve_backed_by_redis() {
    let w = World::new();
    let (_redis, redis_url) = start_redis(&w);
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--backend", &redis_url, "--listen", "127.0.0.1:0"])
        .env("STRATA_SERVE_TOKEN", SERVE_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 512];
    let n = out.read(&mut buf).unwrap();
    let _server = Server {
        child,
        what: "strata serve".into(),
    };
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    assert_eq!(
        http(
            &url,
            "PUT",
            "nix/x.narinfo",
            Some(SERVE_TOKEN),
            b"StorePath: /nix/store/x"
        ),
        201
    );
    assert_eq!(http(&url, "GET", "nix/x.narinfo", None, b""), 200);
    assert_eq!(http(&url, "GET", "nix/y.narinfo", None, b""), 404);
    // Written to Redis under the remote's prefix, readable by a strata client of Redis itself.
    let mut a = Machine::new(&w, "a", &redis_url, &[]);
    a.keygen("team-a");
    let ca = w.checkout("a");
    a.run(&ca, &["build"]).ok();
    let refs = a.run(&ca, &["store", "refs"]).ok();
    let deps_ref = refs
        .stdout
        .lines()
        .find(|l| l.starts_with("deps/"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    assert_eq!(
        http(&url, "GET", &format!("refs/{deps_ref}"), None, b""),
        200
    );
}

#[test]
fn tampered_blob_and_unknown_signer_are_rejected() {
    let w = World::new();
    let shared = w.path("shared-dir");
    let remote = format!("file://{}", shared.display());
    let mut a = Machine::new(&w, "a", &remote, &[]);
    let public = a.keygen("team-a");
    let ca = w.checkout("a");
    a.run(&ca, &["build"]).ok();

    // B trusts another key only: A's layers are refused, cargo builds everything itself.
    let mut b = Machine::new(&w, "b", &remote, &[]);
    let mut other = Machine::new(&w, "other", &remote, &[]);
    b.set("STRATA_TRUSTED_KEYS", &other.keygen("team-other"));
    let cb = w.checkout("b");
    let r = b.run(&cb, &["build", "--no-save"]).ok();
    assert!(
        r.stderr.contains("is not signed by a trusted key") && r.stderr.contains("team-a"),
        "{}",
        r.stderr
    );
    assert!(r.compiled().contains(&"fx-app".to_string()), "{}", r.stderr);
    assert_eq!(run_fx(&cb, "debug"), EXPECTED);

    // A forged signature under the trusted name: the same refusal.
    let mut forger = Machine::new(&w, "forger", &remote, &[]);
    let forged_pub = forger.keygen("team-a");
    assert_ne!(forged_pub, public);
    let mut c = Machine::new(&w, "c", &remote, &[]);
    c.set("STRATA_TRUSTED_KEYS", &forged_pub);
    let cc = w.checkout("c");
    let r = c.run(&cc, &["build", "--no-save"]).ok();
    assert!(r.stderr.contains("does not verify"), "{}", r.stderr);

    // Every blob on the remote replaced by other content (still valid zstd): the trusted
    // machine re-hashes, refuses to restore, and builds.
    let mut tampered = 0;
    for e in walkdir::WalkDir::new(shared.join("blobs")) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let evil = zstd::encode_all(&b"evil bytes"[..], 1).unwrap();
            std::fs::write(e.path(), evil).unwrap();
            tampered += 1;
        }
    }
    assert!(tampered > 0);
    let mut d = Machine::new(&w, "d", &remote, &[]);
    d.set("STRATA_TRUSTED_KEYS", &public);
    let cd = w.checkout("d");
    let r = d.run(&cd, &["build", "--no-save"]).ok();
    assert!(r.stderr.contains("is corrupt"), "{}", r.stderr);
    assert!(r.stderr.contains("hashes to"), "{}", r.stderr);
    assert!(r.compiled().contains(&"fx-app".to_string()), "{}", r.stderr);
    assert_eq!(run_fx(&cd, "debug"), EXPECTED);
    d.verify_store();
    let refs = d.run(w.dir.path(), &["store", "refs"]).ok();
    assert!(
        refs.stdout.trim().is_empty(),
        "nothing restored: {}",
        refs.stdout
    );
}

#[test]
fn a_remote_that_is_down_is_one_warning() {
    let w = World::new();
    let port = free_port(); // nothing listens there
    let mut a = Machine::new(&w, "a", &format!("http://127.0.0.1:{port}"), &[]);
    a.keygen("team-a");
    let ca = w.checkout("a");
    let r = a.run(&ca, &["build"]).ok();
    assert_one_warning(&r.stderr);
    assert_eq!(run_fx(&ca, "debug"), EXPECTED);
    // `strata remote check` names the remote that does not answer.
    let r = a.run(&ca, &["remote", "check"]);
    assert_eq!(r.code, 5, "a remote that does not answer: {}", r.stdout);
    assert!(r.stdout.contains("error http://127.0.0.1:"), "{}", r.stdout);
    assert!(r.stdout.contains("signing key: team-a:"), "{}", r.stdout);
    let good = Machine::new(
        &w,
        "good",
        &format!("file://{}", w.path("d").display()),
        &[],
    );
    let r = good.run(&ca, &["remote", "check"]).ok();
    assert!(r.stdout.contains("ok    file://"), "{}", r.stdout);
    assert!(r.stdout.contains("signing key: none"), "{}", r.stdout);
    // --no-remote: not even a warning.
    let r = a.run(&ca, &["build", "--no-remote"]).ok();
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

/// A server that accepts connections and never answers: one warning after a bounded wait.
#[test]
fn a_remote_that_hangs_is_one_warning() {
    let w = World::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds every connection until the test ends.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let mut a = Machine::new(&w, "a", &format!("http://127.0.0.1:{port}"), &[]);
    a.keygen("team-a");
    let ca = w.checkout("a");
    let r = a.run(&ca, &["build"]).ok();
    assert_one_warning(&r.stderr);
    assert!(
        r.stderr.contains("timed out") || r.stderr.contains("timeout"),
        "{}",
        r.stderr
    );
    assert_eq!(run_fx(&ca, "debug"), EXPECTED);
}

fn count_files(dir: &Path) -> usize {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count()
}

/// Start `cmd`, wait until `dir` holds a file, then run `kill`; returns the command's output.
fn kill_during(mut cmd: Command, dir: &Path, kill: impl FnOnce()) -> std::process::Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while count_files(dir) == 0 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    kill();
    child.wait_with_output().unwrap()
}

#[test]
fn killing_the_server_mid_push_and_mid_pull_never_fails_a_build() {
    let w = World::new();
    let served = w.path("served");
    let (mut serve, url) = start_serve(&served, 0);
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let token = vec![("STRATA_REMOTE_TOKEN".to_string(), SERVE_TOKEN.to_string())];

    // Push: the server dies once the first blob has arrived.
    let mut a = Machine::new(&w, "a", &url, &token);
    let public = a.keygen("team-a");
    let ca = w.checkout("a");
    let out = kill_during(a.command(&ca, &["build"]), &served.join("blobs"), || {
        serve.kill()
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_one_warning(&stderr);
    assert!(!served.join("refs/deps").exists(), "the push was cut short");
    assert_eq!(run_fx(&ca, "debug"), EXPECTED);
    a.verify_store();

    // The server comes back on the same port and directory; the next build completes the push.
    let (_serve2, url2) = start_serve(&served, port);
    assert_eq!(url2, url);
    let r = a.run(&ca, &["build"]).ok();
    assert!(!r.stderr.contains("warning: strata"), "{}", r.stderr);
    assert!(served.join("refs/deps").is_dir(), "{}", r.stderr);

    // Pull: the server dies once B's store has its first pulled blob.
    let mut b = Machine::new(&w, "b", &url, &token);
    b.set("STRATA_TRUSTED_KEYS", &public);
    let cb = w.checkout("b");
    let mut serve2 = _serve2;
    let out = kill_during(b.command(&cb, &["build"]), &b.store().join("blobs"), || {
        serve2.kill()
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One warning for the remote (B, which has no signing key, also says it cannot push the
    // layers it then built itself).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("warning: strata: remote").count(),
        1,
        "{stderr}"
    );
    assert_eq!(run_fx(&cb, "debug"), EXPECTED);
    b.verify_store();

    // Back again: a fresh machine pulls everything and compiles nothing.
    let (_serve3, _) = start_serve(&served, port);
    let mut c = Machine::new(&w, "c", &url, &token);
    c.set("STRATA_TRUSTED_KEYS", &public);
    let cc = w.checkout("c");
    let r = c.run(&cc, &["build"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
}

/// The real project, over `strata serve`: A builds --release and pushes; B, with an empty
/// store, another path and another CARGO_HOME, pulls and cargo compiles nothing.
#[test]
fn ripgrep_over_strata_serve_b_compiles_nothing() {
    let w = World::new();
    let (_serve, url) = start_serve(&w.path("served"), 0);
    let token = vec![("STRATA_REMOTE_TOKEN".to_string(), SERVE_TOKEN.to_string())];
    let mut a = Machine::new(&w, "a", &url, &token);
    let public = a.keygen("team-a");
    let ca = w.path("a-checkout/ripgrep");
    extract_ripgrep(&ca);
    let r = a.run(&ca, &["build", "--release"]).ok();
    assert!(r.stderr.contains("Pushed"), "{}", r.stderr);

    let mut b = Machine::new(&w, "b", &url, &token);
    b.set("STRATA_TRUSTED_KEYS", &public);
    let cb = w.path("b/elsewhere/ripgrep");
    extract_ripgrep(&cb);
    let r = b.run(&cb, &["build", "--release"]).ok();
    assert!(r.stderr.contains("Pulled deps/"), "{}", r.stderr);
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    let out = Command::new(cb.join("target/release/rg"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("ripgrep 14.1.1"));
    b.verify_store();
}
