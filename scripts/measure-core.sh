#!/usr/bin/env bash
# Side-by-side timing of strata against a native clean build on the ripgrep workspace, in one
# run on one machine: native clean `cargo build --release`, cold `strata build --release` (empty
# store, save included), and a fresh clone at another path with the warm store. Prints ratios.
# Not a test: nothing asserts a time. Usage: scripts/measure-core.sh [STRATA_BIN]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
strata=${1:-$here/target/release/strata}
tarball=${STRATA_WORKLOADS:-$here/../shared/workloads}/ripgrep-14.1.1-workspace.tar.gz
work=$(mktemp -d /tmp/strata-measure.XXXXXX)
trap 'rm -rf "$work"' EXIT
export STRATA_STORE=$work/store
extract() { mkdir -p "$1" && tar xzf "$tarball" -C "$1" --strip-components=1 -m; }
now() { date +%s.%N; }
time_cmd() { local t0; t0=$(now); "$@" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }; awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.3f", a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

extract "$work/native"
native=$(cd "$work/native" && time_cmd cargo build --release --locked)
extract "$work/cold"
cold=$(cd "$work/cold" && time_cmd "$strata" build --release --locked)
extract "$work/cold-build-only"
cold_build=$(cd "$work/cold-build-only" && STRATA_STORE=$work/store-build-only time_cmd "$strata" build --release --locked --deps-for build)
extract "$work/elsewhere/clone"
clone=$(cd "$work/elsewhere/clone" && time_cmd "$strata" build --release --locked)
compiled=$(grep -cE '^\s+(Compiling|Checking) ' "$work/log" || true)
store=$(du -sb "$STRATA_STORE" | cut -f1)
target=$(du -sb "$work/native/target" | cut -f1)

printf 'machine: %s cores, %s\n' "$(nproc)" "$(rustc -V)"
printf '%-44s %8.2f s\n' "native clean cargo build --release" "$native"
printf '%-44s %8.2f s  %sx native\n' "strata cold (empty store, save included)" "$cold" "$(ratio "$cold" "$native")"
printf '%-44s %8.2f s  %sx native\n' "strata cold, --deps-for build (no check deps)" "$cold_build" "$(ratio "$cold_build" "$native")"
printf '%-44s %8.2f s  %sx native  (%s units compiled)\n' "strata fresh clone elsewhere, warm store" "$clone" "$(ratio "$clone" "$native")" "$compiled"
printf '%-44s %8s MiB (native target: %s MiB)\n' "store after both" "$((store / 1048576))" "$((target / 1048576))"
