#!/usr/bin/env bash
# Several bevakad instances on one host (bevakad@.service), as far as this
# machine allows: systemd is not PID 1 here, so the units are not started
# by systemd. What is checked:
#  - bevakad@NAME.service for three instances: `systemd-analyze verify`
#    clean and `systemd-analyze security` rated OK (at most 1.5), like
#    bevakad.service;
#  - the template gives each instance its own configuration, state and
#    runtime directory: ExecStart, StateDirectory, RuntimeDirectory and
#    ConfigurationDirectory rendered for each instance name (%i replaced as
#    systemd does for a plain name) name /etc/bevaka/NAME/bevakad.conf,
#    /var/lib/bevaka/NAME and /run/bevaka/NAME, all different;
#  - three daemons run at once from the rendered ExecStart lines, with the
#    instances' paths under a temporary root, CURVE on, each with its own
#    keys: each answers `bevakactl --config …/NAME/bevakad.conf` (the local
#    operator's path, no other flag), keeps its own store, and events fed
#    to one instance are applied there and nowhere else.
# Not exercised: systemd creating the directories and starting the units.
set -u
bin=${BEVAKA_BIN:?}
MAX_EXPOSURE=1.5
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not found"; exit 77; }

pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok; else no "$what"; fi; }

work=$(mktemp -d /tmp/bevaka-inst.XXXXXX)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        rm -rf "$work"
}
trap cleanup EXIT
template=$bin/systemd/bevakad@.service
check "no rendered template $template" [ -f "$template" ]
units=$work/units && mkdir -p "$units"
# The unit as installed, but running this build's binary; man pages from the source tree.
sed "s|^ExecStart=[^ ]*/bevakad |ExecStart=$bin/bevakad |" "$template" > "$units/bevakad@.service"
export MANPATH=$work/man
mkdir -p "$MANPATH/man5" "$MANPATH/man8"
cp "${BEVAKA_SRC:?}/docs/man/bevakad.8" "$MANPATH/man8/"
cp "$BEVAKA_SRC/docs/man/bevakad.conf.5" "$MANPATH/man5/"
names="north south city"
root=$work/root
for n in $names; do
        out=$(cd "$units" && systemd-analyze verify "$units/bevakad@$n.service" 2>&1)
        check "systemd-analyze verify bevakad@$n.service: $out" [ -z "$out" ]
        line=$(systemd-analyze security --offline=true "$units/bevakad@$n.service" 2>&1 | grep 'Overall exposure')
        level=$(sed -n 's/.*: \([0-9.]*\) \([A-Z]*\).*/\1/p' <<< "$line")
        check "bevakad@$n: $line" awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l != "" && l <= m) }'
        # ---- render the instance's paths ----
        r=$(sed "s/%i/$n/g" "$units/bevakad@.service")
        exec_line=$(sed -n 's/^ExecStart=//p' <<< "$r")
        conf=$(sed -n 's/.*--config \([^ ]*\).*/\1/p' <<< "$exec_line")
        check "bevakad@$n: config $conf" [ "${conf%/$n/bevakad.conf}" != "$conf" ]
        check "bevakad@$n: state" grep -qx "StateDirectory=bevaka/$n" <<< "$r"
        check "bevakad@$n: runtime" grep -qx "RuntimeDirectory=bevaka/$n" <<< "$r"
        check "bevakad@$n: configuration dir" grep -qx "ConfigurationDirectory=bevaka/$n" <<< "$r"
        echo "$exec_line" > "$work/exec-$n"
        echo "$conf" > "$work/conf-$n"
done

# ---- three daemons at once, each in its own directories ----
for n in $names; do
        etc=$root$(dirname "$(cat "$work/conf-$n")") state=$root/var/lib/bevaka/$n run=$root/run/bevaka/$n
        mkdir -p "$etc/keys" "$state" "$run"
        cat > "$etc/bevakad.conf" <<CONF
# instance $n: its own store, sockets and keys
store = { path = "$state/bevaka.db"; };
feed = { endpoint = "ipc://$run/feed.sock"; replay_endpoint = "ipc://$run/replay.sock"; };
publish = { endpoint = "ipc://$run/pub.sock"; };
api = { endpoint = "ipc://$run/api.sock"; };
clock = { mode = "manual"; start = "2026-01-05T09:00:00+01:00"; };
security = { curve = true; secret_key = "$etc/keys/bevakad.key"; public_key = "$etc/keys/bevakad.key.pub";
             keys = "$etc/keys/clients"; };
CONF
        "$bin/bevakactl" keygen "$etc/keys/bevakad.key" > /dev/null 2>&1
        "$bin/bevakactl" keygen "$etc/keys/admin.key" --role admin --user "ops-$n" > "$work/entry-$n" 2>/dev/null
        printf 'keys = (\n%s\n);\n' "$(cat "$work/entry-$n")" > "$etc/keys/clients"
        # The rendered ExecStart, its configuration path moved under the temporary root.
        read -r -a cmd < "$work/exec-$n"
        check "ExecStart: ${cmd[*]}" [ "${cmd[1]}" = --config ] && [ "${cmd[2]}" = "$(cat "$work/conf-$n")" ]
        cmd[2]=$root${cmd[2]}
        echo "$etc/bevakad.conf" > "$work/conf-$n"
        "${cmd[@]}" > "$work/daemon-$n.log" 2>&1 &
        pids+=($!)
done
for n in $names; do
        for _ in $(seq 100); do [ -S "$root/run/bevaka/$n/api.sock" ] && break; sleep 0.1; done
        out=$("$bin/bevakactl" --timeout 2000 --config "$(cat "$work/conf-$n")" hello 2>&1)
        check "instance $n: hello: $out $(cat "$work/daemon-$n.log")" grep -q "ops-$n" <<< "$out"
        check "instance $n: no store of its own" [ -f "$root/var/lib/bevaka/$n/bevaka.db" ]
done
# Events for north only.
feed_log=$work/feed.db
"$bin/bevaka-feed" publish --endpoint "ipc://$root/run/bevaka/north/feed.sock" \
        --replay-endpoint "ipc://$root/run/bevaka/north/replay.sock" --db "$feed_log" --exit-after-publish \
        --wait-subscribers 1 -q "$BEVAKA_SRC/client/sample/paraply-demo.jsonl" > "$work/feed.log" 2>&1
events=$(grep -c . "$BEVAKA_SRC/client/sample/paraply-demo.jsonl")
applied() {
        "$bin/bevakactl" --timeout 500 --config "$(cat "$work/conf-$1")" --json stats 2>/dev/null |
                python3 -c 'import json,sys; print(json.load(sys.stdin)["events"]["applied"])' 2>/dev/null
}
n_north=0
for _ in $(seq 100); do
        n_north=$(applied north)
        [ -z "$n_north" ] && break           # no answer: no point in waiting
        [ "$n_north" -ge "$events" ] && break
        sleep 0.1
done
check "north applied ${n_north:-none} of $events events" [ "${n_north:-0}" -ge "$events" ]
for n in south city; do
        a=$(applied $n)
        check "instance $n applied ${a:-none} events (want 0)" [ "${a:-x}" = 0 ]
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
