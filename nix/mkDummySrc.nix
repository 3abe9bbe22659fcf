# mkDummySrc { src }: strata's skeleton of the workspace (manifests with local versions masked and
# laundered, Cargo.lock masked, cargo config, every target's source replaced by a dummy), computed
# at evaluation time from the manifests and Cargo.lock (./lib/skeleton.nix, as crane's
# mkDummySrc: no import from derivation) and written by a derivation whose only inputs are those
# file contents. A source edit, a README edit or a version bump therefore leaves it, and everything
# built from it, unchanged. `src` must be local (a path, or a store path made at evaluation time
# such as cleanCargoSource's); a fetched `src` is import from derivation here as in crane.
{ core, lib }:
{
  src,
  pname ? (core.crateNameFromCargoToml { inherit src; }).pname,
  ...
}:
let
  inherit (lib.skeletonFiles { inherit src; }) files;
  quote = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";
  put =
    rel:
    let
      file = builtins.toFile "strata-skeleton-file" files.${rel};
    in
    ''
      mkdir -p "$(dirname "$out"/${quote rel})"
      cp ${file} "$out"/${quote rel}
    '';
in
core.mkDrv {
  name = "${pname}-skeleton";
  script = ''
    mkdir -p "$out"
    ${builtins.concatStringsSep "" (map put (builtins.attrNames files))}
  '';
}
