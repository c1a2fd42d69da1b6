#!/usr/bin/env python3
"""Crash safety: registrations answered 201 must survive mokitd being killed. Prints TAP.

    python3 tests/crash/run.py [BUILD_DIR] [--kills 50] [--clients 2] [--seed S]

Starts BUILD_DIR/mokitd --demo on a fresh data directory. Client threads register patients
through the API without pause while the main thread kills mokitd with SIGKILL at random
moments (20-300 ms after it answered health), restarts it and waits for health again, --kills
times. Every registration that got a 201 is recorded. At the end every recorded code must be
served by GET /api/v1/patients/{code} with the name and CCCD that were sent, every patient
must have its audit row (written in the same transaction), and the database must pass
PRAGMA integrity_check, foreign_key_check and the full-text index's integrity-check.
Requests that failed with a connection error are fine: their outcome is unknown.
"""

import argparse
import http.client
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "api"))

import harness  # noqa: E402
from harness import Client, Daemon, Tap  # noqa: E402

REGISTRAR_PIN = "1111"  # the demo registrar
NAME_PREFIX = "Sập Nguồn "  # every patient this test registers ("power cut")
SYLLABLES = ["An", "Bình", "Chi", "Dung", "Giang", "Hà", "Khoa", "Linh", "Mai", "Nam", "Oanh",
             "Phong", "Quý", "Sơn", "Thảo", "Uyên", "Vân", "Xuân", "Yên"]


class Recorder:
    """What the client threads saw, shared under a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counter = 0
        self.created = []      # (code, name, cccd) answered 201
        self.unexpected = []   # descriptions of answers that are neither 201 nor explained
        self.conn_errors = 0
        self.relogins = 0

    def next_patient(self):
        """A unique name (no likely duplicates) and a unique CCCD number (no duplicates)."""
        with self.lock:
            k = self.counter
            self.counter += 1
        parts, n = [], k
        for _ in range(4):
            parts.append(SYLLABLES[n % len(SYLLABLES)])
            n //= len(SYLLABLES)
        return {"name": NAME_PREFIX + " ".join(parts), "sex": "female" if k % 2 else "male",
                "birth": str(1940 + k % 80), "cccd": "099%09d" % k}


def client_loop(port, rec, stop):
    client = Client(port, timeout=10, keep_log=False)  # thousands of requests: keep none
    token = None
    while not stop.is_set():
        try:
            if token is None:
                r = client.request("POST", "/api/v1/login", {"pin": REGISTRAR_PIN})
                if r.status == 200:
                    token = r.json["token"]
                    with rec.lock:
                        rec.relogins += 1
                else:
                    with rec.lock:
                        rec.unexpected.append("login: " + r.describe(200))
                    time.sleep(0.05)
                continue
            body = rec.next_patient()
            r = client.request("POST", "/api/v1/patients", body, token=token)
            with rec.lock:
                if r.status == 201 and isinstance(r.json, dict) and "code" in r.json:
                    rec.created.append((r.json["code"], body["name"], body["cccd"]))
                elif r.status == 401:
                    token = None  # the session did not survive: log in again
                else:
                    rec.unexpected.append(r.describe(200))
        except (OSError, http.client.HTTPException, AttributeError):
            # mokitd is down or was killed mid-request: the outcome is unknown, which is fine.
            # (http.client raises AttributeError when the socket vanished under a request.)
            with rec.lock:
                rec.conn_errors += 1
            time.sleep(0.005)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir", nargs="?", default="build")
    ap.add_argument("--kills", type=int, default=50, help="SIGKILLs (default 50)")
    ap.add_argument("--clients", type=int, default=2, help="client threads (default 2)")
    ap.add_argument("--min-delay-ms", type=int, default=20)
    ap.add_argument("--max-delay-ms", type=int, default=300)
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: new)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)

    tap = Tap()
    if not os.access(harness.binary(args.build_dir, "mokitd"), os.X_OK):
        print("Bail out! %s is not built" % os.path.join(args.build_dir, "mokitd"))
        return 1
    tap.diag("seed %d (rerun with --seed %d)" % (seed, seed))
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="mokit-crash-")
    daemon = Daemon(args.build_dir, os.path.join(tmp, "data"), demo=True)
    started = time.monotonic()

    with tap.case("mokitd --demo starts on a fresh data directory") as c:
        daemon.start(timeout=10)
    if not daemon.alive():
        tap.plan()
        return 1

    rec = Recorder()
    stop = threading.Event()
    threads = [threading.Thread(target=client_loop, args=(daemon.port, rec, stop), daemon=True)
               for _ in range(args.clients)]
    for t in threads:
        t.start()

    kills = 0
    restart_error = None
    counts = []  # 201s seen before each kill, to show progress between kills
    for _ in range(args.kills):
        time.sleep(rng.uniform(args.min_delay_ms, args.max_delay_ms) / 1000)
        with rec.lock:
            counts.append(len(rec.created))
        daemon.kill()
        kills += 1
        try:
            daemon.start(timeout=10)
        except RuntimeError as e:
            restart_error = str(e)
            break
    # Let the clients work against the last instance for a moment, then stop them.
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(15)

    with tap.case("%d SIGKILLs, mokitd restarted and answered health after each" % kills) as c:
        c.expect(kills == args.kills and restart_error is None,
                 "restart after kill %d failed: %s" % (kills, restart_error))
        c.expect(not any(t.is_alive() for t in threads), "a client thread is stuck")
    created = list(rec.created)
    windows = sum(1 for a, b in zip([0] + counts, counts) if b > a)
    with tap.case("registrations answered 201 while being killed (%d, in %d of %d windows "
                  "between kills)" % (len(created), windows, len(counts))) as c:
        c.expect(len(created) > 0, "no registration succeeded: the test proved nothing")
    tap.diag("%d connection errors (unknown outcome), %d logins" % (rec.conn_errors, rec.relogins))
    with tap.case("no answer other than 201, or 401 for a lost session") as c:
        for u in rec.unexpected[:20]:
            c.expect(False, u)
        c.expect(len(rec.unexpected) <= 20, "... %d in all" % len(rec.unexpected))

    with tap.case("every patient answered 201 is there after the crashes (%d)" % len(created)) \
            as c:
        c.require(daemon.alive(), "mokitd is not running")
        checker = Client(daemon.port)
        r = checker.request("POST", "/api/v1/login", {"pin": REGISTRAR_PIN})
        c.require_status(r, 200)
        token = r.json["token"]
        missing = []
        for code, name, cccd in created:
            r = checker.request("GET", "/api/v1/patients/" + code, token=token)
            if r.status != 200 or not isinstance(r.json, dict) or \
                    r.json.get("name") != name or r.json.get("cccd") != cccd:
                missing.append(r.describe(200))
        c.expect(not missing, "%d of %d lost or changed, e.g.:\n%s"
                 % (len(missing), len(created), "\n".join(missing[:5])))

    db = os.path.join(daemon.data_dir, "mokit.db")
    with tap.case("every patient registered here has its audit row (same transaction)") as c:
        # NOT IN (subquery) is evaluated once into an ephemeral index: audit has no index on
        # entity_id, and a correlated NOT EXISTS would scan it once per patient.
        rows = harness.sqlite(db, "select count(*) from patient p where p.name like %s and "
                              "p.id not in (select entity_id from audit where entity = 'patient' "
                              "and action = 'create')" % harness.sql_quote(NAME_PREFIX + "%"))
        c.expect(rows[0][0] == "0", "%s patients without an audit row" % rows[0][0])
        rows = harness.sqlite(db, "select count(*) from audit a where a.entity = 'patient' and "
                              "a.action = 'create' and a.entity_id not in (select id from patient)")
        c.expect(rows[0][0] == "0", "%s audit rows for patients that are not there" % rows[0][0])

    with tap.case("SIGTERM stops mokitd with status 0") as c:
        rc = daemon.terminate()
        c.expect(rc == 0, "exit status %r\n%s" % (rc, daemon.log_tail()))

    # With mokitd stopped the database is closed: check it as a whole.
    with tap.case("PRAGMA integrity_check says ok") as c:
        rows = harness.sqlite(db, "PRAGMA integrity_check")
        c.expect(rows == [["ok"]], "integrity_check: %s" % rows[:10])
    with tap.case("PRAGMA foreign_key_check finds nothing") as c:
        rows = harness.sqlite(db, "PRAGMA foreign_key_check")
        c.expect(rows == [], "foreign_key_check: %s" % rows[:10])
    with tap.case("the full-text index agrees with the patient table") as c:
        # FTS5 integrity-check raises an error when the index and its content differ.
        harness.sqlite(db, "INSERT INTO patient_fts(patient_fts) VALUES('integrity-check')")
    with tap.case("no sanitizer or runtime error in the daemon log") as c:
        pat = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                         r"runtime error:")
        with open(daemon.log_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                c.expect(not pat.search(line), line.rstrip())

    tap.diag("%d starts, %.1f s" % (daemon.starts, time.monotonic() - started))
    tap.plan()
    if tap.failed:
        tap.diag("data and daemon log kept in %s" % tmp)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
