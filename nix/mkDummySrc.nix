# mkDummySrc { src }: strata's skeleton of the workspace (manifests with local versions masked and
# laundered, Cargo.lock masked, cargo config, every target's source replaced by a dummy), written
# by `strata skeleton` in a small derivation and then added to the store by content
# (import-from-derivation). Its store path depends only on the skeleton's content, so a source
# edit, a README edit or a version bump leaves it, and everything built from it, unchanged.
{ core, lib }:
{
  src,
  pname ? (core.crateNameFromCargoToml { inherit src; }).pname,
  cargoVendorDir ? lib.vendorCargoDeps { inherit src; },
  ...
}:
let
  written = core.mkDrv {
    name = "${pname}-skeleton-build";
    script = ''
      ${core.setup cargoVendorDir}
      ${core.copyWritable src "source"}
      cd source
      ${core.strata} skeleton --out "$out" -- --offline
    '';
  };
in
builtins.path {
  path = written;
  name = "${pname}-skeleton";
}
