# strata itself, built with plain nixpkgs tooling: the library needs a strata binary before it can
# build anything (the repository's flake.nix then rebuilds strata with the library).
{ rustPlatform }:
rustPlatform.buildRustPackage {
  pname = "strata";
  version = "0.1.0";
  src = builtins.path {
    path = ../.;
    name = "strata-source";
    filter = import ./filterCargoSources.nix;
  };
  cargoLock.lockFile = ../Cargo.lock;
  # The test suite runs real cargo and nix builds: not inside a sandbox.
  doCheck = false;
}
