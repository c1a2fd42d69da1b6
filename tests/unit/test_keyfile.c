/* Key files (app/domain/keyfile.c): a fixed key pair written and read back; every way a file
 * is refused, each with its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "../../app/common/err.h"
#include "../../app/domain/keyfile.h"

/* A fixed X25519 secret key (bytes 1..32) and its public key, computed once here. */
static struct keyfile fixed(enum keyfile_kind kind)
{
    struct keyfile k = {.kind = kind};
    for (int i = 0; i < 32; i++)
        k.secret_key[i] = (unsigned char)(i + 1);
    assert_int_equal(crypto_scalarmult_base(k.public_key, k.secret_key), 0);
    snprintf(k.name, sizeof k.name, "%s", "Bệnh viện Đa khoa tỉnh Lào Cai");
    return k;
}

static char *text_of(const struct keyfile *k)
{
    json_t *j = keyfile_json(k);
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return t;
}

static void fingerprint_vector(void **state)
{
    (void)state;
    unsigned char key[32] = {0};
    char fp[40];
    keyfile_fingerprint(key, fp);
    /* BLAKE2b-256 of 32 zero bytes starts 89eb0d6a 8a691dae 2cd15ed0 369931ce */
    assert_string_equal(fp, "89eb 0d6a 8a69 1dae 2cd1 5ed0 3699 31ce");
    assert_int_equal(strlen(fp), 39);
}

static void round_trip(void **state)
{
    (void)state;
    char err[240];
    struct keyfile k = fixed(KEYFILE_HOSPITAL_SECRET), back;
    char *t = text_of(&k);
    assert_int_equal(keyfile_parse(t, strlen(t), &back, err, sizeof err), MK_OK);
    assert_int_equal(back.kind, KEYFILE_HOSPITAL_SECRET);
    assert_string_equal(back.name, k.name);
    assert_memory_equal(back.public_key, k.public_key, 32);
    assert_memory_equal(back.secret_key, k.secret_key, 32);
    free(t);
    /* the public file has no secret */
    k.kind = KEYFILE_HOSPITAL_BOX;
    t = text_of(&k);
    assert_null(strstr(t, "secret"));
    assert_int_equal(keyfile_parse(t, strlen(t), &back, err, sizeof err), MK_OK);
    assert_int_equal(back.kind, KEYFILE_HOSPITAL_BOX);
    unsigned char zero[32] = {0};
    assert_memory_equal(back.secret_key, zero, 32);
    free(t);
    /* a kit's key names the kit */
    struct keyfile kit = {.kind = KEYFILE_KIT_SIGN};
    unsigned char sk[64];
    crypto_sign_keypair(kit.public_key, sk);
    snprintf(kit.name, sizeof kit.name, "01a203c4-31ad-795f-bed4-0376af153b73");
    t = text_of(&kit);
    assert_non_null(strstr(t, "\"kit\":\"01a203c4-31ad-795f-bed4-0376af153b73\""));
    assert_non_null(strstr(t, "\"algorithm\":\"Ed25519\""));
    assert_int_equal(keyfile_parse(t, strlen(t), &back, err, sizeof err), MK_OK);
    assert_string_equal(back.name, kit.name);
    free(t);
}

/* Changes one member of a good file (NULL value: removes it) and expects a refusal naming
 * what. */
static void refused(const struct keyfile *k, const char *key, json_t *value, const char *what)
{
    char err[240] = "";
    struct keyfile back;
    json_t *j = keyfile_json(k);
    if (value)
        json_object_set_new(j, key, value);
    else
        json_object_del(j, key);
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    int rc = keyfile_parse(t, strlen(t), &back, err, sizeof err);
    if (rc != MK_EINVAL || !strstr(err, what))
        fail_msg("%s=%s: rc %d, err \"%s\" (wanted \"%s\")", key, t, rc, err, what);
    unsigned char zero[32] = {0};
    assert_memory_equal(back.secret_key, zero, 32); /* nothing half-read is left behind */
    free(t);
}

static void refusals(void **state)
{
    (void)state;
    struct keyfile sec = fixed(KEYFILE_HOSPITAL_SECRET), pub = fixed(KEYFILE_HOSPITAL_BOX);
    refused(&pub, "mokit_key", json_string("ssh-rsa"), "not a mokit key file");
    refused(&pub, "mokit_key", NULL, "not a mokit key file");
    refused(&pub, "version", json_integer(2), "version");
    refused(&pub, "version", json_string("1"), "version");
    refused(&pub, "algorithm", json_string("RSA"), "X25519");
    refused(&pub, "name", NULL, "name");
    refused(&pub, "name", json_string("a\nb"), "control");
    char long_name[200];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    refused(&pub, "name", json_string(long_name), "longer");
    refused(&pub, "public_key", json_string("AAAA"), "32 bytes");
    refused(&pub, "public_key", json_string("!!!!AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="),
            "32 bytes");
    /* 33 bytes */
    refused(&pub, "public_key", json_string("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh"),
            "32 bytes");
    refused(&pub, "fingerprint", json_string("0000 0000 0000 0000 0000 0000 0000 0000"),
            "not the key's");
    refused(&pub, "secret_key", json_string("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="),
            "holds a secret");
    /* a secret whose public half is another key */
    /* (byte 5 changed: the low bits of byte 1 are cleared by X25519 itself) */
    refused(&sec, "secret_key", json_string("AQIDBP8GBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="),
            "other half");
    refused(&sec, "secret_key", NULL, "secret_key");
    char err[240];
    struct keyfile back;
    assert_int_equal(keyfile_parse("[1]", 3, &back, err, sizeof err), MK_EINVAL);
    assert_int_equal(keyfile_parse("{\"mokit_key\":", 13, &back, err, sizeof err), MK_EINVAL);
    assert_int_equal(keyfile_parse("{\"a\":1,\"a\":2}", 13, &back, err, sizeof err), MK_EINVAL);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fingerprint_vector),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
