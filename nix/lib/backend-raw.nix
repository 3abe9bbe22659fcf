# Backend without nixpkgs: raw `derivation`s run by the host's bash, with the host toolchain and
# strata binary given by path (strings). Used by the tests and by ./default.nix.
{
  rustToolchain,
  strata,
  extraPath,
  hostPath,
  bash,
  system,
}:
let
  path = builtins.concatStringsSep ":" ([ "${rustToolchain}/bin" ] ++ extraPath ++ [ hostPath ]);
in
{
  kind = "raw";
  strataExe = strata;

  # A derivation running `script` with `set -euo pipefail`. `tools` name optional programs
  # (nextest, mold, …); here they must already be on `extraPath` or `hostPath`.
  mkDrv =
    {
      name,
      script,
      env ? { },
      tools ? [ ],
    }:
    derivation (
      {
        inherit name system;
        builder = bash;
        args = [
          "-c"
          ("set -euo pipefail\n" + script)
        ];
        PATH = path;
      }
      // env
    );

  # One `.crate` as a fixed-output derivation, checked by the lock file's sha256.
  fetchCrate =
    {
      name,
      version,
      sha256,
    }:
    import <nix/fetchurl.nix> {
      url = "https://static.crates.io/crates/${name}/${name}-${version}.crate";
      name = "${name}-${version}.crate";
      inherit sha256;
    };

  # Enter with `nix-shell -A …`: nix-shell exports the attributes and evaluates `shellHook`.
  mkShell =
    {
      name,
      env,
      shellHook,
      tools ? [ ],
    }:
    derivation (
      {
        inherit name system shellHook;
        builder = bash;
        args = [
          "-c"
          "echo 'strata devShell: enter it with nix-shell' > $out"
        ];
        PATH = path;
      }
      // env
    );
}
