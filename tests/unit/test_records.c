/* A campaign's records: the dump of a kit's store and its import into a hospital's store
 * (real SQLite in temporary directories). Two demo kits with the same seed share residents:
 * the second campaign brings back people the first one saw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../app/common/err.h"
#include "../../app/common/log.h"
#include "../../app/common/util.h"
#include "../../app/demo/seed.h"
#include "../../app/domain/text.h"
#include "../../app/export/records.h"
#include "../../app/store/store.h"

static const struct actor cli = {NULL, "cli:test"};

struct pkg {
    char *buf;
    size_t len;
    json_t *manifest;
};

struct fixture {
    char dir[3][64]; /* kit 1, kit 2, the hospital */
    struct store *kit1, *kit2, *hosp;
    struct pkg p1, p2;
};

static void dump(struct store *st, struct pkg *p)
{
    FILE *f = open_memstream(&p->buf, &p->len);
    json_t *counts = NULL, *c = NULL;
    assert_non_null(f);
    assert_int_equal(records_dump(st, DEMO_CAMPAIGN, f, &counts, NULL), MK_OK);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(store_campaign_get(st, DEMO_CAMPAIGN, &c), MK_OK);
    char id[UUID_LEN + 1];
    util_uuid7(id);
    p->manifest = json_pack("{s:s,s:s,s:{s:O,s:O},s:o}", "package", id, "kit", store_kit_id(st),
                            "campaign", "id", json_object_get(c, "id"), "code",
                            json_object_get(c, "code"), "counts", counts);
    assert_non_null(p->manifest);
    json_decref(c);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct store **st[3] = {&f->kit1, &f->kit2, &f->hosp};
    for (int i = 0; i < 3; i++) {
        snprintf(f->dir[i], sizeof f->dir[i], "/tmp/mokit-records-XXXXXX");
        if (!mkdtemp(f->dir[i]) || store_open(f->dir[i], st[i]) != MK_OK)
            return -1;
    }
    if (demo_seed_screening(f->kit1, 40, 1, true, NULL) != MK_OK ||
        demo_seed_screening(f->kit2, 70, 1, true, NULL) != MK_OK)
        return -1;
    /* A staff member's record, so that staff travel too. */
    json_t *staff = NULL, *v = NULL, *fi = NULL;
    if (store_staff_add(f->kit1, &cli, "Bs. Lò Thị Hoa", "doctor", "Nội", "86420", &staff) != MK_OK)
        return -1;
    struct actor doc = {json_string_value(json_object_get(staff, "id")), "staff:test"};
    json_t *list = NULL;
    if (store_referral_list(f->kit1, NULL, NULL, &list) != MK_OK || json_array_size(list) == 0)
        return -1;
    const char *visit = json_string_value(json_object_get(json_array_get(list, 0), "visit"));
    int rc = store_finding_add(f->kit1, &doc, visit, "E66.9", NULL, false, "vòng eo lớn", &fi);
    json_decref(list);
    json_decref(staff);
    json_decref(v);
    json_decref(fi);
    if (rc != MK_OK)
        return -1;
    dump(f->kit1, &f->p1);
    dump(f->kit2, &f->p2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->kit1);
    store_close(f->kit2);
    store_close(f->hosp);
    for (int i = 0; i < 3; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir[i]);
        if (system(cmd) != 0)
            return -1;
    }
    free(f->p1.buf);
    free(f->p2.buf);
    json_decref(f->p1.manifest);
    json_decref(f->p2.manifest);
    free(f);
    return 0;
}

static long long scalar(struct fixture *f, const char *sql)
{
    char path[128];
    sqlite3 *db;
    sqlite3_stmt *s;
    snprintf(path, sizeof path, "%s/%s", f->dir[2], STORE_DB_NAME);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* Every row of the hospital's store, summed over the tables an import writes. */
static long long all_rows(struct fixture *f)
{
    return scalar(f, "SELECT (SELECT count(*) FROM campaign) + (SELECT count(*) FROM staff) + "
                     "(SELECT count(*) FROM patient) + (SELECT count(*) FROM visit) + "
                     "(SELECT count(*) FROM observation) + (SELECT count(*) FROM finding) + "
                     "(SELECT count(*) FROM referral) + (SELECT count(*) FROM medicine) + "
                     "(SELECT count(*) FROM prescription) + (SELECT count(*) FROM stock_move) + "
                     "(SELECT count(*) FROM device_reading) + (SELECT count(*) FROM import) + "
                     "(SELECT count(*) FROM patient_alias) + (SELECT count(*) FROM likely_match) + "
                     "(SELECT count(*) FROM audit)");
}

/* Imports text as a package with manifest m: the importer's code, its result or error. */
static int import_text(struct store *st, json_t *m, const char *text, size_t len, json_t **res,
                       char *err, size_t errlen)
{
    struct records_import *ri = NULL;
    *res = NULL;
    int rc = records_import_sqlite(st, &ri);
    assert_int_equal(rc, MK_OK);
    rc = records_import_begin(ri, m, "cli:test");
    for (size_t at = 0; rc == MK_OK && at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - text - at) : len - at;
        rc = records_import_line(ri, text + at, n);
        at += n + 1;
    }
    if (rc == MK_OK)
        rc = records_import_commit(ri, res);
    snprintf(err, errlen, "%s", records_import_error(ri));
    records_import_free(ri);
    return rc;
}

static int import_pkg(struct store *st, struct pkg *p, json_t **res)
{
    char err[512];
    int rc = import_text(st, p->manifest, p->buf, p->len, res, err, sizeof err);
    if (rc != MK_OK && rc != MK_EEXIST)
        print_error("import: %s\n", err);
    return rc;
}

static long long res_int(json_t *res, const char *key)
{
    return json_integer_value(json_object_get(res, key));
}

/* The dump: tables in order, counts that match, and nothing a kit keeps to itself. */
static void dump_shape(void **state)
{
    struct fixture *f = *state;
    static const char *const order[] = {"campaign",    "staff",          "patient",   "visit",
                                        "observation", "device_reading", "finding",   "referral",
                                        "medicine",    "prescription",   "stock_move"};
    long seen[11] = {0};
    int last = 0, lines = 0;
    char *copy = strndup(f->p1.buf, f->p1.len), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *row = json_loads(line, 0, NULL);
        assert_non_null(row);
        const char *t = json_string_value(json_object_get(row, "t"));
        int i = 0;
        while (i < 11 && strcmp(order[i], t))
            i++;
        assert_true(i < 11 && i >= last);
        last = i;
        seen[i]++;
        json_t *r = json_object_get(row, "r");
        assert_null(json_object_get(r, "pin_hash"));
        assert_null(json_object_get(r, "pin_tag"));
        assert_null(json_object_get(r, "name_fold"));
        assert_null(json_object_get(r, "pid"));
        assert_null(json_object_get(r, "dedupe"));
        if (i == 1) /* staff: who they were, nothing to log in with */
            assert_int_equal(json_object_size(r), 5);
        json_decref(row);
        lines++;
    }
    free(copy);
    json_t *counts = json_object_get(f->p1.manifest, "counts");
    for (int i = 0; i < 11; i++)
        assert_int_equal(json_integer_value(json_object_get(counts, order[i])), seen[i]);
    assert_int_equal(seen[0], 1);
    /* The test's own doctor and the four demo staff who recorded the screening day (registrar,
     * nurse, doctor, pharmacist); the demo lead recorded nothing and stays on the kit. */
    assert_int_equal(seen[1], 5);
    assert_int_equal(seen[2], 40);
    assert_int_equal(seen[3], 40);
    assert_true(seen[4] > 200 && seen[7] > 0 && seen[9] > 0);
}

static void import_and_again(void **state)
{
    struct fixture *f = *state;
    json_t *res = NULL;
    assert_int_equal(import_pkg(f->hosp, &f->p1, &res), MK_OK);
    json_t *counts = json_object_get(f->p1.manifest, "counts");
    assert_int_equal(res_int(res, "patients_new"), 40);
    assert_int_equal(res_int(res, "patients_merged"), 0);
    assert_int_equal(res_int(res, "visit"), 40);
    assert_int_equal(res_int(res, "observation"), res_int(counts, "observation"));
    assert_string_equal(json_string_value(json_object_get(res, "campaign")), DEMO_CAMPAIGN);
    json_decref(res);
    assert_int_equal(scalar(f, "SELECT count(*) FROM observation"), res_int(counts, "observation"));

    /* Folded again here: search finds an imported resident by name without accents. */
    json_t *p = NULL, *found = NULL;
    char *copy = strndup(f->p1.buf, f->p1.len);
    char *at = strstr(copy, "{\"t\":\"patient\"");
    *strchr(at, '\n') = '\0';
    json_t *row = json_loads(at, 0, NULL);
    const char *name = json_string_value(json_object_get(json_object_get(row, "r"), "name"));
    char *fold = NULL;
    assert_int_equal(text_fold(name, &fold), MK_OK);
    assert_int_equal(
        store_patient_search(f->hosp, &(struct search_query){.q = fold, .limit = 10}, &found),
        MK_OK);
    assert_true(json_array_size(found) >= 1);
    assert_int_equal(
        store_patient_get(f->hosp,
                          json_string_value(json_object_get(json_object_get(row, "r"), "id")), &p),
        MK_OK);
    json_decref(p);
    json_decref(found);
    json_decref(row);
    free(fold);
    free(copy);

    /* Staff came along inactive: nobody logs in with their PIN here. */
    assert_int_equal(scalar(f, "SELECT count(*) FROM staff WHERE active = 0 AND pin_hash = '!'"),
                     5);
    assert_int_equal(scalar(f, "SELECT count(*) FROM staff WHERE pin_hash <> '!'"), 0);
    json_t *who = NULL;
    assert_int_equal(store_staff_login(f->hosp, "86420", NULL, &who), MK_EAUTH);

    /* The same package again: nothing changes, not even the audit. */
    long long before = all_rows(f);
    assert_int_equal(import_pkg(f->hosp, &f->p1, &res), MK_EEXIST);
    assert_null(res);
    assert_int_equal(all_rows(f), before);

    /* A later package of the same campaign: everything is there already. */
    char id[UUID_LEN + 1];
    util_uuid7(id);
    json_object_set_new(f->p1.manifest, "package", json_string(id));
    assert_int_equal(import_pkg(f->hosp, &f->p1, &res), MK_OK);
    assert_int_equal(res_int(res, "patients_already"), 40);
    assert_int_equal(res_int(res, "patients_new"), 0);
    assert_int_equal(res_int(res, "visit"), 0);
    assert_int_equal(res_int(res, "observation"), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "already"), "visit")),
                     40);
    json_decref(res);
    assert_int_equal(scalar(f, "SELECT count(*) FROM import"), 2);
    assert_int_equal(scalar(f, "SELECT count(*) FROM patient"), 40);
}

static void overlap_merges_by_id_number(void **state)
{
    struct fixture *f = *state;
    json_t *res = NULL;
    assert_int_equal(import_pkg(f->hosp, &f->p1, &res), MK_OK);
    json_decref(res);
    /* Residents of kit 2 whose CCCD or BHYT number kit 1 saw. */
    char path[128], q[512];
    snprintf(path, sizeof path, "%s/%s", f->dir[0], STORE_DB_NAME);
    snprintf(q, sizeof q, "ATTACH '%s' AS k1", path);
    char path2[128];
    snprintf(path2, sizeof path2, "%s/%s", f->dir[1], STORE_DB_NAME);
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(path2, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM patient p WHERE EXISTS (SELECT 1 "
                                        "FROM k1.patient o WHERE o.cccd = p.cccd OR o.bhyt_ssn = "
                                        "p.bhyt_ssn)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long expect = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    assert_true(expect > 5);

    assert_int_equal(import_pkg(f->hosp, &f->p2, &res), MK_OK);
    assert_int_equal(res_int(res, "patients_merged"), expect);
    assert_int_equal(res_int(res, "patients_new"), 70 - expect);
    /* Two kits named their campaigns alike: the second one is told apart by its kit. */
    const char *code = json_string_value(json_object_get(res, "campaign"));
    assert_true(strncmp(code, DEMO_CAMPAIGN "-K", strlen(DEMO_CAMPAIGN) + 2) == 0);
    assert_int_equal(scalar(f, "SELECT count(*) FROM patient"), 40 + 70 - expect);
    /* One patient, two visits (one per campaign), for each merged resident. */
    assert_int_equal(scalar(f, "SELECT count(*) FROM (SELECT patient_id FROM visit GROUP BY "
                               "patient_id HAVING count(DISTINCT campaign_id) = 2)"),
                     expect);
    assert_int_equal(scalar(f, "SELECT count(*) FROM patient_alias WHERE kind = 'id'"), expect);

    /* Same name, birth year and commune without an id number: listed, never merged. */
    json_t *lm = json_object_get(res, "likely_matches");
    assert_true(json_array_size(lm) > 0);
    assert_int_equal(scalar(f, "SELECT count(*) FROM likely_match WHERE state = 'open'"),
                     (long long)json_array_size(lm));
    json_t *m0 = json_array_get(lm, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m0, "patient"), "name")),
                        json_string_value(json_object_get(json_object_get(m0, "other"), "name")));
    assert_string_not_equal(
        json_string_value(json_object_get(json_object_get(m0, "patient"), "id")),
        json_string_value(json_object_get(json_object_get(m0, "other"), "id")));
    json_t *open = NULL;
    assert_int_equal(records_matches(f->hosp, &open), MK_OK);
    assert_int_equal(json_array_size(open), json_array_size(lm));
    json_decref(open);
    json_decref(res);
}

/* Each broken line is refused with its line number, and the store is as before. */
static void broken_lines_write_nothing(void **state)
{
    struct fixture *f = *state;
    json_t *res = NULL;
    assert_int_equal(import_pkg(f->hosp, &f->p1, &res), MK_OK);
    json_decref(res);
    long long before = all_rows(f);
    /* The observations of p2, one at a time broken. */
    const char *obs = strstr(f->p2.buf, "{\"t\":\"observation\"");
    size_t head = (size_t)(obs - f->p2.buf);
    int line_no = 1;
    for (const char *c = f->p2.buf; c < obs; c++)
        line_no += *c == '\n';
    const char *end = strchr(obs, '\n');
    char good[2048];
    snprintf(good, sizeof good, "%.*s", (int)(end - obs), obs);
    static const struct {
        const char *from, *to, *why;
    } cases[] = {
        {"\"source\":\"", "\"source\":\"x", "observation.source"},
        {"\"taken_at\":\"", "\"taken_at\":\"yesterday", "observation.taken_at"},
        {"\"visit_id\":\"", "\"visit_id\":\"0", "observation.visit_id"},
        {"\"t\":\"observation\"", "\"t\":\"observations\"", "unknown table"},
        {"\"code\":\"", "\"code\":\"x", "observation"},
        {"{\"t\"", "[{\"t\"", "not"},
        {"\"note\":", "\"pin_hash\":\"x\",\"note\":", "unknown column"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char bad[2200], want[64], err[512];
        char *at = strstr(good, cases[k].from);
        assert_non_null(at);
        snprintf(bad, sizeof bad, "%.*s%s%s", (int)(at - good), good, cases[k].to,
                 at + strlen(cases[k].from));
        size_t n = head + strlen(bad) + 1 + strlen(end + 1);
        char *text = malloc(n + 1);
        snprintf(text, n + 1, "%.*s%s\n%s", (int)head, f->p2.buf, bad, end + 1);
        char id[UUID_LEN + 1];
        util_uuid7(id);
        json_object_set_new(f->p2.manifest, "package", json_string(id));
        assert_int_equal(import_text(f->hosp, f->p2.manifest, text, n, &res, err, sizeof err),
                         MK_EINVAL);
        snprintf(want, sizeof want, "line %d: ", line_no);
        if (!strstr(err, want) || !strstr(err, cases[k].why))
            fail_msg("case %zu: \"%s\" does not say \"%s\" ... \"%s\"", k, err, want, cases[k].why);
        assert_null(res);
        assert_int_equal(all_rows(f), before);
        free(text);
    }
    /* The good line imports: the broken ones were the only reason. */
    assert_int_equal(import_pkg(f->hosp, &f->p2, &res), MK_OK);
    json_decref(res);
}

static void counts_must_match(void **state)
{
    struct fixture *f = *state;
    json_t *res = NULL;
    char err[512];
    long long before = all_rows(f);
    json_t *counts = json_object_get(f->p1.manifest, "counts");
    long long n = res_int(counts, "referral");
    json_object_set_new(counts, "referral", json_integer(n + 1));
    assert_int_equal(
        import_text(f->hosp, f->p1.manifest, f->p1.buf, f->p1.len, &res, err, sizeof err),
        MK_EINVAL);
    assert_non_null(strstr(err, "referral rows"));
    assert_int_equal(all_rows(f), before);
    /* A package cut short after its patients: the same. */
    json_object_set_new(counts, "referral", json_integer(n));
    const char *visits = strstr(f->p1.buf, "{\"t\":\"visit\"");
    assert_int_equal(import_text(f->hosp, f->p1.manifest, f->p1.buf, (size_t)(visits - f->p1.buf),
                                 &res, err, sizeof err),
                     MK_EINVAL);
    assert_non_null(strstr(err, "visit rows"));
    assert_int_equal(all_rows(f), before);
    /* A manifest that is not one. */
    json_t *m = json_pack("{s:s}", "package", "x");
    assert_int_equal(import_text(f->hosp, m, f->p1.buf, f->p1.len, &res, err, sizeof err),
                     MK_EINVAL);
    json_decref(m);
    assert_int_equal(all_rows(f), before);
}

/* Two kits drew one code: the second resident gets a new one, the old still finds them. */
static void code_clash(void **state)
{
    struct fixture *f = *state;
    json_t *res = NULL;
    char err[512];
    assert_int_equal(import_pkg(f->hosp, &f->p1, &res), MK_OK);
    json_decref(res);
    /* kit 2's package with its last resident's code replaced by one of kit 1's. That
     * resident is one kit 1 never saw (the generator's 70th). */
    char *code1 = strstr(strstr(f->p1.buf, "{\"t\":\"patient\""), "\"code\":\"") + 8;
    char taken[13];
    memcpy(taken, code1, 12);
    taken[12] = '\0';
    char *text = strndup(f->p2.buf, f->p2.len);
    char *last = strstr(text, "{\"t\":\"visit\"");
    while (last > text && strncmp(last, "{\"t\":\"patient\"", 14))
        last--;
    char *c2 = strstr(last, "\"code\":\"") + 8;
    char mine[13];
    memcpy(mine, c2, 12);
    mine[12] = '\0';
    memcpy(c2, taken, 12);
    assert_int_equal(import_text(f->hosp, f->p2.manifest, text, f->p2.len, &res, err, sizeof err),
                     MK_OK);
    assert_int_equal(res_int(res, "patient_codes_changed"), 1);
    json_decref(res);
    free(text);
    char q[200];
    snprintf(q, sizeof q, "SELECT count(*) FROM patient WHERE code = '%s'", taken);
    assert_int_equal(scalar(f, q), 1);
    snprintf(q, sizeof q, "SELECT count(*) FROM patient WHERE code = '%s'", mine);
    assert_int_equal(scalar(f, q), 0);
    /* the wristband's code names both now: kit 1's resident by code, kit 2's by alias */
    snprintf(q, sizeof q,
             "SELECT count(*) FROM patient_alias a JOIN patient p ON p.id = a.patient_id WHERE "
             "a.kind = 'code' AND a.alias = '%s' AND p.code <> a.alias",
             taken);
    assert_int_equal(scalar(f, q), 1);
}

/* Every occurrence of from in text[len] replaced by to (same length). */
static char *replace_all(const char *text, size_t len, const char *from, const char *to)
{
    char *out = strndup(text, len);
    assert_non_null(out);
    assert_int_equal(strlen(from), strlen(to));
    for (char *at = strstr(out, from); at; at = strstr(at + strlen(to), from))
        memcpy(at, to, strlen(to));
    return out;
}

/* A campaign whose code and this kit's form of it are both taken by other campaigns here: a
 * refusal, never "imported before" (MK_EEXIST says nothing changed and ends the command well). */
static void campaign_code_taken(void **state)
{
    struct fixture *f = *state;
    json_t *res = NULL;
    char err[512];
    assert_int_equal(import_pkg(f->hosp, &f->p1, &res), MK_OK);
    json_decref(res);
    assert_int_equal(import_pkg(f->hosp, &f->p2, &res), MK_OK); /* DEMO-TAVAN-K<kit 2> */
    json_decref(res);
    long long before = all_rows(f);
    /* kit 2 again, a campaign of another id under the same code: both codes are taken. */
    json_t *c = json_object_get(f->p2.manifest, "campaign");
    const char *old_id = json_string_value(json_object_get(c, "id"));
    char pkg[UUID_LEN + 1], cid[UUID_LEN + 1];
    util_uuid7(pkg);
    util_uuid7(cid);
    char *text = replace_all(f->p2.buf, f->p2.len, old_id, cid);
    json_t *m = json_deep_copy(f->p2.manifest);
    json_object_set_new(m, "package", json_string(pkg));
    json_object_set_new(json_object_get(m, "campaign"), "id", json_string(cid));
    int rc = import_text(f->hosp, m, text, f->p2.len, &res, err, sizeof err);
    assert_int_not_equal(rc, MK_EEXIST);
    assert_int_equal(rc, MK_EINVAL);
    if (!strstr(err, "line 1: ") || !strstr(err, "taken here"))
        fail_msg("\"%s\" does not say which line and why", err);
    assert_null(res);
    assert_int_equal(all_rows(f), before);
    char q[200];
    snprintf(q, sizeof q, "SELECT count(*) FROM campaign WHERE id = '%s'", cid);
    assert_int_equal(scalar(f, q), 0);
    json_decref(m);
    free(text);
}

static void arrival(void **state)
{
    struct fixture *f = *state;
    json_t *res = NULL, *pending = NULL, *rec = NULL;
    assert_int_equal(import_pkg(f->hosp, &f->p1, &res), MK_OK);
    json_decref(res);
    assert_int_equal(records_referrals_pending(f->hosp, NULL, &pending), MK_OK);
    long long n = scalar(f, "SELECT count(*) FROM referral WHERE status = 'referred'");
    assert_true(n > 0);
    assert_int_equal(json_array_size(pending), n);
    /* urgent first */
    static const char *const rank = "urgent soon routine";
    int last = 0;
    size_t i;
    json_t *r;
    json_array_foreach(pending, i, r)
    {
        int at = (int)(strstr(rank, json_string_value(json_object_get(r, "urgency"))) - rank);
        assert_true(at >= last);
        last = at;
    }
    json_t *p = json_object_get(json_array_get(pending, 0), "patient");
    char code[16];
    snprintf(code, sizeof code, "%s", json_string_value(json_object_get(p, "code")));
    long long audit = scalar(f, "SELECT count(*) FROM audit");

    /* Garbage, a code with a wrong check character, a code nobody has: nothing changes. */
    assert_int_equal(records_arrive(f->hosp, &cli, "HELLO", &rec), MK_EINVAL);
    char wrong[16];
    snprintf(wrong, sizeof wrong, "%s", code);
    wrong[11] = wrong[11] == 'A' ? 'B' : 'A';
    assert_int_equal(records_arrive(f->hosp, &cli, wrong, &rec), MK_ECHECK);
    assert_null(rec);
    assert_int_equal(scalar(f, "SELECT count(*) FROM audit"), audit);

    /* The scanner types the code and Enter. */
    char scan[20];
    snprintf(scan, sizeof scan, "%s\r\n", code);
    assert_int_equal(records_arrive(f->hosp, &cli, scan, &rec), MK_OK);
    size_t arrived = json_array_size(json_object_get(rec, "arrived"));
    assert_true(arrived >= 1);
    json_t *visit = json_array_get(json_object_get(rec, "visits"), 0);
    assert_true(json_array_size(json_object_get(visit, "observations")) > 0);
    assert_true(json_array_size(json_object_get(visit, "referrals")) >= 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "patient"), "code")),
                        code);
    json_decref(rec);
    assert_int_equal(scalar(f, "SELECT count(*) FROM referral WHERE status = 'referred'"),
                     n - (long long)arrived);
    assert_int_equal(scalar(f, "SELECT count(*) FROM audit"), audit + (long long)arrived);
    /* Again: nothing open, the record still shown. */
    assert_int_equal(records_arrive(f->hosp, &cli, code, &rec), MK_ERANGE);
    assert_non_null(json_object_get(rec, "visits"));
    json_decref(rec);
    json_decref(pending);
    assert_int_equal(records_referrals_pending(f->hosp, NULL, &pending), MK_OK);
    assert_int_equal(json_array_size(pending), n - (long long)arrived);
    json_decref(pending);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(dump_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(import_and_again, setup, teardown),
        cmocka_unit_test_setup_teardown(overlap_merges_by_id_number, setup, teardown),
        cmocka_unit_test_setup_teardown(broken_lines_write_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(counts_must_match, setup, teardown),
        cmocka_unit_test_setup_teardown(code_clash, setup, teardown),
        cmocka_unit_test_setup_teardown(campaign_code_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(arrival, setup, teardown),
    };
    log_threshold = LOG_WARN;
    return cmocka_run_group_tests_name("records", tests, NULL, NULL);
}
