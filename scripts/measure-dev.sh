#!/usr/bin/env bash
# The dev loop, measured side by side in one run on one machine (debug profile, `cargo build`):
#   warm      one-line edit + `cargo build` in a long-lived warm checkout (median of hyperfine runs)
#   same      fresh clone at the same path (old checkout gone) + `strata dev` + edit + `cargo build`
#   paired    a warm edit-build, then a same-path clone, alternating (PAIRS rounds): the ratio of
#             each round, so that a machine that speeds up or slows down hits both sides
#   other     fresh clone at another path + `strata dev` + edit + `cargo build`
#   plain     fresh clone without strata + edit + `cargo build` (a full debug build)
#   linkers   edit + `cargo build` in a warm checkout with rustc's default linker (rust-lld),
#             Debian's lld and mold, through one linker wrapper so switching needs no rebuild
# Not a test: nothing asserts a time.
# Usage: scripts/measure-dev.sh WORKLOAD [STRATA_BIN]
#   WORKLOAD: ripgrep-workspace (the tarball in ../shared/workloads), xh (xh 0.23.0 from
#   crates.io) or fixture (the tests' small workspace, to check the script)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
workload=${1:?usage: measure-dev.sh ripgrep-workspace|xh [STRATA_BIN]}
strata=${2:-$here/target/debug/strata}
runs=${RUNS:-5}
clone_runs=${CLONE_RUNS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/strata-measure-dev.XXXXXX")
trap 'rm -rf "$work"' EXIT
export STRATA_STORE=$work/store STRATA_CARGO_HOME_LINK=$work/cargo-home-link
unset CARGO_TARGET_DIR RUSTFLAGS CARGO_ENCODED_RUSTFLAGS RUSTC_WRAPPER CARGO_INCREMENTAL STRATA_DEV

case $workload in
  ripgrep-workspace)
    src=${STRATA_WORKLOADS:-$here/../shared/workloads}/ripgrep-14.1.1-workspace.tar.gz
    leaf=crates/core/main.rs
    ;;
  xh)
    src=$work/xh-0.23.0.crate
    curl -sSfL -o "$src" https://static.crates.io/crates/xh/xh-0.23.0.crate
    leaf=src/main.rs
    ;;
  fixture)
    # The tests' small workspace: checks this script quickly.
    src=$work/fixture.tar.gz
    tar czf "$src" -C "$here/crates/strata-cli/tests/fixtures" --transform 's#^workspace#fixture#' workspace
    leaf=app/src/main.rs
    ;;
  *) echo "unknown workload $workload" >&2; exit 2 ;;
esac
extract() { rm -rf "$1"; mkdir -p "$1" && tar xzf "$src" -C "$1" --strip-components=1 -m; }
now() { date +%s.%N; }
log=$work/log
# Every timed step starts with nothing left to write back (sync), so that no step pays for the
# writeback of the one before; the warm edits sync too (edit.sh), so both sides are measured alike.
time_cmd() { local t0; sync; t0=$(now); "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }; awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.3f", a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a + b }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
compiled() { grep -cE '^\s+(Compiling|Checking) ' "$log" || true; }
n=0
edit() { n=$((n + 1)); printf '\n#[allow(dead_code)]\nfn strata_dev_edit_%s() -> u32 { %s }\n' "$n$RANDOM" "$n" >>"$1/$leaf"; }

warm=$work/proj
extract "$warm"
(cd "$warm" && cargo fetch --locked >/dev/null 2>&1)
# The dev environment, as `eval "$(strata env)"` sets it.
eval "$(cd "$warm" && "$strata" env)"
echo "env: CARGO_HOME=$CARGO_HOME CARGO_INCREMENTAL=$CARGO_INCREMENTAL STRATA_DEV=$STRATA_DEV"

# Long-lived warm checkout: cold strata dev --save, then edits.
cold=$(cd "$warm" && time_cmd "$strata" dev --save)
(cd "$warm" && edit "$warm" && cargo build >/dev/null 2>&1)
cat >"$work/edit.sh" <<EOF
#!/usr/bin/env bash
printf '\n#[allow(dead_code)]\nfn strata_dev_edit_h%s() -> u32 { 1 }\n' "\$(date +%s%N)" >>"$warm/$leaf"
sync
EOF
chmod +x "$work/edit.sh"
(cd "$warm" && hyperfine -N -w 1 -r "$runs" --prepare "$work/edit.sh" --export-json "$work/warm.json" 'cargo build' >/dev/null)
t_warm=$(python3 -c "import json,statistics; print('%.3f' % statistics.median(json.load(open('$work/warm.json'))['results'][0]['times']))")
# Save the dev layers of the warm checkout, as a teammate or CI would.
(cd "$warm" && "$strata" dev --save >/dev/null 2>&1)

# Fresh clone at the same path: the old checkout is moved away.
mv "$warm" "$work/proj-old"
same_dev=(); same_edit=(); same_noop=()
for _ in $(seq "$clone_runs"); do
  extract "$warm"
  same_dev+=("$(cd "$warm" && time_cmd "$strata" dev)")
  grep -E 'Dev|Strata' "$log" | sed 's/^ */    same: /' | head -3
  (cd "$warm" && cargo build -v >"$log" 2>&1); same_noop+=("$(compiled)")
  edit "$warm"
  same_edit+=("$(cd "$warm" && time_cmd cargo build)")
  rm -rf "$warm"
done
# Paired rounds: a warm edit-build in the long-lived checkout, then a fresh clone at the same path
# (strata dev + edit + build, no build in between), alternating, so that both sides sample the same
# state of the machine. The warm checkout steps aside by a rename while the clone is measured.
pair_warm=(); pair_clone=(); pair_ratio=()
for _ in $(seq "${PAIRS:-$clone_runs}"); do
  mv "$work/proj-old" "$warm"
  edit "$warm"
  w=$(cd "$warm" && time_cmd cargo build)
  mv "$warm" "$work/proj-old"
  extract "$warm"
  d=$(cd "$warm" && time_cmd "$strata" dev)
  edit "$warm"
  e=$(cd "$warm" && time_cmd cargo build)
  rm -rf "$warm"
  c=$(add "$d" "$e")
  pair_warm+=("$w"); pair_clone+=("$c = $d + $e"); pair_ratio+=("$(ratio "$c" "$w")")
done
# The same at the same path with every file copied (STRATA_LINK=0), as before linked copies.
copy_dev=(); copy_edit=()
for _ in $(seq "$clone_runs"); do
  extract "$warm"
  copy_dev+=("$(cd "$warm" && STRATA_LINK=0 time_cmd "$strata" dev)")
  edit "$warm"
  copy_edit+=("$(cd "$warm" && time_cmd cargo build)")
  rm -rf "$warm"
done
# Fresh clone at another path.
other_dev=(); other_edit=(); other_noop=()
for i in $(seq "$clone_runs"); do
  o=$work/elsewhere/clone$i
  extract "$o"
  other_dev+=("$(cd "$o" && time_cmd "$strata" dev)")
  (cd "$o" && cargo build -v >"$log" 2>&1); other_noop+=("$(compiled)")
  edit "$o"
  other_edit+=("$(cd "$o" && time_cmd cargo build)")
  rm -rf "$o"
done
# Fresh clone without strata (plain cargo, its own cargo home, incremental as cargo defaults).
plain=$work/plain
extract "$plain"
edit "$plain"
t_plain=$(cd "$plain" && time_cmd env -u CARGO_HOME -u CARGO_INCREMENTAL -u STRATA_DEV cargo build)
plain_units=$(compiled)
rm -rf "$plain"

# Linkers, in the long-lived checkout (now at proj-old): one wrapper, chosen per run by LD_CHOICE.
host=$(rustc -vV | sed -n 's/^host: //p')
cat >"$work/ld-wrapper" <<'EOF'
#!/usr/bin/env bash
# default: rustc's own arguments (-fuse-ld=lld with its bundled rust-lld via -B…/gcc-ld).
# lld: the system ld.lld (rustc's -B…/gcc-ld dropped). mold: -fuse-ld=mold.
args=()
for a in "$@"; do
  case $a in
    -B*gcc-ld) [ "$LD_CHOICE" = default ] && args+=("$a") ;;
    *) args+=("$a") ;;
  esac
done
case $LD_CHOICE in
  default) exec cc "${args[@]}" ;;
  lld) exec cc "${args[@]}" -fuse-ld=lld ;;
  mold) exec cc "${args[@]}" -fuse-ld=mold ;;
esac
EOF
chmod +x "$work/ld-wrapper"
sed -i "s#$warm/#$work/proj-old/#" "$work/edit.sh"
linker_var=CARGO_TARGET_$(echo "$host" | tr 'a-z-' 'A-Z_')_LINKER
export "$linker_var=$work/ld-wrapper"
(cd "$work/proj-old" && LD_CHOICE=default cargo build >/dev/null 2>&1)
for ld in default lld mold; do
  (cd "$work/proj-old" && "$work/edit.sh" && LD_CHOICE=$ld cargo build >/dev/null 2>&1 && readelf -p .comment "$(find target/debug -maxdepth 1 -type f -executable | head -1)" | grep -iE 'mold|lld' | head -1 | sed "s/^/    $ld links with: /")
done
(cd "$work/proj-old" && hyperfine -N -w 1 -r "$runs" --prepare "$work/edit.sh" -L ld default,lld,mold \
  --export-json "$work/linkers.json" 'env LD_CHOICE={ld} cargo build' >/dev/null)
unset "$linker_var"

printf '\nworkload %s, debug profile, machine: %s cores, %s, load %s\n' "$workload" "$(nproc)" "$(rustc -V)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-58s %8.2f s\n' "strata dev --save, cold (empty store; setup, not compared)" "$cold"
printf '%-58s %8.2f s  (median of %s)\n' "warm checkout: edit + cargo build" "$t_warm" "$runs"
sd=$(printf '%s\n' "${same_dev[@]}" | median); se=$(printf '%s\n' "${same_edit[@]}" | median)
od=$(printf '%s\n' "${other_dev[@]}" | median); oe=$(printf '%s\n' "${other_edit[@]}" | median)
same=$(add "$sd" "$se"); other=$(add "$od" "$oe")
printf '%-58s %8.2f s  = strata dev %.2f + edit build %.2f; %sx warm (noop units: %s)\n' \
  "fresh clone, same path: strata dev + edit + build" "$same" "$sd" "$se" "$(ratio "$same" "$t_warm")" "${same_noop[*]}"
printf '%-58s %8sx warm  (median of %s rounds; ratios: %s)\n' \
  "  paired rounds: warm edit, then same-path clone" "$(printf '%s\n' "${pair_ratio[@]}" | median)" \
  "${#pair_ratio[@]}" "${pair_ratio[*]}"
printf '%-58s %s\n' "    warm edit builds; clone = strata dev + edit build" "${pair_warm[*]}; ${pair_clone[*]}"
cd_=$(printf '%s\n' "${copy_dev[@]}" | median); ce=$(printf '%s\n' "${copy_edit[@]}" | median)
copy=$(add "$cd_" "$ce")
printf '%-58s %8.2f s  = strata dev %.2f + edit build %.2f; %sx warm\n' \
  "  the same, files copied (STRATA_LINK=0)" "$copy" "$cd_" "$ce" "$(ratio "$copy" "$t_warm")"
printf '%-58s %s\n' "  strata dev, each run (the first makes linked copies)" "same: ${same_dev[*]}; copied: ${copy_dev[*]}; other: ${other_dev[*]}"
printf '%-58s %8.2f s  = strata dev %.2f + edit build %.2f; %sx warm (noop units: %s)\n' \
  "fresh clone, other path: strata dev + edit + build" "$other" "$od" "$oe" "$(ratio "$other" "$t_warm")" "${other_noop[*]}"
printf '%-58s %8.2f s  (%s units; strata same path: %sx, other path: %sx of it)\n' \
  "fresh clone without strata: edit + full debug build" "$t_plain" "$plain_units" "$(ratio "$same" "$t_plain")" "$(ratio "$other" "$t_plain")"
python3 - "$work/linkers.json" <<'EOF'
import json, statistics, sys
res = json.load(open(sys.argv[1]))["results"]
med = {r["parameters"]["ld"]: statistics.median(r["times"]) for r in res}
mn = {r["parameters"]["ld"]: min(r["times"]) for r in res}
for ld in ("default", "lld", "mold"):
    print("%-58s %8.2f s  (min %.2f; %.3fx default)" % (f"warm edit + build, linker {ld}", med[ld], mn[ld], med[ld] / med["default"]))
EOF
