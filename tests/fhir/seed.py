"""A screening campaign's records for the FHIR tests and benchmark.

`mokit demo seed` makes the campaign (DEMO-TAVAN, its hospital, staff and medicines) and the
generated residents; this adds what a screening day records for them, straight into the SQLite
store (as the kit's own code would: UUIDv7 ids, UTC ISO times, UCUM units): one visit per
resident, about ten observations per visit (some from devices, with the device_reading rows
that attach them), findings (some removed), referrals, prescriptions (dispensed or not), and
CCCD / BHYT numbers for part of the residents. Seeded: the same arguments give the same rows.
"""
import random
import sqlite3
import subprocess

DEVICES = ["cms50/CMS50D+/SN0042", "hidpos-scale/HPS-200/0071234", "omron-bp/HEM-7121/A1B2C3",
           "thermo-ir/IR-1/"]


def uuid7(ms, rng):
    r = rng.getrandbits(74)
    hi = (ms << 16) | (0x7 << 12) | (r >> 62)
    lo = (0b10 << 62) | (r & ((1 << 62) - 1))
    h = f"{hi:016x}{lo:016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Clock:
    """Milliseconds that only go up, for UUIDv7 ids and ISO times of one screening day."""

    def __init__(self, start_ms):
        self.ms = start_ms

    def tick(self, step=1):
        self.ms += step
        return self.ms

    def iso(self, ms=None):
        import datetime
        t = datetime.datetime.fromtimestamp((self.ms if ms is None else ms) / 1000,
                                            datetime.timezone.utc)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def demo_seed(mokit, data, patients):
    subprocess.run([mokit, "--data", data, "demo", "seed", "--patients", str(patients)],
                   check=True, stdout=subprocess.DEVNULL)


def add_records(db_path, campaign_code="DEMO-TAVAN", obs_target=None, seed=7, ten=False):
    """Adds the screening day's records. obs_target: stop adding observations after this many
    (None: about ten per resident); ten: exactly ten per resident (two blood pressures and two
    SpO2 among them). Returns a dict of what was added."""
    rng = random.Random(seed)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    cur = db.cursor()
    cid, = cur.execute("SELECT id FROM campaign WHERE code = ?", (campaign_code,)).fetchone()
    staff = dict((role, sid) for sid, role in cur.execute("SELECT id, role FROM staff"))
    meds = [r[0] for r in cur.execute("SELECT id FROM medicine WHERE campaign_id = ? ORDER BY code",
                                      (cid,))]
    pats = [r[0] for r in cur.execute("SELECT id FROM patient WHERE campaign_id = ? ORDER BY pid",
                                      (cid,))]
    clock = Clock(1795000000000)  # 2026-11-18
    day = "2026-11-18"
    visits, obs, readings, findings, referrals, rx, ids = [], [], [], [], [], [], []
    n_obs = 0
    for qn, pid in enumerate(pats, 1):
        # Identity numbers for part of the residents.
        cccd = f"0{rng.randrange(10**10, 10**11)}" if rng.random() < 0.4 else None
        bhyt = f"GD4{rng.randrange(10**11, 10**12)}" if rng.random() < 0.3 else None
        ids.append((cccd, bhyt, f"{rng.randrange(10**9, 10**10)}" if bhyt else None, pid))
        clock.tick(rng.randrange(1000, 5000))
        vid = uuid7(clock.ms, rng)
        visits.append((vid, pid, cid, day, qn, clock.iso(), staff["registrar"],
                       '["chest_pain"]' if rng.random() < 0.05 else "[]"))
        sys_bp = None

        def ob(code, v, v2=None, v3=None, unit="", fasting=None, device=None, note=None):
            nonlocal n_obs
            clock.tick(rng.randrange(200, 2000))
            oid = uuid7(clock.ms, rng)
            obs.append((oid, vid, code, v, v2, v3, unit, "device" if device else "manual", device,
                        clock.iso(), staff["nurse"], note, fasting))
            n_obs += 1
            if device:
                rid = uuid7(clock.ms, rng)
                readings.append((rid, "vitals", "usb-1-1." + str(DEVICES.index(device)), device,
                                 code, v, v2, v3, unit,
                                 clock.iso(clock.ms - 60000) if rng.random() < 0.3 else None,
                                 clock.iso(), "a5" * 4, None, "attached", None, vid, oid,
                                 clock.iso() if rng.random() < 0.2 else None,
                                 staff["nurse"] if rng.random() < 0.2 else None))
            return oid

        plan = ["bp", "bp", "pulse", "spo2", "weight", "height", "temp", "glucose", "waist"]
        if ten or rng.random() < 0.5:
            plan.append("spo2")
        for code in plan:
            if obs_target is not None and n_obs >= obs_target:
                break
            dev = rng.random() < 0.3
            if code == "bp":
                s = rng.randrange(95, 200)
                d = min(s - 20, rng.randrange(55, 115))
                m = round((s + 2 * d) / 3) if rng.random() < 0.5 else None
                sys_bp = s
                ob("bp", s, d, m, "mm[Hg]", device=DEVICES[2] if dev else None)
            elif code == "pulse":
                ob("pulse", rng.randrange(50, 120), unit="/min", device=DEVICES[0] if dev else None)
            elif code == "spo2":
                ob("spo2", rng.randrange(88, 100), unit="%", device=DEVICES[0] if dev else None)
            elif code == "weight":
                ob("weight", round(rng.uniform(38, 85), 1), unit="kg",
                   device=DEVICES[1] if dev else None)
            elif code == "height":
                ob("height", round(rng.uniform(140, 180), 1), unit="cm")
            elif code == "temp":
                ob("temp", round(rng.uniform(36.0, 38.5), 1), unit="Cel",
                   device=DEVICES[3] if dev else None, note="đo ở trán" if rng.random() < 0.1
                   else None)
            elif code == "glucose":
                ob("glucose", round(rng.uniform(4.0, 14.0), 1), unit="mmol/L",
                   fasting=rng.choice([None, 0, 1]))
            elif code == "waist":
                ob("waist", rng.randrange(60, 110), unit="cm")
        # The doctor's station.
        if sys_bp and sys_bp >= 140:
            clock.tick(10)
            findings.append((uuid7(clock.ms, rng), vid, "I10", None, int(rng.random() < 0.4),
                             None, clock.iso(), staff["doctor"], None, None))
        if rng.random() < 0.08:
            clock.tick(10)
            findings.append((uuid7(clock.ms, rng), vid, "E11.9", None, 0, "đường huyết cao",
                             clock.iso(), staff["doctor"], None, None))
        if rng.random() < 0.05:
            clock.tick(10)  # recorded in error, then removed: never exported
            findings.append((uuid7(clock.ms, rng), vid, "J06.9", None, 0, None, clock.iso(),
                             staff["doctor"], clock.iso(), staff["doctor"]))
        if rng.random() < 0.02:
            clock.tick(10)  # a code outside the kit's list, with the doctor's words
            findings.append((uuid7(clock.ms, rng), vid, "Z99.9", "Phụ thuộc máy \"thở\"", 0,
                             None, clock.iso(), staff["doctor"], None, None))
        if rng.random() < 0.06:
            clock.tick(10)
            status = rng.choice(["referred", "referred", "arrived", "cancelled"])
            referrals.append((uuid7(clock.ms, rng), vid, "Bệnh viện Đa khoa tỉnh Lào Cai",
                              "Huyết áp cao" if sys_bp and sys_bp >= 140 else "Khám mắt",
                              rng.choice(["routine", "soon", "urgent"]), status, clock.iso(),
                              staff["doctor"], None, clock.iso(), staff["doctor"]))
        if meds and rng.random() < 0.15:
            clock.tick(10)
            state = rng.choice(["dispensed", "dispensed", "prescribed", "cancelled"])
            rx.append((uuid7(clock.ms, rng), vid, rng.choice(meds), rng.choice([10, 30, 60]),
                       "1 viên/ngày, uống buổi sáng" if rng.random() < 0.8 else None, state,
                       clock.iso(), staff["doctor"],
                       clock.iso(clock.ms + 60000) if state != "prescribed" else None,
                       staff["pharmacist"] if state == "dispensed" else None))
    cur.execute("BEGIN")
    cur.executemany("UPDATE patient SET cccd = ?, bhyt = ?, bhyt_ssn = ? WHERE id = ?", ids)
    cur.executemany("INSERT INTO visit(id, patient_id, campaign_id, day, queue_number, created_at,"
                    " created_by, symptoms) VALUES (?,?,?,?,?,?,?,?)", visits)
    cur.executemany("INSERT INTO observation(id, visit_id, code, value, value2, value3, unit, "
                    "source, device, taken_at, taken_by, note, fasting) VALUES "
                    "(?,?,?,?,?,?,?,?,?,?,?,?,?)", obs)
    cur.executemany("INSERT INTO device_reading(id, station, device_id, device, code, value, "
                    "value2, value3, unit, device_time, received_at, raw, dedupe, state, note, "
                    "visit_id, observation_id, assigned_at, assigned_by) VALUES "
                    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", readings)
    cur.executemany("INSERT INTO finding(id, visit_id, icd10, label, known, note, created_at, "
                    "created_by, removed_at, removed_by) VALUES (?,?,?,?,?,?,?,?,?,?)", findings)
    cur.executemany("INSERT INTO referral(id, visit_id, destination, reason, urgency, status, "
                    "status_at, status_by, job_id, created_at, created_by) VALUES "
                    "(?,?,?,?,?,?,?,?,?,?,?)", referrals)
    cur.executemany("INSERT INTO prescription(id, visit_id, medicine_id, quantity, dosage, state,"
                    " created_at, created_by, done_at, done_by) VALUES (?,?,?,?,?,?,?,?,?,?)", rx)
    db.commit()
    db.close()
    return {"patients": len(pats), "visits": len(visits), "observations": len(obs),
            "readings": len(readings), "findings": len(findings), "referrals": len(referrals),
            "prescriptions": len(rx)}


# What export_fhir should write for a campaign, counted by SQL alone (the test's oracle).
EXPECTED_SQL = {
    "Patient": """SELECT count(*) FROM patient p WHERE p.campaign_id = :c OR EXISTS
                  (SELECT 1 FROM visit v WHERE v.patient_id = p.id AND v.campaign_id = :c)""",
    "Encounter": "SELECT count(*) FROM visit WHERE campaign_id = :c",
    # Every observation, plus one BMI for each visit with a weight and a height.
    "Observation": """SELECT (SELECT count(*) FROM observation o JOIN visit v ON v.id = o.visit_id
                      WHERE v.campaign_id = :c) + (SELECT count(*) FROM visit v WHERE
                      v.campaign_id = :c AND EXISTS (SELECT 1 FROM observation o WHERE
                      o.visit_id = v.id AND o.code = 'weight') AND EXISTS (SELECT 1 FROM
                      observation o WHERE o.visit_id = v.id AND o.code = 'height'))""",
    "Condition": """SELECT count(*) FROM finding f JOIN visit v ON v.id = f.visit_id
                    WHERE v.campaign_id = :c AND f.removed_at IS NULL""",
    "ServiceRequest": """SELECT count(*) FROM referral r JOIN visit v ON v.id = r.visit_id
                         WHERE v.campaign_id = :c""",
    "MedicationDispense": """SELECT count(*) FROM prescription x JOIN visit v ON
                             v.id = x.visit_id WHERE v.campaign_id = :c AND x.state = 'dispensed'""",
    "Provenance": """SELECT count(*) FROM device_reading d JOIN visit v ON v.id = d.visit_id
                     WHERE v.campaign_id = :c AND d.state = 'attached'
                     AND d.observation_id IS NOT NULL""",
    "Device": """SELECT count(*) FROM (SELECT o.device FROM observation o JOIN visit v ON
                 v.id = o.visit_id WHERE v.campaign_id = :c AND o.device IS NOT NULL UNION
                 SELECT d.device FROM device_reading d JOIN visit v ON v.id = d.visit_id WHERE
                 v.campaign_id = :c AND d.state = 'attached')""",
    "Practitioner": """SELECT count(*) FROM staff WHERE id IN (
                       SELECT created_by FROM visit WHERE campaign_id = :c
                       UNION SELECT o.taken_by FROM observation o JOIN visit v ON v.id = o.visit_id
                         WHERE v.campaign_id = :c
                       UNION SELECT f.created_by FROM finding f JOIN visit v ON v.id = f.visit_id
                         WHERE v.campaign_id = :c AND f.removed_at IS NULL
                       UNION SELECT r.created_by FROM referral r JOIN visit v ON v.id = r.visit_id
                         WHERE v.campaign_id = :c
                       UNION SELECT x.done_by FROM prescription x JOIN visit v ON v.id = x.visit_id
                         WHERE v.campaign_id = :c AND x.state = 'dispensed'
                       UNION SELECT d.assigned_by FROM device_reading d JOIN visit v ON
                         v.id = d.visit_id WHERE v.campaign_id = :c AND d.state = 'attached')""",
    "Location": "SELECT count(*) FROM campaign WHERE id = :c",
    "Organization": """SELECT count(*) FROM campaign WHERE id = :c AND hospital IS NOT NULL
                       AND hospital <> ''""",
}


def expected_counts(db_path, campaign_code):
    db = sqlite3.connect(db_path)
    cid, = db.execute("SELECT id FROM campaign WHERE code = ?", (campaign_code,)).fetchone()
    out = {t: db.execute(q, {"c": cid}).fetchone()[0] for t, q in EXPECTED_SQL.items()}
    db.close()
    return out
