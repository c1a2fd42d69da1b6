#!/usr/bin/env python3
"""Button press to number: the latency from a Next button's release (a short press is known
only when the button is let go) to
  a) the number complete on the station's TM1637 display (the stop condition of the display's
     last transfer, from the fake libgpiod's record), and
  b) the call event on GET /api/v1/events (what the queue screen follows),
through mokitd linked with the fake libgpiod (tests/gpio/fake_gpiod.c). Both clocks are the
machine's CLOCK_MONOTONIC. The goal (issue 8): <= 100 ms. The button's 30 ms debounce is part
of the figure: the release must hold 30 ms before it counts.

usage: python3 tests/bench/bench_gpio.py [BUILD_DIR]   (BENCH_PRESSES=n, default 30: the demo has
that many residents to call)
"""
import http.client
import importlib.util
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
_spec = importlib.util.spec_from_file_location("gpio_run", os.path.join(HERE, "..", "gpio",
                                                                        "run.py"))
gpio = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpio)

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
GOAL_MS = 100.0
N = int(os.environ.get("BENCH_PRESSES", "30"))


class Stream:
    """The event stream, each event with the monotonic time it arrived."""

    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.request("GET", "/api/v1/events", headers={"Authorization": "Bearer " + token})
        self.resp = self.conn.getresponse()
        self.calls = []
        self.lock = threading.Lock()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        kind = None
        try:
            while True:
                line = self.resp.fp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                t = time.monotonic_ns()
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "call":
                    with self.lock:
                        self.calls.append(t)
                elif line == "":
                    kind = None
        except (OSError, ValueError, AttributeError):  # closed under it
            return

    def count(self):
        with self.lock:
            return len(self.calls)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]


def main():
    tmp = tempfile.mkdtemp(prefix="mokit-bench-gpio-")
    kit = gpio.Kit(tmp, "kit")
    kit.start()
    try:
        c = kit.client
        token = c.login("2222").json["token"]
        codes = []
        for q in "anhtiuoe":  # the demo's residents, until there are enough for N visits
            for p in c.request("GET", "/api/v1/patients?q=%s&limit=100" % q,
                               token=token).json.get("results", []):
                if p["code"] not in codes:
                    codes.append(p["code"])
            if len(codes) >= N + 5:
                break
        for code in codes[:N + 5]:
            c.request("POST", "/api/v1/visits", {"patient": code}, token=token)
        stream = Stream(kit.daemon.port, token)
        time.sleep(0.5)
        disp, ev = [], []
        for i in range(N):
            before = stream.count()
            kit.press("GPIO22 0\nwait 80000\nGPIO22 -\n")
            deadline = time.monotonic() + 5
            while stream.count() == before and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(0.08)  # the display's transfers are done by now
            if stream.count() == before:
                print("press %d: no call event (nobody waiting?)" % i)
                break
            rec = kit.record()
            release = [t for t, o, lv, k in rec if o == 22 and k == "i" and lv == 1][-1]
            ups = [u for u in gpio.display_updates(rec, 23, 24) if u[0] >= release]
            if not ups:
                print("press %d: the display did not change" % i)
                break
            disp.append((ups[0][0] - release) / 1e6)
            with stream.lock:
                ev.append((stream.calls[before] - release) / 1e6)
            time.sleep(0.05)
        ok = len(disp) == N
        for label, v in (("a) release -> number on the display", disp),
                         ("b) release -> call on the event stream", ev)):
            if not v:
                continue
            p50, p99 = statistics.median(v), pct(v, 0.99)
            print("%s: %d presses, p50 %.1f ms, p99 %.1f ms, max %.1f ms (goal <= %.0f ms: %s; "
                  "ratio max/goal %.2f)" % (label, len(v), p50, p99, max(v), GOAL_MS,
                                            "met" if max(v) <= GOAL_MS else "NOT met",
                                            max(v) / GOAL_MS))
            ok = ok and max(v) <= GOAL_MS
        print("(30 ms of each is the debounce: the release must hold before it counts)")
        stream.conn.close()
        return 0 if ok else 1
    finally:
        kit.daemon.terminate()


if __name__ == "__main__":
    sys.exit(main())
