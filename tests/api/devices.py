"""Devices end to end against a running mokitd: captures dropped into its --replay-dir play
through the real drivers as devices (firmware/doc/captures.md), and what they give must end up
as the right records: a scanned wristband makes its patient the station's current one, readings
become observations of that visit with the device as provenance, readings with nobody current
wait as unassigned until a nurse assigns them, and a device unplugged in the middle of a
reading leaves nothing behind. The event stream (GET /api/v1/events) is read alongside.
"""

import http.client
import json
import os
import threading
import time

import harness

# Linux key codes (linux/input-event-codes.h) for what a keyboard-mode scanner types.
KEY_ENTER, KEY_LEFTSHIFT = 28, 42
KEY_OF = {str(d): 2 + (d - 1) if d else 11 for d in range(10)}
for row, start in (("qwertyuiop", 16), ("asdfghjkl", 30), ("zxcvbnm", 44)):
    for i, ch in enumerate(row):
        KEY_OF[ch.upper()] = start + i


def ev(type_, code, value):
    b = type_.to_bytes(2, "little") + code.to_bytes(2, "little") + \
        value.to_bytes(4, "little", signed=True)
    return " ".join("%02X" % x for x in b)


def scanner_capture(code, start=0.2):
    """A keyboard-mode scanner typing code (upper-case letters and digits) and Enter."""
    lines = ["# device: hid-scanner", "# model: test scanner", "# transport: evdev",
             "# notes: made by tests/api/devices.py"]
    t = start
    for ch in code:
        k = KEY_OF[ch]
        if ch.isalpha():
            lines.append("@%.3f < %s" % (t, ev(1, KEY_LEFTSHIFT, 1)))
        lines.append("@%.3f < %s" % (t + 0.001, ev(1, k, 1)))
        lines.append("@%.3f < %s" % (t + 0.002, ev(1, k, 0)))
        if ch.isalpha():
            lines.append("@%.3f < %s" % (t + 0.003, ev(1, KEY_LEFTSHIFT, 0)))
        t += 0.005
    lines.append("@%.3f < %s" % (t, ev(1, KEY_ENTER, 1)))
    lines.append("@%.3f < %s" % (t + 0.001, ev(1, KEY_ENTER, 0)))
    return "\n".join(lines) + "\n"


def scale_capture(kg_tenths, start=0.2):
    """A HID POS scale: the stale first report, motion, then the weight held."""
    def rep(status, raw):
        return "03 %02X 03 FF %02X %02X" % (status, raw & 0xff, raw >> 8)
    lines = ["# device: hidpos-scale", "# model: test scale", "# transport: usb-hid"]
    lines.append("@%.3f < %s" % (start, rep(2, 0)))            # stale: ignored
    lines.append("@%.3f < %s" % (start + 0.1, rep(3, 300)))    # in motion
    for i in range(3):
        lines.append("@%.3f < %s" % (start + 0.3 + 0.1 * i, rep(4, kg_tenths)))
    lines.append("@%.3f < %s" % (start + 0.7, rep(2, 0)))      # steps off
    return "\n".join(lines) + "\n"


def oximeter_capture(seconds, spo2=97, pulse=72):
    """CMS50 live packets (60 a second) for a finger held `seconds`; no finger-out at the end,
    so a short one is a device unplugged in the middle of a reading."""
    lines = ["# device: cms50", "# model: test oximeter", "# transport: serial"]
    for i in range(int(seconds * 60)):
        p = [0x80 | 8, 40 + i % 50, 5 | (0x40 if pulse & 0x80 else 0), pulse & 0x7f, spo2]
        if i % 6 == 0:
            lines.append("@%.4f < %s" % (0.2 + i / 60.0, " ".join("%02X" % x for x in p)))
        else:
            lines[-1] += " " + " ".join("%02X" % x for x in p)
    return "\n".join(lines) + "\n"


class Events:
    """Reads GET /api/v1/events in a thread; events() returns what came so far."""

    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.request("GET", "/api/v1/events", headers={"Authorization": "Bearer " + token})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.type = self.resp.getheader("Content-Type", "")
        self.got = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        kind, data, eid = None, None, None
        try:
            while True:
                line = self.resp.fp.readline()
                if not line:
                    return
                line = line.decode("utf-8").rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line.startswith("id: "):
                    eid = int(line[4:])
                elif line == "" and kind:
                    with self.lock:
                        self.got.append((eid, kind, json.loads(data), time.time()))
                    kind, data, eid = None, None, None
        except (OSError, ValueError):
            return

    def events(self, kind=None):
        with self.lock:
            return [e for e in self.got if kind is None or e[1] == kind]

    def wait(self, pred, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events():
                if pred(e):
                    return e
            time.sleep(0.05)
        return None

    def close(self):
        try:
            self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()


def drop(suite, name, text):
    """Writes a capture into the replay directory in one rename, as the manager expects."""
    tmp = os.path.join(suite.replay_dir, "." + name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, os.path.join(suite.replay_dir, name))


def flow_devices(suite):
    tap = suite.tap
    nurse = suite.token("nurse")
    code, visit = suite.vars["code"], suite.vars["visit_id"]

    def get(path):
        return suite.client.request("GET", path, token=nurse)

    def post(path, body):
        return suite.client.request("POST", path, body, token=nurse)

    with tap.case("GET /devices: the demo's scale, oximeter, BP monitor and scanner, online") as c:
        r = get("/api/v1/devices")
        c.require_status(r, 200)
        by = {d.get("id"): d for d in r.json.get("devices", [])}
        c.require({"demo-scale", "demo-oximeter", "demo-bp", "demo-scanner"} <= set(by),
                  "devices %r" % sorted(by))
        for d in by.values():
            c.expect(d.get("state") == "online" and d.get("driver") == "demo", "device %r" % d)

    with tap.case("GET /stations: registration, vitals (the default), doctor, pharmacy") as c:
        r = get("/api/v1/stations")
        c.require_status(r, 200)
        st = r.json.get("stations", [])
        c.expect([s.get("name") for s in st] == ["registration", "vitals", "doctor", "pharmacy"],
                 "stations %r" % st)
        c.expect([s.get("name") for s in st if s.get("is_default")] == ["vitals"],
                 "default %r" % st)

    stream = Events(suite.daemon.port, nurse)
    try:
        with tap.case("GET /events: a text/event-stream; no token is 401") as c:
            c.expect(stream.status == 200 and stream.type.startswith("text/event-stream"),
                     "status %r type %r" % (stream.status, stream.type))
            c.status(suite.client.request("GET", "/api/v1/events"), 401, "unauthorized")

        with tap.case("a wristband scanned (replayed keyboard-mode scanner): its patient is "
                      "the vitals station's current one, on the event stream") as c:
            drop(suite, "scan1.cap", scanner_capture(code))
            e = stream.wait(lambda e: e[1] == "scan" and e[2].get("patient") == code)
            c.require(e, "no scan event; events %r" % stream.events()[-5:])
            c.expect(e[2].get("accepted") is True and e[2].get("station") == "vitals" and
                     e[2].get("visit") == visit and e[2]["device"].get("driver") == "hid-scanner",
                     "scan %r" % (e[2],))
            r = get("/api/v1/stations/vitals")
            c.require_status(r, 200)
            cur = r.json.get("current") or {}
            c.expect(cur.get("visit") == visit and cur.get("patient") == code,
                     "current %r" % cur)

        with tap.case("a scan with a wrong check character is rejected, and changes nothing") as c:
            drop(suite, "scan2.cap", scanner_capture(harness.corrupt_check(code)))
            e = stream.wait(lambda e: e[1] == "scan" and e[2].get("accepted") is False)
            c.require(e, "no rejected scan event")
            c.expect("check character" in e[2].get("reason", ""), "reason %r" % (e[2],))
            cur = get("/api/v1/stations/vitals").json.get("current") or {}
            c.expect(cur.get("visit") == visit, "current changed to %r" % cur)

        weight = {}
        with tap.case("a replayed scale's stable weight becomes an observation of that visit, "
                      "with the device and the raw frame as provenance") as c:
            drop(suite, "scale1.cap", scale_capture(713))
            e = stream.wait(lambda e: e[1] == "reading" and e[2].get("code") == "weight" and
                            e[2].get("device_id") == "replay-scale1")
            c.require(e, "no weight reading; events %r" % stream.events()[-5:])
            weight = e[2]
            c.expect(weight.get("state") == "attached" and weight.get("visit") == visit and
                     weight.get("values") == {"value": 71.3} and
                     weight.get("raw") == "030403ffc902" and
                     weight.get("device", "").startswith("hidpos-scale/test scale"),
                     "reading %r" % weight)
            r = get("/api/v1/visits/%s" % visit)
            c.require_status(r, 200)
            obs = [o for o in r.json.get("observations", []) if o.get("id") ==
                   weight.get("observation")]
            c.require(obs, "observation %r not in the visit" % weight.get("observation"))
            c.expect(obs[0].get("source") == "device" and obs[0].get("code") == "weight" and
                     obs[0].get("values") == {"value": 71.3} and
                     obs[0].get("device", "").startswith("hidpos-scale/"), "obs %r" % obs[0])
            time.sleep(1.0)  # the capture's last frames: steps off, no second reading
            mine = [x for x in stream.events("reading") if x[2].get("device_id") ==
                    "replay-scale1"]
            c.expect(len(mine) == 1, "the scale gave %d readings" % len(mine))

        with tap.case("the oximeter unplugged after 2 s of a 3 s reading: nothing stored") as c:
            before = len(get("/api/v1/readings?limit=500").json.get("readings", []))
            drop(suite, "oxi-cut.cap", oximeter_capture(2.0))
            e = stream.wait(lambda e: e[1] == "device" and e[2].get("id") == "replay-oxi-cut" and
                            e[2].get("state") == "gone", timeout=15)
            c.require(e, "the replayed oximeter never left")
            time.sleep(0.3)
            after = len(get("/api/v1/readings?limit=500").json.get("readings", []))
            c.expect(after == before, "%d readings before, %d after" % (before, after))
            c.expect(not [x for x in stream.events("reading")
                          if x[2].get("device_id") == "replay-oxi-cut"], "a reading came")

        with tap.case("a whole oximeter reading: SpO2 and pulse attached to the visit") as c:
            drop(suite, "oxi.cap", oximeter_capture(4.0, spo2=96, pulse=131))
            e = stream.wait(lambda e: e[1] == "reading" and e[2].get("code") == "pulse" and
                            e[2].get("device_id") == "replay-oxi", timeout=15)
            c.require(e, "no pulse reading")
            c.expect(e[2].get("values") == {"value": 131} and e[2].get("state") == "attached",
                     "pulse %r" % (e[2],))
            s = [x for x in stream.events("reading") if x[2].get("device_id") == "replay-oxi" and
                 x[2].get("code") == "spo2"]
            c.expect(s and s[0][2].get("values") == {"value": 96}, "spo2 %r" % s)

        waiting = {}
        with tap.case("with no current patient a reading waits as unassigned and is listed") as c:
            r = post("/api/v1/stations/vitals/current", {"visit": None})
            c.require_status(r, 200)
            c.expect(r.json.get("current") is None, "current %r" % r.json.get("current"))
            drop(suite, "scale2.cap", scale_capture(584))
            e = stream.wait(lambda e: e[1] == "reading" and
                            e[2].get("device_id") == "replay-scale2")
            c.require(e, "no reading")
            waiting = e[2]
            c.expect(waiting.get("state") == "unassigned" and waiting.get("visit") is None and
                     waiting.get("observation") is None, "reading %r" % waiting)
            r = get("/api/v1/readings?state=unassigned")
            c.require_status(r, 200)
            c.expect(waiting.get("id") in [x.get("id") for x in r.json.get("readings", [])],
                     "not listed")

        with tap.case("POST /readings/{id}/assign attaches it (observation made); again is 409; "
                      "bad bodies are 400/404") as c:
            r = post("/api/v1/readings/%s/assign" % waiting.get("id"), {"visit": visit})
            c.require_status(r, 200)
            c.expect(r.json.get("state") == "attached" and r.json.get("visit") == visit and
                     r.json.get("observation") and
                     r.json.get("assigned_by") == suite.client.staff["nurse"]["id"],
                     "assigned %r" % r.json)
            obs = [o for o in get("/api/v1/visits/%s" % visit).json.get("observations", [])
                   if o.get("id") == r.json.get("observation")]
            c.expect(obs and obs[0].get("values") == {"value": 58.4}, "obs %r" % obs)
            c.status(post("/api/v1/readings/%s/assign" % waiting.get("id"), {"visit": visit}),
                     409, "conflict")
            c.status(post("/api/v1/readings/%s/assign" % waiting.get("id"), {}), 400, "invalid",
                     "visit")
            c.status(post("/api/v1/readings/nope/assign", {"visit": visit}), 404, "not_found")
            c.status(suite.client.request("POST", "/api/v1/readings/%s/assign" %
                                          waiting.get("id"), {"visit": visit},
                                          token=suite.token("registrar")), 403, "forbidden")

        with tap.case("the demo scanner: a scan, then the demo scale, oximeter and BP monitor "
                      "attach their readings to that patient") as c:
            r = post("/api/v1/devices/demo-scanner/simulate", {"code": code})
            c.require_status(r, 202)
            e = stream.wait(lambda e: e[1] == "reading" and e[2].get("code") == "bp" and
                            e[2].get("device_id") == "demo-bp", timeout=20)
            c.require(e, "no BP reading from the demo")
            c.expect(e[2].get("state") == "attached" and e[2].get("visit") == visit and
                     set(e[2].get("values", {})) == {"systolic", "diastolic"}, "bp %r" % (e[2],))
            kinds = {x[2].get("code") for x in stream.events("reading")
                     if x[2].get("device_id", "").startswith("demo-") and
                     x[2].get("visit") == visit}
            c.expect(kinds == {"weight", "spo2", "pulse", "bp"}, "kinds %r" % kinds)
            c.status(post("/api/v1/devices/demo-scanner/simulate", {"code": "abc"}), 400,
                     "invalid")
            c.status(post("/api/v1/devices/usb-1-1/simulate", {}), 404, "not_found")

        with tap.case("PATCH /stations: devices bound to a station take their readings there; "
                      "bad lists are 400; nurses may not") as c:
            lead = suite.token("lead")
            r = suite.client.request("PATCH", "/api/v1/stations/doctor",
                                     {"devices": "replay-scale3"}, token=lead)
            c.require_status(r, 200)
            c.expect(r.json.get("devices") == "replay-scale3", "station %r" % r.json)
            drop(suite, "scale3.cap", scale_capture(655))
            e = stream.wait(lambda e: e[1] == "reading" and
                            e[2].get("device_id") == "replay-scale3")
            c.require(e, "no reading")
            c.expect(e[2].get("station") == "doctor" and e[2].get("state") == "unassigned",
                     "reading %r" % (e[2],))
            c.status(suite.client.request("PATCH", "/api/v1/stations/doctor",
                                          {"devices": "a b"}, token=lead), 400, "invalid")
            c.status(suite.client.request("PATCH", "/api/v1/stations/doctor",
                                          {"devices": ""}, token=nurse), 403, "forbidden")
            c.status(suite.client.request("PATCH", "/api/v1/stations/nope",
                                          {"devices": ""}, token=lead), 404, "not_found")
            suite.client.request("PATCH", "/api/v1/stations/doctor", {"devices": ""}, token=lead)

        with tap.case("bad bodies and queries: current, scan, readings, stations -> 400/404 "
                      "with the field named") as c:
            c.status(post("/api/v1/stations/vitals/current", {"patient": "not a code"}), 400,
                     "invalid", "patient")
            c.status(post("/api/v1/stations/vitals/current", {"patient": 12}), 400, "invalid",
                     "patient")
            c.status(post("/api/v1/stations/vitals/current", {"visit": 5}), 400, "invalid")
            c.status(post("/api/v1/stations/vitals/current", {"visit": "nope"}), 404,
                     "not_found")
            c.status(post("/api/v1/stations/nope/current", {"visit": None}), 404, "not_found")
            c.status(post("/api/v1/stations/vitals/scan", {"text": ""}), 400, "invalid", "text")
            c.status(post("/api/v1/stations/vitals/scan", {"text": "x" * 1025}), 400, "invalid",
                     "text")
            c.status(post("/api/v1/stations/nope/scan", {"text": code}), 404, "not_found")
            r = post("/api/v1/stations/vitals/scan", {"text": "\u0001garbage"})
            c.require_status(r, 200)
            c.expect(r.json.get("accepted") is False and r.json.get("reason"), "scan %r" % r.json)
            c.status(suite.client.request("POST", "/api/v1/stations/vitals/scan",
                                          raw="{not json", token=nurse), 400)
            c.status(get("/api/v1/readings?state=lost"), 400, "invalid", "state")
            c.status(get("/api/v1/readings?limit=0"), 400, "invalid", "limit")
            c.status(get("/api/v1/readings/nope"), 404, "not_found")
            c.status(suite.client.request("PATCH", "/api/v1/stations/doctor", {"default": "yes"},
                                          token=suite.token("lead")), 400, "invalid", "default")
            c.status(suite.client.request("PATCH", "/api/v1/stations/doctor", {"colour": "red"},
                                          token=suite.token("lead")), 400, "invalid", "colour")
            c.status(suite.client.request("DELETE", "/api/v1/stations/doctor",
                                          token=suite.token("lead")), 405)
            cur = get("/api/v1/stations/vitals").json.get("current") or {}
            c.expect(cur.get("visit") == visit, "current changed to %r" % cur)

        with tap.case("a capture that is not a capture: the replay device is offline, the "
                      "daemon goes on") as c:
            drop(suite, "junk.cap", "# device: hidpos-scale\n< 03 04 0\n")
            deadline = time.monotonic() + 10
            d = {}
            while time.monotonic() < deadline:
                d = {x.get("id"): x for x in get("/api/v1/devices").json.get("devices", [])}
                if d.get("replay-junk", {}).get("state") == "offline":
                    break
                time.sleep(0.1)
            c.expect(d.get("replay-junk", {}).get("state") == "offline" and
                     "line 2" in d.get("replay-junk", {}).get("message", ""),
                     "device %r" % d.get("replay-junk"))
            c.status(get("/api/v1/health"), 200)

        with tap.case("Last-Event-ID: a reconnecting phone gets what it missed") as c:
            evs = stream.events()
            c.require(len(evs) >= 3, "too few events")
            mid = evs[-3][0]
            conn = http.client.HTTPConnection("127.0.0.1", suite.daemon.port, timeout=10)
            conn.request("GET", "/api/v1/events", headers={
                "Authorization": "Bearer " + nurse, "Last-Event-ID": str(mid)})
            resp = conn.getresponse()
            ids = []
            while len(ids) < 2:
                line = resp.fp.readline().decode()
                if not line:
                    break
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
            conn.sock.shutdown(2)
            conn.close()
            c.expect(ids == [mid + 1, mid + 2], "ids %r after %d" % (ids, mid))
    finally:
        stream.close()
