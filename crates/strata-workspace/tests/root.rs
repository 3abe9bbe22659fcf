//! The workspace root with real cargo: the same directory from a member's subdirectory as from
//! the root, and a clear error outside any workspace.

use std::path::{Path, PathBuf};

use strata_workspace::{Workspace, WorkspaceError, workspace_root};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

#[test]
fn a_members_subdirectory_gives_the_workspace_root_that_metadata_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    write(
        &ws.join("Cargo.toml"),
        "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n",
    );
    write(
        &ws.join("app/Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(&ws.join("app/src/main.rs"), "fn main() {}\n");
    let deep = ws.join("app/src");
    let root = workspace_root(&cargo(), &deep).unwrap();
    assert_eq!(root, ws.canonicalize().unwrap());
    assert_eq!(workspace_root(&cargo(), &ws).unwrap(), root);
    let meta = Workspace::load(&cargo(), &deep, &["--offline".to_string()], &[]).unwrap();
    assert_eq!(meta.root, root);
}

#[test]
fn outside_a_workspace_the_error_names_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let err = workspace_root(&cargo(), tmp.path()).unwrap_err();
    assert!(matches!(&err, WorkspaceError::NoWorkspace { dir, .. } if dir == tmp.path()));
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot find the workspace root from {}: ",
            tmp.path().display()
        )),
        "{text}"
    );
    assert!(text.contains("Cargo.toml"), "{text}");
}

#[test]
fn a_cargo_that_cannot_run_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let err = workspace_root(&tmp.path().join("no-such-cargo"), tmp.path()).unwrap_err();
    assert!(matches!(err, WorkspaceError::LocateSpawn(_)));
    assert!(
        err.to_string()
            .starts_with("could not run `cargo locate-project`: "),
        "{err}"
    );
}
