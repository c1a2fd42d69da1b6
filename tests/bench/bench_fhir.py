#!/usr/bin/env python3
"""FHIR export benchmark (mokit issue 6), run by `make bench`:

    python3 tests/bench/bench_fhir.py BUILD_DIR

A campaign of 10,000 residents and 100,000 observations (`mokit demo seed` plus
tests/fhir/seed.py: one visit each, ten observations a visit, findings, referrals, dispensed
medicines, device readings) is exported with `mokit export --format fhir` (bundle.json and the
NDJSON files, fsync'd) BENCH_FHIR_RUNS times (default 5), alternating with `sqlite3 -json`
dumping the same rows (the export's joins, every column) to a file in the same directory.
Prints both medians and their ratio; the goal is an export median <= 3 s on this machine.
Exit status 0 when met, 1 when missed, 2 when the benchmark itself failed.
Knobs: BENCH_FHIR_PATIENTS (10000), BENCH_FHIR_RUNS (5).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "fhir"))
import seed  # noqa: E402

GOAL_S = 3.0

# The rows the export reads, as plainly as SQL gives them.
DUMP_SQL = """
SELECT * FROM campaign WHERE code = 'DEMO-TAVAN';
SELECT s.* FROM staff s;
SELECT p.* FROM patient p WHERE p.campaign_id = (SELECT id FROM campaign WHERE code = 'DEMO-TAVAN')
  OR EXISTS (SELECT 1 FROM visit v WHERE v.patient_id = p.id AND v.campaign_id =
             (SELECT id FROM campaign WHERE code = 'DEMO-TAVAN')) ORDER BY p.id;
SELECT v.* FROM visit v WHERE v.campaign_id = (SELECT id FROM campaign WHERE code = 'DEMO-TAVAN')
  ORDER BY v.id;
SELECT o.*, v.patient_id FROM visit v JOIN observation o ON o.visit_id = v.id
  WHERE v.campaign_id = (SELECT id FROM campaign WHERE code = 'DEMO-TAVAN')
  ORDER BY o.visit_id, o.taken_at, o.id;
SELECT f.*, v.patient_id FROM visit v JOIN finding f ON f.visit_id = v.id
  WHERE v.campaign_id = (SELECT id FROM campaign WHERE code = 'DEMO-TAVAN')
  AND f.removed_at IS NULL ORDER BY f.id;
SELECT r.*, v.patient_id FROM visit v JOIN referral r ON r.visit_id = v.id
  WHERE v.campaign_id = (SELECT id FROM campaign WHERE code = 'DEMO-TAVAN') ORDER BY r.id;
SELECT x.*, m.name, m.strength, m.form, m.unit, v.patient_id FROM visit v
  JOIN prescription x ON x.visit_id = v.id JOIN medicine m ON m.id = x.medicine_id
  WHERE v.campaign_id = (SELECT id FROM campaign WHERE code = 'DEMO-TAVAN')
  AND x.state = 'dispensed' ORDER BY x.id;
SELECT d.*, v.patient_id FROM visit v JOIN device_reading d ON d.visit_id = v.id
  WHERE v.campaign_id = (SELECT id FROM campaign WHERE code = 'DEMO-TAVAN')
  AND d.state = 'attached' ORDER BY d.id;
"""


def dir_size(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def main():
    if len(sys.argv) != 2:
        print("usage: tests/bench/bench_fhir.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    mokit = os.path.join(build, "mokit")
    if not os.access(mokit, os.X_OK) or not shutil.which("sqlite3"):
        print(f"bench_fhir: {mokit} or sqlite3 is missing: run make first", file=sys.stderr)
        return 2
    patients = int(os.environ.get("BENCH_FHIR_PATIENTS", "10000"))
    runs = max(3, int(os.environ.get("BENCH_FHIR_RUNS", "5")))
    os.makedirs(os.path.join(build, "bench"), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="fhir.", dir=os.path.join(build, "bench"))
    try:
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        t0 = time.monotonic()
        seed.demo_seed(mokit, data, patients)
        made = seed.add_records(os.path.join(data, "mokit.db"), seed=1, ten=True)
        print(f"# seeded {made['patients']} residents, {made['observations']} observations, "
              f"{made['readings']} device readings, {made['findings']} findings in "
              f"{time.monotonic() - t0:.1f} s")
        db = os.path.join(data, "mokit.db")
        export_s, dump_s = [], []
        sizes = {}
        for i in range(runs):
            out = os.path.join(tmp, f"fhir-{i}")
            t = time.monotonic()
            p = subprocess.run([mokit, "--data", data, "export", "--campaign", "DEMO-TAVAN",
                                "--format", "fhir", "--out", out], capture_output=True,
                               text=True)
            export_s.append(time.monotonic() - t)
            if p.returncode != 0:
                print(f"bench_fhir: export failed: {p.stderr}", file=sys.stderr)
                return 2
            sizes["export"] = dir_size(out)
            lines = sum(1 for f in os.listdir(out) if f.endswith(".ndjson")
                        for _ in open(os.path.join(out, f), "rb"))
            shutil.rmtree(out)

            dump = os.path.join(tmp, f"dump-{i}.json")
            t = time.monotonic()
            with open(dump, "wb") as fh:
                p = subprocess.run(["sqlite3", "-json", db, DUMP_SQL], stdout=fh,
                                   stderr=subprocess.PIPE)
                fh.flush()
                os.fsync(fh.fileno())  # the export fsyncs its files too
            dump_s.append(time.monotonic() - t)
            if p.returncode != 0:
                print(f"bench_fhir: sqlite3 failed: {p.stderr.decode()}", file=sys.stderr)
                return 2
            sizes["dump"] = os.path.getsize(dump)
            os.unlink(dump)
        e, d = statistics.median(export_s), statistics.median(dump_s)
        ok = e <= GOAL_S
        print(f"# FHIR export of {made['patients']} residents / {made['observations']} "
              f"observations ({lines} resources), median of {runs} runs")
        print(f"{'what':<34}{'median s':>10}{'min s':>8}{'max s':>8}{'MB':>8}")
        print(f"{'mokit export --format fhir':<34}{e:>10.2f}{min(export_s):>8.2f}"
              f"{max(export_s):>8.2f}{sizes['export'] / 1e6:>8.0f}")
        print(f"{'sqlite3 -json (same rows)':<34}{d:>10.2f}{min(dump_s):>8.2f}"
              f"{max(dump_s):>8.2f}{sizes['dump'] / 1e6:>8.0f}")
        print(f"{'ratio export / sqlite3 -json':<34}{e / d:>10.2f}")
        print(f"goal: export <= {GOAL_S:.1f} s: {'met' if ok else 'MISSED'} ({e:.2f} s)")
        with open(os.path.join(build, "bench", "fhir.json"), "w") as fh:
            json.dump({"export_s": export_s, "sqlite3_json_s": dump_s, "median_export_s": e,
                       "median_sqlite3_json_s": d, "ratio": e / d, "goal_s": GOAL_S,
                       "met": ok, "resources": lines, **made}, fh, indent=1)
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
