#!/bin/bash
# mmdebstrap customize hook of rootfs.sh, run on the build machine once the packages (and the
# mokit package) are installed: the kit's files (overlay/), names, time zone, boot settings,
# services, the kiosk user, optional SSH.
# Usage: customize.sh ROOT [SSH_PUBLIC_KEY_FILE]
set -eu

root=$1
ssh_key=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/disk.env"
in_root() { chroot "$root" "$@"; }

# The image's own files, owned by root, modes as in the repository (scripts 0755).
tar -C "$here/overlay" --owner=0 --group=0 -cf - . | tar -C "$root" --no-overwrite-dir -xf -

# Names, time zone, language (C.UTF-8 is built into the C library: no locales to generate; the
# web UI brings its own Vietnamese and English texts).
echo mokit >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	mokit
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
ln -sfn /usr/share/zoneinfo/Asia/Ho_Chi_Minh "$root/etc/localtime"
echo Asia/Ho_Chi_Minh >"$root/etc/timezone"
echo LANG=C.UTF-8 >"$root/etc/default/locale"

cat >"$root/etc/fstab" <<EOF
# The SD card (images/image/assemble.sh): 1 boot (FAT32), 2 root (ext4, grown on first boot).
PARTUUID=$DISK_ID-02  /               ext4  defaults,noatime,errors=remount-ro                0 1
PARTUUID=$DISK_ID-01  /boot/firmware  vfat  defaults,noatime,fmask=0077,dmask=0077,nofail   0 2
EOF

# Boot files. Debian's raspi-firmware writes config.txt and cmdline.txt and copies the kernel,
# initrd and device trees to /boot/firmware whenever the kernel or the initrd changes, from
# /etc/default/raspi-firmware (settings below), raspi-firmware-custom (the kit's config.txt
# lines, in overlay/) and raspi-extra-cmdline (overlay/).
#  - ROOTPART: the SD card's root partition, not the build machine's.
#  - CONSOLES: the screen only. "auto" would also put a console on the header UART, which is the
#    ticket printer's (console=serial0/ttyAMA0 is what Raspberry Pi OS has to remove).
#  - CMA=0: no cma= on the command line. Each Pi's device tree reserves 64 MiB of CMA (the
#    display's buffers), the Pi 4's below 1 GiB where its devices reach; Debian's default
#    cma=64M would override that and place it anywhere.
cat >>"$root/etc/default/raspi-firmware" <<EOF

# mokit SD-card image (images/image/customize.sh)
ROOTPART="PARTUUID=$DISK_ID-02"
CONSOLES="tty0"
CMA=0
EOF
# The printer's UART overlay (disable-bt.dts: why it is the kit's own), checked against every
# device tree of the kernel that has Bluetooth on its PL011.
dtc -@ -q -I dts -O dtb -o "$root/usr/local/share/mokit-image/disable-bt.dtbo" \
    "$here/disable-bt.dts"
kver=$(basename "$(ls -1 "$root"/boot/vmlinuz-* | sort -V | tail -n 1)")
kver=${kver#vmlinuz-}
for dtb in "$root/usr/lib/linux-image-$kver/broadcom/"bcm*.dtb; do
    fdtget -l "$dtb" /soc/serial@7e201000 2>/dev/null | grep -qx bluetooth || continue
    fdtoverlay -i "$dtb" -o /dev/null "$root/usr/local/share/mokit-image/disable-bt.dtbo" || {
        echo "customize.sh: disable-bt.dtbo does not apply to $(basename "$dtb")" >&2
        exit 1
    }
done
install -D -m 0644 "$root/usr/local/share/mokit-image/disable-bt.dtbo" \
    "$root/boot/firmware/overlays/disable-bt.dtbo"

# The initrd, made once now (rootfs.sh kept update-initramfs a no-op until here), with the
# modules of overlay/etc/initramfs-tools. Its post-update hook (raspi-firmware) then copies the
# kernel, initrd and device trees to /boot/firmware and writes config.txt and cmdline.txt.
if [ -f "$root/usr/sbin/update-initramfs.distrib" ]; then
    rm -f "$root/usr/sbin/update-initramfs"
    in_root dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
fi
in_root update-initramfs -c -k "$kver"
[ -f "$root/boot/firmware/initrd.img-$kver" ] && grep -q '^dtoverlay=disable-bt$' \
    "$root/boot/firmware/config.txt" || {
    echo "customize.sh: raspi-firmware did not fill /boot/firmware" >&2
    exit 1
}

# Services. NetworkManager, avahi-daemon, systemd-timesyncd (keeps the clock from going back at
# each boot: the Pi has no clock battery) and mokit.service are enabled by their packages.
in_root systemctl -q enable mokit-firstboot.service mokit-growroot.service mokit-wifi.service \
    mokit-ready.service mokit-kiosk.service
# A lean boot: nothing waits for a network that will not come; no apt timers without internet;
# no systemd-firstboot questions on the console of a machine nobody logs in to.
# NetworkManager-wait-online is masked: enabling NetworkManager (its first-boot preset) would
# enable it again through the unit's Also=.
in_root systemctl -q disable apt-daily.timer apt-daily-upgrade.timer
in_root systemctl -q disable NetworkManager-wait-online.service
in_root systemctl -q mask NetworkManager-wait-online.service
in_root systemctl -q mask systemd-firstboot.service
# Never a login prompt on the printer's UART.
in_root systemctl -q mask serial-getty@ttyAMA0.service

# The queue screen's user: no password, no shell, no group beyond its own. Its logind session
# (PAM mokit-kiosk) gives it the display and keyboard while it runs.
if ! in_root getent passwd kiosk >/dev/null; then
    in_root useradd --system --create-home --home-dir /var/lib/kiosk \
        --shell /usr/sbin/nologin --comment "mokit queue screen" kiosk
fi

# Root has no password (Debian's default in mmdebstrap is a locked root): nobody logs in to a kit
# that travels. SSH only in an image built with SSH_KEY=FILE: that key only, no passwords, and
# host keys made by each kit's first boot.
in_root passwd -l root >/dev/null
if [ -n "$ssh_key" ]; then
    install -d -m 0700 "$root/root/.ssh"
    install -m 0600 "$ssh_key" "$root/root/.ssh/authorized_keys"
    install -d -m 0755 "$root/etc/ssh/sshd_config.d"
    printf '# mokit SD-card image: the key of SSH_KEY= only.\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n' \
        >"$root/etc/ssh/sshd_config.d/mokit.conf"
    rm -f "$root"/etc/ssh/ssh_host_*
fi

# systemd enables, on a machine's first boot (an empty /etc/machine-id), every unit its presets
# allow: Debian's allow nearly all, which would undo the choices above (NetworkManager-wait-online,
# apt timers, systemd-networkd...). This preset is what the image has enabled, and no more.
install -d -m 0755 "$root/etc/systemd/system-preset"
{
    echo "# The SD-card image's enabled units, frozen at its build (images/image/customize.sh)."
    in_root systemctl list-unit-files --state=enabled --no-legend --no-pager |
        awk '{print "enable " $1}'
    echo "disable *"
} >"$root/etc/systemd/system-preset/00-mokit.preset"

# The build machine's resolver settings do not travel: NetworkManager writes /etc/resolv.conf.
# No machine id either (mmdebstrap empties it too): each kit makes its own on its first boot.
rm -f "$root/etc/resolv.conf" "$root/var/lib/dbus/machine-id"
: >"$root/etc/machine-id"
