# cargoNextest { src, cargoArtifacts, cargoNextestExtraArgs ? "", … }: `cargo nextest run` through
# strata. Needs cargo-nextest: from pkgs with mkLib, on the host path without nixpkgs.
# Output: cargo.log.
{ core, lib }:
args@{
  cargoExtraArgs ? "--locked",
  cargoNextestExtraArgs ? "",
  CARGO_PROFILE ? "release",
  ...
}:
lib.mkCargoDerivation (
  args
  // {
    pnameSuffix = "-nextest";
    tools = [ "nextest" ];
    buildPhaseCargoCommand = ''
      ${core.strata} nextest --no-save run --cargo-profile ${CARGO_PROFILE} ${cargoExtraArgs} --offline --no-tests=pass ${cargoNextestExtraArgs}
    '';
    installPhaseCommand = ''
      mkdir -p "$out"
      cp "$NIX_BUILD_TOP/cargo.log" "$out/cargo.log"
    '';
  }
)
