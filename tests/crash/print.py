#!/usr/bin/env python3
"""Crash safety of the print queue: mokitd killed in the middle of sending a job. Prints TAP.

    python3 tests/crash/print.py [BUILD_DIR] [--jobs 10] [--kills 8] [--seed S]

A demo kit whose ticket printer is the simulated printer behind a slow wire (sim:...?bps=3000:
a test page takes about 0.7 s to send). --jobs test pages are queued with `mokit print test`
while mokitd is down. Then, --kills times: mokitd starts, the test waits until a job is on the
wire (the simulator's .on-wire marker), lets it run a random part of its wire time and kills
mokitd with SIGKILL. Finally mokitd runs until the queue is empty.

Every job must then be "done", each exactly once on paper (one PNG, no LABEL-2.png), and at
least one job must show the retry (attempts > 1). Kills land only while a job is on the wire:
the moment between the printer taking the last byte and the commit of "done" (a few
milliseconds) can print a job twice, as app/print/spool.h says, and is not what this measures.
"""

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "api"))

from harness import Daemon, Tap  # noqa: E402

WIRE_BPS = 3000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--jobs", type=int, default=10)
    ap.add_argument("--kills", type=int, default=8)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    tap = Tap()
    tap.diag("seed %d" % seed)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    build = os.path.join(root, args.build)
    mokit = os.path.join(build, "mokit")
    tmp = tempfile.mkdtemp(prefix="mokit-crash-print-")
    data = os.path.join(tmp, "kit")
    keep = False
    daemon = Daemon(build, data, demo=True)
    prints = os.path.join(data, "prints", "ticket")
    wire = os.path.join(prints, ".on-wire")

    def cli(*argv):
        p = subprocess.run([mokit, "--data", data, "--json", *argv], capture_output=True,
                           text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("mokit %s: %s" % (" ".join(argv), p.stderr))
        return p.stdout

    try:
        daemon.start()
        daemon.terminate()
        cli("printer", "set", "ticket", "--uri", "sim:prints/ticket?bps=%d" % WIRE_BPS)
        jobs = [json.loads(cli("print", "test", "--printer", "ticket"))
                for _ in range(args.jobs)]
        wire_s = jobs[0]["bytes"] / WIRE_BPS
        tap.diag("%d jobs of %d bytes, %.2f s on the wire each" % (len(jobs), jobs[0]["bytes"],
                                                                  wire_s))

        mid_job_kills = 0
        with tap.case("mokitd killed %d times while a job was on the wire" % args.kills) as c:
            for _ in range(args.kills):
                started = time.time()
                daemon.start()
                # Let 0-2 jobs through, then kill the next one on the wire.
                target, labels = rng.randint(1, 3), []
                end = time.time() + 30
                while time.time() < end and len(labels) < target:
                    try:
                        # The file the last daemon left when it was killed is not this one's
                        # job (this daemon removes it when it opens the printer).
                        if os.stat(wire).st_mtime < started - 0.05:
                            raise FileNotFoundError
                        with open(wire) as f:
                            label = f.read().strip()
                    except FileNotFoundError:
                        label = ""
                    if label and (not labels or labels[-1] != label):
                        labels.append(label)
                        continue
                    time.sleep(0.005)
                if len(labels) < target and not os.path.exists(wire):
                    daemon.kill()  # the queue ran dry first: nothing to interrupt
                    continue
                c.require(len(labels) == target, "no job went on the wire within 30 s")
                # A random part of the wire time, leaving a margin before the page is done.
                time.sleep(rng.uniform(0.0, wire_s * 0.6))
                c.require(os.path.exists(wire), "the job left the wire before the kill")
                daemon.kill()
                mid_job_kills += 1
        tap.diag("%d kills mid-job" % mid_job_kills)

        daemon.start()
        end = time.time() + 60
        states = []
        while time.time() < end:
            listed = json.loads(cli("print", "jobs", "--printer", "ticket", "--limit",
                                    str(args.jobs)))
            states = {j["id"]: j for j in listed}
            if all(states[j["id"]]["state"] == "done" for j in jobs):
                break
            time.sleep(0.2)
        daemon.terminate()

        with tap.case("every job printed (state done)") as c:
            bad = [(j["seq"], states.get(j["id"], {}).get("state")) for j in jobs
                   if states.get(j["id"], {}).get("state") != "done"]
            c.expect(not bad, "not done: %r" % bad)
        with tap.case("each job is on paper exactly once: no lost page, no second copy") as c:
            files = sorted(f for f in os.listdir(prints) if f.endswith(".png"))
            want = sorted("%06d-test.png" % j["seq"] for j in jobs)
            c.expect(files == want, "pages %r, want %r" % (files, want))
        with tap.case("each interrupted job was sent again: attempts = jobs + kills mid-job") as c:
            attempts = [states.get(j["id"], {}).get("attempts", 0) for j in jobs]
            c.expect(mid_job_kills >= 1 and sum(attempts) == len(jobs) + mid_job_kills,
                     "attempts %r after %d kills mid-job" % (attempts, mid_job_kills))
            tap.diag("attempts per job: %r" % attempts)
        with tap.case("every page is whole: its QR scans") as c:
            for j in jobs:
                path = os.path.join(prints, "%06d-test.png" % j["seq"])
                if not os.path.exists(path):
                    continue
                p = subprocess.run(["zbarimg", "--quiet", "--nodbus", "--raw", "-Sbinary", path],
                                   capture_output=True, timeout=30)
                c.expect(p.stdout.decode().strip() == "MOKIT-TEST", "%s: %r" % (path, p.stdout))
        with tap.case("the database locked (by another program) as a job finishes: the job is "
                      "printed once, marked done when the lock goes") as c:
            job = json.loads(cli("print", "test", "--printer", "ticket"))
            daemon.start()
            end = time.time() + 20
            while time.time() < end and not os.path.exists(wire):
                time.sleep(0.005)
            c.require(os.path.exists(wire), "the job did not go on the wire")
            # Longer than the store's 5 s busy timeout: marking the job done fails at first.
            db = sqlite3.connect(os.path.join(data, "mokit.db"), isolation_level=None,
                                 timeout=10)
            db.execute("BEGIN IMMEDIATE")
            time.sleep(7)
            c.expect(os.path.exists(os.path.join(prints, "%06d-test.png" % job["seq"])),
                     "the page was not printed while the database was locked")
            db.execute("ROLLBACK")
            db.close()
            end = time.time() + 30
            state = {}
            while time.time() < end:
                state = json.loads(cli("print", "jobs", "--printer", "ticket", "--limit", "1"))[0]
                if state.get("id") == job["id"] and state.get("state") == "done":
                    break
                time.sleep(0.2)
            daemon.terminate()
            c.expect(state.get("state") == "done" and state.get("attempts") == 1,
                     "job after the lock: %r" % state)
            pages = [f for f in os.listdir(prints) if f.startswith("%06d-" % job["seq"])]
            c.expect(pages == ["%06d-test.png" % job["seq"]], "pages %r" % pages)
    except Exception as e:  # a crash in the test is a failure, with the daemon's log
        keep = True
        tap.result(False, "crash test ran to the end", [repr(e)] + daemon.log_tail())
    finally:
        if daemon.alive():
            daemon.kill()
    tap.plan()
    failed = tap.failed
    if failed or keep:
        tap.diag("data kept in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed or keep else 0


if __name__ == "__main__":
    sys.exit(main())
