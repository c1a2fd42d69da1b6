#!/usr/bin/env bash
# Checks a built mokit .deb without installing it (the arm64 one on an amd64 CI machine):
# control fields, the ELF machine of every program, the file list with owners and modes, the
# maintainer scripts, md5sums, and that dpkg-shlibdeps, run again on the unpacked files for the
# package's architecture, finds every shared library they need and that Depends has them.
# usage: tests/deb/check.sh PACKAGE.deb DEB_ARCH      prints TAP, exits 1 on a failure
set -u
cd "$(dirname "$0")/../.." || exit 1

if [ $# -ne 2 ] || [ ! -f "$1" ]; then
    echo "usage: tests/deb/check.sh PACKAGE.deb DEB_ARCH" >&2
    exit 1
fi
deb=$1 arch=$2
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1)) failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    for l in "$@"; do echo "#   $l"; done
}
check() { # check NAME COMMAND...: ok when the command succeeds
    local name=$1
    shift
    local out
    if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "${out:-(failed)}"; fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/debian/mokit
mkdir -p "$root"
dpkg-deb -x "$deb" "$root" && dpkg-deb -e "$deb" "$root/DEBIAN" || {
    echo "Bail out! cannot unpack $deb"
    exit 1
}

# ---- control
field() { dpkg-deb -f "$deb" "$1"; }
version=$(field Version)
check "Package is mokit" test "$(field Package)" = mokit
check "Architecture is $arch" test "$(field Architecture)" = "$arch"
check "file name is mokit_${version}_$arch.deb" test "$(basename "$deb")" = "mokit_${version}_$arch.deb"
deps=$(field Depends)
missing=""
for d in adduser fonts-dejavu-core sqlite3 tzdata libc6 libsqlite3-0 libmicrohttpd12 libusb-1.0-0 libgpiod2; do
    case ", $deps," in *", $d "* | *", $d,"*) ;; *) missing="$missing $d" ;; esac
done
check "Depends has the libraries and the scripts' tools" test -z "$missing"
[ -z "$missing" ] || echo "#   missing:$missing (Depends: $deps)"
size=$(cd "$root" && find . -path ./DEBIAN -prune -o ! -path . -printf '%y %s\n' |
    awk '$1 == "f" { s += int(($2 + 1023) / 1024); next } { s += 1 } END { print s }')
check "Installed-Size is the unpacked size ($size KiB)" test "$(field Installed-Size)" = "$size"
check "md5sums match every file" bash -c "cd '$root' && md5sum --quiet -c DEBIAN/md5sums &&
    test \$(wc -l <DEBIAN/md5sums) -eq \$(find . -path ./DEBIAN -prune -o -type f -print | wc -l)"

# ---- files
listing=$(dpkg-deb -c "$deb")
want=(
    "-rwxr-xr-x ./usr/bin/mokitd" "-rwxr-xr-x ./usr/bin/mokit"
    "-rw-r--r-- ./etc/mokit/mokitd.conf" "-rw-r--r-- ./lib/systemd/system/mokit.service"
    "-rw-r--r-- ./lib/udev/rules.d/60-mokit-printers.rules"
    "-rw-r--r-- ./lib/udev/rules.d/61-mokit-devices.rules"
    "-rw-r--r-- ./lib/udev/rules.d/62-mokit-gpio.rules"
    "-rw-r--r-- ./usr/share/mokit/web/index.html" "-rw-r--r-- ./usr/share/doc/mokit/copyright"
    "-rw-r--r-- ./usr/share/doc/mokit/README.md" "-rw-r--r-- ./usr/share/doc/mokit/README.Debian"
)
absent=""
for w in "${want[@]}"; do
    mode=${w%% *} path=${w#* }
    echo "$listing" | awk -v m="$mode" -v p="$path" '$1 == m && $2 == "root/root" && $6 == p { f = 1 } END { exit !f }' ||
        absent="$absent $path($mode)"
done
check "the programs, config, unit, udev rules, web UI and docs are there, root-owned, with their modes" test -z "$absent"
[ -z "$absent" ] && echo "#   $(echo "$listing" | wc -l) entries, $(echo "$listing" | grep -c ' \./usr/share/mokit/web/.*[^/]$') web files" ||
    echo "#   missing or wrong:$absent"
check "everything is owned by root:root" test -z "$(echo "$listing" | awk '$2 != "root/root"')"
check "nothing is group- or world-writable" test -z "$(echo "$listing" | awk 'substr($1, 6, 1) == "w" || substr($1, 9, 1) == "w"')"
check "only /etc, /lib and /usr" test -z "$(echo "$listing" | awk '{ print $6 }' |
    grep -Ev '^\./$|^\./(etc/mokit|lib/systemd/system|lib/udev/rules\.d|usr/bin|usr/share/(mokit|doc/mokit))(/|$)|^\./(etc|lib|lib/systemd|lib/udev|usr|usr/share|usr/share/doc)/$')"
check "the conffile is /etc/mokit/mokitd.conf" test "$(cat "$root/DEBIAN/conffiles")" = /etc/mokit/mokitd.conf
conf=$root/etc/mokit/mokitd.conf
check "the config listens on 0.0.0.0:80 with the packaged web UI and /var/lib/mokit" \
    test "$(grep -E '^(listen|web|data)[[:space:]]' "$conf" | sort | tr '\n' ';')" = \
    "data /var/lib/mokit;listen 0.0.0.0:80;web /usr/share/mokit/web;"
check "the config's settings are the three plus app/mokitd.conf's" \
    diff <(grep -Ev '^(#|$|listen |web |data )' "$conf") <(grep -Ev '^(#|$|listen |web |data )' app/mokitd.conf)

# ---- maintainer scripts
bad=""
for s in postinst prerm postrm; do
    f=$root/DEBIAN/$s
    [ -x "$f" ] && sh -n "$f" && head -n 1 "$f" | grep -qx '#!/bin/sh' && grep -qx 'set -e' "$f" &&
        ! grep -q '@[A-Z]*@' "$f" || bad="$bad $s"
done
check "maintainer scripts: executable POSIX sh, set -e, placeholders filled" test -z "$bad"
check "postinst knows its version ($version)" grep -qx "VERSION='$version'" "$root/DEBIAN/postinst"
if command -v checkbashisms >/dev/null 2>&1; then
    check "checkbashisms finds nothing" checkbashisms "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
fi

# ---- ELF files: the package's machine
case "$arch" in
arm64) machine=AArch64 ;;
amd64) machine="Advanced Micro Devices X86-64" ;;
armhf) machine=ARM ;;
*) machine="?" ;;
esac
elfs=() wrong=""
while IFS= read -r -d '' f; do
    [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
    elfs+=("$f")
    m=$(readelf -h "$f" | sed -n 's/^ *Machine: *//p')
    [ "$m" = "$machine" ] || wrong="$wrong ${f#"$root"}($m)"
done < <(find "$root" -path "$root/DEBIAN" -prune -o -type f -print0)
check "the ${#elfs[@]} ELF files are $machine" test -n "${elfs[*]}" -a -z "$wrong"
[ -z "$wrong" ] || echo "#  $wrong"
check "the ELF files are stripped" test -z "$(for f in "${elfs[@]}"; do readelf -S "$f" | grep -q '\.symtab' && echo "$f"; done)"

# ---- shared libraries: dpkg-shlibdeps again, for this architecture, on the unpacked files
needed=$(for f in "${elfs[@]}"; do readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; done | sort -u)
printf 'Source: mokit\n\nPackage: mokit\nArchitecture: any\n' >"$tmp/debian/control"
args=()
for f in "${elfs[@]}"; do args+=("-e${f#"$tmp/"}"); done
if (cd "$tmp" && DEB_HOST_ARCH=$arch dpkg-shlibdeps -O "${args[@]}") >"$tmp/shlibs" 2>"$tmp/shlibs.err" &&
    [ ! -s "$tmp/shlibs.err" ]; then
    ok "dpkg-shlibdeps ($arch) resolves the $(echo "$needed" | wc -w) libraries the programs need, with no warning"
else
    not_ok "dpkg-shlibdeps ($arch) resolves every library the programs need" "$(cat "$tmp/shlibs.err")"
fi
echo "#   NEEDED: $(echo $needed)"
lost=""
IFS=',' read -ra found <<<"$(sed -n 's/^shlibs:Depends=//p' "$tmp/shlibs")"
for d in "${found[@]}"; do
    d=${d# }
    case ", $deps," in *", $d,"*) ;; *) lost="$lost [$d]" ;; esac
done
check "Depends has every dependency dpkg-shlibdeps finds (${#found[@]})" test ${#found[@]} -gt 0 -a -z "$lost"
[ -z "$lost" ] || echo "#   not in Depends:$lost"

echo "1..$n"
[ "$failed" -eq 0 ]
