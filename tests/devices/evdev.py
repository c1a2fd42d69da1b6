#!/usr/bin/env python3
"""A keyboard-mode barcode scanner's input node, replayed under umockdev, against mokitd. TAP.

    python3 tests/devices/evdev.py [BUILD_DIR]

The scanner is described in tests/devices/data/scanner.umockdev: a USB HID keyboard
(0c2e:0b61, product "Barcode Scanner", serial 21034B0123) whose input device is named
"Honeywell Barcode Scanner", with its event node /dev/input/event7 under it in sysfs, as the
kernel lays it out (event7 -> input7 -> HID device -> USB interface -> USB device). mokitd runs
under umockdev-run with --usb no --evdev yes: the device manager must find the node by looking
through sysfs (/sys/class/input/event*, the name of the input device, the USB parent's
idVendor/idProduct, product and serial), open it, grab it (EVIOCGRAB: umockdev answers it as
a stateless ioctl that succeeds) and read its struct input_event records, which umockdev plays
from an evemu file written here: the key events hid-input gives for the scanner's reports
(EV_MSC/MSC_SCAN, EV_KEY press and release, EV_SYN) typing two codes, each ended by Enter:

  1. a demo resident's wristband code: the scan is accepted and makes that resident's visit
     the current one of the default station (vitals), which has no devices of its own;
  2. the same code with a wrong check character: the scan is rejected with the app's reason
     and the station's current patient stays.

The resident's code comes from a first, demo-seeded mokitd on the same data directory; the
second one (the scanner's) runs without --demo. The scanner types at once when the node is
opened (umockdev plays the first event then), so the events are read afterwards from the
event stream's buffer (GET /api/v1/events with Last-Event-ID). Each code's events have one
timestamp, so umockdev sends them without sleeping in between: the scanner's gap (80 ms) can
never split a code on a loaded machine. umockdev plays the file once.
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))
import harness  # noqa: E402
from harness import Client, Daemon, Tap  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
DEVICE = os.path.join(ROOT, "tests", "devices", "data", "scanner.umockdev")
NODE = "/dev/input/event7"
DEV_ID = "input-event7"
REJECT_CHECK = "not a wristband: the check character is wrong (a misread, scan again)"

# Linux input events (linux/input-event-codes.h) and the HID keyboard usages (page 0x07) that
# hid-input reports as MSC_SCAN before each key.
EV_SYN, EV_KEY, EV_MSC, MSC_SCAN = 0, 1, 4, 4
KEY_ENTER, KEY_LEFTSHIFT = 28, 42
KEY_OF, USAGE_OF = {}, {}
for d in range(10):
    KEY_OF[str(d)] = 2 + d - 1 if d else 11
    USAGE_OF[str(d)] = 0x1e + d - 1 if d else 0x27
for row, start in (("QWERTYUIOP", 16), ("ASDFGHJKL", 30), ("ZXCVBNM", 44)):
    for i, ch in enumerate(row):
        KEY_OF[ch] = start + i
for i, ch in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
    USAGE_OF[ch] = 0x04 + i
USAGE_ENTER, USAGE_LEFTSHIFT = 0x28, 0xe1


def evemu_line(t, type_, code, value):
    return "E: %d.%06d %04x %04x %d" % (int(t), round((t - int(t)) * 1e6), type_, code, value)


def typed(code, t):
    """The events of a scanner typing code then Enter, one HID report (modifiers, key) pressed
    and one released per character, all at time t."""
    out = []

    def report(keys, value):
        for usage, key in keys:
            out.append(evemu_line(t, EV_MSC, MSC_SCAN, 0x70000 + usage))
            out.append(evemu_line(t, EV_KEY, key, value))
        out.append(evemu_line(t, EV_SYN, 0, 0))

    for ch in code + "\n":
        if ch == "\n":
            keys = [(USAGE_ENTER, KEY_ENTER)]
        else:
            keys = [(USAGE_OF[ch], KEY_OF[ch])]
            if ch.isalpha():
                keys.insert(0, (USAGE_LEFTSHIFT, KEY_LEFTSHIFT))
        report(keys, 1)
        report(list(reversed(keys)), 0)
    return out


def write_events(path, codes):
    lines = ["# EVEMU 1.3", "# made by tests/devices/evdev.py: a keyboard-mode scanner"]
    t = 0.0
    for code in codes:
        lines += typed(code, t)
        t += 0.3
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def wait(pred, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


def device(client, token, device_id):
    r = client.request("GET", "/api/v1/devices", token=token)
    for d in (r.json or {}).get("devices", []):
        if d.get("id") == device_id:
            return d
    return None


def station(client, token, name):
    r = client.request("GET", "/api/v1/stations/" + name, token=token)
    return r.json if r.status == 200 else None


def scan_events(port, token, want, timeout=15.0):
    """The scan events of this run, read from the event stream's buffer (Last-Event-ID 1 asks
    for every event kept), until `want` have come or the time is up."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    got = []
    try:
        conn.request("GET", "/api/v1/events",
                     headers={"Authorization": "Bearer " + token, "Last-Event-ID": "1"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError("GET /api/v1/events: %d" % resp.status)
        deadline = time.monotonic() + timeout
        kind = data = None
        while len(got) < want and time.monotonic() < deadline:
            line = resp.fp.readline()
            if not line:
                break
            line = line.decode("utf-8").rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "":
                if kind == "scan":
                    got.append(json.loads(data))
                kind = data = None
    except OSError:
        pass  # the socket's timeout: what came is returned
    finally:
        conn.close()
    return got


def resident_code(tmp, data):
    """A demo resident's wristband code, from a demo-seeded mokitd on the data directory."""
    d = Daemon(BUILD, data, demo=True, log_path=os.path.join(tmp, "seed.mokitd.log"))
    try:
        d.start(timeout=20)
        c = Client(d.port)
        token = c.login("2222").json["token"]
        r = c.request("GET", "/api/v1/patients?q=a&limit=1", token=token)
        return r.json["results"][0]["code"]
    finally:
        d.terminate()


def main():
    tap = Tap()
    if not shutil.which("umockdev-run"):
        tap.result(False, "umockdev-run is installed (images/deps.sh test)")
        tap.plan()
        return 1
    tmp = tempfile.mkdtemp(prefix="mokit-evdev-")
    data = os.path.join(tmp, "data")
    d = None
    try:
        with tap.case("a demo resident's code, and the same code with a wrong check "
                      "character (mokit code check)") as c:
            good = resident_code(tmp, data)
            bad = harness.corrupt_check(good)
            ok = subprocess.run([harness.binary(BUILD, "mokit"), "code", "check", good],
                                capture_output=True, timeout=30)
            nok = subprocess.run([harness.binary(BUILD, "mokit"), "code", "check", bad],
                                 capture_output=True, timeout=30)
            c.require(ok.returncode == 0 and nok.returncode != 0,
                      "mokit code check: %s -> %d, %s -> %d" % (good, ok.returncode, bad,
                                                                nok.returncode))
        events = os.path.join(tmp, "scanner.evemu")
        write_events(events, [good, bad])

        d = Daemon(BUILD, data, demo=False, log_path=os.path.join(tmp, "mokitd.log"))
        d.extra = ["--usb", "no", "--evdev", "yes"]
        real = d.argv
        d.argv = lambda: ["umockdev-run", "-d", DEVICE, "-e", "%s=%s" % (NODE, events),
                          "--"] + real()
        d.start(timeout=20)
        client = Client(d.port)
        token = client.login("2222").json["token"]

        info = None
        with tap.case("the scanner's input node is found in sysfs, grabbed and read by "
                      "hid-scanner, with its USB parent's identity") as c:
            # Until both scans are in, or the device has failed (no need to wait then).
            info = wait(lambda: (lambda x: x if x and (x.get("scans", 0) >= 2 or x.get(
                "state") in ("gone", "offline", "unclaimed")) else None)(
                device(client, token, DEV_ID)))
            info = info or device(client, token, DEV_ID)
            c.require(info, "no device %s in GET /api/v1/devices\n%s" % (DEV_ID, d.log_tail()))
            c.fields({"id": DEV_ID, "driver": "hid-scanner", "transport": "evdev",
                      "path": NODE, "usb": "0c2e:0b61", "model": "Barcode Scanner",
                      "serial": "21034B0123", "state": "online", "scans": 2, "errors": 0},
                     info, "device")

        scans = scan_events(d.port, token, 2, timeout=15 if info and info.get("scans") else 2)
        with tap.case("the wristband scan is accepted at the default station (vitals)") as c:
            c.require(scans, "no scan event\n%s" % d.log_tail())
            c.fields({"station": "vitals", "accepted": True, "kind": "patient",
                      "patient": good, "visit": {"$type": "string"},
                      "device": {"id": DEV_ID, "driver": "hid-scanner",
                                 "serial": "21034B0123"}}, scans[0], "first scan")
        with tap.case("... and makes the resident the current patient of vitals") as c:
            c.require(scans, "no scan event")
            sta = station(client, token, "vitals")
            c.require(sta, "GET /api/v1/stations/vitals failed")
            cur = sta.get("current") or {}
            c.expect(cur.get("patient") == good and cur.get("visit") == scans[0].get("visit"),
                     "current %r, scanned %s visit %s" % (sta.get("current"), good,
                                                          scans[0].get("visit")))
        with tap.case("the code with a wrong check character is a rejected scan; the current "
                      "patient stays") as c:
            c.require(len(scans) >= 2, "one scan event only: %r\n%s" % (scans, d.log_tail()))
            c.fields({"station": "vitals", "accepted": False, "reason": REJECT_CHECK,
                      "device": {"id": DEV_ID, "driver": "hid-scanner"}}, scans[1],
                     "second scan")
            c.expect(len(scans) == 2, "more scans than typed: %r" % scans[2:])
            cur = (station(client, token, "vitals") or {}).get("current") or {}
            c.expect(cur.get("patient") == good, "current now %r" % cur)
        with tap.case("mokitd stops cleanly (SIGTERM, status 0)") as c:
            rc = d.terminate()
            c.expect(rc == 0, "exit status %r\n%s" % (rc, d.log_tail()))
    except Exception as e:  # noqa: BLE001
        tap.result(False, "mokitd with a scanner under umockdev",
                   [repr(e), d.log_tail() if d else ""])
    finally:
        if d:
            d.terminate()
    tap.plan()
    if not tap.failed:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("# kept %s" % tmp)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
