#!/bin/bash
# What building the SD-card image needs on the build machine (Debian or Ubuntu, amd64 or arm64):
# its packages, and arm64 programs run through qemu-user (binfmt_misc) so that the Pi's package
# scripts run during the build. As root it installs and registers what is missing; otherwise
# it says what to run and exits 1.
# Usage: host.sh rootfs|image     (rootfs: what make image-test needs; image: and the disk tools)
set -eu

rootfs_pkgs="mmdebstrap qemu-user-static arch-test debian-archive-keyring e2fsprogs device-tree-compiler curl python3"
image_pkgs="$rootfs_pkgs mtools dosfstools fdisk bmap-tools xz-utils"
case "${1:-}" in
rootfs) want=$rootfs_pkgs ;;
image) want=$image_pkgs ;;
*) sed -n '6s/^# //p' "$0" >&2; exit 1 ;;
esac
root=0
[ "$(id -u)" -ne 0 ] || root=1
if [ $root = 0 ]; then
    echo "host.sh: the image is built as root (mmdebstrap's root mode, chroot, and file owners" \
        "kept for mkfs.ext4 -d): sudo make ..." >&2
fi

missing=""
for p in $want; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ $root = 0 ]; then
        echo "host.sh: the image build needs these Debian packages:$missing" >&2
        echo "Run: sudo apt-get install -y --no-install-recommends$missing" >&2
        exit 1
    fi
    echo "host.sh: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
[ $root = 1 ] || exit 1

# arm64 programs through qemu-aarch64. The F flag (the kernel opens the interpreter at
# registration) lets it run inside the chroot without a copy of qemu there.
bm=/proc/sys/fs/binfmt_misc
if [ ! -e "$bm/register" ]; then
    mount -t binfmt_misc binfmt_misc "$bm" 2>/dev/null || {
        echo "host.sh: binfmt_misc is not mounted on $bm and cannot be mounted here. In a" \
            "container, mount it (and register qemu-aarch64) on the host, or run the" \
            "container privileged." >&2
        exit 1
    }
fi
if [ ! -e "$bm/qemu-aarch64" ]; then
    conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    if [ -f "$conf" ]; then
        grep -v '^#' "$conf" >"$bm/register" || {
            echo "host.sh: could not register qemu-aarch64 from $conf in $bm/register" >&2
            exit 1
        }
    elif command -v update-binfmts >/dev/null; then
        update-binfmts --enable qemu-aarch64
    fi
fi
if [ "$(head -n 1 "$bm/qemu-aarch64" 2>/dev/null)" != enabled ]; then
    echo "host.sh: qemu-aarch64 is not registered in binfmt_misc (install qemu-user-static;" \
        "echo 1 > $bm/qemu-aarch64 if it is disabled)" >&2
    exit 1
fi
grep -q '^flags:.*F' "$bm/qemu-aarch64" || {
    echo "host.sh: qemu-aarch64 is registered without the F flag: the chroot would need its own" \
        "copy of qemu. Remove it (echo -1 > $bm/qemu-aarch64) and run this again." >&2
    exit 1
}
arch-test arm64 >/dev/null || {
    echo "host.sh: arm64 programs do not run here (arch-test arm64)" >&2
    exit 1
}
