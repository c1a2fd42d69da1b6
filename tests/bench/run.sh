#!/usr/bin/env bash
# Benchmarks of the three performance goals (run by `make bench`, not part of `make test`):
#   a) search: p99 of GET /api/v1/patients?q=... over 100,000 patients <= 20 ms
#   b) registration: durable POST /api/v1/patients throughput >= 0.5 x raw SQLite inserts
#   c) memory: VmRSS of mokitd holding 100,000 patients <= 16 MB
# usage: tests/bench/run.sh BUILD_DIR     (from the repo root, after `make all`)
# Writes BUILD_DIR/bench/results.json and prints a table. Exit status 0 when every goal is met,
# 1 when one is missed, 2 when the benchmark itself failed.
# Knobs (environment): BENCH_PATIENTS (100000), BENCH_QUERIES (1000), BENCH_REGISTRATIONS
# (2000), BENCH_REPEATS (5). Everything runs on 127.0.0.1 in a temporary directory under
# BUILD_DIR/bench that is removed at the end, daemons included.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: tests/bench/run.sh BUILD_DIR" >&2
    exit 2
fi
build=$1
for bin in "$build/mokitd" "$build/mokit"; do
    if [ ! -x "$bin" ]; then
        echo "bench: $bin is missing: run make first" >&2
        exit 2
    fi
done

out="$build/bench"
mkdir -p "$out"
rm -f "$out/results.json" # never leave an older run's numbers to be read as this one's
tmp=$(mktemp -d "$out/tmp.XXXXXX")

bench_pid=
cleanup() {
    if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
        kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
    # Daemons that bench.py started (it writes their pids here) and did not stop itself.
    if [ -f "$tmp/pids" ]; then
        while read -r pid; do
            # Only a mokitd of this run (the pid may have been reused once it exited).
            if grep -q "$tmp" "/proc/$pid/cmdline" 2>/dev/null; then
                kill -TERM "$pid" 2>/dev/null || true
                for _ in 1 2 3 4 5 6 7 8 9 10; do
                    kill -0 "$pid" 2>/dev/null || break
                    sleep 0.5
                done
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done <"$tmp/pids"
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

# The helpers are plain C, built here: the generator's dump, the raw-insert baseline and the
# load client (so that latencies are the daemon's, not an interpreter's).
cflags=(-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror)
cc "${cflags[@]}" -o "$out/demo_dump" tests/bench/demo_dump.c app/demo/demo.c app/domain/date.c
cc "${cflags[@]}" -o "$out/raw_insert" tests/bench/raw_insert.c -lsqlite3
cc "${cflags[@]}" -o "$out/loadgen" tests/bench/loadgen.c

# In the background and waited for, so that a signal to this script is handled at once.
python3 tests/bench/bench.py --build "$build" --tools "$out" --tmp "$tmp" \
    --results "$out/results.json" &
bench_pid=$!
status=0
wait "$bench_pid" || status=$?
bench_pid=
exit "$status"
