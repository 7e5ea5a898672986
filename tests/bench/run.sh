#!/usr/bin/env bash
# tests/bench/run.sh: the ingest benchmark (a benchmark, not a test).
#
# Publishes N synthetic protocol-§1 events over tcp loopback to the real
# bevakad, with store.synchronous = "full" and then "normal", and prints
# throughput, publish-to-commit latency at a paced rate, the daemon's peak
# RSS and the store's bytes per event, next to this machine's raw limits
# measured in the same run (ZeroMQ alone, SQLite alone). docs/performance.md
# explains the method and records results.
#
#   tests/bench/run.sh [--quick] [--events N] [--lat-seconds S] [--lat-rate R]
#                      [--sync full|normal|both] [--bin DIR | --rev REV] [--dir DIR] [--keep] [--strict]
#
#   --quick        100 000 events and 10 s of paced latency (about a minute)
#   --events N     events per run (default 1 000 000)
#   --bin DIR      directory with a built bevakad (default: $BEVAKA_BIN, else a
#                  Release build of this working tree in /tmp/bevaka-bench-build)
#   --rev REV      build bevakad (Release) from git revision REV instead of the
#                  working tree, so uncommitted work in progress is not measured
#   --dir DIR      where the temporary stores go (default /tmp)
#   --keep         keep the daemons' directories (store, config, log)
#   --strict       exit 1 when a target is missed (default: exit 0 once measured)
#   --wait-quiet S wait up to S seconds for the rest of the machine to be mostly
#                  idle (< 15% CPU over 5 s) before starting; other work on a
#                  2-CPU machine distorts every figure (the "noise" column)
#
# Environment: BENCH_PERF=DIR records a perf profile of each daemon run into
# DIR (BENCH_PERF_PHASE=latency profiles the paced phase instead of the load;
# BENCH_PERF_ARGS sets the perf sampling options).
set -euo pipefail

EVENTS=1000000
LAT_SECONDS=15
LAT_RATE=1000
SYNCS="full normal"
BIN="${BEVAKA_BIN:-}"
DIR=/tmp
KEEP=()
STRICT=0
REV=
WAIT_QUIET=0

while [ $# -gt 0 ]; do
        case "$1" in
        --quick) EVENTS=100000; LAT_SECONDS=10 ;;
        --events) EVENTS="$2"; shift ;;
        --lat-seconds) LAT_SECONDS="$2"; shift ;;
        --lat-rate) LAT_RATE="$2"; shift ;;
        --sync) case "$2" in both) SYNCS="full normal" ;; full|normal) SYNCS="$2" ;;
                *) echo "--sync full|normal|both" >&2; exit 2 ;; esac; shift ;;
        --bin) BIN="$2"; shift ;;
        --rev) REV="$2"; shift ;;
        --dir) DIR="$2"; shift ;;
        --keep) KEEP=(--keep) ;;
        --strict) STRICT=1 ;;
        --wait-quiet) WAIT_QUIET="$2"; shift ;;
        -h|--help) sed -n '2,/^set -e/{/^#/p}' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        esac
        shift
done

SRC="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -n "$REV" ]; then
        COMMIT="$(git -C "$SRC" rev-parse --short "$REV^{commit}")"
        BIN="/tmp/bevaka-bench-build-$COMMIT"
        echo "building bevakad (Release) from $REV ($COMMIT) in $BIN ..."
        rm -rf "$BIN.src"; mkdir -p "$BIN.src"
        git -C "$SRC" archive "$COMMIT" | tar -x -C "$BIN.src"
        cmake -S "$BIN.src" -B "$BIN" -DCMAKE_BUILD_TYPE=Release >/dev/null
        cmake --build "$BIN" -j2 --target bevakad >/dev/null
        BUILT="git $COMMIT"
elif [ -z "$BIN" ]; then
        BIN=/tmp/bevaka-bench-build
        echo "building bevakad (Release) from the working tree in $BIN ..."
        cmake -S "$SRC" -B "$BIN" -DCMAKE_BUILD_TYPE=Release >/dev/null
        cmake --build "$BIN" -j2 --target bevakad >/dev/null
        BUILT="working tree at git $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"
        git -C "$SRC" diff --quiet HEAD -- daemon 2>/dev/null || BUILT="$BUILT, daemon/ modified"
else
        BUILT="given build"
fi
[ -x "$BIN/bevakad" ] || { echo "no bevakad in $BIN (build it, or pass --bin)" >&2; exit 1; }

# The bench program is built here, by itself (tests/bench/CMakeLists.txt builds the same).
BENCH_OUT="$(mktemp -d /tmp/bevaka-bench-bin.XXXXXX)"
trap 'rm -rf "$BENCH_OUT"' EXIT
gcc -O2 -std=gnu11 -pthread -o "$BENCH_OUT/bevaka-bench" "$SRC/tests/bench/bevaka-bench.c" \
        $(pkg-config --cflags --libs libzmq sqlite3 jansson)
B="$BENCH_OUT/bevaka-bench"

# Each step is bounded: the program's own deadline plus a margin for timeout(1).
STEP_LIMIT=$(( 300 + EVENTS / 1000 ))
declare -A R
run_step() {   # run_step PREFIX CMD...: shows the output, keeps "RESULT k v" as R[PREFIX.k]
        local prefix="$1" out rc=0; shift
        out="$(timeout --signal=TERM --kill-after=10 "$STEP_LIMIT" "$@" 2>&1)" || rc=$?
        printf '%s\n' "$out" | grep -v '^RESULT ' | sed 's/^/  /'
        if [ $rc -ne 0 ]; then
                echo "  step failed (exit $rc): $*" >&2
                exit 1
        fi
        while read -r _ k v; do R["$prefix.$k"]="$v"; done < <(printf '%s\n' "$out" | grep '^RESULT ')
}
fmt() { LC_ALL=C awk -v x="$1" 'BEGIN { s = sprintf("%.0f", x); o = ""; n = length(s);
        for (i = 1; i <= n; i++) { o = o substr(s, i, 1); if ((n - i) % 3 == 0 && i < n) o = o "," } print o }'; }
calc() { LC_ALL=C awk "BEGIN { print $1 }"; }

# Share of all CPUs busy over $1 seconds (from /proc/stat), in percent.
busy_pct() {
        local a b
        a=($(head -1 /proc/stat)); sleep "$1"; b=($(head -1 /proc/stat))
        LC_ALL=C awk -v u=$((b[1]+b[2]+b[3]+b[6]+b[7]+b[8] - a[1]-a[2]-a[3]-a[6]-a[7]-a[8])) \
                -v i=$((b[4]+b[5] - a[4]-a[5])) 'BEGIN { printf "%.0f", (u + i) ? 100 * u / (u + i) : 0 }'
}
BUSY=$(busy_pct 5)
if [ "$WAIT_QUIET" -gt 0 ]; then
        end=$((SECONDS + WAIT_QUIET))
        while [ "$BUSY" -ge 15 ] && [ $SECONDS -lt $end ]; do
                echo "machine ${BUSY}% busy with other work; waiting for quiet ..."
                BUSY=$(busy_pct 5)
        done
fi

echo "== bevaka ingest benchmark =="
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine:  $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))," \
     "$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
echo "load:     ${BUSY}% of the CPUs busy with other work just before the start"
echo "store fs: $(df -T "$DIR" | awk 'NR == 2 { print $2 " on " $1 }') ($DIR)"
echo "versions: libzmq $(pkg-config --modversion libzmq), SQLite $(pkg-config --modversion sqlite3); bevakad $BIN/bevakad ($BUILT)"
echo "workload: $EVENTS events ($("$B" gen --events "$EVENTS" --mix | head -1)); latency at $LAT_RATE events/s for $LAT_SECONDS s"
echo

echo "-- raw limit: ZeroMQ alone (XPUB -> SUB, tcp loopback, same messages), run 1 of 2"
run_step zmq1 "$B" zmq --events "$EVENTS"
for sync in $SYNCS; do
        echo "-- raw limit: SQLite alone (events table, synchronous=$sync, 1000 rows per transaction)"
        run_step "sq.$sync" "$B" sqlite --events "$EVENTS" --sync "$sync" --dir "$DIR"
        echo "-- bevakad, synchronous=$sync"
        PERF=()
        if [ -n "${BENCH_PERF:-}" ]; then mkdir -p "$BENCH_PERF"; PERF=(--perf "$BENCH_PERF/perf-$sync.data"); fi
        run_step "d.$sync" "$B" ingest --bin "$BIN" --sync "$sync" --events "$EVENTS" --dir "$DIR" \
                --lat-rate "$LAT_RATE" --lat-seconds "$LAT_SECONDS" "${KEEP[@]}" "${PERF[@]}"
done
echo "-- raw limit: ZeroMQ alone, run 2 of 2"
run_step zmq2 "$B" zmq --events "$EVENTS"

# The better of the two ZeroMQ runs is the transport's limit (the lower limit makes the daemon look better).
ZMQ=$(calc "(${R[zmq1.zmq_rate]} > ${R[zmq2.zmq_rate]}) ? ${R[zmq1.zmq_rate]} : ${R[zmq2.zmq_rate]}")
echo
echo "== summary ($EVENTS events; the daemon's figures include the rules engine and all its tables) =="
printf '%-7s %12s %11s %12s %7s %7s %8s %8s %7s %8s %6s\n' sync "daemon ev/s" "zmq msg/s" "sqlite row/s" ratio \
        "p50 ms" "p99 ms" "max ms" "RSS MB" "B/event" noise
MISSED=0
VERDICTS=()
for sync in $SYNCS; do
        d=${R[d.$sync.ingest_rate]}; s=${R[sq.$sync.sqlite_rate]}
        slow=$(calc "($s < $ZMQ) ? $s : $ZMQ"); which=$(calc "($s < $ZMQ) ? \"SQLite\" : \"ZeroMQ\"")
        ratio=$(calc "$d / $slow")
        printf '%-7s %12s %11s %12s %6.1f%% %7.2f %8.2f %8.2f %7.1f %8s %5.0f%%\n' "$sync" "$(fmt "$d")" "$(fmt "$ZMQ")" \
                "$(fmt "$s")" "$(calc "100 * $ratio")" "${R[d.$sync.lat_p50_ms]:--1}" "${R[d.$sync.lat_p99_ms]:--1}" \
                "${R[d.$sync.lat_max_ms]:--1}" "$(calc "${R[d.$sync.peak_rss_kb]} / 1024")" "${R[d.$sync.db_bytes_per_event]}" \
                "$(calc "100 * ${R[d.$sync.others_cpu_share]}")"
        if [ "$(calc "($ratio >= 0.5) ? 1 : 0")" = 1 ]; then v=PASS; else v=FAIL; MISSED=1; fi
        VERDICTS+=("VERDICT throughput, synchronous=$sync: $v: bevakad $(fmt "$d") events/s = $(calc "100 * $ratio" | xargs printf '%.1f')% of the slower raw limit ($which, $(fmt "$slow")/s); target >= 50%")
        if [ -n "${R[d.$sync.lat_p99_ms]:-}" ]; then
                p99=${R[d.$sync.lat_p99_ms]}
                if [ "$(calc "($p99 < 10 && ${R[d.$sync.lat_missing]} == 0) ? 1 : 0")" = 1 ]; then v=PASS; else v=FAIL; MISSED=1; fi
                VERDICTS+=("VERDICT latency, synchronous=$sync: $v: p99 publish-to-commit $p99 ms at $LAT_RATE events/s; target < 10 ms")
        fi
done
echo "(noise: share of the machine's CPU used by other processes during the daemon's load phase)"
echo
printf '%s\n' "${VERDICTS[@]}"
if [ $STRICT = 1 ] && [ $MISSED = 1 ]; then exit 1; fi
exit 0
