# cargoTest { src, cargoArtifacts, cargoTestExtraArgs ? "", … }: `cargo test` through strata,
# with the dependencies (dev-dependencies too) restored from `cargoArtifacts`. Output: cargo.log.
{ core, lib }:
args@{
  cargoExtraArgs ? "--locked",
  cargoTestExtraArgs ? "",
  CARGO_PROFILE ? "release",
  # buildWorkspace's crate derivations (`ws.packageStores`), restored before cargo runs.
  packageStores ? [ ],
  ...
}:
lib.mkCargoDerivation (
  args
  // {
    pnameSuffix = "-test";
    buildPhaseCargoCommand = ''
      ${core.strata} test --no-save ${core.packageStoreArgs packageStores} ${core.profileArgs CARGO_PROFILE} ${cargoExtraArgs} --offline ${cargoTestExtraArgs}
    '';
    installPhaseCommand = ''
      mkdir -p "$out"
      cp "$NIX_BUILD_TOP/cargo.log" "$out/cargo.log"
    '';
  }
)
