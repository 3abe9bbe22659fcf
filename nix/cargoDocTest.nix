# cargoDocTest { src, cargoArtifacts, cargoDocTestExtraArgs ? "", … }: the documentation tests
# alone (`cargo test --doc`) through strata, the dependencies restored from `cargoArtifacts`, as
# crane's cargoDocTest. Output: cargo.log.
{ core, lib }:
args@{
  cargoExtraArgs ? "--locked",
  cargoTestExtraArgs ? "",
  cargoDocTestExtraArgs ? "",
  CARGO_PROFILE ? "release",
  ...
}:
lib.mkCargoDerivation (
  args
  // {
    pnameSuffix = "-doctest";
    buildPhaseCargoCommand = ''
      ${core.strata} test --no-save ${core.profileArgs CARGO_PROFILE} ${cargoExtraArgs} --offline --doc ${cargoDocTestExtraArgs} ${cargoTestExtraArgs}
    '';
    installPhaseCommand = ''
      mkdir -p "$out"
      cp "$NIX_BUILD_TOP/cargo.log" "$out/cargo.log"
    '';
  }
)
