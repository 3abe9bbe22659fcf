# vendorMultipleCargoDeps { cargoLockList = [ ./Cargo.lock ./tools/Cargo.lock ]; } (or
# cargoLockContentsList, or cargoLockParsedList, as crane): every crates.io package of all the
# locks, each once, vendored as vendorCargoDeps does for one lock (vendorCargoDeps is this function
# with a one-element list). For a repository with several workspaces, or a tool built next to the
# project with its own lock.
{ core }:
{
  cargoLockList ? [ ],
  cargoLockContentsList ? [ ],
  cargoLockParsedList ? [ ],
  ...
}:
let
  named =
    map (l: {
      what = toString l;
      lock = builtins.fromTOML (builtins.readFile l);
    }) cargoLockList
    ++ map (c: {
      what = "a Cargo.lock given as text";
      lock = builtins.fromTOML c;
    }) cargoLockContentsList
    ++ map (p: {
      what = "a parsed Cargo.lock";
      lock = p;
    }) cargoLockParsedList;
  isRegistry = p: (p.source or "") == "registry+https://github.com/rust-lang/crates.io-index";
  check =
    what: p:
    let
      source = p.source or "";
    in
    if source == "" || isRegistry p then
      p
    else
      throw "strata vendorCargoDeps: ${what}: ${p.name} ${p.version} comes from ${source}; only crates.io dependencies are supported (git and other registries are not, yet)";
  registryOf = n: builtins.filter isRegistry (map (check n.what) (n.lock.package or [ ]));
  # Each crate once, in the order of the first lock that has it.
  unique =
    builtins.foldl'
      (
        acc: e:
        let
          id = "${e.p.name}-${e.p.version}";
        in
        if acc.seen ? ${id} then
          acc
        else
          {
            seen = acc.seen // {
              ${id} = true;
            };
            list = acc.list ++ [ e ];
          }
      )
      {
        seen = { };
        list = [ ];
      }
      (builtins.concatMap (n: map (p: { inherit p; inherit (n) what; }) (registryOf n)) named);
  fetched = map (
    { p, what }:
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
      throw "strata vendorCargoDeps: ${what}: ${p.name} ${p.version} has no checksum; run `cargo generate-lockfile`"
  ) unique.list;
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
