#!/usr/bin/env bash
# The bevaka demo: installs what is missing, builds, starts bevakad on its
# embedded default configuration (SQLite file, ipc:// endpoints, manual
# clock at 2026-01-05 07:00) in a fresh directory, feeds it the reference
# feed's sample history, moves the clock through a few weeks and shows the
# reminders arriving in terminal clients: two caseworkers and their unit
# lead. Then it shuts everything down cleanly.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bash "$src/scripts/deps.sh"
cmake -S "$src" -B "$src/build-demo" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$src/build-demo" -j "$(nproc)" >/dev/null
bin="$src/build-demo"

run=$(mktemp -d /tmp/bevaka-demo.XXXXXX)
cd "$run"
pids=()
notify=()
cleanup() {
        for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ctl() { "$bin/bevakactl" "$@"; }

# Polls a stats counter until it reaches a value (never a blind sleep).
wait_stat() {
        local key=$1 want=$2 tries=0
        while :; do
                v=$(ctl --json stats 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print(d$key)" 2>/dev/null || echo -1)
                [ "$v" -ge "$want" ] && return 0
                tries=$((tries + 1))
                [ $tries -lt 3000 ] || { echo "timed out waiting for $key >= $want" >&2; return 1; }
                sleep 0.02
        done
}

say "bevakad starts on its embedded default configuration in $run"
"$bin/bevakad" 2> bevakad.log &
pids+=($!)
until ctl hello >/dev/null 2>&1; do sleep 0.05; done
ctl hello

say "Terminal clients follow their topics (caseworkers hk1234, hk5678 and the unit's leads)"
for topic in rem/HV-EB-1/hk1234/ rem/HV-EB-1/hk5678/ rem/HV-EB-1/@leads/; do
        name=$(echo "$topic" | cut -d/ -f3)
        "$bin/bevaka-notify" --terminal --topic "$topic" --state-dir "$run/state" 2>>notify.log \
                > >(sed -u "s/^/  [$name] /") &
        pids+=($!)
        notify+=($!)
done

say "The reference feed publishes Paraply's sample history (5 cases, 42 events)"
"$bin/bevaka-feed" publish -q --wait-subscribers 1 "$src/client/sample/paraply-demo.jsonl" 2> feed.log &
feed=$!
pids+=($feed)
wait_stat "['events']['applied']" 42
ctl stats | head -5

say "Monday 5 January 2026, 08:00: the office opens; everything due while nobody looked is delivered once"
ctl clock --set 2026-01-05T08:00:00+01:00 >/dev/null
wait_stat "['reminders']['delivered']" 6   # of 7 due, one is superseded by its escalation (issue 14)
sleep 0.3   # let the terminal clients print (display only)

say "Thursday 8 January: first visit done (IB3), child-impact analysis documented, FIA started"
kill -TERM "$feed"; wait "$feed" || true     # the adapter restarts; its log keeps the sequence
"$bin/bevaka-feed" publish -q --wait-subscribers 1 "$src/client/sample/paraply-demo-later.jsonl" 2>> feed.log &
feed2=$!
pids+=($feed2)
wait_stat "['events']['applied']" 45
ctl clock --set 2026-01-08T12:00:00+01:00 >/dev/null
sleep 0.3

say "Tuesday 20 January, 09:00: SIP meeting and plan follow-up come due"
ctl clock --set 2026-01-20T09:00:00+01:00 >/dev/null
sleep 0.3

say "Monday 23 February, 09:00: the change plan is now more than four months old"
ctl clock --set 2026-02-23T09:00:00+01:00 >/dev/null
sleep 0.3

say "A unit lead's view: open reminders of HV-EB-1"
ctl reminders --unit HV-EB-1
id=$(ctl --json reminders --rule IB4-OVERDUE | python3 -c "import json,sys; print(json.load(sys.stdin)['reminders'][0]['id'])")
say "Why was $id raised?"
ctl why "$id"

say "Scale: a synthetic district (bevaka-feed synth: 80 cases started in 2025 plus the earlier ones still open, calibrated on the inspectorate's findings)"
for p in "${notify[@]}"; do kill -TERM "$p" 2>/dev/null || true; done   # the story's clients are done
kill -TERM "$feed2" 2>/dev/null || true; wait "$feed2" 2>/dev/null || true
"$bin/bevaka-feed" synth --cases 80 --years 1 --seed 7 --start 2025-01 -o synth.jsonl 2> synth.log
tail -n +1 synth.log | sed 's/^/  /'
before=$(ctl --json stats | python3 -c "import json,sys; print(json.load(sys.stdin)['events']['applied'])")
lines=$(wc -l < synth.jsonl)
"$bin/bevaka-feed" publish -q --wait-subscribers 1 --source paraply-synth synth.jsonl 2>> feed.log &
pids+=($!)
wait_stat "['events']['applied']" $((before + lines))
ctl clock --set 2026-03-02T09:00:00+01:00 >/dev/null
echo "  Open reminders by rule after replaying $lines events (a lead's or operator's view):"
ctl --json reminders --state open --limit 100000 | python3 -c "
import json, sys, collections
c = collections.Counter(r['rule'] for r in json.load(sys.stdin)['reminders'])
for rule, n in c.most_common(): print('    %-17s %5d' % (rule, n))"

say "Shutting down"
cleanup
trap - EXIT
echo "Demo files (store, logs) are in $run"
