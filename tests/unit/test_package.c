/* The campaign package end to end with real stores: a kit makes one, a hospital imports it;
 * every single flipped byte, every truncation, the wrong hospital key and an untrusted kit are
 * refused with the hospital's database unchanged. */
#include <setjmp.h>
#include <stdbool.h>
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
#include "../../app/common/util.h"
#include "../../app/demo/seed.h"
#include "../../app/domain/keyfile.h"
#include "../../app/domain/pkgfmt.h"
#include "../../app/export/package.h"
#include "../../app/export/records.h"
#include "../../app/store/store.h"

struct fixture {
    char dir[64], kit_dir[80], hosp_dir[80], pkg[96];
    char scratch[64]; /* for the thousands of altered copies: memory when there is some */
    struct store *kit, *hosp;
    struct keyfile hk_pub, hk_sec; /* the hospital's key pair */
    unsigned char *bytes;          /* the package as written */
    size_t len;
};

static const struct actor cli = {NULL, "cli:test"};

static void keypair(struct keyfile *pub, struct keyfile *sec, const char *name)
{
    memset(pub, 0, sizeof *pub);
    memset(sec, 0, sizeof *sec);
    sec->kind = KEYFILE_HOSPITAL_SECRET;
    pub->kind = KEYFILE_HOSPITAL_BOX;
    snprintf(sec->name, sizeof sec->name, "%s", name);
    snprintf(pub->name, sizeof pub->name, "%s", name);
    crypto_box_keypair(sec->public_key, sec->secret_key);
    memcpy(pub->public_key, sec->public_key, 32);
    keyfile_fingerprint(sec->public_key, sec->fingerprint);
    keyfile_fingerprint(pub->public_key, pub->fingerprint);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mokit-pkg-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->scratch, sizeof f->scratch, "/dev/shm/mokit-pkg-XXXXXX");
    if (access("/dev/shm", W_OK) != 0 || !mkdtemp(f->scratch))
        snprintf(f->scratch, sizeof f->scratch, "%s", f->dir);
    snprintf(f->kit_dir, sizeof f->kit_dir, "%s/kit", f->dir);
    snprintf(f->hosp_dir, sizeof f->hosp_dir, "%s/hospital", f->dir);
    snprintf(f->pkg, sizeof f->pkg, "%s/demo.mokitpkg", f->dir);
    if (store_open(f->kit_dir, &f->kit) != MK_OK || store_open(f->hosp_dir, &f->hosp) != MK_OK)
        return -1;
    /* A small campaign keeps the every-byte test quick (also under qemu and sanitizers). */
    if (demo_seed_screening(f->kit, 1, 7, true, NULL) != MK_OK)
        return -1;
    keypair(&f->hk_pub, &f->hk_sec, "Bệnh viện Đa khoa tỉnh Lào Cai");
    if (store_campaign_set_hospital_key(f->kit, &cli, DEMO_CAMPAIGN, &f->hk_pub) != MK_OK)
        return -1;
    struct keyfile kitkey = {.kind = KEYFILE_KIT_SIGN};
    snprintf(kitkey.name, sizeof kitkey.name, "%s", store_kit_id(f->kit));
    store_kit_sign_public(f->kit, kitkey.public_key);
    if (store_trusted_kit_add(f->hosp, &cli, &kitkey, "team A", NULL) != MK_OK)
        return -1;
    struct export_req r = {f->kit, &cli, DEMO_CAMPAIGN, f->pkg, "vi", NULL, NULL};
    char err[300];
    if (package_write(&r, NULL, err, sizeof err) != MK_OK)
        return -1;
    f->bytes = slurp(f->pkg, &f->len);
    *state = f;
    return f->bytes ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];
    store_close(f->kit);
    store_close(f->hosp);
    free(f->bytes);
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", f->dir, f->scratch);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

#define NTABLES 15
/* Rows of every table an import writes, and the audit (last), one number per table. */
static void counts(const char *dir, long out[NTABLES])
{
    static const char *tables[NTABLES] = {
        "patient",        "visit",  "observation",  "finding",       "referral",
        "prescription",   "staff",  "campaign",     "medicine",      "stock_move",
        "device_reading", "import", "likely_match", "patient_alias", "audit"};
    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/mokit.db", dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    for (int i = 0; i < NTABLES; i++) {
        char sql[64];
        sqlite3_stmt *s;
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        out[i] = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
}

static int try_import(struct fixture *f, const char *path, const struct keyfile *key, json_t **res,
                      char *err, size_t errlen)
{
    struct records_import *ri;
    int rc = records_import_sqlite(f->hosp, &ri);
    if (rc != MK_OK)
        return rc;
    rc = package_import(path, key, f->hosp, ri, "cli:test", NULL, res, err, errlen);
    records_import_free(ri);
    return rc;
}

static void round_trip_then_reimport(void **state)
{
    struct fixture *f = *state;
    long kit[NTABLES], before[NTABLES], after[NTABLES], again[NTABLES];
    json_t *res = NULL;
    char err[400];
    counts(f->kit_dir, kit);
    counts(f->hosp_dir, before);
    assert_int_equal(before[0], 0);
    assert_int_equal(try_import(f, f->pkg, &f->hk_sec, &res, err, sizeof err), MK_OK);
    assert_int_equal(json_integer_value(json_object_get(res, "patients_new")), 1);
    json_decref(res);
    counts(f->hosp_dir, after);
    for (int i = 0; i < 6; i++) /* patients to prescriptions: all of them arrived */
        assert_int_equal(after[i], kit[i]);
    assert_true(kit[2] >= 6); /* about ten observations */
    /* The same package again: nothing changes. */
    res = NULL;
    assert_int_equal(try_import(f, f->pkg, &f->hk_sec, &res, err, sizeof err), MK_EEXIST);
    assert_non_null(strstr(err, "imported before"));
    counts(f->hosp_dir, again);
    assert_memory_equal(after, again, sizeof after);
}

static void every_flipped_byte_is_refused(void **state)
{
    struct fixture *f = *state;
    long before[NTABLES], after[NTABLES];
    char path[128], err[400];
    snprintf(path, sizeof path, "%s/flipped.mokitpkg", f->scratch);
    counts(f->hosp_dir, before);
    unsigned char *b = malloc(f->len);
    assert_non_null(b);
    /* Under an emulator every third byte (the regions are all still hit many times over). */
    size_t step = getenv("MOKIT_TEST_EMULATED") ? 3 : 1;
    for (size_t i = 0; i < f->len; i += step) {
        memcpy(b, f->bytes, f->len);
        b[i] ^= (unsigned char)(1u << (i % 8));
        spit(path, b, f->len);
        json_t *res = NULL;
        int rc = try_import(f, path, &f->hk_sec, &res, err, sizeof err);
        if (rc == MK_OK)
            fail_msg("byte %zu of %zu flipped: imported", i, f->len);
        assert_null(res);
    }
    free(b);
    counts(f->hosp_dir, after);
    assert_memory_equal(before, after, sizeof before);
    /* And the unaltered package still imports. */
    json_t *res = NULL;
    assert_int_equal(try_import(f, f->pkg, &f->hk_sec, &res, err, sizeof err), MK_OK);
    json_decref(res);
}

static void every_truncation_is_refused(void **state)
{
    struct fixture *f = *state;
    long before[NTABLES], after[NTABLES];
    char path[128], err[400];
    snprintf(path, sizeof path, "%s/cut.mokitpkg", f->scratch);
    counts(f->hosp_dir, before);
    size_t step = getenv("MOKIT_TEST_EMULATED") ? 5 : 1;
    for (size_t n = 0; n < f->len; n += step) {
        spit(path, f->bytes, n);
        json_t *res = NULL;
        int rc = try_import(f, path, &f->hk_sec, &res, err, sizeof err);
        if (rc == MK_OK)
            fail_msg("cut to %zu of %zu bytes: imported", n, f->len);
    }
    /* Bytes appended after the signature are refused too. */
    unsigned char *b = malloc(f->len + 1);
    memcpy(b, f->bytes, f->len);
    b[f->len] = '\n';
    spit(path, b, f->len + 1);
    free(b);
    json_t *res = NULL;
    assert_int_not_equal(try_import(f, path, &f->hk_sec, &res, err, sizeof err), MK_OK);
    counts(f->hosp_dir, after);
    assert_memory_equal(before, after, sizeof before);
}

static void wrong_hospital_key_is_refused(void **state)
{
    struct fixture *f = *state;
    struct keyfile pub, sec;
    long before[NTABLES], after[NTABLES];
    char err[400];
    json_t *res = NULL;
    keypair(&pub, &sec, "Bệnh viện khác");
    counts(f->hosp_dir, before);
    assert_int_equal(try_import(f, f->pkg, &sec, &res, err, sizeof err), MK_EAUTH);
    assert_non_null(strstr(err, "another hospital key"));
    /* A key that claims the right fingerprint but is not the key: the seal does not open. */
    snprintf(sec.fingerprint, sizeof sec.fingerprint, "%s", f->hk_sec.fingerprint);
    assert_int_equal(try_import(f, f->pkg, &sec, &res, err, sizeof err), MK_EAUTH);
    assert_non_null(strstr(err, "cannot open"));
    counts(f->hosp_dir, after);
    assert_memory_equal(before, after, sizeof before);
}

static void untrusted_kit_is_refused(void **state)
{
    struct fixture *f = *state;
    long before[NTABLES], after[NTABLES];
    char err[400];
    json_t *res = NULL;
    counts(f->hosp_dir, before);
    assert_int_equal(store_trusted_kit_remove(f->hosp, &cli, store_kit_id(f->kit)), MK_OK);
    assert_int_equal(try_import(f, f->pkg, &f->hk_sec, &res, err, sizeof err), MK_EAUTH);
    assert_non_null(strstr(err, "not trusted"));
    /* Trusted under its id, but with another key (a re-made kit, or an impostor). */
    struct keyfile other = {.kind = KEYFILE_KIT_SIGN};
    unsigned char sk[64];
    snprintf(other.name, sizeof other.name, "%s", store_kit_id(f->kit));
    crypto_sign_keypair(other.public_key, sk);
    assert_int_equal(store_trusted_kit_add(f->hosp, &cli, &other, NULL, NULL), MK_OK);
    assert_int_equal(try_import(f, f->pkg, &f->hk_sec, &res, err, sizeof err), MK_EAUTH);
    assert_non_null(strstr(err, "another key"));
    counts(f->hosp_dir, after);
    /* All but the audit, which holds the two changes of trust made here. */
    assert_memory_equal(before, after, sizeof before - sizeof before[0]);
}

static void check_without_the_secret(void **state)
{
    struct fixture *f = *state;
    unsigned char pk[32];
    json_t *info = NULL;
    char err[400], path[128];
    store_kit_sign_public(f->kit, pk);
    assert_int_equal(package_check(f->pkg, NULL, pk, &info, err, sizeof err), MK_OK);
    assert_string_equal(json_string_value(json_object_get(info, "kit")), store_kit_id(f->kit));
    assert_string_equal(json_string_value(json_object_get(info, "hospital_key")),
                        f->hk_pub.fingerprint);
    json_decref(info);
    /* Against the hospital's trusted kits. */
    info = NULL;
    assert_int_equal(package_check(f->pkg, f->hosp, NULL, &info, err, sizeof err), MK_OK);
    json_decref(info);
    /* One flipped byte deep in the ciphertext: altered. */
    unsigned char *b = malloc(f->len);
    memcpy(b, f->bytes, f->len);
    b[f->len / 2] ^= 0x40;
    snprintf(path, sizeof path, "%s/altered.mokitpkg", f->dir);
    spit(path, b, f->len);
    free(b);
    assert_int_equal(package_check(path, NULL, pk, NULL, err, sizeof err), MK_EINVAL);
    assert_non_null(strstr(err, "altered"));
}

/* ---- packages made by hand and signed by the trusted kit: the checks after the signature ---- */

static void chunk(FILE *o, crypto_sign_state *sign, crypto_secretstream_xchacha20poly1305_state *ss,
                  const void *m, size_t n, unsigned char tag)
{
    unsigned char *c = malloc(n + crypto_secretstream_xchacha20poly1305_ABYTES), len[4];
    unsigned long long clen;
    crypto_secretstream_xchacha20poly1305_push(ss, c, &clen, m, n, NULL, 0, tag);
    pkg_u32_put(len, (uint32_t)clen);
    fwrite(len, 1, 4, o);
    fwrite(c, 1, (size_t)clen, o);
    crypto_sign_update(sign, len, 4);
    crypto_sign_update(sign, c, (size_t)clen);
    free(c);
}

/* A package as package_write makes one, but of the given manifest and records, with the last
 * records chunk tagged FINAL or not, and optionally one more chunk after it. */
static void craft(struct fixture *f, const char *path, const char *manifest, const char *records,
                  size_t rlen, bool final, bool extra)
{
    struct pkg_header h = {0};
    snprintf(h.kit, sizeof h.kit, "%s", store_kit_id(f->kit));
    store_kit_sign_public(f->kit, h.kit_key);
    snprintf(h.hospital_key, sizeof h.hospital_key, "%s", f->hk_pub.fingerprint);
    snprintf(h.created_at, sizeof h.created_at, "2026-11-22T08:00:00.000Z");
    json_t *hj = pkg_header_json(&h);
    char *ht = json_dumps(hj, JSON_COMPACT);
    json_decref(hj);
    FILE *o = fopen(path, "wb");
    assert_non_null(o);
    crypto_sign_state sign;
    crypto_sign_init(&sign);
    unsigned char prefix[PKG_PREFIX_LEN], key[32], sealed[PKG_SEALED_LEN], sh[24], sig[64];
    pkg_prefix_make(prefix, (uint32_t)strlen(ht));
    fwrite(prefix, 1, sizeof prefix, o);
    fwrite(ht, 1, strlen(ht), o);
    crypto_sign_update(&sign, prefix, sizeof prefix);
    crypto_sign_update(&sign, (const unsigned char *)ht, strlen(ht));
    free(ht);
    crypto_secretstream_xchacha20poly1305_state ss;
    crypto_secretstream_xchacha20poly1305_keygen(key);
    crypto_box_seal(sealed, key, sizeof key, f->hk_pub.public_key);
    crypto_secretstream_xchacha20poly1305_init_push(&ss, sh, key);
    fwrite(sealed, 1, sizeof sealed, o);
    fwrite(sh, 1, sizeof sh, o);
    crypto_sign_update(&sign, sealed, sizeof sealed);
    crypto_sign_update(&sign, sh, sizeof sh);
    chunk(o, &sign, &ss, manifest, strlen(manifest), 0);
    chunk(o, &sign, &ss, records, rlen,
          final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    if (extra)
        chunk(o, &sign, &ss, "\n", 1, 0);
    store_kit_sign_final(f->kit, &sign, sig);
    fwrite(PKG_SIG_MAGIC, 1, 8, o);
    fwrite(sig, 1, 64, o);
    assert_int_equal(fclose(o), 0);
}

static char *manifest_for(json_t *base, const char *records, size_t rlen)
{
    unsigned char d[32];
    char hex[65];
    crypto_hash_sha256(d, (const unsigned char *)records, rlen);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    json_t *m = json_deep_copy(base);
    char id[40];
    util_uuid7(id); /* a package of its own: not "imported before" */
    json_object_set_new(m, "package", json_string(id));
    json_object_set_new(m, "records_sha256", json_string(hex));
    json_object_set_new(m, "records_bytes", json_integer((json_int_t)rlen));
    char *t = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return t;
}

static void expect_refused(struct fixture *f, const char *path, const char *why)
{
    char err[400] = "";
    json_t *res = NULL;
    int rc = try_import(f, path, &f->hk_sec, &res, err, sizeof err);
    if (rc == MK_OK || rc == MK_EEXIST || !strstr(err, why))
        fail_msg("expected a refusal saying \"%s\": rc %d, \"%s\"", why, rc, err);
    assert_null(res);
}

static void checks_after_the_signature(void **state)
{
    struct fixture *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/crafted.mokitpkg", f->scratch);
    /* The real manifest and records of the fixture's campaign. */
    json_t *base = NULL;
    char out2[128], err[300];
    snprintf(out2, sizeof out2, "%s/again.mokitpkg", f->dir);
    struct export_req r = {f->kit, &cli, DEMO_CAMPAIGN, out2, "vi", NULL, NULL};
    assert_int_equal(package_write(&r, &base, err, sizeof err), MK_OK);
    char *rec = NULL;
    size_t rlen = 0;
    FILE *mem = open_memstream(&rec, &rlen);
    assert_int_equal(records_dump(f->kit, DEMO_CAMPAIGN, mem, NULL, NULL), MK_OK);
    fclose(mem);
    long before[NTABLES], after[NTABLES];
    counts(f->hosp_dir, before);

    char *m = manifest_for(base, rec, rlen);
    craft(f, path, m, rec, rlen, false, false);
    expect_refused(f, path, "ends before its last part"); /* no FINAL: cut at a chunk */
    craft(f, path, m, rec, rlen, true, true);
    expect_refused(f, path, "bytes follow"); /* a chunk after FINAL */
    free(m);

    json_t *other = json_deep_copy(base);
    json_object_set_new(other, "kit", json_string("01a20000-0000-7000-8000-000000000000"));
    m = manifest_for(other, rec, rlen);
    craft(f, path, m, rec, rlen, true, false);
    expect_refused(f, path, "another kit"); /* re-signed by a trusted kit as its own */
    free(m);
    json_decref(other);

    m = manifest_for(base, rec, rlen);
    char *h = strstr(m, "\"records_sha256\":\"") + 18;
    *h = *h == 'a' ? 'b' : 'a';
    craft(f, path, m, rec, rlen, true, false);
    expect_refused(f, path, "hash");
    free(m);

    other = json_deep_copy(base);
    json_t *c = json_object_get(other, "counts");
    json_object_set_new(c, "visit",
                        json_integer(json_integer_value(json_object_get(c, "visit")) + 1));
    m = manifest_for(other, rec, rlen);
    craft(f, path, m, rec, rlen, true, false);
    expect_refused(f, path, "visit"); /* the counts do not match the rows */
    free(m);
    json_decref(other);

    const char bad[] = "{\"t\":\"campaign\",\"r\":{\"id\":1}}\n";
    m = manifest_for(base, bad, strlen(bad));
    craft(f, path, m, bad, strlen(bad), true, false);
    expect_refused(f, path, "line 1");
    free(m);

    m = manifest_for(base, rec, rlen - 1); /* the last line's newline is missing */
    craft(f, path, m, rec, rlen - 1, true, false);
    expect_refused(f, path, "middle of a line");
    free(m);

    craft(f, path, "not json", rec, rlen, true, false);
    expect_refused(f, path, "manifest");

    counts(f->hosp_dir, after);
    assert_memory_equal(before, after, sizeof before);
    /* The same hand-made package, whole and true, imports: the refusals were the defects'. */
    m = manifest_for(base, rec, rlen);
    craft(f, path, m, rec, rlen, true, false);
    json_t *res = NULL;
    char e2[400];
    assert_int_equal(try_import(f, path, &f->hk_sec, &res, e2, sizeof e2), MK_OK);
    json_decref(res);
    free(m);
    free(rec);
    json_decref(base);
}

static void write_refuses_without_key_or_over_a_file(void **state)
{
    struct fixture *f = *state;
    char err[300];
    struct export_req r = {f->kit, &cli, DEMO_CAMPAIGN, f->pkg, "vi", NULL, NULL};
    assert_int_equal(package_write(&r, NULL, err, sizeof err), MK_EEXIST);
    size_t len;
    unsigned char *now = slurp(f->pkg, &len);
    assert_int_equal(len, f->len);
    assert_memory_equal(now, f->bytes, len); /* untouched */
    free(now);
    char other[128];
    snprintf(other, sizeof other, "%s/other.mokitpkg", f->dir);
    r.out = other;
    assert_int_equal(store_campaign_set_hospital_key(f->kit, &cli, DEMO_CAMPAIGN, NULL), MK_OK);
    assert_int_equal(package_write(&r, NULL, err, sizeof err), MK_EINVAL);
    assert_non_null(strstr(err, "names no hospital key"));
    assert_int_equal(access(other, F_OK), -1);
    /* A secret key is never taken as the campaign's. */
    assert_int_equal(store_campaign_set_hospital_key(f->kit, &cli, DEMO_CAMPAIGN, &f->hk_sec),
                     MK_EINVAL);
    /* The package's header says who signed and to whom, nothing about the residents. */
    uint32_t hl;
    assert_int_equal(pkg_prefix_parse(f->bytes, f->len, &hl, err, sizeof err), MK_OK);
    struct pkg_header h;
    assert_int_equal(
        pkg_header_parse((const char *)f->bytes + PKG_PREFIX_LEN, hl, &h, err, sizeof err), MK_OK);
    assert_string_equal(h.kit, store_kit_id(f->kit));
    assert_null(memmem(f->bytes, f->len, DEMO_CAMPAIGN, strlen(DEMO_CAMPAIGN)));
}

int main(void)
{
    log_threshold = LOG_ERROR;
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_then_reimport, setup, teardown),
        cmocka_unit_test_setup_teardown(every_flipped_byte_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(every_truncation_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_hospital_key_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(untrusted_kit_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(check_without_the_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(checks_after_the_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(write_refuses_without_key_or_over_a_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
