#!/usr/bin/env bash
# The Debian package on this machine, as a kit's owner would meet it: build it, install it with
# apt-get over data of an older schema, run mokitd the way mokit.service does (no systemd as PID 1
# on CI machines), add data, upgrade to a newer version, check the backup, the migration, the
# data and the conffile, then remove and purge it and check what stays. `make deb-test`, as root,
# on a machine without a real mokit: it leaves no package, user, group or data behind.
# usage: tests/deb/run.sh BUILD_DIR VERSION      prints TAP, exits 1 on a failure
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${1:?usage: tests/deb/run.sh BUILD_DIR VERSION}
V=${2:?usage: tests/deb/run.sh BUILD_DIR VERSION}
V2=$V+t1
DATA=/var/lib/mokit
MARK=$DATA/.mokit-deb-test
UNIT=/lib/systemd/system/mokit.service
start=$SECONDS

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
elapsed() { echo "#   $((SECONDS - start)) s"; }
not_ok() {
    n=$((n + 1)) failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}
check() { # check NAME COMMAND...: ok when the command succeeds; its output otherwise
    local name=$1
    shift
    local out
    if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "${out:-(status $?)}"; fi
}
is() { # is NAME GOT WANT
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got:  $2" "want: $3"; fi
}
bail() {
    echo "Bail out! $*"
    exit 1
}

[ "$(id -u)" -eq 0 ] || bail "needs root: it installs the package here (make deb-test, for CI)"
for t in apt-get dpkg setpriv sqlite3; do
    command -v $t >/dev/null || bail "$t is missing (images/deps.sh build test)"
done

# ---- this machine must not have a real mokit: the test installs, upgrades and purges one
pkg_state() { dpkg-query -W -f='${db:Status-Status}' mokit 2>/dev/null || echo not-installed; }
if [ -e "$DATA" ] && [ ! -e "$MARK" ]; then
    bail "$DATA exists and was not made by this test: it may hold a kit's data. Not touching it."
fi
if [ "$(pkg_state)" != not-installed ] && [ ! -e "$MARK" ]; then
    bail "the mokit package is installed here; this test would upgrade and purge it"
fi
# What existed before the test (kept in the mark across an interrupted run).
if [ -e "$MARK" ]; then
    # shellcheck disable=SC1090
    . "$MARK"
    dpkg --purge mokit >/dev/null 2>&1 || true
    rm -rf "$DATA"
else
    had_gpio=0 had_user=0 had_group=0
    getent group gpio >/dev/null && had_gpio=1
    getent passwd mokit >/dev/null && had_user=1
    getent group mokit >/dev/null && had_group=1
fi
mkdir -m 0750 "$DATA"
printf 'had_gpio=%s had_user=%s had_group=%s\n' "$had_gpio" "$had_user" "$had_group" >"$MARK"

tmp=$(mktemp -d)
daemon="" nsjob=""
# Ends the systemd namespace of unit_under_systemd: unshare blocks SIGTERM while it waits, so
# SIGKILL, and --kill-child takes systemd (the namespace's PID 1, and so all in it) along.
# Then the cgroups it made (there is no cgroup namespace), empty by now, deepest first.
ns_end() {
    [ -n "$nsjob" ] || return 0
    kill -KILL "$nsjob" 2>/dev/null
    wait "$nsjob" 2>/dev/null
    nsjob=""
    local left
    for _ in $(seq 30); do # the killed processes may take a moment to leave their cgroups
        left=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d 2>/dev/null | sort |
            comm -13 "$tmp/cgroups.before" - | sort -r)
        [ -n "$left" ] || break
        while read -r d; do rmdir "$d" 2>/dev/null; done <<<"$left"
        sleep 0.1
    done
}
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    ns_end
    [ "$(pkg_state)" = not-installed ] || dpkg --purge mokit >"$tmp/cleanup.log" 2>&1 ||
        cat "$tmp/cleanup.log"
    rm -rf "$DATA"
    [ "$had_user" = 1 ] || ! getent passwd mokit >/dev/null || userdel mokit
    [ "$had_group" = 1 ] || ! getent group mokit >/dev/null || groupdel mokit
    [ "$had_gpio" = 1 ] || ! getent group gpio >/dev/null || groupdel gpio
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the two packages: this tree as VERSION and as a newer VERSION+t1
for v in "$V" "$V2"; do
    if ! make --no-print-directory B="$B" VERSION="$v" deb >"$tmp/build.log" 2>&1; then
        cat "$tmp/build.log"
        bail "make deb VERSION=$v failed"
    fi
done
deb1=$PWD/$B/mokit_${V}_$(dpkg --print-architecture).deb
deb2=$PWD/$B/mokit_${V2}_$(dpkg --print-architecture).deb
check "make deb builds $(basename "$deb1") and $(basename "$deb2")" test -f "$deb1" -a -f "$deb2"

apt_install() { # apt_install LOG DEB: apt-get resolves the dependencies; conffiles kept
    apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold "$2" >"$1" 2>&1
}
as_mokit() { setpriv --reuid=mokit --regid=mokit --init-groups --reset-env -- "$@"; }
cli() { as_mokit mokit --data "$DATA" "$@"; }

# Data left by an older mokit: every migration of app/sql but the last.
sqls=(app/sql/[0-9]*.sql)
num() { basename "$1" | sed 's/_.*//; s/^0*//'; }
newest=$(num "${sqls[-1]}")
for f in "${sqls[@]:0:${#sqls[@]}-1}"; do
    printf 'BEGIN;\n%s\nPRAGMA user_version = %s;\nCOMMIT;\n' "$(cat "$f")" "$(num "$f")"
done | sqlite3 -bail "$DATA/mokit.db" >/dev/null || bail "cannot make an old database"
old=$(sqlite3 "$DATA/mokit.db" 'PRAGMA user_version')

# ---- install
if apt_install "$tmp/install.log" "$deb1"; then ok "apt-get install $(basename "$deb1")"; else
    not_ok "apt-get install $(basename "$deb1")" "$(cat "$tmp/install.log")"
    bail "cannot go on without the package"
fi
is "dpkg has mokit $V installed" "$(dpkg-query -W -f='${db:Status-Status} ${Version}' mokit)" "installed $V"

IFS=: read -r _ _ uid gid _ home shell <<<"$(getent passwd mokit)"
check "user mokit: a system user (uid $uid), home $DATA, no login" \
    test "$uid" -lt 1000 -a "$home" = "$DATA" -a "$shell" = /usr/sbin/nologin
is "its primary group is mokit" "$(getent group "$gid" | cut -d: -f1)" mokit
is "it is in lp, dialout, gpio" "$(id -nG mokit | tr ' ' '\n' | grep -Ex 'lp|dialout|gpio' | sort | tr '\n' ' ')" \
    "dialout gpio lp "
is "$DATA is mokit:mokit 0750" "$(stat -c '%U:%G %a' "$DATA")" "mokit:mokit 750"
is "the old database (schema $old) was backed up and migrated to schema $newest" \
    "$(sqlite3 "file:$DATA/mokit.db?mode=ro" 'PRAGMA user_version') $(grep -c 'migrated to mokit' "$tmp/install.log") $(ls "$DATA/backups" | wc -l)" \
    "$newest 1 1"
is "the database is mokit's, 0600" "$(stat -c '%U:%G %a' "$DATA/mokit.db")" "mokit:mokit 600"
modes=""
for f in "755 /usr/bin/mokitd" "755 /usr/bin/mokit" "644 /etc/mokit/mokitd.conf" "644 $UNIT" \
    "644 /lib/udev/rules.d/60-mokit-printers.rules" "644 /lib/udev/rules.d/61-mokit-devices.rules" \
    "644 /lib/udev/rules.d/62-mokit-gpio.rules" "644 /usr/share/mokit/web/index.html" \
    "644 /usr/share/doc/mokit/copyright"; do
    modes="$modes$(stat -c '%a %n %U:%G' "${f#* }" 2>&1) "
done
is "files installed with their modes, root-owned" "$modes" \
    "755 /usr/bin/mokitd root:root 755 /usr/bin/mokit root:root 644 /etc/mokit/mokitd.conf root:root 644 $UNIT root:root 644 /lib/udev/rules.d/60-mokit-printers.rules root:root 644 /lib/udev/rules.d/61-mokit-devices.rules root:root 644 /lib/udev/rules.d/62-mokit-gpio.rules root:root 644 /usr/share/mokit/web/index.html root:root 644 /usr/share/doc/mokit/copyright root:root "
check "dpkg --verify: every file as packaged" test -z "$(dpkg --verify mokit 2>&1)"
check "/etc/mokit/mokitd.conf is a conffile" bash -c "dpkg-query -W -f='\${Conffiles}' mokit | grep -q ' /etc/mokit/mokitd.conf '"
is "the service is enabled" "$(readlink /etc/systemd/system/multi-user.target.wants/mokit.service)" "$UNIT"
if command -v systemd-analyze >/dev/null; then
    check "systemd-analyze verify mokit.service" systemd-analyze verify "$UNIT"
fi

# Where systemd is PID 1 the postinst (re)starts the service: it must be running, and is then
# stopped so that the test can run mokitd itself on the same data.
service_started() {
    [ -d /run/systemd/system ] || return 0
    check "systemd runs here: the postinst started mokit.service ($1)" systemctl is-active --quiet mokit.service
    systemctl stop mokit.service
}
service_started "first install"

# ---- mokitd as mokit.service starts it: its user, groups, capability, environment, command
unit() { sed -n "s/^$1=//p" "$UNIT"; }
is "the unit runs /usr/bin/mokitd --config /etc/mokit/mokitd.conf as mokit:mokit" \
    "$(unit ExecStart) $(unit User):$(unit Group)" "/usr/bin/mokitd --config /etc/mokit/mokitd.conf mokit:mokit"
groups=$( (id -nG mokit | tr ' ' '\n'; unit SupplementaryGroups | tr ' ' '\n') | sort -u | paste -sd,)
cap=$(unit AmbientCapabilities | tr 'A-Z' 'a-z' | sed 's/^cap_//')
read -ra exec_start <<<"$(unit ExecStart)"
env_args=()
for e in $(unit Environment); do env_args+=("$e"); done
# A free port below 1024 on the loopback interface: binding it proves the ambient capability.
port=""
for p in $(seq 1023 -1 901); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        port=$p
        break
    fi
done
[ -n "$port" ] || bail "no free port between 901 and 1023 on 127.0.0.1"

start_mokitd() { # as the unit does, on 127.0.0.1:$port instead of 0.0.0.0:80
    setpriv --reuid="$(unit User)" --regid="$(unit Group)" --groups="$groups" \
        --inh-caps=-all,+"$cap" --ambient-caps=-all,+"$cap" --bounding-set=-all,+"$cap" \
        --no-new-privs --reset-env -- env "${env_args[@]}" "${exec_start[@]}" \
        --listen "127.0.0.1:$port" >"$tmp/mokitd.log" 2>&1 &
    daemon=$!
}
http() { # http PATH: "STATUS<tab>CONTENT-TYPE<tab>BODY" (bash's /dev/tcp), retried 5 s while mokitd starts
    local resp
    for _ in $(seq 500); do
        if exec 3<>"/dev/tcp/127.0.0.1/$port"; then
            printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
            resp=$(tr -d '\r' <&3)
            exec 3<&-
            printf '%s\t%s\t%s\n' "$(head -n 1 <<<"$resp" | cut -d' ' -f2)" \
                "$(sed -n '/^$/q; s/^[Cc]ontent-[Tt]ype: *//p' <<<"$resp")" \
                "$(sed '1,/^$/d' <<<"$resp" | tr '\n' ' ' | head -c 400)"
            return
        fi 2>/dev/null
        sleep 0.01
    done
    printf '000\t-\tno answer\n'
}
health() { # health WHEN: checks /api/v1/health; the kit's id in $kit
    local got status type body
    got=$(http /api/v1/health)
    IFS=$'\t' read -r status type body <<<"$got"
    # sqlite3's JSON functions read the answer.
    kit=$(sqlite3 -batch :memory: "SELECT json_extract(j, '\$.kit') FROM (SELECT '${body//\'/\'\'}' AS j)
        WHERE json_valid(j) AND json_extract(j, '\$.status') = 'ok'" 2>&1)
    if [ "$status" = 200 ] && [[ $type == application/json* ]] && [ -n "$kit" ]; then
        ok "GET /api/v1/health answers 200 with JSON {status: ok} ($1)"
    else
        not_ok "GET /api/v1/health answers 200 with JSON {status: ok} ($1)" "$got" "$(cat "$tmp/mokitd.log")"
    fi
}
stop_mokitd() {
    kill -TERM "$daemon"
    local rc=0
    wait "$daemon" || rc=$?
    daemon=""
    is "mokitd stops on SIGTERM with status 0 ($1)" "$rc" 0
}

t0=$(date +%s%N)
start_mokitd
health "first install, port $port"
kit1=$kit
echo "#   mokitd answered in $((($(date +%s%N) - t0) / 1000000)) ms"
status=$(cat "/proc/$daemon/status" 2>/dev/null)
field() { echo "$status" | sed -n "s/^$1:[[:space:]]*//p" | tr -s '\t ' ' '; }
want_groups=$(for g in ${groups//,/ }; do getent group "$g" | cut -d: -f3; done | sort -n | paste -sd' ')
is "mokitd runs as mokit:mokit with the groups $groups" \
    "$(field Uid) / $(field Gid) / $(field Groups | tr ' ' '\n' | grep . | sort -n | paste -sd' ')" \
    "$uid $uid $uid $uid / $gid $gid $gid $gid / $want_groups"
is "with only CAP_NET_BIND_SERVICE (ambient, effective, bounding) and no new privileges" \
    "$(field CapEff) $(field CapAmb) $(field CapBnd) $(field NoNewPrivs)" \
    "0000000000000400 0000000000000400 0000000000000400 1"
web=$(http /)
check "GET / serves the packaged web UI" bash -c '[[ $1 == "200"$'\''\t'\''"text/html"*"<html"* ]]' _ "$web"
check "the CLI adds a campaign as mokit while mokitd runs" cli campaign create --code DEBTEST --name "Deb test"
nb=$(find "$DATA/backups" -name 'mokit.db.*' | wc -l)
if out=$(/var/lib/dpkg/info/mokit.postinst configure "0~old" 2>&1); then
    not_ok "the postinst will not migrate while a mokitd has the data"
else
    check "the postinst will not migrate while a mokitd has the data" grep -q "mokitd is still running" <<<"$out"
fi
is "and makes no backup then" "$(find "$DATA/backups" -name 'mokit.db.*' | wc -l)" "$nb"
stop_mokitd "first install"
check "the campaign is in the data" bash -c "setpriv --reuid=mokit --regid=mokit --init-groups --reset-env -- mokit --data $DATA campaign list | grep -q '^DEBTEST '"

# ---- the unit itself, hardening and all, run by a systemd that is PID 1 of its own PID, mount
# and network namespaces (CI machines have no systemd as PID 1). Where such a systemd cannot
# start, the step is skipped. A drop-in only removes the unit's default dependencies on the
# boot's targets and sends mokitd's output to a file (there is no journal).
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
unit_under_systemd() {
    local sd=/lib/systemd/systemd sdpid="" state="" t pid got ns
    if [ -d /run/systemd/system ]; then
        skip "the unit under systemd in a namespace: systemd is PID 1 here (checked above)"
        return 0
    fi
    for t in unshare nsenter systemctl; do
        command -v $t >/dev/null || { skip "the unit under systemd in a namespace: no $t"; return 0; }
    done
    [ -x $sd ] || { skip "the unit under systemd in a namespace: no $sd"; return 0; }
    # The namespace's loopback interface up: ip (iproute2), else SIOCSIFFLAGS from Python.
    local lo_up="ip link set lo up"
    command -v ip >/dev/null || lo_up="python3 -c 'import fcntl, socket, struct
s = socket.socket()
flags = struct.unpack(\"16sH\", fcntl.ioctl(s, 0x8913, struct.pack(\"16sH\", b\"lo\", 0)))[1]
fcntl.ioctl(s, 0x8914, struct.pack(\"16sH\", b\"lo\", flags | 1))'"
    find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d 2>/dev/null | sort >"$tmp/cgroups.before"
    cat >"$tmp/boot.sh" <<BOOT
set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/system/mokit.service.d
printf '[Unit]\nDefaultDependencies=no\n[Service]\nStandardOutput=file:/run/mokitd.log\nStandardError=inherit\n' \
    >/run/systemd/system/mokit.service.d/deb-test.conf
$lo_up
container=mokit-deb-test exec $sd --system --unit=mokit.service --log-target=null
BOOT
    unshare --pid --fork --kill-child --mount --net --mount-proc --propagation private \
        sh "$tmp/boot.sh" >"$tmp/systemd.log" 2>&1 &
    ns=$! nsjob=$!
    sdctl() { nsenter -t "$sdpid" -m -p -- systemctl "$@"; }
    local end=$((SECONDS + 10))
    while [ $SECONDS -lt $end ]; do
        [ -n "$sdpid" ] || sdpid=$(cat "/proc/$ns/task/$ns/children" 2>/dev/null | tr -d ' ')
        [ -n "$sdpid" ] && state=$(sdctl is-active mokit.service 2>/dev/null)
        case "$state" in active | failed) break ;; esac
        kill -0 "$ns" 2>/dev/null || break
        sleep 0.05
    done
    if [ -z "$state" ]; then
        skip "the unit under systemd in a namespace: systemd does not start here: $(head -c 300 "$tmp/systemd.log")"
    elif [ "$state" != active ]; then
        not_ok "mokit.service starts under systemd (state $state)" \
            "$(sdctl status mokit.service --no-pager 2>&1)" "$(nsenter -t "$sdpid" -m -- cat /run/mokitd.log 2>&1)"
    else
        ok "mokit.service starts under systemd (PID 1 of its namespaces)"
        # systemctl gives the PID in systemd's namespace; /proc here wants this machine's.
        t=$(sdctl show -P MainPID mokit.service)
        local nsid p
        nsid=$(readlink "/proc/$sdpid/ns/pid")
        for p in /proc/[0-9]*; do
            [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$nsid" ] &&
                [ "$(sed -n 's/^NSpid:.*[[:space:]]//p' "$p/status" 2>/dev/null)" = "$t" ] && pid=${p#/proc/} && break
        done
        is "there mokitd is mokit with only CAP_NET_BIND_SERVICE, no new privileges, a seccomp filter" \
            "$(grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$pid/status" | tr -s '\t ' ' ' | paste -sd' ')" \
            "Uid: $uid $uid $uid $uid CapEff: 0000000000000400 CapBnd: 0000000000000400 NoNewPrivs: 1 Seccomp: 2"
        got=$(nsenter -t "$sdpid" -n -- bash -c "$(declare -f http); port=80; http /api/v1/health")
        check "it serves /api/v1/health on port 80 of its network namespace, same kit" \
            bash -c '[[ $1 == "200"$'\''\t'\''"application/json"*"\"status\":\"ok\""*"$2"* ]]' _ "$got" "$kit1"
        check "it sees a read-only file system but for $DATA, an empty /tmp and /home" \
            nsenter -t "$pid" -m -- setpriv --reuid=mokit --regid=mokit --init-groups -- sh -c \
            "! touch /etc/mokit/x 2>/dev/null && ! touch /usr/x 2>/dev/null && touch $DATA/.w && rm $DATA/.w &&
             [ -z \"\$(ls -A /tmp)\" ] && [ -z \"\$(ls -A /home 2>/dev/null)\" ]"
        t=$(paste -sd' ' /sys/fs/cgroup/devices/system.slice/mokit.service/devices.list 2>/dev/null)
        [ -z "$t" ] || echo "#   its device allow list on this machine: $t"
        sdctl stop mokit.service
        is "it stops cleanly" "$(sdctl show -P Result mokit.service)" success
    fi
    [ -z "$sdpid" ] || kill -s RTMIN+4 "$sdpid" 2>/dev/null # poweroff: a container's systemd exits
    for _ in $(seq 100); do kill -0 "$ns" 2>/dev/null || break; sleep 0.05; done
    ns_end
    return 0
}
unit_under_systemd

# ---- upgrade to V+t1 with data present and a local change to the conffile
echo "# deb-test: a local change" >>/etc/mokit/mokitd.conf
if apt_install "$tmp/upgrade.log" "$deb2"; then ok "apt-get install $(basename "$deb2") upgrades"; else
    not_ok "apt-get install $(basename "$deb2") upgrades" "$(cat "$tmp/upgrade.log")"
fi
is "dpkg has mokit $V2 installed" "$(dpkg-query -W -f='${db:Status-Status} ${Version}' mokit)" "installed $V2"
service_started "upgrade"
backup=$(ls -t "$DATA"/backups/mokit.db.*."$V" 2>/dev/null | head -n 1)
check "the postinst said where the backup is" grep -q "backed up to $backup" "$tmp/upgrade.log"
is "the backup is mokit's, 0600, in a 0700 directory" \
    "$(stat -c '%U:%G %a' "$backup" "$DATA/backups" 2>&1 | paste -sd' ')" "mokit:mokit 600 mokit:mokit 700"
is "the backup is one file with the campaign and the schema" \
    "$(sqlite3 "file:$backup?mode=ro" "PRAGMA journal_mode; PRAGMA user_version; SELECT code FROM campaign" 2>&1 | paste -sd' ')" \
    "delete $newest DEBTEST"
check "the CLI still shows the campaign" bash -c "setpriv --reuid=mokit --regid=mokit --init-groups --reset-env -- mokit --data $DATA campaign list | grep -q '^DEBTEST '"
check "the local change to the conffile is kept" grep -qx "# deb-test: a local change" /etc/mokit/mokitd.conf
is "no .dpkg-dist/.dpkg-old copies in /etc/mokit" "$(ls /etc/mokit)" mokitd.conf
start_mokitd
health "after the upgrade"
is "the same kit after the upgrade" "$kit" "$kit1"
stop_mokitd "after the upgrade"

# The postinst again (dpkg-reconfigure does this): nothing to do, nothing changed.
before=$(ls "$DATA/backups" | wc -l)
check "the postinst runs again cleanly (idempotent)" /var/lib/dpkg/info/mokit.postinst configure "$V2"
is "and makes no second backup" "$(ls "$DATA/backups" | wc -l)" "$before"

# A database newer than the program (a downgrade): the configure fails, says why, keeps a backup.
sqlite3 "$DATA/mokit.db" "PRAGMA user_version = $((newest + 100))"
if out=$(/var/lib/dpkg/info/mokit.postinst configure "0~old" 2>&1); then
    not_ok "a database the program cannot migrate fails the configure"
else
    check "a database the program cannot migrate fails the configure, saying why" \
        grep -q "newer than this mokit knows.*\|could not be migrated" <<<"$out"
fi
check "and names the kept backup" grep -q "before the upgrade is in $DATA/backups/mokit.db" <<<"$out"
sqlite3 "$DATA/mokit.db" "PRAGMA user_version = $newest"

# ---- remove: programs gone, data and conffile kept; purge: /etc/mokit gone, data kept
if apt-get remove -y -q mokit >"$tmp/remove.log" 2>&1; then ok "apt-get remove mokit"; else
    not_ok "apt-get remove mokit" "$(cat "$tmp/remove.log")"
fi
check "the programs, unit and udev rules are gone" test ! -e /usr/bin/mokitd -a ! -e /usr/bin/mokit \
    -a ! -e "$UNIT" -a ! -e /lib/udev/rules.d/62-mokit-gpio.rules -a ! -e /usr/share/mokit
check "the data is kept" sqlite3 "file:$DATA/mokit.db?mode=ro" "SELECT 1 FROM campaign WHERE code = 'DEBTEST'"
check "removing says the data is kept" grep -q "data in $DATA is kept" "$tmp/remove.log"
check "the conffile stays until purge" test -f /etc/mokit/mokitd.conf
if dpkg --purge mokit >"$tmp/purge.log" 2>&1; then ok "dpkg --purge mokit"; else
    not_ok "dpkg --purge mokit" "$(cat "$tmp/purge.log")"
fi
is "dpkg no longer knows mokit" "$(pkg_state)" not-installed
check "/etc/mokit is gone" test ! -e /etc/mokit
check "the service's links are gone" test ! -e /etc/systemd/system/multi-user.target.wants/mokit.service \
    -a ! -e /etc/systemd/system/mokit.service
check "the data and its backup are kept" test -f "$DATA/mokit.db" -a -f "$backup"
check "the user mokit that owns them is kept" getent passwd mokit
check "purging says so" grep -q "data in $DATA and the user mokit that owns it are kept" "$tmp/purge.log"

# ---- install again over the kept data, then purge once the data is gone: the user goes too
# (dpkg -i: the dependencies are there already, and apt-get takes seconds to start.)
if dpkg -i "$deb2" >"$tmp/reinstall.log" 2>&1; then ok "dpkg -i over the kept data"; else
    not_ok "dpkg -i over the kept data" "$(cat "$tmp/reinstall.log")"
fi
service_started "reinstall"
is "a fourth backup, and only the three newest kept" \
    "$(find "$DATA/backups" -name 'mokit.db.*' | wc -l) $([ -f "$backup" ] && echo upgrade-backup-kept)" "3 upgrade-backup-kept"
check "the CLI shows the campaign again" bash -c "setpriv --reuid=mokit --regid=mokit --init-groups --reset-env -- mokit --data $DATA campaign list | grep -q '^DEBTEST '"
rm -rf "$DATA"
dpkg --purge mokit >"$tmp/purge2.log" 2>&1
check "purge with no data left removes the user and group mokit" \
    test -z "$(getent passwd mokit)$(getent group mokit)" -a "$(pkg_state)" = not-installed
[ "$had_gpio" = 1 ] || echo "#   group gpio was made by the package; the test removes it"

echo "# $((SECONDS - start)) s"
echo "1..$n"
[ "$failed" -eq 0 ]
