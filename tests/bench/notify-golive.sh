#!/usr/bin/env bash
# What a go-live morning puts on each caseworker's desktop, with and without
# bevaka-notify's grouping (issue 14, item 5), measured in the same run:
# a synthetic history (bevaka-feed synth) imported into an empty store with
# the clock at Monday 07:00, one `bevaka-notify --terminal` per caseworker
# with --group 1000 (no grouping: the baseline) and one with the defaults,
# then the clock to 08:00. A pop-up is a line the notifier shows on its own
# ([due] not under a [group], [group], [digest], [message]). Prints the
# reminders delivered and the pop-ups per caseworker (median, max) both ways.
# Usage: tests/bench/notify-golive.sh BUILD_DIR [CASES] [YEARS] [SEED]
set -euo pipefail
bin=$(cd "${1:?usage: notify-golive.sh BUILD_DIR [CASES] [YEARS] [SEED]}" && pwd)
cases=${2:-600} years=${3:-2} seed=${4:-1}
work=$(mktemp -d /tmp/bevaka-golive.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; [ -n "${BEVAKA_KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
start=$((2026 - years))-01
"$bin/bevaka-feed" synth --cases "$cases" --years "$years" --seed "$seed" --start "$start" -q -o history.jsonl
cat > bevakad.conf <<CONF
store = { path = "$work/bevaka.db"; synchronous = "normal"; };
feed = { endpoint = "ipc://$work/feed"; replay_endpoint = "ipc://$work/replay"; };
publish = { endpoint = "ipc://$work/pub"; };
api = { endpoint = "ipc://$work/api"; };
clock = { mode = "manual"; start = "2026-01-05T07:00:00+01:00"; };
security = { curve = false; };
CONF
export BEVAKA_API=ipc://$work/api BEVAKA_PUB=ipc://$work/pub
"$bin/bevakad" --config bevakad.conf > daemon.log 2>&1 & pids+=($!)
for _ in $(seq 100); do [ -S api ] && break; sleep 0.1; done
"$bin/bevaka-feed" publish --endpoint "ipc://$work/feed" --replay-endpoint "ipc://$work/replay" --db feed.db \
        --wait-subscribers 1 -q history.jsonl > feed.log 2>&1 & pids+=($!)
want=$(grep -c . history.jsonl)
for _ in $(seq 3000); do
        n=$("$bin/bevakactl" --json stats 2>/dev/null | python3 -c 'import json,sys; e=json.load(sys.stdin)["events"]; print(sum(e[k] for k in ("applied","dead_letters","ignored","duplicates")))' 2>/dev/null || echo 0)
        [ "$n" -ge "$want" ] && break
        sleep 0.2      # polling interval
done
# The topics: every caseworker in the history, as rem/<unit>/<caseworker>/.
python3 - history.jsonl > topics <<'PY'
import json, sys
seen = set()
for line in open(sys.argv[1]):
    e = json.loads(line)
    cw = (e.get("data") or {}).get("caseworker")
    if cw:
        seen.add("rem/%s/%s/" % (e["unit"], cw))
print("\n".join(sorted(seen)))
PY
i=0
while read -r t; do
        i=$((i + 1))
        for mode in base group; do
                extra=()
                [ "$mode" = base ] && extra=(--group 1000)
                "$bin/bevaka-notify" --terminal --topic "$t" --state-dir "state-$mode-$i" "${extra[@]}" \
                        > "$mode-$i.out" 2> "$mode-$i.err" & pids+=($!)
        done
done < topics
for f in base-*.err group-*.err; do
        for _ in $(seq 300); do grep -q 'following' "$f" && break; sleep 0.1; done
done
"$bin/bevakactl" clock --set 2026-01-05T08:00:00+01:00 > /dev/null
# Done when every notifier has shown (in "batch of N" lines) what the daemon delivered to its topic.
"$bin/bevakactl" --json reminders --state delivered --limit 100000 > delivered.json
delivered=$(python3 -c 'import json; print(len(json.load(open("delivered.json"))["reminders"]))')
# What each caseworker's topic holds (leads-only rules such as CONTINUITY are on the leads' topic).
while read -r t; do
        "$bin/bevakactl" --json sync "$t" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["reminders"]))'
done < topics > want
for _ in $(seq 600); do
        python3 - <<'PY' && break
import json, re, sys
topics = open("topics").read().split()
want = dict(zip(topics, (int(n) for n in open("want").read().split())))
for mode in ("base", "group"):
    for i, t in enumerate(topics, 1):
        got = sum(int(n) for n in re.findall(r"batch of (\d+):", open("%s-%d.err" % (mode, i)).read()))
        if got < want.get(t, 0):
            sys.exit(1)
PY
        sleep 0.2      # polling interval
done
python3 - "$delivered" <<'PY'
import glob, statistics, sys
def popups(path):
    n = 0
    for line in open(path):
        if line.startswith(("[due]", "[group]", "[digest]", "[message]")):
            n += 1
    return n
rows = {}
for mode in ("base", "group"):
    rows[mode] = sorted(popups(p) for p in glob.glob("%s-*.out" % mode))
mine = sum(int(n) for n in open("want").read().split())
print("go-live: %s reminders delivered at 08:00, %d on the %d caseworkers' own topics" % (sys.argv[1], mine, len(rows["base"])))
for mode, label in (("base", "without grouping (--group 1000)"), ("group", "with grouping (default --group 3)")):
    r = rows[mode]
    print("  pop-ups per caseworker %-34s median %5.1f  max %4d  total %5d" % (label, statistics.median(r), max(r), sum(r)))
b, g = sum(rows["base"]), sum(rows["group"])
print("  ratio with/without: %.3f" % (g / b if b else float("nan")))
PY
