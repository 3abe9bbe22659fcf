//! What `strata skeleton --out DIR` (the skeleton the Nix library's dependency derivation
//! builds) and `strata nix init` (a flake.nix for the project) do.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use strata_skeleton::Skeleton;
use strata_workspace::{MetadataRun, Workspace, WorkspaceError};

/// Writes the skeleton of the workspace in `cwd` into `out` ([`Skeleton::write_rooted`]).
pub fn write_skeleton(cwd: &Path, out: &Path, metadata_args: &[String]) -> Result<usize, String> {
    let cargo = strata_cargo::cargo_bin();
    let envs: Vec<(OsString, OsString)> = Vec::new();
    let ws = Workspace::load(&cargo, cwd, metadata_args, &envs).map_err(|e| e.to_string())?;
    let skeleton = Skeleton::from_metadata(&ws.metadata).map_err(|e| e.to_string())?;
    skeleton.write_rooted(out).map_err(|e| e.to_string())
}

/// Options of `strata nix init`.
pub struct InitOptions {
    pub dir: PathBuf,
    pub strata_url: String,
    pub system: String,
    pub force: bool,
}

/// Writes `flake.nix` for the workspace in `opts.dir`. Returns its path.
pub fn init(opts: &InitOptions) -> Result<PathBuf, String> {
    let path = opts.dir.join("flake.nix");
    if path.exists() && !opts.force {
        return Err(format!(
            "{}: already exists; pass --force to overwrite it",
            path.display()
        ));
    }
    let ws = workspace(&opts.dir)?;
    let text = flake_text(&pname(&ws), &opts.strata_url, &opts.system);
    strata_fs::write_atomic(&path, text).map_err(|e| e.to_string())?;
    Ok(path)
}

/// The workspace in `dir`, its own packages only (`--no-deps`: the flake needs the root
/// package's name, not the dependency graph, so no registry is read).
fn workspace(dir: &Path) -> Result<Workspace, String> {
    let cargo = strata_cargo::cargo_bin();
    let run = MetadataRun {
        cargo: &cargo,
        cwd: dir,
        args: &[],
        envs: &[],
    };
    run.output(true)
        .and_then(|bytes| Workspace::from_output(&bytes))
        .map_err(|e| match e {
            WorkspaceError::NoLock { path } => format!(
                "{}: missing; the Nix library vendors dependencies from it (run `cargo generate-lockfile`)",
                path.display()
            ),
            e => e.to_string(),
        })
}

/// The root package's name (a virtual workspace: the root directory's name), as a Nix string
/// literal may carry it: no quotes, no `${`.
fn pname(ws: &Workspace) -> String {
    let name = ws
        .metadata
        .root_package()
        .map(|p| p.name.to_string())
        .or_else(|| {
            ws.root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "workspace".to_string());
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

fn flake_text(pname: &str, strata_url: &str, system: &str) -> String {
    format!(
        r#"# Written by `strata nix init`. Builds with strata's Nix library (crane's API):
# the dependencies are one derivation (a strata layer) that the package and the checks restore.
{{
  inputs = {{
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    strata.url = "{strata_url}";
  }};

  outputs = {{ self, nixpkgs, strata, ... }}:
    let
      system = "{system}";
      pkgs = nixpkgs.legacyPackages.${{system}};
      s = strata.lib.mkLib pkgs;
      # Only what cargo reads: a README or docs edit changes no derivation.
      src = s.cleanCargoSource ./.;
      commonArgs = {{
        inherit src;
        pname = "{pname}";
      }};
      # Dependencies only, from strata's skeleton: a version bump or a source edit keeps it.
      cargoArtifacts = s.buildDepsOnly commonArgs;
    in
    {{
      packages.${{system}}.default = s.buildPackage (commonArgs // {{
        inherit cargoArtifacts;
        doCheck = false;
      }});

      checks.${{system}} = {{
        clippy = s.cargoClippy (commonArgs // {{
          inherit cargoArtifacts;
          cargoClippyExtraArgs = "--all-targets -- -D warnings";
        }});
        nextest = s.cargoNextest (commonArgs // {{ inherit cargoArtifacts; }});
        doc = s.cargoDoc (commonArgs // {{ inherit cargoArtifacts; }});
        fmt = s.cargoFmt {{ inherit src; pname = "{pname}"; }};
      }};

      # Incremental cargo, a target dir shared between checkouts, mold (else lld), rust-analyzer.
      devShells.${{system}}.default = s.devShell {{
        inherit src;
        linker = "mold";
      }};
    }};
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flake_names_the_package_and_every_check() {
        let t = flake_text(
            "fx-app",
            "git+https://example.invalid/strata",
            "x86_64-linux",
        );
        for needle in [
            "pname = \"fx-app\"",
            "strata.url = \"git+https://example.invalid/strata\"",
            "clippy =",
            "nextest =",
            "doc =",
            "fmt =",
            "devShells.${system}.default",
            "buildDepsOnly",
        ] {
            assert!(t.contains(needle), "{needle} missing from\n{t}");
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn package(dir: &Path, name: &str) {
        write(
            &dir.join("Cargo.toml"),
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        );
        write(&dir.join("src/lib.rs"), "");
    }

    #[test]
    fn the_flake_is_named_after_the_root_package_else_the_root_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("my-ws");
        package(&root, "fx-app");
        write(&root.join("Cargo.lock"), "version = 4\n");
        assert_eq!(pname(&workspace(&root).unwrap()), "fx-app");

        // A virtual workspace: the root directory's name, less what a Nix string must not hold.
        let virt = dir.path().join("odd${dir}\"name");
        write(
            &virt.join("Cargo.toml"),
            "[workspace]\nmembers = [\"member\"]\nresolver = \"2\"\n",
        );
        package(&virt.join("member"), "member");
        write(&virt.join("Cargo.lock"), "version = 4\n");
        assert_eq!(pname(&workspace(&virt).unwrap()), "odddirname");
    }

    #[test]
    fn init_needs_a_lock_and_writes_the_flake_whole() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        package(&root, "fx-app");
        let opts = InitOptions {
            dir: root.clone(),
            strata_url: "git+https://example.invalid/strata".into(),
            system: "x86_64-linux".into(),
            force: false,
        };
        let e = init(&opts).unwrap_err();
        assert!(e.ends_with("Cargo.lock: missing; the Nix library vendors dependencies from it (run `cargo generate-lockfile`)"), "{e}");
        assert!(!root.join("flake.nix").exists());
        write(&root.join("Cargo.lock"), "version = 4\n");
        let path = init(&opts).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("pname = \"fx-app\"")
        );
        // Only the flake: no temporary file left beside it.
        let mut names: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["Cargo.lock", "Cargo.toml", "flake.nix", "src"]);
        let again = init(&opts).unwrap_err();
        assert!(
            again.ends_with("flake.nix: already exists; pass --force to overwrite it"),
            "{again}"
        );
    }
}
