"""The API suite's flows: cases that need state across requests, written in Python.

Each flow prints its own TAP lines through suite.tap. Order matters only where noted: the
fixture patient comes first, the PIN lockout comes last (it runs from its own loopback address
as well, so that it cannot lock out the rest of the suite).
"""

import datetime
import os
import re
import socket
import subprocess
import time
import unicodedata
import urllib.parse
import urllib.request

import harness
from harness import Client, Daemon

ROLE_PINS = {"registrar": "1111", "nurse": "2222", "doctor": "3333", "pharmacist": "4444",
             "lead": "9999"}

# Search match classes, best first (api.md, GET /api/v1/patients).
RANK = {"code": 0, "cccd": 1, "bhyt": 1, "phone": 1, "exact": 2, "prefix": 3, "partial": 4,
        "filter": 5}

# Every error code api.md lists.
ERROR_CODES = {"bad_json", "invalid", "bad_code", "unauthorized", "wrong_pin", "forbidden",
               "not_found", "method_not_allowed", "duplicate", "likely_duplicate", "pin_taken",
               "exists", "no_campaign", "too_large", "out_of_range", "too_many_attempts",
               "busy", "storage_full", "internal", "conflict", "unavailable", "out_of_stock",
               "queue_empty"}
ERROR_STATUS = {"bad_json": 400, "invalid": 400, "bad_code": 400, "unauthorized": 401,
                "wrong_pin": 401, "forbidden": 403, "not_found": 404, "method_not_allowed": 405,
                "duplicate": 409, "likely_duplicate": 409, "pin_taken": 409, "exists": 409,
                "no_campaign": 409, "too_large": 413, "out_of_range": 422,
                "too_many_attempts": 429, "busy": 503, "storage_full": 507, "internal": 500,
                "conflict": 409, "unavailable": 503, "out_of_stock": 409, "queue_empty": 409}

# The contract's example registration (POST /api/v1/patients).
HUONG = {"name": "Nguyễn Thị Hương", "sex": "female", "birth": "1968-03-12",
         "ethnicity": "Kinh", "commune": "Tả Van", "village": "Thôn Tả Van Giáy 1",
         "cccd": "010168001234", "bhyt": "HN4010123456789", "phone": "0912345678",
         "consent": True, "confirm_new": False}

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TIME_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"


# --------------------------------------------------------------------------- helpers


def nfd(s):
    return unicodedata.normalize("NFD", s)


def fold(s):
    """The contract's folding: accents, case and đ removed, runs of other characters -> one
    space. Used to check that search results really match the way they say they do."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold().replace("đ", "d")
    return " ".join(re.sub(r"[\W_]+", " ", s).split())


def get(suite, path, role="registrar", client=None):
    return (client or suite.client).request("GET", path, token=suite.token(role))


def post(suite, path, body, role="registrar", client=None):
    return (client or suite.client).request("POST", path, body, token=suite.token(role))


def status_counts(suite, client=None):
    r = (client or suite.client).request("GET", "/api/v1/status")
    if r.status != 200 or not isinstance(r.json, dict):
        raise RuntimeError("GET /api/v1/status failed: " + r.describe())
    return r.json.get("counts", {})


def find(results, code):
    for i, r in enumerate(results):
        if r.get("code") == code:
            return i, r
    return None, None


def search(suite, c, params, role="registrar"):
    """GET /patients with params; checks 200, the shape and the rank order; returns results."""
    r = get(suite, "/api/v1/patients?" + urllib.parse.urlencode(params), role)
    c.require_status(r, 200)
    res = r.json.get("results") if isinstance(r.json, dict) else None
    c.require(isinstance(res, list), "no results array: " + r.describe())
    ranks = [RANK.get(x.get("match"), 99) for x in res]
    c.expect(all(k < 99 for k in ranks), "match classes %s: api.md lists only %s"
             % (sorted({str(x.get("match")) for x in res}), ", ".join(RANK)))
    c.expect(ranks == sorted(ranks), "results not ranked code > number > exact > prefix > "
             "partial: %s" % [x.get("match") for x in res])
    return res


def verify_name_labels(c, query, results):
    """Every name match says the truth: exact = same folded name, prefix = the name starts with
    the query, partial = every query word starts some word of the name."""
    fq = fold(query)
    for x in results:
        name, m = fold(x.get("name", "")), x.get("match")
        words = name.split()
        if m == "exact":
            c.expect(name == fq, "%r labelled exact for %r" % (x.get("name"), query))
        elif m == "prefix":
            c.expect(name.startswith(fq), "%r labelled prefix for %r" % (x.get("name"), query))
        elif m == "partial":
            c.expect(all(any(w.startswith(qw) for w in words) for qw in fq.split()),
                     "%r labelled partial for %r" % (x.get("name"), query))


def new_patient(suite, c, role="registrar", **extra):
    body = {"name": suite.new_name(), "sex": "female", "birth": "1982"}
    body.update(extra)
    r = suite.register(body, role)
    c.require_status(r, 201)
    return r.json


def open_visit(suite, c, code, role="registrar", expect=201, client=None):
    r = post(suite, "/api/v1/visits", {"patient": code}, role, client)
    c.require_status(r, expect)
    return r.json


def check_cookie(c, resp, token):
    cookies = [v for v in resp.headers_all("Set-Cookie") if v.startswith("mokit_session=")]
    if not c.expect(cookies, "no Set-Cookie mokit_session: %r" % resp.headers_all("Set-Cookie")):
        return
    parts = [p.strip() for p in cookies[0].split(";")]
    c.expect(parts[0] == "mokit_session=" + token, "cookie value is not the token: %r" % parts[0])
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip()
    want = {"path": "/", "httponly": "", "samesite": "Strict", "max-age": "43200"}
    for k, v in want.items():
        c.expect(k in attrs and attrs[k] == v, "cookie attribute %s=%r expected, cookie is %r"
                 % (k, v, cookies[0]))


# --------------------------------------------------------------------------- set-up flows


def login_roles(suite):
    """Logs in once per demo role and keeps the tokens (argon2id makes logins slow)."""
    tap, client = suite.tap, suite.client
    for role, pin in ROLE_PINS.items():
        with tap.case("login as %s (PIN %s) gives a token, the staff member and a session "
                      "cookie" % (role, pin)) as c:
            r = client.login(pin)
            c.require_status(r, 200)
            c.fields({"token": {"$re": "[0-9a-f]{64}"}, "expires_in": 43200,
                      "staff": {"id": {"$re": UUID_RE}, "name": {"$type": "string"}, "role": role,
                                "specialty": {"$any": [None, {"$type": "string"}]}}}, r.json)
            token = r.json.get("token")
            c.require(isinstance(token, str), "no token")
            client.tokens[role] = token
            client.staff[role] = r.json["staff"]
            check_cookie(c, r, token)
    with tap.case("logins as different roles give different tokens and staff ids") as c:
        c.expect(len(set(client.tokens.values())) == len(client.tokens), "tokens repeat")
        c.expect(len({s["id"] for s in client.staff.values()}) == len(client.staff), "ids repeat")
    r = client.request("GET", "/api/v1/status")
    if r.status == 200 and isinstance(r.json, dict) and isinstance(r.json.get("campaign"), dict):
        suite.vars["demo_campaign"] = r.json["campaign"]
        suite.vars["demo_commune"] = r.json["campaign"].get("commune")


def fixture_patient_and_visit(suite):
    """Registers the contract's example patient and opens a visit for her: ${code},
    ${patient_id}, ${visit_id} ... for the data cases."""
    tap = suite.tap
    with tap.case("register with every field (the contract's example) -> 201, every field "
                  "back, a valid code") as c:
        camp = suite.vars.get("demo_campaign") or {}
        r = suite.register(dict(HUONG))
        c.require_status(r, 201)
        p = r.json
        reg = suite.vars["registrar_id"]
        c.fields({"id": {"$re": UUID_RE}, "code": {"$re": "[0-9A-Z]{12}"},
                  "name": "Nguyễn Thị Hương", "sex": "female", "birth_date": "1968-03-12",
                  "birth_year": 1968, "ethnicity": "01", "ethnicity_name": "Kinh",
                  "province": camp.get("province"), "district": camp.get("district"),
                  "commune": "Tả Van", "village": "Thôn Tả Van Giáy 1", "address": None,
                  "cccd": "010168001234", "bhyt": "HN4010123456789", "phone": "0912345678",
                  "consent_at": {"$re": TIME_RE}, "consent_by": reg, "campaign": "DEMO-TAVAN",
                  "created_at": {"$re": TIME_RE}, "created_by": reg}, p)
        code = p.get("code", "")
        c.expect(harness.code_is_valid(code), "code %r fails the MOD 37-2 check" % code)
        c.expect(p.get("code_display") == "%s %s %s" % (code[:4], code[4:8], code[8:]),
                 "code_display %r is not the code in groups of 4" % p.get("code_display"))
        suite.vars.update({"code": code, "patient_id": p.get("id"), "patient_name": p.get("name"),
                           "patient": p})
    with tap.case("POST /visits for the new patient -> 201 with the next queue number") as c:
        before = status_counts(suite).get("visits_today")
        v = open_visit(suite, c, suite.vars["code"])
        c.fields({"id": {"$re": UUID_RE}, "patient": suite.vars["code"], "campaign": "DEMO-TAVAN",
                  "day": datetime.date.today().isoformat(), "queue_number": {"$type": "integer"},
                  "created_at": {"$re": TIME_RE}, "created_by": suite.vars["registrar_id"]}, v)
        # The demo kit has one campaign, so today's visits are all in its queue.
        c.expect(v.get("queue_number") == before + 1, "queue number %r after %r visits today"
                 % (v.get("queue_number"), before))
        suite.vars.update({"visit_id": v.get("id"), "visit_queue": v.get("queue_number")})


# --------------------------------------------------------------------------- flows


def run_all(suite):
    import clinic
    import devices
    for flow in (flow_nfc, flow_duplicate, flow_likely_duplicate, flow_search, flow_visits,
                 flow_observations, flow_campaigns, flow_staff, flow_printing, flow_slip,
                 devices.flow_devices, clinic.run_all, flow_logout,
                 flow_status,
                 flow_audit, flow_busy, flow_second_instance, flow_fresh_kit, flow_lockout):
        flow(suite)


def flow_nfc(suite):
    with suite.tap.case("a name and village sent in NFD are stored and returned in NFC") as c:
        body = {"name": nfd("Đặng Văn Bình"), "sex": "male", "birth": "1975",
                "village": nfd("Thôn Séo Mí Tả")}
        c.require(body["name"] != "Đặng Văn Bình", "test bug: NFD equals NFC")
        r = suite.register(body)
        c.require_status(r, 201)
        c.expect(r.json.get("name") == "Đặng Văn Bình", "name %r is not NFC" % r.json.get("name"))
        c.expect(r.json.get("village") == "Thôn Séo Mí Tả",
                 "village %r is not NFC" % r.json.get("village"))
        suite.vars["binh"] = r.json
        rows = harness.sqlite(suite.db, "select hex(name), hex(village) from patient where id = %s"
                              % harness.sql_quote(r.json.get("id")))
        c.require(len(rows) == 1, "patient not in the database: %r" % rows)
        c.expect(rows[0][0] == "Đặng Văn Bình".encode().hex().upper(),
                 "the stored name is not NFC UTF-8: %s" % rows[0][0])
        c.expect(rows[0][1] == "Thôn Séo Mí Tả".encode().hex().upper(),
                 "the stored village is not NFC UTF-8: %s" % rows[0][1])


def flow_duplicate(suite):
    tap = suite.tap
    huong = suite.vars.get("patient") or {}
    for field in ("cccd", "bhyt"):
        with tap.case("same %s as an existing patient -> 409 duplicate with that patient, "
                      "nothing created" % field.upper()) as c:
            c.require(huong, "no fixture patient")
            before = status_counts(suite)["patients"]
            r = post(suite, "/api/v1/patients", {"name": suite.new_name(), "sex": "male",
                                                 "birth": "1950", field: huong[field]})
            c.status(r, 409, "duplicate")
            c.fields({"patient": {"code": huong["code"], "id": huong["id"],
                                  "name": huong["name"]}}, r.json)
            c.expect(status_counts(suite)["patients"] == before, "patient count changed")
    with tap.case("confirm_new does not override a duplicate CCCD (409 duplicate)") as c:
        c.require(huong, "no fixture patient")
        before = status_counts(suite)["patients"]
        r = post(suite, "/api/v1/patients", {"name": suite.new_name(), "sex": "male",
                                             "birth": "1950", "cccd": huong["cccd"],
                                             "confirm_new": True})
        c.status(r, 409, "duplicate")
        c.fields({"patient": {"code": huong["code"]}}, r.json)
        c.expect(status_counts(suite)["patients"] == before, "patient count changed")


def flow_likely_duplicate(suite):
    tap = suite.tap
    commune = suite.vars.get("demo_commune")
    name = suite.new_name("Lò Thị Mây")
    first = {}
    with tap.case("register %s, born 1990 -> 201" % name) as c:
        first.update(new_patient(suite, c, name=name, birth="1990"))
    with tap.case("same name in NFD, birth year +1, same commune -> 409 likely_duplicate with "
                  "candidates, nothing created") as c:
        c.require(first, "first registration failed")
        before = status_counts(suite)["patients"]
        r = post(suite, "/api/v1/patients", {"name": nfd(name), "sex": "female",
                                             "birth": "1991", "commune": commune})
        c.require_status(r, 409, "likely_duplicate")
        cands = r.json.get("candidates")
        c.require(isinstance(cands, list), "no candidates array: " + r.describe())
        _, cand = find(cands, first["code"])
        c.expect(cand is not None, "candidates do not hold the first record %s: %s"
                 % (first["code"], r.describe()))
        if cand:
            c.fields({"name": name, "birth_year": 1990}, cand, "candidate")
        c.expect(status_counts(suite)["patients"] == before, "patient count changed")
    with tap.case("same name in capitals without accents, birth year -1 -> 409 "
                  "likely_duplicate") as c:
        r = post(suite, "/api/v1/patients", {"name": fold(name).upper(), "sex": "female",
                                             "birth": "1989"})
        c.status(r, 409, "likely_duplicate")
    with tap.case("the same again with confirm_new -> 201, a second record with another "
                  "code") as c:
        c.require(first, "first registration failed")
        before = status_counts(suite)["patients"]
        r = post(suite, "/api/v1/patients", {"name": nfd(name), "sex": "female",
                                             "birth": "1991", "commune": commune,
                                             "confirm_new": True})
        c.require_status(r, 201)
        c.expect(r.json.get("code") != first["code"], "same code as the first record")
        c.expect(harness.code_is_valid(r.json.get("code")), "invalid code %r" % r.json.get("code"))
        c.expect(r.json.get("name") == name, "name %r not NFC" % r.json.get("name"))
        c.expect(status_counts(suite)["patients"] == before + 1, "patient count not +1")
    with tap.case("birth years 3 apart are not a likely duplicate (201)") as c:
        r = post(suite, "/api/v1/patients", {"name": name, "sex": "female", "birth": "1987"})
        c.status(r, 201)
    with tap.case("another commune is not a likely duplicate (201)") as c:
        r = post(suite, "/api/v1/patients", {"name": name, "sex": "female", "birth": "1990",
                                             "commune": "Lao Chải"})
        c.status(r, 201)


def flow_search(suite):
    tap = suite.tap
    huong = suite.vars.get("patient") or {}
    binh = suite.vars.get("binh") or {}
    hc, bc = huong.get("code"), binh.get("code")

    with tap.case("q=nguyen thi h finds Nguyễn Thị Hương by prefix, ranked first") as c:
        c.require(hc and bc, "fixtures missing")
        res = search(suite, c, {"q": "nguyen thi h"})
        i, hit = find(res, hc)
        c.require(hit is not None, "Hương not found: %s" % [x.get("name") for x in res])
        c.expect(hit.get("match") == "prefix", "match %r, expected prefix" % hit.get("match"))
        # Only other names starting with "nguyen thi h" (demo residents) may tie with her.
        c.expect(all(x.get("match") == "prefix" for x in res[:i]),
                 "ranked below a better match: %s" % [(x.get("name"), x.get("match"))
                                                      for x in res[:i + 1]])
        c.expect(find(res, bc)[1] is None, "Đặng Văn Bình matched nguyen thi h")
        verify_name_labels(c, "nguyen thi h", res)
        c.fields({"id": huong["id"], "name": "Nguyễn Thị Hương", "sex": "female",
                  "birth_date": "1968-03-12", "birth_year": 1968, "commune": "Tả Van",
                  "village": "Thôn Tả Van Giáy 1"}, hit, "result")

    for q in ("Nguyễn Thị Hương", "nguyen thi huong", "NGUYEN THI HUONG"):
        with tap.case("q=%s (the whole name) gives match exact, first" % q) as c:
            c.require(hc, "fixture missing")
            res = search(suite, c, {"q": q})
            i, hit = find(res, hc)
            c.require(hit is not None, "Hương not found")
            c.expect(hit.get("match") == "exact", "match %r, expected exact" % hit.get("match"))
            c.expect(res[0].get("match") == "exact", "first result is %r" % res[0])
            verify_name_labels(c, q, res)

    for q in ("Nguyễn Thị Hương", "Đặng", "thị hương"):
        with tap.case("q=%s in NFD gives the same results as in NFC" % q) as c:
            a = search(suite, c, {"q": q})
            b = search(suite, c, {"q": nfd(q)})
            c.expect(len(a) > 0, "no results at all")
            c.expect([(x.get("code"), x.get("match")) for x in a] ==
                     [(x.get("code"), x.get("match")) for x in b],
                     "NFC %s vs NFD %s" % ([x.get("name") for x in a], [x.get("name") for x in b]))

    for q in ("dang", "ĐẶNG", "dang van b"):
        with tap.case("q=%s finds Đặng Văn Bình by prefix (đ folds to d)" % q) as c:
            c.require(bc, "fixture missing")
            res = search(suite, c, {"q": q})
            _, hit = find(res, bc)
            c.require(hit is not None, "Bình not found: %s" % [x.get("name") for x in res])
            c.expect(hit.get("match") == "prefix", "match %r" % hit.get("match"))
            verify_name_labels(c, q, res)

    for q in ("thi huong", "huong nguyen", "huong"):
        with tap.case("q=%s finds Nguyễn Thị Hương as partial (words in any order)" % q) as c:
            c.require(hc, "fixture missing")
            res = search(suite, c, {"q": q})
            _, hit = find(res, hc)
            c.require(hit is not None, "Hương not found: %s" % [x.get("name") for x in res])
            c.expect(hit.get("match") == "partial", "match %r" % hit.get("match"))
            verify_name_labels(c, q, res)

    with tap.case("q=uong does not find Hương (query words match the start of name words)") as c:
        res = search(suite, c, {"q": "uong"})
        c.expect(find(res, hc)[1] is None, "found by a word's middle")

    with tap.case("q=CODE finds the patient by code, first, match code") as c:
        c.require(hc, "fixture missing")
        res = search(suite, c, {"q": hc})
        c.require(res, "no results")
        c.fields({"code": hc, "match": "code"}, res[0], "first result")

    for field in ("cccd", "bhyt", "phone"):
        with tap.case("q=%s number finds the patient, match %s" % (field.upper(), field)) as c:
            c.require(hc, "fixture missing")
            res = search(suite, c, {"q": huong[field]})
            c.require(res, "no results")
            c.fields({"code": hc, "match": field}, res[0], "first result")

    with tap.case("birth_year filters: q=nguyen thi with 1968 finds Hương, with 1969 not") as c:
        c.require(hc, "fixture missing")
        res = search(suite, c, {"q": "nguyen thi", "birth_year": "1968"})
        c.expect(find(res, hc)[1] is not None, "Hương not found with birth_year=1968")
        c.expect(all(x.get("birth_year") == 1968 for x in res), "other years: %s"
                 % [x.get("birth_year") for x in res])
        res = search(suite, c, {"q": "nguyen thi", "birth_year": "1969"})
        c.expect(find(res, hc)[1] is None, "Hương found with birth_year=1969")
        c.expect(all(x.get("birth_year") == 1969 for x in res), "other years: %s"
                 % [x.get("birth_year") for x in res])

    with tap.case("a 4-digit year in q filters by birth year (q=nguyen thi 1968)") as c:
        res = search(suite, c, {"q": "nguyen thi 1968"})
        c.expect(find(res, hc)[1] is not None, "Hương not found")
        c.expect(all(x.get("birth_year") == 1968 for x in res), "other years: %s"
                 % [x.get("birth_year") for x in res])
        res = search(suite, c, {"q": "nguyen thi 1970"})
        c.expect(find(res, hc)[1] is None, "Hương found with 1970 in q")

    with tap.case("birth_year alone is a search (birth_year=1968 finds Hương)") as c:
        res = search(suite, c, {"birth_year": "1968"})
        c.expect(find(res, hc)[1] is not None, "Hương not found")
        c.expect(all(x.get("birth_year") == 1968 for x in res), "other years")

    with tap.case("village alone is a search (village=Thôn Tả Van Giáy 1 finds Hương)") as c:
        res = search(suite, c, {"village": "Thôn Tả Van Giáy 1"})
        c.expect(find(res, hc)[1] is not None, "Hương not found: %s" % res)
        c.expect(all(fold(x.get("village") or "").startswith(fold("Thôn Tả Van Giáy 1"))
                     for x in res), "other villages: %s" % [x.get("village") for x in res])

    with tap.case("limit=1 gives one result where there are more") as c:
        many = search(suite, c, {"q": "nguyen"})
        c.require(len(many) >= 2, "test needs 2 or more Nguyễn, found %d" % len(many))
        res = search(suite, c, {"q": "nguyen", "limit": "1"})
        c.expect(len(res) == 1, "%d results with limit=1" % len(res))

    with tap.case("without limit at most 20 results; limit=100 gives them all") as c:
        total = len(search(suite, c, {"q": "kiem thu", "limit": "100"}))
        while total < 22:  # generated names all start with "Kiểm Thử"
            new_patient(suite, c)
            total += 1
        c.expect(len(search(suite, c, {"q": "kiem thu"})) == 20, "default limit is not 20")
        c.expect(len(search(suite, c, {"q": "kiem thu", "limit": "100"})) == total,
                 "limit=100 did not give all %d" % total)

    with tap.case("count is the number of results") as c:
        r = get(suite, "/api/v1/patients?q=dang")
        c.require_status(r, 200)
        c.expect(r.json.get("count") == len(r.json.get("results", [])),
                 "count %r for %d results" % (r.json.get("count"), len(r.json.get("results", []))))


def today_max_queue(suite, campaign="DEMO-TAVAN"):
    rows = harness.sqlite(suite.db, "select coalesce(max(v.queue_number), 0) from visit v "
                          "join campaign c on c.id = v.campaign_id where c.code = %s and "
                          "v.day = %s" % (harness.sql_quote(campaign),
                                          harness.sql_quote(datetime.date.today().isoformat())))
    return int(rows[0][0])


def flow_visits(suite):
    tap = suite.tap
    made = []
    with tap.case("queue numbers of new visits go up by one per visit (n+1, n+2, n+3)") as c:
        m = today_max_queue(suite)
        for role in ("registrar", "nurse", "doctor"):
            p = new_patient(suite, c)
            v = open_visit(suite, c, p["code"], role)
            made.append((p, v))
        got = [v.get("queue_number") for _, v in made]
        c.expect(got == [m + 1, m + 2, m + 3], "queue numbers %s after %d" % (got, m))
    suite.vars["flow_visits"] = made
    with tap.case("a second POST /visits keeps the visit and its number; the next patient "
                  "gets the next number") as c:
        c.require(made, "no visits")
        p, v = made[0]
        again = open_visit(suite, c, p["code"], "nurse", expect=200)
        c.fields({"id": v["id"], "queue_number": v["queue_number"], "patient": p["code"],
                  "created_by": v["created_by"]}, again)
        p4 = new_patient(suite, c)
        v4 = open_visit(suite, c, p4["code"])
        c.expect(v4.get("queue_number") == made[-1][1]["queue_number"] + 1,
                 "next number %r after %r" % (v4.get("queue_number"), made[-1][1]["queue_number"]))
    with tap.case("GET /patients/{code} lists the patient's visit") as c:
        c.require(made, "no visits")
        p, v = made[0]
        r = get(suite, "/api/v1/patients/" + p["code"], "doctor")
        c.require_status(r, 200)
        visits = r.json.get("visits")
        c.require(isinstance(visits, list), "no visits array")
        c.expect([x.get("id") for x in visits] == [v["id"]], "visits %s" % visits)
        if visits:
            c.fields({"queue_number": v["queue_number"], "day": v["day"]}, visits[0], "visit")


def flow_observations(suite):
    tap = suite.tap
    made = suite.vars.get("flow_visits") or []
    with tap.case("readings show on GET /visits/{id} with their values; rejected ones do "
                  "not") as c:
        c.require(len(made) > 1, "no visit")
        p, v = made[1]
        path = "/api/v1/visits/%s/observations" % v["id"]
        before = status_counts(suite)["observations"]
        ok = []
        for body in ({"code": "bp", "values": {"systolic": 131, "diastolic": 85},
                      "note": "tay phải"},
                     {"code": "weight", "value": 61.5}, {"code": "spo2", "value": 97}):
            r = post(suite, path, body, "nurse")
            c.require_status(r, 201)
            ok.append(r.json)
        for body, status in (({"code": "spo2", "value": 101}, 422),
                             ({"code": "bp", "values": {"systolic": 300, "diastolic": 90}}, 422),
                             ({"code": "weight", "value": "61.5"}, 400)):
            c.status(post(suite, path, body, "nurse"), status)
        r = get(suite, "/api/v1/visits/" + v["id"], "doctor")
        c.require_status(r, 200)
        c.fields({"id": v["id"], "queue_number": v["queue_number"],
                  "patient": {"code": p["code"], "name": p["name"]}}, r.json)
        obs = r.json.get("observations")
        c.require(isinstance(obs, list), "no observations array")
        c.expect(sorted(o.get("id") for o in obs) == sorted(o.get("id") for o in ok),
                 "observations %s" % obs)
        by_code = {o.get("code"): o for o in obs}
        c.fields({"values": {"systolic": 131, "diastolic": 85}, "unit": "mm[Hg]",
                  "note": "tay phải", "taken_by": suite.vars["nurse_id"]},
                 by_code.get("bp"), "bp")
        w = by_code.get("weight") or {}
        # api.md shows "values" only for bp; a single reading may come back either way.
        c.expect((w.get("values") or {}).get("value") == 61.5 or w.get("value") == 61.5,
                 "weight 61.5 not found in %s" % w)
        c.fields({"unit": "kg"}, w, "weight")
        c.expect(status_counts(suite)["observations"] == before + 3, "observation count not +3")


def flow_campaigns(suite):
    with suite.tap.case("GET /campaigns lists the demo and the new campaign with all "
                        "fields") as c:
        r = get(suite, "/api/v1/campaigns", "nurse")
        c.require_status(r, 200)
        by_code = {x.get("code"): x for x in r.json.get("campaigns", [])}
        c.expect(set(by_code) >= {"DEMO-TAVAN", "LC-TAVAN-2026"}, "codes %s" % list(by_code))
        if "LC-TAVAN-2026" in by_code:
            c.fields({"id": {"$re": UUID_RE}, "name": "Khám sàng lọc xã Tả Van",
                      "province": "Lào Cai", "district": "Sa Pa", "commune": "Tả Van",
                      "village": None, "hospital": "Bệnh viện Đa khoa tỉnh Lào Cai",
                      "created_at": {"$re": TIME_RE}}, by_code["LC-TAVAN-2026"], "campaign")
        c.expect(r.json.get("current") == "DEMO-TAVAN", "current %r" % r.json.get("current"))


def flow_staff(suite):
    tap = suite.tap
    with tap.case("GET /staff lists every staff member with its fields and no PIN hash") as c:
        r = get(suite, "/api/v1/staff", "lead")
        c.require_status(r, 200)
        staff = r.json.get("staff")
        c.require(isinstance(staff, list), "no staff array")
        rows = harness.sqlite(suite.db, "select count(*) from staff")
        c.expect(len(staff) == int(rows[0][0]), "%d listed, %s in the database"
                 % (len(staff), rows[0][0]))
        for s in staff:
            c.fields({"id": {"$re": UUID_RE}, "name": {"$type": "string"},
                      "role": {"$re": "registrar|nurse|doctor|pharmacist|lead"},
                      "specialty": {"$any": [None, {"$type": "string"}]},
                      "active": {"$type": "integer"}, "created_at": {"$type": "string"},
                      "pin": {"$absent": True}, "pin_hash": {"$absent": True},
                      "pin_tag": {"$absent": True}}, s, "staff")
        ids = {s.get("id") for s in staff}
        c.expect(all(s["id"] in ids for s in suite.client.staff.values()),
                 "a demo staff member is missing")
    with tap.case("staff added through the API can log in with their PIN") as c:
        r = suite.client.login("2468")
        c.require_status(r, 200)
        c.fields({"staff": {"name": "Lê Thị Hoa", "role": "nurse", "specialty": None}}, r.json)
        c.expect(r.json["staff"]["id"] != suite.vars["nurse_id"], "logged in as the demo nurse")
        r = suite.client.login("13572468")
        c.require_status(r, 200)
        c.fields({"staff": {"name": "Phạm Văn Đức", "role": "doctor", "specialty": "Nội khoa"}},
                 r.json)
        suite.vars["new_doctor_token"] = r.json.get("token")


def flow_logout(suite):
    tap, client = suite.tap, suite.client
    with tap.case("logout -> 204; that token (bearer or cookie) stops working, others "
                  "do not") as c:
        r = client.login("2222")
        c.require_status(r, 200)
        tok = r.json["token"]
        c.status(client.request("GET", "/api/v1/me", token=tok), 200)
        r = client.request("POST", "/api/v1/logout", token=tok)
        c.status(r, 204)
        c.expect(r.body == b"", "204 with a body: %r" % r.body[:100])
        c.status(client.request("GET", "/api/v1/me", token=tok), 401, "unauthorized")
        c.status(client.request("GET", "/api/v1/me",
                                headers={"Cookie": "mokit_session=" + tok}), 401, "unauthorized")
        c.status(client.request("POST", "/api/v1/logout", token=tok), 401, "unauthorized")
        c.status(client.request("GET", "/api/v1/me", token=suite.token("nurse")), 200)
    with tap.case("logout with the session cookie -> 204 and the cookie stops working") as c:
        r = client.login("3333")
        c.require_status(r, 200)
        cookie = {"Cookie": "mokit_session=" + r.json["token"]}
        c.status(client.request("POST", "/api/v1/logout", headers=cookie), 204)
        c.status(client.request("GET", "/api/v1/me", headers=cookie), 401, "unauthorized")


def flow_status(suite):
    tap = suite.tap
    with tap.case("status counts match the database") as c:
        r = suite.client.request("GET", "/api/v1/status")
        c.require_status(r, 200)
        counts = r.json.get("counts", {})
        today = harness.sql_quote(datetime.date.today().isoformat())
        for key, sql in (("patients", "select count(*) from patient"),
                         ("visits", "select count(*) from visit"),
                         ("visits_today", "select count(*) from visit where day = " + today),
                         ("observations", "select count(*) from observation"),
                         ("staff", "select count(*) from staff where active")):
            want = int(harness.sqlite(suite.db, sql)[0][0])
            c.expect(counts.get(key) == want, "%s: %r, database has %d" % (key, counts.get(key),
                                                                           want))
    with tap.case("status shows no personal data") as c:
        r = suite.client.request("GET", "/api/v1/status")
        c.require_status(r, 200)
        text = r.body.decode("utf-8")
        huong = suite.vars.get("patient") or {}
        for k in ("name", "code", "cccd", "bhyt", "phone", "id"):
            if huong.get(k):
                c.expect(huong[k] not in text, "status shows the patient's %s" % k)
        for s in suite.client.staff.values():
            c.expect(s["name"] not in text, "status shows staff name %s" % s["name"])


def flow_audit(suite):
    tap = suite.tap
    db = suite.db

    def rows_for(entity_id):
        # Logins are left out: a login row about a staff member names that member, not the lead.
        return harness.sqlite(db, "select staff_id, actor, action, entity, after from audit "
                              "where entity_id = %s and action not like '%%login%%' and action "
                              "not like '%%logout%%' order by seq" % harness.sql_quote(entity_id))

    def check_rows(c, what, entity_id, staff_id, entity):
        rows = rows_for(entity_id)
        c.expect(rows, "no audit row for %s %s" % (what, entity_id))
        for staff, actor, action, ent, after in rows:
            c.expect(staff == staff_id, "%s audit staff_id %r, expected %r" % (what, staff,
                                                                             staff_id))
            c.expect(staff_id in actor, "%s audit actor %r does not name the staff member"
                     % (what, actor))
            c.expect(ent == entity, "%s audit entity %r, expected %r" % (what, ent, entity))
        return rows

    with tap.case("audit: the registration is logged with the registrar and the record") as c:
        p = suite.vars.get("patient")
        c.require(p, "no fixture patient")
        rows = check_rows(c, "patient", p["id"], suite.vars["registrar_id"], "patient")
        if rows:
            c.expect(p["code"] in rows[0][4], "audit 'after' lacks the code: %r" % rows[0][4][:200])
            c.expect(rows[0][2] == "create", "action %r" % rows[0][2])
    with tap.case("audit: visit, reading, campaign and staff changes name their staff "
                  "member") as c:
        check_rows(c, "visit", suite.vars["visit_id"], suite.vars["registrar_id"], "visit")
        made = suite.vars.get("flow_visits") or []
        if made:
            obs = harness.sqlite(db, "select id from observation where visit_id = %s"
                                 % harness.sql_quote(made[1][1]["id"]))
            c.expect(obs, "no observations stored")
            for (oid,) in obs:
                check_rows(c, "observation", oid, suite.vars["nurse_id"], "observation")
        camp = harness.sqlite(db, "select id from campaign where code = 'LC-TAVAN-2026'")
        c.expect(camp, "campaign LC-TAVAN-2026 not stored")
        if camp:
            check_rows(c, "campaign", camp[0][0], suite.vars["lead_id"], "campaign")
        staff = harness.sqlite(db, "select id from staff where name = 'Phạm Văn Đức'")
        c.expect(staff, "staff added through the API not stored")
        if staff:
            check_rows(c, "staff", staff[0][0], suite.vars["lead_id"], "staff")
    with tap.case("audit: logins are logged with the staff member") as c:
        rows = harness.sqlite(db, "select count(*) from audit where action like '%%login%%' and "
                              "staff_id = %s" % harness.sql_quote(suite.vars["registrar_id"]))
        c.expect(int(rows[0][0]) >= 1, "no login audit row for the registrar")
    with tap.case("audit: no PIN, PIN hash or session token is written there") as c:
        text = "\n".join("%s %s" % (r[0], r[1]) for r in
                         harness.sqlite(db, "select coalesce(before, ''), coalesce(after, '') "
                                        "from audit"))
        c.expect(text, "audit is empty")
        c.expect('"pin"' not in text, "a \"pin\" field is in the audit log")
        c.expect("13572468" not in text, "a PIN set through the API is in the audit log")
        # A 4-8 digit PIN's argon2 hash is as good as the PIN (10^4 guesses), so no hash either.
        c.expect("$argon2" not in text, "a PIN hash is in the audit log")
        for role, tok in suite.client.tokens.items():
            c.expect(tok not in text, "the %s's session token is in the audit log" % role)


def flow_busy(suite):
    """Another process holds the database's write lock (the sqlite3 tool in a transaction):
    reads go on (WAL), a write waits for mokitd's busy timeout and then gets 503 busy."""
    with suite.tap.case("while another process holds the write lock: reads work, a "
                        "registration -> 503 busy and nothing is created; after it, 201") as c:
        code = suite.vars.get("code")
        c.require(code, "no fixture patient")
        # Its own client: the deliberate 503 must not count in the final "no 5xx" check.
        client = Client(suite.daemon.port, timeout=60, keep_log=False)
        tok = suite.token("registrar")
        body = {"name": suite.new_name(), "sex": "male", "birth": "1977"}
        before = status_counts(suite)["patients"]
        lock = subprocess.Popen(["sqlite3", suite.db], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            lock.stdin.write("BEGIN IMMEDIATE;\nSELECT 'locked';\n")
            lock.stdin.flush()
            c.require(lock.stdout.readline().strip() == "locked", "sqlite3 could not lock")
            c.status(client.request("GET", "/api/v1/patients/" + code, token=tok), 200)
            r = client.request("POST", "/api/v1/patients", body, token=tok)
            c.status(r, 503, "busy")
            c.expect(isinstance(r.json, dict) and isinstance(r.json.get("error"), dict) and
                     r.json["error"].get("message"), "no error message: " + r.describe())
        finally:
            lock.communicate("ROLLBACK;\n", timeout=10)
        c.expect(status_counts(suite)["patients"] == before, "a patient was created")
        c.status(client.request("POST", "/api/v1/patients", body, token=tok), 201)


def flow_second_instance(suite):
    with suite.tap.case("a second mokitd on the same data directory refuses to start") as c:
        other = Daemon(suite.build_dir, suite.daemon.data_dir, demo=True,
                       log_path=os.path.join(suite.tmp, "second.log"))
        other.spawn()
        try:
            other.proc.wait(10)
        except subprocess.TimeoutExpired:
            other.kill()
            c.require(False, "the second mokitd was still running after 10 s")
        c.expect(other.proc.returncode != 0, "the second mokitd exited with 0")
        with open(other.log_path, encoding="utf-8", errors="replace") as f:
            lines = [x for x in f.read().splitlines() if not x.startswith("--- start")]
        c.expect(lines, "no message on stderr")
        c.status(suite.client.request("GET", "/api/v1/health"), 200)


def flow_fresh_kit(suite):
    """A kit without --demo: staff from the CLI, no campaign at first. Covers no_campaign, the
    current-campaign rule, fields taken from the campaign, and queue numbers 1, 2, 3."""
    tap = suite.tap
    data = os.path.join(suite.tmp, "fresh")
    kit = Daemon(suite.build_dir, data, demo=False)
    with tap.case("fresh kit: staff added with the CLI, mokitd starts without --demo") as c:
        for name, role, pin in (("Hà Văn Trưởng", "lead", "9999"),
                                ("Lù Thị Tiếp", "registrar", "1111")):
            out = harness.cli(suite.build_dir, data, "staff", "add", "--name", name,
                              "--role", role, "--pin", pin)
            c.require(out.returncode == 0, "mokit staff add: exit %d: %s"
                      % (out.returncode, out.stderr.strip()))
        kit.start(timeout=10)
    if not kit.alive():
        return
    client = Client(kit.port)
    suite.clients.append(client)
    saved = suite.client
    suite.client = client  # so that suite.token() and status_counts() use this kit
    try:
        _fresh_kit_cases(suite, kit, client)
    finally:
        suite.client = saved
        with tap.case("fresh kit: SIGTERM stops mokitd with status 0") as c:
            rc = kit.terminate()
            c.expect(rc == 0, "exit status %r\n%s" % (rc, kit.log_tail()))


def _fresh_kit_cases(suite, kit, client):
    tap = suite.tap
    today = datetime.date.today()
    fut = (today + datetime.timedelta(days=30)).isoformat()
    with tap.case("fresh kit: login as lead and registrar") as c:
        for role, pin in (("lead", "9999"), ("registrar", "1111")):
            r = client.login(pin)
            c.require_status(r, 200)
            c.expect(r.json["staff"]["role"] == role, "role %r" % r.json["staff"]["role"])
            client.tokens[role] = r.json["token"]
    with tap.case("fresh kit: status and campaigns say there is no current campaign") as c:
        r = client.request("GET", "/api/v1/status")
        c.require_status(r, 200)
        c.fields({"campaign": None, "counts": {"patients": 0, "visits": 0, "staff": 2}}, r.json)
        r = get(suite, "/api/v1/campaigns", client=client)
        c.require_status(r, 200)
        c.fields({"campaigns": [], "current": None}, r.json)
    with tap.case("fresh kit: registering without a campaign -> 409 no_campaign, nothing "
                  "created") as c:
        r = post(suite, "/api/v1/patients", {"name": "Lù Văn Một", "sex": "male",
                                             "birth": "1970"}, client=client)
        c.status(r, 409, "no_campaign")
        c.expect(status_counts(suite)["patients"] == 0, "a patient was created")
    fut_patient = {}
    with tap.case("fresh kit: a campaign starting later is not current; registering into it "
                  "by code works") as c:
        r = post(suite, "/api/v1/campaigns", {"code": "FUT", "name": "Sắp tới",
                                              "start_date": fut}, "lead", client)
        c.require_status(r, 201)
        r = get(suite, "/api/v1/campaigns", client=client)
        c.fields({"current": None}, r.json)
        r = post(suite, "/api/v1/patients", {"name": "Lù Văn Một", "sex": "male",
                                             "birth": "1970", "campaign": "FUT"}, client=client)
        c.require_status(r, 201)
        c.fields({"campaign": "FUT"}, r.json)
        fut_patient.update(r.json)
    with tap.case("fresh kit: POST /visits without a current campaign -> 409 no_campaign") as c:
        c.require(fut_patient, "no patient")
        c.status(post(suite, "/api/v1/visits", {"patient": fut_patient["code"]}, client=client),
                 409, "no_campaign")
        c.expect(status_counts(suite)["visits"] == 0, "a visit was created")
    with tap.case("fresh kit: a campaign without start_date becomes current") as c:
        r = post(suite, "/api/v1/campaigns", {"code": "NODATE", "name": "Không ngày"},
                 "lead", client)
        c.require_status(r, 201)
        c.fields({"current": "NODATE"}, get(suite, "/api/v1/campaigns", client=client).json)
    with tap.case("fresh kit: a newer campaign starting today becomes current") as c:
        r = post(suite, "/api/v1/campaigns",
                 {"code": "LC-LAOCHAI", "name": "Khám xã Lao Chải", "province": "Lào Cai",
                  "district": "Sa Pa", "commune": "Lao Chải", "start_date": today.isoformat()},
                 "lead", client)
        c.require_status(r, 201)
        c.fields({"current": "LC-LAOCHAI"}, get(suite, "/api/v1/campaigns", client=client).json)
        c.fields({"campaign": {"code": "LC-LAOCHAI"}}, client.request("GET", "/api/v1/status").json)
    with tap.case("fresh kit: province, district and commune come from the current campaign "
                  "when missing") as c:
        r = post(suite, "/api/v1/patients", {"name": "Lù Văn Hai", "sex": "male",
                                             "birth": "1971"}, client=client)
        c.require_status(r, 201)
        c.fields({"campaign": "LC-LAOCHAI", "province": "Lào Cai", "district": "Sa Pa",
                  "commune": "Lao Chải"}, r.json)
    with tap.case("fresh kit: the first visits of the day get queue numbers 1, 2, 3; a "
                  "second scan keeps its number") as c:
        visits = []
        for i, name in enumerate(("Lù Văn Ba", "Lù Thị Bốn", "Lù Văn Năm")):
            r = post(suite, "/api/v1/patients", {"name": name, "sex": "male", "birth": "1980"},
                     client=client)
            c.require_status(r, 201)
            visits.append(open_visit(suite, c, r.json["code"], client=client))
        c.expect([v.get("queue_number") for v in visits] == [1, 2, 3],
                 "queue numbers %s" % [v.get("queue_number") for v in visits])
        c.expect(all(v.get("campaign") == "LC-LAOCHAI" for v in visits), "not in LC-LAOCHAI")
        again = open_visit(suite, c, visits[1]["patient"], expect=200, client=client)
        c.fields({"id": visits[1]["id"], "queue_number": 2}, again)
        v = open_visit(suite, c, fut_patient["code"], client=client)
        c.expect(v.get("queue_number") == 4, "next number %r, expected 4" % v.get("queue_number"))


def loopback_alias():
    """Another loopback address to log in from (Linux routes all of 127/8 to lo), so that the
    lockout cannot spill over onto the rest of the suite. None when it does not work."""
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
        return ("127.0.0.2", 0)
    except OSError:
        return None


def flow_lockout(suite):
    """Last: wrong PINs lock out the peer address (2 s, then 4 s, ...)."""
    tap = suite.tap
    alias = loopback_alias()
    if alias is None:
        tap.diag("127.0.0.2 is not usable: the lockout runs from 127.0.0.1")
    client = Client(suite.daemon.port, source=alias)
    suite.clients.append(client)
    wait = {}
    with tap.case("5 wrong PINs -> 401 wrong_pin each; the 6th -> 429 too_many_attempts with "
                  "Retry-After 1-2 s") as c:
        for i in range(5):
            c.require_status(client.login("00%02d" % i), 401, "wrong_pin")
        r = client.login("0099")
        c.require_status(r, 429, "too_many_attempts")
        ra = r.header("Retry-After")
        c.require(ra is not None and ra.isdigit(), "Retry-After missing or not seconds: %r" % ra)
        c.expect(1 <= int(ra) <= 2, "Retry-After %s, expected 2 s" % ra)
        wait["first"] = int(ra)
    with tap.case("during the lockout the right PIN is refused too (429)") as c:
        c.require(wait, "no lockout")
        c.status(client.login("1111"), 429, "too_many_attempts")
    if alias is not None:
        with tap.case("another address is not locked out") as c:
            c.status(suite.client.login("1111"), 200)
    with tap.case("after Retry-After another wrong PIN is answered (401), then the wait "
                  "doubles (Retry-After 3-4 s)") as c:
        c.require(wait, "no lockout")
        time.sleep(wait["first"] + 0.2)
        c.require_status(client.login("0098"), 401, "wrong_pin")
        r = client.login("0097")
        c.require_status(r, 429, "too_many_attempts")
        ra = r.header("Retry-After")
        c.require(ra is not None and ra.isdigit(), "Retry-After missing: %r" % ra)
        c.expect(3 <= int(ra) <= 4, "Retry-After %s, expected 4 s" % ra)
        wait["second"] = int(ra)
    with tap.case("after the wait the right PIN logs in but does not clear the count: the next "
                  "wrong PIN is answered (401), then the wait doubles again (Retry-After 7-8 s)") as c:
        # Clearing on success would let a staff member interleave their own PIN between guesses
        # at colleagues' PINs and never be slowed down.
        c.require("second" in wait, "no second lockout")
        time.sleep(wait["second"] + 0.2)
        c.require_status(client.login("1111"), 200)
        c.require_status(client.login("0096"), 401, "wrong_pin")
        r = client.login("0095")
        c.require_status(r, 429, "too_many_attempts")
        ra = r.header("Retry-After")
        c.expect(ra is not None and ra.isdigit() and 7 <= int(ra) <= 8,
                 "Retry-After %r, expected 8 s" % ra)


# --------------------------------------------------------------------------- final checks


def final_checks(suite):
    tap = suite.tap
    logs = [r for cl in suite.clients for r in cl.log]
    with tap.case("no response was a 5xx (%d requests)" % len(logs)) as c:
        for r in logs:
            c.expect(r.status < 500, r.describe())
    with tap.case("every API response but 204 is a JSON object with Content-Type "
                  "application/json") as c:
        for r in logs:
            if r.status == 204:
                continue
            ctype = (r.header("Content-Type") or "").split(";")[0].strip().lower()
            c.expect(ctype == "application/json", "Content-Type %r: %s" % (ctype, r.describe(120)))
            c.expect(isinstance(r.json, dict), "not a JSON object: %s" % r.describe(120))
    with tap.case("every error body is {\"error\":{\"code\",\"message\"}} with a listed code "
                  "and its status") as c:
        for r in logs:
            if r.status < 400:
                continue
            err = r.json.get("error") if isinstance(r.json, dict) else None
            if not c.expect(isinstance(err, dict), "no error object: " + r.describe(120)):
                continue
            code = err.get("code")
            c.expect(code in ERROR_CODES, "unlisted code %r: %s" % (code, r.describe(120)))
            c.expect(ERROR_STATUS.get(code) == r.status, "code %r with status %d"
                     % (code, r.status))
            c.expect(isinstance(err.get("message"), str) and err["message"],
                     "no message: " + r.describe(120))
            if "field" in err:
                c.expect(isinstance(err["field"], str), "field not a string: " + r.describe(120))
    with tap.case("mokitd is still running at the end") as c:
        c.require(suite.daemon.alive(), "mokitd died (status %r)\n%s"
                  % (suite.daemon.proc.returncode, suite.daemon.log_tail()))
        c.status(suite.client.request("GET", "/api/v1/health"), 200)
    with tap.case("SIGTERM stops mokitd with status 0") as c:
        rc = suite.daemon.terminate()
        c.expect(rc == 0, "exit status %r\n%s" % (rc, suite.daemon.log_tail()))
    with tap.case("no sanitizer or runtime error in the daemon logs") as c:
        pat = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                         r"runtime error:|\bERROR\b.*Sanitizer")
        for path in sorted(os.listdir(suite.tmp)):
            if path.endswith(".log"):
                with open(os.path.join(suite.tmp, path), encoding="utf-8",
                          errors="replace") as f:
                    for line in f:
                        c.expect(not pat.search(line), "%s: %s" % (path, line.rstrip()))


# --------------------------------------------------------------------------- printing


def patch(suite, path, body, role="lead"):
    return suite.client.request("PATCH", path, body, token=suite.token(role))


def wait_job(suite, job_id, states=("done",), timeout=15.0):
    """Polls GET /print-jobs/ID until its state is one of states; the last job JSON."""
    end = time.time() + timeout
    j = None
    while time.time() < end:
        r = get(suite, "/api/v1/print-jobs/" + job_id)
        j = r.json if r.status == 200 else None
        if j and j.get("state") in states:
            return j
        time.sleep(0.1)
    return j


def wait_printer(suite, name, state, timeout=15.0):
    end = time.time() + timeout
    p = None
    while time.time() < end:
        r = get(suite, "/api/v1/printers/" + name)
        p = r.json if r.status == 200 else None
        if p and p.get("state") == state:
            return p
        time.sleep(0.1)
    return p


def prints(suite, printer):
    d = os.path.join(suite.daemon.data_dir, "prints", printer)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def scan(path):
    p = subprocess.run(["zbarimg", "--quiet", "--nodbus", "--raw", "-Sbinary", path],
                       capture_output=True, timeout=30)
    return p.stdout.decode("utf-8", "replace").strip()


def switch(suite, printer, name, on):
    path = os.path.join(suite.daemon.data_dir, "prints", printer, name)
    if on:
        open(path, "w").close()
    elif os.path.exists(path):
        os.unlink(path)


def page(suite, job):
    """The PNG a simulated printer made for a job: prints/PRINTER/SEQ-KIND.png."""
    return os.path.join(suite.daemon.data_dir, "prints", job["printer"],
                        "%06d-%s.png" % (job["seq"], job["kind"]))


def flow_printing(suite):
    tap = suite.tap
    with tap.case("GET /printers: the demo's simulated ticket and band printers, ready") as c:
        r = get(suite, "/api/v1/printers")
        c.require_status(r, 200)
        by = {p.get("name"): p for p in r.json.get("printers", [])}
        c.require(set(by) >= {"ticket", "band"}, "printers %r" % sorted(by))
        c.expect(by["ticket"].get("profile") == "escpos-58" and
                 by["ticket"].get("language") == "escpos", "ticket %r" % by["ticket"])
        c.expect(by["band"].get("profile") == "zebra-hc100" and
                 by["band"].get("language") == "zpl", "band %r" % by["band"])
        for name in ("ticket", "band"):
            p = wait_printer(suite, name, "ready")
            c.expect(p and p.get("state") == "ready" and p.get("last_error") is None,
                     "%s is %r" % (name, p))

    huong = {}
    with tap.case("registering with print [wristband, ticket]: visit opened, both printed, "
                  "both QR codes scan back to the code") as c:
        body = {"name": "Nguyễn Thị Hương", "sex": "female", "birth": "1961",
                "confirm_new": True, "print": ["wristband", "ticket"], "station": "Bàn 2"}
        r = suite.register(body)
        c.require_status(r, 201)
        huong = r.json
        suite.mine.add(huong.get("id"))
        v = huong.get("visit") or {}
        c.expect(v.get("patient") == huong.get("code") and v.get("queue_number", 0) >= 1,
                 "visit %r" % v)
        res = huong.get("print") or []
        c.require([x.get("kind") for x in res] == ["wristband", "ticket"], "print %r" % res)
        for x in res:
            j = x.get("job") or {}
            c.require(j.get("state") == "queued" and j.get("patient") == huong.get("code"),
                      "job %r" % x)
            c.expect(j.get("printer") == ("band" if x["kind"] == "wristband" else "ticket"),
                     "printer of %r" % j)
            done = wait_job(suite, j["id"])
            c.require(done and done.get("state") == "done" and done.get("attempts") == 1,
                      "job %s did not print: %r" % (j["id"], done))
            path = page(suite, done)
            c.require(os.path.exists(path), "no %s" % path)
            c.expect(scan(path) == huong.get("code"), "%s scans as %r" % (path, scan(path)))
        c.expect(res[1]["job"].get("visit_id") == v.get("id"), "the ticket's visit")
        suite.vars["print_patient"] = huong

    with tap.case("POST /print-jobs: a wristband sticker on the ESC/POS printer, by name") as c:
        r = post(suite, "/api/v1/print-jobs", {"kind": "wristband", "patient": huong.get("code"),
                                               "printer": "ticket"})
        c.require_status(r, 201)
        done = wait_job(suite, r.json["id"])
        c.require(done and done.get("state") == "done", "%r" % done)
        c.expect(scan(page(suite, done)) == huong.get("code"), "the sticker's QR")

    with tap.case("POST /print-jobs: wrong bodies are refused and queue nothing") as c:
        before = harness.sqlite(suite.db, "select count(*) from print_job")[0][0]
        code = huong.get("code", "")
        for body, status, error, field in (
                ({}, 400, "invalid", "kind"),
                ({"kind": "label", "patient": code}, 400, "invalid", "kind"),
                ({"kind": 7, "patient": code}, 400, "invalid", "kind"),
                ({"kind": "ticket"}, 400, "invalid", "patient"),
                ({"kind": "ticket", "patient": harness.corrupt_check(code)}, 400, "bad_code",
                 "patient"),
                ({"kind": "ticket", "patient": code, "printer": "nope"}, 404, "not_found", None),
                ({"kind": "ticket", "patient": code, "printer": "band"}, 400, "invalid", None),
                ({"kind": "wristband", "patient": harness.random_code(suite.rng)}, 404,
                 "not_found", None),
                ({"kind": "ticket", "patient": code, "station": "x" * 201}, 400, "invalid",
                 "station")):
            r = post(suite, "/api/v1/print-jobs", body)
            c.expect(r.status == status and r.error_code() == error and
                     (field is None or r.json["error"].get("field") == field),
                     "%r: %s" % (body, r.describe(200)))
        r = post(suite, "/api/v1/print-jobs", {"kind": "ticket", "patient": code,
                                               "printer": "band"})
        c.expect("ESC/POS" in r.body.decode(), "the message says why: " + r.describe(200))
        after = harness.sqlite(suite.db, "select count(*) from print_job")[0][0]
        c.expect(before == after, "jobs %s -> %s" % (before, after))

    with tap.case("a ticket for a resident without a visit today: 404, says to open one") as c:
        p = new_patient(suite, c)
        r = post(suite, "/api/v1/print-jobs", {"kind": "ticket", "patient": p["code"]})
        c.require_status(r, 404, "not_found")
        c.expect("visit" in r.json["error"]["message"], r.describe(200))

    with tap.case("registration with a bad print list: 400 field print, nobody registered") as c:
        before = harness.sqlite(suite.db, "select count(*) from patient")[0][0]
        for bad in ("ticket", ["ticket", "ticket"], ["receipt"], [1], ["a", "b", "c"]):
            r = suite.register({"name": suite.new_name(), "sex": "male", "birth": "1970",
                                "print": bad})
            c.expect(r.status == 400 and r.error_code() == "invalid" and
                     r.json["error"].get("field") == "print", "%r: %s" % (bad, r.describe(200)))
        after = harness.sqlite(suite.db, "select count(*) from patient")[0][0]
        c.expect(before == after, "patients %s -> %s" % (before, after))

    with tap.case("paper out: the job waits, the printer says so, printing resumes when the "
                  "roll is back, exactly once") as c:
        switch(suite, "ticket", "PAPER-OUT", True)
        try:
            r = post(suite, "/api/v1/print-jobs", {"kind": "test"}, role="lead")
            c.require_status(r, 201)
            job = r.json
            p = wait_printer(suite, "ticket", "paper_out")
            c.require(p and p.get("state") == "paper_out" and "paper" in (p.get("last_error") or ""),
                      "printer %r" % p)
            c.expect(p.get("queued") == 1, "queued %r" % p.get("queued"))
            s = suite.client.request("GET", "/api/v1/status").json
            st = {x["name"]: x for x in s.get("printers", [])}
            c.expect(st.get("ticket", {}).get("state") == "paper_out",
                     "status shows %r" % st.get("ticket"))
            with urllib.request.urlopen("http://127.0.0.1:%d/status" % suite.daemon.port,
                                        timeout=10) as resp:
                page_html = resp.read().decode()
            c.expect("paper_out" in page_html, "the status page does not show paper_out")
            j = get(suite, "/api/v1/print-jobs/" + job["id"]).json
            c.expect(j.get("state") == "queued", "job %r" % j)
            c.expect(not os.path.exists(page(suite, job)), "printed without paper")
        finally:
            switch(suite, "ticket", "PAPER-OUT", False)
        done = wait_job(suite, job["id"])
        c.require(done and done.get("state") == "done", "after the roll: %r" % done)
        c.expect(scan(page(suite, done)) == "MOKIT-TEST", "the test page's QR")
        p = wait_printer(suite, "ticket", "ready")
        c.expect(p and p.get("state") == "ready" and p.get("last_error") is None, "%r" % p)
        same = [f for f in prints(suite, "ticket") if f.startswith("%06d-" % job["seq"])]
        c.expect(same == ["%06d-test.png" % job["seq"]], "pages for the job: %r" % same)

    with tap.case("printer unplugged: jobs wait in order, the printer is offline, then both "
                  "print in order") as c:
        switch(suite, "band", "OFFLINE", True)
        try:
            jobs = []
            for _ in range(2):
                r = post(suite, "/api/v1/print-jobs", {"kind": "wristband",
                                                       "patient": huong.get("code")})
                c.require_status(r, 201)
                jobs.append(r.json)
            p = wait_printer(suite, "band", "offline")
            c.require(p and p.get("state") == "offline" and p.get("last_error"),
                      "printer %r" % p)
            c.expect(p.get("queued") == 2, "queued %r" % p.get("queued"))
        finally:
            switch(suite, "band", "OFFLINE", False)
        done = [wait_job(suite, j["id"], timeout=40) for j in jobs]
        c.require(all(d and d.get("state") == "done" for d in done), "%r" % done)
        c.expect(done[0]["done_at"] <= done[1]["done_at"], "printed out of order")
        for d in done:
            c.expect(scan(page(suite, d)) == huong.get("code"), "job %s" % d["id"])

    with tap.case("reprint: a new job with the same bytes, pointing at the first") as c:
        first = (huong.get("print") or [{}])[1].get("job", {})
        r = post(suite, "/api/v1/print-jobs/%s/reprint" % first.get("id"), {})
        c.require_status(r, 201)
        c.expect(r.json.get("reprint_of") == first.get("id") and
                 r.json.get("bytes") == first.get("bytes") and r.json.get("kind") == "ticket",
                 "%r" % r.json)
        done = wait_job(suite, r.json["id"])
        c.require(done and done.get("state") == "done", "%r" % done)
        c.expect(scan(page(suite, done)) == huong.get("code"), "the reprint's QR")
        rows = harness.sqlite(suite.db, "select count(*) from print_job a join print_job b on "
                              "b.reprint_of = a.id where a.id = %s and a.data = b.data"
                              % harness.sql_quote(first.get("id")))
        c.expect(rows[0][0] == "1", "bytes differ: %r" % rows)

    with tap.case("cancel: a waiting job never prints; a finished one cannot be cancelled") as c:
        switch(suite, "ticket", "PAPER-OUT", True)
        try:
            r = post(suite, "/api/v1/print-jobs", {"kind": "test"}, role="lead")
            c.require_status(r, 201)
            job = r.json
            wait_printer(suite, "ticket", "paper_out")
            r = post(suite, "/api/v1/print-jobs/%s/cancel" % job["id"], {})
            c.require_status(r, 200)
            c.expect(r.json.get("state") == "cancelled", "%r" % r.json)
            r = post(suite, "/api/v1/print-jobs/%s/cancel" % job["id"], {})
            c.expect(r.status == 409 and r.error_code() == "conflict", r.describe(200))
        finally:
            switch(suite, "ticket", "PAPER-OUT", False)
        wait_printer(suite, "ticket", "ready")
        time.sleep(1.5)
        c.expect(not os.path.exists(page(suite, job)), "a cancelled job printed")
        r = post(suite, "/api/v1/print-jobs/0193b7e4-0000-7000-8000-000000000000/cancel", {})
        c.expect(r.status == 404 and r.error_code() == "not_found", r.describe(200))
        r = get(suite, "/api/v1/print-jobs?printer=ticket&limit=3")
        c.require_status(r, 200)
        c.expect(len(r.json.get("jobs", [])) == 3 and r.json["jobs"][0]["id"] == job["id"],
                 "newest first: %r" % [j.get("id") for j in r.json.get("jobs", [])])
        c.expect(all("data" not in j for j in r.json["jobs"]), "job bytes in a listing")

    with tap.case("printers: only a lead adds or changes them; bodies are checked") as c:
        r = post(suite, "/api/v1/printers", {"name": "x", "profile": "escpos-58",
                                             "uri": "file:x.bin", "kinds": ["slip"]})
        c.expect(r.status == 403 and r.error_code() == "forbidden", r.describe(200))
        r = post(suite, "/api/v1/print-jobs", {"kind": "test"}, role="pharmacist")
        c.expect(r.status == 403 and r.error_code() == "forbidden", r.describe(200))
        for body, field in (({"profile": "escpos-58", "uri": "file:a", "kinds": ["slip"]}, "name"),
                            ({"name": "Bad Name", "profile": "escpos-58", "uri": "file:a",
                              "kinds": ["slip"]}, "name"),
                            ({"name": "p1", "profile": "nope", "uri": "file:a",
                              "kinds": ["slip"]}, "profile"),
                            ({"name": "p1", "profile": "escpos-58", "uri": "http://x",
                              "kinds": ["slip"]}, "uri"),
                            ({"name": "p1", "profile": "escpos-58", "uri": "serial:tty?baud=9",
                              "kinds": ["slip"]}, "uri"),
                            ({"name": "p1", "profile": "escpos-58", "uri": "file:a",
                              "kinds": ["receipt"]}, "kinds"),
                            ({"name": "p1", "profile": "escpos-58", "uri": "file:a",
                              "kinds": "slip"}, "kinds"),
                            ({"name": "p1", "profile": "escpos-58", "uri": "file:mokit.db",
                              "kinds": ["slip"]}, "uri"),
                            ({"name": "p1", "profile": "escpos-58", "uri": "file:/x/mokit.db-wal",
                              "kinds": ["slip"]}, "uri"),
                            ({"name": "p1", "profile": "escpos-58",
                              "uri": "serial:/dev/ttyS0?baud=14400", "kinds": ["slip"]}, "uri"),
                            ({"name": "p1", "profile": "escpos-58", "uri": "file:a",
                              "kinds": ["slip"], "enabled": False}, "enabled")):
            r = post(suite, "/api/v1/printers", body, role="lead")
            c.expect(r.status == 400 and r.error_code() == "invalid" and
                     r.json["error"].get("field") == field, "%r: %s" % (body, r.describe(200)))
        r = post(suite, "/api/v1/printers", {"name": "slips", "profile": "escpos-80",
                                             "uri": "file:slips.bin", "kinds": ["slip", "test"]},
                 role="lead")
        c.require_status(r, 201)
        c.expect(r.json.get("kinds") == "slip,test" and r.json.get("enabled") is True,
                 "%r" % r.json)
        r = post(suite, "/api/v1/printers", {"name": "slips", "profile": "escpos-80",
                                             "uri": "file:slips.bin", "kinds": ["slip"]},
                 role="lead")
        c.expect(r.status == 409 and r.error_code() == "exists", r.describe(200))
        r = post(suite, "/api/v1/print-jobs", {"kind": "test", "printer": "slips"}, role="lead")
        c.require_status(r, 201)
        done = wait_job(suite, r.json["id"])
        c.require(done and done.get("state") == "done", "%r" % done)
        with open(os.path.join(suite.daemon.data_dir, "slips.bin"), "rb") as f:
            data = f.read()
        c.expect(data.startswith(b"\x1b@") and b"mokit test" in data and
                 len(data) == done.get("bytes"), "file printer got %d bytes" % len(data))
        r = patch(suite, "/api/v1/printers/slips", {"enabled": False})
        c.require_status(r, 200)
        c.expect(r.json.get("enabled") is False, "%r" % r.json)
        r = post(suite, "/api/v1/print-jobs", {"kind": "test", "printer": "slips"}, role="lead")
        c.expect(r.status == 409 and r.error_code() == "conflict" and
                 "disabled" in r.json["error"]["message"],
                 "a job for a disabled printer: " + r.describe(200))
        r = patch(suite, "/api/v1/printers/slips", {"name": "other"})
        c.expect(r.status == 400 and r.json["error"].get("field") == "name", r.describe(200))
        r = patch(suite, "/api/v1/printers/slips", {"uri": "nope:"})
        c.expect(r.status == 400 and r.json["error"].get("field") == "uri", r.describe(200))
        r = patch(suite, "/api/v1/printers/none", {"enabled": True})
        c.expect(r.status == 404, r.describe(200))
        r = patch(suite, "/api/v1/printers/slips", {"enabled": True}, role="registrar")
        c.expect(r.status == 403, r.describe(200))
        r = suite.client.request("DELETE", "/api/v1/printers/slips", token=suite.token("lead"))
        c.expect(r.status == 405 and r.header("Allow") == "GET, PATCH", r.describe(200))
        rows = harness.sqlite(suite.db, "select action from audit where entity = 'printer' and "
                              "entity_id = 'slips' order by seq")
        c.expect([x[0] for x in rows] == ["create", "update"], "audit %r" % rows)
        rows = harness.sqlite(suite.db, "select count(*) from audit where entity = 'print_job' "
                              "and action in ('reprint', 'cancel')")
        c.expect(int(rows[0][0]) >= 2, "audit of reprint and cancel: %r" % rows)
        rows = harness.sqlite(suite.db, "select count(*) from audit where entity = 'print_job' "
                              "and after like '%data%'")
        c.expect(rows[0][0] == "0", "job bytes in the audit")


def flow_slip(suite):
    tap = suite.tap
    huong = suite.vars.get("print_patient") or {}
    visit = (huong.get("visit") or {}).get("id", "")
    with tap.case("a doctor prints an urgent referral slip: the visit's readings on it, the QR "
                  "scans") as c:
        r = post(suite, "/api/v1/visits/%s/observations" % visit,
                 {"code": "bp", "values": {"systolic": 172, "diastolic": 104}}, role="nurse")
        c.require_status(r, 201)
        body = {"kind": "slip", "visit": visit, "to": "Bệnh viện Đa khoa tỉnh Lào Cai",
                "reason": "Tăng huyết áp độ 2", "urgency": "urgent"}
        r = post(suite, "/api/v1/print-jobs", body, role="doctor")
        c.require_status(r, 201)
        c.expect(r.json.get("kind") == "slip" and r.json.get("printer") == "ticket" and
                 r.json.get("visit_id") == visit and r.json.get("patient") == huong.get("code"),
                 "%r" % r.json)
        done = wait_job(suite, r.json["id"])
        c.require(done and done.get("state") == "done", "%r" % done)
        c.expect(scan(page(suite, done)) == huong.get("code"), "the slip's QR")
        data = harness.sqlite(suite.db, "select hex(data) from print_job where id = %s"
                              % harness.sql_quote(done["id"]))[0][0]
        c.expect(len(data) > 2000, "a slip of %d bytes" % (len(data) // 2))
    with tap.case("referral slips: doctors and leads only; visit, to and reason required") as c:
        body = {"kind": "slip", "visit": visit, "to": "Trạm y tế", "reason": "Theo dõi"}
        for role in ("registrar", "nurse"):
            r = post(suite, "/api/v1/print-jobs", body, role=role)
            c.expect(r.status == 403 and r.error_code() == "forbidden", "%s: %s"
                     % (role, r.describe(200)))
        for missing in ("visit", "to", "reason"):
            b = dict(body)
            del b[missing]
            r = post(suite, "/api/v1/print-jobs", b, role="doctor")
            c.expect(r.status == 400 and r.json["error"].get("field") == missing,
                     "without %s: %s" % (missing, r.describe(200)))
        for bad, status, field in (({"urgency": "now"}, 400, "urgency"),
                                   ({"to": "x" * 301}, 400, "to"),
                                   ({"visit": "no-such-visit"}, 404, None),
                                   ({"printer": "band"}, 400, None)):
            b = dict(body)
            b.update(bad)
            r = post(suite, "/api/v1/print-jobs", b, role="lead")
            c.expect(r.status == status and (field is None or
                                             r.json["error"].get("field") == field),
                     "%r: %s" % (bad, r.describe(200)))
