#!/usr/bin/env bash
# tests/bench/purge.sh: purges under load (a benchmark, not a test).
#
# Runs tests/bench/bevaka-bench.c's ingest of N events (default 10^5) into the
# real bevakad, alternately without and with --purge-cases P: P closed cases
# (opened 2019, three events each) are seeded before the timed load, and an
# admin purges them one at a time through the API (`purge {case}`) at up to
# R per second while the load runs. Prints, for each pair, the load's
# events/s, the daemon's CPU, the stats round trip p99 (the API's latency
# under load) and the purges done, then the ratios with/without over all
# pairs. docs/performance.md ("Purge under load") records results; the
# target (issue 13) is throughput within 10 % and the API's p99 unchanged.
#
#   tests/bench/purge.sh [--events N] [--pairs K] [--purge-cases P] [--purge-rate R]
#                        [--sync full|normal] [--bin DIR]
#
#   --bin DIR      a directory with a built bevakad (default: a Release build of
#                  this working tree in /tmp/bevaka-bench-build)
set -euo pipefail

EVENTS=100000
PAIRS=2
PURGE_CASES=1000
PURGE_RATE=20
SYNC=normal
BIN="${BEVAKA_BIN:-}"

while [ $# -gt 0 ]; do
        case "$1" in
        --events) EVENTS="$2"; shift ;;
        --pairs) PAIRS="$2"; shift ;;
        --purge-cases) PURGE_CASES="$2"; shift ;;
        --purge-rate) PURGE_RATE="$2"; shift ;;
        --sync) SYNC="$2"; shift ;;
        --bin) BIN="$2"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        esac
        shift
done

SRC="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -z "$BIN" ]; then
        BIN=/tmp/bevaka-bench-build
        echo "== building bevakad (Release) from the working tree in $BIN"
        cmake -S "$SRC" -B "$BIN" -DCMAKE_BUILD_TYPE=Release >/dev/null
        cmake --build "$BIN" -j2 --target bevakad >/dev/null
fi
OUT="$(mktemp -d /tmp/bevaka-purge-bench.XXXXXX)"
trap 'rm -rf "$OUT"' EXIT
gcc -O2 -std=gnu11 -pthread -o "$OUT/bevaka-bench" "$SRC/tests/bench/bevaka-bench.c" \
        $(pkg-config --cflags --libs libzmq sqlite3 jansson)

result() { sed -n "s/^RESULT $1 //p" "$2"; }

printf '%-8s %10s %9s %13s %9s %7s\n' run "events/s" "CPU s" "stats p99 ms" purges noise
for p in $(seq 1 "$PAIRS"); do
        for mode in without with; do
                args=()
                [ "$mode" = with ] && args=(--purge-cases "$PURGE_CASES" --purge-rate "$PURGE_RATE")
                log="$OUT/$mode-$p.log"
                timeout 900 "$OUT/bevaka-bench" ingest --bin "$BIN" --sync "$SYNC" --events "$EVENTS" \
                        --lat-seconds 0 "${args[@]}" > "$log" 2>&1 || { cat "$log" >&2; exit 1; }
                cpu="$(sed -n 's/.*daemon CPU \([0-9.]*\) s in.*/\1/p' "$log")"
                printf '%-8s %10.0f %9s %13s %9s %6.0f%%\n' "$mode" "$(result ingest_rate "$log")" "$cpu" \
                        "$(result stats_rtt_p99_ms "$log")" "$(result purges_ok "$log" || true)" \
                        "$(awk "BEGIN{print 100*$(result others_cpu_share "$log")}")"
                echo "$mode $(result ingest_rate "$log") $cpu $(result stats_rtt_p99_ms "$log")" >> "$OUT/all"
        done
done
awk '{ n[$1]++; r[$1] += $2; c[$1] += $3; p[$1] += $4 }
     END { printf "\nwith purges / without (means of %d pairs): events/s %.2f, daemon CPU %.2f, stats p99 %.2f\n",
                  n["with"], r["with"] / r["without"], c["with"] / c["without"], p["with"] / p["without"] }' "$OUT/all"
