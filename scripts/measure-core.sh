#!/usr/bin/env bash
# Side-by-side timing of strata against native cargo on the ripgrep workspace, in one run on one
# machine: native clean `cargo build --release` and cold `strata build --release` (empty store,
# save included), interleaved; a fresh clone at another path with the warm store; a noop; and a
# lock bump (`cargo update -p lexopt`, then a build) in each warm checkout, with the units each
# compiled. Prints ratios. Not a test: nothing asserts a time.
# Usage: scripts/measure-core.sh [STRATA_BIN]
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
units() { grep -cE '^\s+(Compiling|Checking) ' "$work/log" || true; }

extract "$work/native"
(cd "$work/native" && cargo fetch --locked >/dev/null 2>&1)
native=$(cd "$work/native" && time_cmd cargo build --release --locked)
extract "$work/cold"
cold=$(cd "$work/cold" && time_cmd "$strata" build --release --locked)
extract "$work/elsewhere/clone"
clone=$(cd "$work/elsewhere/clone" && time_cmd "$strata" build --release --locked)
clone_units=$(units)
native_noop=$(cd "$work/native" && time_cmd cargo build --release --locked)
noop=$(cd "$work/cold" && time_cmd "$strata" build --release --locked)
(cd "$work/native" && cargo update -p lexopt >/dev/null 2>&1)
native_bump=$(cd "$work/native" && time_cmd cargo build --release)
native_bump_units=$(units)
(cd "$work/cold" && cargo update -p lexopt >/dev/null 2>&1)
bump=$(cd "$work/cold" && time_cmd "$strata" build --release)
bump_units=$(units)
store=$(du -sb "$STRATA_STORE" | cut -f1)
target=$(du -sb "$work/native/target" | cut -f1)

printf 'machine: %s cores, %s\n' "$(nproc)" "$(rustc -V)"
printf '%-44s %8.2f s\n' "native clean cargo build --release" "$native"
printf '%-44s %8.2f s  %sx native\n' "strata cold (empty store, save included)" "$cold" "$(ratio "$cold" "$native")"
printf '%-44s %8.2f s  %sx native  (%s units compiled)\n' "strata fresh clone elsewhere, warm store" "$clone" "$(ratio "$clone" "$native")" "$clone_units"
printf '%-44s %8.2f s / %.2f s native (+%.0f ms)\n' "strata noop" "$noop" "$native_noop" "$(awk -v a="$noop" -v b="$native_noop" 'BEGIN { print (a - b) * 1000 }')"
printf '%-44s %8.2f s / %.2f s native (%sx; units %s / %s)\n' "lock bump (cargo update -p lexopt), build" "$bump" "$native_bump" "$(ratio "$bump" "$native_bump")" "$bump_units" "$native_bump_units"
printf '%-44s %8s MiB (native target: %s MiB)\n' "store after all" "$((store / 1048576))" "$((target / 1048576))"
