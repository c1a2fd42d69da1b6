"""`mokit push --fhir URL` against the test server (fhir_server.py): retries, backoff,
Retry-After, a lost answer after the server committed, resuming, re-running, refusals."""
import json
import os
import socket
import time
import urllib.error
import urllib.request

from fhir_server import FhirServer, outcome

BATCH = 40  # 160 residents: four bundles


def run(check, mokit, validate, build, data, work, expect):
    token_file = os.path.join(work, "token")
    with open(token_file, "w") as fh:
        fh.write("s3cret-t0ken\n")
    srv = FhirServer(token="s3cret-t0ken")
    try:
        _run(check, mokit, build, data, work, expect, srv, token_file)
    finally:
        srv.close()


def push(mokit, build, data, url, *extra, token_file=None):
    args = ["--json", "push", "--fhir", url, "--campaign", "DEMO-TAVAN", "--batch", str(BATCH),
            "--timeout", "30"]
    if token_file:
        args += ["--token-file", token_file]
    t = time.monotonic()
    rc, out, err = mokit(build, data, *args, *extra)
    try:
        res = json.loads(out)
    except ValueError:
        res = {}
    return rc, res, err, time.monotonic() - t


def log_lines(err):
    """mokit's log lines on stderr (the operator's messages start with "mokit:")."""
    return [line for line in err.splitlines() if line and not line.startswith("mokit:")]


def refuse_quoting_cccd(srv, system="urn:mokit:id:cccd"):
    """The next POST is refused with 422, the diagnostics quoting the first CCCD in the bundle,
    as FHIR servers do. Returns a dict that gets the quoted value."""
    orig = srv.handle
    quoted = {}

    def handle(h, body):
        srv.handle = orig
        try:
            quoted["cccd"] = next(
                i["value"] for e in json.loads(body)["entry"]
                if e["resource"]["resourceType"] == "Patient"
                for i in e["resource"].get("identifier", []) if i.get("system") == system)
        except (ValueError, KeyError, TypeError, StopIteration):
            quoted["cccd"] = None
        with srv.lock:
            srv.requests.append({"action": "422-cccd", "status": 422, "patients": []})
        srv.reply(h, 422, outcome(f"Patient.identifier: CCCD {quoted['cccd']} belongs to "
                                  "another patient", "duplicate"))

    srv.handle = handle
    return quoted


def _run(check, mokit, build, data, work, expect, srv, token_file):
    want = {t: n for t, n in expect.items() if n}
    batches = -(-expect["Patient"] // BATCH)

    # 1. Failures first: 503, a dropped connection, 429 with Retry-After, then a bundle the
    #    server applies but whose answer is lost. Every bundle still arrives exactly once.
    srv.script = ["503", "drop", "429:1", "commit-drop"]
    rc, res, err, took = push(mokit, build, data, srv.url, "--backoff", "0",
                              token_file=token_file)
    check("push through 503, a dropped connection, 429 and a lost answer succeeds",
          rc == 0 and res.get("done") and res.get("batches") == batches and
          res.get("retries") == 4 and res.get("attempts") == batches + 4,
          (rc, res, err[-2000:]))
    check("Retry-After: 1 was honoured (backoff 0 otherwise)", took >= 1.0, took)
    statuses = [r["status"] for r in srv.requests]
    check("the server saw the failures, then one good answer per bundle",
          statuses == [503, None, 429, None] + [200] * batches, statuses)
    check("everything the server received passed both validators and the transaction checks",
          not srv.validation_errors, srv.validation_errors[:5])
    check("the server holds each resource once (the bundle applied twice created nothing new)",
          srv.counts() == want, f"server {srv.counts()}\nexpected {want}")
    check("the retry of the committed bundle created nothing",
          srv.requests[4].get("created") == 0, srv.requests[4])

    # 2. Run again: the state file says everything is there; nothing is sent.
    n = len(srv.requests)
    rc, res, err, _ = push(mokit, build, data, srv.url, token_file=token_file)
    check("a re-run after a complete push sends nothing",
          rc == 0 and res.get("batches") == 0 and len(srv.requests) == n, (rc, res, err))

    # 3. --restart: everything again; conditional creates keep the server as it was.
    rc, res, err, _ = push(mokit, build, data, srv.url, "--restart", token_file=token_file)
    new = srv.requests[n:]
    check("--restart sends every bundle again and the server creates nothing new",
          rc == 0 and len(new) == batches and all(r.get("created") == 0 for r in new) and
          srv.counts() == want, (rc, res, err, [r.get("created") for r in new]))

    # 4. Interrupted: the server fails from the second bundle on; the push gives up after
    #    --max-tries, keeping what was accepted; the next run continues after it.
    srv.reset_store()
    srv.script = ["ok"]
    srv.after_script = "503"
    rc, res, err, took = push(mokit, build, data, srv.url, "--restart", "--max-tries", "3",
                              "--backoff", "1", token_file=token_file)
    check("a server that stays down: exit 3 after --max-tries, saying how far it got",
          rc == 3 and res.get("batches") == 1 and len(srv.requests) == 4 and
          "run the same command again" in err, (rc, res, err[-1500:]))
    check("exponential backoff between tries: 1 s then 2 s, each 0.5-1.5 times (>= 1.5 s)",
          1.5 <= took < 10, took)
    first = set(srv.requests[0]["patients"])
    srv.after_script = "ok"
    n = len(srv.requests)
    rc, res, err, _ = push(mokit, build, data, srv.url, token_file=token_file)
    new = srv.requests[n:]
    check("the next run resumes after the accepted bundle: the rest, once each",
          rc == 0 and len(new) == batches - 1 and
          not first & {p for r in new for p in r["patients"]} and srv.counts() == want,
          (rc, res, err[-1500:], srv.counts()))

    state = [f for f in os.listdir(data) if f.startswith("push-") and f.endswith(".json")]
    with open(os.path.join(data, state[0]) if state else os.devnull) as fh:
        saved = json.load(fh) if state else {}
    last = max(p for r in new for p in r["patients"]) if new else None
    check("the resume state: one file in the data directory naming the last resident sent",
          len(state) == 1 and saved.get("after") == last and saved.get("residents") ==
          expect["Patient"] and not [f for f in os.listdir(data) if f.endswith(".tmp")],
          (state, saved, last))

    # 5. A refusal (4xx) stops at once, with the server's words, and is not retried.
    srv.reset_store()
    srv.script = ["422"]
    rc, res, err, _ = push(mokit, build, data, srv.url, "--restart", token_file=token_file)
    check("a 422 stops the push at once with the OperationOutcome's text (exit 2)",
          rc == 2 and len(srv.requests) == 1 and "the hospital wants it coded" in err,
          (rc, err[-1000:]))
    check("the log of a refusal has the HTTP status and the issue code, not the server's text",
          any("HTTP 422" in line and "invalid" in line for line in log_lines(err)) and
          not any("hospital wants" in line for line in log_lines(err)), err[-1000:])
    srv.reset_store()
    quoted = refuse_quoting_cccd(srv)
    rc, res, err, _ = push(mokit, build, data, srv.url, "--restart", token_file=token_file)
    cccd = quoted.get("cccd") or ""
    check("a 422 quoting a CCCD: the operator sees the server's words, the log not the CCCD",
          rc == 2 and len(srv.requests) == 1 and len(cccd) == 12 and cccd.isdigit() and
          any(cccd in line for line in err.splitlines() if line.startswith("mokit:")) and
          not any(cccd in line for line in log_lines(err)) and
          any("HTTP 422" in line and "duplicate" in line for line in log_lines(err)),
          (rc, cccd, err[-1000:]))
    srv.reset_store()
    rc, res, err, _ = push(mokit, build, data, srv.url, "--restart")
    check("no bearer token: 401 is a refusal (exit 2)", rc == 2 and len(srv.requests) == 1,
          (rc, err[-500:]))

    # 6. The server really validates: a broken bundle is turned away.
    srv.reset_store()
    bad = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "fullUrl": "urn:uuid:01900000-0000-7000-8000-000000000001",
        "resource": {"resourceType": "Patient", "id": "01900000-0000-7000-8000-000000000001",
                     "gender": "m", "identifier": [{"system": "urn:x", "value": "1"}]},
        "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:x|1"}}]}
    req = urllib.request.Request(srv.url, data=json.dumps(bad).encode(), method="POST", headers={
        "Content-Type": "application/fhir+json", "Authorization": "Bearer s3cret-t0ken"})
    try:
        urllib.request.urlopen(req, timeout=30)
        code = 200
    except urllib.error.HTTPError as e:
        code = e.code
    check("the test server turns away a bundle the validators reject",
          code == 400 and srv.counts() == {} and srv.validation_errors, code)

    # 7. Nothing listening; a URL that is not http(s).
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    rc, res, err, _ = push(mokit, build, data, f"http://127.0.0.1:{port}/fhir", "--restart",
                           "--max-tries", "2", "--backoff", "0")
    check("nothing listening: two tries, then exit 3", rc == 3 and res.get("attempts") == 2,
          (rc, res, err[-500:]))
    rc, _, err = mokit(build, data, "push", "--fhir", "ftp://127.0.0.1/x", "--campaign",
                       "DEMO-TAVAN")
    check("only http:// and https:// URLs (exit 1)", rc == 1, (rc, err))

    # 8. Plain http:// only to this machine; no credentials in the URL.
    def quick(url, *extra):
        t = time.monotonic()
        rc, out, err = mokit(build, data, "--json", "push", "--fhir", url, "--campaign",
                             "DEMO-TAVAN", "--timeout", "3", "--max-tries", "1", "--restart",
                             *extra)
        try:
            res = json.loads(out)
        except ValueError:
            res = {}
        return rc, res, err, time.monotonic() - t

    rc, res, err, took = quick("http://192.0.2.1:9/fhir")
    check("http:// to another machine is refused at once without --insecure-http (exit 1)",
          rc == 1 and "--insecure-http" in err and "unencrypted" in err and
          not res.get("attempts") and took < 2.5, (rc, res, err[-500:], took))
    rc, res, err, took = quick("http://127.0.0.1.example/fhir")
    check("a host that merely starts with 127.0.0.1 is not this machine (exit 1)",
          rc == 1 and "--insecure-http" in err, (rc, err[-500:]))
    rc, res, err, _ = quick("http://192.0.2.1:9/fhir", "--insecure-http")
    check("--insecure-http lets http:// to another machine be tried, with a warning",
          rc == 3 and res.get("attempts") == 1 and "warning: --insecure-http" in err,
          (rc, res, err[-500:]))
    rc, res, err, _ = quick(f"http://localhost:{port}/fhir")
    check("http://localhost is allowed (tried: nothing listening, exit 3)",
          rc == 3 and res.get("attempts") == 1, (rc, res, err[-500:]))
    n = len(srv.requests)
    user_url = srv.url.replace("http://", "http://nurse:pa55word@")
    for what, url in (("user:pass@ over http", user_url),
                      ("user@ over https", "https://nurse@fhir.example/fhir")):
        rc, res, err, _ = quick(url, *(["--token-file", token_file] if url == user_url else []))
        check(f"a URL with a user name or password is refused, pointing to --token-file ({what})",
              rc == 1 and "--token-file" in err and "pa55word" not in err and
              not res.get("attempts") and len(srv.requests) == n, (rc, res, err[-500:]))
