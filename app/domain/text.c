#include "text.h"

#include "../common/err.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Decodes s into code points after applying options; returns the count or a negative
 * utf8proc error. *cps is malloc'd. */
static utf8proc_ssize_t decode(const char *s, utf8proc_option_t options, utf8proc_int32_t **cps)
{
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, 0, &mapped,
                                      options | UTF8PROC_NULLTERM | UTF8PROC_STABLE);
    if (n < 0)
        return n;
    utf8proc_int32_t *buf = malloc(((size_t)n + 1) * sizeof *buf);
    if (!buf) {
        free(mapped);
        return UTF8PROC_ERROR_NOMEM;
    }
    utf8proc_ssize_t k = 0;
    for (utf8proc_ssize_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t len = utf8proc_iterate(mapped + i, n - i, &cp);
        if (len <= 0) {
            free(mapped);
            free(buf);
            return UTF8PROC_ERROR_INVALIDUTF8;
        }
        buf[k++] = cp;
        i += len;
    }
    free(mapped);
    *cps = buf;
    return k;
}

static int map_error(utf8proc_ssize_t e)
{
    return e == UTF8PROC_ERROR_NOMEM ? MK_ENOMEM : MK_EINVAL;
}

/* Encodes code points, dropping leading/trailing spaces and collapsing runs (space = -1);
 * -2 marks a dropped character. */
static int encode(const utf8proc_int32_t *cps, utf8proc_ssize_t n, char **out)
{
    char *res = malloc((size_t)n * 4 + 1);
    if (!res)
        return MK_ENOMEM;
    size_t len = 0;
    int pending_space = 0;
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        if (cps[i] == -2)
            continue;
        if (cps[i] == -1) {
            pending_space = len > 0;
            continue;
        }
        if (pending_space)
            res[len++] = ' ';
        pending_space = 0;
        len += (size_t)utf8proc_encode_char(cps[i], (utf8proc_uint8_t *)res + len);
    }
    res[len] = '\0';
    *out = res;
    return MK_OK;
}

int text_clean(const char *in, char **out)
{
    utf8proc_int32_t *cps;
    utf8proc_ssize_t n = decode(in, UTF8PROC_COMPOSE, &cps);
    if (n < 0)
        return map_error(n);
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        utf8proc_category_t cat = utf8proc_category(cps[i]);
        if (cat == UTF8PROC_CATEGORY_CF) {
            cps[i] = -2; /* invisible (zero-width space, BOM, soft hyphen): dropped */
        } else if (cat == UTF8PROC_CATEGORY_ZS || cps[i] == '\t' || cps[i] == '\n' ||
                   cps[i] == '\r') {
            cps[i] = -1;
        } else if (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CS ||
                   cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CN) {
            free(cps);
            return MK_EINVAL;
        }
    }
    int rc = encode(cps, n, out);
    free(cps);
    return rc;
}

int text_fold(const char *in, char **out)
{
    utf8proc_int32_t *cps;
    utf8proc_ssize_t n = decode(
        in, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD, &cps);
    if (n < 0)
        return map_error(n);
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        utf8proc_int32_t c = cps[i];
        if (c == 0x0111 || c == 0x0110) { /* đ, Đ: no decomposition in Unicode */
            cps[i] = 'd';
            continue;
        }
        switch (utf8proc_category(c)) {
        case UTF8PROC_CATEGORY_CF:
            cps[i] = -2; /* invisible: no word break either */
            continue;
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_ND:
            break;
        default:
            cps[i] = -1;
        }
    }
    int rc = encode(cps, n, out);
    free(cps);
    return rc;
}
