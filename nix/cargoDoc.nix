# cargoDoc { src, cargoArtifacts, cargoDocExtraArgs ? "--no-deps", … }: `cargo doc` through
# strata; the dependencies' check units come from `cargoArtifacts` (with --no-deps, as crane's
# default, no dependency is documented either). Installs target/doc as $out/share/doc.
{ core, lib }:
args@{
  cargoExtraArgs ? "--locked",
  cargoDocExtraArgs ? "--no-deps",
  CARGO_PROFILE ? "release",
  # buildWorkspace's crate derivations (`ws.packageStores`), restored before cargo runs.
  packageStores ? [ ],
  ...
}:
lib.mkCargoDerivation (
  args
  // {
    pnameSuffix = "-doc";
    buildPhaseCargoCommand = ''
      ${core.strata} doc --no-save ${core.packageStoreArgs packageStores} ${core.profileArgs CARGO_PROFILE} ${cargoExtraArgs} --offline ${cargoDocExtraArgs}
    '';
    installPhaseCommand = ''
      mkdir -p "$out/share"
      cp -r target/doc "$out/share/doc"
      cp "$NIX_BUILD_TOP/cargo.log" "$out/cargo.log"
    '';
  }
)
