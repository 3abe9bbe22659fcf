//! The `cargo metadata` cache with real cargo on a small workspace: a hit only when nothing cargo
//! reads has changed, and the same workspace either way.

use std::path::{Path, PathBuf};

use strata_workspace::{CacheOutcome, MetadataCache, MetadataRun, Workspace};

struct Fixture {
    _tmp: tempfile::TempDir,
    /// The workspace root (member `app`).
    ws: PathBuf,
    /// A path dependency outside the workspace (not a member).
    lib: PathBuf,
    cache: MetadataCache,
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    let lib = tmp.path().join("outside-lib");
    write(
        &ws.join("Cargo.toml"),
        "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n",
    );
    write(
        &ws.join("app/Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nhelper = { path = \"../../outside-lib\" }\n",
    );
    write(&ws.join("app/src/main.rs"), "fn main() {}\n");
    write(
        &lib.join("Cargo.toml"),
        "[package]\nname = \"helper\"\nversion = \"1.0.0\"\nedition = \"2021\"\n",
    );
    write(&lib.join("src/lib.rs"), "pub fn f() {}\n");
    let cache = MetadataCache {
        dir: tmp.path().join("cache"),
    };
    Fixture {
        _tmp: tmp,
        ws,
        lib,
        cache,
    }
}

fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

impl Fixture {
    fn load(&self) -> (Workspace, CacheOutcome) {
        self.load_with(&["--offline"], "toolchain-x")
    }

    fn load_with(&self, args: &[&str], toolchain: &str) -> (Workspace, CacheOutcome) {
        let cargo = cargo();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let run = MetadataRun {
            cargo: &cargo,
            cwd: &self.ws,
            args: &args,
            envs: &[],
        };
        // As strata runs it: the last entry read ahead, used only when its key is this run's.
        let prefetched = run.prefetch(&self.cache);
        run.load_cached(run.output(true), toolchain, &self.cache, prefetched)
            .expect("workspace loads")
    }

    fn local(ws: &Workspace) -> Vec<(String, String)> {
        ws.local
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect()
    }

    fn targets(ws: &Workspace, package: &str) -> Vec<String> {
        let mut names: Vec<String> = ws
            .metadata
            .packages
            .iter()
            .filter(|p| p.name.as_str() == package)
            .flat_map(|p| p.targets.iter().map(|t| t.name.clone()))
            .collect();
        names.sort();
        names
    }
}

#[test]
fn an_unchanged_workspace_is_read_from_the_cache_and_comes_out_the_same() {
    let f = fixture();
    let (first, outcome) = f.load();
    assert_eq!(outcome, CacheOutcome::Miss);
    let (second, outcome) = f.load();
    assert_eq!(outcome, CacheOutcome::Hit);
    assert_eq!(first.root, second.root);
    assert_eq!(first.target_dir, second.target_dir);
    assert_eq!(first.local, second.local);
    assert_eq!(first.metadata, second.metadata);
}

#[test]
fn the_entry_read_ahead_is_the_last_one_used_while_its_watched_files_are_unchanged() {
    let f = fixture();
    let cargo = cargo();
    let args = vec!["--offline".to_string()];
    let run = MetadataRun {
        cargo: &cargo,
        cwd: &f.ws,
        args: &args,
        envs: &[],
    };
    assert!(run.prefetch(&f.cache).is_none(), "nothing used yet");
    f.load();
    assert!(run.prefetch(&f.cache).is_some());
    // Another toolchain's entry is now the last one; the first one's key is not read ahead.
    assert_eq!(
        f.load_with(&["--offline"], "toolchain-y").1,
        CacheOutcome::Miss
    );
    assert_eq!(f.load().1, CacheOutcome::Hit);
    write(&f.ws.join("Cargo.lock"), "# edited\n");
    assert!(run.prefetch(&f.cache).is_none(), "a watched file changed");
}

#[test]
fn a_path_dependency_outside_the_workspace_changing_its_manifest_is_a_miss() {
    // `cargo metadata --no-deps` does not list `helper` (not a member): only the watched
    // manifest tells the cache that it changed.
    let f = fixture();
    let (ws, _) = f.load();
    assert!(Fixture::local(&ws).contains(&("helper".into(), "1.0.0".into())));
    assert_eq!(f.load().1, CacheOutcome::Hit);
    write(
        &f.lib.join("Cargo.toml"),
        "[package]\nname = \"helper\"\nversion = \"1.1.0\"\nedition = \"2021\"\n",
    );
    let (ws, outcome) = f.load();
    assert_eq!(outcome, CacheOutcome::Miss);
    assert!(
        Fixture::local(&ws).contains(&("helper".into(), "1.1.0".into())),
        "{:?}",
        Fixture::local(&ws)
    );
    assert_eq!(f.load().1, CacheOutcome::Hit);
}

#[test]
fn a_new_target_file_a_lock_edit_and_a_new_config_file_are_misses() {
    let f = fixture();
    f.load();
    // Cargo discovers `src/bin/*.rs` on its own: no manifest changes.
    write(&f.ws.join("app/src/bin/extra.rs"), "fn main() {}\n");
    let (ws, outcome) = f.load();
    assert_eq!(outcome, CacheOutcome::Miss);
    assert_eq!(Fixture::targets(&ws, "app"), ["app", "extra"]);
    assert_eq!(f.load().1, CacheOutcome::Hit);

    let lock = f.ws.join("Cargo.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, format!("{text}\n# edited\n")).unwrap();
    assert_eq!(f.load().1, CacheOutcome::Miss);
    assert_eq!(f.load().1, CacheOutcome::Hit);

    write(
        &f.ws.join(".cargo/config.toml"),
        "[build]\ntarget-dir = \"elsewhere\"\n",
    );
    let (ws, outcome) = f.load();
    assert_eq!(outcome, CacheOutcome::Miss);
    // What cargo says now, without the cache (the target dir moved, unless CARGO_TARGET_DIR in
    // the test's environment overrides the config).
    let fresh = Workspace::load(&cargo(), &f.ws, &["--offline".to_string()], &[]).unwrap();
    assert_eq!(ws.metadata, fresh.metadata);
    if std::env::var_os("CARGO_TARGET_DIR").is_none() {
        assert_eq!(ws.target_dir, f.ws.join("elsewhere"));
    }
}

#[test]
fn a_corrupt_or_truncated_entry_is_a_miss_and_is_written_again() {
    let f = fixture();
    let (first, _) = f.load();
    // (Beside it: the name of the entry last used, for reading it ahead.)
    let entries: Vec<PathBuf> = std::fs::read_dir(&f.cache.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "metadata"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    let bytes = std::fs::read(entry).unwrap();
    for broken in [
        b"not an entry".to_vec(),
        bytes[..bytes.len() / 2].to_vec(),
        Vec::new(),
    ] {
        std::fs::write(entry, &broken).unwrap();
        let (ws, outcome) = f.load();
        assert_eq!(outcome, CacheOutcome::Miss);
        assert_eq!(ws.metadata, first.metadata);
        assert_eq!(f.load().1, CacheOutcome::Hit);
    }
}

#[test]
fn another_toolchain_or_other_arguments_do_not_share_an_entry() {
    let f = fixture();
    f.load();
    assert_eq!(
        f.load_with(&["--offline"], "toolchain-y").1,
        CacheOutcome::Miss
    );
    assert_eq!(
        f.load_with(&["--offline", "--locked"], "toolchain-x").1,
        CacheOutcome::Miss
    );
    assert_eq!(f.load().1, CacheOutcome::Hit);
}
