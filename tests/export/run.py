#!/usr/bin/env python3
"""Exports of a screening campaign (app/doc/exports.md): `mokit export --format csv|report` on
a seeded campaign, read back the way the people who receive them read them (Python's csv
module, an HTML parser), and checked against the database itself (sqlite3) and against the
dashboard of a running mokitd; then the web UI's download, GET /campaigns/{code}/export.

usage: python3 tests/export/run.py [BUILD_DIR]   (prints TAP)
"""
import csv
import datetime
import hashlib
import html.parser
import io
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unicodedata

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "api"))
import harness  # noqa: E402
from harness import Client, Daemon, Tap  # noqa: E402

CAMPAIGN = "DEMO-TAVAN"
PINS = {"registrar": "1111", "nurse": "2222", "doctor": "3333", "pharmacist": "4444",
        "lead": "9999"}
BOM = b"\xef\xbb\xbf"
KINDS = ["bp", "pulse", "spo2", "weight", "height", "temp", "glucose", "waist"]

VI_HEAD = ["Đợt khám", "Ngày khám", "Số thứ tự", "Mã người khám", "Họ và tên", "Giới tính",
           "Ngày sinh", "Năm sinh", "Tuổi khi khám", "Mã dân tộc", "Dân tộc", "Xã", "Thôn/bản",
           "Số CCCD", "Số thẻ BHYT", "Điện thoại", "Huyết áp tâm thu (mmHg)",
           "Huyết áp tâm trương (mmHg)", "Số lần đo huyết áp", "Mạch (lần/phút)", "SpO2 (%)",
           "Cân nặng (kg)", "Chiều cao (cm)", "BMI (kg/m2)", "Vòng eo (cm)", "Nhiệt độ (°C)",
           "Đường huyết (mmol/L)", "Lúc đói", "Cảnh báo", "Mức cảnh báo cao nhất",
           "Bệnh phát hiện (ICD-10)", "Chuyển đến", "Mức độ chuyển", "Trạng thái chuyển",
           "Thuốc đã phát"]
EN_HEAD = ["campaign", "day", "queue_number", "patient_code", "name", "sex", "birth_date",
           "birth_year", "age", "ethnicity_code", "ethnicity", "commune", "village", "cccd",
           "bhyt", "phone", "bp_systolic", "bp_diastolic", "bp_readings", "pulse", "spo2",
           "weight", "height", "bmi", "waist", "temp", "glucose", "glucose_fasting", "flags",
           "flag_level", "findings", "referral_to", "referral_urgency", "referral_status",
           "medicines"]
NUMERIC = ["queue_number", "birth_year", "age", "bp_systolic", "bp_diastolic", "bp_readings",
           "pulse", "spo2", "weight", "height", "bmi", "waist", "temp", "glucose"]

# Names that a spreadsheet or a CSV reader gets wrong when the writer is careless.
TRICKY_NAME = 'Lò Văn "Tủa", con\nThào'
FORMULA_NAME = "=HYPERLINK(\"http://example.invalid\",\"Bấm\")"


class Suite:
    def __init__(self, build, tmp):
        self.build = build
        self.tmp = tmp
        self.tap = Tap()
        self.data = os.path.join(tmp, "data")
        self.db = os.path.join(self.data, "mokit.db")
        self.daemon = Daemon(build, self.data, demo=True)
        self.client = None
        self.vars = {}

    def token(self, role):
        return self.client.tokens[role]

    def req(self, method, path, body=None, role="lead", expect=None):
        r = self.client.request(method, path, body, token=self.token(role))
        if expect is not None and r.status != expect:
            raise RuntimeError("%s: expected %d" % (r.describe(), expect))
        return r

    def sql(self, q):
        """Rows of q (or of the last statement of several) as lists of strings, NULL as "".
        Python's sqlite3, not the command-line tool: names hold line breaks here."""
        con = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        try:
            rows = []
            for stmt in [x for x in q.split(";") if x.strip()]:
                rows = con.execute(stmt).fetchall()
            return [["" if v is None else str(v) for v in r] for r in rows]
        finally:
            con.close()

    def export(self, *args):
        return harness.cli(self.build, self.data, "export", "--campaign", CAMPAIGN, *args)


# --------------------------------------------------------------------------- seeding


def seed(s):
    """A campaign over two days: demo residents and a few made for the exports' edge cases,
    with readings, findings, referrals and medicine given."""
    rng = random.Random(6)
    for role, pin in PINS.items():
        r = s.client.login(pin)
        if r.status != 200:
            raise RuntimeError("login %s: %s" % (role, r.describe()))
        s.client.tokens[role] = r.json["token"]
    meds = {}
    for code, name, strength, unit, stock in (("T-AML5", "Amlodipin", "5 mg", "viên", 600),
                                               ("T-MET500", "Metformin", "500 mg", "viên", 300),
                                               ("T-ORS", "Oresol", None, "gói", 50)):
        body = {"code": code, "name": name, "unit": unit, "stock": stock}
        if strength:
            body["strength"] = strength
        meds[code] = s.req("POST", "/api/v1/medicines", body, expect=201).json
    extra = [
        {"name": "Nguyễn Thị Hương", "sex": "female", "birth": "1968-03-12", "ethnicity": "Kinh",
         "village": "Thôn Tả Van Giáy 1", "cccd": "010168001234", "bhyt": "HN4010123456789",
         "phone": "0912345678"},
        {"name": "Giàng A Páo", "sex": "male", "birth": "1950", "ethnicity": "H'Mông"},
        {"name": "Lò Văn Tủa", "sex": "male", "birth": "1979-11-02", "ethnicity": "Giáy"},
        {"name": "Formula Case", "sex": "female", "birth": "1990"},
        {"name": "Sùng Thị Mỷ", "sex": "female", "birth": "2021-05-01", "ethnicity": "08"},
    ]
    codes = []
    for p in extra:
        p = dict(p, consent=True, confirm_new=True)
        codes.append(s.req("POST", "/api/v1/patients", p, role="registrar", expect=201)
                     .json["code"])
    s.vars["tricky_code"], s.vars["formula_code"] = codes[2], codes[3]
    demo = [row[0] for row in s.sql(
        "SELECT code FROM patient WHERE code NOT IN (%s) ORDER BY pid LIMIT 20"
        % ",".join(harness.sql_quote(c) for c in codes))]
    people = codes + demo
    visits = []
    for i, code in enumerate(people):
        v = s.req("POST", "/api/v1/visits", {"patient": code}, role="registrar", expect=201).json
        visits.append(v["id"])
        vid = v["id"]
        obs = "/api/v1/visits/%s/observations" % vid
        if i % 7 != 6:  # some visits have no readings at all
            for _ in range(1 + (i % 3 == 0)):
                sys_ = rng.choice([118, 128, 142, 151, 166, 185, 204])
                s.req("POST", obs, {"code": "bp", "values": {
                    "systolic": sys_, "diastolic": sys_ - rng.choice([40, 50, 56])}},
                    role="nurse", expect=201)
            s.req("POST", obs, {"code": "weight", "value": rng.choice([41.5, 52, 63.2, 78])},
                  role="nurse", expect=201)
            s.req("POST", obs, {"code": "height", "value": rng.choice([148, 155.5, 162])},
                  role="nurse", expect=201)
        if i % 2 == 0:
            s.req("POST", obs, {"code": "glucose", "value": rng.choice([5.4, 7.6, 12.3]),
                                "fasting": i % 4 == 0}, role="nurse", expect=201)
        if i % 3 == 1:
            s.req("POST", obs, {"code": "spo2", "value": rng.choice([89, 97])}, role="nurse",
                  expect=201)
            s.req("POST", obs, {"code": "pulse", "value": 72}, role="nurse", expect=201)
            s.req("POST", obs, {"code": "temp", "value": 36.8}, role="nurse", expect=201)
            s.req("POST", obs, {"code": "waist", "value": 91}, role="nurse", expect=201)
        if i % 4 == 1:
            s.req("PATCH", "/api/v1/visits/" + vid, {"symptoms": ["chest_pain"]},
                  role="nurse", expect=200)
        if i % 3 == 0:
            s.req("POST", "/api/v1/visits/%s/findings" % vid, {"code": "I10"}, role="doctor",
                  expect=201)
        if i % 5 == 0:
            s.req("POST", "/api/v1/visits/%s/findings" % vid, {"code": "E11.9"}, role="doctor",
                  expect=201)
        if i % 4 == 0:
            ref = s.req("POST", "/api/v1/visits/%s/referrals" % vid, {
                "to": "Bệnh viện Đa khoa tỉnh Lào Cai" if i % 8 else "Trung tâm Y tế Sa Pa",
                "reason": "Tăng huyết áp", "urgency": ["routine", "soon", "urgent"][i % 3],
                "print": False}, role="doctor", expect=201).json
            if i % 8 == 4:
                s.req("POST", "/api/v1/referrals/%s/status" % ref["id"], {"status": "arrived"},
                      role="doctor", expect=200)
            if i == 8:
                s.req("POST", "/api/v1/referrals/%s/status" % ref["id"],
                      {"status": "cancelled"}, role="doctor", expect=200)
        if i % 3 == 0:
            s.req("POST", "/api/v1/visits/%s/prescriptions" % vid,
                  {"medicine": "T-AML5", "quantity": 30}, role="doctor", expect=201)
            if i % 2 == 0:
                s.req("POST", "/api/v1/visits/%s/prescriptions" % vid,
                      {"medicine": "T-MET500", "quantity": 60}, role="doctor", expect=201)
            if i != 9:  # one left prescribed, not dispensed
                s.req("POST", "/api/v1/visits/%s/dispense" % vid, {}, role="pharmacist",
                      expect=200)
    # The first half were yesterday: a campaign of two days. The first resident comes back
    # today (a resident seen twice counts once).
    yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    half = visits[:len(visits) // 2]
    s.sql("UPDATE visit SET day = %s WHERE id IN (%s)" % (
        harness.sql_quote(yesterday), ",".join(harness.sql_quote(v) for v in half)))
    v = s.req("POST", "/api/v1/visits", {"patient": codes[0]}, role="registrar",
              expect=201).json
    s.req("POST", "/api/v1/visits/%s/observations" % v["id"],
          {"code": "bp", "values": {"systolic": 171, "diastolic": 99}}, role="nurse", expect=201)
    # Names the registration form would clean or refuse, as an import from another system
    # could bring them: a comma, quotes and a line break; a formula.
    s.sql("UPDATE patient SET name = %s WHERE code = %s; UPDATE patient SET name = %s "
          "WHERE code = %s" % (harness.sql_quote(TRICKY_NAME),
                               harness.sql_quote(codes[2]), harness.sql_quote(FORMULA_NAME),
                               harness.sql_quote(codes[3])))
    s.sql("UPDATE observation SET note = '-5 kg since spring, \"thin\"' WHERE id = "
          "(SELECT min(id) FROM observation WHERE code = 'weight')")


# --------------------------------------------------------------------------- reading back


def read_csv(path):
    """(raw bytes, rows) of a CSV file as a spreadsheet user's program reads it."""
    with open(path, "rb") as f:
        raw = f.read()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    return raw, rows


def unguard(cell):
    """The reader's side of the formula guard (app/export/csv.h)."""
    rest = cell.lstrip("'")
    if cell[:1] == "'" and rest[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return cell[1:]
    return cell


def tree_digest(path):
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(root, name)
            st = os.stat(p)
            h.update(p.encode() + b"\0" + str(st.st_mtime_ns).encode())
            with open(p, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def leftovers(parent, name):
    return [n for n in os.listdir(parent) if n.startswith(name + ".tmp-")]


def campaign_id(s):
    return s.sql("SELECT id FROM campaign WHERE code = %s" % harness.sql_quote(CAMPAIGN))[0][0]


# --------------------------------------------------------------------------- CSV


def flow_csv(s):
    tap = s.tap
    out_vi = os.path.join(s.tmp, "csv-vi")
    out_en = os.path.join(s.tmp, "csv-en")
    cid = campaign_id(s)
    with tap.case("export --format csv (Vietnamese headers, the default) exits 0 and makes "
                  "visits.csv and one file per observation kind, nothing else") as c:
        p = s.export("--format", "csv", "--out", out_vi)
        c.require(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        want = {"visits.csv"} | {"observations-%s.csv" % k for k in KINDS}
        c.expect(set(os.listdir(out_vi)) == want, "files: %s" % sorted(os.listdir(out_vi)))
        c.expect(not leftovers(s.tmp, "csv-vi"), "a temporary directory was left")
    with tap.case("every CSV file starts with the UTF-8 BOM and ends its lines with CRLF") as c:
        for name in sorted(os.listdir(out_vi)):
            raw = open(os.path.join(out_vi, name), "rb").read()
            c.expect(raw.startswith(BOM), "%s: no BOM: %r" % (name, raw[:8]))
            c.expect(raw.endswith(b"\r\n"), "%s: does not end with CRLF" % name)
            # Every LF is part of a CRLF except inside a quoted field (the tricky name).
            bare = raw.replace(b"\r\n", b"").count(b"\n")
            c.expect(bare == (1 if name == "visits.csv" else 0) * count_tricky(s),
                     "%s: %d bare LF" % (name, bare))
    raw, rows = read_csv(os.path.join(out_vi, "visits.csv"))
    with tap.case("visits.csv: Vietnamese headers, one row per visit of the campaign (count "
                  "from the database)") as c:
        c.expect(rows and rows[0] == VI_HEAD, "header: %r" % (rows[0] if rows else None))
        n = int(s.sql("SELECT count(*) FROM visit WHERE campaign_id = %s"
                      % harness.sql_quote(cid))[0][0])
        c.expect(len(rows) - 1 == n, "%d rows for %d visits" % (len(rows) - 1, n))
        c.expect(all(len(r) == len(VI_HEAD) for r in rows), "rows of another width: %r"
                 % [len(r) for r in rows if len(r) != len(VI_HEAD)])
        c.expect(all(r[0] == CAMPAIGN for r in rows[1:]), "campaign column")
        keys = [(r[1], int(r[2])) for r in rows[1:]]
        c.expect(keys == sorted(keys), "not in day and queue order")
    db_names = {code: name for code, name in s.sql(
        "SELECT p.code, p.name FROM visit v JOIN patient p ON p.id = v.patient_id "
        "WHERE v.campaign_id = %s" % harness.sql_quote(cid))}
    with tap.case("visits.csv: every name as in the database (NFC, Vietnamese intact); the "
                  "name with a comma, quotes and a line break reads back whole") as c:
        for r in rows[1:]:
            code, name = r[3], unguard(r[4])
            c.expect(db_names.get(code) == name, "%s: %r in CSV, %r in the DB"
                     % (code, name, db_names.get(code)))
            c.expect(unicodedata.is_normalized("NFC", name), "%r is not NFC" % name)
        tricky = [r for r in rows[1:] if r[3] == s.vars["tricky_code"]]
        c.expect(tricky and tricky[0][4] == TRICKY_NAME, "tricky name: %r" % tricky)
        c.expect(any(r[4] == "Nguyễn Thị Hương" and r[13] == "010168001234" and
                     r[14] == "HN4010123456789" and r[15] == "0912345678" and r[10] == "Kinh"
                     for r in rows[1:]), "Nguyễn Thị Hương with her numbers")
        c.expect(any(r[4] == "Giàng A Páo" and r[10] == "H'Mông" and r[6] == "" and
                     r[7] == "1950" for r in rows[1:]), "Giàng A Páo (birth year only)")
        c.expect(b'"Lo\xcc' not in raw, "an NFD name")
    with tap.case("visits.csv: a name that is a formula gets a leading apostrophe; numbers "
                  "stay numbers") as c:
        f = [r for r in rows[1:] if r[3] == s.vars["formula_code"]]
        c.require(f, "no row for the formula name")
        c.expect(f[0][4] == "'" + FORMULA_NAME, "formula name written as %r" % f[0][4])
        for r in rows[1:]:
            for col in NUMERIC:
                cell = r[EN_HEAD.index(col)]
                if cell:
                    try:
                        float(cell)
                    except ValueError:
                        c.expect(False, "%s: %r is not a number" % (col, cell))
        c.expect(not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r),
                 "an unguarded cell that a spreadsheet would run")
    with tap.case("visits.csv: values of a visit as the database has them: the mean of the "
                  "last two BP readings, BMI, fasting glucose, flags, findings, referrals, "
                  "medicines") as c:
        check_visit_values(s, c, rows)
    with tap.case("observations-<kind>.csv: one row per reading of the campaign, values and "
                  "provenance as in the database") as c:
        for k in KINDS:
            raw_k, orows = read_csv(os.path.join(out_vi, "observations-%s.csv" % k))
            dbrows = s.sql(
                "SELECT o.id, o.value, coalesce(o.value2, ''), o.source, coalesce(o.note, '') "
                "FROM observation o JOIN visit v ON v.id = o.visit_id WHERE v.campaign_id = %s "
                "AND o.code = %s" % (harness.sql_quote(cid), harness.sql_quote(k)))
            c.expect(len(orows) - 1 == len(dbrows), "%s: %d rows for %d readings"
                     % (k, len(orows) - 1, len(dbrows)))
            c.expect(orows[0][:5] == ["Đợt khám", "Ngày khám", "Số thứ tự", "Mã người khám",
                                      "Thời điểm đo"], "%s header %r" % (k, orows[0]))
            total = sum(float(r[5]) for r in orows[1:])
            c.expect(abs(total - sum(float(d[1]) for d in dbrows)) < 1e-6,
                     "%s: values differ from the database" % k)
        _, w = read_csv(os.path.join(out_vi, "observations-weight.csv"))
        notes = [r[-2] for r in w[1:] if r[-2]]
        c.expect(notes == ["'-5 kg since spring, \"thin\""], "the note: %r" % notes)
    with tap.case("--lang en: English headers and words, the same rows") as c:
        p = s.export("--format", "csv", "--lang", "en", "--out", out_en)
        c.require(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        _, en = read_csv(os.path.join(out_en, "visits.csv"))
        c.expect(en[0] == EN_HEAD, "header %r" % en[0])
        c.expect(len(en) == len(rows), "%d rows, %d in Vietnamese" % (len(en), len(rows)))
        c.expect({r[5] for r in en[1:]} <= {"male", "female"} and
                 {r[5] for r in rows[1:]} <= {"Nam", "Nữ"}, "sex words")
        c.expect([r[:5] + r[6:] for r in en[1:] if not r[27] and not r[32]] ==
                 [r[:5] + r[6:] for r in rows[1:] if not r[27] and not r[32]],
                 "rows without words to translate differ")
        _, ob = read_csv(os.path.join(out_en, "observations-glucose.csv"))
        c.expect(ob[0][:6] == ["campaign", "day", "queue_number", "patient_code", "taken_at",
                               "value"] and ob[0][6] == "fasting", "glucose header %r" % ob[0])
    with tap.case("the export is audited: who, which campaign, which format") as c:
        rows_a = s.sql("SELECT actor, after FROM audit WHERE action = 'export' AND "
                       "entity = 'campaign' AND entity_id = %s" % harness.sql_quote(cid))
        formats = [json.loads(a[1]).get("format") for a in rows_a]
        c.expect(formats.count("csv") >= 2, "audit rows: %r" % rows_a)


def count_tricky(s):
    return int(s.sql("SELECT count(*) FROM visit v JOIN patient p ON p.id = v.patient_id "
                     "WHERE p.code = %s" % harness.sql_quote(s.vars["tricky_code"]))[0][0])


def check_visit_values(s, c, rows):
    head = {h: i for i, h in enumerate(EN_HEAD)}
    by_key = {(r[1], int(r[2])): r for r in rows[1:]}
    cid = campaign_id(s)
    visits = s.sql("SELECT id, day, queue_number FROM visit WHERE campaign_id = %s"
                   % harness.sql_quote(cid))
    checked = 0
    for vid, day, q in visits:
        r = by_key.get((day, int(q)))
        c.require(r is not None, "no row for visit %s %s" % (day, q))
        bp = s.sql("SELECT value, value2 FROM observation WHERE visit_id = %s AND code = 'bp' "
                   "ORDER BY taken_at, id" % harness.sql_quote(vid))
        if bp:
            last = [tuple(map(float, x)) for x in bp[-2:]]
            want = (sum(x[0] for x in last) / len(last), sum(x[1] for x in last) / len(last))
            got = (float(r[head["bp_systolic"]]), float(r[head["bp_diastolic"]]))
            c.expect(abs(got[0] - want[0]) < 0.051 and abs(got[1] - want[1]) < 0.051,
                     "visit %s: BP %r, expected %r" % (vid, got, want))
        else:
            c.expect(r[head["bp_systolic"]] == "", "visit %s: BP without readings" % vid)
        c.expect(r[head["bp_readings"]] == str(len(bp)), "visit %s: bp_readings" % vid)
        wh = s.sql("SELECT (SELECT value FROM observation WHERE visit_id = %s AND code = "
                   "'weight' ORDER BY taken_at DESC, id DESC LIMIT 1), (SELECT value FROM "
                   "observation WHERE visit_id = %s AND code = 'height' ORDER BY taken_at DESC, "
                   "id DESC LIMIT 1)" % (harness.sql_quote(vid), harness.sql_quote(vid)))[0]
        if wh[0] and wh[1]:
            bmi = float(wh[0]) / (float(wh[1]) / 100) ** 2
            c.expect(abs(float(r[head["bmi"]]) - bmi) < 0.051, "visit %s: BMI %s, expected "
                     "%.2f" % (vid, r[head["bmi"]], bmi))
        g = s.sql("SELECT value, fasting FROM observation WHERE visit_id = %s AND code = "
                  "'glucose' ORDER BY taken_at DESC, id DESC LIMIT 1" % harness.sql_quote(vid))
        if g:
            c.expect(float(r[head["glucose"]]) == float(g[0][0]) and
                     r[head["glucose_fasting"]] == {"1": "Có", "0": "Không", "": ""}[g[0][1]],
                     "visit %s: glucose %r %r" % (vid, r[head["glucose"]],
                                                  r[head["glucose_fasting"]]))
        f = [x[0] for x in s.sql("SELECT icd10 FROM finding WHERE visit_id = %s AND removed_at "
                                 "IS NULL ORDER BY created_at, id" % harness.sql_quote(vid))]
        c.expect(r[head["findings"]] == "; ".join(f), "visit %s: findings %r, expected %r"
                 % (vid, r[head["findings"]], f))
        ref = s.sql("SELECT destination, status FROM referral WHERE visit_id = %s ORDER BY "
                    "created_at, id" % harness.sql_quote(vid))
        c.expect(r[head["referral_to"]] == "; ".join(x[0] for x in ref),
                 "visit %s: referral %r" % (vid, r[head["referral_to"]]))
        st = {"referred": "Đã chuyển", "arrived": "Đã đến viện", "cancelled": "Đã hủy"}
        c.expect(r[head["referral_status"]] == "; ".join(st[x[1]] for x in ref),
                 "visit %s: referral status %r" % (vid, r[head["referral_status"]]))
        med = s.sql("SELECT m.name, sum(x.quantity) FROM prescription x JOIN medicine m ON "
                    "m.id = x.medicine_id WHERE x.visit_id = %s AND x.state = 'dispensed' "
                    "GROUP BY m.id ORDER BY m.name" % harness.sql_quote(vid))
        got = r[head["medicines"]]
        c.expect(all(("%s " % name) in got and (" x %s " % qty) in got for name, qty in med)
                 and got.count(";") == max(len(med) - 1, 0),
                 "visit %s: medicines %r, expected %r" % (vid, got, med))
        checked += 1
    # Spot checks of the flags against the rules' thresholds (field-notes §4).
    flagged = [r for r in rows[1:] if r[head["flags"]]]
    c.expect(flagged, "no visit has a flag")
    for r in rows[1:]:
        if r[head["bp_systolic"]] and float(r[head["bp_systolic"]]) >= 200:
            c.expect("bp.urgent:urgent" in r[head["flags"]] and
                     r[head["flag_level"]] == "urgent", "BP %s without bp.urgent: %r"
                     % (r[head["bp_systolic"]], r[head["flags"]]))
        if r[head["age"]] and int(r[head["age"]]) < 18:
            c.expect("child.review" in r[head["flags"]], "a child without child.review")
    c.expect(checked == len(rows) - 1, "checked %d of %d" % (checked, len(rows) - 1))


# --------------------------------------------------------------------------- report


class HtmlCheck(html.parser.HTMLParser):
    """Element nesting, the tags used, external references, and the text."""
    VOID = {"meta", "br", "hr", "img", "link", "input", "col", "rect", "line", "path",
            "circle"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.problems, self.tags, self.text = [], [], {}, []
        self.refs = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for k, v in attrs:
            if k in ("src", "href", "xlink:href") or (k == "style" and "url(" in (v or "")):
                self.refs.append((tag, k, v))
            if k.startswith("on"):
                self.problems.append("event handler %s on <%s>" % (k, tag))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append("</%s> closes <%s>" % (tag, self.stack[-1] if self.stack
                                                        else "nothing"))
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def sql_counts(s, cid):
    """The report's numbers computed in SQL from the tables, independently of mokit's C code
    (except the flags, which need the rules: those are compared with the dashboard)."""
    q = harness.sql_quote(cid)
    one = lambda sql: int(s.sql(sql)[0][0])  # noqa: E731
    first = ("SELECT p.*, v.day AS vday FROM visit v JOIN patient p ON p.id = v.patient_id "
             "WHERE v.campaign_id = %s AND v.rowid = (SELECT v2.rowid FROM visit v2 WHERE "
             "v2.patient_id = v.patient_id AND v2.campaign_id = v.campaign_id ORDER BY v2.day, "
             "v2.queue_number LIMIT 1)" % q)
    # Age on the first visit's day: whole years; a year-only birth date counts as 1 July.
    age = ("(CAST(strftime('%Y', vday) AS INTEGER) - coalesce(CAST(substr(birth_date, 1, 4) "
           "AS INTEGER), birth_year) - (strftime('%m-%d', vday) < coalesce(substr(birth_date, "
           "6), '07-01')))")
    group = ("CASE WHEN a < 5 THEN '0-4' WHEN a < 18 THEN '5-17' WHEN a < 40 THEN '18-39' "
             "WHEN a < 60 THEN '40-59' ELSE '60+' END")
    by_sex_age = {}
    for g, sex, n in s.sql("SELECT %s, sex, count(*) FROM (SELECT %s AS a, sex FROM (%s)) "
                           "GROUP BY 1, 2" % (group, age, first)):
        by_sex_age.setdefault(g, {"male": 0, "female": 0})[sex] = int(n)
    eth = {e or None: int(n) for e, n in s.sql(
        "SELECT ethnicity, count(*) FROM (%s) GROUP BY 1" % first)}
    cond = {c: int(n) for c, n in s.sql(
        "SELECT f.icd10, count(*) FROM finding f JOIN visit v ON v.id = f.visit_id WHERE "
        "v.campaign_id = %s AND f.removed_at IS NULL GROUP BY 1" % q)}
    refs = ("FROM referral r JOIN visit v ON v.id = r.visit_id WHERE v.campaign_id = %s AND "
            "r.status != 'cancelled'" % q)
    meds = {c: (int(d), int(st)) for c, d, st in s.sql(
        "SELECT m.code, coalesce((SELECT sum(x.quantity) FROM prescription x JOIN visit v ON "
        "v.id = x.visit_id WHERE x.medicine_id = m.id AND x.state = 'dispensed' AND "
        "v.campaign_id = %s), 0), m.stock FROM medicine m WHERE m.campaign_id = %s"
        % (q, q))}
    return {
        "visits": one("SELECT count(*) FROM visit WHERE campaign_id = %s" % q),
        "residents": one("SELECT count(DISTINCT patient_id) FROM visit WHERE campaign_id = %s"
                         % q),
        "by_sex": {sx: one("SELECT count(*) FROM (%s) WHERE sex = '%s'" % (first, sx))
                   for sx in ("male", "female")},
        "by_sex_age": by_sex_age,
        "by_ethnicity": eth,
        "conditions": cond,
        "referrals": one("SELECT count(*) " + refs),
        "arrived": one("SELECT count(*) %s AND r.status = 'arrived'" % refs),
        "by_urgency": {u: int(n) for u, n in s.sql("SELECT urgency, count(*) %s GROUP BY 1"
                                                  % refs)},
        "by_destination": {d: int(n) for d, n in s.sql(
            "SELECT destination, count(*) %s GROUP BY 1" % refs)},
        "medicines": meds,
        "days": {d: int(n) for d, n in s.sql(
            "SELECT day, count(*) FROM visit WHERE campaign_id = %s GROUP BY 1" % q)},
    }


def flow_report(s):
    tap = s.tap
    cid = campaign_id(s)
    out = os.path.join(s.tmp, "report-vi")
    with tap.case("export --format report exits 0 and makes report.html and report.json") as c:
        p = s.export("--format", "report", "--out", out)
        c.require(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        c.expect(sorted(os.listdir(out)) == ["report.html", "report.json"],
                 "files: %s" % os.listdir(out))
    rep = json.load(open(os.path.join(out, "report.json"), encoding="utf-8"))
    with tap.case("report.json: residents by sex, age group and ethnicity, conditions, "
                  "referrals, medicine and visits by day equal the database's own counts "
                  "(SQL)") as c:
        want = sql_counts(s, cid)
        c.expect(rep["visits"] == want["visits"] and rep["residents"] == want["residents"],
                 "visits %r/%r, residents %r/%r" % (rep["visits"], want["visits"],
                                                    rep["residents"], want["residents"]))
        c.expect(rep["residents"] < rep["visits"], "nobody came twice: the seeding is wrong")
        c.expect(rep["by_sex"] == want["by_sex"], "by_sex %r, SQL %r" % (rep["by_sex"],
                                                                       want["by_sex"]))
        got = {r["group"]: {"male": r["male"], "female": r["female"]} for r in rep["by_sex_age"]
               if r["male"] or r["female"]}
        c.expect(got == want["by_sex_age"], "by_sex_age %r, SQL %r" % (got, want["by_sex_age"]))
        c.expect({r["group"]: r["count"] for r in rep["by_age"] if r["count"]} ==
                 {g: v["male"] + v["female"] for g, v in want["by_sex_age"].items()},
                 "by_age disagrees with by_sex_age")
        got = {r["code"]: r["count"] for r in rep["by_ethnicity"]}
        c.expect(got == want["by_ethnicity"], "by_ethnicity %r, SQL %r"
                 % (got, want["by_ethnicity"]))
        c.expect(any(r["name"] == "H'Mông" for r in rep["by_ethnicity"]), "no H'Mông by name")
        got = {r["code"]: r["count"] for r in rep["conditions"]}
        c.expect(got == want["conditions"], "conditions %r, SQL %r" % (got, want["conditions"]))
        c.expect(all(r["vi"] and r["en"] for r in rep["conditions"]), "a condition without "
                 "its name")
        ref = rep["referrals"]
        c.expect(ref["total"] == want["referrals"] and ref["arrived"] == want["arrived"] and
                 {k: v for k, v in ref["by_urgency"].items() if v} == want["by_urgency"] and
                 {r["to"]: r["count"] for r in ref["by_destination"]} == want["by_destination"],
                 "referrals %r, SQL %r" % (ref, want))
        cross = rep["referrals_by_destination_urgency"]
        c.expect({r["to"]: r["total"] for r in cross} == want["by_destination"] and
                 all(r["total"] == r["routine"] + r["soon"] + r["urgent"] for r in cross),
                 "referrals by destination and urgency %r" % cross)
        got = {m["code"]: (m["dispensed"], m["stock"]) for m in rep["medicines"]}
        c.expect(got == want["medicines"], "medicines %r, SQL %r" % (got, want["medicines"]))
        c.expect({d["day"]: d["visits"] for d in rep["visits_by_day"]} == want["days"] and
                 len(want["days"]) == 2, "days %r, SQL %r" % (rep["visits_by_day"],
                                                            want["days"]))
        c.expect(rep["campaign"]["code"] == CAMPAIGN and rep["generated_at"], "details")
    with tap.case("report.json's numbers are the dashboard's: GET /dashboard?scope=campaign "
                  "from the running mokitd") as c:
        r = s.req("GET", "/api/v1/dashboard?scope=campaign&campaign=" + CAMPAIGN,
                  role="doctor")
        c.require_status(r, 200)
        dash = r.json
        for k, v in dash.items():
            if k == "campaign":
                continue
            c.expect(rep.get(k) == v, "%s: report %r, dashboard %r" % (k, rep.get(k), v))
        c.expect(rep["flags"] and rep["flagged"]["visits"] > 0 and
                 rep["flagged"]["urgent"] > 0, "no flags counted: %r" % rep["flags"])
    with tap.case("report.html: well-formed, self-contained (no script, nothing loaded from "
                  "elsewhere), SVG charts, the numbers and names in it") as c:
        text = open(os.path.join(out, "report.html"), encoding="utf-8").read()
        h = HtmlCheck()
        h.feed(text)
        h.close()
        c.expect(not h.problems and h.stack == [], "nesting: %r, left open %r"
                 % (h.problems[:5], h.stack))
        c.expect(h.tags.get("svg", 0) >= 4, "%d SVG charts" % h.tags.get("svg", 0))
        c.expect("script" not in h.tags and "<script" not in text.lower(), "a script")
        c.expect(not h.refs and "http://" not in text.replace(
            'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text,
            "external references: %r" % h.refs)
        c.expect("iframe" not in h.tags and "img" not in h.tags and "link" not in h.tags,
                 "tags %r" % sorted(h.tags))
        body = "".join(h.text)
        for must in ("Báo cáo kết quả khám sàng lọc", "Khám sàng lọc miễn phí xã Tả Van",
                     "H'Mông", "Tăng huyết áp", "Bệnh viện Đa khoa tỉnh Lào Cai", "Amlodipin",
                     "@page"):
            c.expect(must in body or must in text, "%r not in the report" % must)
        c.expect(unicodedata.is_normalized("NFC", text), "not NFC")
    with tap.case("report.html escapes every text: a campaign name with markup shows as "
                  "text; --lang en is in English") as c:
        s.req("PATCH", "/api/v1/campaigns/" + CAMPAIGN,
              {"hospital": "<script>alert(1)</script> & \"Sở Y tế\" 'Lào Cai'"}, expect=200)
        out_en = os.path.join(s.tmp, "report-en")
        p = s.export("--format", "report", "--lang", "en", "--out", out_en)
        c.require(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        text = open(os.path.join(out_en, "report.html"), encoding="utf-8").read()
        c.expect("<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; "
                 "&quot;Sở Y tế&quot; &#39;Lào Cai&#39;" in text, "not escaped")
        h = HtmlCheck()
        h.feed(text)
        c.expect("<script>alert(1)</script> & \"Sở Y tế\" 'Lào Cai'" in "".join(h.text),
                 "the name does not read back")
        c.expect('lang="en"' in text and "Screening campaign report" in text and
                 "Residents screened by sex and age group" in text, "not English")
        rep_en = json.load(open(os.path.join(out_en, "report.json"), encoding="utf-8"))
        c.expect(rep_en["lang"] == "en" and rep_en["visits"] == rep["visits"], "report.json")
        rows = s.sql("SELECT after FROM audit WHERE action = 'export' AND entity_id = %s"
                     % harness.sql_quote(cid))
        c.expect(sum(json.loads(a[0]).get("format") == "report" for a in rows) == 2,
                 "audit rows %r" % rows)


# --------------------------------------------------------------------------- the web UI's download


def export_url(fmt, lang=None, campaign=CAMPAIGN):
    q = "format=" + fmt if fmt is not None else ""
    if lang:
        q += "&lang=" + lang
    return "/api/v1/campaigns/%s/export?%s" % (campaign, q)


def workdirs(s):
    return [n for n in os.listdir(s.data) if n.startswith(".export-")]


def flow_web(s):
    tap = s.tap
    cid = campaign_id(s)
    with tap.case("GET /campaigns/{code}/export?format=csv (doctor): visits.csv as a download, "
                  "the same bytes as `mokit export`; nothing left in the data directory") as c:
        before = len(s.sql("SELECT seq FROM audit WHERE action = 'export'"))
        r = s.req("GET", export_url("csv"), role="doctor")
        c.require_status(r, 200)
        c.expect(r.header("Content-Type") == "text/csv; charset=utf-8", "type %r"
                 % r.header("Content-Type"))
        c.expect(r.header("Content-Disposition") ==
                 'attachment; filename="%s-visits.csv"' % CAMPAIGN,
                 "disposition %r" % r.header("Content-Disposition"))
        c.expect(r.header("Cache-Control") == "no-store", "cached")
        cli_csv = open(os.path.join(s.tmp, "csv-vi", "visits.csv"), "rb").read()
        c.expect(r.body == cli_csv, "differs from the CLI's visits.csv (%d and %d bytes)"
                 % (len(r.body), len(cli_csv)))
        c.expect(workdirs(s) == [], "left: %s" % workdirs(s))
        rows = s.sql("SELECT staff_id, actor, after FROM audit WHERE action = 'export' "
                     "ORDER BY seq")
        c.expect(len(rows) == before + 1 and rows[-1][0] and
                 json.loads(rows[-1][2])["format"] == "csv", "audit %r" % rows[-1:])
    with tap.case("export?format=csv&lang=en, format=report (lead), format=fhir: each its "
                  "file, type and name") as c:
        r = s.req("GET", export_url("csv", "en"), role="lead")
        c.require_status(r, 200)
        c.expect(r.body.startswith(BOM + b"campaign,day,queue_number,"), "en header %r"
                 % r.body[:40])
        r = s.req("GET", export_url("report", "en"), role="lead")
        c.require_status(r, 200)
        c.expect(r.header("Content-Type") == "text/html; charset=utf-8" and
                 b"<svg" in r.body and b"<script" not in r.body and
                 b"Screening campaign report" in r.body, "report %s" % r.body[:80])
        c.expect("default-src 'none'" in (r.header("Content-Security-Policy") or ""),
                 "no CSP on the report")
        c.expect(r.header("Content-Disposition") ==
                 'attachment; filename="%s-report.html"' % CAMPAIGN, "report name")
        r = s.req("GET", export_url("fhir"), role="doctor")
        c.require_status(r, 200)
        c.expect(r.json and r.json.get("resourceType") == "Bundle", "fhir: %s" % r.describe())
        c.expect(workdirs(s) == [], "left: %s" % workdirs(s))
    with tap.case("export?format=package without a hospital key for the campaign: 409 with "
                  "the reason; nothing left") as c:
        r = s.req("GET", export_url("package"), role="lead")
        c.status(r, 409, "conflict")
        c.expect("key" in (r.json or {}).get("error", {}).get("message", ""),
                 "message: %s" % r.describe())
        c.expect(workdirs(s) == [], "left: %s" % workdirs(s))
    with tap.case("export refuses: registrar, nurse, pharmacist 403; no login 401; bad format "
                  "or lang 400; unknown campaign 404; POST 405") as c:
        for role in ("registrar", "nurse", "pharmacist"):
            c.status(s.req("GET", export_url("csv"), role=role), 403, "forbidden")
        c.status(s.client.request("GET", export_url("csv")), 401, "unauthorized")
        c.status(s.req("GET", export_url("xml")), 400, "invalid", "format")
        c.status(s.req("GET", export_url(None)), 400, "invalid", "format")
        c.status(s.req("GET", export_url("csv", "fr")), 400, "invalid", "lang")
        c.status(s.req("GET", export_url("csv", campaign="NO-SUCH")), 404, "not_found")
        r = s.req("POST", export_url("csv"))
        c.status(r, 405, "method_not_allowed")
        c.expect(r.header("Allow") == "GET", "Allow %r" % r.header("Allow"))
        n = s.sql("SELECT count(*) FROM audit WHERE action = 'export' AND staff_id IN "
                  "(SELECT id FROM staff WHERE role IN ('registrar', 'nurse', 'pharmacist'))")
        c.expect(n[0][0] == "0", "a refused export was audited")
        c.expect(workdirs(s) == [], "left: %s" % workdirs(s))


def flow_refusals(s):
    tap = s.tap
    existing = os.path.join(s.tmp, "csv-vi")
    with tap.case("an --out that exists is refused (exit 2) and left as it was") as c:
        before = tree_digest(existing)
        p = s.export("--format", "csv", "--out", existing)
        c.expect(p.returncode == 2, "exit %d: %s" % (p.returncode, p.stderr))
        c.expect(tree_digest(existing) == before, "the directory changed")
        c.expect(not leftovers(s.tmp, "csv-vi"), "a temporary directory was left")
        f = os.path.join(s.tmp, "a-file")
        open(f, "w").write("keep")
        p = s.export("--format", "report", "--out", f)
        c.expect(p.returncode == 2 and open(f).read() == "keep", "a file as --out: exit %d"
                 % p.returncode)
    with tap.case("an unknown campaign is exit 2 and makes nothing") as c:
        out = os.path.join(s.tmp, "nope")
        p = harness.cli(s.build, s.data, "export", "--campaign", "NO-SUCH", "--format", "csv",
                        "--out", out)
        c.expect(p.returncode == 2, "exit %d: %s" % (p.returncode, p.stderr))
        c.expect(not os.path.exists(out) and not leftovers(s.tmp, "nope"), "something made")
    mnt = os.path.join(s.tmp, "tiny")
    os.mkdir(mnt)
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt],
                       capture_output=True, text=True)
    text = ("a full disk: the export fails (exit 3), and no directory, whole or partial, is "
            "left")
    if m.returncode != 0:
        tap.n += 1
        print("ok %d # SKIP %s: cannot mount a small tmpfs here (%s)"
              % (tap.n, text, m.stderr.strip() or "not root"), flush=True)
        return
    try:
        with tap.case(text) as c:
            # Fill most of it, so that the export runs out part way.
            with open(os.path.join(mnt, "filler"), "wb") as f:
                f.write(b"\0" * 40 * 1024)
            for fmt in ("csv", "report"):
                out = os.path.join(mnt, "out-" + fmt)
                p = s.export("--format", fmt, "--out", out)
                c.expect(p.returncode == 3, "%s: exit %d: %s" % (fmt, p.returncode, p.stderr))
                c.expect(not os.path.exists(out) and not leftovers(mnt, "out-" + fmt),
                         "%s: left %s" % (fmt, os.listdir(mnt)))
    finally:
        subprocess.run(["umount", mnt], capture_output=True)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    tmp = tempfile.mkdtemp(prefix="mokit-export-")
    s = Suite(build, tmp)
    try:
        s.daemon.start()
        s.client = Client(s.daemon.port)
        try:
            seed(s)
        except Exception as e:  # noqa: BLE001 - nothing else can run without the data
            s.tap.bail("seeding the campaign failed: %s" % e)
            return 1
        flow_csv(s)
        flow_report(s)
        flow_web(s)
        flow_refusals(s)
        with s.tap.case("mokitd stops cleanly after the exports (exit 0: no leak under the "
                        "sanitizers)") as c:
            rc = s.daemon.terminate()
            c.expect(rc == 0, "exit %r\n%s" % (rc, s.daemon.log_tail()))
        with s.tap.case("an export left by a power cut mid-download (.export-*, plain text) is "
                        "removed when mokitd starts again") as c:
            left = os.path.join(s.data, ".export-Ab12Cd")
            os.makedirs(os.path.join(left, "csv"))
            open(os.path.join(left, "csv", "visits.csv"), "w").write("names\n")
            open(os.path.join(s.data, "keep-me.txt"), "w").write("not an export\n")
            s.daemon.start()
            c.expect(workdirs(s) == [], "left: %s" % workdirs(s))
            c.expect(os.path.exists(os.path.join(s.data, "keep-me.txt")), "removed another file")
            rc = s.daemon.terminate()
            c.expect(rc == 0, "exit %r" % rc)
    finally:
        s.daemon.terminate()
        s.tap.plan()
        if s.tap.failed == 0 and not os.environ.get("MOKIT_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("# kept %s" % tmp)
    return 1 if s.tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
