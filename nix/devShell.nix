# devShell { pname ?, linker ? "mold", sharedTargetDir ?, rustAnalyzer ? true, shellHook ? "" }:
# a shell for the edit-compile loop: the toolchain and strata on PATH, incremental compilation on,
# one target dir shared by every checkout of the project (so a second worktree starts warm), and
# mold or lld as linker (null: the toolchain's default, rust-lld on x86_64 Linux).
{ core, lib }:
{
  src ? null,
  pname ? if src == null then "dev" else (core.crateNameFromCargoToml { inherit src; }).pname,
  linker ? "mold",
  sharedTargetDir ? null,
  rustAnalyzer ? true,
  shellHook ? "",
  env ? { },
  ...
}:
let
  targetDir =
    if sharedTargetDir != null then
      sharedTargetDir
    else
      "\${XDG_CACHE_HOME:-$HOME/.cache}/strata/target/${pname}";
  linkerFlag =
    if linker == null then
      ""
    else if linker == "mold" || linker == "lld" then
      "-C link-arg=-fuse-ld=${linker}"
    else
      throw "strata devShell: linker is \"mold\", \"lld\" or null, not \"${toString linker}\"";
in
core.backend.mkShell {
  name = "${pname}-dev-shell";
  tools = (if linker == null then [ ] else [ linker ]) ++ (if rustAnalyzer then [ "rust-analyzer" ] else [ ]);
  env = {
    CARGO_INCREMENTAL = "1";
  }
  // env;
  shellHook = ''
    export CARGO_INCREMENTAL=1
    export CARGO_TARGET_DIR="${targetDir}"
    ${if linkerFlag == "" then "" else ''export RUSTFLAGS="${linkerFlag}''${RUSTFLAGS:+ $RUSTFLAGS}"''}
    ${shellHook}
  '';
}
