# cargoClippy { src, cargoArtifacts, cargoClippyExtraArgs ? "--all-targets", … }: `cargo clippy`
# through strata; the dependencies' check units come from `cargoArtifacts`. Fails on a clippy
# error (e.g. with cargoClippyExtraArgs = "--all-targets -- -D warnings"). Output: cargo.log.
{ core, lib }:
args@{
  cargoExtraArgs ? "--locked",
  cargoClippyExtraArgs ? "--all-targets",
  CARGO_PROFILE ? "release",
  # buildWorkspace's crate derivations (`ws.packageStores`), restored before cargo runs.
  packageStores ? [ ],
  ...
}:
lib.mkCargoDerivation (
  args
  // {
    pnameSuffix = "-clippy";
    buildPhaseCargoCommand = ''
      ${core.strata} clippy --no-save ${core.packageStoreArgs packageStores} ${core.profileArgs CARGO_PROFILE} ${cargoExtraArgs} --offline ${cargoClippyExtraArgs}
    '';
    installPhaseCommand = ''
      mkdir -p "$out"
      cp "$NIX_BUILD_TOP/cargo.log" "$out/cargo.log"
    '';
  }
)
