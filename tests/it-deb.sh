#!/usr/bin/env bash
# The Debian package, end to end on this machine: configure a tree with the
# /usr prefix (in the build directory, reused by later runs), build the
# installed programs, `cpack -G DEB`, check the package's dependencies
# (dpkg-shlibdeps) and contents, `dpkg -i` it, run
# `bevakad --check-config --config /etc/bevaka/bevakad.conf` on the
# installed default configuration, and purge it again. The machine is left
# as it was: the package is purged even when a check fails, and the system
# user and directories the package made are removed when they were not
# there before. Exit 77 (a skip, with the reason) when not root, without
# dpkg/cpack, or when a bevaka package is already installed here.
set -u
bin=${BEVAKA_BIN:?}
src=${BEVAKA_SRC:?}

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to install a package"
for tool in dpkg dpkg-deb dpkg-shlibdeps cpack; do
        command -v $tool >/dev/null || skip "$tool not found"
done
if dpkg-query -W -f='${Status}' bevaka 2>/dev/null | grep -q 'installed'; then
        skip "a bevaka package is installed on this machine; not touching it"
fi

pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { echo "FAIL: $*"; fail=$((fail + 1)); }

had_user=$(getent passwd bevaka >/dev/null && echo yes || echo no)
had_group=$(getent group bevaka >/dev/null && echo yes || echo no)
had_etc=$([ -e /etc/bevaka ] && echo yes || echo no)
had_var=$([ -e /var/lib/bevaka ] && echo yes || echo no)
installed=no
restore_machine() {
        if [ $installed = yes ]; then
                dpkg --purge bevaka > "$pkg/purge.log" 2>&1 || echo "purge failed: $(cat "$pkg/purge.log")"
        fi
        [ $had_user = no ] && getent passwd bevaka >/dev/null && userdel bevaka
        [ $had_group = no ] && getent group bevaka >/dev/null && groupdel bevaka
        [ $had_etc = no ] && [ -d /etc/bevaka ] && rm -rf /etc/bevaka
        [ $had_var = no ] && [ -d /var/lib/bevaka ] && rm -rf /var/lib/bevaka
        return 0
}
trap restore_machine EXIT

# ---- build the package ----
pkg=$bin/deb
mkdir -p "$pkg"
if ! cmake -S "$src" -B "$pkg/build" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DBEVAKA_SANITIZE=OFF > "$pkg/configure.log" 2>&1; then
        no "configure: $(tail -5 "$pkg/configure.log")"; echo "$pass passed, $fail failed"; exit 1
fi
if ! cmake --build "$pkg/build" -j "$(nproc)" --target bevakad bevakactl bevaka-notify bevaka-feed \
        > "$pkg/build.log" 2>&1; then
        no "build: $(tail -5 "$pkg/build.log")"; echo "$pass passed, $fail failed"; exit 1
fi
rm -f "$pkg"/build/*.deb
if ! (cd "$pkg/build" && cpack -G DEB) > "$pkg/cpack.log" 2>&1; then
        no "cpack: $(tail -5 "$pkg/cpack.log")"; echo "$pass passed, $fail failed"; exit 1
fi
deb=$(ls "$pkg"/build/bevaka_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] && ok || { no "no .deb produced"; echo "$pass passed, $fail failed"; exit 1; }
echo "package: $(basename "$deb")"

# ---- what is in it ----
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libzmq5 libsqlite3-0 libconfig9 libsystemd0 libjansson4 systemd; do
        if printf '%s\n' "$depends" | grep -Eq "(^|, )$lib( |,|$)"; then ok; else no "Depends lacks $lib"; fi
done
contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
for f in ./usr/sbin/bevakad ./usr/bin/bevakactl ./usr/bin/bevaka-notify ./usr/bin/bevaka-feed \
         ./usr/lib/systemd/system/bevakad.service ./usr/lib/systemd/user/bevaka-notify.service \
         ./usr/lib/sysusers.d/bevaka.conf ./usr/lib/tmpfiles.d/bevaka.conf ./etc/bevaka/bevakad.conf \
         ./usr/share/man/man8/bevakad.8 ./usr/share/man/man5/bevakad.conf.5 ./usr/share/man/man1/bevakactl.1 \
         ./usr/share/doc/bevaka/operations.md; do
        if printf '%s\n' "$contents" | grep -qx "$f"; then ok; else no "package lacks $f"; fi
done
if dpkg-deb -I "$deb" conffiles 2>/dev/null | grep -qx /etc/bevaka/bevakad.conf; then ok; else no "bevakad.conf is no conffile"; fi

# ---- install, check the default configuration, purge ----
if dpkg -i "$deb" > "$pkg/install.log" 2>&1; then
        installed=yes
        ok
else
        installed=yes     # half-installed: purge all the same
        no "dpkg -i: $(tail -5 "$pkg/install.log")"
fi
if [ $installed = yes ] && [ -x /usr/sbin/bevakad ]; then
        if out=$(/usr/sbin/bevakad --check-config --config /etc/bevaka/bevakad.conf 2>&1); then
                ok
        else
                no "bevakad --check-config on the installed config: $out"
        fi
        getent passwd bevaka >/dev/null && ok || no "postinst made no user bevaka"
        [ "$(stat -c '%U %a' /var/lib/bevaka 2>/dev/null)" = "bevaka 750" ] && ok ||
                no "/var/lib/bevaka: $(stat -c '%U %a' /var/lib/bevaka 2>&1)"
        [ "$(stat -c '%G %a' /etc/bevaka 2>/dev/null)" = "bevaka 750" ] && ok ||
                no "/etc/bevaka: $(stat -c '%G %a' /etc/bevaka 2>&1)"
        /usr/bin/bevakactl --help > /dev/null && ok || no "bevakactl --help failed"
fi
if dpkg --purge bevaka > "$pkg/purge.log" 2>&1; then
        installed=no
        ok
else
        no "dpkg --purge: $(tail -5 "$pkg/purge.log")"
fi
for f in /usr/sbin/bevakad /usr/lib/systemd/system/bevakad.service /etc/bevaka/bevakad.conf; do
        [ -e "$f" ] && no "left after purge: $f" || ok
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
