#!/usr/bin/env bash
# tests/bench/indicators.sh: the quality indicators' benchmark (a benchmark, not a test).
#
# Writes the Stockholm-scale synthetic history (`bevaka-feed synth --cases
# 20000 --years 5 --seed 1`, about 30 000 cases and 1.25 M events), replays it
# into a store as a live daemon would (tests/bench/bench-indicators build; about
# ten minutes), then prints:
#
#   query   indicators_compute on that store, best and worst of --runs: one
#           unit (the largest) over the history's last 12 months, all units,
#           the monthly series of one unit and of all, all units with each
#           unit's figures; against the baseline of the same run, one read of
#           the stored event log (what any replay would at least cost)
#   stall   N events (the tail of the history under new ids) applied in
#           batches of 100 alone, then while the worker thread computes every
#           unit's monthly series over and over, then alone again: each
#           batch's time and a probe (one case's open reminders) between them
#
# docs/performance.md ("Indicators") records results; the targets are in
# docs/indicators.md.
#
#   tests/bench/indicators.sh [--quick] [--runs N] [--events N] [--bin DIR] [--dir DIR] [--keep]
#
#   --quick        2000 cases over 2 years (a minute or two)
#   --bin DIR      a build directory with bevaka-feed and tests/bench/bench-indicators
#                  (default: a Release build of this working tree in /tmp/bevaka-ind-build)
#   --dir DIR      where the history and the store go (default /tmp)
#   --keep         keep them (a kept store is reused by the next run with --dir DIR --keep)
set -euo pipefail

CASES=20000
YEARS=5
RUNS=5
EVENTS=60000
BIN="${BEVAKA_BIN:-}"
DIR=/tmp
KEEP=0

while [ $# -gt 0 ]; do
        case "$1" in
        --quick) CASES=2000; YEARS=2; EVENTS=6000 ;;
        --runs) RUNS="$2"; shift ;;
        --events) EVENTS="$2"; shift ;;
        --bin) BIN="$2"; shift ;;
        --dir) DIR="$2"; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        esac
        shift
done

SRC="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -z "$BIN" ]; then
        BIN=/tmp/bevaka-ind-build
        echo "== building (Release) in $BIN"
        mkdir -p "$BIN"
        if ! { cmake -S "$SRC" -B "$BIN" -DCMAKE_BUILD_TYPE=Release &&
               cmake --build "$BIN" --target bevaka-feed bench-indicators -j 2; } > "$BIN/build.log" 2>&1; then
                cat "$BIN/build.log" >&2
                exit 1
        fi
fi
FEED="$BIN/bevaka-feed"
BENCH="$BIN/tests/bench/bench-indicators"
for x in "$FEED" "$BENCH"; do
        [ -x "$x" ] || { echo "missing $x (build it, or give --bin)" >&2; exit 1; }
done

WORK="$DIR/bevaka-ind-$CASES-$YEARS"
mkdir -p "$WORK"
[ "$KEEP" = 1 ] && echo "keeping $WORK" || trap 'rm -rf "$WORK"' EXIT

echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'),"\
     "$(free -g | awk '/^Mem:/ { print $2 " GB" }'), load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "SQLite $(pkg-config --modversion sqlite3 2>/dev/null || echo ?)"
if [ ! -s "$WORK/store.db" ]; then
        echo "== synth: --cases $CASES --years $YEARS --seed 1"
        "$FEED" synth --cases "$CASES" --years "$YEARS" --seed 1 -o "$WORK/history.jsonl" 2>&1 |
                sed 's/^<[0-9]>bevaka-feed: synth: /  /' | head -3
        echo "== build the store (the daemon's modules, the clock following the events)"
        "$BENCH" build "$WORK/history.jsonl" "$WORK/store.db"
fi
echo "  store: $(du -h "$WORK/store.db" | cut -f1)"
echo "== query (--runs $RUNS)"
"$BENCH" query "$WORK/store.db" --runs "$RUNS" | tee "$WORK/query.out" | grep -v '^RESULT'
echo "== stall ($EVENTS events)"
"$BENCH" stall "$WORK/store.db" "$WORK/history.jsonl" "$EVENTS" | tee "$WORK/stall.out" | grep -v '^RESULT'
echo "== load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
grep -h '^RESULT' "$WORK/query.out" "$WORK/stall.out"
