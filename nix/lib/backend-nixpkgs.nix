# Backend on nixpkgs: pkgs.stdenv.mkDerivation, the toolchain from pkgs (or `toolchain`, e.g. a
# rust-overlay/fenix toolchain holding cargo, rustc, clippy and rustfmt), strata from ../package.nix.
# It uses only these attributes of pkgs: stdenv.mkDerivation, mkShell, fetchurl, callPackage,
# cargo, rustc, clippy, rustfmt, cargo-nextest, rust-analyzer, mold, lld.
{
  pkgs,
  toolchain ? null,
  strata ? null,
}:
let
  rust =
    if toolchain != null then
      [ toolchain ]
    else
      [
        pkgs.cargo
        pkgs.rustc
        pkgs.clippy
        pkgs.rustfmt
      ];
  strataPkg = if strata != null then strata else pkgs.callPackage ../package.nix { };
  toolPkgs = {
    nextest = pkgs.cargo-nextest;
    rust-analyzer = pkgs.rust-analyzer;
    mold = pkgs.mold;
    lld = pkgs.lld;
  };
  toolsOf = tools: map (t: toolPkgs.${t}) tools;
in
{
  kind = "nixpkgs";
  strataExe = "${strataPkg}/bin/strata";

  mkDrv =
    {
      name,
      script,
      env ? { },
      tools ? [ ],
    }:
    pkgs.stdenv.mkDerivation (
      {
        inherit name;
        dontUnpack = true;
        dontConfigure = true;
        dontInstall = true;
        dontFixup = true;
        nativeBuildInputs = rust ++ [ strataPkg ] ++ toolsOf tools;
        buildPhase = script;
      }
      // env
    );

  fetchCrate =
    {
      name,
      version,
      sha256,
    }:
    pkgs.fetchurl {
      url = "https://static.crates.io/crates/${name}/${name}-${version}.crate";
      name = "${name}-${version}.crate";
      inherit sha256;
    };

  mkShell =
    {
      name,
      env,
      shellHook,
      tools ? [ ],
    }:
    pkgs.mkShell (
      {
        inherit name shellHook;
        packages = rust ++ [ strataPkg ] ++ toolsOf tools;
      }
      // env
    );
}
