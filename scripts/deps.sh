#!/usr/bin/env bash
# Installs the Debian 12 packages bevaka needs to build, test and run the demo.
# Only what is missing is installed; run as root (or with sudo available).
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libzmq3-dev libsqlite3-dev sqlite3 libconfig-dev libsystemd-dev libjansson-dev
      python3 python3-jsonschema dbus dbus-daemon systemd
      dpkg-dev file man-db groff-base      # packaging and unit tests: dpkg-shlibdeps, man pages
      debhelper lintian fakeroot bash-completion   # tests/it-deb.sh: dpkg-buildpackage, lintian
      prometheus tzdata                    # promtool check metrics; the system's zoneinfo
      xvfb x11-apps x11-utils netpbm xfce4-notifyd dunst   # scripts/notify-shot.sh: a real notification server
      chromium fonts-dejavu-core)          # the indicator report rendered headless (tests/it-report.sh)
missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
        echo "bevaka: installing ${missing[*]}" >&2
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
