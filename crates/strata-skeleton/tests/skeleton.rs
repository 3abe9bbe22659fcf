//! End-to-end: real workspaces in tempdirs, real `cargo metadata`, real `cargo build` on the
//! written skeleton.

use std::path::{Path, PathBuf};
use std::process::Command;

use strata_skeleton::{Skeleton, SkeletonError};

fn cargo_bin() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Shared by all skeleton builds so registry deps compile once.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/skeleton-tests")
}

fn put(dir: &Path, rel: &str, content: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn edit(dir: &Path, rel: &str, from: &str, to: &str) {
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{rel} lacks {from:?}");
    std::fs::write(path, text.replace(from, to)).unwrap();
}

fn metadata(root: &Path) -> cargo_metadata::Metadata {
    cargo_metadata::MetadataCommand::new()
        .cargo_path(cargo_bin())
        .manifest_path(root.join("Cargo.toml"))
        .current_dir(root)
        .exec()
        .unwrap_or_else(|e| panic!("cargo metadata in {}: {e}", root.display()))
}

fn skeleton(root: &Path) -> Skeleton {
    Skeleton::from_metadata(&metadata(root)).unwrap()
}

fn cargo(root: &Path, args: &[&str]) {
    let out = Command::new(cargo_bin())
        .args(args)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo {args:?} in {} failed:\n{}",
        root.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Layout (under `base`):
///   ws/            workspace root: members app, core, macros
///   shared/util    path dependency outside the root, inheriting from its own workspace `shared/`
fn full_fixture(base: &Path) -> PathBuf {
    let ws = base.join("ws");
    put(
        &ws,
        "Cargo.toml",
        r#"[workspace]
members = ["app", "core", "macros"]
resolver = "2"

[workspace.package]
version = "1.2.3"
edition = "2021"
description = "the workspace"
license = "MIT"

[workspace.dependencies]
core = { path = "core", version = "1.2.3" }
itoa = "1"

[workspace.metadata.release]
tag = true

[profile.release]
lto = false
"#,
    );
    put(&ws, "README.md", "# ws\n");
    put(
        &ws,
        "app/Cargo.toml",
        r#"[package]
name = "app"
version.workspace = true
edition.workspace = true
description = "the app"
license.workspace = true

[dependencies]
core = { workspace = true }
itoa = { workspace = true }
macros = { path = "../macros", version = "1.2.3" }
util = { path = "../../shared/util", version = "0.3.0" }

[features]
default = ["fast"]
fast = []

[[bin]]
name = "app"
path = "src/main.rs"
"#,
    );
    put(&ws, "app/src/lib.rs", "pub fn real_app() {}\n");
    put(&ws, "app/src/main.rs", "fn main() { app::real_app() }\n");
    put(
        &ws,
        "app/src/bin/tool.rs",
        "fn main() { println!(\"REAL tool\") }\n",
    );
    put(
        &ws,
        "app/examples/demo.rs",
        "fn main() { println!(\"REAL demo\") }\n",
    );
    put(&ws, "app/tests/it.rs", "#[test]\nfn real_it() {}\n");
    put(&ws, "app/benches/b.rs", "#[test]\nfn real_bench() {}\n");
    put(
        &ws,
        "app/build.rs",
        "fn main() { println!(\"cargo:rustc-cfg=REAL\") }\n",
    );
    put(
        &ws,
        "core/Cargo.toml",
        "[package]\nname = \"core\"\nversion.workspace = true\nedition.workspace = true\n",
    );
    put(&ws, "core/src/lib.rs", "pub fn real_core() {}\n");
    put(
        &ws,
        "macros/Cargo.toml",
        "[package]\nname = \"macros\"\nversion = \"1.2.3\"\nedition = \"2021\"\n\n[lib]\nproc-macro = true\n",
    );
    put(&ws, "macros/src/lib.rs", "// REAL proc macros\n");
    put(
        base,
        "shared/Cargo.toml",
        "[workspace]\nmembers = [\"util\"]\n\n[workspace.package]\nedition = \"2021\"\n",
    );
    put(
        base,
        "shared/util/Cargo.toml",
        "[package]\nname = \"util\"\nversion = \"0.3.0\"\nedition.workspace = true\nauthors = [\"someone\"]\n",
    );
    put(base, "shared/util/src/lib.rs", "pub fn real_util() {}\n");
    ws
}

/// Every local version bumped, as a release would; `cargo metadata` then rewrites the lock.
fn bump_versions(base: &Path) {
    let ws = base.join("ws");
    edit(
        &ws,
        "Cargo.toml",
        "version = \"1.2.3\"\nedition",
        "version = \"1.3.0\"\nedition",
    );
    edit(
        &ws,
        "Cargo.toml",
        "path = \"core\", version = \"1.2.3\"",
        "path = \"core\", version = \"1.3.0\"",
    );
    edit(&ws, "macros/Cargo.toml", "1.2.3", "1.3.0");
    edit(
        &ws,
        "app/Cargo.toml",
        "version = \"1.2.3\"",
        "version = \"1.3.0\"",
    );
    edit(
        &ws,
        "app/Cargo.toml",
        "version = \"0.3.0\"",
        "version = \"0.4.0\"",
    );
    edit(base, "shared/util/Cargo.toml", "0.3.0", "0.4.0");
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() == "target" {
                continue;
            }
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn written_skeleton_builds_all_targets_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = full_fixture(tmp.path());
    let sk = skeleton(&ws);

    let names: Vec<(&str, bool)> = sk
        .local_packages()
        .iter()
        .map(|p| (p.name.as_str(), p.is_member))
        .collect();
    assert_eq!(
        names,
        [
            ("app", true),
            ("core", true),
            ("macros", true),
            ("util", false)
        ]
    );
    let app = &sk.local_packages()[0];
    assert_eq!(app.version, "1.2.3");
    assert_eq!(app.manifest_dir, ws.join("app"));
    for t in ["app", "tool", "demo", "it", "b", "build_script_build"] {
        assert!(
            app.targets.iter().any(|x| x == t),
            "{t} missing: {:?}",
            app.targets
        );
    }

    let files = sk.files();
    for key in [
        "Cargo.toml",
        "Cargo.lock",
        "app/src/bin/tool.rs",
        "app/build.rs",
        "../shared/Cargo.toml",
        "../shared/util/Cargo.toml",
        "../shared/util/src/lib.rs",
    ] {
        assert!(files.contains_key(key), "{key} missing: {:?}", files.keys());
    }
    assert!(!files.contains_key("README.md"));
    for (path, content) in files {
        let text = String::from_utf8_lossy(content);
        assert!(
            !text.contains("REAL") && !text.contains("real_"),
            "{path} has real content:\n{text}"
        );
        if path.ends_with(".toml") || path.ends_with(".lock") {
            for v in ["1.2.3", "0.3.0"] {
                assert!(!text.contains(v), "{path} keeps version {v}:\n{text}");
            }
            assert!(!text.contains("description"), "{path}:\n{text}");
        }
    }
    let lock = String::from_utf8_lossy(&files["Cargo.lock"]).into_owned();
    assert!(
        lock.contains("name = \"app\"\nversion = \"0.0.0\""),
        "{lock}"
    );
    assert!(
        lock.contains("name = \"util\"\nversion = \"0.0.0\""),
        "{lock}"
    );

    let dest = tempfile::tempdir().unwrap();
    let root = sk.write(dest.path()).unwrap();
    assert_eq!(root, dest.path().join(ws.strip_prefix("/").unwrap()));
    assert!(root.join("../shared/util/Cargo.toml").is_file());
    assert!(!root.join("README.md").exists());

    cargo(&root, &["build", "--all-targets", "--locked"]);
    cargo(&root, &["check", "--all-targets", "--locked"]);
    cargo(&root, &["test", "--no-run", "--locked"]);
    cargo(&root, &["build", "--locked"]);
    // cargo accepted the masked lock as is: nothing was rewritten.
    assert_eq!(
        std::fs::read(root.join("Cargo.lock")).unwrap(),
        files["Cargo.lock"]
    );
}

#[test]
fn digest_ignores_sources_docs_versions_and_location() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("one");
    let ws = full_fixture(&base);
    let d0 = skeleton(&ws).digest();

    edit(&ws, "app/src/lib.rs", "real_app", "real_app_renamed");
    put(&ws, "core/src/extra.rs", "pub fn more() {}\n");
    assert_eq!(skeleton(&ws).digest(), d0, "editing .rs files");

    edit(&ws, "README.md", "# ws", "# ws, now documented");
    put(&ws, "app/README.md", "# app\n");
    assert_eq!(skeleton(&ws).digest(), d0, "editing/adding READMEs");

    let lock_before = std::fs::read_to_string(ws.join("Cargo.lock")).unwrap();
    bump_versions(&base);
    let sk = skeleton(&ws); // cargo metadata rewrites the lock with the new versions
    let lock_after = std::fs::read_to_string(ws.join("Cargo.lock")).unwrap();
    assert_ne!(lock_before, lock_after, "the bump must reach the real lock");
    assert!(lock_after.contains("1.3.0") && lock_after.contains("0.4.0"));
    assert_eq!(sk.digest(), d0, "bumping versions: {:?}", sk.file_digests());
    assert_eq!(sk.local_packages()[0].version, "1.3.0");

    edit(&ws, "app/Cargo.toml", "the app", "the application");
    edit(&ws, "Cargo.toml", "the workspace", "the whole workspace");
    assert_eq!(skeleton(&ws).digest(), d0, "editing descriptions");

    // Comments and formatting are laundered away (a release tool may rewrite them).
    let manifest = ws.join("app/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!("# a comment\n{}\n\n", text.replace(" = ", "=")),
    )
    .unwrap();
    assert_eq!(skeleton(&ws).digest(), d0, "comments and whitespace");

    let other = tmp.path().join("elsewhere/deeper");
    std::fs::create_dir_all(&other).unwrap();
    copy_tree(&base, &other);
    let copied = skeleton(&other.join("ws"));
    assert_ne!(copied.workspace_root(), ws.as_path());
    assert_eq!(copied.digest(), d0, "same workspace at another path");
}

#[test]
fn digest_follows_dependency_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let make = |name: &str| full_fixture(&tmp.path().join(name));
    let base = skeleton(&make("base"));
    let d0 = base.digest();

    let changed = |ws: &Path, what: &str, expect_file: &str| {
        let sk = skeleton(ws);
        assert_ne!(sk.digest(), d0, "{what}");
        let before = base.file_digests();
        let after = sk.file_digests();
        assert_ne!(
            before.get(expect_file),
            after.get(expect_file),
            "{what}: {expect_file}"
        );
        sk.digest()
    };

    let ws = make("dep");
    edit(
        &ws,
        "core/Cargo.toml",
        "edition.workspace = true\n",
        "edition.workspace = true\n\n[dependencies]\nitoa = \"1\"\n",
    );
    let d_dep = changed(&ws, "adding a registry dependency", "core/Cargo.toml");

    let ws = make("feat");
    edit(
        &ws,
        "app/Cargo.toml",
        "fast = []",
        "fast = []\nextra = [\"fast\"]",
    );
    let d_feat = changed(&ws, "changing a feature list", "app/Cargo.toml");

    let ws = make("profile");
    edit(&ws, "Cargo.toml", "lto = false", "lto = \"thin\"");
    let d_prof = changed(&ws, "changing a profile setting", "Cargo.toml");

    let ws = make("bin");
    put(&ws, "app/src/bin/new.rs", "fn main() {}\n");
    let d_bin = changed(&ws, "adding a bin target", "app/src/bin/new.rs");

    let all = [&d0, &d_dep, &d_feat, &d_prof, &d_bin];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

/// A `[patch]` path package satisfies a registry requirement, so its version must stay real: masked,
/// `itoa = "1"` would no longer match it and cargo would silently use crates.io's itoa instead.
#[test]
fn patch_path_package_keeps_its_version_and_builds_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let ws = base.join("pws");
    put(
        &ws,
        "Cargo.toml",
        r#"[package]
name = "pws"
version = "2.0.0"
edition = "2021"

[dependencies]
itoa = "1"

[patch.crates-io]
itoa = { path = "../itoa-fork" }
"#,
    );
    put(&ws, "src/main.rs", "fn main() {}\n");
    put(
        base,
        "itoa-fork/Cargo.toml",
        "[package]\nname = \"itoa\"\nversion = \"1.0.99\"\nedition = \"2021\"\n",
    );
    put(base, "itoa-fork/src/lib.rs", "pub fn forked() {}\n");

    let sk = skeleton(&ws);
    let fork = String::from_utf8_lossy(&sk.files()["../itoa-fork/Cargo.toml"]).into_owned();
    assert!(fork.contains("version = \"1.0.99\""), "{fork}");
    let lock = String::from_utf8_lossy(&sk.files()["Cargo.lock"]).into_owned();
    assert!(
        lock.contains("name = \"itoa\"\nversion = \"1.0.99\""),
        "{lock}"
    );
    assert!(
        lock.contains("name = \"pws\"\nversion = \"0.0.0\""),
        "{lock}"
    );
    assert!(!lock.contains("2.0.0"), "{lock}");

    let dest = tempfile::tempdir().unwrap();
    let root = sk.write(dest.path()).unwrap();
    cargo(&root, &["build", "--locked"]);
    assert_eq!(
        std::fs::read(root.join("Cargo.lock")).unwrap(),
        sk.files()["Cargo.lock"]
    );
}

/// A patched member inheriting `workspace.package.version` keeps that version real, and so does
/// every other member inheriting it, in manifests and lock alike.
#[test]
fn patch_member_inheriting_version_keeps_workspace_version() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("iws");
    put(
        &ws,
        "Cargo.toml",
        r#"[workspace]
members = ["app", "itoa"]
resolver = "2"

[workspace.package]
version = "1.0.98"
edition = "2021"

[patch.crates-io]
itoa = { path = "itoa" }
"#,
    );
    put(
        &ws,
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion.workspace = true\nedition.workspace = true\n\n[dependencies]\nitoa = \"1\"\n",
    );
    put(&ws, "app/src/main.rs", "fn main() {}\n");
    put(
        &ws,
        "itoa/Cargo.toml",
        "[package]\nname = \"itoa\"\nversion.workspace = true\nedition.workspace = true\n",
    );
    put(&ws, "itoa/src/lib.rs", "pub fn forked() {}\n");

    let sk = skeleton(&ws);
    let root_manifest = String::from_utf8_lossy(&sk.files()["Cargo.toml"]).into_owned();
    assert!(
        root_manifest.contains("version = \"1.0.98\""),
        "{root_manifest}"
    );
    let lock = String::from_utf8_lossy(&sk.files()["Cargo.lock"]).into_owned();
    assert!(!lock.contains("0.0.0"), "{lock}");

    let dest = tempfile::tempdir().unwrap();
    let root = sk.write(dest.path()).unwrap();
    cargo(&root, &["build", "--locked"]);
    assert_eq!(
        std::fs::read(root.join("Cargo.lock")).unwrap(),
        sk.files()["Cargo.lock"]
    );
}

fn tiny_fixture(ws: &Path) {
    put(
        ws,
        "Cargo.toml",
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    put(ws, "src/lib.rs", "pub fn real_tiny() {}\n");
}

/// Config and toolchain files are read when the skeleton is made; they are written after
/// `cargo metadata` so they cannot influence the test's own cargo runs.
#[test]
fn cargo_config_and_toolchain_files_are_mirrored() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let ws = base.join("outer/ws");
    tiny_fixture(&ws);
    let meta = metadata(&ws);
    let d0 = Skeleton::from_metadata(&meta).unwrap().digest();

    put(base, ".cargo/config.toml", "[env]\nFROM_ANCESTOR = \"1\"\n");
    put(&ws, ".cargo/config.toml", "[env]\nFROM_ROOT = \"1\"\n");
    put(
        &ws,
        "rust-toolchain.toml",
        "[toolchain]\nchannel = \"stable\"\n",
    );
    put(base, "outer/rust-toolchain", "nightly\n");
    let sk = Skeleton::from_metadata(&meta).unwrap();
    let keys: Vec<&str> = sk.files().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "../../.cargo/config.toml",
            ".cargo/config.toml",
            "Cargo.lock",
            "Cargo.toml",
            "rust-toolchain.toml",
            "src/lib.rs",
        ],
        "the ancestor toolchain file is shadowed by the root's"
    );
    assert_ne!(sk.digest(), d0);

    let dest = tempfile::tempdir().unwrap();
    let root = sk.write(dest.path()).unwrap();
    let mirrored_base = dest.path().join(base.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read_to_string(mirrored_base.join(".cargo/config.toml")).unwrap(),
        "[env]\nFROM_ANCESTOR = \"1\"\n"
    );
    assert!(root.join(".cargo/config.toml").is_file());
    assert!(root.join("rust-toolchain.toml").is_file());
    assert!(!mirrored_base.join("outer/rust-toolchain").exists());
}

#[test]
fn broken_or_missing_inputs_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("tiny");
    tiny_fixture(&ws);
    let meta = metadata(&ws);
    assert!(Skeleton::from_metadata(&meta).is_ok());

    let lock = ws.join("Cargo.lock");
    let good_lock = std::fs::read(&lock).unwrap();
    std::fs::write(&lock, "version = 4\n[[package]\nname = ").unwrap();
    let err = Skeleton::from_metadata(&meta).unwrap_err();
    assert!(
        matches!(err, SkeletonError::Parse { ref path, .. } if *path == lock),
        "{err}"
    );
    assert!(err.to_string().contains("Cargo.lock"), "{err}");

    std::fs::remove_file(&lock).unwrap();
    let err = Skeleton::from_metadata(&meta).unwrap_err();
    assert!(
        matches!(err, SkeletonError::MissingLock { ref path } if *path == lock),
        "{err}"
    );
    std::fs::write(&lock, good_lock).unwrap();

    let manifest = ws.join("Cargo.toml");
    std::fs::write(&manifest, "[package\nname = \"tiny\"\n").unwrap();
    let err = Skeleton::from_metadata(&meta).unwrap_err();
    assert!(
        matches!(err, SkeletonError::Parse { ref path, .. } if *path == manifest),
        "{err}"
    );
    assert!(
        err.to_string().contains(&manifest.display().to_string()),
        "{err}"
    );

    std::fs::remove_file(&manifest).unwrap();
    let err = Skeleton::from_metadata(&meta).unwrap_err();
    assert!(
        matches!(err, SkeletonError::Read { ref path, .. } if *path == manifest),
        "{err}"
    );
}
