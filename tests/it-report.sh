#!/usr/bin/env bash
# Integration: the indicator report as a lead sees it. bevakad (manual clock)
# is fed the demo's synthetic district (bevaka-feed synth: 256 cases, one
# unit, 2025) over its real feed socket; then `bevakactl --json indicators`
# gives the numbers and `bevakactl report` the HTML. The HTML must be one
# self-contained file (no URL, no external reference of any kind). Headless
# Chromium (Debian's `chromium`) renders it: --dump-dom, whose figures
# (data-id / data-num / data-den, the cases most behind, the caseload) must
# be the JSON's; a PNG screenshot; and a PDF, which must be A4 pages. With
# BEVAKA_REPORT_DIR set, the HTML, PNG and PDF are kept there (docs/img).
set -u
bin=${BEVAKA_BIN:?}
command -v chromium >/dev/null || { echo "FAIL: chromium not installed (scripts/deps.sh installs it)"; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 not installed"; exit 1; }

work=$(mktemp -d /tmp/bevaka-report.XXXXXX)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
        [ -n "${BEVAKA_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok; else no "$what"; fi; }

# poll CMD... until it succeeds (never a blind sleep), about 60 s at most
poll() {
        local tries=0
        until "$@" >/dev/null 2>&1; do
                tries=$((tries + 1))
                [ $tries -lt 3000 ] || return 1
                sleep 0.02
        done
}

cd "$work"
cat > bevakad.conf <<EOF
store: { path = "bevaka.db"; synchronous = "normal"; };
feed: { endpoint = "ipc://$work/feed.sock"; replay_endpoint = "ipc://$work/replay.sock"; };
publish: { endpoint = "ipc://$work/pub.sock"; };
api: { endpoint = "ipc://$work/api.sock"; };
clock: { mode = "manual"; start = "2025-01-01T07:00:00+01:00"; };
security: { curve = false; };
EOF
ctl() { "$bin/bevakactl" --api "ipc://$work/api.sock" --timeout 30000 "$@"; }
applied_at_least() {
        local v
        v=$(ctl --json stats | python3 -c "import json,sys; print(json.load(sys.stdin)['events']['applied'])") || return 1
        [ "$v" -ge "$1" ]
}

"$bin/bevaka-feed" synth --cases 80 --years 1 --seed 7 --start 2025-01 -q -o district.jsonl
events=$(wc -l < district.jsonl)
"$bin/bevakad" --config bevakad.conf 2> bevakad.log &
pids+=($!)
poll ctl hello || { echo "FAIL: bevakad did not answer"; cat bevakad.log; exit 1; }
"$bin/bevaka-feed" publish -q --endpoint "ipc://$work/feed.sock" --replay-endpoint "ipc://$work/replay.sock" \
        --db "$work/feed.db" --wait-subscribers 1 district.jsonl 2> feed.log &
pids+=($!)
# The feed keeps serving (no --exit-after-publish): bevakad's live queue is finite (5000), and
# what a slow daemon (the sanitizer build) drops there comes back only by a replay.
poll applied_at_least "$events" || { echo "FAIL: the district was not applied"; tail bevakad.log; exit 1; }
# The office opens on the first working day of 2026: what came due is delivered.
ctl clock --set 2026-01-05T08:00:00+01:00 > /dev/null

ctl --json indicators --unit HV-EB-1 --from 2025-01 --to 2025-12 --series > indicators.json
check "indicators --json answers" test -s indicators.json
ctl report --unit HV-EB-1 --from 2025-01 --to 2025-12 -o report.html
check "report written" test -s report.html
ctl indicators --unit HV-EB-1 --from 2025-01 --to 2025-12 --csv > indicators.csv
check "csv has a row per indicator and month" \
        test "$(grep -c '^fia.not_started,' indicators.csv)" -eq 13

# Self-contained: nothing that would fetch anything.
if grep -Eiq 'https?:|//[a-z0-9]|<link|<script|<img|<iframe|@import|url\(|src=' report.html; then
        no "report references something outside itself: $(grep -Eio 'https?:[^"]*|<link[^>]*|<script|<img|@import|url\([^)]*|src=[^ ]*' report.html | head -3)"
else
        ok
fi

chrome() { timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
        --disable-extensions --user-data-dir="$work/chrome" "$@" 2>> chromium.log; }
chrome --dump-dom "file://$work/report.html" > dom.html
check "chromium dumped the DOM" test -s dom.html
chrome --window-size=900,2600 --screenshot="$work/report.png" "file://$work/report.html" > /dev/null
check "PNG screenshot" python3 -c "import sys; d=open('report.png','rb').read(); sys.exit(not (d[:8]==b'\x89PNG\r\n\x1a\n' and len(d) > 20000))"
chrome --no-pdf-header-footer --print-to-pdf="$work/report.pdf" "file://$work/report.html" > /dev/null
check "PDF printed" python3 -c "import sys; sys.exit(open('report.pdf','rb').read(5) != b'%PDF-')"

# The rendered page against the JSON it came from.
python3 - <<'EOF' > dom-check.out 2>&1
import json, re, sys
from html.parser import HTMLParser

rep = json.load(open("indicators.json"))
want = {i["id"]: i for i in rep["indicators"]}

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.figs, self.rows, self.cur, self.cell = [], [], None, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "span" and a.get("class") == "fig":
            self.figs.append(a)
        if tag == "tr" and a.get("class") in ("behind", "caseload"):
            self.cur = (a["class"], [])
        if tag == "td" and self.cur:
            self.cell = ""
    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
    def handle_endtag(self, tag):
        if tag == "td" and self.cur and self.cell is not None:
            self.cur[1].append(self.cell.strip())
            self.cell = None
        if tag == "tr" and self.cur:
            self.rows.append(self.cur)
            self.cur = None

dom = Dom()
dom.feed(open("dom.html").read())
bad = 0
def fail(msg):
    global bad
    bad += 1
    print("FAIL:", msg)

seen = set()
for f in dom.figs:
    i = want.get(f["data-id"])
    if i is None:
        fail("figure %s is not in the JSON" % f["data-id"]); continue
    seen.add(f["data-id"])
    for k, attr in (("numerator", "data-num"), ("denominator", "data-den")):
        if abs(float(f[attr]) - float(i[k])) > 0.005:
            fail("%s %s: page %s, JSON %s" % (f["data-id"], k, f[attr], i[k]))
fixed = [k for k in want if not k.startswith("rem.")]
for k in fixed:
    if k not in seen:
        fail("indicator %s missing from the page" % k)
raised = [k for k in want if k.endswith(".raised") and want[k]["numerator"] > 0]
for k in raised:
    if k not in seen:
        fail("rule row %s missing from the page" % k)
behind = [r[1] for r in dom.rows if r[0] == "behind"]
if [[b["case"], str(b["overdue"]), b["oldest_due"]] for b in rep["behind"]] != behind:
    fail("cases most behind differ: %s vs %s" % (behind[:2], rep["behind"][:2]))
load = [r[1][:3] for r in dom.rows if r[0] == "caseload"]
if [[c["caseworker"], str(c["open_cases"]), str(c["open_reminders"])] for c in rep["caseload"]] != load:
    fail("caseload differs")
# Not an empty district: the figures the issue is about are there.
if want["lt.share"]["denominator"] < 50 or want["continuity.changes_per_case_year"]["numerator"] < 50:
    fail("implausibly empty district: %s" % want["lt.share"])
if len(rep["behind"]) == 0 or len(rep["caseload"]) < 5:
    fail("no cases behind or no caseload")
print("checked %d figures, %d rows" % (len(dom.figs), len(dom.rows)))
sys.exit(1 if bad else 0)
EOF
if [ $? -eq 0 ]; then ok; else no "DOM check"; fi
cat dom-check.out

# A4: every page's MediaBox is 595 x 842 points (210 x 297 mm), and there is more than one.
python3 - <<'EOF' > pdf-check.out 2>&1
import re, sys
d = open("report.pdf", "rb").read()
boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", d)
pages = len(re.findall(rb"/Type\s*/Page[^s]", d))
print("pages", pages, "boxes", set(boxes))
ok = pages >= 2 and boxes and all(abs(float(w) - 595.3) < 1.5 and abs(float(h) - 841.9) < 1.5 for w, h in boxes)
sys.exit(0 if ok else 1)
EOF
if [ $? -eq 0 ]; then ok; else no "PDF is not A4 pages: $(cat pdf-check.out)"; fi

if [ -n "${BEVAKA_REPORT_DIR:-}" ]; then
        mkdir -p "$BEVAKA_REPORT_DIR"
        cp report.html report.png report.pdf indicators.json "$BEVAKA_REPORT_DIR/"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
