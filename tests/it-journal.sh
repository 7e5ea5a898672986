#!/usr/bin/env bash
# Integration: bevakad's structured journal records, read back from a real
# systemd-journald. No journald runs on the test machines, so the test starts
# its own in a private mount namespace (unshare -m, tmpfs on /run and on the
# journal directories: the host's journal and sockets are never touched) and
# runs bevakad with stderr on journald's stream socket (systemd-cat) and
# JOURNAL_STREAM naming that socket, as systemd does for a service. It drives
# the daemon through start, a feed gap and its replay, dead letters,
# reminder deliveries, a reload and a stop, then checks each record's
# MESSAGE_ID, PRIORITY and BEVAKA_* fields with `journalctl -o json`, and
# that stderr with a JOURNAL_STREAM that is not stderr's gives "<N>" lines.
# Exit 77 (a skip, with the reason) when not root or journald cannot start.
set -u
bin=${BEVAKA_BIN:?}
src=${BEVAKA_SRC:?}

skip() { echo "SKIP: $*"; exit 77; }

if [ "${1:-}" != --inside ]; then
        [ "$(id -u)" -eq 0 ] || skip "needs root for a private mount namespace with its own journald"
        command -v unshare >/dev/null || skip "unshare not found"
        [ -x /lib/systemd/systemd-journald ] || skip "/lib/systemd/systemd-journald not found"
        command -v journalctl >/dev/null && command -v systemd-cat >/dev/null || skip "journalctl/systemd-cat not found"
        command -v python3 >/dev/null || skip "python3 not found"
        exec unshare -m --propagation private bash "$0" --inside
fi

# ---- inside the private mount namespace -------------------------------------------------
work=$(mktemp -d /tmp/bevaka-journal.XXXXXX)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
        [ -n "${BEVAKA_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

mount -t tmpfs tmpfs /run || skip "cannot mount a private /run"
mkdir -p /run/systemd/journal /run/log/journal
[ -d /var/log/journal ] && { mount -t tmpfs tmpfs /var/log/journal || skip "cannot hide /var/log/journal"; }
/lib/systemd/systemd-journald >"$work/journald.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -S /run/systemd/journal/socket ] && [ -S /run/systemd/journal/stdout ] && break; sleep 0.02; done
[ -S /run/systemd/journal/stdout ] || skip "journald did not start: $(head -c 300 "$work/journald.log")"

pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { echo "FAIL: $*"; fail=$((fail + 1)); }

# poll CMD... until it succeeds (tests never sleep to wait: poll with a timeout)
poll() {
        local tries=0
        until "$@" >/dev/null 2>&1; do
                tries=$((tries + 1))
                [ $tries -lt 500 ] || return 1
                sleep 0.02
        done
}

cd "$work"
cat > bevakad.conf <<EOF
store: { path = "bevaka.db"; synchronous = "normal"; };
feed: { endpoint = "ipc://$work/feed.sock"; replay_endpoint = "ipc://$work/replay.sock"; };
publish: { endpoint = "ipc://$work/pub.sock"; };
api: { endpoint = "ipc://$work/api.sock"; };
clock: { mode = "manual"; start = "2026-01-05T07:00:00+01:00"; };
security: { curve = false; };
EOF
ctl() { "$bin/bevakactl" --api "ipc://$work/api.sock" "$@"; }
stat_at_least() {   # stat_at_least PYTHON-PATH N
        local v
        v=$(ctl --json stats | python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)") || return 1
        [ "$v" -ge "$2" ]
}
feed() {
        "$bin/bevaka-feed" publish -q --endpoint "ipc://$work/feed.sock" --replay-endpoint "ipc://$work/replay.sock" \
                --db "$work/feed.db" --heartbeat-ms 200 --wait-subscribers 1 "$@" 2>>feed.log &
        pids+=($!)
        feed_pid=$!
}

# stderr on journald's stream socket; JOURNAL_STREAM is what systemd would set for it.
systemd-cat -t bevakad-it sh -c 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$0" --config "$1"' \
        "$bin/bevakad" "$work/bevakad.conf" &
daemon=$!
pids+=($daemon)
poll ctl hello || no "bevakad did not answer"

# 42 sample events with seq 5 held back live: a gap, then a replay.
feed --skip-seq 5 "$src/client/sample/paraply-demo.jsonl"
poll stat_at_least "['events']['applied']" 42 || no "sample history not applied"
kill -TERM "$feed_pid"; wait "$feed_pid" 2>/dev/null
# Two lines that are no events: dead letters.
printf 'this is not json\n{"v":1}\n' > bad.jsonl
feed --raw bad.jsonl
poll stat_at_least "['events']['dead_letters']" 2 || no "dead letters not counted"
kill -TERM "$feed_pid"; wait "$feed_pid" 2>/dev/null
# Office hours: what is due is delivered.
ctl clock --set 2026-01-05T08:00:00+01:00 >/dev/null || no "clock --set failed"
poll stat_at_least "['reminders']['delivered']" 1 || no "no reminder delivered"
dpid=$(pgrep -P "$daemon" -x bevakad || echo "$daemon")
kill -HUP "$dpid"
jq_has() { journalctl -D /run/log/journal -o json --no-pager 2>/dev/null | grep -q "$1"; }
poll jq_has 09a188246db04e2fabd63bdf702d5e43 || no "no reload record"
kill -TERM "$dpid"
wait "$daemon" 2>/dev/null
poll jq_has ff9076004fb04f628153d8e5f2dacc0d || no "no stopping record"

journalctl -D /run/log/journal -o json --no-pager > journal.json 2>/dev/null
out=$(python3 - journal.json <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
mine = [r for r in recs if r.get("SYSLOG_IDENTIFIER") == "bevakad"]
def want(msgid, prio, fields, what):
    hits = [r for r in mine if r.get("MESSAGE_ID") == msgid]
    if not hits:
        print("FAIL: no %s record (MESSAGE_ID=%s)" % (what, msgid)); return
    r = hits[0]
    if r.get("PRIORITY") != str(prio):
        print("FAIL: %s: PRIORITY %s, want %s" % (what, r.get("PRIORITY"), prio)); return
    for k, v in fields.items():
        if k not in r or (v is not None and r[k] != v):
            print("FAIL: %s: field %s = %r, want %r" % (what, k, r.get(k), v)); return
    if r.get("_TRANSPORT") != "journal":
        print("FAIL: %s: _TRANSPORT %s (not sd_journal_send)" % (what, r.get("_TRANSPORT"))); return
    print("ok %s" % what)
want("2774b4a664584faaa869b790938c0aee", 6, {"BEVAKA_VERSION": None}, "started")
want("160e1c1c7cba45ca8d968180ac5284c3", 5, {"BEVAKA_SOURCE": "paraply-demo", "BEVAKA_SEQ": "4", "BEVAKA_GOT_SEQ": "6"}, "feed gap")
want("6731a823703940eaa84d6d1ff88f3245", 6, {"BEVAKA_SOURCE": "paraply-demo", "BEVAKA_SEQ": None}, "replay")
want("8f1e97f3e38c428d8a2c3b936a517287", 4, {"BEVAKA_REASON": None}, "dead letter")
want("0fdc668497ec4666a5a4bf0a1745e2ad", 6, {"BEVAKA_RULE": None, "BEVAKA_CASE": None, "BEVAKA_REMINDER": None}, "delivered")
want("09a188246db04e2fabd63bdf702d5e43", 6, {}, "reloaded")
want("ff9076004fb04f628153d8e5f2dacc0d", 6, {}, "stopping")
d = [r for r in mine if r.get("MESSAGE_ID") == "0fdc668497ec4666a5a4bf0a1745e2ad"]
if d and not d[0]["BEVAKA_CASE"].startswith("EB-"):
    print("FAIL: delivered: BEVAKA_CASE %r is no case id" % d[0]["BEVAKA_CASE"])
# Plain messages go through the journal too, with a priority and no MESSAGE_ID.
if not [r for r in mine if "MESSAGE_ID" not in r and r.get("PRIORITY")]:
    print("FAIL: no plain record")
else:
    print("ok plain")
EOF
)
while read -r line; do
        case $line in
        ok*) ok ;;
        *) no "${line#FAIL: }" ;;
        esac
done <<< "$out"

# Not journald's stream: plain "<N>" lines on stderr, whatever JOURNAL_STREAM says.
mkdir -p plain
JOURNAL_STREAM=1:1 "$bin/bevakad" --config "$work/bevakad.conf" --rebuild 2> plain/stderr.log
if grep -q '^<6>bevakad: rebuilt' plain/stderr.log; then ok; else no "stderr lines without <N> prefix: $(head -c 200 plain/stderr.log)"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
