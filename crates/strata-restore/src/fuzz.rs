//! Property tests of restoring layers whose manifests came from elsewhere: whatever a valid
//! manifest says, and whatever the target dir already holds (symlinks out of it included), a
//! restore never panics and never writes outside the target dir; files it reports restored hold
//! their blobs' content.
//!
//! Cases per property: `PROPTEST_CASES` (default 2000; a tenth of them here, each restores a layer).

use std::collections::BTreeMap;
use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;
use strata_proptest::{check_scaled, fast_tempdir};
use strata_store::{Entry, EntryKind, FileTime, MANIFEST_FORMAT, Manifest, ObjectId, Store};

use crate::restore_layer;
use crate::unit::{commits_unit, fingerprint_dir};

const CONTENTS: [&[u8]; 3] = [b"", b"fingerprint hash", b"a compiled rlib, more or less"];

/// Paths in cargo's layout, with some that are not.
fn layer_path() -> impl Strategy<Value = String> {
    let profile = prop_oneof![3 => Just("release"), 1 => Just("debug"), 1 => Just("x86_64-unknown-linux-gnu/release")];
    let hash = prop_oneof![Just("0123456789abcdef"), Just("fedcba9876543210")];
    let pkg = prop_oneof![Just("foo"), Just("bar-baz")];
    prop_oneof![
        3 => (profile.clone(), pkg.clone(), hash.clone(), prop_oneof![Just("lib-foo"), Just("dep-lib-foo"), Just("lib-foo.json"), Just("invoked.timestamp")])
            .prop_map(|(p, k, h, f)| format!("{p}/.fingerprint/{k}-{h}/{f}")),
        2 => (profile.clone(), pkg.clone(), hash.clone(), prop_oneof![Just("libfoo-{h}.rlib"), Just("foo-{h}"), Just("foo-{h}.d")])
            .prop_map(|(p, _, h, f)| format!("{p}/deps/{}", f.replace("{h}", h))),
        2 => (profile.clone(), pkg, hash, prop_oneof![Just("output"), Just("out/gen.rs"), Just("build-script-build"), Just("out/a/b/c")])
            .prop_map(|(p, k, h, f)| format!("{p}/build/{k}-{h}/{f}")),
        1 => profile.clone().prop_map(|p| format!("{p}/foo")),
        1 => (profile, "[a-z]{1,3}").prop_map(|(p, s)| format!("{p}/incremental/foo-1x/s-{s}/dep-graph.bin")),
        1 => "[a-z]{1,3}(/[a-z]{1,3}){0,3}",
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        layer_path(),
        (0i64..2_000_000_000, 0u32..1_000_000_000),
        prop_oneof![
            6 => (0usize..3, any::<bool>(), prop_oneof![5 => Just(None), 1 => Just(Some(u64::MAX / 4)), 1 => Just(Some(2 << 20))])
                .prop_map(|(i, executable, lie)| EntryKind::File {
                    blob: ObjectId::of_bytes(CONTENTS[i]),
                    size: lie.unwrap_or(CONTENTS[i].len() as u64),
                    executable,
                }),
            1 => Just(EntryKind::File { blob: ObjectId::of_bytes(b"not in the store"), size: 3, executable: false }),
            2 => prop_oneof![Just("foo"), Just("../deps"), Just("../../release/foo"), Just("out/gen.rs"), Just("x/../y")]
                .prop_map(|t| EntryKind::Symlink { target: t.to_string() }),
            1 => Just(EntryKind::Dir),
        ],
    )
        .prop_map(|(path, (secs, nanos), kind)| Entry {
            path,
            mtime: FileTime { secs, nanos },
            kind,
        })
}

/// What is in the target dir before the restore: nothing, or a trap.
fn trap() -> impl Strategy<Value = u8> {
    0u8..6
}

fn set_trap(target: &Path, outside: &Path, trap: u8) {
    let link = |at: &str| {
        let at = target.join(at);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(outside, at).unwrap();
    };
    match trap {
        1 => link("release"),
        2 => link("release/deps"),
        3 => link("release/.fingerprint/foo-0123456789abcdef"),
        4 => link("release/build/foo-0123456789abcdef/out"),
        5 => {
            // A file where the restore wants a directory.
            std::fs::create_dir_all(target.join("release")).unwrap();
            std::fs::write(target.join("release/.fingerprint"), b"x").unwrap();
        }
        _ => {}
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir(dir);
    out.sort();
    out
}

fn walkdir(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.display().to_string());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walkdir(&p));
            }
        }
    }
    out
}

#[test]
fn restoring_any_valid_layer_stays_inside_the_target_dir() {
    let dir = fast_tempdir();
    let store = Store::open(dir.path().join("store")).unwrap();
    for c in CONTENTS {
        store.put_bytes(c).unwrap();
    }
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep"), b"untouched").unwrap();
    let before = listing(&outside);
    let case = std::cell::Cell::new(0u32);
    check_scaled(10, (vec(entry(), 0..14), trap()), |(entries, trap)| {
        // Duplicates and clashes are what validate is for; keep the first of each path.
        let mut seen = BTreeMap::new();
        for e in entries {
            seen.entry(e.path.clone()).or_insert(e);
        }
        let m = Manifest {
            format: MANIFEST_FORMAT,
            kind: "deps".into(),
            key: "k".into(),
            parent: None,
            created_unix_secs: 1,
            entries: seen.into_values().collect(),
            sources: vec![],
            meta: Default::default(),
        };
        if m.validate().is_err() {
            return Ok(());
        }
        case.set(case.get() + 1);
        let target = dir.path().join(format!("t{}", case.get()));
        std::fs::create_dir_all(&target).unwrap();
        set_trap(&target, &outside, trap);
        let stats = restore_layer(&store, &target, &m, true, &|_| {}).unwrap();
        prop_assert_eq!(
            listing(&outside),
            before.clone(),
            "the restore wrote outside the target dir"
        );
        prop_assert_eq!(
            std::fs::read(outside.join("keep")).unwrap(),
            b"untouched".to_vec()
        );
        prop_assert!(stats.files <= m.entries.len() * 2);
        // Every regular file the restore left in place holds what its entry's blob holds.
        for e in &m.entries {
            let EntryKind::File { blob, .. } = &e.kind else {
                continue;
            };
            let at = target.join(&e.path);
            if let Ok(md) = std::fs::symlink_metadata(&at)
                && md.is_file()
                && !walks_through_symlink(&target, &e.path)
            {
                let content = std::fs::read(&at).unwrap();
                prop_assert_eq!(
                    ObjectId::of_bytes(&content),
                    *blob,
                    "{} holds other bytes",
                    e.path
                );
            }
        }
        std::fs::remove_dir_all(&target).unwrap();
        Ok(())
    });
    // Most generated layers are valid: the property was not vacuous.
    eprintln!("{} layers restored", case.get());
    assert!(case.get() > 0, "no generated layer was valid");
}

/// Whether a parent of `rel` under `root` is a symlink (then the file seen there is not one the
/// restore wrote: it refuses to go through symlinks).
fn walks_through_symlink(root: &Path, rel: &str) -> bool {
    let mut p = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for c in &parts[..parts.len() - 1] {
        p.push(c);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return true;
        }
    }
    false
}

#[test]
fn unit_paths_never_panic() {
    check_scaled(
        1,
        prop_oneof![2 => "\\PC{0,60}", 2 => layer_path()],
        |path| {
            if let Some(fp) = fingerprint_dir(&path) {
                prop_assert!(path.starts_with(&fp), "{fp} is not a prefix of {path}");
                prop_assert!(fp.contains("/.fingerprint/"));
            }
            let _ = commits_unit(&path);
            Ok(())
        },
    );
}
