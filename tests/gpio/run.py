#!/usr/bin/env python3
"""The station panel end to end: mokitd linked with the fake libgpiod (tests/gpio/fake_gpiod.c)
is pressed through the fake's control FIFO as a person presses a button (bounces and all), and
what it did to its lines is read back from the fake's record: the TM1637 bit stream decoded
into the digits shown, the buzzer's pattern, the LEDs. The same calls must reach the event
stream (the queue screen) and the store.

usage: python3 tests/gpio/run.py [BUILD_DIR]   (prints TAP)
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import harness  # noqa: E402
from devices import Events  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"

DOCTOR = (22, 23, 24)  # button, clk, dio
PHARMACY = (27, 16, 20)
READY, ATTENTION, BUSY, BUZZER = 5, 6, 13, 12
PANEL_ARGS = ["--panel", "doctor next=GPIO22 clk=GPIO23 dio=GPIO24",
              "--panel", "pharmacy next=GPIO27 clk=GPIO16 dio=GPIO20",
              "--leds", "ready=GPIO5 attention=GPIO6 busy=GPIO13",
              "--buzzer", "GPIO12"]

SEGMENTS = {0x3F: "0", 0x06: "1", 0x5B: "2", 0x4F: "3", 0x66: "4", 0x6D: "5", 0x7D: "6",
            0x07: "7", 0x7F: "8", 0x6F: "9", 0x00: " ", 0x40: "-"}


def read_record(path):
    """[(t_ns, offset, level, 'o'|'i')] from the fake's record file."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) == 4:
                    out.append((int(p[0]), int(p[1]), int(p[2]), p[3]))
    except FileNotFoundError:
        pass
    return out


def decode_tm1637(rec, clk_off, dio_off):
    """The transfers on a TM1637's wires: [(t_ns of the stop, [bytes])]. A start is DIO falling
    while CLK is high, a stop DIO rising while CLK is high, a bit is DIO at CLK's rising edge,
    the ninth clock of a byte its acknowledge."""
    clk, dio, inside, bits, byte, cur, out = 1, 1, False, 0, 0, [], []
    for t, off, level, kind in rec:
        if kind != "o" or off not in (clk_off, dio_off):
            continue
        if off == dio_off:
            if clk and dio and not level:
                inside, bits, byte, cur = True, 0, 0, []
            elif clk and not dio and level and inside:
                inside = False
                out.append((t, cur))
            dio = level
        else:
            if not clk and level and inside:
                if bits < 8:
                    byte |= dio << bits
                bits += 1
                if bits == 9:
                    cur.append(byte)
                    bits, byte = 0, 0
            clk = level
    return out


def display_updates(rec, clk_off, dio_off):
    """[(t_ns, text, lit)] for each complete update (0x40, 0xC0 + 4 digits, display control)."""
    tr = decode_tm1637(rec, clk_off, dio_off)
    ups = []
    for i in range(len(tr) - 2):
        a, d, c = tr[i][1], tr[i + 1][1], tr[i + 2][1]
        if a == [0x40] and len(d) == 5 and d[0] == 0xC0 and len(c) == 1 and c[0] & 0xF0 == 0x80:
            text = "".join(SEGMENTS.get(b, "?") for b in d[1:]).strip()
            ups.append((tr[i + 2][0], text, bool(c[0] & 0x08)))
    return ups


def level(rec, off):
    v = None
    for _, o, lv, kind in rec:
        if o == off and kind == "o":
            v = lv
    return v


def pulses(rec, off, since_ns):
    """The buzzer's on/off durations in ms after since_ns."""
    ts = [t for t, o, _, kind in rec if o == off and kind == "o" and t >= since_ns]
    return [(b - a) / 1e6 for a, b in zip(ts, ts[1:])]


class Kit:
    def __init__(self, tmp, name, extra=(), demo=True):
        self.ctl = os.path.join(tmp, name + ".ctl")
        self.log = os.path.join(tmp, name + ".gpio")
        os.mkfifo(self.ctl)
        self.daemon = harness.Daemon(BUILD, os.path.join(tmp, name), demo=demo,
                                     extra=PANEL_ARGS + list(extra))
        self.daemon.exe = harness.binary(BUILD, "tests/mokitd-fakegpio")

    def start(self):
        os.environ["MOKIT_FAKE_GPIO_CTL"] = self.ctl
        os.environ["MOKIT_FAKE_GPIO_LOG"] = self.log
        try:
            self.daemon.start(timeout=20)
        finally:
            del os.environ["MOKIT_FAKE_GPIO_CTL"]
            del os.environ["MOKIT_FAKE_GPIO_LOG"]
        self.client = harness.Client(self.daemon.port, keep_log=False)

    def press(self, script):
        """Writes a script of line changes to the fake (one open: the fake runs it in order)."""
        with open(self.ctl, "w") as f:
            f.write(script)

    def record(self):
        return read_record(self.log)


def bouncy_press(line, held_ms):
    """A press as a worn button makes it: bounces on the way down and up."""
    return ("GPIO%d 0\nwait 2000\nGPIO%d 1\nwait 1000\nGPIO%d 0\nwait %d\nGPIO%d -\nwait 1500\n"
            "GPIO%d 0\nwait 800\nGPIO%d -\n" % (line, line, line, held_ms * 1000, line, line,
                                                line))


def calls(stream, station=None):
    return [e[2] for e in stream.events("call") if station is None or e[2]["station"] == station]


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    return pred()


def main():
    tap = harness.Tap()
    tmp = tempfile.mkdtemp(prefix="mokit-gpio-")
    kit = Kit(tmp, "kit")
    try:
        kit.start()
    except RuntimeError as e:
        tap.bail(str(e))
        return 1
    c = kit.client
    lead = c.login("9999").json["token"]
    nurse = c.login("2222").json["token"]
    stream = Events(kit.daemon.port, lead)
    try:
        with tap.case("at start: ready LED on, the others off, the displays lit and blank, "
                      "the ready tone") as ck:
            rec = wait_for(lambda: (lambda r: r if level(r, BUZZER) == 0 and
                                    len(pulses(r, BUZZER, 0)) >= 1 else None)(kit.record()))
            ck.expect(rec is not None, "no record")
            rec = rec or []
            ck.expect(level(rec, READY) == 1, "ready %r" % level(rec, READY))
            ck.expect(level(rec, ATTENTION) in (0, None), "attention %r" % level(rec, ATTENTION))
            ck.expect(level(rec, BUSY) in (0, None), "busy %r" % level(rec, BUSY))
            ups = display_updates(rec, 23, 24)
            ck.expect(ups and ups[-1][2], "doctor's display %r" % ups)
            p = pulses(rec, BUZZER, 0)
            ck.expect(p and 395 <= p[0] <= 480, "ready tone %r ms" % p)

        # four residents register today (the demo's days are in the past)
        pats = c.request("GET", "/api/v1/patients?q=a&limit=4", token=nurse).json["results"]
        for pt in pats:
            c.request("POST", "/api/v1/visits", {"patient": pt["code"]}, token=nurse)
        q = c.request("GET", "/api/v1/queue").json
        waiting = {s["name"]: s["waiting"] for s in q["stations"]}
        day = c.request("GET", "/api/v1/visits?day=today", token=lead).json
        numbers = sorted(v["queue_number"] for v in day.get("visits", []))

        with tap.case("demo data: visits today to call") as ck:
            ck.require(waiting.get("doctor", 0) >= 3 and len(numbers) >= 3,
                       "waiting %r, numbers %r" % (waiting, numbers))

        first = numbers[0]
        with tap.case("Next pressed (with bounces): one call at the doctor's, the number on its "
                      "display, a chirp, the call on the event stream") as ck:
            mark = time.monotonic_ns()
            kit.press(bouncy_press(22, 150))
            got = wait_for(lambda: calls(stream, "doctor"))
            ck.require(got, "no call event")
            ck.expect(got[0]["queue_number"] == first and got[0]["recall"] is False,
                      "call %r, first number %d" % (got[0], first))
            time.sleep(0.5)
            ck.expect(len(calls(stream, "doctor")) == 1, "calls %r" % calls(stream, "doctor"))
            rec = kit.record()
            ups = [u for u in display_updates(rec, 23, 24) if u[0] >= mark]
            ck.expect(ups and ups[-1][1] == str(first) and ups[-1][2],
                      "doctor's display shows %r" % ups)
            p = pulses(rec, BUZZER, mark)
            ck.expect(p and 115 <= p[0] <= 180, "call chirp %r ms" % p)
            ph = [u for u in display_updates(rec, 16, 20) if u[0] >= mark]
            ck.expect(not ph, "the pharmacy's display changed: %r" % ph)
            stored = harness.sqlite(kit.daemon.data_dir + "/mokit.db",
                                    "select station, queue_number, recall, called_by from "
                                    "queue_call")
            ck.expect([tuple(r) for r in stored] == [("doctor", str(first), "0", "")],
                      "queue_call rows %r" % stored)
            audit = harness.sqlite(kit.daemon.data_dir + "/mokit.db",
                                   "select actor from audit where entity = 'queue_call'")
            ck.expect([r[0] for r in audit] == ["system:panel"], "audit %r" % audit)

        with tap.case("a 8 ms spike on the line is no press") as ck:
            before = len(calls(stream))
            kit.press("GPIO22 0\nwait 8000\nGPIO22 -\n")
            time.sleep(0.6)
            ck.expect(len(calls(stream)) == before, "calls %r" % calls(stream))

        with tap.case("long press: the number called again, the display flashes and stays on, "
                      "two chirps") as ck:
            mark = time.monotonic_ns()
            kit.press("GPIO22 0\nwait 1300000\nGPIO22 -\n")
            got = wait_for(lambda: [e for e in calls(stream, "doctor") if e["recall"]], 4)
            ck.require(got, "no recall event: %r" % calls(stream))
            ck.expect(got[0]["queue_number"] == first, "recall %r" % got[0])
            time.sleep(1.8)
            ck.expect(len(calls(stream, "doctor")) == 2, "calls %r" % calls(stream, "doctor"))
            rec = kit.record()
            ups = [u for u in display_updates(rec, 23, 24) if u[0] >= mark]
            ck.expect([u[2] for u in ups] == [False, True, False, True, False, True] and
                      all(u[1] == str(first) for u in ups), "flash %r" % ups)
            p = pulses(rec, BUZZER, mark)
            ck.expect(len(p) == 3 and 115 <= p[0] <= 180 and 95 <= p[1] <= 160,
                      "recall chirps %r" % p)

        with tap.case("Next again: the next number of today") as ck:
            kit.press(bouncy_press(22, 100))
            got = wait_for(lambda: calls(stream, "doctor")[2:])
            ck.expect(got and got[0]["queue_number"] == numbers[1] and not got[0]["recall"],
                      "call %r, want %d" % (got, numbers[1]))
            time.sleep(0.1)
            ups = display_updates(kit.record(), 23, 24)
            ck.expect(ups[-1][1] == str(numbers[1]), "display %r" % ups[-1:])

        with tap.case("a call from a phone shows on the pharmacy's display") as ck:
            mark = time.monotonic_ns()
            r = c.request("POST", "/api/v1/stations/pharmacy/call", {"next": True}, token=lead)
            ck.require(r.status == 200, r.describe())
            time.sleep(0.3)
            ups = [u for u in display_updates(kit.record(), 16, 20) if u[0] >= mark]
            ck.expect(ups and ups[-1][1] == str(r.json["queue_number"]) and ups[-1][2],
                      "pharmacy's display %r, called %r" % (ups, r.json["queue_number"]))
            dups = [u for u in display_updates(kit.record(), 23, 24) if u[0] >= mark]
            ck.expect(not dups, "the doctor's display changed: %r" % dups)

        with tap.case("nobody waiting: the button gives three short beeps and calls nobody") as ck:
            for _ in range(1000):
                r = c.request("POST", "/api/v1/stations/pharmacy/call", {"next": True},
                              token=lead)
                if r.status != 200:
                    break
            ck.require(r.status == 409 and r.error_code() == "queue_empty", r.describe())
            time.sleep(0.5)
            n = len(calls(stream, "pharmacy"))
            mark = time.monotonic_ns()
            kit.press(bouncy_press(27, 80))
            time.sleep(0.9)
            ck.expect(len(calls(stream, "pharmacy")) == n, "a call was made")
            p = pulses(kit.record(), BUZZER, mark)
            ck.expect(len(p) == 5 and all(60 <= x <= 130 for x in p), "error beeps %r" % p)

        with tap.case("a wristband scanned chirps; a refused scan beeps three times") as ck:
            pats = c.request("GET", "/api/v1/patients?q=a&limit=1", token=nurse).json["results"]
            mark = time.monotonic_ns()
            r = c.request("POST", "/api/v1/stations/vitals/scan", {"text": pats[0]["code"]},
                          token=nurse)
            ck.require(r.status == 200 and r.json.get("accepted"), r.describe())
            time.sleep(0.3)
            p = pulses(kit.record(), BUZZER, mark)
            ck.expect(len(p) == 1 and 35 <= p[0] <= 90, "scan tick %r" % p)
            mark = time.monotonic_ns()
            r = c.request("POST", "/api/v1/stations/vitals/scan", {"text": "NOT A BAND"},
                          token=nurse)
            time.sleep(0.6)
            p = pulses(kit.record(), BUZZER, mark)
            ck.expect(len(p) == 5, "refused scan beeps %r (answer %s)" % (p, r.describe()))

        with tap.case("printer out of paper: attention LED on, ready off; the roll back: ready") \
                as ck:
            paper = os.path.join(kit.daemon.data_dir, "prints", "ticket", "PAPER-OUT")
            open(paper, "w").close()
            try:
                r = c.request("POST", "/api/v1/print-jobs", {"kind": "test"}, token=lead)
                ck.require(r.status == 201, r.describe())
                on = wait_for(lambda: level(kit.record(), ATTENTION) == 1, 10)
                ck.expect(on, "attention LED %r" % level(kit.record(), ATTENTION))
                ck.expect(level(kit.record(), READY) == 0, "ready LED still on")
                st = c.request("GET", "/api/v1/status").json.get("panel") or {}
                ck.expect(st.get("leds") == {"ready": False, "attention": True, "busy": False},
                          "status %r" % st)
            finally:
                os.unlink(paper)
            back = wait_for(lambda: level(kit.record(), READY) == 1, 15)
            ck.expect(back and level(kit.record(), ATTENTION) == 0, "after the roll: ready %r "
                      "attention %r" % (level(kit.record(), READY),
                                        level(kit.record(), ATTENTION)))
            rec = kit.record()
            ck.expect(any(o == BUSY and lv == 1 for _, o, lv, k in rec if k == "o"),
                      "the busy LED never lit while the job was sent")

        with tap.case("GET /api/v1/status: the panel's presses and parts") as ck:
            st = c.request("GET", "/api/v1/status").json.get("panel")
            ck.require(isinstance(st, dict), "panel %r" % st)
            ck.expect(st["presses"] == {"short": 3, "long": 1}, "presses %r" % st["presses"])
            ck.expect(st["bounces_ignored"] >= 1, "bounces %r" % st["bounces_ignored"])
            ck.expect([s["name"] for s in st["stations"]] == ["doctor", "pharmacy"] and
                      all(s["button"] and s["display"] for s in st["stations"]), "%r" % st)
            ck.expect(st["buzzer"] is True, "%r" % st)

        with tap.case("mokitd stops: the displays go dark, the LEDs off") as ck:
            stream.close()
            kit.daemon.terminate()
            rec = kit.record()
            ups = display_updates(rec, 23, 24)
            ck.expect(ups and ups[-1][1] == "" and not ups[-1][2], "doctor's display %r"
                      % ups[-1:])
            ck.expect(level(rec, READY) == 0 and level(rec, BUZZER) == 0, "LEDs/buzzer on")

        with tap.case("restart: the displays show the numbers being served") as ck:
            kit.start()
            time.sleep(0.3)
            ups = display_updates(kit.record(), 23, 24)
            ck.expect(ups and ups[-1][1] == str(numbers[1]) and ups[-1][2],
                      "doctor's display after restart %r" % ups[-1:])
            kit.daemon.terminate()

        bad = [
            (["--panel", "doctor next=GPIO99"], "GPIO line GPIO99: no line has this name"),
            (["--panel", "triage next=GPIO22"], "panel triage: the kit has no station"),
            (["--panel", "doctor next=GPIO22 colour=red"], "\"colour\" is not one of next"),
            (["--panel", "doctor clk=GPIO23"], "a display needs both clk=LINE and dio=LINE"),
            (PANEL_ARGS + ["--leds", "ready=GPIO22"], "GPIO line GPIO22 is both a Next button "
             "and the ready LED"),
            (PANEL_ARGS + ["--buzzer", "GPIO12 GPIO13"], "buzzer: give one GPIO line"),
        ]
        for extra, want in bad:
            with tap.case("refused at start with a clear message: %s" % " ".join(extra[-2:])) \
                    as ck:
                d = harness.Daemon(BUILD, os.path.join(tmp, "bad"), demo=True, extra=extra)
                d.exe = harness.binary(BUILD, "tests/mokitd-fakegpio")
                argv = d.argv()
                p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
                ck.expect(p.returncode != 0 and want in p.stderr,
                          "exit %d: %s" % (p.returncode, p.stderr[-400:]))
    finally:
        try:
            stream.close()
        except Exception:
            pass
        if kit.daemon.alive():
            kit.daemon.terminate()
    tap.plan()
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
