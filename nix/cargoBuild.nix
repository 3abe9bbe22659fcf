# cargoBuild { src, cargoArtifacts, cargoExtraArgs ? "--locked", … }: `cargo build` through strata,
# and the *store* as output, with a crate layer added: pass it as `cargoArtifacts` to a later
# derivation and strata restores the workspace's own compiled crates too (content-based
# freshness rebuilds only what changed).
{ core, lib }:
args@{
  cargoExtraArgs ? "--locked",
  CARGO_PROFILE ? "release",
  ...
}:
lib.mkCargoDerivation (
  args
  // {
    pnameSuffix = "-build";
    buildPhaseCargoCommand = ''
      ${core.strata} build ${core.profileArgs CARGO_PROFILE} ${cargoExtraArgs} --offline
    '';
    installPhaseCommand = ''
      cp -r "$STRATA_STORE" "$out"
      rm -rf "$out/tmp"
      cp "$NIX_BUILD_TOP/cargo.log" "$out/cargo.log"
    '';
  }
)
