#!/usr/bin/env bash
# tests/bench/rules.sh: the rules engine's benchmark (a benchmark, not a test).
#
# Writes a Stockholm-scale synthetic history with `bevaka-feed synth` (20 000
# cases started over 5 years, plus the back history of the cases already open
# at the start, see docs/synth.md) and runs tests/bench/bench-rules on it:
#
#   replay   the same events through the daemon's own modules in-process:
#            parse only, core ingest (event_parse + store_event_add) and the
#            rules (engine_apply_event), in the daemon's transactions; time,
#            events/s, the rules' cost as a ratio, reminders created per rule,
#            peak RSS of each phase, and the wake + delivery pass that follows
#   next     the scheduler's queries among M scheduled reminders (default
#            1 000 000): store_rem_next_delivery() and store_rem_due(now, 1000)
#            against full scans, and their query plans
#
# docs/performance.md ("Rules engine") explains the method and records results.
#
#   tests/bench/rules.sh [--quick] [--cases N] [--years Y] [--seed S] [--reminders M]
#                        [--sync full|normal] [--bin DIR] [--dir DIR] [--keep]
#
#   --quick        2000 cases and 100 000 reminders (about a minute)
#   --sync         the store's synchronous mode for the replay (default full, as packaged)
#   --bin DIR      a build directory with bevaka-feed and tests/bench/bench-rules
#                  (default: a Release build of this working tree in /tmp/bevaka-rules-build)
#   --dir DIR      where the history and the temporary stores go (default /tmp)
#   --keep         keep them
#
# The build uses CMake (tests/bench/CMakeLists.txt has the bench-rules target).
# Without CMake, from the source directory, the equivalent is:
#   gcc -O2 -std=gnu11 -DBEVAKA_VERSION='"bench"' -Idaemon -Iinclude \
#       $(ls daemon/*.c client/lib/*.c | grep -v daemon/main.c) tests/bench/bench-rules.c \
#       $(pkg-config --cflags --libs libzmq sqlite3 libconfig libsystemd jansson) -lm -o bench-rules
#   gcc -O2 -std=gnu11 -DBEVAKA_VERSION='"bench"' -Idaemon -Iinclude \
#       $(ls daemon/*.c client/lib/*.c | grep -v daemon/main.c) client/bevaka-feed.c client/feed-*.c \
#       $(pkg-config --cflags --libs libzmq sqlite3 libconfig libsystemd jansson) -lm -o bevaka-feed
set -euo pipefail

CASES=20000
YEARS=5
SEED=1
REMINDERS=1000000
SYNC=full
BIN="${BEVAKA_BIN:-}"
DIR=/tmp
KEEP=0

while [ $# -gt 0 ]; do
        case "$1" in
        --quick) CASES=2000; REMINDERS=100000 ;;
        --cases) CASES="$2"; shift ;;
        --years) YEARS="$2"; shift ;;
        --seed) SEED="$2"; shift ;;
        --reminders) REMINDERS="$2"; shift ;;
        --sync) case "$2" in full|normal) SYNC="$2" ;; *) echo "--sync full|normal" >&2; exit 2 ;; esac; shift ;;
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
        BIN=/tmp/bevaka-rules-build
        echo "== building (Release) in $BIN"
        mkdir -p "$BIN"
        if ! { cmake -S "$SRC" -B "$BIN" -DCMAKE_BUILD_TYPE=Release &&
               cmake --build "$BIN" --target bevaka-feed bench-rules -j "$(nproc)"; } > "$BIN/build.log" 2>&1; then
                cat "$BIN/build.log" >&2
                exit 1
        fi
fi
FEED="$BIN/bevaka-feed"
BENCH="$BIN/tests/bench/bench-rules"
for x in "$FEED" "$BENCH"; do
        [ -x "$x" ] || { echo "missing $x (build it, or give --bin)" >&2; exit 1; }
done

WORK="$(mktemp -d "$DIR/bevaka-rules-XXXXXX")"
if [ "$KEEP" = 1 ]; then
        echo "keeping $WORK"
else
        trap 'rm -rf "$WORK"' EXIT
fi
KEEP_ARG=()
[ "$KEEP" = 1 ] && KEEP_ARG=(--keep)

echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'),"\
     "$(free -g | awk '/^Mem:/ { print $2 " GB" }'), load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "SQLite $(pkg-config --modversion sqlite3 2>/dev/null || echo ?)"
echo "== synth: --cases $CASES --years $YEARS --seed $SEED"
START=$(date +%s.%N)
"$FEED" synth --cases "$CASES" --years "$YEARS" --seed "$SEED" -o "$WORK/history.jsonl" 2>&1 |
        sed 's/^<[0-9]>bevaka-feed: synth: /  /'
END=$(date +%s.%N)
printf '  written in %.1f s: %s\n' "$(echo "$END - $START" | bc)" "$(du -h "$WORK/history.jsonl" | cut -f1)"

echo "== replay"
"$BENCH" replay "$WORK/history.jsonl" --dir "$WORK" --sync "$SYNC" "${KEEP_ARG[@]}" | tee "$WORK/replay.out" |
        grep -v '^RESULT'
echo "== next delivery"
"$BENCH" next --reminders "$REMINDERS" --store-src "$SRC/daemon/store.c" --dir "$WORK" "${KEEP_ARG[@]}" |
        tee "$WORK/next.out" | grep -v '^RESULT'
echo "== load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
grep -h '^RESULT' "$WORK/replay.out" "$WORK/next.out" > "$WORK/results.txt"
[ "$KEEP" = 1 ] && echo "results in $WORK/results.txt"
exit 0
