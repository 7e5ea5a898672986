#!/usr/bin/env bash
# tests/bench/signal.sh: what reaches people, issue #14's targets (a benchmark, not a test).
#
# Writes the Stockholm-scale synthetic history (`bevaka-feed synth --cases
# 20000 --years 5 --seed 1`) and runs tests/bench/bench-signal on it, which
# uses the daemon's modules in-process twice in the same run: with the
# delivery policy (delivery.quiet = true, the default) and without it
# (delivery.quiet = false: every reminder pops up, as in v1). Each run
# imports the history before a go-live Monday 08:00 (the first Monday one
# year before the last event) into an empty store while catching up, runs
# the daemon's first round, then replays the last year live, day by day with
# the clock. It prints, for both:
#
#   go-live day   notifications per caseworker (median, max; target <= 5) and
#                 messages per leads topic (target: <= 1, the digest)
#   obligations   escalations shown beside the earlier reminder they escalate
#                 (target 0: exactly one open item per obligation)
#   steady year   notifications per caseworker per week, median and p90
#
# A pop-up message is a `due` without "backlog", a `summary` or a `digest`.
# A notification is what bevaka-notify shows with its defaults, by its own
# code (client/notify-group.c): one moment's `due` messages on a topic as one
# card per case, up to 3 cards, else one summary. Both are printed.
#
#   tests/bench/signal.sh [--quick] [--cases N] [--years Y] [--seed S] [--bin DIR] [--dir DIR]
#
#   --quick      2000 cases (about two minutes)
#   --bin DIR    a build directory with bevaka-feed and tests/bench/bench-signal
#                (default: build-test of this working tree, built if needed)
set -euo pipefail

CASES=20000
YEARS=5
SEED=1
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${BEVAKA_BIN:-$SRC/build-test}"
DIR=/tmp

while [ $# -gt 0 ]; do
        case "$1" in
        --quick) CASES=2000 ;;
        --cases) CASES="$2"; shift ;;
        --years) YEARS="$2"; shift ;;
        --seed) SEED="$2"; shift ;;
        --bin) BIN="$2"; shift ;;
        --dir) DIR="$2"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        esac
        shift
done

if [ ! -x "$BIN/tests/bench/bench-signal" ] || [ ! -x "$BIN/bevaka-feed" ]; then
        cmake -S "$SRC" -B "$BIN" -DCMAKE_BUILD_TYPE=Release >/dev/null
        cmake --build "$BIN" -j2 --target bench-signal bevaka-feed >/dev/null
fi
WORK="$(mktemp -d "$DIR/bevaka-signal-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "== synth: --cases $CASES --years $YEARS --seed $SEED"
"$BIN/bevaka-feed" synth --cases "$CASES" --years "$YEARS" --seed "$SEED" -o "$WORK/history.jsonl" >/dev/null 2>&1
echo "  $(wc -l < "$WORK/history.jsonl") events"
echo "== bench-signal (v1 delivery, then the delivery policy, same run)"
"$BIN/tests/bench/bench-signal" -d "$WORK" "$WORK/history.jsonl" | tee "$WORK/out" | grep -v '^RESULT'

r() { awk -v k="$1" '$1 == "RESULT" && $2 == k { print $3 }' "$WORK/out"; }
echo "== targets"
printf '  go-live notifications per caseworker: median %s, max %s (target <= 5; v1 median %s, max %s)\n' \
        "$(r quiet.golive_notes_median)" "$(r quiet.golive_notes_max)" "$(r v1.golive_notes_median)" \
        "$(r v1.golive_notes_max)"
printf '  go-live pop-up messages per caseworker: max %s (v1 median %s, max %s)\n' \
        "$(r quiet.golive_popups_max)" "$(r v1.golive_popups_median)" "$(r v1.golive_popups_max)"
printf '  messages per leads topic on go-live day: max %s (target <= 1; v1 %s)\n' \
        "$(r quiet.leads_msgs_max)" "$(r v1.leads_msgs_max)"
printf '  obligations with two open items: %s (target 0; v1 %s)\n' \
        "$(r quiet.obligations_doubled)" "$(r v1.obligations_doubled)"
printf '  steady notifications per caseworker per week: median %s, p90 %s (v1: median %s, p90 %s)\n' \
        "$(r quiet.week_notes_median)" "$(r quiet.week_notes_p90)" "$(r v1.week_notes_median)" \
        "$(r v1.week_notes_p90)"
printf '  steady pop-up messages per caseworker per week: median %s, p90 %s (v1: median %s, p90 %s)\n' \
        "$(r quiet.week_popups_median)" "$(r quiet.week_popups_p90)" "$(r v1.week_popups_median)" \
        "$(r v1.week_popups_p90)"
