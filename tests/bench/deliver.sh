#!/usr/bin/env bash
# tests/bench/deliver.sh: what one delivery of N reminders costs (a benchmark,
# not a test): N cases each get an IB3-DUE, then one `clock` move makes all of
# them due; the `clock` reply comes once the delivery is committed and every
# message handed to the bus, so its round trip is the delivery's time. Two
# builds of bevakad are measured alternately in the same run (the machine is
# noisy), three rounds each (ROUNDS=N for more), and the ratio of their medians
# is printed, of the wall time and of the daemon's CPU time: say,
# the published-up-to mark (daemon/outbox.c) against the revision before it.
#
#   tests/bench/deliver.sh BASE_BIN_DIR NEW_BIN_DIR [N]     (default N 12000)
#
# Each BIN_DIR holds bevakad, bevaka-feed and bevakactl.
set -euo pipefail
base=${1:?BASE_BIN_DIR}; new=${2:?NEW_BIN_DIR}; n=${3:-12000}
work=$(mktemp -d /tmp/bevaka-deliver-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

python3 - "$n" > "$work/stream.jsonl" <<'PY'
import sys
for c in range(int(sys.argv[1])):
    print('{"v":1,"id":"o-%d","type":"case.opened","at":"2025-03-03T09:30:00+01:00","case":"EB-%06d","unit":"U%d",'
          '"data":{"caseworker":"hk%d","household":{"adults":1,"single_parent":false,"children":[]},'
          '"barrier":"unemployment"}}' % (c, c, c % 5, c % 40))
    print('{"v":1,"id":"i-%d","type":"ib1.completed","at":"2025-03-03T10:00:00+01:00","case":"EB-%06d","unit":"U%d",'
          '"data":{}}' % (c, c, c % 5))
PY

# one_run BIN: prints the milliseconds of the delivering `clock` request
one_run() {
        local bin=$1 d
        d=$(mktemp -d "$work/run-XXXXXX")
        cat > "$d/bevakad.conf" <<CONF
store: { path = "bevaka.db"; synchronous = "full"; };
feed: { endpoint = "ipc://$d/feed.sock"; replay_endpoint = "ipc://$d/replay.sock"; };
publish: { endpoint = "ipc://$d/pub.sock"; };
api: { endpoint = "ipc://$d/api.sock"; };
clock: { mode = "manual"; start = "2025-03-03T09:00:00+01:00"; };
security: { curve = false; };
CONF
        (cd "$d" && exec "$bin/bevakad" --config bevakad.conf > daemon.log 2>&1) &
        local daemon=$!
        (cd "$d" && exec "$bin/bevaka-feed" publish --endpoint "ipc://$d/feed.sock" \
                --replay-endpoint "ipc://$d/replay.sock" --db feed.db -q "$work/stream.jsonl" > feed.log 2>&1) &
        local feed=$!
        local ctl=("$bin/bevakactl" --api "ipc://$d/api.sock" --json --timeout 5000)
        for _ in $(seq 600); do
                applied=$("${ctl[@]}" stats 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"]["applied"])' 2>/dev/null || echo 0)
                [ "$applied" -ge $((2 * n)) ] && break
                sleep 0.2   # polling the daemon's progress, not a wait for an outcome
        done
        local t0 t1 c0 c1
        c0=$(cpu_ms "$daemon")
        t0=$(date +%s%N)
        "${ctl[@]}" --timeout 120000 clock --set 2025-03-18T09:00:00+01:00 > /dev/null
        t1=$(date +%s%N)
        c1=$(cpu_ms "$daemon")
        kill "$feed" "$daemon"; wait "$feed" "$daemon" 2>/dev/null || true
        echo "$(( (t1 - t0) / 1000000 )) $(( c1 - c0 ))"
}

# cpu_ms PID: the process's user + system CPU time so far, in ms (less disturbed by a busy machine
# than the wall clock)
cpu_ms() {
        awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"
}

rounds=${ROUNDS:-3}
declare -a b_ms n_ms b_cpu n_cpu
for round in $(seq "$rounds"); do
        read -r w c <<< "$(one_run "$base")"; b_ms+=("$w"); b_cpu+=("$c")
        read -r w c <<< "$(one_run "$new")"; n_ms+=("$w"); n_cpu+=("$c")
        echo "round $round: base ${b_ms[-1]} ms (daemon CPU ${b_cpu[-1]} ms), new ${n_ms[-1]} ms" \
             "(daemon CPU ${n_cpu[-1]} ms) for $n deliveries"
done
python3 - "${b_ms[*]}" "${n_ms[*]}" "${b_cpu[*]}" "${n_cpu[*]}" "$n" <<'PY'
import statistics, sys
n = int(sys.argv[5])
for what, b, m in (("wall", sys.argv[1], sys.argv[2]), ("daemon CPU", sys.argv[3], sys.argv[4])):
    mb, mn = statistics.median(map(int, b.split())), statistics.median(map(int, m.split()))
    print(f"median {what}: base {mb} ms ({1000*mb/n:.1f} us/delivery), new {mn} ms ({1000*mn/n:.1f} us/delivery), "
          f"new/base {mn/mb:.2f}")
PY
