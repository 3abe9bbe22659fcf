#!/usr/bin/env bash
# Side by side on the ripgrep 14.1.1 workspace, release profile, one run each:
#   clean Nix build (buildDepsOnly + buildPackage), the package derivation on cached deps after a
#   one-line edit, strata outside Nix with a warm deps layer and the same change (fresh checkout,
#   the deps output as its store), native incremental (plain cargo, warm target, one-line edit) and
#   native clean (plain cargo). Everything uses the same vendored sources (the library's
#   vendorCargoDeps) so that only Nix differs.
# Usage: scripts/measure-nix.sh [path/to/strata]   (default: target/release/strata)
set -euo pipefail
cd "$(dirname "$0")/.."
STRATA=$(realpath "${1:-target/release/strata}")
TARBALL=$(realpath "${STRATA_WORKLOADS:-../shared/workloads}/ripgrep-14.1.1-workspace.tar.gz")
TC=$(rustc --print sysroot)
NIX=$(realpath nix)
W=$(mktemp -d /tmp/strata-measure-nix.XXXXXX)
NIXOPTS=(--option build-users-group "" --option substituters "" --no-out-link)
extract() { rm -rf "$1"; mkdir -p "$1"; tar xzf "$TARBALL" --strip-components=1 -m -C "$1"; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

extract "$W/ws"
echo "$W" > "$W/ws/measure-nonce.txt"
cat > "$W/default.nix" <<NIXEOF
let
  s = import $NIX { rustToolchain = "$TC"; strata = "$STRATA"; };
  src = s.cleanCargoSource ./ws;
  cargoArtifacts = s.buildDepsOnly { inherit src; };
in {
  deps = cargoArtifacts;
  vendor = s.vendorCargoDeps { inherit src; };
  pkg = s.buildPackage { inherit src cargoArtifacts; doCheck = false; };
  percrate = s.buildPackage { inherit src cargoArtifacts; doCheck = false; perCrate = true; };
}
NIXEOF
VENDOR=$(nix-build "$W/default.nix" -A vendor "${NIXOPTS[@]}" 2>/dev/null)
# A clean Nix build: drop an earlier deps output of this very derivation, if any.
OLD=$(nix-instantiate "$W/default.nix" -A deps --option build-users-group "" 2>/dev/null | xargs nix-store -q --outputs)
nix-store --delete "$OLD" >/dev/null 2>&1 || true

t0=$(now); DEPS=$(nix-build "$W/default.nix" -A deps "${NIXOPTS[@]}" 2>"$W/deps.log"); t1=$(now)
PKG=$(nix-build "$W/default.nix" -A pkg "${NIXOPTS[@]}" 2>"$W/pkg.log"); t2=$(now)
nix_deps=$(secs "$t0" "$t1"); nix_pkg=$(secs "$t1" "$t2")

echo "// one line" >> "$W/ws/crates/globset/src/lib.rs"
t0=$(now); PKG2=$(nix-build "$W/default.nix" -A pkg "${NIXOPTS[@]}" 2>"$W/pkg2.log"); t1=$(now)
nix_cached=$(secs "$t0" "$t1")
nix_units=$(grep -c '^ *Compiling' "$PKG2/share/strata/cargo.log" || true)

# Per crate (buildWorkspace): every crate derivation once, then the same kind of one-line edit in
# globset (its derivation and its dependents' rebuild), then a leaf edit in the root's main.rs.
t0=$(now); nix-build "$W/default.nix" -A percrate "${NIXOPTS[@]}" >/dev/null 2>"$W/percrate.log"; t1=$(now)
nix_percrate_first=$(secs "$t0" "$t1")
echo "// another line" >> "$W/ws/crates/globset/src/lib.rs"
t0=$(now); nix-build "$W/default.nix" -A percrate "${NIXOPTS[@]}" >/dev/null 2>"$W/percrate-globset.log"; t1=$(now)
nix_percrate_globset=$(secs "$t0" "$t1")
percrate_globset_drvs=$(grep -c "^building '.*-crate.drv'" "$W/percrate-globset.log" || true)
echo "// one line" >> "$W/ws/crates/core/main.rs"
t0=$(now); nix-build "$W/default.nix" -A percrate "${NIXOPTS[@]}" >/dev/null 2>"$W/percrate-leaf.log"; t1=$(now)
nix_percrate_leaf=$(secs "$t0" "$t1")

# Outside Nix, the same change: a fresh checkout, the deps output as the store, same vendor config.
extract "$W/native"
echo "// one line" >> "$W/native/crates/globset/src/lib.rs"
mkdir -p "$W/home"; cp "$VENDOR/config.toml" "$W/home/config.toml"
cp -r "$DEPS" "$W/store"; chmod -R u+w "$W/store"
export CARGO_HOME="$W/home" STRATA_CARGO_HOME_LINK="$W/home-link" STRATA_STORE="$W/store"
unset CARGO_TARGET_DIR RUSTFLAGS RUSTC_WRAPPER CARGO_INCREMENTAL
cd "$W/native"
t0=$(now); "$STRATA" build --release --locked --offline --no-save 2>"$W/native-warm.log"; t1=$(now)
native_warm=$(secs "$t0" "$t1")
native_warm_units=$(grep -c '^ *Compiling' "$W/native-warm.log" || true)
grep -q "building the dependency layer" "$W/native-warm.log" && echo "warning: the deps layer missed outside Nix" >&2

# Native incremental: plain cargo in that warm target, another one-line edit.
echo "// another line" >> crates/globset/src/lib.rs
t0=$(now); cargo build --release --locked --offline 2>"$W/native-incr.log"; t1=$(now)
native_incr=$(secs "$t0" "$t1")
# And a leaf edit (the root's main.rs), as the per-crate leaf edit.
echo "// one line" >> crates/core/main.rs
t0=$(now); cargo build --release --locked --offline 2>"$W/native-incr-leaf.log"; t1=$(now)
native_incr_leaf=$(secs "$t0" "$t1")

# Native clean: plain cargo, fresh checkout.
extract "$W/clean"; cd "$W/clean"
t0=$(now); cargo build --release --locked --offline 2>"$W/native-clean.log"; t1=$(now)
native_clean=$(secs "$t0" "$t1")

ratio() { echo "scale=3; $1 / $2" | bc; }
printf 'machine: %s cores, %s\n' "$(nproc)" "$(rustc -V)"
printf '%-58s %8.2f s\n' "clean Nix build: buildDepsOnly" "$nix_deps"
printf '%-58s %8.2f s\n' "clean Nix build: buildPackage" "$nix_pkg"
printf '%-58s %8.2f s  %sx native clean\n' "clean Nix build, total" "$(echo "$nix_deps + $nix_pkg" | bc)" "$(ratio "($nix_deps + $nix_pkg)" "$native_clean")"
printf '%-58s %8.2f s  (%s units compiled)\n' "Nix package on cached deps, one-line edit in globset" "$nix_cached" "$nix_units"
printf '%-58s %8.2f s  (%s units compiled)\n' "strata build outside Nix, warm deps layer, same change" "$native_warm" "$native_warm_units"
printf '%-58s %8.2f s\n' "native incremental (cargo, warm target, one-line edit)" "$native_incr"
printf '%-58s %8.2f s\n' "native clean (cargo build --release)" "$native_clean"
printf '%-58s %8.2f s\n' "Nix per crate: every crate derivation, then the final one" "$nix_percrate_first"
printf '%-58s %8.2f s  (%s crate derivations)\n' "Nix per crate, one-line edit in globset" "$nix_percrate_globset" "$percrate_globset_drvs"
printf '%-58s %8.2f s\n' "Nix per crate, leaf edit (crates/core/main.rs)" "$nix_percrate_leaf"
printf '%-58s %8.2f s\n' "native incremental, leaf edit (crates/core/main.rs)" "$native_incr_leaf"
printf 'Nix cached deps / strata outside Nix with warm deps layer: %sx\n' "$(ratio "$nix_cached" "$native_warm")"
printf 'Nix per crate, globset edit / native incremental:          %sx\n' "$(ratio "$nix_percrate_globset" "$native_incr")"
printf 'Nix per crate, leaf edit / native incremental leaf edit:   %sx (goal <= 1.5x)\n' "$(ratio "$nix_percrate_leaf" "$native_incr_leaf")"
printf 'Nix cached deps / native incremental:                      %sx\n' "$(ratio "$nix_cached" "$native_incr")"
echo "logs in $W"
