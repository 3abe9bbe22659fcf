//! Crash safety at scale: strata is killed with SIGKILL at random moments of save, restore, gc,
//! push and pull on the small fixture workspace, and after each kill nothing may be lost:
//!
//! - `strata store verify` is clean (right after the kill and after the next command);
//! - the next command succeeds (a build, whose binary runs and prints what its sources say; or gc
//!   again), and every layer saved before the kill still restores byte-identical: a fresh
//!   checkout builds with nothing compiled, each file hashing to what its manifest says;
//! - a remote whose push was cut short names no missing object (`strata remote check --deep`),
//!   and the next push completes it.
//!
//! Every point is one seed: it picks the phase, the moment (a delay drawn across the phase's
//! measured duration, or a delay after an event: the first write, cargo's `Finished`) and
//! starts from the same prepared state, so `scripts/faults --points 1 --seed S` replays point S.
//! `STRATA_FAULTS_POINTS` (default 20, what CI runs) and `STRATA_FAULTS_SEED` (default: from
//! the clock) drive it; `scripts/faults --points N [--seed S]` sets them.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use strata_store::{EntryKind, ObjectId, Store};

const V1: &str = "hello v1.2.3 #7 | 42 | core readme v1 | build-script";
const V2: &str = "hello v1.2.3 #7 | 42 | core readme v2 | build-script";

/// splitmix64: small, seedable, and the same everywhere (a seed must replay its point).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Point 0 of a run has the run's seed, so that a failing point's seed replays it alone.
fn point_seed(run: u64, i: u64) -> u64 {
    if i == 0 {
        run
    } else {
        Rng(run ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03)).next()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Warm target, empty store: cargo has nothing to do, strata saves every layer.
    SaveCold,
    /// A source edit on a warm target: cargo compiles two crates, strata saves a new crate layer.
    SaveEdit,
    /// A fresh checkout: strata restores every layer, cargo compiles nothing.
    Restore,
    /// A fresh checkout with an edit: the project's newest layers are restored, cargo rebuilds
    /// the edited crates (a half-restored target must never yield a stale binary).
    RestoreEdit,
    /// `strata store gc` evicting unreferenced layers, orphan blobs and dead writers' temp files.
    Gc,
    /// A warm build pushing every layer to an empty directory remote.
    Push,
    /// A fresh checkout with an empty store pulling every layer from a directory remote.
    Pull,
}

const PHASES: [Phase; 7] = [
    Phase::SaveCold,
    Phase::SaveEdit,
    Phase::Restore,
    Phase::RestoreEdit,
    Phase::Gc,
    Phase::Push,
    Phase::Pull,
];

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::SaveCold => "save-cold",
            Phase::SaveEdit => "save-edit",
            Phase::Restore => "restore",
            Phase::RestoreEdit => "restore-edit",
            Phase::Gc => "gc",
            Phase::Push => "push",
            Phase::Pull => "pull",
        }
    }

    /// Output of the binary the phase's build makes.
    fn output(self) -> &'static str {
        match self {
            Phase::SaveEdit | Phase::RestoreEdit => V2,
            _ => V1,
        }
    }

    fn remote(self) -> bool {
        matches!(self, Phase::Push | Phase::Pull)
    }
}

/// When the kill comes.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    /// This long after the start.
    Timer(Duration),
    /// This long after the first write where the phase writes (store, target dir or remote).
    FirstWrite(Duration),
    /// This long after cargo printed `Finished`: inside the save and push that follow.
    AfterCargo(Duration),
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
        match self {
            Trigger::Timer(d) => write!(f, "{:.1}ms after start", ms(d)),
            Trigger::FirstWrite(d) => write!(f, "{:.1}ms after the first write", ms(d)),
            Trigger::AfterCargo(d) => write!(f, "{:.1}ms after cargo finished", ms(d)),
        }
    }
}

/// Times of one unkilled run of a phase, to spread kills over it.
#[derive(Debug, Clone, Copy, Default)]
struct Timing {
    total: Duration,
    first_write: Option<Duration>,
    cargo_done: Option<Duration>,
}

/// What a run of a point adds to the figures.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    killed: u64,
    finished_first: u64,
    builds_after: u64,
    objects_verified: u64,
    remote_objects_verified: u64,
}

/// The state every point starts from, made once per run.
struct Base {
    w: World,
    root: PathBuf,
    public_key: String,
    /// Files of the layers on the exact refs of the first build: path in the target dir → blob.
    expected: BTreeMap<String, ObjectId>,
    /// The refs of the first build.
    refs: Vec<(String, ObjectId)>,
    /// Ref names the full push leaves on a remote.
    remote_refs: Vec<String>,
    gc_budget: u64,
    /// Per phase: measured once unkilled, then shortened by every point whose command ended
    /// before its kill (load changes durations, and a kill drawn past the end kills nothing).
    timing: std::cell::RefCell<BTreeMap<Phase, Timing>>,
}

/// One strata command of a point: where and with what.
struct Env<'a> {
    base: &'a Base,
    store: PathBuf,
    config: PathBuf,
    remote: Option<PathBuf>,
}

impl Env<'_> {
    fn command<S: AsRef<std::ffi::OsStr>>(&self, cwd: &Path, args: &[S]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
        c.args(args);
        self.base.w.prepare(&mut c, cwd);
        c.env("STRATA_STORE", &self.store)
            .env("XDG_CONFIG_HOME", &self.config)
            .env("STRATA_CONFIG", self.config.join("none.toml"))
            .env("STRATA_SIGNING_KEY", self.base.root.join("signing.key"))
            .env("STRATA_TRUSTED_KEYS", &self.base.public_key);
        match &self.remote {
            Some(r) => c.env("STRATA_REMOTE", format!("file://{}", r.display())),
            None => c.env_remove("STRATA_REMOTE"),
        };
        c
    }

    fn run(&self, cwd: &Path, args: &[&str]) -> Run {
        finish(self.command(cwd, args))
    }
}

fn cp_a(from: &[&Path], to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let ok = Command::new("cp")
        .arg("-a")
        .args(from)
        .arg(to)
        .status()
        .expect("cp")
        .success();
    assert!(ok, "cp -a {from:?} {}", to.display());
}

/// A source edit (a README edit would keep the crate key: README is no key input).
fn edit_to_v2(checkout: &Path) {
    let lib = checkout.join("core/src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    let edited = text.replace("include_str!(\"../README.md\")", "\"core readme v2\\n\"");
    assert_ne!(text, edited);
    std::fs::write(lib, edited).unwrap();
}

fn verify_counts(r: &Run) -> u64 {
    // "store is clean: N blobs and M manifests verified"
    let Some(rest) = r.stdout.split("store is clean: ").nth(1) else {
        return 0;
    };
    let words: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| {
        words
            .get(i)
            .and_then(|w| w.parse::<u64>().ok())
            .unwrap_or(0)
    };
    n(0) + n(3)
}

fn deep_counts(r: &Run) -> u64 {
    // "deep  <remote>: R refs, M manifests, B blobs verified"
    r.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("deep  "))
        .filter_map(|l| l.rsplit(": ").next())
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let n = |i: usize| {
                w.get(i)
                    .and_then(|x| x.trim_end_matches(',').parse::<u64>().ok())
            };
            n(0).unwrap_or(0) + n(2).unwrap_or(0) + n(4).unwrap_or(0)
        })
        .sum()
}

fn refs_under(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect();
    out.sort();
    out
}

fn dir_has_entries(p: &Path) -> bool {
    std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_some())
}

fn explain(what: &str, r: &Run) -> String {
    format!(
        "{what} (exit {})\n--- stdout\n{}\n--- stderr\n{}",
        r.code,
        r.stdout.trim_end(),
        r.stderr.trim_end()
    )
}

/// A started command that can be watched and killed.
struct Running {
    child: Child,
    started: Instant,
    stderr: PathBuf,
}

impl Running {
    fn start(mut c: Command, out_dir: &Path) -> Running {
        std::fs::create_dir_all(out_dir).unwrap();
        let stdout = out_dir.join("killed.stdout");
        let stderr = out_dir.join("killed.stderr");
        // Its own process group, so that cargo and rustc go with it: nothing of the killed run
        // keeps writing while the checks run.
        c.process_group(0)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        let child = c.spawn().expect("spawn strata");
        Running {
            child,
            started: Instant::now(),
            stderr,
        }
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    fn cargo_done(&self) -> bool {
        std::fs::read_to_string(&self.stderr).is_ok_and(|s| s.contains("Finished"))
    }

    /// SIGKILL strata, then its process group. How it ended: by the kill (signal 9), or by
    /// itself just before.
    fn kill(mut self) -> std::process::ExitStatus {
        let _ = self.child.kill();
        // The group this test made for it (`process_group(0)`: its id is strata's pid), so only
        // processes this run started.
        let group = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        self.child.wait().expect("wait")
    }

    fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait")
    }
}

/// The event a phase's first write is: a path that appears.
fn first_write_path(phase: Phase, p: &Path) -> Option<PathBuf> {
    match phase {
        Phase::SaveCold | Phase::Pull => Some(p.join("store/blobs")),
        Phase::Restore | Phase::RestoreEdit => Some(p.join("work/target")),
        Phase::Push => Some(p.join("remote/blobs")),
        Phase::SaveEdit | Phase::Gc => None,
    }
}

fn event_happened(path: &Path) -> bool {
    // A fan-out dir under blobs/ or anything in target/ means bytes are being written.
    dir_has_entries(path)
}

impl Base {
    fn prepare() -> Base {
        let w = World::new();
        let root = w.path("base");
        std::fs::create_dir_all(&root).unwrap();
        let mut base = Base {
            root: root.clone(),
            w,
            public_key: String::new(),
            expected: BTreeMap::new(),
            refs: Vec::new(),
            remote_refs: Vec::new(),
            gc_budget: 0,
            timing: Default::default(),
        };
        let key = root.join("signing.key");
        let env = base.env(&root, None);
        let r = env
            .run(
                &root,
                &[
                    "key",
                    "generate",
                    "--name",
                    "faults",
                    "--out",
                    key.to_str().unwrap(),
                ],
            )
            .ok();
        base.public_key = r.stdout.trim().to_string();

        // The first build: the layers every later check restores.
        let warm = root.join("warm");
        copy_tree(&fixture(), &warm);
        let env = base.env(&root, None);
        env.run(&warm, &["build"]).ok();
        assert_eq!(run_fx(&warm, "debug"), V1);
        let store = Store::open(root.join("store")).unwrap();
        base.refs = store.list_refs().unwrap();
        for (name, id) in &base.refs {
            if !(name.starts_with("deps/") || name.starts_with("crates/")) {
                continue;
            }
            for e in store.get_manifest(id).unwrap().entries {
                if let EntryKind::File { blob, .. } = e.kind {
                    base.expected.insert(e.path.clone(), blob);
                }
            }
        }
        assert!(base.expected.len() > 20, "{:?}", base.expected);

        // The full push: what a remote holds after it.
        let remote = root.join("remote");
        let env = base.env(&root, Some(remote.clone()));
        env.run(&warm, &["build"]).ok();
        let deep = env.run(&root, &["remote", "check", "--deep"]).ok();
        assert!(deep_counts(&deep) > 0, "{}", deep.stdout);
        base.remote_refs = refs_under(&remote.join("refs"));
        assert!(base.remote_refs.len() >= 2, "{:?}", base.remote_refs);

        // A store with garbage for gc: the layers of an edited build whose refs are gone (so gc
        // evicts them first), and a temp file of a writer that died.
        let gc_root = root.join("gc");
        cp_a(&[&root.join("store")], &gc_root);
        let edited = root.join("edited");
        copy_tree(&fixture(), &edited);
        edit_to_v2(&edited);
        let gc_env = base.env(&gc_root, None);
        gc_env.run(&edited, &["build"]).ok();
        assert_eq!(run_fx(&edited, "debug"), V2);
        std::fs::remove_dir_all(gc_root.join("store/refs")).unwrap();
        cp_a(&[&root.join("store/refs")], &gc_root.join("store"));
        std::fs::write(gc_root.join("store/tmp/999999999-0-0.tmp"), b"dead writer").unwrap();
        base.gc_budget = referenced_bytes(&gc_root.join("store"));
        let all = Store::open(gc_root.join("store")).unwrap().stats().unwrap();
        assert!(
            all.blob_bytes + all.manifest_bytes > base.gc_budget,
            "the gc store must hold more than its refs need"
        );

        // One unkilled run of each phase: its timing, and proof that the phase does what it is
        // meant to (and passes every check) before anything is killed.
        for phase in PHASES {
            let p = base.w.path(&format!("calibrate-{}", phase.name()));
            let (env, cwd, args) = base.setup(phase, &p);
            let mut run = Running::start(env.command(&cwd, &args), &p);
            let mut t = Timing::default();
            let watch = first_write_path(phase, &p);
            loop {
                let at = run.started.elapsed();
                if t.first_write.is_none() && watch.as_deref().is_some_and(event_happened) {
                    t.first_write = Some(at);
                }
                if t.cargo_done.is_none() && run.cargo_done() {
                    t.cargo_done = Some(at);
                }
                if run.exited() {
                    t.total = at;
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let stderr = run.stderr.clone();
            assert!(
                run.wait().success(),
                "calibration of {}: {}",
                phase.name(),
                std::fs::read_to_string(stderr).unwrap_or_default()
            );
            if let Err(e) = base.check(phase, &p, &mut Figures::default()) {
                panic!(
                    "calibration of {} (not killed) fails the checks: {e}",
                    phase.name()
                );
            }
            let _ = std::fs::remove_dir_all(&p);
            base.timing.borrow_mut().insert(phase, t);
        }
        base
    }

    fn env(&self, p: &Path, remote: Option<PathBuf>) -> Env<'_> {
        Env {
            base: self,
            store: p.join("store"),
            config: p.join("config"),
            remote,
        }
    }

    /// Lay out point dir `p` for `phase`: the command's env, its working dir and its arguments.
    fn setup(&self, phase: Phase, p: &Path) -> (Env<'_>, PathBuf, Vec<String>) {
        let work = p.join("work");
        std::fs::create_dir_all(p).unwrap();
        let fresh = |edit: bool| {
            copy_tree(&fixture(), &work);
            if edit {
                edit_to_v2(&work);
            }
        };
        // Store and warm checkout in one copy, so the hardlinks between them survive.
        let warm = |with_store: bool| {
            let mut from = vec![self.root.join("warm")];
            if with_store {
                from.push(self.root.join("store"));
            }
            let refs: Vec<&Path> = from.iter().map(PathBuf::as_path).collect();
            cp_a(&refs, p);
            std::fs::rename(p.join("warm"), &work).unwrap();
        };
        let build = vec!["build".to_string()];
        match phase {
            Phase::SaveCold => warm(false),
            Phase::SaveEdit => {
                warm(true);
                edit_to_v2(&work);
            }
            Phase::Restore | Phase::RestoreEdit => {
                cp_a(&[&self.root.join("store")], p);
                fresh(phase == Phase::RestoreEdit);
            }
            Phase::Gc => {
                cp_a(&[&self.root.join("gc/store")], p);
                let args = vec![
                    "store".to_string(),
                    "gc".to_string(),
                    "--max-size".to_string(),
                    self.gc_budget.to_string(),
                ];
                return (self.env(p, None), p.to_path_buf(), args);
            }
            Phase::Push => {
                warm(true);
                std::fs::create_dir_all(p.join("remote")).unwrap();
            }
            Phase::Pull => {
                cp_a(&[&self.root.join("remote")], p);
                fresh(false);
            }
        }
        let remote = phase.remote().then(|| p.join("remote"));
        (self.env(p, remote), work, build)
    }

    /// Everything "nothing lost" means, after `phase` ran in point dir `p` (killed or not).
    fn check(&self, phase: Phase, p: &Path, fig: &mut Figures) -> Result<(), String> {
        let remote = phase.remote().then(|| p.join("remote"));
        let env = self.env(p, remote.clone());
        let verify = |when: &str, fig: &mut Figures| -> Result<(), String> {
            let r = env.run(p, &["store", "verify"]);
            if r.code != 0 {
                return Err(explain(&format!("store verify {when}"), &r));
            }
            fig.objects_verified += verify_counts(&r);
            Ok(())
        };
        let deep = |when: &str, fig: &mut Figures| -> Result<(), String> {
            let r = env.run(p, &["remote", "check", "--deep"]);
            if r.code != 0 {
                return Err(explain(&format!("remote check --deep {when}"), &r));
            }
            fig.remote_objects_verified += deep_counts(&r);
            Ok(())
        };
        verify("after the kill", fig)?;
        if phase == Phase::Push {
            deep("after the kill", fig)?;
        }

        // The next command.
        let work = p.join("work");
        let next_stderr = if phase == Phase::Gc {
            let args = ["store", "gc", "--max-size", &self.gc_budget.to_string()];
            let r = env.run(p, &args);
            if r.code != 0 {
                return Err(explain("gc after the kill", &r));
            }
            String::new()
        } else {
            let r = env.run(&work, &["build"]);
            fig.builds_after += 1;
            if r.code != 0 {
                return Err(explain("the next build", &r));
            }
            let out = Command::new(work.join("target/debug/fx"))
                .output()
                .map_err(|e| format!("the next build's binary does not run: {e}"))?;
            let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !out.status.success() || said != phase.output() {
                return Err(format!(
                    "the next build's binary printed {said:?} (status {}), not {:?}\n--- build stderr\n{}",
                    out.status,
                    phase.output(),
                    r.stderr
                ));
            }
            r.stderr
        };
        verify("after the next command", fig)?;
        if phase == Phase::Push {
            deep("after the next push", fig)?;
            let have = refs_under(&p.join("remote/refs"));
            let lacking: Vec<&String> = self
                .remote_refs
                .iter()
                .filter(|r| !have.contains(r))
                .collect();
            if !lacking.is_empty() {
                return Err(format!(
                    "the next push did not complete the remote: it lacks refs {lacking:?}"
                ));
            }
        }

        // Every layer saved before: its refs unchanged, restored byte-identical into a fresh
        // checkout with nothing compiled. (SaveCold and Pull start without them: the next build
        // saved or pulled them, so this checks that one.)
        let store = Store::open(p.join("store")).map_err(|e| e.to_string())?;
        for (name, id) in &self.refs {
            // A cold save makes layers of the same files anew (another creation time, so
            // another id): the file check below covers it.
            if phase == Phase::SaveCold
                || !(name.starts_with("deps/") || name.starts_with("crates/"))
            {
                continue;
            }
            match store.get_ref(name) {
                Ok(Some(now)) if now == *id => {}
                other => {
                    return Err(format!(
                        "ref {name} named layer {id} before the kill; now {other:?}\n--- the next build's stderr\n{next_stderr}"
                    ));
                }
            }
        }
        let check = p.join("check");
        copy_tree(&fixture(), &check);
        let r = env.run(&check, &["build", "--no-remote"]);
        fig.builds_after += 1;
        if r.code != 0 || !r.compiled().is_empty() {
            return Err(explain(
                &format!(
                    "a fresh checkout compiled {:?} with the saved layers",
                    r.compiled()
                ),
                &r,
            ));
        }
        for (path, blob) in &self.expected {
            let file = check.join("target").join(path);
            let bytes = std::fs::read(&file)
                .map_err(|e| format!("restored {} is unreadable: {e}", file.display()))?;
            let got = ObjectId::of_bytes(&bytes);
            if got != *blob {
                return Err(format!(
                    "restored {} hashes to {got}, its layer says {blob}",
                    file.display()
                ));
            }
        }
        if run_fx(&check, "debug") != V1 {
            return Err("the fresh checkout's binary prints something else".into());
        }
        Ok(())
    }

    /// One point: set up, start, kill, check.
    fn point(&self, i: u64, seed: u64) -> (Phase, String, Figures, Result<(), String>) {
        let mut rng = Rng(seed);
        let drawn = PHASES[rng.below(PHASES.len() as u64) as usize];
        // STRATA_FAULTS_PHASE=pull (say) puts every point in that phase: for chasing one rare loss.
        let phase = std::env::var("STRATA_FAULTS_PHASE")
            .ok()
            .and_then(|want| PHASES.into_iter().find(|p| p.name() == want))
            .unwrap_or(drawn);
        let t = self.timing.borrow()[&phase];
        let kind = rng.below(3);
        let to_cargo = rng.chance(80);
        // Where in the window from the event to the phase's end: the seed's part of the moment.
        let frac = rng.below(1000) as f64 / 1000.0;
        let spread = |from: Option<Duration>| {
            t.total
                .saturating_sub(from.unwrap_or_default())
                .mul_f64(frac)
        };
        let trigger = match kind {
            1 if t.first_write.is_some() && first_write_path(phase, Path::new("")).is_some() => {
                Trigger::FirstWrite(spread(t.first_write))
            }
            2 if t.cargo_done.is_some() && to_cargo => Trigger::AfterCargo(spread(t.cargo_done)),
            _ => Trigger::Timer(spread(None)),
        };
        let p = self.w.path(&format!("point-{i}"));
        let (env, cwd, args) = self.setup(phase, &p);
        let watch = first_write_path(phase, &p);
        let mut run = Running::start(env.command(&cwd, &args), &p);
        // Never wait forever on an event that does not come (the command may fail first).
        let give_up = t.total * 10 + Duration::from_secs(30);
        let mut deadline: Option<Instant> = match trigger {
            Trigger::Timer(d) => Some(run.started + d),
            _ => None,
        };
        let mut fig = Figures::default();
        let mut ended_after = None;
        loop {
            let now = Instant::now();
            if deadline.is_none() {
                let fired = match trigger {
                    Trigger::FirstWrite(_) => watch.as_deref().is_some_and(event_happened),
                    Trigger::AfterCargo(_) => run.cargo_done(),
                    Trigger::Timer(_) => true,
                };
                if fired {
                    let (Trigger::FirstWrite(d) | Trigger::AfterCargo(d) | Trigger::Timer(d)) =
                        trigger;
                    deadline = Some(now + d);
                }
            }
            if run.exited() {
                ended_after = Some(now - run.started);
                break;
            }
            if deadline.is_some_and(|d| now >= d) || now - run.started > give_up {
                break;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        let stderr_file = run.stderr.clone();
        let status = run.kill();
        let killed = status.signal() == Some(9);
        if killed {
            fig.killed += 1;
        } else {
            fig.finished_first += 1;
            if let Some(d) = ended_after
                && let Some(t) = self.timing.borrow_mut().get_mut(&phase)
            {
                t.total = t.total.min(d);
            }
        }
        let head = format!(
            "seed={seed} phase={} kill={trigger} ({frac:.3} of the window) → {}",
            phase.name(),
            if killed {
                "killed"
            } else {
                "finished before the kill"
            }
        );
        if !killed {
            // A run that ended by itself must have succeeded: the phases build what cargo builds.
            let text = std::fs::read_to_string(&stderr_file).unwrap_or_default();
            if !status.success() {
                return (
                    phase,
                    head,
                    fig,
                    Err(format!(
                        "the run the kill missed failed ({status}):\n{text}"
                    )),
                );
            }
        }
        let res = self.check(phase, &p, &mut fig);
        if res.is_ok() {
            let _ = std::fs::remove_dir_all(&p);
        }
        (phase, head, fig, res)
    }
}

/// Bytes gc counts for what the refs of the store at `root` reach: their manifests and every
/// form of every blob those name.
fn referenced_bytes(root: &Path) -> u64 {
    let store = Store::open(root).unwrap();
    let mut manifests = std::collections::BTreeSet::new();
    let mut blobs = std::collections::BTreeSet::new();
    for (_, id) in store.list_refs().unwrap() {
        if manifests.insert(id) {
            for b in store.get_manifest(&id).unwrap().blob_ids() {
                blobs.insert(b);
            }
        }
    }
    let len = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut total = 0;
    for id in &manifests {
        total += len(store.manifest_path(id));
    }
    for id in &blobs {
        let hex = id.to_hex();
        for suffix in [".zst", ".raw"] {
            total += len(root
                .join("blobs")
                .join(&hex[..2])
                .join(format!("{hex}{suffix}")));
        }
    }
    total
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok().filter(|v| !v.is_empty())?;
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={v}: not a number: {e}")))
}

#[test]
fn crash_safety_under_sigkill() {
    let points = env_u64("STRATA_FAULTS_POINTS").unwrap_or(20);
    let run_seed = env_u64("STRATA_FAULTS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    println!("faults: {points} points, run seed {run_seed}");
    let base = Base::prepare();
    for (phase, t) in base.timing.borrow().iter() {
        println!(
            "faults: {:<12} takes {:.0}ms (first write at {:?}, cargo done at {:?})",
            phase.name(),
            t.total.as_secs_f64() * 1000.0,
            t.first_write,
            t.cargo_done
        );
    }
    let mut total = Figures::default();
    let mut per_phase: BTreeMap<&str, u64> = BTreeMap::new();
    let mut lost: Vec<(u64, String)> = Vec::new();
    for i in 0..points {
        let seed = point_seed(run_seed, i);
        let (phase, head, fig, res) = base.point(i, seed);
        *per_phase.entry(phase.name()).or_default() += 1;
        total.killed += fig.killed;
        total.finished_first += fig.finished_first;
        total.builds_after += fig.builds_after;
        total.objects_verified += fig.objects_verified;
        total.remote_objects_verified += fig.remote_objects_verified;
        match res {
            Ok(()) => println!("point {}/{points} {head}: nothing lost", i + 1),
            Err(e) => {
                println!("point {}/{points} {head}: LOST\n{e}", i + 1);
                lost.push((seed, e));
            }
        }
    }
    println!(
        "faults: {points} points ({per_phase:?}): {} killed mid-run, {} finished before the kill; \
         {} builds after them; {} local objects and {} remote objects verified; {} lost",
        total.killed,
        total.finished_first,
        total.builds_after,
        total.objects_verified,
        total.remote_objects_verified,
        lost.len()
    );
    if !lost.is_empty() {
        let kept = base.w.dir.keep();
        let seeds: Vec<String> = lost.iter().map(|(s, _)| s.to_string()).collect();
        panic!(
            "{} of {points} points lost something (point dirs kept under {}); replay one with \
             `scripts/faults --points 1 --seed S` for S in: {}",
            lost.len(),
            kept.display(),
            seeds.join(" ")
        );
    }
}
