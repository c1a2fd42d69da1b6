/* The campaign package's clear parts: prefix, header, manifest checks. */
#include "pkgfmt.h"

#include "../common/err.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return MK_EINVAL;
}

void pkg_u32_put(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

uint32_t pkg_u32_get(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void pkg_prefix_make(unsigned char p[PKG_PREFIX_LEN], uint32_t header_len)
{
    memcpy(p, PKG_MAGIC, 8);
    p[8] = PKG_VERSION;
    p[9] = p[10] = p[11] = 0;
    pkg_u32_put(p + 12, header_len);
}

int pkg_prefix_parse(const unsigned char *p, size_t len, uint32_t *header_len, char *err,
                     size_t errlen)
{
    if (len < PKG_PREFIX_LEN || memcmp(p, PKG_MAGIC, 8) != 0)
        return bad(err, errlen, "not a mokit package");
    if (p[8] != PKG_VERSION)
        return bad(err, errlen, "package format version %u: this mokit reads version %d", p[8],
                   PKG_VERSION);
    if (p[9] || p[10] || p[11])
        return bad(err, errlen, "reserved bytes of the package are not zero");
    uint32_t n = pkg_u32_get(p + 12);
    if (n < 2 || n > PKG_HEADER_MAX)
        return bad(err, errlen, "the package header is %u bytes (2-%d)", n, PKG_HEADER_MAX);
    *header_len = n;
    return MK_OK;
}

/* A text field of at most cap-1 bytes of printable ASCII. */
static int text_field(const json_t *o, const char *key, char *out, size_t cap, char *err,
                      size_t errlen)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s)
        return bad(err, errlen, "the package header has no \"%s\"", key);
    size_t n = strlen(s);
    if (n == 0 || n >= cap)
        return bad(err, errlen, "the package header's \"%s\" is empty or too long", key);
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return bad(err, errlen, "the package header's \"%s\" is not plain text", key);
    memcpy(out, s, n + 1);
    return MK_OK;
}

static int key_field(const json_t *o, const char *key, unsigned char out[32], char *err,
                     size_t errlen)
{
    const char *s = json_string_value(json_object_get(o, key));
    size_t n = 0;
    if (!s ||
        sodium_base642bin(out, 32, s, strlen(s), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        n != 32)
        return bad(err, errlen, "the package's \"%s\" is not a 32-byte base64 key", key);
    return MK_OK;
}

int pkg_header_parse(const char *text, size_t len, struct pkg_header *h, char *err, size_t errlen)
{
    json_error_t je;
    memset(h, 0, sizeof *h);
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return bad(err, errlen, "the package header is not a JSON object");
    }
    int rc = MK_OK;
    const char *fmt = json_string_value(json_object_get(o, "format"));
    json_t *v = json_object_get(o, "version");
    if (!fmt || strcmp(fmt, "mokit-package") != 0)
        rc = bad(err, errlen, "the package header's format is not mokit-package");
    else if (!json_is_integer(v) || json_integer_value(v) != PKG_VERSION)
        rc = bad(err, errlen, "the package header's version is not %d", PKG_VERSION);
    if (rc == MK_OK)
        rc = text_field(o, "kit", h->kit, sizeof h->kit, err, errlen);
    if (rc == MK_OK)
        rc = key_field(o, "kit_key", h->kit_key, err, errlen);
    if (rc == MK_OK)
        rc = text_field(o, "hospital_key", h->hospital_key, sizeof h->hospital_key, err, errlen);
    if (rc == MK_OK)
        rc = text_field(o, "created_at", h->created_at, sizeof h->created_at, err, errlen);
    json_decref(o);
    return rc;
}

json_t *pkg_header_json(const struct pkg_header *h)
{
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, h->kit_key, 32, sodium_base64_VARIANT_ORIGINAL);
    return json_pack("{s:s,s:i,s:s,s:s,s:s,s:s}", "format", "mokit-package", "version", PKG_VERSION,
                     "kit", h->kit, "kit_key", b64, "hospital_key", h->hospital_key, "created_at",
                     h->created_at);
}

/* 8-4-4-4-12 lower-case hex digits. */
static bool uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

static bool hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int pkg_manifest_check(const json_t *m, const struct pkg_header *h, char *err, size_t errlen)
{
    if (!json_is_object(m))
        return bad(err, errlen, "the manifest is not a JSON object");
    const char *fmt = json_string_value(json_object_get(m, "format"));
    if (!fmt || strcmp(fmt, "mokit-records") != 0 ||
        json_integer_value(json_object_get(m, "version")) != 1)
        return bad(err, errlen, "the manifest is not mokit-records version 1");
    const char *kit = json_string_value(json_object_get(m, "kit"));
    unsigned char key[32];
    if (!kit || strcmp(kit, h->kit) != 0 || key_field(m, "kit_key", key, err, errlen) != MK_OK ||
        sodium_memcmp(key, h->kit_key, 32) != 0)
        return bad(err, errlen, "the manifest names another kit than the package's signer");
    const char *pkg = json_string_value(json_object_get(m, "package"));
    if (!uuid_valid(pkg))
        return bad(err, errlen, "the manifest's package id is not a UUID");
    json_t *c = json_object_get(m, "campaign");
    if (!json_is_object(c) || !json_is_string(json_object_get(c, "code")) ||
        !json_is_string(json_object_get(c, "id")))
        return bad(err, errlen, "the manifest names no campaign");
    json_t *counts = json_object_get(m, "counts");
    const char *k;
    json_t *v;
    if (!json_is_object(counts))
        return bad(err, errlen, "the manifest has no counts");
    json_object_foreach(counts, k, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return bad(err, errlen, "the manifest's count of %s is not a number", k);
    }
    if (!hex64(json_string_value(json_object_get(m, "records_sha256"))))
        return bad(err, errlen, "the manifest's records_sha256 is not 64 hex digits");
    json_t *bytes = json_object_get(m, "records_bytes");
    if (!json_is_integer(bytes) || json_integer_value(bytes) < 0)
        return bad(err, errlen, "the manifest's records_bytes is not a number");
    return MK_OK;
}
