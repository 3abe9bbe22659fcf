//! What `strata skeleton --out DIR` (the skeleton the Nix library's dependency derivation
//! builds) and `strata nix init` (a flake.nix for the project) do.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use strata_skeleton::Skeleton;
use strata_workspace::Workspace;

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
    let (pname, root) = project_name(&opts.dir)?;
    if !root.join("Cargo.lock").is_file() {
        return Err(format!(
            "{}: missing; the Nix library vendors dependencies from it (run `cargo generate-lockfile`)",
            root.join("Cargo.lock").display()
        ));
    }
    let text = flake_text(&pname, &opts.strata_url, &opts.system);
    let tmp = opts.dir.join(".flake.nix.strata-tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: cannot write: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    Ok(path)
}

/// The root package's name (a virtual workspace: the root directory's name) and the root.
fn project_name(dir: &Path) -> Result<(String, PathBuf), String> {
    let out = Command::new(strata_cargo::cargo_bin())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("could not run `cargo metadata`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo metadata` failed in {}:\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("could not parse `cargo metadata` output: {e}"))?;
    let root = PathBuf::from(v["workspace_root"].as_str().unwrap_or_default());
    let root_manifest = root.join("Cargo.toml");
    let name = v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(root_manifest.as_path()))
        .and_then(|p| p["name"].as_str())
        .map(str::to_string)
        .or_else(|| root.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "workspace".to_string());
    // A Nix string literal must not carry quotes or `${`.
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    Ok((name, root))
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
}
