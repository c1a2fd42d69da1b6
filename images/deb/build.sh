#!/usr/bin/env bash
# Builds the mokit Debian package with dpkg-deb from a staged tree (no debhelper): called by
# `make deb` (images/package.mk), which has built BUILD_DIR/mokitd and BUILD_DIR/mokit first.
# usage: images/deb/build.sh BUILD_DIR DEB_ARCH VERSION OUT.deb
#   env: CROSS (tool prefix, aarch64-linux-gnu- for arm64), DEB_MAINTAINER, SOURCE_DATE_EPOCH
# The tree is BUILD_DIR/deb/debian/mokit (where dpkg-shlibdeps expects it); what goes where is
# in images/deb/README.md. `make deb-check` (tests/deb/check.sh) checks the result.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ $# -ne 4 ]; then
    echo "usage: images/deb/build.sh BUILD_DIR DEB_ARCH VERSION OUT.deb" >&2
    exit 1
fi
B=$1 ARCH=$2 VERSION=$3 OUT=$4
CROSS=${CROSS:-}
MAINTAINER=${DEB_MAINTAINER:-mokit maintainers <maintainers@mokit.invalid>}

die() {
    echo "images/deb/build.sh: $*" >&2
    exit 1
}

# An upstream version without epoch or revision: it is also the file name.
[[ $VERSION =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "'$VERSION' is not a Debian version (digits first, then letters, digits, . + ~)"
for f in "$B/mokitd" "$B/mokit"; do [ -x "$f" ] || die "$f is missing (make B=$B all)"; done

# dpkg-deb is always there; dpkg-shlibdeps comes with dpkg-dev.
if ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "images/deb/build.sh: installing dpkg-dev (dpkg-shlibdeps)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends dpkg-dev >/dev/null; }
    else
        die "dpkg-shlibdeps is missing. Run: sudo apt-get install -y dpkg-dev"
    fi
fi

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
umask 022
work=$B/deb
root=$work/debian/mokit
rm -rf "$work"
mkdir -p "$root/DEBIAN"

# Programs, stripped (the .deb is what goes onto the SD card; build/ keeps the -g ones).
for p in mokitd mokit; do
    install -D -m 0755 "$B/$p" "$root/usr/bin/$p"
    "${CROSS}strip" --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/$p"
done

# The web UI as it is in the source tree (no build step); its README is for developers.
while IFS= read -r -d '' f; do
    install -D -m 0644 "$f" "$root/usr/share/mokit/web/${f#app/web/}"
done < <(find app/web -type f ! -name '*.md' -print0)
[ -f "$root/usr/share/mokit/web/index.html" ] || die "app/web/index.html did not make it into the package"

# /etc/mokit/mokitd.conf from app/mokitd.conf: the kit's port 80 on every interface, the web UI
# where the package puts it; everything else (and the commented options) as it is.
conf=$root/etc/mokit/mokitd.conf
mkdir -p "$(dirname "$conf")"
awk '
/^# mokitd sample configuration/ {
    print "# mokitd configuration, from the mokit package: the service runs"
    print "# `mokitd --config /etc/mokit/mokitd.conf`. Your changes are kept on upgrades (a conffile)."
    next
}
/^listen[ \t]/ {
    print "# The package serves the kit on port 80 of every interface: http://mokit.local/"
    print "listen 0.0.0.0:80"
    if (!web) {
        print ""
        print "# The web UI files of the package."
        print "web /usr/share/mokit/web"
        web = 1
    }
    next
}
/^#?[ \t]*web[ \t]/ { if (!web) print "web /usr/share/mokit/web"; web = 1; next }
{ print }
' app/mokitd.conf >"$conf"
chmod 0644 "$conf"
for line in 'listen 0.0.0.0:80' 'web /usr/share/mokit/web' 'data /var/lib/mokit'; do
    [ "$(grep -cx "$line" "$conf")" -eq 1 ] || die "the packaged mokitd.conf should have the line '$line' once: check app/mokitd.conf"
done
echo /etc/mokit/mokitd.conf >"$root/DEBIAN/conffiles"

# udev rules and the service.
for r in hw/udev/6*-mokit-*.rules; do
    install -D -m 0644 "$r" "$root/lib/udev/rules.d/$(basename "$r")"
done
install -D -m 0644 images/deb/mokit.service "$root/lib/systemd/system/mokit.service"

# Documents, with the README's relative links kept (hw/..., app/doc/...).
doc=$root/usr/share/doc/mokit
install -D -m 0644 README.md "$doc/README.md"
install -D -m 0644 images/deb/README.md "$doc/README.Debian"
for f in hw/*.md hw/*.svg hw/*.csv hw/*.txt app/doc/*.md; do
    [ -f "$f" ] && install -D -m 0644 "$f" "$doc/$f"
done
# copyright (machine-readable format) from LICENSE.
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: mokit"
    echo
    echo "Files: *"
    echo "Copyright: $(sed -n 's/^Copyright (c) *//p' LICENSE | head -n 1)"
    echo "License: $(head -n 1 LICENSE | sed 's/ License$//')"
    # The licence text after the copyright line; blank lines become " ." in this format.
    awk 'seen && (text || NF) { text = 1; print (NF ? " " $0 : " .") } /^Copyright/ { seen = 1 }' LICENSE
} >"$doc/copyright"
chmod 0644 "$doc/copyright"

# Maintainer scripts, with this version.
for s in postinst prerm postrm; do
    sed "s/@VERSION@/$VERSION/g" "images/deb/$s" >"$root/DEBIAN/$s"
    chmod 0755 "$root/DEBIAN/$s"
done

# Depends: the shared libraries' packages (dpkg-shlibdeps, for the package's architecture: the
# arm64 libraries come from `images/deps.sh cross`), and what the scripts and the unit use.
mkdir -p "$work/debian"
printf 'Source: mokit\n\nPackage: mokit\nArchitecture: any\n' >"$work/debian/control"
if ! (cd "$work" && DEB_HOST_ARCH=$ARCH dpkg-shlibdeps -O -edebian/mokit/usr/bin/mokitd \
    -edebian/mokit/usr/bin/mokit) >"$work/shlibs.out" 2>"$work/shlibdeps.log"; then
    cat "$work/shlibdeps.log" >&2
    die "dpkg-shlibdeps failed for $ARCH (for arm64: images/deps.sh cross)"
fi
shlibs=$(sed -n 's/^shlibs:Depends=//p' "$work/shlibs.out")
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no libraries: $(cat "$work/shlibs.out")"
# fonts: the printers' text; adduser: the user and groups; sqlite3: the backup before migrations;
# tzdata: the kit's time zone (TZ=Asia/Ho_Chi_Minh in the unit).
depends="$shlibs, adduser, fonts-dejavu-core, sqlite3, tzdata"

# Installed-Size as dpkg-gencontrol counts it: KiB per file rounded up, 1 per other entry.
size=$(cd "$root" && find . -path ./DEBIAN -prune -o ! -path . -printf '%y %s\n' |
    awk '$1 == "f" { s += int(($2 + 1023) / 1024); next } { s += 1 } END { print s }')

sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$size/" \
    -e "s|@MAINTAINER@|$MAINTAINER|" -e "s/@DEPENDS@/$depends/" images/deb/control >"$root/DEBIAN/control"

(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
    xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
find "$root" -type d -exec chmod 0755 {} +

mkdir -p "$(dirname "$OUT")"
dpkg-deb --root-owner-group -Zxz --build "$root" "$OUT.tmp" >/dev/null
mv "$OUT.tmp" "$OUT"
echo "  DEB     $OUT ($(du -k "$OUT" | cut -f1) KiB, Installed-Size $size KiB)"
