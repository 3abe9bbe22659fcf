# mkLib pkgs: strata's Nix library on nixpkgs (pkgs.stdenv, the toolchain from pkgs).
#
#   s = strata.lib.mkLib pkgs;
#   s' = s.overrideToolchain myRust;   # e.g. a rust-overlay or fenix toolchain
#
# The functions are the same as those of ./default.nix; only how a derivation is made differs.
pkgs:
let
  make =
    args:
    import ./lib/make.nix (import ./lib/backend-nixpkgs.nix ({ inherit pkgs; } // args))
    // {
      overrideToolchain = toolchain: make (args // { inherit toolchain; });
      overrideStrata = strata: make (args // { inherit strata; });
    };
in
make { }
