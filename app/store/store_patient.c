/* Patients, search, visits, observations. */
#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../domain/code.h"
#include "../domain/text.h"
#include "store_int.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATIENT_COLS                                                                            \
    "SELECT p.id, p.code, p.name, p.sex, p.birth_date, p.birth_year, p.ethnicity, p.province, " \
    "p.district, p.commune, p.village, p.address, p.cccd, p.bhyt, p.phone, p.consent_at, "      \
    "p.consent_by, c.code AS campaign, p.created_at, p.created_by "                             \
    "FROM patient p LEFT JOIN campaign c ON c.id = p.campaign_id "

#define SUMMARY_COLS \
    "SELECT p.id, p.code, p.name, p.sex, p.birth_date, p.birth_year, p.commune, p.village "

/* Adds "ethnicity_name" beside the GSO code and the grouped "code_display". */
static void add_derived(json_t *p)
{
    const char *code = json_string_value(json_object_get(p, "code"));
    char grouped[16];
    if (code && strlen(code) == CODE_LEN) {
        code_format(code, grouped);
        json_object_set_new(p, "code_display", json_string(grouped));
    }
    const char *eth = json_string_value(json_object_get(p, "ethnicity"));
    const struct ethnic_group *g = eth ? ethnic_find(eth) : NULL;
    if (json_object_get(p, "ethnicity"))
        json_object_set_new(p, "ethnicity_name", g ? json_string(g->name) : json_null());
}

static int get_by(struct store *st, const char *sql, const char *key, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, sql);
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    int rc = store_one_row(st, s, out);
    if (rc == MK_OK)
        add_derived(*out);
    return rc;
}

int store_patient_get(struct store *st, const char *code, json_t **out)
{
    return get_by(st, PATIENT_COLS "WHERE p.code = ?1 OR p.id = ?1", code, out);
}

/* The same CCCD number, or the same social insurance number whichever form of BHYT number
 * was typed. */
static int find_exact_duplicate(struct store *st, const struct patient *p, const char *ssn,
                                json_t **out)
{
    int rc = MK_ENOTFOUND;
    if (p->cccd && p->cccd[0])
        rc = get_by(st, PATIENT_COLS "WHERE p.cccd = ?", p->cccd, out);
    if (rc == MK_ENOTFOUND && ssn[0])
        rc = get_by(st, PATIENT_COLS "WHERE p.bhyt_ssn = ?", ssn, out);
    return rc;
}

static int find_likely_duplicates(struct store *st, const char *name_fold, int year,
                                  const char *commune_fold, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, SUMMARY_COLS ", p.commune_fold FROM patient p "
                                                  "WHERE p.name_fold = ? AND p.birth_year "
                                                  "BETWEEN ? AND ? ORDER BY +p.pid");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, name_fold, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, year - 1);
    sqlite3_bind_int(s, 3, year + 1);
    json_t *all;
    int rc = store_query_rows(st, s, &all);
    if (rc != MK_OK)
        return rc;
    json_t *likely = json_array();
    if (!likely) {
        json_decref(all);
        return MK_ENOMEM;
    }
    size_t i;
    json_t *row;
    json_array_foreach(all, i, row)
    {
        const char *cf = json_string_value(json_object_get(row, "commune_fold"));
        int y = (int)json_integer_value(json_object_get(row, "birth_year"));
        if (patient_likely_duplicate(name_fold, year, commune_fold, name_fold, y, cf)) {
            json_object_del(row, "commune_fold");
            json_array_append(likely, row);
        }
    }
    json_decref(all);
    *out = likely;
    return MK_OK;
}

/* Copies the patient's province/district/commune into place[] (caller frees each), taking
 * the campaign's where the patient has none. */
static int campaign_place(struct store *st, const char *campaign_id, const struct patient *p,
                          char *place[3])
{
    const char *mine[3] = {p->province, p->district, p->commune};
    sqlite3_stmt *s = store_stmt(st, "SELECT province, district, commune FROM campaign "
                                     "WHERE id = ?");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, campaign_id ? campaign_id : "", -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s), rc = MK_OK;
    for (int i = 0; i < 3 && rc == MK_OK; i++) {
        const char *v = mine[i];
        if ((!v || !v[0]) && step == SQLITE_ROW && sqlite3_column_type(s, i) == SQLITE_TEXT)
            v = (const char *)sqlite3_column_text(s, i);
        place[i] = v && v[0] ? strdup(v) : NULL;
        if (v && v[0] && !place[i])
            rc = MK_ENOMEM;
    }
    sqlite3_reset(s);
    if (rc == MK_OK && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = store_err(st, step, "campaign place");
    return rc;
}

static int code_taken(struct store *st, const char *code)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT 1 FROM patient WHERE code = ?");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, code, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_err(st, rc, "code lookup");
}

static int new_code(struct store *st, char code[CODE_LEN + 1])
{
    for (int tries = 0; tries < 100; tries++) {
        uint8_t rnd[CODE_RANDOM_BYTES];
        randombytes_buf(rnd, sizeof rnd);
        if (code_from_random(rnd, sizeof rnd, code) != MK_OK)
            continue;
        int taken = code_taken(st, code);
        if (taken < 0)
            return taken;
        if (!taken)
            return MK_OK;
        LOG(LOG_WARN, "patient code clash, drawing again");
    }
    return MK_EDB;
}

static int fold_opt(const char *in, char **out)
{
    *out = NULL;
    return in && in[0] ? text_fold(in, out) : MK_OK;
}

int store_patient_register(struct store *st, const struct actor *a, const struct patient *p,
                           const char *campaign_id, bool confirm_new, json_t **out)
{
    char id[UUID_LEN + 1], now[32], code[CODE_LEN + 1], birth[11];
    char bhyt[16] = "", ssn[11] = "", phone[16] = "";
    char *name_fold = NULL, *commune_fold = NULL, *village_fold = NULL;
    char *place[3] = {NULL, NULL, NULL};
    json_t *found = NULL;
    int rc;

    *out = NULL;
    if ((p->bhyt && p->bhyt[0] && !bhyt_normalize(p->bhyt, bhyt, ssn)) ||
        (p->phone && p->phone[0] && !phone_normalize(p->phone, phone)))
        return MK_EINVAL;
    rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = campaign_place(st, campaign_id, p, place);
    if (rc == MK_OK)
        rc = text_fold(p->name, &name_fold);
    if (rc == MK_OK)
        rc = fold_opt(place[2], &commune_fold);
    if (rc == MK_OK)
        rc = fold_opt(p->village, &village_fold);
    if (rc != MK_OK)
        goto out;

    rc = find_exact_duplicate(st, p, ssn, &found);
    if (rc == MK_OK) {
        rc = MK_EEXIST;
        goto out;
    }
    if (rc != MK_ENOTFOUND)
        goto out;
    rc = find_likely_duplicates(st, name_fold, p->birth.year, commune_fold, &found);
    if (rc != MK_OK)
        goto out;
    if (json_array_size(found) > 0 && !confirm_new) {
        rc = MK_ELIKELY;
        goto out;
    }
    json_decref(found);
    found = NULL;

    rc = new_code(st, code);
    if (rc != MK_OK)
        goto out;
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO patient(id, code, name, name_fold, sex, birth_date, birth_year, "
            "ethnicity, province, district, commune, village, address, commune_fold, "
            "village_fold, cccd, bhyt, phone, consent_at, consent_by, campaign_id, created_at, "
            "created_by, bhyt_ssn) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!s) {
        rc = MK_EDB;
        goto out;
    }
    util_uuid7(id);
    util_now_iso(now);
    date_format(&p->birth, birth);
    const struct ethnic_group *eg =
        p->ethnicity && p->ethnicity[0] ? ethnic_find(p->ethnicity) : NULL;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, code, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, p->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, name_fold, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, sex_name(p->sex), -1, SQLITE_STATIC);
    store_bind_opt(s, 6, p->birth.month ? birth : NULL);
    sqlite3_bind_int(s, 7, p->birth.year);
    store_bind_opt(s, 8, eg ? eg->code : NULL);
    store_bind_opt(s, 9, place[0]);
    store_bind_opt(s, 10, place[1]);
    store_bind_opt(s, 11, place[2]);
    store_bind_opt(s, 12, p->village);
    store_bind_opt(s, 13, p->address);
    store_bind_opt(s, 14, commune_fold);
    store_bind_opt(s, 15, village_fold);
    store_bind_opt(s, 16, p->cccd);
    store_bind_opt(s, 17, bhyt);
    store_bind_opt(s, 18, phone);
    store_bind_opt(s, 19, p->consent ? now : NULL);
    store_bind_opt(s, 20, p->consent ? a->staff_id : NULL);
    store_bind_opt(s, 21, campaign_id);
    sqlite3_bind_text(s, 22, now, -1, SQLITE_STATIC);
    store_bind_opt(s, 23, a->staff_id);
    store_bind_opt(s, 24, ssn);
    rc = store_err(st, sqlite3_step(s), "insert patient");
    sqlite3_reset(s);
    if (rc == MK_OK)
        rc = store_patient_get(st, id, &found);
    if (rc == MK_OK)
        rc = store_audit(st, a, "create", "patient", id, NULL, found);
    if (rc == MK_OK)
        rc = store_commit(st);
out:
    store_rollback(st);
    free(name_fold);
    free(commune_fold);
    free(village_fold);
    for (int i = 0; i < 3; i++)
        free(place[i]);
    if (rc == MK_OK || rc == MK_EEXIST || rc == MK_ELIKELY)
        *out = found;
    else
        json_decref(found);
    return rc;
}

/* ---- search ---- */

struct results {
    json_t *arr;
    json_t *seen; /* id -> true */
    int limit;
};

/* Appends the rows of s not already found, up to the limit, each with "match": the given
 * kind, or when match is NULL the row's own column "m". */
static int collect(struct store *st, sqlite3_stmt *s, struct results *r, const char *match)
{
    int rc = SQLITE_DONE;
    while ((int)json_array_size(r->arr) < r->limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        if (json_object_get(r->seen, id))
            continue;
        json_t *row = store_row_json(s);
        if (!row) {
            sqlite3_reset(s);
            return MK_ENOMEM;
        }
        if (match) {
            json_object_set_new(row, "match", json_string(match));
        } else {
            json_object_set(row, "match", json_object_get(row, "m"));
            json_object_del(row, "m");
        }
        json_object_set_new(r->seen, id, json_true());
        json_array_append_new(r->arr, row);
    }
    if ((int)json_array_size(r->arr) >= r->limit)
        rc = SQLITE_DONE;
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? MK_OK : store_err(st, rc, "search");
}

/* Looks q up as a patient code, or as a number (CCCD, BHYT in either form, phone) when it
 * looks like one. Sets *was_number when q was a code or number-like, matched or not. */
static int search_identifier(struct store *st, const char *q, struct results *r, bool *was_number)
{
    char code[CODE_LEN + 1], digits[32], card[16], ssn[11], phone[16];
    *was_number = false;
    if (code_parse(q, code) == MK_OK) {
        sqlite3_stmt *s = store_stmt(st, SUMMARY_COLS "FROM patient p WHERE p.code = ?");
        if (!s)
            return MK_EDB;
        sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
        *was_number = true;
        int rc = collect(st, s, r, "code");
        /* Twelve digits can be a code with a right check character by chance (about one CCCD
         * in 37) and a CCCD as well: it is looked up as both. */
        if (rc != MK_OK || !cccd_number_valid(code))
            return rc;
    }
    /* What a number may be: 12 digits a CCCD, 10 digits a phone or a social insurance
     * number, a 15-character card number a BHYT card. */
    size_t n = 0;
    for (const char *p = q; *p && n < sizeof digits - 1; p++)
        if (!isspace((unsigned char)*p))
            digits[n++] = *p;
    digits[n] = '\0';
    bool cccd = cccd_number_valid(digits);
    bool bhyt = bhyt_normalize(q, card, ssn);
    bool tel = phone_normalize(q, phone);
    if (!cccd && !bhyt && !tel)
        return MK_OK;
    *was_number = true;
    /* Each column is indexed: SQLite answers the OR with one index lookup per column. */
    sqlite3_stmt *s = store_stmt(st, SUMMARY_COLS ", CASE WHEN p.cccd = ?1 THEN 'cccd' "
                                                  "WHEN p.bhyt_ssn = ?2 THEN 'bhyt' ELSE 'phone' "
                                                  "END AS m FROM patient p WHERE p.cccd = ?1 "
                                                  "OR p.bhyt_ssn = ?2 OR p.phone = ?3");
    if (!s)
        return MK_EDB;
    store_bind_opt(s, 1, cccd ? digits : NULL);
    store_bind_opt(s, 2, bhyt ? ssn : NULL);
    store_bind_opt(s, 3, tel ? phone : NULL);
    return collect(st, s, r, NULL); /* the match kind comes from the row's "m" */
}

#define FILTERS " AND (?2 = 0 OR p.birth_year = ?2) AND (?3 IS NULL OR instr(p.village_fold, ?3)) "

static void bind_filters(sqlite3_stmt *s, int year, const char *village_fold, int limit)
{
    sqlite3_bind_int(s, 2, year);
    store_bind_opt(s, 3, village_fold);
    sqlite3_bind_int(s, 4, limit);
}

int store_patient_search(struct store *st, const struct search_query *q, json_t **out)
{
    struct results r = {json_array(), json_object(), q->limit < 1 ? 20 : q->limit};
    char *fold = NULL, *village_fold = NULL, *name = NULL, *upper = NULL, *match = NULL;
    int year = q->birth_year, rc;

    if (r.limit > 100)
        r.limit = 100;
    if (!r.arr || !r.seen) {
        rc = MK_ENOMEM;
        goto out;
    }
    rc = text_fold(q->q ? q->q : "", &fold);
    if (rc == MK_OK)
        rc = fold_opt(q->village, &village_fold);
    if (rc != MK_OK)
        goto out;
    bool was_number;
    rc = search_identifier(st, q->q ? q->q : "", &r, &was_number);
    if (rc != MK_OK || was_number)
        goto out; /* a number is looked up, not read as words of a name */

    /* Split the folded text: a 4-digit token that is a plausible year filters by birth year
     * (a different year given as birth_year as well matches nobody), other tokens are name
     * words. */
    size_t flen = strlen(fold);
    name = calloc(1, flen + 1);
    match = calloc(1, flen * 4 + 8);
    if (!name || !match) {
        rc = MK_ENOMEM;
        goto out;
    }
    for (char *save = NULL, *tok = strtok_r(fold, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        size_t tl = strlen(tok);
        if (tl == 4 && strspn(tok, "0123456789") == 4 && atoi(tok) >= 1900 && atoi(tok) <= 2100) {
            if (year && year != atoi(tok))
                goto out;
            year = atoi(tok);
            continue;
        }
        if (name[0])
            strcat(name, " ");
        strcat(name, tok);
        /* FTS5: each word a quoted prefix term; folded text has no quotes to escape. */
        strcat(match, match[0] ? " \"" : "\"");
        strcat(match, tok);
        strcat(match, "\"*");
    }

    if (!name[0]) {
        if (year || village_fold) { /* a filter alone: everyone born that year / in that village */
            sqlite3_stmt *s = store_stmt(st, SUMMARY_COLS "FROM patient p WHERE 1" FILTERS
                                                          "ORDER BY p.name_fold LIMIT ?4");
            if (!s) {
                rc = MK_EDB;
                goto out;
            }
            bind_filters(s, year, village_fold, r.limit);
            rc = collect(st, s, &r, "filter");
        }
        goto out;
    }
    size_t nlen = strlen(name);
    upper = malloc(nlen + 2);
    if (!upper) {
        rc = MK_ENOMEM;
        goto out;
    }
    memcpy(upper, name, nlen);
    upper[nlen] = '\xff'; /* above every UTF-8 continuation: the end of the prefix range */
    upper[nlen + 1] = '\0';

    sqlite3_stmt *exact =
        store_stmt(st, SUMMARY_COLS "FROM patient p WHERE p.name_fold = ?1" FILTERS
                                    "ORDER BY +p.pid DESC LIMIT ?4");
    sqlite3_stmt *prefix =
        store_stmt(st, SUMMARY_COLS "FROM patient p WHERE p.name_fold > ?1 "
                                    "AND p.name_fold < ?5" FILTERS
                                    "ORDER BY p.name_fold, p.birth_year LIMIT ?4");
    sqlite3_stmt *words =
        store_stmt(st, SUMMARY_COLS "FROM patient_fts f JOIN patient p ON p.pid = f.rowid "
                                    "WHERE patient_fts MATCH ?6 AND NOT (p.name_fold >= ?1 AND "
                                    "p.name_fold < ?5)" FILTERS "ORDER BY f.rowid DESC LIMIT ?4");
    if (!exact || !prefix || !words) {
        rc = MK_EDB;
        goto out;
    }
    sqlite3_stmt *tiers[] = {exact, prefix, words};
    static const char *const names[] = {"exact", "prefix", "partial"};
    for (int i = 0; i < 3 && rc == MK_OK && (int)json_array_size(r.arr) < r.limit; i++) {
        sqlite3_stmt *s = tiers[i];
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        bind_filters(s, year, village_fold, r.limit - (int)json_array_size(r.arr));
        if (i > 0)
            sqlite3_bind_text(s, 5, upper, (int)nlen + 1, SQLITE_STATIC);
        if (i == 2)
            sqlite3_bind_text(s, 6, match, -1, SQLITE_STATIC);
        rc = collect(st, s, &r, names[i]);
    }
out:
    free(fold);
    free(village_fold);
    free(name);
    free(upper);
    free(match);
    json_decref(r.seen);
    if (rc == MK_OK)
        *out = r.arr;
    else
        json_decref(r.arr);
    return rc;
}

/* ---- visits and observations ---- */

#define VISIT_COLS                                                                              \
    "SELECT v.id, p.code AS patient, c.code AS campaign, v.day, v.queue_number, v.created_at, " \
    "v.created_by FROM visit v JOIN patient p ON p.id = v.patient_id "                          \
    "JOIN campaign c ON c.id = v.campaign_id "

#define OBS_COLS                                                                         \
    "SELECT id, visit_id, code, value, value2, value3, unit, source, device, taken_at, " \
    "taken_by, note, fasting FROM observation "

static json_t *obs_json(sqlite3_stmt *s)
{
    const struct obs_kind *k = obs_kind_find((const char *)sqlite3_column_text(s, 2));
    json_t *values = json_object();
    for (int i = 0; k && i < k->ncomp; i++)
        if (sqlite3_column_type(s, 3 + i) != SQLITE_NULL)
            json_object_set_new(values, k->comp[i], json_real(sqlite3_column_double(s, 3 + i)));
    json_t *o = store_row_json(s);
    if (!o || !values) {
        json_decref(o);
        json_decref(values);
        return NULL;
    }
    json_object_del(o, "value");
    json_object_del(o, "value2");
    json_object_del(o, "value3");
    json_object_set_new(o, "values", values);
    json_object_set(o, "visit", json_object_get(o, "visit_id"));
    json_object_del(o, "visit_id");
    if (k && strcmp(k->code, "glucose") == 0) /* true, false or null: not said */
        json_object_set_new(o, "fasting",
                            sqlite3_column_type(s, 12) == SQLITE_NULL
                                ? json_null()
                                : json_boolean(sqlite3_column_int(s, 12)));
    else
        json_object_del(o, "fasting");
    return o;
}

static int visit_get_plain(struct store *st, const char *id, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, VISIT_COLS "WHERE v.id = ?");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    return store_one_row(st, s, out);
}

int store_visit_create(struct store *st, const struct actor *a, const char *patient_code,
                       const char *campaign_id, json_t **out)
{
    char id[UUID_LEN + 1], now[32], today[11];
    json_t *patient = NULL, *visit = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = store_patient_get(st, patient_code, &patient);
    if (rc != MK_OK)
        goto out;
    const char *pid = json_string_value(json_object_get(patient, "id"));
    util_today(today);
    /* A patient scanned twice on one day keeps the visit and queue number they have. */
    sqlite3_stmt *s = store_stmt(st, "SELECT id FROM visit WHERE patient_id = ? AND "
                                     "campaign_id = ? AND day = ?");
    if (!s) {
        rc = MK_EDB;
        goto out;
    }
    sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, campaign_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, today, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW) {
        snprintf(id, sizeof id, "%s", sqlite3_column_text(s, 0));
        sqlite3_reset(s);
        rc = visit_get_plain(st, id, &visit);
        if (rc == MK_OK)
            rc = MK_EEXIST;
        goto out;
    }
    sqlite3_reset(s);
    s = store_stmt(st, "INSERT INTO visit(id, patient_id, campaign_id, day, queue_number, "
                       "created_at, created_by) SELECT ?1, ?2, ?3, ?4, "
                       "coalesce(max(queue_number), 0) + 1, ?5, ?6 FROM visit "
                       "WHERE campaign_id = ?3 AND day = ?4");
    if (!s) {
        rc = MK_EDB;
        goto out;
    }
    util_uuid7(id);
    util_now_iso(now);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, pid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, campaign_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, today, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, now, -1, SQLITE_STATIC);
    store_bind_opt(s, 6, a->staff_id);
    rc = store_err(st, sqlite3_step(s), "insert visit");
    sqlite3_reset(s);
    if (rc == MK_OK)
        rc = visit_get_plain(st, id, &visit);
    if (rc == MK_OK)
        rc = store_audit(st, a, "create", "visit", id, NULL, visit);
    if (rc == MK_OK)
        rc = store_commit(st);
out:
    store_rollback(st);
    json_decref(patient);
    if (rc == MK_OK || rc == MK_EEXIST)
        *out = visit;
    else
        json_decref(visit);
    return rc;
}

int store_visit_get(struct store *st, const char *id, json_t **out)
{
    json_t *visit, *patient = NULL, *obs = json_array();
    int rc = visit_get_plain(st, id, &visit);
    if (rc != MK_OK) {
        json_decref(obs);
        return rc;
    }
    rc = get_by(st, SUMMARY_COLS ", p.ethnicity FROM patient p WHERE p.code = ?",
                json_string_value(json_object_get(visit, "patient")), &patient);
    sqlite3_stmt *s = store_stmt(st, OBS_COLS "WHERE visit_id = ? ORDER BY taken_at, id");
    if (rc == MK_OK && !s)
        rc = MK_EDB;
    if (rc == MK_OK) {
        int step;
        sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
        while ((step = sqlite3_step(s)) == SQLITE_ROW)
            json_array_append_new(obs, obs_json(s));
        sqlite3_reset(s);
        rc = store_err(st, step, "observations");
    }
    if (rc != MK_OK) {
        json_decref(visit);
        json_decref(patient);
        json_decref(obs);
        return rc;
    }
    json_object_set_new(visit, "patient", patient);
    json_object_set_new(visit, "observations", obs);
    rc = store_visit_records(st, id, visit);
    if (rc != MK_OK) {
        json_decref(visit);
        return rc;
    }
    *out = visit;
    return MK_OK;
}

int store_obs_insert(struct store *st, const struct actor *a, const char *visit_id,
                     const struct obs_kind *k, const struct obs_values *v, const char *source,
                     const char *device, const char *note, char id[UUID_LEN + 1], json_t **out)
{
    char now[32];
    json_t *obs = NULL;
    sqlite3_stmt *s =
        store_stmt(st, "INSERT INTO observation(id, visit_id, code, value, value2, "
                       "value3, unit, source, device, taken_at, taken_by, note, fasting) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!s)
        return MK_EDB;
    util_uuid7(id);
    util_now_iso(now);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, visit_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, k->code, -1, SQLITE_STATIC);
    for (int i = 0; i < OBS_MAX_COMPONENTS; i++)
        if (i < k->ncomp && v->present[i])
            sqlite3_bind_double(s, 4 + i, v->v[i]);
        else
            sqlite3_bind_null(s, 4 + i);
    sqlite3_bind_text(s, 7, k->unit, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, source, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 9, device);
    sqlite3_bind_text(s, 10, now, -1, SQLITE_STATIC);
    store_bind_opt(s, 11, a->staff_id);
    store_bind_opt(s, 12, note);
    if (strcmp(k->code, "glucose") == 0 && v->fasting != OBS_FASTING_UNKNOWN)
        sqlite3_bind_int(s, 13, v->fasting == OBS_FASTING_YES);
    else
        sqlite3_bind_null(s, 13);
    int rc = store_err(st, sqlite3_step(s), "insert observation");
    sqlite3_reset(s);
    if (rc == MK_OK) {
        s = store_stmt(st, OBS_COLS "WHERE id = ?");
        if (!s)
            rc = MK_EDB;
        else {
            sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
            if (sqlite3_step(s) == SQLITE_ROW)
                obs = obs_json(s);
            sqlite3_reset(s);
            rc = obs ? MK_OK : MK_ENOMEM;
        }
    }
    if (rc == MK_OK)
        rc = store_audit(st, a, "create", "observation", id, NULL, obs);
    if (rc == MK_OK && out)
        *out = obs;
    else
        json_decref(obs);
    return rc;
}

int store_obs_add(struct store *st, const struct actor *a, const char *visit_id,
                  const struct obs_kind *k, const struct obs_values *v, const char *source,
                  const char *device, const char *note, json_t **out)
{
    char id[UUID_LEN + 1];
    json_t *visit = NULL, *obs = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = visit_get_plain(st, visit_id, &visit);
    json_decref(visit);
    if (rc == MK_OK)
        rc = store_obs_insert(st, a, visit_id, k, v, source, device, note, id, &obs);
    if (rc == MK_OK)
        rc = store_commit(st);
    store_rollback(st);
    if (rc == MK_OK)
        *out = obs;
    else
        json_decref(obs);
    return rc;
}

int store_stats(struct store *st, json_t **out)
{
    char today[11];
    util_today(today);
    sqlite3_stmt *s = store_stmt(st, "SELECT (SELECT count(*) FROM patient) AS patients, "
                                     "(SELECT count(*) FROM visit WHERE day = ?) AS visits_today, "
                                     "(SELECT count(*) FROM visit) AS visits, "
                                     "(SELECT count(*) FROM observation) AS observations, "
                                     "(SELECT count(*) FROM staff WHERE active) AS staff");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, today, -1, SQLITE_TRANSIENT);
    return store_one_row(st, s, out);
}

int store_patient_visits(struct store *st, const char *patient_id, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, VISIT_COLS "WHERE v.patient_id = ? ORDER BY v.created_at "
                                                "DESC");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, patient_id, -1, SQLITE_TRANSIENT);
    return store_query_rows(st, s, out);
}
