#!/usr/bin/env python3
"""The hand-off as two people meet it at their terminals: a team on its kit, the hospital on its
computer. Keys are made and exchanged as files, the kit exports a package, the hospital checks
and imports it; altered, cut, mis-addressed and unknown packages are refused with the
hospital's database unchanged. (Every single byte and every cut: tests/unit/test_package.c.)

usage: python3 tests/package/run.py [BUILD_DIR]   (prints TAP)
"""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, sys.argv[1] if len(sys.argv) > 1 else "build")
MOKIT = os.path.join(BUILD, "mokit")

results = []


def check(name, cond, detail=""):
    results.append((bool(cond), name, detail))


def mokit(data, *args, json_out=False):
    cmd = [MOKIT, "--data", data] + (["--json"] if json_out else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def db_state(data):
    """Every row of every table the import writes, as one digest, plus a few counts."""
    path = os.path.join(data, "mokit.db")
    if not os.path.exists(path):
        return None, {}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    h = hashlib.sha256()
    counts = {}
    for t in ["campaign", "staff", "patient", "visit", "observation", "finding", "referral",
              "medicine", "prescription", "stock_move", "device_reading", "trusted_kit"]:
        rows = con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
        counts[t] = len(rows)
        h.update(repr(rows).encode())
    for t in ["import", "likely_match"]:
        try:
            rows = con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            counts[t] = len(rows)
            h.update(repr(rows).encode())
        except sqlite3.OperationalError:
            pass
    con.close()
    return h.hexdigest(), counts


def main():
    tmp = tempfile.mkdtemp(prefix="mokit-package-")
    kit = os.path.join(tmp, "kit")
    kit2 = os.path.join(tmp, "kit2")
    hosp = os.path.join(tmp, "hospital")
    keys = os.path.join(tmp, "keys")
    os.makedirs(keys)
    try:
        run(tmp, kit, kit2, hosp, keys)
    finally:
        subprocess.run(["rm", "-rf", tmp])


def run(tmp, kit, kit2, hosp, keys):
    # The hospital makes its key pair; the team gets the public half.
    rc, out, err = mokit(hosp, "keys", "hospital-new", "--name", "BV Đa khoa tỉnh Lào Cai",
                         "--out", os.path.join(keys, "bvlc"))
    check("hospital-new", rc == 0, err)
    pub, sec = os.path.join(keys, "bvlc.public.json"), os.path.join(keys, "bvlc.secret.json")

    # The kit: demo campaign with screening records, names the hospital key.
    rc, out, err = mokit(kit, "demo", "seed", "--patients", "60", "--screening")
    check("kit: demo seed --screening", rc == 0, err)
    rc, out, err = mokit(kit, "campaign", "hospital-key", "DEMO-TAVAN", sec)
    check("campaign hospital-key refuses the secret key (it stays at the hospital)",
          rc == 2 and "secret key stays at the hospital" in err, err)
    rc, out, err = mokit(kit, "campaign", "hospital-key", "NOPE", pub)
    check("campaign hospital-key of an unknown campaign: exit 2", rc == 2 and "no campaign" in err, err)
    rc, out, err = mokit(kit, "export", "--campaign", "DEMO-TAVAN", "--format", "package", "--out",
                         os.path.join(tmp, "nokey.mokitpkg"))
    check("export package before a hospital key is named: exit 2, says how, no file",
          rc == 2 and "hospital-key" in err and not os.path.exists(os.path.join(tmp, "nokey.mokitpkg")),
          err)
    rc, out, err = mokit(kit, "campaign", "hospital-key", "DEMO-TAVAN", pub)
    _, fp_line, _ = mokit(kit, "keys", "check", pub)
    fp = fp_line.split("fingerprint ")[-1].strip()
    check("campaign hospital-key: names the hospital and the fingerprint",
          rc == 0 and fp in out and "BV Đa khoa" in out, out + err)
    rc, out, err = mokit(kit, "campaign", "id-systems", "DEMO-TAVAN", "--cccd", "not a uri")
    check("campaign id-systems refuses a URI with a space", rc == 2, err)
    rc, out, err = mokit(kit, "campaign", "id-systems", "DEMO-TAVAN", "--cccd",
                         "urn:oid:2.16.704.1.1.1", "--bhyt", "urn:oid:2.16.704.1.1.2")
    con = sqlite3.connect(os.path.join(kit, "mokit.db"))
    systems = con.execute("SELECT id_systems FROM campaign WHERE code='DEMO-TAVAN'").fetchone()[0]
    audited = con.execute("SELECT count(*) FROM audit WHERE entity='campaign' AND action='update'"
                          ).fetchone()[0]
    con.close()
    check("campaign id-systems: stored and audited",
          rc == 0 and json.loads(systems) == {"bhyt": "urn:oid:2.16.704.1.1.2",
                                              "cccd": "urn:oid:2.16.704.1.1.1"} and audited >= 2,
          f"{systems} {audited} {err}")

    pkg = os.path.join(tmp, "DEMO-TAVAN.mokitpkg")
    rc, out, err = mokit(kit, "export", "--campaign", "DEMO-TAVAN", "--format", "package", "--out", pkg,
                         json_out=True)
    manifest = json.loads(out) if rc == 0 else {}
    con = sqlite3.connect(os.path.join(kit, "mokit.db"))
    kit_patients = con.execute("SELECT count(*) FROM patient").fetchone()[0]
    kit_obs = con.execute("SELECT count(*) FROM observation").fetchone()[0]
    exported = con.execute("SELECT count(*) FROM audit WHERE action='export' AND entity='campaign'"
                           ).fetchone()[0]
    con.close()
    check("export package: manifest counts equal the kit's rows",
          rc == 0 and manifest["counts"]["patient"] == kit_patients == 60
          and manifest["counts"]["observation"] == kit_obs, err)
    check("export package: audited", exported == 1, exported)
    blob = open(pkg, "rb").read() if os.path.exists(pkg) else b""
    con = sqlite3.connect(os.path.join(kit, "mokit.db"))
    names = [r[0] for r in con.execute("SELECT name FROM patient LIMIT 20")]
    cccds = [r[0] for r in con.execute("SELECT cccd FROM patient WHERE cccd IS NOT NULL LIMIT 20")]
    con.close()
    leaks = [x for x in names + cccds + ["DEMO-TAVAN", "Tả Van"] if x.encode() in blob]
    check("the package carries no name, CCCD or campaign in the clear", blob and not leaks, leaks)
    rc, out, err = mokit(kit, "export", "--campaign", "DEMO-TAVAN", "--format", "package", "--out", pkg)
    check("export package over an existing file: exit 2, file unchanged",
          rc == 2 and open(pkg, "rb").read() == blob, err)
    leftovers = [f for f in os.listdir(tmp) if ".tmp-" in f]
    check("no temporary files left beside the package", not leftovers, leftovers)

    # The kit hands its public key over; the hospital checks it and trusts it.
    kitkey = os.path.join(keys, "kit.json")
    rc, out, err = mokit(kit, "keys", "export", "--out", kitkey)
    check("keys export", rc == 0, err)
    rc, out, err = mokit(hosp, "import", "--check", pkg)
    check("import --check before trusting the kit: refused, names the kit and its fingerprint",
          rc == 2 and "not trusted" in err and "keys trust" in err, err)
    rc, out, err = mokit(hosp, "import", pkg, "--key", sec)
    state0 = db_state(hosp)
    check("import from an untrusted kit: exit 2, nothing imported",
          rc == 2 and "not trusted" in err and state0[1].get("patient", 0) == 0, err)
    rc, out, err = mokit(hosp, "keys", "trust", pub)
    check("keys trust refuses a hospital key", rc == 2 and "not a kit's signing key" in err, err)
    rc, out, err = mokit(hosp, "keys", "trust", kitkey, "--label", "Đội A")
    check("keys trust", rc == 0 and "trusted" in out, err)
    rc, out, err = mokit(hosp, "keys", "trust", kitkey)
    check("keys trust again: already (exit 0)", rc == 0 and "already" in out, out + err)
    rc, out, err = mokit(hosp, "keys", "trusted", json_out=True)
    lst = json.loads(out) if rc == 0 else []
    check("keys trusted lists it with its label",
          len(lst) == 1 and lst[0]["label"] == "Đội A" and lst[0]["kit_id"] == manifest.get("kit"), out)
    rc, out, err = mokit(hosp, "import", "--check", pkg)
    check("import --check: signed by the trusted kit, not altered", rc == 0 and "not altered" in out,
          out + err)
    rc, out, err = mokit(tmp + "/anyone", "import", "--check", pkg, "--kit-key", kitkey)
    check("import --check with the kit's key file, anywhere (no secret needed)", rc == 0, err)

    # Refusals, the database unchanged after each.
    before = db_state(hosp)
    rc, out, err = mokit(hosp, "import", pkg, "--key", pub)
    check("import with the public key instead of the secret: exit 2",
          rc == 2 and "secret key" in err, err)
    rc, out, err = mokit(hosp, "keys", "hospital-new", "--name", "Another hospital", "--out",
                         os.path.join(keys, "other"))
    rc, out, err = mokit(hosp, "import", pkg, "--key", os.path.join(keys, "other.secret.json"))
    check("import with another hospital's key: refused, says so",
          rc == 2 and "another hospital key" in err, err)
    altered = {
        "magic": 0,
        "header": 20,
        "sealed key": 16 + int.from_bytes(blob[12:16], "big") + 5,
        "first chunk's length": 16 + int.from_bytes(blob[12:16], "big") + 80 + 24 + 1,
        "ciphertext": len(blob) // 2,
        "signature": len(blob) - 10,
    }
    for what, off in altered.items():
        b = bytearray(blob)
        b[off] ^= 0x20
        path = os.path.join(tmp, f"altered-{off}.mokitpkg")
        open(path, "wb").write(bytes(b))
        rc, out, err = mokit(hosp, "import", path, "--key", sec)
        check(f"one byte of the {what} altered: refused (exit 2)", rc == 2 and "refused" in err, err)
    for cut in [100, len(blob) // 2, len(blob) - 72, len(blob) - 1]:
        path = os.path.join(tmp, f"cut-{cut}.mokitpkg")
        open(path, "wb").write(blob[:cut])
        rc, out, err = mokit(hosp, "import", path, "--key", sec)
        check(f"cut to {cut} of {len(blob)} bytes: refused", rc == 2 and "refused" in err, err)
    open(os.path.join(tmp, "garbage.mokitpkg"), "wb").write(os.urandom(5000))
    rc, out, err = mokit(hosp, "import", os.path.join(tmp, "garbage.mokitpkg"), "--key", sec)
    check("random bytes: not a mokit package", rc == 2 and "not a mokit package" in err, err)
    rc, out, err = mokit(hosp, "import", os.path.join(tmp, "missing.mokitpkg"), "--key", sec)
    check("a missing file: exit 3", rc == 3, err)
    check("after every refusal the hospital's database is unchanged", db_state(hosp) == before,
          db_state(hosp)[1])

    # The import, then again.
    rc, out, err = mokit(hosp, "import", pkg, "--key", sec, json_out=True)
    res = json.loads(out) if rc == 0 else {}
    after = db_state(hosp)
    check("import: every resident, visit and observation arrives",
          rc == 0 and res.get("patients_new") == 60 and after[1]["patient"] == 60
          and after[1]["observation"] == kit_obs, err + out[:300])
    con = sqlite3.connect(os.path.join(hosp, "mokit.db"))
    kcon = sqlite3.connect(os.path.join(kit, "mokit.db"))
    q = "SELECT code, name, cccd, bhyt_ssn, birth_year FROM patient ORDER BY code"
    check("patients arrive as they were (Vietnamese names intact)",
          con.execute(q).fetchall() == kcon.execute(q).fetchall())
    q = "SELECT id, visit_id, code, value, value2, unit, source, device FROM observation ORDER BY id"
    check("observations arrive as they were", con.execute(q).fetchall() == kcon.execute(q).fetchall())
    staff_login = con.execute("SELECT count(*) FROM staff WHERE active = 1").fetchone()[0]
    con.close()
    kcon.close()
    check("imported staff cannot log in at the hospital", staff_login == 0, staff_login)
    rc, out, err = mokit(hosp, "import", pkg, "--key", sec)
    check("the same package again: exit 0, 'imported before', nothing changes",
          rc == 0 and "imported before" in out and db_state(hosp) == after, out + err)

    # A second kit, a second campaign, residents who were screened at the first as well.
    rc, out, err = mokit(kit2, "demo", "seed", "--patients", "5", "--screening", "--seed", "2")
    check("second kit: demo seed", rc == 0, err)
    # Two residents of the first campaign come to the second with their citizen ID cards, and
    # one comes without a card: same name, birth year and commune (a likely match only).
    con = sqlite3.connect(os.path.join(kit, "mokit.db"))
    again = con.execute("SELECT name, sex, birth_year, cccd, code FROM patient WHERE cccd IS NOT NULL "
                        "ORDER BY code LIMIT 2").fetchall()
    alike = con.execute("SELECT name, sex, birth_year, code FROM patient WHERE cccd IS NULL AND "
                        "bhyt IS NULL ORDER BY code LIMIT 1").fetchone()
    con.close()
    for name, sex, year, cccd, _ in again:
        rc, out, err = mokit(kit2, "patient", "register", "--name", name, "--sex", sex, "--birth",
                             str(year), "--cccd", cccd, "--consent", "--confirm-new")
        check("second kit: a resident of the first campaign registers with the CCCD", rc == 0, err)
    rc, out, err = mokit(kit2, "patient", "register", "--name", alike[0], "--sex", alike[1], "--birth",
                         str(alike[2]), "--consent", "--confirm-new")
    check("second kit: a look-alike without a card registers", rc == 0, err)
    rc, out, err = mokit(kit2, "export", "--campaign", "DEMO-TAVAN", "--format", "package", "--to", pub,
                         "--out", os.path.join(tmp, "kit2.mokitpkg"))
    check("export --to the hospital key file (no campaign key set)", rc == 0, err)
    rc, out, err = mokit(hosp, "import", os.path.join(tmp, "kit2.mokitpkg"), "--key", sec)
    check("a second kit's package before it is trusted: refused", rc == 2 and "not trusted" in err, err)
    rc, out, err = mokit(kit2, "keys", "export", "--out", os.path.join(keys, "kit2.json"))
    rc, out, err = mokit(hosp, "keys", "trust", os.path.join(keys, "kit2.json"))
    rc, out, err = mokit(hosp, "import", os.path.join(tmp, "kit2.mokitpkg"), "--key", sec, json_out=True)
    res2 = json.loads(out) if rc == 0 else {}
    check("the second kit's package imports once trusted: 6 new, 2 merged by CCCD",
          rc == 0 and res2.get("patients_new") == 6 and res2.get("patients_merged") == 2, out + err)
    con = sqlite3.connect(os.path.join(hosp, "mokit.db"))
    one = [con.execute("SELECT count(*) FROM patient WHERE cccd = ?", (c,)).fetchone()[0]
           for _, _, _, c, _ in again]
    con.close()
    check("a resident screened by both kits is one patient", one == [1, 1], one)
    lm = res2.get("likely_matches", [])
    check("the look-alike is listed for review, not merged",
          any(m["other"]["code"] == alike[3] or m["patient"]["code"] == alike[3] for m in lm), lm)
    rc, out, err = mokit(hosp, "keys", "untrust", manifest.get("kit", "?"))
    rc2, _, err2 = mokit(hosp, "import", "--check", pkg)
    check("keys untrust: the kit's packages are refused again", rc == 0 and rc2 == 2, err + err2)


if __name__ == "__main__":
    if not os.access(MOKIT, os.X_OK):
        print(f"Bail out! {MOKIT} is missing: run make first")
        sys.exit(1)
    try:
        main()
    except Exception as e:  # a crash of the harness is a failure, with its reason
        import traceback
        traceback.print_exc()
        results.append((False, f"harness: {e!r}", ""))
    for i, (ok, name, detail) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok and detail:
            for line in str(detail).splitlines()[:12]:
                print(f"#   {line}")
    print(f"1..{len(results)}")
    sys.exit(0 if all(ok for ok, _, _ in results) else 1)
