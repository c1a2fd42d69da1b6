#!/usr/bin/env python3
"""The mokit benchmarks, driven by tests/bench/run.sh (which builds the C helpers and cleans up).

a) search latency over BENCH_PATIENTS demo residents (goal: p99 <= 20 ms)
b) registration throughput through the API vs raw SQLite inserts (goal: ratio >= 0.5)
c) VmRSS of mokitd holding those residents after the search run (goal: <= 16 MB)

Requests are timed by the C load client (loadgen) on one keep-alive connection; this script only
prepares inputs, starts and stops daemons, and computes the numbers. Only 127.0.0.1 is used.
"""

import argparse
import datetime
import glob
import http.client
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import unicodedata
import urllib.parse

GOAL_P99_MS = 20.0
GOAL_RATIO = 0.5
GOAL_RSS_KB = 16 * 1024
DEADLINE_S = 540  # the whole run stays under ~10 minutes on a 2-core machine

PATIENTS = int(os.environ.get("BENCH_PATIENTS", "100000"))
QUERIES = int(os.environ.get("BENCH_QUERIES", "1000"))
REGISTRATIONS = int(os.environ.get("BENCH_REGISTRATIONS", "2000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))

T0 = time.monotonic()


class BenchError(Exception):
    pass


def log(msg):
    print(f"bench [{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def time_left():
    return DEADLINE_S - (time.monotonic() - T0)


# ---- text, as a registrar types it ----


def fold(s):
    """The kit's search folding: no marks, lower case, đ -> d, runs of other characters -> ' '."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c)).casefold().replace("đ", "d")
    return " ".join("".join(c if c.isalnum() else " " for c in s).split())


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


# ---- processes ----


class Daemon:
    def __init__(self, args, data, demo, pidfile):
        self.port = free_port()
        self.log_path = os.path.join(args.tmp, f"mokitd-{self.port}.log")
        cmd = [os.path.join(args.build, "mokitd"), "--data", data,
               "--listen", f"127.0.0.1:{self.port}"]
        if demo:
            cmd.append("--demo")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        with open(pidfile, "a") as f:
            f.write(f"{self.proc.pid}\n")
        self.token = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"mokitd exited with {self.proc.returncode}: {self.tail()}")
            try:
                status, _ = self.request("GET", "/api/v1/health", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise BenchError(f"mokitd did not answer within 60 s: {self.tail()}")

    def tail(self):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-5:]).strip()
        except OSError:
            return ""

    def request(self, method, path, body=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            data = None
            if body is not None:
                data = json.dumps(body, ensure_ascii=False).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            raw = r.read()
            try:
                return r.status, json.loads(raw) if raw else None
            except ValueError:
                return r.status, None
        finally:
            conn.close()

    def login(self, pin):
        status, body = self.request("POST", "/api/v1/login", {"pin": pin})
        if status != 200 or not body or "token" not in body:
            raise BenchError(f"login with PIN {pin} answered {status} {body}")
        self.token = body["token"]

    def memory_kb(self):
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    fields[key] = int(value.split()[0])
        return fields

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log_file.close()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, timeout, **kw):
    try:
        return subprocess.run(cmd, check=True, timeout=timeout, capture_output=True, text=True,
                              **kw)
    except subprocess.CalledProcessError as e:
        raise BenchError(f"{' '.join(cmd[:4])}... failed ({e.returncode}): "
                         f"{(e.stderr or e.stdout or '').strip()[-500:]}") from None
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(cmd[:4])}... took longer than {timeout} s") from None


def people(args, seed, count, today):
    out = run([os.path.join(args.tools, "demo_dump"), str(seed), str(count), today], 60).stdout
    rows = []
    for line in out.splitlines():
        name, sex, birth, eth, village, phone = line.split("\t")
        rows.append({"name": name, "sex": sex, "birth": birth, "ethnicity": eth,
                     "village": village, "phone": phone})
    return rows


def loadgen(args, daemon, requests, name, max_seconds):
    """Sends requests [(method, path, body or None)]; returns [(status, ms, count)], seconds."""
    req_path = os.path.join(args.tmp, f"{name}.req")
    out_path = os.path.join(args.tmp, f"{name}.out")
    with open(req_path, "w") as f:
        for method, path, body in requests:
            line = json.dumps(body, ensure_ascii=False) if body is not None else ""
            f.write(f"{method}\t{path}\t{line}\n")
    t = time.monotonic()
    p = subprocess.run([os.path.join(args.tools, "loadgen"), str(daemon.port), daemon.token or "-",
                        req_path, out_path, str(int(max_seconds))],
                       capture_output=True, text=True, timeout=max_seconds + 60)
    seconds = time.monotonic() - t
    # loadgen's own clock, from its first request to its last answer (no process start-up).
    m = re.search(r"reconnects, ([0-9.]+) s", p.stderr)
    if m:
        seconds = float(m.group(1))
    rows = []
    with open(out_path) as f:
        for line in f:
            status, us, _, count = line.split("\t")
            rows.append((int(status), float(us) / 1000.0, int(count)))
    if p.returncode != 0 or len(rows) < len(requests):
        raise BenchError(f"{name}: {len(rows)}/{len(requests)} requests answered "
                         f"({p.stderr.strip()}); daemon log: {daemon.tail()}")
    return rows, seconds


# ---- a) search and c) memory ----


def seed_database(args, data):
    """The CLI's demo seed: PATIENTS residents in one transaction, a campaign, demo staff."""
    t = time.monotonic()
    run([os.path.join(args.build, "mokit"), "--data", data, "demo", "seed", "--patients",
         str(PATIENTS), "--seed", "1"], max(60, time_left() - 240))
    return time.monotonic() - t


def build_queries(rng, crowd, known, codes, phones, cccds, missing_cccds):
    """QUERIES varied searches as a registrar types them, with their kind."""
    kinds = [  # (kind, weight in %)
        ("full name, no accents", 25), ("full name, NFC", 10), ("full name, NFD", 5),
        ("partial given name", 15), ("surname + middle", 10), ("surname only", 8),
        ("given name only", 10), ("middle + given", 5), ("name + birth year", 5),
        ("patient code", 3), ("CCCD number", 2), ("phone number", 2),
    ]
    plan = [k for k, w in kinds for _ in range(round(QUERIES * w / 100))]
    while len(plan) < QUERIES:
        plan.append(kinds[0][0])
    plan = plan[:QUERIES]
    rng.shuffle(plan)
    queries, seen = [], {}
    for kind in plan:
        # Name and birth year of someone in the database (the crowd's pairs rarely are).
        p = rng.choice(known if kind == "name + birth year" else crowd)
        words = p["name"].split()
        folded = fold(p["name"]).split()
        if kind == "full name, no accents":
            q = " ".join(folded)
            if rng.random() < 0.1:
                q = q.upper()
        elif kind == "full name, NFC":
            q = unicodedata.normalize("NFC", p["name"])
            if rng.random() < 0.3:
                q = q.lower()
        elif kind == "full name, NFD":
            q = unicodedata.normalize("NFD", p["name"])
        elif kind == "partial given name":
            q = " ".join(folded[:-1] + [folded[-1][: rng.choice((1, 1, 2, 3))]])
        elif kind == "surname + middle":
            q = " ".join(folded[:2])
        elif kind == "surname only":
            q = folded[0] if rng.random() < 0.8 else words[0]
        elif kind == "given name only":
            q = folded[-1] if rng.random() < 0.8 else words[-1]
        elif kind == "middle + given":
            q = " ".join(folded[-2:])
        elif kind == "name + birth year":
            q = " ".join(folded) + " " + p["birth"][:4]
        elif kind == "patient code":
            c = rng.choice(codes)
            q = rng.choice((c, c.lower(), f"{c[:4]} {c[4:8]} {c[8:]}"))
        elif kind == "CCCD number":  # half of them registered, half not
            seen[kind] = seen.get(kind, 0) + 1
            q = rng.choice(cccds if seen[kind] % 2 else missing_cccds)
        else:
            q = rng.choice(phones) if phones else rng.choice(missing_cccds)[:10]
        queries.append((kind, q))
    return queries


def bench_search(args, today, pidfile):
    data = os.path.join(args.tmp, "search")
    log(f"seeding {PATIENTS} demo residents (mokit demo seed)")
    seed_s = seed_database(args, data)
    log(f"seeded in {seed_s:.1f} s; starting mokitd")
    d = Daemon(args, data, demo=False, pidfile=pidfile)
    try:
        hwm_before_login = d.memory_kb().get("VmHWM")
        d.login("1111")
        hwm_after_login = d.memory_kb().get("VmHWM")
        status, st = d.request("GET", "/api/v1/status")
        stored = (st or {}).get("counts", {}).get("patients")
        if status != 200 or not stored or stored < PATIENTS:
            raise BenchError(f"status says {stored} patients, expected {PATIENTS}")

        # A second crowd from the same generator: mostly names that exist in the database.
        rng = random.Random(2)
        crowd = people(args, 2, 3000, today)

        # Identifiers a registrar might scan or type: patient codes and phones found through the
        # API, and CCCD numbers of a few people registered now (plus some of nobody).
        codes, phones, known = [], [], []
        for p in crowd[:40]:
            status, body = d.request("GET", "/api/v1/patients?" +
                                     urllib.parse.urlencode({"q": fold(p["name"]), "limit": 5}))
            for r in (body or {}).get("results", []):
                codes.append(r["code"])
                known.append({"name": r["name"], "birth": str(r["birth_year"])})
        for code in codes[:60]:
            status, body = d.request("GET", f"/api/v1/patients/{code}")
            if status == 200 and body.get("phone"):
                phones.append(body["phone"])
        if not codes or not known:
            raise BenchError("the warm-up searches found nobody: is the database seeded?")
        cccds = []
        for i, p in enumerate(people(args, 4, 20, today)):
            cccd = f"0101{65 + i:02d}{900000 + i:06d}"
            body = dict(p, cccd=cccd, confirm_new=True, consent=True)
            if not body["phone"]:
                del body["phone"]
            status, _ = d.request("POST", "/api/v1/patients", body)
            if status != 201:
                raise BenchError(f"registering a CCCD holder answered {status}")
            cccds.append(cccd)
        missing_cccds = [f"0011{rng.randrange(10**8):08d}" for _ in range(50)]

        queries = build_queries(rng, crowd, known, codes, phones, cccds, missing_cccds)

        def path(q):
            return "/api/v1/patients?q=" + urllib.parse.quote(q, safe="")

        # Warm-up (not timed): the first pages come into the cache as on a real morning.
        warm = build_queries(random.Random(3), crowd, known, codes, phones, cccds,
                             missing_cccds)[:50]
        loadgen(args, d, [("GET", path(q), None) for _, q in warm], "search-warmup", 60)
        floor, _ = loadgen(args, d, [("GET", "/api/v1/health", None)] * 200, "health", 60)

        log(f"timing {len(queries)} searches")
        rows, seconds = loadgen(args, d, [("GET", path(q), None) for _, q in queries],
                                "search", max(30, min(240, time_left() - 200)))
        bad = [(q, s) for (_, q), (s, _, _) in zip(queries, rows) if s != 200]
        if bad:
            raise BenchError(f"{len(bad)} searches failed, e.g. {bad[:3]}")
        ms = [r[1] for r in rows]
        by_kind = {}
        for (kind, q), (_, t, count) in zip(queries, rows):
            k = by_kind.setdefault(kind, {"n": 0, "ms": [], "found": 0, "slowest": (0, "")})
            k["n"] += 1
            k["ms"].append(t)
            k["found"] += count > 0
            if t > k["slowest"][0]:
                k["slowest"] = (t, q)
        kinds = {
            kind: {"queries": k["n"], "p50_ms": round(percentile(k["ms"], 50), 3),
                   "p99_ms": round(percentile(k["ms"], 99), 3),
                   "max_ms": round(max(k["ms"]), 3), "found_share": round(k["found"] / k["n"], 3),
                   "slowest_query": k["slowest"][1]}
            for kind, k in by_kind.items()
        }
        slowest = sorted(zip(ms, (q for _, q in queries)), reverse=True)[:10]
        search = {
            "patients": stored, "queries": len(rows), "seconds": round(seconds, 3),
            "seed_seconds": round(seed_s, 2),
            "p50_ms": round(percentile(ms, 50), 3), "p90_ms": round(percentile(ms, 90), 3),
            "p99_ms": round(percentile(ms, 99), 3), "max_ms": round(max(ms), 3),
            "mean_ms": round(statistics.fmean(ms), 3),
            "found_share": round(sum(1 for r in rows if r[2] > 0) / len(rows), 3),
            "client_floor_p50_ms": round(percentile([r[1] for r in floor], 50), 3),
            "goal_p99_ms": GOAL_P99_MS, "by_kind": kinds,
            "slowest": [{"ms": round(t, 3), "q": q} for t, q in slowest],
        }
        search["pass"] = search["p99_ms"] <= GOAL_P99_MS

        mem = d.memory_kb()
        _, st = d.request("GET", "/api/v1/status")
        memory = {"patients": (st or {}).get("counts", {}).get("patients"),
                  "vmhwm_before_login_kb": hwm_before_login,
                  "vmhwm_after_login_kb": hwm_after_login, "vmrss_kb": mem.get("VmRSS"),
                  "vmhwm_kb": mem.get("VmHWM"),
                  "rss_anon_kb": mem.get("RssAnon"), "rss_file_kb": mem.get("RssFile"),
                  "db_bytes": sum(os.path.getsize(os.path.join(data, f))
                                  for f in os.listdir(data)
                                  if os.path.isfile(os.path.join(data, f))),
                  "goal_kb": GOAL_RSS_KB}
        memory["pass"] = memory["vmrss_kb"] is not None and memory["vmrss_kb"] <= GOAL_RSS_KB

        # For information: registering into the full database (duplicate checks on 100,000).
        extra = people(args, 5, 500, today)
        reqs = [("POST", "/api/v1/patients", reg_body(p, 500000 + i)) for i, p in enumerate(extra)]
        rrows, rsec = loadgen(args, d, reqs, "register-full", 60)
        if any(s != 201 for s, _, _ in rrows):
            raise BenchError("registrations into the full database failed")
        search["register_into_full_db"] = {
            "n": len(rrows), "per_second": round(len(rrows) / rsec, 1),
            "p50_ms": round(percentile([r[1] for r in rrows], 50), 3),
            "p99_ms": round(percentile([r[1] for r in rrows], 99), 3)}
        return search, memory
    finally:
        d.stop()


# ---- b) registration throughput ----


def reg_body(p, serial):
    body = {"name": p["name"], "sex": p["sex"], "birth": p["birth"], "ethnicity": p["ethnicity"],
            "village": p["village"], "cccd": f"0119{serial % 100:02d}{serial % 1000000:06d}",
            "consent": True, "confirm_new": True}
    if p["phone"]:
        body["phone"] = p["phone"]
    return body


def bench_registration(args, today, pidfile):
    n = REGISTRATIONS
    schema = sorted(glob.glob(os.path.join("app", "sql", "*.sql")))
    if not schema:
        raise BenchError("no app/sql/*.sql: run from the repository root")
    crowd = people(args, 3, n * REPEATS, today)
    raw_dir = os.path.join(args.tmp, "raw")
    os.makedirs(raw_dir)
    d = Daemon(args, os.path.join(args.tmp, "register"), demo=True, pidfile=pidfile)
    runs = []
    try:
        d.login("1111")
        for rep in range(REPEATS):
            chunk = crowd[rep * n:(rep + 1) * n]
            tsv = os.path.join(args.tmp, f"raw-{rep}.tsv")
            with open(tsv, "w") as f:
                for p in chunk:
                    f.write("\t".join(p[k] for k in ("name", "sex", "birth", "ethnicity",
                                                     "village", "phone")) + "\n")
            reqs = [("POST", "/api/v1/patients", reg_body(p, rep * n + i))
                    for i, p in enumerate(chunk)]
            result = {}
            # Alternate the order, so that no side always meets a warmer disk. "raw" is the
            # goal's baseline; "raw_kit" writes what a registration writes (the kit's schema:
            # full-text index and audit row), so api/raw_kit is the cost of the API layer alone.
            order = ("api", "raw", "raw_kit") if rep % 2 == 0 else ("raw_kit", "raw", "api")
            for side in order:
                if time_left() < 30:
                    raise BenchError("out of time in the registration benchmark")
                if side == "api":
                    rows, sec = loadgen(args, d, reqs, f"register-{rep}", min(120, time_left()))
                    if any(s != 201 for s, _, _ in rows):
                        codes = sorted({s for s, _, _ in rows})
                        raise BenchError(f"registrations answered {codes}")
                    ms = [r[1] for r in rows]
                    result["api_per_second"] = round(n / sec, 1)
                    result["api_p50_ms"] = round(percentile(ms, 50), 3)
                    result["api_p99_ms"] = round(percentile(ms, 99), 3)
                else:
                    cmd = [os.path.join(args.tools, "raw_insert"),
                           os.path.join(raw_dir, f"{side}.db"), tsv, str(n), str(rep * n)]
                    if side == "raw_kit":
                        cmd += schema
                    out = run(cmd, min(120, time_left()))
                    result[f"{side}_per_second"] = json.loads(out.stdout)["per_second"]
            result["ratio"] = round(result["api_per_second"] / result["raw_per_second"], 3)
            result["ratio_vs_kit_schema"] = round(
                result["api_per_second"] / result["raw_kit_per_second"], 3)
            log(f"registration run {rep + 1}/{REPEATS}: API {result['api_per_second']}/s, "
                f"raw {result['raw_per_second']}/s (ratio {result['ratio']}), "
                f"raw with the kit's schema {result['raw_kit_per_second']}/s "
                f"(ratio {result['ratio_vs_kit_schema']})")
            runs.append(result)
    finally:
        d.stop()
    reg = {"registrations_per_run": n, "runs": runs,
           "median_api_per_second": statistics.median(r["api_per_second"] for r in runs),
           "median_raw_per_second": statistics.median(r["raw_per_second"] for r in runs),
           "median_raw_kit_per_second": statistics.median(r["raw_kit_per_second"] for r in runs),
           "median_ratio_vs_kit_schema": statistics.median(r["ratio_vs_kit_schema"]
                                                           for r in runs),
           "median_ratio": statistics.median(r["ratio"] for r in runs), "goal_ratio": GOAL_RATIO}
    reg["pass"] = reg["median_ratio"] >= GOAL_RATIO
    return reg


# ---- report ----


def report(res):
    s, r, m = res["search"], res["registration"], res["memory"]
    def mark(ok):
        return "ok" if ok else "MISSED"
    print()
    print(f"{'goal':<42} {'measured':>22} {'target':>12}  result")
    print(f"{'a) search p99, ' + str(s['patients']) + ' patients':<42} "
          f"{s['p99_ms']:>19.2f} ms {'<= 20 ms':>12}  {mark(s['pass'])}")
    floor = f"   search p50 (client floor {s['client_floor_p50_ms']:.2f} ms)"
    print(f"{floor:<42} {s['p50_ms']:>19.2f} ms")
    print(f"{'b) registration API / raw SQLite (median)':<42} {r['median_ratio']:>22.3f} "
          f"{'>= 0.5':>12}  {mark(r['pass'])}")
    print(f"{'   API / raw registrations per second':<42} "
          f"{r['median_api_per_second']:>9.0f} / {r['median_raw_per_second']:<9.0f}")
    print(f"{'   API / raw with the kit schema (median)':<42} "
          f"{r['median_ratio_vs_kit_schema']:>22.3f}")
    print(f"{'c) mokitd VmRSS after the search run':<42} {m['vmrss_kb'] / 1024:>19.1f} MB "
          f"{'<= 16 MB':>12}  {mark(m['pass'])}")
    print(f"{'   peak (VmHWM) before / after login':<42} "
          f"{m['vmhwm_before_login_kb'] / 1024:>9.1f} / "
          f"{m['vmhwm_after_login_kb'] / 1024:<6.1f} MB")
    print()
    print(f"{'search by kind':<26} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'found':>6}"
          "  slowest query")
    for kind, k in sorted(s["by_kind"].items(), key=lambda kv: -kv[1]["p99_ms"]):
        print(f"{kind:<26} {k['queries']:>5} {k['p50_ms']:>8.2f} {k['p99_ms']:>8.2f} "
              f"{k['max_ms']:>8.2f} {k['found_share'] * 100:>5.0f}%  {k['slowest_query']}")
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--results", required=True)
    args = ap.parse_args()
    # A TERM from run.sh unwinds like an error: children killed, daemons stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    pidfile = os.path.join(args.tmp, "pids")
    # The generator's "today" is yesterday, so that no birth date is ahead of the daemon's clock
    # whatever its time zone.
    today = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    try:
        search, memory = bench_search(args, today, pidfile)
        registration = bench_registration(args, today, pidfile)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": {"cpus": os.cpu_count()},
           "search": search, "registration": registration, "memory": memory,
           "notes": [
               "latencies are client-side, measured by tests/bench/loadgen.c on one keep-alive "
               "connection; client_floor_p50_ms is GET /api/v1/health on the same connection",
               "raw inserts: a patient-shaped table with the same UNIQUE and name indexes, "
               "no full-text index and no audit row, one row per transaction, same pragmas; "
               "raw_kit: the kit's own schema (app/sql) with the patient row, its full-text "
               "index through the triggers and an audit row per transaction",
               "memory: VmRSS is read after the search run; VmHWM is the peak since start, "
               "which includes the PIN check at login (vmhwm_after_login_kb)",
               "registration throughput is wall-clock over the run of one registration at a "
               "time; each side alternates first, and the ratio reported is the median of the "
               "runs' ratios",
           ]}
    res["pass"] = search["pass"] and registration["pass"] and memory["pass"]
    with open(args.results, "w") as f:
        json.dump(res, f, ensure_ascii=False, indent=2)
        f.write("\n")
    report(res)
    print(f"results: {args.results}")
    return 0 if res["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
