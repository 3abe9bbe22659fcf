# A TOML writer that gives, byte for byte, what strata's Rust skeleton gives when it launders a
# manifest: `toml::to_string` (toml 0.9, keys sorted, no `preserve_order`) of the parsed table.
# No nixpkgs: only builtins. Floats are refused (builtins.fromTOML cannot keep their text, and Nix
# prints them with 6 digits); dates and times are already refused by builtins.fromTOML.
#
#   toTOML (builtins.fromTOML text)  # => text, laundered: no comments, sorted keys
let
  inherit (builtins)
    attrNames
    concatStringsSep
    elem
    filter
    genList
    isAttrs
    isBool
    isFloat
    isInt
    isList
    isString
    match
    replaceStrings
    all
    any
    ;

  hexDigits = [
    "0"
    "1"
    "2"
    "3"
    "4"
    "5"
    "6"
    "7"
    "8"
    "9"
    "A"
    "B"
    "C"
    "D"
    "E"
    "F"
  ];
  hex2 = n: builtins.elemAt hexDigits (n / 16) + builtins.elemAt hexDigits (n - 16 * (n / 16));
  # The control characters (NUL cannot be in a Nix string) and their TOML escapes.
  codes = genList (i: i + 1) 31 ++ [ 127 ];
  charOf = n: builtins.fromJSON "\"\\u00${hex2 n}\"";
  named = {
    "8" = "\\b";
    "9" = "\\t";
    "10" = "\\n";
    "12" = "\\f";
    "13" = "\\r";
  };
  escapeOf = n: named.${toString n} or "\\u00${hex2 n}";
  ctrlChars = map charOf codes;
  ctrlEscapes = map escapeOf codes;
  tab = charOf 9;
  nl = charOf 10;
  # Control characters other than tab (and, for values, newline) force an escaped string.
  escapeCodeChars = filter (c: c != tab && c != nl) ctrlChars;

  has = needle: s: replaceStrings [ needle ] [ "" ] s != s;
  hasAny = needles: s: any (c: has c s) needles;

  # A basic string ("…"): every control character, backslash and double quote escaped.
  escapeBasic = replaceStrings ([
    "\\"
    "\""
  ]
  ++ ctrlChars
  ) ([
    "\\\\"
    "\\\""
  ]
  ++ ctrlEscapes
  );
  # A multi-line basic string ("""…"""): newlines stay, the third quote in a row is escaped.
  escapeMlBasic = replaceStrings ([
    "\\"
    "\"\"\""
  ]
  ++ filter (c: c != nl) ctrlChars
  ) ([
    "\\\\"
    "\"\"\\\""
  ]
  ++ map escapeOf (filter (n: n != 10) codes)
  );

  # toml_writer's TomlStringBuilder::as_default.
  str =
    s:
    let
      subset = match "[A-Za-z0-9_./: -]*" s != null;
      newline = has nl s;
      escapeCodes = hasAny escapeCodeChars s;
      escape = has "\\" s;
      dq = has "\"" s;
      dq3 = has "\"\"\"" s;
      sq = has "'" s;
      sq3 = has "'''" s;
      mlBasic = "\"\"\"" + (if newline then "\n" else "") + escapeMlBasic s + "\"\"\"";
    in
    if subset then
      "\"${s}\""
    else if !escapeCodes && !escape && !dq && !newline then
      "\"${escapeBasic s}\""
    else if !escapeCodes && !sq && !newline then
      "'${s}'"
    else if !escapeCodes && !escape && !dq3 then
      mlBasic
    else if !escapeCodes && !sq3 then
      "'''" + (if newline then "\n" else "") + s + "'''"
    else if newline then
      mlBasic
    else
      "\"${escapeBasic s}\"";

  # toml_writer's TomlKeyBuilder::as_default.
  key =
    k:
    let
      escapeCodes = hasAny (filter (c: c != tab) ctrlChars) k;
    in
    if match "[A-Za-z0-9_-]+" k != null then
      k
    else if !escapeCodes && !(has "\\" k) && !(has "\"" k) then
      "\"${escapeBasic k}\""
    else if !escapeCodes && !(has "'" k) then
      "'${k}'"
    else
      "\"${escapeBasic k}\"";

  inline =
    v:
    if isString v then
      str v
    else if isBool v then
      (if v then "true" else "false")
    else if isInt v then
      toString v
    else if isFloat v then
      throw "strata skeleton (Nix): a float in a manifest is not supported; write it as a string or an integer"
    else if isList v then
      "[" + concatStringsSep ", " (map inline v) + "]"
    else if isAttrs v then
      (
        if v == { } then
          "{}"
        else
          "{ " + concatStringsSep ", " (map (k: "${key k} = ${inline v.${k}}") (attrNames v)) + " }"
      )
    else
      throw "strata skeleton (Nix): cannot write a ${builtins.typeOf v} as TOML";

  isArrayOfTables = v: isList v && v != [ ] && all isAttrs v;
  isValue = v: !(isAttrs v) && !(isArrayOfTables v);

  # The document's tables in toml's order: a table, then its sub-tables depth first, keys sorted.
  tables =
    path: array: t:
    let
      names = attrNames t;
      body = concatStringsSep "" (
        map (k: "${key k} = ${inline t.${k}}\n") (filter (k: isValue t.${k}) names)
      );
      children = builtins.concatMap (
        k:
        let
          v = t.${k};
        in
        if isAttrs v then
          tables (path ++ [ k ]) false v
        else if isArrayOfTables v then
          builtins.concatMap (tables (path ++ [ k ]) true) v
        else
          [ ]
      ) names;
      hasChildren = any (k: !(isValue t.${k})) names;
    in
    [ { inherit path array body hasChildren; } ] ++ children;

  required =
    t: if t.path == [ ] then t.body != "" else t.array || t.body != "" || !t.hasChildren;
  header =
    t:
    if t.path == [ ] then
      ""
    else
      let
        k = concatStringsSep "." (map key t.path);
      in
      (if t.array then "[[${k}]]" else "[${k}]") + "\n";
in
{
  toTOML =
    doc: concatStringsSep "\n" (map (t: header t + t.body) (filter required (tables [ ] false doc)));
  inherit str key;
}
