#include "wifi.h"

#include "../common/err.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return MK_EINVAL;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* A name from the file, quoted into out for an error message: at most 24 bytes, anything
 * but printable ASCII as '?' (the message goes to a terminal). */
static const char *shown(const char *s, size_t n, char out[32])
{
    size_t k = 0;
    for (; k < n && k < 24; k++)
        out[k] = s[k] >= 0x20 && s[k] < 0x7f ? s[k] : '?';
    if (n > 24) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

/* Valid UTF-8 without control characters (C0, DEL, C1). */
static bool clean_utf8(const char *s, size_t n)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    while (n > 0) {
        utf8proc_int32_t c;
        utf8proc_ssize_t len = utf8proc_iterate(p, (utf8proc_ssize_t)n, &c);
        if (len <= 0 || utf8proc_category(c) == UTF8PROC_CATEGORY_CC)
            return false;
        p += len;
        n -= (size_t)len;
    }
    return true;
}

static int set_ssid(struct wifi_conf *w, const char *v, size_t n, int line, char *err,
                    size_t errlen)
{
    if (n > WIFI_SSID_MAX)
        return fail(err, errlen, "line %d: the Wi-Fi name (ssid) is %zu bytes: at most %d", line, n,
                    WIFI_SSID_MAX);
    if (!clean_utf8(v, n))
        return fail(err, errlen,
                    "line %d: the Wi-Fi name (ssid) is not valid UTF-8 text (a tab, a control "
                    "character or a broken byte sequence)",
                    line);
    memcpy(w->ssid, v, n);
    w->ssid[n] = '\0';
    return MK_OK;
}

static int set_password(struct wifi_conf *w, const char *v, size_t n, int line, char *err,
                        size_t errlen)
{
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)v[k];
        if (c < 0x20 || c >= 0x7f)
            return fail(err, errlen,
                        "line %d: the password must be printable ASCII (a WPA2 passphrase): "
                        "byte 0x%02x is not",
                        line, c);
    }
    if (n < WIFI_PASSWORD_MIN || n > WIFI_PASSWORD_MAX)
        return fail(err, errlen, "line %d: the password is %zu characters: WPA2 needs %d to %d",
                    line, n, WIFI_PASSWORD_MIN, WIFI_PASSWORD_MAX);
    memcpy(w->password, v, n);
    w->password[n] = '\0';
    return MK_OK;
}

static int add_url(struct wifi_conf *w, const char *v, size_t n, int line, char *err, size_t errlen)
{
    if (w->nurls == WIFI_URLS_MAX)
        return fail(err, errlen, "line %d: more than %d urls", line, WIFI_URLS_MAX);
    if (n > WIFI_URL_MAX)
        return fail(err, errlen, "line %d: the url is %zu bytes: at most %d", line, n,
                    WIFI_URL_MAX);
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)v[k];
        if (c <= 0x20 || c >= 0x7f)
            return fail(err, errlen, "line %d: a url is printable ASCII without spaces", line);
    }
    size_t scheme = n >= 7 && !memcmp(v, "http://", 7)    ? 7
                    : n >= 8 && !memcmp(v, "https://", 8) ? 8
                                                          : 0;
    if (!scheme)
        return fail(err, errlen, "line %d: a url starts with http:// or https://", line);
    if (scheme == n || v[scheme] == '/')
        return fail(err, errlen, "line %d: the url names no host", line);
    memcpy(w->url[w->nurls], v, n);
    w->url[w->nurls][n] = '\0';
    w->nurls++;
    return MK_OK;
}

/* One line, without its end of line: a setting into w, or nothing for a blank line or a
 * comment. *ssid_line and *password_line remember where those were given. */
static int parse_line(struct wifi_conf *w, const char *s, size_t n, int line, int *ssid_line,
                      int *password_line, char *err, size_t errlen)
{
    char name_buf[32];
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(err, errlen, "line %d: a control character (byte 0x%02x) at column %zu",
                        line, c, k + 1);
    }
    size_t start = 0, end = n;
    while (start < end && blank(s[start]))
        start++;
    while (end > start && blank(s[end - 1]))
        end--;
    if (start == end || s[start] == '#')
        return MK_OK;
    size_t name_end = start;
    while (name_end < end && !blank(s[name_end]))
        name_end++;
    size_t value = name_end;
    while (value < end && blank(s[value]))
        value++;
    const char *name = s + start, *v = s + value;
    size_t nlen = name_end - start, vlen = end - value;
    bool ssid = nlen == 4 && !memcmp(name, "ssid", 4);
    bool password = nlen == 8 && !memcmp(name, "password", 8);
    bool url = nlen == 3 && !memcmp(name, "url", 3);
    if (!ssid && !password && !url)
        return fail(err, errlen, "line %d: unknown name \"%s\" (ssid, password or url)", line,
                    shown(name, nlen, name_buf));
    if (vlen == 0)
        return fail(err, errlen, "line %d: %s needs a value%s", line,
                    ssid       ? "ssid"
                    : password ? "password"
                               : "url",
                    password ? " (leave the line out for an open network)" : "");
    if (ssid && *ssid_line)
        return fail(err, errlen, "line %d: ssid given twice (first on line %d)", line, *ssid_line);
    if (password && *password_line)
        return fail(err, errlen, "line %d: password given twice (first on line %d)", line,
                    *password_line);
    if (ssid) {
        *ssid_line = line;
        return set_ssid(w, v, vlen, line, err, errlen);
    }
    if (password) {
        *password_line = line;
        return set_password(w, v, vlen, line, err, errlen);
    }
    return add_url(w, v, vlen, line, err, errlen);
}

int wifi_conf_parse(const char *text, size_t len, struct wifi_conf *out, char *err, size_t errlen)
{
    int ssid_line = 0, password_line = 0, rc = MK_OK;
    memset(out, 0, sizeof *out);
    if (len > WIFI_FILE_MAX)
        return fail(err, errlen, "%zu bytes: a wifi.conf is at most %d", len, WIFI_FILE_MAX);
    size_t i = len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3) ? 3 : 0;
    for (int line = 1; i < len && rc == MK_OK; line++) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t start = i, end = nl ? (size_t)(nl - text) : len;
        i = nl ? end + 1 : len;
        if (end > start && text[end - 1] == '\r') /* CRLF */
            end--;
        rc = parse_line(out, text + start, end - start, line, &ssid_line, &password_line, err,
                        errlen);
    }
    if (rc == MK_OK && !ssid_line)
        rc = fail(err, errlen, "no ssid line: the file must name the kit's Wi-Fi network");
    if (rc == MK_OK && out->nurls == 0)
        rc = fail(err, errlen,
                  "no url line: the slip needs the kit's address (url http://mokit.local/)");
    if (rc != MK_OK) /* nothing half read: the password may be in it */
        memset(out, 0, sizeof *out);
    return rc;
}

/* Appends s to out[cap] at *n with the special characters of the WIFI: format escaped. */
static bool put(char *out, size_t cap, size_t *n, const char *s, bool escape)
{
    for (; *s; s++) {
        bool special = escape && strchr("\\;,:\"", *s) != NULL;
        if (*n + (special ? 2 : 1) >= cap)
            return false;
        if (special)
            out[(*n)++] = '\\';
        out[(*n)++] = *s;
    }
    out[*n] = '\0';
    return true;
}

int wifi_qr_text(const struct wifi_conf *w, char *out, size_t cap)
{
    size_t n = 0;
    bool open = !w->password[0];
    if (cap == 0)
        return MK_ERANGE;
    out[0] = '\0';
    bool ok = put(out, cap, &n, open ? "WIFI:T:nopass;S:" : "WIFI:T:WPA;S:", false) &&
              put(out, cap, &n, w->ssid, true);
    if (ok && !open)
        ok = put(out, cap, &n, ";P:", false) && put(out, cap, &n, w->password, true);
    if (ok)
        ok = put(out, cap, &n, ";;", false);
    if (!ok) {
        out[0] = '\0';
        return MK_ERANGE;
    }
    return MK_OK;
}
