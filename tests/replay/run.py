#!/usr/bin/env python3
"""Replay tests: every capture in tests/replay/ through its driver (`mokit device decode`),
readings compared with its .golden file (JSON lines: at, kind, value, unit); every capture in
tests/replay/bad/ must be refused with exit 2 and a message naming the line or frame. TAP.

The captures here are synthesised from the published protocols (their headers say so); ones
recorded from hardware go beside them with the same golden-file rule.

    python3 tests/replay/run.py [BUILD_DIR]
"""
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, sys.argv[1] if len(sys.argv) > 1 else "build")
HERE = os.path.join(ROOT, "tests", "replay")
results = []


def decode(path):
    p = subprocess.run([os.path.join(BUILD, "mokit"), "device", "decode", path],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def same(a, b):
    if set(a) != set(b):
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            if abs(x - y) > 1e-6:
                return False
        elif x != y:
            return False
    return True


for cap in sorted(glob.glob(os.path.join(HERE, "*.cap"))):
    name = os.path.basename(cap)
    with open(cap[:-4] + ".golden") as f:
        want = [json.loads(line) for line in f if line.strip()]
    rc, out, err = decode(cap)
    try:
        got = [json.loads(line) for line in out.splitlines() if line.strip()]
    except ValueError as e:
        got = None
        err += " / not JSON lines: %s" % e
    ok = rc == 0 and got is not None and len(got) == len(want) and \
        all(same(g, w) for g, w in zip(got, want))
    results.append((ok, "%s gives its golden readings (%d)" % (name, len(want)),
                    "exit %d\n%s\ngot:\n%s" % (rc, err, out)))

# A malformed file is refused before anything is decoded; a frame the driver does not know
# stops the replay there (the readings before it stand).
for cap, why, lines in (("odd-hex.cap", "line 3:", 0), ("foreign-report.cap", "frame 3:", 1),
                        ("time-backwards.cap", "line 3:", 0)):
    rc, out, err = decode(os.path.join(HERE, "bad", cap))
    results.append((rc == 2 and why in err and len(out.splitlines()) == lines,
                    "bad/%s is refused (exit 2, %s, %d readings before)" % (cap, why, lines),
                    "exit %d: %s%s" % (rc, err, out)))

for i, (ok, name, detail) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
    if not ok:
        for line in detail.splitlines()[-10:]:
            print("#   " + line)
print("1..%d" % len(results))
sys.exit(0 if all(ok for ok, _, _ in results) else 1)
