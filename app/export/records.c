/* A campaign's records: the tables a package carries and the checks each row passes (shared
 * with the PostgreSQL importer), the dump, and the import into a mokit SQLite store. */
#include "records_int.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../domain/code.h"
#include "../domain/date.h"
#include "../domain/icd10.h"
#include "../domain/obs.h"
#include "../domain/patient.h"
#include "../domain/text.h"
#include "../store/store_int.h"

#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tables ---- */

static const char *const sexes[] = {"male", "female", NULL};
static const char *const roles[] = {"registrar", "nurse", "doctor", "pharmacist", "lead", NULL};
static const char *const sources[] = {"manual", "device", NULL};
static const char *const reading_states[] = {"attached", "unassigned", "implausible", NULL};
static const char *const urgencies[] = {"routine", "soon", "urgent", NULL};
static const char *const referral_states[] = {"referred", "arrived", "cancelled", NULL};
static const char *const rx_states[] = {"prescribed", "dispensed", "cancelled", NULL};
static const char *const move_reasons[] = {"receive", "dispense", "adjust", NULL};

/* clang-format off */
#define REQ(n, k)      {n, k, true, 0, 0, NULL}
#define OPT(n, k)      {n, k, false, 0, 0, NULL}
#define TEXT(n, max)   {n, RC_TEXT, true, 0, max, NULL}
#define OTEXT(n, max)  {n, RC_TEXT, false, 0, max, NULL}
#define INT(n, lo, hi) {n, RC_INT, true, lo, hi, NULL}
#define ENUM(n, vals)  {n, RC_ENUM, true, 0, 0, vals}
/* clang-format on */
#define NCOLS(a) ((int)(sizeof a / sizeof a[0]))

/* The limits are the kit store's (app/store/store_*.c). */
static const struct rcol campaign_cols[] = {
    REQ("id", RC_ID),
    TEXT("code", 40),
    TEXT("name", 300),
    OTEXT("province", 300),
    OTEXT("district", 300),
    OTEXT("commune", 300),
    OTEXT("village", 300),
    OPT("start_date", RC_DATE),
    OPT("end_date", RC_DATE),
    OTEXT("hospital", 300),
    {"id_systems", RC_JSON, false, 0, 4000, NULL},
    REQ("created_at", RC_TIME),
    OPT("created_by", RC_ID),
};
static const struct rcol staff_cols[] = {
    REQ("id", RC_ID),        TEXT("name", 200),          ENUM("role", roles),
    OTEXT("specialty", 300), REQ("created_at", RC_TIME),
};
static const struct rcol patient_cols[] = {
    REQ("id", RC_ID),
    REQ("code", RC_CODE),
    TEXT("name", 300),
    ENUM("sex", sexes),
    OPT("birth_date", RC_DATE),
    INT("birth_year", 1900, 2100),
    OPT("ethnicity", RC_ETHNIC),
    OTEXT("province", 300),
    OTEXT("district", 300),
    OTEXT("commune", 300),
    OTEXT("village", 300),
    OTEXT("address", 300),
    OPT("cccd", RC_CCCD),
    OPT("bhyt", RC_BHYT),
    OPT("bhyt_ssn", RC_SSN),
    OPT("phone", RC_PHONE),
    OPT("consent_at", RC_TIME),
    OPT("consent_by", RC_ID),
    OPT("campaign_id", RC_ID),
    REQ("created_at", RC_TIME),
    OPT("created_by", RC_ID),
};
static const struct rcol visit_cols[] = {
    REQ("id", RC_ID),         REQ("patient_id", RC_ID),         REQ("campaign_id", RC_ID),
    REQ("day", RC_DATE),      INT("queue_number", 1, 10000000), REQ("created_at", RC_TIME),
    OPT("created_by", RC_ID), OPT("symptoms", RC_SYMPTOMS),     OTEXT("advice", 2000),
};
static const struct rcol observation_cols[] = {
    REQ("id", RC_ID),
    REQ("visit_id", RC_ID),
    TEXT("code", 20),
    REQ("value", RC_REAL),
    OPT("value2", RC_REAL),
    OPT("value3", RC_REAL),
    TEXT("unit", 20),
    ENUM("source", sources),
    OTEXT("device", 300),
    REQ("taken_at", RC_TIME),
    OPT("taken_by", RC_ID),
    OTEXT("note", 1000),
    {"fasting", RC_INT, false, 0, 1, NULL},
};
static const struct rcol reading_cols[] = {
    REQ("id", RC_ID),
    TEXT("device_id", 100),
    TEXT("device", 300),
    TEXT("code", 20),
    REQ("value", RC_REAL),
    OPT("value2", RC_REAL),
    OPT("value3", RC_REAL),
    TEXT("unit", 20),
    OPT("device_time", RC_TIME),
    REQ("received_at", RC_TIME),
    {"raw", RC_HEX, false, 0, 8192, NULL},
    ENUM("state", reading_states),
    OTEXT("note", 1000),
    OPT("visit_id", RC_ID),
    OPT("observation_id", RC_ID),
    OPT("assigned_at", RC_TIME),
    OPT("assigned_by", RC_ID),
};
static const struct rcol finding_cols[] = {
    REQ("id", RC_ID),           REQ("visit_id", RC_ID),   REQ("icd10", RC_ICD10),
    OTEXT("label", 300),        INT("known", 0, 1),       OTEXT("note", 1000),
    REQ("created_at", RC_TIME), OPT("created_by", RC_ID), OPT("removed_at", RC_TIME),
    OPT("removed_by", RC_ID),
};
static const struct rcol referral_cols[] = {
    REQ("id", RC_ID),          REQ("visit_id", RC_ID),     TEXT("destination", 300),
    TEXT("reason", 300),       ENUM("urgency", urgencies), ENUM("status", referral_states),
    REQ("status_at", RC_TIME), OPT("status_by", RC_ID),    REQ("created_at", RC_TIME),
    OPT("created_by", RC_ID),
};
static const struct rcol medicine_cols[] = {
    REQ("id", RC_ID),           REQ("campaign_id", RC_ID),   TEXT("code", 20),
    TEXT("name", 120),          OTEXT("strength", 60),       OTEXT("form", 60),
    TEXT("unit", 30),           INT("stock", 0, 1000000000), INT("active", 0, 1),
    REQ("created_at", RC_TIME), OPT("created_by", RC_ID),
};
static const struct rcol prescription_cols[] = {
    REQ("id", RC_ID),           REQ("visit_id", RC_ID),   REQ("medicine_id", RC_ID),
    INT("quantity", 1, 10000),  OTEXT("dosage", 300),     ENUM("state", rx_states),
    REQ("created_at", RC_TIME), OPT("created_by", RC_ID), OPT("done_at", RC_TIME),
    OPT("done_by", RC_ID),
};
static const struct rcol stock_move_cols[] = {
    REQ("id", RC_ID),
    REQ("medicine_id", RC_ID),
    INT("change", -1000000000, 1000000000),
    ENUM("reason", move_reasons),
    OPT("prescription_id", RC_ID),
    OTEXT("note", 300),
    REQ("at", RC_TIME),
    OPT("by", RC_ID),
};

const struct rtable records_tables[RT_COUNT] = {
    [RT_CAMPAIGN] = {"campaign", campaign_cols, NCOLS(campaign_cols)},
    [RT_STAFF] = {"staff", staff_cols, NCOLS(staff_cols)},
    [RT_PATIENT] = {"patient", patient_cols, NCOLS(patient_cols)},
    [RT_VISIT] = {"visit", visit_cols, NCOLS(visit_cols)},
    [RT_OBSERVATION] = {"observation", observation_cols, NCOLS(observation_cols)},
    [RT_DEVICE_READING] = {"device_reading", reading_cols, NCOLS(reading_cols)},
    [RT_FINDING] = {"finding", finding_cols, NCOLS(finding_cols)},
    [RT_REFERRAL] = {"referral", referral_cols, NCOLS(referral_cols)},
    [RT_MEDICINE] = {"medicine", medicine_cols, NCOLS(medicine_cols)},
    [RT_PRESCRIPTION] = {"prescription", prescription_cols, NCOLS(prescription_cols)},
    [RT_STOCK_MOVE] = {"stock_move", stock_move_cols, NCOLS(stock_move_cols)},
};

/* ---- checks ---- */

bool records_uuid_valid(const char *s)
{
    if (!s || strlen(s) != UUID_LEN)
        return false;
    for (int i = 0; i < UUID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

static bool digits(const char *s, size_t lo, size_t hi)
{
    size_t n = strlen(s);
    if (n < lo || n > hi)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool date_ok(const char *s)
{
    struct date d;
    return strlen(s) == 10 && date_parse(s, &d) == MK_OK && d.month > 0;
}

/* "2026-11-22T07:15:02.123Z", the fraction optional. */
static bool time_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 20 || n > 30 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[n - 1] != 'Z')
        return false;
    char day[11];
    memcpy(day, s, 10);
    day[10] = '\0';
    if (!date_ok(day) || !digits((char[]){s[11], s[12], s[14], s[15], s[17], s[18], 0}, 6, 6))
        return false;
    if (atoi(s + 11) > 23 || atoi(s + 14) > 59 || atoi(s + 17) > 60)
        return false;
    if (n == 20)
        return true;
    if (s[19] != '.')
        return false;
    for (size_t i = 20; i < n - 1; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 21;
}

/* jansson has checked the UTF-8; what is left is control characters (line breaks and tabs
 * are allowed in notes). */
static bool text_chars_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r') || *p == 0x7f)
            return false;
    return true;
}

static bool symptoms_ok(const char *s)
{
    json_t *a = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_array(a) && json_array_size(a) <= 16;
    size_t i;
    json_t *k;
    json_array_foreach(a, i, k) ok =
        ok && json_is_string(k) && store_symptom_valid(json_string_value(k));
    json_decref(a);
    return ok;
}

static const char *col_check(const struct rcol *c, json_t *v)
{
    if (c->kind == RC_INT) {
        if (!json_is_integer(v))
            return "is not an integer";
        long long x = json_integer_value(v);
        return x < c->min || x > c->max ? "is out of range" : NULL;
    }
    if (c->kind == RC_REAL) {
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return "is not a number";
        return NULL;
    }
    if (!json_is_string(v))
        return "is not text";
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n != strlen(s))
        return "holds a NUL character";
    char card[16], ssn[11];
    switch (c->kind) {
    case RC_ID:
        return records_uuid_valid(s) ? NULL : "is not a UUID";
    case RC_TEXT:
        if (n == 0)
            return "is empty";
        return n > (size_t)c->max ? "is too long"
               : text_chars_ok(s) ? NULL
                                  : "holds control characters";
    case RC_TIME:
        return time_ok(s) ? NULL : "is not a UTC time";
    case RC_DATE:
        return date_ok(s) ? NULL : "is not a date";
    case RC_ENUM:
        for (const char *const *e = c->values; *e; e++)
            if (!strcmp(*e, s))
                return NULL;
        return "is not one of the known values";
    case RC_SYMPTOMS:
        return symptoms_ok(s) ? NULL : "is not a list of symptom keys";
    case RC_JSON: {
        if (n > (size_t)c->max)
            return "is too long";
        json_t *o = json_loads(s, 0, NULL);
        bool ok = json_is_object(o);
        json_decref(o);
        return ok ? NULL : "is not a JSON object";
    }
    case RC_CODE: {
        char code[CODE_LEN + 1];
        return n == CODE_LEN && code_parse(s, code) == MK_OK && !strcmp(code, s)
                   ? NULL
                   : "is not a patient code";
    }
    case RC_ICD10:
        return icd10_code_valid(s) && n <= 8 ? NULL : "is not an ICD-10 code";
    case RC_CCCD:
        return cccd_number_valid(s) ? NULL : "is not a CCCD number";
    case RC_BHYT:
        return bhyt_normalize(s, card, ssn) && !strcmp(card, s) ? NULL : "is not a BHYT number";
    case RC_SSN:
        return digits(s, 10, 10) ? NULL : "is not a social insurance number";
    case RC_PHONE:
        return digits(s, 9, 12) ? NULL : "is not a phone number";
    case RC_ETHNIC: {
        const struct ethnic_group *g = ethnic_find(s);
        return g && !strcmp(g->code, s) ? NULL : "is not an ethnic group code";
    }
    case RC_HEX:
        if (n > (size_t)c->max || n % 2)
            return "is not hex";
        for (size_t i = 0; i < n; i++)
            if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                return "is not hex";
        return NULL;
    default:
        return "has an unknown kind";
    }
}

int rrow_col(enum rtable_id t, const char *name)
{
    const struct rtable *tb = &records_tables[t];
    for (int i = 0; i < tb->ncols; i++)
        if (!strcmp(tb->cols[i].name, name))
            return i;
    return -1;
}

const char *rrow_str(const struct rrow *row, const char *name)
{
    int i = rrow_col(row->t, name);
    return i >= 0 ? json_string_value(row->v[i]) : NULL;
}

long long rrow_int(const struct rrow *row, const char *name)
{
    int i = rrow_col(row->t, name);
    return i >= 0 ? json_integer_value(row->v[i]) : 0;
}

static double rrow_num(const struct rrow *row, const char *name, int *present)
{
    int i = rrow_col(row->t, name);
    *present = i >= 0 && row->v[i] != NULL;
    return *present ? json_number_value(row->v[i]) : 0;
}

/* Checks between columns, as the kit's store makes them. */
static const char *row_check(const struct rrow *row)
{
    switch (row->t) {
    case RT_CAMPAIGN: {
        const char *a = rrow_str(row, "start_date"), *b = rrow_str(row, "end_date");
        return a && b && strcmp(a, b) > 0 ? "start_date is after end_date" : NULL;
    }
    case RT_STAFF:
    case RT_PATIENT: {
        char *clean = NULL;
        const char *name = rrow_str(row, "name");
        bool ok = text_clean(name, &clean) == MK_OK && !strcmp(clean, name);
        free(clean);
        if (!ok)
            return "name is not clean NFC text";
        if (row->t == RT_STAFF)
            return NULL;
        const char *bd = rrow_str(row, "birth_date");
        if (bd && atoi(bd) != rrow_int(row, "birth_year"))
            return "birth_date and birth_year disagree";
        const char *bhyt = rrow_str(row, "bhyt"), *ssn = rrow_str(row, "bhyt_ssn");
        char card[16], s[11];
        if (bhyt && (!bhyt_normalize(bhyt, card, s) || !ssn || strcmp(s, ssn)))
            return "bhyt and bhyt_ssn disagree";
        return NULL;
    }
    case RT_OBSERVATION:
    case RT_DEVICE_READING: {
        const struct obs_kind *k = obs_kind_find(rrow_str(row, "code"));
        if (!k)
            return "code is not an observation kind";
        if (strcmp(k->unit, rrow_str(row, "unit")))
            return "unit is not the kind's unit";
        if (row->t == RT_DEVICE_READING)
            return NULL;
        struct obs_values v = {0};
        static const char *const names[] = {"value", "value2", "value3"};
        for (int i = 0; i < OBS_MAX_COMPONENTS; i++)
            v.v[i] = rrow_num(row, names[i], &v.present[i]);
        char msg[160];
        return obs_validate(k, &v, msg, sizeof msg) == MK_OK ? NULL : "values are implausible";
    }
    default:
        return NULL;
    }
}

int records_row_parse(const char *line, size_t len, struct rrow *row, char *err, size_t errlen)
{
    json_error_t je;
    memset(row, 0, sizeof *row);
    row->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!row->root) {
        snprintf(err, errlen, "not JSON (column %d: %s)", je.column, je.text);
        return MK_EINVAL;
    }
    json_t *t = json_object_get(row->root, "t"), *r = json_object_get(row->root, "r");
    if (!json_is_object(row->root) || json_object_size(row->root) != 2 || !json_is_string(t) ||
        !json_is_object(r)) {
        snprintf(err, errlen, "not a row: {\"t\": table, \"r\": {columns}} expected");
        goto bad;
    }
    int ti;
    for (ti = 0; ti < RT_COUNT; ti++)
        if (!strcmp(records_tables[ti].name, json_string_value(t)))
            break;
    if (ti == RT_COUNT) {
        snprintf(err, errlen, "unknown table \"%.40s\"", json_string_value(t));
        goto bad;
    }
    row->t = (enum rtable_id)ti;
    const struct rtable *tb = &records_tables[ti];
    const char *key;
    json_t *v;
    json_object_foreach(r, key, v)
    {
        int i = rrow_col(row->t, key);
        if (i < 0) {
            snprintf(err, errlen, "%s: unknown column \"%.40s\"", tb->name, key);
            goto bad;
        }
        row->v[i] = json_is_null(v) ? NULL : v;
    }
    for (int i = 0; i < tb->ncols; i++) {
        const struct rcol *c = &tb->cols[i];
        const char *why = row->v[i] ? col_check(c, row->v[i]) : c->req ? "is missing" : NULL;
        if (why) {
            snprintf(err, errlen, "%s.%s %s", tb->name, c->name, why);
            goto bad;
        }
    }
    const char *why = row_check(row);
    if (why) {
        snprintf(err, errlen, "%s: %s", tb->name, why);
        goto bad;
    }
    return MK_OK;
bad:
    records_row_free(row);
    return MK_EINVAL;
}

void records_row_free(struct rrow *row)
{
    json_decref(row->root);
    row->root = NULL;
}

int records_patient_folds(const struct rrow *row, char **name_fold, char **commune_fold,
                          char **village_fold)
{
    const char *in[3] = {rrow_str(row, "name"), rrow_str(row, "commune"), rrow_str(row, "village")};
    char **out[3] = {name_fold, commune_fold, village_fold};
    int rc = MK_OK;
    for (int i = 0; i < 3; i++) {
        *out[i] = NULL;
        if (rc == MK_OK && in[i])
            rc = text_fold(in[i], out[i]);
    }
    if (rc == MK_OK && (!*name_fold || !**name_fold))
        rc = MK_EINVAL; /* a name of marks alone folds to nothing: no search could find it */
    if (rc != MK_OK)
        for (int i = 0; i < 3; i++) {
            free(*out[i]);
            *out[i] = NULL;
        }
    return rc;
}

void records_new_code(char *out)
{
    uint8_t rnd[CODE_RANDOM_BYTES];
    do
        randombytes_buf(rnd, sizeof rnd);
    while (code_from_random(rnd, sizeof rnd, out) != MK_OK);
}

void records_campaign_code(const char *code, const char *kit, char *out, size_t size)
{
    /* The kit id's last hex digits are random (a UUIDv7 starts with the time). */
    size_t n = strlen(kit);
    snprintf(out, size, "%.30s-K%.6s", code, n >= 6 ? kit + n - 6 : kit);
}

bool records_sql_cat(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
    if (*n >= size)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, size - *n, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= size - *n)
        return false;
    *n += (size_t)w;
    return true;
}

/* ---- dump ---- */

/* The patients a campaign's package carries: registered there, or seen there. */
#define CAMPAIGN_PATIENTS                                                                \
    "(SELECT patient_id FROM visit WHERE campaign_id = ?1 UNION SELECT id FROM patient " \
    "WHERE campaign_id = ?1)"
#define CAMPAIGN_VISITS    "(SELECT id FROM visit WHERE campaign_id = ?1)"
#define CAMPAIGN_MEDICINES "(SELECT id FROM medicine WHERE campaign_id = ?1)"

/* Per table: FROM and WHERE of its rows of campaign ?1, in id order (ids are time-ordered). */
static const char *const dump_where[RT_COUNT] = {
    [RT_CAMPAIGN] = "FROM campaign WHERE id = ?1",
    [RT_STAFF] = "FROM staff WHERE id IN (SELECT created_by FROM campaign WHERE id = ?1 "
                 "UNION SELECT created_by FROM patient WHERE id IN " CAMPAIGN_PATIENTS
                 " UNION SELECT consent_by FROM patient WHERE id IN " CAMPAIGN_PATIENTS
                 " UNION SELECT created_by FROM visit WHERE campaign_id = ?1"
                 " UNION SELECT taken_by FROM observation WHERE visit_id IN " CAMPAIGN_VISITS
                 " UNION SELECT assigned_by FROM device_reading WHERE visit_id IN " CAMPAIGN_VISITS
                 " UNION SELECT created_by FROM finding WHERE visit_id IN " CAMPAIGN_VISITS
                 " UNION SELECT removed_by FROM finding WHERE visit_id IN " CAMPAIGN_VISITS
                 " UNION SELECT created_by FROM referral WHERE visit_id IN " CAMPAIGN_VISITS
                 " UNION SELECT status_by FROM referral WHERE visit_id IN " CAMPAIGN_VISITS
                 " UNION SELECT created_by FROM medicine WHERE campaign_id = ?1"
                 " UNION SELECT created_by FROM prescription WHERE visit_id IN " CAMPAIGN_VISITS
                 " UNION SELECT done_by FROM prescription WHERE visit_id IN " CAMPAIGN_VISITS
                 " UNION SELECT by FROM stock_move WHERE medicine_id IN " CAMPAIGN_MEDICINES ")",
    [RT_PATIENT] = "FROM patient WHERE id IN " CAMPAIGN_PATIENTS,
    [RT_VISIT] = "FROM visit WHERE campaign_id = ?1",
    [RT_OBSERVATION] = "FROM observation WHERE visit_id IN " CAMPAIGN_VISITS,
    [RT_DEVICE_READING] =
        "FROM device_reading WHERE state = 'attached' AND visit_id IN " CAMPAIGN_VISITS,
    [RT_FINDING] = "FROM finding WHERE visit_id IN " CAMPAIGN_VISITS,
    [RT_REFERRAL] = "FROM referral WHERE visit_id IN " CAMPAIGN_VISITS,
    [RT_MEDICINE] = "FROM medicine WHERE campaign_id = ?1",
    [RT_PRESCRIPTION] = "FROM prescription WHERE visit_id IN " CAMPAIGN_VISITS,
    [RT_STOCK_MOVE] = "FROM stock_move WHERE medicine_id IN " CAMPAIGN_MEDICINES,
};

static json_t *column_json(sqlite3_stmt *s, int i)
{
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(s, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(s, i));
    case SQLITE_TEXT:
        return json_stringn((const char *)sqlite3_column_text(s, i),
                            (size_t)sqlite3_column_bytes(s, i));
    default:
        return json_null();
    }
}

static int dump_table(struct store *st, enum rtable_id t, const char *campaign_id, FILE *out,
                      long *count, const struct progress *p)
{
    const struct rtable *tb = &records_tables[t];
    char sql[4096];
    size_t n = 0;
    bool fits = records_sql_cat(sql, sizeof sql, &n, "SELECT ");
    for (int i = 0; fits && i < tb->ncols; i++)
        fits = records_sql_cat(sql, sizeof sql, &n, "%s\"%s\"", i ? ", " : "", tb->cols[i].name);
    if (!fits || !records_sql_cat(sql, sizeof sql, &n, " %s ORDER BY id", dump_where[t]))
        return MK_EINVAL; /* programmer error: a longer query */
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_err(st, rc, "dump prepare");
    sqlite3_bind_text(s, 1, campaign_id, -1, SQLITE_STATIC);
    json_t *line = json_object(), *r = json_object();
    if (!line || !r || json_object_set_new(line, "t", json_string(tb->name)) ||
        json_object_set(line, "r", r)) {
        rc = MK_ENOMEM;
        goto out;
    }
    *count = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (int i = 0; i < tb->ncols; i++) {
            json_t *v = column_json(s, i);
            if (!v || json_object_set_new(r, tb->cols[i].name, v)) {
                rc = MK_ENOMEM;
                goto out;
            }
        }
        if (json_dumpf(line, out, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 ||
            fputc('\n', out) == EOF) {
            LOG(LOG_ERROR, "dump: write failed");
            rc = MK_EIO;
            goto out;
        }
        if (++*count % 2000 == 0)
            progress_note(p, tb->name, *count, 0);
    }
    rc = rc == SQLITE_DONE ? MK_OK : store_err(st, rc, "dump");
out:
    json_decref(r);
    json_decref(line);
    sqlite3_finalize(s);
    return rc;
}

int records_dump(struct store *st, const char *campaign_code_or_id, FILE *out, json_t **counts,
                 const struct progress *p)
{
    json_t *c = NULL;
    if (counts)
        *counts = NULL;
    int rc = store_campaign_get(st, campaign_code_or_id, &c);
    if (rc != MK_OK)
        return rc;
    char id[UUID_BUF];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(c, "id")));
    json_decref(c);
    json_t *n = json_object();
    if (!n)
        return MK_ENOMEM;
    /* One read transaction: the tables agree with each other while the kit works on. Inside
     * the caller's transaction that one serves (export_snapshot_begin does the same). */
    bool begun = false;
    if (sqlite3_get_autocommit(st->db)) {
        rc = store_err(st, sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL), "dump begin");
        begun = rc == MK_OK;
    }
    for (int t = 0; rc == MK_OK && t < RT_COUNT; t++) {
        long count = 0;
        rc = dump_table(st, (enum rtable_id)t, id, out, &count, p);
        if (rc == MK_OK) {
            json_object_set_new(n, records_tables[t].name, json_integer(count));
            progress_note(p, records_tables[t].name, count, count);
        }
    }
    if (begun) {
        /* Read only: nothing to lose, but a transaction left open would hold the snapshot
         * and make the caller's next BEGIN fail. */
        int end = store_err(st, sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL), "dump end");
        if (end != MK_OK && !sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        if (rc == MK_OK)
            rc = end;
    }
    if (rc == MK_OK && (fflush(out) != 0 || ferror(out)))
        rc = MK_EIO;
    if (rc == MK_OK && counts)
        *counts = n;
    else
        json_decref(n);
    return rc;
}

/* ---- the import frame ---- */

int records_fail(struct records_import *ri, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ri->err, sizeof ri->err, fmt, ap);
    va_end(ap);
    return rc;
}

struct records_import *records_import_new(const struct records_backend *be, void *impl)
{
    struct records_import *ri = calloc(1, sizeof *ri);
    if (!ri)
        return NULL;
    ri->be = be;
    ri->impl = impl;
    ri->last_table = -1;
    return ri;
}

const char *records_import_error(const struct records_import *ri)
{
    return ri ? ri->err : "";
}

void records_import_free(struct records_import *ri)
{
    if (!ri)
        return;
    ri->be->free(ri);
    json_decref(ri->counts);
    free(ri);
}

int records_import_begin(struct records_import *ri, const json_t *manifest, const char *actor_label)
{
    if (ri->state != RI_NEW)
        return records_fail(ri, MK_EINVAL, "the import was begun already");
    json_t *c = json_object_get(manifest, "campaign"),
           *counts = json_object_get(manifest, "counts");
    const char *pkg = json_string_value(json_object_get(manifest, "package"));
    const char *kit = json_string_value(json_object_get(manifest, "kit"));
    const char *code = json_string_value(json_object_get(c, "code"));
    const char *cid = json_string_value(json_object_get(c, "id"));
    if (!records_uuid_valid(pkg) || !records_uuid_valid(kit) || !json_is_object(counts) || !code ||
        !code[0] || strlen(code) > 40 || (cid && !records_uuid_valid(cid)))
        return records_fail(ri, MK_EINVAL,
                            "the manifest lacks a package id, kit id, campaign code or counts");
    const char *key;
    json_t *v;
    json_object_foreach(counts, key, v)
    {
        int known = 0;
        for (int t = 0; t < RT_COUNT; t++)
            known |= !strcmp(records_tables[t].name, key);
        if (!known || !json_is_integer(v) || json_integer_value(v) < 0)
            return records_fail(ri, MK_EINVAL, "the manifest counts an unknown table");
    }
    snprintf(ri->package, sizeof ri->package, "%s", pkg);
    snprintf(ri->kit, sizeof ri->kit, "%s", kit);
    snprintf(ri->campaign_id, sizeof ri->campaign_id, "%s", cid ? cid : "");
    snprintf(ri->campaign_code, sizeof ri->campaign_code, "%s", code);
    snprintf(ri->actor, sizeof ri->actor, "%s", actor_label ? actor_label : "system");
    ri->counts = json_deep_copy(counts);
    if (!ri->counts)
        return MK_ENOMEM;
    int rc = ri->be->begin(ri);
    ri->state = rc == MK_OK ? RI_OPEN : RI_FAILED;
    return rc;
}

int records_import_line(struct records_import *ri, const char *line, size_t len)
{
    if (ri->state != RI_OPEN)
        return records_fail(ri, MK_EINVAL, "the import is not open");
    ri->line++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len == 0)
        return MK_OK;
    struct rrow row;
    char why[256];
    int rc = records_row_parse(line, len, &row, why, sizeof why);
    if (rc != MK_OK) {
        ri->state = RI_FAILED;
        return records_fail(ri, rc, "line %ld: %s", ri->line, why);
    }
    if ((int)row.t < ri->last_table) {
        ri->state = RI_FAILED;
        records_row_free(&row);
        return records_fail(ri, MK_EINVAL, "line %ld: a %s row after %s rows", ri->line,
                            records_tables[row.t].name, records_tables[ri->last_table].name);
    }
    if (row.t == RT_CAMPAIGN) {
        const char *id = rrow_str(&row, "id"), *code = rrow_str(&row, "code");
        if (ri->seen[RT_CAMPAIGN] > 0 || strcmp(code, ri->campaign_code) ||
            (ri->campaign_id[0] && strcmp(id, ri->campaign_id))) {
            ri->state = RI_FAILED;
            records_row_free(&row);
            return records_fail(ri, MK_EINVAL, "line %ld: not the manifest's campaign", ri->line);
        }
        snprintf(ri->campaign_id, sizeof ri->campaign_id, "%s", id);
    } else if (ri->seen[RT_CAMPAIGN] == 0) {
        ri->state = RI_FAILED;
        records_row_free(&row);
        return records_fail(ri, MK_EINVAL, "line %ld: rows before the campaign", ri->line);
    }
    ri->last_table = (int)row.t;
    ri->seen[row.t]++;
    rc = ri->be->row(ri, &row);
    records_row_free(&row);
    if (rc == MK_EEXIST) /* that says "imported before, nothing changed" (records.h) */
        rc = MK_EINVAL;
    if (rc != MK_OK) {
        ri->state = RI_FAILED;
        if (!ri->err[0])
            records_fail(ri, rc, "line %ld: %s", ri->line, mk_strerror(rc));
    }
    return rc;
}

int records_import_commit(struct records_import *ri, json_t **result)
{
    *result = NULL;
    if (ri->state != RI_OPEN)
        return records_fail(ri, MK_EINVAL, "the import is not open%s%s", ri->err[0] ? ": " : "",
                            ri->err);
    for (int t = 0; t < RT_COUNT; t++) {
        json_t *c = json_object_get(ri->counts, records_tables[t].name);
        long want = c ? (long)json_integer_value(c) : 0;
        if (want != ri->seen[t]) {
            ri->state = RI_FAILED;
            return records_fail(ri, MK_EINVAL,
                                "the package holds %ld %s rows where its manifest says %ld",
                                ri->seen[t], records_tables[t].name, want);
        }
    }
    if (ri->seen[RT_CAMPAIGN] != 1) {
        ri->state = RI_FAILED;
        return records_fail(ri, MK_EINVAL, "the package holds no campaign");
    }
    json_t *res = json_pack("{s:s,s:s}", "package", ri->package, "kit", ri->kit);
    if (!res)
        return MK_ENOMEM;
    int rc = ri->be->commit(ri, res);
    if (rc == MK_EEXIST) /* that says "imported before, nothing changed" (records.h) */
        rc = MK_EINVAL;
    ri->state = rc == MK_OK ? RI_DONE : RI_FAILED;
    if (rc == MK_OK)
        *result = res;
    else
        json_decref(res);
    return rc;
}

/* ---- into SQLite ---- */

struct sq {
    struct store *st;
    bool tx;
    sqlite3_stmt *ins[RT_COUNT]; /* INSERT ... ON CONFLICT(id) DO NOTHING, by table */
    json_t *pmap;                /* incoming patient id -> id here */
    json_t *likely;              /* the result's likely_matches */
    long inserted[RT_COUNT], already[RT_COUNT];
    long merged, code_changed;
    char campaign_code[64]; /* as stored here */
};

static int sq_exec(struct sq *q, const char *sql, const char *what)
{
    return store_err(q->st, sqlite3_exec(q->st->db, sql, NULL, NULL, NULL), what);
}

/* A one-value query: 1 and the text into out (when not NULL), 0 when no row, or an error. */
static int sq_lookup(struct sq *q, const char *sql, const char *a, const char *b, char *out,
                     size_t size)
{
    sqlite3_stmt *s = store_stmt(q->st, sql);
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, a, -1, SQLITE_TRANSIENT);
    if (b)
        sqlite3_bind_text(s, 2, b, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && out)
        snprintf(out, size, "%s",
                 sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0) : "");
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_err(q->st, rc, "import lookup");
}

static void bind_value(sqlite3_stmt *s, int i, json_t *v)
{
    if (!v)
        sqlite3_bind_null(s, i);
    else if (json_is_integer(v))
        sqlite3_bind_int64(s, i, json_integer_value(v));
    else if (json_is_real(v))
        sqlite3_bind_double(s, i, json_real_value(v));
    else
        sqlite3_bind_text(s, i, json_string_value(v), (int)json_string_length(v), SQLITE_STATIC);
}

static int sq_begin(struct records_import *ri)
{
    struct sq *q = ri->impl;
    int rc = sq_lookup(q, "SELECT id FROM import WHERE id = ?", ri->package, NULL, NULL, 0);
    if (rc == 1)
        return records_fail(ri, MK_EEXIST, "package %s was imported before", ri->package);
    if (rc < 0)
        return rc;
    /* Generic inserts; patient and staff rows get their own (folds, no PIN). */
    for (int t = 0; t < RT_COUNT; t++) {
        const struct rtable *tb = &records_tables[t];
        char sql[2048];
        size_t n = 0;
        bool fits = records_sql_cat(sql, sizeof sql, &n, "INSERT INTO %s(", tb->name);
        for (int i = 0; fits && i < tb->ncols; i++)
            fits = records_sql_cat(sql, sizeof sql, &n, "%s\"%s\"", i ? "," : "", tb->cols[i].name);
        if (fits && t == RT_PATIENT)
            fits = records_sql_cat(sql, sizeof sql, &n, ",name_fold,commune_fold,village_fold");
        else if (fits && t == RT_STAFF)
            fits = records_sql_cat(sql, sizeof sql, &n, ",pin_hash,pin_tag,active");
        if (fits)
            fits = records_sql_cat(sql, sizeof sql, &n, ") VALUES (");
        for (int i = 0; fits && i < tb->ncols; i++)
            fits = records_sql_cat(sql, sizeof sql, &n, "%s?%d", i ? "," : "", i + 1);
        if (fits && t == RT_PATIENT)
            fits = records_sql_cat(sql, sizeof sql, &n, ",?%d,?%d,?%d", tb->ncols + 1,
                                   tb->ncols + 2, tb->ncols + 3);
        else if (fits && t == RT_STAFF) /* "!" is no argon2id hash and -1 no tag: nobody logs in */
            fits = records_sql_cat(sql, sizeof sql, &n, ",'!',-1,0");
        if (!fits || !records_sql_cat(sql, sizeof sql, &n, ") ON CONFLICT(id) DO NOTHING"))
            return records_fail(ri, MK_EINVAL, "the %s insert is longer than %zu bytes", tb->name,
                                sizeof sql); /* programmer error */
        int r = sqlite3_prepare_v2(q->st->db, sql, -1, &q->ins[t], NULL);
        if (r != SQLITE_OK)
            return store_err(q->st, r, "import prepare");
    }
    rc = sq_exec(q, "BEGIN IMMEDIATE", "import begin");
    q->tx = rc == MK_OK;
    return rc;
}

static int sq_insert(struct sq *q, const struct rrow *row, const char *const *over, int nover)
{
    const struct rtable *tb = &records_tables[row->t];
    sqlite3_stmt *s = q->ins[row->t];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    for (int i = 0; i < tb->ncols; i++)
        bind_value(s, i + 1, row->v[i]);
    /* over: {column, value} pairs replacing the row's (remapped ids, folds). */
    for (int k = 0; k + 1 < nover * 2; k += 2) {
        int i = rrow_col(row->t, over[k]);
        int at = i >= 0 ? i + 1 : tb->ncols + 1 + atoi(over[k] + 1); /* "#0".."#2": extras */
        if (over[k + 1])
            sqlite3_bind_text(s, at, over[k + 1], -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(s, at);
    }
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        /* A constraint: a row that refers to nothing here, or clashes (sq_row words it). */
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            return MK_EINVAL;
        return store_err(q->st, rc, "import insert");
    }
    if (sqlite3_changes(q->st->db) > 0)
        q->inserted[row->t]++;
    else
        q->already[row->t]++;
    return MK_OK;
}

/* The id here of an incoming patient id: as mapped in this import, an alias an earlier import
 * recorded, or itself. */
static const char *sq_patient(struct sq *q, const char *id, char buf[UUID_BUF])
{
    const char *m = json_string_value(json_object_get(q->pmap, id));
    if (m)
        return m;
    if (sq_lookup(q, "SELECT patient_id FROM patient_alias WHERE kind = 'id' AND alias = ?", id,
                  NULL, buf, UUID_BUF) == 1)
        return buf;
    return id;
}

static json_t *sq_summary(struct sq *q, const char *id)
{
    json_t *o = NULL;
    sqlite3_stmt *s = store_stmt(q->st, "SELECT p.id, p.code, p.name, p.sex, p.birth_year, "
                                        "p.commune, p.village, c.code AS campaign FROM patient p "
                                        "LEFT JOIN campaign c ON c.id = p.campaign_id "
                                        "WHERE p.id = ?");
    if (s) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
        if (store_one_row(q->st, s, &o) != MK_OK)
            o = NULL;
    }
    return o;
}

/* A resident already here by CCCD or BHYT number: fills what the record here lacks (never
 * overwrites), keeps the incoming id and code as aliases. */
static int sq_merge(struct sq *q, struct records_import *ri, const struct rrow *row,
                    const char *target)
{
    const char *in_id = rrow_str(row, "id"), *in_code = rrow_str(row, "code");
    json_t *before = sq_summary(q, target);
    sqlite3_stmt *s = store_stmt(
        q->st, "UPDATE patient SET "
               "phone = coalesce(phone, ?2), ethnicity = coalesce(ethnicity, ?3), "
               "address = coalesce(address, ?4), "
               "birth_date = coalesce(birth_date, CASE WHEN birth_year = ?6 THEN ?5 END), "
               "cccd = coalesce(cccd, CASE WHEN NOT EXISTS (SELECT 1 FROM patient WHERE cccd = ?7) "
               "THEN ?7 END), "
               "bhyt_ssn = coalesce(bhyt_ssn, CASE WHEN NOT EXISTS (SELECT 1 FROM patient WHERE "
               "bhyt_ssn = ?8) THEN ?8 END), "
               "bhyt = CASE WHEN bhyt_ssn IS NULL AND NOT EXISTS (SELECT 1 FROM patient WHERE "
               "bhyt_ssn = ?8) THEN ?9 ELSE bhyt END "
               "WHERE id = ?1");
    if (!s) {
        json_decref(before);
        return MK_EDB;
    }
    sqlite3_bind_text(s, 1, target, -1, SQLITE_TRANSIENT);
    static const char *const cols[] = {"phone", "ethnicity", "address", "birth_date"};
    for (int i = 0; i < 4; i++)
        store_bind_opt(s, 2 + i, rrow_str(row, cols[i]));
    sqlite3_bind_int64(s, 6, rrow_int(row, "birth_year"));
    store_bind_opt(s, 7, rrow_str(row, "cccd"));
    store_bind_opt(s, 8, rrow_str(row, "bhyt_ssn"));
    store_bind_opt(s, 9, rrow_str(row, "bhyt"));
    int rc = store_err(q->st, sqlite3_step(s), "merge patient");
    sqlite3_reset(s);
    s = store_stmt(q->st, "INSERT INTO patient_alias(kind, alias, patient_id, import_id) "
                          "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
    for (int k = 0; rc == MK_OK && k < 2; k++) {
        if (!s) {
            rc = MK_EDB;
            break;
        }
        sqlite3_bind_text(s, 1, k ? "code" : "id", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, k ? in_code : in_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, target, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, ri->package, -1, SQLITE_STATIC);
        rc = store_err(q->st, sqlite3_step(s), "patient alias");
        sqlite3_reset(s);
    }
    if (rc == MK_OK) {
        json_t *after = sq_summary(q, target);
        struct actor a = {NULL, ri->actor};
        rc = store_audit(q->st, &a, "merge", "patient", target, before, after);
        json_decref(after);
    }
    json_decref(before);
    if (rc == MK_OK)
        q->merged++;
    return rc;
}

static int sq_likely(struct sq *q, struct records_import *ri, const char *id, const char *name_fold,
                     int year, const char *commune_fold)
{
    /* Against residents here from other campaigns: the kit that registered two residents of
     * one campaign asked its registrar about them already. */
    sqlite3_stmt *s = store_stmt(q->st, "SELECT id, birth_year, commune_fold FROM patient "
                                        "WHERE name_fold = ?1 AND birth_year BETWEEN ?2 - 1 AND "
                                        "?2 + 1 AND id <> ?3 AND campaign_id IS NOT ?4");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, name_fold, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, year);
    sqlite3_bind_text(s, 3, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, ri->campaign_id, -1, SQLITE_STATIC);
    json_t *others = NULL;
    int rc = store_query_rows(q->st, s, &others);
    size_t i;
    json_t *o;
    json_array_foreach(others, i, o)
    {
        if (rc != MK_OK)
            break;
        const char *oid = json_string_value(json_object_get(o, "id"));
        if (!patient_likely_duplicate(name_fold, year, commune_fold, name_fold,
                                      (int)json_integer_value(json_object_get(o, "birth_year")),
                                      json_string_value(json_object_get(o, "commune_fold"))))
            continue;
        char mid[UUID_LEN + 1], now[32];
        util_uuid7(mid);
        util_now_iso(now);
        const char *reason = "same name, birth year within one, same commune";
        sqlite3_stmt *w = store_stmt(q->st, "INSERT INTO likely_match(id, patient_id, other_id, "
                                            "reason, import_id, state, created_at) VALUES "
                                            "(?,?,?,?,?,'open',?) ON CONFLICT DO NOTHING");
        if (!w) {
            rc = MK_EDB;
            break;
        }
        sqlite3_bind_text(w, 1, mid, -1, SQLITE_STATIC);
        sqlite3_bind_text(w, 2, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(w, 3, oid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(w, 4, reason, -1, SQLITE_STATIC);
        sqlite3_bind_text(w, 5, ri->package, -1, SQLITE_STATIC);
        sqlite3_bind_text(w, 6, now, -1, SQLITE_STATIC);
        rc = store_err(q->st, sqlite3_step(w), "likely match");
        sqlite3_reset(w);
        if (rc == MK_OK && json_array_size(q->likely) < 1000)
            json_array_append_new(q->likely,
                                  json_pack("{s:o*,s:o*,s:s}", "patient", sq_summary(q, id),
                                            "other", sq_summary(q, oid), "reason", reason));
    }
    json_decref(others);
    return rc;
}

static int sq_patient_row(struct sq *q, struct records_import *ri, const struct rrow *row)
{
    const char *id = rrow_str(row, "id"), *code = rrow_str(row, "code");
    char target[UUID_BUF] = "";
    int rc;
    /* The same resident: here by id (an earlier package), by an alias, by CCCD or BHYT. */
    if ((rc = sq_lookup(q, "SELECT id FROM patient WHERE id = ?", id, NULL, target,
                        sizeof target)) ||
        (rc = sq_lookup(q, "SELECT patient_id FROM patient_alias WHERE kind = 'id' AND alias = ?",
                        id, NULL, target, sizeof target))) {
        if (rc < 0)
            return rc;
        q->already[RT_PATIENT]++;
        return json_object_set_new(q->pmap, id, json_string(target)) ? MK_ENOMEM : MK_OK;
    }
    const char *cccd = rrow_str(row, "cccd"), *ssn = rrow_str(row, "bhyt_ssn");
    if ((cccd && (rc = sq_lookup(q, "SELECT id FROM patient WHERE cccd = ?", cccd, NULL, target,
                                 sizeof target))) ||
        (ssn && (rc = sq_lookup(q, "SELECT id FROM patient WHERE bhyt_ssn = ?", ssn, NULL, target,
                                sizeof target)))) {
        if (rc < 0)
            return rc;
        rc = sq_merge(q, ri, row, target);
        if (rc == MK_OK && json_object_set_new(q->pmap, id, json_string(target)))
            rc = MK_ENOMEM;
        return rc;
    }
    char *nf, *cf, *vf;
    rc = records_patient_folds(row, &nf, &cf, &vf);
    if (rc != MK_OK)
        return records_fail(ri, rc, "line %ld: patient.name does not fold", ri->line);
    /* Its campaign of first registration may not have come along: then this one. */
    const char *camp = rrow_str(row, "campaign_id");
    if (camp && strcmp(camp, ri->campaign_id) &&
        sq_lookup(q, "SELECT id FROM campaign WHERE id = ?", camp, NULL, NULL, 0) != 1)
        camp = ri->campaign_id;
    /* Two kits drew the same code for two residents: this one gets a new code here, and its
     * wristband's code still finds it (an alias). */
    char fresh[CODE_LEN + 1];
    const char *use = code;
    rc = sq_lookup(q, "SELECT id FROM patient WHERE code = ?", code, NULL, NULL, 0);
    while (rc == 1) {
        records_new_code(fresh);
        use = fresh;
        rc = sq_lookup(q, "SELECT id FROM patient WHERE code = ?", fresh, NULL, NULL, 0);
    }
    const char *over[] = {"code", use, "campaign_id", camp, "#0", nf, "#1", cf, "#2", vf};
    if (rc == MK_OK)
        rc = sq_insert(q, row, over, 5);
    if (rc == MK_OK && use != code) {
        sqlite3_stmt *s = store_stmt(q->st, "INSERT INTO patient_alias(kind, alias, patient_id, "
                                            "import_id) VALUES ('code', ?, ?, ?) "
                                            "ON CONFLICT DO NOTHING");
        rc = s ? MK_OK : MK_EDB;
        if (s) {
            sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 2, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 3, ri->package, -1, SQLITE_STATIC);
            rc = store_err(q->st, sqlite3_step(s), "code alias");
            sqlite3_reset(s);
        }
        q->code_changed++;
    }
    if (rc == MK_OK)
        rc = sq_likely(q, ri, id, nf, (int)rrow_int(row, "birth_year"), cf);
    if (rc == MK_OK && json_object_set_new(q->pmap, id, json_string(id)))
        rc = MK_ENOMEM;
    free(nf);
    free(cf);
    free(vf);
    return rc;
}

static int sq_row(struct records_import *ri, const struct rrow *row)
{
    struct sq *q = ri->impl;
    int rc;
    if (row->t == RT_CAMPAIGN) {
        const char *id = rrow_str(row, "id"), *code = rrow_str(row, "code");
        char here[64];
        rc = sq_lookup(q, "SELECT code FROM campaign WHERE id = ?", id, NULL, here, sizeof here);
        if (rc == 1) {
            snprintf(q->campaign_code, sizeof q->campaign_code, "%s", here);
            q->already[RT_CAMPAIGN]++;
            return MK_OK;
        }
        snprintf(q->campaign_code, sizeof q->campaign_code, "%s", code);
        if (rc == 0)
            rc = sq_lookup(q, "SELECT id FROM campaign WHERE code = ?", code, NULL, NULL, 0);
        if (rc == 1) { /* another kit's campaign of the same code */
            records_campaign_code(code, ri->kit, q->campaign_code, sizeof q->campaign_code);
            rc = sq_lookup(q, "SELECT id FROM campaign WHERE code = ?", q->campaign_code, NULL,
                           NULL, 0);
            if (rc == 1) /* not "already imported": MK_EEXIST is kept for that */
                return records_fail(ri, MK_EINVAL,
                                    "line %ld: campaign %s: its code %s and this kit's form of "
                                    "it, %s, are both taken here by other campaigns",
                                    ri->line, id, code, q->campaign_code);
        }
        const char *over[] = {"code", q->campaign_code};
        return rc < 0 ? rc : sq_insert(q, row, over, 1);
    }
    if (row->t == RT_PATIENT) {
        rc = sq_patient_row(q, ri, row);
    } else if (row->t == RT_VISIT) {
        char buf[UUID_BUF];
        const char *over[] = {"patient_id", sq_patient(q, rrow_str(row, "patient_id"), buf)};
        rc = sq_insert(q, row, over, 1);
    } else if (row->t == RT_DEVICE_READING) {
        rc = sq_insert(q, row, NULL, 0);
    } else {
        rc = sq_insert(q, row, NULL, 0);
    }
    if (rc == MK_EINVAL && !ri->err[0])
        records_fail(ri, rc, "line %ld: %s row refused by the store: %s", ri->line,
                     records_tables[row->t].name, sqlite3_errmsg(q->st->db));
    return rc;
}

static int sq_commit(struct records_import *ri, json_t *res)
{
    struct sq *q = ri->impl;
    json_t *already = json_object();
    long new_patients = q->inserted[RT_PATIENT];
    json_object_set_new(res, "campaign", json_string(q->campaign_code));
    json_object_set_new(res, "campaign_id", json_string(ri->campaign_id));
    if (strcmp(q->campaign_code, ri->campaign_code))
        json_object_set_new(res, "campaign_code_in_package", json_string(ri->campaign_code));
    json_object_set_new(res, "patients_new", json_integer(new_patients));
    json_object_set_new(res, "patients_merged", json_integer(q->merged));
    json_object_set_new(res, "patients_already", json_integer(q->already[RT_PATIENT]));
    json_object_set_new(res, "patient_codes_changed", json_integer(q->code_changed));
    json_object_set_new(res, "campaign_new", json_boolean(q->inserted[RT_CAMPAIGN] > 0));
    for (int t = 0; t < RT_COUNT; t++) {
        if (t == RT_PATIENT || t == RT_CAMPAIGN) /* "campaign" is its code, above */
            continue;
        json_object_set_new(res, records_tables[t].name, json_integer(q->inserted[t]));
        json_object_set_new(already, records_tables[t].name, json_integer(q->already[t]));
    }
    json_object_set_new(res, "already", already);
    json_object_set(res, "likely_matches", q->likely);

    char now[32];
    util_now_iso(now);
    char *counts = json_dumps(ri->counts, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *summary = json_deep_copy(res);
    json_object_del(summary, "likely_matches");
    json_object_set_new(summary, "likely_match_count",
                        json_integer((long long)json_array_size(q->likely)));
    char *sum = json_dumps(summary, JSON_COMPACT | JSON_SORT_KEYS);
    sqlite3_stmt *s = store_stmt(q->st, "INSERT INTO import(id, kit_id, campaign_id, "
                                        "campaign_code, imported_at, imported_by, counts, result) "
                                        "VALUES (?,?,?,?,?,?,?,?)");
    int rc = s && counts && sum ? MK_OK : s ? MK_ENOMEM : MK_EDB;
    if (rc == MK_OK) {
        sqlite3_bind_text(s, 1, ri->package, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, ri->kit, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, ri->campaign_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, ri->campaign_code, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 6, ri->actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 7, counts, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 8, sum, -1, SQLITE_STATIC);
        rc = store_err(q->st, sqlite3_step(s), "import record");
        sqlite3_reset(s);
    }
    if (rc == MK_OK) {
        struct actor a = {NULL, ri->actor};
        rc = store_audit(q->st, &a, "import", "import", ri->package, NULL, summary);
    }
    free(counts);
    free(sum);
    json_decref(summary);
    if (rc == MK_OK)
        rc = sq_exec(q, "COMMIT", "import commit");
    if (rc == MK_OK)
        q->tx = false;
    else
        records_fail(ri, rc, "the store refused the import: %s", mk_strerror(rc));
    return rc;
}

static void sq_free(struct records_import *ri)
{
    struct sq *q = ri->impl;
    if (!q)
        return;
    if (q->tx)
        sqlite3_exec(q->st->db, "ROLLBACK", NULL, NULL, NULL);
    for (int t = 0; t < RT_COUNT; t++)
        sqlite3_finalize(q->ins[t]);
    json_decref(q->pmap);
    json_decref(q->likely);
    free(q);
}

static const struct records_backend sq_backend = {
    .begin = sq_begin, .row = sq_row, .commit = sq_commit, .free = sq_free};

int records_import_sqlite(struct store *st, struct records_import **out)
{
    struct sq *q = calloc(1, sizeof *q);
    if (!q)
        return MK_ENOMEM;
    q->st = st;
    q->pmap = json_object();
    q->likely = json_array();
    *out = q->pmap && q->likely ? records_import_new(&sq_backend, q) : NULL;
    if (!*out) {
        json_decref(q->pmap);
        json_decref(q->likely);
        free(q);
        return MK_ENOMEM;
    }
    return MK_OK;
}

/* ---- at the hospital ---- */

/* Moves the "<prefix>_<key>" columns of row into a nested object "<prefix>". */
static void nest(json_t *row, const char *prefix)
{
    json_t *o = json_object();
    const char *key;
    json_t *v;
    void *tmp;
    size_t n = strlen(prefix);
    json_object_foreach_safe(row, tmp, key, v)
    {
        if (strncmp(key, prefix, n) == 0 && key[n] == '_') {
            json_object_set(o, key + n + 1, v);
            json_object_del(row, key);
        }
    }
    json_object_set_new(row, prefix, o);
}

int records_referrals_pending(struct store *st, const char *campaign, json_t **out)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT r.id, r.destination AS \"to\", r.reason, r.urgency, c.code AS campaign, v.day, "
            "CAST(julianday('now', 'localtime') - julianday(v.day) AS INTEGER) AS days_since, "
            "r.created_at, p.code AS patient_code, p.name AS patient_name, p.sex AS patient_sex, "
            "p.birth_year AS patient_birth_year, p.commune AS patient_commune, "
            "p.village AS patient_village FROM referral r JOIN visit v ON v.id = r.visit_id "
            "JOIN patient p ON p.id = v.patient_id JOIN campaign c ON c.id = v.campaign_id "
            "WHERE r.status = 'referred' AND (?1 IS NULL OR c.code = ?1 OR c.id = ?1) "
            "ORDER BY CASE r.urgency WHEN 'urgent' THEN 0 WHEN 'soon' THEN 1 ELSE 2 END, "
            "v.day, r.created_at");
    if (!s)
        return MK_EDB;
    store_bind_opt(s, 1, campaign);
    int rc = store_query_rows(st, s, out);
    size_t i;
    json_t *r;
    if (rc == MK_OK)
        json_array_foreach(*out, i, r) nest(r, "patient");
    return rc;
}

int records_matches(struct store *st, json_t **out)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT m.id, m.reason, m.import_id AS import, m.created_at, "
            "a.id AS patient_id, a.code AS patient_code, a.name AS patient_name, "
            "a.sex AS patient_sex, a.birth_year AS patient_birth_year, "
            "a.commune AS patient_commune, a.cccd IS NOT NULL AS patient_has_cccd, "
            "ca.code AS patient_campaign, b.id AS other_id, b.code AS other_code, "
            "b.name AS other_name, b.sex AS other_sex, b.birth_year AS other_birth_year, "
            "b.commune AS other_commune, b.cccd IS NOT NULL AS other_has_cccd, "
            "cb.code AS other_campaign FROM likely_match m JOIN patient a ON a.id = m.patient_id "
            "JOIN patient b ON b.id = m.other_id LEFT JOIN campaign ca ON ca.id = a.campaign_id "
            "LEFT JOIN campaign cb ON cb.id = b.campaign_id WHERE m.state = 'open' "
            "ORDER BY m.created_at, m.id");
    if (!s)
        return MK_EDB;
    int rc = store_query_rows(st, s, out);
    size_t i;
    json_t *r;
    if (rc == MK_OK)
        json_array_foreach(*out, i, r)
        {
            nest(r, "patient");
            nest(r, "other");
        }
    return rc;
}

/* The patients a scanned code names: the one whose code it is, and any with it as an alias. */
static int scan_patients(struct store *st, const char *code, json_t **ids)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT id FROM patient WHERE code = ?1 UNION "
                                     "SELECT patient_id FROM patient_alias WHERE kind = 'code' "
                                     "AND alias = ?1");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
    return store_query_rows(st, s, ids);
}

static int open_referrals(struct store *st, const char *patient_id, json_t **out)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT r.id FROM referral r JOIN visit v ON v.id = r.visit_id "
                       "WHERE v.patient_id = ? AND r.status = 'referred' "
                       "ORDER BY r.created_at");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, patient_id, -1, SQLITE_TRANSIENT);
    return store_query_rows(st, s, out);
}

/* The screening record the hospital sees: each visit with its observations and records. */
static int screening_record(struct store *st, const char *patient_id, json_t *rec)
{
    json_t *p = NULL, *visits = NULL, *full = json_array();
    int rc = store_patient_get(st, patient_id, &p);
    if (rc == MK_OK)
        rc = store_patient_visits(st, patient_id, &visits);
    size_t i;
    json_t *v;
    json_array_foreach(visits, i, v)
    {
        json_t *one = NULL;
        if (rc == MK_OK)
            rc = store_visit_get(st, json_string_value(json_object_get(v, "id")), &one);
        if (rc == MK_OK)
            json_array_append_new(full, one);
    }
    json_decref(visits);
    json_object_set_new(rec, "patient", p ? p : json_null());
    json_object_set_new(rec, "visits", full);
    return rc;
}

int records_arrive(struct store *st, const struct actor *a, const char *scan, json_t **out)
{
    char code[CODE_LEN + 1];
    *out = NULL;
    int rc = code_parse(scan, code);
    if (rc != MK_OK)
        return rc;
    json_t *ids = NULL, *chosen = NULL, *open = NULL;
    rc = scan_patients(st, code, &ids);
    if (rc != MK_OK)
        return rc;
    if (json_array_size(ids) == 0) {
        json_decref(ids);
        return MK_ENOTFOUND;
    }
    /* Two residents with one code (two kits drew it): the one with an open referral is meant. */
    size_t i;
    json_t *row;
    int with_open = 0;
    json_array_foreach(ids, i, row)
    {
        json_t *refs = NULL;
        rc = open_referrals(st, json_string_value(json_object_get(row, "id")), &refs);
        if (rc != MK_OK)
            break;
        if (json_array_size(refs) > 0 || !chosen) {
            if (json_array_size(refs) > 0)
                with_open++;
            if (!chosen || json_array_size(open) == 0) {
                chosen = row;
                json_decref(open);
                open = refs;
                continue;
            }
        }
        json_decref(refs);
    }
    json_t *rec = json_object();
    if (rc == MK_OK && (with_open > 1 || (with_open == 0 && json_array_size(ids) > 1))) {
        json_t *list = json_array();
        json_array_foreach(ids, i, row)
        {
            json_t *p = NULL;
            if (store_patient_get(st, json_string_value(json_object_get(row, "id")), &p) == MK_OK)
                json_array_append_new(list, p);
        }
        json_object_set_new(rec, "patients", list);
        rc = MK_EEXIST;
    } else if (rc == MK_OK) {
        const char *pid = json_string_value(json_object_get(chosen, "id"));
        json_t *arrived = json_array();
        rc = json_array_size(open) ? store_tx_begin(st) : MK_OK;
        json_array_foreach(open, i, row)
        {
            json_t *made = NULL;
            if (rc == MK_OK)
                rc = store_referral_set_status(st, a, json_string_value(json_object_get(row, "id")),
                                               "arrived", &made);
            if (rc == MK_OK)
                json_array_append_new(arrived, made);
        }
        if (json_array_size(open))
            rc = rc == MK_OK ? store_tx_end(st, true) : (store_tx_end(st, false), rc);
        json_object_set_new(rec, "arrived", arrived);
        if (rc == MK_OK)
            rc = screening_record(st, pid, rec);
        if (rc == MK_OK && json_array_size(open) == 0)
            rc = MK_ERANGE;
    }
    json_decref(open);
    json_decref(ids);
    if (rc == MK_OK || rc == MK_ERANGE || rc == MK_EEXIST)
        *out = rec;
    else
        json_decref(rec);
    return rc;
}
