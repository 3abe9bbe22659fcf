# cargoFmt { src, cargoFmtExtraArgs ? "--all", rustFmtExtraArgs ? "" }: `cargo fmt --check`.
# Needs no dependencies and no cargoArtifacts. Fails when a file is not formatted.
{ core, lib }:
args@{
  cargoFmtExtraArgs ? "--all",
  rustFmtExtraArgs ? "",
  ...
}:
lib.mkCargoDerivation (
  args
  // {
    pnameSuffix = "-fmt";
    cargoArtifacts = null;
    buildPhaseCargoCommand = ''
      cargo fmt ${cargoFmtExtraArgs} -- --check ${rustFmtExtraArgs}
    '';
    installPhaseCommand = ''
      mkdir -p "$out"
      cp "$NIX_BUILD_TOP/cargo.log" "$out/cargo.log"
    '';
  }
)
