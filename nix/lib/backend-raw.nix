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
  # Nix 2.8 building without build users kills the builder's process group when the build log's
  # pipe reaches EOF, which races the builder's own exit: a finished build then "failed due to
  # signal 9". A short-lived child that holds the pipe past the exit makes the exit win.
  exitGuard = "trap 'sleep 0.2 &' EXIT\n";
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
          (exitGuard + "set -euo pipefail\n" + script)
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

  # Enter with `nix-shell`: it exports the attributes, sources `$stdenv/setup` and runs
  # `runHook shellHook`; this tiny `stdenv` provides just that runHook.
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
        stdenv = derivation {
          name = "strata-shell-setup";
          inherit system;
          builder = bash;
          args = [
            "-c"
            (exitGuard + ''
              set -e
              mkdir -p "$out"
              echo 'runHook() { local hook="$1"; eval "''${!hook:-}"; }' > "$out/setup"
            '')
          ];
          PATH = path;
        };
        builder = bash;
        args = [
          "-c"
          (exitGuard + "echo 'strata devShell: enter it with nix-shell' > $out")
        ];
        PATH = "${dirOf strata}:${path}";
      }
      // env
    );
}
