# The library from a backend (raw derivations or nixpkgs): one file per function.
backend:
let
  core = import ./core.nix backend;
  lib = {
    inherit (core) backend;
    filterCargoSources = import ../filterCargoSources.nix;
    # The skeleton's files, computed at evaluation time: { files = { "<rel path>" = "<content>"; }; }.
    skeletonFiles = import ./skeleton.nix { toml = import ./toml.nix; };
    cleanCargoSource = import ../cleanCargoSource.nix { inherit lib; };
    vendorCargoDeps = import ../vendorCargoDeps.nix { inherit lib; };
    vendorMultipleCargoDeps = import ../vendorMultipleCargoDeps.nix { inherit core lib; };
    vendorGitDeps = import ../vendorGitDeps.nix { toml = import ./toml.nix; };
    mkDummySrc = import ../mkDummySrc.nix { inherit core lib; };
    buildDepsOnly = import ../buildDepsOnly.nix { inherit core lib; };
    mkCargoDerivation = import ../mkCargoDerivation.nix { inherit core lib; };
    cargoBuild = import ../cargoBuild.nix { inherit core lib; };
    buildPackage = import ../buildPackage.nix { inherit core lib; };
    buildWorkspace = import ../buildWorkspace.nix { inherit core lib; };
    cargoClippy = import ../cargoClippy.nix { inherit core lib; };
    cargoTest = import ../cargoTest.nix { inherit core lib; };
    cargoDocTest = import ../cargoDocTest.nix { inherit core lib; };
    cargoNextest = import ../cargoNextest.nix { inherit core lib; };
    cargoDoc = import ../cargoDoc.nix { inherit core lib; };
    cargoFmt = import ../cargoFmt.nix { inherit core lib; };
    devShell = import ../devShell.nix { inherit core lib; };
    crateNameFromCargoToml = core.crateNameFromCargoToml;
  };
in
lib
