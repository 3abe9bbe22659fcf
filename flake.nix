# strata's own flake, built with strata's Nix library (nix/): the library is `lib.mkLib`, and
# strata itself is built by it, bootstrapped with a strata from plain nixpkgs tooling
# (nix/package.nix) that runs the library's derivations.
{
  description = "strata: layered, content-addressed caching of Cargo builds";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      mkLib = import ./nix/mkLib.nix;
      project =
        pkgs:
        let
          s = mkLib pkgs;
          # The integration tests' fixture reads its README through include_str!.
          src = builtins.path {
            path = ./.;
            name = "source";
            filter =
              p: t:
              s.filterCargoSources p t || (baseNameOf p == "README.md" && baseNameOf (dirOf p) == "core");
          };
          commonArgs = {
            inherit src;
            pname = "strata";
          };
          cargoArtifacts = s.buildDepsOnly commonArgs;
        in
        {
          inherit s src cargoArtifacts;
          # The test suite runs cargo, nix-build and servers: it belongs to .ci/run, not a sandbox.
          package = s.buildPackage (commonArgs // {
            inherit cargoArtifacts;
            doCheck = false;
          });
          checks = {
            clippy = s.cargoClippy (commonArgs // {
              inherit cargoArtifacts;
              cargoClippyExtraArgs = "--workspace --all-targets -- -D warnings";
            });
            doc = s.cargoDoc (commonArgs // { inherit cargoArtifacts; });
            fmt = s.cargoFmt commonArgs;
          };
          devShell = s.devShell {
            inherit src;
            pname = "strata";
          };
        };
    in
    {
      # Users: `s = strata.lib.mkLib pkgs;` (see docs/nix.md).
      lib.mkLib = mkLib;

      packages = forAll (pkgs: {
        default = (project pkgs).package;
        strata = (project pkgs).package;
      });

      checks = forAll (pkgs: (project pkgs).checks);

      devShells = forAll (pkgs: {
        default = (project pkgs).devShell;
      });
    };
}
