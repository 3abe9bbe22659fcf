# vendorGitDeps { lockPackages }: the git packages of a Cargo.lock (`[[package]]` entries whose
# source is `git+URL[?branch=…|tag=…|rev=…]#REV`), as crane's vendorGitDeps does it:
#
#   - each repository is fetched once per source (URL and query) with `builtins.fetchGit` at the
#     lock's revision: `ref = "refs/heads/B"` / `"refs/tags/T"` for a branch or a tag, else every
#     ref (`allRefs`), so a `rev=` or the default branch's commit is found; submodules too, as
#     cargo does;
#   - each locked package is found in the checkout by name and version, the way cargo looks through
#     a git source (the root and its workspace's members first, then every directory but hidden
#     ones and `target`), so a crate inside the repository's own workspace works;
#   - a manifest that inherits from its workspace (`version.workspace = true`,
#     `dep.workspace = true`, `lints.workspace = true`) or holds a `[workspace]` table is written
#     anew, self-contained (./lib/toml.nix): a directory source has no workspace around it, and
#     cargo refuses such a manifest there ("failed to find a workspace root"). Other manifests are
#     kept as they are.
#
# Everything is read at evaluation time from the fetched checkout: `builtins.fetchGit` is a
# builtin fetcher, not a derivation, so this needs no import from derivation.
#
# Returns { crates = [ { dir; src; manifest; } ]; config = "<cargo config>"; } for
# vendorMultipleCargoDeps, which copies each `src` to `$out/<dir>`, writes `manifest` (a store
# file, or null to keep the crate's own) and the `.cargo-checksum.json` of a git crate
# (`{"files":{},"package":null}`), and appends `config`, which names its directories under
# `builtins.placeholder "out"`.
{ toml }:
{
  lockPackages,
  # What the packages come from, for error messages.
  what ? "Cargo.lock",
}:
let
  inherit (builtins)
    attrNames
    concatMap
    concatStringsSep
    elem
    elemAt
    filter
    foldl'
    genList
    hashString
    head
    isAttrs
    isList
    isString
    length
    listToAttrs
    match
    readDir
    replaceStrings
    split
    substring
    ;
  discard = builtins.unsafeDiscardStringContext;
  quote = builtins.toJSON;

  # ---- percent-decoding (Cargo.lock version 4 encodes the query: `branch=a%2Fb`) ----
  hexDigit = c: {
    "0" = 0; "1" = 1; "2" = 2; "3" = 3; "4" = 4; "5" = 5; "6" = 6; "7" = 7; "8" = 8; "9" = 9;
    "a" = 10; "b" = 11; "c" = 12; "d" = 13; "e" = 14; "f" = 15;
    "A" = 10; "B" = 11; "C" = 12; "D" = 13; "E" = 14; "F" = 15;
  }.${c};
  hexDigits = "0123456789ABCDEF";
  percentDecode =
    s:
    concatStringsSep "" (
      map (
        part:
        if isList part then
          let
            h = head part;
            n = hexDigit (substring 0 1 h) * 16 + hexDigit (substring 1 1 h);
          in
          if n < 32 || n > 126 then
            throw "strata vendorCargoDeps: ${what}: the source `${s}` has the escape %${h}, which is not printable ASCII; only those are supported in git sources"
          else
            builtins.fromJSON "\"\\u00${substring (n / 16) 1 hexDigits}${substring (n - 16 * (n / 16)) 1 hexDigits}\""
        else
          part
      ) (split "%([0-9A-Fa-f]{2})" s)
    );

  # ---- the lock's git sources ----
  isGit = p: match "git\\+.*" (p.source or "") != null;
  parse =
    p:
    let
      m = match "git\\+([^?#]*)(\\?([^#]*))?#(.+)" p.source;
      query = if m == null then null else elemAt m 2;
      params = listToAttrs (
        concatMap (
          kv:
          let
            km = match "([^=]*)=(.*)" kv;
          in
          if km != null && elem (head km) [
            "branch"
            "tag"
            "rev"
          ] then
            [
              {
                name = head km;
                value = percentDecode (elemAt km 1);
              }
            ]
          else
            [ ]
        ) (if query == null then [ ] else filter isString (split "&" query))
      );
    in
    if m == null then
      throw "strata vendorCargoDeps: ${what}: ${p.name} ${p.version} comes from ${p.source}, which has no locked revision (`#<commit>`); run `cargo update -p ${p.name}`"
    else
      params
      // {
        # The source as cargo names it, without the revision: one checkout and one replacement each.
        id = head (split "#" p.source);
        url = percentDecode (head m);
        # Distinct from a `rev` in the query, which is what the manifest says (maybe a short hash).
        lockedRev = elemAt m 3;
        package = p;
      };
  groups = foldl' (
    acc: g: acc // { ${g.id} = (acc.${g.id} or [ ]) ++ [ g ]; }
  ) { } (map parse (filter isGit lockPackages));

  # ---- paths inside a checkout ('' is its root) ----
  splitPath = p: filter (s: isString s && s != "" && s != ".") (split "/" p);
  normalize =
    p:
    concatStringsSep "/" (
      foldl' (
        acc: s:
        if s == ".." then
          (
            if acc == [ ] || elemAt acc (length acc - 1) == ".." then
              acc ++ [ ".." ]
            else
              genList (i: elemAt acc i) (length acc - 1)
          )
        else
          acc ++ [ s ]
      ) [ ] (splitPath p)
    );
  join = dir: rel: normalize (if dir == "" then rel else "${dir}/${rel}");
  parentOf =
    dir:
    let
      parts = splitPath dir;
    in
    concatStringsSep "/" (genList (i: elemAt parts i) (length parts - 1));
  # The path of `to` relative to the directory `from` (both relative to the root).
  relativeTo =
    from: to:
    let
      a = splitPath from;
      b = splitPath to;
      common = foldl' (n: i: if n == i && i < length b && elemAt a i == elemAt b i then n + 1 else n) 0 (
        genList (i: i) (length a)
      );
      ups = genList (_: "..") (length a - common);
      downs = genList (i: elemAt b (common + i)) (length b - common);
      r = concatStringsSep "/" (ups ++ downs);
    in
    if r == "" then "." else r;

  # ---- one repository ----
  vendorGroup =
    id: entries:
    let
      e = head entries;
      hash = substring 0 32 (hashString "sha256" id);
      ref =
        if e ? tag then
          "refs/tags/${e.tag}"
        else if e ? branch then
          "refs/heads/${e.branch}"
        else
          null;
      repo = builtins.fetchGit (
        {
          inherit (e) url;
          rev = e.lockedRev;
          submodules = true;
        }
        // (if ref == null then { allRefs = true; } else { inherit ref; })
      );
      abs = rel: if rel == "" then "${repo}" else "${repo}/${rel}";
      entriesOf = rel: readDir (abs rel);
      manifestOf = rel: join rel "Cargo.toml";
      isDir = rel: builtins.pathExists (abs rel + "/.");
      hasManifest = rel: isDir rel && (entriesOf rel)."Cargo.toml" or null == "regular";
      readToml =
        rel:
        builtins.fromTOML (discard (builtins.readFile (abs rel)));
      pkgTable = doc: if isAttrs (doc.package or null) then doc.package else doc.project or null;

      # Every directory with a Cargo.toml, as cargo's git source walks a checkout: not into hidden
      # directories, nor into a `target` next to a manifest.
      walk =
        rel:
        let
          es = entriesOf rel;
          here = es."Cargo.toml" or null == "regular";
          subs = filter (
            n: es.${n} == "directory" && match "\\..*" n == null && !(n == "target" && here)
          ) (attrNames es);
        in
        (if here then [ rel ] else [ ]) ++ concatMap (n: walk (join rel n)) subs;
      packageDirs = walk "";
      # A workspace's `members` entry: a path whose segments may hold `*` and `?` globs.
      expandGlob =
        pattern:
        foldl' (
          dirs: seg:
          concatMap (
            d:
            if match ".*[*?[].*" seg != null then
              let
                es = if isDir d then entriesOf d else { };
                regex = replaceStrings [ "*" "?" "." "+" "(" ")" "{" "}" "^" "$" "|" ] [ "[^/]*" "[^/]" "\\." "\\+" "\\(" "\\)" "\\{" "\\}" "\\^" "\\$" "\\|" ] seg;
              in
              map (n: join d n) (filter (n: es.${n} == "directory" && match regex n != null) (attrNames es))
            else
              [ (join d seg) ]
          ) dirs
        ) [ "" ] (splitPath pattern);

      # The nearest [workspace] at or above `rel` (or the one `package.workspace` names).
      workspaceOf =
        rel: doc:
        let
          explicit = (pkgTable doc).workspace or null;
          up =
            d:
            let
              m =
                if d == rel then
                  doc
                else if hasManifest d then
                  readToml (manifestOf d)
                else
                  null;
            in
            if m != null && isAttrs (m.workspace or null) then
              d
            else if d == "" then
              null
            else
              up (parentOf d);
        in
        if isString explicit then join rel explicit else up rel;

      inherits = v: isAttrs v && (v.workspace or null) == true;
      depTables = [
        "dependencies"
        "dev-dependencies"
        "dev_dependencies"
        "build-dependencies"
        "build_dependencies"
      ];
      tablesOf =
        doc:
        filter (t: isAttrs (doc.${t} or null)) depTables
        ++ concatMap (
          cfg: map (t: [ "target" cfg t ]) (filter (t: isAttrs (doc.target.${cfg}.${t} or null)) depTables)
        ) (if isAttrs (doc.target or null) then attrNames doc.target else [ ]);
      anyDepInherits =
        doc:
        builtins.any (
          t:
          let
            table = if isList t then doc.target.${elemAt t 1}.${elemAt t 2} else doc.${t};
          in
          builtins.any (n: inherits table.${n}) (attrNames table)
        ) (tablesOf doc);
      needsRewrite =
        doc:
        doc ? workspace
        || builtins.any (k: inherits (pkgTable doc).${k}) (attrNames (pkgTable doc))
        || inherits (doc.lints or null)
        || anyDepInherits doc;

      # cargo's inheritance (util/toml/mod.rs): package fields and lints taken from the workspace,
      # `readme` / `license-file` rebased onto the package; a dependency is the workspace's entry
      # (a bare version becomes { version }, a `path` is rebased) with the package's `features`
      # added and its `optional` taking over.
      resolve =
        rel: doc:
        let
          wsDir = workspaceOf rel doc;
          wsDoc =
            if wsDir == null then
              throw "strata vendorCargoDeps: ${what}: ${id}: ${manifestOf rel} inherits from a workspace, but none is above it in the repository"
            else if wsDir == rel then
              doc
            else
              readToml (manifestOf wsDir);
          ws = wsDoc.workspace or { };
          missing =
            what': throw "strata vendorCargoDeps: ${what}: ${id}: ${manifestOf rel} inherits ${what'}, which ${manifestOf wsDir} does not define";
          rebase = p: relativeTo rel (join wsDir p);
          pkgField =
            k: v:
            if !(inherits v) then
              v
            else if !((ws.package or { }) ? ${k}) then
              missing "package.${k}"
            else if
              elem k [
                "readme"
                "license-file"
              ]
              && isString ws.package.${k}
            then
              rebase ws.package.${k}
            else
              ws.package.${k};
          dep =
            name: spec:
            if !(inherits spec) then
              spec
            else
              let
                base0 = (ws.dependencies or { }).${name} or (missing "workspace.dependencies.${name}");
                base = if isString base0 then { version = base0; } else base0;
                rebased = if base ? path then base // { path = rebase base.path; } else base;
                turnsDefaultsOn = (spec.default-features or spec.default_features or null) == true;
                features = (base.features or [ ]) ++ filter (f: !(elem f (base.features or [ ]))) (spec.features or [ ]);
              in
              removeAttrs rebased (
                [ "workspace" ] ++ (if turnsDefaultsOn then [ "default_features" ] else [ ])
              )
              // (if features != [ ] then { inherit features; } else { })
              // (if spec ? optional then { inherit (spec) optional; } else { })
              # The package can turn default features back on, not off (cargo ignores that).
              // (if turnsDefaultsOn then { default-features = true; } else { });
          deps = table: builtins.mapAttrs dep table;
          pkgKey = if isAttrs (doc.package or null) then "package" else "project";
          noWs = removeAttrs doc [ "workspace" ];
          d1 = noWs // {
            ${pkgKey} = removeAttrs (builtins.mapAttrs pkgField (pkgTable doc)) [ "workspace" ];
          };
          d2 = d1 // listToAttrs (map (t: { name = t; value = deps d1.${t}; }) (filter isString (tablesOf d1)));
          d3 =
            if isAttrs (d2.target or null) then
              d2
              // {
                target = builtins.mapAttrs (
                  _: t:
                  if isAttrs t then
                    t // listToAttrs (map (n: { name = n; value = deps t.${n}; }) (filter (n: isAttrs (t.${n} or null)) depTables))
                  else
                    t
                ) d2.target;
              }
            else
              d2;
          d4 = if inherits (d3.lints or null) then d3 // { lints = ws.lints or (missing "lints"); } else d3;
        in
        d4;

      # Each manifest read once: { rel, doc, name, version } for the directories of `dirs`.
      describe = map (
        rel:
        let
          doc = readToml (manifestOf rel);
          pkg = pkgTable doc;
          v = if pkg == null then null else pkg.version or "0.0.0";
        in
        {
          inherit rel doc;
          name = if pkg == null then null else pkg.name or null;
          version = if inherits v then (pkgTable (resolve rel doc)).version else v;
        }
      );
      # The root and its workspace's members first: there most crates are, and only their
      # manifests need to be valid TOML (builtins.fromTOML cannot be caught; cargo would skip a
      # broken manifest elsewhere in the repository). The whole checkout only for the rest.
      rootDoc = if hasManifest "" then readToml "Cargo.toml" else { };
      members = filter (d: d != "" && hasManifest d) (
        concatMap expandGlob ((rootDoc.workspace or { }).members or [ ])
      );
      likely = describe ((if hasManifest "" then [ "" ] else [ ]) ++ members);
      everywhere = describe packageDirs;
      lookup =
        p:
        let
          is = m: m.name == p.name && m.version == p.version;
          first = filter is likely;
        in
        if first != [ ] then first else filter is everywhere;

      found = map (
        entry:
        let
          p = entry.package;
          hits = lookup p;
          hit =
            if hits == [ ] then
              throw "strata vendorCargoDeps: ${what}: ${p.name} ${p.version} is not in ${e.url} at ${e.lockedRev} (no Cargo.toml in the repository declares it)"
            else
              head hits;
        in
        {
          dir = "git/${hash}/${p.name}-${p.version}";
          src = abs hit.rel;
          manifest =
            if needsRewrite hit.doc then
              builtins.toFile "Cargo.toml" (toml.toTOML (resolve hit.rel hit.doc))
            else
              null;
        }
      ) entries;

      param = k: if e ? ${k} then "${k} = ${quote e.${k}}\n" else "";
      config = ''

        [source.strata-git-${hash}]
        git = ${quote e.url}
        ${param "branch"}${param "tag"}${param "rev"}replace-with = "strata-git-${hash}-vendored"

        [source.strata-git-${hash}-vendored]
        directory = "${builtins.placeholder "out"}/git/${hash}"
      '';
    in
    {
      crates = found;
      inherit config;
    };

  vendored = map (id: vendorGroup id groups.${id}) (attrNames groups);
in
{
  crates = concatMap (g: g.crates) vendored;
  config = concatStringsSep "" (map (g: g.config) vendored);
}
