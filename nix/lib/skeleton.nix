# strata's skeleton, computed at evaluation time from the manifests and Cargo.lock of a local `src`
# (no import from derivation). It mirrors crates/strata-skeleton file for file:
#
#   - every local package's Cargo.toml (members, path dependencies, [patch]/[replace] paths) and
#     the root Cargo.toml, masked (local versions set to 0.0.0, metadata-only fields dropped, the
#     `version` of path dependencies dropped) and laundered (re-written by ./toml.nix: sorted keys,
#     no comments);
#   - Cargo.lock with the local packages' versions masked, written back line for line;
#   - one dummy source per target, found the way cargo finds targets;
#   - `.cargo/config.toml` / `.cargo/config` of the root and of every local package, and the
#     root's `rust-toolchain(.toml)`, as they are.
#
# A package reached through a dependency declared *without* `path` (a `[patch]` or `[replace]`)
# keeps its real version, as in Rust. Everything must be inside `src`.
#
# Returns { files = { "<path relative to the root>" = "<content>"; … }; }. The contents carry no
# string context: the skeleton depends on what they say, not on the store path of `src`.
{ toml }:
{ src }:
let
  inherit (builtins)
    attrNames
    attrValues
    concatLists
    concatMap
    concatStringsSep
    elem
    filter
    foldl'
    hasAttr
    head
    isAttrs
    isBool
    isList
    isString
    length
    listToAttrs
    match
    pathExists
    readDir
    replaceStrings
    split
    tail
    ;
  discard = builtins.unsafeDiscardStringContext;

  MASKED = "0.0.0";
  LIB_DUMMY = "//! strata skeleton: dummy library; the real source replaces it for the real build.\n";
  MAIN_DUMMY = "//! strata skeleton: dummy target; the real source replaces it for the real build.\nfn main() {}\n";
  SHARED_DUMMY = "//! strata skeleton: dummy target; the real source replaces it for the real build.\n#[allow(dead_code)]\nfn main() {}\n";

  METADATA_ONLY_KEYS = [
    "description"
    "authors"
    "documentation"
    "homepage"
    "repository"
    "readme"
    "keywords"
    "categories"
    "license"
    "license-file"
    "include"
    "exclude"
    "publish"
    "metadata"
    "badges"
  ];
  DEP_TABLES = [
    "dependencies"
    "dev-dependencies"
    "dev_dependencies"
    "build-dependencies"
    "build_dependencies"
  ];
  NON_DEV_TABLES = [
    "dependencies"
    "build-dependencies"
    "build_dependencies"
  ];

  # ---- paths relative to the root ('' is the root) ----
  splitPath = p: filter (s: isString s && s != "" && s != ".") (split "/" p);
  normalize =
    p:
    concatStringsSep "/" (
      foldl' (
        acc: s:
        if s == ".." then
          (
            if acc == [ ] || builtins.elemAt acc (length acc - 1) == ".." then
              acc ++ [ ".." ]
            else
              builtins.genList (i: builtins.elemAt acc i) (length acc - 1)
          )
        else
          acc ++ [ s ]
      ) [ ] (splitPath p)
    );
  join = dir: rel: normalize (if dir == "" then rel else "${dir}/${rel}");
  outside = p: p == ".." || match "\\.\\./.*" p != null;
  abs = rel: if rel == "" then src else src + "/${rel}";
  fileType =
    rel:
    let
      parts = splitPath rel;
      dir = concatStringsSep "/" (builtins.genList (i: builtins.elemAt parts i) (length parts - 1));
      base = builtins.elemAt parts (length parts - 1);
      entries = if pathExists (abs dir) then readDir (abs dir) else { };
    in
    if parts == [ ] then "directory" else entries.${base} or null;
  isFile =
    rel:
    let
      t = fileType rel;
    in
    t == "regular" || (t == "symlink" && pathExists (abs rel) && !(isDir rel));
  isDir =
    rel:
    fileType rel == "directory"
    || (fileType rel == "symlink" && builtins.pathExists (abs rel + "/."));
  readText = rel: discard (builtins.readFile (abs rel));
  readToml =
    rel:
    if outside rel then
      throw "strata mkDummySrc: ${rel} is outside `src`; every path package must be inside it"
    else
      builtins.fromTOML (readText rel);
  manifestPath = dir: join dir "Cargo.toml";

  # ---- the workspace ----
  rootDoc = readToml "Cargo.toml";
  ws = rootDoc.workspace or null;
  wsDeps = if ws == null then { } else ws.dependencies or { };

  globRegex =
    seg:
    replaceStrings
      [ "*" "?" "." "+" "(" ")" "{" "}" "^" "$" "|" ]
      [ "[^/]*" "[^/]" "\\." "\\+" "\\(" "\\)" "\\{" "\\}" "\\^" "\\$" "\\|" ]
      seg;
  isGlob = seg: match ".*[*?[].*" seg != null;
  expandGlob =
    pattern:
    foldl' (
      dirs: seg:
      concatMap (
        d:
        if isGlob seg then
          let
            entries = if isDir d then readDir (abs d) else { };
          in
          map (n: join d n) (filter (n: match (globRegex seg) n != null) (attrNames entries))
        else
          [ (join d seg) ]
      ) dirs
    ) [ "" ] (splitPath pattern);
  excluded =
    dir:
    ws != null
    && any' (
      e:
      let
        x = normalize e;
      in
      dir == x || match "${replaceStrings [ "." ] [ "\\." ] x}/.*" dir != null
    ) (ws.exclude or [ ]);
  any' = builtins.any;
  listedMembers =
    if ws == null then
      [ ]
    else
      filter (d: isFile (manifestPath d) && !excluded d) (concatMap expandGlob (ws.members or [ ]));
  rootIsPackage = rootDoc ? package || rootDoc ? project;
  # Path dependencies inside a workspace are members too; without [workspace] only the root is.
  isMember = dir: (dir == "" && rootIsPackage) || (ws != null && !(excluded dir));

  depEntries =
    tables: doc:
    concatMap (t: if isAttrs (doc.${t} or null) then map (n: {
      name = n;
      spec = doc.${t}.${n};
    }) (attrNames doc.${t}) else [ ]) tables
    ++ concatMap (
      cfg:
      let
        td = doc.target.${cfg};
      in
      if isAttrs td then
        concatMap (t: if isAttrs (td.${t} or null) then map (n: {
          name = n;
          spec = td.${t}.${n};
        }) (attrNames td.${t}) else [ ]) tables
      else
        [ ]
    ) (if isAttrs (doc.target or null) then attrNames doc.target else [ ]);

  # Where a dependency's package lives, if it is a path one (relative to the root), else null.
  depPath =
    dir: e:
    if isAttrs e.spec && e.spec ? path then
      join dir e.spec.path
    else if isAttrs e.spec && (e.spec.workspace or false) == true && isAttrs (wsDeps.${e.name} or null) && wsDeps.${e.name} ? path then
      join "" wsDeps.${e.name}.path
    else
      null;
  depPackageName =
    e:
    if isAttrs e.spec && e.spec ? package then
      e.spec.package
    else if isAttrs e.spec && (e.spec.workspace or false) == true && isAttrs (wsDeps.${e.name} or null) then
      wsDeps.${e.name}.package or e.name
    else
      e.name;

  patchDirs =
    concatMap (
      reg:
      concatMap (
        n:
        let
          s = rootDoc.patch.${reg}.${n};
        in
        if isAttrs s && s ? path then [ (join "" s.path) ] else [ ]
      ) (attrNames rootDoc.patch.${reg})
    ) (attrNames (rootDoc.patch or { }))
    ++ concatMap (
      n:
      let
        s = rootDoc.replace.${n};
      in
      if isAttrs s && s ? path then [ (join "" s.path) ] else [ ]
    ) (attrNames (rootDoc.replace or { }));

  docs = listToAttrs (
    map (d: {
      name = d;
      value = readToml (manifestPath d);
    }) closureDirs
  );
  closureDirs = map (i: i.key) (
    builtins.genericClosure {
      startSet = map (d: { key = d; }) ((if rootIsPackage then [ "" ] else [ ]) ++ listedMembers ++ patchDirs);
      operator =
        item:
        let
          doc = readToml (manifestPath item.key);
          tables = if isMember item.key then DEP_TABLES else NON_DEV_TABLES;
        in
        map (p: { key = p; }) (filter (p: p != null) (map (depPath item.key) (depEntries tables doc)));
    }
  );

  # ---- the lock ----
  lockText = readText "Cargo.lock";
  lock = builtins.fromTOML lockText;
  lockPkgs = lock.package or [ ];
  lockLocal = filter (p: !(p ? source)) lockPkgs;
  lockLocalNames = map (p: p.name) lockLocal;

  pkgTable = doc: if isAttrs (doc.package or null) then doc.package else doc.project or null;
  nameOf = doc: (pkgTable doc).name;
  inheritsVersion =
    doc: let p = pkgTable doc; in p != null && isAttrs (p.version or null) && p.version ? workspace;
  realVersion =
    doc:
    let
      v = (pkgTable doc).version or "0.0.0";
    in
    if isString v then v else (ws.package.version or "0.0.0");

  # The local packages cargo resolves: members, and the path packages the lock lists.
  localDirs = filter (
    d: pkgTable docs.${d} != null && (isMember d || elem (nameOf docs.${d}) lockLocalNames)
  ) closureDirs;
  localByName = foldl' (acc: d: acc // { ${nameOf docs.${d}} = d; }) { } localDirs;

  # A lock reference "name", "name version" or "name version (source)" to a local package.
  refTarget =
    ref:
    let
      parts = filter isString (split " " ref);
      name = head parts;
      version = if length parts > 1 then builtins.elemAt parts 1 else null;
      hits = filter (p: p.name == name && (version == null || p.version == version)) lockLocal;
    in
    if length parts > 2 || hits == [ ] then null else head hits;
  # Declares `name` without `path` (a registry/git requirement that a [patch] or [replace] meets).
  declaresWithoutPath =
    dir: name:
    builtins.any (e: depPackageName e == name && depPath dir e == null) (depEntries DEP_TABLES docs.${dir});
  pinned = concatMap (
    from:
    concatMap (
      ref:
      let
        to = refTarget ref;
        fromDir = localByName.${from.name} or null;
      in
      if to == null then
        [ ]
      else if from ? source || (fromDir != null && declaresWithoutPath fromDir to.name) then
        [ to.name ]
      else
        [ ]
    ) (from.dependencies or [ ])
  ) lockPkgs;
  isPinned = dir: elem (nameOf docs.${dir}) pinned;
  maskWsVersion = !(builtins.any (d: isPinned d && inheritsVersion docs.${d}) localDirs);
  realVersions = map (d: "${nameOf docs.${d}} ${realVersion docs.${d}}") (
    filter (d: isPinned d || (!maskWsVersion && inheritsVersion docs.${d})) localDirs
  );

  # ---- manifests (crates/strata-skeleton/src/manifest.rs) ----
  maskPackage =
    maskVersion: pkg:
    let
      p = removeAttrs pkg METADATA_ONLY_KEYS;
    in
    if maskVersion && isString (p.version or null) then p // { version = MASKED; } else p;
  stripEntries =
    deps:
    builtins.mapAttrs (_: d: if isAttrs d && d ? path then removeAttrs d [ "version" ] else d) deps;
  stripPathVersions =
    t:
    t
    // listToAttrs (
      map (n: {
        name = n;
        value = stripEntries t.${n};
      }) (filter (n: isAttrs (t.${n} or null)) DEP_TABLES)
    );
  maskManifest =
    maskVersion: doc:
    let
      d1 = builtins.mapAttrs (
        k: v: if (k == "package" || k == "project") && isAttrs v then maskPackage maskVersion v else v
      ) (removeAttrs doc [ "badges" ]);
      d2 = stripPathVersions d1;
      d3 =
        if isAttrs (d2.target or null) then
          d2 // { target = builtins.mapAttrs (_: t: if isAttrs t then stripPathVersions t else t) d2.target; }
        else
          d2;
      w = d3.workspace;
      w1 = removeAttrs w [ "metadata" ];
      w2 = if isAttrs (w1.package or null) then w1 // { package = maskPackage maskWsVersion w1.package; } else w1;
      w3 = if isAttrs (w2.dependencies or null) then w2 // { dependencies = stripEntries w2.dependencies; } else w2;
    in
    if isAttrs (d3.workspace or null) then d3 // { workspace = w3; } else d3;

  manifestFiles = map (d: {
    name = manifestPath d;
    value = toml.toTOML (maskManifest (!(isPinned d)) docs.${d});
  }) localDirs
  ++ (
    if rootIsPackage then
      [ ]
    else
      [
        {
          name = "Cargo.toml";
          value = toml.toTOML (maskManifest true rootDoc);
        }
      ]
  );

  # ---- Cargo.lock: the masked versions written into cargo's own text ----
  maskedLock = filter (p: !(elem "${p.name} ${p.version}" realVersions)) lockLocal;
  q = s: "\"${s}\"";
  lockOut =
    let
      text = lockText + "\n";
      froms = concatMap (p: [
        "name = ${q p.name}\nversion = ${q p.version}\n\n"
        "name = ${q p.name}\nversion = ${q p.version}\ndependencies = ["
        "${q "${p.name} ${p.version}"}"
      ]) maskedLock;
      tos = concatMap (p: [
        "name = ${q p.name}\nversion = ${q MASKED}\n\n"
        "name = ${q p.name}\nversion = ${q MASKED}\ndependencies = ["
        "${q "${p.name} ${MASKED}"}"
      ]) maskedLock;
      out = replaceStrings froms tos text;
    in
    builtins.substring 0 (builtins.stringLength out - 1) out;
  # What the masking must have done, checked on the parsed result: a lock not in cargo's layout
  # fails here instead of giving a skeleton that differs from strata's.
  expectedLock =
    let
      masked = map (p: "${p.name} ${p.version}") maskedLock;
      maskRef =
        r:
        let
          parts = filter isString (split " " r);
        in
        if length parts == 2 && elem r masked then "${head parts} ${MASKED}" else r;
    in
    lock
    // {
      package = map (
        p:
        (if !(p ? source) && elem "${p.name} ${p.version}" masked then p // { version = MASKED; } else p)
        // (if p ? dependencies then { dependencies = map maskRef p.dependencies; } else { })
      ) lockPkgs;
    };
  lockChecked =
    if builtins.fromTOML lockOut == expectedLock then
      lockOut
    else
      throw "strata mkDummySrc: Cargo.lock is not laid out as cargo writes it; run `cargo generate-lockfile` (or `cargo update --workspace`)";

  # ---- targets and their dummies (cargo's target discovery) ----
  rsFilesIn =
    pkgDir: sub:
    let
      d = join pkgDir sub;
      entries = if isDir d then readDir (abs d) else { };
    in
    concatMap (
      n:
      let
        t = entries.${n};
        p = join d n;
      in
      if (t == "directory" || (t == "symlink" && isDir p)) then
        (if isFile (join p "main.rs") then [ { name = n; path = join p "main.rs"; } ] else [ ])
      else if match "(.+)\\.rs" n != null then
        [ { name = head (match "(.+)\\.rs" n); path = p; } ]
      else
        [ ]
    ) (attrNames entries);

  targetsOf =
    dir:
    let
      doc = docs.${dir};
      pkg = pkgTable doc;
      name = pkg.name;
      edition = pkg.edition or "2015";
      editionStr = if isString edition then edition else ws.package.edition or "2015";
      autoFlag = k: pkg.${k} or null;

      libT =
        if isAttrs (doc.lib or null) then
          [ { path = join dir (doc.lib.path or "src/lib.rs"); kind = "lib"; } ]
        else if (pkg.autolib or true) && isFile (join dir "src/lib.rs") then
          [ { path = join dir "src/lib.rs"; kind = "lib"; } ]
        else
          [ ];

      # toml_targets_and_inferred + target_path of cargo/util/toml/targets.rs
      merged =
        explicitKey: flag: inferred:
        let
          explicit = doc.${explicitKey} or null;
          withPath = t: if t ? path then t // { path = join dir t.path; } else t;
          explicitTs = if isList explicit then map withPath explicit else [ ];
          seenNames = map (t: t.name or null) explicitTs;
          seenPaths = filter (p: p != null) (map (t: t.path or null) explicitTs);
          rest = filter (i: !(elem i.name seenNames) && !(elem i.path seenPaths)) inferred;
          auto = autoFlag flag;
          extra =
            if explicit == null then
              (if auto == false then [ ] else inferred)
            else if auto == true || (auto == null && editionStr != "2015") then
              rest
            else
              [ ];
          resolve =
            t:
            if t ? path then
              t
            else
              let
                m = filter (i: i.name == (t.name or null)) inferred;
              in
              if length m == 1 then
                t // { path = (head m).path; }
              else
                throw "strata mkDummySrc: ${manifestPath dir}: cannot find the source of ${explicitKey} target `${t.name or "?"}`";
        in
        map resolve (if explicit == null then [ ] else explicitTs) ++ extra;

      inferredBins =
        (if isFile (join dir "src/main.rs") then [ { inherit name; path = join dir "src/main.rs"; } ] else [ ])
        ++ rsFilesIn dir "src/bin";
      bins = merged "bin" "autobins" inferredBins;
      examples = merged "example" "autoexamples" (rsFilesIn dir "examples");
      tests = merged "test" "autotests" (rsFilesIn dir "tests");
      benches = merged "bench" "autobenches" (rsFilesIn dir "benches");
      build = pkg.build or null;
      buildT =
        if isString build then
          [ { path = join dir build; kind = "main"; } ]
        else if build == true || (build == null && isFile (join dir "build.rs")) then
          [ { path = join dir "build.rs"; kind = "main"; } ]
        else
          [ ];
      crateTypes = t: t.crate-type or t.crate_type or [ ];
      exampleKind = t: if crateTypes t == [ ] || elem "bin" (crateTypes t) then "main" else "lib";
    in
    libT
    ++ map (t: { inherit (t) path; kind = "main"; }) (bins ++ tests ++ benches)
    ++ map (t: { inherit (t) path; kind = exampleKind t; }) examples
    ++ buildT;

  mergeKind =
    a: b:
    # Lib + Main = Shared; anything + Shared = Shared.
    if a == b then a else "shared";
  dummyKinds = foldl' (
    acc: t: acc // { ${t.path} = if acc ? ${t.path} then mergeKind acc.${t.path} t.kind else t.kind; }
  ) { } (concatMap targetsOf localDirs);
  dummyText = {
    lib = LIB_DUMMY;
    main = MAIN_DUMMY;
    shared = SHARED_DUMMY;
  };

  # ---- cargo config and toolchain files, as they are ----
  configFiles = concatMap (
    d:
    concatMap (
      n:
      let
        p = join d n;
      in
      if isFile p then [ { name = p; value = readText p; } ] else [ ]
    ) [
      ".cargo/config.toml"
      ".cargo/config"
    ]
  ) ([ "" ] ++ localDirs);
  toolchainFiles = concatMap (n: if isFile n then [ { name = n; value = readText n; } ] else [ ]) [
    "rust-toolchain"
    "rust-toolchain.toml"
  ];

  fixed = listToAttrs (manifestFiles ++ [
    {
      name = "Cargo.lock";
      value = lockChecked;
    }
  ]);
  dummies = builtins.mapAttrs (_: k: dummyText.${k}) dummyKinds;
  allFiles = dummies // fixed // listToAttrs (configFiles ++ toolchainFiles);
  badPaths = filter outside (attrNames allFiles);
  # Per local package, for the per-crate derivations: its dir, the local packages its build
  # needs (normal and build dependencies; dev-dependencies only matter to tests and may form
  # cycles), and the dummies of its targets.
  packages = listToAttrs (
    map (d: {
      name = nameOf docs.${d};
      value = {
        dir = d;
        localDeps = map (p: nameOf docs.${p}) (
          filter (p: p != null && elem p localDirs) (map (depPath d) (depEntries NON_DEV_TABLES docs.${d}))
        );
        dummies = listToAttrs (
          map (t: {
            name = t.path;
            value = dummyText.${dummyKinds.${t.path}};
          }) (targetsOf d)
        );
      };
    }) localDirs
  );
in
{
  inherit packages;
  files =
    if !(pathExists (abs "Cargo.lock")) then
      throw "strata mkDummySrc: no Cargo.lock next to the workspace manifest; strata needs one (run `cargo generate-lockfile`)"
    else if badPaths != [ ] then
      throw "strata mkDummySrc: ${head badPaths}: outside `src`; every path package must be inside it"
    else
      allFiles;
}
