#!/usr/bin/env python3
"""Benchmark: import of a campaign of 100,000 screened residents into PostgreSQL (goal <= 60 s).

usage: python3 tests/bench/bench_import_pg.py BUILD_DIR [--patients N]

A demo kit is seeded (`mokit demo seed --screening`: a visit with about ten observations per
resident, findings, referrals, prescriptions), its records dumped (BUILD_DIR/tests/pg_import),
and imported into a throwaway PostgreSQL cluster (tests/pg/run.py's): once into the empty store,
then the same rows again under a new package id (everything already there). The seeding and
the dump are not timed; the import is, from the first line to the commit. The cluster runs
with PostgreSQL's default durability (fsync on)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pg"))
import run as pgrun  # noqa: E402  (the cluster fixture)

GOAL_S = 60.0
BASE = 10000  # residents seeded; larger campaigns repeat them (below)
SYMBOLS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def patient_code(rng):
    """A code as app/domain/code.c makes them: 11 symbols and the ISO 7064 MOD 37-2 check."""
    while True:
        body = "".join(rng.choice(SYMBOLS) for _ in range(11))
        p = 0
        for ch in body:
            p = ((p + SYMBOLS.index(ch)) * 2) % 37
        check = (38 - p) % 37
        if check < 36:
            return body + SYMBOLS[check]


def repeat_campaign(path, manifest, n):
    """Makes a campaign of n residents from a seeded one: copies of its residents with their
    records under fresh ids, codes, id numbers and queue numbers (the demo generator draws
    CCCD numbers from a space too small for 100,000 people). The medicine list and staff stay
    as they are; the stock moves of dispensing come with their prescriptions."""
    import random
    rng = random.Random(7)
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(l) for l in f if l.strip()]
    base = sum(1 for r in rows if r["t"] == "patient")
    copies = -(-n // base)
    refs = ("id", "patient_id", "visit_id", "observation_id", "prescription_id")
    out = [r for r in rows if r["t"] in ("campaign", "staff")]
    by_table = {}
    serial = 0
    for k in range(copies):
        ids = {}
        keep = n - k * base  # residents still wanted
        taken = set()
        for r in rows:
            t, v = r["t"], dict(r["r"])
            if t in ("campaign", "staff"):
                continue  # once, above
            if k > 0 and (t == "medicine" or (t == "stock_move" and not v["prescription_id"])):
                continue  # one medicine list; its deliveries once
            if t == "patient":
                if len(taken) >= keep:
                    continue
                taken.add(v["id"])
            if k > 0:
                for c in refs:
                    if v.get(c):
                        v[c] = ids.setdefault(v[c], str(uuid.uuid4()))
                if t == "patient":
                    v["code"] = patient_code(rng)
                    serial += 1
                    if v["cccd"]:
                        v["cccd"] = "09%010d" % serial
                    if v["bhyt_ssn"]:
                        v["bhyt_ssn"] = "9%09d" % serial
                        v["bhyt"] = (v["bhyt"][:5] + v["bhyt_ssn"] if len(v["bhyt"]) == 15
                                     else v["bhyt_ssn"])
                if t == "visit":
                    v["queue_number"] += k * base
            out.append({"t": t, "r": v})
            by_table[t] = by_table.get(t, 0) + 1
    order = ["campaign", "staff", "patient", "visit", "observation", "device_reading", "finding",
             "referral", "medicine", "prescription", "stock_move"]
    out.sort(key=lambda r: order.index(r["t"]))
    # rows of a table whose parents did not come (a resident left out) are dropped
    have = {t: set() for t in order}
    final = []
    for r in out:
        v = r["r"]
        parent = {"visit": ("patient", "patient_id"), "observation": ("visit", "visit_id"),
                  "device_reading": ("visit", "visit_id"), "finding": ("visit", "visit_id"),
                  "referral": ("visit", "visit_id"), "prescription": ("visit", "visit_id"),
                  "stock_move": ("prescription", "prescription_id")}.get(r["t"])
        if parent and v.get(parent[1]) and v[parent[1]] not in have[parent[0]]:
            continue
        have[r["t"]].add(v["id"])
        final.append(r)
    with open(path, "w", encoding="utf-8") as f:
        for r in final:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
    manifest["counts"] = {t: len(have[t]) for t in order}
    return manifest


def main():
    args = sys.argv[1:]
    b = args[0] if args and not args[0].startswith("--") else "build"
    n = int(args[args.index("--patients") + 1]) if "--patients" in args else 100000
    mokit, driver = os.path.join(b, "mokit"), os.path.join(b, "tests", "pg_import")
    bindir = pgrun.pg_bin()
    if not bindir or not os.path.exists(driver):
        print("bench_import_pg: skipped (%s)" %
              ("no PostgreSQL server binaries" if not bindir else driver + " not built"))
        return 0
    work = tempfile.mkdtemp(prefix="mokit-bench-pg-")
    cl = pgrun.Cluster(bindir, durable=True)
    try:
        kit, pkg = os.path.join(work, "kit"), os.path.join(work, "pkg")
        t0 = time.monotonic()
        r = subprocess.run([mokit, "--data", kit, "demo", "seed", "--patients",
                            str(min(n, BASE)), "--screening"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("demo seed: " + r.stderr)
        seeded = time.monotonic() - t0
        r = subprocess.run([driver, "dump", kit, "DEMO-TAVAN", pkg], capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise RuntimeError("dump: " + r.stderr)
        dump_s = float(re.search(r"dump: ([0-9.]+) s", r.stderr).group(1))
        manifest = json.load(open(pkg + ".manifest.json"))
        if n > BASE:
            manifest = repeat_campaign(pkg + ".ndjson", manifest, n)
            with open(pkg + ".manifest.json", "w") as f:
                json.dump(manifest, f)
        rows = sum(manifest["counts"].values())
        size = os.path.getsize(pkg + ".ndjson")
        cl.start()
        target = "pg:" + cl.conninfo()

        def timed_import(manifest_path):
            t = time.monotonic()
            r = subprocess.run([driver, "import", target, manifest_path, pkg + ".ndjson"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("import: " + r.stderr)
            return time.monotonic() - t, json.loads(r.stdout)

        first_s, res = timed_import(pkg + ".manifest.json")
        again = dict(manifest, package=str(uuid.uuid4()))
        with open(pkg + ".again.json", "w") as f:
            json.dump(again, f)
        again_s, res2 = timed_import(pkg + ".again.json")
        print("import into PostgreSQL: %d residents, %d rows (%.0f MB of NDJSON)" %
              (n, rows, size / 1e6))
        print("  seed %d residents %.1f s, dump %.1f s (not timed)" % (min(n, BASE), seeded, dump_s))
        print("  import into an empty store: %.1f s (%d new residents, %d observations)  "
              "goal <= %.0f s: %s" % (first_s, res["patients_new"], res["observation"], GOAL_S,
                                      "met" if first_s <= GOAL_S else "MISSED"))
        print("  the same rows again, new package id: %.1f s (%d already here, %d added)" %
              (again_s, res2["patients_already"], res2["visit"] + res2["observation"]))
        return 0 if first_s <= GOAL_S else 1
    finally:
        cl.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
