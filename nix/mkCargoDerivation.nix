# mkCargoDerivation { src, cargoArtifacts, buildPhaseCargoCommand, installPhaseCommand, … }: the
# base of buildPackage, cargoBuild and the checks. The sources are copied into the build dir, the
# store in `cargoArtifacts` is copied next to them, and the command runs strata (or cargo) there.
# Cargo's output is kept in $NIX_BUILD_TOP/cargo.log, which the checks install as $out/cargo.log.
{ core, lib }:
{
  src,
  cargoArtifacts ? null,
  pname ? (core.crateNameFromCargoToml { inherit src; }).pname,
  version ? (core.crateNameFromCargoToml { inherit src; }).version,
  pnameSuffix ? "",
  cargoVendorDir ? lib.vendorCargoDeps { inherit src; },
  buildPhaseCargoCommand,
  installPhaseCommand ? ''mkdir -p "$out"'',
  tools ? [ ],
  env ? { },
  ...
}:
core.mkDrv {
  name = "${pname}${pnameSuffix}-${version}";
  inherit tools env;
  script = ''
    ${core.setup cargoVendorDir}
    ${core.copyWritable src "source"}
    cd source
    ${core.useArtifacts cargoArtifacts}
    ${core.logged "$NIX_BUILD_TOP/cargo.log" buildPhaseCargoCommand}
    ${installPhaseCommand}
  '';
}
