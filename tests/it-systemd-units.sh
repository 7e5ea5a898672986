#!/usr/bin/env bash
# The installed systemd integration, checked offline: `cmake --install` into a
# temporary DESTDIR, then
#  - bevakad.service: `systemd-analyze security --offline=true` rates it OK
#    with an overall exposure of at most 1.5, and `systemd-analyze verify` is
#    clean (run on a copy whose ExecStart names the DESTDIR's binary, with
#    MANPATH on the DESTDIR's man pages, so that both are really checked);
#  - bevaka-notify.service: `systemd-analyze --user verify` clean, started
#    with and bound to the graphical session, restarted on failure;
#  - sysusers.d and tmpfiles.d files applied to the DESTDIR as a root
#    (--root): the user exists and the directories get their modes;
#  - the packaged /etc/bevaka/bevakad.conf passes `bevakad --check-config`;
#  - every man page and docs/operations.md is installed and renders cleanly.
# Exit 77 (a skip, with the reason) without systemd-analyze.
set -u
bin=${BEVAKA_BIN:?}
src=${BEVAKA_SRC:?}
MAX_EXPOSURE=1.5

command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not found"; exit 77; }

work=$(mktemp -d /tmp/bevaka-units.XXXXXX)
trap '[ -n "${BEVAKA_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { echo "FAIL: $*"; fail=$((fail + 1)); }

dest=$work/root
if ! DESTDIR=$dest cmake --install "$bin" > "$work/install.log" 2>&1; then
        no "cmake --install failed: $(tail -5 "$work/install.log")"
        echo "$pass passed, $fail failed"; exit 1
fi
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$bin/CMakeCache.txt")
root=$dest$prefix
unit=$root/lib/systemd/system/bevakad.service
uunit=$root/lib/systemd/user/bevaka-notify.service
conf=$(find "$dest" -path '*/bevaka/bevakad.conf' | head -1)
for f in "$unit" "$uunit" "$root/lib/sysusers.d/bevaka.conf" "$root/lib/tmpfiles.d/bevaka.conf" "$conf" \
         "$root/sbin/bevakad" "$root/bin/bevakactl" "$root/bin/bevaka-notify" "$root/bin/bevaka-feed" \
         "$root/share/doc/bevaka/operations.md"; do
        if [ -n "$f" ] && [ -f "$f" ]; then ok; else no "not installed: ${f#$dest}"; fi
done
for page in man8/bevakad.8 man1/bevakactl.1 man1/bevaka-notify.1 man1/bevaka-feed.1 man5/bevakad.conf.5; do
        f=$root/share/man/$page
        if [ ! -f "$f" ]; then no "man page not installed: $page"; continue; fi
        warn=$(groff -man -ww -z "$f" 2>&1)
        if [ -z "$warn" ]; then ok; else no "$page: groff: $warn"; fi
done

# ---- bevakad.service: security rating ----
out=$(systemd-analyze security --offline=true "$unit" 2>&1)
line=$(printf '%s\n' "$out" | grep 'Overall exposure level for bevakad.service')
level=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9.]*\) \([A-Z]*\).*/\1/p')
verdict=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9.]*\) \([A-Z]*\).*/\2/p')
echo "security: ${line#→ }"
if [ "$verdict" = OK ] && awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l != "" && l <= m) }'; then
        ok
else
        no "systemd-analyze security: exposure '$level' '$verdict' (want OK, <= $MAX_EXPOSURE)"
        printf '%s\n' "$out" | grep '✗'
fi

# ---- bevakad.service: verify against the installed binary and man pages ----
mkdir -p "$work/units"
sed "s|^ExecStart=$prefix/sbin/bevakad|ExecStart=$root/sbin/bevakad|" "$unit" > "$work/units/bevakad.service"
grep -q "^ExecStart=$root/sbin/bevakad " "$work/units/bevakad.service" || no "ExecStart does not name $prefix/sbin/bevakad"
out=$(MANPATH=$root/share/man systemd-analyze verify "$work/units/bevakad.service" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then ok; else no "systemd-analyze verify bevakad.service (exit $rc): $out"; fi
for want in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=' 'Restart=on-failure' 'StartLimitBurst=' \
            'StateDirectory=bevaka' 'ConfigurationDirectory=bevaka' 'User=bevaka' 'ProtectSystem=strict' \
            'CapabilityBoundingSet=$' 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
            'SystemCallFilter=@system-service' 'MemoryDenyWriteExecute=yes' 'UMask=0077'; do
        if grep -q "^$want" "$unit"; then ok; else no "bevakad.service lacks $want"; fi
done

# ---- bevaka-notify.service: a user unit with the graphical session ----
sed "s|^ExecStart=$prefix/bin/bevaka-notify|ExecStart=$root/bin/bevaka-notify|" "$uunit" > "$work/units/bevaka-notify.service"
mkdir -p "$work/xdg" && chmod 0700 "$work/xdg"
out=$(XDG_RUNTIME_DIR=$work/xdg MANPATH=$root/share/man systemd-analyze --user verify \
      "$work/units/bevaka-notify.service" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then ok; else no "systemd-analyze --user verify bevaka-notify.service (exit $rc): $out"; fi
for want in 'WantedBy=graphical-session.target' 'PartOf=graphical-session.target' 'Restart=on-failure' \
            'EnvironmentFile=%E/bevaka/notify.env' 'ExecStart=.*bevaka-notify \$BEVAKA_TOPIC$' \
            "EnvironmentFile=$prefix/etc/bevaka/notify.env"; do
        if grep -q "^$want" "$uunit"; then ok; else no "bevaka-notify.service lacks $want"; fi
done
# The user units are sandboxed as far as a D-Bus session client allows: at
# most NOTIFY_MAX_EXPOSURE (it was 9.8 UNSAFE without a sandbox).
NOTIFY_MAX_EXPOSURE=2.0
sed "s|^ExecStart=$prefix/bin/bevaka-notify|ExecStart=$root/bin/bevaka-notify|" "$root/lib/systemd/user/bevaka-notify@.service" \
        > "$work/units/bevaka-notify@.service"
for u in bevaka-notify.service bevaka-notify@desk.service; do
        line=$(XDG_RUNTIME_DIR=$work/xdg systemd-analyze security --offline=true --user "$work/units/$u" 2>&1 |
               grep 'Overall exposure')
        level=$(sed -n 's/.*: \([0-9.]*\) \([A-Z]*\).*/\1/p' <<< "$line")
        echo "security --user: ${line#→ }"
        if awk -v l="$level" -v m="$NOTIFY_MAX_EXPOSURE" 'BEGIN { exit !(l != "" && l <= m) }'; then ok
        else no "systemd-analyze security --user $u: '$level' (want <= $NOTIFY_MAX_EXPOSURE)"; fi
done
out=$(XDG_RUNTIME_DIR=$work/xdg MANPATH=$root/share/man systemd-analyze --user verify \
      "$work/units/bevaka-notify@desk.service" 2>&1)
if [ -z "$out" ]; then ok; else no "systemd-analyze --user verify bevaka-notify@desk.service: $out"; fi
# The desktop entry is valid (desktop-file-validate, when installed).
if command -v desktop-file-validate >/dev/null; then
        out=$(desktop-file-validate "$root/share/applications/bevaka-notify.desktop" 2>&1)
        if [ -z "$out" ]; then ok; else no "desktop-file-validate: $out"; fi
fi

# ---- sysusers.d and tmpfiles.d, applied to the DESTDIR ----
mkdir -p "$dest/etc"
touch "$dest/etc/passwd" "$dest/etc/group"
if systemd-sysusers --root="$dest" "$root/lib/sysusers.d/bevaka.conf" > "$work/sysusers.log" 2>&1 &&
   grep -q '^bevaka:' "$dest/etc/passwd" && grep -q '^bevaka:' "$dest/etc/group"; then
        ok
else
        no "systemd-sysusers: $(cat "$work/sysusers.log")"
fi
if systemd-tmpfiles --root="$dest" --create "$root/lib/tmpfiles.d/bevaka.conf" > "$work/tmpfiles.log" 2>&1 &&
   [ "$(stat -c %a "$dest/var/lib/bevaka")" = 750 ] && [ "$(stat -c %a "$dest/etc/bevaka/keys")" = 750 ]; then
        ok
else
        no "systemd-tmpfiles: $(cat "$work/tmpfiles.log")"
fi

# ---- the packaged configuration ----
if out=$("$bin/bevakad" --check-config --config "$conf" 2>&1); then
        ok
        printf '%s\n' "$out" | grep -q 'curve = true' && ok || no "packaged config: curve is not true"
        printf '%s\n' "$out" | grep -q 'mode = "system"' && ok || no "packaged config: clock is not the system clock"
else
        no "bevakad --check-config on the packaged config: $out"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
