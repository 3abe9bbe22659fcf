# cargoTest { src, cargoArtifacts, cargoTestExtraArgs ? "", … }: `cargo test` through strata,
# with the dependencies (dev-dependencies too) restored from `cargoArtifacts`. Output: cargo.log.
{ core, lib }:
args@{
  cargoExtraArgs ? "--locked",
  cargoTestExtraArgs ? "",
  CARGO_PROFILE ? "release",
  ...
}:
lib.mkCargoDerivation (
  args
  // {
    pnameSuffix = "-test";
    buildPhaseCargoCommand = ''
      ${core.strata} test --no-save ${core.profileArgs CARGO_PROFILE} ${cargoExtraArgs} --offline ${cargoTestExtraArgs}
    '';
    installPhaseCommand = ''
      mkdir -p "$out"
      cp "$NIX_BUILD_TOP/cargo.log" "$out/cargo.log"
    '';
  }
)
