# Shared pieces of every function: the cargo environment inside a build, copying sources and
# artifacts into the (writable) build dir, and how strata is called.
backend:
rec {
  inherit backend;
  inherit (backend) mkDrv;
  strata = backend.strataExe;

  # pname and version from a Cargo.toml (a virtual workspace: "workspace" / its package version).
  crateNameFromCargoToml =
    {
      src ? null,
      cargoToml ? src + "/Cargo.toml",
    }:
    let
      t = builtins.fromTOML (builtins.readFile cargoToml);
      pkg = t.package or { };
      wsVersion = t.workspace.package.version or "0.0.0";
      version = pkg.version or wsVersion;
    in
    {
      pname = pkg.name or "workspace";
      version = if builtins.isString version then version else wsVersion;
    };

  # Cargo's profile flag; strata turns it into the same key part as --release.
  profileArgs = profile: "--profile ${profile}";
  # Where cargo puts a profile's outputs.
  profileDir =
    profile:
    if profile == "dev" || profile == "test" then
      "debug"
    else if profile == "bench" then
      "release"
    else
      profile;

  # The environment of every cargo inside a build. HOME is /homeless-shelter in Nix; CARGO_HOME
  # holds only the source replacement. strata's canonical cargo-home link is per build (a link to
  # /proc/self/fd/8, which strata opens on CARGO_HOME): the paths that enter cargo's fingerprints
  # are the vendored sources' store paths, the same everywhere.
  setup = cargoVendorDir: ''
    export HOME="$NIX_BUILD_TOP/home"
    export CARGO_HOME="$NIX_BUILD_TOP/cargo-home"
    mkdir -p "$HOME" "$CARGO_HOME"
    cp ${cargoVendorDir}/config.toml "$CARGO_HOME/config.toml"
    export STRATA_CARGO_HOME_LINK="$NIX_BUILD_TOP/strata-cargo-home"
    export CARGO_TERM_COLOR=never
  '';

  # Copies a store directory into the build dir, writable (cargo writes target/ and lock files).
  copyWritable = from: to: ''
    cp -r ${from} ${to}
    chmod -R u+w ${to}
  '';

  # A strata store in the build dir: a copy of `cargoArtifacts` (the output of buildDepsOnly or
  # cargoBuild), or empty. strata needs to write locks, so the store path itself is not used.
  useArtifacts =
    cargoArtifacts:
    (
      if cargoArtifacts == null then
        ''mkdir -p "$NIX_BUILD_TOP/strata-store"''
      else
        copyWritable cargoArtifacts "$NIX_BUILD_TOP/strata-store"
    )
    + ''

      export STRATA_STORE="$NIX_BUILD_TOP/strata-store"
    '';

  # strata's flags restoring the package layers of buildWorkspace's crate derivations (in place,
  # read-only, dependencies first).
  packageStoreArgs =
    stores: builtins.concatStringsSep " " (map (d: "--package-store ${d}") stores);

  # Runs `cmd` and keeps its output (cargo's `Compiling` lines included) in `log` as well.
  logged = log: cmd: ''
    {
    ${cmd}
    } 2>&1 | tee -a ${log}
  '';
}
