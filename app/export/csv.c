#include "csv.h"

#include <math.h>
#include <string.h>

static void put(struct csv *c, const char *s, size_t n)
{
    if (n && fwrite(s, 1, n, c->f) != n)
        c->error = true;
}

static void sep(struct csv *c)
{
    if (c->cells++ > 0)
        put(c, ",", 1);
}

void csv_begin(struct csv *c, FILE *f)
{
    c->f = f;
    c->cells = 0;
    c->error = false;
    put(c, "\xEF\xBB\xBF", 3);
}

bool csv_formula_like(const char *s)
{
    while (s && s[0] == '\'') /* "'=x" is guarded too, so that unguarding gives it back */
        s++;
    return s && s[0] && strchr("=+-@\t\r", s[0]) != NULL;
}

void csv_text(struct csv *c, const char *s)
{
    sep(c);
    if (!s || !s[0])
        return;
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        put(c, "\"", 1);
    if (csv_formula_like(s))
        put(c, "'", 1);
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "\"");
        put(c, p, n);
        p += n;
        if (*p == '"') {
            put(c, "\"\"", 2);
            p++;
        }
    }
    if (quote)
        put(c, "\"", 1);
}

void csv_number(struct csv *c, double v, int decimals)
{
    char buf[64];
    sep(c);
    if (!isfinite(v))
        return;
    if (decimals >= 0) {
        double k = pow(10, decimals);
        v = round(v * k) / k;
    }
    if (v == 0)
        v = 0; /* no "-0" */
    int n = snprintf(buf, sizeof buf, "%.15g", v);
    put(c, buf, (size_t)n);
}

void csv_int(struct csv *c, long long v)
{
    char buf[32];
    sep(c);
    int n = snprintf(buf, sizeof buf, "%lld", v);
    put(c, buf, (size_t)n);
}

void csv_empty(struct csv *c)
{
    sep(c);
}

void csv_end_row(struct csv *c)
{
    put(c, "\r\n", 2);
    c->cells = 0;
}

bool csv_error(const struct csv *c)
{
    return c->error || ferror(c->f);
}
