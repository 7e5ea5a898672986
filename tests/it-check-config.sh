#!/usr/bin/env bash
# Golden tests for `bevakad --check-config` (OpenBSD style: bgpd -nv -f conf | diff):
# every tests/config/good/*.conf prints exactly its .out (the config's directory
# written as @DIR@) and exits 0; every tests/config/bad/*.conf prints exactly
# its .err line on stderr and exits 1.
set -u
bin=${BEVAKA_BIN:?}/bevakad
src=${BEVAKA_SRC:?}
pass=0 fail=0

for conf in "$src"/tests/config/good/*.conf; do
        dir=$(dirname "$conf") name=$(basename "$conf" .conf)
        out=$(cd "$dir" && "$bin" --check-config --config "$name.conf" 2>&1)
        rc=$?
        if [ $rc -eq 0 ] && diff -u "$dir/$name.out" <(printf '%s\n' "$out" | sed "s|$dir|@DIR@|g"); then
                pass=$((pass + 1))
        else
                echo "FAIL good/$name (exit $rc)"; fail=$((fail + 1))
        fi
done
for conf in "$src"/tests/config/bad/*.conf; do
        dir=$(dirname "$conf") name=$(basename "$conf" .conf)
        err=$(cd "$dir" && "$bin" --check-config --config "$name.conf" 2>&1 >/dev/null)
        rc=$?
        if [ $rc -eq 1 ] && [ "$err" = "$(cat "$dir/$name.err")" ]; then
                pass=$((pass + 1))
        else
                echo "FAIL bad/$name (exit $rc): got '$err', want '$(cat "$dir/$name.err")'"; fail=$((fail + 1))
        fi
done
# The embedded default configuration is valid too.
if (cd "$(mktemp -d)" && "$bin" --check-config | grep -q '^store'); then pass=$((pass + 1)); else echo "FAIL embedded"; fail=$((fail + 1)); fi
# With CURVE, an existing key list is validated too (named file, line and setting).
tmp=$(mktemp -d)
cat > "$tmp/b.conf" <<CONF
store: { path = "b.db"; };
feed: { endpoint = "ipc://f"; replay_endpoint = "ipc://r"; };
publish: { endpoint = "ipc://p"; };
api: { endpoint = "ipc://a"; };
security: { curve = true; secret_key = "s.key"; public_key = "s.pub"; keys = "clients"; };
CONF
printf 'keys = ( { key = "nonsense"; user = "x"; role = "admin"; } );\n' > "$tmp/clients"
err=$(cd "$tmp" && "$bin" --check-config --config b.conf 2>&1 >/dev/null); rc=$?
if [ $rc -eq 1 ] && [[ "$err" == "$tmp/clients:1: keys[0].key: must be a CURVE public key"* ]]; then
        pass=$((pass + 1)); else echo "FAIL bad key list: exit $rc, '$err'"; fail=$((fail + 1)); fi
rm "$tmp/clients"
if (cd "$tmp" && "$bin" --check-config --config b.conf >/dev/null 2>&1); then
        pass=$((pass + 1)); else echo "FAIL key list not there yet must still pass"; fail=$((fail + 1)); fi
# A key list that locks every admin out is refused, at the line of its list (an empty one too).
key='rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'
printf 'keys = (\n  { key = "%s"; user = "hk1"; role = "caseworker"; units = [ "U1" ]; }\n);\n' "$key" > "$tmp/clients"
chmod 0640 "$tmp/clients"
err=$(cd "$tmp" && "$bin" --check-config --config b.conf 2>&1 >/dev/null); rc=$?
if [ $rc -eq 1 ] && [[ "$err" == "$tmp/clients:1: keys: no key has role = \"admin\""* ]]; then
        pass=$((pass + 1)); else echo "FAIL no admin key: exit $rc, '$err'"; fail=$((fail + 1)); fi
printf 'keys = ();\n' > "$tmp/clients"
err=$(cd "$tmp" && "$bin" --check-config --config b.conf 2>&1 >/dev/null); rc=$?
if [ $rc -eq 1 ] && [[ "$err" == "$tmp/clients:1: keys: no key has role = \"admin\""* ]]; then
        pass=$((pass + 1)); else echo "FAIL empty key list: exit $rc, '$err'"; fail=$((fail + 1)); fi
printf 'keys = ( { key = "%s"; user = "ops"; role = "admin"; } );\n' "$key" > "$tmp/clients"
if (cd "$tmp" && "$bin" --check-config --config b.conf >/dev/null 2>&1); then
        pass=$((pass + 1)); else echo "FAIL a key list with an admin must pass"; fail=$((fail + 1)); fi
# Whoever may write the key list may grant any role: group- or world-writable is refused (StrictModes).
for mode in 0666 0620; do
        chmod "$mode" "$tmp/clients"
        err=$(cd "$tmp" && "$bin" --check-config --config b.conf 2>&1 >/dev/null); rc=$?
        if [ $rc -eq 1 ] && [[ "$err" == "$tmp/clients:1: keys: the file is writable by "*"(mode $mode)"* ]]; then
                pass=$((pass + 1)); else echo "FAIL key list mode $mode: exit $rc, '$err'"; fail=$((fail + 1)); fi
done
chmod 0640 "$tmp/clients"
rm -rf "$tmp"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
