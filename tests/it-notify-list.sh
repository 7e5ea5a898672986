#!/usr/bin/env bash
# `bevaka-notify --list` as a caseworker sees it in a terminal: the real
# bevakad with the demo's history (client/sample/paraply-demo.jsonl) and its
# clock moved to Monday 5 January 2026 08:00, one reminder acknowledged, the
# list run in tmux and read back with capture-pane. Checks, against an
# oracle written here in Python from the daemon's own `sync` reply:
#  - every open reminder of hk1234 is listed once, under its case;
#  - cases come most urgent first and, within a case, overdue first, then
#    by due date (the order docs/clients.md states);
#  - the header counts reminders, overdue ones and cases; the acknowledged
#    one says so;
#  - English with --lang en;
#  - exit 3 and a message naming the endpoint when the daemon is not there,
#    exit 1 with the daemon's error when it refuses the topic, 2 for usage.
set -u
bin=$(cd "${BEVAKA_BIN:?}" && pwd)
src=$(cd "${BEVAKA_SRC:?}" && pwd)
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok; else no "$what"; fi; }
command -v tmux > /dev/null || { echo "SKIP: tmux is not installed (scripts/deps.sh)"; exit 77; }

work=$(mktemp -d /tmp/bevaka-list.XXXXXX)
sock=bevaka-list-$$
pid=
cleanup() {
        tmux -L "$sock" kill-server 2>/dev/null
        [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
        rm -rf "$work"
}
trap cleanup EXIT
cat > "$work/bevakad.conf" <<CONF
store = { path = "$work/bevaka.db"; };
feed = { endpoint = "ipc://$work/feed"; replay_endpoint = "ipc://$work/replay"; };
publish = { endpoint = "ipc://$work/pub"; };
api = { endpoint = "ipc://$work/api"; };
clock = { mode = "manual"; start = "2025-03-01T08:00:00+01:00"; };
security = { curve = false; };
CONF
unset BEVAKA_SERVER_KEY BEVAKA_SECRET_KEY BEVAKA_PUBLIC_KEY BEVAKA_TOPIC BEVAKA_LANG
export BEVAKA_API=ipc://$work/api BEVAKA_PUB=ipc://$work/pub XDG_CONFIG_HOME=$work/xdg
topic=rem/HV-EB-1/hk1234/

"$bin/bevakad" --config "$work/bevakad.conf" > "$work/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$work/api" ] && break; sleep 0.1; done
(cd "$work" && "$bin/bevaka-feed" publish --endpoint "ipc://$work/feed" --replay-endpoint "ipc://$work/replay" \
        --wait-subscribers 1 --exit-after-publish -q "$src/client/sample/paraply-demo.jsonl") > "$work/feed.log" 2>&1
want=$(grep -c . "$src/client/sample/paraply-demo.jsonl")
for _ in $(seq 200); do
        n=$("$bin/bevakactl" --json stats 2>/dev/null | python3 -c 'import json,sys; e=json.load(sys.stdin)["events"]; print(e["applied"]+e["dead_letters"]+e["ignored"]+e["duplicates"])' 2>/dev/null)
        [ "${n:-0}" -ge "$want" ] && break
        sleep 0.1      # polling interval
done
"$bin/bevakactl" clock --set 2026-01-05T08:00:00+01:00 > /dev/null
open=0
for _ in $(seq 200); do
        open=$("$bin/bevakactl" --json sync "$topic" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["reminders"]))' 2>/dev/null)
        [ "${open:-0}" -ge 3 ] && break
        sleep 0.1      # polling interval
done
check "the demo gives hk1234 at least 3 open reminders (got ${open:-0})" [ "${open:-0}" -ge 3 ]
acked=$("$bin/bevakactl" --json sync "$topic" | python3 -c 'import json,sys; print(json.load(sys.stdin)["reminders"][0]["id"])')
"$bin/bevakactl" ack "$acked" > /dev/null
"$bin/bevakactl" --json sync "$topic" > "$work/sync.json"

# Runs bevaka-notify --list ARGS in a fresh tmux window; the pane's text (all of it) to stdout.
run_tmux() {
        local name=w$RANDOM out=
        tmux -L "$sock" new-window -d -t list -n "$name" \
                "cd '$work' && '$bin/bevaka-notify' --list $*; echo \"EXIT=\$?\""
        for _ in $(seq 150); do
                out=$(tmux -L "$sock" capture-pane -p -J -S - -t "list:$name")
                grep -q '^EXIT=' <<< "$out" && break
                sleep 0.1      # polling interval
        done
        printf '%s\n' "$out"
}
tmux -L "$sock" -f /dev/null new-session -d -s list -x 200 -y 100 "sleep 600"
tmux -L "$sock" set-option -g remain-on-exit on    # a window that ends at once is still read

out=$(run_tmux --topic "$topic")
printf '%s\n' "$out" > "$work/list.txt"
sed 's/^/# /' "$work/list.txt"     # the pane, for a person reading the test's log
check "--list exits 0: $out" grep -q '^EXIT=0$' <<< "$out"
verdict=$(python3 - "$work/sync.json" "$work/list.txt" "$acked" <<'PY'
import json, sys
sync = json.load(open(sys.argv[1]))["reminders"]
lines = open(sys.argv[2]).read().split("\n")
acked = sys.argv[3]
today = "2026-01-05"
def overdue(r):
    due = r.get("due_at", "")
    return r.get("severity") == "overdue" or (due and (due < today or due < r.get("deliver_at", "")[:10]))
rank = {"overdue": 0, "due": 1, "info": 2}
def key(r):
    return (not overdue(r), r.get("due_at") or "~", rank.get(r.get("severity"), 3), r["case"], r["rule"], r["id"])
rs = sorted(sync, key=key)
cases = []
for r in rs:
    if r["case"] not in [c for c, _ in cases]:
        cases.append((r["case"], []))
    dict(cases)[r["case"]].append(r)
# What the terminal shows: "Ärende CASE" headers, each followed by its items' lines.
shown, cur = [], None
for l in lines:
    if l.startswith("Ärende "):
        cur = (l[len("Ärende "):].strip(), [])
        shown.append(cur)
    elif l.startswith("  ") and cur:
        cur[1].append(l)
errors = []
if [c for c, _ in shown] != [c for c, _ in cases]:
    errors.append("case order %s != %s" % ([c for c, _ in shown], [c for c, _ in cases]))
for (c, want), (_, got) in zip(cases, shown):
    if len(want) != len(got):
        errors.append("%s: %d lines for %d reminders" % (c, len(got), len(want)))
        continue
    for r, l in zip(want, got):
        word = "förföll" if overdue(r) else "förfaller"
        if word not in l or r["title"][:40] not in l:
            errors.append("%s: %r does not show %s %s %s" % (c, l, word, r["due_at"], r["title"]))
        if r["id"] == acked and "[kvitterad]" not in l:
            errors.append("acknowledged reminder not marked: %r" % l)
n_over = sum(1 for r in sync if overdue(r))
head = "%d öppna påminnelser, %d förfallna, i %d ärenden (%s)" % (len(sync), n_over, len(cases), today)
if len(sync) > 1 and len(cases) > 1 and n_over != 1 and head not in lines:
    errors.append("header %r missing" % head)
print("; ".join(errors) if errors else "ok")
PY
)
check "work list order and content: $verdict" [ "$verdict" = ok ]
check "rule ids never shown" bash -c "! grep -Eq '[A-Z0-9]+-[A-Z]{3,}' <<< \"\$(grep -v '^Ärende\|^EXIT' '$work/list.txt')\""

out=$(run_tmux --lang en "$topic")
check "--lang en: $out" grep -Eq '^[0-9]+ open reminders, [0-9]+ overdue, in [0-9]+ cases \(2026-01-05\)$' <<< "$out"
check "--lang en: case headers" grep -q '^Case EB-' <<< "$out"

# Errors as a terminal user meets them.
kill "$pid"; wait "$pid" 2>/dev/null; pid=
out=$(run_tmux --timeout 300 "$topic")
check "daemon gone: exit 3: $out" grep -q '^EXIT=3$' <<< "$out"
check "daemon gone: names the endpoint: $out" grep -q "no answer from ipc://$work/api within 300 ms" <<< "$out"
"$bin/bevakad" --config "$work/bevakad.conf" > "$work/daemon2.log" 2>&1 &
pid=$!
for _ in $(seq 100); do "$bin/bevakactl" hello > /dev/null 2>&1 && break; sleep 0.1; done
out=$(run_tmux "'rem/HV EB 1/hk1234/'")
check "refused topic: exit 1 with the daemon's error: $out" grep -q '^EXIT=1$' <<< "$out"
check "refused topic: says why: $out" grep -Eq "bevaka-notify: rem/HV EB 1/hk1234/: [a-z_]+: " <<< "$out"
out=$(run_tmux --group x "$topic")
check "usage: exit 2: $out" grep -q '^EXIT=2$' <<< "$out"
out=$(run_tmux)
check "no topic: exit 2: $out" grep -q '^EXIT=2$' <<< "$out"

echo "it-notify-list: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
