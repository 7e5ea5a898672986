#!/usr/bin/env bash
# Man pages cannot drift from the programs: for each program the long
# options its --help lists (bevakactl: also every command's --help, and its
# commands; bevaka-feed: also `synth --help`) and the options its man page
# names must be the same set, both ways; and bevakad.conf(5) names every
# group and setting that `bevakad --check-config` prints (per-rule groups,
# named by rule id, are documented as a pattern, so their inner settings
# count and not the ids).
set -u
bin=${BEVAKA_BIN:?}
src=${BEVAKA_SRC:?}
export BIN=$bin MAN=$src/docs/man SRC=$src
exec python3 - <<'PY'
import os, re, subprocess, sys

BIN, MAN = os.environ["BIN"], os.environ["MAN"]
passed = failed = 0

def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)

def run(*args):
    p = subprocess.run([os.path.join(BIN, args[0])] + list(args[1:]), capture_output=True, text=True,
                       timeout=30, env=dict(os.environ, BEVAKA_CONFIG="/nonexistent"))
    check(p.returncode == 0, f"{' '.join(args)} exits {p.returncode}: {p.stderr.strip()}")
    return p.stdout

def man_text(page):
    t = open(os.path.join(MAN, page), encoding="utf-8").read()
    t = "\n".join(l for l in t.splitlines() if not l.startswith('.\\"'))
    t = re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\c", "", t)
    return t.replace("\\-", "-").replace("\\(dq", '"').replace("\\(em", "-")

def opts(text):
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))

PROGS = ("bevakad", "bevakactl", "bevaka-feed", "bevaka-notify")

def compare(prog, page, helps, ignore=()):
    text = man_text(page)
    # Another program's options, quoted as "bevakad --restore", are that program's to document.
    for other in PROGS + ("systemctl", "systemd-analyze", "runuser", "journalctl"):
        if other != prog:
            text = re.sub(r"(?<![\w-])" + re.escape(other) + r"((\s+[a-z][a-z-]*)?\s+--[a-z][a-z0-9-]*)+", "", text)
    have, doc = set(), opts(text)
    for h in helps:
        have |= opts(h)
    have -= set(ignore)
    doc -= set(ignore)
    for o in sorted(have - doc):
        check(False, f"{page}: option {o} of {prog} --help is not in the man page")
    for o in sorted(doc - have):
        check(False, f"{page}: names option {o}, which {prog} --help does not list")
    check(have == doc and have, f"{prog}: options compared")
    print(f"{prog}: {len(have)} options in --help and {page}")

# bevakad(8)
compare("bevakad", "bevakad.8", [run("bevakad", "--help")])

# bevakactl(1): global options, each command's options, the commands themselves
top = run("bevakactl", "--help")
cmds = re.findall(r"^  ([a-z][a-z-]*)", top, re.M)
check(len(cmds) > 10, f"bevakactl --help lists commands: {cmds}")
helps = [top] + [run("bevakactl", c, "--help") for c in cmds]
compare("bevakactl", "bevakactl.1", helps)
page = man_text("bevakactl.1")
# the bash completion offers exactly the commands --help lists
comp = open(os.path.join(os.environ["SRC"], "client/completion/bevakactl")).read()
m = re.search(r'local cmds="([^"]*)"', comp)
check(m is not None and sorted(m.group(1).split()) == sorted(cmds),
      f"completion/bevakactl: commands {m.group(1).split() if m else None} != --help's {cmds}")
for c in cmds:
    check(re.search(r"^\.B " + re.escape(c) + r"\b", page, re.M) is not None or
          re.search(r"^\.TP\n\.B(I|R)? \"?" + re.escape(c), page, re.M) is not None,
          f"bevakactl.1: command {c} not described")

# bevaka-feed(1): publish/serve options and synth's
compare("bevaka-feed", "bevaka-feed.1", [run("bevaka-feed", "--help"), run("bevaka-feed", "synth", "--help")])
check(re.search(r"\bsynth\b", man_text("bevaka-feed.1")) is not None, "bevaka-feed.1: no synth")

# bevaka-notify(1)
compare("bevaka-notify", "bevaka-notify.1", [run("bevaka-notify", "--help")])

# bevakad.conf(5): every setting --check-config prints
conf = run("bevakad", "--check-config")
page = man_text("bevakad.conf.5")
names = set()
for line in conf.splitlines():
    m = re.match(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*) = (.*)$", line)
    if not m:
        continue
    name, rest = m.group(2), m.group(3)
    if name.isupper():      # a rule id: its inline settings are what the page documents
        names |= set(re.findall(r"([a-z_]+) = ", rest))
    else:
        names.add(name)
for c in re.findall(r"top-level setting\s+#?\s*([a-z_]+)", conf.replace("\n#", " ")):
    names.add(c)
check(len(names) > 30, f"settings found in --check-config: {len(names)}")
for n in sorted(names):
    check(re.search(r"(?<![\w.])" + re.escape(n) + r"(?![\w])", page) is not None,
          f"bevakad.conf.5: setting {n} (printed by --check-config) is not documented")
print(f"bevakad.conf: {len(names)} settings checked")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
