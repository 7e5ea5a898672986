#!/usr/bin/env bash
# bevakactl for a local operator, as the packaged layout has it (in a
# temporary directory): the daemon's configuration with CURVE, its keypair
# and an admin key beside it, and nothing on bevakactl's command line but the
# command ($BEVAKA_CONFIG stands for /etc/bevaka/bevakad.conf). Checks that
#  - the daemon's first start without its keypair names the setting and
#    leaves no store behind;
#  - `bevakactl hello` and `stats` reach the daemon as admin without flags;
#  - a missing admin key, and (as an unprivileged user) an unreadable
#    public key, are errors that name the path and the setting;
#  - every subcommand takes --help, prints its usage, exits 0 and does
#    nothing (`backup --help` writes no file, `keygen --help` no key);
#  - every program takes --version;
#  - `bevakactl metrics` has the CURVE gate's counters and passes
#    `promtool check metrics`;
#  - each program's bash completion loads and completes.
set -u
bin=$(cd "${BEVAKA_BIN:?}" && pwd)
src=$(cd "${BEVAKA_SRC:?}" && pwd)
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok; else no "$what"; fi; }

work=$(mktemp -d /tmp/bevaka-ctl.XXXXXX)
chmod 755 "$work"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/keys" "$work/state"
cat > "$work/bevakad.conf" <<CONF
store = { path = "$work/state/bevaka.db"; };
feed = { endpoint = "ipc://$work/feed"; replay_endpoint = "ipc://$work/replay"; };
publish = { endpoint = "ipc://$work/pub"; };
api = { endpoint = "ipc://$work/api"; };
clock = { mode = "manual"; start = "2026-01-05T09:00:00+01:00"; };
security = { curve = true; secret_key = "$work/keys/bevakad.key"; public_key = "$work/keys/bevakad.key.pub";
             keys = "$work/keys/clients"; };
CONF
export BEVAKA_CONFIG=$work/bevakad.conf
unset BEVAKA_API BEVAKA_PUB BEVAKA_SERVER_KEY BEVAKA_SECRET_KEY BEVAKA_PUBLIC_KEY BEVAKA_DB
export XDG_CONFIG_HOME=$work/xdg    # no user key files

# ---- first start without keys ----
err=$("$bin/bevakad" --config "$work/bevakad.conf" 2>&1)
check "start without keys exits 0" [ $? -ne 0 ]
check "start without keys does not name the setting: $err" grep -q "security.secret_key: $work/keys/bevakad.key: cannot read" <<< "$err"
check "start without keys made a store" [ ! -e "$work/state/bevaka.db" ]

# ---- keys, then the daemon ----
"$bin/bevakactl" keygen "$work/keys/bevakad.key" > /dev/null 2>&1
"$bin/bevakactl" keygen "$work/keys/admin.key" --role admin --user ops > "$work/entry" 2>/dev/null
printf 'keys = (\n%s\n);\n' "$(cat "$work/entry")" > "$work/keys/clients"
"$bin/bevakad" --config "$work/bevakad.conf" > "$work/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$work/api" ] && break; sleep 0.1; done
out=$("$bin/bevakactl" hello 2>&1)
check "bevakactl hello without flags: $out" grep -q 'ops' <<< "$out"
check "bevakactl hello: not admin: $out" grep -q 'admin' <<< "$out"
out=$("$bin/bevakactl" --json stats 2>&1)
check "bevakactl stats without flags: $out" grep -q '"ok": *true' <<< "$out"

# ---- metrics with CURVE: the security counters, and promtool's lint ----
"$bin/bevakactl" metrics > "$work/metrics.prom" 2>&1
check "metrics: security counters missing: $(cat "$work/metrics.prom")" \
        grep -Eq '^bevaka_security_handshakes_total\{result="allowed"\} [1-9]' "$work/metrics.prom"
check "metrics: no subscription counter" grep -q '^bevaka_security_subscriptions_total{result="refused"} ' "$work/metrics.prom"
if command -v promtool >/dev/null; then
        out=$(promtool check metrics < "$work/metrics.prom" 2>&1)
        check "promtool check metrics: $out" [ $? -eq 0 ]
else
        no "promtool not found (scripts/deps.sh installs prometheus)"
fi

# ---- missing or unreadable keys name the path and the setting ----
mv "$work/keys/admin.key" "$work/keys/admin.key.away"
err=$("$bin/bevakactl" hello 2>&1); rc=$?
check "missing admin key: exit $rc" [ $rc -eq 2 ]
check "missing admin key not named: $err" grep -q "$work/keys/admin.key: cannot read: No such file" <<< "$err"
check "missing admin key: no hint at keygen: $err" grep -q 'bevakactl keygen' <<< "$err"
mv "$work/keys/admin.key.away" "$work/keys/admin.key"
# The right endpoint without keys: the answer says CURVE, not only "is bevakad running?".
err=$("$bin/bevakactl" --api "ipc://$work/api" --pub "ipc://$work/pub" --timeout 300 hello 2>&1); rc=$?
check "no keys: exit $rc: $err" [ $rc -eq 3 ]
check "no keys: no hint at CURVE: $err" grep -q 'answers only CURVE clients' <<< "$err"
err=$("$bin/bevakactl" --server-key "$work/keys/bevakad.key.pub" --secret-key "$work/nonexistent.key" hello 2>&1); rc=$?
check "missing --secret-key file: exit $rc: $err" [ $rc -eq 2 ]
check "missing --secret-key file not named: $err" grep -q "$work/nonexistent.key: cannot read: No such file or directory (--secret-key" <<< "$err"
if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null; then
        chmod 750 "$work/keys"
        err=$(runuser -u nobody -- env BEVAKA_CONFIG="$BEVAKA_CONFIG" XDG_CONFIG_HOME=/nonexistent \
                "$bin/bevakactl" hello 2>&1)
        check "unreadable key as nobody: $err" grep -q "$work/keys/bevakad.key.pub: cannot read: Permission denied (security.public_key" <<< "$err"
        chmod 755 "$work/keys"
else
        echo "not root: the unprivileged-user case is not exercised"
fi

# ---- every subcommand's --help does nothing ----
cmds=$("$bin/bevakactl" --help | sed -n 's/^  \([a-z-]*\).*/\1/p')
check "no commands in --help" [ -n "$cmds" ]
cd "$work" || exit 1
for c in $cmds; do
        before=$(ls -A "$work" | sort)
        out=$("$bin/bevakactl" --timeout 200 "$c" --help 2>&1); rc=$?
        check "bevakactl $c --help: exit $rc: $out" [ $rc -eq 0 ]
        check "bevakactl $c --help: no usage: $out" grep -q "^Usage: bevakactl .*$c" <<< "$out"
        out=$("$bin/bevakactl" "$c" x -h 2>&1); rc=$?
        check "bevakactl $c x -h: exit $rc" [ $rc -eq 0 ]
        check "bevakactl $c --help wrote a file: $(ls -A "$work")" [ "$before" = "$(ls -A "$work" | sort)" ]
done
check "./--help exists" [ ! -e "$work/--help" ]
for p in bevakad bevakactl bevaka-feed bevaka-notify; do
        v=$("$bin/$p" --version 2>&1)
        check "$p --version: $v" grep -Eqx "$p [0-9]+\.[0-9]+\.[0-9]+" <<< "$v"
done
# ---- bash completion: each program's file loads and completes ----
if [ -f /usr/share/bash-completion/bash_completion ]; then
        complete_words() {     # FILE WORD... : what completing the last word offers
                bash -c 'source /usr/share/bash-completion/bash_completion; source "$1"; shift
                         COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                         f=$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\).*/\1/p"); "$f" "$1" "${@: -1}" "${@: -2:1}"
                         printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
        }
        out=$(complete_words "$src/client/completion/bevakactl" bevakactl ba)
        check "completion: bevakactl ba -> $out" [ "$out" = backup ]
        out=$(complete_words "$src/client/completion/bevakactl" bevakactl keygen --r)
        check "completion: bevakactl keygen --r -> $out" [ "$out" = --role ]
        out=$(complete_words "$src/client/completion/bevakad" bevakad --chec)
        check "completion: bevakad --chec -> $out" [ "$out" = --check-config ]
        out=$(complete_words "$src/client/completion/bevaka-feed" bevaka-feed sy)
        check "completion: bevaka-feed sy -> $out" [ "$out" = synth ]
        out=$(complete_words "$src/client/completion/bevaka-notify" bevaka-notify --ter)
        check "completion: bevaka-notify --ter -> $out" [ "$out" = --terminal ]
else
        no "bash-completion not installed (scripts/deps.sh installs it)"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
