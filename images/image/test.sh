#!/bin/bash
# Checks of the SD-card image, in TAP (exit status 1 when one fails).
#   test.sh --rootfs DIR   the root file system (rootfs.sh): the package, the services, the
#                          kit's settings, mokitd under qemu in it, then the first boot run in
#                          it (it changes DIR: a tree built for the test only)
#   test.sh --image IMG    the assembled image: partition table, boot files, root file system
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/disk.env"
n=0
failed=0

ok() { # DESCRIPTION: the last command's status
    local rc=$?
    n=$((n + 1))
    if [ $rc -eq 0 ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        failed=$((failed + 1))
    fi
}
is() { # GOT WANT DESCRIPTION
    [ "$1" = "$2" ]
    ok "$3"
    [ "$1" = "$2" ] || echo "#   got '$1', want '$2'"
}

rootfs_tests() {
    local R=$1
    in_root() { chroot "$R" "$@"; }

    # The package.
    is "$(in_root dpkg-query -W -f='${Status}' mokit 2>&1)" "install ok installed" \
        "mokit package installed"
    is "$(in_root dpkg-query -W -f='${Architecture}' mokit 2>&1)" arm64 "mokit package is arm64"
    for p in linux-image-arm64 raspi-firmware firmware-brcm80211 network-manager dnsmasq-base \
        avahi-daemon cage chromium cloud-guest-utils tzdata fonts-dejavu-core; do
        is "$(in_root dpkg-query -W -f='${Status}' "$p" 2>&1)" "install ok installed" \
            "$p installed"
    done
    ! in_root dpkg-query -W -f='${Status}' openssh-server 2>/dev/null | grep -q 'ok installed' ||
        [ -s "$R/root/.ssh/authorized_keys" ]
    ok "no SSH server, unless built with a key (SSH_KEY=)"
    in_root dpkg --audit >/dev/null 2>&1 && [ -z "$(in_root dpkg --audit 2>&1)" ]
    ok "dpkg --audit: no half-installed package"

    # Services.
    for u in mokit.service mokit-firstboot.service mokit-growroot.service mokit-wifi.service \
        mokit-ready.service mokit-kiosk.service NetworkManager.service avahi-daemon.service \
        systemd-timesyncd.service; do
        is "$(in_root systemctl is-enabled "$u" 2>&1)" enabled "$u enabled"
    done
    is "$(in_root systemctl is-enabled NetworkManager-wait-online.service 2>&1)" masked \
        "NetworkManager-wait-online masked (nothing waits for a network that will not come)"
    for u in apt-daily.timer apt-daily-upgrade.timer; do
        is "$(in_root systemctl is-enabled "$u" 2>&1)" disabled "$u disabled (no internet)"
    done
    is "$(in_root systemctl is-enabled systemd-firstboot.service 2>&1)" masked \
        "systemd-firstboot masked (it would ask for a locale on the console)"
    is "$(in_root systemctl get-default 2>&1)" graphical.target "default target"
    local out
    if command -v systemd-analyze >/dev/null; then
        out=$(systemd-analyze verify --root="$R" /etc/systemd/system/mokit-firstboot.service \
            /etc/systemd/system/mokit-growroot.service /etc/systemd/system/mokit-wifi.service \
            /etc/systemd/system/mokit-ready.service /etc/systemd/system/mokit-kiosk.service 2>&1)
        [ -z "$out" ]
        ok "systemd-analyze verify: the image's units"
        [ -z "$out" ] || echo "$out" | sed 's/^/#   /'
    fi
    grep -q '^ExecStart=-/usr/local/lib/mokit-image/ready' \
        "$R/etc/systemd/system/mokit-ready.service"
    ok "mokit-ready cannot fail the boot (ExecStart=-)"
    ! grep -rqs 'network-online' "$R"/etc/systemd/system/mokit*.service \
        "$R"/lib/systemd/system/mokit.service
    ok "no mokit unit waits for network-online.target"

    # Names, time zone, language.
    is "$(cat "$R/etc/hostname")" mokit "host name mokit"
    grep -Eq '^127\.0\.1\.1[[:space:]]+mokit$' "$R/etc/hosts"
    ok "/etc/hosts names mokit"
    is "$(readlink "$R/etc/localtime")" /usr/share/zoneinfo/Asia/Ho_Chi_Minh "/etc/localtime"
    is "$(cat "$R/etc/timezone")" Asia/Ho_Chi_Minh "/etc/timezone"
    is "$(in_root env -u TZ date -d @1700000000 +%z 2>&1)" +0700 "local time is UTC+7 in the root"
    [ ! -e "$R/etc/resolv.conf" ] || ! grep -q nameserver "$R/etc/resolv.conf"
    ok "no build machine's resolv.conf left (NetworkManager writes it)"
    is "$(cat "$R/etc/machine-id")" "" "empty machine-id (each kit makes its own)"

    # Boot files: config.txt from Debian's raspi-firmware plus the kit's lines.
    local cfg=$R/boot/firmware/config.txt cmd=$R/boot/firmware/cmdline.txt
    for line in enable_uart=1 dtoverlay=disable-bt; do
        grep -qx "$line" "$R/etc/default/raspi-firmware-custom"
        ok "raspi-firmware-custom: $line"
        grep -qx "$line" "$cfg"
        ok "config.txt: $line"
    done
    grep -q "root=PARTUUID=$DISK_ID-02 " "$cmd"
    ok "cmdline.txt: root=PARTUUID=$DISK_ID-02"
    ! grep -Eq 'console=(serial|ttyAMA|ttyS)' "$cmd"
    ok "cmdline.txt: no serial console (the header UART is the printer's)"
    ! grep -q 'cma=' "$cmd"
    ok "cmdline.txt: no cma= (the Pi 4's device tree places its own)"
    [ -s "$R/boot/firmware/overlays/disable-bt.dtbo" ]
    ok "overlays/disable-bt.dtbo"
    for f in start4.elf fixup4.dat start.elf bootcode.bin bcm2711-rpi-4-b.dtb \
        bcm2837-rpi-3-b-plus.dtb; do
        [ -s "$R/boot/firmware/$f" ]
        ok "boot files: $f"
    done
    local kernel initrd
    kernel=$(sed -n 's/^kernel=//p' "$cfg")
    initrd=$(sed -n 's/^initramfs //p' "$cfg")
    [ -n "$kernel" ] && [ -s "$R/boot/firmware/$kernel" ]
    ok "boot files: the kernel config.txt names ($kernel)"
    [ -n "$initrd" ] && [ -s "$R/boot/firmware/$initrd" ]
    ok "boot files: the initrd config.txt names ($initrd)"
    local initrd_files
    initrd_files=$(in_root lsinitramfs "/boot/firmware/$initrd" 2>/dev/null)
    for f in kernel/drivers/mmc/host/sdhci-iproc.ko kernel/drivers/mmc/host/bcm2835.ko \
        kernel/fs/ext4/ext4.ko kernel/drivers/usb/storage/usb-storage.ko usr/sbin/fsck.ext4; do
        grep -q "$f" <<<"$initrd_files"
        ok "initrd has ${f##*/} (the SD card, USB drives, the root file system and its check)"
    done
    if command -v fdtoverlay >/dev/null; then
        fdtoverlay -i "$R/boot/firmware/bcm2711-rpi-4-b.dtb" -o /dev/null \
            "$R/boot/firmware/overlays/disable-bt.dtbo"
        ok "disable-bt.dtbo applies to the Pi 4 device tree"
    fi
    # mokitd.conf's station controls name their lines GPIO<n>: so must the kernel's device trees.
    local dtb names bad
    for dtb in bcm2711-rpi-4-b bcm2711-rpi-400 bcm2837-rpi-3-b bcm2837-rpi-3-b-plus; do
        read -r -a names <<<"$(fdtget -t s "$R/boot/firmware/$dtb.dtb" /soc/gpio@7e200000 \
            gpio-line-names 2>/dev/null)"
        bad=""
        for g in 5 6 12 13 16 17 20 22 23 24 27; do
            [ "${names[$g]:-}" = "GPIO$g" ] || bad="$bad $g=${names[$g]:-none}"
        done
        [ -z "$bad" ]
        ok "$dtb.dtb names the kit's lines GPIO<n>${bad:+ (not:$bad)}"
    done
    grep -q 'PARTUUID=.*-02[[:space:]]\+/[[:space:]]' "$R/etc/fstab" &&
        grep -q 'PARTUUID=.*-01[[:space:]]\+/boot/firmware[[:space:]]' "$R/etc/fstab"
    ok "fstab: root and /boot/firmware"
    ls "$R"/lib/firmware/brcm/brcmfmac43455-sdio.bin >/dev/null 2>&1 &&
        ls "$R"/lib/firmware/brcm/brcmfmac43455-sdio.txt >/dev/null 2>&1
    ok "Wi-Fi firmware of the Pi 3B+/4 (brcmfmac43455)"

    # The mokit user and its files.
    local groups
    groups=" $(in_root id -nG mokit 2>&1) "
    for g in lp dialout gpio; do
        [[ $groups == *" $g "* ]]
        ok "user mokit in group $g"
    done
    [[ $groups != *" sudo "* && $groups != *" root "* ]]
    ok "user mokit in no admin group"
    is "$(in_root getent passwd mokit | cut -d: -f6,7)" /var/lib/mokit:/usr/sbin/nologin \
        "user mokit: home /var/lib/mokit, no login shell"
    is "$(in_root stat -c '%U:%G %a' /var/lib/mokit)" "mokit:mokit 750" "/var/lib/mokit mokit:mokit 0750"
    grep -Eq '^listen[[:space:]]+0\.0\.0\.0:80$' "$R/etc/mokit/mokitd.conf"
    ok "mokitd.conf: listen 0.0.0.0:80 (http://mokit.local/)"
    [ -f "$R/etc/udev/rules.d/70-mokit-kiosk.rules" ] && [ -f "$R/etc/pam.d/mokit-kiosk" ] &&
        in_root getent passwd kiosk >/dev/null
    ok "kiosk: user, PAM session, display hot-plug rule"
    grep -q '^ssid=@SSID@$' "$R/usr/local/share/mokit-image/hotspot.nmconnection"
    ok "hotspot template"

    # The programs run (under qemu-aarch64, through binfmt_misc).
    local v
    v=$(in_root dpkg-query -W -f='${Version}' mokit 2>&1)
    in_root /usr/bin/mokitd --version 2>&1 | grep -qF "${v%%[+~-]*}"
    ok "mokitd --version runs in the root (package $v)"
    in_root /usr/bin/mokit --help >/dev/null 2>&1
    ok "mokit --help runs in the root"

    # mokitd, as the mokit user with its groups and the installed config, answers. On a free port
    # other than 80 (the command line wins over the config); chroot --userspec execs mokitd, so
    # $! is mokitd itself and is stopped at the end.
    local port pid body ids
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    ids="--userspec=$(in_root id -u mokit):$(in_root id -g mokit) --groups=$(in_root id -G mokit | tr ' ' ,)"
    # shellcheck disable=SC2086
    chroot $ids "$R" /usr/bin/mokitd --config /etc/mokit/mokitd.conf \
        --listen "127.0.0.1:$port" >"$R/tmp/mokitd.log" 2>&1 &
    pid=$!
    body=""
    for _ in $(seq 150); do
        body=$(curl -fsS "http://127.0.0.1:$port/api/v1/health" 2>/dev/null) && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    grep -Eq '"status": ?"ok"' <<<"$body"
    ok "mokitd in the root answers /api/v1/health ($body)"
    curl -fsS "http://127.0.0.1:$port/" 2>/dev/null | grep -qi '<html'
    ok "mokitd serves the web UI from /usr/share/mokit/web"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [ ! -s "$R/tmp/mokitd.log" ] || sed 's/^/#   mokitd: /' "$R/tmp/mokitd.log" | tail -n 3
    rm -f "$R/tmp/mokitd.log"

    # A kit's first boot applies the presets (an empty machine-id): they must change nothing.
    local before after
    before=$(in_root systemctl list-unit-files --state=enabled --no-legend --no-pager 2>&1)
    in_root systemctl preset-all --preset-mode=enable-only >/dev/null 2>&1
    after=$(in_root systemctl list-unit-files --state=enabled --no-legend --no-pager 2>&1)
    [ -n "$before" ] && [ "$before" = "$after" ]
    ok "first-boot presets enable nothing more"
    [ "$before" = "$after" ] || diff <(echo "$before") <(echo "$after") | sed 's/^/#   /'

    # The first boot, run in the root (what mokit-firstboot.service does on the Pi).
    local rc
    out=$(in_root /usr/local/sbin/mokit-firstboot 2>&1)
    rc=$?
    (exit $rc)
    ok "mokit-firstboot runs"
    [ $rc -eq 0 ] || echo "$out" | sed 's/^/#   /'
    local wc=$R/etc/mokit/wifi.conf nm=$R/etc/NetworkManager/system-connections/mokit-hotspot.nmconnection
    is "$(in_root stat -c '%U:%G %a' /etc/mokit/wifi.conf 2>&1)" "root:mokit 640" \
        "wifi.conf root:mokit 0640"
    local ssid pass
    ssid=$(sed -n 's/^ssid //p' "$wc")
    pass=$(sed -n 's/^password //p' "$wc")
    [[ $ssid =~ ^mokit-[0-9A-F]{4}$ ]]
    ok "Wi-Fi name mokit-XXXX ($ssid)"
    [[ $pass =~ ^[abcdefghijkmnpqrstuvwxyz23456789]{12}$ ]]
    ok "Wi-Fi password: 12 characters of the unambiguous alphabet"
    is "$(grep -c '^url ' "$wc")" 2 "wifi.conf: two URLs"
    grep -qx 'url http://mokit.local/' "$wc" && grep -qx 'url http://10.42.0.1/' "$wc"
    ok "wifi.conf: http://mokit.local/ and http://10.42.0.1/"
    is "$(in_root stat -c '%U %a' /etc/NetworkManager/system-connections/mokit-hotspot.nmconnection 2>&1)" \
        "root 600" "hotspot connection root 0600"
    for kv in "ssid=$ssid" "psk=$pass" mode=ap band=bg key-mgmt=wpa-psk proto=rsn\; pmf=1 \
        method=shared address1=10.42.0.1/24 autoconnect=true; do
        grep -qxF "$kv" "$nm"
        ok "hotspot connection: $kv"
    done
    grep -Eq '^uuid=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' "$nm"
    ok "hotspot connection: a uuid"
    for line in 'panel doctor next=GPIO22 clk=GPIO23 dio=GPIO24' \
        'panel pharmacy next=GPIO27 clk=GPIO16 dio=GPIO20' \
        'leds ready=GPIO5 attention=GPIO6 busy=GPIO13' 'buzzer GPIO12'; do
        is "$(grep -cxF "$line" "$R/etc/mokit/mokitd.conf")" 1 "mokitd.conf: $line"
    done
    local printers
    printers=$(in_root runuser -u mokit -- mokit --data /var/lib/mokit --json printer list 2>&1)
    [[ $printers == *'"ticket"'* && $printers == *'escpos-58'* && $printers == *'"usb:"'* ]]
    ok "default printer: ticket, escpos-58, usb:"
    [ -f "$R/var/lib/mokit-image/firstboot-done" ]
    ok "first boot marked done"
    grep -qx 'ConditionPathExists=!/var/lib/mokit-image/firstboot-done' \
        "$R/etc/systemd/system/mokit-firstboot.service"
    ok "mokit-firstboot.service skipped from now on (its condition on the mark)"

    # Again (a power cut during the first boot): nothing twice, the Wi-Fi kept.
    in_root /usr/local/sbin/mokit-firstboot >/dev/null 2>&1
    ok "mokit-firstboot runs again"
    is "$(grep -c '^panel doctor' "$R/etc/mokit/mokitd.conf")" 1 "no panel line twice"
    printers=$(in_root runuser -u mokit -- mokit --data /var/lib/mokit --json printer list 2>&1)
    is "$(grep -o '"escpos-58"' <<<"$printers" | wc -l)" 1 "one printer"
    is "$(sed -n 's/^password //p' "$wc")" "$pass" "the Wi-Fi password kept"
    is "$(in_root stat -c '%U:%G' /var/lib/mokit/mokit.db 2>&1)" mokit:mokit "mokit.db belongs to mokit"

    # A new password from the boot partition (mokit-wifi.txt, written on any computer).
    local uuid
    uuid=$(sed -n 's/^uuid=//p' "$nm")
    printf 'ssid Tram Y Te 3\r\npassword kit-pass-2024\r\n' >"$R/boot/firmware/mokit-wifi.txt"
    in_root /usr/local/sbin/mokit-wifi apply /boot/firmware/mokit-wifi.txt >/dev/null 2>&1
    ok "mokit-wifi apply"
    [ ! -e "$R/boot/firmware/mokit-wifi.txt" ]
    ok "mokit-wifi.txt removed from the boot partition"
    grep -qx 'ssid Tram Y Te 3' "$wc" && grep -qx 'password kit-pass-2024' "$wc" &&
        grep -qx 'ssid=Tram Y Te 3' "$nm" && grep -qx 'psk=kit-pass-2024' "$nm"
    ok "new name and password in wifi.conf and the hotspot connection"
    is "$(sed -n 's/^uuid=//p' "$nm")" "$uuid" "hotspot connection keeps its uuid"
    printf 'password short\n' >"$R/boot/firmware/mokit-wifi.txt"
    ! in_root /usr/local/sbin/mokit-wifi apply /boot/firmware/mokit-wifi.txt >/dev/null 2>&1 &&
        [ -e "$R/boot/firmware/mokit-wifi.txt.rejected" ] && grep -qx 'password kit-pass-2024' "$wc"
    ok "a too short password is rejected, the Wi-Fi unchanged"
    rm -f "$R/boot/firmware/mokit-wifi.txt.rejected"
}

image_tests() {
    local img=$1 table boot_off root_off
    table=$(sfdisk -d "$img" 2>&1)
    grep -q "^label-id: 0x$DISK_ID$" <<<"$table"
    ok "DOS partition table, disk id 0x$DISK_ID"
    grep -Eq "^$img""1 : start= *$((BOOT_START_MIB * 2048)), size= *$((BOOT_SIZE_MIB * 2048)), type=c, bootable$" <<<"$table"
    ok "partition 1: FAT32 (LBA), ${BOOT_SIZE_MIB} MiB at ${BOOT_START_MIB} MiB, bootable"
    grep -Eq "^$img""2 : start= *$(((BOOT_START_MIB + BOOT_SIZE_MIB) * 2048)), size= *[0-9]+, type=83$" <<<"$table"
    ok "partition 2: Linux, after it"
    boot_off=$((BOOT_START_MIB * 1048576))
    root_off=$(((BOOT_START_MIB + BOOT_SIZE_MIB) * 1048576))
    export MTOOLS_SKIP_CHECK=1
    local fat="$img@@$boot_off" files
    files=$(mdir -i "$fat" -b ::/ 2>&1)
    for f in config.txt cmdline.txt start4.elf fixup4.dat bootcode.bin start.elf \
        bcm2711-rpi-4-b.dtb bcm2711-rpi-400.dtb bcm2837-rpi-3-b-plus.dtb bcm2837-rpi-3-b.dtb \
        bcm2837-rpi-zero-2-w.dtb; do
        grep -qx "::/$f" <<<"$files"
        ok "boot partition: $f"
    done
    local cfg kernel initrd
    cfg=$(mtype -i "$fat" ::/config.txt 2>&1)
    for line in enable_uart=1 dtoverlay=disable-bt arm_64bit=1; do
        grep -qx "$line" <<<"$cfg"
        ok "boot partition config.txt: $line"
    done
    kernel=$(sed -n 's/^kernel=//p' <<<"$cfg")
    initrd=$(sed -n 's/^initramfs //p' <<<"$cfg")
    grep -qx "::/$kernel" <<<"$files" && [ -n "$kernel" ]
    ok "boot partition: the kernel ($kernel)"
    grep -qx "::/$initrd" <<<"$files" && [ -n "$initrd" ]
    ok "boot partition: the initrd ($initrd)"
    mdir -i "$fat" -b ::/overlays 2>&1 | grep -qx '::/overlays/disable-bt.dtbo'
    ok "boot partition: overlays/disable-bt.dtbo"
    local cmd
    cmd=$(mtype -i "$fat" ::/cmdline.txt 2>&1)
    grep -q "root=PARTUUID=$DISK_ID-02 " <<<"$cmd" && ! grep -Eq 'console=(serial|ttyAMA|ttyS)' <<<"$cmd"
    ok "boot partition cmdline.txt: root=PARTUUID=$DISK_ID-02, no serial console"
    fsck.vfat -n "$fat" >/dev/null 2>&1 || {
        local tmp
        tmp=$(mktemp)
        dd if="$img" of="$tmp" bs=1M skip="$BOOT_START_MIB" count="$BOOT_SIZE_MIB" status=none
        fsck.vfat -n "$tmp" >/dev/null 2>&1
        local rc=$?
        rm -f "$tmp"
        (exit $rc)
    }
    ok "boot partition: fsck.vfat clean"
    local ext="$img?offset=$root_off"
    e2fsck -fn "$ext" >/dev/null 2>&1
    ok "root partition: e2fsck clean"
    is "$(dumpe2fs -h "$ext" 2>/dev/null | sed -n 's/^Filesystem volume name: *//p')" "$ROOT_LABEL" \
        "root partition label"
    debugfs -R 'stat /usr/bin/mokitd' "$ext" 2>/dev/null | grep -q 'Type: regular'
    ok "root partition: /usr/bin/mokitd"
    is "$(debugfs -R 'cat /etc/hostname' "$ext" 2>/dev/null)" mokit "root partition: host name"
    is "$(debugfs -R 'ls -p /boot/firmware' "$ext" 2>/dev/null | cut -d/ -f6 | grep . | sort | tr '\n' ' ')" \
        ". .. " "root partition: /boot/firmware is an empty mount point"
    debugfs -R 'stat /var/lib/mokit' "$ext" 2>/dev/null | grep -Eq 'Mode: +0750'
    ok "root partition: /var/lib/mokit keeps its mode"
    if [ -f "$img.bmap" ]; then
        bmaptool -q copy --bmap "$img.bmap" "$img" /dev/null 2>/dev/null ||
            grep -q '<BmapVersion>' "$img.bmap"
        ok "block map $img.bmap"
    fi
}

case "${1:-}" in
--rootfs)
    [ -d "${2:-}/etc" ] || { echo "test.sh: no root file system ${2:-}" >&2; exit 1; }
    rootfs_tests "$2"
    ;;
--image)
    [ -f "${2:-}" ] || { echo "test.sh: no image ${2:-}" >&2; exit 1; }
    image_tests "$2"
    ;;
*)
    sed -n '3,6s/^# //p' "$0" >&2
    exit 1
    ;;
esac
echo "1..$n"
[ $failed -eq 0 ] || { echo "# $failed of $n failed"; exit 1; }
echo "# all $n passed"
