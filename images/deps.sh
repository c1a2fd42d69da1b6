#!/usr/bin/env bash
# Installs the Debian packages a mokit task needs, or says the one command that would.
# Usage: images/deps.sh build|test|cross|fuzz|lint|web|package [...]
#   build  compile and run mokitd/mokit        test   the suite (unit, API, crash)
#   cross  arm64 build + qemu for its tests    fuzz   clang + libFuzzer
#   lint   clang-format                        web    browser tests: chromium, Node.js and npm
#   package  make deb: dpkg-shlibdeps (dpkg-dev)
# As root it runs apt-get; otherwise it prints the `sudo apt-get install ...` line and exits 1.
set -eu

build_pkgs="gcc make pkg-config libsqlite3-dev libmicrohttpd-dev libjansson-dev libsodium-dev libutf8proc-dev libqrencode-dev libpng-dev libfreetype-dev libusb-1.0-0-dev libgpiod-dev libcurl4-openssl-dev libpq-dev fonts-dejavu-core"
test_pkgs="$build_pkgs libcmocka-dev python3 sqlite3 procps zbar-tools umockdev libumockdev-dev postgresql"
fuzz_pkgs="clang libclang-rt-14-dev"
lint_pkgs="clang-format git"
package_pkgs="dpkg-dev"
# Node.js and npm: Debian's, unless a node and npm are on the PATH already (some Node.js packages
# bring npm themselves and conflict with Debian's npm package).
web_pkgs="chromium fonts-dejavu-core"
command -v node >/dev/null 2>&1 || web_pkgs="$web_pkgs nodejs"
command -v npm >/dev/null 2>&1 || web_pkgs="$web_pkgs npm"
cross_libs="libsqlite3-dev libmicrohttpd-dev libjansson-dev libsodium-dev libutf8proc-dev libcmocka-dev libqrencode-dev libpng-dev libfreetype-dev libusb-1.0-0-dev libgpiod-dev libcurl4-openssl-dev"
# No libpq-dev:arm64: it cannot be installed beside the native one. The kit does not need it:
# PostgreSQL import is the hospital's, and the arm64 build leaves it out (Makefile PG=0).
cross_pkgs="gcc-aarch64-linux-gnu qemu-user-static"
for p in $cross_libs; do cross_pkgs="$cross_pkgs $p:arm64"; done

want=""
for profile in "$@"; do
    case "$profile" in
    build) want="$want $build_pkgs" ;;
    test) want="$want $test_pkgs" ;;
    fuzz) want="$want $fuzz_pkgs" ;;
    lint) want="$want $lint_pkgs" ;;
    cross) want="$want $cross_pkgs" ;;
    web) want="$want $web_pkgs" ;;
    package) want="$want $package_pkgs" ;;
    *) echo "deps.sh: unknown profile '$profile' (build|test|cross|fuzz|lint|web|package)" >&2; exit 1 ;;
    esac
done

native=$(dpkg --print-architecture)
missing=""
for p in $want; do
    case " $missing " in *" $p "*) continue ;; esac
    q=$p
    case "$p" in *:*) ;; *) q="$p:$native" ;; esac
    status=$(dpkg-query -W -f='${db:Status-Status}' "$q" 2>/dev/null || true)
    # Architecture-independent packages are not found under an architecture qualifier.
    [ "$status" = installed ] || [ "$q" = "$p" ] ||
        status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing="$missing $p"
done
# The browser tests' playwright-core needs Node.js 20 or later (Debian bookworm's own is 18).
node_check() {
    case " $* " in *" web "*) ;; *) return 0 ;; esac
    local major
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if [ "$major" -lt 20 ]; then
        echo "deps.sh: the browser tests need Node.js 20 or later (playwright-core); this" \
            "machine has $(node --version 2>/dev/null || echo none). Install Node.js 20+ first." >&2
        exit 1
    fi
}
if [ -z "$missing" ]; then
    node_check "$@"
    exit 0
fi

need_arm64=0
case "$missing" in *:arm64*) need_arm64=1 ;; esac

if [ "$(id -u)" -ne 0 ]; then
    echo "mokit needs these Debian packages:$missing" >&2
    if [ $need_arm64 = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
        echo "Run: sudo dpkg --add-architecture arm64 && sudo apt-get update && sudo apt-get install -y$missing" >&2
    else
        echo "Run: sudo apt-get install -y$missing" >&2
    fi
    exit 1
fi

echo "deps.sh: installing$missing" >&2
if [ $need_arm64 = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
node_check "$@"
