"""A FHIR R4 server for the push tests: just enough of one to prove `mokit push`.

POST [base] with a transaction Bundle: the Bundle is validated with both npm validators
(validate.mjs --stdin, one node process for the server's life) and checked as a transaction
(unique fullUrls, references that resolve inside it, a conditional create on one of the
resource's identifiers, PUT at the resource's id); a bad one gets 400 with an
OperationOutcome. A good one is applied all or nothing: a conditional create that matches a
stored resource creates nothing (200 OK), else the resource is stored (201 Created); a PUT
creates or replaces. Failures to prove retries come from `script`, one per request
("503", "429:SECONDS" with Retry-After, "drop": the connection closed without an answer,
"commit-drop": the Bundle applied, then the connection closed, "422": a refusal with an
OperationOutcome), then `after_script` for every later request ("ok" or a failure).
"""
import json
import os
import socket
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))


class Validator:
    def __init__(self):
        self.p = subprocess.Popen(["node", os.path.join(HERE, "validate.mjs"), "--stdin"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  encoding="utf-8")
        self.lock = threading.Lock()

    def check(self, body_text):
        line = json.dumps(json.loads(body_text), ensure_ascii=False)
        with self.lock:
            self.p.stdin.write(line + "\n")
            self.p.stdin.flush()
            return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


def outcome(text, code="invalid"):
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}]}


def refs(x, acc):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "reference" and isinstance(v, str):
                acc.append(v)
            else:
                refs(v, acc)
    elif isinstance(x, list):
        for v in x:
            refs(v, acc)
    return acc


class FhirServer:
    def __init__(self, token=None):
        self.validator = Validator()
        self.lock = threading.Lock()
        self.token = token
        self.script = []
        self.after_script = "ok"
        self.reset_store()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n).decode("utf-8")
                server.handle(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/fhir"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset_store(self):
        self.resources = {}      # (type, server id) -> resource
        self.index = {}          # (type, system, value) -> server id
        self.requests = []       # one dict per POST: what came and what was answered
        self.validation_errors = []
        self.next_id = 1

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.validator.close()

    def counts(self):
        out = {}
        for (t, _) in self.resources:
            out[t] = out.get(t, 0) + 1
        return out

    # -- answers --

    def reply(self, h, status, doc, headers=()):
        data = json.dumps(doc).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/fhir+json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def drop(h):
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle(self, h, body):
        with self.lock:
            action = self.script.pop(0) if self.script else self.after_script
            rec = {"action": action, "bytes": len(body), "patients": []}
            self.requests.append(rec)
            try:
                bundle = json.loads(body)
                rec["patients"] = [e["resource"]["id"] for e in bundle.get("entry", [])
                                   if e.get("resource", {}).get("resourceType") == "Patient"]
            except (ValueError, KeyError, TypeError, AttributeError):
                bundle = None
            if self.token and h.headers.get("Authorization") != f"Bearer {self.token}":
                rec["status"] = 401
                return self.reply(h, 401, outcome("no valid bearer token", "login"))
            if action == "503":
                rec["status"] = 503
                return self.reply(h, 503, outcome("busy, try later", "transient"))
            if action.startswith("429:"):
                rec["status"] = 429
                return self.reply(h, 429, outcome("too many requests", "throttled"),
                                  [("Retry-After", action[4:])])
            if action == "drop":
                rec["status"] = None
                return self.drop(h)
            if action == "422":
                rec["status"] = 422
                return self.reply(h, 422, outcome("Patient.gender: the hospital wants it coded"))
            # Validate what came, with both validators, before anything is stored.
            v = self.validator.check(body) if bundle is not None else {
                "nerrors": 1, "errors": [{"message": "not JSON"}]}
            problems = [f"{e.get('where', '')} [{e.get('validator', '')}] {e['message']}"
                        for e in v["errors"]]
            if not problems:
                problems = self.check_transaction(bundle)
            if problems:
                self.validation_errors.extend(problems)
                rec["status"] = 400
                return self.reply(h, 400, {"resourceType": "OperationOutcome", "issue": [
                    {"severity": "error", "code": "invalid", "diagnostics": p}
                    for p in problems[:20]]})
            response = self.apply(bundle, rec)
            if action == "commit-drop":
                rec["status"] = None
                return self.drop(h)
            rec["status"] = 200
            return self.reply(h, 200, response)

    # -- a transaction --

    @staticmethod
    def condition(entry):
        q = entry["request"].get("ifNoneExist", "")
        k, _, v = q.partition("=")
        system, bar, value = v.partition("|")
        if k != "identifier" or not bar:
            return None
        return urllib.parse.unquote(system), urllib.parse.unquote(value)

    def check_transaction(self, b):
        p = []
        if b.get("resourceType") != "Bundle" or b.get("type") != "transaction":
            return ["not a transaction Bundle"]
        entries = b.get("entry", [])
        full = [e.get("fullUrl") for e in entries]
        if len(set(full)) != len(full):
            p.append("fullUrl repeated")
        fs = set(full)
        for e in entries:
            res, req = e["resource"], e.get("request", {})
            for r in refs(res, []):
                if not r.startswith("#") and r not in fs:
                    p.append(f"{res['resourceType']}/{res.get('id')}: reference {r} is not in "
                             "the Bundle")
            if req.get("method") == "PUT":
                if req.get("url") != f"{res['resourceType']}/{res.get('id')}":
                    p.append(f"PUT {req.get('url')} is not the resource's id")
            elif req.get("method") == "POST":
                c = self.condition(e)
                ids = {(i.get("system"), i.get("value")) for i in res.get("identifier", [])}
                if req.get("url") != res["resourceType"] or c is None or c not in ids:
                    p.append(f"{res['resourceType']}: ifNoneExist {req.get('ifNoneExist')} "
                             "is not on one of its identifiers")
            else:
                p.append(f"method {req.get('method')}")
        return p[:50]

    def apply(self, b, rec):
        out = []
        created = 0
        for e in b.get("entry", []):
            res, req = e["resource"], e["request"]
            t = res["resourceType"]
            if req["method"] == "PUT":
                existed = (t, res["id"]) in self.resources
                self.resources[(t, res["id"])] = res
                out.append({"response": {"status": "200 OK" if existed else "201 Created",
                                         "location": f"{t}/{res['id']}/_history/1"}})
                created += not existed
                continue
            system, value = self.condition(e)
            sid = self.index.get((t, system, value))
            if sid:
                out.append({"response": {"status": "200 OK", "location": f"{t}/{sid}"}})
                continue
            sid = f"s{self.next_id}"
            self.next_id += 1
            self.resources[(t, sid)] = res
            for i in res.get("identifier", []):
                if i.get("system"):
                    self.index[(t, i["system"], i["value"])] = sid
            created += 1
            out.append({"response": {"status": "201 Created", "location": f"{t}/{sid}"}})
        rec["created"] = created
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": out}
