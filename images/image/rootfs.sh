#!/bin/bash
# The SD-card image's root file system, as a directory: Debian bookworm arm64 from the Debian
# mirror with mmdebstrap, its package scripts run under qemu-user (binfmt_misc), the mokit
# package installed with apt (so its dependencies come from the mirror), then customize.sh.
# Usage: rootfs.sh --deb FILE --out DIR [--mirror URL] [--security-mirror URL]
#                  [--cache DIR] [--ssh-key FILE]
# Root only (mmdebstrap's root mode: the files keep their owners for mkfs.ext4 -d).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
deb="" out="" cache="" ssh_key=""
mirror="" security="" # default: the bookworm mirrors this machine's apt uses
while [ $# -gt 0 ]; do
    case "$1" in
    --deb) deb=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --security-mirror) security=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --ssh-key) ssh_key=$2; shift 2 ;;
    *) echo "rootfs.sh: unknown option $1" >&2; exit 1 ;;
    esac
done
[ -n "$deb" ] && [ -n "$out" ] || { sed -n '5,6s/^# //p' "$0" >&2; exit 1; }

# "URI SUITE" for every source this machine's apt has (one-line and deb822 formats); the first
# URI whose suite matches $1.
host_uri() {
    {
        grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
            awk '{ for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i, $(i + 1); break } }'
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] && awk '/^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) print u, $i }' "$f"
        done
    } | awk -v p="$1" '$2 ~ p { print $1; exit }'
}
[ -n "$mirror" ] || mirror=$(host_uri '^bookworm$')
[ -n "$security" ] || security=$(host_uri '^bookworm-security$')
[ -n "$mirror" ] && [ -n "$security" ] || {
    echo "rootfs.sh: this machine's apt names no bookworm mirror: give MIRROR=URL and SECURITY_MIRROR=URL" >&2
    exit 1
}
[ -f "$deb" ] || { echo "rootfs.sh: no package $deb (make deb ARCH=arm64 builds it)" >&2; exit 1; }
arch=$(dpkg-deb -f "$deb" Architecture)
[ "$arch" = arm64 ] || { echo "rootfs.sh: $deb is for $arch, the Pi needs arm64" >&2; exit 1; }
[ -z "$ssh_key" ] || [ -s "$ssh_key" ] || { echo "rootfs.sh: no key in $ssh_key" >&2; exit 1; }
deb=$(realpath "$deb")
[ -z "$ssh_key" ] || ssh_key=$(realpath "$ssh_key")

# The kit's packages. No Recommends (mmdebstrap's default): each one here is wanted.
pkgs=(
    # boot: Debian's kernel (Pi 3, Pi 4, Zero 2 W device trees) and Raspberry Pi's boot firmware
    linux-image-arm64 raspi-firmware firmware-brcm80211 wireless-regdb
    systemd-sysv udev dbus kmod libpam-systemd systemd-timesyncd
    # the root partition grows to the card on first boot; the boot partition is checked
    cloud-guest-utils fdisk e2fsprogs dosfstools
    # the kit's Wi-Fi access point and its name on it (mokit.local)
    network-manager wpasupplicant dnsmasq-base nftables iw avahi-daemon libnss-mdns
    # time zone, fonts
    tzdata fonts-dejavu-core
    # the initrd compressed with zstd (faster to unpack at boot than gzip)
    zstd
    # the queue screen on an attached display: cage (Wayland kiosk compositor) + chromium
    cage chromium libgl1-mesa-dri libegl-mesa0
)
[ -z "$ssh_key" ] || pkgs+=(openssh-server)

mkdir -p "$(dirname "$out")"
rm -rf "$out"
hooks=()
if [ -n "$cache" ]; then
    # Downloaded packages kept between builds (the mokit package is never cached).
    mkdir -p "$cache"
    cache=$(realpath "$cache")
    hooks+=(--setup-hook="mkdir -p \"\$1/var/cache/apt/archives\""
        --setup-hook="sync-in '$cache' /var/cache/apt/archives/")
fi
hooks+=(
    # The initrd is made once, by customize.sh, with the kit's settings: until then
    # update-initramfs is diverted to a no-op. (Without this the kernel's postinst and then
    # initramfs-tools' trigger each make one, at ~20 minutes each under qemu.)
    --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs'
    --essential-hook='printf "#!/bin/sh\necho \"update-initramfs: later (images/image/customize.sh)\"\n" >"$1/usr/sbin/update-initramfs" && chmod 0755 "$1/usr/sbin/update-initramfs"'
    # The mokit package, installed by apt so that its dependencies come from the mirror.
    --customize-hook="upload '$deb' /tmp/mokit.deb"
    --customize-hook='chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /tmp/mokit.deb'
    --customize-hook='rm -f "$1/tmp/mokit.deb"'
)
[ -z "$cache" ] || hooks+=(--customize-hook="sync-out /var/cache/apt/archives '$cache'"
    --customize-hook="rm -f '$cache/mokit_'*.deb")
hooks+=(--customize-hook="'$here/customize.sh' \"\$1\" '$ssh_key'")

comp="main non-free-firmware"
mmdebstrap --mode=root --arch=arm64 --variant=minbase \
    --include="$(
        IFS=,
        echo "${pkgs[*]}"
    )" \
    --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-include=/usr/share/locale/vi/*' \
    "${hooks[@]}" \
    bookworm "$out" \
    "deb $mirror bookworm $comp" \
    "deb $mirror bookworm-updates $comp" \
    "deb $security bookworm-security $comp"
