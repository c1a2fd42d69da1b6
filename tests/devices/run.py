#!/usr/bin/env python3
"""The device manager's real transports against a running mokitd, without hardware. TAP.

    python3 tests/devices/run.py [BUILD_DIR]

- serial: a CMS50 pulse oximeter on a pseudo-terminal, named in --devices. The fake device
  plays a capture from tests/replay/ the way the device would: the newer firmware answers the
  model question (A8) and streams live data after A1; the older firmware ignores both and
  streams its packets. mokitd must probe, claim it with the right protocol, and attach the
  SpO2 and pulse readings to the vitals station's current patient.
- download: the same newer-protocol CMS50 with one session in its memory (the stored-data
  capture, its date moved to 2021): POST /devices/{id}/download stops live data, asks the
  session count, its start and its data, and the session's settled SpO2 and pulse are kept as
  unassigned readings with the device's time (its clock read in the kit's time zone); a second
  download stores nothing twice; live data starts again.
- record: `mokit device record` from the same fake: the capture holds the kit's commands and
  decodes to the device's readings.
- USB drivers with a dialogue, under umockdev: the captures of tests/replay/ of the Omron
  HEM-7322U and HEM-790IT, a Contour Next USB, an IEEE 11073 glucometer (with an unknown
  configuration, then the agent's configuration report) and an Accu-Chek-like meter's
  PM-store segment transfer become usbmon recordings
  (tests/devices/usbdev.py) that umockdev replays to mokitd's libusb: the kit's writes must
  be the capture's, byte for byte (and the control transfers' setup packets), or the replay
  stops; the device's readings, device times and clock must be the capture's golden ones.
- a USB id two models share (Omron 0590:0090): the configuration binds the HEM-7131U's driver.
- memory history: a Contour whose memory holds 30 results from before the patient was scanned
  and one taken after, its clock 10 minutes slow, plugged in after the scan: only the new
  result is attached to the patient; the 30 are unassigned history.
- USB: a DYMO M10 scale (0922:8003) under umockdev: scale.umockdev describes it (a HID
  interface with interrupt IN endpoint 0x81; its descriptors written by hand from the USB and
  HID specifications), an ioctl script gives its input reports. mokitd finds it by libusb
  hotplug enumeration, claims it, and the stable weight becomes a reading with the scale's
  identity.
"""
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))
sys.path.insert(0, os.path.join(ROOT, "tests", "devices"))
import harness  # noqa: E402
from harness import Client, Daemon  # noqa: E402
import usbdev  # noqa: E402
from usbdev import capture_frames  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
REPLAY = os.path.join(ROOT, "tests", "replay")
results = []


def check(name, cond, detail=""):
    results.append((bool(cond), name, detail))


class FakeSerial:
    """The device end of a pseudo-terminal, playing a capture."""

    def __init__(self, frames, newer):
        self.master, slave = pty.openpty()
        tty.setraw(self.master)
        self.path = os.ttyname(slave)
        self.slave = slave  # kept open: the pty lives while the test does
        self.frames, self.newer = frames, newer
        self.heard = b""
        self.commands = []
        self.live_played = False
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def play(self, frames):
        t0 = time.monotonic()
        for to_dev, at, data in frames:
            if self.stop:
                return
            if to_dev:
                continue
            delay = t0 + (at - frames[0][1]) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                os.write(self.master, data)
            except OSError:
                return  # the test is over

    def segment_after(self, cmd):
        """The device's frames after the host's command cmd, up to the next command."""
        out, on = [], False
        for f in self.frames:
            if f[0] and f[2][2:3] == bytes([cmd]):
                on = True
                continue
            if on and f[0] and self.newer and cmd != 0xa1:
                break
            if on:
                out.append(f)
        return out

    def run(self):
        os.set_blocking(self.master, False)
        while not self.stop:
            try:
                got = os.read(self.master, 256)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            except OSError:
                return
            self.heard += got
            if self.newer:
                # Commands are 7D 81 cc 80 x6: answer each as the capture did.
                while b"\x7d\x81" in self.heard and len(self.heard) >= 9:
                    i = self.heard.index(b"\x7d\x81")
                    cmd = self.heard[i + 2]
                    self.commands.append(cmd)
                    self.heard = self.heard[i + 9:]
                    if cmd == 0xa1 and self.live_played:
                        continue  # the keep-alive: the capture's live data is played once
                    self.live_played |= cmd == 0xa1
                    self.play(self.segment_after(cmd))
            elif b"\x7d\x81\xa8" in self.heard:
                # The older firmware does not understand the question: it goes on sending
                # packets, at 19200 8O1, which the manager tries next.
                self.heard = b""
                time.sleep(0.65)
                self.play([f for f in self.frames if not f[0]])

    def close(self):
        self.stop = True
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def wait(pred, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return None


def readings(client, token, device_id):
    r = client.request("GET", "/api/v1/readings?limit=100", token=token)
    return [x for x in (r.json or {}).get("readings", []) if x.get("device_id") == device_id]


def device(client, token, device_id):
    r = client.request("GET", "/api/v1/devices", token=token)
    for d in (r.json or {}).get("devices", []):
        if d.get("id") == device_id:
            return d
    return None


def tty_id(path):
    """The kit's id of a serial port: named by the node a configured link points to."""
    return "tty-" + os.path.basename(os.path.realpath(path))


def nurse_with_patient(d):
    """A nurse logged in to the demo daemon d, a resident made current at vitals: (client,
    token, visit id)."""
    c = Client(d.port)
    token = c.login("2222").json["token"]
    r = c.request("GET", "/api/v1/patients?q=a&limit=1", token=token)
    code = r.json["results"][0]["code"]
    r = c.request("POST", "/api/v1/stations/vitals/current", {"patient": code}, token=token)
    return c, token, (r.json.get("current") or {}).get("visit")


def serial_case(tmp, name, capture, newer, want):
    frames = capture_frames(os.path.join(REPLAY, capture))
    fake = FakeSerial(frames, newer)
    link = os.path.join(tmp, name)
    os.symlink(fake.path, link)
    dev_id = tty_id(link)
    d = Daemon(BUILD, os.path.join(tmp, name + "-data"), demo=True,
               extra=["--devices", "cms50:" + link])
    try:
        d.start(timeout=15)
        c, token, visit = nurse_with_patient(d)
        dev = wait(lambda: (lambda x: x if x and x.get("state") == "online" else None)(
            device(c, token, dev_id)))
        check("%s: probed and claimed as cms50 (%s protocol)" % (capture, "newer" if newer
                                                                 else "older"),
              dev and dev.get("driver") == "cms50" and
              ("older" in dev.get("model", "")) != newer,
              "device %r" % device(c, token, dev_id))
        got = wait(lambda: (lambda x: x if len(x) >= len(want) else None)(
            readings(c, token, dev_id)), timeout=25)
        got = sorted(readings(c, token, dev_id), key=lambda x: x["id"])  # time-ordered
        vals = [(x["code"], x["values"].get("value")) for x in got]
        check("%s: SpO2 and pulse readings %r" % (capture, want), vals == want,
              "got %r" % vals)
        check("%s: attached to the current visit, device in the provenance" % capture,
              got and all(x["state"] == "attached" and x["visit"] == visit and
                          x["device"].startswith("cms50/") for x in got), "got %r" % got)
        if newer:
            check("%s: the host asked for the model (A8), then started live data (A1)"
                  % capture, fake.commands[:2] == [0xa8, 0xa1], "commands %r" % fake.commands)
        else:
            r = c.request("POST", "/api/v1/devices/%s/download" % dev_id, {}, token=token)
            check("%s: the older protocol's memory cannot be read: 409 with why" % capture,
                  r.status == 409 and "older protocol" in r.json["error"]["message"],
                  "%s %r" % (r.status, r.json))
    except Exception as e:  # noqa: BLE001
        check("%s: mokitd with a serial CMS50" % capture, False, repr(e) + "\n" + d.log_tail())
    finally:
        d.terminate()
        fake.close()


# A DYMO M10: device, configuration, HID interface (class 3) with its HID descriptor, and an
# interrupt IN endpoint 0x81 of 8 bytes.
DEVICE_DESC = bytes([0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08, 0x22, 0x09, 0x03, 0x80,
                     0x00, 0x01, 0x01, 0x02, 0x03, 0x01])
CONFIG_DESC = bytes([0x09, 0x02, 0x22, 0x00, 0x01, 0x01, 0x00, 0x80, 0x32,
                     0x09, 0x04, 0x00, 0x00, 0x01, 0x03, 0x00, 0x00, 0x00,
                     0x09, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x34, 0x00,
                     0x07, 0x05, 0x81, 0x03, 0x08, 0x00, 0x0a])


def download_case(tmp):
    live = capture_frames(os.path.join(REPLAY, "cms50f-live.cap"))
    stored = capture_frames(os.path.join(REPLAY, "cms50f-stored.cap"))
    # The session's date reply (type 07): year 26 -> 21, so it is surely before the scan.
    stored = [(to, at, data.replace(bytes.fromhex("07808080949a8b96"),
                                    bytes.fromhex("0780808094958b96"))) for to, at, data in stored]
    fake = FakeSerial(live + stored, True)
    link = os.path.join(tmp, "oxi-mem")
    os.symlink(fake.path, link)
    os.environ["TZ"] = "ICT-7"  # the kit's zone, Vietnam (POSIX form: no tzdata needed)
    d = Daemon(BUILD, os.path.join(tmp, "oxi-mem-data"), demo=True,
               extra=["--devices", "cms50:" + link])
    dev_id = tty_id(link)
    try:
        d.start(timeout=15)
        c, token, _ = nurse_with_patient(d)
        wait(lambda: len(readings(c, token, dev_id)) >= 4, timeout=25)  # live data first
        info = device(c, token, dev_id)
        check("download: the CMS50 lists the action", info and info.get("actions") == ["download"],
              "device %r" % info)
        r = c.request("POST", "/api/v1/devices/%s/download" % dev_id, {}, token=token)
        check("download: started (202)", r.status == 202 and r.json.get("action") == "download",
              "%s %r" % (r.status, r.json))
        r = c.request("POST", "/api/v1/devices/%s/download" % dev_id, {}, token=token)
        check("download: a second request while one runs is 409 busy",
              r.status == 409 and r.json["error"]["code"] == "busy", "%s %r" % (r.status, r.json))

        def memory():
            return [x for x in readings(c, token, dev_id) if x.get("device_time")]
        got = wait(lambda: (lambda x: x if len(x) >= 2 else None)(memory()), timeout=20)
        got = sorted(got or [], key=lambda x: x["id"])
        vals = [(x["code"], x["values"].get("value"), x["device_time"], x["state"]) for x in got]
        want = [("spo2", 97, "2021-11-22T02:30:05.000Z", "unassigned"),
                ("pulse", 69, "2021-11-22T02:30:05.000Z", "unassigned")]
        check("download: the session's settled SpO2 and pulse, at the device's time in the "
              "kit's zone, not given to the current patient", vals == want,
              "got %r\n%s" % (vals, d.log_tail()))
        check("download: the note says why they are not the patient's",
              got and all("before the current patient" in (x.get("note") or "") for x in got),
              "got %r" % got)
        done = wait(lambda: (lambda x: x if x and "download done" in x.get("message", "")
                             else None)(device(c, token, dev_id)), timeout=10)
        check("download: the device says what it found",
              done and "session 1 of 1: 60 samples, 57 with a finger; SpO2 97 %, pulse 69 /min"
              in done["message"], "device %r" % done)
        # A1 (live again) follows "download done" by a moment: wait for it to be read here.
        want_cmds = [0xa7, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa1]
        wait(lambda: fake.commands[-7:] == want_cmds, timeout=5)
        n = len(fake.commands)
        check("download: A7 A2 (stop), A3 (count), A4 A5 (session 0), A6 (data), then A1 (live)",
              fake.commands[-7:] == want_cmds,
              "commands %r" % [hex(x) for x in fake.commands])
        r = c.request("POST", "/api/v1/devices/%s/download" % dev_id, {}, token=token)
        again = wait(lambda: len(fake.commands) >= n + 7 and fake.commands[-1] == 0xa1,
                     timeout=15)
        time.sleep(0.5)
        check("download: the same session downloaded again is not stored twice",
              r.status == 202 and again and len(memory()) == 2,
              "status %s, commands %r, memory readings %d" % (r.status, fake.commands,
                                                              len(memory())))
        r = c.request("POST", "/api/v1/devices/demo-oximeter/download", {}, token=token)
        check("download: a demo device takes no commands (409 not_supported)",
              r.status == 409 and r.json["error"]["code"] == "not_supported",
              "%s %r" % (r.status, r.json))
        r = c.request("POST", "/api/v1/devices/no-such/download", {}, token=token)
        check("download: an unknown device is 404", r.status == 404, "%s" % r.status)
        r = c.request("POST", "/api/v1/devices/%s/download" % dev_id, {}, token=None)
        check("download: needs a login (401)", r.status == 401, "%s" % r.status)
    except Exception as e:  # noqa: BLE001
        check("mokitd downloading a CMS50's memory", False, repr(e) + "\n" + d.log_tail())
    finally:
        d.terminate()
        fake.close()
        del os.environ["TZ"]


def record_case(tmp):
    """`mokit device record` from the fake newer-firmware CMS50: the capture plays back (decode)
    to the same readings, and says what the kit sent."""
    fake = FakeSerial(capture_frames(os.path.join(REPLAY, "cms50f-live.cap")), True)
    link = os.path.join(tmp, "oxi-rec")
    os.symlink(fake.path, link)
    out = os.path.join(tmp, "recorded.cap")
    mokit = os.path.join(ROOT, BUILD, "mokit")
    try:
        p = subprocess.run([mokit, "device", "record", "--driver", "cms50", "--device",
                            "cms50:" + link, "--seconds", "13", "--who", "mokit tests",
                            "--notes", "the fake CMS50F", "--out", out],
                           capture_output=True, text=True, timeout=60)
        check("record: exit 0, says where the capture went",
              p.returncode == 0 and "capture written to" in p.stderr and
              "reading: spo2 98 %" in p.stderr, "exit %d\n%s" % (p.returncode, p.stderr))
        text = open(out).read() if os.path.exists(out) else ""
        head = [x for x in text.splitlines() if x.startswith("#")]
        check("record: the header names driver, model, transport, who, notes",
              "# device: cms50" in head and "# model: CMS50F" in head and
              "# transport: serial" in head and "# who: mokit tests" in head and
              "# notes: the fake CMS50F" in head, "header %r" % head)
        check("record: the probe (A8) and live start (A1) are kept as host-to-device frames",
              "> 7d 81 a8 80 80 80 80 80 80" in text and "> 7d 81 a1 80 80 80 80 80 80" in text,
              text[:600])
        p = subprocess.run([mokit, "device", "decode", out], capture_output=True, text=True,
                           timeout=60)
        got = [(x["kind"], x["value"]) for x in map(json.loads, p.stdout.splitlines())]
        check("record: the capture decodes to the device's readings",
              p.returncode == 0 and got == [("spo2", 98), ("pulse", 73), ("spo2", 95),
                                            ("pulse", 132)], "exit %d %r %s" % (
                                                p.returncode, got, p.stderr))
        p = subprocess.run([mokit, "device", "record", "--driver", "cms50", "--device",
                            "cms50:" + os.path.join(tmp, "nothing-here"), "--seconds", "1.5",
                            "--out", os.path.join(tmp, "none.cap")],
                           capture_output=True, text=True, timeout=60)
        check("record: no device: exit 2 with why, no file",
              p.returncode == 2 and "no cms50 device spoke" in p.stderr and
              not os.path.exists(os.path.join(tmp, "none.cap")), "exit %d %s" % (
                  p.returncode, p.stderr))
        p = subprocess.run([mokit, "device", "record", "--notes", "two\nlines"],
                           capture_output=True, text=True, timeout=60)
        check("record: a header value must be one line (usage error)", p.returncode == 1,
              "exit %d %s" % (p.returncode, p.stderr))
    finally:
        fake.close()


def scale_umockdev(path):
    desc = (DEVICE_DESC + CONFIG_DESC).hex().upper()
    lines = ["P: /devices/pci0000:00/0000:00:14.0/usb1/1-1",
             "N: bus/usb/001/002=" + desc,
             "E: BUSNUM=001", "E: DEVNAME=/dev/bus/usb/001/002", "E: DEVNUM=002",
             "E: DEVTYPE=usb_device", "E: DRIVER=usb", "E: ID_VENDOR_ID=0922",
             "E: ID_MODEL_ID=8003", "E: PRODUCT=922/8003/100", "E: SUBSYSTEM=usb",
             "E: TYPE=0/0/0", "A: bConfigurationValue=1", "A: bDeviceClass=00",
             "A: bNumConfigurations=1", "A: bNumInterfaces= 1", "A: busnum=1\\n",
             "A: devnum=2\\n", "A: idProduct=8003", "A: idVendor=0922",
             "A: manufacturer=DYMO", "A: product=M10 10 kg Digital Postal Scale",
             "A: serial=0071234", "A: speed=12", "H: descriptors=" + desc]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def usb_case(tmp):
    if not shutil.which("umockdev-run"):
        check("USB scale under umockdev", False, "umockdev-run is not installed")
        return
    dev = os.path.join(tmp, "scale.umockdev")
    scale_umockdev(dev)
    reports = ["030203FF0000",  # stale first report: ignored
               "030303FF2C01",  # in motion
               "030403FFC902", "030403FFC902", "030403FFC902",  # 71.3 kg held
               "030203FF0000"]  # stepped off
    ioctl = os.path.join(tmp, "scale.ioctl")
    with open(ioctl, "w") as f:
        for r in reports:
            f.write("USBDEVFS_REAPURBNDELAY 0 1 129 0 0 64 6 0 %s\n" % r)
    d = Daemon(BUILD, os.path.join(tmp, "usb-data"), demo=True)
    d.extra = ["--usb", "yes", "--evdev", "no"]
    real = d.argv

    def argv():
        return ["umockdev-run", "-d", dev, "-i", "/dev/bus/usb/001/002=" + ioctl, "--"] + real()
    d.argv = argv
    try:
        d.start(timeout=20)
        c = Client(d.port)
        token = c.login("2222").json["token"]
        got = wait(lambda: readings(c, token, "usb-1-1"), timeout=15)
        info = device(c, token, "usb-1-1")
        check("USB scale: found by libusb and claimed by hidpos-scale",
              info and info.get("driver") == "hidpos-scale" and info.get("usb") == "0922:8003",
              "device %r\n%s" % (info, d.log_tail()))
        # umockdev plays the script again and again: each round is a resident stepping on,
        # so each gives one reading; the stale first report and the motion give none.
        check("USB scale: readings of 71.3 kg only, unassigned (nobody current)",
              got and all(x["values"] == {"value": 71.3} and x["state"] == "unassigned" and
                          x["raw"] == "030403ffc902" for x in got),
              "got %r\n%s" % (got, d.log_tail()))
        check("USB scale: its identity (product and serial from sysfs) in the provenance",
              got and got[0]["device"] == "hidpos-scale/M10 10 kg Digital Postal Scale/0071234",
              "got %r" % (got[0]["device"] if got else None))
    except Exception as e:  # noqa: BLE001
        check("mokitd with a USB scale under umockdev", False, repr(e) + "\n" + d.log_tail())
    finally:
        d.terminate()


# name, capture, (vid, pid), kind, IN report size, OUT endpoint, OUT report padding, feature,
# driver, what its status says when it is done
USB_DRIVERS = [
    ("Omron HEM-7322U", "omron-hem7322-download.cap", (0x0590, 0x0090), "hid", 64, 0x02, 0,
     None, "omron-hem7322", "download done: 9 records"),
    ("Omron HEM-790IT", "omron-hem790-download.cap", (0x0590, 0x0028), "hid", 8, 0x02, 8,
     bytes([0x74, 0xbc]), "omron-hem790", "download done: 4 records"),
    ("Contour Next USB", "contour-memory.cap", (0x1a79, 0x7410), "hid", 64, 0x01, 64, None,
     "contour", "download done: 3 glucose readings; not readings: 1 control solution, 1 above "
     "the meter's range (HI), 2 not glucose (insulin, carbohydrates) (the last LO/HI at "
     "2026-11-22 07:12)"),
    ("IEEE 11073 glucometer", "ieee11073-unknown-config.cap", (0x173a, 0x21d5), "phdc", 64,
     0x01, 0, None, "ieee11073", "released by the device"),
    ("Accu-Chek's memory (PM-store)", "accu-chek-pmstore.cap", (0x173a, 0x21d7), "phdc", 64,
     0x01, 0, None, "ieee11073", "released: 4 results read from the device's memory"),
]


def usb_daemon(tmp, name, frames, ids, kind, in_size, out_ep, out_pad, feature, data=None):
    """mokitd under umockdev-run with one USB device replaying frames (tests/devices/usbdev.py).
    """
    dev = os.path.join(tmp, name + ".umockdev")
    pcap = os.path.join(tmp, name + ".pcap")
    desc = usbdev.descriptors(ids[0], ids[1], kind, in_size, out_ep, in_size)
    usbdev.write_umockdev(dev, ids[0], ids[1], desc, "mokit tests", name, "SN-" + name)
    usbdev.write_pcap(pcap, frames, kind, in_size, out_pad, out_ep, feature)
    d = Daemon(BUILD, data or os.path.join(tmp, name + "-data"), demo=True)
    d.extra = ["--usb", "yes", "--evdev", "no"]
    real = d.argv
    d.argv = lambda: ["umockdev-run", "-d", dev, "-p", usbdev.SYSFS + "=" + pcap, "--"] + real()
    return d


def golden_readings(capture):
    """What a capture's golden file says the driver reads: [(kind, values, device time)], and
    the device's clock (or None)."""
    want, clock = [], None
    with open(os.path.join(REPLAY, capture.replace(".cap", ".golden"))) as f:
        for x in map(json.loads, f):
            if "clock" in x:
                clock = x["clock"]
            if "kind" not in x:
                continue
            vals = {"value": round(x["value"], 2)}
            if x["kind"] == "bp":
                vals = {"systolic": x["value"], "diastolic": x["value2"]}
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(x["device_time"]))
            want.append((x["kind"], sorted(vals.items()), stamp))
    return sorted(want), clock


def usb_driver_case(tmp, name, capture, ids, kind, in_size, out_ep, out_pad, feature, driver,
                    done):
    if not shutil.which("umockdev-run"):
        check("%s under umockdev" % name, False, "umockdev-run is not installed")
        return
    want, clock = golden_readings(capture)
    frames = capture_frames(os.path.join(REPLAY, capture))
    os.environ["TZ"] = "UTC0"  # device times are the device's wall clock: read as UTC here
    d = usb_daemon(tmp, capture[:-4], frames, ids, kind, in_size, out_ep, out_pad, feature)
    try:
        d.start(timeout=20)
        c = Client(d.port)
        token = c.login("2222").json["token"]
        info = wait(lambda: (lambda x: x if x and done in x.get("message", "") else None)(
            device(c, token, "usb-1-1")), timeout=20)
        info = info or device(c, token, "usb-1-1")
        check("%s (%04x:%04x) under umockdev: claimed by %s, the whole dialogue replayed "
              "through libusb (%s)" % (name, ids[0], ids[1], driver, done),
              info and info.get("driver") == driver and info.get("state") == "online" and
              done in info.get("message", "") and info.get("errors") == 0,
              "device %r\n%s" % (info, d.log_tail()))
        got = readings(c, token, "usb-1-1")
        have = sorted((x["code"], sorted((k, round(v, 2)) for k, v in x["values"].items()),
                       x.get("device_time")) for x in got)
        check("%s: the capture's %d readings, with its device times" % (name, len(want)),
              have == want, "got %r\nwant %r" % (have, want))
        check("%s: nobody is current, so all are unassigned" % name,
              got and all(x["state"] == "unassigned" for x in got), "got %r" % got)
        if clock is not None:
            # the clock offset is the device's clock (read as UTC) less the kit's at that moment
            off = info.get("clock_offset") if info else None
            since = time.time() - 60
            check("%s: the device's clock read and its offset kept (%r s)" % (name, off),
                  off is not None and clock - since - 120 < off < clock - since + 60,
                  "device %r, clock %d" % (info, clock))
    except Exception as e:  # noqa: BLE001
        check("mokitd with a %s under umockdev" % name, False, repr(e) + "\n" + d.log_tail())
    finally:
        d.terminate()
        del os.environ["TZ"]


def configured_usb_case(tmp):
    """A USB id two models share: the configuration's "omron-hem7131:usb:0590:0090" makes the
    HEM-7131U's driver take it (without it the HEM-7322U's does, as above)."""
    if not shutil.which("umockdev-run"):
        check("configured USB driver under umockdev", False, "umockdev-run is not installed")
        return
    frames = capture_frames(os.path.join(REPLAY, "omron-hem7322-download.cap"))[:4]
    d = usb_daemon(tmp, "hem7131", frames, (0x0590, 0x0090), "hid", 64, 0x02, 0, None)
    d.extra += ["--devices", "omron-hem7131:usb:0590:0090"]
    try:
        d.start(timeout=20)
        c = Client(d.port)
        token = c.login("2222").json["token"]
        info = wait(lambda: (lambda x: x if x and "clock" in x.get("message", "") else None)(
            device(c, token, "usb-1-1")), timeout=10) or device(c, token, "usb-1-1")
        check("a configured driver for a USB id: 0590:0090 taken by omron-hem7131, which "
              "started its download (START, then the settings and the clock)",
              info and info.get("driver") == "omron-hem7131" and
              "device clock" in info.get("message", ""), "device %r\n%s" % (info, d.log_tail()))
    except Exception as e:  # noqa: BLE001
        check("mokitd with a configured USB driver", False, repr(e) + "\n" + d.log_tail())
    finally:
        d.terminate()


def memory_history_case(tmp):
    """The memory-history rule end to end: the patient is scanned, then a Contour is plugged in
    (mokitd started under umockdev on the same data) whose clock is 10 minutes slow and whose
    memory holds 30 results of the days before and one just taken."""
    if not shutil.which("umockdev-run"):
        check("memory history under umockdev", False, "umockdev-run is not installed")
        return
    os.environ["TZ"] = "UTC0"
    data = os.path.join(tmp, "history-data")
    d = Daemon(BUILD, data, demo=True)
    try:
        d.start(timeout=15)
        c, token, visit = nurse_with_patient(d)
    except Exception as e:  # noqa: BLE001
        check("memory history: a patient at vitals", False, repr(e) + "\n" + d.log_tail())
        d.terminate()
        return
    d.terminate()
    # The meter's clock, 10 minutes behind the kit's, is read when it is plugged in, a few
    # seconds after the scan; the new result is of that minute (the Contour's results have no
    # seconds: the clock is set to the start of its minute, so the new one is not earlier).
    time.sleep(2)
    slow = time.time() + 3 - 600
    clock = time.strftime("%Y%m%d%H%M", time.gmtime(slow))
    old = [(90 + i, time.strftime("%Y%m%d%H%M", time.gmtime(slow - 3600 * (2 + 5 * i))))
           for i in range(30)]
    text = usbdev.contour_capture(clock, old + [(142, clock)])
    path = os.path.join(tmp, "history.cap")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([os.path.join(ROOT, BUILD, "mokit"), "device", "decode", "--driver",
                        "contour", path], capture_output=True, text=True, timeout=60)
    n = sum(1 for x in p.stdout.splitlines() if '"glucose"' in x)
    check("memory history: the generated capture decodes to 31 results", n == 31,
          "%d\n%s" % (n, p.stderr))
    d = usb_daemon(tmp, "history", usbdev.capture_frames(path), (0x1a79, 0x7410), "hid", 64,
                   0x01, 64, None, data=data)
    try:
        # the minute of the meter's clock must start before the plug-in: wait for it
        while time.time() - 600 < int(slow // 60 * 60) + 1:
            time.sleep(0.2)
        d.start(timeout=20)
        c = Client(d.port)
        token = c.login("2222").json["token"]
        got = wait(lambda: (lambda x: x if len(x) >= 31 else None)(
            readings(c, token, "usb-1-1")), timeout=20) or readings(c, token, "usb-1-1")
        attached = [x for x in got if x["state"] == "attached"]
        info = device(c, token, "usb-1-1")
        check("memory history: 31 results read (%d)" % len(got), len(got) == 31,
              "device %r\n%s" % (info, d.log_tail()))
        check("memory history: only the result taken after the scan is the patient's "
              "(%s)" % [(x["values"], x.get("device_time")) for x in attached],
              len(attached) == 1 and attached[0]["values"] == {"value": round(142 / 18.016, 2)}
              and attached[0]["visit"] == visit, "attached %r" % attached)
        check("memory history: the 30 older ones are unassigned history, saying why",
              sum(1 for x in got if x["state"] == "unassigned" and
                  "before the current patient" in (x.get("note") or "")) == 30,
              "got %r" % [(x["state"], x.get("note")) for x in got][:5])
        off = info.get("clock_offset") if info else None
        check("memory history: the meter's clock 10 minutes slow (offset %r s)" % off,
              off is not None and -660 < off < -540, "device %r" % info)
    except Exception as e:  # noqa: BLE001
        check("memory history through mokitd", False, repr(e) + "\n" + d.log_tail())
    finally:
        d.terminate()
        del os.environ["TZ"]


def unclaimed_case(tmp):
    """Another device on the CP210x id (a glucometer, a GPS): asked, not a CMS50, not taken."""
    frames = [(False, i * 0.05, b"$GPGGA,123519,4807.038,N*47\r\n") for i in range(80)]
    fake = FakeSerial(frames, False)
    link = os.path.join(tmp, "other")
    os.symlink(fake.path, link)
    d = Daemon(BUILD, os.path.join(tmp, "other-data"), demo=True,
               extra=["--devices", "cms50:" + link])
    try:
        d.start(timeout=15)
        c = Client(d.port)
        token = c.login("2222").json["token"]
        dev = wait(lambda: (lambda x: x if x and x.get("state") == "unclaimed" else None)(
            device(c, token, tty_id(link))), timeout=10)
        check("a serial device that is not a CMS50 is probed and left unclaimed",
              dev and "not a cms50" in dev.get("message", ""),
              "device %r" % device(c, token, tty_id(link)))
        check("... and gives no readings", not readings(c, token, tty_id(link)))
    except Exception as e:  # noqa: BLE001
        check("mokitd with a foreign serial device", False, repr(e) + "\n" + d.log_tail())
    finally:
        d.terminate()
        fake.close()


def main():
    tmp = tempfile.mkdtemp(prefix="mokit-devices-")
    unclaimed_case(tmp)
    serial_case(tmp, "oxi-new", "cms50f-live.cap", True,
                [("spo2", 98), ("pulse", 73), ("spo2", 95), ("pulse", 132)])
    serial_case(tmp, "oxi-old", "cms50-two-fingers.cap", False,
                [("spo2", 98), ("pulse", 74), ("spo2", 95), ("pulse", 88)])
    download_case(tmp)
    record_case(tmp)
    usb_case(tmp)
    for case in USB_DRIVERS:
        usb_driver_case(tmp, *case)
    configured_usb_case(tmp)
    memory_history_case(tmp)
    failed = 0
    for i, (ok, name, detail) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
        if not ok:
            failed += 1
            for line in str(detail).splitlines()[-30:]:
                print("#   " + line)
    print("1..%d" % len(results))
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
