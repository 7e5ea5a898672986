#!/usr/bin/env bash
# tests/bench/import.sh: what a go-live import costs (a benchmark, not a test).
#
# Writes the Stockholm-scale synthetic history (`bevaka-feed synth --cases
# 20000 --years 5 --seed 1`, 1.25 M events), stores it in a feed's event log
# and starts bevakad on an empty store against `bevaka-feed serve`: the daemon
# learns the feed's last_seq from a heartbeat and takes the whole history as
# replays, as on a go-live. The import is done when `stats` counts every
# event applied or dead-lettered. Two builds are measured alternately in the
# same run (the machine is noisy), ROUNDS rounds each (default 2), and for
# each the wall time, the daemon's CPU time and its peak RSS (VmHWM, read
# just before it is stopped, after the import) are printed, then the ratios
# of the medians, new/base.
#
#   tests/bench/import.sh BASE_BIN_DIR NEW_BIN_DIR [--cases N] [--years Y] [--seed S]
#
# Each BIN_DIR holds bevakad, bevaka-feed and bevakactl (a Release build).
set -euo pipefail
base=$(realpath "${1:?BASE_BIN_DIR}"); new=$(realpath "${2:?NEW_BIN_DIR}"); shift 2
cases=20000 years=5 seed=1
while [ $# -gt 0 ]; do
        case "$1" in
        --cases) cases=$2; shift ;;
        --years) years=$2; shift ;;
        --seed) seed=$2; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
work=$(mktemp -d /tmp/bevaka-import-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== synth --cases $cases --years $years --seed $seed"
"$new/bevaka-feed" synth --cases "$cases" --years "$years" --seed "$seed" -o "$work/history.jsonl" >/dev/null 2>&1
n=$(wc -l < "$work/history.jsonl")
# The feed's log, written once: nobody subscribes, so this only stores (and numbers) the events.
"$new/bevaka-feed" publish --endpoint "ipc://$work/f.sock" --replay-endpoint "ipc://$work/r.sock" \
        --db "$work/feed.db" --source paraply-synth --heartbeat-ms 0 --exit-after-publish -q \
        "$work/history.jsonl" > /dev/null 2>&1
echo "  $n events; clock at the first Monday 08:00 after the last one"
start=$(python3 - "$work/history.jsonl" <<'PY'
import datetime, json, sys
last = max(json.loads(l)["at"] for l in open(sys.argv[1]) if l.strip())
d = datetime.datetime.fromisoformat(last).date() + datetime.timedelta(days=1)
while d.weekday() != 0:
    d += datetime.timedelta(days=1)
print(f"{d.isoformat()}T08:00:00+01:00")
PY
)

cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# one_run BIN: prints "wall_ms cpu_ms hwm_kb" of one import
one_run() {
        local bin=$1 d
        d=$(mktemp -d "$work/run-XXXXXX")
        cp "$work/feed.db" "$d/feed.db"
        cat > "$d/bevakad.conf" <<CONF
store: { path = "bevaka.db"; };
feed: { endpoint = "ipc://$d/feed.sock"; replay_endpoint = "ipc://$d/replay.sock"; };
publish: { endpoint = "ipc://$d/pub.sock"; };
api: { endpoint = "ipc://$d/api.sock"; };
clock: { mode = "manual"; start = "$start"; };
security: { curve = false; };
CONF
        (cd "$d" && exec "$bin/bevaka-feed" serve --endpoint "ipc://$d/feed.sock" \
                --replay-endpoint "ipc://$d/replay.sock" --db feed.db -q > feed.log 2>&1) &
        local feed=$! t0 t1 daemon
        t0=$(date +%s%N)
        (cd "$d" && exec "$bin/bevakad" --config bevakad.conf > daemon.log 2>&1) &
        daemon=$!
        local ctl=("$bin/bevakactl" --api "ipc://$d/api.sock" --json --timeout 5000) done=0
        while :; do
                done=$("${ctl[@]}" stats 2>/dev/null | python3 -c 'import json,sys; e=json.load(sys.stdin)["events"]; print(e["applied"] + e["dead_letters"])' 2>/dev/null || echo 0)
                [ "$done" -ge "$n" ] && break
                kill -0 "$daemon" 2>/dev/null || { echo "bevakad died:" >&2; tail "$d/daemon.log" >&2; echo FAIL; return; }
                sleep 0.5   # polling the daemon's progress, not a wait for an outcome
        done
        t1=$(date +%s%N)
        local c h
        c=$(cpu_ms "$daemon"); h=$(hwm_kb "$daemon")
        kill "$feed" "$daemon"; wait "$feed" "$daemon" 2>/dev/null || true
        rm -rf "$d"
        echo "$(( (t1 - t0) / 1000000 )) $c $h"
}

rounds=${ROUNDS:-2}
declare -a bw bc bh nw nc nh
for round in $(seq "$rounds"); do
        read -r w c h <<< "$(one_run "$base")"; [ "$w" != FAIL ] || exit 1; bw+=("$w"); bc+=("$c"); bh+=("$h")
        echo "round $round: base wall ${w} ms, daemon CPU ${c} ms, peak RSS $((h / 1024)) MB"
        read -r w c h <<< "$(one_run "$new")"; [ "$w" != FAIL ] || exit 1; nw+=("$w"); nc+=("$c"); nh+=("$h")
        echo "round $round: new  wall ${w} ms, daemon CPU ${c} ms, peak RSS $((h / 1024)) MB"
done
python3 - "${bw[*]}" "${nw[*]}" "${bc[*]}" "${nc[*]}" "${bh[*]}" "${nh[*]}" <<'PY'
import statistics, sys
a = [list(map(int, x.split())) for x in sys.argv[1:]]
for i, (what, unit, k) in enumerate((("wall", "s", 1000), ("daemon CPU", "s", 1000), ("peak RSS", "MB", 1024))):
    mb, mn = statistics.median(a[2 * i]), statistics.median(a[2 * i + 1])
    print(f"median {what}: base {mb / k:.1f} {unit}, new {mn / k:.1f} {unit}, new/base {mn / mb:.2f}")
    print(f"RESULT import.{what.replace(' ', '_').lower()}.base {mb / k:.1f}\nRESULT import.{what.replace(' ', '_').lower()}.new {mn / k:.1f}")
PY
