#include "date.h"

#include "../common/err.h"

#include <stdio.h>
#include <string.h>

bool date_valid(int year, int month, int day)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1900 || year > 2100 || month < 1 || month > 12 || day < 1)
        return false;
    int max = days[month - 1];
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        max = 29;
    return day <= max;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int date_parse(const char *s, struct date *out)
{
    size_t len = strlen(s);
    if (len == 4) {
        int y = digits(s, 4);
        if (y < 1900 || y > 2100)
            return MK_EINVAL;
        *out = (struct date){y, 0, 0};
        return MK_OK;
    }
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return MK_EINVAL;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (!date_valid(y, m, d))
        return MK_EINVAL;
    *out = (struct date){y, m, d};
    return MK_OK;
}

void date_format(const struct date *d, char out[11])
{
    if (d->month == 0)
        snprintf(out, 11, "%04d", d->year);
    else
        snprintf(out, 11, "%04d-%02d-%02d", d->year, d->month, d->day);
}

int date_cmp(const struct date *a, const struct date *b)
{
    long x = a->year * 10000L + a->month * 100L + a->day;
    long y = b->year * 10000L + b->month * 100L + b->day;
    return (x > y) - (x < y);
}

int date_age(const struct date *birth, const struct date *on)
{
    int m = birth->month ? birth->month : 7, d = birth->month ? birth->day : 1;
    int age = on->year - birth->year;
    if (on->month < m || (on->month == m && on->day < d))
        age--;
    return age;
}
