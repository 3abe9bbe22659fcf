# buildWorkspace { src, cargoArtifacts, cargoExtraArgs ? "--locked", CARGO_PROFILE ? "release", … }:
# one derivation per local package, and a final one.
#
#   crates.<name>   the package's units as a strata layer (a store holding `packages/<name>`).
#                   Inputs: the dependency layer (`cargoArtifacts`), the package's own sources,
#                   every local manifest and Cargo.lock, and the crate derivations of the local
#                   packages it depends on (normal and build dependencies). It runs the final
#                   build's cargo command in a tree where the local packages it does not depend on
#                   have dummy sources (their manifests stay real, so features resolve as in the
#                   final build), restores its dependencies' layers in place (read-only, from
#                   their store paths), and keeps only its own package's units.
#   package         the final build (as buildPackage): every crate layer restored, cargo compiles
#                   nothing it already has; `cargo test` when doCheck.
#   packageStores   the crate derivations in dependency order, for the check functions
#                   (`cargoTest { …; packageStores = ws.packageStores; }`).
#
# An edit in one package rebuilds its derivation, its dependents' and the final one; a README or
# other non-source edit outside every package rebuilds none of the crate derivations.
{ core, lib }:
args@{
  src,
  pname ? (core.crateNameFromCargoToml { inherit src; }).pname,
  cargoExtraArgs ? "--locked",
  CARGO_PROFILE ? "release",
  cargoVendorDir ? lib.vendorCargoDeps args,
  cargoArtifacts ? lib.buildDepsOnly args,
  ...
}:
let
  inherit (builtins)
    attrNames
    concatMap
    concatStringsSep
    elem
    filter
    foldl'
    head
    length
    sort
    stringLength
    substring
    ;
  inherit (lib.skeletonFiles { inherit src; }) packages;
  names = attrNames packages;
  common = "${core.profileArgs CARGO_PROFILE} ${cargoExtraArgs} --offline";
  quote = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";

  # Local packages `name` needs, transitively, dependencies first (a depth-first post-order).
  ordered =
    name:
    let
      visit =
        acc: n:
        if elem n acc.seen then
          acc
        else
          let
            after = foldl' visit (acc // { seen = acc.seen ++ [ n ]; }) packages.${n}.localDeps;
          in
          after // { order = after.order ++ [ n ]; };
    in
    (visit {
      seen = [ ];
      order = [ ];
    } name).order;

  # The package owning a path relative to the root: the one whose dir is its longest prefix
  # (null: no package's, e.g. a file at the root of a virtual workspace).
  byDepth = sort (a: b: stringLength packages.${a}.dir > stringLength packages.${b}.dir) names;
  ownerOf =
    rel:
    let
      hits = filter (
        n:
        let
          d = packages.${n}.dir;
        in
        d == "" || rel == d || substring 0 (stringLength d + 1) rel == "${d}/"
      ) byDepth;
    in
    if hits == [ ] then null else head hits;
  srcPrefix = toString src + "/";
  relOf =
    path:
    let
      p = toString path;
    in
    if p == toString src then "" else substring (stringLength srcPrefix) (stringLength p) p;
  isShared =
    rel:
    let
      base = baseNameOf rel;
    in
    base == "Cargo.toml"
    || base == "Cargo.lock"
    || base == "rust-toolchain"
    || base == "rust-toolchain.toml"
    || builtins.match "(.*/)?\\.cargo/config(\\.toml)?" rel != null;

  # The sources a crate derivation sees: its closure's files, every manifest, the lock and cargo
  # configs, and files no package owns.
  sourcesFor =
    name: closure:
    builtins.path {
      path = src;
      name = "${name}-source";
      filter =
        path: type:
        let
          rel = relOf path;
          owner = ownerOf rel;
        in
        type == "directory" || isShared rel || owner == null || elem owner closure;
    };

  writeDummies =
    others:
    concatStringsSep "" (
      concatMap (
        n:
        map (
          rel:
          let
            file = builtins.toFile "strata-dummy" packages.${n}.dummies.${rel};
          in
          ''
            mkdir -p "$(dirname ${quote rel})"
            cp ${file} ${quote rel}
            chmod u+w ${quote rel}
          ''
        ) (attrNames packages.${n}.dummies)
      ) others
    );

  storeArgs = drvs: concatStringsSep " " (map (d: "--package-store ${d}") drvs);

  crates = builtins.listToAttrs (
    map (name: {
      inherit name;
      value =
        let
          closure = ordered name;
          deps = filter (n: n != name) closure;
          others = filter (n: !(elem n closure)) names;
        in
        core.mkDrv {
          name = "${name}-crate";
          script = ''
            ${core.setup cargoVendorDir}
            ${core.copyWritable (sourcesFor name closure) "source"}
            cd source
            ${writeDummies others}
            ${core.useArtifacts cargoArtifacts}
            ${core.strata} build --no-save --save-package ${name} --package-out "$out" \
              ${storeArgs (map (d: crates.${d}) deps)} ${common}
            rm -rf "$out/tmp"
          '';
        };
    }) names
  );

  # Every crate derivation, dependencies before dependents.
  packageStores =
    let
      order = foldl' (acc: n: acc ++ filter (m: !(elem m acc)) (ordered n)) [ ] names;
    in
    map (n: crates.${n}) order;
in
{
  inherit crates packageStores;
  package = lib.buildPackage (
    args
    // {
      inherit cargoArtifacts cargoVendorDir packageStores;
      perCrate = false;
    }
  );
}
