# buildPackage { src, cargoArtifacts, cargoExtraArgs ? "--locked", doCheck ? true, … }: builds the
# workspace with `cargo build` through strata (dependencies restored from `cargoArtifacts`, made
# by buildDepsOnly when not given), runs `cargo test` when doCheck, and installs the binaries of
# the profile dir into $out/bin. The build log is in $out/share/strata/cargo.log.
{ core, lib }:
args@{
  src,
  cargoExtraArgs ? "--locked",
  cargoTestExtraArgs ? "",
  CARGO_PROFILE ? "release",
  doCheck ? true,
  cargoArtifacts ? lib.buildDepsOnly args,
  cargoVendorDir ? lib.vendorCargoDeps args,
  # As crane: the binaries name the vendored sources (panic messages); without this, the package's
  # closure would hold every dependency's source.
  doRemoveReferencesToVendorDir ? true,
  # One derivation per local package (buildWorkspace): an edit rebuilds the edited package's
  # derivation, its dependents' and this one.
  perCrate ? false,
  # The crate derivations whose layers this build restores (buildWorkspace sets it).
  packageStores ? [ ],
  ...
}:
if perCrate then
  (lib.buildWorkspace args).package
else
let
  common = "${core.profileArgs CARGO_PROFILE} ${cargoExtraArgs} --offline";
  # The store hash of the vendor dir, replaced by as many 'e's (nixpkgs' remove-references-to).
  vendorHash = builtins.substring 0 32 (baseNameOf "${cargoVendorDir}");
  eeee = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
in
lib.mkCargoDerivation (
  args
  // {
    inherit cargoArtifacts cargoVendorDir;
    buildPhaseCargoCommand = ''
      ${core.strata} build --no-save ${core.packageStoreArgs packageStores} ${common}
    ''
    + (
      if doCheck then
        ''
          ${core.strata} test --no-save ${core.packageStoreArgs packageStores} ${common} ${cargoTestExtraArgs}
        ''
      else
        ""
    );
    installPhaseCommand = ''
      mkdir -p "$out/bin" "$out/share/strata"
      find target/${core.profileDir CARGO_PROFILE} -maxdepth 1 -type f -perm -u+x \
        -exec cp {} "$out/bin/" \;
    ''
    + (
      if doRemoveReferencesToVendorDir then
        ''
          for f in "$out"/bin/*; do
            if [ -f "$f" ]; then sed -i "s|${vendorHash}|${eeee}|g" "$f"; fi
          done
        ''
      else
        ""
    )
    + ''
      cp "$NIX_BUILD_TOP/cargo.log" "$out/share/strata/cargo.log"
    '';
  }
)
