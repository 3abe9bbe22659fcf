# vendorCargoDeps { src } or { cargoLock = ./Cargo.lock; }: every registry crate of Cargo.lock
# as a fixed-output derivation checked by the lock's sha256, unpacked into one directory with the
# `.cargo-checksum.json` cargo's directory sources need, and a `config.toml` that replaces
# crates.io with it (and sets net.offline). Only Cargo.lock is read: the result does not change
# when sources or workspace versions change. Git dependencies are not supported yet.
{ core }:
{
  src ? null,
  cargoLock ? src + "/Cargo.lock",
  ...
}:
let
  lock = builtins.fromTOML (builtins.readFile cargoLock);
  packages = lock.package or [ ];
  isRegistry = p: (p.source or "") == "registry+https://github.com/rust-lang/crates.io-index";
  check =
    p:
    let
      source = p.source or "";
    in
    if source == "" || isRegistry p then
      p
    else
      throw "strata vendorCargoDeps: ${toString cargoLock}: ${p.name} ${p.version} comes from ${source}; only crates.io dependencies are supported (git and other registries are not, yet)";
  registry = builtins.filter isRegistry (map check packages);
  fetched = map (
    p:
    if p ? checksum then
      {
        dir = "${p.name}-${p.version}";
        inherit (p) checksum;
        crate = core.backend.fetchCrate {
          inherit (p) name version;
          sha256 = p.checksum;
        };
      }
    else
      throw "strata vendorCargoDeps: ${toString cargoLock}: ${p.name} ${p.version} has no checksum; run `cargo generate-lockfile`"
  ) registry;
  unpack = c: ''
    tar xzf ${c.crate} -C "$out/crates"
    printf '{"files":{},"package":"%s"}' ${c.checksum} > "$out/crates/${c.dir}/.cargo-checksum.json"
  '';
in
core.mkDrv {
  name = "vendor-cargo-deps";
  script = ''
    mkdir -p "$out/crates"
    ${builtins.concatStringsSep "" (map unpack fetched)}
    cat > "$out/config.toml" <<EOF
    [source.crates-io]
    replace-with = "strata-vendored"

    [source.strata-vendored]
    directory = "$out/crates"

    [net]
    offline = true
    EOF
  '';
}
