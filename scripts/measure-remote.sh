#!/usr/bin/env bash
# Side-by-side timing of the remote cache, in one run on one machine, release profile:
# native clean `cargo build --release --locked`; machine A: cold `strata build --release` that pushes
# to the remote; machine B: empty store, another path and another CARGO_HOME (its crates fetched
# beforehand, untimed), `strata build --release` pulling. With BACKEND=s3 the remote is a one-node
# Garage on loopback, and sccache runs against the same bucket (another prefix): machine A, a clean
# `RUSTC_WRAPPER=sccache` build that writes; machine B, another path, CARGO_HOME and SCCACHE_DIR,
# a clean build that reads; and, as a control, the same read at A's own path and CARGO_HOME.
# Prints each time and its ratio to native.
# Not a test: nothing asserts a time.
#
# Usage: [BACKEND=serve|s3] [WORKLOAD=ripgrep|xh] [SCCACHE=0] scripts/measure-remote.sh [STRATA_BIN]
#   BACKEND=serve (default): `strata serve --dir`; no sccache (it has no client for it).
#   BACKEND=s3: Garage (`garage` on PATH or in ~/.cargo/bin) + sccache (`sccache`, S3 feature).
#   WORKLOAD=ripgrep (default): the ripgrep 14.1.1 workspace tarball in $STRATA_WORKLOADS.
#   WORKLOAD=xh: xh 0.23.0 from crates.io (its crate tarball carries a Cargo.lock).
set -euo pipefail
shopt -s inherit_errexit
here=$(cd "$(dirname "$0")/.." && pwd)
strata=$(realpath "${1:-$here/target/release/strata}")
backend=${BACKEND:-serve}
workload=${WORKLOAD:-ripgrep}
with_sccache=${SCCACHE:-1}
[ "$backend" = s3 ] || with_sccache=0
export PATH=$PATH:$HOME/.cargo/bin
work=$(mktemp -d /tmp/strata-measure-remote.XXXXXX)
serve_pid= garage_pid= sccache_port=
cleanup() {
    [ -n "$sccache_port" ] && SCCACHE_SERVER_PORT=$sccache_port sccache --stop-server >/dev/null 2>&1
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
    [ -n "$garage_pid" ] && kill "$garage_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

case $workload in
ripgrep) tarball=${STRATA_WORKLOADS:-$here/../shared/workloads}/ripgrep-14.1.1-workspace.tar.gz ;;
xh)
    tarball=$work/xh-0.23.0.crate
    curl -sSfL https://static.crates.io/crates/xh/xh-0.23.0.crate -o "$tarball"
    ;;
*) echo "WORKLOAD must be ripgrep or xh" >&2; exit 2 ;;
esac
extract() { mkdir -p "$1" && tar xzf "$tarball" -C "$1" --strip-components=1 -m; }
now() { date +%s.%N; }
time_cmd() { local t0; t0=$(now); "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }; awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.3f", a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
compiled() { grep -cE '^\s+(Compiling|Checking) ' "$work/log" || true; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "nothing listens on $1" >&2; exit 1; }
load() { uptime | sed 's/.*load average: //'; }

export STRATA_CONFIG=$work/none.toml XDG_CONFIG_HOME=$work/xdg
load_start=$(load)
case $backend in
serve)
    export STRATA_SERVE_TOKEN=measure
    "$strata" serve --dir "$work/served" --listen 127.0.0.1:0 >"$work/serve.out" 2>/dev/null &
    serve_pid=$!
    for _ in $(seq 100); do grep -q listening "$work/serve.out" && break; sleep 0.1; done
    url=$(grep -o 'http://[0-9.:]*' "$work/serve.out")
    export STRATA_REMOTE=$url STRATA_REMOTE_TOKEN=measure
    remote_name="strata serve"
    ;;
s3)
    # A one-node Garage on loopback, as in crates/strata-cli/tests/remote.rs (start_garage).
    g=$work/garage conf=$work/garage/garage.toml
    mkdir -p "$g"
    s3_port=$(free_port) rpc_port=$(free_port)
    cat >"$conf" <<EOF
metadata_dir = "$g/meta"
data_dir = "$g/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(openssl rand -hex 32)"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3_port"
EOF
    garage -c "$conf" server >/dev/null 2>"$g/server.log" &
    garage_pid=$!
    wait_port "$s3_port"
    wait_port "$rpc_port"
    gar() { garage -c "$conf" "$@" 2>>"$g/cli.log"; }
    node=$(gar node id -q | cut -d@ -f1)
    gar layout assign -z dc1 -c 1G "$node" >/dev/null
    gar layout apply --version 1 >/dev/null
    gar bucket create bench >/dev/null
    key=$(gar key create bench-key)
    gar bucket allow --read --write --owner bench --key bench-key >/dev/null
    AWS_ACCESS_KEY_ID=$(sed -n 's/^Key ID: *//p' <<<"$key")
    AWS_SECRET_ACCESS_KEY=$(sed -n 's/^Secret key: *//p' <<<"$key")
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    endpoint=http://127.0.0.1:$s3_port
    export STRATA_REMOTE="s3://bench/strata?endpoint=$endpoint&region=garage"
    remote_name="Garage S3"
    ;;
*) echo "BACKEND must be serve or s3" >&2; exit 2 ;;
esac
public=$("$strata" key generate --name measure --out "$work/key" 2>/dev/null)
garage_bytes() { du -sb "$work/garage/data" | cut -f1; }

# Crates in the default CARGO_HOME are fetched beforehand (untimed) for native and both machines A.
extract "$work/native"
(cd "$work/native" && cargo fetch --locked >/dev/null 2>&1)
native=$(cd "$work/native" && time_cmd cargo build --release --locked)
rm -rf "$work/native"

extract "$work/a"
cold=$(cd "$work/a" && STRATA_STORE=$work/store-a STRATA_SIGNING_KEY=$work/key time_cmd "$strata" build --release --locked)
rm -rf "$work/a" "$work/store-a"
[ "$backend" = s3 ] && strata_bytes=$(garage_bytes)

extract "$work/b/elsewhere"
(cd "$work/b/elsewhere" && CARGO_HOME=$work/home-b cargo fetch --locked >/dev/null 2>&1)
pull=$(cd "$work/b/elsewhere" && CARGO_HOME=$work/home-b STRATA_STORE=$work/store-b STRATA_TRUSTED_KEYS=$public time_cmd "$strata" build --release --locked)
pulled_units=$(compiled)
rm -rf "$work/b" "$work/store-b"

if [ "$with_sccache" = 1 ]; then
    sccache_port=$(free_port)
    # sccache reads its configuration when its server starts: a fresh server per machine. Each
    # machine gives its checkout and CARGO_HOME as SCCACHE_BASEDIRS, sccache's way to share a cache
    # across paths.
    sc_build() { # sc_build DIR SCCACHE_DIR CARGO_HOME: clean build through a fresh sccache server
        (
            export SCCACHE_SERVER_PORT=$sccache_port SCCACHE_IDLE_TIMEOUT=0 SCCACHE_DIR=$2 \
                SCCACHE_BUCKET=bench SCCACHE_ENDPOINT=$endpoint SCCACHE_REGION=garage \
                SCCACHE_S3_KEY_PREFIX=sccache SCCACHE_S3_USE_SSL=false \
                SCCACHE_BASEDIRS=$1:$3 CARGO_HOME=$3
            sccache --start-server >"$work/sccache-start" 2>&1 || { cat "$work/sccache-start" >&2; exit 1; }
            t=$(cd "$1" && RUSTC_WRAPPER=sccache time_cmd cargo build --release --locked)
            sccache --show-stats >"$work/stats" 2>&1
            sccache --stop-server >/dev/null 2>&1
            echo "$t"
        )
    }
    sc_stat() { awk -v k="$1" 'index($0, k) == 1 { sub(/^.*  +/, ""); print; exit }' "$work/stats"; }
    sc_reads() { # hits, misses, non-cacheable calls and hit rate of the last sc_build, by language
        printf '%s hits, %s misses, %s non-cacheable; hit rate %s; %s' "$(sc_stat "Cache hits  ")" \
            "$(sc_stat "Cache misses  ")" "$(sc_stat "Non-cacheable calls")" "$(sc_stat "Cache hits rate  ")" \
            "$(awk '/^Cache (hits|misses) \(/ { l = $0; sub(/^[^(]*\(/, "", l); sub(/\).*/, "", l)
                   o[$2] = o[$2] (o[$2] == "" ? "" : ", ") l " " $NF }
                 END { printf "hits: %s; misses: %s", o["hits"] == "" ? "none" : o["hits"], o["misses"] == "" ? "none" : o["misses"] }' "$work/stats")"
    }
    home_a=${CARGO_HOME:-$HOME/.cargo}

    extract "$work/sa"
    (cd "$work/sa" && cargo fetch --locked >/dev/null 2>&1)
    sc_a=$(sc_build "$work/sa" "$work/sccache-a" "$home_a")
    sc_a_info="$(sc_stat "Compilations  ") compilations, $(sc_stat "Cache write errors") write errors; $(sc_stat "Cache location"); base dirs $(sc_stat "Base directories")"
    rm -rf "$work/sa" "$work/sccache-a"
    sccache_bytes=$(($(garage_bytes) - strata_bytes))

    extract "$work/sb/elsewhere"
    (cd "$work/sb/elsewhere" && CARGO_HOME=$work/home-sb cargo fetch --locked >/dev/null 2>&1)
    sc_b=$(sc_build "$work/sb/elsewhere" "$work/sccache-b" "$work/home-sb")
    sc_b_info=$(sc_reads)
    rm -rf "$work/sb" "$work/sccache-b"

    # Control: B at A's own path and CARGO_HOME (a fresh checkout, a fresh SCCACHE_DIR).
    extract "$work/sa"
    sc_c=$(sc_build "$work/sa" "$work/sccache-c" "$home_a")
    sc_c_info=$(sc_reads)
    sccache_port=
    rm -rf "$work/sa" "$work/sccache-c"
fi

printf 'workload: %s; backend: %s; %s cores; %s%s\n' "$workload" "$remote_name" "$(nproc)" "$(rustc -V)" \
    "$( [ "$with_sccache" = 0 ] || echo "; $(sccache --version)")"
printf 'load average (1, 5, 15 min): %s at start, %s at end\n' "$load_start" "$(load)"
printf '%-56s %8.2f s\n' "native clean cargo build --release" "$native"
printf '%-56s %8.2f s  %sx native\n' "strata A: cold, pushing to $remote_name" "$cold" "$(ratio "$cold" "$native")"
printf '%-56s %8.2f s  %sx native  (%s units compiled)\n' "strata B: empty store, other path + CARGO_HOME, pull" "$pull" "$(ratio "$pull" "$native")" "$pulled_units"
if [ "$with_sccache" = 1 ]; then
    printf '%-56s %8.2f s  %sx native  (%s)\n' "sccache A: clean build, writing to $remote_name" "$sc_a" "$(ratio "$sc_a" "$native")" "$sc_a_info"
    printf '%-56s %8.2f s  %sx native  (%s)\n' "sccache B: other path + CARGO_HOME + SCCACHE_DIR, read" "$sc_b" "$(ratio "$sc_b" "$native")" "$sc_b_info"
    printf '%-56s %8.2f s  %sx native  (%s)\n' "sccache control: B at A's path + CARGO_HOME, read" "$sc_c" "$(ratio "$sc_c" "$native")" "$sc_c_info"
fi
case $backend in
serve) printf '%-56s %8s MiB\n' "on the server" "$(($(du -sb "$work/served" | cut -f1) / 1048576))" ;;
s3)
    printf '%-56s %8s MiB\n' "Garage data dir after strata A (Garage compresses)" "$((strata_bytes / 1048576))"
    [ "$with_sccache" = 1 ] && printf '%-56s %8s MiB\n' "Garage data dir added by sccache A" "$((sccache_bytes / 1048576))"
    ;;
esac
true
