#!/usr/bin/env bash
# The Debian packages, end to end on this machine: `dpkg-buildpackage -us -uc
# -b` on a copy of the source tree (in the build directory), `lintian -EvIL
# +pedantic` on the result (no error, no warning), the packages' contents
# and hardening, then what piuparts would do, scripted (piuparts needs a
# chroot built from a mirror, which CI has not): install a previous build
# (the packages the last passing run kept in BIN/deb-previous, else this
# build's, re-versioned to 0.0.1 so that dpkg upgrades), upgrade to this build,
# check the installed system (user, directories, conffile, units, a client
# program linked against libbevaka-client-dev), remove, purge, and check
# that nothing is left. The machine is left as it was: the packages are
# purged even when a check fails, and the system user and directories the
# packages made are removed when they were not there before. Exit 77 (a
# skip, with the reason) when not root, without the tools, or when a
# bevaka package is already installed here.
set -u
bin=${BEVAKA_BIN:?}
src=${BEVAKA_SRC:?}
PKGS="bevakad bevaka-clients bevaka-notify libbevaka-client-dev"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to install a package"
for tool in dpkg dpkg-deb dpkg-buildpackage dh lintian git; do
        command -v $tool >/dev/null || skip "$tool not found (scripts/deps.sh installs it)"
done
for p in $PKGS bevaka; do
        if dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'installed'; then
                skip "package $p is installed on this machine; not touching it"
        fi
done

pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok; else no "$what"; fi; }
finish() { echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit $?; }

pkg=$bin/deb
had_user=$(getent passwd bevaka >/dev/null && echo yes || echo no)
had_group=$(getent group bevaka >/dev/null && echo yes || echo no)
had_etc=$([ -e /etc/bevaka ] && echo yes || echo no)
had_var=$([ -e /var/lib/bevaka ] && echo yes || echo no)
restore_machine() {
        dpkg --purge $PKGS > "$pkg/restore.log" 2>&1 || echo "purge failed: $(cat "$pkg/restore.log")"
        [ $had_user = no ] && getent passwd bevaka >/dev/null && userdel bevaka
        [ $had_group = no ] && getent group bevaka >/dev/null && groupdel bevaka
        [ $had_etc = no ] && [ -d /etc/bevaka ] && rm -rf /etc/bevaka
        [ $had_var = no ] && [ -d /var/lib/bevaka ] && rm -rf /var/lib/bevaka
        return 0
}

# ---- build: a clean copy of the tracked (and new, not ignored) files ----
rm -rf "$pkg" && mkdir -p "$pkg/src" "$pkg/prev"
(cd "$src" && git ls-files -co --exclude-standard -z | tar --null -cf - -T -) | tar -xf - -C "$pkg/src"
start=$(date +%s)
if ! (cd "$pkg/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
        > "$pkg/build.log" 2>&1; then
        no "dpkg-buildpackage: $(tail -15 "$pkg/build.log")"; finish
fi
echo "dpkg-buildpackage: $(($(date +%s) - start)) s"
version=$(dpkg-parsechangelog -l "$pkg/src/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
debs=()
for p in $PKGS; do
        f=$pkg/${p}_${version}_$arch.deb
        check "no package $p" [ -f "$f" ]
        debs+=("$f")
        [ "$p" = libbevaka-client-dev ] || check "no $p-dbgsym" [ -f "$pkg/$p-dbgsym_${version}_$arch.deb" ]
done

# ---- lintian: no error and no warning (overrides carry their reason) ----
lintian -EvIL +pedantic --tag-display-limit 0 "$pkg/bevaka_${version}_$arch.changes" > "$pkg/lintian.log" 2>&1
bad=$(grep -E '^[EW]: ' "$pkg/lintian.log")
check "lintian: $bad" [ -z "$bad" ]
grep -E '^[IPX]: ' "$pkg/lintian.log" | sed 's/^/lintian: /'

# ---- contents, conffiles, hardening ----
has() { dpkg-deb -c "$1" | awk '{ print $6 }' | grep -qx "$2"; }
check "bevakad lacks its files" has "${debs[0]}" ./usr/sbin/bevakad
for f in ./lib/systemd/system/bevakad.service ./lib/systemd/system/bevakad@.service ./usr/lib/sysusers.d/bevaka.conf \
         ./usr/lib/tmpfiles.d/bevaka.conf ./etc/bevaka/bevakad.conf ./usr/share/man/man8/bevakad.8.gz \
         ./usr/share/man/man5/bevakad.conf.5.gz ./usr/share/doc/bevakad/copyright; do
        check "bevakad lacks $f" has "${debs[0]}" "$f"
done
for f in ./usr/bin/bevakactl ./usr/bin/bevaka-feed ./usr/share/bash-completion/completions/bevakactl \
         ./usr/share/bash-completion/completions/bevaka-feed ./usr/share/man/man1/bevakactl.1.gz; do
        check "bevaka-clients lacks $f" has "${debs[1]}" "$f"
done
for f in ./usr/bin/bevaka-notify ./usr/lib/systemd/user/bevaka-notify.service \
         ./usr/lib/systemd/user/bevaka-notify@.service ./usr/share/applications/bevaka-notify.desktop \
         ./etc/bevaka/notify.env; do
        check "bevaka-notify lacks $f" has "${debs[2]}" "$f"
done
for f in ./usr/include/bevaka/client.h "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libbevaka-client.a"; do
        check "libbevaka-client-dev lacks $f" has "${debs[3]}" "$f"
done
check "the runtime package ships a header" bash -c "! dpkg-deb -c '${debs[0]}' | grep -q '\.h$\|\.a$'"
check "bevakad.conf is no conffile" bash -c "dpkg-deb -I '${debs[0]}' conffiles | grep -qx /etc/bevaka/bevakad.conf"
for script in postinst prerm postrm; do
        # debhelper's `systemctl daemon-reload` is allowed (as lintian allows it); start, stop,
        # enable go through deb-systemd-helper and deb-systemd-invoke.
        if dpkg-deb -I "${debs[0]}" $script 2>/dev/null | grep -v '^ *#' | grep -w systemctl |
                grep -vq 'systemctl --system daemon-reload'; then
                no "bevakad's $script calls systemctl directly"
        else ok; fi
done
x=$pkg/x && mkdir -p "$x" && dpkg-deb -x "${debs[0]}" "$x" && dpkg-deb -x "${debs[1]}" "$x"
for b in usr/sbin/bevakad usr/bin/bevakactl; do
        dyn=$(readelf -d "$x/$b")
        check "$b: not linked with -z now" grep -q 'BIND_NOW\|FLAGS_1.*NOW' <<< "$dyn"
        check "$b: not PIE" grep -q 'PIE' <<< "$dyn"
        check "$b: no RELRO" bash -c "readelf -lW '$x/$b' | grep -q GNU_RELRO"
        check "$b: not fortified" bash -c "readelf -sW '$x/$b' | grep -q '__[a-z]*_chk@'"
        check "$b: not stripped" bash -c "! readelf -SW '$x/$b' | grep -q '\.debug_info'"
done

# ---- install a previous build, upgrade, remove, purge ----
trap restore_machine EXIT
# The previous build: the packages the last run of this test kept, else this
# build's; either way re-versioned below this one, so that dpkg upgrades.
keep=$bin/deb-previous
from=("${debs[@]}")
if ls "$keep"/*.deb > /dev/null 2>&1; then
        from=()
        for p in $PKGS; do from+=("$(ls "$keep/${p}_"*.deb | head -1)"); done
        echo "previous build: $(dpkg-deb -f "${from[0]}" Version) from the last run"
else
        echo "previous build: none kept; this build re-versioned"
fi
prev=()
for d in "${from[@]}"; do
        r=$pkg/prev/$(basename "$d" .deb) && dpkg-deb -R "$d" "$r"
        sed -i "s/^Version: .*/Version: 0.0.1/" "$r/DEBIAN/control"
        dpkg-deb --root-owner-group -b "$r" "$r.deb" > /dev/null && prev+=("$r.deb")
done
check "install of the previous build: $(tail -5 "$pkg/install-prev.log" 2>/dev/null)" \
        bash -c "dpkg -i ${prev[*]} > '$pkg/install-prev.log' 2>&1"
getent passwd bevaka >/dev/null && ok || no "postinst made no user bevaka"
# An operator's edit of the conffile survives the upgrade.
printf '\n# edited by the operator\n' >> /etc/bevaka/bevakad.conf
check "upgrade: $(tail -5 "$pkg/upgrade.log" 2>/dev/null)" \
        bash -c "dpkg -i --force-confold ${debs[*]} > '$pkg/upgrade.log' 2>&1"
check "upgrade lost the operator's edit of bevakad.conf" grep -q 'edited by the operator' /etc/bevaka/bevakad.conf
for p in $PKGS; do
        v=$(dpkg-query -W -f='${Version} ${Status}' $p 2>/dev/null)
        check "$p after upgrade: $v" [ "$v" = "$version install ok installed" ]
done
check "/var/lib/bevaka: $(stat -c '%U %a' /var/lib/bevaka 2>&1)" [ "$(stat -c '%U %a' /var/lib/bevaka 2>/dev/null)" = "bevaka 750" ]
check "/etc/bevaka/keys: $(stat -c '%U:%G %a' /etc/bevaka/keys 2>&1)" \
        [ "$(stat -c '%U:%G %a' /etc/bevaka/keys 2>/dev/null)" = "root:bevaka 750" ]
check "/etc/bevaka/notify.env is not readable by everyone" [ "$(stat -c '%a' /etc/bevaka/notify.env)" = 644 ]
check "/etc/bevaka is not searchable by everyone" [ "$(stat -c '%a' /etc/bevaka)" = 755 ]
out=$(/usr/sbin/bevakad --check-config --config /etc/bevaka/bevakad.conf 2>&1)
check "bevakad --check-config on the installed config: $out" [ $? -eq 0 ]
check "bevakad.service was not enabled on install" [ -L /etc/systemd/system/multi-user.target.wants/bevakad.service ]
for prog in /usr/sbin/bevakad /usr/bin/bevakactl /usr/bin/bevaka-feed /usr/bin/bevaka-notify; do
        check "$prog --version" bash -c "'$prog' --version | grep -qx '.* $version'"
done
cat > "$pkg/client.c" <<'EOF'
#include <bevaka/client.h>
int main(void) { bk_client_opts_t o = { .api_endpoint = "ipc:///nonexistent" }; bk_client_t *c = bk_client_new(&o); bk_client_destroy(&c); return 0; }
EOF
check "a program does not build with libbevaka-client-dev: $(cat "$pkg/cc.log" 2>/dev/null)" \
        bash -c "cc -o '$pkg/client' '$pkg/client.c' \$(pkg-config --cflags --libs bevaka-client) > '$pkg/cc.log' 2>&1 && '$pkg/client'"
check "remove: $(tail -5 "$pkg/remove.log" 2>/dev/null)" bash -c "dpkg --remove $PKGS > '$pkg/remove.log' 2>&1"
check "remove took the conffile" [ -f /etc/bevaka/bevakad.conf ]
check "remove left the daemon" [ ! -e /usr/sbin/bevakad ]
check "purge: $(tail -5 "$pkg/purge.log" 2>/dev/null)" bash -c "dpkg --purge $PKGS > '$pkg/purge.log' 2>&1"
for f in /usr/sbin/bevakad /lib/systemd/system/bevakad.service /etc/bevaka/bevakad.conf /etc/bevaka/notify.env \
         /etc/systemd/system/multi-user.target.wants/bevakad.service /var/lib/systemd/deb-systemd-helper-enabled/bevakad.service.dsh-also; do
        check "left after purge: $f" [ ! -e "$f" ]
done
for p in $PKGS; do
        check "$p still known to dpkg after purge" bash -c "! dpkg-query -W $p >/dev/null 2>&1 || [ -z \"\$(dpkg-query -W -f='\${Status}' $p | grep -v not-installed)\" ]"
done
[ $fail -eq 0 ] && rm -rf "$keep" && mkdir -p "$keep" && cp "${debs[@]}" "$keep/"    # the next run's previous build
finish
