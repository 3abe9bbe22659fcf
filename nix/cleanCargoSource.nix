# cleanCargoSource src: `src` added to the store with only what cargo reads (filterCargoSources).
# The store path depends on the kept files alone, so a README edit changes no derivation.
{ lib }:
src:
builtins.path {
  path = src;
  name = "source";
  filter = lib.filterCargoSources;
}
