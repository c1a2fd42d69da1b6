/* The doctor's and the pharmacy's records (findings, referrals, prescriptions, the medicine
 * list and its stock, dispensing), symptoms and advice, and queue calls: app/sql/004_clinic.sql.
 * Each change is one IMMEDIATE transaction with its audit row. */
#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../domain/icd10.h"
#include "store_int.h"

#include <stdio.h>
#include <string.h>

/* ---- helpers ---- */

/* The campaign id of a visit into campaign[64] (may be NULL). MK_ENOTFOUND. */
static int visit_campaign(struct store *st, const char *visit_id, char campaign[64])
{
    sqlite3_stmt *s = store_stmt(st, "SELECT campaign_id FROM visit WHERE id = ?");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, visit_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s), rc = MK_OK;
    if (step == SQLITE_ROW) {
        if (campaign)
            snprintf(campaign, 64, "%s", (const char *)sqlite3_column_text(s, 0));
    } else {
        rc = step == SQLITE_DONE ? MK_ENOTFOUND : store_err(st, step, "visit");
    }
    sqlite3_reset(s);
    return rc;
}

/* One row by id through sql (which has one parameter) as JSON, then fix(). */
static int row_by_id(struct store *st, const char *sql, const char *id, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, sql);
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    return store_one_row(st, s, out);
}

static void to_bool(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        json_object_set_new(o, key, json_boolean(json_integer_value(v)));
}

/* Ends a write: commits when rc is MK_OK, else rolls back; hands *made to *out or frees it. */
static int finish(struct store *st, int rc, json_t *made, json_t **out)
{
    if (rc == MK_OK)
        rc = store_commit(st);
    if (rc != MK_OK) {
        store_rollback(st);
        json_decref(made);
        return rc;
    }
    if (out)
        *out = made;
    else
        json_decref(made);
    return MK_OK;
}

static bool text_ok(const char *s, size_t max)
{
    return !s || strlen(s) <= max;
}

/* ---- symptoms and advice ---- */

static const char *const symptom_keys[] = {
    "chest_pain", "breathlessness",     "severe_headache",  "blurred_vision",
    "confusion",  "one_sided_weakness", "thirst_urination",
};

bool store_symptom_valid(const char *key)
{
    for (size_t i = 0; i < sizeof symptom_keys / sizeof symptom_keys[0]; i++)
        if (strcmp(symptom_keys[i], key) == 0)
            return true;
    return false;
}

int store_visit_update(struct store *st, const struct actor *a, const char *id,
                       const json_t *symptoms, const char *advice, json_t **out)
{
    char *sym_text = NULL;
    if (symptoms && !json_is_null(symptoms)) {
        size_t i;
        json_t *k;
        if (!json_is_array(symptoms) || json_array_size(symptoms) > 16)
            return MK_EINVAL;
        json_array_foreach(symptoms, i,
                           k) if (!json_is_string(k) ||
                                  !store_symptom_valid(json_string_value(k))) return MK_EINVAL;
        sym_text = json_dumps(symptoms, JSON_COMPACT);
        if (!sym_text)
            return MK_ENOMEM;
    }
    if (!text_ok(advice, 2000)) {
        free(sym_text);
        return MK_EINVAL;
    }
    json_t *before = NULL, *after = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK) {
        free(sym_text);
        return rc;
    }
    rc = row_by_id(st, "SELECT id, symptoms, advice FROM visit WHERE id = ?", id, &before);
    if (rc == MK_OK && symptoms) {
        sqlite3_stmt *s = store_stmt(st, "UPDATE visit SET symptoms = ? WHERE id = ?");
        if (!s)
            rc = MK_EDB;
        else {
            store_bind_opt(s, 1, sym_text);
            sqlite3_bind_text(s, 2, id, -1, SQLITE_TRANSIENT);
            rc = store_err(st, sqlite3_step(s), "visit symptoms");
            sqlite3_reset(s);
        }
    }
    if (rc == MK_OK && advice) {
        sqlite3_stmt *s = store_stmt(st, "UPDATE visit SET advice = ? WHERE id = ?");
        if (!s)
            rc = MK_EDB;
        else {
            store_bind_opt(s, 1, advice);
            sqlite3_bind_text(s, 2, id, -1, SQLITE_TRANSIENT);
            rc = store_err(st, sqlite3_step(s), "visit advice");
            sqlite3_reset(s);
        }
    }
    free(sym_text);
    if (rc == MK_OK)
        rc = row_by_id(st, "SELECT id, symptoms, advice FROM visit WHERE id = ?", id, &after);
    if (rc == MK_OK)
        rc = store_audit(st, a, "update", "visit", id, before, after);
    json_decref(before);
    json_decref(after);
    if (rc == MK_OK)
        rc = store_commit(st);
    store_rollback(st);
    if (rc == MK_OK && out)
        rc = store_visit_get(st, id, out);
    return rc;
}

/* ---- findings ---- */

#define FINDING_COLS                                                                            \
    "SELECT id, visit_id AS visit, icd10 AS code, label, known, note, created_at, created_by, " \
    "removed_at, removed_by FROM finding "

static void finding_fix(json_t *f)
{
    to_bool(f, "known");
    const struct icd10 *e = icd10_find(json_string_value(json_object_get(f, "code")));
    json_object_set_new(f, "name",
                        e ? json_pack("{s:s, s:s}", "vi", e->vi, "en", e->en) : json_null());
}

static int finding_get(struct store *st, const char *id, json_t **out)
{
    int rc = row_by_id(st, FINDING_COLS "WHERE id = ?", id, out);
    if (rc == MK_OK)
        finding_fix(*out);
    return rc;
}

int store_finding_add(struct store *st, const struct actor *a, const char *visit_id,
                      const char *code, const char *label, bool known, const char *note,
                      json_t **out)
{
    char id[UUID_LEN + 1], now[32], canon[16];
    if (!code || !icd10_code_valid(code) || !text_ok(label, 300) || !text_ok(note, 1000))
        return MK_EINVAL;
    const struct icd10 *e = icd10_find(code);
    if (e)
        snprintf(canon, sizeof canon, "%s", e->code);
    else if (!label || !label[0]) /* a code the kit's list does not have needs its words */
        return MK_EINVAL;
    else {
        size_t n = 0;
        for (const char *p = code; *p && n < sizeof canon - 1; p++)
            canon[n++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
        canon[n] = '\0';
    }
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    json_t *made = NULL;
    rc = visit_campaign(st, visit_id, NULL);
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO finding(id, visit_id, icd10, label, known, "
                                     "note, created_at, created_by) VALUES (?,?,?,?,?,?,?,?)");
    if (rc == MK_OK && !s)
        rc = MK_EDB;
    if (rc == MK_OK) {
        util_uuid7(id);
        util_now_iso(now);
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, visit_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, canon, -1, SQLITE_STATIC);
        store_bind_opt(s, 4, e ? NULL : label);
        sqlite3_bind_int(s, 5, known);
        store_bind_opt(s, 6, note);
        sqlite3_bind_text(s, 7, now, -1, SQLITE_STATIC);
        store_bind_opt(s, 8, a->staff_id);
        rc = store_err(st, sqlite3_step(s), "insert finding");
        sqlite3_reset(s);
    }
    if (rc == MK_OK)
        rc = finding_get(st, id, &made);
    if (rc == MK_OK)
        rc = store_audit(st, a, "create", "finding", id, NULL, made);
    return finish(st, rc, made, out);
}

int store_finding_remove(struct store *st, const struct actor *a, const char *id, json_t **out)
{
    char now[32];
    json_t *before = NULL, *made = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = finding_get(st, id, &before);
    if (rc == MK_OK && !json_is_null(json_object_get(before, "removed_at")))
        rc = MK_EEXIST;
    sqlite3_stmt *s =
        store_stmt(st, "UPDATE finding SET removed_at = ?, removed_by = ? WHERE id = ?");
    if (rc == MK_OK && !s)
        rc = MK_EDB;
    if (rc == MK_OK) {
        util_now_iso(now);
        sqlite3_bind_text(s, 1, now, -1, SQLITE_STATIC);
        store_bind_opt(s, 2, a->staff_id);
        sqlite3_bind_text(s, 3, id, -1, SQLITE_TRANSIENT);
        rc = store_err(st, sqlite3_step(s), "remove finding");
        sqlite3_reset(s);
    }
    if (rc == MK_OK)
        rc = finding_get(st, id, &made);
    if (rc == MK_OK)
        rc = store_audit(st, a, "remove", "finding", id, before, made);
    json_decref(before);
    return finish(st, rc, made, out);
}

/* ---- referrals ---- */

#define REFERRAL_COLS                                                                  \
    "SELECT r.id, r.visit_id AS visit, r.destination AS \"to\", r.reason, r.urgency, " \
    "r.status, r.status_at, r.status_by, r.job_id AS job, r.created_at, r.created_by " \
    "FROM referral r "

static bool urgency_valid(const char *u)
{
    return u && (!strcmp(u, "routine") || !strcmp(u, "soon") || !strcmp(u, "urgent"));
}

int store_referral_get(struct store *st, const char *id, json_t **out)
{
    return row_by_id(st, REFERRAL_COLS "WHERE r.id = ?", id, out);
}

int store_referral_add(struct store *st, const struct actor *a, const char *visit_id,
                       const char *to, const char *reason, const char *urgency, json_t **out)
{
    char id[UUID_LEN + 1], now[32];
    if (!to || !to[0] || !reason || !reason[0] || !text_ok(to, 300) || !text_ok(reason, 300) ||
        !urgency_valid(urgency))
        return MK_EINVAL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    json_t *made = NULL;
    rc = visit_campaign(st, visit_id, NULL);
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO referral(id, visit_id, destination, reason, "
                                     "urgency, status, status_at, status_by, created_at, "
                                     "created_by) VALUES (?1,?2,?3,?4,?5,'referred',?6,?7,?6,?7)");
    if (rc == MK_OK && !s)
        rc = MK_EDB;
    if (rc == MK_OK) {
        util_uuid7(id);
        util_now_iso(now);
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, visit_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, to, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, reason, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 5, urgency, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 6, now, -1, SQLITE_STATIC);
        store_bind_opt(s, 7, a->staff_id);
        rc = store_err(st, sqlite3_step(s), "insert referral");
        sqlite3_reset(s);
    }
    if (rc == MK_OK)
        rc = store_referral_get(st, id, &made);
    if (rc == MK_OK)
        rc = store_audit(st, a, "create", "referral", id, NULL, made);
    return finish(st, rc, made, out);
}

/* Sets one column of a referral (the slip's job, or its status) with the audit row. */
static int referral_set(struct store *st, const struct actor *a, const char *id, const char *sql,
                        const char *value, const char *action, json_t **out)
{
    char now[32];
    json_t *before = NULL, *made = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = store_referral_get(st, id, &before);
    sqlite3_stmt *s = store_stmt(st, sql);
    if (rc == MK_OK && !s)
        rc = MK_EDB;
    if (rc == MK_OK) {
        util_now_iso(now);
        sqlite3_bind_text(s, 1, value, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
        store_bind_opt(s, 3, a->staff_id);
        sqlite3_bind_text(s, 4, id, -1, SQLITE_TRANSIENT);
        rc = store_err(st, sqlite3_step(s), "update referral");
        sqlite3_reset(s);
    }
    if (rc == MK_OK)
        rc = store_referral_get(st, id, &made);
    if (rc == MK_OK)
        rc = store_audit(st, a, action, "referral", id, before, made);
    json_decref(before);
    return finish(st, rc, made, out);
}

int store_referral_set_job(struct store *st, const struct actor *a, const char *id,
                           const char *job_id, json_t **out)
{
    /* ?2 (now) and ?3 (who) are bound and unused: the audit row says when and who */
    return referral_set(st, a, id, "UPDATE referral SET job_id = ?1 WHERE id = ?4", job_id, "print",
                        out);
}

int store_referral_set_status(struct store *st, const struct actor *a, const char *id,
                              const char *status, json_t **out)
{
    if (!status ||
        (strcmp(status, "referred") && strcmp(status, "arrived") && strcmp(status, "cancelled")))
        return MK_EINVAL;
    return referral_set(st, a, id,
                        "UPDATE referral SET status = ?1, status_at = ?2, status_by = ?3 "
                        "WHERE id = ?4",
                        status, "update", out);
}

int store_referral_list(struct store *st, const char *status, const char *campaign_id, json_t **out)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT r.id, r.visit_id AS visit, r.destination AS \"to\", r.reason, "
                       "r.urgency, r.status, r.status_at, r.status_by, r.job_id AS job, "
                       "r.created_at, r.created_by, v.day, v.queue_number, c.code AS campaign, "
                       "p.code AS patient_code, p.name AS patient_name, p.sex AS patient_sex, "
                       "p.birth_year AS patient_birth_year, p.commune AS patient_commune, "
                       "p.village AS patient_village FROM referral r "
                       "JOIN visit v ON v.id = r.visit_id JOIN patient p ON p.id = v.patient_id "
                       "JOIN campaign c ON c.id = v.campaign_id "
                       "WHERE (?1 IS NULL OR r.status = ?1) AND (?2 IS NULL OR v.campaign_id = ?2) "
                       "ORDER BY r.created_at DESC");
    if (!s)
        return MK_EDB;
    store_bind_opt(s, 1, status);
    store_bind_opt(s, 2, campaign_id);
    json_t *rows = NULL;
    int rc = store_query_rows(st, s, &rows);
    if (rc != MK_OK)
        return rc;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        /* the patient as a nested summary */
        static const char *const keys[] = {"code",       "name",    "sex",
                                           "birth_year", "commune", "village"};
        json_t *p = json_object();
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            char col[32];
            snprintf(col, sizeof col, "patient_%s", keys[k]);
            json_object_set(p, keys[k], json_object_get(r, col));
            json_object_del(r, col);
        }
        json_object_set_new(r, "patient", p);
    }
    *out = rows;
    return MK_OK;
}

/* ---- medicines and stock ---- */

#define MEDICINE_COLS                                                                    \
    "SELECT m.id, m.code, m.name, m.strength, m.form, m.unit, m.stock, m.active, "       \
    "(SELECT coalesce(-sum(change), 0) FROM stock_move WHERE medicine_id = m.id AND "    \
    "reason = 'dispense') AS dispensed, c.code AS campaign, m.created_at, m.created_by " \
    "FROM medicine m JOIN campaign c ON c.id = m.campaign_id "

static int medicine_row(struct store *st, sqlite3_stmt *s, json_t **out)
{
    int rc = store_one_row(st, s, out);
    if (rc == MK_OK)
        to_bool(*out, "active");
    return rc;
}

int store_medicine_get(struct store *st, const char *id_or_code, const char *campaign_id,
                       json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, MEDICINE_COLS "WHERE m.id = ?1 OR (m.code = ?1 AND "
                                                   "m.campaign_id = ?2)");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, id_or_code, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 2, campaign_id);
    return medicine_row(st, s, out);
}

int store_medicine_list(struct store *st, const char *campaign_id, bool all, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, MEDICINE_COLS "WHERE m.campaign_id = ? AND (? OR m.active) "
                                                   "ORDER BY m.name, m.strength, m.code");
    if (!s)
        return MK_EDB;
    store_bind_opt(s, 1, campaign_id);
    sqlite3_bind_int(s, 2, all);
    int rc = store_query_rows(st, s, out);
    if (rc == MK_OK) {
        size_t i;
        json_t *m;
        json_array_foreach(*out, i, m) to_bool(m, "active");
    }
    return rc;
}

static bool medicine_texts_ok(const struct medicine_in *m)
{
    if (m->code && (!m->code[0] || strlen(m->code) > 20))
        return false;
    for (const char *p = m->code; p && *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return (!m->name || (m->name[0] && strlen(m->name) <= 120)) && text_ok(m->strength, 60) &&
           text_ok(m->form, 60) && (!m->unit || (m->unit[0] && strlen(m->unit) <= 30));
}

/* A stock change inside the caller's transaction: MK_ERANGE when it would go below zero. */
static int stock_move(struct store *st, const struct actor *a, const char *medicine_id, int change,
                      const char *reason, const char *prescription_id, const char *note)
{
    char id[UUID_LEN + 1], now[32];
    /* The guard is in the statement: two phones dispensing the last box cannot both pass. */
    sqlite3_stmt *u =
        store_stmt(st, "UPDATE medicine SET stock = stock + ?1 WHERE id = ?2 AND stock + ?1 >= 0");
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO stock_move(id, medicine_id, change, reason, "
                                     "prescription_id, note, at, by) VALUES (?,?,?,?,?,?,?,?)");
    if (!u || !s)
        return MK_EDB;
    sqlite3_bind_int(u, 1, change);
    sqlite3_bind_text(u, 2, medicine_id, -1, SQLITE_TRANSIENT);
    int rc = store_err(st, sqlite3_step(u), "stock");
    sqlite3_reset(u);
    if (rc != MK_OK)
        return rc;
    if (sqlite3_changes(st->db) != 1)
        return MK_ERANGE;
    util_uuid7(id);
    util_now_iso(now);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, medicine_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 3, change);
    sqlite3_bind_text(s, 4, reason, -1, SQLITE_STATIC);
    store_bind_opt(s, 5, prescription_id);
    store_bind_opt(s, 6, note);
    sqlite3_bind_text(s, 7, now, -1, SQLITE_STATIC);
    store_bind_opt(s, 8, a->staff_id);
    rc = store_err(st, sqlite3_step(s), "stock move");
    sqlite3_reset(s);
    return rc;
}

int store_medicine_add(struct store *st, const struct actor *a, const char *campaign_id,
                       const struct medicine_in *m, json_t **out)
{
    char id[UUID_LEN + 1], now[32];
    if (!m->code || !m->name || !m->unit || !medicine_texts_ok(m) || m->stock < 0 ||
        m->stock > 10000000)
        return MK_EINVAL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    json_t *made = NULL;
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO medicine(id, campaign_id, code, name, strength, "
                                     "form, unit, stock, created_at, created_by) "
                                     "VALUES (?,?,?,?,?,?,?,0,?,?)");
    if (!s)
        rc = MK_EDB;
    if (rc == MK_OK) {
        util_uuid7(id);
        util_now_iso(now);
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, campaign_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, m->code, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, m->name, -1, SQLITE_TRANSIENT);
        store_bind_opt(s, 5, m->strength);
        store_bind_opt(s, 6, m->form);
        sqlite3_bind_text(s, 7, m->unit, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 8, now, -1, SQLITE_STATIC);
        store_bind_opt(s, 9, a->staff_id);
        int step = sqlite3_step(s);
        sqlite3_reset(s);
        rc = step == SQLITE_CONSTRAINT_UNIQUE ? MK_EEXIST : store_err(st, step, "insert medicine");
    }
    /* The first stock is a receipt like any other: the ledger adds up to the stock. */
    if (rc == MK_OK && m->stock > 0)
        rc = stock_move(st, a, id, m->stock, "receive", NULL, "first stock");
    if (rc == MK_OK)
        rc = store_medicine_get(st, id, NULL, &made);
    if (rc == MK_OK)
        rc = store_audit(st, a, "create", "medicine", id, NULL, made);
    return finish(st, rc, made, out);
}

int store_medicine_update(struct store *st, const struct actor *a, const char *id,
                          const struct medicine_in *m, int active, json_t **out)
{
    if (m->code || !medicine_texts_ok(m))
        return MK_EINVAL; /* the code does not change: prescriptions name it */
    json_t *before = NULL, *made = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = store_medicine_get(st, id, NULL, &before);
    sqlite3_stmt *s = store_stmt(st, "UPDATE medicine SET name = coalesce(?1, name), "
                                     "strength = nullif(coalesce(?2, strength), ''), "
                                     "form = nullif(coalesce(?3, form), ''), "
                                     "unit = coalesce(?4, unit), active = coalesce(?5, active) "
                                     "WHERE id = ?6");
    if (rc == MK_OK && !s)
        rc = MK_EDB;
    if (rc == MK_OK) {
        store_bind_opt(s, 1, m->name);
        if (m->strength) /* "" clears */
            sqlite3_bind_text(s, 2, m->strength, -1, SQLITE_TRANSIENT);
        if (m->form)
            sqlite3_bind_text(s, 3, m->form, -1, SQLITE_TRANSIENT);
        store_bind_opt(s, 4, m->unit);
        if (active >= 0)
            sqlite3_bind_int(s, 5, active);
        else
            sqlite3_bind_null(s, 5);
        sqlite3_bind_text(s, 6, json_string_value(json_object_get(before, "id")), -1,
                          SQLITE_TRANSIENT);
        rc = store_err(st, sqlite3_step(s), "update medicine");
        sqlite3_reset(s);
    }
    if (rc == MK_OK)
        rc = store_medicine_get(st, json_string_value(json_object_get(before, "id")), NULL, &made);
    if (rc == MK_OK)
        rc = store_audit(st, a, "update", "medicine",
                         json_string_value(json_object_get(made, "id")), before, made);
    json_decref(before);
    return finish(st, rc, made, out);
}

int store_stock_change(struct store *st, const struct actor *a, const char *id, int change,
                       const char *reason, const char *note, json_t **out)
{
    if (change == 0 || change < -10000000 || change > 10000000 || !reason ||
        (strcmp(reason, "receive") && strcmp(reason, "adjust")) ||
        (!strcmp(reason, "receive") && change < 0) || !text_ok(note, 300))
        return MK_EINVAL;
    json_t *before = NULL, *made = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = store_medicine_get(st, id, NULL, &before);
    const char *mid = json_string_value(json_object_get(before, "id"));
    if (rc == MK_OK)
        rc = stock_move(st, a, mid, change, reason, NULL, note);
    if (rc == MK_OK)
        rc = store_medicine_get(st, mid, NULL, &made);
    if (rc == MK_OK)
        rc = store_audit(st, a, reason, "medicine", mid, before, made);
    if (rc == MK_ERANGE && out) { /* what there is, for the message */
        store_rollback(st);
        *out = before;
        return MK_ERANGE;
    }
    json_decref(before);
    return finish(st, rc, made, out);
}

/* ---- prescriptions and dispensing ---- */

#define RX_COLS                                                                           \
    "SELECT x.id, x.visit_id AS visit, x.quantity, x.dosage, x.state, x.created_at, "     \
    "x.created_by, x.done_at, x.done_by, m.id AS medicine_id, m.code AS medicine_code, "  \
    "m.name AS medicine_name, m.strength AS medicine_strength, m.unit AS medicine_unit, " \
    "m.stock AS medicine_stock FROM prescription x JOIN medicine m ON m.id = x.medicine_id "

static void rx_fix(json_t *x)
{
    static const char *const keys[] = {"id", "code", "name", "strength", "unit", "stock"};
    json_t *m = json_object();
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        char col[32];
        snprintf(col, sizeof col, "medicine_%s", keys[k]);
        json_object_set(m, keys[k], json_object_get(x, col));
        json_object_del(x, col);
    }
    json_object_set_new(x, "medicine", m);
}

static int rx_get(struct store *st, const char *id, json_t **out)
{
    int rc = row_by_id(st, RX_COLS "WHERE x.id = ?", id, out);
    if (rc == MK_OK)
        rx_fix(*out);
    return rc;
}

int store_prescription_add(struct store *st, const struct actor *a, const char *visit_id,
                           const char *medicine, int quantity, const char *dosage, json_t **out)
{
    char id[UUID_LEN + 1], now[32], campaign[64];
    if (!medicine || quantity < 1 || quantity > 10000 || !text_ok(dosage, 300))
        return MK_EINVAL;
    json_t *med = NULL, *made = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = visit_campaign(st, visit_id, campaign);
    if (rc == MK_OK) {
        rc = store_medicine_get(st, medicine, campaign, &med);
        if (rc == MK_ENOTFOUND)
            rc = MK_ERANGE; /* the visit exists: the medicine does not */
    }
    if (rc == MK_OK) { /* only the visit's own campaign's list */
        sqlite3_stmt *c = store_stmt(st, "SELECT 1 FROM medicine WHERE id = ? AND campaign_id = ?");
        if (!c)
            rc = MK_EDB;
        else {
            sqlite3_bind_text(c, 1, json_string_value(json_object_get(med, "id")), -1,
                              SQLITE_TRANSIENT);
            sqlite3_bind_text(c, 2, campaign, -1, SQLITE_STATIC);
            int step = sqlite3_step(c);
            sqlite3_reset(c);
            rc = step == SQLITE_ROW    ? MK_OK
                 : step == SQLITE_DONE ? MK_ERANGE
                                       : store_err(st, step, "medicine");
        }
    }
    if (rc == MK_OK && !json_is_true(json_object_get(med, "active")))
        rc = MK_EPERM; /* taken off the list */
    sqlite3_stmt *s =
        store_stmt(st, "INSERT INTO prescription(id, visit_id, medicine_id, quantity, "
                       "dosage, state, created_at, created_by) "
                       "VALUES (?,?,?,?,?,'prescribed',?,?)");
    if (rc == MK_OK && !s)
        rc = MK_EDB;
    if (rc == MK_OK) {
        util_uuid7(id);
        util_now_iso(now);
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, visit_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, json_string_value(json_object_get(med, "id")), -1,
                          SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 4, quantity);
        store_bind_opt(s, 5, dosage);
        sqlite3_bind_text(s, 6, now, -1, SQLITE_STATIC);
        store_bind_opt(s, 7, a->staff_id);
        rc = store_err(st, sqlite3_step(s), "insert prescription");
        sqlite3_reset(s);
    }
    json_decref(med);
    if (rc == MK_OK)
        rc = rx_get(st, id, &made);
    if (rc == MK_OK)
        rc = store_audit(st, a, "create", "prescription", id, NULL, made);
    return finish(st, rc, made, out);
}

int store_prescription_cancel(struct store *st, const struct actor *a, const char *id, json_t **out)
{
    char now[32];
    json_t *before = NULL, *made = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = rx_get(st, id, &before);
    if (rc == MK_OK && strcmp(json_string_value(json_object_get(before, "state")), "prescribed"))
        rc = MK_EEXIST; /* dispensed or cancelled already */
    sqlite3_stmt *s = store_stmt(st, "UPDATE prescription SET state = 'cancelled', done_at = ?, "
                                     "done_by = ? WHERE id = ? AND state = 'prescribed'");
    if (rc == MK_OK && !s)
        rc = MK_EDB;
    if (rc == MK_OK) {
        util_now_iso(now);
        sqlite3_bind_text(s, 1, now, -1, SQLITE_STATIC);
        store_bind_opt(s, 2, a->staff_id);
        sqlite3_bind_text(s, 3, id, -1, SQLITE_TRANSIENT);
        rc = store_err(st, sqlite3_step(s), "cancel prescription");
        sqlite3_reset(s);
    }
    if (rc == MK_OK)
        rc = rx_get(st, id, &made);
    if (rc == MK_OK)
        rc = store_audit(st, a, "cancel", "prescription", id, before, made);
    json_decref(before);
    return finish(st, rc, made, out);
}

int store_dispense(struct store *st, const struct actor *a, const char *visit_id,
                   const char *const *ids, size_t n, json_t **out, json_t **problem)
{
    char now[32];
    json_t *items = NULL, *done = json_array(), *meds = json_array();
    *problem = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK) {
        json_decref(done);
        json_decref(meds);
        return rc;
    }
    rc = visit_campaign(st, visit_id, NULL);
    /* The items: those named, or every one still prescribed. */
    sqlite3_stmt *s = store_stmt(st, RX_COLS "WHERE x.visit_id = ? ORDER BY x.created_at, x.id");
    if (rc == MK_OK && !s)
        rc = MK_EDB;
    if (rc == MK_OK) {
        sqlite3_bind_text(s, 1, visit_id, -1, SQLITE_TRANSIENT);
        rc = store_query_rows(st, s, &items);
    }
    json_t *todo = json_array();
    size_t i;
    json_t *x;
    if (rc == MK_OK) {
        json_array_foreach(items, i, x) rx_fix(x);
        if (n == 0) {
            json_array_foreach(items, i,
                               x) if (!strcmp(json_string_value(json_object_get(x, "state")),
                                              "prescribed")) json_array_append(todo, x);
            if (json_array_size(todo) == 0)
                rc = MK_EINVAL; /* nothing to dispense */
        } else {
            for (size_t k = 0; k < n && rc == MK_OK; k++) {
                json_t *found = NULL;
                json_array_foreach(
                    items, i, x) if (!strcmp(json_string_value(json_object_get(x, "id")), ids[k]))
                    found = x;
                if (!found) {
                    rc = MK_ENOTFOUND;
                } else if (strcmp(json_string_value(json_object_get(found, "state")),
                                  "prescribed")) {
                    *problem = json_incref(found);
                    rc = MK_EEXIST;
                } else {
                    json_array_append(todo, found);
                }
            }
        }
    }
    /* Enough of every medicine for all the items? Checked before anything is written, so that
     * the answer names the stock as it is (the guard in stock_move() stays). */
    json_t *need = json_object();
    json_array_foreach(todo, i, x)
    {
        const char *mid = json_string_value(json_object_get(json_object_get(x, "medicine"), "id"));
        json_int_t q = json_integer_value(json_object_get(x, "quantity"));
        json_object_set_new(need, mid,
                            json_integer(json_integer_value(json_object_get(need, mid)) + q));
    }
    const char *mid_key;
    json_t *qty;
    json_object_foreach(need, mid_key, qty)
    {
        if (rc != MK_OK)
            break;
        json_t *med = NULL;
        rc = store_medicine_get(st, mid_key, NULL, &med);
        if (rc == MK_OK &&
            json_integer_value(json_object_get(med, "stock")) < json_integer_value(qty)) {
            json_object_set(med, "needed", qty);
            *problem = med;
            rc = MK_ERANGE;
        } else {
            json_decref(med);
        }
    }
    json_decref(need);
    sqlite3_stmt *u = store_stmt(st, "UPDATE prescription SET state = 'dispensed', done_at = ?, "
                                     "done_by = ? WHERE id = ? AND state = 'prescribed'");
    if (rc == MK_OK && !u)
        rc = MK_EDB;
    util_now_iso(now);
    json_array_foreach(todo, i, x)
    {
        if (rc != MK_OK)
            break;
        const char *xid = json_string_value(json_object_get(x, "id"));
        json_t *m = json_object_get(x, "medicine");
        const char *mid = json_string_value(json_object_get(m, "id"));
        sqlite3_bind_text(u, 1, now, -1, SQLITE_STATIC);
        store_bind_opt(u, 2, a->staff_id);
        sqlite3_bind_text(u, 3, xid, -1, SQLITE_TRANSIENT);
        rc = store_err(st, sqlite3_step(u), "dispense");
        sqlite3_reset(u);
        if (rc == MK_OK && sqlite3_changes(st->db) != 1) {
            *problem = json_incref(x); /* another phone dispensed it a moment ago */
            rc = MK_EEXIST;
        }
        if (rc == MK_OK) {
            rc = stock_move(st, a, mid, -(int)json_integer_value(json_object_get(x, "quantity")),
                            "dispense", xid, NULL);
            /* MK_ERANGE here cannot happen after the check above (one writer at a time) */
        }
        json_t *after = NULL;
        if (rc == MK_OK)
            rc = rx_get(st, xid, &after);
        if (rc == MK_OK)
            rc = store_audit(st, a, "dispense", "prescription", xid, x, after);
        if (rc == MK_OK)
            json_array_append_new(done, after);
        else
            json_decref(after);
    }
    /* The medicines as they are now. */
    json_array_foreach(done, i, x)
    {
        if (rc != MK_OK)
            break;
        json_t *med = NULL;
        const char *mid = json_string_value(json_object_get(json_object_get(x, "medicine"), "id"));
        size_t j;
        json_t *seen;
        int dup = 0;
        json_array_foreach(meds, j,
                           seen) if (!strcmp(json_string_value(json_object_get(seen, "id")), mid))
            dup = 1;
        if (dup)
            continue;
        rc = store_medicine_get(st, mid, NULL, &med);
        if (rc == MK_OK)
            json_array_append_new(meds, med);
    }
    json_decref(items);
    json_decref(todo);
    json_t *result =
        rc == MK_OK ? json_pack("{s:o, s:o}", "dispensed", done, "medicines", meds) : NULL;
    if (rc != MK_OK) {
        json_decref(done);
        json_decref(meds);
    }
    return finish(st, rc, result, out);
}

/* ---- queue calls ---- */

int store_queue_call(struct store *st, const struct actor *a, const char *station,
                     enum queue_call_mode mode, int number, const char *campaign_id, json_t **out)
{
    char id[UUID_LEN + 1], now[32], today[11];
    util_today(today);
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    json_t *made = NULL, *station_row = NULL;
    rc = row_by_id(st, "SELECT name FROM station WHERE name = ?", station, &station_row);
    json_decref(station_row);
    /* The number to call. Next: the lowest of today's numbers this station has not called yet,
     * so a number called out of turn (someone urgent) is not called again, and the numbers
     * before it are not skipped. */
    sqlite3_stmt *s = NULL;
    if (rc == MK_OK) {
        switch (mode) {
        case QUEUE_NEXT:
            s = store_stmt(st, "SELECT v.id, v.queue_number FROM visit v WHERE v.campaign_id = ?1 "
                               "AND v.day = ?2 AND NOT EXISTS (SELECT 1 FROM queue_call q WHERE "
                               "q.station = ?3 AND q.day = ?2 AND q.queue_number = "
                               "v.queue_number AND q.visit_id = v.id) "
                               "ORDER BY v.queue_number LIMIT 1");
            break;
        case QUEUE_RECALL:
            s = store_stmt(st, "SELECT visit_id, queue_number FROM queue_call WHERE station = ?3 "
                               "AND day = ?2 AND visit_id IN (SELECT id FROM visit WHERE "
                               "campaign_id = ?1) ORDER BY called_at DESC, rowid DESC LIMIT 1");
            break;
        case QUEUE_NUMBER:
            s = store_stmt(st, "SELECT id, queue_number FROM visit WHERE campaign_id = ?1 AND "
                               "day = ?2 AND queue_number = ?4 AND ?3 IS NOT NULL");
            break;
        }
        if (!s)
            rc = MK_EDB;
    }
    char visit_id[64] = "";
    int qn = 0;
    if (rc == MK_OK) {
        sqlite3_bind_text(s, 1, campaign_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, today, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, station, -1, SQLITE_TRANSIENT);
        if (mode == QUEUE_NUMBER)
            sqlite3_bind_int(s, 4, number);
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW) {
            snprintf(visit_id, sizeof visit_id, "%s", (const char *)sqlite3_column_text(s, 0));
            qn = sqlite3_column_int(s, 1);
        } else {
            rc = step == SQLITE_DONE ? MK_ERANGE : store_err(st, step, "queue");
        }
        sqlite3_reset(s);
    }
    sqlite3_stmt *ins =
        store_stmt(st, "INSERT INTO queue_call(id, station, visit_id, queue_number, "
                       "day, recall, called_at, called_by) VALUES (?,?,?,?,?,?,?,?)");
    if (rc == MK_OK && !ins)
        rc = MK_EDB;
    if (rc == MK_OK) {
        util_uuid7(id);
        util_now_iso(now);
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, station, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 3, visit_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 4, qn);
        sqlite3_bind_text(ins, 5, today, -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 6, mode == QUEUE_RECALL);
        sqlite3_bind_text(ins, 7, now, -1, SQLITE_STATIC);
        store_bind_opt(ins, 8, a->staff_id);
        rc = store_err(st, sqlite3_step(ins), "queue call");
        sqlite3_reset(ins);
    }
    if (rc == MK_OK)
        rc = row_by_id(st,
                       "SELECT q.station, q.queue_number, q.visit_id AS visit, p.code AS patient, "
                       "q.recall, q.called_at, q.called_by FROM queue_call q "
                       "JOIN visit v ON v.id = q.visit_id JOIN patient p ON p.id = v.patient_id "
                       "WHERE q.id = ?",
                       id, &made);
    if (rc == MK_OK) {
        to_bool(made, "recall");
        rc = store_audit(st, a, "create", "queue_call", id, NULL, made);
    }
    return finish(st, rc, made, out);
}

int store_queue_status(struct store *st, const char *campaign_id, json_t **out)
{
    char today[11];
    util_today(today);
    sqlite3_stmt *s = store_stmt(
        st, "SELECT s.name, s.role, q.queue_number AS serving, q.called_at, "
            "(SELECT count(*) FROM visit v WHERE v.campaign_id = ?1 AND v.day = ?2 AND NOT "
            "EXISTS (SELECT 1 FROM queue_call x WHERE x.station = s.name AND x.day = ?2 AND "
            "x.queue_number = v.queue_number AND x.visit_id = v.id)) AS waiting "
            "FROM station s LEFT JOIN queue_call q ON q.rowid = (SELECT rowid FROM queue_call x "
            "WHERE x.station = s.name AND x.day = ?2 AND x.visit_id IN (SELECT id FROM visit "
            "WHERE campaign_id = ?1) ORDER BY x.called_at DESC, x.rowid DESC LIMIT 1) "
            "ORDER BY CASE s.role WHEN 'registration' THEN 1 WHEN 'vitals' THEN 2 "
            "WHEN 'doctor' THEN 3 ELSE 4 END, s.name");
    if (!s)
        return MK_EDB;
    store_bind_opt(s, 1, campaign_id);
    sqlite3_bind_text(s, 2, today, -1, SQLITE_STATIC);
    json_t *rows = NULL;
    int rc = store_query_rows(st, s, &rows);
    if (rc != MK_OK)
        return rc;
    sqlite3_stmt *m = store_stmt(st, "SELECT max(queue_number) FROM visit WHERE campaign_id = ? "
                                     "AND day = ?");
    json_t *last = json_null();
    if (m) {
        store_bind_opt(m, 1, campaign_id);
        sqlite3_bind_text(m, 2, today, -1, SQLITE_STATIC);
        if (sqlite3_step(m) == SQLITE_ROW && sqlite3_column_type(m, 0) != SQLITE_NULL)
            last = json_integer(sqlite3_column_int(m, 0));
        sqlite3_reset(m);
    }
    *out = json_pack("{s:s, s:o, s:o}", "day", today, "last_number", last, "stations", rows);
    return *out ? MK_OK : MK_ENOMEM;
}

/* ---- a visit's records, for GET /visits/{id} ---- */

int store_visit_records(struct store *st, const char *visit_id, json_t *visit)
{
    json_t *findings = NULL, *referrals = NULL, *rx = NULL, *extra = NULL;
    sqlite3_stmt *s = store_stmt(st, FINDING_COLS "WHERE visit_id = ? AND removed_at IS NULL "
                                                  "ORDER BY created_at, id");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, visit_id, -1, SQLITE_TRANSIENT);
    int rc = store_query_rows(st, s, &findings);
    if (rc == MK_OK) {
        size_t i;
        json_t *f;
        json_array_foreach(findings, i, f) finding_fix(f);
        s = store_stmt(st, REFERRAL_COLS "WHERE r.visit_id = ? ORDER BY r.created_at, r.id");
        rc = s ? MK_OK : MK_EDB;
    }
    if (rc == MK_OK) {
        sqlite3_bind_text(s, 1, visit_id, -1, SQLITE_TRANSIENT);
        rc = store_query_rows(st, s, &referrals);
    }
    if (rc == MK_OK) {
        s = store_stmt(st, RX_COLS "WHERE x.visit_id = ? ORDER BY x.created_at, x.id");
        rc = s ? MK_OK : MK_EDB;
    }
    if (rc == MK_OK) {
        sqlite3_bind_text(s, 1, visit_id, -1, SQLITE_TRANSIENT);
        rc = store_query_rows(st, s, &rx);
    }
    if (rc == MK_OK)
        rc = row_by_id(st, "SELECT symptoms, advice FROM visit WHERE id = ?", visit_id, &extra);
    if (rc != MK_OK) {
        json_decref(findings);
        json_decref(referrals);
        json_decref(rx);
        return rc;
    }
    size_t i;
    json_t *x;
    json_array_foreach(rx, i, x) rx_fix(x);
    const char *sym = json_string_value(json_object_get(extra, "symptoms"));
    json_t *symptoms = sym ? json_loads(sym, 0, NULL) : NULL;
    json_object_set_new(visit, "symptoms", symptoms ? symptoms : json_null());
    json_object_set(visit, "advice", json_object_get(extra, "advice"));
    json_object_set_new(visit, "findings", findings);
    json_object_set_new(visit, "referrals", referrals);
    json_object_set_new(visit, "prescriptions", rx);
    json_decref(extra);
    return MK_OK;
}

/* ---- visits of a day or a campaign, for lists and the dashboard ---- */

/* Runs s (bound by the caller) and hands each row to add(visit of the row's first column). */
static int attach_rows(struct store *st, sqlite3_stmt *s, json_t *by_id,
                       void (*add)(json_t *visit, json_t *row))
{
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *row = store_row_json(s);
        if (!row) {
            sqlite3_reset(s);
            return MK_ENOMEM;
        }
        json_t *v = json_object_get(by_id, (const char *)sqlite3_column_text(s, 0));
        if (v)
            add(v, row);
        json_decref(row);
    }
    sqlite3_reset(s);
    return store_err(st, step, "visit list");
}

static void add_obs(json_t *v, json_t *row)
{
    const struct obs_kind *k = obs_kind_find(json_string_value(json_object_get(row, "code")));
    if (!k)
        return;
    json_t *values = json_object();
    static const char *const cols[] = {"value", "value2", "value3"};
    for (int i = 0; i < k->ncomp; i++) {
        json_t *x = json_object_get(row, cols[i]);
        if (json_is_number(x))
            json_object_set_new(values, k->comp[i], json_real(json_number_value(x)));
    }
    json_t *fasting = json_object_get(row, "fasting");
    json_array_append_new(json_object_get(v, "observations"),
                          json_pack("{s:s, s:o, s:o}", "code", k->code, "values", values, "fasting",
                                    json_is_integer(fasting)
                                        ? json_boolean(json_integer_value(fasting))
                                        : json_null()));
}

static void add_finding(json_t *v, json_t *row)
{
    json_array_append(json_object_get(v, "findings"), json_object_get(row, "icd10"));
}

static void add_referral(json_t *v, json_t *row)
{
    json_object_del(row, "visit_id");
    json_array_append(json_object_get(v, "referrals"), row);
}

static void add_rx(json_t *v, json_t *row)
{
    json_object_set(v, "prescribed", json_object_get(row, "prescribed"));
    json_object_set(v, "dispensed", json_object_get(row, "dispensed"));
}

#define LIST_WHERE "v.campaign_id = ?1 AND (?2 IS NULL OR v.day = ?2)"

int store_visit_list(struct store *st, const char *campaign_id, const char *day, json_t **out)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT v.id, v.day, v.queue_number, v.created_at, v.symptoms, p.code AS patient_code, "
            "p.name AS patient_name, p.sex AS patient_sex, p.birth_date AS patient_birth_date, "
            "p.birth_year AS patient_birth_year, p.ethnicity AS patient_ethnicity, "
            "p.village AS patient_village FROM visit v JOIN patient p ON p.id = v.patient_id "
            "WHERE " LIST_WHERE " ORDER BY v.day, v.queue_number");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, campaign_id, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 2, day);
    json_t *rows = NULL, *by_id = json_object();
    int rc = store_query_rows(st, s, &rows);
    size_t i;
    json_t *v;
    if (rc == MK_OK) {
        json_array_foreach(rows, i, v)
        {
            static const char *const keys[] = {"code",       "name",      "sex",    "birth_date",
                                               "birth_year", "ethnicity", "village"};
            json_t *p = json_object();
            for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
                char col[32];
                snprintf(col, sizeof col, "patient_%s", keys[k]);
                json_object_set(p, keys[k], json_object_get(v, col));
                json_object_del(v, col);
            }
            json_object_set_new(v, "patient", p);
            const char *sym = json_string_value(json_object_get(v, "symptoms"));
            json_t *symptoms = sym ? json_loads(sym, 0, NULL) : NULL;
            json_object_set_new(v, "symptoms", symptoms ? symptoms : json_null());
            json_object_set_new(v, "observations", json_array());
            json_object_set_new(v, "findings", json_array());
            json_object_set_new(v, "referrals", json_array());
            json_object_set_new(v, "prescribed", json_integer(0));
            json_object_set_new(v, "dispensed", json_integer(0));
            json_object_set(by_id, json_string_value(json_object_get(v, "id")), v);
        }
    }
    static const struct {
        const char *sql;
        void (*add)(json_t *, json_t *);
    } parts[] = {
        {"SELECT o.visit_id, o.code, o.value, o.value2, o.value3, o.fasting FROM observation o "
         "JOIN visit v ON v.id = o.visit_id WHERE " LIST_WHERE " ORDER BY o.taken_at, o.id",
         add_obs},
        {"SELECT f.visit_id, f.icd10 FROM finding f JOIN visit v ON v.id = f.visit_id "
         "WHERE " LIST_WHERE " AND f.removed_at IS NULL ORDER BY f.created_at, f.id",
         add_finding},
        {"SELECT r.visit_id, r.destination AS \"to\", r.urgency, r.status FROM referral r "
         "JOIN visit v ON v.id = r.visit_id WHERE " LIST_WHERE " ORDER BY r.created_at, r.id",
         add_referral},
        {"SELECT x.visit_id, sum(x.state = 'prescribed') AS prescribed, "
         "sum(x.state = 'dispensed') AS dispensed FROM prescription x "
         "JOIN visit v ON v.id = x.visit_id WHERE " LIST_WHERE " GROUP BY x.visit_id",
         add_rx},
    };
    for (size_t k = 0; rc == MK_OK && k < sizeof parts / sizeof parts[0]; k++) {
        s = store_stmt(st, parts[k].sql);
        if (!s) {
            rc = MK_EDB;
            break;
        }
        sqlite3_bind_text(s, 1, campaign_id, -1, SQLITE_TRANSIENT);
        store_bind_opt(s, 2, day);
        rc = attach_rows(st, s, by_id, parts[k].add);
    }
    json_decref(by_id);
    if (rc != MK_OK) {
        json_decref(rows);
        return rc;
    }
    *out = rows;
    return MK_OK;
}

int store_medicine_given(struct store *st, const char *campaign_id, const char *day, json_t **out)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT m.id, m.code, m.name, m.strength, m.unit, m.stock, m.active, "
            "coalesce(sum(x.quantity), 0) AS dispensed FROM medicine m "
            "LEFT JOIN prescription x ON x.medicine_id = m.id AND x.state = 'dispensed' AND "
            "x.visit_id IN (SELECT v.id FROM visit v WHERE " LIST_WHERE ") "
            "WHERE m.campaign_id = ?1 GROUP BY m.id ORDER BY m.name, m.strength, m.code");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, campaign_id, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 2, day);
    int rc = store_query_rows(st, s, out);
    if (rc == MK_OK) {
        size_t i;
        json_t *m;
        json_array_foreach(*out, i, m) to_bool(m, "active");
    }
    return rc;
}
