# filterCargoSources path type: true for a file cargo may read. The rule is strata's own source
# filter (docs/configuration.md), minus the tool configs cargo's checks read: it drops
# documentation, images, licences, CI configuration, Nix files and cargo target dirs, and keeps
# everything else. Files of unknown type stay, because a crate may `include_str!` them (ripgrep
# includes its man page and shell-completion templates).
#
# A crate that `include_str!`s a dropped file (e.g. `#![doc = include_str!("../README.md")]`)
# needs it back:
#   builtins.path { path = ./.; name = "source";
#                   filter = p: t: s.filterCargoSources p t || baseNameOf p == "README.md"; }
path: type:
let
  base = baseNameOf (toString path);
  ext =
    let
      m = builtins.match ".*\\.([^.]*)" base;
    in
    if m == null then "" else builtins.head m;
  droppedDirs = [
    ".git"
    ".github"
    ".gitlab"
    ".circleci"
    ".direnv"
  ];
  droppedExts = [
    "md"
    "markdown"
    "rst"
    "adoc"
    "png"
    "jpg"
    "jpeg"
    "gif"
    "svg"
    "ico"
    "pdf"
    "nix"
  ];
  droppedNames = [
    "UNLICENSE"
    "CODEOWNERS"
    ".gitignore"
    ".gitattributes"
    ".editorconfig"
    ".envrc"
    "flake.lock"
    "deny.toml"
  ];
  droppedPrefix = builtins.match "(LICENSE|LICENCE|COPYING|AUTHORS|CHANGELOG|CONTRIBUTING|NOTICE).*" base;
in
if type == "directory" then
  # Cargo marks its target dirs with CACHEDIR.TAG or .rustc_info.json (a copied one may lack the
  # tag); `result` links come from nix-build.
  !(builtins.elem base droppedDirs)
  && !(builtins.pathExists (toString path + "/CACHEDIR.TAG"))
  && !(builtins.pathExists (toString path + "/.rustc_info.json"))
else if type == "symlink" && builtins.match "result(-.*)?" base != null then
  false
else
  !(builtins.elem ext droppedExts) && !(builtins.elem base droppedNames) && droppedPrefix == null
