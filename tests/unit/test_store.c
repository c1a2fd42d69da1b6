/* The store against real SQLite in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../app/common/err.h"
#include "../../app/common/log.h"
#include "../../app/store/migrations.h"
#include "../../app/domain/code.h"
#include "../../app/store/store.h"
#include "../../app/store/store_int.h"

struct fixture {
    char dir[64];
    struct store *st;
    char campaign_id[64];
};

static const struct actor cli = {NULL, "cli:test"};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mokit-unit-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    if (store_open(f->dir, &f->st) != MK_OK)
        return -1;
    struct campaign_in c = {.code = "T1",
                            .name = "Test",
                            .commune = "Tả Van",
                            .province = "Lào Cai",
                            .start_date = "2026-01-01"};
    json_t *out;
    if (store_campaign_create(f->st, &cli, &c, &out) != MK_OK)
        return -1;
    snprintf(f->campaign_id, sizeof f->campaign_id, "%s",
             json_string_value(json_object_get(out, "id")));
    json_decref(out);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    store_close(f->st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static sqlite3 *raw_db(struct fixture *f)
{
    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/%s", f->dir, STORE_DB_NAME);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

static long long scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void migrations_from_empty(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_schema_version(f->st), migrations[migrations_count - 1].version);
    sqlite3 *db = raw_db(f);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    static const char *const tables[] = {"kit",   "campaign",    "staff", "session",    "patient",
                                         "visit", "observation", "audit", "patient_fts"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_schema WHERE name = '%s'",
                 tables[i]);
        assert_int_equal(scalar(db, sql), 1);
    }
    assert_int_equal(scalar(db, "SELECT count(*) FROM kit"), 1);
    sqlite3_close(db);

    /* Reopening keeps the kit's identity and migrates nothing twice. */
    char kit[40];
    snprintf(kit, sizeof kit, "%s", store_kit_id(f->st));
    store_close(f->st);
    assert_int_equal(store_open(f->dir, &f->st), MK_OK);
    assert_string_equal(store_kit_id(f->st), kit);
}

static void newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    char pragma[64];
    int version = store_schema_version(f->st);
    assert_true(version >= 2);
    store_close(f->st);
    sqlite3 *db = raw_db(f);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(f->dir, &f->st), MK_ESCHEMA);
    db = raw_db(f);
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version);
    assert_int_equal(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(f->dir, &f->st), MK_OK);
}

static json_t *reg(struct fixture *f, const char *name, int year, const char *cccd, bool confirm,
                   int expect)
{
    struct patient p = {.name = name, .sex = SEX_FEMALE, .birth = {year, 0, 0}, .cccd = cccd};
    json_t *out = NULL;
    assert_int_equal(store_patient_register(f->st, &cli, &p, f->campaign_id, confirm, &out),
                     expect);
    return out;
}

static void duplicates(void **state)
{
    struct fixture *f = *state;
    json_t *a = reg(f, "Nguyễn Thị Hương", 1968, "010168001234", false, MK_OK);
    const char *code = json_string_value(json_object_get(a, "code"));
    assert_int_equal(strlen(code), 12);
    assert_string_equal(json_string_value(json_object_get(a, "commune")), "Tả Van");

    /* Same CCCD, another name: the existing patient, nothing created. */
    json_t *b = reg(f, "Someone Else", 1990, "010168001234", true, MK_EEXIST);
    assert_string_equal(json_string_value(json_object_get(b, "code")), code);
    json_decref(b);

    /* Same name in NFD, birth year + 1, same commune: likely duplicate. */
    json_t *c = reg(f, "Nguye\xcc\x82\xcc\x83n Thi\xcc\xa3 Hu\xcc\x9bo\xcc\x9bng", 1969, NULL,
                    false, MK_ELIKELY);
    assert_int_equal(json_array_size(c), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "code")), code);
    json_decref(c);
    /* Two years apart: not a likely duplicate. */
    json_t *d = reg(f, "Nguyễn Thị Hương", 1970, NULL, false, MK_OK);
    json_decref(d);
    /* Confirmed: a second record with its own code. */
    json_t *e = reg(f, "Nguyễn Thị Hương", 1968, NULL, true, MK_OK);
    assert_string_not_equal(json_string_value(json_object_get(e, "code")), code);
    json_decref(e);

    sqlite3 *db = raw_db(f);
    assert_int_equal(scalar(db, "SELECT count(*) FROM patient"), 3);
    /* Every creation audited, with the record after. */
    assert_int_equal(scalar(db, "SELECT count(*) FROM audit WHERE entity = 'patient' AND "
                                "action = 'create' AND actor = 'cli:test' AND after IS NOT NULL"),
                     3);
    assert_int_equal(scalar(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    sqlite3_close(db);
    json_decref(a);
}

static const char *match_of(json_t *results, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
            return json_string_value(json_object_get(r, "match"));
    }
    return NULL;
}

static json_t *search(struct fixture *f, const char *q, int year)
{
    struct search_query sq = {q, year, NULL, 20};
    json_t *out;
    assert_int_equal(store_patient_search(f->st, &sq, &out), MK_OK);
    return out;
}

static void searching(void **state)
{
    struct fixture *f = *state;
    json_decref(reg(f, "Nguyễn Thị Hương", 1968, "010168001234", true, MK_OK));
    json_decref(reg(f, "Nguyễn Thị Hoa", 1975, NULL, true, MK_OK));
    json_decref(reg(f, "Đặng Văn Bình", 1950, NULL, true, MK_OK));
    json_decref(reg(f, "Lê Thị Nguyễn", 1980, NULL, true, MK_OK));
    json_t *x = reg(f, "Thào Thị Mỷ", 1962, NULL, true, MK_OK);

    json_t *r = search(f, "nguyen thi h", 0);
    assert_int_equal(json_array_size(r), 2);
    assert_string_equal(match_of(r, "Nguyễn Thị Hương"), "prefix");
    assert_string_equal(match_of(r, "Nguyễn Thị Hoa"), "prefix");
    json_decref(r);

    r = search(f, "NGUYỄN THỊ HƯƠNG", 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "match")), "exact");
    json_decref(r);

    r = search(f, "dang", 0);
    assert_int_equal(json_array_size(r), 1);
    assert_string_equal(match_of(r, "Đặng Văn Bình"), "prefix");
    json_decref(r);

    /* Ranking: names starting with "nguyen" come before a name that only contains it. */
    r = search(f, "nguyen", 0);
    assert_int_equal(json_array_size(r), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 2), "name")),
                        "Lê Thị Nguyễn");
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 2), "match")),
                        "partial");
    json_decref(r);

    r = search(f, "thi huong", 0);
    assert_string_equal(match_of(r, "Nguyễn Thị Hương"), "partial");
    assert_null(match_of(r, "Nguyễn Thị Hoa"));
    json_decref(r);

    /* NFD query = NFC query. */
    r = search(f, "Tha\xcc\x80o Thi\xcc\xa3", 0);
    assert_string_equal(match_of(r, "Thào Thị Mỷ"), "prefix");
    json_decref(r);

    /* By code (typed with spaces, lower case), by CCCD, by year in the text or as a filter. */
    char typed[32];
    const char *code = json_string_value(json_object_get(x, "code"));
    snprintf(typed, sizeof typed, "%.4s %.4s %.4s", code, code + 4, code + 8);
    for (char *p = typed; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    r = search(f, typed, 0);
    assert_string_equal(match_of(r, "Thào Thị Mỷ"), "code");
    json_decref(r);
    r = search(f, "010168001234", 0);
    assert_int_equal(json_array_size(r), 1);
    assert_string_equal(match_of(r, "Nguyễn Thị Hương"), "cccd");
    json_decref(r);
    /* A CCCD whose last digit is, by chance, the code check character of the first eleven:
     * still found as a CCCD. */
    char both[13] = "01016800123";
    for (int i = 0; i < 100; i++) {
        snprintf(both, sizeof both, "0101680%04d", i);
        int v = code_check_value(both, 11);
        if (v >= 0 && v < 10) {
            both[11] = (char)('0' + v);
            both[12] = '\0';
            break;
        }
    }
    char norm[CODE_LEN + 1];
    assert_int_equal(code_parse(both, norm), MK_OK); /* it reads as a code too */
    json_decref(reg(f, "Lò Văn Chiến", 1980, both, true, MK_OK));
    r = search(f, both, 0);
    assert_int_equal(json_array_size(r), 1);
    assert_string_equal(match_of(r, "Lò Văn Chiến"), "cccd");
    json_decref(r);
    r = search(f, "nguyen 1975", 0);
    assert_int_equal(json_array_size(r), 1);
    assert_string_equal(match_of(r, "Nguyễn Thị Hoa"), "prefix");
    json_decref(r);
    r = search(f, "nguyen", 1968);
    assert_int_equal(json_array_size(r), 1);
    json_decref(r);
    r = search(f, "xyz", 0);
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    json_decref(x);
}

static void visits_and_readings(void **state)
{
    struct fixture *f = *state;
    json_t *a = reg(f, "A Páo", 1958, NULL, true, MK_OK);
    json_t *b = reg(f, "B Mỷ", 1960, NULL, true, MK_OK);
    json_t *v1, *v2, *again, *obs, *full;
    const char *ca = json_string_value(json_object_get(a, "code"));
    assert_int_equal(store_visit_create(f->st, &cli, ca, f->campaign_id, &v1), MK_OK);
    assert_int_equal(json_integer_value(json_object_get(v1, "queue_number")), 1);
    assert_int_equal(store_visit_create(f->st, &cli, json_string_value(json_object_get(b, "code")),
                                        f->campaign_id, &v2),
                     MK_OK);
    assert_int_equal(json_integer_value(json_object_get(v2, "queue_number")), 2);
    /* Scanned again the same day: the same visit and number. */
    assert_int_equal(store_visit_create(f->st, &cli, ca, f->campaign_id, &again), MK_EEXIST);
    assert_string_equal(json_string_value(json_object_get(again, "id")),
                        json_string_value(json_object_get(v1, "id")));
    assert_int_equal(store_visit_create(f->st, &cli, "000000000001", f->campaign_id, &again),
                     MK_ENOTFOUND);

    const char *vid = json_string_value(json_object_get(v1, "id"));
    struct obs_values v = {{152, 96, 0}, {1, 1, 0}, 0};
    assert_int_equal(
        store_obs_add(f->st, &cli, vid, obs_kind_find("bp"), &v, "manual", NULL, "left arm", &obs),
        MK_OK);
    assert_true(json_real_value(json_object_get(json_object_get(obs, "values"), "systolic")) ==
                152);
    assert_null(json_object_get(json_object_get(obs, "values"), "mean"));
    assert_string_equal(json_string_value(json_object_get(obs, "unit")), "mm[Hg]");
    json_decref(obs);
    assert_int_equal(store_obs_add(f->st, &cli, "no-such-visit", obs_kind_find("bp"), &v, "manual",
                                   NULL, NULL, &obs),
                     MK_ENOTFOUND);
    assert_int_equal(store_visit_get(f->st, vid, &full), MK_OK);
    assert_int_equal(json_array_size(json_object_get(full, "observations")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(full, "patient"), "code")), ca);
    json_decref(full);
    json_decref(again);
    json_decref(v1);
    json_decref(v2);
    json_decref(a);
    json_decref(b);
}

static void staff_and_sessions(void **state)
{
    struct fixture *f = *state;
    json_t *s, *who;
    char token[65];
    assert_int_equal(store_staff_add(f->st, &cli, "Lan", "registrar", NULL, "1234", &s), MK_OK);
    const char *id = json_string_value(json_object_get(s, "id"));
    assert_int_equal(store_staff_add(f->st, &cli, "Hoa", "nurse", NULL, "1234", &who), MK_EEXIST);
    assert_int_equal(store_staff_add(f->st, &cli, "Hoa", "janitor", NULL, "5678", &who), MK_EINVAL);
    assert_int_equal(store_staff_add(f->st, &cli, "Hoa", "nurse", NULL, "12a4", &who), MK_EINVAL);
    assert_int_equal(store_staff_login(f->st, "1235", NULL, &who), MK_EAUTH);
    assert_int_equal(store_staff_login(f->st, "1234", NULL, &who), MK_OK);
    assert_string_equal(json_string_value(json_object_get(who, "role")), "registrar");
    json_decref(who);
    char label[64];
    snprintf(label, sizeof label, "staff:%s", id);
    struct actor me = {id, label};
    assert_int_equal(store_session_create(f->st, &me, 60, token), MK_OK);
    assert_int_equal(strlen(token), 64);
    assert_int_equal(store_session_get(f->st, token, 600, &who), MK_OK);
    assert_string_equal(json_string_value(json_object_get(who, "id")), id);
    json_decref(who);
    /* Only the hash is stored; the token itself appears nowhere in the database. */
    sqlite3 *db = raw_db(f);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM session WHERE token_hash = '%s'", token);
    assert_int_equal(scalar(db, sql), 0);
    assert_int_equal(scalar(db, "SELECT count(*) FROM staff WHERE pin_hash LIKE '$argon2id$%'"), 1);
    assert_int_equal(scalar(db, "SELECT count(*) FROM audit WHERE entity = 'staff' AND "
                                "after LIKE '%argon2%'"),
                     0);
    sqlite3_close(db);
    /* A session unused for longer than the idle time ends; one used within it goes on, and
     * its use is noted (at most once a minute). */
    db = raw_db(f);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE session SET last_seen = unixepoch() - 700", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_session_get(f->st, token, 600, &who), MK_EAUTH);
    assert_int_equal(store_session_get(f->st, token, 800, &who), MK_OK);
    json_decref(who);
    db = raw_db(f);
    assert_int_equal(scalar(db, "SELECT count(*) FROM session WHERE last_seen >= unixepoch() - 5"),
                     1);
    sqlite3_close(db);
    assert_int_equal(store_session_get(f->st, token, 600, &who), MK_OK);
    json_decref(who);
    /* An expired session no longer authenticates. */
    char old_token[65];
    assert_int_equal(store_session_create(f->st, &me, -1, old_token), MK_OK);
    assert_int_equal(store_session_get(f->st, old_token, 600, &who), MK_EAUTH);
    assert_int_equal(store_session_get(f->st, "not-a-token", 600, &who), MK_EAUTH);
    assert_int_equal(store_session_delete(f->st, &me, token), MK_OK);
    db = raw_db(f);
    assert_int_equal(scalar(db, "SELECT count(*) FROM audit WHERE entity = 'staff' AND "
                                "action IN ('login', 'logout') AND staff_id = "
                                "(SELECT id FROM staff WHERE name = 'Lan')"),
                     3);
    sqlite3_close(db);
    assert_int_equal(store_session_get(f->st, token, 600, &who), MK_EAUTH);
    json_decref(s);
}

/* The kit's signing key: made once, the same after a reopen, signatures that verify; made at
 * the upgrade for a kit that had none; a damaged one stops the store rather than being
 * replaced. */
static void kit_signing_key(void **state)
{
    struct fixture *f = *state;
    unsigned char pk[32], pk2[32], sig[64], zero[32] = {0};
    static const unsigned char msg[] = "mokit package manifest";
    store_kit_sign_public(f->st, pk);
    assert_memory_not_equal(pk, zero, sizeof pk);
    store_kit_sign(f->st, msg, sizeof msg, sig);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    sig[5] ^= 1;
    assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    store_close(f->st);
    assert_int_equal(store_open(f->dir, &f->st), MK_OK);
    store_kit_sign_public(f->st, pk2);
    assert_memory_equal(pk, pk2, sizeof pk);
    /* a kit from before schema 6 has no key: one is made */
    store_close(f->st);
    sqlite3 *db = raw_db(f);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE kit SET sign_public = NULL, sign_secret = NULL", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(f->dir, &f->st), MK_OK);
    store_kit_sign_public(f->st, pk2);
    assert_memory_not_equal(pk, pk2, sizeof pk);
    db = raw_db(f);
    assert_int_equal(scalar(db, "SELECT length(sign_public) + length(sign_secret) FROM kit"), 96);
    sqlite3_close(db);
    /* damaged: refused, never silently replaced */
    store_close(f->st);
    db = raw_db(f);
    assert_int_equal(sqlite3_exec(db, "UPDATE kit SET sign_public = x'0102'", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(f->dir, &f->st), MK_EDB);
    db = raw_db(f);
    assert_int_equal(scalar(db, "SELECT length(sign_public) FROM kit"), 2);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE kit SET sign_public = NULL, sign_secret = NULL", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(f->dir, &f->st), MK_OK);
}

static void bulk_is_all_or_nothing(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_tx_begin(f->st), MK_OK);
    json_decref(reg(f, "Bulk One", 1950, "111111111111", true, MK_OK));
    json_decref(reg(f, "Bulk Two", 1951, "111111111111", true, MK_EEXIST)); /* savepoint only */
    json_decref(reg(f, "Bulk Three", 1952, NULL, true, MK_OK));
    assert_int_equal(store_tx_end(f->st, false), MK_OK);
    sqlite3 *db = raw_db(f);
    assert_int_equal(scalar(db, "SELECT count(*) FROM patient"), 0);
    sqlite3_close(db);
    assert_int_equal(store_tx_begin(f->st), MK_OK);
    json_decref(reg(f, "Bulk One", 1950, NULL, true, MK_OK));
    json_decref(reg(f, "Bulk Three", 1952, NULL, true, MK_OK));
    assert_int_equal(store_tx_end(f->st, true), MK_OK);
    db = raw_db(f);
    assert_int_equal(scalar(db, "SELECT count(*) FROM patient"), 2);
    sqlite3_close(db);
}

/* A full disk: SQLite answers SQLITE_FULL (here forced by capping the database's page count on
 * the store's own connection). The write fails with MK_ENOSPC and leaves nothing behind. */
static void full_disk_writes_nothing(void **state)
{
    struct fixture *f = *state;
    json_decref(reg(f, "Before Full", 1950, NULL, true, MK_OK));
    sqlite3 *db = raw_db(f);
    long long pages = scalar(db, "PRAGMA page_count");
    long long patients = scalar(db, "SELECT count(*) FROM patient");
    long long audits = scalar(db, "SELECT count(*) FROM audit");
    sqlite3_close(db);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages);
    assert_int_equal(sqlite3_exec(f->st->db, sql, NULL, NULL, NULL), SQLITE_OK);
    int full = 0;
    for (int i = 0; i < 200 && !full; i++) {
        /* Long names fill the last free pages quickly. */
        char name[200];
        snprintf(name, sizeof name, "Full Disk %d %0150d", i, i);
        struct patient p = {.name = name, .sex = SEX_MALE, .birth = {1950, 0, 0}};
        json_t *out = NULL;
        int rc = store_patient_register(f->st, &cli, &p, f->campaign_id, true, &out);
        if (rc == MK_ENOSPC)
            full = 1;
        else
            assert_int_equal(rc, MK_OK);
        if (rc == MK_OK)
            patients++, audits++;
        json_decref(out);
    }
    assert_true(full);
    db = raw_db(f);
    /* Every answered registration is there with its audit row; the failed one left nothing. */
    assert_int_equal(scalar(db, "SELECT count(*) FROM patient"), patients);
    assert_int_equal(scalar(db, "SELECT count(*) FROM audit"), audits);
    sqlite3_close(db);
    /* Space again: registration works. */
    assert_int_equal(sqlite3_exec(f->st->db, "PRAGMA max_page_count = 1000000", NULL, NULL, NULL),
                     SQLITE_OK);
    json_decref(reg(f, "After Full", 1951, NULL, true, MK_OK));
}

/* Cases a review reproduced: the same person under two forms of a number, a number search
 * with a filter, a year in the text and as a parameter, invisible characters in a name. */
static void numbers_and_filters(void **state)
{
    struct fixture *f = *state;
    struct patient p = {.name = "Vàng Thị Sính",
                        .sex = SEX_FEMALE,
                        .birth = {1968, 0, 0},
                        .bhyt = "HN4 01 0123456789",
                        .phone = "+84 912-345-678",
                        .village = "Thôn 3"};
    json_t *a, *b;
    assert_int_equal(store_patient_register(f->st, &cli, &p, f->campaign_id, false, &a), MK_OK);
    assert_string_equal(json_string_value(json_object_get(a, "bhyt")), "HN4010123456789");
    assert_string_equal(json_string_value(json_object_get(a, "phone")), "0912345678");
    /* The same social insurance number typed alone: the same person. */
    struct patient q = {
        .name = "Someone Else", .sex = SEX_MALE, .birth = {1990, 0, 0}, .bhyt = "0123456789"};
    assert_int_equal(store_patient_register(f->st, &cli, &q, f->campaign_id, true, &b), MK_EEXIST);
    assert_string_equal(json_string_value(json_object_get(b, "code")),
                        json_string_value(json_object_get(a, "code")));
    json_decref(b);
    json_decref(reg(f, "Other Resident", 1970, NULL, true, MK_OK));

    json_t *r = search(f, "+84912345678", 0);
    assert_int_equal(json_array_size(r), 1);
    assert_string_equal(match_of(r, "Vàng Thị Sính"), "phone");
    json_decref(r);
    r = search(f, "0123456789", 0); /* 10 digits: a phone or a social insurance number */
    assert_string_equal(match_of(r, "Vàng Thị Sính"), "bhyt");
    json_decref(r);
    r = search(f, "HN4010123456789", 0);
    assert_string_equal(match_of(r, "Vàng Thị Sính"), "bhyt");
    json_decref(r);

    /* A number with a village filter: the number's match only, no filter listing. */
    struct search_query sq = {"0912345678", 0, "thon", 20};
    assert_int_equal(store_patient_search(f->st, &sq, &r), MK_OK);
    assert_int_equal(json_array_size(r), 1);
    json_decref(r);
    /* A year in the text and the same year as a parameter; a different one matches nobody. */
    r = search(f, "sinh 1968", 1968);
    assert_int_equal(json_array_size(r), 1);
    json_decref(r);
    r = search(f, "sinh 1968", 1970);
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);

    /* A zero-width space and a byte-order mark typed inside a name change nothing. */
    json_t *z = reg(f, "Va\xcc\x80ng Thi\xcc\xa3 Si\xe2\x80\x8b\xcc\x81nh\xef\xbb\xbf", 1969, NULL,
                    false, MK_ELIKELY);
    json_decref(z);
    json_decref(a);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void print_queue(void **state)
{
    struct fixture *f = *state;
    json_t *out, *a, *b, *c;
    char name[64];
    struct printer_in t = {
        .name = "ticket", .profile = "escpos-58", .uri = "sim:p/t", .kinds = "ticket,test"};
    struct printer_in w = {
        .name = "band", .profile = "zebra-hc100", .uri = "sim:p/b", .kinds = "wristband"};
    assert_int_equal(store_printer_add(f->st, &cli, &t, &out), MK_OK);
    assert_string_equal(jstr(out, "state"), "unknown");
    assert_true(json_is_true(json_object_get(out, "enabled")));
    json_decref(out);
    assert_int_equal(store_printer_add(f->st, &cli, &w, &out), MK_OK);
    json_decref(out);
    assert_int_equal(store_printer_add(f->st, &cli, &t, &out), MK_EEXIST);
    struct printer_in bad = {.name = "Bad", .profile = "escpos-58", .uri = "x", .kinds = "ticket"};
    assert_int_equal(store_printer_add(f->st, &cli, &bad, &out), MK_EINVAL);
    bad.name = "ok";
    bad.kinds = "ticket,tickets";
    assert_int_equal(store_printer_add(f->st, &cli, &bad, &out), MK_EINVAL);
    /* The printer for a kind matches whole items of the list. */
    assert_int_equal(store_printer_for(f->st, "ticket", name), MK_OK);
    assert_string_equal(name, "ticket");
    assert_int_equal(store_printer_for(f->st, "wristband", name), MK_OK);
    assert_string_equal(name, "band");
    assert_int_equal(store_printer_for(f->st, "slip", name), MK_ENOTFOUND);
    assert_int_equal(store_printer_for(f->st, "tick", name), MK_ENOTFOUND);

    /* Jobs come out in order per printer. */
    struct job_in j = {.printer = "ticket", .kind = "test", .data = "\x1b@A\n", .len = 4};
    assert_int_equal(store_job_create(f->st, &cli, &j, &a), MK_OK);
    j.data = "\x1b@B\n";
    assert_int_equal(store_job_create(f->st, &cli, &j, &b), MK_OK);
    struct job_in other = {.printer = "band", .kind = "test", .data = "^XA^XZ", .len = 6};
    assert_int_equal(store_job_create(f->st, &cli, &other, &c), MK_OK);
    struct job_in nope = {.printer = "none", .kind = "test", .data = "x", .len = 1};
    assert_int_equal(store_job_create(f->st, &cli, &nope, &out), MK_ENOTFOUND);
    nope.printer = "ticket";
    nope.kind = "receipt";
    assert_int_equal(store_job_create(f->st, &cli, &nope, &out), MK_EINVAL);
    nope.kind = "test";
    nope.len = 0;
    assert_int_equal(store_job_create(f->st, &cli, &nope, &out), MK_EINVAL);

    struct job next;
    assert_int_equal(store_job_next(f->st, "ticket", &next), MK_OK);
    assert_string_equal(next.id, jstr(a, "id"));
    assert_int_equal(next.len, 4);
    assert_memory_equal(next.data, "\x1b@A\n", 4);
    assert_int_equal(next.attempts, 0);
    free(next.data);
    /* Sending counts an attempt; a failed send goes back to queued with the error, first in
     * line still. */
    assert_int_equal(store_job_mark(f->st, jstr(a, "id"), "sending", NULL), MK_OK);
    assert_int_equal(store_job_cancel(f->st, &cli, jstr(a, "id"), &out), MK_EBUSY);
    assert_int_equal(store_job_mark(f->st, jstr(a, "id"), "queued", "printer unplugged"), MK_OK);
    assert_int_equal(store_job_next(f->st, "ticket", &next), MK_OK);
    assert_string_equal(next.id, jstr(a, "id"));
    assert_int_equal(next.attempts, 1);
    free(next.data);
    assert_int_equal(store_job_get(f->st, jstr(a, "id"), &out), MK_OK);
    assert_string_equal(jstr(out, "last_error"), "printer unplugged");
    assert_int_equal(json_integer_value(json_object_get(out, "bytes")), 4);
    assert_null(json_object_get(out, "data"));
    json_decref(out);
    /* Done: the next one comes up; a finished job cannot change any more. */
    assert_int_equal(store_job_mark(f->st, jstr(a, "id"), "sending", NULL), MK_OK);
    assert_int_equal(store_job_mark(f->st, jstr(a, "id"), "done", NULL), MK_OK);
    assert_int_equal(store_job_mark(f->st, jstr(a, "id"), "sending", NULL), MK_ENOTFOUND);
    assert_int_equal(store_job_cancel(f->st, &cli, jstr(a, "id"), &out), MK_EINVAL);
    assert_int_equal(store_job_next(f->st, "ticket", &next), MK_OK);
    assert_string_equal(next.id, jstr(b, "id"));
    free(next.data);
    /* Cancelled: never handed out; the spool cannot mark it sending. */
    assert_int_equal(store_job_cancel(f->st, &cli, jstr(b, "id"), &out), MK_OK);
    assert_string_equal(jstr(out, "state"), "cancelled");
    json_decref(out);
    assert_int_equal(store_job_mark(f->st, jstr(b, "id"), "sending", NULL), MK_ENOTFOUND);
    assert_int_equal(store_job_next(f->st, "ticket", &next), MK_ENOTFOUND);
    /* The other printer's queue is its own. */
    assert_int_equal(store_job_next(f->st, "band", &next), MK_OK);
    assert_string_equal(next.id, jstr(c, "id"));
    free(next.data);
    /* Reprint: same bytes, a new job at the end of the queue. */
    assert_int_equal(store_job_reprint(f->st, &cli, jstr(a, "id"), &out), MK_OK);
    assert_string_equal(jstr(out, "reprint_of"), jstr(a, "id"));
    assert_string_equal(jstr(out, "state"), "queued");
    assert_int_equal(store_job_next(f->st, "ticket", &next), MK_OK);
    assert_string_equal(next.id, jstr(out, "id"));
    assert_memory_equal(next.data, "\x1b@A\n", 4);
    free(next.data);
    json_decref(out);
    assert_int_equal(store_job_reprint(f->st, &cli, "no-such-job", &out), MK_ENOTFOUND);
    /* A job left "sending" by a stop goes back to the queue with a note, and can be
     * cancelled then. */
    int count = -1;
    assert_int_equal(store_job_next(f->st, "ticket", &next), MK_OK);
    free(next.data);
    assert_int_equal(store_job_mark(f->st, next.id, "sending", NULL), MK_OK);
    assert_int_equal(store_job_requeue_interrupted(f->st, "band", &count), MK_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_job_requeue_interrupted(f->st, "ticket", &count), MK_OK);
    assert_int_equal(count, 1);
    assert_int_equal(store_job_get(f->st, next.id, &out), MK_OK);
    assert_string_equal(jstr(out, "state"), "queued");
    assert_non_null(strstr(jstr(out, "last_error"), "interrupted"));
    assert_int_equal(json_integer_value(json_object_get(out, "attempts")), 1);
    json_decref(out);
    /* The printer's state and queue length. */
    assert_int_equal(store_printer_set_state(f->st, "ticket", "paper_out", "out of paper"), MK_OK);
    assert_int_equal(store_printer_get(f->st, "ticket", &out), MK_OK);
    assert_string_equal(jstr(out, "state"), "paper_out");
    assert_string_equal(jstr(out, "last_error"), "out of paper");
    assert_int_equal(json_integer_value(json_object_get(out, "queued")), 1);
    json_decref(out);
    assert_int_equal(store_printer_set_state(f->st, "none", "ready", NULL), MK_ENOTFOUND);
    /* Disabled printers serve no kind. */
    assert_int_equal(store_printer_update(f->st, &cli, "ticket", NULL, NULL, 0, &out), MK_OK);
    json_decref(out);
    assert_int_equal(store_printer_for(f->st, "ticket", name), MK_ENOTFOUND);
    /* Audited: printers and jobs made by people; the bytes are not in the audit. */
    sqlite3 *db = raw_db(f);
    assert_int_equal(scalar(db, "SELECT count(*) FROM audit WHERE entity = 'printer'"), 3);
    assert_int_equal(scalar(db, "SELECT count(*) FROM audit WHERE entity = 'print_job'"), 5);
    assert_int_equal(scalar(db, "SELECT count(*) FROM audit WHERE entity = 'print_job' AND "
                                "after LIKE '%data%'"),
                     0);
    sqlite3_close(db);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(migrations_from_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(searching, setup, teardown),
        cmocka_unit_test_setup_teardown(visits_and_readings, setup, teardown),
        cmocka_unit_test_setup_teardown(staff_and_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(kit_signing_key, setup, teardown),
        cmocka_unit_test_setup_teardown(bulk_is_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(full_disk_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(numbers_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(print_queue, setup, teardown),
    };
    log_threshold = LOG_WARN; /* migrations and new kits are expected here */
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
