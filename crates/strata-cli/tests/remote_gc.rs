//! `strata remote gc` on every backend, on the real servers the remote tests start: the oldest
//! layers go first, the newest stay whole (a fresh machine restores them and compiles nothing),
//! no ref names a missing object afterwards, a layer younger than the grace period survives a
//! zero budget, and a push running during gc stays whole.
//!
//! One real build of the fixture per backend makes the newest layers; older and younger layers
//! are pushed through the library (random, incompressible blobs, so their sizes are known).

mod common;
#[path = "common/serve.rs"]
mod serve;
#[path = "common/servers.rs"]
mod servers;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::machine::Machine;
use common::*;
use servers::*;
use strata_remote::{Config, Remotes};
use strata_store::{Entry, EntryKind, FileTime, MANIFEST_FORMAT, Manifest, ObjectId, Store};

const EXPECTED: &str = "hello v1.2.3 #7 | 42 | core readme v1 | build-script";
/// Each synthetic "old" layer: 4 blobs of 256 KiB.
const OLD_BLOBS: usize = 4;
const BLOB: usize = 256 << 10;
/// The grace period of the last phase: long enough that the push made just before gc is
/// still young when gc looks, on a loaded machine.
const GRACE_SECS: u64 = 45;

/// A library client of the remote, as machine `m` (its signing key, its remote settings).
fn client(m: &Machine, trusted: &str) -> Remotes {
    let mut env: HashMap<String, String> = m.env.iter().cloned().collect();
    env.insert("STRATA_TRUSTED_KEYS".into(), trusted.into());
    let cfg = Config::load_with(&|k: &str| env.get(k).cloned()).expect("config");
    Remotes::new(&cfg).expect("remotes")
}

fn random(seed: &str, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// Save a layer of `n` random blobs in `store` under `deps/<key>/build` and push it. Returns
/// the manifest id and the ref name.
fn push_synthetic(
    remotes: &Remotes,
    store: &Arc<Store>,
    key: &str,
    n: usize,
) -> (ObjectId, String) {
    let mut entries = Vec::new();
    for i in 0..n {
        let bytes = random(&format!("{key}-{i}"), BLOB);
        let put = store.put_bytes(&bytes).expect("put blob");
        entries.push(Entry {
            path: format!("f{i}.bin"),
            mtime: FileTime {
                secs: 1_700_000_000,
                nanos: 0,
            },
            kind: EntryKind::File {
                blob: put.id,
                size: put.size,
                executable: false,
            },
        });
    }
    let m = Manifest {
        format: MANIFEST_FORMAT,
        kind: "deps".into(),
        key: key.into(),
        parent: None,
        created_unix_secs: 1_700_000_000,
        entries,
        sources: Vec::new(),
        meta: Default::default(),
    };
    let id = store.put_manifest(&m).expect("put manifest");
    let name = format!("deps/{key}/build");
    store.set_ref(&name, &id).expect("set ref");
    let (t, errors) = remotes.push_ref(store, &name, &strata_remote::NoProgress);
    assert!(errors.is_empty(), "push {name}: {errors:?}");
    assert!(t.blobs > 0, "push {name} sent nothing");
    (id, name)
}

/// No ref on the remote names a missing manifest, signature or blob.
#[track_caller]
fn assert_whole(remotes: &Remotes) -> strata_remote::VerifyReport {
    let mut reports = remotes.verify();
    assert_eq!(reports.len(), 1);
    let (_, rep) = reports.remove(0);
    let rep = rep.expect("verify");
    assert!(rep.is_ok(), "remote is not whole: {:#?}", rep.problems);
    rep
}

/// Whether a fresh store can pull `name` (signature, manifest and every blob).
fn pulls(remotes: &Remotes, w: &World, name: &str) -> bool {
    let dir = tempfile::tempdir_in(w.dir.path()).unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let (found, errors) = remotes.pull_ref(&store, name, &strata_remote::NoProgress);
    assert!(
        errors.is_empty() || found.is_none(),
        "pull {name}: {errors:?}"
    );
    found.is_some()
}

fn gc(m: &Machine, args: &[&str]) -> Run {
    let mut all = vec!["remote", "gc"];
    all.extend_from_slice(args);
    m.run(m.w.dir.path(), &all).ok()
}

/// Bytes of strata's objects on the remote, as gc counts them.
fn remote_bytes(m: &Machine) -> u64 {
    let (_, rep) = client(m, "")
        .gc(&strata_remote::GcOptions {
            max_size: u64::MAX,
            max_age: None,
            grace: Duration::ZERO,
            dry_run: true,
        })
        .remove(0);
    rep.expect("dry run").before.bytes
}

/// The refs machine `m`'s store holds.
fn refs_of(m: &Machine, checkout: &std::path::Path) -> Vec<String> {
    m.run(checkout, &["store", "refs"])
        .ok()
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn scenario(w: &World, remote: &str, extra: &[(String, String)]) {
    let mut a = Machine::new(w, "a", remote, extra);
    let public = a.keygen("team-a");
    let lib = client(&a, &public);
    let store = Arc::new(Store::open(w.path("synthetic-store")).unwrap());

    // Two old synthetic layers, then the real build: pushed in that order, a second apart so
    // the remote's clock orders them.
    let (s1, s1_ref) = push_synthetic(&lib, &store, "old-one", OLD_BLOBS);
    std::thread::sleep(Duration::from_millis(1100));
    let (s2, s2_ref) = push_synthetic(&lib, &store, "old-two", OLD_BLOBS);
    std::thread::sleep(Duration::from_millis(1100));
    let ca = w.checkout("a");
    let r = a.run(&ca, &["build"]).ok();
    assert!(r.stderr.contains("Pushed"), "{}", r.stderr);
    let built_at = Instant::now();
    let real_refs = refs_of(&a, &ca);
    assert!(
        real_refs.iter().any(|n| n.starts_with("deps/")),
        "{real_refs:?}"
    );
    assert!(
        real_refs.iter().any(|n| n.starts_with("crates/")),
        "{real_refs:?}"
    );
    assert_whole(&lib);

    // A budget half a layer short: only the oldest layer goes.
    let layer = (OLD_BLOBS * BLOB) as u64;
    let total = remote_bytes(&a);
    let r = gc(
        &a,
        &[
            "--max-size",
            &(total - layer / 2).to_string(),
            "--grace",
            "0",
        ],
    );
    assert!(
        r.stdout.contains(&format!("dropped layer {s1}")),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.matches("dropped layer").count(), 1, "{}", r.stdout);
    assert!(r.stdout.contains("beyond the size budget"), "{}", r.stdout);
    assert_whole(&lib);
    assert!(!pulls(&lib, w, &s1_ref), "the oldest layer is gone");
    assert!(pulls(&lib, w, &s2_ref), "the next one is whole");
    let after = remote_bytes(&a);
    assert!(
        after <= total - layer / 2,
        "{after} > {total} - {}",
        layer / 2
    );

    // A dry run deletes nothing.
    let r = gc(&a, &["--max-size", "0", "--grace", "0", "--dry-run"]);
    assert!(r.stdout.contains("would drop layer"), "{}", r.stdout);
    assert_eq!(remote_bytes(&a), after);

    // Half a layer short again: the second old layer goes, the real build stays.
    let r = gc(
        &a,
        &[
            "--max-size",
            &(after - layer / 2).to_string(),
            "--grace",
            "0",
        ],
    );
    assert!(
        r.stdout.contains(&format!("dropped layer {s2}")),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.matches("dropped layer").count(), 1, "{}", r.stdout);
    assert_whole(&lib);
    assert!(!pulls(&lib, w, &s2_ref));
    for name in &real_refs {
        assert!(pulls(&lib, w, name), "{name} is whole");
    }

    // A fresh machine (other store, path and CARGO_HOME) restores the kept layers: cargo
    // compiles nothing.
    let mut b = Machine::new(w, "b", remote, extra);
    b.set("STRATA_TRUSTED_KEYS", &public);
    let cb = w.checkout("b");
    let r = b.run(&cb, &["build", "--no-save"]).ok();
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
    assert_eq!(run_fx(&cb, "debug"), EXPECTED);

    // Zero budget with a grace period, while another push runs: the real build (older than
    // the grace period) goes; the layer pushed just before gc and the one pushed during it
    // stay whole.
    let wait = Duration::from_secs(GRACE_SECS + 1).saturating_sub(built_at.elapsed());
    std::thread::sleep(wait);
    // --max-age drops what is older, whatever the budget (dry run: the next phase needs them).
    let r = gc(
        &a,
        &[
            "--max-size",
            "1P",
            "--grace",
            "0",
            "--max-age",
            "0.0001",
            "--dry-run",
        ],
    );
    assert_eq!(
        r.stdout.matches("would drop layer").count(),
        r.stdout.matches("older than --max-age").count(),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("older than --max-age"), "{}", r.stdout);
    let (young, young_ref) = push_synthetic(&lib, &store, "young", 2);
    let during = std::thread::scope(|s| {
        let pusher = s.spawn(|| {
            let lib2 = client(&a, &public);
            let store2 = Arc::new(Store::open(w.path("synthetic-store-2")).unwrap());
            push_synthetic(&lib2, &store2, "during-gc", 64)
        });
        let r = gc(
            &a,
            &["--max-size", "0", "--grace", &format!("{GRACE_SECS}s")],
        );
        (r, pusher.join().unwrap())
    });
    let (r, (_during_id, during_ref)) = during;
    assert!(
        !r.stdout.contains(&format!("dropped layer {young}")),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("(0 only for being younger"),
        "{}",
        r.stdout
    );
    let rep = assert_whole(&lib);
    assert!(pulls(&lib, w, &young_ref), "the young layer is whole");
    assert!(
        pulls(&lib, w, &during_ref),
        "the layer pushed during gc is whole"
    );
    for name in real_refs
        .iter()
        .filter(|n| n.starts_with("deps/") || n.starts_with("crates/"))
    {
        assert!(
            !pulls(&lib, w, name),
            "{name} was older than the grace period: dropped"
        );
    }
    assert_eq!(rep.layers, 2, "only the two young layers are left");
    // A second gc with the same budget drops no layer. (On Redis, which keeps no times, the
    // first gc may have kept unreferenced blobs while the other push was in flight; this one
    // deletes them.) Everything young is still whole.
    let before = remote_bytes(&a);
    // (A longer grace here: on a loaded machine the young layers may have aged past the first.)
    let r = gc(&a, &["--max-size", "0", "--grace", "1h"]);
    assert!(!r.stdout.contains("dropped layer"), "{}", r.stdout);
    assert!(remote_bytes(&a) <= before);
    assert_eq!(assert_whole(&lib).layers, 2);
    assert!(pulls(&lib, w, &young_ref));
    assert!(pulls(&lib, w, &during_ref));
}

#[test]
fn gc_directory_remote() {
    let w = World::new();
    let remote = format!("file://{}", w.path("shared-dir").display());
    scenario(&w, &remote, &[]);
}

#[test]
fn gc_redis_remote() {
    let w = World::new();
    let (_redis, url) = start_redis(&w);
    scenario(&w, &url, &[]);
}

#[test]
fn gc_webdav_remote() {
    let w = World::new();
    let (_dav, _dir, url) = start_webdav(&w);
    scenario(&w, &url, &[]);
}

#[test]
fn gc_s3_garage_remote() {
    let w = World::new();
    let (_garage, url, creds) = start_garage(&w);
    // The library client in this process reads the credentials from its own environment.
    // SAFETY: nextest runs each test in its own process, and no other thread runs yet.
    for (k, v) in &creds {
        unsafe { std::env::set_var(k, v) };
    }
    scenario(&w, &url, &creds);
}

#[test]
fn gc_strata_serve_remote() {
    let w = World::new();
    let (_serve, url) = start_serve(&w.path("served"), 0);
    let token = vec![("STRATA_REMOTE_TOKEN".to_string(), SERVE_TOKEN.to_string())];
    scenario(&w, &url, &token);
}

/// `strata serve`'s listing and deletion take the push token; without it nothing is listed or
/// deleted, and hostile keys are refused.
#[test]
fn serve_list_and_delete_need_the_push_token() {
    let w = World::new();
    let served = w.path("served");
    let (_serve, url) = start_serve(&served, 0);
    let http = |method: &str, path: &str, token: Option<&str>| -> (u16, String) {
        let client = std::process::Command::new("curl")
            .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method])
            .args(
                token
                    .map(|t| vec!["-H".to_string(), format!("Authorization: Bearer {t}")])
                    .unwrap_or_default(),
            )
            .arg(format!("{url}/{path}"))
            .output()
            .expect("curl");
        let out = String::from_utf8_lossy(&client.stdout).into_owned();
        let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
        (code.trim().parse().unwrap_or(0), body.to_string())
    };
    assert_eq!(http("PUT", "refs/x", Some(SERVE_TOKEN)).0, 201);
    assert_eq!(http("GET", ".strata/list?prefix=refs/", None).0, 401);
    assert_eq!(
        http("GET", ".strata/list?prefix=refs/", Some("wrong")).0,
        401
    );
    assert_eq!(
        http("GET", ".strata/list?prefix=refs/", Some(READ_TOKEN)).0,
        401
    );
    let (code, body) = http("GET", ".strata/list?prefix=refs/", Some(SERVE_TOKEN));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"key\":\"refs/x\""), "{body}");
    assert_eq!(
        http("GET", ".strata/list?prefix=../", Some(SERVE_TOKEN)).0,
        400
    );
    assert_eq!(http("DELETE", "refs/x", None).0, 401);
    assert_eq!(http("DELETE", "refs/x", Some("wrong")).0, 401);
    assert!(
        served.join("refs/x").is_file(),
        "nothing deleted without the token"
    );
    assert_eq!(http("DELETE", "..%2Fescape", Some(SERVE_TOKEN)).0, 400);
    assert_eq!(http("DELETE", "refs/x", Some(SERVE_TOKEN)).0, 204);
    assert!(!served.join("refs/x").exists());
    assert_eq!(http("GET", "refs/x", None).0, 404);
}
