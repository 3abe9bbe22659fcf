# strata's Nix library without nixpkgs: raw `derivation`s, the host toolchain and a host strata
# binary. Give paths as *strings* so nothing large is copied into the store:
#
#   import ./nix { rustToolchain = "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu";
#                  strata = "/usr/local/bin/strata"; }
#
# Returns the same functions as `mkLib pkgs` (see docs/nix.md). Builds need the host's /bin/bash,
# tar, gzip and a C linker on `hostPath`, and `nix-build --option build-users-group ""` when the
# toolchain lives where the nixbld users cannot read it (e.g. /root).
{
  rustToolchain,
  strata,
  extraPath ? [ ],
  hostPath ? "/usr/local/bin:/usr/bin:/bin",
  bash ? "/bin/bash",
  system ? builtins.currentSystem,
}:
import ./lib/make.nix (
  import ./lib/backend-raw.nix {
    inherit extraPath hostPath bash system;
    rustToolchain = toString rustToolchain;
    strata = toString strata;
  }
)
