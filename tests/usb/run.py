#!/usr/bin/env python3
"""The USB printer transport (libusb) against a replayed printer under umockdev.

    python3 tests/usb/run.py [BUILD_DIR]

printer.umockdev describes a 58 mm USB receipt printer (Winbond-based, sold under many names):
device 0416:5011, one printer-class interface 7/1/2 (bidirectional) with bulk OUT 0x01 and bulk
IN 0x82, its descriptors written by hand from the USB printer class specification (the format
has no comments, so they live here). Each case writes an ioctl script of the bulk
transfers the printer takes and answers (umockdev fails a bulk OUT whose bytes differ from the
script), runs build/tests/usb_print under umockdev-run and checks what it reports. TAP output.
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, sys.argv[1] if len(sys.argv) > 1 else "build")
DRIVER = os.path.join(BUILD, "tests", "usb_print")
DEVICE = os.path.join(ROOT, "tests", "usb", "printer.umockdev")
NODE = "/dev/bus/usb/001/002"
CHUNK = 4096  # the transport's bulk transfer size
EP_OUT, EP_IN = 0x01, 0x82

results = []


def check(name, cond, detail=""):
    results.append((bool(cond), name, detail))


def out(data, status=0):
    """Bulk OUT transfers of data as the transport sends them; status < 0 fails the last."""
    lines = []
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    for i, c in enumerate(chunks):
        st = status if i == len(chunks) - 1 else 0
        lines.append("USBDEVFS_REAPURBNDELAY 0 3 %d %d 0 %d %d 0 %s"
                     % (EP_OUT, st, len(c), len(c) if st == 0 else 0, c.hex().upper()))
    return lines


def answer(byte):
    """The printer's answer on bulk IN (the transport reads up to 256 bytes)."""
    return ["USBDEVFS_REAPURBNDELAY 0 3 %d 0 0 256 1 0 %02X" % (EP_IN, byte)]


def run(tmp, name, script, uri="usb:0416:5011", profile="escpos-58", job=None, resync=False):
    ioctl = os.path.join(tmp, name + ".ioctl")
    with open(ioctl, "w") as f:
        f.write("\n".join(script) + "\n")
    cmd = ["umockdev-run", "-d", DEVICE, "-i", "%s=%s" % (NODE, ioctl), "--", DRIVER, uri,
           profile]
    if job is not None:
        path = os.path.join(tmp, name + ".bin")
        with open(path, "wb") as f:
            f.write(job)
        cmd.append(path)
        if resync:
            cmd.append("--resync")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def main():
    with open(os.path.join(ROOT, "tests", "golden", "ticket-escpos-58.bin"), "rb") as f:
        ticket = f.read()
    big = bytes(range(256)) * 40  # 10240 bytes: three bulk transfers
    status = b"\x10\x04\x04"
    with tempfile.TemporaryDirectory(prefix="mokit-usb-") as tmp:
        rc, so, se = run(tmp, "ticket", out(status) + answer(0x12) + out(ticket), job=ticket)
        check("a queue ticket goes out byte for byte on bulk OUT; DLE EOT 4 answered 0x12 is ready",
              rc == 0 and so == "status ready\nsent %d\n" % len(ticket), so + se)

        rc, so, se = run(tmp, "any", out(status) + answer(0x12) + out(ticket), uri="usb:",
                         job=ticket)
        check("usb: finds the printer by its interface class (7)",
              rc == 0 and "sent %d" % len(ticket) in so, so + se)

        rc, so, se = run(tmp, "big", out(status) + answer(0x12) + out(big), job=big)
        check("a 10 KB job goes as 4 KB bulk transfers, every byte as sent",
              rc == 0 and "sent 10240" in so, so + se)

        rc, so, se = run(tmp, "paper", out(status) + answer(0x72))
        check("paper end (DLE EOT 4 answer 0x72) is reported as paper_out",
              rc == 0 and so == "status paper_out\n", so + se)

        rc, so, se = run(tmp, "nearend", out(status) + answer(0x1E))
        check("paper near end (0x1E) still prints", rc == 0 and so == "status ready\n", so + se)

        rc, so, se = run(tmp, "midjob", out(status) + answer(0x12) + out(big, status=-32),
                         job=big)
        check("a bulk transfer that fails mid-job (stall) is a write error naming how far it got",
              rc == 1 and "send-error -3" in so and "after 8192 of 10240 bytes" in so, so + se)

        other = bytearray(ticket)
        other[100] ^= 0x01
        rc, so, se = run(tmp, "mismatch", out(status) + answer(0x12) + out(bytes(other)),
                         job=ticket)
        check("the replay compares bytes: a job one bit away from the script fails",
              rc == 1 and "send-error" in so, so + se)

        from_resync = b"\x00" * (48 * 24) + b"\x1b@"
        rc, so, se = run(tmp, "resync",
                         out(status) + answer(0x12) + out(from_resync) + out(ticket),
                         job=ticket, resync=True)
        check("after an interrupted job: 1152 NULs and ESC @ go first, then the job",
              rc == 0 and "sent %d" % len(ticket) in so, so + se)

        rc, so, se = run(tmp, "missing", [], uri="usb:1234:5678")
        check("a printer that is not plugged in: not connected (FW_ENODEV)",
              rc == 1 and so.startswith("open-error -4") and "no USB printer" in so, so + se)

        rc, so, se = run(tmp, "zpl", ["USBDEVFS_REAPURBNDELAY 0 3 1 0 0 3 3 0 " +
                                      b"~HS".hex().upper()] + [
            "USBDEVFS_REAPURBNDELAY 0 3 %d 0 0 256 38 0 %s" % (
                EP_IN, b"\x02030,1,0,0245,000,0,0,0,000,0,0,0\x03\r\n".hex().upper())],
            profile="zebra-hc100")
        check("a ZPL printer is asked with ~HS; paper-out flag 1 is paper_out",
              rc == 0 and so == "status paper_out\n", so + se)
    for i, (ok, name, detail) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
        if not ok and detail:
            for line in str(detail).splitlines()[-12:]:
                print("#   " + line)
    print("1..%d" % len(results))
    return 0 if all(ok for ok, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
