#!/usr/bin/env python3
"""The `mokit` command line and `mokitd` start-up, as a person at a terminal meets them.

usage: python3 tests/cli/run.py [BUILD_DIR]   (prints TAP)
"""
import json
import re
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, sys.argv[1] if len(sys.argv) > 1 else "build")
MOKIT = os.path.join(BUILD, "mokit")
MOKITD = os.path.join(BUILD, "mokitd")

results = []


def check(name, cond, detail=""):
    results.append((bool(cond), name, detail))


def mokit(data, *args):
    p = subprocess.run([MOKIT, "--data", data, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(port, proc, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1) as r:
                return r.status == 200
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc, sig=signal.SIGTERM):
    """Sends sig and returns the exit status (None if it had to be killed)."""
    proc.send_signal(sig)
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None


def test_usage(d):
    rc, out, err = mokit(d)
    check("no command: exit 1 with usage", rc == 1 and "usage" in err, err)
    rc, out, _ = mokit(d, "--help")
    check("--help: exit 0", rc == 0 and "patient register" in out)
    rc, _, err = mokit(d, "frobnicate")
    check("unknown command: exit 1", rc == 1 and "unknown command" in err)
    for cmd, word in [(("campaign", "--help"), "--code"), (("staff", "--help"), "--pin"),
                      (("patient", "register", "--help"), "--cccd"),
                      (("patient", "find", "--help"), "QUERY"), (("patient", "show", "--help"), "CODE"),
                      (("id", "--help"), "parse-cccd"), (("code", "--help"), "check"),
                      (("demo", "--help"), "seed")]:
        rc, out, _ = mokit(d, *cmd)
        check("help: mokit " + " ".join(cmd), rc == 0 and word in out, out)
    rc, _, err = mokit(d, "patient", "register", "--name", "A")
    check("register without --sex/--birth: exit 1 (usage)", rc == 1, err)
    rc, _, err = mokit(d, "patient", "register", "--name", "A", "--sex", "male", "--birth", "1960",
                       "--bogus", "x")
    check("unknown option: exit 1", rc == 1 and "unknown option" in err, err)


def test_setup_and_register(d):
    rc, _, err = mokit(d, "patient", "register", "--name", "A", "--sex", "male", "--birth", "1960")
    check("register with no campaign: exit 2 says so", rc == 2 and "campaign" in err, err)
    rc, out, err = mokit(d, "--json", "campaign", "create", "--code", "LC-TV", "--name",
                         "Tả Van", "--commune", "Tả Van", "--province", "Lào Cai")
    check("campaign create --json", rc == 0 and json.loads(out)["code"] == "LC-TV", err)
    rc, _, err = mokit(d, "campaign", "create", "--code", "LC-TV", "--name", "again")
    check("campaign code taken: exit 2", rc == 2 and "exists" in err, err)
    rc, _, err = mokit(d, "campaign", "create", "--code", "X", "--name", "x", "--start", "2026-02-30")
    check("campaign with an impossible date: exit 2", rc == 2, err)
    rc, out, _ = mokit(d, "--json", "campaign", "list")
    check("campaign list --json", rc == 0 and [c["code"] for c in json.loads(out)] == ["LC-TV"], out)

    rc, out, err = mokit(d, "--json", "staff", "add", "--name", "Lan", "--role", "registrar",
                         "--pin", "4321")
    staff = json.loads(out) if rc == 0 else {}
    check("staff add --json", rc == 0 and staff.get("role") == "registrar", err)
    check("staff add output has no PIN or hash", "4321" not in out and "argon" not in out, out)
    rc, _, err = mokit(d, "staff", "add", "--name", "Hoa", "--role", "nurse", "--pin", "4321")
    check("staff with a PIN in use: exit 2", rc == 2 and "PIN" in err, err)
    p = subprocess.run([MOKIT, "--data", d, "--json", "staff", "add", "--name", "Mai", "--role",
                        "pharmacist"], input="7788\n", capture_output=True, text=True, timeout=60)
    check("staff add reads the PIN from stdin when --pin is absent",
          p.returncode == 0 and json.loads(p.stdout)["role"] == "pharmacist", p.stderr)
    p = subprocess.run([MOKIT, "--data", d, "staff", "add", "--name", "Mai", "--role", "nurse"],
                       input="7788\n", capture_output=True, text=True, timeout=60)
    check("... and that PIN is then taken", p.returncode == 2 and "PIN" in p.stderr, p.stderr)
    rc, _, err = mokit(d, "staff", "add", "--name", "Hoa", "--role", "janitor", "--pin", "5555")
    check("staff with an unknown role: exit 2", rc == 2, err)
    rc, _, err = mokit(d, "staff", "add", "--name", "Hoa", "--role", "nurse", "--pin", "12")
    check("staff with a 2-digit PIN: exit 2", rc == 2, err)

    rc, out, err = mokit(d, "--json", "patient", "register", "--name", "Nguyễn Thị Hương", "--sex",
                         "female", "--birth", "1968-03-12", "--cccd", "010168001234",
                         "--ethnicity", "Kinh", "--village", "Thôn 3", "--consent")
    p = json.loads(out) if rc == 0 else {}
    code = p.get("code", "")
    check("patient register --json gives a 12-character code", rc == 0 and len(code) == 12, err)
    check("commune and province come from the campaign",
          p.get("commune") == "Tả Van" and p.get("province") == "Lào Cai", out)
    check("ethnicity stored as its code", p.get("ethnicity") == "01" and p.get("ethnicity_name") == "Kinh")
    check("consent recorded", p.get("consent_at") is not None)
    rc, _, _ = mokit(d, "code", "check", code)
    check("code check of a new code: exit 0", rc == 0)
    bad = code[:11] + ("A" if code[11] != "A" else "B")
    rc, _, err = mokit(d, "code", "check", bad)
    check("code check with a wrong check character: exit 2", rc == 2 and "check character" in err, err)

    rc, out, err = mokit(d, "--json", "patient", "register", "--name", "Other Name", "--sex", "male",
                         "--birth", "1990", "--cccd", "010168001234")
    check("same CCCD: exit 2 and shows the existing patient",
          rc == 2 and json.loads(out)["code"] == code, err)
    nfd = "Nguye\u0302\u0303n Thi\u0323 Hu\u031bo\u031bng"
    rc, out, err = mokit(d, "--json", "patient", "register", "--name", nfd, "--sex", "female",
                         "--birth", "1969")
    check("likely duplicate (NFD name, year +1): exit 2 with candidates",
          rc == 2 and [c["code"] for c in json.loads(out)] == [code], err)
    rc, out, err = mokit(d, "--json", "patient", "register", "--name", nfd, "--sex", "female",
                         "--birth", "1969", "--confirm-new")
    second = json.loads(out) if rc == 0 else {}
    check("--confirm-new registers a second record, stored NFC",
          rc == 0 and second["code"] != code and second["name"] == "Nguyễn Thị Hương", err)
    rc, _, err = mokit(d, "patient", "register", "--name", "X", "--sex", "male", "--birth", "2999")
    check("birth year in the future: exit 2", rc == 2 and "birth" in err, err)

    rc, out, _ = mokit(d, "--json", "patient", "find", "nguyen thi h")
    found = json.loads(out) if rc == 0 else []
    check("find 'nguyen thi h' finds both, by prefix",
          sorted(r["code"] for r in found) == sorted([code, second.get("code")]) and
          all(r["match"] == "prefix" for r in found), out)
    rc, out, _ = mokit(d, "--json", "patient", "find", "010168001234")
    check("find by CCCD", rc == 0 and json.loads(out)[0]["match"] == "cccd")
    rc, _, _ = mokit(d, "patient", "find", "zzzz")
    check("find with no result: exit 2", rc == 2)
    rc, out, _ = mokit(d, "--json", "patient", "show", code.lower())
    check("show by code in lower case", rc == 0 and json.loads(out)["cccd"] == "010168001234")
    rc, _, err = mokit(d, "patient", "show", bad)
    check("show with a wrong check character: exit 2", rc == 2, err)
    rc, _, err = mokit(d, "patient", "show", "000000000001")
    check("show an unknown valid code: exit 2 not found", rc == 2 and "no patient" in err, err)


def test_cccd(d):
    text = "001089012345||Nguye\u0302\u0303n Va\u0306n An|15081989|Nam|Thôn 3, Tả Van|20062021\r\n"
    rc, out, err = mokit(d, "--json", "id", "parse-cccd", text)
    want = {"id": "001089012345", "old_id": None, "name": "Nguyễn Văn An", "birth_date": "1989-08-15",
            "sex": "male", "address": "Thôn 3, Tả Van", "issue_date": "2021-06-20"}
    check("parse-cccd --json (NFD name, CR/LF, empty old ID)", rc == 0 and json.loads(out) == want,
          out + err)
    rc, _, err = mokit(d, "id", "parse-cccd", "00108901234|1|A|15081989|Nam|x|20062021")
    check("parse-cccd 11-digit ID: exit 2, says 12 digits", rc == 2 and "12 digits" in err, err)
    rc, _, err = mokit(d, "id", "parse-cccd", "001089012345|1|A|31022000|Nam|x")
    check("parse-cccd 6 fields: exit 2", rc == 2 and "fields" in err, err)


def test_daemon(d):
    mokit(d, "campaign", "create", "--code", "C1", "--name", "Test")
    mokit(d, "staff", "add", "--name", "Lan", "--role", "registrar", "--pin", "4321")
    port = free_port()
    conf = os.path.join(d, "test.conf")
    with open(conf, "w") as f:
        f.write(f"# comment\ndata {d}\nlisten 127.0.0.1:{port}\nlog-level info\n")
    log = open(os.path.join(d, "daemon.log"), "w+")
    proc = subprocess.Popen([MOKITD, "--config", conf], stdout=log, stderr=log)
    up = wait_health(port, proc)
    check("mokitd starts from a config file", up)
    again = subprocess.run([MOKITD, "--data", d, "--listen", f"127.0.0.1:{free_port()}"],
                           capture_output=True, text=True, timeout=10)
    check("a second mokitd on the same data refuses",
          again.returncode != 0 and "another mokitd" in again.stderr, again.stderr)

    # Log privacy: register through the API, then look for the name and numbers in the log.
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/login", data=b'{"pin":"4321"}',
                                 method="POST")
    token = json.load(urllib.request.urlopen(req, timeout=5))["token"]
    body = json.dumps({"name": "Vàng Thị Sính", "sex": "female", "birth": "1971",
                       "cccd": "010171009999", "phone": "0987654321"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/patients", data=body,
                                 method="POST", headers={"Authorization": "Bearer " + token})
    created = json.load(urllib.request.urlopen(req, timeout=5))
    code = created["code"]
    rc, _, err = mokit(d, "print", "ticket", "--patient", code, "--png", os.path.join(d, "t.png"))
    check("print ticket with no visit today: exit 2 says so", rc == 2 and "no visit today" in err,
          err)
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/visits",
                                 data=json.dumps({"patient": code}).encode(), method="POST",
                                 headers={"Authorization": "Bearer " + token})
    visit = json.load(urllib.request.urlopen(req, timeout=5))
    rc = stop(proc)
    check("SIGTERM: clean exit 0", rc == 0, f"rc={rc}")
    png, out = os.path.join(d, "ticket.png"), os.path.join(d, "ticket.bin")
    rc, so, err = mokit(d, "print", "ticket", "--patient", code, "--profile", "csn-a2",
                        "--station", "Đo huyết áp", "--png", png, "--out", out)
    check("print ticket --profile csn-a2 writes the bytes and the preview", rc == 0 and
          os.path.exists(png) and os.path.exists(out), err)
    if rc == 0:
        data = open(out, "rb").read()
        check("the bytes start with ESC @ and switch on the busy line (CSN-A2)",
              data[:5] == b"\x1b@\x1da\x20", repr(data[:8]))
        check("the queue number is on the ticket", ("%d\n" % visit["queue_number"]).encode()
              in data, repr(visit))
        z = subprocess.run(["zbarimg", "--quiet", "--nodbus", "--raw", "-Sbinary", png],
                           capture_output=True, timeout=30)
        check("the preview's QR scans back to the patient code",
              z.stdout.decode(errors="replace").strip() == code, z.stdout)
    rc, _, err = mokit(d, "print", "wristband", "--patient", code, "--profile", "escpos-80",
                       "--png", png)
    z = subprocess.run(["zbarimg", "--quiet", "--nodbus", "--raw", "-Sbinary", png],
                       capture_output=True, timeout=30)
    check("print wristband: the sticker's QR scans back to the patient code",
          rc == 0 and z.stdout.decode(errors="replace").strip() == code, err)
    band = os.path.join(d, "band.png")
    rc, _, err = mokit(d, "print", "wristband", "--patient", code, "--profile", "zebra-hc100",
                       "--png", band, "--out", out)
    z = subprocess.run(["zbarimg", "--quiet", "--nodbus", "--raw", "-Sbinary", band],
                       capture_output=True, timeout=30)
    check("print wristband on the ZPL band printer: ^XA label, QR scans back",
          rc == 0 and open(out, "rb").read().startswith(b"^XA^CI28") and
          z.stdout.decode(errors="replace").strip() == code, err)
    rc, _, err = mokit(d, "print", "ticket", "--patient", code, "--profile", "zebra-hc100",
                       "--out", out)
    check("a ticket for a ZPL wristband printer: exit 2", rc == 2 and "ESC/POS" in err, err)
    slip = os.path.join(d, "slip.png")
    rc, _, err = mokit(d, "print", "slip", "--visit", visit["id"], "--to", "Bệnh viện tỉnh",
                       "--reason", "Tăng huyết áp", "--urgency", "soon", "--doctor",
                       "Bs. Nam", "--png", slip, "--out", out)
    z = subprocess.run(["zbarimg", "--quiet", "--nodbus", "--raw", "-Sbinary", slip],
                       capture_output=True, timeout=30)
    check("print slip --visit: a referral slip whose QR scans back to the patient code",
          rc == 0 and open(out, "rb").read().startswith(b"\x1b@") and
          z.stdout.decode(errors="replace").strip() == code, err)
    rc, _, err = mokit(d, "print", "slip", "--visit", visit["id"], "--to", "X", "--reason",
                       "Y", "--urgency", "now", "--png", slip)
    check("print slip --urgency now: exit 2", rc == 2 and "urgency" in err, err)
    rc, _, err = mokit(d, "print", "slip", "--visit", visit["id"], "--png", slip)
    check("print slip without --to and --reason: usage, exit 1", rc == 1, err)
    rc, _, err = mokit(d, "print", "slip", "--visit", "nope", "--to", "X", "--reason", "Y",
                       "--png", slip)
    check("print slip for an unknown visit: exit 2", rc == 2 and "no such visit" in err, err)
    # The queue from the command line: a printer, a job, its listing (mokitd is stopped, so
    # the job waits: nothing is lost).
    rc, _, err = mokit(d, "printer", "add", "desk", "--profile", "escpos-58", "--uri",
                       "file:desk.bin", "--kinds", "ticket,test")
    check("printer add", rc == 0, err)
    rc, _, err = mokit(d, "printer", "add", "desk2", "--profile", "escpos-58", "--uri",
                       "serial:ttyS0", "--kinds", "ticket")
    check("printer add with a relative serial path: exit 2, says why",
          rc == 2 and "absolute" in err, err)
    rc, so, err = mokit(d, "--json", "print", "test", "--printer", "desk")
    job = json.loads(so) if rc == 0 else {}
    check("print test --printer queues a job", rc == 0 and job.get("state") == "queued", err)
    rc, so, err = mokit(d, "--json", "printer", "list")
    desk = [p for p in json.loads(so) if p["name"] == "desk"] if rc == 0 else []
    check("printer list shows it waiting", desk and desk[0]["queued"] == 1, so)
    rc, so, err = mokit(d, "--json", "print", "cancel", job.get("id", "-"))
    check("print cancel", rc == 0 and json.loads(so).get("state") == "cancelled", err)
    rc, so, err = mokit(d, "print", "cancel", job.get("id", "-"))
    check("print cancel again: exit 2", rc == 2 and "finished" in err, err)
    rc, so, _ = mokit(d, "--json", "printer", "profiles")
    names = [x["name"] for x in json.loads(so)] if rc == 0 else []
    check("printer profiles names the five profiles", names == ["escpos-58", "escpos-80",
                                                            "epson-tm-t20", "csn-a2",
                                                            "zebra-hc100"], so)
    log.seek(0)
    text = log.read()
    check("the log names the patient code, never the name, CCCD or phone",
          created["code"] in text and "Sính" not in text and "010171009999" not in text and
          "0987654321" not in text and token not in text, text[-2000:])

    # The command line wins over the file; SIGINT also exits cleanly.
    port2 = free_port()
    proc = subprocess.Popen([MOKITD, "--config", conf, "--listen", f"127.0.0.1:{port2}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    check("--listen on the command line overrides the file", wait_health(port2, proc))
    rc = stop(proc, signal.SIGINT)
    check("SIGINT: clean exit 0", rc == 0, f"rc={rc}")

    with open(conf, "a") as f:
        f.write("colour blue\n")
    p = subprocess.run([MOKITD, "--config", conf], capture_output=True, text=True, timeout=10)
    check("unknown key in the config: exit 1 naming file and line",
          p.returncode == 1 and "test.conf:5" in p.stderr and "colour" in p.stderr, p.stderr)
    p = subprocess.run([MOKITD, "--listen", "127.0.0.1:1"], capture_output=True, text=True, timeout=10)
    check("no --data: exit 1", p.returncode == 1 and "--data" in p.stderr, p.stderr)
    p = subprocess.run([MOKITD, "--data", d, "--listen", "nonsense"], capture_output=True, text=True,
                       timeout=10)
    check("bad --listen: exit 1 with the expected form", p.returncode == 1 and "ADDR:PORT" in p.stderr,
          p.stderr)
    p = subprocess.run([MOKITD, "--data", d, "--demo", "--listen", f"127.0.0.1:{free_port()}"],
                       capture_output=True, text=True, timeout=30)
    check("--demo refuses a data directory with real campaigns",
          p.returncode == 1 and "empty data directory" in p.stderr, p.stderr)
    rc, out, _ = mokit(d, "--json", "campaign", "list")
    check("... and adds nothing to it", [c["code"] for c in json.loads(out)] == ["C1"], out)
    rc, _, err = mokit(d, "demo", "seed", "--patients", "3")
    check("mokit demo seed refuses a data directory with real campaigns",
          rc == 2 and "empty data directory" in err, err)
    rc, out, _ = mokit(d, "--json", "staff", "list")
    check("... and adds no staff with well-known PINs", len(json.loads(out)) == 1, out)
    with open(conf, "w") as f:  # a value may hold spaces: the rest of the line is the value
        f.write(f"data {d}/with space\nlisten 127.0.0.1:{free_port()}\n")
    p = subprocess.Popen([MOKITD, "--config", conf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    made = os.path.exists(os.path.join(d, "with space", "mokit.db"))
    stop(p)
    check("a config value keeps its spaces (data dir 'with space')", made)
    mode = os.stat(os.path.join(d, "mokit.db")).st_mode & 0o777
    check("the database file is private to mokit's user (0600)", mode == 0o600, oct(mode))
    p = subprocess.run([MOKITD, "--help"], capture_output=True, text=True, timeout=10)
    check("mokitd --help lists every option",
          p.returncode == 0 and all(o in p.stdout for o in
                                    ["--data", "--listen", "--demo", "--config", "--log-level"]))


WIFI_CONF = ("# written at first boot\n"
             "ssid mokit-7F3A\n"
             "password kT9vQ2mX7pLr\n"
             "url http://mokit.local/\n"
             "url http://10.42.0.1/\n")
WIFI_QR = "WIFI:T:WPA;S:mokit-7F3A;P:kT9vQ2mX7pLr;;"


def zbar(png):
    z = subprocess.run(["zbarimg", "--quiet", "--nodbus", "--raw", "-Sbinary", png],
                       capture_output=True, timeout=30)
    return z.stdout.decode(errors="replace").strip()


def jobs(d):
    rc, out, _ = mokit(d, "--json", "print", "jobs")
    return json.loads(out) if rc == 0 else None


def test_ready(d):
    """The "ready" slip a booted kit prints: its Wi-Fi file, its printer, its queue."""
    conf = os.path.join(d, "wifi.conf")
    with open(conf, "w") as f:
        f.write(WIFI_CONF)
    rc, out, _ = mokit(d, "print", "--help")
    check("print --help shows print ready --wifi", rc == 0 and "print ready --wifi FILE" in out,
          out)

    # Laid out only: the preview's QR joins the kit's Wi-Fi; a wristband printer refuses it.
    png, binf = os.path.join(d, "ready.png"), os.path.join(d, "ready.bin")
    rc, out, err = mokit(d, "print", "ready", "--wifi", conf, "--profile", "csn-a2", "--png", png,
                         "--out", binf)
    check("print ready --profile csn-a2 --png: the QR reads the exact WIFI: string",
          rc == 0 and zbar(png) == WIFI_QR, err)
    data = open(binf, "rb").read() if rc == 0 else b""
    check("... the addresses are on it as text, the busy line is on (CSN-A2)",
          b"http://mokit.local/\n" in data and b"http://10.42.0.1/\n" in data and
          data[:5] == b"\x1b@\x1da\x20", repr(data[:8]))
    check("... and the output never shows the password", "kT9vQ2mX7pLr" not in out + err, out)
    for prof in ("escpos-58", "escpos-80", "epson-tm-t20"):
        rc, _, err = mokit(d, "print", "ready", "--wifi", conf, "--profile", prof, "--png", png)
        check(f"print ready --profile {prof}: the QR reads back", rc == 0 and zbar(png) == WIFI_QR,
              err)
    rc, _, err = mokit(d, "print", "ready", "--wifi", conf, "--profile", "zebra-hc100", "--png",
                       png)
    check("print ready on the ZPL wristband profile: exit 2, says ESC/POS",
          rc == 2 and "ESC/POS" in err, err)

    # A wrong file: exit 2 naming the file and the line, and nothing queued.
    bad = os.path.join(d, "bad.conf")
    with open(bad, "w") as f:
        f.write("ssid mokit-7F3A\npassword short\nurl http://mokit.local/\n")
    rc, _, err = mokit(d, "print", "ready", "--wifi", bad, "--png", png)
    check("a 5-character password: exit 2 with the file, line 2 and the rule",
          rc == 2 and "bad.conf: line 2: the password is 5 characters" in err, err)
    with open(bad, "w") as f:
        f.write("ssid mokit-7F3A\n\n# ok\nadress http://mokit.local/\n")
    rc, _, err = mokit(d, "print", "ready", "--wifi", bad)
    check("an unknown name: exit 2 with line 4", rc == 2 and "line 4: unknown name \"adress\"" in err,
          err)
    rc, _, err = mokit(d, "print", "ready", "--wifi", os.path.join(d, "missing.conf"))
    check("a missing file: exit 2, says it cannot read it", rc == 2 and "cannot read" in err, err)
    rc, _, err = mokit(d, "print", "ready", "--png", png)
    check("print ready without --wifi: usage, exit 1", rc == 1, err)
    rc, _, err = mokit(d, "print", "ready", "--wifi", conf, "--printer", "x", "--png", png)
    check("print ready with both --printer and --png: usage, exit 1", rc == 1, err)

    # No printer prints tickets: exit 2 with what to do. A wristband printer and a disabled
    # ticket printer do not count.
    rc, _, err = mokit(d, "print", "ready", "--wifi", conf)
    check("print ready with no printer: exit 2, says how to add one",
          rc == 2 and "no printer prints tickets" in err and "mokit printer add" in err, err)
    mokit(d, "printer", "add", "band", "--profile", "zebra-hc100", "--uri", "sim:prints/band",
          "--kinds", "wristband")
    mokit(d, "printer", "add", "a-off", "--profile", "escpos-58", "--uri", "sim:prints/off",
          "--kinds", "ticket")
    mokit(d, "printer", "set", "a-off", "--disable")
    rc, _, err = mokit(d, "print", "ready", "--wifi", conf)
    check("... a band printer and a disabled ticket printer do not count",
          rc == 2 and "no printer prints tickets" in err, err)
    rc, _, err = mokit(d, "print", "ready", "--wifi", conf, "--printer", "band")
    check("print ready --printer on the band printer: exit 2, says ESC/POS",
          rc == 2 and "ESC/POS" in err and "band" in err, err)
    rc, _, err = mokit(d, "print", "ready", "--wifi", bad, "--printer", "band")
    check("... a wrong file is refused before any printer", rc == 2 and "line 4" in err, err)
    check("nothing was queued by any of these", jobs(d) == [], jobs(d))

    # The queue: the first enabled ticket printer, a simulated one, printed by mokitd's spool.
    mokit(d, "printer", "add", "panel", "--profile", "csn-a2", "--uri", "sim:prints/panel",
          "--kinds", "ticket,test")
    rc, _, err = mokit(d, "print", "ready", "--wifi", bad)
    check("a wrong file with a printer present: exit 2 and no job", rc == 2 and jobs(d) == [], err)
    port = free_port()
    log = open(os.path.join(d, "daemon.log"), "w+")
    proc = subprocess.Popen([MOKITD, "--data", d, "--listen", f"127.0.0.1:{port}"], stdout=log,
                            stderr=log)
    try:
        check("mokitd up for the ready slip", wait_health(port, proc))
        rc, out, err = mokit(d, "print", "ready", "--wifi", conf, "--wait")
        check("print ready --wait: queued on the ticket printer and printed",
              rc == 0 and "ready slip queued on panel as job" in out, out + err)
        listed = jobs(d) or []
        job = listed[0] if listed else {}
        check("the job is kind ready, done, on panel, about no patient",
              len(listed) == 1 and job.get("kind") == "ready" and job.get("state") == "done" and
              job.get("printer") == "panel" and job.get("patient") is None and
              job.get("visit_id") is None, listed)
        pngs = sorted(f for f in os.listdir(os.path.join(d, "prints", "panel"))
                      if f.endswith("-ready.png")) if os.path.isdir(
                          os.path.join(d, "prints", "panel")) else []
        check("the simulated printer drew it, and its QR joins the kit's Wi-Fi",
              len(pngs) == 1 and zbar(os.path.join(d, "prints", "panel", pngs[0])) == WIFI_QR,
              pngs)
        rc, out, err = mokit(d, "--json", "print", "ready", "--wifi", conf, "--printer", "panel")
        job2 = json.loads(out) if rc == 0 else {}
        check("print ready --printer panel --json: the job", rc == 0 and
              job2.get("kind") == "ready" and job2.get("printer") == "panel", err)
        rc, out, err = mokit(d, "--json", "print", "reprint", job.get("id", "-"))
        check("a ready slip can be reprinted", rc == 0 and json.loads(out)["kind"] == "ready", err)
        db = sqlite3.connect(os.path.join(d, "mokit.db"))
        rows = db.execute("SELECT actor, staff_id, after FROM audit WHERE entity = 'print_job' "
                          "AND entity_id = ? AND action = 'create'", (job.get("id"),)).fetchall()
        db.close()
        check("the job is audited, by cli:<user>",
              len(rows) == 1 and rows[0][0].startswith("cli:") and rows[0][1] is None and
              '"kind": "ready"' in rows[0][2].replace('":"', '": "'), rows)
    finally:
        rc = stop(proc)
    log.seek(0)
    text = log.read()
    check("mokitd's log never holds the Wi-Fi password", "kT9vQ2mX7pLr" not in text and
          "ready" in text, text[-1500:])


def test_ready_migration(d):
    """Schema 10 rebuilds print_job to allow "ready": a kit's jobs of schema 9 survive it."""
    mokit(d, "campaign", "create", "--code", "C1", "--name", "Test")
    rc, out, err = mokit(d, "--json", "patient", "register", "--name", "Lò Thị Mai", "--sex",
                         "female", "--birth", "1980")
    code = json.loads(out)["code"] if rc == 0 else "-"
    mokit(d, "printer", "add", "desk", "--profile", "escpos-58", "--uri", "sim:prints/desk",
          "--kinds", "ticket,wristband,test")
    rc1, out1, _ = mokit(d, "--json", "print", "wristband", "--patient", code, "--printer", "desk")
    rc2, out2, _ = mokit(d, "--json", "print", "test", "--printer", "desk")
    band = json.loads(out1)["id"] if rc1 == 0 else "-"
    rc3, out3, _ = mokit(d, "--json", "print", "reprint", band)
    mokit(d, "print", "cancel", json.loads(out2)["id"] if rc2 == 0 else "-")
    check("three jobs of schema 9 kinds (a wristband, its reprint, a cancelled test page)",
          rc1 == rc2 == rc3 == 0 and len(jobs(d) or []) == 3, out3)
    path = os.path.join(d, "mokit.db")
    cols = ("seq, id, printer, kind, patient_id, visit_id, data, state, attempts, last_error, "
            "reprint_of, created_at, created_by, done_at")

    def snapshot(db):
        return (db.execute(f"SELECT {cols} FROM print_job ORDER BY seq").fetchall(),
                db.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE "
                           "tbl_name = 'print_job' ORDER BY name").fetchall())

    db = sqlite3.connect(path, isolation_level=None)
    rows, schema10 = snapshot(db)
    # Back to schema 9: print_job exactly as app/sql/002_print.sql makes it, the same rows.
    with open(os.path.join(ROOT, "app", "sql", "002_print.sql")) as f:
        v2 = f.read()
    table = v2[v2.index("CREATE TABLE print_job ("):v2.index("CREATE INDEX print_job_pending")]
    indexes = v2[v2.index("CREATE INDEX print_job_pending"):]
    db.executescript("PRAGMA foreign_keys = OFF; BEGIN; ALTER TABLE print_job RENAME TO j10; "
                     f"{table} INSERT INTO print_job SELECT * FROM j10; DROP TABLE j10; "
                     f"{indexes} PRAGMA user_version = 9; COMMIT;")
    old_check = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'print_job'").fetchone()[0]
    db.close()
    check("the database is back at schema 9, where a job cannot be \"ready\"",
          "'ready'" not in old_check and "'test'" in old_check, old_check)
    rc, _, err = mokit(d, "printer", "list")
    db = sqlite3.connect(path)
    after, schema = snapshot(db)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    fk = db.execute("PRAGMA foreign_key_check").fetchall()
    ok = db.execute("PRAGMA integrity_check").fetchone()[0]
    db.close()
    check("opening it migrates to schema 10", rc == 0 and version == 10, err)
    check("every job kept as it was: ids, bytes, states, reprint_of", after == rows and
          len(rows) == 3 and any(r[10] == band for r in rows), after)
    check("print_job and its indexes are as a new kit's", schema == schema10, schema)
    check("integrity and foreign keys check clean", ok == "ok" and fk == [], (ok, fk))
    conf = os.path.join(d, "wifi.conf")
    with open(conf, "w") as f:
        f.write(WIFI_CONF)
    rc, out, err = mokit(d, "--json", "print", "ready", "--wifi", conf)
    check("then a ready slip queues on the ticket printer",
          rc == 0 and json.loads(out)["kind"] == "ready" and json.loads(out)["printer"] == "desk",
          err)
    rc, out, err = mokit(d, "--json", "print", "reprint", band)
    check("and a migrated job reprints", rc == 0 and json.loads(out)["reprint_of"] == band, err)


def test_demo(d):
    port = free_port()
    proc = subprocess.Popen([MOKITD, "--data", d, "--demo", "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    up = wait_health(port, proc)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=5) as r:
        status = json.load(r)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
        page = r.read().decode()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    check("--demo prints the staff PINs", up and all(pin in out for pin in
                                                      ["1111", "2222", "3333", "4444", "9999"]), out)
    check("--demo: campaign and residents", status["campaign"]["code"] == "DEMO-TAVAN" and
          status["counts"]["patients"] > 0 and status["counts"]["staff"] == 5, json.dumps(status))
    check("status page shows campaign and counts",
          "DEMO-TAVAN" in page and str(status["counts"]["patients"]) in page, page[:500])


def test_rules(d):
    rc, out, err = mokit(d, "rules", "show")
    rules = json.loads(out) if rc == 0 else {}
    ids = [r["id"] for r in rules.get("rules", [])]
    check("rules show: the built-in rules as a rules file",
          rc == 0 and rules.get("adult_age") == 18 and "bp.raised" in ids and "spo2.urgent" in ids,
          err)
    path = os.path.join(d, "rules.json")
    with open(path, "w") as f:
        f.write(out)
    rc, out, err = mokit(d, "rules", "check", path)
    check("rules check of the built-in rules: exit 0, counted",
          rc == 0 and ("%d rules, adults from 18 years" % len(ids)) in out, err)
    rules["rules"][3]["any"][0][0] = "systolc"
    with open(path, "w") as f:
        json.dump(rules, f)
    rc, out, err = mokit(d, "rules", "check", path)
    check("rules check of a file with a typo: exit 2 naming the rule",
          rc == 2 and "rule 4 (bp.raised): unknown measure" in err, err)


def test_keys(d):
    import base64
    import hashlib
    rc, out, err = mokit(d, "keys", "show")
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    check("keys show: the kit id and its signing key's fingerprint", rc == 0 and
          re.fullmatch(r"[0-9a-f-]{36}", lines.get("kit", "")) and
          re.fullmatch(r"([0-9a-f]{4} ){7}[0-9a-f]{4}", lines.get("fingerprint", "")), out + err)
    rc2, out2, _ = mokit(d, "keys", "show")
    check("keys show: the same key every time", rc2 == 0 and out2 == out, out2)
    path = os.path.join(d, "kit-key.json")
    rc, out, err = mokit(d, "keys", "export", "--out", path)
    try:
        with open(path) as f:
            k = json.load(f)
        pk = base64.b64decode(k["public_key"], validate=True)
    except (OSError, ValueError, KeyError) as e:
        k, pk = {}, b""
        err += repr(e)
    fp = hashlib.blake2b(pk, digest_size=32).hexdigest()[:32]
    fp = " ".join(fp[i:i + 4] for i in range(0, 32, 4))
    check("keys export: the public key file (Ed25519, 32 bytes, fingerprint = BLAKE2b of the key)",
          rc == 0 and k.get("mokit_key") == "kit-sign" and k.get("algorithm") == "Ed25519" and
          len(pk) == 32 and k.get("fingerprint") == fp == lines.get("fingerprint") and
          k.get("kit") == lines.get("kit"), json.dumps(k) + err)
    with open(path, "rb") as f:
        raw = f.read()
    check("keys export: never the secret half", b"secret" not in raw and len(raw) < 400, raw)
    rc, out, err = mokit(d, "--json", "keys", "export")
    check("keys export to standard output is the same file", rc == 0 and
          json.loads(out) == k, out + err)
    rc, out, err = mokit(d, "keys", "export", "--out")
    check("keys export --out without a file: usage, exit 1", rc == 1 and "usage" in err, err)
    rc, out, err = mokit(d, "keys", "check", path)
    check("keys check of the kit's file: its kind and fingerprint", rc == 0 and
          "kit-sign key of %s, fingerprint %s" % (k.get("kit"), fp) in out, out + err)

    # At the hospital: a key pair; the public half for the teams, the secret kept.
    prefix = os.path.join(d, "laocai")
    rc, out, err = mokit(d, "keys", "hospital-new", "--name", "Bệnh viện Đa khoa tỉnh Lào Cai",
                         "--out", prefix)
    pub_path, sec_path = prefix + ".public.json", prefix + ".secret.json"
    ok_files = os.path.exists(pub_path) and os.path.exists(sec_path)
    check("keys hospital-new: two files, the secret one readable by its owner only",
          rc == 0 and ok_files and (os.stat(sec_path).st_mode & 0o077) == 0, out + err)
    if ok_files:
        with open(pub_path) as f:
            pub = json.load(f)
        with open(sec_path) as f:
            sec = json.load(f)
        check("keys hospital-new: X25519, the name kept, no secret in the public file",
              pub.get("mokit_key") == "hospital-box" and pub.get("algorithm") == "X25519" and
              pub.get("name") == "Bệnh viện Đa khoa tỉnh Lào Cai" and "secret_key" not in pub and
              sec.get("public_key") == pub.get("public_key") and
              len(base64.b64decode(sec.get("secret_key", ""))) == 32, json.dumps(pub))
        rc, out, err = mokit(d, "keys", "check", pub_path)
        rc2, out2, err2 = mokit(d, "keys", "check", sec_path)
        check("keys check of both: the same fingerprint", rc == 0 and rc2 == 0 and
              pub["fingerprint"] in out and pub["fingerprint"] in out2, out + out2 + err + err2)
        rc, out, err = mokit(d, "keys", "hospital-new", "--name", "X", "--out", prefix)
        with open(sec_path) as f:
            still = json.load(f)
        check("keys hospital-new never overwrites a hospital key", rc == 2 and
              still == sec and "never overwritten" in err, err)
        bad = dict(pub)
        bad["public_key"] = base64.b64encode(bytes(32)).decode()
        bad_path = os.path.join(d, "bad.json")
        with open(bad_path, "w") as f:
            json.dump(bad, f)
        rc, out, err = mokit(d, "keys", "check", bad_path)
        check("keys check of a changed file: refused, exit 2, says the fingerprint is wrong",
              rc == 2 and "not the key's" in err, err)
        with open(bad_path, "w") as f:
            f.write("not json")
        rc, out, err = mokit(d, "keys", "check", bad_path)
        check("keys check of garbage: refused, exit 2", rc == 2 and "not a key file" in err, err)


def main():
    for fn in (test_usage, test_setup_and_register, test_cccd, test_daemon, test_ready,
               test_ready_migration, test_demo, test_rules, test_keys):
        with tempfile.TemporaryDirectory(prefix="mokit-cli-") as d:
            try:
                fn(d)
            except Exception as e:  # a crash in a test is a failure, not a stop
                check(f"{fn.__name__} ran to the end", False, repr(e))
    for i, (ok, name, detail) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok and detail:
            for line in str(detail).splitlines()[-15:]:
                print("#   " + line)
    print(f"1..{len(results)}")
    return 0 if all(ok for ok, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
