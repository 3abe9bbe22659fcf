#!/usr/bin/env bash
# Side-by-side timing of the remote cache on the ripgrep workspace, in one run on one machine:
# native clean `cargo build --release`; machine A: cold `strata build --release` that pushes to a
# local `strata serve`; machine B: empty store, another path and another CARGO_HOME (its crates
# fetched beforehand, untimed), `strata build --release` pulling from the server. Prints ratios.
# Not a test: nothing asserts a time. Usage: scripts/measure-remote.sh [STRATA_BIN]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
strata=$(realpath "${1:-$here/target/release/strata}")
tarball=${STRATA_WORKLOADS:-$here/../shared/workloads}/ripgrep-14.1.1-workspace.tar.gz
work=$(mktemp -d /tmp/strata-measure-remote.XXXXXX)
serve_pid=
cleanup() { [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
extract() { mkdir -p "$1" && tar xzf "$tarball" -C "$1" --strip-components=1 -m; }
now() { date +%s.%N; }
time_cmd() { local t0; t0=$(now); "$@" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }; awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.3f", a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

export STRATA_CONFIG=$work/none.toml XDG_CONFIG_HOME=$work/xdg STRATA_SERVE_TOKEN=measure
"$strata" serve --dir "$work/served" --listen 127.0.0.1:0 >"$work/serve.out" 2>/dev/null &
serve_pid=$!
for _ in $(seq 100); do grep -q listening "$work/serve.out" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.out")
export STRATA_REMOTE=$url STRATA_REMOTE_TOKEN=measure
public=$("$strata" key generate --name measure --out "$work/key" 2>/dev/null)

extract "$work/native"
native=$(cd "$work/native" && time_cmd cargo build --release --locked)
extract "$work/a"
cold=$(cd "$work/a" && STRATA_STORE=$work/store-a STRATA_SIGNING_KEY=$work/key time_cmd "$strata" build --release --locked)
extract "$work/b/elsewhere"
(cd "$work/b/elsewhere" && CARGO_HOME=$work/home-b cargo fetch --locked >/dev/null 2>&1)
pull=$(cd "$work/b/elsewhere" && CARGO_HOME=$work/home-b STRATA_STORE=$work/store-b STRATA_TRUSTED_KEYS=$public time_cmd "$strata" build --release --locked)
compiled=$(grep -cE '^\s+(Compiling|Checking) ' "$work/log" || true)
served=$(du -sb "$work/served" | cut -f1)

printf 'machine: %s cores, %s\n' "$(nproc)" "$(rustc -V)"
printf '%-52s %8.2f s\n' "native clean cargo build --release" "$native"
printf '%-52s %8.2f s  %sx native\n' "A: strata cold, pushing to strata serve" "$cold" "$(ratio "$cold" "$native")"
printf '%-52s %8.2f s  %sx native  (%s units compiled)\n' "B: empty store, other path + CARGO_HOME, pull" "$pull" "$(ratio "$pull" "$native")" "$compiled"
printf '%-52s %8s MiB\n' "on the server" "$((served / 1048576))"
