#!/usr/bin/env python3
"""FHIR R4 export and push tests (TAP): `python3 tests/fhir/run.py BUILD_DIR`.

A temporary data directory gets a generated campaign (`mokit demo seed` plus a screening day's
records, tests/fhir/seed.py). `mokit export --format fhir` must then write resources that both
npm validators of field-notes §6 accept (validate.mjs, every NDJSON line, the Bundle and each
of its entries), in the numbers the database holds, with the codes, units and identifier
systems of app/doc/fhir.md, references that resolve, and conditional creates. A broken copy
proves the validators would notice. `mokit push --fhir URL` then posts to a local test server
(fhir_server.py) that validates what it receives and fails the first attempts.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import seed  # noqa: E402

N = 0
FAILED = 0


def check(name, cond, detail=""):
    global N, FAILED
    N += 1
    if cond:
        print(f"ok {N} - {name}")
    else:
        FAILED += 1
        print(f"not ok {N} - {name}")
        for line in str(detail).splitlines()[:40]:
            print(f"#   {line}")
    return cond


def mokit(build, data, *args, timeout=120, env=None):
    p = subprocess.run([os.path.join(build, "mokit"), "--data", data, *args],
                       capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def validate(*paths):
    p = subprocess.run(["node", os.path.join(HERE, "validate.mjs"), *paths], capture_output=True,
                       text=True, timeout=600)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {"checked": 0, "nerrors": 1, "errors": [{"message": p.stderr[-2000:]}],
                "counts": {}}


def read_ndjson(d):
    out = {}
    for f in sorted(os.listdir(d)):
        if f.endswith(".ndjson"):
            with open(os.path.join(d, f), encoding="utf-8") as fh:
                out[f[:-len(".ndjson")]] = [json.loads(line) for line in fh if line.strip()]
    return out


def refs(x, acc):
    """Every Reference.reference inside x."""
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "reference" and isinstance(v, str):
                acc.append(v)
            else:
                refs(v, acc)
    elif isinstance(x, list):
        for v in x:
            refs(v, acc)
    return acc


LOINC = {"bp": ["85354-9"], "pulse": ["8867-4"], "spo2": ["2708-6", "59408-5"],
         "weight": ["29463-7"], "height": ["8302-2"], "temp": ["8310-5"],
         "glucose": ["14743-9", "15074-8"], "waist": ["8280-0"]}
PROFILE = {"bp": "bp", "pulse": "heartrate", "spo2": "oxygensat", "weight": "bodyweight",
           "height": "bodyheight", "temp": "bodytemp"}
UCUM = {"bp": "mm[Hg]", "pulse": "/min", "spo2": "%", "weight": "kg", "height": "cm",
        "temp": "Cel", "glucose": "mmol/L", "waist": "cm"}

SYS_CCCD = "urn:oid:2.16.704.1.99.1"
SYS_CODE = "urn:example:lao-cai-hospital:mokit-code"
SYS_BHYT = "urn:example:vss:bhyt"


def test_export(build, data, work):
    db = os.path.join(data, "mokit.db")
    # The hospital named its BHYT system for the campaign; CCCD and code come on the command line.
    rc, _, err = mokit(build, data, "campaign", "id-systems", "DEMO-TAVAN", "--bhyt", SYS_BHYT)
    check("campaign id-systems set", rc == 0, err)
    out = os.path.join(work, "fhir")
    rc, so, err = mokit(build, data, "export", "--campaign", "DEMO-TAVAN", "--format", "fhir",
                        "--out", out, "--system-cccd", SYS_CCCD, "--system-code", SYS_CODE)
    if not check("mokit export --format fhir succeeds", rc == 0, so + err):
        return None
    files = sorted(os.listdir(out))
    check("bundle.json and NDJSON files written, no temporary left",
          "bundle.json" in files and "Patient.ndjson" in files and
          not [f for f in os.listdir(work) if ".tmp-" in f], files)

    # Both validators, everything.
    v = validate(out)
    expect = seed.expected_counts(db, "DEMO-TAVAN")
    total = sum(expect.values())
    check("both validators: zero errors over every NDJSON line, the Bundle and each entry",
          v["nerrors"] == 0 and v["checked"] == 2 * total + 1,
          json.dumps({k: v[k] for k in ("checked", "nerrors", "errors")}, ensure_ascii=False,
                     indent=1)[:3000] + f"\nexpected {2 * total + 1} checked")

    nd = read_ndjson(out)
    with open(os.path.join(out, "bundle.json"), encoding="utf-8") as fh:
        bundle = json.load(fh)
    entries = bundle.get("entry", [])
    got_nd = {t: len(nd.get(t, [])) for t in expect}
    got_bundle = {t: sum(1 for e in entries if e["resource"]["resourceType"] == t) for t in expect}
    check("NDJSON counts per type equal the database's rows", got_nd == expect,
          f"got {got_nd}\nexpected {expect}")
    check("Bundle counts per type equal the database's rows", got_bundle == expect,
          f"got {got_bundle}\nexpected {expect}")
    check("the campaign has every kind of record (else the checks below prove little)",
          all(expect[t] > 0 for t in expect), expect)
    check("Bundle is a transaction", bundle.get("resourceType") == "Bundle" and
          bundle.get("type") == "transaction")

    # Observations: LOINC, UCUM, profiles, values, the BP panel.
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = {r["id"]: r for r in con.execute("SELECT * FROM observation")}
    bad = []
    bp_seen = mean_seen = fasting_seen = bmi_seen = 0
    for o in nd["Observation"]:
        codes = [c["code"] for c in o["code"]["coding"]]
        systems = {c["system"] for c in o["code"]["coding"]}
        r = rows.get(o["id"])
        if r is None:  # a BMI, derived from a weight and a height
            bmi_seen += 1
            w, h = (rows[x["reference"].split("/")[1]] for x in o["derivedFrom"])
            if codes != ["39156-5"] or o["valueQuantity"]["code"] != "kg/m2" or \
                    {w["code"], h["code"]} != {"weight", "height"} or \
                    abs(o["valueQuantity"]["value"] -
                        (w["value"] / (h["value"] / 100) ** 2 if w["code"] == "weight"
                         else h["value"] / (w["value"] / 100) ** 2)) > 0.051:
                bad.append(("bmi", o))
            continue
        k = r["code"]
        if codes != LOINC[k] or systems != {"http://loinc.org"}:
            bad.append(("loinc", o["id"], k, codes))
        want_profile = PROFILE.get(k)
        got_profile = o.get("meta", {}).get("profile", [])
        if (want_profile and got_profile != ["http://hl7.org/fhir/StructureDefinition/" +
                                             want_profile]) or (not want_profile and got_profile):
            bad.append(("profile", o["id"], k, got_profile))
        cat = o["category"][0]["coding"][0]["code"]
        if cat != ("laboratory" if k == "glucose" else "vital-signs"):
            bad.append(("category", o["id"], k, cat))
        if o["subject"]["reference"] == "" or o["effectiveDateTime"] != r["taken_at"]:
            bad.append(("subject/time", o["id"]))
        if k == "bp":
            bp_seen += 1
            comp = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in o["component"]}
            want = {"8480-6": r["value"], "8462-4": r["value2"]}
            if r["value3"] is not None:
                want["8478-0"] = r["value3"]
                mean_seen += 1
            if "valueQuantity" in o or {c: q["value"] for c, q in comp.items()} != want or \
                    any(q["code"] != "mm[Hg]" or q["system"] != "http://unitsofmeasure.org"
                        for q in comp.values()):
                bad.append(("bp panel", o["id"], comp, want))
        else:
            q = o["valueQuantity"]
            if q["value"] != r["value"] or q["code"] != UCUM[k] or r["unit"] != UCUM[k] or \
                    q["system"] != "http://unitsofmeasure.org":
                bad.append(("quantity", o["id"], k, q))
        if k == "glucose" and r["fasting"] is not None:
            fasting_seen += 1
            spec = o["contained"][0]
            fs = spec["collection"]["fastingStatusCodeableConcept"]["coding"][0]["code"]
            if fs != ("F" if r["fasting"] else "NF") or o["specimen"]["reference"] != "#specimen":
                bad.append(("fasting", o["id"]))
        if (r["source"] == "device") != ("device" in o):
            bad.append(("device", o["id"]))
    check("Observations: LOINC codes, UCUM units, vital-signs profiles and values as stored",
          not bad, bad[:5])
    check("BP is a panel with systolic, diastolic (and mean) components", bp_seen and mean_seen,
          (bp_seen, mean_seen))
    check("glucose fasting state in a contained Specimen; BMI derived from weight and height",
          fasting_seen and bmi_seen, (fasting_seen, bmi_seen))

    # Patients: the identifier systems of the command line and of the campaign.
    pats = {r["id"]: r for r in con.execute("SELECT * FROM patient")}
    bad = []
    cccd_seen = bhyt_seen = 0
    for p in nd["Patient"]:
        r = pats[p["id"]]
        ids = {i.get("system"): i["value"] for i in p["identifier"]}
        want = {SYS_CODE: r["code"], "urn:ietf:rfc:3986": "urn:uuid:" + r["id"]}
        if r["cccd"]:
            want[SYS_CCCD] = r["cccd"]
            cccd_seen += 1
        if r["bhyt"]:
            want[SYS_BHYT] = r["bhyt"]
            bhyt_seen += 1
        if ids != want or p["gender"] != r["sex"] or p["name"][0]["text"] != r["name"]:
            bad.append((ids, want))
    check("Patient identifiers carry the systems given on the command line and the campaign's",
          not bad and cccd_seen and bhyt_seen, bad[:3])

    # Conditions: ICD-10, SNOMED for hypertension and diabetes, removed findings left out.
    bad = []
    removed = {r[0] for r in con.execute("SELECT id FROM finding WHERE removed_at IS NOT NULL")}
    sct_seen = set()
    for c in nd["Condition"]:
        cod = {x["system"]: x["code"] for x in c["code"]["coding"]}
        icd = cod.get("http://hl7.org/fhir/sid/icd-10")
        sct = cod.get("http://snomed.info/sct")
        want_sct = "38341003" if icd == "I10" else "73211009" if icd.startswith("E11") else None
        if sct != want_sct or c["id"] in removed:
            bad.append(c)
        sct_seen.add(sct)
    check("Conditions: ICD-10, SNOMED 38341003 / 73211009, removed findings left out",
          not bad and {"38341003", "73211009"} <= sct_seen and removed, bad[:2])

    # ServiceRequests and MedicationDispenses.
    refs_db = {r["id"]: r for r in con.execute("SELECT * FROM referral")}
    st = {"referred": "active", "arrived": "completed", "cancelled": "revoked"}
    pr = {"routine": "routine", "soon": "urgent", "urgent": "asap"}
    bad = [s for s in nd["ServiceRequest"]
           if s["status"] != st[refs_db[s["id"]]["status"]] or
           s["priority"] != pr[refs_db[s["id"]]["urgency"]] or s["intent"] != "order"]
    check("ServiceRequests: status and priority from the referral", not bad, bad[:2])
    disp = {r[0] for r in con.execute("SELECT id FROM prescription WHERE state = 'dispensed'")}
    check("MedicationDispense for dispensed prescriptions only",
          {m["id"] for m in nd["MedicationDispense"]} == disp)
    prov = {r[0]: r[1] for r in con.execute(
        "SELECT id, observation_id FROM device_reading WHERE state = 'attached'")}
    check("Provenance of each attached device reading targets its Observation and a Device",
          all(prov.get(p["id"]) == p["target"][0]["reference"].split("/")[1] and
              p["agent"][0]["who"]["reference"].startswith("Device/") for p in nd["Provenance"]))

    # References resolve: inside the bundle (urn:uuid) and across the NDJSON files.
    full = {e["fullUrl"] for e in entries}
    dangling = [r for e in entries for r in refs(e["resource"], [])
                if not r.startswith("#") and r not in full]
    check("every Bundle reference is a fullUrl of the Bundle",
          not dangling and len(full) == len(entries), dangling[:5])
    known = {f"{t}/{r['id']}" for t, rs in nd.items() for r in rs}
    dangling = [r for rs in nd.values() for x in rs for r in refs(x, [])
                if not r.startswith("#") and r not in known]
    check("every NDJSON reference names a resource of the export", not dangling, dangling[:5])

    # Conditional creates.
    bad = []
    for e in entries:
        res, req = e["resource"], e["request"]
        if e["fullUrl"] != "urn:uuid:" + res["id"]:
            bad.append(("fullUrl", e["fullUrl"]))
        if res["resourceType"] == "Provenance":
            if req != {"method": "PUT", "url": "Provenance/" + res["id"]}:
                bad.append(req)
            continue
        m = re.fullmatch(r"identifier=([^|]+)\|(.+)", req.get("ifNoneExist", ""))
        if req["method"] != "POST" or req["url"] != res["resourceType"] or not m:
            bad.append(req)
            continue
        ids = {(i.get("system"), i["value"]) for i in res["identifier"]}
        if (m.group(1), m.group(2)) not in ids:
            bad.append(("key not an identifier", req, ids))
        if res["resourceType"] == "Patient":
            r = pats[res["id"]]
            want = (SYS_CCCD, r["cccd"]) if r["cccd"] else (SYS_CODE, r["code"])
            if (m.group(1), m.group(2)) != want:
                bad.append(("patient key", req, want))
        elif (m.group(1), m.group(2)) != ("urn:ietf:rfc:3986", "urn:uuid:" + res["id"]):
            bad.append(("uuid key", req))
    check("every entry is a conditional create on one of its identifiers (Patient: CCCD, else "
          "the mokit code); Provenance a PUT at its id", not bad, bad[:3])

    # The same export again gives the same bytes (stable ids, no clock in the output).
    out2 = os.path.join(work, "fhir-again")
    rc, so, err = mokit(build, data, "export", "--campaign", "DEMO-TAVAN", "--format", "fhir",
                        "--out", out2, "--system-cccd", SYS_CCCD, "--system-code", SYS_CODE)
    same = rc == 0 and all(open(os.path.join(out, f), "rb").read() ==
                           open(os.path.join(out2, f), "rb").read() for f in files)
    check("a second export of the same data is byte-identical", same, so + err)
    shutil.rmtree(out2, ignore_errors=True)

    audit = con.execute("SELECT after FROM audit WHERE action = 'export' AND entity = 'campaign' "
                        "ORDER BY seq DESC LIMIT 1").fetchone()
    check("the export leaves an audit row with its counts",
          audit and json.loads(audit[0]).get("resources", {}).get("Patient") == expect["Patient"],
          audit)
    con.close()
    return out, expect


def test_defaults_and_errors(build, data, work):
    rc, _, err = mokit(build, data, "campaign", "id-systems", "DEMO-TAVAN", "--clear")
    out = os.path.join(work, "fhir-defaults")
    rc, so, err = mokit(build, data, "export", "--campaign", "DEMO-TAVAN", "--format", "fhir",
                        "--out", out)
    ok = rc == 0
    if ok:
        systems = {i.get("system") for p in read_ndjson(out)["Patient"] for i in p["identifier"]}
        ok = systems == {"urn:mokit:id:patient-code", "urn:mokit:id:cccd", "urn:mokit:id:bhyt",
                         "urn:ietf:rfc:3986"}
    check("without systems named anywhere, mokit's default URNs", ok, so + err)

    rc, so, err = mokit(build, data, "export", "--campaign", "DEMO-TAVAN", "--format", "fhir",
                        "--out", out)
    check("an existing directory is never written over (exit 2)", rc == 2 and "exists" in err,
          (rc, err))
    rc, so, err = mokit(build, data, "export", "--campaign", "NO-SUCH", "--format", "fhir",
                        "--out", os.path.join(work, "x"))
    check("an unknown campaign: exit 2, nothing written",
          rc == 2 and not os.path.exists(os.path.join(work, "x")), (rc, err))
    rc, so, err = mokit(build, data, "export", "--campaign", "DEMO-TAVAN", "--format", "fhir",
                        "--out", os.path.join(work, "y"), "--system-cccd", "not a uri")
    check("a system that is not a URI: exit 2, nothing written",
          rc == 2 and not os.path.exists(os.path.join(work, "y")), (rc, err))
    shutil.rmtree(out, ignore_errors=True)


def test_broken(out, work):
    """A resource broken in a copy of the export: both validators must say so."""
    broken = os.path.join(work, "broken")
    shutil.copytree(out, broken)
    path = os.path.join(broken, "Observation.ndjson")
    with open(path, encoding="utf-8") as fh:
        lines = fh.readlines()
    o = json.loads(lines[3])
    o["status"] = "finalised"  # not a code of ObservationStatus
    lines[3] = json.dumps(o, ensure_ascii=False) + "\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(lines)
    v = validate(path)
    by = {e["validator"] for e in v["errors"]}
    check("a broken Observation (status 'finalised'): both validators report it",
          v["nerrors"] > 0 and by == {"fhir", "json-schema"} and
          all(e["where"] == "Observation.ndjson:4" for e in v["errors"]), v["errors"][:4])
    # Each catches what the other misses (field-notes §6): a missing status, a malformed date.
    p2 = os.path.join(broken, "two.ndjson")
    a = dict(json.loads(lines[5]))
    del a["status"]
    b = dict(json.loads(lines[6]))
    b["effectiveDateTime"] = "18/11/2026"
    with open(p2, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(a) + "\n" + json.dumps(b) + "\n")
    v = validate(p2)
    where = {(e["where"], e["validator"]) for e in v["errors"]}
    check("a missing status and a malformed date are caught (by one validator each)",
          ("two.ndjson:1", "fhir") in where and ("two.ndjson:2", "json-schema") in where,
          v["errors"][:4])
    with open(os.path.join(broken, "bundle.json"), encoding="utf-8") as fh:
        bundle = json.load(fh)
    for e in bundle["entry"]:
        if e["resource"]["resourceType"] == "Patient":
            e["resource"]["gender"] = "m"
            break
    with open(os.path.join(broken, "bundle.json"), "w", encoding="utf-8") as fh:
        json.dump(bundle, fh)
    v = validate(os.path.join(broken, "bundle.json"))
    check("a broken Patient inside the Bundle: both validators report it",
          {e["validator"] for e in v["errors"]} == {"fhir", "json-schema"}, v["errors"][:4])
    shutil.rmtree(broken, ignore_errors=True)


def main():
    if len(sys.argv) != 2:
        print("usage: tests/fhir/run.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    if not os.path.isdir(os.path.join(HERE, "node_modules")):
        print("not ok 1 - tests/fhir/node_modules missing: run `npm ci` in tests/fhir")
        return 1
    work = tempfile.mkdtemp(prefix="mokit-fhir-")
    try:
        data = os.path.join(work, "data")
        os.mkdir(data)
        seed.demo_seed(os.path.join(build, "mokit"), data, 160)
        seed.add_records(os.path.join(data, "mokit.db"), seed=11)
        r = test_export(build, data, work)
        if r:
            out, expect = r
            test_broken(out, work)
            test_defaults_and_errors(build, data, work)
            import push_tests
            push_tests.run(check, mokit, validate, build, data, work, expect)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"1..{N}")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
