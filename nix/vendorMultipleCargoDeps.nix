# vendorMultipleCargoDeps { cargoLockList = [ ./Cargo.lock ./tools/Cargo.lock ]; } (or
# cargoLockContentsList, or cargoLockParsedList, as crane): every crates.io package of all the
# locks, each once, vendored as vendorCargoDeps does for one lock (vendorCargoDeps is this function
# with a one-element list). For a repository with several workspaces, or a tool built next to the
# project with its own lock. Git packages are vendored by ./vendorGitDeps.nix (each repository
# fetched once per source with builtins.fetchGit at the lock's revision).
{ core, lib }:
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
  isGit = p: builtins.match "git\\+.*" (p.source or "") != null;
  check =
    what: p:
    let
      source = p.source or "";
    in
    if source == "" || isRegistry p || isGit p then
      p
    else
      throw "strata vendorCargoDeps: ${what}: ${p.name} ${p.version} comes from ${source}; only crates.io and git dependencies are supported (other registries are not, yet)";
  checked = n: map (check n.what) (n.lock.package or [ ]);
  registryOf = n: builtins.filter isRegistry (checked n);
  # Each git package once (by source, name and version), whichever lock names it.
  gitPackages = builtins.attrValues (
    builtins.listToAttrs (
      map (p: {
        name = "${p.source} ${p.name} ${p.version}";
        value = p;
      }) (builtins.concatMap (n: builtins.filter isGit (checked n)) named)
    )
  );
  git = lib.vendorGitDeps {
    lockPackages = gitPackages;
    what = builtins.concatStringsSep ", " (map (n: n.what) named);
  };
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
  sq = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";
  # A symlink that resolves inside the checkout (a README linked from the repository's root, say)
  # is replaced by what it points to: the vendored crate has no repository around it.
  copyGit = c: ''
    src=${sq c.src}
    dest="$out/${c.dir}"
    mkdir -p "$(dirname "$dest")"
    cp -r "$src" "$dest"
    chmod -R u+w "$dest"
    (cd "$dest" && find . -type l) | while IFS= read -r l; do
      if [ -e "$src/$l" ]; then rm "$dest/$l"; cp -rL "$src/$l" "$dest/$l"; fi
    done
  ''
  + (if c.manifest == null then "" else ''
    cp ${c.manifest} "$dest/Cargo.toml"
  '')
  + ''
    printf '{"files":{},"package":null}' > "$dest/.cargo-checksum.json"
  '';
in
core.mkDrv {
  name = "vendor-cargo-deps";
  # The git sources' part names `$out` by placeholder; a shell variable keeps URLs and branch
  # names out of the script's quoting.
  env = {
    strataGitConfig = git.config;
  };
  script = ''
    mkdir -p "$out/crates"
    ${builtins.concatStringsSep "" (map unpack fetched)}
    ${builtins.concatStringsSep "" (map copyGit git.crates)}
    cat > "$out/config.toml" <<EOF
    [source.crates-io]
    replace-with = "strata-vendored"

    [source.strata-vendored]
    directory = "$out/crates"

    [net]
    offline = true
    EOF
    printf '%s' "$strataGitConfig" >> "$out/config.toml"
  '';
}
