//! Concurrency: eight builders share one store — the same project at four paths and four other
//! projects — each building, editing and building again, while `strata store gc --max-size`
//! runs in a loop beside them with a budget that evicts layers, and `strata store verify` in
//! the same loop (it shares the store with the builders as they save). Every build succeeds and
//! its binary says what its sources say, every gc succeeds, every verify is clean, and no ref
//! names a missing manifest or blob.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use strata_store::Store;

const BUILDERS_SAME: usize = 4;
const BUILDERS_OTHER: usize = 4;
const ROUNDS: usize = 3;
/// Below what the builders' layers take (one build of the fixture: ~4 MiB of blobs, shared by
/// every project's dependency layer), so gc evicts layers, older ones first, but keeps some.
const GC_BUDGET: &str = "8M";

/// A project of its own: the fixture with one more member, so its member list (the project's
/// identity) and its lock file differ.
fn other_project(w: &World, k: usize) -> PathBuf {
    let dir = w.checkout(&format!("other-{k}"));
    let extra = dir.join("extra");
    std::fs::create_dir_all(extra.join("src")).unwrap();
    std::fs::write(
        extra.join("Cargo.toml"),
        format!(
            "[package]\nname = \"fx-extra-{k}\"\nversion.workspace = true\nedition.workspace = true\n"
        ),
    )
    .unwrap();
    std::fs::write(
        extra.join("src/lib.rs"),
        format!("pub fn k() -> usize {{ {k} }}\n"),
    )
    .unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "members = [\"app\", \"core\", \"util\"]",
        "members = [\"app\", \"core\", \"util\", \"extra\"]",
    );
    assert!(text.contains("\"extra\""), "{text}");
    std::fs::write(&manifest, text).unwrap();
    dir
}

/// The gc loop's record: runs, what they evicted, verifies.
#[derive(Default)]
struct GcLog {
    runs: usize,
    layers_removed: usize,
    verifies: usize,
    refs_checked: usize,
    failures: Vec<String>,
}

fn verify_once(w: &World, cwd: &Path, log: &Mutex<GcLog>) {
    let r = w.strata(cwd, &["store", "verify"]);
    let mut log = log.lock().unwrap();
    log.verifies += 1;
    if r.code != 0 {
        log.failures
            .push(format!("verify failed\n{}\n{}", r.stdout, r.stderr));
    }
}

/// Every ref of the store names a manifest whose blobs are all there, as a reader holding the
/// store's shared lock (as builds do) sees it while builders save beside it. How many refs.
fn refs_complete(store: &Store) -> Result<usize, String> {
    let _lock = store.lock_shared().map_err(|e| e.to_string())?;
    let refs = store.list_refs().map_err(|e| e.to_string())?;
    for (name, id) in &refs {
        let m = store
            .get_manifest(id)
            .map_err(|e| format!("ref {name} names manifest {id}: {e}"))?;
        for blob in m.blob_ids() {
            if !store.has_blob(&blob) {
                return Err(format!("ref {name}: layer {id} lacks blob {blob}"));
            }
        }
    }
    Ok(refs.len())
}

fn gc_once(w: &World, cwd: &Path, log: &Mutex<GcLog>) {
    let r = w.strata(cwd, &["store", "gc", "--max-size", GC_BUDGET]);
    let mut log = log.lock().unwrap();
    log.runs += 1;
    if r.code != 0 {
        log.failures
            .push(format!("gc failed\n{}\n{}", r.stdout, r.stderr));
        return;
    }
    // "removed N layers, …"
    log.layers_removed += r
        .stdout
        .strip_prefix("removed ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
}

#[test]
fn eight_builders_and_gc_in_a_loop_share_one_store() {
    let w = World::new();
    let mut checkouts: Vec<PathBuf> = (0..BUILDERS_SAME)
        .map(|i| w.checkout(&format!("same-{i}")))
        .collect();
    checkouts.extend((0..BUILDERS_OTHER).map(|k| other_project(&w, k)));

    let store = Store::open(&w.store).unwrap();
    let done = AtomicBool::new(false);
    let gc_log = Mutex::new(GcLog::default());
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let builds = Mutex::new(0usize);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                gc_once(&w, w.dir.path(), &gc_log);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        // Readers beside the builders: verify, and every ref complete.
        s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                verify_once(&w, w.dir.path(), &gc_log);
                let checked = refs_complete(&store);
                let mut log = gc_log.lock().unwrap();
                match checked {
                    Ok(n) => log.refs_checked += n,
                    Err(e) => log.failures.push(e),
                }
                drop(log);
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
        let handles: Vec<_> = checkouts
            .iter()
            .enumerate()
            .map(|(b, dir)| {
                let (w, failures, builds) = (&w, Arc::clone(&failures), &builds);
                s.spawn(move || {
                    for round in 0..ROUNDS {
                        // Rounds after the first edit a source: a new crate layer each time.
                        let version = format!("b{b}r{round}");
                        if round > 0 {
                            let lib = dir.join("core/src/lib.rs");
                            let text = std::fs::read_to_string(&lib).unwrap();
                            let banner = text
                                .lines()
                                .find(|l| l.starts_with("pub const BANNER"))
                                .unwrap()
                                .to_string();
                            let edited = text.replace(
                                &banner,
                                &format!("pub const BANNER: &str = \"core readme {version}\";"),
                            );
                            std::fs::write(&lib, edited).unwrap();
                        }
                        let r = w.strata(dir, &["build"]);
                        *builds.lock().unwrap() += 1;
                        if r.code != 0 {
                            failures.lock().unwrap().push(format!(
                                "builder {b} round {round}: build failed\n{}",
                                r.stderr
                            ));
                            return;
                        }
                        let out = std::process::Command::new(dir.join("target/debug/fx"))
                            .output()
                            .expect("run fx");
                        let said = String::from_utf8_lossy(&out.stdout).to_string();
                        let want = if round == 0 {
                            "core readme v1".to_string()
                        } else {
                            format!("core readme {version}")
                        };
                        if !out.status.success() || !said.contains(&want) {
                            failures.lock().unwrap().push(format!(
                                "builder {b} round {round}: binary printed {said:?}, wanted {want:?}\n{}",
                                r.stderr
                            ));
                            return;
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
    });
    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(
        *builds.lock().unwrap(),
        (BUILDERS_SAME + BUILDERS_OTHER) * ROUNDS
    );

    // The store as the builders and the loop left it, then after one more gc with nothing
    // beside it.
    let refs_at_end = refs_complete(&store).unwrap();
    let (during, verifies, refs_checked) = {
        let log = gc_log.lock().unwrap();
        (log.runs, log.verifies, log.refs_checked)
    };
    gc_once(&w, w.dir.path(), &gc_log);
    verify_once(&w, w.dir.path(), &gc_log);
    refs_complete(&store).unwrap();
    let log = gc_log.lock().unwrap();
    println!(
        "{} builds; beside them gc ran {during} times, verify {verifies} times, and {refs_checked} \
         refs were found complete; {refs_at_end} refs at the end, all complete; gc evicted {} \
         layers in all",
        builds.lock().unwrap(),
        log.layers_removed
    );
    assert!(log.failures.is_empty(), "{}", log.failures.join("\n\n"));
    // The budget is below one project's layers: gc evicted something, so it ran against the
    // builders' layers rather than beside an empty store.
    assert!(log.layers_removed > 0, "gc never evicted a layer");
    drop(log);

    // And the store still serves: a fresh checkout of the fixture builds and runs.
    let fresh = w.checkout("fresh");
    w.strata(&fresh, &["build"]).ok();
    assert_eq!(
        run_fx(&fresh, "debug"),
        "hello v1.2.3 #7 | 42 | core readme v1 | build-script"
    );
}
