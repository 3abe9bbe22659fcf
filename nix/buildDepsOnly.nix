# buildDepsOnly { src, … }: the dependencies alone, built by strata from the skeleton
# (mkDummySrc). The output is a strata store holding the dependency layer; buildPackage and the
# check functions take it as `cargoArtifacts` and restore it. Because the skeleton masks local
# versions, a release that only bumps versions keeps this derivation (unlike crane's).
# The deps layer serves build, test, check, clippy and doc (cargo build + check --all-targets).
{ core, lib }:
{
  src,
  pname ? (core.crateNameFromCargoToml { inherit src; }).pname,
  cargoExtraArgs ? "--locked",
  CARGO_PROFILE ? "release",
  cargoVendorDir ? lib.vendorCargoDeps { inherit src; },
  dummySrc ? lib.mkDummySrc { inherit src pname cargoVendorDir; },
  # strata's own flags, e.g. "--deps-for build" (no check/clippy units: a cheaper cold build).
  strataExtraArgs ? "",
  ...
}:
core.mkDrv {
  # No version in the name: a version bump must not change this derivation.
  name = "${pname}-deps";
  script = ''
    ${core.setup cargoVendorDir}
    ${core.copyWritable dummySrc "source"}
    cd source
    mkdir -p "$out"
    ${core.strata} --store "$out" deps ${strataExtraArgs} \
      ${core.profileArgs CARGO_PROFILE} ${cargoExtraArgs} --offline
    rm -rf "$out/tmp"
  '';
}
