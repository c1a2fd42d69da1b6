/* At the hospital, against PostgreSQL: referred residents expected, their arrival, and the
 * likely matches to review. The same answers as the SQLite versions in records.c. */
#include "../common/err.h"
#include "../common/log.h"
#include "../domain/code.h"
#include "../domain/obs.h"
#include "pg_int.h"
#include "records_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pg_open(const char *conninfo, PGconn **c)
{
    char err[400];
    int rc = pg_connect(conninfo, c, err, sizeof err);
    if (rc != MK_OK)
        LOG(LOG_ERROR, "%s", err);
    return rc;
}

/* A query whose rows are each one JSON value (column 0): into an array. */
static int json_rows(PGconn *c, const char *sql, int n, const char *const *p, json_t **out)
{
    char err[600];
    PGresult *r = NULL;
    int rc = pg_run(c, sql, n, p, PGRES_TUPLES_OK, &r, err, sizeof err);
    if (rc != MK_OK) {
        LOG(LOG_ERROR, "%s", err);
        return rc;
    }
    json_t *a = json_array();
    for (int i = 0; a && i < PQntuples(r); i++) {
        json_t *v = json_loads(PQgetvalue(r, i, 0), 0, NULL);
        if (!v || json_array_append_new(a, v)) {
            json_decref(a);
            a = NULL;
        }
    }
    PQclear(r);
    *out = a;
    return a ? MK_OK : MK_ENOMEM;
}

#define PATIENT_JSON(p)                                                                   \
    "json_build_object('id', " p ".id, 'code', " p ".code, 'name', " p ".name, 'sex', " p \
    ".sex, 'birth_year', " p ".birth_year, 'commune', " p ".commune, 'village', " p ".village)"

int records_pg_referrals_pending(const char *conninfo, const char *campaign, json_t **out)
{
    PGconn *c;
    int rc = pg_open(conninfo, &c);
    if (rc != MK_OK)
        return rc;
    const char *p[] = {campaign};
    rc = json_rows(c,
                   "SELECT json_build_object('id', r.id, 'to', r.destination, 'reason', r.reason, "
                   "'urgency', r.urgency, 'campaign', c.code, 'day', v.day, 'days_since', "
                   "current_date - v.day, 'created_at', r.created_at, 'patient', " PATIENT_JSON(
                       "p") ") FROM referral r JOIN visit v ON v.id = r.visit_id JOIN patient p "
                            "ON p.id = v.patient_id JOIN campaign c ON c.id = v.campaign_id "
                            "WHERE r.status = 'referred' AND ($1::text IS NULL OR c.code = $1 OR "
                            "c.id::text = $1) ORDER BY CASE r.urgency WHEN 'urgent' THEN 0 WHEN "
                            "'soon' THEN 1 ELSE 2 END, v.day, r.created_at",
                   1, p, out);
    PQfinish(c);
    return rc;
}

int records_pg_matches(const char *conninfo, json_t **out)
{
    PGconn *c;
    int rc = pg_open(conninfo, &c);
    if (rc != MK_OK)
        return rc;
    rc = json_rows(c,
                   "SELECT json_build_object('id', m.id, 'reason', m.reason, 'import', "
                   "m.import_id, 'created_at', m.created_at, 'patient', " PATIENT_JSON(
                       "a") ", 'other', " PATIENT_JSON("b") ") FROM likely_match m JOIN patient "
                                                            "a ON a.id = m.patient_id JOIN "
                                                            "patient b ON b.id = m.other_id "
                                                            "WHERE m.state = 'open' ORDER BY "
                                                            "m.created_at, m.id",
                   0, NULL, out);
    PQfinish(c);
    return rc;
}

/* Observations as the kit's store gives them: {code, unit, values: {systolic: ..}}. */
static void obs_values(json_t *visits)
{
    size_t i, k;
    json_t *v, *o;
    json_array_foreach(visits, i, v)
    {
        json_array_foreach(json_object_get(v, "observations"), k, o)
        {
            const struct obs_kind *kind =
                obs_kind_find(json_string_value(json_object_get(o, "code")));
            static const char *const cols[] = {"value", "value2", "value3"};
            json_t *vals = json_object();
            for (int c = 0; c < OBS_MAX_COMPONENTS; c++) {
                json_t *x = json_object_get(o, cols[c]);
                if (kind && c < kind->ncomp && json_is_number(x))
                    json_object_set(vals, kind->comp[c], x);
                json_object_del(o, cols[c]);
            }
            json_object_set_new(o, "values", vals);
        }
    }
}

int records_pg_arrive(const char *conninfo, const char *actor_label, const char *scan, json_t **out)
{
    char code[CODE_LEN + 1], err[600] = "";
    *out = NULL;
    int rc = code_parse(scan, code);
    if (rc != MK_OK)
        return rc;
    PGconn *c;
    if ((rc = pg_open(conninfo, &c)) != MK_OK)
        return rc;
    const char *p[] = {code};
    PGresult *r = NULL;
    /* The residents the code names, those with open referrals first. */
    rc = pg_run(c,
                "SELECT x.id, (SELECT count(*) FROM referral r JOIN visit v ON v.id = r.visit_id "
                "WHERE v.patient_id = x.id AND r.status = 'referred') AS open FROM (SELECT id "
                "FROM patient WHERE code = $1 UNION SELECT patient_id FROM patient_alias WHERE "
                "kind = 'code' AND alias = $1) x ORDER BY open DESC",
                1, p, PGRES_TUPLES_OK, &r, err, sizeof err);
    json_t *rec = json_object();
    int n = r ? PQntuples(r) : 0;
    if (rc == MK_OK && n == 0)
        rc = MK_ENOTFOUND;
    else if (rc == MK_OK && n > 1 &&
             (atol(PQgetvalue(r, 1, 1)) > 0) == (atol(PQgetvalue(r, 0, 1)) > 0)) {
        /* two residents carry the code, and the open referrals do not tell which is meant */
        json_t *ids = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(ids, json_string(PQgetvalue(r, i, 0)));
        char *idt = json_dumps(ids, JSON_COMPACT);
        const char *q[] = {idt};
        json_t *list = NULL;
        rc = json_rows(c,
                       "SELECT " PATIENT_JSON("p") " FROM patient p WHERE p.id::text IN (SELECT "
                                                   "json_array_elements_text($1::json))",
                       1, q, &list);
        free(idt);
        json_decref(ids);
        json_object_set_new(rec, "patients", list ? list : json_array());
        if (rc == MK_OK)
            rc = MK_EEXIST;
    }
    char pid[40] = "";
    if (rc == MK_OK)
        snprintf(pid, sizeof pid, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    const char *q[] = {pid, actor_label};
    json_t *arrived = NULL;
    if (rc == MK_OK)
        rc = pg_run(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, err, sizeof err);
    if (rc == MK_OK)
        rc = json_rows(c,
                       "WITH a AS (UPDATE referral r SET status = 'arrived', status_at = now(), "
                       "status_by = NULL FROM visit v WHERE v.id = r.visit_id AND v.patient_id = "
                       "$1::uuid AND r.status = 'referred' RETURNING r.*), w AS (INSERT INTO "
                       "audit(actor, action, entity, entity_id, before, after) SELECT $2, "
                       "'update', 'referral', a.id::text, json_build_object('status', "
                       "'referred'), json_build_object('status', 'arrived') FROM a) SELECT "
                       "json_build_object('id', a.id, 'to', a.destination, 'reason', a.reason, "
                       "'urgency', a.urgency, 'status', a.status, 'status_at', a.status_at) FROM "
                       "a ORDER BY a.created_at",
                       2, q, &arrived);
    if (rc == MK_OK)
        rc = pg_run(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err, sizeof err);
    else if (pid[0])
        PQclear(PQexec(c, "ROLLBACK"));
    json_t *patient = NULL, *visits = NULL;
    if (rc == MK_OK)
        rc = json_rows(c, "SELECT " PATIENT_JSON("p") " FROM patient p WHERE p.id = $1::uuid", 1, q,
                       &patient);
    if (rc == MK_OK)
        rc = json_rows(
            c,
            "SELECT json_build_object('id', v.id, 'campaign', c.code, 'day', v.day, "
            "'queue_number', v.queue_number, 'symptoms', v.symptoms, 'advice', v.advice, "
            "'observations', coalesce((SELECT json_agg(json_build_object('code', o.code, 'value', "
            "o.value, 'value2', o.value2, 'value3', o.value3, 'unit', o.unit, 'source', o.source, "
            "'taken_at', o.taken_at) ORDER BY o.taken_at, o.id) FROM observation o WHERE "
            "o.visit_id = v.id), '[]'), 'findings', coalesce((SELECT json_agg(json_build_object("
            "'code', f.icd10, 'label', f.label, 'known', f.known) ORDER BY f.created_at) FROM "
            "finding f WHERE f.visit_id = v.id AND f.removed_at IS NULL), '[]'), 'referrals', "
            "coalesce((SELECT json_agg(json_build_object('id', r.id, 'to', r.destination, "
            "'reason', r.reason, 'urgency', r.urgency, 'status', r.status) ORDER BY r.created_at) "
            "FROM referral r WHERE r.visit_id = v.id), '[]')) FROM visit v JOIN campaign c ON "
            "c.id = v.campaign_id WHERE v.patient_id = $1::uuid ORDER BY v.day DESC, v.created_at "
            "DESC",
            1, q, &visits);
    if (rc == MK_OK) {
        obs_values(visits);
        json_object_set(rec, "patient", json_array_get(patient, 0));
        json_object_set_new(rec, "arrived", arrived);
        json_object_set_new(rec, "visits", visits);
        arrived = visits = NULL;
        if (json_array_size(json_object_get(rec, "arrived")) == 0)
            rc = MK_ERANGE;
    } else if (rc == MK_EDB && err[0]) {
        LOG(LOG_ERROR, "%s", err);
    }
    json_decref(patient);
    json_decref(arrived);
    json_decref(visits);
    PQfinish(c);
    if (rc == MK_OK || rc == MK_ERANGE || rc == MK_EEXIST)
        *out = rec;
    else
        json_decref(rec);
    return rc;
}
