"""The API suite's flows for the screening day's clinical work: flags on a visit, symptoms and
advice, findings, referrals, the medicine list and stock, prescriptions and dispensing (with two
phones dispensing the last box at once), queue calls, the dashboard's counts, sessions that end
after inactivity, and staff changes. app/doc/api.md is the contract.
"""

import datetime
import hashlib
import threading

import harness
from harness import Client
from flows import get, post, patch, new_patient, open_visit, wait_job, ROLE_PINS


def delete(suite, path, role):
    return suite.client.request("DELETE", path, token=suite.token(role))


def visit(suite, c, vid, role="doctor"):
    r = get(suite, "/api/v1/visits/" + vid, role)
    c.require_status(r, 200)
    return r.json


def flags_of(v):
    return {f["rule"]: f for f in v.get("flags", [])}


def adult_visit(suite, c, birth="1960", sex="female"):
    p = new_patient(suite, c, birth=birth, sex=sex)
    return p, open_visit(suite, c, p["code"])


def obs(suite, c, vid, body, role="nurse", status=201):
    r = post(suite, "/api/v1/visits/%s/observations" % vid, body, role)
    c.require_status(r, status)
    return r.json


def run_all(suite):
    for flow in (flow_flags, flow_findings, flow_referrals, flow_medicines, flow_dispense,
                 flow_concurrent_dispense, flow_queue, flow_dashboard, flow_sessions,
                 flow_web_files, flow_request_keys):
        flow(suite)


def flow_flags(suite):
    tap = suite.tap
    with tap.case("flags: one raised BP asks for a repeat; two are averaged; the why has the "
                  "numbers") as c:
        p, v = adult_visit(suite, c)
        got = visit(suite, c, v["id"])
        c.expect(got.get("flags") == [] and got.get("age") is not None and got["age"] >= 60,
                 "a new adult visit: %r %r" % (got.get("flags"), got.get("age")))
        c.expect(got.get("symptoms") is None and got.get("advice") is None and
                 got.get("findings") == [] and got.get("referrals") == [] and
                 got.get("prescriptions") == [], "records of a new visit: %r" % got)
        obs(suite, c, v["id"], {"code": "bp", "values": {"systolic": 152, "diastolic": 96}})
        f = flags_of(visit(suite, c, v["id"])).get("bp.raised")
        c.require(f is not None, "no bp.raised flag")
        c.expect(f["level"] == "repeat" and f["group"] == "bp" and "152" in f["why"] and
                 "96" in f["why"] and
                 f["message"]["vi"] and f["message"]["en"], "%r" % f)
        obs(suite, c, v["id"], {"code": "bp", "values": {"systolic": 148, "diastolic": 92}})
        f = flags_of(visit(suite, c, v["id"])).get("bp.raised")
        c.expect(f and f["level"] == "flag" and "150" in f["why"] and "94" in f["why"] and
                 "mean of 2" in f["why"], "mean of two: %r" % f)
    with tap.case("flags: urgent BP says so first; symptoms make 186/106 urgent; fasting glucose "
                  "and SpO2") as c:
        p, v = adult_visit(suite, c, sex="male")
        obs(suite, c, v["id"], {"code": "bp", "values": {"systolic": 205, "diastolic": 115}})
        fl = visit(suite, c, v["id"])["flags"]
        c.expect(fl and fl[0]["level"] == "urgent" and fl[0]["rule"] == "bp.urgent", "%r" % fl)
        p, v = adult_visit(suite, c)
        obs(suite, c, v["id"], {"code": "bp", "values": {"systolic": 185, "diastolic": 105}})
        obs(suite, c, v["id"], {"code": "bp", "values": {"systolic": 187, "diastolic": 107}})
        before = visit(suite, c, v["id"])["flags"]
        c.expect(before and before[0]["level"] == "flag", "186/106 without symptoms is raised, "
                 "not urgent: %r" % before)
        r = suite.client.request("PATCH", "/api/v1/visits/" + v["id"],
                                 {"symptoms": ["chest_pain"]}, token=suite.token("nurse"))
        c.require_status(r, 200)
        c.expect(r.json.get("symptoms") == ["chest_pain"], "%r" % r.json.get("symptoms"))
        fl = r.json.get("flags", [])
        c.expect(fl and fl[0]["level"] == "urgent", "with chest pain: %r" % fl)
        obs(suite, c, v["id"], {"code": "glucose", "value": 7.4, "fasting": True})
        obs(suite, c, v["id"], {"code": "spo2", "value": 92})
        got = visit(suite, c, v["id"])
        rules = flags_of(got)
        c.expect("glucose.fasting" in rules and "7.4" in rules["glucose.fasting"]["why"],
                 "fasting 7.4: %r" % list(rules))
        c.expect("spo2.low" in rules, "SpO2 92: %r" % list(rules))
        g = [o for o in got["observations"] if o["code"] == "glucose"]
        c.expect(g and g[0].get("fasting") is True, "glucose fasting %r" % g)
        c.expect(all("fasting" not in o for o in got["observations"] if o["code"] != "glucose"),
                 "fasting only on glucose")
    with tap.case("flags: a child is for the doctor's review, not adult thresholds") as c:
        year = datetime.date.today().year - 6
        p, v = adult_visit(suite, c, birth=str(year))
        obs(suite, c, v["id"], {"code": "bp", "values": {"systolic": 150, "diastolic": 95}})
        got = visit(suite, c, v["id"])
        rules = flags_of(got)
        c.expect("child.review" in rules and "bp.raised" not in rules, "%r" % list(rules))
        c.expect(got.get("age") in (5, 6), "age %r" % got.get("age"))
    with tap.case("PATCH /visits: symptoms checked, advice is the doctor's, unknown fields "
                  "refused; fasting only for glucose") as c:
        p, v = adult_visit(suite, c)
        path = "/api/v1/visits/" + v["id"]
        for body, role, status, field in (
                ({"symptoms": ["itchy"]}, "nurse", 400, "symptoms"),
                ({"symptoms": "chest_pain"}, "nurse", 400, "symptoms"),
                ({"queue_number": 3}, "nurse", 400, "queue_number"),
                ({"advice": "Ăn nhạt"}, "nurse", 403, None),
                ({"symptoms": []}, "registrar", 403, None),
                ({"symptoms": []}, "pharmacist", 403, None)):
            r = suite.client.request("PATCH", path, body, token=suite.token(role))
            c.status(r, status, field=field)
        r = suite.client.request("PATCH", path, {"advice": "  Ăn nhạt, tái khám sau 1 tháng ",
                                                 "symptoms": []}, token=suite.token("doctor"))
        c.require_status(r, 200)
        c.expect(r.json.get("advice") == "Ăn nhạt, tái khám sau 1 tháng" and
                 r.json.get("symptoms") == [], "%r" % r.json)
        r = suite.client.request("PATCH", path, {"advice": None}, token=suite.token("doctor"))
        c.expect(r.status == 200 and r.json.get("advice") is None, r.describe(200))
        obs(suite, c, v["id"], {"code": "bp", "values": {"systolic": 120, "diastolic": 80},
                                "fasting": True}, status=400)
        obs(suite, c, v["id"], {"code": "glucose", "value": 5.0, "fasting": "yes"}, status=400)
        c.status(suite.client.request("PATCH", "/api/v1/visits/no-such",
                                      {"symptoms": []}, token=suite.token("nurse")), 404)


def flow_findings(suite):
    tap = suite.tap
    with tap.case("conditions: search by code and by words in either language") as c:
        r = get(suite, "/api/v1/conditions?q=tang%20huyet%20ap&limit=5", "doctor")
        c.require_status(r, 200)
        codes = [x["code"] for x in r.json["conditions"]]
        c.expect("I10" in codes and len(codes) <= 5, "%r" % codes)
        r = get(suite, "/api/v1/conditions?q=e119", "nurse")
        c.expect(r.status == 200 and r.json["conditions"][0]["code"] == "E11.9",
                 r.describe(200))
        r = get(suite, "/api/v1/conditions?q=diab", "doctor")
        c.expect(any(x["code"].startswith("E11") for x in r.json["conditions"]),
                 "diab: %r" % r.json)
        r = get(suite, "/api/v1/conditions", "doctor")
        c.expect(r.status == 200 and len(r.json["conditions"]) == 50, "default limit 50")
        c.status(get(suite, "/api/v1/conditions?limit=0", "doctor"), 400, "invalid", "limit")
        r = get(suite, "/api/v1/conditions?q=zzzzqq", "doctor")
        c.expect(r.status == 200 and r.json["conditions"] == [], r.describe(200))
    with tap.case("findings: doctors record ICD-10 codes; an unlisted code needs its name; a "
                  "mistake is removed, not deleted") as c:
        p, v = adult_visit(suite, c)
        path = "/api/v1/visits/%s/findings" % v["id"]
        r = post(suite, path, {"code": "i10", "note": "mới phát hiện"}, "doctor")
        c.require_status(r, 201)
        f1 = r.json
        c.expect(f1["code"] == "I10" and f1["known"] is False and
                 f1["name"]["vi"].startswith("Tăng huyết áp") and f1["note"] == "mới phát hiện",
                 "%r" % f1)
        r = post(suite, path, {"code": "E11.9", "known": True}, "lead")
        c.require_status(r, 201)
        c.expect(r.json["known"] is True, "%r" % r.json)
        for body, role, status, field in (({"code": "M79.1"}, "doctor", 400, "label"),
                                          ({"code": "I1"}, "doctor", 400, "code"),
                                          ({"code": "10.1"}, "doctor", 400, "code"),
                                          ({}, "doctor", 400, "code"),
                                          ({"code": "I10"}, "nurse", 403, None),
                                          ({"code": "I10"}, "pharmacist", 403, None)):
            c.status(post(suite, path, body, role), status, field=field)
        r = post(suite, path, {"code": "m79.1", "label": "Đau cơ"}, "doctor")
        c.require_status(r, 201)
        c.expect(r.json["code"] == "M79.1" and r.json["label"] == "Đau cơ" and
                 r.json["name"] is None, "%r" % r.json)
        c.status(post(suite, "/api/v1/visits/no-such/findings", {"code": "I10"}, "doctor"), 404)
        r = delete(suite, "/api/v1/findings/" + f1["id"], "doctor")
        c.require_status(r, 200)
        c.expect(r.json.get("removed_at") and r.json.get("removed_by") == suite.vars["doctor_id"],
                 "%r" % r.json)
        c.status(delete(suite, "/api/v1/findings/" + f1["id"], "doctor"), 409, "conflict")
        c.status(delete(suite, "/api/v1/findings/" + f1["id"], "nurse"), 403)
        c.status(delete(suite, "/api/v1/findings/no-such", "doctor"), 404)
        codes = sorted(f["code"] for f in visit(suite, c, v["id"])["findings"])
        c.expect(codes == ["E11.9", "M79.1"], "listed findings %r" % codes)
        rows = harness.sqlite(suite.db, "select count(*) from finding where visit_id = %s"
                              % harness.sql_quote(v["id"]))
        c.expect(rows[0][0] == "3", "rows kept %r" % rows)
        audit = harness.sqlite(suite.db, "select action from audit where entity = 'finding' and "
                               "entity_id = %s order by seq" % harness.sql_quote(f1["id"]))
        c.expect([a[0] for a in audit] == ["create", "remove"], "audit %r" % audit)


def flow_referrals(suite):
    tap = suite.tap
    with tap.case("referral: recorded, its slip printed, then marked arrived") as c:
        p, v = adult_visit(suite, c)
        obs(suite, c, v["id"], {"code": "bp", "values": {"systolic": 176, "diastolic": 104}})
        r = post(suite, "/api/v1/visits/%s/referrals" % v["id"],
                 {"to": "Bệnh viện Đa khoa tỉnh Lào Cai", "reason": "Tăng huyết áp độ 2",
                  "urgency": "soon"}, "doctor")
        c.require_status(r, 201)
        ref = r.json
        job = (ref.get("print") or {}).get("job") or {}
        c.expect(ref["status"] == "referred" and ref["urgency"] == "soon" and
                 ref["to"] == "Bệnh viện Đa khoa tỉnh Lào Cai" and job.get("kind") == "slip" and
                 ref.get("job") == job.get("id"), "%r" % ref)
        done = wait_job(suite, job.get("id", ""))
        c.expect(done and done.get("state") == "done", "slip %r" % done)
        r = post(suite, "/api/v1/referrals/%s/status" % ref["id"], {"status": "arrived"},
                 "doctor")
        c.require_status(r, 200)
        c.expect(r.json["status"] == "arrived" and r.json["status_by"] == suite.vars["doctor_id"],
                 "%r" % r.json)
        r = get(suite, "/api/v1/referrals?status=arrived", "registrar")
        c.require_status(r, 200)
        mine = [x for x in r.json["referrals"] if x["id"] == ref["id"]]
        c.expect(mine and mine[0]["patient"]["code"] == p["code"] and
                 mine[0]["queue_number"] == v["queue_number"], "listed %r" % mine)
        r = get(suite, "/api/v1/referrals?status=referred", "registrar")
        c.expect(all(x["id"] != ref["id"] for x in r.json["referrals"]), "status filter")
        got = visit(suite, c, v["id"])
        c.expect([x["id"] for x in got["referrals"]] == [ref["id"]], "on the visit")
    with tap.case("referral: without printing; wrong bodies refused; doctors and leads only") as c:
        p, v = adult_visit(suite, c)
        path = "/api/v1/visits/%s/referrals" % v["id"]
        r = post(suite, path, {"to": "Trạm y tế xã", "reason": "Theo dõi đường huyết",
                               "print": False}, "lead")
        c.require_status(r, 201)
        c.expect(r.json["urgency"] == "routine" and r.json["job"] is None and
                 "print" not in r.json, "%r" % r.json)
        for body, role, status, field in (
                ({"to": "X", "reason": "Y", "urgency": "now"}, "doctor", 400, "urgency"),
                ({"reason": "Y"}, "doctor", 400, "to"),
                ({"to": "X"}, "doctor", 400, "reason"),
                ({"to": "x" * 301, "reason": "Y"}, "doctor", 400, "to"),
                ({"to": "X", "reason": "Y"}, "nurse", 403, None),
                ({"to": "X", "reason": "Y"}, "pharmacist", 403, None)):
            c.status(post(suite, path, body, role), status, field=field)
        c.status(post(suite, "/api/v1/referrals/no-such/status", {"status": "arrived"}, "doctor"),
                 404)
        c.status(post(suite, "/api/v1/referrals/%s/status" % r.json["id"], {"status": "lost"},
                      "doctor"), 400, field="status")
        c.status(get(suite, "/api/v1/referrals?status=lost", "doctor"), 400, field="status")


def medicine(suite, c, code, stock, name="Thuốc thử"):
    r = post(suite, "/api/v1/medicines", {"code": code, "name": name, "strength": "5 mg",
                                          "form": "viên nén", "unit": "viên", "stock": stock},
             "lead")
    c.require_status(r, 201)
    return r.json


def stock_of(suite, mid):
    r = get(suite, "/api/v1/medicines/" + mid, "pharmacist")
    return r.json.get("stock") if r.status == 200 else None


def ledger(suite, mid):
    rows = harness.sqlite(suite.db, "select coalesce(sum(change), 0) from stock_move where "
                          "medicine_id = %s" % harness.sql_quote(mid))
    return int(rows[0][0])


def flow_medicines(suite):
    tap = suite.tap
    with tap.case("medicine list: the demo's list; a lead adds one; codes unique; the code and "
                  "stock do not change by PATCH") as c:
        r = get(suite, "/api/v1/medicines", "nurse")
        c.require_status(r, 200)
        codes = [m["code"] for m in r.json["medicines"]]
        c.expect("AML5" in codes and "MET500" in codes, "demo list %r" % codes)
        m = medicine(suite, c, "TST-A", 50)
        c.expect(m["stock"] == 50 and m["active"] is True and m["dispensed"] == 0 and
                 m["campaign"] == "DEMO-TAVAN", "%r" % m)
        c.expect(ledger(suite, m["id"]) == 50, "first stock in the ledger")
        c.status(post(suite, "/api/v1/medicines", {"code": "TST-A", "name": "x", "unit": "viên"},
                      "lead"), 409, "exists", "code")
        for body, field in (({"code": "a b", "name": "x", "unit": "v"}, "code"),
                            ({"code": "TST-B", "unit": "v"}, "name"),
                            ({"code": "TST-B", "name": "x"}, "unit"),
                            ({"code": "TST-B", "name": "x", "unit": "v", "stock": -1}, "stock"),
                            ({"code": "TST-B", "name": "x", "unit": "v", "price": 1}, "price")):
            c.status(post(suite, "/api/v1/medicines", body, "lead"), 400, "invalid", field)
        c.status(post(suite, "/api/v1/medicines", {"code": "TST-C", "name": "x", "unit": "v"},
                      "pharmacist"), 403)
        path = "/api/v1/medicines/" + m["id"]
        c.status(patch(suite, path, {"code": "TST-Z"}), 400, field="code")
        c.status(patch(suite, path, {"stock": 5}), 400, field="stock")
        r = patch(suite, path, {"strength": "10 mg"})
        c.expect(r.status == 200 and r.json["strength"] == "10 mg" and r.json["stock"] == 50,
                 r.describe(200))
        r = patch(suite, path, {"form": ""})
        c.expect(r.status == 200 and r.json["form"] is None and r.json["strength"] == "10 mg",
                 "form cleared: " + r.describe(200))
        c.status(patch(suite, path, {"name": ""}), 400, "invalid", "name")
        c.status(suite.client.request("PATCH", path, {"name": "y"},
                                      token=suite.token("pharmacist")), 403)
    with tap.case("stock: received and corrected by the pharmacist; never below zero") as c:
        m = medicine(suite, c, "TST-S", 10)
        path = "/api/v1/medicines/%s/stock" % m["id"]
        r = post(suite, path, {"change": 25, "reason": "receive", "note": "từ kho bệnh viện"},
                 "pharmacist")
        c.expect(r.status == 200 and r.json["stock"] == 35, r.describe(200))
        r = post(suite, path, {"change": -5, "reason": "adjust", "note": "đếm lại"}, "pharmacist")
        c.expect(r.status == 200 and r.json["stock"] == 30, r.describe(200))
        r = post(suite, path, {"change": -31, "reason": "adjust"}, "pharmacist")
        c.expect(r.status == 409 and r.error_code() == "out_of_stock" and
                 r.json.get("medicine", {}).get("stock") == 30, r.describe(300))
        for body, field in (({"change": 0, "reason": "adjust"}, "change"),
                            ({"change": -1, "reason": "receive"}, "change"),
                            ({"change": 1.5, "reason": "receive"}, "change"),
                            ({"change": 1, "reason": "gift"}, "reason"),
                            ({"change": 1}, "reason")):
            c.status(post(suite, path, body, "pharmacist"), 400, "invalid", field)
        c.status(post(suite, path, {"change": 1, "reason": "receive"}, "nurse"), 403)
        c.status(post(suite, "/api/v1/medicines/no-such/stock",
                      {"change": 1, "reason": "receive"}, "lead"), 404)
        c.expect(stock_of(suite, m["id"]) == 30 and ledger(suite, m["id"]) == 30,
                 "stock %r, ledger %r" % (stock_of(suite, m["id"]), ledger(suite, m["id"])))


def prescribe(suite, c, vid, med, qty, role="doctor", status=201):
    r = post(suite, "/api/v1/visits/%s/prescriptions" % vid,
             {"medicine": med, "quantity": qty, "dosage": "1 viên/ngày"}, role)
    c.require_status(r, status)
    return r.json


def flow_dispense(suite):
    tap = suite.tap
    with tap.case("dispense: the prescription is given, stock goes down by its quantity") as c:
        a = medicine(suite, c, "TST-D1", 100)
        b = medicine(suite, c, "TST-D2", 40)
        p, v = adult_visit(suite, c)
        x1 = prescribe(suite, c, v["id"], "TST-D1", 30)
        x2 = prescribe(suite, c, v["id"], b["id"], 10)
        c.expect(x1["state"] == "prescribed" and x1["medicine"]["code"] == "TST-D1" and
                 x1["medicine"]["stock"] == 100, "%r" % x1)
        r = post(suite, "/api/v1/visits/%s/dispense" % v["id"], {}, "pharmacist")
        c.require_status(r, 200)
        c.expect(sorted(x["id"] for x in r.json["dispensed"]) == sorted([x1["id"], x2["id"]]) and
                 all(x["state"] == "dispensed" for x in r.json["dispensed"]), "%r" % r.json)
        stocks = {m["code"]: m["stock"] for m in r.json["medicines"]}
        c.expect(stocks == {"TST-D1": 70, "TST-D2": 30}, "stocks %r" % stocks)
        c.expect(stock_of(suite, a["id"]) == 70 and ledger(suite, a["id"]) == 70, "ledger")
        r = post(suite, "/api/v1/visits/%s/dispense" % v["id"], {}, "pharmacist")
        c.status(r, 400, "invalid")
        r = post(suite, "/api/v1/visits/%s/dispense" % v["id"], {"items": [x1["id"]]},
                 "pharmacist")
        c.expect(r.status == 409 and r.error_code() == "conflict" and
                 r.json.get("prescription", {}).get("id") == x1["id"], r.describe(300))
        c.status(delete(suite, "/api/v1/prescriptions/" + x1["id"], "doctor"), 409, "conflict")
        c.expect(stock_of(suite, a["id"]) == 70, "stock unchanged by refused requests")
        got = visit(suite, c, v["id"], "pharmacist")
        c.expect(all(x["state"] == "dispensed" and x["done_by"] == suite.vars["pharmacist_id"]
                     for x in got["prescriptions"]), "%r" % got["prescriptions"])
    with tap.case("dispense: all or nothing when one medicine is short; cancelled items are not "
                  "given") as c:
        a = medicine(suite, c, "TST-E1", 100)
        b = medicine(suite, c, "TST-E2", 5)
        p, v = adult_visit(suite, c)
        x1 = prescribe(suite, c, v["id"], "TST-E1", 20)
        x2 = prescribe(suite, c, v["id"], "TST-E2", 6)
        r = post(suite, "/api/v1/visits/%s/dispense" % v["id"], {}, "pharmacist")
        c.expect(r.status == 409 and r.error_code() == "out_of_stock" and
                 r.json.get("medicine", {}).get("code") == "TST-E2" and
                 r.json["medicine"].get("stock") == 5 and r.json["medicine"].get("needed") == 6
                 and "6 viên needed, 5 left" in r.json["error"]["message"], r.describe(300))
        # two items of one medicine: together more than there is, each alone not
        x3 = prescribe(suite, c, v["id"], "TST-E1", 90)
        r = post(suite, "/api/v1/visits/%s/dispense" % v["id"], {"items": [x1["id"], x3["id"]]},
                 "pharmacist")
        c.expect(r.status == 409 and r.json.get("medicine", {}).get("stock") == 100 and
                 r.json["medicine"].get("needed") == 110, "the stock as it is: " + r.describe(300))
        c.status(delete(suite, "/api/v1/prescriptions/" + x3["id"], "doctor"), 200)
        c.expect(stock_of(suite, a["id"]) == 100 and stock_of(suite, b["id"]) == 5,
                 "nothing dispensed")
        states = {x["id"]: x["state"] for x in visit(suite, c, v["id"])["prescriptions"]}
        c.expect(states == {x1["id"]: "prescribed", x2["id"]: "prescribed",
                           x3["id"]: "cancelled"}, "%r" % states)
        r = delete(suite, "/api/v1/prescriptions/" + x2["id"], "doctor")
        c.expect(r.status == 200 and r.json["state"] == "cancelled", r.describe(200))
        r = post(suite, "/api/v1/visits/%s/dispense" % v["id"], {}, "pharmacist")
        c.expect(r.status == 200 and [x["id"] for x in r.json["dispensed"]] == [x1["id"]],
                 r.describe(300))
        c.expect(stock_of(suite, a["id"]) == 80 and stock_of(suite, b["id"]) == 5, "stocks")
    with tap.case("prescriptions: checked against the campaign's list; roles") as c:
        m = medicine(suite, c, "TST-F", 10)
        p, v = adult_visit(suite, c)
        prescribe(suite, c, v["id"], "NO-SUCH", 1, status=400)
        prescribe(suite, c, v["id"], "TST-F", 0, status=400)
        prescribe(suite, c, v["id"], "TST-F", 1, role="nurse", status=403)
        prescribe(suite, c, v["id"], "TST-F", 1, role="pharmacist", status=403)
        x = prescribe(suite, c, v["id"], "TST-F", 2)
        r = patch(suite, "/api/v1/medicines/" + m["id"], {"active": False})
        c.expect(r.status == 200 and r.json["active"] is False, r.describe(200))
        r = post(suite, "/api/v1/visits/%s/prescriptions" % v["id"],
                 {"medicine": "TST-F", "quantity": 1}, "doctor")
        c.status(r, 400, "invalid", "medicine")
        r = get(suite, "/api/v1/medicines", "doctor")
        c.expect("TST-F" not in [y["code"] for y in r.json["medicines"]], "inactive hidden")
        r = get(suite, "/api/v1/medicines?all=1", "doctor")
        c.expect("TST-F" in [y["code"] for y in r.json["medicines"]], "all=1 lists it")
        # what was prescribed before can still be given
        r = post(suite, "/api/v1/visits/%s/dispense" % v["id"], {"items": [x["id"]]},
                 "pharmacist")
        c.expect(r.status == 200 and stock_of(suite, m["id"]) == 8, r.describe(200))
        c.status(post(suite, "/api/v1/visits/%s/dispense" % v["id"], {}, "nurse"), 403)
        c.status(post(suite, "/api/v1/visits/%s/dispense" % v["id"], {"items": "x"},
                      "pharmacist"), 400, field="items")
        c.status(post(suite, "/api/v1/visits/%s/dispense" % v["id"], {"items": ["nope"]},
                      "pharmacist"), 404)


def two_phones_dispense(suite, visit_ids):
    """Two phones, each its own connection, send POST /visits/{id}/dispense at the same moment
    (visit_ids[i] for phone i); returns both responses."""
    phones = [Client(suite.daemon.port, source=None) for _ in range(2)]
    suite.clients.extend(phones)
    token = suite.token("pharmacist")
    results = [None, None]
    barrier = threading.Barrier(2)

    def dispense(i):
        barrier.wait()
        results[i] = phones[i].request("POST", "/api/v1/visits/%s/dispense" % visit_ids[i], {},
                                       token=token)

    threads = [threading.Thread(target=dispense, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def flow_concurrent_dispense(suite):
    tap = suite.tap
    with tap.case("two phones dispense the last box at once: one succeeds, the other is told; "
                  "stock 0, never below") as c:
        m = medicine(suite, c, "TST-LAST", 1)
        visits = []
        for _ in range(2):
            p, v = adult_visit(suite, c)
            prescribe(suite, c, v["id"], "TST-LAST", 1)
            visits.append(v["id"])
        results = two_phones_dispense(suite, visits)
        statuses = sorted(r.status for r in results)
        c.expect(statuses == [200, 409], "statuses %r" % statuses)
        loser = [r for r in results if r.status == 409]
        c.expect(loser and loser[0].error_code() == "out_of_stock", "the other: %s"
                 % (loser[0].describe(300) if loser else None))
        c.expect(stock_of(suite, m["id"]) == 0 and ledger(suite, m["id"]) == 0,
                 "stock %r ledger %r" % (stock_of(suite, m["id"]), ledger(suite, m["id"])))
    with tap.case("two phones dispense the same prescription at once: given once") as c:
        m = medicine(suite, c, "TST-SAME", 10)
        p, v = adult_visit(suite, c)
        prescribe(suite, c, v["id"], "TST-SAME", 3)
        results = two_phones_dispense(suite, [v["id"], v["id"]])
        statuses = sorted(r.status for r in results)
        c.expect(statuses in ([200, 400], [200, 409]), "statuses %r" % statuses)
        c.expect(stock_of(suite, m["id"]) == 7, "stock %r" % stock_of(suite, m["id"]))


def flow_queue(suite):
    tap = suite.tap
    with tap.case("queue calls: next, recall and a number; the queue screen's numbers; audited")\
            as c:
        r = get(suite, "/api/v1/visits", "nurse")
        c.require_status(r, 200)
        numbers = sorted(v["queue_number"] for v in r.json["visits"])
        for bad in ("2026-13-01", "yesterday", "2026-1-1"):
            c.status(get(suite, "/api/v1/visits?day=" + bad, "nurse"), 400, "invalid", "day")
        r = get(suite, "/api/v1/visits?day=2001-01-01", "nurse")
        c.expect(r.status == 200 and r.json["visits"] == [], r.describe(200))
        c.require(len(numbers) >= 5, "need visits today: %r" % numbers)
        r = post(suite, "/api/v1/stations/pharmacy/call", {"recall": True}, "pharmacist")
        c.status(r, 409, "queue_empty")
        r = post(suite, "/api/v1/stations/pharmacy/call", {}, "pharmacist")
        c.require_status(r, 200)
        c.expect(r.json["queue_number"] == numbers[0] and r.json["recall"] is False and
                 r.json["station"] == "pharmacy", "%r" % r.json)
        r = post(suite, "/api/v1/stations/pharmacy/call", {"next": True}, "pharmacist")
        c.expect(r.status == 200 and r.json["queue_number"] == numbers[1], r.describe(200))
        r = post(suite, "/api/v1/stations/pharmacy/call", {"recall": True}, "pharmacist")
        c.expect(r.status == 200 and r.json["queue_number"] == numbers[1] and r.json["recall"],
                 r.describe(200))
        # someone urgent: number 4 out of turn; next then goes on with 3, and skips 4
        r = post(suite, "/api/v1/stations/pharmacy/call", {"queue_number": numbers[3]},
                 "registrar")
        c.expect(r.status == 200 and r.json["queue_number"] == numbers[3], r.describe(200))
        r = post(suite, "/api/v1/stations/pharmacy/call", {}, "pharmacist")
        c.expect(r.status == 200 and r.json["queue_number"] == numbers[2],
                 "the numbers before one called out of turn still come: " + r.describe(200))
        r = post(suite, "/api/v1/stations/pharmacy/call", {}, "pharmacist")
        c.expect(r.status == 200 and r.json["queue_number"] == numbers[4],
                 "a number called out of turn is not called again: " + r.describe(200))
        r = suite.client.request("GET", "/api/v1/queue")  # no token: for a TV
        c.require_status(r, 200)
        c.expect(set(r.json) == {"day", "last_number", "stations"} and
                 all(set(x) <= {"name", "role", "serving", "called_at", "waiting"}
                     for x in r.json["stations"]), "numbers only: %r" % r.json)
        ph = [s for s in r.json["stations"] if s["name"] == "pharmacy"][0]
        c.expect(ph["serving"] == numbers[4] and r.json["last_number"] == numbers[-1] and
                 ph["waiting"] == len(numbers) - 5, "%r" % r.json)
        for body, status in (({"next": True, "recall": True}, 400),
                             ({"queue_number": 0}, 400),
                             ({"queue_number": 99999}, 409)):
            c.status(post(suite, "/api/v1/stations/pharmacy/call", body, "pharmacist"), status)
        c.status(post(suite, "/api/v1/stations/nowhere/call", {}, "pharmacist"), 404)
        audit = harness.sqlite(suite.db, "select count(*) from audit where entity = 'queue_call'")
        c.expect(int(audit[0][0]) >= 5, "audited calls %r" % audit)


def flow_dashboard(suite):
    tap = suite.tap
    with tap.case("dashboard: today's counts agree with the visits, referrals and medicine "
                  "given") as c:
        r = get(suite, "/api/v1/dashboard?scope=today", "registrar")
        c.require_status(r, 200)
        d = r.json
        visits = get(suite, "/api/v1/visits", "registrar").json["visits"]
        codes = {v["patient"]["code"] for v in visits}
        c.expect(d["visits"] == len(visits) and d["residents"] == len(codes),
                 "visits %r/%r residents %r/%r" % (d["visits"], len(visits), d["residents"],
                                                   len(codes)))
        c.expect(d["by_sex"]["male"] + d["by_sex"]["female"] == d["residents"], "by sex")
        c.expect(sum(g["count"] for g in d["by_age"]) == d["residents"], "by age")
        c.expect(sum(e["count"] for e in d["by_ethnicity"]) == d["residents"], "by ethnicity")
        flagged = [v for v in visits if v["flag"] and v["flag"] != "info"]
        c.expect(d["flagged"]["visits"] == len(flagged), "flagged %r vs %r"
                 % (d["flagged"], len(flagged)))
        c.expect(d["flagged"]["urgent"] == len([v for v in visits if v["flag"] == "urgent"]),
                 "urgent")
        refs = [x for x in get(suite, "/api/v1/referrals", "registrar").json["referrals"]
                if x["day"] == d["day"] and x["status"] != "cancelled"]
        c.expect(d["referrals"]["total"] == len(refs) and d["referrals"]["arrived"] ==
                 len([x for x in refs if x["status"] == "arrived"]), "referrals %r" %
                 d["referrals"])
        c.expect(sum(d["referrals"]["by_urgency"].values()) == len(refs), "by urgency")
        meds = {m["code"]: m for m in d["medicines"]}
        c.expect(meds.get("TST-D1", {}).get("dispensed") == 30 and
                 meds["TST-D1"]["stock"] == 70 and meds.get("TST-E1", {}).get("dispensed") == 20
                 and meds.get("TST-LAST", {}).get("stock") == 0, "medicines %r" %
                 {k: v for k, v in meds.items() if k.startswith("TST")})
        conds = {x["code"]: x["count"] for x in d["conditions"]}
        c.expect(conds.get("E11.9", 0) >= 1 and conds.get("M79.1", 0) >= 1 and
                 "I10" not in conds, "conditions (a removed finding does not count) %r" % conds)
        c.expect(d["campaign"]["code"] == "DEMO-TAVAN" and d["scope"] == "day", "scope")
        r = get(suite, "/api/v1/dashboard?scope=campaign", "nurse")
        c.expect(r.status == 200 and r.json["visits"] >= d["visits"] and
                 r.json["day"] is None, r.describe(200))
        c.status(get(suite, "/api/v1/dashboard?scope=week", "nurse"), 400, field="scope")
        c.status(get(suite, "/api/v1/dashboard?scope=day&day=2026-13-01", "nurse"), 400,
                 field="day")
        r = get(suite, "/api/v1/dashboard?scope=day&day=2001-01-01", "nurse")
        c.expect(r.status == 200 and r.json["visits"] == 0 and r.json["residents"] == 0,
                 r.describe(200))


def login(suite, pin):
    r = suite.client.request("POST", "/api/v1/login", {"pin": pin})
    return r.json.get("token") if r.status == 200 else None


def flow_sessions(suite):
    tap = suite.tap
    with tap.case("a login unused for 30 minutes ends; one in use goes on; login says the idle "
                  "time") as c:
        r = suite.client.request("POST", "/api/v1/login", {"pin": ROLE_PINS["nurse"]})
        c.require_status(r, 200)
        c.expect(r.json.get("idle_timeout") == 1800, "idle_timeout %r" % r.json.get("idle_timeout"))
        idle, busy = r.json["token"], login(suite, ROLE_PINS["nurse"])
        c.status(suite.client.request("GET", "/api/v1/me", token=idle), 200)
        # 32 minutes pass for one of them (30 and the minute a use may go unnoted) (the table keeps the token's BLAKE2b hash only).
        harness.sqlite(suite.db, "PRAGMA busy_timeout = 5000; UPDATE session SET last_seen = "
                       "unixepoch() - 32 * 60 WHERE token_hash = %s" % harness.sql_quote(
                           hashlib.blake2b(idle.encode(), digest_size=32).hexdigest()))
        r = suite.client.request("GET", "/api/v1/me", token=idle)
        c.status(r, 401, "unauthorized")
        c.status(suite.client.request("GET", "/api/v1/me", token=busy), 200)
        c.status(suite.client.request("GET", "/api/v1/me", token=suite.token("nurse")), 200)
    with tap.case("an open event stream ends when its login does; the stream is not a use") as c:
        import time
        from devices import Events
        tok = login(suite, ROLE_PINS["nurse"])
        stream = Events(suite.daemon.port, tok)
        c.require(stream.status == 200, "stream %d" % stream.status)
        time.sleep(2.2)
        other = Events(suite.daemon.port, suite.token("registrar"))
        c.status(suite.client.request("POST", "/api/v1/logout", token=tok), 204)
        # an event wakes both streams: the logged-out one ends, the other goes on
        post(suite, "/api/v1/stations/registration/call", {"queue_number": 1}, "registrar")
        c.expect(other.wait(lambda e: e[1] == "call", 5), "the other stream got no call event")
        c.expect(stream.wait(lambda e: e[1] == "call", 1) is None,
                 "the logged-out stream still gets events")
        c.expect(other.thread.is_alive(), "the other stream ended")
        stream.close()
        other.close()
    with tap.case("a deactivated staff member is logged out at once; back to work needs a new "
                  "PIN") as c:
        r = post(suite, "/api/v1/staff", {"name": "Vũ Thị Thu", "role": "nurse", "pin": "70707"},
                 "lead")
        c.require_status(r, 201)
        sid = r.json["id"]
        tok = login(suite, "70707")
        c.status(suite.client.request("GET", "/api/v1/me", token=tok), 200)
        r = patch(suite, "/api/v1/staff/" + sid, {"active": False})
        c.expect(r.status == 200 and r.json["active"] in (0, False), r.describe(200))
        c.status(suite.client.request("GET", "/api/v1/me", token=tok), 401)
        c.expect(login(suite, "70707") is None, "an inactive PIN logs in")
        c.status(patch(suite, "/api/v1/staff/" + sid, {"active": True}), 400)
        c.status(patch(suite, "/api/v1/staff/" + sid, {"active": True, "pin": "9999"}), 409,
                 "pin_taken")
        r = patch(suite, "/api/v1/staff/" + sid, {"active": True, "pin": "71717"})
        c.expect(r.status == 200, r.describe(200))
        c.expect(login(suite, "71717") is not None and login(suite, "70707") is None,
                 "the new PIN works, the old does not")
        c.status(patch(suite, "/api/v1/staff/" + suite.vars["lead_id"], {"active": False}), 400)
        c.status(patch(suite, "/api/v1/staff/" + sid, {"role": "lead"}), 400, field="role")
        c.status(suite.client.request("PATCH", "/api/v1/staff/" + sid, {"active": False},
                                      token=suite.token("nurse")), 403)
        audit = harness.sqlite(suite.db, "select after from audit where entity = 'staff' and "
                               "entity_id = %s and action = 'update'" % harness.sql_quote(sid))
        c.expect(len(audit) == 2 and all("71717" not in a[0] and "argon" not in a[0]
                                         for a in audit), "audit %r" % audit)
    with tap.case("PATCH /campaigns: details change, the code never does") as c:
        r = patch(suite, "/api/v1/campaigns/DEMO-TAVAN", {"village": "Thôn Tả Van Mông",
                                                          "end_date": "2099-12-31"})
        c.expect(r.status == 200 and r.json["village"] == "Thôn Tả Van Mông" and
                 r.json["end_date"] == "2099-12-31" and r.json["code"] == "DEMO-TAVAN",
                 r.describe(200))
        r = patch(suite, "/api/v1/campaigns/DEMO-TAVAN", {"village": "", "end_date": ""})
        c.expect(r.status == 200 and r.json["village"] is None and r.json["end_date"] is None,
                 r.describe(200))
        c.status(patch(suite, "/api/v1/campaigns/DEMO-TAVAN", {"code": "X"}), 400, field="code")
        c.status(patch(suite, "/api/v1/campaigns/DEMO-TAVAN", {"end_date": "2000-01-01"}), 400)
        c.status(patch(suite, "/api/v1/campaigns/NOPE", {"name": "x"}), 404)
        c.status(suite.client.request("PATCH", "/api/v1/campaigns/DEMO-TAVAN", {"name": "x"},
                                      token=suite.token("doctor")), 403)


def flow_web_files(suite):
    """The UI's files: served from the web directory with an ETag and the security headers;
    nothing outside it, nothing through a symbolic link, no FIFO (it would hold the server's
    one thread), no hidden file; the real app/web's index is what `/` serves by default."""
    import os
    from harness import Daemon
    with suite.tap.case("web files: app/web at /, ETag and 304, CSP; no way out of the "
                        "directory") as c:
        page = Client(suite.daemon.port, keep_log=False)  # not JSON: out of the API's checks
        r = page.request("GET", "/")
        c.require_status(r, 200)
        body = r.body.decode("utf-8", "replace") if isinstance(r.body, bytes) else str(r.body)
        c.expect("<html" in body.lower() and "text/html" in (r.header("Content-Type") or ""),
                 "index: %s" % body[:200])
        csp = r.header("Content-Security-Policy") or ""
        c.expect("default-src 'self'" in csp and "script-src 'self'" in csp, "CSP %r" % csp)
        etag = r.header("ETag")
        c.require(etag, "no ETag")
        r = page.request("GET", "/", headers={"If-None-Match": "W/" + etag})
        c.expect(r.status == 304, "If-None-Match: %d" % r.status)
        r = page.request("GET", "/status")
        c.expect(r.status == 200 and "text/html" in (r.header("Content-Type") or ""),
                 "status page %d" % r.status)
        web = os.path.join(suite.tmp, "web")
        os.makedirs(os.path.join(web, "js"), exist_ok=True)
        secret = os.path.join(suite.tmp, "outside")
        os.makedirs(secret, exist_ok=True)
        with open(os.path.join(secret, "key.js"), "w") as f:
            f.write("SECRET")
        with open(os.path.join(web, "index.html"), "w") as f:
            f.write("<!doctype html><title>t</title>")
        with open(os.path.join(web, "js", "a.js"), "w") as f:
            f.write("export const a = 1;")
        with open(os.path.join(web, ".hidden.js"), "w") as f:
            f.write("SECRET")
        os.symlink(secret, os.path.join(web, "lnk"))
        os.symlink(os.path.join(secret, "key.js"), os.path.join(web, "js", "b.js"))
        os.mkfifo(os.path.join(web, "pipe.js"))
        d = Daemon(suite.build_dir, os.path.join(suite.tmp, "webdata"), demo=False,
                   log_path=os.path.join(suite.tmp, "web.log"), extra=("--web", web))
        d.start()
        try:
            cl = Client(d.port, keep_log=False)
            c.status(cl.request("GET", "/js/a.js"), 200)
            for path in ("/lnk/key.js", "/js/b.js", "/pipe.js", "/.hidden.js", "/js/%2e%2e/x.js",
                         "/x/../../outside/key.js", "/js//a.js", "/js/a.exe"):
                r = cl.request("GET", path)
                c.expect(r.status == 404 and b"SECRET" not in (r.body or b""),
                         "%s: %d" % (path, r.status))
            c.status(cl.request("POST", "/js/a.js", {}), 405)
            c.status(cl.request("GET", "/api/v1/health"), 200)
        finally:
            d.terminate()


def flow_request_keys(suite):
    tap = suite.tap
    with tap.case("Idempotency-Key: a write sent again gets its first answer, and is not done "
                  "twice") as c:
        p, v = adult_visit(suite, c)
        path = "/api/v1/visits/%s/observations" % v["id"]
        key = "k-" + "%030x" % suite.rng.getrandbits(120)
        body = {"code": "weight", "value": 58.5}
        first = suite.client.request("POST", path, body, token=suite.token("nurse"),
                                     headers={"Idempotency-Key": key})
        c.require_status(first, 201)
        again = suite.client.request("POST", path, body, token=suite.token("nurse"),
                                     headers={"Idempotency-Key": key})
        c.expect(again.status == 201 and again.json.get("id") == first.json["id"] and
                 again.header("Idempotent-Replayed") == "true", again.describe(200))
        obs_ids = [o["id"] for o in visit(suite, c, v["id"])["observations"]]
        c.expect(obs_ids == [first.json["id"]], "stored once: %r" % obs_ids)
        # the same key for another request, or by someone else: refused
        r = suite.client.request("POST", "/api/v1/visits/%s/findings" % v["id"],
                                 {"code": "I10"}, token=suite.token("doctor"),
                                 headers={"Idempotency-Key": key})
        c.status(r, 409, "conflict")
        r = suite.client.request("POST", path, body, token=suite.token("doctor"),
                                 headers={"Idempotency-Key": key})
        c.status(r, 409, "conflict")
        for bad in ("short", "x" * 65, "has space in it!!!"):
            r = suite.client.request("POST", path, body, token=suite.token("nurse"),
                                     headers={"Idempotency-Key": bad})
            c.status(r, 400, "invalid", "Idempotency-Key")
        # an error answer is kept too: the same 409 again, the stock still once
        m = medicine(suite, c, "TST-KEY", 10)
        x = prescribe(suite, c, v["id"], "TST-KEY", 4)
        key2 = "k-" + "%030x" % suite.rng.getrandbits(120)
        answers = [suite.client.request("POST", "/api/v1/visits/%s/dispense" % v["id"], {},
                                        token=suite.token("pharmacist"),
                                        headers={"Idempotency-Key": key2}) for _ in range(3)]
        c.expect([a.status for a in answers] == [200, 200, 200] and
                 all(a.json == answers[0].json for a in answers), "answers %r"
                 % [a.status for a in answers])
        c.expect(stock_of(suite, m["id"]) == 6, "dispensed once: stock %r" % stock_of(suite,
                                                                                    m["id"]))
        c.expect(x["id"] in [y["id"] for y in answers[0].json.get("dispensed", [])], "the item")
        # without a login, nothing is replayed
        r = suite.client.request("POST", path, body, headers={"Idempotency-Key": key})
        c.status(r, 401, "unauthorized")
