#!/bin/bash
# The SD-card image from the root file system directory (rootfs.sh): a DOS partition table, a
# FAT32 boot partition (what the directory has in /boot/firmware: Raspberry Pi firmware,
# config.txt, cmdline.txt, kernel, initrd, device trees, overlays) and an ext4 root partition
# (the rest). No loop device and no mount, so it runs in a container or CI: mkfs.vfat and mcopy
# (mtools) fill the FAT file system in a file, mkfs.ext4 -d fills the ext4 one from the
# directory, sfdisk writes the partition table, dd puts the two in place (holes stay holes).
# Usage: assemble.sh ROOTFS OUT.img       (writes OUT.img and, with bmaptool, OUT.img.bmap)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/disk.env"
[ $# -eq 2 ] || { sed -n '8s/^# //p' "$0" >&2; exit 1; }
root=$1 img=$2
[ -f "$root/boot/firmware/config.txt" ] ||
    { echo "assemble.sh: $root/boot/firmware has no config.txt: not a rootfs.sh tree" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "assemble.sh: run as root (the files keep their owners)" >&2; exit 1; }

mkdir -p "$(dirname "$img")"
work=$(mktemp -d "$img.parts.XXXXXX")
moved=0
cleanup() {
    # The boot files go back into the tree, whatever happened.
    if [ $moved = 1 ]; then
        rmdir "$root/boot/firmware" && mv "$work/firmware" "$root/boot/firmware"
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# 1. The boot partition. FAT32 with the disk's id as its volume id.
export MTOOLS_SKIP_CHECK=1
mkfs.vfat -F 32 -n "$BOOT_LABEL" -i "$DISK_ID" -C "$work/boot.fat" $((BOOT_SIZE_MIB * 1024)) \
    >/dev/null
mcopy -i "$work/boot.fat" -s -p -m -Q "$root/boot/firmware/"* ::/

# 2. The root partition: everything but the boot files, which stay out of it (only the empty
# mount point /boot/firmware is kept). Sized to what it holds plus a fifth and 256 MiB: the first
# boot grows it to the card.
mv "$root/boot/firmware" "$work/firmware"
moved=1
mkdir -m 0755 "$root/boot/firmware"
used_mib=$(du -s -x --block-size=1M "$root" | cut -f1)
root_mib=$(((used_mib + used_mib / 5 + 256 + 3) / 4 * 4))
truncate -s "${root_mib}M" "$work/root.ext4"
mkfs.ext4 -q -F -L "$ROOT_LABEL" -m 2 -d "$root" "$work/root.ext4"
rmdir "$root/boot/firmware"
mv "$work/firmware" "$root/boot/firmware"
moved=0

# 3. The disk: partition table, then the two file systems at their places.
total_mib=$((BOOT_START_MIB + BOOT_SIZE_MIB + root_mib))
rm -f "$img" "$img.bmap"
truncate -s "${total_mib}M" "$img"
sfdisk --quiet "$img" <<EOF
label: dos
label-id: 0x$DISK_ID
unit: sectors
start=$((BOOT_START_MIB * 2048)), size=$((BOOT_SIZE_MIB * 2048)), type=c, bootable
start=$(((BOOT_START_MIB + BOOT_SIZE_MIB) * 2048)), type=83
EOF
dd if="$work/boot.fat" of="$img" bs=1M seek="$BOOT_START_MIB" conv=notrunc,sparse status=none
dd if="$work/root.ext4" of="$img" bs=1M seek=$((BOOT_START_MIB + BOOT_SIZE_MIB)) \
    conv=notrunc,sparse status=none

# 4. A block map: bmaptool writes only the blocks that hold data, and checks them.
if command -v bmaptool >/dev/null; then
    bmaptool -q create -o "$img.bmap" "$img"
fi
echo "assemble.sh: $img: ${total_mib} MiB (boot ${BOOT_SIZE_MIB} MiB, root ${root_mib} MiB," \
    "$(du -m "$img" | cut -f1) MiB of data)"
