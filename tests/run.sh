#!/usr/bin/env bash
# Runs mokit's test suites and ends with one line "N passed, N failed" over all of them.
# usage: tests/run.sh [--unit-only] BUILD_DIR [RUNNER...]
#   BUILD_DIR  build (default), build/san (sanitizers) or build/arm64
#   RUNNER     a command to run unit tests under, e.g. qemu-aarch64-static -L /usr/aarch64-linux-gnu
# Every suite prints TAP ("ok N - name" / "not ok N - name"); a suite that exits non-zero
# without a "not ok" line counts as one failure.
set -u
cd "$(dirname "$0")/.."
unit_only=0
if [ "${1:-}" = --unit-only ]; then
    unit_only=1
    shift
fi
B=${1:-build}
shift || true
runner=("$@")
# Under an emulator (qemu-user for the arm64 build), tests that start threads skip that part.
[ ${#runner[@]} -gt 0 ] && export MOKIT_TEST_EMULATED=1
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Sanitizer builds: stop at the first error; umockdev-style preload needs the link-order check off.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:verify_asan_link_order=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CMOCKA_MESSAGE_OUTPUT=TAP

pass=0
fail=0
failed=()
suite() {
    local name=$1
    shift
    local log="$logs/$name.log" start=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    local p f s
    # "# SKIP" (cmocka writes "not ok N # SKIP name") is neither a pass nor a failure.
    p=$(grep -E '^ok [0-9]+' "$log" | grep -vc '# SKIP')
    f=$(grep -E '^not ok [0-9]+' "$log" | grep -vc '# SKIP')
    s=$(grep -E '^(not )?ok [0-9]+ # SKIP' "$log" | wc -l)
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name exited with status $rc" >>"$log"
    fi
    pass=$((pass + p))
    fail=$((fail + f))
    printf '%-22s %4d passed, %d failed%s  (%ds)\n' "$name" "$p" "$f" \
        "$([ "$s" -gt 0 ] && echo ", $s skipped")" $((SECONDS - start))
    if [ "$f" -ne 0 ]; then
        failed+=("$name")
        sed 's/^/    /' "$log"
    fi
}

for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    suite "unit:$(basename "$t" | sed 's/^test_//')" ${runner[@]+"${runner[@]}"} "$t"
done

if [ "$unit_only" = 0 ]; then
    suite usb python3 tests/usb/run.py "$B"
    suite replay python3 tests/replay/run.py "$B"
    suite devices python3 tests/devices/run.py "$B"
    suite hotplug umockdev-wrapper "$B"/test_hotplug
    suite evdev python3 tests/devices/evdev.py "$B"
    suite gpio python3 tests/gpio/run.py "$B"
    suite cli python3 tests/cli/run.py "$B"
    suite pg python3 tests/pg/run.py "$B"
    suite api python3 tests/api/run.py "$B"
    suite package python3 tests/package/run.py "$B"
    suite export python3 tests/export/run.py "$B"
    suite fhir python3 tests/fhir/run.py "$B"
    suite web node tests/e2e/run.mjs "$B"
    suite web-export node tests/e2e/export.mjs "$B"
    suite crash python3 tests/crash/run.py "$B"
    suite crash-print python3 tests/crash/print.py "$B"
fi

[ ${#failed[@]} -eq 0 ] || echo "failed suites: ${failed[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
