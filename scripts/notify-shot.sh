#!/usr/bin/env bash
# Screen grab of bevaka-notify against a real notification server on an
# Xvfb display (docs/img/README.md): the embedded demo configuration, the
# sample feed, the clock moved to Monday 5 January 2026 08:00, then the
# screen written as PNG. Usage:
#   scripts/notify-shot.sh BUILD_DIR OUT.png [xfce4-notifyd|dunst] [sv|en]
# Needs xvfb, x11-apps (xwd), netpbm and the server (apt packages).
set -euo pipefail
bin=$(realpath "$1") out=$(realpath -m "$2") server=${3:-xfce4-notifyd} lang=${4:-sv}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/bevaka-shot.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
display=:$((90 + RANDOM % 9))
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp > xvfb.log 2>&1 & pids+=($!)
export DISPLAY=$display
for _ in $(seq 50); do xdpyinfo > /dev/null 2>&1 && break; sleep 0.1; done
eval "$(dbus-daemon --session --fork --print-address=1 --print-pid=2 2> bus.pid | sed 's/^/export DBUS_SESSION_BUS_ADDRESS=/')"
pids+=($(cat bus.pid))
export XDG_CONFIG_HOME=$work/config HOME=$work
mkdir -p config/dunst
case $server in
dunst)
        printf '[global]\norigin = top-right\nwidth = 640\nnotification_limit = 0\nfont = DejaVu Sans 11\nformat = "<b>%%s</b>\\n%%b"\nshow_indicators = yes\n[urgency_low]\ntimeout = 0\nbackground = "#444444"\n[urgency_normal]\ntimeout = 0\nbackground = "#285577"\n[urgency_critical]\ntimeout = 0\nbackground = "#900000"\n' > config/dunst/dunstrc
        dunst -config config/dunst/dunstrc > server.log 2>&1 & pids+=($!) ;;
*)
        /usr/lib/x86_64-linux-gnu/xfce4/notifyd/xfce4-notifyd > server.log 2>&1 & pids+=($!)
        for _ in $(seq 50); do xfconf-query -c xfce4-notifyd -l > /dev/null 2>&1 && break; sleep 0.1; done
        xfconf-query -c xfce4-notifyd -p /expire-timeout -n -t int -s 60 || true
        xfconf-query -c xfce4-notifyd -p /notify-location -n -t int -s 2 || true
        xfconf-query -c xfce4-notifyd -p /do-fadeout -n -t bool -s false || true
        xfconf-query -c xfce4-notifyd -p /do-slideout -n -t bool -s false || true ;;
esac
for _ in $(seq 50); do
        dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner \
                string:org.freedesktop.Notifications 2>/dev/null | grep -q true && break
        sleep 0.1
done
"$bin/bevakad" > daemon.log 2>&1 & pids+=($!)
for _ in $(seq 50); do [ -S bevaka-api.sock ] && break; sleep 0.1; done
BEVAKA_LANG=$lang "$bin/bevaka-notify" --topic rem/HV-EB-1/hk1234/ --state-dir ./state > notify.log 2>&1 & pids+=($!)
"$bin/bevaka-feed" publish --wait-subscribers 1 --exit-after-publish -q "$src/client/sample/paraply-demo.jsonl" > feed.log 2>&1
"$bin/bevakactl" clock --set 2026-01-05T08:00:00+01:00 > /dev/null
want=$("$bin/bevakactl" --json reminders --caseworker hk1234 --state delivered | grep -o '"id"' | wc -l)
shown() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["shown"]))' \
        state/notify-rem_HV-EB-1_hk1234_.json 2>/dev/null || echo 0; }
for _ in $(seq 100); do [ "$(shown)" -ge "$want" ] && break; sleep 0.1; done
sleep 2         # the server draws asynchronously; nothing to poll for on the X side
xwd -root -silent | xwdtopnm 2>/dev/null | pnmtopng > "$out"
echo "$want reminders delivered to hk1234; screen in $out"
cat notify.log >&2
