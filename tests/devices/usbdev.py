"""A USB device for umockdev, built from a capture (firmware/doc/captures.md), for the tests.

- descriptors(): the device and configuration descriptors of a HID or PHDC device, written from
  the USB 2.0 (9.6), HID 1.11 (6.2.1) and PHDC 1.0 specifications.
- write_umockdev(): the sysfs description umockdev-run loads with -d.
- write_pcap(): a usbmon capture (pcap, link type 220, LINKTYPE_USB_LINUX_MMAPPED) of the
  dialogue in a capture file, which umockdev-run replays with -p: each URB the program submits
  is matched, in order, with a submit in the recording (type, endpoint, length and, for an OUT
  transfer, its bytes; for a control transfer, its setup packet too), and completed as the recording completes it. So the kit's side of the
  dialogue is checked byte for byte: a write that differs from the capture's leaves the replay
  waiting, and the readings after it never come.

How mokitd's device manager talks, which the recording must follow (firmware/core/devices.c):
a PHDC device gets a GET_STATUS (device) at open; one IN transfer of 64 bytes is kept
submitted, and submitted again as each completes; a HID driver's feature report goes by
SET_REPORT after that; then the driver's writes, each HID output report one transfer (Contour:
padded to 64 bytes), a PHDC APDU one bulk transfer. The device's frames come as IN transfers: a
HID report each (padded to the report size), or 64-byte bulk packets.
"""
import struct

URB_INTERRUPT, URB_CONTROL, URB_BULK = 1, 2, 3
IN_URB = 64  # USB_BUF in devices.c: every IN transfer asks for 64 bytes


def capture_frames(path):
    """[(to_device, at, bytes)] of a capture file."""
    frames = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            at = -1.0
            if line.startswith("@"):
                stamp, line = line.split(None, 1)
                at = float(stamp[1:])
            frames.append((line[0] == ">", at, bytes.fromhex(line[1:].replace(" ", ""))))
    return frames


def descriptors(vid, pid, kind, in_size=64, out_ep=0x01, out_size=64):
    """Device + configuration descriptors. kind "hid": one HID interface, interrupt IN 0x81 and
    (when out_ep) interrupt OUT; kind "phdc": one PHDC interface (class 0x0F), bulk IN 0x81 and
    bulk OUT."""
    dev = struct.pack("<BBHBBBBHHHBBBB", 18, 1, 0x0200, 0, 0, 0, 64, vid, pid, 0x0100, 1, 2, 3,
                      1)
    eps = []
    if kind == "hid":
        cls, attr = 3, 3
        extra = bytes([9, 0x21, 0x11, 0x01, 0, 1, 0x22, 0x22, 0])  # HID 1.11, one report desc.
    else:
        cls, attr, extra = 0x0F, 2, b""
    eps.append(struct.pack("<BBBBHB", 7, 5, 0x81, attr, in_size, 10 if attr == 3 else 0))
    if out_ep:
        eps.append(struct.pack("<BBBBHB", 7, 5, out_ep, attr, out_size, 10 if attr == 3 else 0))
    iface = bytes([9, 4, 0, 0, len(eps), cls, 0, 0, 0]) + extra + b"".join(eps)
    total = 9 + len(iface)
    cfg = struct.pack("<BBHBBBBB", 9, 2, total, 1, 1, 0, 0x80, 50) + iface
    return dev + cfg


SYSFS = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"
DEVNODE = "/dev/bus/usb/001/002"


def write_umockdev(path, vid, pid, desc, manufacturer, product, serial):
    h = desc.hex().upper()
    lines = ["P: " + SYSFS[len("/sys"):],
             "N: bus/usb/001/002=" + h,
             "E: BUSNUM=001", "E: DEVNAME=" + DEVNODE, "E: DEVNUM=002",
             "E: DEVTYPE=usb_device", "E: DRIVER=usb", "E: ID_VENDOR_ID=%04x" % vid,
             "E: ID_MODEL_ID=%04x" % pid, "E: PRODUCT=%x/%x/100" % (vid, pid),
             "E: SUBSYSTEM=usb", "E: TYPE=0/0/0", "A: bConfigurationValue=1",
             "A: bDeviceClass=00", "A: bNumConfigurations=1", "A: bNumInterfaces= 1",
             "A: busnum=1\\n", "A: devnum=2\\n", "A: idProduct=%04x" % pid,
             "A: idVendor=%04x" % vid, "A: manufacturer=" + manufacturer,
             "A: product=" + product, "A: serial=" + serial, "A: speed=12",
             "H: descriptors=" + h]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class Pcap:
    """usbmon records (the 64-byte mmapped header, then data) for bus 1, device 2."""

    def __init__(self):
        self.records, self.next_id, self.t = [], 0x1000, 0

    def add(self, event, ttype, ep, urb_len, data=b"", setup=None, status=0):
        self.t += 1000
        hdr = struct.pack("<QBBBBHbbqiiII8siiII", self.next_id if event == "S" else self.cur,
                          ord(event), ttype, ep, 2, 1, 0 if setup else ord("-"),
                          0 if data else ord("<"), self.t // 1000000, self.t % 1000000,
                          status, urb_len, len(data), setup or bytes(8), 0, 0, 0, 0)
        assert len(hdr) == 64
        self.records.append((self.t, hdr + data))

    def submit(self, ttype, ep, urb_len, data=b"", setup=None):
        self.cur = self.next_id
        self.add("S", ttype, ep, urb_len, data, setup)
        self.next_id += 0x100
        return self.cur

    def complete(self, urb, ttype, ep, urb_len, data=b""):
        self.cur = urb
        self.add("C", ttype, ep, urb_len, data)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 220))
            for t, rec in self.records:
                f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(rec), len(rec)))
                f.write(rec)


def write_pcap(path, frames, kind, in_report=64, out_report=0, out_ep=0x01, feature=None):
    """The recording of a capture's dialogue (see the module's doc). out_report: a HID output
    report's size when reports are padded to it, 0 when written as they are."""
    p = Pcap()
    if kind == "phdc":  # GET_STATUS (device): bmRequestType 80, answer 00 00
        setup = bytes([0x80, 0, 0, 0, 0, 0, 2, 0])
        u = p.submit(URB_CONTROL, 0x80, 2, setup=setup)
        p.complete(u, URB_CONTROL, 0x80, 2, b"\0\0")
    ttype = URB_INTERRUPT if kind == "hid" else URB_BULK
    pending = p.submit(ttype, 0x81, IN_URB)
    if feature:  # SET_REPORT (feature, report 0) on interface 0
        setup = bytes([0x21, 0x09, 0x00, 0x03, 0, 0, len(feature), 0])
        u = p.submit(URB_CONTROL, 0x00, len(feature), feature, setup=setup)
        p.complete(u, URB_CONTROL, 0x00, len(feature))
    for to_dev, _at, data in frames:
        if to_dev:
            step = out_report or len(data)
            for off in range(0, len(data), step):
                chunk = data[off:off + step]
                if out_report:
                    chunk = chunk + bytes(out_report - len(chunk))
                u = p.submit(ttype, out_ep, len(chunk), chunk)
                p.complete(u, ttype, out_ep, len(chunk))
            continue
        if kind == "hid":
            packets = [data + bytes(max(0, in_report - len(data)))]
        else:
            packets = [data[i:i + 64] for i in range(0, len(data), 64)]
        for pkt in packets:
            p.complete(pending, ttype, 0x81 | 0x80, len(pkt), pkt)
            pending = p.submit(ttype, 0x81, IN_URB)
    p.write(path)


def contour_capture(clock, results, serial="7410-1234567"):
    """A Contour Next USB's whole transfer (as in tests/replay/contour-memory.cap) with the
    meter's clock (a 12-digit YYYYMMDDHHMM string) and results [(mg/dL, YYYYMMDDHHMM)]:
    E1381 frames (STX, frame number, record, CR, ETB or ETX, checksum, CR LF) in ABC reports,
    each ACKed by the host."""
    def frame(fn, text, last=False):
        body = ("%d" % fn).encode() + text.encode() + b"\r" + (b"\x03" if last else b"\x17")
        return b"\x02" + body + ("%02X" % (sum(body) & 0xff)).encode() + b"\r\n"

    def reports(msg):
        out = []
        while True:
            out.append(msg[:60])
            if len(msg) < 60:
                break
            msg = msg[60:]
        return ["< " + (b"ABC" + bytes([len(r)]) + r).hex(" ") for r in out]

    header = ("H|\\^&||qT4vLm|Bayer7410^01.14\\01.03\\04.18^%s^0000-|A=1^C=00^G=en\\vi^"
              "I=0200^R=0^S=01^U=0^V=20600^X=070070070180130180070130^Y=120054252099^Z=1|"
              "%d|||||P|1|%s" % (serial, len(results), clock))
    ack = "> 41 42 43 01 06"
    lines = ["# device: contour", "# model: Contour Next USB (Bayer7410), generated by the tests",
             "# transport: usb-hid 1a79:7410", ack]
    lines += reports(b"\x04" + frame(1, header) + b"\x05")
    lines.append(ack)
    lines += reports(frame(1, header))
    fn = 2
    records = ["P|1"] + ["R|%d|^^^Glucose|%d|mg/dL^P||B||%s" % (i + 1, v, t)
                         for i, (v, t) in enumerate(results)]
    for rec in records:
        lines.append(ack)
        lines += reports(frame(fn % 8, rec))
        fn += 1
    lines.append(ack)
    lines += reports(frame(fn % 8, "L|1||N", last=True))
    lines.append(ack)
    lines += reports(b"\x04")
    return "\n".join(lines) + "\n"
