#include "cccd.h"

#include "../common/err.h"
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CCCD_FIELDS 7

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return MK_EINVAL;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* DDMMYYYY as printed on the card. */
static int parse_ddmmyyyy(const char *s, size_t n, struct date *out)
{
    if (n != 8 || !all_digits(s, 8))
        return MK_EINVAL;
    int d = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[2] - '0') * 10 + (s[3] - '0');
    int y = atoi((char[5]){s[4], s[5], s[6], s[7], '\0'});
    if (!date_valid(y, m, d))
        return MK_EINVAL;
    *out = (struct date){y, m, d};
    return MK_OK;
}

static char *dup_field(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

void cccd_free(struct cccd *c)
{
    free(c->name);
    free(c->address);
    c->name = c->address = NULL;
}

int cccd_parse(const char *text, size_t len, struct cccd *out, char *err, size_t errlen)
{
    const char *f[CCCD_FIELDS];
    size_t flen[CCCD_FIELDS];
    int rc;

    memset(out, 0, sizeof *out);
    /* A scanner adds CR, LF or both; some add spaces or a NUL. */
    while (len > 0 && (text[len - 1] == '\r' || text[len - 1] == '\n' || text[len - 1] == ' ' ||
                       text[len - 1] == '\t' || text[len - 1] == '\0'))
        len--;
    while (len > 0 && (*text == ' ' || *text == '\t' || *text == '\r' || *text == '\n')) {
        text++;
        len--;
    }
    if (len == 0)
        return fail(err, errlen, "the CCCD QR text is empty");
    if (len > CCCD_MAX_TEXT)
        return fail(err, errlen, "the CCCD QR text is too long (%zu bytes)", len);
    if (memchr(text, '\0', len))
        return fail(err, errlen, "the CCCD QR text contains a NUL byte");

    int nf = 0;
    const char *p = text, *end = text + len;
    while (nf < CCCD_FIELDS) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        f[nf] = p;
        flen[nf] = bar ? (size_t)(bar - p) : (size_t)(end - p);
        nf++;
        if (!bar)
            break;
        p = bar + 1;
    }
    if (nf < CCCD_FIELDS)
        return fail(err, errlen,
                    "the CCCD QR has %d fields, expected 7 (ID|old ID|name|birth date|sex|"
                    "address|issue date): is this a citizen ID card?",
                    nf);

    if (flen[0] != 12 || !all_digits(f[0], 12))
        return fail(err, errlen, "the ID number must be 12 digits, got \"%.*s\"",
                    (int)(flen[0] > 20 ? 20 : flen[0]), f[0]);
    memcpy(out->id, f[0], 12);

    if (flen[1] != 0 && !((flen[1] == 9 || flen[1] == 12) && all_digits(f[1], flen[1])))
        return fail(err, errlen, "the old ID number must be empty, 9 or 12 digits");
    memcpy(out->old_id, f[1], flen[1]);

    if (parse_ddmmyyyy(f[3], flen[3], &out->birth) != MK_OK)
        return fail(err, errlen, "the birth date \"%.*s\" is not a real date (DDMMYYYY)",
                    (int)(flen[3] > 20 ? 20 : flen[3]), f[3]);
    if (parse_ddmmyyyy(f[6], flen[6], &out->issued) != MK_OK)
        return fail(err, errlen, "the issue date \"%.*s\" is not a real date (DDMMYYYY)",
                    (int)(flen[6] > 20 ? 20 : flen[6]), f[6]);
    if (date_cmp(&out->issued, &out->birth) < 0)
        return fail(err, errlen, "the issue date is before the birth date");

    char *raw = dup_field(f[4], flen[4]);
    if (!raw)
        return MK_ENOMEM;
    rc = sex_parse(raw, &out->sex);
    free(raw);
    if (rc == MK_ENOMEM)
        return rc;
    if (rc != MK_OK)
        return fail(err, errlen, "the sex field must be \"Nam\" or \"Nữ\"");

    raw = dup_field(f[2], flen[2]);
    if (!raw)
        return MK_ENOMEM;
    rc = text_clean(raw, &out->name);
    free(raw);
    if (rc == MK_ENOMEM)
        return rc;
    if (rc != MK_OK || out->name[0] == '\0') {
        cccd_free(out);
        return fail(err, errlen, "the name field is empty or not valid UTF-8 text");
    }
    raw = dup_field(f[5], flen[5]);
    if (!raw) {
        cccd_free(out);
        return MK_ENOMEM;
    }
    rc = text_clean(raw, &out->address);
    free(raw);
    if (rc != MK_OK) {
        cccd_free(out);
        return rc == MK_ENOMEM ? rc : fail(err, errlen, "the address is not valid UTF-8 text");
    }
    return MK_OK;
}
