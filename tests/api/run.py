#!/usr/bin/env python3
"""mokitd API test suite: checks app/doc/api.md against a running daemon. Prints TAP.

    python3 tests/api/run.py [BUILD_DIR]      (default "build"; e.g. build/san)

Starts BUILD_DIR/mokitd --demo on a fresh data directory and a free port, logs in once per
role, makes a fixture patient and visit, runs the data cases in tests/api/cases/*.json, then
the flows in flows.py (state across requests, a second daemon for a kit without campaigns,
PIN lockout last), then checks every recorded response (no 5xx, JSON bodies, error shape) and
that SIGTERM stops the daemon with status 0. Exit status 1 if any case failed.

Case files: {"about": ..., "cases": [{"name", "request", "response"}]}.
  request:  method, path, as (a role: its bearer token; "cookie:ROLE": its session cookie;
            "bad-token": an unknown token; absent: no token), headers, and the body as one of
            json (a value), raw (a string sent as is), raw_hex (bytes); pad_to N pads a json
            body with trailing spaces to N bytes; chunked sends it without Content-Length.
  response: status, error (the error code), field (error.field), body (a subset of the JSON
            answer, see harness.match for $re/$type/$any/$absent), headers (name -> matcher).
  "${name}" in strings is replaced by a fixture value (see Suite.fixture_vars) or a fresh
  generated one (new_name, new_cccd, new_cccd_10: fresh per case, same within a case); a string
  that is exactly "${name}" takes the value's type (integers stay integers).
"""

import datetime
import glob
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Client, Daemon, Tap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# The contract's example citizen ID card QR text.
CCCD_QR = ("001089012345|123456789|Nguyễn Văn An|15081989|Nam|"
           "Thôn 3, Tả Van, Sa Pa, Lào Cai|20062021\r\n")

# Syllables for generated names: letters only, so that folding keeps every name distinct.
SYLLABLES = ["Anh", "Bảo", "Cúc", "Dũng", "Giang", "Hải", "Khánh", "Lâm", "Minh", "Ngọc",
             "Phúc", "Quang", "Sơn", "Tâm", "Uyên", "Vinh", "Xuân", "Yến"]
# Every generated name starts with this (the search limit flow counts on it).
TEST_SURNAME = "Kiểm Thử"


class Suite:
    """State shared by the data cases and the flows."""

    def __init__(self, build_dir, tmp):
        self.build_dir = build_dir
        self.tmp = tmp
        self.tap = Tap()
        self.rng = random.Random()
        self.name_counter = 0
        self.used_numbers = set()
        self.vars = {}
        self.daemon = None
        self.client = None
        self.mine = set()  # ids of patients this suite registered
        self.clients = []  # every Client made, for the checks over all responses

    # ---- generated values

    def new_name(self, surname=TEST_SURNAME):
        """A unique name: surname + three syllables from a counter (5832 before repeating)."""
        n = self.name_counter
        self.name_counter += 1
        parts = []
        for _ in range(3):
            parts.append(SYLLABLES[n % len(SYLLABLES)])
            n //= len(SYLLABLES)
        return "%s %s" % (surname, " ".join(reversed(parts)))

    def new_number(self, digits):
        while True:
            s = "".join(self.rng.choice("0123456789") for _ in range(digits))
            if s not in self.used_numbers:
                self.used_numbers.add(s)
                return s

    # ---- daemon

    @property
    def db(self):
        return os.path.join(self.daemon.data_dir, "mokit.db")

    def token(self, role):
        if role not in self.client.tokens:
            raise RuntimeError("no token for %s (its login failed)" % role)
        return self.client.tokens[role]

    def fixture_vars(self):
        today = datetime.date.today()
        code = self.vars.get("code")
        v = {
            "today": today.isoformat(),
            "tomorrow": (today + datetime.timedelta(days=1)).isoformat(),
            "next_year": str(today.year + 1),
            "year_126_ago": str(today.year - 126),
            "future_date": (today + datetime.timedelta(days=365)).isoformat(),
            "future_end_date": (today + datetime.timedelta(days=371)).isoformat(),
            "long_301": "x" * 301,
            "cccd_qr": CCCD_QR,
            "bad_token": "%064x" % self.rng.getrandbits(256),
            "code_unknown": harness.random_code(self.rng),
            "visit_unknown": str(uuid.UUID(int=self.rng.getrandbits(128))),
        }
        if code:
            i = next(k for k in range(10) if code[k] != code[k + 1])  # neighbours that differ
            v.update({
                "code_lower": code.lower(),
                "code_spaced": "%s%%20%s%%20%s" % (code[:4], code[4:8], code[8:]),
                "code_hyphens": "%s-%s-%s" % (code[:4], code[4:8], code[8:]),
                "code_badcheck": harness.corrupt_check(code),
                "code_swapped": code[:i] + code[i + 1] + code[i] + code[i + 2:],
                "code_short": code[:11],
                "code_long": code + "A",
                "code_badchar": code[:5] + "_" + code[6:],
            })
        for role, staff in self.client.staff.items():
            v["%s_id" % role] = staff["id"]
        self.vars.update({k: val for k, val in v.items() if k not in self.vars})

    def register(self, body, role="registrar"):
        """POST /patients; a likely_duplicate caused only by demo residents (their names are
        random) is answered with confirm_new, as the contract says. Returns the Response."""
        resp = self.client.request("POST", "/api/v1/patients", body, token=self.token(role))
        if resp.status == 409 and resp.error_code() == "likely_duplicate":
            ids = {c.get("id") for c in resp.json.get("candidates", [])}
            if ids and not ids & self.mine:
                self.tap.diag("demo data holds a likely duplicate of %s; sent confirm_new"
                              % body.get("name"))
                resp = self.client.request("POST", "/api/v1/patients",
                                           dict(body, confirm_new=True), token=self.token(role))
        if resp.status == 201 and isinstance(resp.json, dict):
            self.mine.add(resp.json.get("id"))
        return resp


# --------------------------------------------------------------------------- data cases

VAR = re.compile(r"\$\{([a-z0-9_]+)\}")
GENERATED = {
    "new_name": lambda s: s.new_name(),
    "new_cccd": lambda s: s.new_number(12),
    "new_cccd_10": lambda s: s.new_number(10),
}


def expand(value, lookup):
    if isinstance(value, str):
        m = VAR.fullmatch(value)
        if m:
            return lookup(m.group(1))
        return VAR.sub(lambda m: str(lookup(m.group(1))), value)
    if isinstance(value, list):
        return [expand(v, lookup) for v in value]
    if isinstance(value, dict):
        return {k: expand(v, lookup) for k, v in value.items()}
    return value


def run_case(suite, case, source):
    tap = suite.tap
    fresh = {}

    def lookup(name):
        if name in GENERATED:
            if name not in fresh:
                fresh[name] = GENERATED[name](suite)
            return fresh[name]
        if name not in suite.vars:
            raise KeyError("unknown variable ${%s} (fixture missing?)" % name)
        return suite.vars[name]

    with tap.case("%s: %s" % (source, case["name"])) as c:
        req = expand(case["request"], lookup)
        exp = expand(case["response"], lookup)
        headers = dict(req.get("headers", {}))
        token = None
        who = req.get("as")
        if who == "bad-token":
            token = suite.vars["bad_token"]
        elif who and who.startswith("cookie:"):
            headers["Cookie"] = "mokit_session=" + suite.token(who.split(":", 1)[1])
        elif who:
            token = suite.token(who)
        raw = None
        if "raw_hex" in req:
            raw = bytes.fromhex(req["raw_hex"])
        elif "raw" in req:
            raw = req["raw"].encode("utf-8")
        elif "json" in req:
            raw = json.dumps(req["json"], ensure_ascii=False).encode("utf-8")
        if "pad_to" in req:
            c.require(len(raw) <= req["pad_to"], "body is already longer than pad_to")
            raw += b" " * (req["pad_to"] - len(raw))
        resp = suite.client.request(req["method"], req["path"], raw=raw, token=token,
                                    headers=headers, chunked=req.get("chunked", False))
        if not c.expect(resp.status == exp["status"], "expected status %d, got %s"
                        % (exp["status"], resp.describe())):
            return
        if "error" in exp:
            c.fields(exp["error"], resp.error_code(), "error.code")
        if "field" in exp:
            err = resp.json.get("error") if isinstance(resp.json, dict) else None
            got = err.get("field") if isinstance(err, dict) else None
            c.expect(got == exp["field"], "expected error.field %r, got %r (%s)"
                     % (exp["field"], got, resp.describe()))
        if "body" in exp:
            if not c.fields(exp["body"], resp.json):
                c.problems.append("response: " + resp.describe())
        for name, matcher in exp.get("headers", {}).items():
            c.fields(matcher, resp.header(name), "header " + name)


def run_case_files(suite, order):
    files = sorted(glob.glob(os.path.join(HERE, "cases", "*.json")))
    names = [os.path.basename(f) for f in files]
    # Listed files first, in that order; any others after them, sorted.
    ordered = [n for n in order if n in names] + [n for n in names if n not in order]
    for name in ordered:
        with open(os.path.join(HERE, "cases", name), encoding="utf-8") as f:
            data = json.load(f)
        for case in data["cases"]:
            run_case(suite, case, name[:-5])


# --------------------------------------------------------------------------- main


def main():
    build_dir = sys.argv[1] if len(sys.argv) > 1 else "build"
    for exe in ("mokitd", "mokit"):
        if not os.access(harness.binary(build_dir, exe), os.X_OK):
            print("Bail out! %s is not built" % os.path.join(build_dir, exe))
            return 1
    import flows  # after sys.path is set

    tmp = tempfile.mkdtemp(prefix="mokit-api-")
    suite = Suite(build_dir, tmp)
    tap = suite.tap
    started = time.monotonic()
    # Captures dropped into replay/ play as devices (tests/api/devices.py).
    suite.replay_dir = os.path.join(tmp, "replay")
    os.makedirs(suite.replay_dir)
    suite.daemon = Daemon(build_dir, os.path.join(tmp, "demo"), demo=True,
                          extra=["--replay-dir", suite.replay_dir])
    try:
        suite.daemon.start(timeout=10)
    except RuntimeError as e:
        tap.bail("mokitd did not start: %s" % e)
        return 1
    suite.client = Client(suite.daemon.port)
    suite.clients.append(suite.client)
    try:
        flows.login_roles(suite)
        suite.fixture_vars()
        flows.fixture_patient_and_visit(suite)
        suite.fixture_vars()
        run_case_files(suite, ["auth.json", "errors.json", "campaigns.json", "patients.json",
                               "visits.json", "cccd.json"])
        flows.run_all(suite)
    finally:
        flows.final_checks(suite)
    tap.diag("%.1f s" % (time.monotonic() - started))
    tap.plan()
    if tap.failed:
        tap.diag("%d of %d failed; data and daemon logs kept in %s" % (tap.failed, tap.n, tmp))
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
