"""Shared test machinery for the mokitd API and crash tests (Python 3 standard library only).

- Daemon: starts build/mokitd on a data directory and a free port, waits for health, stops it.
- Client: one HTTP request per connection; every response is recorded so that the suite can
  check global rules at the end (no 5xx, JSON everywhere, error body shape).
- Tap: prints TAP ("ok N - text" / "not ok N - text" + "# diagnostics", plan "1..N").
- Helpers: patient code check characters (ISO/IEC 7064 MOD 37-2), the sqlite3 command-line
  tool, the mokit CLI.
"""

import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SYMBOLS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# --------------------------------------------------------------------------- patient codes


def code_check_value(body):
    """MOD 37-2 check value (0..36) of an uppercase alphanumeric body."""
    p = 0
    for ch in body:
        p = ((p + SYMBOLS.index(ch)) * 2) % 37
    return (38 - p) % 37


def code_is_valid(code):
    if not isinstance(code, str) or len(code) != 12 or any(c not in SYMBOLS for c in code):
        return False
    return code_check_value(code[:11]) == SYMBOLS.index(code[11])


def random_code(rng=random):
    """A well-formed code (almost surely issued to nobody)."""
    while True:
        body = "".join(rng.choice(SYMBOLS) for _ in range(11))
        check = code_check_value(body)
        if check < 36:
            return body + SYMBOLS[check]


def corrupt_check(code):
    """The same code with a different (wrong) check character."""
    right = code[11]
    wrong = next(c for c in SYMBOLS if c != right)
    return code[:11] + wrong


# --------------------------------------------------------------------------- processes


def free_port():
    """A TCP port nobody listens on right now (bind to port 0 and let the kernel choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary(build_dir, name):
    path = build_dir if os.path.isabs(build_dir) else os.path.join(REPO, build_dir)
    return os.path.join(path, name)


class Daemon:
    """One mokitd process on a data directory. stderr goes to a log file in the data dir's
    parent so that it can be shown when something fails."""

    def __init__(self, build_dir, data_dir, demo=True, port=None, log_path=None, extra=()):
        self.exe = binary(build_dir, "mokitd")
        self.data_dir = data_dir
        self.demo = demo
        # Tests never take this machine's USB or input devices.
        self.extra = ["--usb", "no", "--evdev", "no"] + list(extra)
        self.port = port or free_port()
        self.log_path = log_path or data_dir.rstrip("/") + ".mokitd.log"
        self.proc = None
        self.starts = 0

    def argv(self):
        argv = [self.exe, "--data", self.data_dir, "--listen", "127.0.0.1:%d" % self.port]
        if self.demo:
            argv.append("--demo")
        return argv + self.extra

    def start(self, timeout=10.0):
        """Starts mokitd and waits until GET /api/v1/health answers 200. Raises on timeout or
        early exit."""
        self.spawn()
        self.wait_healthy(timeout)

    def spawn(self):
        log = open(self.log_path, "ab")
        log.write(("--- start %d: %s\n" % (self.starts, " ".join(self.argv()))).encode())
        log.flush()
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        self.starts += 1

    def wait_healthy(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("mokitd exited with status %s while starting\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/api/v1/health")
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("mokitd did not answer /api/v1/health within %.0f s\n%s"
                                   % (timeout, self.log_tail()))
            time.sleep(0.01)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout=10.0):
        """SIGTERM and wait; returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def kill(self):
        """SIGKILL and reap, so that the data directory's lock is free again."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def sqlite(db_path, sql):
    """Runs sql with the sqlite3 command-line tool; returns rows as lists of strings
    (columns separated by the ASCII unit separator, so '|' in values is harmless)."""
    out = subprocess.run(["sqlite3", "-bail", "-separator", "\x1f", db_path, sql],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError("sqlite3 failed (%d): %s" % (out.returncode, out.stderr.strip()))
    return [line.split("\x1f") for line in out.stdout.splitlines()]


def sql_quote(s):
    return "'" + str(s).replace("'", "''") + "'"


def cli(build_dir, data_dir, *args):
    """Runs the mokit CLI; returns the CompletedProcess (text mode)."""
    return subprocess.run([binary(build_dir, "mokit"), "--data", data_dir] + list(args),
                          capture_output=True, text=True, timeout=60)


# --------------------------------------------------------------------------- HTTP


class Response:
    def __init__(self, method, path, status, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body        # bytes
        self.json = None
        self.json_error = None
        if body:
            try:
                self.json = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                self.json_error = str(e)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def headers_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def error_code(self):
        try:
            return self.json["error"]["code"]
        except (TypeError, KeyError):
            return None

    def describe(self, limit=600):
        text = self.body.decode("utf-8", "replace")
        if len(text) > limit:
            text = text[:limit] + "...(%d bytes)" % len(self.body)
        return "%s %s -> %d %s" % (self.method, self.path, self.status, text)


class Client:
    """Makes requests to one daemon. Tokens per role are kept in self.tokens; every response
    is appended to self.log (method, path, status, content type, body) for global checks."""

    def __init__(self, port, source=None, timeout=15, keep_log=True):
        self.port = port
        self.keep_log = keep_log
        self.source = source  # (address, 0) to connect from another loopback address
        self.timeout = timeout
        self.tokens = {}
        self.staff = {}  # role -> staff object from login
        self.log = []

    def request(self, method, path, body=None, token=None, headers=None, raw=None,
                chunked=False, source=None):
        """body: a value to send as JSON; raw: bytes/str sent as is. Returns a Response."""
        hdrs = dict(headers or {})
        data = None
        if raw is not None:
            data = raw.encode("utf-8") if isinstance(raw, str) else raw
        elif body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if data is not None and not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = "application/json"
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout,
                                          source_address=source or self.source)
        try:
            try:
                self._send(conn, method, path, data, hdrs, chunked)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer (413) and close before reading a big body: the
                # answer can still be waiting in the socket.
                pass
            resp = conn.getresponse()
            out = Response(method, path, resp.status, resp.getheaders(), resp.read())
        finally:
            conn.close()
        if self.keep_log:
            self.log.append(out)
        return out

    @staticmethod
    def _send(conn, method, path, data, hdrs, chunked):
        if chunked:
            # Sent in 4 KiB chunks without Content-Length: the size limit must hold here too.
            pieces = [data[i:i + 4096] for i in range(0, len(data), 4096)]
            conn.request(method, path, body=iter(pieces), headers=hdrs, encode_chunked=True)
        elif data is not None:
            conn.request(method, path, body=data, headers=hdrs)
        else:
            # POST without a body must still say Content-Length: 0.
            if method in ("POST", "PUT", "PATCH"):
                hdrs.setdefault("Content-Length", "0")
            conn.request(method, path, headers=hdrs)

    def login(self, pin, staff=None, source=None):
        body = {"pin": pin}
        if staff:
            body["staff"] = staff
        return self.request("POST", "/api/v1/login", body, source=source)


# --------------------------------------------------------------------------- matching


def match(expected, got, where="$"):
    """Checks that got contains expected. Returns a list of mismatch descriptions.

    - dict: every key of expected is in got and matches (other keys of got are ignored);
      {"$absent": true} as a value means the key must not be there;
    - list: same length, element by element;
    - {"$re": "regex"}: got is a string that fully matches;
    - {"$type": "string"|"integer"|"number"|"boolean"|"null"|"object"|"array"};
    - {"$any": [a, b, ...]}: got matches one of them;
    - anything else: equal (1 and 1.0 count as equal, True and 1 do not).
    """
    problems = []
    if isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)).startswith("$"):
        op, arg = next(iter(expected.items()))
        if op == "$re":
            if not isinstance(got, str) or not re.fullmatch(arg, got):
                problems.append("%s: %r does not match /%s/" % (where, got, arg))
        elif op == "$type":
            if type_name(got) != arg and not (arg == "number" and type_name(got) == "integer"):
                problems.append("%s: %r is a %s, expected %s" % (where, got, type_name(got), arg))
        elif op == "$any":
            if all(match(alt, got, where) for alt in arg):
                problems.append("%s: %r matches none of %r" % (where, got, arg))
        else:
            problems.append("%s: unknown matcher %s" % (where, op))
        return problems
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return ["%s: expected an object, got %r" % (where, got)]
        for k, v in expected.items():
            if isinstance(v, dict) and v.get("$absent"):
                if k in got:
                    problems.append("%s.%s: should be absent, is %r" % (where, k, got[k]))
            elif k not in got:
                problems.append("%s.%s: missing" % (where, k))
            else:
                problems += match(v, got[k], "%s.%s" % (where, k))
        return problems
    if isinstance(expected, list):
        if not isinstance(got, list):
            return ["%s: expected an array, got %r" % (where, got)]
        if len(expected) != len(got):
            return ["%s: expected %d elements, got %d" % (where, len(expected), len(got))]
        for i, (e, g) in enumerate(zip(expected, got)):
            problems += match(e, g, "%s[%d]" % (where, i))
        return problems
    numbers = ("integer", "number")
    if type_name(expected) != type_name(got) and not (
            type_name(expected) in numbers and type_name(got) in numbers):
        return ["%s: expected %r, got %r" % (where, expected, got)]
    if expected != got:
        problems.append("%s: expected %r, got %r" % (where, expected, got))
    return problems


def type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


# --------------------------------------------------------------------------- TAP


class CheckFailed(Exception):
    pass


class Check:
    """Collects problems for one TAP line; `with tap.case("text") as c:` then c.expect(...)."""

    def __init__(self):
        self.problems = []

    def expect(self, cond, message):
        if not cond:
            self.problems.append(message)
        return cond

    def require(self, cond, message):
        """Like expect, but stops the case (later steps depend on this)."""
        if not cond:
            self.problems.append(message)
            raise CheckFailed()

    def status(self, resp, status, error=None, field=None):
        """Checks a response's status and, for errors, the error code and field."""
        ok = self.expect(resp.status == status, "expected %d%s, got %s" % (
            status, " " + error if error else "", resp.describe()))
        if ok and error is not None:
            ok = self.expect(resp.error_code() == error,
                             "expected error %s, got %s" % (error, resp.describe()))
        if ok and field is not None:
            err = resp.json.get("error") if isinstance(resp.json, dict) else None
            got = err.get("field") if isinstance(err, dict) else None
            ok = self.expect(got == field, "expected field %r, got %r in %s"
                             % (field, got, resp.describe()))
        return ok

    def require_status(self, resp, status, error=None, field=None):
        if not self.status(resp, status, error, field):
            raise CheckFailed()

    def fields(self, expected, got, what="body"):
        problems = match(expected, got)
        for p in problems:
            self.problems.append("%s %s" % (what, p))
        return not problems


class Tap:
    def __init__(self, out=sys.stdout):
        self.out = out
        self.n = 0
        self.failed = 0

    def result(self, ok, text, diagnostics=()):
        self.n += 1
        if not ok:
            self.failed += 1
        self.out.write("%s %d - %s\n" % ("ok" if ok else "not ok", self.n, text))
        for d in diagnostics:
            for line in str(d).splitlines() or [""]:
                self.out.write("# %s\n" % line)
        self.out.flush()
        return ok

    def case(self, text):
        return _CaseContext(self, text)

    def diag(self, text):
        for line in str(text).splitlines():
            self.out.write("# %s\n" % line)
        self.out.flush()

    def bail(self, text):
        self.out.write("Bail out! %s\n" % text.splitlines()[0] if text else "Bail out!\n")
        for line in text.splitlines()[1:]:
            self.out.write("# %s\n" % line)
        self.out.flush()

    def plan(self):
        self.out.write("1..%d\n" % self.n)
        self.out.flush()


class _CaseContext:
    def __init__(self, tap, text):
        self.tap = tap
        self.text = text
        self.check = Check()

    def __enter__(self):
        return self.check

    def __exit__(self, etype, evalue, tb):
        if etype is not None and not issubclass(etype, CheckFailed):
            if issubclass(etype, (OSError, http.client.HTTPException)):
                self.check.problems.append("request failed: %s: %s" % (etype.__name__, evalue))
            elif issubclass(etype, (KeyError, RuntimeError)):
                # Usually an earlier failure (no token, no fixture): say so without a trace.
                self.check.problems.append("cannot run: %s: %s" % (etype.__name__, evalue))
            else:
                self.check.problems.append("".join(traceback.format_exception(etype, evalue, tb)))
        self.tap.result(not self.check.problems, self.text, self.check.problems)
        # Swallow the exception: one broken case must not stop the suite.
        return etype is None or issubclass(etype, Exception)
