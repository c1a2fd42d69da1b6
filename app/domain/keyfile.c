#include "keyfile.h"

#include "../common/err.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
    enum keyfile_kind kind;
    const char *name, *algorithm;
} kinds[] = {
    {KEYFILE_KIT_SIGN, "kit-sign", "Ed25519"},
    {KEYFILE_HOSPITAL_BOX, "hospital-box", "X25519"},
    {KEYFILE_HOSPITAL_SECRET, "hospital-box-secret", "X25519"},
};

const char *keyfile_kind_name(enum keyfile_kind kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == kind)
            return kinds[i].name;
    return "?";
}

static const char *algorithm(enum keyfile_kind kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == kind)
            return kinds[i].algorithm;
    return "?";
}

void keyfile_fingerprint(const unsigned char key[32], char out[40])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char h[32];
    crypto_generichash(h, sizeof h, key, 32, NULL, 0);
    size_t n = 0;
    for (int i = 0; i < 16; i++) {
        if (i && i % 2 == 0)
            out[n++] = ' ';
        out[n++] = hex[h[i] >> 4];
        out[n++] = hex[h[i] & 15];
    }
    out[n] = '\0';
    sodium_memzero(h, sizeof h);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return MK_EINVAL;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* 32 bytes of standard base64 (with padding), nothing more. */
static int key32(const char *b64, unsigned char out[32])
{
    size_t n = 0;
    const char *end = NULL;
    if (!b64 || strlen(b64) != 44)
        return -1;
    if (sodium_base642bin(out, 32, b64, 44, NULL, &n, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != 32 || !end || *end)
        return -1;
    return 0;
}

static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > KEYFILE_NAME_MAX)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

int keyfile_parse(const char *text, size_t len, struct keyfile *out, char *err, size_t errlen)
{
    json_error_t je;
    memset(out, 0, sizeof *out);
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return fail(err, errlen, "not a key file (not a JSON object)");
    }
    int rc = MK_OK;
    const char *kind = str(j, "mokit_key");
    size_t i;
    for (i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kind, kinds[i].name))
            break;
    if (!kind || i == sizeof kinds / sizeof kinds[0]) {
        rc = fail(err, errlen,
                  "not a mokit key file (mokit_key is not kit-sign, hospital-box or "
                  "hospital-box-secret)");
        goto out;
    }
    out->kind = kinds[i].kind;
    if (json_integer_value(json_object_get(j, "version")) != 1 ||
        !json_is_integer(json_object_get(j, "version"))) {
        rc = fail(err, errlen, "unknown key file version (this mokit reads version 1)");
        goto out;
    }
    if (!str(j, "algorithm") || strcmp(str(j, "algorithm"), kinds[i].algorithm)) {
        rc = fail(err, errlen, "a %s key is %s", kinds[i].name, kinds[i].algorithm);
        goto out;
    }
    const char *name = out->kind == KEYFILE_KIT_SIGN ? str(j, "kit") : str(j, "name");
    if (!name_ok(name)) {
        rc = fail(err, errlen, "%s: missing, longer than %d bytes, or with control characters",
                  out->kind == KEYFILE_KIT_SIGN ? "kit" : "name", KEYFILE_NAME_MAX);
        goto out;
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    if (key32(str(j, "public_key"), out->public_key) != 0) {
        rc = fail(err, errlen, "public_key is not 32 bytes of base64");
        goto out;
    }
    keyfile_fingerprint(out->public_key, out->fingerprint);
    const char *fp = str(j, "fingerprint");
    if (fp && strcmp(fp, out->fingerprint)) {
        rc = fail(err, errlen,
                  "the fingerprint is not the key's (%s): a typo or a changed file: ask for the "
                  "key again",
                  out->fingerprint);
        goto out;
    }
    if (out->kind == KEYFILE_HOSPITAL_SECRET) {
        unsigned char pk[32];
        if (key32(str(j, "secret_key"), out->secret_key) != 0) {
            rc = fail(err, errlen, "secret_key is not 32 bytes of base64");
            goto out;
        }
        if (crypto_scalarmult_base(pk, out->secret_key) != 0 ||
            sodium_memcmp(pk, out->public_key, sizeof pk) != 0) {
            rc = fail(err, errlen, "the secret key is not the public key's other half");
            goto out;
        }
    } else if (json_object_get(j, "secret_key")) {
        rc = fail(err, errlen, "a public key file holds a secret key: do not hand it out");
        goto out;
    }
out:
    if (rc != MK_OK)
        sodium_memzero(out, sizeof *out);
    json_decref(j);
    return rc;
}

json_t *keyfile_json(const struct keyfile *k)
{
    char pub[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    char fp[40];
    sodium_bin2base64(pub, sizeof pub, k->public_key, 32, sodium_base64_VARIANT_ORIGINAL);
    keyfile_fingerprint(k->public_key, fp);
    json_t *j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s}", "mokit_key", keyfile_kind_name(k->kind),
                          "version", 1, k->kind == KEYFILE_KIT_SIGN ? "kit" : "name", k->name,
                          "algorithm", algorithm(k->kind), "public_key", pub, "fingerprint", fp);
    if (j && k->kind == KEYFILE_HOSPITAL_SECRET) {
        char sec[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(sec, sizeof sec, k->secret_key, 32, sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new(j, "secret_key", json_string(sec));
        sodium_memzero(sec, sizeof sec);
    }
    return j;
}
